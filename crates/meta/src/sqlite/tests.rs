//! What is particular to SQLite: the schema, its migrations, backups. The contract of the
//! traits is checked by the conformance suite (`tests/conformance.rs`).

use crate::*;
use nas_blob::BlobLocation;
use nas_types::{ChunkId, ContentHash, PackId};

fn open() -> (tempfile::TempDir, SqliteMeta) {
    let dir = tempfile::tempdir().unwrap();
    let m = SqliteMeta::open(&dir.path().join("m.sqlite")).unwrap();
    (dir, m)
}

fn chunk(n: u8) -> NewChunk {
    NewChunk {
        id: ChunkId::of(&[n]),
        raw_len: 1,
        codec: 0,
        loc: BlobLocation {
            pack: PackId(1),
            offset: u64::from(n) * 100,
            len: 7,
        },
        base: None,
        whole_len: 0,
        sketch: None,
    }
}

fn commit(
    m: &SqliteMeta,
    parent: nas_types::NodeId,
    name: &str,
    chunks: &[NewChunk],
) -> VersionRecord {
    commit_at(m, parent, name, "", chunks)
}

fn commit_at(
    m: &SqliteMeta,
    parent: nas_types::NodeId,
    name: &str,
    path: &str,
    chunks: &[NewChunk],
) -> VersionRecord {
    let extents: Vec<_> = chunks.iter().map(|c| (c.id, 1)).collect();
    m.commit_version(&CommitRequest {
        expect: None,
        parent,
        name,
        path,
        extents: &extents,
        new_chunks: chunks,
        size: chunks.len() as u64,
        hash: ContentHash::of(name.as_bytes()),
        mtime_ns: 5,
        now_ns: 6,
        attrs: FileAttrs::default(),
        author: None,
        lock: Default::default(),
    })
    .unwrap()
}

/// A file committed at a path whose deleted files are in the trash numbers its versions on
/// from theirs (schema 20); a trashed file merges into the file after it as its oldest
/// versions, its entry gone, and never when the numbers overlap.
#[test]
fn a_path_numbers_its_versions_across_the_trash_and_merges_a_deleted_file() {
    let (_d, m) = open();
    let h = m.create_home("ann", "ann", 0).unwrap();
    let a = commit_at(&m, h.root, "f", "/f", &[chunk(1)]).node;
    commit_at(&m, h.root, "f", "/f", &[chunk(2)]);
    let old = m.trash(a, "/f", 10).unwrap();
    let b = commit_at(&m, h.root, "f", "/f", &[chunk(3)]);
    assert_eq!((b.num, b.node == a), (VersionNum(3), false));
    // another path starts at 1
    assert_eq!(
        commit_at(&m, h.root, "g", "/g", &[chunk(4)]).num,
        VersionNum(1)
    );
    m.trash_merge(old.id, b.node).unwrap();
    let nums: Vec<u64> = m
        .versions(b.node)
        .unwrap()
        .iter()
        .map(|v| v.num.0)
        .collect();
    assert_eq!(nums, [1, 2, 3]);
    assert!(m.trash_list(h.id).unwrap().is_empty());
    assert_eq!(
        m.node(b.node).unwrap().unwrap().head.unwrap().num,
        VersionNum(3)
    );
    assert_eq!(m.find_chunk(&chunk(1).id).unwrap().unwrap().refs, 1);
    // numbers that overlap (a file deleted under another path): refused, nothing changed
    let y = commit_at(&m, h.root, "y", "/y", &[chunk(5)]);
    let z = commit_at(&m, h.root, "z", "/z", &[chunk(6)]);
    let tz = m.trash(z.node, "/z", 11).unwrap();
    assert!(matches!(
        m.trash_merge(tz.id, y.node),
        Err(MetaError::Invalid(_))
    ));
    assert_eq!(m.versions(y.node).unwrap().len(), 1);
    assert_eq!(m.trash_list(h.id).unwrap().len(), 1);
}

#[test]
fn schema_is_current_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.sqlite");
    SqliteMeta::open(&p)
        .unwrap()
        .create_home("a", "a", 0)
        .unwrap();
    let m = SqliteMeta::open(&p).unwrap();
    assert!(m.home("a").unwrap().is_some());
    assert!(m.integrity_check().unwrap().is_empty());
    let v: i64 = rusqlite::Connection::open(&p)
        .unwrap()
        .query_row(
            "SELECT value FROM meta WHERE key='schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
}

/// A version-9 database (keys without `read_only`) is migrated: its keys stay and are
/// not read-only.
#[test]
fn keys_of_a_schema_9_database_survive_migration_as_read_write() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.sqlite");
    SqliteMeta::open(&p)
        .unwrap()
        .create_key(&KeyRecord {
            access_key: "AKOLD".into(),
            secret: "s".into(),
            user: "bob".into(),
            created_ns: 1,
            revoked: false,
            name: None,
            read_only: true,
        })
        .unwrap();
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute_batch(super::quota_tests::UNDO_SCHEMA_12).unwrap();
    c.execute_batch(
        "ALTER TABLE access_keys DROP COLUMN read_only;
         DROP TRIGGER users_disabled; ALTER TABLE users DROP COLUMN sessions_epoch;
         UPDATE meta SET value = 9 WHERE key = 'schema_version';",
    )
    .unwrap();
    drop(c);
    let m = SqliteMeta::open(&p).unwrap();
    let k = m.key("AKOLD").unwrap().unwrap();
    assert_eq!((k.user.as_str(), k.read_only), ("bob", false));
    const { assert!(SCHEMA_VERSION >= 10) };
}

#[test]
fn refuses_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.sqlite");
    drop(SqliteMeta::open(&p).unwrap());
    rusqlite::Connection::open(&p)
        .unwrap()
        .execute("UPDATE meta SET value = 999 WHERE key='schema_version'", [])
        .unwrap();
    assert!(matches!(
        SqliteMeta::open(&p),
        Err(MetaError::TooNew { found: 999, .. })
    ));
}

#[test]
fn backup_is_a_working_database() {
    let (d, m) = open();
    let h = m.create_home("h", "h", 0).unwrap();
    commit(&m, h.root, "f", &[chunk(1)]);
    let dest = d.path().join("copy.sqlite");
    m.backup(&dest).unwrap();
    let copy = SqliteMeta::open(&dest).unwrap();
    let h2 = copy.home("h").unwrap().unwrap();
    assert!(copy.child(h2.root, "f").unwrap().is_some());
}

/// A schema-12 database gains the implicit-folder (13) and share (14) tables and keeps what
/// it had.
#[test]
fn a_schema_12_database_gains_implicit_folders_share_links_and_authors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.sqlite");
    let (root, node) = {
        let m = SqliteMeta::open(&p).unwrap();
        let h = m.create_home("ann", "ann", 0).unwrap();
        (h.root, commit(&m, h.root, "f", &[chunk(1)]).node)
    };
    rusqlite::Connection::open(&p)
        .unwrap()
        .execute_batch(&format!(
            "{UNDO_SCHEMA_25_24} {UNDO_SCHEMA_23} {UNDO_SCHEMA_22} {UNDO_SCHEMA_21} {UNDO_SCHEMA_20} {UNDO_SCHEMA_19} {UNDO_SCHEMA_18} {UNDO_SCHEMA_16} {UNDO_SCHEMA_15} DROP TABLE shares; DROP TABLE implicit_folders;
             UPDATE meta SET value = 12 WHERE key = 'schema_version';"
        ))
        .unwrap();
    let m = SqliteMeta::open(&p).unwrap();
    let share = ShareRecord {
        id: "s".into(),
        owner: "ann".into(),
        node,
        kind: ShareKind::Read,
        token_hash: [7; 32],
        password: None,
        expires_ns: None,
        max_downloads: Some(1),
        downloads: 0,
        created_ns: 1,
    };
    m.create_share(&share).unwrap();
    assert_eq!(m.share_by_hash(&[7; 32]).unwrap(), Some(share));
    let d = m.mkdir_implicit(root, "d", 2).unwrap();
    assert!(m.is_implicit(d.id).unwrap());
    // versions from before authors were recorded have none; new ones do
    assert_eq!(m.versions(node).unwrap()[0].author, None);
    let v = m
        .restore_version(node, VersionNum(1), 3, Some("ann"), ObjectLock::default())
        .unwrap();
    assert_eq!(v.author.as_deref(), Some("ann"));
    const { assert!(SCHEMA_VERSION >= 15) };
}

/// Undoes schema step 18 (object lock) on a current database.
pub(super) const UNDO_SCHEMA_18: &str = "DROP TRIGGER versions_retained;
    DROP TRIGGER versions_compliance; ALTER TABLE versions DROP COLUMN lock_mode;
    ALTER TABLE versions DROP COLUMN lock_until_ns; ALTER TABLE versions DROP COLUMN legal_hold;";
/// Undoes schema steps 25 and 24 (the cluster's node registry, shared failure counts).
pub(super) const UNDO_SCHEMA_25_24: &str = "DROP TABLE cluster_nodes; DROP TABLE failure_counts;";
/// Undoes schema step 23 (shared documents).
pub(super) const UNDO_SCHEMA_23: &str = "DROP TABLE documents;";
/// Undoes schema step 22 (when a chunk lost its last reference).
pub(super) const UNDO_SCHEMA_22: &str = "DROP TRIGGER chunks_unreferenced_at;
    DROP TRIGGER chunks_referenced_again; DROP TRIGGER chunks_inserted_unreferenced;
    ALTER TABLE chunks DROP COLUMN unref_ns;";

/// Undoes schema step 21 (packs' last read days, for cold recompression).
pub(super) const UNDO_SCHEMA_21: &str = "DROP TABLE pack_reads;";
/// Undoes schema step 20 (trash entries by path) on a current database.
pub(super) const UNDO_SCHEMA_20: &str = "DROP INDEX trash_path;";
/// Undoes schema step 19 (packs' last reads) on a current database (step 17 is
/// idempotent and stays).
pub(super) const UNDO_SCHEMA_19: &str = "ALTER TABLE pack_placement DROP COLUMN last_read_ns;";
/// Undoes schema step 16 (delta chunks) on a current database.
pub(super) const UNDO_SCHEMA_16: &str = "DROP TABLE chunk_sketches; DROP INDEX chunks_base;
    ALTER TABLE chunks DROP COLUMN base; ALTER TABLE chunks DROP COLUMN whole_len;";
/// Undoes schema step 15 (version authors).
pub(super) const UNDO_SCHEMA_15: &str = "ALTER TABLE versions DROP COLUMN author;";

/// A schema-14 database (a store from before delta chunks) is migrated: its chunks keep
/// their rows and references, are stored whole, and a delta against one of them commits.
#[test]
fn a_schema_14_database_gains_delta_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.sqlite");
    let root = {
        let m = SqliteMeta::open(&p).unwrap();
        let h = m.create_home("ann", "ann", 0).unwrap();
        commit(&m, h.root, "f", &[chunk(1)]);
        h.root
    };
    rusqlite::Connection::open(&p)
        .unwrap()
        .execute_batch(&format!(
            "{UNDO_SCHEMA_25_24} {UNDO_SCHEMA_23} {UNDO_SCHEMA_22} {UNDO_SCHEMA_21} {UNDO_SCHEMA_20} {UNDO_SCHEMA_19} {UNDO_SCHEMA_18} {UNDO_SCHEMA_16} {UNDO_SCHEMA_15} UPDATE meta SET value = 14 WHERE key = 'schema_version';"
        ))
        .unwrap();
    let m = SqliteMeta::open(&p).unwrap();
    let old = m.find_chunk(&chunk(1).id).unwrap().unwrap();
    assert_eq!((old.refs, old.base), (1, None));
    let mut delta = chunk(2);
    delta.codec = 3;
    delta.base = Some(chunk(1).id);
    delta.whole_len = 50;
    commit(&m, root, "g", &[delta]);
    let d = m.find_chunk(&chunk(2).id).unwrap().unwrap();
    assert_eq!(d.base, Some(old.row));
    assert_eq!(m.find_chunk(&chunk(1).id).unwrap().unwrap().refs, 2);
    let st = m.stats().unwrap();
    assert_eq!(
        (st.delta_chunks, st.delta_stored_bytes, st.delta_whole_bytes),
        (1, 7, 50)
    );
}

/// The database itself refuses to delete a locked version, whatever SQL a caller runs
/// (schema 18's trigger), and to shorten a running compliance retention; a schema-17
/// database gains unlocked versions.
#[test]
fn the_database_refuses_to_delete_a_locked_version() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.sqlite");
    let (node, root) = {
        let m = SqliteMeta::open(&p).unwrap();
        let h = m.create_home("ann", "ann", 0).unwrap();
        let v = commit(&m, h.root, "f", &[chunk(1)]);
        (v.node, h.root)
    };
    rusqlite::Connection::open(&p)
        .unwrap()
        .execute_batch(&format!(
            "{UNDO_SCHEMA_25_24} {UNDO_SCHEMA_23} {UNDO_SCHEMA_22} {UNDO_SCHEMA_21} {UNDO_SCHEMA_20} {UNDO_SCHEMA_19} {UNDO_SCHEMA_18} UPDATE meta SET value = 17 WHERE key = 'schema_version';"
        ))
        .unwrap();
    let m = SqliteMeta::open(&p).unwrap();
    assert_eq!(m.versions(node).unwrap()[0].lock, ObjectLock::default());
    commit(&m, root, "f", &[chunk(2)]);
    let far = i64::MAX / 2;
    let compliance = LockChange::Retention(Some(Retention {
        mode: RetentionMode::Compliance,
        until_ns: far,
    }));
    m.set_version_lock(node, VersionNum(1), compliance, 0, false)
        .unwrap();
    assert!(matches!(
        m.delete_version(node, VersionNum(1)),
        Err(MetaError::Retained(_))
    ));
    let c = rusqlite::Connection::open(&p).unwrap();
    let e = c
        .execute("DELETE FROM versions WHERE node = ?1", [node.0])
        .unwrap_err();
    assert!(matches!(MetaError::from(e), MetaError::Retained(_)));
    let e = c
        .execute(
            "UPDATE versions SET lock_until_ns = 1 WHERE node = ?1",
            [node.0],
        )
        .unwrap_err();
    assert!(matches!(MetaError::from(e), MetaError::Retained(_)));
    assert_eq!(m.versions(node).unwrap().len(), 2, "nothing was deleted");
}

/// A schema-20 database gains the packs' last read days: a later day replaces an earlier
/// one, never the reverse, and a deleted pack's day is forgotten.
#[test]
fn a_schema_20_database_gains_pack_read_days() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.sqlite");
    drop(SqliteMeta::open(&p).unwrap());
    rusqlite::Connection::open(&p)
        .unwrap()
        .execute_batch(&format!(
            "{UNDO_SCHEMA_25_24} {UNDO_SCHEMA_23} {UNDO_SCHEMA_22} {UNDO_SCHEMA_21} UPDATE meta SET value = 20 WHERE key = 'schema_version';"
        ))
        .unwrap();
    let m = SqliteMeta::open(&p).unwrap();
    assert!(m.pack_read_days().unwrap().is_empty());
    let (a, b) = (nas_types::PackId(1), nas_types::PackId(2));
    m.record_pack_read_days(&[(a, 20_000), (b, 20_001)])
        .unwrap();
    m.record_pack_read_days(&[(a, 19_000), (b, 20_005)])
        .unwrap();
    let mut days = m.pack_read_days().unwrap();
    days.sort();
    assert_eq!(days, vec![(a, 20_000), (b, 20_005)]);
    m.forget_pack_read_days(&[a]).unwrap();
    assert_eq!(m.pack_read_days().unwrap(), vec![(b, 20_005)]);
}
