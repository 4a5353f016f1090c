//! Resemblance sketches (Odess-style): a chunk's content is sampled where a Gear rolling
//! hash hits a mask (content-defined, so an insertion shifts samples instead of changing
//! them all); each of [`FEATURES`] linear transforms of the sampled hashes keeps its
//! maximum (a min-hash-like feature), and each group of [`PER_SUPER`] features is hashed
//! into one super-feature. Two chunks sharing a super-feature very likely share most of
//! their content. The constants are part of the on-disk format: sketches are persisted in
//! the metadata store, and changing them makes old sketches match nothing.

use nas_meta::{SKETCH_FEATURES, Sketch};

/// Features per chunk.
const FEATURES: usize = SKETCH_FEATURES * PER_SUPER;
/// Features hashed into one super-feature.
const PER_SUPER: usize = 4;
/// A position is sampled when the Gear hash has these bits clear (7 bits: one in 128).
const SAMPLE_MASK: u64 = 0x0000_1ac0_0000_0000 | (1 << 63) | (1 << 47);
/// Chunks shorter than this get no sketch (too few samples to say anything).
pub(crate) const MIN_LEN: usize = 1024;

const fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const fn table<const N: usize>(seed: u64) -> [u64; N] {
    let mut t = [0u64; N];
    let mut i = 0;
    while i < N {
        t[i] = splitmix(seed ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
        i += 1;
    }
    t
}

/// The Gear table (fixed: part of the format).
static GEAR: [u64; 256] = table::<256>(0x5eed_0001);
/// Multipliers (odd) and addends of the feature transforms.
static MUL: [u64; FEATURES] = table::<FEATURES>(0x5eed_0002);
static ADD: [u64; FEATURES] = table::<FEATURES>(0x5eed_0003);

/// The sketch of `data`, `None` when it is shorter than [`MIN_LEN`] or has no sample.
pub(crate) fn sketch(data: &[u8]) -> Option<Sketch> {
    if data.len() < MIN_LEN {
        return None;
    }
    let mut max = [0u64; FEATURES];
    let mut samples = 0usize;
    let mut sample = |fp: u64| {
        if fp & SAMPLE_MASK == 0 {
            samples += 1;
            for i in 0..FEATURES {
                let t = (fp.wrapping_mul(MUL[i] | 1)).wrapping_add(ADD[i]);
                if t > max[i] {
                    max[i] = t;
                }
            }
        }
    };
    // Two bytes a step, both positions checked: the hash after the second byte is computed
    // from the one before the pair (`fp << 2` plus both table entries), not from the first
    // byte's, which halves the dependency chain; the values are those of the plain
    // one-byte loop.
    let mut fp = 0u64;
    let mut pairs = data.chunks_exact(2);
    for p in &mut pairs {
        let (a, b) = (GEAR[p[0] as usize], GEAR[p[1] as usize]);
        let first = (fp << 1).wrapping_add(a);
        fp = (fp << 2).wrapping_add(a << 1).wrapping_add(b);
        sample(first);
        sample(fp);
    }
    if let [last] = pairs.remainder() {
        fp = (fp << 1).wrapping_add(GEAR[*last as usize]);
        sample(fp);
    }
    if samples == 0 {
        return None;
    }
    let mut sf = [0u64; SKETCH_FEATURES];
    for (s, group) in sf.iter_mut().zip(max.chunks(PER_SUPER)) {
        let mut h = blake3::Hasher::new();
        for f in group {
            h.update(&f.to_le_bytes());
        }
        let d = h.finalize();
        let mut b = [0u8; 8];
        b.copy_from_slice(&d.as_bytes()[..8]);
        // 63 bits: the metadata store keeps them as signed integers
        *s = u64::from_le_bytes(b) >> 1;
    }
    Some(Sketch(sf))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(len: usize, seed: u64) -> Vec<u8> {
        (0..len as u64)
            .map(|i| (splitmix(seed ^ i) >> 7) as u8)
            .collect()
    }

    fn shared(a: &Sketch, b: &Sketch) -> usize {
        a.0.iter().zip(b.0.iter()).filter(|(x, y)| x == y).count()
    }

    #[test]
    fn a_small_edit_keeps_most_super_features_and_other_data_shares_none() {
        let base = noise(64 * 1024, 1);
        let mut edited = base.clone();
        edited[30_000..30_010].copy_from_slice(b"0123456789");
        edited.splice(50_000..50_000, b"inserted text".iter().copied());
        let (a, b) = (sketch(&base).unwrap(), sketch(&edited).unwrap());
        assert!(shared(&a, &b) >= 2, "{a:?} vs {b:?}");
        let other = sketch(&noise(64 * 1024, 2)).unwrap();
        assert_eq!(shared(&a, &other), 0);
        assert_eq!(sketch(&base), Some(a), "deterministic");
        assert_eq!(sketch(&base[..100]), None);
    }

    /// The two-bytes-a-step loop gives the plain loop's sketch (the format depends on it).
    #[test]
    fn the_paired_loop_samples_every_position() {
        fn plain(data: &[u8]) -> Vec<u64> {
            let mut fp = 0u64;
            let mut out = Vec::new();
            for &b in data {
                fp = (fp << 1).wrapping_add(GEAR[b as usize]);
                if fp & SAMPLE_MASK == 0 {
                    out.push(fp);
                }
            }
            out
        }
        for len in [1024, 1025, 40_001] {
            let data = noise(len, len as u64);
            let samples = plain(&data);
            assert!(!samples.is_empty());
            let mut max = [0u64; FEATURES];
            for fp in samples {
                for (i, m) in max.iter_mut().enumerate() {
                    *m = (*m).max(fp.wrapping_mul(MUL[i] | 1).wrapping_add(ADD[i]));
                }
            }
            let mut sf = [0u64; SKETCH_FEATURES];
            for (s, group) in sf.iter_mut().zip(max.chunks(PER_SUPER)) {
                let mut h = blake3::Hasher::new();
                for f in group {
                    h.update(&f.to_le_bytes());
                }
                let mut b = [0u8; 8];
                b.copy_from_slice(&h.finalize().as_bytes()[..8]);
                *s = u64::from_le_bytes(b) >> 1;
            }
            assert_eq!(sketch(&data), Some(Sketch(sf)), "{len} bytes");
        }
    }

    #[test]
    fn super_features_fit_in_a_signed_integer() {
        for s in 0..20 {
            let sk = sketch(&noise(8192, s)).unwrap();
            assert!(sk.0.iter().all(|f| *f <= i64::MAX as u64));
        }
    }
}
