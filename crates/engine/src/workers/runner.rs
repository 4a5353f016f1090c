//! The runner: one thread per worker, sleeping on a condition variable until the worker is
//! due, triggered, or the runner stops. One thread per worker is what makes "never two runs
//! of the same worker at once" true by construction; different workers do run in parallel.

use super::{Worker, WorkerObserver, WorkerState};
use crate::coord::Coordinator;
use crate::error::{EngineError, EngineResult};
use crate::progress::{Progress, ProgressUnit};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

struct SlotState {
    public: WorkerState,
    due: Instant,
    triggered: bool,
    /// When the observer last heard of this run's progress, and in which unit.
    notified: Option<(Instant, ProgressUnit)>,
}

/// The observer hears of a run's progress at most this often (the state the admin API reads
/// is updated on every report), unless the unit changes or the total is reached.
const NOTIFY_EVERY: Duration = Duration::from_millis(50);

struct Slot {
    state: Mutex<SlotState>,
    wake: Condvar,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    slots: Mutex<Vec<Arc<Slot>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// Runs workers on their schedules until [`WorkerRunner::stop`] (or drop).
pub struct WorkerRunner {
    shared: Arc<Shared>,
    observer: Option<Arc<dyn WorkerObserver>>,
    leases: Option<Arc<dyn Coordinator>>,
}

/// The summary of a turn skipped because another process holds the worker's lease.
pub const LEASED_ELSEWHERE: &str = "skipped: another node is running it";

/// Handed to each run: lets a long job report its progress, notice shutdown and pause
/// without delaying it.
pub struct RunContext {
    shared: Arc<Shared>,
    slot: Arc<Slot>,
    name: String,
    observer: Option<Arc<dyn WorkerObserver>>,
    leases: Option<Arc<dyn Coordinator>>,
}

impl RunContext {
    /// True once the runner is stopping: a long job should return soon.
    pub fn should_stop(&self) -> bool {
        self.shared.stop.load(Ordering::SeqCst)
    }

    /// Reports how far the run is: `done` of `total` (when known) `unit`s. Cheap enough to
    /// call per item (one uncontended lock); the state ([`WorkerRunner::states`]) shows the
    /// latest figure until the run ends, the observer hears of it at most every 50 ms.
    pub fn progress(&self, done: u64, total: Option<u64>, unit: ProgressUnit) {
        self.report(Progress::new(done, total, unit));
    }

    /// [`RunContext::progress`] taking a [`Progress`], e.g. as the callback of a store
    /// operation: `store.gc_with(&mut |p| ctx.report(p))`.
    pub fn report(&self, p: Progress) {
        let tell = {
            let mut st = self.slot.lock();
            if !st.public.running {
                return; // a report from a thread the job left behind
            }
            st.public.progress = Some(p);
            let now = Instant::now();
            let due = match st.notified {
                None => true,
                Some((at, unit)) => {
                    unit != p.unit || p.is_complete() || now.duration_since(at) >= NOTIFY_EVERY
                }
            };
            if due {
                st.notified = Some((now, p.unit));
            }
            due
        };
        if let (true, Some(o)) = (tell, &self.observer) {
            o.progress(&self.name, &p);
        }
    }

    /// Sleeps for `d`, waking early when the runner stops. Returns `false` if it stopped.
    pub fn sleep(&self, d: Duration) -> bool {
        let until = instant_in(d);
        let mut g = self.slot.lock();
        loop {
            if self.should_stop() {
                return false;
            }
            let now = Instant::now();
            if now >= until {
                return true;
            }
            g = self
                .slot
                .wake
                .wait_timeout(g, until - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// What [`WorkerRunner::run_now`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The worker was idle: it starts now.
    Started,
    /// A run is in progress: another starts as soon as it ends.
    AfterCurrentRun,
}

/// Intervals are capped here, so a schedule of "a million years" means "not in this
/// process's life" instead of overflowing the clock arithmetic.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 86_400);

fn system_time_in(d: Duration) -> SystemTime {
    SystemTime::now() + d.min(FOREVER)
}

fn instant_in(d: Duration) -> Instant {
    Instant::now() + d.min(FOREVER)
}

impl WorkerRunner {
    /// A runner without workers; `observer` hears of every run (metrics).
    pub fn new(observer: Option<Arc<dyn WorkerObserver>>) -> WorkerRunner {
        WorkerRunner {
            shared: Arc::default(),
            observer,
            leases: None,
        }
    }

    /// Makes each run take its worker's lease from `coord` first
    /// ([`Coordinator::lease`], named after the worker): with several processes sharing a
    /// store (cluster mode), one runs each worker at a time and the others skip their turn
    /// ([`LEASED_ELSEWHERE`]). Set before workers are added.
    pub fn leased_by(mut self, coord: Arc<dyn Coordinator>) -> WorkerRunner {
        self.leases = Some(coord);
        self
    }

    /// Adds a worker and starts its thread. Names are unique; the interval must not be 0.
    pub fn add(&self, w: Worker) -> EngineResult<()> {
        if w.interval.is_zero() {
            return Err(EngineError::InvalidArgument(format!(
                "worker {}: the interval must not be zero",
                w.name
            )));
        }
        let mut slots = self.shared.slots.lock().unwrap_or_else(|p| p.into_inner());
        if self.shared.stop.load(Ordering::SeqCst) {
            return Err(EngineError::Internal("the worker runner is stopped".into()));
        }
        if slots.iter().any(|s| s.lock().public.name == w.name) {
            return Err(EngineError::AlreadyExists(format!("worker {}", w.name)));
        }
        let first = w.first_in.unwrap_or(w.interval);
        let slot = Arc::new(Slot {
            state: Mutex::new(SlotState {
                public: WorkerState {
                    name: w.name.clone(),
                    interval: w.interval,
                    running: false,
                    last_start: None,
                    last_end: None,
                    last_success: None,
                    next_run: Some(system_time_in(first)),
                    last_outcome: None,
                    last_error: None,
                    runs: 0,
                    failures: 0,
                    progress: None,
                },
                due: instant_in(first),
                triggered: false,
                notified: None,
            }),
            wake: Condvar::new(),
        });
        if let Some(o) = &self.observer {
            o.registered(&w.name, w.interval);
        }
        let ctx = RunContext {
            shared: self.shared.clone(),
            slot: slot.clone(),
            name: w.name.clone(),
            observer: self.observer.clone(),
            leases: self.leases.clone(),
        };
        let handle = std::thread::Builder::new()
            .name(format!("worker-{}", w.name))
            .spawn(move || worker_loop(w, ctx))?;
        slots.push(slot);
        self.shared
            .threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(handle);
        Ok(())
    }

    /// Every worker's state, in the order they were added.
    pub fn states(&self) -> Vec<WorkerState> {
        let slots = self.shared.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.iter().map(|s| s.lock().public.clone()).collect()
    }

    /// Runs the worker `name` now (or right after its current run). Fails with
    /// `NotFound` for an unknown name and `Invalid` once the runner is stopped.
    pub fn run_now(&self, name: &str) -> EngineResult<Trigger> {
        let slots = self.shared.slots.lock().unwrap_or_else(|p| p.into_inner());
        if self.shared.stop.load(Ordering::SeqCst) {
            return Err(EngineError::Internal("the worker runner is stopped".into()));
        }
        for slot in slots.iter() {
            let mut st = slot.lock();
            if st.public.name == name {
                st.triggered = true;
                let running = st.public.running;
                drop(st);
                slot.wake.notify_all();
                return Ok(if running {
                    Trigger::AfterCurrentRun
                } else {
                    Trigger::Started
                });
            }
        }
        Err(EngineError::NotFound(format!("worker {name}")))
    }

    /// Stops every worker: no new run starts, a running job is asked to stop (see
    /// [`RunContext::should_stop`]) and awaited, every thread is joined. Idempotent.
    pub fn stop(&self) {
        {
            let slots = self.shared.slots.lock().unwrap_or_else(|p| p.into_inner());
            self.shared.stop.store(true, Ordering::SeqCst);
            for slot in slots.iter() {
                // Taking the lock orders this notify after the worker's check of `stop`.
                drop(slot.lock());
                slot.wake.notify_all();
            }
        }
        let threads: Vec<_> = self
            .shared
            .threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect();
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for WorkerRunner {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits until the slot is due or triggered; `false` when the runner stops first.
fn wait_turn(ctx: &RunContext) -> bool {
    let mut st = ctx.slot.lock();
    loop {
        if ctx.should_stop() {
            return false;
        }
        let now = Instant::now();
        if st.triggered || now >= st.due {
            st.triggered = false;
            st.public.running = true;
            st.public.last_start = Some(SystemTime::now());
            st.public.next_run = None;
            st.public.progress = None;
            st.notified = None;
            return true;
        }
        let wait = st.due - now;
        st = ctx
            .slot
            .wake
            .wait_timeout(st, wait)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
}

fn worker_loop(mut w: Worker, ctx: RunContext) {
    let observer = ctx.observer.clone();
    while wait_turn(&ctx) {
        if let Some(o) = &observer {
            o.started(&w.name);
        }
        let began = Instant::now();
        // Ok(None): not leased (one process); Ok(Some(None)): another holds the lease
        let lease = ctx.leases.as_deref().map(|c| c.lease(&w.name)).transpose();
        let result = match lease {
            Err(e) => Err(format!("cannot take the worker's lease: {e}")),
            Ok(Some(None)) => Ok(super::Outcome::summary(LEASED_ELSEWHERE)),
            Ok(_held) => match catch_unwind(AssertUnwindSafe(|| (w.job)(&ctx))) {
                Ok(Ok(outcome)) => Ok(outcome),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("the worker panicked".to_owned()),
            },
        };
        let took = began.elapsed();
        let state = {
            let mut st = ctx.slot.lock();
            let now = SystemTime::now();
            st.notified = None;
            let p = &mut st.public;
            p.running = false;
            p.progress = None;
            p.last_end = Some(now);
            p.runs += 1;
            match &result {
                Ok(outcome) => {
                    p.last_success = Some(now);
                    p.last_outcome = Some(outcome.clone());
                    p.last_error = None;
                }
                Err(e) => {
                    p.failures += 1;
                    p.last_error = Some(e.clone());
                }
            }
            p.next_run = Some(system_time_in(w.interval));
            st.due = instant_in(w.interval);
            st.public.clone()
        };
        if let Some(o) = &observer {
            o.finished(&w.name, &state, &result, took);
        }
    }
}
