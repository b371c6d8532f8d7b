//! The link from a running interpreter to its actor's scheduler context.
//!
//! A builtin such as `spawn` needs the scheduler's [`Cx`], which lives on the
//! actor's coroutine stack for the duration of one `Actor::run` call. The
//! pointer is set by [`hosted`] right before the interpreter runs and cleared
//! right after, so it is never read outside that call.

use std::ptr::NonNull;

use valk_scheduler::Cx;

use super::system::ValkSystem;
use crate::Interp;

/// The scheduler context of the slice being run (or none).
#[derive(Default)]
pub(crate) struct HostPtr(Option<NonNull<Cx<'static, ValkSystem>>>);

// SAFETY: the pointer is only set while the owning interpreter runs inside
// `hosted`, on the thread and coroutine that own the `Cx`; it is cleared
// before `hosted` returns, so a moved (idle) interpreter never carries a
// live pointer to another thread.
unsafe impl Send for HostPtr {}

impl HostPtr {
    /// The scheduler context, while the interpreter runs inside [`hosted`].
    pub(crate) fn get(&mut self) -> Option<&mut Cx<'static, ValkSystem>> {
        let p = self.0?;
        // SAFETY: `hosted` set `p` from a `&mut Cx` that outlives the call it
        // wraps and clears it before returning; the interpreter (and so this
        // `HostPtr`) is borrowed mutably by that call, so the only way to
        // reach the `Cx` meanwhile is through here, and the returned borrow
        // is tied to `&mut self`. `Cx::wait`/`yield_now` suspend the
        // coroutine but keep its stack, so the `Cx` stays where it is.
        Some(unsafe { &mut *p.as_ptr() })
    }
}

/// Runs `f` on `it` with builtins able to reach `cx`.
pub fn hosted<R>(
    cx: &mut Cx<'_, ValkSystem>,
    it: &mut Interp,
    f: impl FnOnce(&mut Interp) -> R,
) -> R {
    hosted_with(cx, it, |it| it, f)
}

/// [`hosted`] for an interpreter inside `t` (reached with `get`).
pub fn hosted_with<T, R>(
    cx: &mut Cx<'_, ValkSystem>,
    t: &mut T,
    get: fn(&mut T) -> &mut Interp,
    f: impl FnOnce(&mut T) -> R,
) -> R {
    let p = NonNull::from(cx).cast::<Cx<'static, ValkSystem>>();
    let it = get(t);
    let saved = it.actor.host.0.replace(p);
    let r = f(t);
    get(t).actor.host.0 = saved;
    r
}
