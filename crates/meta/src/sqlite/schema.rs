//! Schema and migrations. `meta.schema_version` counts applied migrations; each entry of
//! [`MIGRATIONS`] moves the schema one version up; the steps a database lacks run in one
//! transaction. Documented in `docs/design/metadata-schema.md`.

use crate::{MetaError, MetaResult};
use rusqlite::{Connection, OptionalExtension};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    r#"
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE homes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        root INTEGER NOT NULL,
        created_ns INTEGER NOT NULL
    );
    CREATE TABLE nodes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        home INTEGER NOT NULL,
        parent INTEGER,
        name TEXT NOT NULL,
        kind INTEGER NOT NULL,
        head INTEGER,
        next_num INTEGER NOT NULL DEFAULT 1,
        mtime_ns INTEGER NOT NULL,
        trash INTEGER
    );
    CREATE UNIQUE INDEX nodes_child ON nodes(parent, name) WHERE parent IS NOT NULL;
    CREATE TABLE versions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        node INTEGER NOT NULL,
        num INTEGER NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        created_ns INTEGER NOT NULL,
        hash BLOB NOT NULL,
        content_type TEXT,
        user_meta TEXT,
        extents BLOB NOT NULL,
        UNIQUE (node, num)
    );
    CREATE TABLE chunks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        hash BLOB NOT NULL UNIQUE,
        raw_len INTEGER NOT NULL,
        stored_len INTEGER NOT NULL,
        codec INTEGER NOT NULL,
        pack INTEGER NOT NULL,
        offset INTEGER NOT NULL,
        refs INTEGER NOT NULL
    );
    CREATE INDEX chunks_pack ON chunks(pack);
    CREATE INDEX chunks_unreferenced ON chunks(id) WHERE refs = 0;
    CREATE TABLE trash (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        home INTEGER NOT NULL,
        node INTEGER NOT NULL,
        path TEXT NOT NULL,
        deleted_ns INTEGER NOT NULL
    );
    CREATE INDEX trash_home ON trash(home, deleted_ns);
    "#,
    // 2: users (for every door) and dead properties (WebDAV PROPPATCH).
    r#"
    CREATE TABLE users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        password TEXT NOT NULL,
        role TEXT NOT NULL,
        quota INTEGER,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_ns INTEGER NOT NULL
    );
    CREATE TABLE props (
        node INTEGER NOT NULL,
        ns TEXT NOT NULL,
        name TEXT NOT NULL,
        prefix TEXT NOT NULL,
        value BLOB NOT NULL,
        PRIMARY KEY (node, ns, name)
    ) WITHOUT ROWID;
    "#,
    // 3: WebDAV locks, persisted so they survive restarts and expire by their timeout.
    r#"
    CREATE TABLE locks (
        token TEXT PRIMARY KEY,
        space TEXT NOT NULL,
        path TEXT NOT NULL,
        href TEXT NOT NULL,
        principal TEXT,
        owner BLOB,
        shared INTEGER NOT NULL,
        deep INTEGER NOT NULL,
        timeout_ns INTEGER,
        expires_ns INTEGER,
        created_ns INTEGER NOT NULL
    );
    CREATE INDEX locks_space ON locks(space);
    "#,
    // 4: S3 access keys. The secret is kept as is: SigV4 verification needs it.
    r#"
    CREATE TABLE access_keys (
        access_key TEXT PRIMARY KEY,
        secret TEXT NOT NULL,
        user TEXT NOT NULL,
        created_ns INTEGER NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX access_keys_user ON access_keys(user);
    "#,
    // 5: the audit log (changes and refused sign-ins at every door), kept to the newest N
    // rows by the writer; read newest first by id.
    r#"
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time_ns INTEGER NOT NULL,
        user TEXT,
        door TEXT NOT NULL,
        kind TEXT NOT NULL,
        client TEXT,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        status INTEGER NOT NULL,
        destination TEXT,
        access_key TEXT
    );
    "#,
    // 6: find a version by its content hash (REST instant upload: "does this home already
    // hold content with this BLAKE3?"). An index only: no row changes.
    r#"
    CREATE INDEX versions_hash ON versions(hash);
    "#,
    // 7: app passwords (only a hash of the secret; looked up by it) and names of access keys.
    r#"
    CREATE TABLE app_passwords (
        id TEXT PRIMARY KEY,
        user TEXT NOT NULL,
        name TEXT NOT NULL,
        hash BLOB NOT NULL UNIQUE,
        read_only INTEGER NOT NULL,
        created_ns INTEGER NOT NULL,
        last_used_ns INTEGER
    );
    CREATE INDEX app_passwords_user ON app_passwords(user);
    ALTER TABLE access_keys ADD COLUMN name TEXT;
    "#,
    // 8: per-user retention of old versions (NULL: the server's rule; 0: no such rule for
    // this user; N: keep the newest N versions / versions younger than N days).
    r#"
    ALTER TABLE users ADD COLUMN keep_versions INTEGER;
    ALTER TABLE users ADD COLUMN keep_days INTEGER;
    "#,
    // 9: the name index behind search, kept OUTSIDE the commit path. `name_index` is an
    // ordinary (contentful) FTS5 trigram table, rowid = node id, filled by the indexer
    // (`name_index.rs`) from nodes above `name_index_state.indexed_to`; creating a node
    // costs nothing here. A rename queues the node in `name_index_pending` (one row, by a
    // trigger) for re-indexing. Search stays exact while the indexer lags: it scans the
    // unindexed tail and the pending nodes, and re-checks every index hit against `nodes`.
    r#"
    CREATE VIRTUAL TABLE name_index USING fts5(name, tokenize = 'trigram case_sensitive 0');
    CREATE TABLE name_index_pending (node INTEGER PRIMARY KEY);
    CREATE TABLE name_index_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        indexed_to INTEGER NOT NULL
    );
    INSERT INTO name_index_state (id, indexed_to) VALUES (1, 0);
    CREATE TRIGGER nodes_renamed AFTER UPDATE OF name ON nodes
    WHEN new.name IS NOT old.name
    BEGIN
        INSERT OR IGNORE INTO name_index_pending (node) VALUES (new.id);
    END;
    "#,
    // 10: read-only S3 keys (the key signs in with the readonly role whatever its owner's).
    r#"
    ALTER TABLE access_keys ADD COLUMN read_only INTEGER NOT NULL DEFAULT 0;
    "#,
    // 11: the sessions epoch of an account, raised by the database whenever the account
    // is disabled (whoever disables it: the CLI while the server runs, or the REST door).
    // A REST session remembers the epoch it began in and dies when it changes, so
    // re-enabling an account does not revive its old sessions.
    r#"
    ALTER TABLE users ADD COLUMN sessions_epoch INTEGER NOT NULL DEFAULT 0;
    CREATE TRIGGER users_disabled AFTER UPDATE OF disabled ON users
    WHEN new.disabled != 0 AND old.disabled = 0
    BEGIN
        UPDATE users SET sessions_epoch = sessions_epoch + 1 WHERE rowid = new.rowid;
    END;
    "#,
    // 12: per-home usage counters, so that the quota is checked inside the transaction
    // that changes usage, in O(1). `current_bytes` (head versions of live files) is kept by
    // the namespace, version and trash code (liveness needs a walk up the tree, which a
    // trigger cannot do); `all_bytes` (every version, trash included) by two triggers.
    // Both are filled here from what is stored. `account` names the account whose quota a
    // home counts against: its own name, or USER for a staging home `.KIND.USER` (S3
    // multipart and tus uploads in progress).
    r#"
    ALTER TABLE homes ADD COLUMN account TEXT;
    UPDATE homes SET account = CASE
        WHEN name LIKE '.%' AND instr(substr(name, 2), '.') > 0
        THEN substr(name, instr(substr(name, 2), '.') + 2)
        ELSE name END;
    CREATE INDEX homes_account ON homes(account);
    ALTER TABLE homes ADD COLUMN current_bytes INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE homes ADD COLUMN all_bytes INTEGER NOT NULL DEFAULT 0;
    WITH RECURSIVE live(id, home) AS (
        SELECT root, id FROM homes
        UNION ALL SELECT n.id, live.home FROM nodes n JOIN live ON n.parent = live.id
    ), sums(home, bytes) AS (
        SELECT live.home, sum(v.size) FROM live JOIN nodes n ON n.id = live.id
        JOIN versions v ON v.id = n.head GROUP BY live.home
    )
    UPDATE homes SET current_bytes = coalesce((SELECT bytes FROM sums WHERE sums.home = homes.id), 0);
    UPDATE homes SET all_bytes = coalesce((SELECT sum(v.size) FROM versions v JOIN nodes n ON n.id = v.node WHERE n.home = homes.id), 0);
    CREATE TRIGGER versions_added AFTER INSERT ON versions
    BEGIN
        UPDATE homes SET all_bytes = all_bytes + new.size
        WHERE id = (SELECT home FROM nodes WHERE id = new.node);
    END;
    CREATE TRIGGER versions_removed AFTER DELETE ON versions
    BEGIN
        UPDATE homes SET all_bytes = all_bytes - old.size
        WHERE id = (SELECT home FROM nodes WHERE id = old.node);
    END;
    "#,
    // 13: folders made only to hold an S3 key (`ImplicitFolders`): they go away with
    // their last child. Folders made before this step are all explicit.
    r#"
    CREATE TABLE implicit_folders (node INTEGER PRIMARY KEY);
    "#,
    // 14: share links. A share points at a node (it follows renames and moves; a trashed
    // or purged node makes it answer 404). Only the BLAKE3 of the link's token is kept,
    // looked up by it; the password is an argon2id PHC string made by nas-auth.
    // `downloads` counts the downloads the link has given (bounded by `max_downloads`).
    r#"
    CREATE TABLE shares (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        node INTEGER NOT NULL,
        kind TEXT NOT NULL,
        token_hash BLOB NOT NULL UNIQUE,
        password TEXT,
        expires_ns INTEGER,
        max_downloads INTEGER,
        downloads INTEGER NOT NULL DEFAULT 0,
        created_ns INTEGER NOT NULL
    );
    CREATE INDEX shares_owner ON shares(owner);
    "#,
    // 15: who made each version (an account's name, or `share:<id>` for a file-drop
    // upload); NULL for versions made before this step.
    r#"
    ALTER TABLE versions ADD COLUMN author TEXT;
    "#,
    // 16: delta chunks (`docs/design/delta.md`). A chunk stored as a delta (codec 3) names
    // the row of its `base`, which holds one reference for it (`refs` counts version
    // extents plus dependent deltas); a base is never itself a delta. `whole_len` is the
    // frame length a delta chunk would have had stored whole (for the "saved by delta"
    // figure). `chunk_sketches` holds the resemblance sketch of chunks stored whole (the
    // candidates for a base), one row per chunk, each super-feature indexed; its rows go
    // with their chunk's.
    r#"
    ALTER TABLE chunks ADD COLUMN base INTEGER;
    ALTER TABLE chunks ADD COLUMN whole_len INTEGER;
    CREATE INDEX chunks_base ON chunks(base) WHERE base IS NOT NULL;
    CREATE TABLE chunk_sketches (
        chunk INTEGER PRIMARY KEY,
        sf0 INTEGER NOT NULL,
        sf1 INTEGER NOT NULL,
        sf2 INTEGER NOT NULL
    );
    CREATE INDEX chunk_sketches_sf0 ON chunk_sketches(sf0);
    CREATE INDEX chunk_sketches_sf1 ON chunk_sketches(sf1);
    CREATE INDEX chunk_sketches_sf2 ON chunk_sketches(sf2);
    "#,
    // 17: where each sealed pack
    // lives when the object-storage tier is on — a local copy, a verified remote copy
    // (uploaded, its size and MD5 compared), its size and MD5. Pack ids are u64 stored as
    // their i64 bit pattern. Written by the blob store's upload worker, never by a commit.
    // `IF NOT EXISTS`: the step is idempotent (the migration tests re-run later steps on a
    // database whose version they lowered).
    r#"
    CREATE TABLE IF NOT EXISTS pack_placement (
        pack INTEGER PRIMARY KEY,
        local INTEGER NOT NULL,
        remote INTEGER NOT NULL,
        size INTEGER NOT NULL,
        md5 TEXT,
        updated_ns INTEGER NOT NULL
    );
    "#,
    // 18: object lock (WORM) per version: `lock_mode` (1 governance, 2 compliance) and
    // `lock_until_ns` (the retain-until date), `legal_hold` (0/1). The database refuses to
    // delete a version while its retention runs or a hold is on, whatever the caller
    // (`versions_retained`), and to shorten or drop a running compliance retention
    // (`versions_compliance`); a governance retention is bypassed by clearing it in the
    // same transaction as the delete (the engine decides who may). "Now" is SQLite's clock.
    r#"
    ALTER TABLE versions ADD COLUMN lock_mode INTEGER;
    ALTER TABLE versions ADD COLUMN lock_until_ns INTEGER;
    ALTER TABLE versions ADD COLUMN legal_hold INTEGER NOT NULL DEFAULT 0;
    CREATE TRIGGER versions_retained BEFORE DELETE ON versions
    WHEN OLD.legal_hold <> 0
      OR (OLD.lock_mode IS NOT NULL AND OLD.lock_until_ns > CAST(unixepoch('subsec') * 1000000000 AS INTEGER))
    BEGIN
        SELECT RAISE(ABORT, 'retained: a version under object lock (retention or legal hold) cannot be deleted');
    END;
    CREATE TRIGGER versions_compliance BEFORE UPDATE OF lock_mode, lock_until_ns ON versions
    WHEN OLD.lock_mode = 2
      AND OLD.lock_until_ns > CAST(unixepoch('subsec') * 1000000000 AS INTEGER)
      AND (NEW.lock_mode IS NOT 2 OR NEW.lock_until_ns IS NULL OR NEW.lock_until_ns < OLD.lock_until_ns)
    BEGIN
        SELECT RAISE(ABORT, 'retained: a compliance retention cannot be shortened or removed before its date');
    END;
    "#,
    // 19: each pack's coarse last read (ns since the epoch), for the tier mover's
    // "not read for N days" and "evict the oldest-read first". Written in batches by the
    // blob store, at most once per pack per `read_mark_interval`; a pack never read counts
    // from when its row was last written (its seal, for a new pack).
    r#"
    ALTER TABLE pack_placement ADD COLUMN last_read_ns INTEGER NOT NULL DEFAULT 0;
    UPDATE pack_placement SET last_read_ns = updated_ns;
    "#,
    // 20: trash entries by path: a file committed at a path whose deleted files are in the
    // trash numbers its versions on from theirs (one history per path, as S3 lists a key's
    // versions and delete markers), looked up at each new file's first commit. Idempotent.
    r#"
    CREATE INDEX IF NOT EXISTS trash_path ON trash(home, path);
    "#,
    // 21: each pack's coarse last read, as a day number (days since the epoch), for cold
    // recompression's "not read for N days" (`docs/design/delta.md`, "Cold
    // recompression"). Noted in memory on the read path, at most once per pack per day,
    // and written in batches; a pack without a row counts from when it was first seen.
    // Idempotent.
    r#"
    CREATE TABLE IF NOT EXISTS pack_reads (
        pack INTEGER PRIMARY KEY,
        day INTEGER NOT NULL
    );
    "#,
    // 22: when a chunk lost its last reference (`unref_ns`, the database's clock), for
    // GC's grace period: with one (cluster mode), a chunk is collected only once it has
    // been unreferenced for longer than any write can take, so a writer on another node
    // that deduplicated against it meanwhile revives it (refs 0 -> 1 clears the mark)
    // instead of losing it (`docs/design/versions-and-gc.md`, "Grace period"). Rows that
    // were already unreferenced keep NULL: collectable at once, as before.
    r#"
    ALTER TABLE chunks ADD COLUMN unref_ns INTEGER;
    CREATE TRIGGER chunks_unreferenced_at AFTER UPDATE OF refs ON chunks
        WHEN NEW.refs = 0 AND OLD.refs <> 0
        BEGIN
            UPDATE chunks SET unref_ns = CAST(unixepoch('subsec') * 1000000000 AS INTEGER)
            WHERE id = NEW.id;
        END;
    CREATE TRIGGER chunks_referenced_again AFTER UPDATE OF refs ON chunks
        WHEN NEW.refs <> 0 AND OLD.refs = 0 AND NEW.unref_ns IS NOT NULL
        BEGIN
            UPDATE chunks SET unref_ns = NULL WHERE id = NEW.id;
        END;
    CREATE TRIGGER chunks_inserted_unreferenced AFTER INSERT ON chunks
        WHEN NEW.refs = 0
        BEGIN
            UPDATE chunks SET unref_ns = CAST(unixepoch('subsec') * 1000000000 AS INTEGER)
            WHERE id = NEW.id;
        END;
    "#,
    // 23: small named documents shared by the servers of a store (the REST door's token
    // secret and session table in cluster mode; `Documents`). Unused by a single SQLite
    // server, which keeps them as files of its data directory; present so both backends
    // share one schema version.
    r#"
    CREATE TABLE documents (
        name TEXT PRIMARY KEY,
        bytes BLOB NOT NULL,
        version INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 24: counts of failed sign-ins shared by the servers of a store (`FailureCounts`;
    // nas-auth's throttling in cluster mode). A single SQLite server counts in memory.
    r#"
    CREATE TABLE failure_counts (
        key BLOB PRIMARY KEY,
        failures INTEGER NOT NULL,
        cap INTEGER NOT NULL,
        last_ns INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 25: the nodes of a cluster, each announcing itself (`NodeRegistry`). A single SQLite
    // server does not write it.
    r#"
    CREATE TABLE cluster_nodes (
        name TEXT PRIMARY KEY,
        instance TEXT NOT NULL,
        version TEXT NOT NULL,
        address TEXT NOT NULL,
        started_ns INTEGER NOT NULL,
        seen_ns INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
];

/// The database's schema version (0: none yet), refused when newer than this build's.
fn version_known(conn: &Connection) -> MetaResult<i64> {
    let found: i64 = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(MetaError::TooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(found)
}

/// Checks, without writing, that the database is at [`SCHEMA_VERSION`] (for read-only
/// opens, which must not migrate).
pub fn check(conn: &Connection) -> MetaResult<()> {
    let found = version_known(conn)?;
    if found < SCHEMA_VERSION {
        return Err(MetaError::Outdated {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Brings the database to [`SCHEMA_VERSION`]: every missing step in one transaction (one
/// fsync, not one per step — a new store is made in milliseconds), so a crash leaves the
/// database at its old version or the newest.
pub fn migrate(conn: &mut Connection) -> MetaResult<()> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        [],
    )?;
    let found = version_known(conn)?;
    if found >= SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction()?;
    for sql in MIGRATIONS.iter().skip(found as usize) {
        tx.execute_batch(sql)?;
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [SCHEMA_VERSION],
    )?;
    tx.commit()?;
    Ok(())
}

pub fn get_setting(c: &Connection, key: &str) -> MetaResult<Option<String>> {
    Ok(
        c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?,
    )
}

pub fn set_setting(c: &Connection, key: &str, value: &str) -> MetaResult<()> {
    c.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, value],
    )?;
    Ok(())
}
