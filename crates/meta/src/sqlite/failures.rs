//! [`FailureCounts`] on SQLite (`failure_counts`, schema step 24). A single SQLite server
//! counts failed sign-ins in memory; this is here so that both backends keep one schema
//! and one contract (the conformance suite runs it on both). The clock is this process's.

use super::{SqliteMeta, now_ns};
use crate::{FailureCount, FailureCounts, FailureKey, MetaResult};
use rusqlite::OptionalExtension;

impl FailureCounts for SqliteMeta {
    fn count_failures(
        &self,
        keys: &[(FailureKey, u32)],
        window_ns: i64,
    ) -> MetaResult<Vec<FailureCount>> {
        let now = now_ns();
        self.write(|tx| {
            let mut st = tx.prepare_cached(
                "INSERT INTO failure_counts AS f (key, failures, cap, last_ns)
                 VALUES (?1, 1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET
                   failures = CASE WHEN f.last_ns < ?3 - ?4 THEN 1
                                   WHEN f.failures >= excluded.cap THEN f.failures
                                   ELSE f.failures + 1 END,
                   last_ns = CASE WHEN f.last_ns >= ?3 - ?4 AND f.failures >= excluded.cap
                                  THEN f.last_ns ELSE ?3 END,
                   cap = excluded.cap
                 RETURNING failures, last_ns",
            )?;
            keys.iter()
                .map(|(k, cap)| {
                    let (failures, last): (u32, i64) = st
                        .query_row(rusqlite::params![&k[..], cap, now, window_ns], |r| {
                            Ok((r.get(0)?, r.get(1)?))
                        })?;
                    Ok(FailureCount {
                        failures,
                        age_ns: now - last,
                    })
                })
                .collect()
        })
    }

    fn failure_counts(
        &self,
        keys: &[FailureKey],
        window_ns: i64,
    ) -> MetaResult<Vec<Option<FailureCount>>> {
        let now = now_ns();
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT failures, last_ns FROM failure_counts WHERE key = ?1 AND last_ns >= ?2",
            )?;
            keys.iter()
                .map(|k| {
                    let row: Option<(u32, i64)> = st
                        .query_row(rusqlite::params![&k[..], now - window_ns], |r| {
                            Ok((r.get(0)?, r.get(1)?))
                        })
                        .optional()?;
                    Ok(row.map(|(failures, last)| FailureCount {
                        failures,
                        age_ns: now - last,
                    }))
                })
                .collect()
        })
    }

    fn forgive(&self, less: &FailureKey, clear: &FailureKey) -> MetaResult<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE failure_counts SET failures = failures - 1 WHERE key = ?1 AND failures > 0",
                [&less[..]],
            )?;
            tx.execute("DELETE FROM failure_counts WHERE key = ?1", [&clear[..]])?;
            Ok(())
        })
    }

    fn prune_failures(&self, window_ns: i64) -> MetaResult<u64> {
        let cutoff = now_ns() - window_ns;
        self.write(|tx| {
            Ok(tx.execute("DELETE FROM failure_counts WHERE last_ns < ?1", [cutoff])? as u64)
        })
    }
}
