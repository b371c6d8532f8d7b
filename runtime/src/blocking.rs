//! The blocking pool: a bounded set of threads for work that blocks (file
//! I/O builtins, blocking C calls), so scheduler threads never do.
//!
//! An actor hands a job to [`pool`] and awaits the [`JobHandle`] it gets
//! (`Cx::await_future`): the actor parks, its scheduler runs other actors,
//! and the job's end wakes it. Threads start on demand, up to
//! [`MAX_THREADS`]; one idle for [`IDLE_EXIT`] ends. When every thread is
//! busy, further jobs wait in the queue (a thread that cannot be started
//! leaves the job queued for the running ones). Jobs beyond that wait
//! in a queue, first come first served. One pool serves every runtime in
//! the process (blocking work is bounded by the machine, not by runtimes).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use valk_sync::{Condvar, Mutex};

/// Most threads the pool runs at once (tokio's default): enough that a
/// program with many calls stuck for good (a FIFO nobody opens, a hung
/// network file system) still has threads for its other I/O.
pub const MAX_THREADS: usize = 512;
/// Stack of a pool thread: blocking work is shallow Rust or C.
pub const THREAD_STACK: usize = 1 << 20;
/// A thread with no job for this long ends.
pub const IDLE_EXIT: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send>;

/// The pool's threads and queue.
pub struct BlockingPool {
    state: Mutex<PoolState>,
    work: Condvar,
    max: usize,
}

#[derive(Default)]
struct PoolState {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

/// The process's blocking pool.
pub fn pool() -> &'static BlockingPool {
    static POOL: OnceLock<BlockingPool> = OnceLock::new();
    POOL.get_or_init(|| BlockingPool::new(MAX_THREADS))
}

impl BlockingPool {
    fn new(max: usize) -> Self {
        BlockingPool {
            state: Mutex::new(PoolState::default()),
            work: Condvar::new(),
            max: max.max(1),
        }
    }

    /// Runs `f` on a pool thread; the handle is a future of its result
    /// (`None` if it panicked).
    pub fn spawn<T: Send + 'static>(
        &'static self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> JobHandle<T> {
        let slot: Arc<Mutex<Slot<T>>> = Arc::default();
        let out = slot.clone();
        self.submit(Box::new(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok();
            let waker = {
                let mut s = out.lock();
                s.result = Some(r);
                s.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        }));
        JobHandle(slot)
    }

    fn submit(&'static self, job: Job) {
        let mut st = self.state.lock();
        st.queue.push_back(job);
        if st.idle > 0 || st.threads >= self.max {
            drop(st);
            self.work.notify_one();
            return;
        }
        st.threads += 1;
        drop(st);
        let started = std::thread::Builder::new()
            .name("valk-blocking".into())
            .stack_size(THREAD_STACK)
            .spawn(move || self.worker());
        if started.is_err() {
            // No thread could start: if none runs, do the work here rather
            // than leave it queued forever.
            let mut st = self.state.lock();
            st.threads -= 1;
            if st.threads == 0 {
                let jobs = std::mem::take(&mut st.queue);
                drop(st);
                jobs.into_iter().for_each(|job| job());
            }
        }
    }

    fn worker(&self) {
        let mut st = self.state.lock();
        loop {
            if let Some(job) = st.queue.pop_front() {
                drop(st);
                job();
                st = self.state.lock();
                continue;
            }
            st.idle += 1;
            let since = std::time::Instant::now();
            st = self.work.wait_timeout(st, IDLE_EXIT);
            st.idle -= 1;
            if st.queue.is_empty() && since.elapsed() >= IDLE_EXIT {
                st.threads -= 1;
                return;
            }
        }
    }

    /// Threads running now (for tests and `actor/info`-style reports).
    pub fn threads(&self) -> usize {
        self.state.lock().threads
    }
}

struct Slot<T> {
    /// `Some(None)`: the job panicked.
    result: Option<Option<T>>,
    waker: Option<Waker>,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot {
            result: None,
            waker: None,
        }
    }
}

/// A job on the pool: a future of its result (`None` if it panicked).
pub struct JobHandle<T>(Arc<Mutex<Slot<T>>>);

impl<T> Future for JobHandle<T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut s = self.0.lock();
        match s.result.take() {
            Some(r) => Poll::Ready(r),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
