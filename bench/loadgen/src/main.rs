//! `loadgen PLAN.json OUTDIR`: the open-loop load generator of `bench/load.sh` (issue 16).
//!
//! Why our own: `oha` signs, generates URLs and runs a full HTTP client per request, and on
//! this 2-core machine it spent about as much CPU per request as the server: offered 10,000
//! requests/s it delivered about 1,900. This one sends **pre-built requests** over plain
//! keep-alive connections — the plan carries each request's head (the script presigns the S3
//! ones), a body is one shared file — so a request costs one write and usually one read.
//!
//! The model is wrk2's: a stream has a rate and a number of connections; connection `k` sends
//! its `n`-th request when it is due, at `t0 + (k + n·conns) / rate`, and a request's latency
//! counts from that due time, not from when it was sent. A server that falls behind makes the
//! connections late and the latency shows it (no coordinated omission). Every request due in
//! the window is sent, late if need be, until the grace deadline; those never sent count as
//! errors (`unsent`).
//!
//! Output: `OUTDIR/NAME.json` per stream in the shape of oha's JSON (the fields
//! `bench/load_report.py` reads), and one line per stream on stderr.

mod conn;
mod plan;
mod report;

use std::sync::Arc;
use std::time::{Duration, Instant};

use conn::Conn;
use plan::{Plan, Stream};
use report::Tally;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: loadgen PLAN.json OUTDIR");
        std::process::exit(2);
    }
    if let Err(e) = run(&args[1], &args[2]) {
        eprintln!("loadgen: {e}");
        std::process::exit(1);
    }
}

fn run(plan_path: &str, outdir: &str) -> Result<(), String> {
    let plan = Plan::load(plan_path)?;
    let mut rt = if plan.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(plan.threads);
        b
    };
    let rt = rt
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let tallies = rt.block_on(drive(&plan));
    for (stream, tally) in plan.streams.iter().zip(tallies) {
        let path = std::path::Path::new(outdir).join(format!("{}.json", stream.name));
        std::fs::write(&path, tally.to_json(plan.secs).to_string())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("{}", tally.line(&stream.name, stream.rate, plan.secs));
    }
    Ok(())
}

/// Runs every connection of every stream; one merged tally per stream, in plan order.
async fn drive(plan: &Plan) -> Vec<Tally> {
    let t0 = Instant::now() + Duration::from_millis(200);
    let end = t0 + Duration::from_secs_f64(plan.secs);
    let grace = end + Duration::from_secs_f64(plan.grace_secs);
    let mut handles = Vec::new();
    for (i, stream) in plan.streams.iter().enumerate() {
        let stream = Arc::new(stream.clone());
        for k in 0..stream.conns {
            let s = Arc::clone(&stream);
            handles.push((i, tokio::spawn(connection(s, k, t0, end, grace))));
        }
    }
    let mut tallies: Vec<Tally> = plan.streams.iter().map(|_| Tally::new(t0)).collect();
    for (i, h) in handles {
        match h.await {
            Ok(t) => tallies[i].merge(t),
            Err(e) => tallies[i].error(&format!("task: {e}")),
        }
    }
    tallies
}

/// Connection `k` of a stream: its share of the schedule, one request at a time.
async fn connection(s: Arc<Stream>, k: usize, t0: Instant, end: Instant, grace: Instant) -> Tally {
    let mut tally = Tally::new(t0);
    let period = s.conns as f64 / s.rate;
    let first = k as f64 / s.rate;
    let mut conn: Option<Conn> = None;
    let mut buf = Vec::new();
    for n in 0u64.. {
        let due = t0 + Duration::from_secs_f64(first + n as f64 * period);
        if due >= end {
            break;
        }
        if Instant::now() >= grace {
            let left = ((end - due).as_secs_f64() / period).ceil() as u64;
            tally.errors_n("unsent (behind schedule at the grace deadline)", left);
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let seq = k as u64 + n * s.conns as u64;
        s.request(seq, &mut buf);
        let c = match conn.take() {
            Some(c) => c,
            None => match Conn::open(&s.addr).await {
                Ok(c) => c,
                Err(e) => {
                    tally.error(&format!("connect: {}", e.kind()));
                    continue;
                }
            },
        };
        match tokio::time::timeout_at(grace.into(), c.exchange(&buf)).await {
            Ok(Ok((c, answer))) => {
                tally.answer(answer.status, due.elapsed());
                if answer.keep_alive {
                    conn = Some(c);
                }
            }
            Ok(Err(e)) => tally.error(&format!("io: {}", e.kind())),
            Err(_) => tally.error("timeout (no answer by the grace deadline)"),
        }
    }
    tally
}
