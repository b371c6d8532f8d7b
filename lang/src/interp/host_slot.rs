//! Where a running interpreter finds its [`Host`]: a pointer installed by
//! [`Interp::with_host`](super::Interp::with_host) for the duration of one
//! call and cleared before it returns. The crate's only `unsafe`.

use std::ptr::NonNull;

use crate::host::{Host, NoHost};

/// The host of the call in progress (or none).
#[derive(Default)]
pub(crate) struct HostSlot(Option<NonNull<dyn Host>>);

// SAFETY: the pointer is only set while the owning interpreter runs inside
// `with_host`, on the thread that owns the host object; it is cleared (put
// back to what it was) before `with_host` returns, so an idle interpreter
// moved to another thread carries no live pointer.
unsafe impl Send for HostSlot {}

impl HostSlot {
    /// The installed host, or a host-less stand-in.
    #[inline]
    pub(crate) fn get(&mut self) -> &mut dyn Host {
        match self.0 {
            // SAFETY: `install` took the pointer from a `&mut dyn Host` that
            // outlives the `with_host` call it belongs to, and the slot is
            // restored before that call returns. The interpreter (owner of
            // this slot) is borrowed mutably by that call, so the only way
            // to the host meanwhile is through here, and the borrow handed
            // out is tied to `&mut self`.
            Some(p) => unsafe { &mut *p.as_ptr() },
            // A zero-sized value: leaking it allocates nothing.
            None => Box::leak(Box::new(NoHost)),
        }
    }

    /// Is a host installed?
    pub(crate) fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// Installs `host`; returns what was installed before (to restore).
    pub(crate) fn install(&mut self, host: &mut dyn Host) -> Option<NonNull<dyn Host>> {
        self.0.replace(NonNull::from(host))
    }

    /// Puts back what [`HostSlot::install`] returned.
    pub(crate) fn restore(&mut self, prev: Option<NonNull<dyn Host>>) {
        self.0 = prev;
    }
}
