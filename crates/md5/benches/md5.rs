//! MD5 throughput: this crate against the `md-5` crate, on 256 KiB (the S3 upload's block).
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use md5_ref::Digest as _;
use std::hint::black_box;

fn md5(c: &mut Criterion) {
    let data: Vec<u8> = (0..(256u32 << 10))
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut g = c.benchmark_group("md5_256KiB");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("nas-md5", |b| {
        b.iter(|| nas_md5::Md5::digest(black_box(&data)))
    });
    g.bench_function("md-5", |b| {
        b.iter(|| md5_ref::Md5::digest(black_box(&data)))
    });
    g.finish();
}

criterion_group!(benches, md5);
criterion_main!(benches);
