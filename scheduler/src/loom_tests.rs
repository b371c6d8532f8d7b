//! loom models of the scheduler's concurrency protocols.
//!
//! Run with `scripts/loom.sh`. Each model drives the real protocol code
//! (`Inbox`, `Idle`, `Relations`, the run queues' `Queues` / `LocalQueue`
//! with their LIFO slot, injector and search/park loop, the shutdown `Gate`)
//! with loom's atomics and locks. Only crossbeam-deque, which loom cannot
//! check, is replaced by the mutex-based stand-in in `queue/deque.rs`.

use std::collections::VecDeque;

use loom::thread;

use crate::api::ExitReason;
use crate::gate::Gate;
use crate::mailbox::{AfterRun, Inbox, Push, RunState};
use crate::pid::Pid;
use crate::queue::run_queue::{LocalQueue, Queues};
use crate::signal::{exit_action, ExitAction, Item, Relations, Signal};
use crate::sync::{Arc, AtomicUsize, Ordering::SeqCst};

type TestItem = Item<u32, u32>;

/// The shared run queues of `workers` workers and each worker's own queue.
fn run_queues(workers: usize) -> (Arc<Queues<u32>>, Vec<LocalQueue<u32>>) {
    let (queues, locals) = Queues::new(workers);
    (Arc::new(queues), locals)
}

/// A sender racing with the actor parking: the message is either taken by
/// the running actor or the actor ends up scheduled exactly once; it never
/// sleeps on a message.
#[test]
fn loom_mailbox_wake_is_never_lost() {
    loom::model(|| {
        let inbox: Arc<Inbox<TestItem, ()>> =
            Arc::new(Inbox::with_state(0, RunState::Running, None));
        let scheduled = Arc::new(AtomicUsize::new(0));

        let sender = {
            let (inbox, scheduled) = (inbox.clone(), scheduled.clone());
            thread::spawn(move || match inbox.push(0, Item::Msg(1), true) {
                Push::Schedule => {
                    scheduled.fetch_add(1, SeqCst);
                }
                Push::Queued => {}
                Push::Rejected(_) => panic!("live actor rejected a message"),
            })
        };

        // The running actor: one receive, then park.
        let mut items = VecDeque::new();
        inbox.drain(&mut items);
        let mut consumed = items.len();
        let requeued = inbox.finish_run((), false) == AfterRun::Requeue;

        sender.join().unwrap();
        let scheduled = scheduled.load(SeqCst) + usize::from(requeued);
        if consumed == 0 {
            assert_eq!(
                scheduled, 1,
                "message arrived but nobody scheduled the actor"
            );
            let mut items = VecDeque::new();
            assert!(inbox.begin_run(&mut items).is_some());
            consumed = items.len();
        } else {
            assert_eq!(scheduled, 0, "scheduled with nothing to do");
        }
        assert_eq!(consumed, 1);
    });
}

/// Two senders wake a waiting actor: exactly one of them schedules it.
#[test]
fn loom_mailbox_two_senders_schedule_once() {
    loom::model(|| {
        let inbox: Arc<Inbox<TestItem, ()>> =
            Arc::new(Inbox::with_state(0, RunState::Waiting, Some(())));
        let scheduled = Arc::new(AtomicUsize::new(0));
        let senders: Vec<_> = (0..2)
            .map(|i| {
                let (inbox, scheduled) = (inbox.clone(), scheduled.clone());
                thread::spawn(move || {
                    if let Push::Schedule = inbox.push(0, Item::Msg(i), true) {
                        scheduled.fetch_add(1, SeqCst);
                    }
                })
            })
            .collect();
        for s in senders {
            s.join().unwrap();
        }
        assert_eq!(scheduled.load(SeqCst), 1);
        let mut items = VecDeque::new();
        assert!(inbox.begin_run(&mut items).is_some());
        assert_eq!(items.len(), 2);
    });
}

/// The run-queue hand-off: a task pushed from outside (injector) while the
/// only worker is going to sleep is always picked up (loom reports a
/// deadlock if the worker parks forever). The worker runs the real
/// `LocalQueue::next_task` (local queues, search, park).
#[test]
fn loom_run_queue_handoff_wakes_idle_worker() {
    loom::model(|| {
        let (queues, mut locals) = run_queues(1);
        let mut local = locals.pop().expect("one worker");
        let worker = {
            let queues = queues.clone();
            thread::spawn(move || local.next_task(&queues))
        };
        queues.push_remote(7);
        assert_eq!(worker.join().unwrap(), Some(7));
        // No wake-up was counted twice or lost its count.
        assert_eq!(queues.idle.searching(), 0);
    });
}

/// Two workers, two tasks pushed from outside: both get run (each once),
/// nobody sleeps on work, and shutdown ends both worker loops.
#[test]
fn loom_run_queue_two_workers_no_lost_task() {
    loom::model(|| {
        let (queues, locals) = run_queues(2);
        let done = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = locals
            .into_iter()
            .map(|mut local| {
                let (queues, done) = (queues.clone(), done.clone());
                thread::spawn(move || {
                    while let Some(task) = local.next_task(&queues) {
                        // Each task sets its own bit: a task run twice shows.
                        let before = done.fetch_or(1 << task, SeqCst);
                        assert_eq!(before & (1 << task), 0, "task {task} ran twice");
                        if before | (1 << task) == 0b11 {
                            queues.idle.shutdown();
                        }
                    }
                })
            })
            .collect();
        queues.push_remote(0);
        queues.push_remote(1);
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(done.load(SeqCst), 0b11);
    });
}

/// A running worker wakes two actors: one into its LIFO slot, one into its
/// deque (which wakes the other, sleeping worker, who may steal it). Both
/// run exactly once; the LIFO occupant is never lost or stolen.
#[test]
fn loom_run_queue_lifo_and_local_hand_off() {
    loom::model(|| {
        let (queues, mut locals) = run_queues(2);
        let mut other = locals.pop().expect("worker 1");
        let mut this = locals.pop().expect("worker 0");
        let done = Arc::new(AtomicUsize::new(0));
        let run = |task: u32, queues: &Queues<u32>, done: &AtomicUsize| {
            let before = done.fetch_or(1 << task, SeqCst);
            assert_eq!(before & (1 << task), 0, "task {task} ran twice");
            if before | (1 << task) == 0b111 {
                queues.idle.shutdown();
            }
        };
        let stealer = {
            let (queues, done) = (queues.clone(), done.clone());
            thread::spawn(move || {
                let mut ran = Vec::new();
                while let Some(task) = other.next_task(&queues) {
                    ran.push(task);
                    run(task, &queues, &done);
                }
                ran
            })
        };
        // Worker 0 is running task 0, which wakes tasks 1 (LIFO) and 2.
        run(0, &queues, &done);
        this.schedule_lifo(&queues, 1);
        this.schedule_local(&queues, 2);
        let mut ran = Vec::new();
        while let Some(task) = this.next_task(&queues) {
            ran.push(task);
            run(task, &queues, &done);
        }
        assert_eq!(ran.first(), Some(&1), "the LIFO slot runs next, here");
        let stolen = stealer.join().unwrap();
        assert!(!stolen.contains(&1), "the LIFO slot is not stealable");
        assert_eq!(done.load(SeqCst), 0b111);
    });
}

/// `link` racing with the target's own exit: the linker learns of the exit
/// exactly once, either from the exit propagation (its Link signal got in
/// before the inbox closed) or from the `:noproc` reply to a rejected Link.
#[test]
fn loom_link_racing_with_exit_is_answered_once() {
    loom::model(|| {
        let linker = Pid::new(1, 0);
        let target: Arc<Inbox<TestItem, ()>> =
            Arc::new(Inbox::with_state(0, RunState::Running, None));
        let told = Arc::new(AtomicUsize::new(0));

        let link = {
            let (target, told) = (target.clone(), told.clone());
            thread::spawn(move || {
                if let Push::Rejected(Item::Sig(Signal::Link { from })) =
                    target.push(0, Item::Sig(Signal::Link { from: linker }), false)
                {
                    assert_eq!(from, linker);
                    told.fetch_add(1, SeqCst); // the :noproc reply
                }
            })
        };

        // The target exits: close the inbox, absorb pending link requests,
        // notify every link.
        let mut rel = Relations::default();
        rel.absorb_leftovers(target.exit());
        let propagated = rel.links().filter(|&p| p == linker).count();
        told.fetch_add(propagated, SeqCst);

        link.join().unwrap();
        assert_eq!(told.load(SeqCst), 1);
    });
}

/// A worker that sleeps, is woken, and sleeps again while notifications race:
/// the counters stay exact (a stale unpark token would let it wake without
/// being counted as searching, underflowing `searching` and silencing every
/// later notification).
#[test]
fn loom_idle_counters_stay_exact_across_two_sleeps() {
    loom::model(|| {
        let (queues, mut locals) = run_queues(1);
        let mut local = locals.pop().expect("one worker");
        let worker = {
            let queues = queues.clone();
            thread::spawn(move || {
                let first = local.next_task(&queues);
                let second = local.next_task(&queues);
                (first, second)
            })
        };
        for task in 0..2 {
            queues.push_remote(task);
        }
        assert_eq!(worker.join().unwrap(), (Some(0), Some(1)));
        assert_eq!(queues.idle.searching(), 0);
    });
}

/// A message that counts its drops.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Shutdown closing an inbox while a sender pushes: the message is either
/// in the items shutdown takes (and drops) or rejected back to the sender
/// (who drops it), never both, never neither; later pushes are rejected.
#[test]
fn loom_send_racing_with_shutdown_is_delivered_or_rejected_once() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let inbox: Arc<Inbox<Item<Counted, u32>, ()>> =
            Arc::new(Inbox::with_state(0, RunState::Waiting, Some(())));
        let sender = {
            let (inbox, drops) = (inbox.clone(), drops.clone());
            thread::spawn(
                move || match inbox.push(0, Item::Msg(Counted(drops)), true) {
                    Push::Rejected(item) => {
                        drop(item);
                        true
                    }
                    Push::Schedule | Push::Queued => false,
                },
            )
        };
        // Shutdown: the body and the pending items go.
        let (body, items) = inbox.close();
        assert!(body.is_some());
        let delivered = items.len();
        drop(items);
        let rejected = sender.join().unwrap();
        assert_eq!(delivered + usize::from(rejected), 1);
        assert_eq!(drops.load(SeqCst), 1, "dropped exactly once");
        let late = Counted(drops.clone());
        assert!(matches!(
            inbox.push(0, Item::Msg(late), true),
            Push::Rejected(_)
        ));
        assert_eq!(drops.load(SeqCst), 2);
    });
}

/// A spawn from outside fills in a recycled control block's state while
/// shutdown clears every state: the gate keeps the two apart (loom's
/// `UnsafeCell` reports any concurrent access), and a spawn after the close
/// is refused.
#[test]
fn loom_spawn_racing_with_shutdown_never_touches_a_cleared_state() {
    loom::model(|| {
        let gate = Arc::new(Gate::default());
        let state = Arc::new(loom::cell::UnsafeCell::new(0u32));
        let spawner = {
            let (gate, state) = (gate.clone(), state.clone());
            thread::spawn(move || {
                let Some(_pass) = gate.enter() else {
                    return false;
                };
                // SAFETY: inside the gate, shutdown does not touch the state
                // (what this model checks).
                state.with_mut(|s| unsafe { *s = 1 });
                true
            })
        };
        gate.close();
        gate.wait_empty();
        // SAFETY: closed and empty: no spawner is inside (checked by loom).
        let seen = state.with_mut(|s| unsafe { std::mem::replace(&mut *s, 0) });
        let spawned = spawner.join().unwrap();
        assert_eq!(seen, u32::from(spawned), "a finished spawn is visible");
        assert!(gate.enter().is_none(), "closed for good");
    });
}

#[derive(Clone, Debug, PartialEq)]
enum R {
    Normal,
    Kill,
    Killed,
    NoProc,
    Crash,
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
        R::NoProc
    }
    fn panicked(_: String) -> Self {
        R::Crash
    }
    fn is_normal(&self) -> bool {
        *self == R::Normal
    }
    fn is_kill(&self) -> bool {
        *self == R::Kill
    }
}

/// Link and exit delivery, end to end through two real inboxes: the linker
/// (parked, waiting) sends `Link` to a target that crashes at the same time.
/// The linker's inbox gets exactly one exit signal, which schedules it
/// exactly once: the target's exit propagation (`Crash`) if the link got in
/// before the target's inbox closed, else the `:noproc` answer to the
/// rejected link; applied by the linker, it kills it.
#[test]
fn loom_link_exit_is_delivered_once_and_wakes_the_linker() {
    loom::model(|| {
        let (linker, target) = (Pid::new(1, 0), Pid::new(2, 0));
        let linker_inbox: Arc<Inbox<Item<u32, R>, ()>> = Arc::new(Inbox::with_state(
            linker.to_u64(),
            RunState::Waiting,
            Some(()),
        ));
        let target_inbox: Arc<Inbox<Item<u32, R>, ()>> =
            Arc::new(Inbox::with_state(target.to_u64(), RunState::Running, None));
        let scheduled = Arc::new(AtomicUsize::new(0));
        // What `Shared::deliver` does with an exit signal for the linker.
        let deliver_exit = move |inbox: &Inbox<Item<u32, R>, ()>, from: Pid, reason: R| {
            let exit = Signal::Exit {
                from,
                reason,
                linked: true,
            };
            match inbox.push(linker.to_u64(), Item::Sig(exit), false) {
                Push::Schedule => 1,
                Push::Queued => 0,
                Push::Rejected(_) => panic!("the linker is alive"),
            }
        };

        // The linker's side of `Cx::link` (its own relation is set first);
        // a rejected request is answered with `:noproc` from the target.
        let mut linker_rel = Relations::default();
        linker_rel.add_link(target);
        let link = {
            let (target_inbox, linker_inbox, scheduled) = (
                target_inbox.clone(),
                linker_inbox.clone(),
                scheduled.clone(),
            );
            thread::spawn(move || {
                let request = Item::Sig(Signal::Link { from: linker });
                if let Push::Rejected(_) = target_inbox.push(target.to_u64(), request, false) {
                    let n = deliver_exit(&linker_inbox, target, R::noproc());
                    scheduled.fetch_add(n, SeqCst);
                }
            })
        };

        // The target crashes: close, absorb pending requests, tell the links.
        let mut rel = Relations::default();
        rel.absorb_leftovers(target_inbox.exit());
        for to in rel.links().collect::<Vec<_>>() {
            assert_eq!(to, linker);
            let n = deliver_exit(&linker_inbox, target, R::Crash);
            scheduled.fetch_add(n, SeqCst);
        }
        link.join().unwrap();

        assert_eq!(scheduled.load(SeqCst), 1, "woken exactly once");
        let mut items = VecDeque::new();
        assert!(linker_inbox.begin_run(&mut items).is_some());
        assert_eq!(items.len(), 1, "one exit signal");
        let Some(Item::Sig(Signal::Exit {
            from,
            reason,
            linked,
        })) = items.pop_front()
        else {
            panic!("not an exit signal");
        };
        assert_eq!(from, target);
        // Applied as `ActorState::apply` does: through the link, it kills.
        assert!(linked && linker_rel.remove_link(from));
        match exit_action(&reason, linked, false, false) {
            ExitAction::Die(R::Crash | R::NoProc) => {}
            other => panic!("linker not killed: {other:?}"),
        }
    });
}

/// `Cx::await_future`'s wake-up (`future.rs`): an actor lowers its
/// `WakeFlag`, polls (reads the future's state) and parks, while two
/// wakers each complete half of the future and wake it (the second one
/// perhaps finding the flag already up). Whatever the interleaving, the
/// actor either sees the future complete in a poll or is scheduled again
/// and sees it then: never parked with nobody to wake it.
#[test]
fn loom_future_wake_is_never_lost_and_coalesced() {
    use crate::future::WakeFlag;
    loom::model(|| {
        let inbox: Arc<Inbox<TestItem, ()>> =
            Arc::new(Inbox::with_state(0, RunState::Running, None));
        let flag = Arc::new(WakeFlag::default());
        let done = Arc::new(AtomicUsize::new(0));
        let scheduled = Arc::new(AtomicUsize::new(0));
        let mut wakers: Vec<_> = (0..2)
            .map(|_| {
                let (inbox, flag, done, scheduled) =
                    (inbox.clone(), flag.clone(), done.clone(), scheduled.clone());
                thread::spawn(move || {
                    // The future's state changes, then its waker runs.
                    done.fetch_add(1, SeqCst);
                    if flag.raise() {
                        if let Push::Schedule = inbox.push(0, Item::Sig(Signal::Wake), false) {
                            scheduled.fetch_add(1, SeqCst);
                        }
                    }
                })
            })
            .collect();

        // The actor: poll until the future is complete (both halves).
        let mut polls = 0;
        loop {
            flag.lower();
            polls += 1;
            if done.load(SeqCst) == 2 {
                break;
            }
            // Pending: park (nothing drains the inbox between the
            // worker's `begin_run` and the park); run again if scheduled.
            let mut items = VecDeque::new();
            if inbox.finish_run((), false) == AfterRun::Requeue {
                assert!(inbox.begin_run(&mut items).is_some());
                continue;
            }
            // Parked: once every waker is done, one of them must have
            // scheduled it.
            for w in wakers.drain(..) {
                w.join().unwrap();
            }
            assert_eq!(
                scheduled.swap(0, SeqCst),
                1,
                "parked with nobody to wake it, or scheduled twice"
            );
            assert!(inbox.begin_run(&mut items).is_some());
        }
        for w in wakers {
            w.join().unwrap();
        }
        assert!(polls <= 3, "polled {polls} times for two wake-ups");
    });
}
