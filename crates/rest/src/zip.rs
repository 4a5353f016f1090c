//! A streaming ZIP writer for folder downloads: entries are *stored* (no compression —
//! the content goes out as it is read, at disk speed) and written to any `Write` in one
//! pass, never seeking: each file's local header carries no CRC or sizes (flag bit 3) and
//! a data descriptor after its bytes gives them, CRC-32 computed as the bytes pass. ZIP64
//! records are written where a size or an offset needs them (a file of 4 GiB or more, an
//! archive past 4 GiB, more than 65,535 entries). Names are UTF-8 (flag bit 11).
//!
//! Memory: the central directory is kept until the end (one small record per entry:
//! ~60 bytes plus the name); file content is never held beyond the caller's buffer.
//!
//! Why not the `zip` crate: its streaming mode (`ZipWriter::new_stream`) works, but it
//! brings compression back-ends and a large API for what is ~250 lines here; this module
//! does the one thing a folder download needs and is checked by Info-ZIP's `unzip -t` and
//! Python's `zipfile` in its tests.

use std::io::{self, Write};

const LOCAL: u32 = 0x0403_4b50;
const DESCRIPTOR: u32 = 0x0807_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const END: u32 = 0x0605_4b50;
const END64: u32 = 0x0606_4b50;
const LOCATOR64: u32 = 0x0706_4b50;
/// Flags: bit 3 (sizes and CRC in a data descriptor), bit 11 (UTF-8 names).
const FLAGS_FILE: u16 = 0x0808;
const FLAGS_DIR: u16 = 0x0800;
/// Version 4.5 (ZIP64), made on Unix (so the external attributes are a mode).
const VERSION_MADE_BY: u16 = (3 << 8) | 45;
const VERSION_ZIP64: u16 = 45;
const VERSION_PLAIN: u16 = 20;
const MAX32: u64 = 0xFFFF_FFFF;

struct Central {
    name: String,
    dir: bool,
    crc: u32,
    size: u64,
    offset: u64,
    dos_time: u16,
    dos_date: u16,
    zip64: bool,
}

/// Writes a ZIP archive to `out` as entries are added; [`finish`](ZipStream::finish)
/// writes the central directory.
pub struct ZipStream<W: Write> {
    out: W,
    offset: u64,
    entries: Vec<Central>,
    /// Tests: ZIP64 records for every file, whatever its size.
    force_zip64: bool,
}

/// A writer over the bytes of one file entry; [`ZipStream::end_file`] closes it.
pub struct FileEntry {
    crc: crc32fast::Hasher,
    written: u64,
    index: usize,
}

/// An MS-DOS time and date (2-second resolution, years 1980–2107) of Unix ns, in UTC.
pub fn dos_time(unix_ns: i64) -> (u16, u16) {
    let secs = unix_ns.div_euclid(1_000_000_000).max(315_532_800); // not before 1980
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // civil date from days since 1970-01-01 (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = (yoe + era * 400 + i64::from(month <= 2)).min(2107);
    let time = ((rem / 3600) << 11) | (((rem % 3600) / 60) << 5) | ((rem % 60) / 2);
    let date = ((year - 1980) << 9) | (month << 5) | day;
    (time as u16, date as u16)
}

impl<W: Write> ZipStream<W> {
    /// An archive written to `out`.
    pub fn new(out: W) -> Self {
        ZipStream {
            out,
            offset: 0,
            entries: Vec::new(),
            force_zip64: false,
        }
    }

    #[cfg(test)]
    fn with_zip64(mut self) -> Self {
        self.force_zip64 = true;
        self
    }

    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)?;
        self.offset += b.len() as u64;
        Ok(())
    }

    fn local_header(&mut self, c: &Central, flags: u16) -> io::Result<()> {
        let mut h = Vec::with_capacity(30 + c.name.len() + 20);
        h.extend_from_slice(&LOCAL.to_le_bytes());
        let version = if c.zip64 {
            VERSION_ZIP64
        } else {
            VERSION_PLAIN
        };
        h.extend_from_slice(&version.to_le_bytes());
        h.extend_from_slice(&flags.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // stored
        h.extend_from_slice(&c.dos_time.to_le_bytes());
        h.extend_from_slice(&c.dos_date.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes()); // CRC: in the descriptor
        let size = if c.zip64 { MAX32 as u32 } else { 0 };
        h.extend_from_slice(&size.to_le_bytes()); // compressed size
        h.extend_from_slice(&size.to_le_bytes()); // uncompressed size
        h.extend_from_slice(&(c.name.len() as u16).to_le_bytes());
        let extra: u16 = if c.zip64 { 20 } else { 0 };
        h.extend_from_slice(&extra.to_le_bytes());
        h.extend_from_slice(c.name.as_bytes());
        if c.zip64 {
            // ZIP64 extended information: sizes (0 here; the descriptor has them)
            h.extend_from_slice(&1u16.to_le_bytes());
            h.extend_from_slice(&16u16.to_le_bytes());
            h.extend_from_slice(&[0; 16]);
        }
        self.put(&h)
    }

    fn check_name(name: &str) -> io::Result<()> {
        if name.is_empty() || name.len() > 0xFFFF - 1 || name.starts_with('/') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bad entry name",
            ));
        }
        Ok(())
    }

    /// Adds a folder entry (`name` without the trailing `/`).
    pub fn add_dir(&mut self, name: &str, mtime_ns: i64) -> io::Result<()> {
        Self::check_name(name)?;
        let (dos_time, dos_date) = dos_time(mtime_ns);
        let c = Central {
            name: format!("{name}/"),
            dir: true,
            crc: 0,
            size: 0,
            offset: self.offset,
            dos_time,
            dos_date,
            zip64: false,
        };
        self.local_header(&c, FLAGS_DIR)?;
        self.entries.push(c);
        Ok(())
    }

    /// Starts a file entry of `size` bytes (known in advance: it decides the ZIP64 records);
    /// its bytes follow through [`write_file`](ZipStream::write_file).
    pub fn start_file(&mut self, name: &str, size: u64, mtime_ns: i64) -> io::Result<FileEntry> {
        Self::check_name(name)?;
        let (dos_time, dos_date) = dos_time(mtime_ns);
        let c = Central {
            name: name.to_owned(),
            dir: false,
            crc: 0,
            size,
            offset: self.offset,
            dos_time,
            dos_date,
            zip64: self.force_zip64 || size >= MAX32,
        };
        self.local_header(&c, FLAGS_FILE)?;
        self.entries.push(c);
        Ok(FileEntry {
            crc: crc32fast::Hasher::new(),
            written: 0,
            index: self.entries.len() - 1,
        })
    }

    /// Writes bytes of the open file entry.
    pub fn write_file(&mut self, f: &mut FileEntry, bytes: &[u8]) -> io::Result<()> {
        f.crc.update(bytes);
        f.written += bytes.len() as u64;
        self.put(bytes)
    }

    /// Ends a file entry: its data descriptor. Fails when the bytes written are not the
    /// size announced (the archive would lie).
    pub fn end_file(&mut self, f: FileEntry) -> io::Result<()> {
        let crc = f.crc.finalize();
        let Some(c) = self.entries.get_mut(f.index) else {
            return Err(io::Error::other("no such entry"));
        };
        if c.size != f.written {
            return Err(io::Error::other(format!(
                "{}: {} bytes announced, {} written",
                c.name, c.size, f.written
            )));
        }
        c.crc = crc;
        let zip64 = c.zip64;
        let mut d = Vec::with_capacity(24);
        d.extend_from_slice(&DESCRIPTOR.to_le_bytes());
        d.extend_from_slice(&crc.to_le_bytes());
        if zip64 {
            d.extend_from_slice(&f.written.to_le_bytes());
            d.extend_from_slice(&f.written.to_le_bytes());
        } else {
            d.extend_from_slice(&(f.written as u32).to_le_bytes());
            d.extend_from_slice(&(f.written as u32).to_le_bytes());
        }
        self.put(&d)
    }

    /// Writes the central directory and the end records; returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        let cd_start = self.offset;
        let entries = std::mem::take(&mut self.entries);
        for c in &entries {
            let big_size = c.zip64 || c.size >= MAX32;
            let big_offset = self.force_zip64 || c.offset >= MAX32;
            let mut extra = Vec::new();
            if big_size || big_offset {
                let mut body = Vec::new();
                if big_size {
                    body.extend_from_slice(&c.size.to_le_bytes()); // uncompressed
                    body.extend_from_slice(&c.size.to_le_bytes()); // compressed
                }
                if big_offset {
                    body.extend_from_slice(&c.offset.to_le_bytes());
                }
                extra.extend_from_slice(&1u16.to_le_bytes());
                extra.extend_from_slice(&(body.len() as u16).to_le_bytes());
                extra.extend_from_slice(&body);
            }
            let size32 = if big_size {
                MAX32 as u32
            } else {
                c.size as u32
            };
            let offset32 = if big_offset {
                MAX32 as u32
            } else {
                c.offset as u32
            };
            let (version, flags, mode) = if c.dir {
                (VERSION_PLAIN, FLAGS_DIR, (0o040_755u32 << 16) | 0x10)
            } else if big_size || big_offset {
                (VERSION_ZIP64, FLAGS_FILE, 0o100_644u32 << 16)
            } else {
                (VERSION_PLAIN, FLAGS_FILE, 0o100_644u32 << 16)
            };
            let mut h = Vec::with_capacity(46 + c.name.len() + extra.len());
            h.extend_from_slice(&CENTRAL.to_le_bytes());
            h.extend_from_slice(&VERSION_MADE_BY.to_le_bytes());
            h.extend_from_slice(&version.to_le_bytes());
            h.extend_from_slice(&flags.to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes()); // stored
            h.extend_from_slice(&c.dos_time.to_le_bytes());
            h.extend_from_slice(&c.dos_date.to_le_bytes());
            h.extend_from_slice(&c.crc.to_le_bytes());
            h.extend_from_slice(&size32.to_le_bytes());
            h.extend_from_slice(&size32.to_le_bytes());
            h.extend_from_slice(&(c.name.len() as u16).to_le_bytes());
            h.extend_from_slice(&(extra.len() as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes()); // comment
            h.extend_from_slice(&0u16.to_le_bytes()); // disk
            h.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
            h.extend_from_slice(&mode.to_le_bytes());
            h.extend_from_slice(&offset32.to_le_bytes());
            h.extend_from_slice(c.name.as_bytes());
            h.extend_from_slice(&extra);
            self.put(&h)?;
        }
        let cd_size = self.offset - cd_start;
        let n = entries.len() as u64;
        let zip64 = self.force_zip64 || n >= 0xFFFF || cd_start >= MAX32 || cd_size >= MAX32;
        let mut e = Vec::with_capacity(98);
        if zip64 {
            let end64_at = self.offset;
            e.extend_from_slice(&END64.to_le_bytes());
            e.extend_from_slice(&44u64.to_le_bytes()); // size of the rest of this record
            e.extend_from_slice(&VERSION_MADE_BY.to_le_bytes());
            e.extend_from_slice(&VERSION_ZIP64.to_le_bytes());
            e.extend_from_slice(&0u32.to_le_bytes()); // this disk
            e.extend_from_slice(&0u32.to_le_bytes()); // disk of the central directory
            e.extend_from_slice(&n.to_le_bytes());
            e.extend_from_slice(&n.to_le_bytes());
            e.extend_from_slice(&cd_size.to_le_bytes());
            e.extend_from_slice(&cd_start.to_le_bytes());
            e.extend_from_slice(&LOCATOR64.to_le_bytes());
            e.extend_from_slice(&0u32.to_le_bytes());
            e.extend_from_slice(&end64_at.to_le_bytes());
            e.extend_from_slice(&1u32.to_le_bytes()); // disks
        }
        let n16 = if zip64 { 0xFFFF } else { n as u16 };
        e.extend_from_slice(&END.to_le_bytes());
        e.extend_from_slice(&0u16.to_le_bytes());
        e.extend_from_slice(&0u16.to_le_bytes());
        e.extend_from_slice(&n16.to_le_bytes());
        e.extend_from_slice(&n16.to_le_bytes());
        let (size32, start32) = if zip64 {
            (MAX32 as u32, MAX32 as u32)
        } else {
            (cd_size as u32, cd_start as u32)
        };
        e.extend_from_slice(&size32.to_le_bytes());
        e.extend_from_slice(&start32.to_le_bytes());
        e.extend_from_slice(&0u16.to_le_bytes()); // comment
        self.put(&e)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
#[path = "zip_tests.rs"]
mod tests;
