//! The `receive` instructions ([`Op::ReceiveStart`](crate::ir::Op),
//! `Receive`, `ReceiveAccept`): the interpreter's side of the scan loop the
//! compiler makes of `receive` (see `compiler/receive.rs`). The queue and
//! the scheduler calls live in `actor::builtins`.

use valk_heap::Value;

use super::call::Stop;
use super::{Interp, RunOutcome};
use crate::actor::builtins as actor;
use crate::builtins::Failure;
use crate::globals::UNSET;
use crate::syntax::Span;

impl Interp {
    pub(super) fn receive_start(&mut self) {
        actor::receive_start(&mut self.actor);
    }

    pub(super) fn receive_accept(&mut self) {
        actor::accept(&mut self.actor);
    }

    /// The next unscanned message, or `None` once the deadline `timeout`
    /// (milliseconds; `UNSET`: none) has passed. A spawned actor with none
    /// queued parks: the frame's pc is left at `at`, the `Receive`
    /// instruction, so it runs again on wake-up.
    pub(super) fn receive_next(
        &mut self,
        timeout: Value,
        at: usize,
        span: Span,
    ) -> Result<Option<Value>, Stop> {
        let ms = if timeout == UNSET {
            None
        } else if let Some(ms) = self.heap.as_int(timeout) {
            Some(u64::try_from(ms).unwrap_or(0))
        } else {
            let msg = format!(
                "`receive`: `:after` time: expected integer, got {}",
                crate::printer::type_name(&self.heap, timeout)
            );
            return self.error_value(&msg, span).map(Some);
        };
        let park = self.actor.parkable;
        match self.with_cx("receive", |cx| actor::next_message(cx, ms, park)) {
            Ok(v) => Ok(v),
            Err(Failure::Value(v)) => Ok(Some(v)),
            Err(Failure::Message(m)) => self.error_value(&m, span).map(Some),
            Err(Failure::Heap(e)) => Err(self.heap_fatal(e)),
            Err(Failure::Wait { timeout }) => {
                if let Some(fr) = self.frames.last_mut() {
                    fr.pc = at as u32;
                }
                Err(RunOutcome::WaitingForMessage { timeout })
            }
        }
    }
}
