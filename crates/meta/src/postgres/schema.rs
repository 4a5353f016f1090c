//! The PostgreSQL schema and its migrations. `meta.schema_version` is the same number as
//! SQLite's ([`crate::SCHEMA_VERSION`]): the PostgreSQL schema starts at version 21, made
//! in one step (SQLite's steps 1–21 as they stand); later steps are added to both. The
//! mapping is documented in `docs/design/postgres.md`.

use super::conn::Db;
use crate::{MetaError, MetaResult, SCHEMA_VERSION};

/// The first version a PostgreSQL database has: [`MIGRATIONS`]`[0]` makes it.
const FIRST: i64 = 21;

/// `MIGRATIONS[i]` brings a database to version `FIRST + i` (index 0: from nothing).
const MIGRATIONS: &[&str] = &[
    // 21: everything SQLite's steps 1-21 made, in PostgreSQL's types. Integers are BIGINT
    // (Rust's i64, as in SQLite), flags BOOLEAN, hashes BYTEA, ids identity columns
    // (never reused); node names are COLLATE "C" (bytewise order, as SQLite's BINARY).
    // `offset` and `user` are reserved words: `pack_offset`, `user_name`.
    r#"
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE homes (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        root BIGINT NOT NULL,
        created_ns BIGINT NOT NULL,
        account TEXT,
        current_bytes BIGINT NOT NULL DEFAULT 0,
        all_bytes BIGINT NOT NULL DEFAULT 0
    );
    CREATE INDEX homes_account ON homes(account);
    CREATE INDEX homes_root ON homes(root);
    CREATE TABLE nodes (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        home BIGINT NOT NULL,
        parent BIGINT,
        name TEXT COLLATE "C" NOT NULL,
        kind BIGINT NOT NULL,
        head BIGINT,
        next_num BIGINT NOT NULL DEFAULT 1,
        mtime_ns BIGINT NOT NULL,
        trash BIGINT
    );
    CREATE UNIQUE INDEX nodes_child ON nodes(parent, name) WHERE parent IS NOT NULL;
    CREATE TABLE versions (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        node BIGINT NOT NULL,
        num BIGINT NOT NULL,
        size BIGINT NOT NULL,
        mtime_ns BIGINT NOT NULL,
        created_ns BIGINT NOT NULL,
        hash BYTEA NOT NULL,
        content_type TEXT,
        user_meta TEXT,
        extents BYTEA NOT NULL,
        author TEXT,
        lock_mode BIGINT,
        lock_until_ns BIGINT,
        legal_hold BOOLEAN NOT NULL DEFAULT false,
        UNIQUE (node, num)
    );
    CREATE INDEX versions_hash ON versions(hash);
    CREATE TABLE chunks (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        hash BYTEA NOT NULL UNIQUE,
        raw_len BIGINT NOT NULL,
        stored_len BIGINT NOT NULL,
        codec BIGINT NOT NULL,
        pack BIGINT NOT NULL,
        pack_offset BIGINT NOT NULL,
        refs BIGINT NOT NULL,
        base BIGINT,
        whole_len BIGINT
    );
    CREATE INDEX chunks_pack ON chunks(pack);
    CREATE INDEX chunks_unreferenced ON chunks(id) WHERE refs = 0;
    CREATE INDEX chunks_base ON chunks(base) WHERE base IS NOT NULL;
    CREATE INDEX chunks_codec ON chunks(codec, id);
    CREATE TABLE chunk_sketches (
        chunk BIGINT PRIMARY KEY,
        sf0 BIGINT NOT NULL,
        sf1 BIGINT NOT NULL,
        sf2 BIGINT NOT NULL
    );
    CREATE INDEX chunk_sketches_sf0 ON chunk_sketches(sf0);
    CREATE INDEX chunk_sketches_sf1 ON chunk_sketches(sf1);
    CREATE INDEX chunk_sketches_sf2 ON chunk_sketches(sf2);
    CREATE TABLE trash (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        home BIGINT NOT NULL,
        node BIGINT NOT NULL,
        path TEXT NOT NULL,
        deleted_ns BIGINT NOT NULL
    );
    CREATE INDEX trash_home ON trash(home, deleted_ns);
    CREATE INDEX trash_path ON trash(home, path);
    CREATE INDEX trash_node ON trash(node);
    CREATE TABLE users (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        password TEXT NOT NULL,
        role TEXT NOT NULL,
        quota BIGINT,
        disabled BOOLEAN NOT NULL DEFAULT false,
        created_ns BIGINT NOT NULL,
        keep_versions BIGINT,
        keep_days BIGINT,
        sessions_epoch BIGINT NOT NULL DEFAULT 0
    );
    CREATE TABLE props (
        node BIGINT NOT NULL,
        ns TEXT NOT NULL,
        name TEXT NOT NULL,
        prefix TEXT NOT NULL,
        value BYTEA NOT NULL,
        PRIMARY KEY (node, ns, name)
    );
    CREATE TABLE locks (
        token TEXT PRIMARY KEY,
        space TEXT NOT NULL,
        path TEXT NOT NULL,
        href TEXT NOT NULL,
        principal TEXT,
        owner BYTEA,
        shared BOOLEAN NOT NULL,
        deep BOOLEAN NOT NULL,
        timeout_ns BIGINT,
        expires_ns BIGINT,
        created_ns BIGINT NOT NULL
    );
    CREATE INDEX locks_space ON locks(space);
    CREATE TABLE access_keys (
        access_key TEXT PRIMARY KEY,
        secret TEXT NOT NULL,
        user_name TEXT NOT NULL,
        created_ns BIGINT NOT NULL,
        revoked BOOLEAN NOT NULL DEFAULT false,
        name TEXT,
        read_only BOOLEAN NOT NULL DEFAULT false
    );
    CREATE INDEX access_keys_user ON access_keys(user_name);
    CREATE TABLE audit (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        time_ns BIGINT NOT NULL,
        user_name TEXT,
        door TEXT NOT NULL,
        kind TEXT NOT NULL,
        client TEXT,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        status BIGINT NOT NULL,
        destination TEXT,
        access_key TEXT
    );
    CREATE TABLE app_passwords (
        id TEXT PRIMARY KEY,
        user_name TEXT NOT NULL,
        name TEXT NOT NULL,
        hash BYTEA NOT NULL UNIQUE,
        read_only BOOLEAN NOT NULL,
        created_ns BIGINT NOT NULL,
        last_used_ns BIGINT
    );
    CREATE INDEX app_passwords_user ON app_passwords(user_name);
    CREATE TABLE implicit_folders (node BIGINT PRIMARY KEY);
    CREATE TABLE shares (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        node BIGINT NOT NULL,
        kind TEXT NOT NULL,
        token_hash BYTEA NOT NULL UNIQUE,
        password TEXT,
        expires_ns BIGINT,
        max_downloads BIGINT,
        downloads BIGINT NOT NULL DEFAULT 0,
        created_ns BIGINT NOT NULL
    );
    CREATE INDEX shares_owner ON shares(owner);
    CREATE TABLE pack_placement (
        pack BIGINT PRIMARY KEY,
        local BOOLEAN NOT NULL,
        remote BOOLEAN NOT NULL,
        size BIGINT NOT NULL,
        md5 TEXT,
        updated_ns BIGINT NOT NULL,
        last_read_ns BIGINT NOT NULL DEFAULT 0
    );
    CREATE TABLE pack_reads (pack BIGINT PRIMARY KEY, day BIGINT NOT NULL);

    -- The name index (SQLite step 9, with pg_trgm for FTS5): `name_index` holds each
    -- indexed node's name, ASCII-lowercased, under a trigram GIN index; a node created or
    -- renamed is queued in `name_index_pending` (by the triggers below, in the writing
    -- transaction: a b-tree insert, the GIN index is not touched on the commit path) until
    -- the indexer handles it. No watermark: identity values are handed out in insert order,
    -- not commit order, so "every id up to N is indexed" cannot be known; the queue row
    -- commits with its node instead.
    CREATE TABLE name_index (node BIGINT PRIMARY KEY, name TEXT NOT NULL);
    CREATE INDEX name_index_trgm ON name_index USING gin (name gin_trgm_ops);
    CREATE TABLE name_index_pending (node BIGINT PRIMARY KEY);
    CREATE FUNCTION queue_name() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO name_index_pending (node) VALUES (NEW.id) ON CONFLICT DO NOTHING;
        RETURN NULL;
    END $$;
    CREATE TRIGGER nodes_created AFTER INSERT ON nodes
        FOR EACH ROW EXECUTE FUNCTION queue_name();
    CREATE TRIGGER nodes_renamed AFTER UPDATE OF name ON nodes
        FOR EACH ROW WHEN (NEW.name IS DISTINCT FROM OLD.name) EXECUTE FUNCTION queue_name();

    -- SQLite step 11: disabling an account raises its sessions epoch.
    CREATE FUNCTION users_disabled() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.sessions_epoch := OLD.sessions_epoch + 1;
        RETURN NEW;
    END $$;
    CREATE TRIGGER users_disabled BEFORE UPDATE OF disabled ON users
        FOR EACH ROW WHEN (NEW.disabled AND NOT OLD.disabled) EXECUTE FUNCTION users_disabled();

    -- SQLite step 12: `all_bytes` follows the version rows.
    CREATE FUNCTION versions_counted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            UPDATE homes SET all_bytes = all_bytes + NEW.size
            WHERE id = (SELECT home FROM nodes WHERE id = NEW.node);
        ELSE
            UPDATE homes SET all_bytes = all_bytes - OLD.size
            WHERE id = (SELECT home FROM nodes WHERE id = OLD.node);
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER versions_added AFTER INSERT ON versions
        FOR EACH ROW EXECUTE FUNCTION versions_counted();
    CREATE TRIGGER versions_removed AFTER DELETE ON versions
        FOR EACH ROW EXECUTE FUNCTION versions_counted();

    -- SQLite step 18: the database refuses to delete a locked version or to weaken a
    -- running compliance retention ("now" is the server's clock).
    CREATE FUNCTION now_ns() RETURNS BIGINT LANGUAGE sql VOLATILE AS
        $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000000000)::BIGINT $$;
    CREATE FUNCTION versions_retained() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF OLD.legal_hold OR (OLD.lock_mode IS NOT NULL AND OLD.lock_until_ns > now_ns()) THEN
            RAISE EXCEPTION 'retained: a version under object lock (retention or legal hold) cannot be deleted';
        END IF;
        RETURN OLD;
    END $$;
    CREATE TRIGGER versions_retained BEFORE DELETE ON versions
        FOR EACH ROW EXECUTE FUNCTION versions_retained();
    CREATE FUNCTION versions_compliance() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF OLD.lock_mode = 2 AND OLD.lock_until_ns > now_ns()
           AND (NEW.lock_mode IS DISTINCT FROM 2 OR NEW.lock_until_ns IS NULL
                OR NEW.lock_until_ns < OLD.lock_until_ns) THEN
            RAISE EXCEPTION 'retained: a compliance retention cannot be shortened or removed before its date';
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER versions_compliance BEFORE UPDATE OF lock_mode, lock_until_ns ON versions
        FOR EACH ROW EXECUTE FUNCTION versions_compliance();
    "#,
    // 22 (as SQLite's 22): when a chunk lost its last reference, for GC's grace period.
    r#"
    ALTER TABLE chunks ADD COLUMN unref_ns BIGINT;
    CREATE FUNCTION chunks_unref_mark() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.refs = 0 AND (TG_OP = 'INSERT' OR OLD.refs <> 0) THEN
            NEW.unref_ns := now_ns();
        ELSIF NEW.refs <> 0 AND TG_OP = 'UPDATE' AND OLD.refs = 0 THEN
            NEW.unref_ns := NULL;
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER chunks_unref_mark BEFORE INSERT OR UPDATE OF refs ON chunks
        FOR EACH ROW EXECUTE FUNCTION chunks_unref_mark();
    "#,
    // 23 (as SQLite's 23): small named documents shared by the nodes (`Documents`).
    r#"
    CREATE TABLE documents (
        name TEXT PRIMARY KEY,
        bytes BYTEA NOT NULL,
        version BIGINT NOT NULL
    );
    "#,
    // 24 (as SQLite's 24): counts of failed sign-ins shared by the nodes (`FailureCounts`).
    r#"
    CREATE TABLE failure_counts (
        key BYTEA PRIMARY KEY,
        failures INTEGER NOT NULL,
        cap INTEGER NOT NULL,
        last_ns BIGINT NOT NULL
    );
    CREATE INDEX failure_counts_last ON failure_counts (last_ns);
    "#,
    // 25 (as SQLite's 25): the nodes of a cluster, each announcing itself (`NodeRegistry`).
    r#"
    CREATE TABLE cluster_nodes (
        name TEXT PRIMARY KEY,
        instance TEXT NOT NULL,
        version TEXT NOT NULL,
        address TEXT NOT NULL,
        started_ns BIGINT NOT NULL,
        seen_ns BIGINT NOT NULL
    );
    "#,
];

/// Brings the database to [`SCHEMA_VERSION`] in one transaction (under an advisory lock:
/// two stores opening a new database at once migrate it once). A database at this
/// version is left alone; a newer one is refused.
pub fn migrate(db: &Db<'_>) -> MetaResult<()> {
    const _: () = assert!(FIRST + MIGRATIONS.len() as i64 - 1 == SCHEMA_VERSION);
    db.batch("BEGIN")?;
    let out = (|| {
        db.batch(
            "SELECT pg_advisory_xact_lock(7235, 1);
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL)",
        )?;
        let found: i64 = match db.opt("SELECT value FROM meta WHERE key = 'schema_version'", &[])? {
            Some(r) => r.try_get(0)?,
            None => 0,
        };
        if found > SCHEMA_VERSION {
            return Err(MetaError::TooNew {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        let skip = if found == 0 {
            0
        } else if found >= FIRST {
            (found - FIRST + 1) as usize
        } else {
            return Err(MetaError::Corrupt(format!(
                "schema version {found} was never written to PostgreSQL (its first is {FIRST})"
            )));
        };
        for sql in MIGRATIONS.iter().skip(skip) {
            db.batch(sql)?;
        }
        db.exec(
            "INSERT INTO meta (key, value) VALUES ('schema_version', $1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&SCHEMA_VERSION],
        )?;
        Ok(())
    })();
    match out {
        Ok(()) => db.batch("COMMIT"),
        Err(e) => {
            let _ = db.batch("ROLLBACK");
            Err(e)
        }
    }
}
