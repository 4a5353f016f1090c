//! PostgreSQL passes the `MetaStore` conformance suite: one test per check, each on a
//! fresh database of one server shared by this test binary (`nas_testkit::pg`), so the
//! checks run in parallel as on SQLite. Fails — never skips — without PostgreSQL.

#![allow(clippy::expect_used)] // tests: a failed expect is a failed test

use nas_meta::PgMeta;
use nas_testkit::pg::TestPg;

fn fresh() -> ((), PgMeta) {
    let url = TestPg::shared().fresh_db();
    (
        (),
        PgMeta::connect(&url).expect("connect to the test database"),
    )
}

nas_meta::meta_conformance_tests!(fresh);
