//! The work-stealing deque behind the run queues: crossbeam-deque normally;
//! under `--cfg valk_loom` a mutex-based stand-in with the same interface
//! (crossbeam-deque cannot run under loom), so that the loom models drive the
//! real run-queue code (`LocalQueue`, LIFO slot, injector, idle wake-ups)
//! with only the deque itself replaced.

#[cfg(not(valk_loom))]
pub(crate) use crossbeam_deque::{Injector, Steal, Stealer, Worker};

#[cfg(valk_loom)]
pub(crate) use self::model::{Injector, Steal, Stealer, Worker};

#[cfg(valk_loom)]
mod model {
    use std::collections::VecDeque;

    use crate::sync::{Arc, Mutex};

    /// Outcome of a steal (crossbeam's `Steal`; the model never retries).
    #[allow(dead_code)]
    pub(crate) enum Steal<T> {
        Empty,
        Success(T),
        Retry,
    }

    impl<T> Steal<T> {
        pub(crate) fn is_empty(&self) -> bool {
            matches!(self, Steal::Empty)
        }
    }

    type Shared<T> = Arc<Mutex<VecDeque<T>>>;

    /// Moves up to half of `from` (at least one) to `dest`; returns the first.
    /// The two locks are never held together (two workers stealing from each
    /// other must not deadlock).
    fn steal_half<T>(from: &Mutex<VecDeque<T>>, dest: &Worker<T>) -> Steal<T> {
        let mut batch: VecDeque<T> = {
            let mut from = from.lock();
            let n = from.len().div_ceil(2);
            from.drain(..n).collect()
        };
        match batch.pop_front() {
            None => Steal::Empty,
            Some(first) => {
                if !batch.is_empty() {
                    dest.0.lock().extend(batch);
                }
                Steal::Success(first)
            }
        }
    }

    /// The owner's half of a FIFO deque.
    pub(crate) struct Worker<T>(Shared<T>);

    impl<T> Worker<T> {
        pub(crate) fn new_fifo() -> Self {
            Worker(Arc::new(Mutex::new(VecDeque::new())))
        }

        pub(crate) fn push(&self, task: T) {
            self.0.lock().push_back(task);
        }

        pub(crate) fn pop(&self) -> Option<T> {
            self.0.lock().pop_front()
        }

        pub(crate) fn stealer(&self) -> Stealer<T> {
            Stealer(self.0.clone())
        }
    }

    /// The other workers' half.
    pub(crate) struct Stealer<T>(Shared<T>);

    impl<T> Stealer<T> {
        pub(crate) fn is_empty(&self) -> bool {
            self.0.lock().is_empty()
        }

        pub(crate) fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
            steal_half(&self.0, dest)
        }
    }

    /// The global queue for work from outside the workers.
    pub(crate) struct Injector<T>(Mutex<VecDeque<T>>);

    impl<T> Injector<T> {
        pub(crate) fn new() -> Self {
            Injector(Mutex::new(VecDeque::new()))
        }

        pub(crate) fn push(&self, task: T) {
            self.0.lock().push_back(task);
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.0.lock().is_empty()
        }

        pub(crate) fn steal(&self) -> Steal<T> {
            match self.0.lock().pop_front() {
                Some(task) => Steal::Success(task),
                None => Steal::Empty,
            }
        }

        pub(crate) fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
            steal_half(&self.0, dest)
        }
    }
}
