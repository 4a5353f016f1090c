//! Compares the two ways of giving zstd a base for a delta frame — a raw prefix
//! (`refPrefix`, what codec 3 uses) and a raw-content dictionary (`bulk::Compressor::
//! with_dictionary`) — on chunk sizes from 64 KiB to 1 MiB: encode and decode time, frame
//! size. `cargo run --release -p nas-codec --example delta_speed`.

use nas_codec::{decode_with_base, encode_delta};
use nas_types::ChunkId;
use std::time::Instant;

fn text(len: usize, seed: u64) -> Vec<u8> {
    let words = [
        "alpha ", "beta ", "storage ", "chunk ", "version ", "delta\n", "x ",
    ];
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len + 16);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(words[(x % words.len() as u64) as usize].as_bytes());
    }
    v.truncate(len);
    v
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for size in [64 << 10, 256 << 10, 1 << 20] {
        let base = text(size, 1);
        let mut target = base.clone();
        for i in (0..size).step_by(4096) {
            target[i] = b'#';
        }
        let id = ChunkId::of(&base);
        let n = (64 << 20) / size;
        let mut frame = Vec::new();
        let t = Instant::now();
        for _ in 0..n {
            encode_delta(&target, &id, &base, level(), &mut frame)?;
        }
        let enc_prefix = t.elapsed().as_secs_f64();
        let t = Instant::now();
        for _ in 0..n {
            decode_with_base(&frame, Some(&base))?;
        }
        let dec_prefix = t.elapsed().as_secs_f64();
        let prefix_len = frame.len();
        let t = Instant::now();
        let mut dict_frame = Vec::new();
        for _ in 0..n {
            let mut c = zstd::bulk::Compressor::with_dictionary(3, &base)?;
            dict_frame = c.compress(&target)?;
        }
        let enc_dict = t.elapsed().as_secs_f64();
        let t = Instant::now();
        for _ in 0..n {
            let mut d = zstd::bulk::Decompressor::with_dictionary(&base)?;
            d.decompress(&dict_frame, size)?;
        }
        let dec_dict = t.elapsed().as_secs_f64();
        let mbs = |s: f64| (n * size) as f64 / s / 1e6;
        println!(
            "{:>5} KiB  prefix: enc {:>6.0} MB/s dec {:>6.0} MB/s {:>6} B | dictionary: enc {:>6.0} MB/s dec {:>6.0} MB/s {:>6} B",
            size >> 10,
            mbs(enc_prefix),
            mbs(dec_prefix),
            prefix_len,
            mbs(enc_dict),
            mbs(dec_dict),
            dict_frame.len()
        );
    }
    Ok(())
}

/// The zstd level of the delta frames (`LEVEL`, default 3).
fn level() -> i32 {
    std::env::var("LEVEL")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or(3)
}
