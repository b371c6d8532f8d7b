//! Run queues: per-worker deque + LIFO slot, the global injector, stealing.

pub(crate) mod run_queue;
