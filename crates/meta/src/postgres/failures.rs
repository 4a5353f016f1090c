//! [`FailureCounts`] on PostgreSQL: the failed sign-ins every node counts, each change one
//! statement (so parallel attempts on several nodes are serialised by the row), timed by
//! the database's clock (`now_ns()`, schema step 18), so nodes whose clocks differ agree.

use super::PgMeta;
use crate::{FailureCount, FailureCounts, FailureKey, MetaResult};
use std::collections::HashMap;

/// Rows of (key, failures, age) by key.
fn by_key(rows: &[tokio_postgres::Row]) -> MetaResult<HashMap<Vec<u8>, FailureCount>> {
    rows.iter()
        .map(|r| {
            let failures: i32 = r.try_get(1)?;
            let count = FailureCount {
                failures: failures.max(0) as u32,
                age_ns: r.try_get(2)?,
            };
            Ok((r.try_get(0)?, count))
        })
        .collect()
}

impl FailureCounts for PgMeta {
    fn count_failures(
        &self,
        keys: &[(FailureKey, u32)],
        window_ns: i64,
    ) -> MetaResult<Vec<FailureCount>> {
        let ks: Vec<&[u8]> = keys.iter().map(|(k, _)| &k[..]).collect();
        let caps: Vec<i32> = keys
            .iter()
            .map(|(_, c)| i32::try_from(*c).unwrap_or(i32::MAX))
            .collect();
        let rows = self.auto(|db| {
            db.rows(
                "WITH now AS (SELECT now_ns() AS t)
                 INSERT INTO failure_counts AS f (key, failures, cap, last_ns)
                 SELECT k, 1, c, now.t FROM unnest($1::bytea[], $2::int[]) AS u(k, c), now
                 ON CONFLICT (key) DO UPDATE SET
                   failures = CASE WHEN f.last_ns < excluded.last_ns - $3 THEN 1
                                   WHEN f.failures >= excluded.cap THEN f.failures
                                   ELSE f.failures + 1 END,
                   last_ns = CASE WHEN f.last_ns >= excluded.last_ns - $3
                                       AND f.failures >= excluded.cap
                                  THEN f.last_ns ELSE excluded.last_ns END,
                   cap = excluded.cap
                 RETURNING key, failures, (SELECT t FROM now) - last_ns",
                &[&ks, &caps, &window_ns],
            )
        })?;
        let by_key = by_key(&rows)?;
        keys.iter()
            .map(|(k, _)| {
                by_key.get(&k[..]).copied().ok_or_else(|| {
                    crate::MetaError::Corrupt("a counted failure returned no row".into())
                })
            })
            .collect()
    }

    fn failure_counts(
        &self,
        keys: &[FailureKey],
        window_ns: i64,
    ) -> MetaResult<Vec<Option<FailureCount>>> {
        let ks: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
        let rows = self.auto(|db| {
            db.rows(
                "WITH now AS (SELECT now_ns() AS t)
                 SELECT key, failures, now.t - last_ns FROM failure_counts, now
                 WHERE key = ANY($1) AND last_ns >= now.t - $2",
                &[&ks, &window_ns],
            )
        })?;
        let by_key = by_key(&rows)?;
        Ok(keys.iter().map(|k| by_key.get(&k[..]).copied()).collect())
    }

    fn forgive(&self, less: &FailureKey, clear: &FailureKey) -> MetaResult<()> {
        self.auto(|db| {
            db.exec(
                "WITH gone AS (DELETE FROM failure_counts WHERE key = $2)
                 UPDATE failure_counts SET failures = failures - 1
                 WHERE key = $1 AND failures > 0",
                &[&&less[..], &&clear[..]],
            )
        })?;
        Ok(())
    }

    fn prune_failures(&self, window_ns: i64) -> MetaResult<u64> {
        self.auto(|db| {
            db.exec(
                "DELETE FROM failure_counts WHERE last_ns < now_ns() - $1",
                &[&window_ns],
            )
        })
    }
}
