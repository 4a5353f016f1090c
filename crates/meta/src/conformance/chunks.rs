//! Chunk-index checks: reference counts through every path that adds or drops one, GC's
//! candidates and deletion, lookups, compaction's relocation, pack usage and totals.

use super::{chunk, commit, refs};
use crate::{ChunkRecord, ChunkRow, MetaStore, NewChunk, ObjectLock};
use nas_blob::BlobLocation;
use nas_types::PackId;

/// References follow commits, copies, version deletion, restores and trash purges; an
/// unreferenced chunk is a GC candidate until deleted.
pub fn refs_follow_versions_copies_and_purges(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let a = commit(m, h.root, "a", &[chunk(1), chunk(2)]);
    commit(m, h.root, "a", &[chunk(2), chunk(3)]);
    let all = |m: &dyn MetaStore| (refs(m, 1), refs(m, 2), refs(m, 3));
    assert_eq!(all(m), (Some(1), Some(2), Some(1)));
    let copy = m
        .copy(a.node, h.root, "b", None, 7, ObjectLock::default())
        .unwrap();
    assert_eq!(copy.head.as_ref().unwrap().num.0, 1);
    assert_eq!(all(m), (Some(1), Some(3), Some(2)));
    m.delete_version(a.node, nas_types::VersionNum(1)).unwrap();
    assert_eq!(all(m), (Some(0), Some(2), Some(2)));
    let t = m.trash(a.node, "/a", 9).unwrap();
    assert_eq!(
        all(m),
        (Some(0), Some(2), Some(2)),
        "the trash keeps references"
    );
    m.trash_purge(t.id).unwrap();
    assert_eq!(all(m), (Some(0), Some(1), Some(1)));
    let un = m.unreferenced_chunks(ChunkRow(0), 10).unwrap();
    assert_eq!(un.iter().map(|c| c.id).collect::<Vec<_>>(), [chunk(1).id]);
    let gone = m.delete_unreferenced(&[un[0].row], &|_| false, 0).unwrap();
    assert_eq!(gone, un);
    assert_eq!(refs(m, 1), None);
    // a chunk back after its deletion is stored anew
    commit(m, h.root, "again", &[chunk(1)]);
    assert_eq!(refs(m, 1), Some(1));
}

/// A chunk is found by content id and by row, rows map back to ids in order, a pack lists
/// its chunks by offset, and a chunk given as new twice keeps its first location.
pub fn chunks_are_found_by_id_row_and_pack(m: &dyn MetaStore) {
    let h = m.create_home("c", "c", 0).unwrap();
    commit(m, h.root, "f", &[chunk(2), chunk(1)]);
    let mut dup = chunk(1);
    dup.loc.offset = 5_000; // written again by a racing writer: the index keeps one
    commit(m, h.root, "g", &[dup]);
    let one = m.find_chunk(&chunk(1).id).unwrap().unwrap();
    assert_eq!(
        (one.loc, one.raw_len, one.codec, one.refs),
        (chunk(1).loc, 1, 0, 2)
    );
    let two = m.find_chunk(&chunk(2).id).unwrap().unwrap();
    assert_eq!(m.chunk(one.row).unwrap(), Some(one));
    assert_eq!(m.chunk(ChunkRow(i64::MAX - 1)).unwrap(), None);
    assert!(m.find_chunk(&chunk(9).id).unwrap().is_none());
    let got = m
        .chunk_ids(&[two.row, ChunkRow(i64::MAX - 1), one.row])
        .unwrap();
    assert_eq!(got, vec![Some(chunk(2).id), None, Some(chunk(1).id)]);
    let in_pack: Vec<_> = m
        .chunks_in_pack(PackId(1))
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(in_pack, [chunk(1).id, chunk(2).id], "by offset");
    assert!(m.chunks_in_pack(PackId(2)).unwrap().is_empty());
    let mut every = Vec::new();
    m.for_each_chunk(&mut |c| {
        every.push(c.id);
        Ok(())
    })
    .unwrap();
    assert_eq!(every.len(), 2);
}

/// Many chunks are looked up by row at once, in the order given, repeats and rows that
/// are gone included, each as the one-row lookup finds it.
pub fn chunks_are_looked_up_by_row_many_at_once(m: &dyn MetaStore) {
    let h = m.create_home("c", "c", 0).unwrap();
    let new: Vec<NewChunk> = (1..=70).map(chunk).collect();
    commit(m, h.root, "f", &new);
    let rows: Vec<ChunkRow> = (1..=70)
        .map(|n| m.find_chunk(&chunk(n).id).unwrap().unwrap().row)
        .collect();
    let gone = ChunkRow(i64::MAX - 1);
    let ask = [rows[3], gone, rows[0], rows[3], rows[69]];
    let got = m.chunks(&ask).unwrap();
    let one_by_one: Vec<_> = ask.iter().map(|r| m.chunk(*r).unwrap()).collect();
    assert_eq!(got, one_by_one);
    assert_eq!(got[0].as_ref().map(|c| c.id), Some(chunk(4).id));
    assert_eq!(got[1], None);
    assert_eq!(got[4].as_ref().map(|c| c.loc), Some(chunk(70).loc));
    // a whole window (the read path asks for 64 at a time)
    let all = m.chunks(&rows).unwrap();
    let ids: Vec<_> = all.iter().map(|c| c.as_ref().map(|c| c.id)).collect();
    let want: Vec<_> = (1..=70).map(|n| Some(chunk(n).id)).collect();
    assert_eq!(ids, want);
    assert!(m.chunks(&[]).unwrap().is_empty());
}

fn unreferenced(m: &dyn MetaStore, n: std::ops::Range<u32>) -> Vec<ChunkRecord> {
    let h = m.create_home("u", "u", 0).unwrap();
    for i in n.clone() {
        let v = commit(m, h.root, &format!("f{i}"), &[chunk(i)]);
        let t = m.trash(v.node, "/f", 1).unwrap();
        m.trash_purge(t.id).unwrap();
    }
    let all = m.unreferenced_chunks(ChunkRow(0), 1000).unwrap();
    assert_eq!(all.len(), n.len());
    all
}

/// Unreferenced chunks page by row; deletion skips what `keep` protects and what gained a
/// reference meanwhile, and returns what it deleted.
pub fn unreferenced_chunks_page_and_deletion_honours_keep(m: &dyn MetaStore) {
    let all = unreferenced(m, 1..6);
    assert!(all.windows(2).all(|w| w[0].row < w[1].row), "by row");
    assert!(all.iter().all(|c| c.refs == 0));
    let first = m.unreferenced_chunks(ChunkRow(0), 2).unwrap();
    assert_eq!(first, all[..2]);
    let next = m.unreferenced_chunks(first[1].row, 2).unwrap();
    assert_eq!(next, all[2..4]);
    assert_eq!(m.unreferenced_chunks(all[4].row, 2).unwrap(), []);
    // chunk 2 is kept (pinned), chunk 3 is referenced again before the delete
    let h = m.home("u").unwrap().unwrap();
    commit(m, h.root, "back", &[chunk(3)]);
    let rows: Vec<_> = all.iter().map(|c| c.row).collect();
    let kept = chunk(2).id;
    let deleted = m.delete_unreferenced(&rows, &|id| *id == kept, 0).unwrap();
    let ids: Vec<_> = deleted.iter().map(|c| c.id).collect();
    assert_eq!(ids, [chunk(1).id, chunk(4).id, chunk(5).id]);
    assert_eq!((refs(m, 2), refs(m, 3)), (Some(0), Some(1)));
    assert_eq!(
        m.delete_unreferenced(&rows, &|_| false, 0).unwrap().len(),
        1
    );
    assert_eq!(m.delete_unreferenced(&rows, &|_| false, 0).unwrap(), []);
}

/// `relocate` moves chunks to new locations at once; pack usage counts frames and their
/// stored bytes per pack.
pub fn relocation_moves_chunks_between_packs(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    commit(m, h.root, "f", &[chunk(1), chunk(2), chunk(3)]);
    let usage = m.pack_usage().unwrap();
    assert_eq!(usage.len(), 1);
    assert_eq!(
        (usage[0].pack, usage[0].chunks, usage[0].live_bytes),
        (PackId(1), 3, 21)
    );
    let (one, two) = (
        m.find_chunk(&chunk(1).id).unwrap().unwrap(),
        m.find_chunk(&chunk(2).id).unwrap().unwrap(),
    );
    let to = |offset| BlobLocation {
        pack: PackId(2),
        offset,
        len: 9,
    };
    m.relocate(&[(one.row, to(0)), (two.row, to(9))]).unwrap();
    let moved = m.find_chunk(&chunk(2).id).unwrap().unwrap();
    assert_eq!((moved.row, moved.loc, moved.refs), (two.row, to(9), 1));
    let mut usage = m.pack_usage().unwrap();
    usage.sort_by_key(|u| u.pack);
    let got: Vec<_> = usage
        .iter()
        .map(|u| (u.pack.0, u.chunks, u.live_bytes))
        .collect();
    assert_eq!(got, [(1, 1, 7), (2, 2, 18)]);
    let in2: Vec<_> = m
        .chunks_in_pack(PackId(2))
        .unwrap()
        .iter()
        .map(|c| c.row)
        .collect();
    assert_eq!(in2, [one.row, two.row]);
    m.relocate(&[]).unwrap();
}

/// Totals: live files and folders (roots and the trash excluded), every version's bytes,
/// the head bytes of live files, chunks and trash entries.
pub fn stats_count_live_files_and_every_version(m: &dyn MetaStore) {
    let empty = m.stats().unwrap();
    assert_eq!(empty, crate::MetaStats::default());
    let h = m.create_home("h", "h", 0).unwrap();
    let d = m.mkdir(h.root, "d", 0).unwrap();
    commit(m, d.id, "f", &[chunk(1), chunk(2)]);
    commit(m, d.id, "f", &[chunk(2)]);
    let g = commit(m, h.root, "g", &[chunk(3), chunk(4), chunk(5)]);
    m.trash(g.node, "/g", 1).unwrap();
    let s = m.stats().unwrap();
    assert_eq!((s.files, s.dirs, s.versions), (1, 1, 3));
    assert_eq!((s.logical_bytes, s.current_bytes), (2 + 1 + 3, 1));
    assert_eq!(
        (s.chunks, s.chunk_raw_bytes, s.chunk_stored_bytes),
        (5, 5, 35)
    );
    assert_eq!(s.trash_entries, 1);
}

/// GC's grace period: a chunk is deleted only once it has had no reference for longer
/// than the grace; a chunk referenced again is revived (its clock starts over when it is
/// dropped again). The clock is the database's.
pub fn unreferenced_chunks_wait_out_the_grace_period(m: &dyn MetaStore) {
    const HOUR: i64 = 3_600_000_000_000;
    const SHORT: i64 = 300_000_000; // 300 ms
    let h = m.create_home("g", "g", 0).unwrap();
    let a = commit(m, h.root, "a", &[chunk(1)]);
    commit(m, h.root, "a", &[chunk(2)]);
    m.delete_version(a.node, nas_types::VersionNum(1)).unwrap();
    assert_eq!(refs(m, 1), Some(0));
    let row = m.find_chunk(&chunk(1).id).unwrap().unwrap().row;
    assert_eq!(
        m.delete_unreferenced(&[row], &|_| false, HOUR).unwrap(),
        [],
        "unreferenced a moment ago: kept through an hour's grace"
    );
    // referenced again (a writer deduplicated against it), then dropped again
    let b = commit(m, h.root, "b", &[chunk(1)]);
    assert_eq!(refs(m, 1), Some(1));
    std::thread::sleep(std::time::Duration::from_millis(400));
    let t = m.trash(b.node, "/b", 9).unwrap();
    m.trash_purge(t.id).unwrap();
    assert_eq!(refs(m, 1), Some(0));
    assert_eq!(
        m.delete_unreferenced(&[row], &|_| false, SHORT).unwrap(),
        [],
        "its clock started over when it was dropped again"
    );
    std::thread::sleep(std::time::Duration::from_millis(400));
    let gone = m.delete_unreferenced(&[row], &|_| false, SHORT).unwrap();
    assert_eq!(
        gone.len(),
        1,
        "unreferenced for longer than the grace: deleted"
    );
    assert_eq!(refs(m, 1), None);
}

/// A commit of a large file's many new chunks (more than PostgreSQL inserts in one
/// statement) indexes each once, in the same transaction as anything else it names: a
/// chunk given as new that is indexed already keeps its row and location, a chunk named
/// twice by the file takes two references, sketches are indexed, a delta in the same
/// commit names its base; `chunks_present` answers for many ids in order.
pub fn a_commit_of_many_new_chunks_indexes_each_once(m: &dyn MetaStore) {
    let h = m.create_home("many", "many", 0).unwrap();
    commit(m, h.root, "old", &[chunk(1)]);
    let n = 2_500;
    let mut new: Vec<NewChunk> = (1..=n).map(chunk).collect();
    new[0].loc.offset = 7; // chunk 1, written again by a racing writer: the index keeps one
    new[99].sketch = Some(crate::Sketch([11, 22, 33]));
    new[2_000].sketch = Some(crate::Sketch([11, 44, 55]));
    let mut d = chunk(n + 1);
    (d.codec, d.base, d.whole_len) = (3, Some(chunk(1).id), 40);
    new.push(d);
    let mut extents: Vec<_> = new.iter().map(|c| (c.id, 1)).collect();
    extents.push((chunk(5).id, 1));
    m.commit_version(&super::req(h.root, "big", &extents, &new))
        .unwrap();
    assert_eq!(refs(m, 1), Some(3), "two versions and a delta's base");
    assert_eq!(
        m.find_chunk(&chunk(1).id).unwrap().unwrap().loc,
        chunk(1).loc
    );
    assert_eq!(refs(m, 5), Some(2), "named twice");
    for i in [2, 1_024, 1_025, 2_048, 2_049, n] {
        let c = m.find_chunk(&chunk(i).id).unwrap().unwrap();
        assert_eq!(
            (c.loc, c.refs, c.base),
            (chunk(i).loc, 1, None),
            "chunk {i}"
        );
    }
    let d = m.find_chunk(&chunk(n + 1).id).unwrap().unwrap();
    let base = m.find_chunk(&chunk(1).id).unwrap().unwrap().row;
    assert_eq!((d.base, d.codec, d.refs), (Some(base), 3, 1));
    let similar: Vec<_> = m
        .similar_chunks(&crate::Sketch([11, 0, 0]), 8)
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(
        similar,
        [chunk(2_001).id, chunk(100).id],
        "newest row first"
    );
    assert_eq!(m.stats().unwrap().chunks, u64::from(n) + 1);
    let ask: Vec<_> = [3, n + 7, 2_400, 1, n + 8].map(|i| chunk(i).id).to_vec();
    assert_eq!(
        m.chunks_present(&ask).unwrap(),
        [true, false, true, true, false]
    );
}
