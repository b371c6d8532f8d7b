//! The `receive` instructions ([`Op::ReceiveStart`](crate::ir::Op),
//! `Receive`, `ReceiveAccept`): the interpreter's side of the scan loop the
//! compiler makes of `receive` (see `compiler/receive.rs`). The mailbox is
//! the host's ([`Host`](crate::Host)): it offers each unscanned message once
//! per receive and removes the one that matched.

use valk_heap::Value;

use super::call::Stop;
use super::{Interp, RunOutcome};
use crate::builtins::Failure;
use crate::globals::UNSET;
use crate::host::Next;
use crate::syntax::Span;

impl Interp {
    pub(super) fn receive_start(&mut self, at: Span) {
        let host = self.host.get();
        host.receive_start();
        host.receive_site(at.file, at.line, at.col);
    }

    pub(super) fn receive_accept(&mut self) {
        self.host.get().receive_accept();
    }

    /// The next unscanned message, or `None` once the deadline `timeout`
    /// (milliseconds; `UNSET`: none) has passed. With none queued the actor
    /// parks: the frame's pc is left at `at`, the `Receive` instruction, so
    /// it runs again on wake-up.
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
        match self.host.get().receive_next(&mut self.heap, ms) {
            Ok(Next::Message(v)) => Ok(Some(v)),
            Ok(Next::TimedOut) => Ok(None),
            Ok(Next::Park { timeout_ms }) => {
                if let Some(fr) = self.frames.last_mut() {
                    fr.pc = at as u32;
                }
                Err(RunOutcome::WaitingForMessage {
                    timeout: timeout_ms,
                })
            }
            Err(Failure::Value(v)) => Ok(Some(v)),
            Err(Failure::Message(m)) => self.error_value(&m, span).map(Some),
            Err(Failure::Heap(e)) => Err(self.heap_fatal(e)),
        }
    }
}
