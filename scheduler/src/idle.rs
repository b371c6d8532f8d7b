//! Parking idle workers without lost wake-ups and without a thundering herd.
//!
//! Modelled on tokio's `multi_thread/idle.rs`. Two counters and a sleeper list:
//!
//! 1. A worker with nothing local becomes *searching* (`searching += 1`) and
//!    tries the injector and the other workers' queues.
//! 2. If it finds work and it was the last searcher, it wakes one sleeper to
//!    keep looking (work tends to come in bursts); then it runs the work.
//! 3. If it finds nothing it registers as a sleeper (`sleeping += 1`, pushed
//!    on the list), stops searching, and *then* looks at every queue once
//!    more. Only if that last look is empty does it park.
//! 4. Whoever makes work visible (pushes to a queue) then calls
//!    [`Idle::notify_one`]: if someone is searching it will find the work
//!    (step 3's recheck happens after its registration); otherwise one
//!    sleeper is popped, counted as searching for it, and unparked.
//!
//! Steps 3 and 4 are a Dekker pair ordered by SeqCst: either the pusher sees
//! the sleeper registered, or the sleeper's recheck sees the pushed work.
//! At most one sleeper is woken per notification.

use crate::sync::{fence, AtomicBool, AtomicUsize, Condvar, Mutex, Ordering::SeqCst};

/// One worker's park/unpark token (a binary semaphore).
#[derive(Debug)]
struct Parker {
    token: Mutex<bool>,
    cv: Condvar,
}

impl Parker {
    fn new() -> Self {
        Parker {
            token: Mutex::new(false),
            cv: Condvar::new(),
        }
    }

    fn park(&self) {
        let mut token = self.token.lock();
        while !*token {
            token = self.cv.wait(token);
        }
        *token = false;
    }

    fn unpark(&self) {
        *self.token.lock() = true;
        self.cv.notify_one();
    }

    fn consume(&self) {
        *self.token.lock() = false;
    }
}

/// The idle-worker coordinator shared by all workers.
#[derive(Debug)]
pub(crate) struct Idle {
    searching: AtomicUsize,
    sleeping: AtomicUsize,
    sleepers: Mutex<Vec<usize>>,
    parkers: Vec<Parker>,
    shutdown: AtomicBool,
}

impl Idle {
    pub(crate) fn new(workers: usize) -> Self {
        Idle {
            searching: AtomicUsize::new(0),
            sleeping: AtomicUsize::new(0),
            sleepers: Mutex::new(Vec::with_capacity(workers)),
            parkers: (0..workers).map(|_| Parker::new()).collect(),
            shutdown: AtomicBool::new(false),
        }
    }

    /// Step 4: call after making work visible to other workers.
    pub(crate) fn notify_one(&self) {
        fence(SeqCst);
        if self.searching.load(SeqCst) != 0 || self.sleeping.load(SeqCst) == 0 {
            return;
        }
        let mut sleepers = self.sleepers.lock();
        let Some(worker) = sleepers.pop() else { return };
        self.sleeping.fetch_sub(1, SeqCst);
        // Counted as searching on its behalf, so concurrent notifiers do not
        // wake a second worker for the same work.
        self.searching.fetch_add(1, SeqCst);
        // Unparked while the sleeper list is still locked: a sleeper that finds
        // itself popped (in `sleep`) then always finds the token set, and can
        // consume it; a token left behind would later wake it uncounted.
        self.parkers[worker].unpark();
    }

    /// Step 1.
    pub(crate) fn start_searching(&self) {
        self.searching.fetch_add(1, SeqCst);
    }

    /// Step 2: a searcher found work.
    pub(crate) fn found_work(&self) {
        let searching = self.searching.fetch_sub(1, SeqCst);
        debug_assert!(searching > 0, "searching count underflow");
        if searching == 1 {
            self.notify_one();
        }
    }

    /// A searcher gives up without sleeping (shutdown).
    pub(crate) fn stop_searching(&self) {
        self.searching.fetch_sub(1, SeqCst);
    }

    /// Step 3: the searching worker `index` found nothing. Parks unless
    /// `has_work` (the final look at every queue) says otherwise. Returns with
    /// the worker counted as searching again.
    pub(crate) fn sleep(&self, index: usize, has_work: impl Fn() -> bool) {
        {
            let mut sleepers = self.sleepers.lock();
            sleepers.push(index);
            self.sleeping.fetch_add(1, SeqCst);
        }
        self.searching.fetch_sub(1, SeqCst);
        fence(SeqCst);
        if has_work() || self.is_shutdown() {
            let mut sleepers = self.sleepers.lock();
            if let Some(i) = sleepers.iter().position(|&w| w == index) {
                sleepers.swap_remove(i);
                self.sleeping.fetch_sub(1, SeqCst);
                self.searching.fetch_add(1, SeqCst);
            } else {
                // A notifier already popped us, counted us searching and (under
                // the lock we now hold) set our token, which is stale now.
                self.parkers[index].consume();
                drop(sleepers);
            }
            return;
        }
        self.parkers[index].park();
    }

    pub(crate) fn shutdown(&self) {
        self.shutdown.store(true, SeqCst);
        for parker in &self.parkers {
            parker.unpark();
        }
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(SeqCst)
    }

    /// Workers parked right now (for tests and figures).
    #[allow(dead_code)]
    pub(crate) fn sleeping(&self) -> usize {
        self.sleeping.load(SeqCst)
    }

    /// Workers searching right now (for the loom models).
    #[allow(dead_code)]
    pub(crate) fn searching(&self) -> usize {
        self.searching.load(SeqCst)
    }
}
