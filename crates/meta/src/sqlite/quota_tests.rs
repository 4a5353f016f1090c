//! The SQLite side of the usage counters (schema 12): the migration fills them from what is
//! stored, and the usage check sees a counter that disagrees with a recount. The rule
//! itself is in the conformance suite (`conformance/quota.rs`).

use crate::*;
use nas_types::{HomeId, NodeId};

fn open() -> (tempfile::TempDir, SqliteMeta) {
    let dir = tempfile::tempdir().unwrap();
    let m = SqliteMeta::open(&dir.path().join("m.sqlite")).unwrap();
    (dir, m)
}

/// Commits `parent/name` claiming `size` bytes (the conformance suite's helper).
fn put(m: &SqliteMeta, parent: NodeId, name: &str, size: u64) -> MetaResult<VersionRecord> {
    crate::conformance::commit_sized(m, parent, name, size)
}

#[test]
fn the_usage_check_sees_a_wrong_counter() {
    let (_d, m) = open();
    let h = m.create_home("a", "a", 0).unwrap();
    put(&m, h.root, "f", 10).unwrap();
    assert!(m.check_usage().unwrap().is_empty());
    m.write(|tx| {
        tx.execute("UPDATE homes SET current_bytes = 3", [])?;
        Ok(())
    })
    .unwrap();
    let found = m.check_usage().unwrap();
    assert_eq!(found.len(), 1);
    assert!(
        found[0].contains("home a") && found[0].contains("10"),
        "{found:?}"
    );
}

/// Takes a database back to before schema 12 (for tests of older databases), undoing the
/// later steps first (16: delta chunks, 15: version authors, 14: shares, 13: implicit
/// folders).
pub(super) const UNDO_SCHEMA_12: &str = concat!(
    "DROP TABLE cluster_nodes; DROP TABLE failure_counts;", // schema 25, 24
    "DROP TABLE documents;",                                // schema 23
    // schema 22 (as `tests::UNDO_SCHEMA_22`)
    "DROP TRIGGER chunks_unreferenced_at; DROP TRIGGER chunks_referenced_again;
    DROP TRIGGER chunks_inserted_unreferenced; ALTER TABLE chunks DROP COLUMN unref_ns;",
    "DROP TABLE pack_reads;",                               // schema 21
    "ALTER TABLE pack_placement DROP COLUMN last_read_ns;", // schema 19 (17 is idempotent)
    // schema 18 (as `tests::UNDO_SCHEMA_18`)
    "DROP TRIGGER versions_retained; DROP TRIGGER versions_compliance;
    ALTER TABLE versions DROP COLUMN lock_mode; ALTER TABLE versions DROP COLUMN lock_until_ns;
    ALTER TABLE versions DROP COLUMN legal_hold;",
    // schema 16 (as `tests::UNDO_SCHEMA_16`)
    "DROP TABLE chunk_sketches; DROP INDEX chunks_base;
    ALTER TABLE chunks DROP COLUMN base; ALTER TABLE chunks DROP COLUMN whole_len;",
    "ALTER TABLE versions DROP COLUMN author;", // schema 15
    "DROP TABLE shares;",                       // schema 14 (its index goes with it)
    "DROP TABLE implicit_folders;",             // schema 13
    "DROP TRIGGER versions_added; DROP TRIGGER versions_removed;
    DROP INDEX homes_account; ALTER TABLE homes DROP COLUMN account;
    ALTER TABLE homes DROP COLUMN current_bytes; ALTER TABLE homes DROP COLUMN all_bytes;"
);

/// A schema-11 database gets counters equal to what it stores, and staging homes their
/// account.
#[test]
fn migration_counts_what_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.sqlite");
    {
        let m = SqliteMeta::open(&p).unwrap();
        let h = m.create_home("carol", "carol", 0).unwrap();
        let s = m.create_home(".tus-uploads.carol.x", "carol.x", 0).unwrap();
        let d = m.mkdir(h.root, "d", 0).unwrap();
        put(&m, d.id, "f", 10).unwrap();
        put(&m, d.id, "f", 20).unwrap();
        let v = put(&m, h.root, "gone", 5).unwrap();
        m.trash(v.node, "/gone", 1).unwrap();
        put(&m, s.root, "seg", 3).unwrap();
    }
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute_batch(UNDO_SCHEMA_12).unwrap();
    c.execute(
        "UPDATE meta SET value = 11 WHERE key = 'schema_version'",
        [],
    )
    .unwrap();
    drop(c);
    let m = SqliteMeta::open(&p).unwrap();
    let h = m.home("carol").unwrap().unwrap();
    let s = m.home(".tus-uploads.carol.x").unwrap().unwrap();
    let u = m.usage(h.id).unwrap();
    assert_eq!((u.current_bytes, u.all_bytes), (20, 35));
    let u = m.usage(s.id).unwrap();
    assert_eq!((u.current_bytes, u.all_bytes), (3, 3), "carol.x's own");
    let a = rusqlite::Connection::open(&p)
        .unwrap()
        .query_row("SELECT account FROM homes WHERE id = ?1", [s.id.0], |r| {
            r.get::<_, String>(0)
        })
        .unwrap();
    assert_eq!(a, "carol.x");
    assert_eq!(m.usage(HomeId(h.id.0)).unwrap().quota, None);
}
