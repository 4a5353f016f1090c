//! Series of the background workers, updated by the runner through [`WorkerObserver`]:
//! runs by result, last run and last success, running, the progress of a run under way
//! (present only while it runs), and what GC, scrub, retention and trash expiry did. Each
//! run's result is also logged.

use crate::metrics::Metrics;
use nas_engine::workers::{
    GC, Outcome, Progress, ProgressUnit, RETENTION, SCRUB, SEARCH_INDEX, TRASH, WorkerObserver,
    WorkerState,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type Labels = Vec<(String, String)>;
type Seconds = Gauge<f64, AtomicU64>;
type Ratio = Gauge<f64, AtomicU64>;

/// The workers' series.
pub(crate) struct WorkerSeries {
    runs: Family<Labels, Counter>,
    last_run: Family<Labels, Seconds>,
    last_success: Family<Labels, Seconds>,
    last_duration: Family<Labels, Seconds>,
    running: Family<Labels, Gauge>,
    interval: Family<Labels, Seconds>,
    progress_done: Family<Labels, Gauge>,
    progress_target: Family<Labels, Gauge>,
    progress_ratio: Family<Labels, Ratio>,
    /// The unit each running worker last reported in (its progress series carry it).
    progress_units: Mutex<HashMap<String, ProgressUnit>>,
    gc_runs: Counter,
    gc_freed: Counter,
    scrub_runs: Counter,
    scrub_damage: Counter,
    scrub_last_damage: Gauge,
    retention_deleted: Counter,
    trash_expired: Counter,
}

fn worker(name: &str) -> Labels {
    vec![("worker".into(), name.into())]
}

fn worker_unit(name: &str, unit: ProgressUnit) -> Labels {
    vec![
        ("worker".into(), name.into()),
        ("unit".into(), unit.as_str().into()),
    ]
}

fn gauge_value(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn epoch_seconds(t: Option<SystemTime>) -> Option<f64> {
    t?.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs_f64())
}

impl WorkerSeries {
    pub(crate) fn register(r: &mut Registry) -> WorkerSeries {
        let s = WorkerSeries {
            runs: Family::default(),
            last_run: Family::default(),
            last_success: Family::default(),
            last_duration: Family::default(),
            running: Family::default(),
            interval: Family::default(),
            progress_done: Family::default(),
            progress_target: Family::default(),
            progress_ratio: Family::default(),
            progress_units: Mutex::default(),
            gc_runs: Counter::default(),
            gc_freed: Counter::default(),
            scrub_runs: Counter::default(),
            scrub_damage: Counter::default(),
            scrub_last_damage: Gauge::default(),
            retention_deleted: Counter::default(),
            trash_expired: Counter::default(),
        };
        r.register(
            "silent_nas_worker_runs",
            "Finished runs of each background worker, by result (ok, error)",
            s.runs.clone(),
        );
        r.register(
            "silent_nas_worker_last_run_timestamp_seconds",
            "End of each worker's last run, seconds since the Unix epoch",
            s.last_run.clone(),
        );
        r.register(
            "silent_nas_worker_last_success_timestamp_seconds",
            "End of each worker's last successful run, seconds since the Unix epoch",
            s.last_success.clone(),
        );
        r.register(
            "silent_nas_worker_last_duration_seconds",
            "How long each worker's last run took",
            s.last_duration.clone(),
        );
        r.register(
            "silent_nas_worker_running",
            "1 while a worker runs",
            s.running.clone(),
        );
        r.register(
            "silent_nas_worker_interval_seconds",
            "How often each worker is scheduled to run",
            s.interval.clone(),
        );
        r.register(
            "silent_nas_worker_progress_done",
            "Done so far in the current run of a worker, in the unit its label names (present only while a run reports progress)",
            s.progress_done.clone(),
        );
        r.register(
            "silent_nas_worker_progress_target",
            "Total of the current run (or phase) of a worker when known, in the unit its label names",
            s.progress_target.clone(),
        );
        r.register(
            "silent_nas_worker_progress_ratio",
            "Fraction done (0 to 1) of the current run (or phase) of a worker, when its total is known",
            s.progress_ratio.clone(),
        );
        r.register(
            "silent_nas_gc_runs",
            "Garbage collections completed",
            s.gc_runs.clone(),
        );
        r.register(
            "silent_nas_gc_freed_bytes",
            "Disk bytes given back by garbage collection",
            s.gc_freed.clone(),
        );
        r.register(
            "silent_nas_scrub_runs",
            "Scrubs (data verification of every chunk) completed",
            s.scrub_runs.clone(),
        );
        r.register(
            "silent_nas_scrub_damage_found",
            "Problems found by scrubs, summed over runs",
            s.scrub_damage.clone(),
        );
        r.register(
            "silent_nas_scrub_last_damage_found",
            "Problems found by the last completed scrub (0: clean)",
            s.scrub_last_damage.clone(),
        );
        r.register(
            "silent_nas_retention_deleted_versions",
            "Old versions deleted by the retention worker",
            s.retention_deleted.clone(),
        );
        r.register(
            "silent_nas_trash_expired_entries",
            "Trash entries purged by trash expiry",
            s.trash_expired.clone(),
        );
        s
    }

    /// Removes a worker's progress series (a run begins or ends).
    fn clear_progress(&self, name: &str) {
        let unit = self
            .progress_units
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        if let Some(u) = unit {
            self.progress_done.remove(&worker_unit(name, u));
            self.progress_target.remove(&worker_unit(name, u));
        }
        self.progress_ratio.remove(&worker(name));
    }

    fn set_progress(&self, name: &str, p: &Progress) {
        let mut units = self
            .progress_units
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(old) = units.insert(name.to_owned(), p.unit)
            && old != p.unit
        {
            self.progress_done.remove(&worker_unit(name, old));
            self.progress_target.remove(&worker_unit(name, old));
        }
        let l = worker_unit(name, p.unit);
        self.progress_done
            .get_or_create(&l)
            .set(gauge_value(p.done));
        match p.total {
            Some(t) => {
                self.progress_target.get_or_create(&l).set(gauge_value(t));
            }
            None => {
                self.progress_target.remove(&l);
            }
        }
        match p.ratio() {
            Some(r) => {
                self.progress_ratio.get_or_create(&worker(name)).set(r);
            }
            None => {
                self.progress_ratio.remove(&worker(name));
            }
        }
    }
}

impl WorkerObserver for Metrics {
    fn registered(&self, name: &str, interval: Duration) {
        let s = &self.workers;
        s.interval
            .get_or_create(&worker(name))
            .set(interval.as_secs_f64());
        for result in ["ok", "error"] {
            let mut l = worker(name);
            l.push(("result".into(), result.into()));
            s.runs.get_or_create(&l).inc_by(0);
        }
        s.running.get_or_create(&worker(name)).set(0);
    }

    fn started(&self, name: &str) {
        self.workers.clear_progress(name);
        self.workers.running.get_or_create(&worker(name)).set(1);
        tracing::debug!(worker = name, "worker run started");
    }

    fn progress(&self, name: &str, p: &Progress) {
        self.workers.set_progress(name, p);
    }

    fn finished(
        &self,
        name: &str,
        state: &WorkerState,
        result: &Result<Outcome, String>,
        took: Duration,
    ) {
        let s = &self.workers;
        let l = worker(name);
        let mut with_result = l.clone();
        with_result.push((
            "result".into(),
            if result.is_ok() { "ok" } else { "error" }.into(),
        ));
        s.runs.get_or_create(&with_result).inc();
        if let Some(t) = epoch_seconds(state.last_end) {
            s.last_run.get_or_create(&l).set(t);
        }
        if let Some(t) = epoch_seconds(state.last_success) {
            s.last_success.get_or_create(&l).set(t);
        }
        s.last_duration.get_or_create(&l).set(took.as_secs_f64());
        s.running.get_or_create(&l).set(0);
        s.clear_progress(name);
        match result {
            Ok(o) => {
                let took_ms = took.as_millis() as u64;
                if name == SEARCH_INDEX && o.items == 0 {
                    // every few seconds, usually with nothing to do: not worth a line
                    tracing::debug!(worker = name, took_ms, "{}", o.summary);
                } else {
                    tracing::info!(worker = name, took_ms, "{}", o.summary);
                }
                match name {
                    GC => {
                        s.gc_runs.inc();
                        s.gc_freed.inc_by(o.freed_bytes);
                    }
                    SCRUB => {
                        s.scrub_runs.inc();
                        s.scrub_damage.inc_by(o.damage);
                        s.scrub_last_damage
                            .set(i64::try_from(o.damage).unwrap_or(i64::MAX));
                        if o.damage > 0 {
                            tracing::error!(worker = name, "scrub found damage: {}", o.summary);
                        }
                    }
                    RETENTION => {
                        s.retention_deleted.inc_by(o.items);
                    }
                    TRASH => {
                        s.trash_expired.inc_by(o.items);
                    }
                    _ => {}
                }
            }
            Err(e) => tracing::warn!(worker = name, "worker run failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    fn state(name: &str, runs: u64, failures: u64, end: u64, success: Option<u64>) -> WorkerState {
        let at = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
        WorkerState {
            name: name.into(),
            interval: Duration::from_secs(60),
            running: false,
            last_start: Some(at(end - 1)),
            last_end: Some(at(end)),
            last_success: success.map(at),
            next_run: Some(at(end + 60)),
            last_outcome: None,
            last_error: None,
            runs,
            failures,
            progress: None,
        }
    }

    #[test]
    fn progress_series_follow_the_run_and_go_when_it_ends() {
        let m = Metrics::new();
        m.registered(SCRUB, Duration::from_secs(60));
        m.started(SCRUB);
        assert!(!m.text().contains("silent_nas_worker_progress_done{"));
        m.progress(
            SCRUB,
            &Progress::new(1 << 20, Some(4 << 20), ProgressUnit::Bytes),
        );
        let t = m.text();
        assert_eq!(
            sample(
                &t,
                r#"silent_nas_worker_progress_done{worker="scrub",unit="bytes"}"#
            ),
            Some(1048576.0)
        );
        assert_eq!(
            sample(
                &t,
                r#"silent_nas_worker_progress_target{worker="scrub",unit="bytes"}"#
            ),
            Some(4194304.0)
        );
        assert_eq!(
            sample(&t, r#"silent_nas_worker_progress_ratio{worker="scrub"}"#),
            Some(0.25)
        );
        // a new phase in another unit, total unknown: the old unit's series and the ratio go
        m.progress(SCRUB, &Progress::new(7, None, ProgressUnit::Files));
        let t = m.text();
        assert!(!t.contains(r#"unit="bytes""#), "{t}");
        assert!(!t.contains("silent_nas_worker_progress_ratio{"), "{t}");
        assert!(!t.contains("silent_nas_worker_progress_target{"), "{t}");
        assert_eq!(
            sample(
                &t,
                r#"silent_nas_worker_progress_done{worker="scrub",unit="files"}"#
            ),
            Some(7.0)
        );
        m.finished(
            SCRUB,
            &state(SCRUB, 1, 0, 10, Some(10)),
            &Ok(Outcome::default()),
            Duration::ZERO,
        );
        let t = m.text();
        assert!(
            !t.contains("silent_nas_worker_progress_done{"),
            "reset at the end: {t}"
        );
        assert!(!t.contains("silent_nas_worker_progress"), "{t}");
    }

    #[test]
    fn each_run_moves_the_series_it_names() {
        let m = Metrics::new();
        m.registered(GC, Duration::from_secs(60));
        m.registered(SCRUB, Duration::from_secs(600));
        let t = m.text();
        assert_eq!(
            sample(
                &t,
                r#"silent_nas_worker_runs_total{worker="gc",result="error"}"#
            ),
            Some(0.0)
        );
        assert_eq!(
            sample(&t, r#"silent_nas_worker_interval_seconds{worker="scrub"}"#),
            Some(600.0)
        );
        assert_eq!(
            sample(
                &t,
                r#"silent_nas_worker_last_success_timestamp_seconds{worker="gc"}"#
            ),
            None
        );

        m.started(GC);
        assert_eq!(
            sample(&m.text(), r#"silent_nas_worker_running{worker="gc"}"#),
            Some(1.0)
        );
        let freed = Outcome {
            summary: "x".into(),
            freed_bytes: 4096,
            items: 3,
            damage: 0,
        };
        m.finished(
            GC,
            &state(GC, 1, 0, 1000, Some(1000)),
            &Ok(freed),
            Duration::from_millis(1500),
        );
        m.finished(
            GC,
            &state(GC, 2, 1, 2000, Some(1000)),
            &Err("disk gone".into()),
            Duration::ZERO,
        );
        let t = m.text();
        assert_eq!(
            sample(&t, r#"silent_nas_worker_running{worker="gc"}"#),
            Some(0.0)
        );
        assert_eq!(
            sample(
                &t,
                r#"silent_nas_worker_runs_total{worker="gc",result="ok"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &t,
                r#"silent_nas_worker_runs_total{worker="gc",result="error"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &t,
                r#"silent_nas_worker_last_run_timestamp_seconds{worker="gc"}"#
            ),
            Some(2000.0)
        );
        assert_eq!(
            sample(
                &t,
                r#"silent_nas_worker_last_success_timestamp_seconds{worker="gc"}"#
            ),
            Some(1000.0)
        );
        assert_eq!(
            sample(&t, "silent_nas_gc_runs_total"),
            Some(1.0),
            "failed runs are not GC runs"
        );
        assert_eq!(sample(&t, "silent_nas_gc_freed_bytes_total"), Some(4096.0));

        let damaged = Outcome {
            damage: 2,
            ..Outcome::default()
        };
        m.finished(
            SCRUB,
            &state(SCRUB, 1, 0, 3000, Some(3000)),
            &Ok(damaged),
            Duration::ZERO,
        );
        let clean = Outcome::default();
        m.finished(
            SCRUB,
            &state(SCRUB, 2, 0, 4000, Some(4000)),
            &Ok(clean),
            Duration::ZERO,
        );
        let t = m.text();
        assert_eq!(sample(&t, "silent_nas_scrub_runs_total"), Some(2.0));
        assert_eq!(sample(&t, "silent_nas_scrub_damage_found_total"), Some(2.0));
        assert_eq!(
            sample(&t, "silent_nas_scrub_last_damage_found"),
            Some(0.0),
            "the last scrub was clean"
        );

        let three = Outcome {
            items: 3,
            ..Outcome::default()
        };
        m.finished(
            TRASH,
            &state(TRASH, 1, 0, 10, Some(10)),
            &Ok(three.clone()),
            Duration::ZERO,
        );
        m.finished(
            RETENTION,
            &state(RETENTION, 1, 0, 10, Some(10)),
            &Ok(three),
            Duration::ZERO,
        );
        let t = m.text();
        assert_eq!(
            sample(&t, "silent_nas_trash_expired_entries_total"),
            Some(3.0)
        );
        assert_eq!(
            sample(&t, "silent_nas_retention_deleted_versions_total"),
            Some(3.0)
        );
    }
}
