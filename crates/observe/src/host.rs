//! Series of the host and the process, read at each scrape: readiness (also set whenever
//! `/readyz` is evaluated), free space on the data directory's file system, and the
//! process series Prometheus' own clients export that `metrics.rs` does not (virtual
//! memory, the file-descriptor limit, CPU time).

use crate::health::check_ready;
use nas_engine::Store;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// Host and process series.
pub(crate) struct HostSeries {
    pub(crate) ready: Gauge,
    disk_free: Gauge,
    disk_size: Gauge,
    disk_reserve: Gauge,
    vsize: Gauge,
    max_fds: Gauge,
    cpu: Counter<f64, AtomicU64>,
}

impl HostSeries {
    pub(crate) fn register(r: &mut Registry) -> HostSeries {
        let s = HostSeries {
            ready: Gauge::default(),
            disk_free: Gauge::default(),
            disk_size: Gauge::default(),
            disk_reserve: Gauge::default(),
            vsize: Gauge::default(),
            max_fds: Gauge::default(),
            cpu: Counter::default(),
        };
        r.register(
            "silent_nas_ready",
            "1 when every readiness check passes (as /readyz), else 0",
            s.ready.clone(),
        );
        r.register(
            "silent_nas_disk_free_bytes",
            "Bytes available to the server on the data directory's file system",
            s.disk_free.clone(),
        );
        r.register(
            "silent_nas_disk_size_bytes",
            "Size of the data directory's file system",
            s.disk_size.clone(),
        );
        r.register(
            "silent_nas_disk_reserve_bytes",
            "Free space new data leaves on the data directory's file system (uploads that would go below it get 507)",
            s.disk_reserve.clone(),
        );
        r.register(
            "process_virtual_memory_bytes",
            "Virtual memory size",
            s.vsize.clone(),
        );
        r.register(
            "process_max_fds",
            "Limit of open file descriptors",
            s.max_fds.clone(),
        );
        r.register(
            "process_cpu_seconds",
            "User and system CPU time spent",
            s.cpu.clone(),
        );
        s
    }

    pub(crate) fn refresh(&self, store: &Store, min_free_bytes: u64) {
        let ready = check_ready(store, min_free_bytes).failures.is_empty();
        self.ready.set(i64::from(ready));
        if let Ok(v) = rustix::fs::statvfs(store.dir()) {
            let free = v.f_bavail.saturating_mul(v.f_frsize);
            let size = v.f_blocks.saturating_mul(v.f_frsize);
            self.disk_free.set(i64::try_from(free).unwrap_or(i64::MAX));
            self.disk_size.set(i64::try_from(size).unwrap_or(i64::MAX));
        }
        if let Some(sp) = store.space() {
            self.disk_reserve
                .set(i64::try_from(sp.reserve).unwrap_or(i64::MAX));
        }
        if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
            let kib = |key: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(key))
                    .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<i64>().ok())
            };
            if let Some(kb) = kib("VmSize:") {
                self.vsize.set(kb * 1024);
            }
        }
        if let Ok(limits) = std::fs::read_to_string("/proc/self/limits")
            && let Some(n) = limits
                .lines()
                .find_map(|l| l.strip_prefix("Max open files"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<i64>().ok())
        {
            self.max_fds.set(n);
        }
        if let Some(secs) = cpu_seconds() {
            let seen = self.cpu.get();
            if secs > seen {
                self.cpu.inc_by(secs - seen);
            }
        }
    }
}

/// User plus system CPU time of this process, from `/proc/self/stat`.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // fields after the command name (which may hold spaces) start at field 3 (state)
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let hz = rustix::param::clock_ticks_per_second();
    (hz > 0).then(|| ticks as f64 / hz as f64)
}
