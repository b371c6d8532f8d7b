//! loom models of the scheduler's concurrency protocols.
//!
//! Run with `scripts/loom.sh`. Each model drives the real protocol code
//! (`Inbox`, `Idle`, `Relations`) with loom's atomics and locks.

use std::collections::VecDeque;

use loom::thread;

use crate::idle::Idle;
use crate::mailbox::{AfterRun, Inbox, Push, RunState};
use crate::pid::Pid;
use crate::signal::{Item, Relations, Signal};
use crate::sync::{Arc, AtomicUsize, Mutex, Ordering::SeqCst};

type TestItem = Item<u32, u32>;

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

/// The run-queue hand-off: a task pushed while the only worker is going to
/// sleep is always picked up (loom reports a deadlock if the worker parks
/// forever).
#[test]
fn loom_run_queue_handoff_wakes_idle_worker() {
    loom::model(|| {
        let idle = Arc::new(Idle::new(1));
        let queue: Arc<Mutex<VecDeque<u32>>> = Arc::new(Mutex::new(VecDeque::new()));

        let worker = {
            let (idle, queue) = (idle.clone(), queue.clone());
            thread::spawn(move || {
                idle.start_searching();
                loop {
                    if let Some(task) = queue.lock().pop_front() {
                        idle.found_work();
                        return task;
                    }
                    idle.sleep(0, || !queue.lock().is_empty());
                }
            })
        };

        queue.lock().push_back(7);
        idle.notify_one();
        assert_eq!(worker.join().unwrap(), 7);
        // No wake-up was counted twice or lost its count.
        assert_eq!(idle.searching(), 0);
    });
}

/// Two workers, two tasks pushed: both get run, nobody sleeps on work.
#[test]
fn loom_run_queue_two_workers_no_lost_task() {
    loom::model(|| {
        let idle = Arc::new(Idle::new(2));
        let queue: Arc<Mutex<VecDeque<u32>>> = Arc::new(Mutex::new(VecDeque::new()));
        let done = Arc::new(AtomicUsize::new(0));

        let workers: Vec<_> = (0..2)
            .map(|index| {
                let (idle, queue, done) = (idle.clone(), queue.clone(), done.clone());
                thread::spawn(move || {
                    idle.start_searching();
                    loop {
                        if done.load(SeqCst) == 2 || idle.is_shutdown() {
                            idle.stop_searching();
                            return;
                        }
                        if queue.lock().pop_front().is_some() {
                            idle.found_work();
                            if done.fetch_add(1, SeqCst) == 1 {
                                idle.shutdown();
                            }
                            idle.start_searching();
                            continue;
                        }
                        idle.sleep(index, || !queue.lock().is_empty());
                    }
                })
            })
            .collect();

        queue.lock().push_back(1);
        idle.notify_one();
        queue.lock().push_back(2);
        idle.notify_one();
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(done.load(SeqCst), 2);
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
        let idle = Arc::new(Idle::new(1));
        let queue: Arc<Mutex<VecDeque<u32>>> = Arc::new(Mutex::new(VecDeque::new()));

        let worker = {
            let (idle, queue) = (idle.clone(), queue.clone());
            thread::spawn(move || {
                let mut got = 0;
                idle.start_searching();
                while got < 2 {
                    if queue.lock().pop_front().is_some() {
                        idle.found_work();
                        got += 1;
                        idle.start_searching();
                        continue;
                    }
                    idle.sleep(0, || !queue.lock().is_empty());
                }
                idle.stop_searching();
            })
        };

        for task in 0..2 {
            queue.lock().push_back(task);
            idle.notify_one();
        }
        worker.join().unwrap();
        assert_eq!(idle.searching(), 0);
    });
}
