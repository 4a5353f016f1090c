use super::*;
use proptest::prelude::*;
use rand::{Rng, SeedableRng, rngs::StdRng};

fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut v = vec![0u8; len];
    rng.fill(&mut v[..]);
    v
}

fn whole_fastcdc(p: ChunkerParams, data: &[u8]) -> Vec<usize> {
    fastcdc::v2020::FastCDC::new(data, p.min, p.avg, p.max)
        .map(|c| c.length)
        .collect()
}

#[test]
fn default_params_are_valid() {
    assert_eq!(ChunkerParams::DEFAULT.validate(), Ok(()));
    let bad = ChunkerParams {
        min: 10,
        avg: 64,
        max: 128,
    };
    assert!(bad.validate().is_err());
}

#[test]
fn same_boundaries_as_whole_buffer_fastcdc() {
    let data = pseudo_random(3 << 20, 1);
    let p = ChunkerParams::DEFAULT;
    assert_eq!(chunk_lengths(p, &data), whole_fastcdc(p, &data));
}

/// Snapshot: pins the boundaries of the default parameters on a fixed input. If this test
/// fails, chunking changed and every store's dedup against old data would silently break.
#[test]
fn snapshot_default_boundaries() {
    let data = pseudo_random(1 << 20, 42);
    let h = blake3::hash(&data);
    // The input itself is pinned too, so a change in the RNG is told apart from a change in
    // chunking.
    assert_eq!(
        &h.to_hex()[..16],
        SNAPSHOT_INPUT_HASH,
        "test input changed (rand crate?), not the chunker"
    );
    assert_eq!(
        chunk_lengths(ChunkerParams::DEFAULT, &data),
        SNAPSHOT_LENGTHS
    );
}

const SNAPSHOT_INPUT_HASH: &str = "3115621c6316682b";
const SNAPSHOT_LENGTHS: &[usize] = &[
    63368, 85569, 76777, 49259, 34995, 53954, 50152, 19572, 42010, 52655, 129130, 47822, 19096,
    59406, 62164, 33647, 19930, 43049, 37834, 37970, 30217,
];

#[test]
fn empty_stream_has_no_chunk() {
    assert!(chunk_lengths(ChunkerParams::DEFAULT, &[]).is_empty());
}

#[test]
fn limits_hold_on_zeros() {
    let data = vec![0u8; 1 << 20];
    let lens = chunk_lengths(ChunkerParams::DEFAULT, &data);
    assert!(lens.iter().all(|&l| l == ChunkerParams::DEFAULT.max));
}

fn chunk_hashes(p: ChunkerParams, data: &[u8]) -> Vec<blake3::Hash> {
    let mut off = 0;
    chunk_lengths(p, data)
        .into_iter()
        .map(|len| {
            let h = blake3::hash(&data[off..off + len]);
            off += len;
            h
        })
        .collect()
}

#[test]
fn edit_resyncs() {
    let p = ChunkerParams::DEFAULT;
    let a = pseudo_random(4 << 20, 7);
    let mut b = a.clone();
    b.splice(1_000_000..1_000_000, [1u8, 2, 3]);
    let ha: std::collections::HashSet<_> = chunk_hashes(p, &a).into_iter().collect();
    let hb = chunk_hashes(p, &b);
    let new = hb.iter().filter(|h| !ha.contains(h)).count();
    // After the insertion the chunk sequence re-synchronizes: only the chunk(s) around the
    // edit are new.
    assert!((1..=2).contains(&new), "{new} new chunks of {}", hb.len());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn any_split_gives_same_chunks(len in 0usize..700_000, seed in any::<u64>(), splits in proptest::collection::vec(1usize..200_000, 0..8)) {
        let p = ChunkerParams { min: 4096, avg: 16384, max: 65536 };
        let data = pseudo_random(len, seed);
        let expected = whole_fastcdc(p, &data);
        let mut got = Vec::new();
        let mut c = Chunker::new(p);
        let mut rest = &data[..];
        for s in splits {
            let n = s.min(rest.len());
            c.push(&rest[..n], |ch| { got.push(ch.len()); Ok::<_, ()>(()) }).unwrap();
            rest = &rest[n..];
        }
        c.push(rest, |ch| { got.push(ch.len()); Ok::<_, ()>(()) }).unwrap();
        c.finish(|ch| { got.push(ch.len()); Ok::<_, ()>(()) }).unwrap();
        prop_assert_eq!(got.iter().sum::<usize>(), len);
        prop_assert!(got.iter().all(|&l| l <= p.max));
        prop_assert_eq!(got, expected);
    }
}
