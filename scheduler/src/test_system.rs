//! The smallest [`System`] for the crate's unit tests: `u32` messages and a
//! one-value exit reason (tests that look at reasons define their own).

use crate::api::{ExitReason, System};
use crate::pid::{MonitorRef, Pid};

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct R;

impl ExitReason for R {
    fn normal() -> Self {
        R
    }
    fn kill() -> Self {
        R
    }
    fn killed() -> Self {
        R
    }
    fn noproc() -> Self {
        R
    }
    fn panicked(_: String) -> Self {
        R
    }
    fn is_normal(&self) -> bool {
        true
    }
    fn is_kill(&self) -> bool {
        false
    }
}

pub(crate) struct Sys;

impl System for Sys {
    type Msg = u32;
    type Reason = R;
    fn exit_message(&self, _: Pid, _: &R) -> u32 {
        0
    }
    fn down_message(&self, _: MonitorRef, _: Pid, _: &R) -> u32 {
        0
    }
}
