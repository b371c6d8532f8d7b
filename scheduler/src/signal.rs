//! Signals: what actors tell each other apart from messages (Erlang's
//! `erl_proc_sig_queue`). They share the inbox with messages so that order per
//! sender/receiver pair is kept, but the runtime handles every signal when it
//! takes items from the inbox, before the actor's receive sees any message:
//! an exit signal that kills an actor takes effect before any message queued
//! behind it is delivered.

use crate::api::ExitReason;
use crate::pid::{MonitorRef, Pid};

/// One incoming item: a user message or a signal.
#[derive(Debug)]
pub(crate) enum Item<M, R> {
    Msg(M),
    Sig(Signal<R>),
}

/// Runtime signals between actors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Signal<R> {
    /// `from` exited with `reason` (`linked`: through a link) or called
    /// `exit(pid, reason)` (`linked == false`).
    Exit { from: Pid, reason: R, linked: bool },
    /// `from` linked to us.
    Link { from: Pid },
    /// `from` unlinked from us.
    Unlink { from: Pid },
    /// `from` monitors us under `mref`.
    Monitor { from: Pid, mref: MonitorRef },
    /// The monitor `mref` on us was removed.
    Demonitor { mref: MonitorRef },
    /// The actor we monitored under `mref` ended.
    Down {
        mref: MonitorRef,
        from: Pid,
        reason: R,
    },
    /// The receive timer `token` fired.
    Timeout { token: u64 },
    /// Nothing: makes a parked actor run (a host handed it work outside
    /// its mailbox, see [`Runtime::wake`](crate::Runtime::wake)).
    Wake,
}

/// What an exit signal does to its target (Erlang's rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExitAction<R> {
    /// Nothing (`:normal` to a non-trapping actor, or a stale link).
    Ignore,
    /// Becomes the message `{:EXIT from reason}`.
    Trap,
    /// The target exits with this reason.
    Die(R),
}

/// Erlang's exit-signal rules:
/// - `exit(pid, :kill)` (not through a link) cannot be trapped: the target
///   dies with `:killed`;
/// - a trapping target gets a message for any other signal;
/// - `:normal` is ignored, unless the actor sent it to itself;
/// - any other reason kills the target with that reason.
pub(crate) fn exit_action<R: ExitReason>(
    reason: &R,
    linked: bool,
    trapping: bool,
    to_self: bool,
) -> ExitAction<R> {
    if reason.is_kill() && !linked {
        ExitAction::Die(R::killed())
    } else if reason.untrappable() && !linked {
        ExitAction::Die(reason.clone())
    } else if trapping {
        ExitAction::Trap
    } else if reason.is_normal() && !to_self {
        ExitAction::Ignore
    } else {
        ExitAction::Die(reason.clone())
    }
}

/// An actor's links and monitors, in both directions.
///
/// One vector, not sets or three vectors: almost every actor has zero to two
/// relations, an empty `Vec` costs no allocation, and one `Vec` header
/// instead of three keeps a million idle actors small.
#[derive(Debug, Default)]
pub(crate) struct Relations(Vec<Relation>);

/// One link or monitor of an actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Relation {
    /// Linked with this actor.
    Link(Pid),
    /// A monitor this actor holds on the watched actor.
    Monitoring(MonitorRef, Pid),
    /// A monitor the watching actor holds on this actor.
    Watcher(MonitorRef, Pid),
}

impl Relations {
    pub(crate) fn add_link(&mut self, pid: Pid) {
        if !self.0.contains(&Relation::Link(pid)) {
            self.0.push(Relation::Link(pid));
        }
    }

    /// Removes the link; false if there was none.
    pub(crate) fn remove_link(&mut self, pid: Pid) -> bool {
        self.remove_first(|r| r == Relation::Link(pid)).is_some()
    }

    pub(crate) fn add_monitoring(&mut self, mref: MonitorRef, watched: Pid) {
        self.0.push(Relation::Monitoring(mref, watched));
    }

    pub(crate) fn add_watcher(&mut self, mref: MonitorRef, watcher: Pid) {
        self.0.push(Relation::Watcher(mref, watcher));
    }

    /// Removes a monitor this actor holds; returns the watched pid.
    pub(crate) fn remove_monitoring(&mut self, mref: MonitorRef) -> Option<Pid> {
        match self.remove_first(|r| matches!(r, Relation::Monitoring(m, _) if m == mref))? {
            Relation::Monitoring(_, pid) => Some(pid),
            _ => None,
        }
    }

    pub(crate) fn remove_watcher(&mut self, mref: MonitorRef) {
        self.remove_first(|r| matches!(r, Relation::Watcher(m, _) if m == mref));
    }

    fn remove_first(&mut self, is: impl Fn(Relation) -> bool) -> Option<Relation> {
        let i = self.0.iter().position(|&r| is(r))?;
        Some(self.0.swap_remove(i))
    }

    /// The linked actors.
    #[cfg(valk_loom)]
    pub(crate) fn links(&self) -> impl Iterator<Item = Pid> + '_ {
        self.0.iter().filter_map(|r| match *r {
            Relation::Link(pid) => Some(pid),
            _ => None,
        })
    }

    /// Takes every relation (the actor is exiting).
    pub(crate) fn take(&mut self) -> Vec<Relation> {
        std::mem::take(&mut self.0)
    }

    /// At exit: link and monitor requests that reached the inbox before it
    /// closed still count (their senders will not get a `:noproc` reply), and
    /// unlink/demonitor requests still cancel. Everything else is dropped.
    pub(crate) fn absorb_leftovers<M, R>(&mut self, items: impl IntoIterator<Item = Item<M, R>>) {
        for item in items {
            match item {
                Item::Sig(Signal::Link { from }) => self.add_link(from),
                Item::Sig(Signal::Unlink { from }) => {
                    self.remove_link(from);
                }
                Item::Sig(Signal::Monitor { from, mref }) => self.add_watcher(mref, from),
                Item::Sig(Signal::Demonitor { mref }) => self.remove_watcher(mref),
                _ => {}
            }
        }
    }
}

#[cfg(all(test, not(valk_loom)))]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq)]
    enum R {
        Normal,
        Kill,
        Killed,
        Other,
    }

    impl ExitReason for R {
        fn normal() -> Self {
            R::Normal
        }
        fn kill() -> Self {
            R::Kill
        }
        fn killed() -> Self {
            R::Killed
        }
        fn noproc() -> Self {
            R::Other
        }
        fn panicked(_: String) -> Self {
            R::Other
        }
        fn is_normal(&self) -> bool {
            *self == R::Normal
        }
        fn is_kill(&self) -> bool {
            *self == R::Kill
        }
    }

    #[test]
    fn exit_rules_follow_erlang() {
        use ExitAction::*;
        // exit(pid, :kill): untrappable, target dies :killed.
        assert_eq!(exit_action(&R::Kill, false, true, false), Die(R::Killed));
        // A linked actor that exited with :kill sends a trappable :kill.
        assert_eq!(exit_action(&R::Kill, true, true, false), Trap);
        assert_eq!(exit_action(&R::Normal, true, false, false), Ignore);
        assert_eq!(exit_action(&R::Normal, false, false, true), Die(R::Normal));
        assert_eq!(exit_action(&R::Normal, true, true, false), Trap);
        assert_eq!(exit_action(&R::Other, true, false, false), Die(R::Other));
        assert_eq!(exit_action(&R::Other, true, true, false), Trap);
    }
}
