//! Calls in progress (`server/call`): who waits on a reply from whom, for
//! deadlock detection. Each actor waits on at most one call, so the graph
//! is a set of chains; a call that would close a chain into a cycle is
//! refused at once (`call/enter`), so no cycle is ever stored and a walk
//! along a chain always ends.

use std::collections::HashMap;

use valk_scheduler::Pid;
use valk_sync::{AtomicUsize, Mutex, Ordering};

#[derive(Default)]
pub struct Calls {
    waits: Mutex<HashMap<Pid, Pid>>,
    /// `waits.len()`, readable without the lock: every actor's exit asks
    /// (`forget`), and most programs have no call in progress.
    len: AtomicUsize,
}

impl Calls {
    /// `me` starts waiting on a call to `to`. `Err(cycle)`: `to` already
    /// waits, through calls in progress, on `me`; the cycle is `me`, `to`,
    /// ..., `me`.
    pub fn enter(&self, me: Pid, to: Pid) -> Result<(), Vec<Pid>> {
        let mut waits = self.waits.lock();
        let mut cycle = vec![me, to];
        let mut at = to;
        while at != me {
            match waits.get(&at) {
                Some(&next) => {
                    cycle.push(next);
                    at = next;
                }
                None => {
                    waits.insert(me, to);
                    self.len.store(waits.len(), Ordering::Release);
                    return Ok(());
                }
            }
            // No stored cycle exists, so this bounds only a broken table.
            if cycle.len() > waits.len() + 2 {
                break;
            }
        }
        Err(cycle)
    }

    /// `me`'s call is over (replied, failed or timed out).
    pub fn leave(&self, me: Pid) {
        let mut waits = self.waits.lock();
        waits.remove(&me);
        self.len.store(waits.len(), Ordering::Release);
    }

    /// `pid` ended: it waits on nothing.
    pub fn forget(&self, pid: Pid) {
        if self.len.load(Ordering::Acquire) > 0 {
            self.leave(pid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(n: u64) -> Pid {
        Pid::from_u64(n)
    }

    #[test]
    fn a_call_closing_a_cycle_is_refused_with_the_cycle() {
        let calls = Calls::default();
        assert_eq!(calls.enter(pid(1), pid(2)), Ok(()));
        assert_eq!(calls.enter(pid(2), pid(3)), Ok(()));
        assert_eq!(
            calls.enter(pid(3), pid(1)),
            Err(vec![pid(3), pid(1), pid(2), pid(3)])
        );
        assert_eq!(calls.enter(pid(4), pid(4)), Err(vec![pid(4), pid(4)]));
        // Once 2's call is over the chain is broken.
        calls.leave(pid(2));
        assert_eq!(calls.enter(pid(3), pid(1)), Ok(()));
        calls.forget(pid(1));
        assert_eq!(calls.enter(pid(2), pid(3)), Ok(()));
    }
}
