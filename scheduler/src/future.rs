//! Awaiting a Rust [`Future`] from an actor ([`Cx::await_future`]): the
//! bridge every layer that talks to the outside (the blocking pool, C
//! calls, HTTP/2, embedding) builds on.
//!
//! The actor polls the future on its own coroutine with a waker made for
//! it; while the future is pending the actor parks (its thread runs other
//! actors) and the waker's `wake` delivers a [`Signal::Wake`] to its inbox,
//! which re-enqueues it. The inbox protocol (`mailbox.rs`) makes the
//! delivery certain: a wake that lands before the park makes the park
//! return at once. A [`WakeFlag`] coalesces wakes so a future woken a
//! thousand times while the actor runs costs one inbox item:
//!
//! - the waker raises the flag and delivers only if it was down;
//! - the actor lowers it (an acquire swap) before each poll, so a wake that
//!   found the flag up happened before that poll and the poll sees its
//!   effect; a wake after the lowering delivers again.
//!
//! This relies on one more rule: between the worker's `begin_run` (which
//! takes the inbox's items, wake-ups included) and the next park, the
//! actor lowers the flag and polls again; nothing else empties the inbox
//! while it awaits. `loom_tests.rs` checks that no wake-up is lost across
//! both halves.
//!
//! [`Cx::await_future`]: crate::Cx::await_future
//! [`Signal::Wake`]: crate::signal::Signal::Wake

use crate::sync::{AtomicBool, Ordering::AcqRel};

/// The "a wake is on its way" flag between a waker and its actor.
#[derive(Default)]
pub(crate) struct WakeFlag {
    pending: AtomicBool,
}

impl WakeFlag {
    /// The waker's half: true if this wake must deliver the signal.
    pub(crate) fn raise(&self) -> bool {
        !self.pending.swap(true, AcqRel)
    }

    /// The actor's half, before each poll: later wakes deliver again.
    pub(crate) fn lower(&self) {
        self.pending.swap(false, AcqRel);
    }
}

#[cfg(not(valk_loom))]
pub(crate) use waker::ActorWaker;

#[cfg(not(valk_loom))]
mod waker {
    use std::sync::{Arc, Weak};
    use std::task::Wake;

    use super::WakeFlag;
    use crate::api::System;
    use crate::pid::Pid;
    use crate::runtime::{Shared, Waker};
    use crate::signal::{Item, Signal};

    /// A [`std::task::Waker`] for one actor. It holds the runtime weakly: a
    /// wake after the runtime is gone does nothing.
    pub(crate) struct ActorWaker<S: System> {
        pub(crate) shared: Weak<Shared<S>>,
        pub(crate) pid: Pid,
        pub(crate) flag: WakeFlag,
    }

    impl<S: System> ActorWaker<S> {
        pub(crate) fn new(shared: Weak<Shared<S>>, pid: Pid) -> Arc<Self> {
            Arc::new(ActorWaker {
                shared,
                pid,
                flag: WakeFlag::default(),
            })
        }
    }

    impl<S: System> Wake for ActorWaker<S> {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            if !self.flag.raise() {
                return;
            }
            if let Some(shared) = self.shared.upgrade() {
                shared.deliver(self.pid, Item::Sig(Signal::Wake), &mut Waker::Remote);
            }
        }
    }
}
