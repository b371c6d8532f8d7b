//! Run queues: per-worker deque + LIFO slot, the global injector, stealing,
//! and how an idle worker finds work or parks.

pub(crate) mod deque;
pub(crate) mod run_queue;
