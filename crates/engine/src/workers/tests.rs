//! The runner's contract: runs on schedule, never concurrently with itself, records errors
//! and panics, runs on demand, stops.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(30);

/// Polls `runner`'s state of `name` until `pred` holds (panics after a generous timeout).
fn wait_for(runner: &WorkerRunner, name: &str, pred: impl Fn(&WorkerState) -> bool) -> WorkerState {
    let until = Instant::now() + PATIENCE;
    loop {
        let st = runner
            .states()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap();
        if pred(&st) {
            return st;
        }
        assert!(Instant::now() < until, "timed out waiting on {st:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_worker_runs_on_its_schedule_and_its_state_says_so() {
    let r = WorkerRunner::new(None);
    let n = Arc::new(AtomicUsize::new(0));
    let c = n.clone();
    r.add(Worker::new("tick", Duration::from_millis(10), move |_| {
        let i = c.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Outcome {
            summary: format!("run {i}"),
            items: i as u64,
            ..Outcome::default()
        })
    }))
    .unwrap();
    let st = wait_for(&r, "tick", |s| s.runs >= 3);
    assert_eq!(st.failures, 0);
    assert!(st.last_start.is_some() && st.last_end.is_some() && st.last_success.is_some());
    assert!(st.last_error.is_none());
    assert!(st.last_outcome.unwrap().summary.starts_with("run "));
    assert_eq!(st.interval, Duration::from_millis(10));
    r.stop();
    let st = &r.states()[0];
    assert!(!st.running);
    assert!(st.next_run.is_some());
    assert_eq!(
        st.runs,
        n.load(Ordering::SeqCst) as u64,
        "every run is counted"
    );
}

#[test]
fn a_worker_never_runs_twice_at_once_and_triggers_during_a_run_coalesce() {
    let r = WorkerRunner::new(None);
    let inside = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (i, m) = (inside.clone(), most.clone());
    let (entered_tx, entered) = std::sync::mpsc::channel::<()>();
    let (release, release_rx) = std::sync::mpsc::channel::<()>();
    r.add(Worker::new("gated", Duration::from_secs(3600), move |_| {
        let now = i.fetch_add(1, Ordering::SeqCst) + 1;
        m.fetch_max(now, Ordering::SeqCst);
        entered_tx.send(()).unwrap();
        release_rx.recv().unwrap(); // the run lasts until the test lets it end
        i.fetch_sub(1, Ordering::SeqCst);
        Ok(Outcome::default())
    }))
    .unwrap();
    assert_eq!(r.run_now("gated").unwrap(), Trigger::Started);
    entered.recv_timeout(PATIENCE).unwrap();
    assert!(r.states()[0].running);
    for _ in 0..3 {
        assert_eq!(r.run_now("gated").unwrap(), Trigger::AfterCurrentRun);
    }
    release.send(()).unwrap();
    // the triggers made during the first run start exactly one more run, after it
    entered.recv_timeout(PATIENCE).unwrap();
    release.send(()).unwrap();
    wait_for(&r, "gated", |s| s.runs == 2 && !s.running);
    r.stop();
    assert_eq!(r.states()[0].runs, 2);
    assert_eq!(most.load(Ordering::SeqCst), 1);
}

#[test]
fn errors_and_panics_are_recorded_and_a_success_clears_them() {
    let r = WorkerRunner::new(None);
    let n = Arc::new(AtomicUsize::new(0));
    let c = n.clone();
    r.add(Worker::new(
        "flaky",
        Duration::from_secs(3600),
        move |_| match c.fetch_add(1, Ordering::SeqCst) {
            0 => Err("disk on fire".into()),
            1 => panic!("boom"),
            _ => Ok(Outcome::summary("fine")),
        },
    ))
    .unwrap();
    r.run_now("flaky").unwrap();
    let st = wait_for(&r, "flaky", |s| s.runs == 1);
    assert_eq!(st.failures, 1);
    assert_eq!(st.last_error.as_deref(), Some("disk on fire"));
    assert!(st.last_success.is_none() && st.last_outcome.is_none());
    r.run_now("flaky").unwrap();
    let st = wait_for(&r, "flaky", |s| s.runs == 2);
    assert_eq!(st.failures, 2);
    assert_eq!(st.last_error.as_deref(), Some("the worker panicked"));
    r.run_now("flaky").unwrap();
    let st = wait_for(&r, "flaky", |s| s.runs == 3);
    assert_eq!(st.failures, 2);
    assert_eq!(st.last_error, None);
    assert_eq!(st.last_outcome, Some(Outcome::summary("fine")));
}

#[test]
fn run_now_runs_a_worker_whose_schedule_is_far_away() {
    let r = WorkerRunner::new(None);
    r.add(Worker::new(
        "weekly",
        Duration::from_secs(7 * 86_400),
        |_| Ok(Outcome::summary("done")),
    ))
    .unwrap();
    assert_eq!(r.states()[0].runs, 0);
    assert_eq!(r.run_now("weekly").unwrap(), Trigger::Started);
    let st = wait_for(&r, "weekly", |s| s.runs == 1);
    let next = st.next_run.unwrap();
    assert!(next > st.last_end.unwrap() + Duration::from_secs(6 * 86_400));
    assert!(matches!(
        r.run_now("nope"),
        Err(crate::EngineError::NotFound(_))
    ));
    // an absurd interval is "never", not an overflow
    r.add(Worker::new("never", Duration::MAX, |_| {
        Ok(Outcome::default())
    }))
    .unwrap();
    r.run_now("never").unwrap();
    wait_for(&r, "never", |s| s.runs == 1);
}

#[test]
fn bad_registrations_are_refused() {
    let r = WorkerRunner::new(None);
    let ok = || Worker::new("a", Duration::from_secs(1), |_| Ok(Outcome::default()));
    r.add(ok()).unwrap();
    assert!(matches!(
        r.add(ok()),
        Err(crate::EngineError::AlreadyExists(_))
    ));
    assert!(
        r.add(Worker::new("z", Duration::ZERO, |_| Ok(Outcome::default())))
            .is_err()
    );
    r.stop();
    assert!(
        r.add(Worker::new("late", Duration::from_secs(1), |_| Ok(
            Outcome::default()
        )))
        .is_err(),
        "a stopped runner takes no new workers"
    );
}

#[test]
fn stop_interrupts_a_long_run_and_joins_every_thread() {
    let r = Arc::new(WorkerRunner::new(None));
    let saw_stop = Arc::new(AtomicUsize::new(0));
    let s = saw_stop.clone();
    r.add(Worker::new("long", Duration::from_secs(3600), move |ctx| {
        // a scrub-like job: pauses that shutdown cuts short
        while ctx.sleep(Duration::from_secs(3600)) {}
        s.store(1, Ordering::SeqCst);
        Err("interrupted".into())
    }))
    .unwrap();
    r.add(Worker::new("idle", Duration::from_secs(3600), |_| {
        Ok(Outcome::default())
    }))
    .unwrap();
    r.run_now("long").unwrap();
    wait_for(&r, "long", |s| s.running);
    let (tx, rx) = std::sync::mpsc::channel();
    let r2 = r.clone();
    std::thread::spawn(move || {
        r2.stop();
        tx.send(()).unwrap();
    });
    rx.recv_timeout(PATIENCE).expect("stop returned");
    assert_eq!(saw_stop.load(Ordering::SeqCst), 1);
    let st = &r.states()[0];
    assert_eq!((st.runs, st.running), (1, false));
    // every thread is joined: nothing runs any more, and triggers are refused
    assert!(matches!(
        r.run_now("idle"),
        Err(crate::EngineError::Internal(_))
    ));
    assert_eq!(r.states()[1].runs, 0);
}

#[test]
fn a_run_shows_its_progress_until_it_ends() {
    let log = Arc::new(Log::default());
    let r = WorkerRunner::new(Some(log.clone()));
    let (halfway_tx, halfway) = std::sync::mpsc::channel::<()>();
    let (release, release_rx) = std::sync::mpsc::channel::<()>();
    r.add(Worker::new("scan", Duration::from_secs(3600), move |ctx| {
        ctx.progress(0, Some(8), ProgressUnit::Chunks);
        ctx.progress(3, Some(8), ProgressUnit::Chunks);
        halfway_tx.send(()).unwrap();
        release_rx.recv().unwrap(); // blocked mid-run until the test has looked
        ctx.progress(8, Some(8), ProgressUnit::Chunks);
        ctx.progress(4096, None, ProgressUnit::Bytes);
        halfway_tx.send(()).unwrap();
        release_rx.recv().unwrap();
        Ok(Outcome::summary("scanned"))
    }))
    .unwrap();
    assert_eq!(r.states()[0].progress, None, "no progress before a run");
    r.run_now("scan").unwrap();
    halfway.recv_timeout(PATIENCE).unwrap();
    let st = &r.states()[0];
    assert!(st.running);
    let p = st.progress.unwrap();
    assert_eq!(p, Progress::new(3, Some(8), ProgressUnit::Chunks));
    assert_eq!(p.ratio(), Some(0.375));
    release.send(()).unwrap();
    halfway.recv_timeout(PATIENCE).unwrap();
    assert_eq!(
        r.states()[0].progress,
        Some(Progress::new(4096, None, ProgressUnit::Bytes)),
        "a new phase, total unknown"
    );
    release.send(()).unwrap();
    let st = wait_for(&r, "scan", |s| s.runs == 1);
    assert_eq!(st.progress, None, "cleared when the run ends");
    assert!(!st.running);
    r.stop();
    let heard = log.0.lock().unwrap().clone();
    // the first report and every change of unit or completed total reach the observer at
    // once; others at most every 50 ms
    assert_eq!(heard[1], "started scan");
    assert_eq!(heard[2], "progress scan 0/Some(8) chunks");
    assert!(
        heard.contains(&"progress scan 8/Some(8) chunks".to_owned()),
        "{heard:?}"
    );
    assert!(
        heard.contains(&"progress scan 4096/None bytes".to_owned()),
        "{heard:?}"
    );
    assert_eq!(heard.last().unwrap(), "finished scan run 1 ok=true");
}

#[derive(Default)]
struct Log(Mutex<Vec<String>>);

impl WorkerObserver for Log {
    fn registered(&self, name: &str, every: Duration) {
        self.0
            .lock()
            .unwrap()
            .push(format!("registered {name} every {}s", every.as_secs()));
    }
    fn started(&self, name: &str) {
        self.0.lock().unwrap().push(format!("started {name}"));
    }
    fn progress(&self, name: &str, p: &Progress) {
        self.0.lock().unwrap().push(format!(
            "progress {name} {}/{:?} {}",
            p.done,
            p.total,
            p.unit.as_str()
        ));
    }
    fn finished(
        &self,
        name: &str,
        state: &WorkerState,
        result: &Result<Outcome, String>,
        _: Duration,
    ) {
        self.0.lock().unwrap().push(format!(
            "finished {name} run {} ok={}",
            state.runs,
            result.is_ok()
        ));
    }
}

#[test]
fn the_observer_hears_of_every_run() {
    let log = Arc::new(Log::default());
    let r = WorkerRunner::new(Some(log.clone()));
    r.add(Worker::new("w", Duration::from_secs(3600), |_| {
        Ok(Outcome::default())
    }))
    .unwrap();
    r.run_now("w").unwrap();
    wait_for(&r, "w", |s| s.runs == 1);
    r.stop();
    assert_eq!(
        *log.0.lock().unwrap(),
        [
            "registered w every 3600s",
            "started w",
            "finished w run 1 ok=true"
        ]
    );
}
