//! Reads in place (`RangeReader::read_cached`): what an async door serves without a trip to
//! the blocking pool when the OS has the data cached. They must give the file's bytes, and
//! leave the reader exactly where they stop. (A damaged frame: see corruption.rs.)
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use nas_engine::WriteOptions;
use nas_types::ByteRange;

#[test]
fn cached_reads_give_the_bytes_and_leave_the_reader_where_they_stop() {
    let (_d, s) = store();
    let h = home(&s);
    let data = random_bytes(3_000_000, 7);
    h.write_all(&p("/big"), &data, WriteOptions::default())
        .unwrap();
    // just written: the pack's pages are in the page cache
    let f = h.open(&p("/big"), None).unwrap();
    let mut r = f.range(ByteRange {
        start: 100,
        end: 2_999_000,
    });
    let a = r.read_cached(10).expect("cached data is read in place");
    assert_eq!(a, &data[100..110]);
    // across several chunks, starting inside the one the last call left loaded
    let b = r
        .read_cached(1_500_000)
        .expect("cached data is read in place");
    assert_eq!(b, &data[110..1_500_110]);
    assert_eq!(r.remaining(), 2_999_000 - 1_500_110);
    // the ordinary read goes on from there
    assert_eq!(r.read_to_vec().unwrap(), &data[1_500_110..2_999_000]);
    // past the end: what is left, then nothing
    let mut tail = f.range(ByteRange {
        start: 2_999_990,
        end: 3_000_000,
    });
    assert_eq!(tail.read_cached(1 << 20).unwrap(), &data[2_999_990..]);
    assert_eq!(tail.read_cached(1 << 20).unwrap(), b"");
    // a file of one chunk, read whole (its plaintext handed over as it is)
    h.write_all(&p("/small"), &data[..5000], WriteOptions::default())
        .unwrap();
    let mut one = h.open(&p("/small"), None).unwrap().reader();
    assert_eq!(one.read_cached(1 << 20).unwrap(), &data[..5000]);
    assert_eq!(one.remaining(), 0);
    assert_eq!(one.read_to_vec().unwrap(), b"");
    // an empty file
    h.write_all(&p("/empty"), b"", WriteOptions::default())
        .unwrap();
    let e = h.open(&p("/empty"), None).unwrap();
    assert_eq!(e.reader().read_cached(4096).unwrap(), b"");
}
