//! What a stream's connections saw, merged, and written in oha's JSON shape.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub struct Tally {
    t0: Instant,
    /// Latency of every answer, in microseconds from when its request was due.
    micros: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
    errors: BTreeMap<String, u64>,
    /// When the last answer came.
    last: Instant,
}

impl Tally {
    pub fn new(t0: Instant) -> Tally {
        Tally {
            t0,
            micros: Vec::new(),
            statuses: BTreeMap::new(),
            errors: BTreeMap::new(),
            last: t0,
        }
    }

    pub fn answer(&mut self, status: u16, latency: Duration) {
        self.micros
            .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
        *self.statuses.entry(status).or_default() += 1;
        self.last = Instant::now();
    }

    pub fn error(&mut self, kind: &str) {
        self.errors_n(kind, 1);
    }

    pub fn errors_n(&mut self, kind: &str, n: u64) {
        *self.errors.entry(kind.to_string()).or_default() += n;
    }

    pub fn merge(&mut self, other: Tally) {
        self.micros.extend(other.micros);
        for (k, v) in other.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.last = self.last.max(other.last);
    }

    /// Answers per second over the window, or over the time the answers took when the
    /// server ran late past it.
    fn rate(&self, secs: f64) -> f64 {
        let took = self.last.saturating_duration_since(self.t0).as_secs_f64();
        self.micros.len() as f64 / took.max(secs)
    }

    fn percentile(sorted: &[u32], p: f64) -> f64 {
        if sorted.is_empty() {
            return 0.0;
        }
        let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
        f64::from(sorted[i.min(sorted.len() - 1)]) / 1e6
    }

    /// oha's JSON shape: `summary`, `latencyPercentiles` (seconds),
    /// `statusCodeDistribution`, `errorDistribution`.
    pub fn to_json(&self, secs: f64) -> Value {
        let mut sorted = self.micros.clone();
        sorted.sort_unstable();
        let n = sorted.len() as f64;
        let errors: u64 = self.errors.values().sum();
        let ok = self
            .statuses
            .iter()
            .filter(|(k, _)| (200..300).contains(*k))
            .map(|(_, v)| v)
            .sum::<u64>() as f64;
        let average = if sorted.is_empty() {
            0.0
        } else {
            sorted.iter().map(|&m| f64::from(m)).sum::<f64>() / n / 1e6
        };
        let p = |q| Self::percentile(&sorted, q);
        json!({
            "summary": {
                "successRate": ok / (n + errors as f64).max(1.0),
                "total": self.last.saturating_duration_since(self.t0).as_secs_f64().max(secs),
                "requestsPerSec": self.rate(secs),
                "fastest": p(0.0),
                "slowest": p(100.0),
                "average": average,
            },
            "latencyPercentiles": {
                "p10": p(10.0), "p25": p(25.0), "p50": p(50.0), "p75": p(75.0),
                "p90": p(90.0), "p95": p(95.0), "p99": p(99.0), "p99.9": p(99.9),
                "p99.99": p(99.99),
            },
            "statusCodeDistribution": self.statuses.iter()
                .map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "errorDistribution": self.errors.iter()
                .map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
        })
    }

    /// One line for the log: name, offered and answered rate, p50/p99, errors.
    pub fn line(&self, name: &str, rate: f64, secs: f64) -> String {
        let mut sorted = self.micros.clone();
        sorted.sort_unstable();
        let ms = |q| Self::percentile(&sorted, q) * 1000.0;
        let errors: u64 = self.errors.values().sum();
        let not_2xx: u64 = self
            .statuses
            .iter()
            .filter(|(k, _)| !(200..300).contains(*k))
            .map(|(_, v)| v)
            .sum();
        format!(
            "{name}: offered {rate:.0}/s, answered {:.0}/s, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, \
             not 2xx {not_2xx}, errors {errors} {:?}",
            self.rate(secs),
            ms(50.0),
            ms(99.0),
            ms(100.0),
            self.errors
        )
    }
}
