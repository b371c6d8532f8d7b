//! A tiny test `System`: messages are a Rust enum, reasons a Rust enum, and
//! helpers to write actors as straight-line code (pinned `Cx::wait`) or as
//! state machines (`Step::Park`).
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use valk_scheduler::{
    Actor, Config, Cx, ExitReason, MonitorRef, Pid, Runtime, Step, System, WaitResult,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    Normal,
    Kill,
    Killed,
    NoProc,
    Panic(String),
    Custom(u64),
}

impl ExitReason for Reason {
    fn normal() -> Self {
        Reason::Normal
    }
    fn kill() -> Self {
        Reason::Kill
    }
    fn killed() -> Self {
        Reason::Killed
    }
    fn noproc() -> Self {
        Reason::NoProc
    }
    fn panicked(message: String) -> Self {
        Reason::Panic(message)
    }
    fn is_normal(&self) -> bool {
        *self == Reason::Normal
    }
    fn is_kill(&self) -> bool {
        *self == Reason::Kill
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    Int(u64),
    From(Pid, u64),
    Pid(Pid),
    Exit(Pid, Reason),
    Down(MonitorRef, Pid, Reason),
}

pub struct TestSys;

impl System for TestSys {
    type Msg = Msg;
    type Reason = Reason;
    fn exit_message(&self, from: Pid, reason: &Reason) -> Msg {
        Msg::Exit(from, reason.clone())
    }
    fn down_message(&self, mref: MonitorRef, from: Pid, reason: &Reason) -> Msg {
        Msg::Down(mref, from, reason.clone())
    }
}

pub type C<'a> = Cx<'a, TestSys>;

pub fn runtime(schedulers: usize) -> Runtime<TestSys> {
    Runtime::new(
        TestSys,
        Config {
            schedulers,
            ..Config::default()
        },
    )
}

/// An actor written as straight-line code: runs `f` once (pinned waits
/// inside) and exits with its result.
pub struct Seq<F>(Option<F>);

pub fn seq<F>(f: F) -> Seq<F>
where
    F: FnOnce(&mut C<'_>) -> Reason + Send + 'static,
{
    Seq(Some(f))
}

impl<F> Actor<TestSys> for Seq<F>
where
    F: FnOnce(&mut C<'_>) -> Reason + Send + 'static,
{
    fn run(&mut self, cx: &mut C<'_>) -> Step<Reason> {
        match self.0.take() {
            Some(f) => Step::Exit(f(cx)),
            None => Step::Exit(Reason::Custom(999)),
        }
    }
}

/// Pinned selective receive with an optional `:after`.
pub fn recv_where(
    cx: &mut C<'_>,
    timeout: Option<Duration>,
    mut pred: impl FnMut(&Msg) -> bool,
) -> Option<Msg> {
    loop {
        if let Some(msg) = cx.receive_matching(&mut pred) {
            return Some(msg);
        }
        if cx.wait(timeout) == WaitResult::TimedOut {
            cx.receive_done();
            return None;
        }
    }
}

/// Pinned receive of any message.
pub fn recv(cx: &mut C<'_>, timeout: Option<Duration>) -> Option<Msg> {
    recv_where(cx, timeout, |_| true)
}

pub const PATIENCE: Option<Duration> = Some(Duration::from_secs(5));

/// Counts drops: for leak checks.
#[derive(Clone, Default)]
pub struct DropCounter(pub Arc<AtomicUsize>);

impl DropCounter {
    pub fn token(&self) -> DropToken {
        DropToken(self.0.clone())
    }
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

pub struct DropToken(Arc<AtomicUsize>);

impl Drop for DropToken {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}
