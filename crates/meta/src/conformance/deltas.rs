//! Delta-chunk checks: a delta's row names its base and holds a reference on it until the
//! delta is deleted; a delta is never a base; sketches find whole chunks by shared
//! super-features and go with their chunk; totals count deltas apart.

use super::{chunk, commit, refs};
use crate::{ChunkRow, MetaError, MetaStore, NewChunk, Sketch};

/// Chunk `n` stored as a delta (7 bytes; 40 whole) against chunk `base`.
fn delta(n: u32, base: u32) -> NewChunk {
    let mut c = chunk(n);
    c.codec = 3;
    c.base = Some(chunk(base).id);
    c.whole_len = 40;
    c
}

/// Chunk `n` stored whole with sketch `f`.
fn sketched(n: u32, f: [u64; 3]) -> NewChunk {
    let mut c = chunk(n);
    c.sketch = Some(Sketch(f));
    c
}

/// The base of a delta keeps a reference for it: versions dropping the base leave it
/// referenced while the delta lives; deleting the unreferenced delta releases it, and only
/// then is the base a GC candidate.
pub fn a_delta_holds_a_reference_on_its_base_until_deleted(m: &dyn MetaStore) {
    let h = m.create_home("d", "d", 0).unwrap();
    let a = commit(m, h.root, "a", &[chunk(1)]);
    let b = commit(m, h.root, "b", &[delta(2, 1)]);
    let base = m.find_chunk(&chunk(1).id).unwrap().unwrap();
    let d = m.find_chunk(&chunk(2).id).unwrap().unwrap();
    assert_eq!((d.base, d.codec, d.refs), (Some(base.row), 3, 1));
    assert_eq!(base.base, None);
    assert_eq!(refs(m, 1), Some(2), "one version, one delta");
    m.trash_purge(m.trash(a.node, "/a", 1).unwrap().id).unwrap();
    assert_eq!(refs(m, 1), Some(1), "the delta still needs its base");
    let un = m.unreferenced_chunks(ChunkRow(0), 10).unwrap();
    assert!(un.is_empty(), "no candidate while the delta lives: {un:?}");
    m.trash_purge(m.trash(b.node, "/b", 2).unwrap().id).unwrap();
    let un = m.unreferenced_chunks(ChunkRow(0), 10).unwrap();
    assert_eq!(un.iter().map(|c| c.id).collect::<Vec<_>>(), [chunk(2).id]);
    // a delta kept (pinned) keeps its base's reference
    assert!(
        m.delete_unreferenced(&[d.row], &|_| true, 0)
            .unwrap()
            .is_empty()
    );
    assert_eq!(refs(m, 1), Some(1));
    assert_eq!(
        m.delete_unreferenced(&[d.row], &|_| false, 0)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(refs(m, 1), Some(0));
    let un = m.unreferenced_chunks(ChunkRow(0), 10).unwrap();
    assert_eq!(un.iter().map(|c| c.id).collect::<Vec<_>>(), [chunk(1).id]);
    // a delta given as new twice (a racing writer) takes one reference, not two
    commit(m, h.root, "c", &[chunk(1)]);
    commit(m, h.root, "e", &[delta(3, 1)]);
    commit(m, h.root, "f", &[delta(3, 1)]);
    assert_eq!((refs(m, 1), refs(m, 3)), (Some(2), Some(2)));
}

/// A delta whose base is a delta, or whose base is gone, is refused and nothing of the
/// commit is kept.
pub fn a_delta_is_never_a_base_and_needs_its_base_indexed(m: &dyn MetaStore) {
    let h = m.create_home("n", "n", 0).unwrap();
    commit(m, h.root, "a", &[chunk(1)]);
    commit(m, h.root, "b", &[delta(2, 1)]);
    let extents = [(chunk(3).id, 1)];
    let bad = [delta(3, 2)];
    let e = m
        .commit_version(&super::req(h.root, "c", &extents, &bad))
        .unwrap_err();
    assert!(matches!(e, MetaError::Invalid(_)), "{e:?}");
    let missing = [delta(3, 9)];
    assert!(
        m.commit_version(&super::req(h.root, "c", &extents, &missing))
            .is_err()
    );
    assert!(m.child(h.root, "c").unwrap().is_none());
    assert_eq!(refs(m, 3), None);
    assert_eq!(refs(m, 2), Some(1));
}

/// Whole chunks are found by shared super-features, most shared first; deltas are never
/// candidates; a deleted chunk's sketch goes with it.
pub fn similar_chunks_share_super_features(m: &dyn MetaStore) {
    let h = m.create_home("s", "s", 0).unwrap();
    let a = commit(
        m,
        h.root,
        "a",
        &[
            sketched(1, [10, 20, 30]),
            sketched(2, [10, 99, 98]),
            sketched(3, [70, 80, 90]),
        ],
    );
    let mut d = delta(4, 1);
    d.sketch = Some(Sketch([10, 20, 30])); // ignored: a delta is no base
    commit(m, h.root, "b", &[d]);
    let found = |m: &dyn MetaStore, f: [u64; 3], limit| {
        m.similar_chunks(&Sketch(f), limit)
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(found(m, [10, 20, 31], 8), [chunk(1).id, chunk(2).id]);
    assert_eq!(found(m, [10, 20, 31], 1), [chunk(1).id]);
    assert_eq!(found(m, [1, 2, 3], 8), []);
    // features match by position: 20 as the first feature is no match
    assert_eq!(found(m, [20, 1, 2], 8), []);
    // a chunk's own sketch, by row: only chunks stored whole with one have it
    let row = |n| m.find_chunk(&chunk(n).id).unwrap().unwrap().row;
    assert_eq!(m.chunk_sketch(row(2)).unwrap(), Some(Sketch([10, 99, 98])));
    assert_eq!(m.chunk_sketch(row(4)).unwrap(), None, "a delta has none");
    m.trash_purge(m.trash(a.node, "/a", 1).unwrap().id).unwrap();
    let un = m.unreferenced_chunks(ChunkRow(0), 10).unwrap();
    let rows: Vec<ChunkRow> = un.iter().map(|c| c.row).collect();
    m.delete_unreferenced(&rows, &|_| false, 0).unwrap();
    // chunk 1 stays (the delta holds it), 2 and 3 are gone with their sketches
    assert_eq!(found(m, [10, 99, 90], 8), [chunk(1).id]);
}

/// Totals count delta chunks, their stored bytes and what they would take stored whole.
pub fn stats_count_deltas_apart(m: &dyn MetaStore) {
    let h = m.create_home("t", "t", 0).unwrap();
    commit(m, h.root, "a", &[chunk(1), delta(2, 1), delta(3, 1)]);
    let s = m.stats().unwrap();
    assert_eq!(s.chunks, 3);
    assert_eq!(
        (s.delta_chunks, s.delta_stored_bytes, s.delta_whole_bytes),
        (2, 14, 80)
    );
}

/// A recode swaps a chunk's frame for a re-encoded one (whole, or a delta that takes a
/// reference on its base and drops the chunk's sketch), only while the row is still at
/// the frame that was read; it never makes a delta of a base, a busy chunk, or a chunk
/// against a base that is itself a delta (depth 1).
pub fn recodes_keep_depth_one_and_apply_only_where_the_frame_was_read(m: &dyn MetaStore) {
    use crate::Recode;
    use nas_blob::BlobLocation;
    use nas_types::PackId;
    let h = m.create_home("r", "r", 0).unwrap();
    commit(
        m,
        h.root,
        "a",
        &[sketched(1, [1, 2, 3]), chunk(2), chunk(3), chunk(4)],
    );
    commit(m, h.root, "b", &[delta(5, 4)]);
    let row = |n| m.find_chunk(&chunk(n).id).unwrap().unwrap();
    let at = |offset| BlobLocation {
        pack: PackId(77),
        offset,
        len: 9,
    };
    let whole = |n: u32, offset| Recode {
        row: row(n).row,
        old: row(n).loc,
        loc: at(offset),
        codec: 2,
        base: None,
        whole_len: 0,
    };
    let as_delta = |n: u32, base: u32, offset| Recode {
        codec: 3,
        base: Some(chunk(base).id),
        whole_len: 30,
        ..whole(n, offset)
    };
    let mut moved = whole(3, 300);
    moved.old.offset += 1; // not where the row points
    let busy = chunk(2).id;
    let done = m
        .recode(
            &[
                as_delta(1, 3, 100), // 1 becomes a delta of 3: its sketch goes
                as_delta(2, 3, 200), // busy: refused
                moved,               // moved meanwhile: refused
                as_delta(4, 3, 400), // 4 is the base of 5: refused
                as_delta(3, 5, 500), // 3 is now a base, and 5 a delta: refused
            ],
            &|id| *id == busy,
        )
        .unwrap();
    assert_eq!(done, [row(1).row]);
    let one = row(1);
    assert_eq!(
        (one.codec, one.base, one.loc),
        (3, Some(row(3).row), at(100))
    );
    assert_eq!(refs(m, 3), Some(2), "its version, and the new delta");
    assert!(m.is_base(row(3).row).unwrap() && !m.is_base(row(2).row).unwrap());
    assert!(m.similar_chunks(&Sketch([1, 2, 3]), 8).unwrap().is_empty());
    for n in [2, 3, 4] {
        assert_eq!(row(n).codec, 0, "chunk {n} untouched");
    }
    // a chunk kept whole takes its new frame, and may get a sketch
    let w = whole(2, 600);
    assert_eq!(m.recode(&[w], &|_| false).unwrap(), [w.row]);
    assert_eq!((row(2).codec, row(2).loc, row(2).base), (2, at(600), None));
    m.add_sketches(&[
        (row(2).row, Sketch([4, 5, 6])),
        (one.row, Sketch([7, 8, 9])),
    ])
    .unwrap();
    let found = |f| m.similar_chunks(&Sketch(f), 8).unwrap();
    assert_eq!(found([4, 5, 6]).len(), 1);
    assert!(found([7, 8, 9]).is_empty(), "a delta gets no sketch");
    assert_eq!(
        m.chunks_with_codec(0, ChunkRow(0), 10)
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>(),
        [chunk(3).id, chunk(4).id]
    );
    assert_eq!(m.count_chunks_with_codec(3).unwrap(), 2);
}
