//! SQLite passes the `MetaStore` conformance suite: one test per check, each on a fresh
//! database in its own temporary directory.

#![allow(clippy::expect_used)] // tests: a failed expect is a failed test

use nas_meta::SqliteMeta;

fn fresh() -> (tempfile::TempDir, SqliteMeta) {
    let dir = tempfile::tempdir().expect("temp dir");
    let meta = SqliteMeta::open(&dir.path().join("meta.sqlite")).expect("open");
    (dir, meta)
}

nas_meta::meta_conformance_tests!(fresh);
