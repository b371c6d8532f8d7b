//! The protocol behind a Valk future (the runtime's `futures::Cell`): a
//! value set once, and the waiters to tell when it comes. `wait` either
//! answers the value or records the waiter, `resolve` sets the value and
//! hands back every recorded waiter (each once), and `unwait` withdraws a
//! waiter whose await timed out. One lock guards all three, so a waiter is
//! never lost between "no value yet" and "recorded" (modeled in
//! `loom_tests`).

use crate::Mutex;

/// A value set once plus the waiters to tell when it is. `V` is the value
/// (the runtime's `SharedValue`), `W` a waiter's id (the runtime's `Pid`).
pub struct FutureCell<V, W> {
    state: Mutex<State<V, W>>,
}

struct State<V, W> {
    /// The value (an Error value if the future failed).
    value: Option<V>,
    /// The first waiter to tell when the value comes (most futures have one
    /// awaiter: no allocation for it), then the others.
    first: Option<W>,
    /// Boxed: one word while unused (a pending future's memory counts).
    #[allow(clippy::box_collection)]
    more: Option<Box<Vec<W>>>,
}

impl<V, W> Default for FutureCell<V, W> {
    fn default() -> Self {
        FutureCell::new()
    }
}

impl<V, W> core::fmt::Debug for FutureCell<V, W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FutureCell")
            .field("resolved", &self.state.lock().value.is_some())
            .finish()
    }
}

impl<V, W> FutureCell<V, W> {
    /// An unresolved cell with no waiters.
    pub fn new() -> Self {
        FutureCell {
            state: Mutex::new(State {
                value: None,
                first: None,
                more: None,
            }),
        }
    }

    /// Sets the value; the waiters to tell, or `Err(v)` if it was set
    /// already.
    pub fn resolve(&self, v: V) -> Result<Vec<W>, V> {
        let mut s = self.state.lock();
        if s.value.is_some() {
            return Err(v);
        }
        s.value = Some(v);
        let mut waiters = s.more.take().map(|b| *b).unwrap_or_default();
        waiters.extend(s.first.take());
        Ok(waiters)
    }

    /// `f` of the value, if set.
    pub fn with_value<R>(&self, f: impl FnOnce(&V) -> R) -> Option<R> {
        self.state.lock().value.as_ref().map(f)
    }

    /// Is the value set?
    pub fn is_resolved(&self) -> bool {
        self.state.lock().value.is_some()
    }
}

impl<V, W: Copy + PartialEq> FutureCell<V, W> {
    /// `f` of the value if set; else `me` is told when it is (once, however
    /// often it waits).
    pub fn wait<R>(&self, me: W, f: impl FnOnce(&V) -> R) -> Option<R> {
        let mut s = self.state.lock();
        match &s.value {
            Some(v) => Some(f(v)),
            None => {
                if s.first.is_none() {
                    s.first = Some(me);
                } else if s.first != Some(me) {
                    let more = s.more.get_or_insert_with(Box::default);
                    if !more.contains(&me) {
                        more.push(me);
                    }
                }
                None
            }
        }
    }

    /// `me` stops waiting (its await timed out).
    pub fn unwait(&self, me: W) {
        let mut s = self.state.lock();
        let s = &mut *s;
        let more = s.more.as_deref_mut();
        if s.first == Some(me) {
            s.first = more.and_then(Vec::pop);
        } else if let Some(more) = more {
            more.retain(|&p| p != me);
        }
    }
}

#[cfg(all(test, not(valk_loom)))]
mod tests {
    use super::FutureCell;

    #[test]
    fn waiters_are_told_once_and_unwait_withdraws() {
        let c: FutureCell<u32, u8> = FutureCell::new();
        assert_eq!(c.wait(1, |v| *v), None);
        assert_eq!(c.wait(1, |v| *v), None);
        assert_eq!(c.wait(2, |v| *v), None);
        assert_eq!(c.wait(3, |v| *v), None);
        c.unwait(1);
        assert!(!c.is_resolved());
        let mut told = c.resolve(9).unwrap();
        told.sort();
        assert_eq!(told, vec![2, 3]);
        assert_eq!(c.resolve(10), Err(10));
        assert_eq!(c.wait(4, |v| *v), Some(9));
        assert_eq!(c.with_value(|v| v + 1), Some(10));
    }
}
