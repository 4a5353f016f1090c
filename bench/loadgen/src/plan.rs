//! The plan a run follows (a JSON file the bench script writes): the window, and per stream
//! its target, rate, connections and the requests it picks from.

use std::sync::Arc;

use serde::Deserialize;

#[derive(Deserialize)]
pub struct Plan {
    /// The window in which requests are due.
    pub secs: f64,
    /// How long after the window late requests may still be sent and answered.
    #[serde(default = "default_grace")]
    pub grace_secs: f64,
    /// Runtime threads (1: a single-threaded runtime, the cheapest).
    #[serde(default = "default_threads")]
    pub threads: usize,
    pub streams: Vec<Stream>,
}

#[derive(Deserialize, Clone)]
pub struct Stream {
    pub name: String,
    /// `host:port`.
    pub addr: String,
    /// Requests per second offered, over all the stream's connections.
    pub rate: f64,
    pub conns: usize,
    /// Whole request heads (request line, headers, the blank line), one picked per request.
    pub requests: Vec<String>,
    /// A body sent after every head (the heads carry its Content-Length).
    #[serde(default)]
    pub body_file: Option<String>,
    #[serde(skip)]
    pub body: Arc<Vec<u8>>,
}

fn default_grace() -> f64 {
    30.0
}

fn default_threads() -> usize {
    1
}

impl Plan {
    pub fn load(path: &str) -> Result<Plan, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let mut plan: Plan = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
        for s in &mut plan.streams {
            if s.requests.is_empty() || s.conns == 0 || s.rate <= 0.0 {
                return Err(format!(
                    "stream {}: needs requests, conns > 0 and rate > 0",
                    s.name
                ));
            }
            if let Some(f) = &s.body_file {
                s.body = Arc::new(std::fs::read(f).map_err(|e| format!("{f}: {e}"))?);
            }
        }
        Ok(plan)
    }
}

impl Stream {
    /// The `seq`-th request of the stream into `buf`: a head picked by a hash of `seq` (so
    /// the choice is spread over the list, the same in every run) and the body.
    pub fn request(&self, seq: u64, buf: &mut Vec<u8>) {
        let pick = (seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16) % self.requests.len() as u64;
        buf.clear();
        buf.extend_from_slice(self.requests[pick as usize].as_bytes());
        buf.extend_from_slice(&self.body);
    }
}
