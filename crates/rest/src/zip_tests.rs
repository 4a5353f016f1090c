//! The ZIP writer's archives are read back by real readers: Info-ZIP's `unzip -t` and
//! Python's `zipfile` (names, CRCs, content, folders), with and without ZIP64 records.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use std::process::Command;

/// Writes a small tree: nested files, an empty folder, an empty file, a UTF-8 name.
fn archive(zip64: bool) -> Vec<u8> {
    let z = ZipStream::new(Vec::new());
    let mut z = if zip64 { z.with_zip64() } else { z };
    let t = 1_700_000_000_000_000_000; // 2023-11-14 22:13:20 UTC
    z.add_dir("top", t).unwrap();
    for (name, body) in [
        ("top/a.txt", b"hello zip\n".to_vec()),
        (
            "top/sub/b.bin",
            (0..70_000u32).map(|i| (i % 251) as u8).collect(),
        ),
        ("top/empty.txt", Vec::new()),
        ("top/café ü.txt", b"utf-8".to_vec()),
    ] {
        let mut f = z.start_file(name, body.len() as u64, t).unwrap();
        for part in body.chunks(4096) {
            z.write_file(&mut f, part).unwrap();
        }
        z.end_file(f).unwrap();
    }
    z.add_dir("top/sub", t).unwrap();
    z.add_dir("top/nothing", t).unwrap();
    z.finish().unwrap()
}

const CHECK: &str = r#"
import sys, zipfile, zlib
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None, "bad CRC"
names = sorted(z.namelist())
assert names == sorted(["top/", "top/a.txt", "top/sub/b.bin", "top/empty.txt",
    "top/café ü.txt", "top/sub/", "top/nothing/"]), names
assert z.read("top/a.txt") == b"hello zip\n"
b = z.read("top/sub/b.bin")
assert b == bytes(i % 251 for i in range(70000))
assert z.getinfo("top/sub/b.bin").CRC == zlib.crc32(b)
assert z.read("top/empty.txt") == b""
assert z.read("top/café ü.txt") == b"utf-8"
assert z.getinfo("top/nothing/").is_dir()
assert z.getinfo("top/a.txt").compress_type == zipfile.ZIP_STORED
assert z.getinfo("top/a.txt").date_time == (2023, 11, 14, 22, 13, 20), z.getinfo("top/a.txt").date_time
print("ok")
"#;

fn check_with_readers(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.zip");
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("python3")
        .arg("-c")
        .arg(CHECK)
        .arg(&path)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "zipfile: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("unzip")
        .arg("-t")
        .arg(&path)
        .output()
        .expect("unzip");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "unzip -t: {text}");
    assert!(text.contains("No errors detected"), "{text}");
}

#[test]
fn archives_are_read_by_unzip_and_python() {
    check_with_readers(&archive(false));
}

#[test]
fn zip64_records_are_read_by_unzip_and_python() {
    let bytes = archive(true);
    // the ZIP64 end records are there
    assert!(bytes.windows(4).any(|w| w == END64.to_le_bytes()));
    assert!(bytes.windows(4).any(|w| w == LOCATOR64.to_le_bytes()));
    check_with_readers(&bytes);
}

#[test]
fn a_file_of_4_gib_or_more_gets_zip64_headers() {
    let mut z = ZipStream::new(Vec::new());
    let f = z.start_file("big", 5 << 30, 0).unwrap();
    let h = z.out.clone();
    assert_eq!(&h[0..4], &LOCAL.to_le_bytes());
    assert_eq!(&h[4..6], &VERSION_ZIP64.to_le_bytes());
    assert_eq!(&h[18..22], &[0xFF; 4], "compressed size in the extra field");
    assert_eq!(&h[22..26], &[0xFF; 4], "size in the extra field");
    assert_eq!(&h[28..30], &20u16.to_le_bytes(), "extra field length");
    assert_eq!(&h[33..35], &1u16.to_le_bytes(), "ZIP64 extra field id");
    // the bytes must match the size announced
    assert!(z.end_file(f).is_err());
}

#[test]
fn dos_times() {
    // 2023-11-14 22:13:20 UTC
    let (t, d) = dos_time(1_700_000_000_000_000_000);
    assert_eq!(t, (22 << 11) | (13 << 5) | 10);
    assert_eq!(d, ((2023 - 1980) << 9) | (11 << 5) | 14);
    // before 1980: 1980-01-01
    assert_eq!(dos_time(0), (0, (1 << 5) | 1));
    // a leap day
    let (_, d) = dos_time(951_782_400 * 1_000_000_000); // 2000-02-29
    assert_eq!(d, ((2000 - 1980) << 9) | (2 << 5) | 29);
}

/// Writes runs of zero bytes as holes: a 4 GiB entry costs no disk.
struct Sparse(std::fs::File);

impl Write for Sparse {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        use std::io::{Seek, SeekFrom};
        if b.iter().all(|&x| x == 0) {
            self.0.seek(SeekFrom::Current(b.len() as i64))?;
            Ok(b.len())
        } else {
            self.0.write(b)
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// A file past 4 GiB (zeros, written as a hole) and one after it, whose offset needs ZIP64:
/// Info-ZIP lists it, Python reads the entry behind the big one.
#[test]
fn an_archive_past_4_gib_is_read_by_unzip_and_python() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.zip");
    let mut z = ZipStream::new(Sparse(std::fs::File::create(&path).unwrap()));
    let size: u64 = (4 << 30) + (1 << 20);
    let zeros = vec![0u8; 1 << 20];
    let mut f = z.start_file("big.bin", size, 0).unwrap();
    for _ in 0..size / zeros.len() as u64 {
        z.write_file(&mut f, &zeros).unwrap();
    }
    z.end_file(f).unwrap();
    let mut f = z.start_file("after.txt", 5, 0).unwrap();
    z.write_file(&mut f, b"after").unwrap();
    z.end_file(f).unwrap();
    drop(z.finish().unwrap());
    let script = r#"
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert z.getinfo("big.bin").file_size == (4 << 30) + (1 << 20)
assert z.read("after.txt") == b"after"
assert z.getinfo("after.txt").header_offset > 0xFFFFFFFF
print("ok")
"#;
    let out = Command::new("python3")
        .args(["-c", script, path.to_str().unwrap()])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "zipfile: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Info-ZIP's listing reads the ZIP64 end records and extra fields (testing the 4 GiB
    // of zeros too would read them all again: the CRCs are checked by the tests above)
    let out = Command::new("unzip")
        .args(["-Z", "-l"])
        .arg(&path)
        .output()
        .expect("unzip");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "unzip -Z: {text}");
    assert!(
        text.contains(&size.to_string()) && text.contains("after.txt"),
        "{text}"
    );
}
