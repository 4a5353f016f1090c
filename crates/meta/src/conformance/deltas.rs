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
        m.delete_unreferenced(&[d.row], &|_| true)
            .unwrap()
            .is_empty()
    );
    assert_eq!(refs(m, 1), Some(1));
    assert_eq!(
        m.delete_unreferenced(&[d.row], &|_| false).unwrap().len(),
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
    m.trash_purge(m.trash(a.node, "/a", 1).unwrap().id).unwrap();
    let un = m.unreferenced_chunks(ChunkRow(0), 10).unwrap();
    let rows: Vec<ChunkRow> = un.iter().map(|c| c.row).collect();
    m.delete_unreferenced(&rows, &|_| false).unwrap();
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
