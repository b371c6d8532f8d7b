//! The interpreter: one actor's worth of state (heap, register file, frames)
//! running Valk IR.
//!
//! Architecture invariant: Valk calls never recurse in Rust. Every Valk call
//! frame is a [`Frame`] in `frames` and its registers a window of `regs`; both
//! are GC roots. So recursion depth is bounded by memory (and the stack
//! limit), a suspended actor holds no native frames, and [`Interp::run`] can
//! stop at any safepoint and resume later.

mod call;
mod continuation;
#[allow(unsafe_code)]
pub(crate) mod host_slot;
mod ops_arith;
mod ops_call;
mod ops_control;
mod receive;
mod run;
mod special;
pub(crate) use ops_arith::{arith_index, compare_index};

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use valk_heap::{Heap, ObjKind, Roots, SharedValue, Value};

use crate::builtins::BuiltinCx;
use crate::compiler::{CompileError, Compiler, Mode};
use crate::error::ValkError;
use crate::globals::{Globals, UNSET};
use crate::host::Host;
use crate::ir::{Proto, Reg};
use crate::printer;
use crate::reader;
use crate::syntax::Span;

/// Reductions a [`Interp::run`] slice gets by default.
pub const DEFAULT_BUDGET: u32 = 4000;
/// Most frames an actor may have (deeper recursion is `stack overflow`).
pub const DEFAULT_MAX_FRAMES: usize = 250_000;
/// Most registers an actor's register file may hold.
pub const DEFAULT_MAX_REGS: usize = 4 << 20;

/// Why [`Interp::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// The started computation finished with this value (valid until the
    /// next `run`/GC; read it at once).
    Done(Value),
    /// It finished with an Error value (an uncaught error).
    Error(Value),
    /// The reduction budget is spent; call `run` again to go on.
    OutOfBudget,
    /// Waiting in `receive` (no native frames are held); resume with `run`
    /// when a message arrives or the timeout (ms) passes.
    WaitingForMessage { timeout: Option<u64> },
    /// `exit` asked the program to end with this status.
    Exit(i32),
    /// The actor cannot go on (heap limit); the message says why.
    Fatal,
}

/// What a frame is for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum FrameKind {
    /// A lambda call.
    Call,
    /// A top-level form: its `=` binds globally.
    TopLevel,
    /// Code run by `eval` at run time: `=` binds in the frame below.
    Eval,
}

/// One Valk call frame.
pub(crate) struct Frame {
    pub proto: &'static Proto,
    /// Next instruction (while this frame is not running: where to resume).
    pub pc: u32,
    /// First register of this frame in the register file.
    pub base: u32,
    /// The caller's register that receives the result.
    pub ret: Reg,
    pub kind: FrameKind,
    /// Dynamic bindings: from `=` in run-time code, and carried over from a
    /// frame a tail call replaced.
    pub extras: Extras,
    /// How many times the final value is to be called with no arguments
    /// (tail-position `((f x))` wrappers, counted instead of stacked).
    pub apply_result: u32,
    /// This frame runs a `reset` body: `shift` captures up to it
    /// (`continuation.rs`). Kept when a tail call replaces the frame.
    pub reset: bool,
}

/// A frame's dynamic bindings: usually none, so one word until used (keeps
/// `Frame` small and calls cheap).
#[derive(Default)]
#[allow(clippy::box_collection)] // deliberate: one word in every frame, not three
pub(crate) struct Extras(Option<Box<Vec<(u32, Value)>>>);

impl Extras {
    pub fn from_vec(v: Vec<(u32, Value)>) -> Extras {
        Extras((!v.is_empty()).then(|| Box::new(v)))
    }
    pub fn iter(&self) -> std::slice::Iter<'_, (u32, Value)> {
        self.0.as_deref().map(|v| v.iter()).unwrap_or_default()
    }
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, (u32, Value)> {
        self.0
            .as_deref_mut()
            .map(|v| v.iter_mut())
            .unwrap_or_default()
    }
    pub fn push(&mut self, b: (u32, Value)) {
        self.0.get_or_insert_with(Box::default).push(b);
    }
}

/// One actor: heap, register file, frames.
pub struct Interp {
    pub(crate) heap: Heap,
    pub(crate) globals: Arc<Globals>,
    pub(crate) regs: Vec<Value>,
    pub(crate) frames: Vec<Frame>,
    pub(crate) argbuf: Vec<Value>,
    pub(crate) max_frames: usize,
    pub(crate) max_regs: usize,
    /// The finished computation's value (a root until taken).
    pub(crate) result: Value,
    /// Reductions charged since creation.
    pub reductions: u64,
    /// Reductions of builtin work not yet taken from the slice's fuel
    /// (`builtins::fair`): paid at the next safepoint.
    pub(crate) debt: u32,
    /// The budget of the slice in progress (native code refills it when it
    /// yields: `tier.rs`).
    pub(crate) slice_budget: u32,
    /// The host of the call in progress (scheduler, embedder, or none).
    pub(crate) host: host_slot::HostSlot,
    /// What most actors never use, allocated on first use: a parked actor
    /// costs its heap and this struct, so every word here counts.
    pub(crate) cold: Option<Box<Cold>>,
    /// The last shared pointer read from a global this slice and listed in
    /// `Cold::read_globals` (`NIL`: none listed).
    pub(crate) last_read: Value,
}

/// The rarely used part of an [`Interp`].
#[derive(Default)]
pub(crate) struct Cold {
    /// Code compiled at run time (`eval`, computed special forms).
    pub(crate) eval_cache: HashMap<(u8, u64), Vec<(SharedValue, u32)>>,
    /// Shared pointers read from globals in this slice, without a count
    /// yet: the heap takes one on each before the slice unpins its thread
    /// (`reclaim.rs`), so a later `def` may free what it replaces.
    pub(crate) read_globals: Vec<Value>,
    /// Where `print` writes (`None`: standard output).
    pub(crate) out: Option<Box<dyn Write + Send>>,
    /// The message of the fatal error that stopped the run.
    pub(crate) fatal: Option<String>,
    /// Transient protos this interpreter compiled (`code.rs`), each with
    /// its `eval_cache` key: freed by [`Interp::sweep_transient`] once no
    /// frame runs them, and with the interpreter.
    pub(crate) transient: Vec<(u32, (u8, u64))>,
    /// Sweep when `transient` grows past this (twice what survived the
    /// last sweep, at least [`TRANSIENT_SWEEP`]).
    pub(crate) transient_limit: usize,
    /// The functions the error `trace_of` left unhandled, innermost first
    /// (function name, where it was when the error passed).
    pub(crate) trace: Vec<(Option<u32>, Span)>,
    pub(crate) trace_of: Option<Value>,
    /// Continuations `shift` captured and nobody resumed yet
    /// (`continuation.rs`).
    pub(crate) conts: Vec<continuation::Captured>,
}

/// Lines a backtrace keeps.
pub(crate) const MAX_TRACE: usize = 64;

/// Transient protos kept (and cached) before the first sweep.
pub(crate) const TRANSIENT_SWEEP: usize = 64;

impl Drop for Cold {
    fn drop(&mut self) {
        // The interpreter goes with its frames: nothing can name these.
        for &(index, _) in &self.transient {
            crate::code::free_transient(index);
        }
    }
}

/// The prelude files, loaded in this order when present.
const PRELUDE: &[(&str, &str)] = &crate::prelude::FILES;

impl Default for Interp {
    fn default() -> Self {
        Self::new()
    }
}

impl Interp {
    /// A fresh runtime (its own globals) with the prelude loaded.
    pub fn new() -> Interp {
        let mut it = Interp::bare(Arc::new(Globals::new()));
        it.load_prelude();
        it
    }

    /// A fresh runtime whose globals bind `builtins` (the core and the
    /// layers above it), with the prelude loaded.
    pub fn with_builtins(builtins: &crate::BuiltinSet) -> Interp {
        let mut it = Interp::bare(Arc::new(Globals::with_builtins(builtins)));
        it.load_prelude();
        it
    }

    /// Another actor of the runtime that owns `globals` (the prelude is
    /// already in them).
    pub fn with_globals(globals: Arc<Globals>) -> Interp {
        Interp::bare(globals)
    }

    /// An interpreter with nothing loaded.
    pub fn bare(globals: Arc<Globals>) -> Interp {
        let mut heap = Heap::new();
        if let Some(limit) = globals.heap_limit() {
            heap.set_limit(Some(limit));
        }
        Interp {
            heap,
            globals,
            regs: Vec::new(),
            frames: Vec::new(),
            argbuf: Vec::new(),
            max_frames: DEFAULT_MAX_FRAMES,
            max_regs: DEFAULT_MAX_REGS,
            result: Value::NIL,
            reductions: 0,
            debt: 0,
            slice_budget: 0,
            host: host_slot::HostSlot::default(),
            cold: None,
            last_read: Value::NIL,
        }
    }

    /// Loads the prelude into this interpreter's globals (done by
    /// [`Interp::new`] and [`Interp::with_builtins`]).
    pub fn load_prelude(&mut self) {
        for (name, src) in PRELUDE {
            if let Err(e) = self.eval_source(src, name) {
                // The prelude is ours: a failure is a bug, but never a panic.
                eprintln!("valk: prelude {name}: {e}");
            }
        }
    }

    /// The runtime's globals (to create more actors sharing them).
    pub fn globals(&self) -> &Arc<Globals> {
        &self.globals
    }

    /// This actor's heap (read values, build arguments).
    pub fn heap(&self) -> &Heap {
        &self.heap
    }

    /// This actor's heap, mutably (build values to pass in).
    pub fn heap_mut(&mut self) -> &mut Heap {
        &mut self.heap
    }

    /// Send `print` output somewhere else (tests, embedding).
    pub fn set_output(&mut self, out: Box<dyn Write + Send>) {
        self.cold().out = Some(out);
    }

    /// Limit recursion: at most `frames` frames and `regs` registers.
    pub fn set_stack_limit(&mut self, frames: usize, regs: usize) {
        self.max_frames = frames;
        self.max_regs = regs;
    }

    /// Runs `f` with `host` as this interpreter's host: `run` takes its
    /// budget from it and charges it, `receive` uses its mailbox, and
    /// builtins reach it through `BuiltinCx::host`. The previous host is back
    /// when `f` returns.
    pub fn with_host<R>(&mut self, host: &mut dyn Host, f: impl FnOnce(&mut Interp) -> R) -> R {
        let prev = self.host.install(host);
        let r = f(self);
        self.host.restore(prev);
        r
    }

    /// Is a host installed (inside [`Interp::with_host`])?
    pub fn has_host(&self) -> bool {
        self.host.is_set()
    }

    /// The re-readable form of `v`.
    pub fn repr(&self, v: Value) -> String {
        printer::repr(&self.heap, v)
    }

    /// The display form of `v` (strings raw).
    pub fn display(&self, v: Value) -> String {
        printer::display(&self.heap, v)
    }

    /// Is `v` an Error value?
    pub fn is_error(&self, v: Value) -> bool {
        v.is_ptr() && self.heap.kind(v) == Some(ObjKind::Error)
    }

    /// Bind `name` globally (e.g. `*args*`).
    pub fn define(&mut self, name: &str, v: Value) {
        let sv = self.heap.to_shared(v);
        self.globals.define(valk_heap::intern(name), sv);
    }

    /// Bind `*args*` to a Q-expression of strings (`valk run FILE ARGS`).
    pub fn set_args(&mut self, args: &[String]) -> Result<(), ValkError> {
        let mut vals = Vec::with_capacity(args.len());
        for a in args {
            vals.push(
                self.heap
                    .string(a)
                    .map_err(|e| ValkError::fatal(e.to_string()))?,
            );
        }
        let list = self
            .heap
            .list(&vals, valk_heap::ListKind::Q)
            .map_err(|e| ValkError::fatal(e.to_string()))?;
        self.define("*args*", list);
        Ok(())
    }

    /// The value of global `name`, if bound (this heap takes a count on
    /// it, so it stays valid after the global is replaced).
    /// The names bound globally (builtins, prelude functions, `def`s),
    /// sorted, without hidden helpers (`name/-part`): what the REPL
    /// completes.
    pub fn bound_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .globals
            .bound()
            .into_iter()
            .map(|(s, _)| valk_heap::symbol_name(s))
            .filter(|n| !n.contains("/-"))
            .map(str::to_owned)
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    pub fn global(&mut self, name: &str) -> Option<Value> {
        self.globals
            .get_kept(valk_heap::intern(name), &mut self.heap)
    }

    /// Reads global `sym` inside a slice, listing a shared pointer for
    /// [`Interp::keep_read_globals`].
    #[inline(always)]
    pub(crate) fn read_global(&mut self, sym: u32) -> Option<Value> {
        let v = self.globals.get(sym)?;
        if v.is_ptr() && v != self.last_read {
            self.note_read_global(v);
        }
        Some(v)
    }

    #[inline(never)]
    fn note_read_global(&mut self, v: Value) {
        self.last_read = v;
        let list = &mut self.cold().read_globals;
        // A loop over a few globals lists each once.
        if list.iter().rev().take(4).any(|&w| w == v) {
            return;
        }
        list.push(v);
        if list.len() >= 1024 {
            // Counting early is always safe; it bounds the list.
            self.keep_read_globals();
        }
    }

    /// Takes a count (in this heap's owned set) on every shared pointer read
    /// from a global since the last call or collection: after it, this actor
    /// holds nothing a retired global alone keeps alive.
    pub(crate) fn keep_read_globals(&mut self) {
        if self.last_read == Value::NIL {
            return;
        }
        self.last_read = Value::NIL;
        if let Some(c) = self.cold.as_mut() {
            for v in c.read_globals.drain(..) {
                self.heap.keep_shared(v);
            }
        }
    }

    /// Runs `f` (a slice) with this thread pinned, then counts what it
    /// read from globals before unpinning (see `reclaim.rs`).
    pub(crate) fn run_pinned<R>(&mut self, f: impl FnOnce(&mut Interp) -> R) -> R {
        #[cfg(not(valk_loom))]
        {
            crate::reclaim::with_pin(|| {
                let r = f(self);
                self.keep_read_globals();
                r
            })
        }
        #[cfg(valk_loom)]
        {
            let g = self.globals.clone();
            g.pinned(|| {
                let r = f(self);
                self.keep_read_globals();
                r
            })
        }
    }

    /// Reads `text` as data (`read-forms`) and evaluates it (`eval`) for
    /// at most `max_slices` slices of [`DEFAULT_BUDGET`] reductions: the
    /// value or Error it ended with, or `None` when it did not read, ran
    /// out of slices or stopped another way. Nothing runs outside the
    /// budget, so arbitrary input is safe here (the fuzz targets use it).
    pub fn eval_text_bounded(&mut self, text: &str, max_slices: usize) -> Option<Value> {
        let read_forms = crate::builtins::index_of("read-forms")?;
        let eval = crate::builtins::index_of("eval")?;
        let source = self.heap_mut().string(text).ok()?;
        let forms = self.call(Value::builtin(read_forms), &[source]).ok()?;
        if self.is_error(forms) || self.start_call(Value::builtin(eval), &[forms]).is_err() {
            return None;
        }
        for _ in 0..max_slices {
            match self.run(DEFAULT_BUDGET) {
                RunOutcome::OutOfBudget => continue,
                RunOutcome::Done(v) | RunOutcome::Error(v) => return Some(v),
                _ => return None,
            }
        }
        None
    }

    /// Evaluate a file's text form by form; the value of the last form, or
    /// the first top-level error (with its location).
    pub fn eval_source(&mut self, src: &str, file: &str) -> Result<Value, ValkError> {
        let forms = reader::read_all(src, file).map_err(ValkError::from_read)?;
        let mut last = Value::EMPTY_S;
        for f in &forms {
            last = self.eval_form(f)?;
        }
        Ok(last)
    }

    /// Evaluate one REPL line: several forms on a line are one S-expression
    /// (`+ 1 2` is 3). A read error with `incomplete` set means "read more".
    pub fn eval_repl_line(&mut self, line: &str) -> Result<Value, ValkError> {
        let mut forms = reader::read_all(line, "<repl>").map_err(ValkError::from_read)?;
        let form = match forms.len() {
            0 => return Ok(Value::EMPTY_S),
            1 => forms.remove(0),
            _ => {
                let span = forms[0].span;
                crate::syntax::Node::new(
                    crate::syntax::Syn::List(valk_heap::ListKind::S, forms),
                    span,
                )
            }
        };
        self.eval_form(&form)
    }

    /// Compile and run one top-level form to completion.
    pub fn eval_form(&mut self, form: &crate::syntax::Node) -> Result<Value, ValkError> {
        self.start_form(form)?;
        self.finish()
    }

    /// Call function `f` on `args` and run to completion.
    pub fn call(&mut self, f: Value, args: &[Value]) -> Result<Value, ValkError> {
        self.start_call(f, args)?;
        self.finish()
    }

    /// Run until the started computation ends (budget after budget).
    fn finish(&mut self) -> Result<Value, ValkError> {
        loop {
            let budget = self.host.get().budget();
            match self.run(budget) {
                // Run to completion inside an actor (the main actor): let
                // the others on this worker have their turn.
                RunOutcome::OutOfBudget => self.host.get().yield_now(),
                RunOutcome::Done(v) => return Ok(v),
                RunOutcome::Error(v) => return Err(self.error_of(v)),
                RunOutcome::Exit(code) => return Err(ValkError::exit(code)),
                RunOutcome::WaitingForMessage { .. } => {
                    return Err(ValkError::fatal("`receive` outside an actor".into()))
                }
                RunOutcome::Fatal => return Err(self.take_fatal()),
            }
        }
    }

    /// After [`RunOutcome::Fatal`]: the error that stopped the run; the
    /// frames are dropped so the interpreter can be used again.
    pub fn take_fatal(&mut self) -> ValkError {
        let m = self
            .cold
            .as_mut()
            .and_then(|c| c.fatal.take())
            .unwrap_or_else(|| "internal error".into());
        self.reset();
        ValkError::fatal(m)
    }

    /// Compiles a top-level form and starts running it (resumable with
    /// [`Interp::run`]; its `=` binds globally).
    pub fn start_form(&mut self, form: &crate::syntax::Node) -> Result<(), ValkError> {
        let proto = Compiler::new(&mut self.heap)
            .compile_chunk(form, Mode::TopLevel)
            .map_err(ValkError::from_compile)?;
        self.start_proto(proto, FrameKind::TopLevel)
    }

    /// Drops the computation in progress (every frame), so the interpreter
    /// can start another: what an interrupted REPL evaluation does.
    pub fn abandon(&mut self) {
        self.reset();
    }

    /// Drop every frame (after a fatal error) so the actor can be reused.
    fn reset(&mut self) {
        self.frames.clear();
        self.argbuf.clear();
        self.result = Value::NIL;
    }

    /// A [`ValkError`] from an Error value (message and location).
    pub fn error_of(&self, v: Value) -> ValkError {
        let parts = self.heap.error_parts(v);
        let message = parts
            .and_then(|p| self.heap.str(p.message))
            .unwrap_or("error")
            .to_owned();
        let span = parts.and_then(|p| p.loc).map(Span::from_loc);
        let mut e = ValkError::at(span, message);
        e.trace = self.error_trace_entries(v);
        e
    }

    /// The Valk backtrace of error `v` if it is the last error that left
    /// functions unhandled: one entry per function it passed, innermost
    /// first (function `None`: anonymous or top-level code). Empty when `v`
    /// was not traced.
    pub fn error_trace_entries(&self, v: Value) -> Vec<crate::error::TraceEntry> {
        let Some(c) = self.cold.as_ref().filter(|c| c.trace_of == Some(v)) else {
            return Vec::new();
        };
        c.trace
            .iter()
            .map(|(name, span)| crate::error::TraceEntry {
                function: name.map(|n| valk_heap::symbol_name(n).to_owned()),
                file: (span.line != 0).then(|| valk_heap::symbol_name(span.file).to_owned()),
                line: span.line,
                col: span.col,
            })
            .collect()
    }

    /// Start running a compiled chunk (resumable with [`Interp::run`]).
    pub(crate) fn start_proto(&mut self, index: u32, kind: FrameKind) -> Result<(), ValkError> {
        let Some(proto) = self.proto(index) else {
            return Err(ValkError::fatal("unknown code".into()));
        };
        self.frames.clear();
        let nregs = proto.meta.nregs as usize;
        self.regs.clear();
        self.regs.resize(nregs, UNSET);
        self.frames.push(Frame {
            proto,
            pc: 0,
            base: 0,
            ret: 0,
            kind,
            extras: Extras::default(),
            apply_result: 0,
            reset: false,
        });
        Ok(())
    }

    /// Start calling `f` on `args` (an actor's entry); then [`Interp::run`].
    pub fn start_call(&mut self, f: Value, args: &[Value]) -> Result<(), ValkError> {
        // A trampoline chunk: registers 0..argc hold the arguments, the
        // chunk tail-calls `f` on them.
        let argc = args.len();
        let proto = self.trampoline(argc);
        let Some(p) = self.proto(proto) else {
            return Err(ValkError::fatal("unknown code".into()));
        };
        self.frames.clear();
        self.regs.clear();
        self.regs.resize(p.meta.nregs as usize, UNSET);
        self.regs[0] = f;
        self.regs[1..=argc].copy_from_slice(args);
        // A spawned actor's first frame: most never have a second.
        self.frames.reserve_exact(1);
        self.frames.push(Frame {
            proto: p,
            pc: 0,
            base: 0,
            ret: 0,
            kind: FrameKind::Call,
            extras: Extras::default(),
            apply_result: 0,
            reset: false,
        });
        Ok(())
    }

    fn trampoline(&mut self, argc: usize) -> u32 {
        use crate::ir::{Block, Function, Meta, Op};
        // One trampoline per arity for the whole process: code is never
        // freed, and every actor's entry goes through here.
        // Small arities without a lock (every spawn comes here).
        static FAST: [std::sync::atomic::AtomicU32; 8] =
            [const { std::sync::atomic::AtomicU32::new(u32::MAX) }; 8];
        if let Some(i) = FAST
            .get(argc)
            .map(|a| a.load(std::sync::atomic::Ordering::Acquire))
        {
            if i != u32::MAX {
                return i;
            }
        }
        static CACHE: std::sync::Mutex<Vec<Option<u32>>> = std::sync::Mutex::new(Vec::new());
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(Some(index)) = cache.get(argc) {
            return *index;
        }
        let meta = Meta {
            nregs: (argc + 1).max(1) as u16,
            ..Meta::default()
        };
        let block = Block {
            ops: vec![Op::TailCall {
                func: 0,
                args: 1,
                argc: argc as u16,
                then_apply: 0,
            }],
            spans: vec![Span::default()],
        };
        let index = crate::code::register(Proto::from_function(Function {
            blocks: vec![block],
            meta,
        }));
        if cache.len() <= argc {
            cache.resize(argc + 1, None);
        }
        cache[argc] = Some(index);
        if let Some(a) = FAST.get(argc) {
            a.store(index, std::sync::atomic::Ordering::Release);
        }
        index
    }

    /// The rarely used part, allocated now if it was not.
    pub(crate) fn cold(&mut self) -> &mut Cold {
        self.cold.get_or_insert_with(Box::default)
    }

    /// Frees every transient proto (`code.rs`) no frame of this
    /// interpreter runs, with its `eval` cache entry. Only this
    /// interpreter's frames and cache can name them, and a running chunk
    /// is always on `frames` (its registers and pc live there).
    pub(crate) fn sweep_transient(&mut self) {
        let Some(cold) = self.cold.as_mut() else {
            return;
        };
        let captured = cold.conts.iter().flat_map(|c| c.frames.iter());
        let running: std::collections::HashSet<*const Proto> = self
            .frames
            .iter()
            .chain(captured)
            .map(|f| f.proto as *const Proto)
            .collect();
        let mut kept = Vec::new();
        for (index, key) in std::mem::take(&mut cold.transient) {
            let in_use =
                crate::code::get(index).is_some_and(|p| running.contains(&(p as *const Proto)));
            if in_use {
                kept.push((index, key));
                continue;
            }
            if let Some(entries) = cold.eval_cache.get_mut(&key) {
                entries.retain(|&(_, i)| i != index);
                if entries.is_empty() {
                    cold.eval_cache.remove(&key);
                }
            }
            crate::code::free_transient(index);
        }
        cold.transient_limit = (2 * kept.len()).max(TRANSIENT_SWEEP);
        cold.transient = kept;
    }

    /// A builtin's view of this interpreter; `f` runs with it. (`print`
    /// goes to standard output unless [`Interp::set_output`] said otherwise.)
    pub(crate) fn with_cx<R>(
        &mut self,
        name: &'static str,
        f: impl FnOnce(&mut BuiltinCx<'_>) -> R,
    ) -> R {
        let mut stdout;
        let out: &mut dyn Write = match self.cold.as_mut().and_then(|c| c.out.as_mut()) {
            Some(o) => &mut **o,
            None => {
                stdout = std::io::stdout();
                &mut stdout
            }
        };
        let mut cx = BuiltinCx {
            heap: &mut self.heap,
            globals: &self.globals,
            out,
            name,
            exit_request: None,
            meter: crate::builtins::fair::Meter::new(&mut self.host),
        };
        f(&mut cx)
    }

    /// The proto at registry `index`.
    #[inline]
    pub(crate) fn proto(&self, index: u32) -> Option<&'static Proto> {
        crate::code::get(index)
    }

    /// Collect garbage now, with the register file and frames as roots.
    pub fn collect_garbage(&mut self) {
        let top = self
            .frames
            .last()
            .map(|f| f.base as usize + f.proto.meta.nregs as usize)
            .unwrap_or(0);
        let top = top.min(self.regs.len());
        let mut roots = FrameRoots {
            regs: &mut self.regs[..top],
            frames: &mut self.frames,
            argbuf: &mut self.argbuf,
            result: &mut self.result,
            host: &mut self.host,
            conts: self.cold.as_mut().map(|c| &mut c.conts),
        };
        self.heap.collect(&mut roots);
        // The collection counted every shared pointer still reachable.
        if self.last_read != Value::NIL {
            self.last_read = Value::NIL;
            if let Some(c) = self.cold.as_mut() {
                c.read_globals.clear();
            }
        }
    }

    /// Heap figures for this actor.
    pub fn gc_stats(&self) -> valk_heap::GcStats {
        self.heap.stats()
    }

    pub(crate) fn compile_error(&mut self, e: CompileError) -> Value {
        self.make_error(&e.message, e.span).unwrap_or(Value::NIL)
    }

    /// An Error value with a message and location.
    pub(crate) fn make_error(
        &mut self,
        msg: &str,
        span: Span,
    ) -> Result<Value, valk_heap::HeapError> {
        let m = self.heap.string(msg)?;
        let loc = (span.line != 0).then(|| span.loc());
        self.heap.error(m, loc, None)
    }
}

/// The roots of a collection at a safepoint.
struct FrameRoots<'a> {
    regs: &'a mut [Value],
    frames: &'a mut [Frame],
    argbuf: &'a mut Vec<Value>,
    result: &'a mut Value,
    host: &'a mut host_slot::HostSlot,
    conts: Option<&'a mut Vec<continuation::Captured>>,
}

impl Roots for FrameRoots<'_> {
    fn visit_roots(&mut self, visit: &mut dyn FnMut(&mut Value)) {
        self.regs.iter_mut().for_each(&mut *visit);
        for f in self.frames.iter_mut() {
            for (_, v) in f.extras.iter_mut() {
                visit(v);
            }
        }
        self.argbuf.iter_mut().for_each(&mut *visit);
        visit(self.result);
        for c in self.conts.iter_mut().flat_map(|c| c.iter_mut()) {
            c.visit_roots(visit);
        }
        self.host.get().visit_roots(visit);
    }
}
