//! Mailboxes: the shared inbox (multi-producer, with the park/wake protocol)
//! and the private queue the actor's receive scans (with a save position).
//!
//! # The inbox protocol
//!
//! One mutex guards an actor's run state, its incoming items (messages and
//! signals in arrival order) and, while the actor is not running, its body
//! (state + code). Because all three change together, no wake-up can be lost:
//!
//! 1. A sender locks, appends its item, and looks at the state: `Waiting`
//!    becomes `Queued` and the sender must put the actor on a run queue;
//!    `Queued` / `Running` need nothing (the item will be seen); `Exited`
//!    rejects the item (the sender handles link/monitor replies).
//! 2. A worker that pops the actor locks, takes the body and the pending items
//!    and sets `Running`. Exactly one worker can do so, because only the
//!    `Waiting -> Queued` transition puts the actor on a queue.
//! 3. While running, `receive` may take newly arrived items (`drain`).
//! 4. When the actor parks, the worker locks and stores the body back. If items
//!    arrived since the last drain, the actor is `Queued` again and requeued
//!    by the worker; otherwise it is `Waiting` and the next sender wakes it.
//! 5. When it exits, the state becomes `Exited` and the leftover items are
//!    returned so pending link/monitor requests get their answer.
//! 6. Control blocks are recycled: `reopen` gives an exited inbox to a new
//!    actor under a new `key` (its pid). A push names the key it expects, and
//!    a mismatch is an `Exited` actor, so an old pid never reaches the new
//!    occupant even though senders find the block without any other lock.

use std::collections::VecDeque;

use core::sync::atomic::Ordering::Relaxed as StaticRelaxed;
use valk_sync::statics::AtomicUsize as StaticUsize;

use crate::sync::{
    AtomicBool, Mutex,
    Ordering::{Acquire, Relaxed, Release},
};

/// Scheduling state of one actor.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum RunState {
    /// Parked; the next item wakes it.
    Waiting,
    /// On a run queue (exactly once).
    Queued,
    /// A worker holds its body.
    Running,
    /// Dead: items are rejected.
    Exited,
}

/// Outcome of [`Inbox::push`].
#[derive(Debug)]
pub(crate) enum Push<T> {
    /// Appended; the actor is already queued or running.
    Queued,
    /// Appended; the actor was waiting and the caller must schedule it.
    Schedule,
    /// The actor has exited; the item comes back.
    Rejected(T),
}

/// Outcome of [`Inbox::finish_run`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterRun {
    /// Parked: a sender will wake it.
    Parked,
    /// Must go back on a run queue (yielded, or items arrived meanwhile).
    Requeue,
}

struct InboxInner<T, B> {
    /// Which actor owns the inbox now (its pid as a `u64`).
    key: u64,
    state: RunState,
    items: VecDeque<T>,
    /// Messages (not signals) among `items`, for `mailbox_len`.
    messages: usize,
    body: Option<B>,
}

/// The shared half of a mailbox. `T`: incoming item; `B`: the actor's body.
pub(crate) struct Inbox<T, B> {
    inner: Mutex<InboxInner<T, B>>,
    /// `!items.is_empty()`, written under the lock, so that a running actor
    /// whose receive finds nothing new (`drain`) needs no lock. Reading a
    /// stale `false` is harmless: `finish_run` looks at the items under the
    /// lock and requeues the actor.
    has_items: AtomicBool,
}

impl<T, B> Inbox<T, B> {
    /// A new actor `key`, already `Queued` (the spawner puts it on a run queue).
    pub(crate) fn new_queued(key: u64, body: B) -> Self {
        Self::with_state(key, RunState::Queued, Some(body))
    }

    pub(crate) fn with_state(key: u64, state: RunState, body: Option<B>) -> Self {
        Inbox {
            inner: Mutex::new(InboxInner {
                key,
                state,
                items: VecDeque::new(),
                messages: 0,
                body,
            }),
            has_items: AtomicBool::new(false),
        }
    }

    /// Step 1: append an item for actor `key` (`is_message`: counts toward
    /// `mailbox_len`). Rejected if the inbox now belongs to another actor.
    #[inline]
    pub(crate) fn push(&self, key: u64, item: T, is_message: bool) -> Push<T> {
        let mut inner = self.inner.lock();
        match inner.state {
            _ if inner.key != key => Push::Rejected(item),
            RunState::Exited => Push::Rejected(item),
            state => {
                // No memory to queue a message: it is dropped, as if the
                // receiver were gone (its own queue fails next and ends it).
                if is_message && inner.items.try_reserve(1).is_err() {
                    return Push::Rejected(item);
                }
                inner.items.push_back(item);
                inner.messages += usize::from(is_message);
                self.has_items.store(true, Release);
                if state == RunState::Waiting {
                    inner.state = RunState::Queued;
                    Push::Schedule
                } else {
                    Push::Queued
                }
            }
        }
    }

    /// Step 2: take the body and swap the pending items into `into` (which
    /// must be empty; its capacity is recycled). `None` if not `Queued`.
    #[inline]
    pub(crate) fn begin_run(&self, into: &mut VecDeque<T>) -> Option<B> {
        let mut inner = self.inner.lock();
        if inner.state != RunState::Queued {
            return None;
        }
        let body = inner.body.take()?;
        inner.state = RunState::Running;
        // Swapping an empty queue would give `into`'s buffer away to this
        // inbox (a fresh actor's first run): the worker keeps it instead.
        if !inner.items.is_empty() {
            std::mem::swap(&mut inner.items, into);
            inner.messages = 0;
            self.has_items.store(false, Relaxed);
        }
        Some(body)
    }

    /// Step 6: hands an exited inbox to the new actor `key`, `Queued` with
    /// `body`. Returns false (and changes nothing) unless it was `Exited`.
    pub(crate) fn reopen(&self, key: u64, body: B) -> bool {
        let mut inner = self.inner.lock();
        if inner.state != RunState::Exited {
            return false;
        }
        inner.key = key;
        inner.state = RunState::Queued;
        inner.items.clear();
        inner.messages = 0;
        self.has_items.store(false, Relaxed);
        inner.body = Some(body);
        true
    }

    /// Whether items may have arrived since the last `begin_run` / `drain`
    /// (no lock; a stale `false` is caught by `finish_run`).
    #[inline]
    pub(crate) fn may_have_items(&self) -> bool {
        self.has_items.load(Acquire)
    }

    /// Step 3: while running, swap newly arrived items into `into` (empty).
    pub(crate) fn drain(&self, into: &mut VecDeque<T>) {
        if !self.may_have_items() {
            return;
        }
        let mut inner = self.inner.lock();
        if !inner.items.is_empty() {
            std::mem::swap(&mut inner.items, into);
            inner.messages = 0;
            self.has_items.store(false, Relaxed);
        }
    }

    /// Step 4: store the body back. `requeue` forces a requeue (a yield).
    #[inline]
    pub(crate) fn finish_run(&self, body: B, requeue: bool) -> AfterRun {
        let mut inner = self.inner.lock();
        inner.body = Some(body);
        if requeue || !inner.items.is_empty() {
            inner.state = RunState::Queued;
            AfterRun::Requeue
        } else {
            inner.state = RunState::Waiting;
            AfterRun::Parked
        }
    }

    /// Step 5: the actor is dead; every later push is rejected. Returns the
    /// items that arrived before.
    pub(crate) fn exit(&self) -> VecDeque<T> {
        let mut inner = self.inner.lock();
        inner.state = RunState::Exited;
        inner.messages = 0;
        self.has_items.store(false, Relaxed);
        std::mem::take(&mut inner.items)
    }

    /// Shutdown only: mark exited and hand out whatever body is stored.
    pub(crate) fn close(&self) -> (Option<B>, VecDeque<T>) {
        let mut inner = self.inner.lock();
        inner.state = RunState::Exited;
        self.has_items.store(false, Relaxed);
        (inner.body.take(), std::mem::take(&mut inner.items))
    }

    /// Run state and pending messages of actor `key`; `None` if the inbox
    /// belongs to another actor now.
    pub(crate) fn state_of(&self, key: u64) -> Option<(RunState, usize)> {
        let inner = self.inner.lock();
        (inner.key == key).then_some((inner.state, inner.messages))
    }

    /// Messages waiting in the inbox (not yet moved to the private queue).
    pub(crate) fn pending_messages(&self) -> usize {
        self.inner.lock().messages
    }

    /// The owner's key, unless it has exited.
    pub(crate) fn live_key(&self) -> Option<u64> {
        let inner = self.inner.lock();
        (inner.state != RunState::Exited).then_some(inner.key)
    }
}

/// Bytes queued in every mailbox of the process, as published: a signed
/// figure in wrapping arithmetic (one thread may publish a removal before
/// another publishes the push), batched per thread like the heap's count.
static QUEUED: StaticUsize = StaticUsize::new(0);

/// A thread publishes its balance once it moved by this much (256 KiB).
const FLUSH_BYTES: isize = 256 << 10;

std::thread_local! {
    static UNPUBLISHED: core::cell::Cell<isize> = const { core::cell::Cell::new(0) };
}

fn account(delta: isize) {
    let batched = UNPUBLISHED.try_with(|b| {
        let v = b.get() + delta;
        if v.abs() >= FLUSH_BYTES {
            QUEUED.fetch_add(v as usize, StaticRelaxed);
            b.set(0);
        } else {
            b.set(v);
        }
    });
    if batched.is_err() {
        QUEUED.fetch_add(delta as usize, StaticRelaxed);
    }
}

/// Bytes held by messages queued in the private mailboxes of every actor
/// of the process ([`Mailbox::bytes`]), within 256 KiB per thread: the
/// memory governor adds it to the heap's figure.
pub fn queued_message_bytes() -> usize {
    usize::try_from(QUEUED.load(StaticRelaxed) as isize).unwrap_or(0)
}

/// Largest private-queue buffer kept when a control block is recycled.
const RECYCLED_CAPACITY: usize = 16;

/// The private message queue of a running actor, with a save position:
/// messages before `save` were already rejected by the current receive and are
/// not offered to it again when the actor wakes up for a new message.
///
/// It also weighs itself ([`Mailbox::bytes`], counted against the actor's
/// heap limit, and in the process-wide [`queued_message_bytes`]): every
/// queued message's slot, plus the memory (`System::message_bytes`,
/// measured when it arrives) of each message no receive has been offered
/// yet: those from `counted_from` on. An offered message's memory is the
/// receiver's business (the Valk host adopts it into its heap at once,
/// where the heap counts it), so offering one stops counting that part.
#[derive(Debug)]
pub(crate) struct Mailbox<M> {
    queue: VecDeque<M>,
    save: usize,
    /// Messages from this index on were never offered and are counted.
    counted_from: usize,
    /// Their memory (`size`), slots not included.
    bytes: usize,
    size: fn(&M) -> usize,
}

impl<M> Default for Mailbox<M> {
    fn default() -> Self {
        Mailbox::with_size(|_| 0)
    }
}

impl<M> Mailbox<M> {
    /// An empty mailbox whose messages weigh `size` bytes each.
    pub(crate) fn with_size(size: fn(&M) -> usize) -> Self {
        Mailbox {
            queue: VecDeque::new(),
            save: 0,
            counted_from: 0,
            bytes: 0,
            size,
        }
    }

    /// Queues `msg`; gives it back if the queue cannot grow (the system
    /// refused the memory): the caller ends the actor.
    pub(crate) fn try_push(&mut self, msg: M) -> Result<(), M> {
        if self.queue.try_reserve(1).is_err() {
            return Err(msg);
        }
        self.push(msg);
        Ok(())
    }

    pub(crate) fn push(&mut self, msg: M) {
        let bytes = (self.size)(&msg);
        self.bytes += bytes;
        account((bytes + Self::SLOT) as isize);
        self.queue.push_back(msg);
    }

    /// What one queued message takes in the queue itself.
    const SLOT: usize = core::mem::size_of::<M>();

    /// Bytes the queue holds: every message's slot, and the memory of
    /// those never offered to a receive.
    pub(crate) fn bytes(&self) -> usize {
        self.queue.len() * Self::SLOT + self.bytes
    }

    /// Bookkeeping for the message at `i` leaving the queue.
    fn removing(&mut self, i: usize) {
        let mut freed = Self::SLOT;
        if i >= self.counted_from {
            let bytes = (self.size)(&self.queue[i]);
            self.bytes -= bytes;
            freed += bytes;
        } else {
            self.counted_from -= 1;
        }
        account(-(freed as isize));
    }

    /// Every message leaves (the queue is emptied or dropped).
    fn removing_all(&mut self) {
        account(-(self.bytes() as isize));
        self.counted_from = 0;
        self.bytes = 0;
    }

    /// Offers the messages after the save position, oldest first, to
    /// `matches`; removes and returns the first accepted one. On a match the
    /// receive is over and the save position goes back to the start; with no
    /// match it moves to the end, so the next call only sees newer messages.
    pub(crate) fn take_matching(&mut self, matches: &mut dyn FnMut(&M) -> bool) -> Option<M> {
        let found = (self.save..self.queue.len()).find(|&i| matches(&self.queue[i]));
        if let Some(i) = found {
            self.removing(i);
        }
        match found {
            Some(0) => {
                self.save = 0;
                self.queue.pop_front()
            }
            Some(i) => {
                self.save = 0;
                self.queue.remove(i)
            }
            None => {
                self.save = self.queue.len();
                None
            }
        }
    }

    /// The message at the save position, which then moves past it: the
    /// step-by-step form of a receive ([`Cx::receive_next`]). The message
    /// stays queued (the caller may inspect or transform it in place) and is
    /// not offered again until the receive ends. `None` when every queued
    /// message has been offered.
    ///
    /// [`Cx::receive_next`]: crate::Cx::receive_next
    pub(crate) fn next_unscanned(&mut self) -> Option<&mut M> {
        let at = self.save;
        let msg = self.queue.get_mut(at)?;
        self.save += 1;
        if at >= self.counted_from {
            // Offered now: from here on the receiver accounts for it. The
            // messages before it were offered before (offers go in order).
            let bytes = (self.size)(msg);
            self.bytes -= bytes;
            account(-(bytes as isize));
            self.counted_from = at + 1;
        }
        Some(msg)
    }

    /// Ends the receive by taking the message `next_unscanned` offered last
    /// (the one just before the save position); the save position goes back
    /// to the start. `None` (the receive still ends) if nothing was offered.
    #[inline]
    pub(crate) fn accept_offered(&mut self) -> Option<M> {
        if self.save > 0 {
            self.removing(self.save - 1);
        }
        let taken = match self.save {
            0 => None,
            // The usual case (the oldest message matched): no shifting.
            1 => self.queue.pop_front(),
            save => self.queue.remove(save - 1),
        };
        self.save = 0;
        taken
    }

    /// Every queued message, oldest first (the language's GC roots).
    pub(crate) fn for_each(&mut self, f: &mut dyn FnMut(&mut M)) {
        self.queue.iter_mut().for_each(f);
    }

    /// Empties the queue for the next actor of a recycled control block,
    /// keeping a small buffer (a large one would pin memory while idle).
    pub(crate) fn recycle(&mut self) {
        self.removing_all();
        if self.queue.capacity() > RECYCLED_CAPACITY {
            self.queue = VecDeque::new();
        } else {
            self.queue.clear();
        }
        self.save = 0;
    }

    /// Ends the current receive without a match (its `:after` ran).
    pub(crate) fn reset_save(&mut self) {
        self.save = 0;
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }
}

impl<M> Drop for Mailbox<M> {
    fn drop(&mut self) {
        self.removing_all();
    }
}

#[cfg(all(test, not(valk_loom)))]
mod tests {
    use super::*;

    /// Messages weigh their value in bytes (plus their slot).
    fn weighed() -> Mailbox<usize> {
        Mailbox::with_size(|m| *m)
    }

    /// `bytes()` less the slots.
    fn unoffered(mb: &Mailbox<usize>) -> usize {
        mb.bytes() - mb.len() * core::mem::size_of::<usize>()
    }

    #[test]
    fn unoffered_messages_are_counted_until_offered_or_taken() {
        let mut mb = weighed();
        for m in [10, 20, 30, 40] {
            mb.push(m);
        }
        assert_eq!(unoffered(&mb), 100);
        // Offering 10 and 20 stops counting them (the receiver adopts them).
        assert_eq!(mb.next_unscanned().copied(), Some(10));
        assert_eq!(mb.next_unscanned().copied(), Some(20));
        assert_eq!(unoffered(&mb), 70);
        // Taking the offered 20 changes nothing; 10 stays, offered.
        assert_eq!(mb.accept_offered(), Some(20));
        assert_eq!(unoffered(&mb), 70);
        // Offered again from the start: 10 is not subtracted twice.
        assert_eq!(mb.next_unscanned().copied(), Some(10));
        assert_eq!(unoffered(&mb), 70);
        assert_eq!(mb.next_unscanned().copied(), Some(30));
        assert_eq!(unoffered(&mb), 40);
        mb.reset_save();
        // A match without an offer (Rust actors) takes a counted message.
        assert_eq!(mb.take_matching(&mut |m| *m == 40), Some(40));
        assert_eq!(unoffered(&mb), 0);
        mb.push(5);
        assert_eq!(mb.take_matching(&mut |m| *m == 10), Some(10));
        assert_eq!(unoffered(&mb), 5);
        assert_eq!(mb.take_matching(&mut |m| *m == 5), Some(5));
        assert_eq!(unoffered(&mb), 0);
        mb.push(7);
        mb.recycle();
        assert_eq!(unoffered(&mb), 0);
        assert_eq!(mb.len(), 0);
    }

    #[test]
    fn save_position_skips_rejected_messages() {
        let mut mb = Mailbox::default();
        for i in 0..5u32 {
            mb.push(i);
        }
        let mut offered = Vec::new();
        let got = mb.take_matching(&mut |m| {
            offered.push(*m);
            *m == 9
        });
        assert_eq!(got, None);
        assert_eq!(offered, [0, 1, 2, 3, 4]);
        mb.push(9);
        offered.clear();
        let got = mb.take_matching(&mut |m| {
            offered.push(*m);
            *m == 9
        });
        assert_eq!(got, Some(9));
        assert_eq!(offered, [9], "already rejected messages are not rescanned");
        // The receive completed: the next one starts from the oldest again.
        assert_eq!(mb.take_matching(&mut |_| true), Some(0));
    }

    #[test]
    fn next_unscanned_offers_each_message_once_per_receive() {
        let mut mb = Mailbox::default();
        for i in 0..3u32 {
            mb.push(i);
        }
        assert_eq!(mb.next_unscanned().copied(), Some(0));
        assert_eq!(mb.next_unscanned().copied(), Some(1));
        // Transformed in place: stays queued, visible to `for_each`.
        *mb.next_unscanned().expect("third message") += 10;
        assert_eq!(mb.next_unscanned(), None, "all offered");
        mb.push(3);
        assert_eq!(mb.next_unscanned().copied(), Some(3), "only the newcomer");
        assert_eq!(mb.next_unscanned(), None);
        let mut seen = Vec::new();
        mb.for_each(&mut |m| seen.push(*m));
        assert_eq!(seen, [0, 1, 12, 3]);
        // Abandoned (`receive_done`): the next receive starts from the oldest.
        mb.reset_save();
        assert_eq!(mb.next_unscanned().copied(), Some(0));
    }

    #[test]
    fn accept_offered_removes_exactly_the_last_offered_message() {
        let mut mb = Mailbox::default();
        for i in 0..4u32 {
            mb.push(i);
        }
        assert_eq!(mb.next_unscanned().copied(), Some(0));
        assert_eq!(mb.next_unscanned().copied(), Some(1));
        mb.push(4); // arrives mid-receive, behind the save position
        assert_eq!(mb.accept_offered(), Some(1));
        assert_eq!(mb.len(), 4);
        // The receive ended: the next one starts from the oldest, in order.
        let mut rest = Vec::new();
        while let Some(m) = mb.next_unscanned() {
            rest.push(*m);
        }
        assert_eq!(rest, [0, 2, 3, 4]);
        assert_eq!(mb.accept_offered(), Some(4), "the last one offered");
        assert_eq!(mb.accept_offered(), None, "nothing offered since");
        assert_eq!(mb.take_matching(&mut |_| true), Some(0));
    }

    #[test]
    fn next_unscanned_and_take_matching_share_the_save_position() {
        let mut mb = Mailbox::default();
        for i in 0..3u32 {
            mb.push(i);
        }
        assert_eq!(mb.next_unscanned().copied(), Some(0));
        // A selective scan continues after what was already offered.
        let mut offered = Vec::new();
        let got = mb.take_matching(&mut |m| {
            offered.push(*m);
            false
        });
        assert_eq!((got, offered), (None, vec![1, 2]));
        assert_eq!(mb.next_unscanned(), None);
        mb.push(3);
        assert_eq!(mb.take_matching(&mut |_| true), Some(3));
        assert_eq!(mb.next_unscanned().copied(), Some(0), "receive ended");
    }

    #[test]
    fn inbox_wakes_a_waiting_actor_once() {
        let inbox: Inbox<u32, ()> = Inbox::with_state(7, RunState::Waiting, Some(()));
        assert!(matches!(inbox.push(7, 1, true), Push::Schedule));
        assert!(matches!(inbox.push(7, 2, true), Push::Queued));
        assert!(
            matches!(inbox.push(8, 9, true), Push::Rejected(9)),
            "wrong key"
        );
        let mut items = VecDeque::new();
        assert!(inbox.begin_run(&mut items).is_some());
        assert_eq!(items, [1, 2]);
        assert_eq!(inbox.finish_run((), false), AfterRun::Parked);
        let _ = inbox.exit();
        assert!(matches!(inbox.push(7, 3, true), Push::Rejected(3)));
        // Recycled for actor 8: the old key stays rejected.
        assert!(inbox.reopen(8, ()));
        assert!(matches!(inbox.push(7, 4, true), Push::Rejected(4)));
        assert!(matches!(inbox.push(8, 5, true), Push::Queued));
        assert_eq!(inbox.state_of(7), None);
        assert_eq!(inbox.state_of(8), Some((RunState::Queued, 1)));
    }
}
