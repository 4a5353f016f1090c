use super::*;
use proptest::prelude::*;

fn noise(len: usize, seed: u64) -> Vec<u8> {
    // xorshift: deterministic, incompressible enough.
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn text_compresses_with_both_codecs() {
    let text = b"the quick brown fox jumps over the lazy dog. ".repeat(500);
    for (c, want) in [
        (Compression::Lz4, Codec::Lz4),
        (Compression::Zstd(3), Codec::Zstd),
    ] {
        let mut f = Vec::new();
        assert_eq!(encode(&text, c, &mut f), want);
        assert!(f.len() < text.len() / 4);
        assert_eq!(decode_verified(&f, &ChunkId::of(&text)).unwrap(), text);
    }
}

#[test]
fn random_is_stored_raw_without_trying() {
    let data = noise(64 * 1024, 9);
    assert!(looks_incompressible(&data));
    let mut f = Vec::new();
    assert_eq!(encode(&data, Compression::Zstd(3), &mut f), Codec::Raw);
    assert_eq!(f.len(), HEADER_LEN + data.len());
    assert_eq!(decode(&f).unwrap(), data);
}

#[test]
fn text_is_not_flagged_incompressible() {
    let text = b"fn main() { println!(\"hello\"); }\n".repeat(400);
    assert!(!looks_incompressible(&text));
    assert!(!looks_incompressible(&vec![0u8; 100_000]));
}

#[test]
fn none_stores_raw() {
    let mut f = Vec::new();
    assert_eq!(encode(&[0u8; 5000], Compression::None, &mut f), Codec::Raw);
    assert_eq!(header(&f).unwrap().raw_len, 5000);
}

#[test]
fn corruption_is_detected() {
    let text = b"some text that compresses well. ".repeat(200);
    let id = ChunkId::of(&text);
    for c in [Compression::None, Compression::Lz4, Compression::Zstd(3)] {
        let mut f = Vec::new();
        encode(&text, c, &mut f);
        for pos in [HEADER_LEN, f.len() / 2, f.len() - 1] {
            let mut bad = f.clone();
            bad[pos] ^= 0x40;
            assert!(
                decode_verified(&bad, &id).is_err(),
                "flip at {pos} with {c:?}"
            );
        }
        assert!(decode_verified(&f[..f.len() - 1], &id).is_err());
    }
}

#[test]
fn header_errors() {
    assert_eq!(header(&[1, 0, 0]), Err(CodecError::Truncated));
    assert_eq!(
        header(&[9, 0, 0, 0, 0, 0]),
        Err(CodecError::UnknownFormat(9))
    );
    assert_eq!(
        header(&[1, 7, 0, 0, 0, 0]),
        Err(CodecError::UnknownCodec(7))
    );
    assert_eq!(
        header(&[1, 0, 0xff, 0xff, 0xff, 0xff]),
        Err(CodecError::BadLength(u32::MAX))
    );
}

#[test]
fn a_delta_frame_of_a_near_copy_is_tiny_and_decodes_only_with_its_base() {
    // 1 MiB of noise (incompressible alone), then the same with one byte changed
    let base = noise(1 << 20, 5);
    let mut target = base.clone();
    target[512 * 1024] ^= 0xff;
    let base_id = ChunkId::of(&base);
    let mut frame = Vec::new();
    encode_delta(&target, &base_id, &base, 3, &mut frame).unwrap();
    assert!(frame.len() < 1500, "delta frame is {} bytes", frame.len());
    let h = header(&frame).unwrap();
    assert_eq!(h.codec, Codec::ZstdDelta);
    assert_eq!(h.base, Some(base_id));
    assert_eq!(h.payload_offset, DELTA_HEADER_LEN);
    assert_eq!(decode(&frame), Err(CodecError::NeedsBase(base_id)));
    assert_eq!(decode_with_base(&frame, Some(&base)).unwrap(), target);
    // against the wrong base it fails or decodes to something else, never the target
    let other = noise(1 << 20, 6);
    assert!(decode_with_base(&frame, Some(&other)).map_or(true, |d| d != target));
}

#[test]
fn a_delta_reaches_back_over_the_whole_base() {
    // text, edited every 4 KiB: a window sized for the chunk alone would miss the base's
    // first half and store most of it again
    for size in [128 << 10, 1 << 20] {
        let base: Vec<u8> = b"a line of some text file, numbered "
            .iter()
            .copied()
            .cycle()
            .zip(0..size)
            .map(|(b, i)| b.wrapping_add((i / 97 % 7) as u8))
            .collect();
        let mut target = base.clone();
        for i in (0..size).step_by(4096) {
            target[i] = b'#';
        }
        let mut frame = Vec::new();
        encode_delta(&target, &ChunkId::of(&base), &base, 3, &mut frame).unwrap();
        assert!(
            frame.len() < size / 50,
            "{size}: delta frame is {} bytes",
            frame.len()
        );
        assert_eq!(decode_with_base(&frame, Some(&base)).unwrap(), target);
    }
}

#[test]
fn a_base_that_starts_like_a_zstd_dictionary_is_still_raw_content() {
    // zstd's dictionary magic (0xEC30A437 LE) at the start of a base must not make it a
    // "formatted" dictionary
    let mut base = vec![0x37, 0xa4, 0x30, 0xec];
    base.extend_from_slice(&b"a paragraph of a document that goes on. ".repeat(400));
    let mut target = base.clone();
    target.extend_from_slice(b"and one more sentence");
    let mut frame = Vec::new();
    encode_delta(&target, &ChunkId::of(&base), &base, 3, &mut frame).unwrap();
    assert_eq!(decode_with_base(&frame, Some(&base)).unwrap(), target);
    assert!(frame.len() < 120, "delta frame is {} bytes", frame.len());
}

#[test]
fn parses_compression_names() {
    assert_eq!(Compression::parse("lz4"), Some(Compression::Lz4));
    assert_eq!(Compression::parse("zstd"), Some(Compression::Zstd(3)));
    assert_eq!(Compression::parse("zstd:9"), Some(Compression::Zstd(9)));
    assert_eq!(Compression::parse("zstd:99"), None);
    assert_eq!(Compression::parse("gzip"), None);
}

proptest! {
    #[test]
    fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..20_000), rep in 1usize..4, which in 0u8..3) {
        let data = data.repeat(rep);
        let c = [Compression::None, Compression::Lz4, Compression::Zstd(1)][which as usize];
        let mut f = Vec::new();
        encode(&data, c, &mut f);
        prop_assert_eq!(decode_verified(&f, &ChunkId::of(&data)).unwrap(), data);
    }

    #[test]
    fn delta_round_trip(base in proptest::collection::vec(any::<u8>(), 0..20_000), edit in proptest::collection::vec(any::<u8>(), 0..200), at in any::<usize>()) {
        let mut target = base.clone();
        let at = if base.is_empty() { 0 } else { at % base.len() };
        target.splice(at..at, edit);
        let mut f = Vec::new();
        encode_delta(&target, &ChunkId::of(&base), &base, 1, &mut f).unwrap();
        prop_assert_eq!(decode_with_base(&f, Some(&base)).unwrap(), target);
    }

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let _ = decode(&bytes);
    }
}

#[test]
fn parts_are_the_frame_without_copying_raw_payloads() {
    let text = b"the same words again and again, ".repeat(200);
    let noise: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    for raw in [&text[..], &noise[..]] {
        let mut whole = Vec::new();
        let codec = encode(raw, Compression::Lz4, &mut whole);
        let mut head = Vec::new();
        let (c, [a, b]) = encode_parts(raw, Compression::Lz4, &mut head);
        assert_eq!(c, codec);
        assert_eq!([a, b].concat(), whole, "the parts make the same frame");
        if c == Codec::Raw {
            assert_eq!(
                b.as_ptr(),
                raw.as_ptr(),
                "a raw payload is the input itself"
            );
        } else {
            assert!(b.is_empty());
        }
        assert_eq!(decode(&whole).unwrap(), raw);
    }
}

/// Frames written before contexts were reused (a single-use prefix, long-distance
/// matching on) decode through the reused context, which takes the base as raw content.
#[test]
fn a_delta_written_with_a_prefix_and_long_distance_matching_still_decodes() {
    use zstd::zstd_safe::{CCtx, CParameter};
    let base = noise(100_000, 7);
    let mut target = base.clone();
    target[50_000] ^= 1;
    target.extend_from_slice(&base[..20_000]);
    let mut cx = CCtx::create();
    cx.set_parameter(CParameter::CompressionLevel(1)).unwrap();
    cx.set_parameter(CParameter::ChecksumFlag(false)).unwrap();
    cx.set_parameter(CParameter::WindowLog(18)).unwrap();
    cx.set_parameter(CParameter::EnableLongDistanceMatching(true))
        .unwrap();
    cx.ref_prefix(&base).unwrap();
    let mut payload = Vec::with_capacity(zstd::zstd_safe::compress_bound(target.len()));
    cx.compress2(&mut payload, &target).unwrap();
    let id = ChunkId::of(&base);
    let mut frame = vec![FORMAT_V1, Codec::ZstdDelta as u8];
    frame.extend_from_slice(&(target.len() as u32).to_le_bytes());
    frame.extend_from_slice(&id.0);
    frame.extend_from_slice(&payload);
    assert!(frame.len() < 1000, "delta frame is {} bytes", frame.len());
    // twice: the second decode reuses the thread's context
    for _ in 0..2 {
        let out = decode_verified_with_base(&frame, Some(&base), &ChunkId::of(&target));
        assert_eq!(out.unwrap(), target);
    }
    // and a frame of today's encoder, against another base, on the same context
    let other = noise(30_000, 8);
    let mut f2 = Vec::new();
    encode_delta(&other[1..], &ChunkId::of(&other), &other, 1, &mut f2).unwrap();
    assert_eq!(decode_with_base(&f2, Some(&other)).unwrap(), &other[1..]);
}
