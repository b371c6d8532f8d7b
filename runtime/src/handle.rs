//! The runtime handle: a running Valk runtime (scheduler, globals, builtins)
//! that any thread can use: start sessions (host-owned actors that evaluate
//! and call), spawn, send, register Rust builtins, shut down. Cloneable,
//! `Send + Sync`; the runtime stops when the last clone is dropped or
//! [`Handle::shutdown`] is called. The CLI, the REPL, `valk test` and the
//! embedding API all go through it.

use std::sync::{Arc, Weak};

use std::time::Duration;
use valk_sync::Mutex;

use valk_lang::{BuiltinSet, Globals, HostFn, Interp, ValkError};
use valk_scheduler::{Actor, Config, Pid, Runtime};

use crate::memory::{Governed, Registration};
use crate::session::Session;
use crate::system::{Message, Reason, ValkSystem};

/// Most scheduler threads a runtime starts.
pub const MAX_SCHEDULERS: usize = 1024;

/// How to build a runtime.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Worker threads (0: `$VALK_SCHEDULERS`, else one per core).
    pub schedulers: usize,
    /// Most bytes each actor's heap may hold, messages queued to it and not
    /// yet received included (`None`: no limit). Past it the actor ends
    /// with `{:heap-limit bytes}`.
    pub max_heap: Option<usize>,
    /// The memory ceiling of the whole runtime (`None`: the default,
    /// [`crate::memory::default_max_memory`], 80% of physical memory).
    /// Past it, the actor holding the most memory is killed with
    /// `{:heap-limit bytes}` (logged to stderr) instead of the process
    /// dying; see `docs/gc.md`.
    pub max_memory: Option<usize>,
    /// Reductions per slice (0: the scheduler's default, 4,000).
    pub reductions: u32,
    /// The builtins (`None`: the core's and the actor layer's).
    pub builtins: Option<BuiltinSet>,
    /// What crash reports and `log/*` lines reach stderr (`None`:
    /// `$VALK_LOG`, default `warn`).
    pub log: Option<crate::log::Level>,
}

/// A running runtime.
#[derive(Clone)]
pub struct Handle {
    inner: Arc<Inner>,
}

/// A handle that does not keep the runtime running (sessions and host
/// mailboxes hold one, so dropping the last [`Handle`] stops the runtime).
#[derive(Clone)]
pub struct WeakHandle {
    inner: Weak<Inner>,
}

impl WeakHandle {
    /// The runtime, if it is still running.
    pub fn upgrade(&self) -> Option<Handle> {
        self.inner.upgrade().map(|inner| Handle { inner })
    }
}

struct Inner {
    rt: Runtime<ValkSystem>,
    globals: Arc<Globals>,
    /// The session [`Handle::eval`]-style callers share, made on first use.
    shared_session: Mutex<Option<Arc<Session>>>,
    /// The memory governor watches this runtime while this lives.
    _memory: Option<Registration>,
}

impl Governed for Inner {
    fn heaviest_actor(&self) -> Option<(Pid, usize)> {
        self.rt.heaviest_actor()
    }

    fn kill_for_memory(&self, pid: Pid, bytes: usize) {
        self.rt.exit_signal(pid, Reason::HeapLimit(bytes));
    }

    fn alive(&self, pid: Pid) -> bool {
        self.rt.alive(pid)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.rt.shutdown();
    }
}

impl Handle {
    /// Starts a runtime: its globals bind the builtins and hold the prelude.
    pub fn start(options: Options) -> Result<Handle, ValkError> {
        if options.schedulers > MAX_SCHEDULERS {
            return Err(ValkError::fatal(format!(
                "{} schedulers asked for; at most {MAX_SCHEDULERS}",
                options.schedulers
            )));
        }
        let builtins = options.builtins.unwrap_or_else(crate::builtin_set);
        let globals = Arc::new(Globals::with_builtins(&builtins));
        let mut boot = Interp::with_globals(globals.clone());
        boot.load_prelude();
        valk_lang::prelude::register_prelude(crate::PRELUDE_NAME, crate::PRELUDE);
        boot.eval_source(crate::PRELUDE, crate::PRELUDE_NAME)?;
        drop(boot);
        globals.set_heap_limit(options.max_heap);
        let mut config = Config::default();
        if options.schedulers > 0 {
            config.schedulers = options.schedulers;
        }
        if options.reductions > 0 {
            config.reductions = options.reductions;
        }
        let mut system = ValkSystem::new();
        if let Some(level) = options.log {
            system.log = level;
        }
        let rt = Runtime::new(system, config);
        let ceiling = options
            .max_memory
            .unwrap_or_else(crate::memory::default_max_memory);
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| {
            let weak: Weak<dyn Governed> = weak.clone();
            Inner {
                rt,
                globals,
                shared_session: Mutex::new(None),
                _memory: Some(crate::memory::register(ceiling, weak)),
            }
        });
        Ok(Handle { inner })
    }

    /// A handle that does not keep the runtime running.
    pub fn downgrade(&self) -> WeakHandle {
        WeakHandle {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// The scheduler runtime.
    pub fn runtime(&self) -> &Runtime<ValkSystem> {
        &self.inner.rt
    }

    /// The runtime's globals.
    pub fn globals(&self) -> &Arc<Globals> {
        &self.inner.globals
    }

    /// A new session actor.
    pub fn session(&self) -> Session {
        Session::start(self, false)
    }

    /// A new session actor that is the runtime's main actor (`valk run`,
    /// the REPL): [`Handle::wait_main`] reports how it ended.
    pub fn main_session(&self) -> Session {
        let session = Session::start(self, true);
        self.runtime().system().program.set_main(session.pid());
        session
    }

    /// The status `(shutdown N)` asked for, if any actor called it. The
    /// main actor is killed by a `shutdown` elsewhere: a host that sees it
    /// end should read this first.
    pub fn shutdown_status(&self) -> Option<i32> {
        self.runtime().system().program.shutdown_status()
    }

    /// The session shared by callers that need no session of their own
    /// (jobs from several threads run one after another). One that was
    /// killed (an exit signal, a linked actor's crash) is replaced.
    pub fn shared_session(&self) -> Arc<Session> {
        let mut s = self.inner.shared_session.lock();
        if s.as_ref().is_some_and(|s| s.is_closed()) && !self.runtime().is_shut_down() {
            *s = None;
        }
        s.get_or_insert_with(|| Arc::new(self.session())).clone()
    }

    /// Spawns a Rust actor.
    pub fn spawn(&self, actor: impl Actor<ValkSystem>) -> Pid {
        self.inner.rt.spawn(actor)
    }

    /// Sends `msg` to `to` (dropped if `to` is dead).
    pub fn send(&self, to: Pid, msg: Message) {
        self.inner.rt.send(to, msg);
    }

    /// Registers a Rust function as a builtin of this runtime (bound as a
    /// global now, so code evaluated after sees it).
    pub fn register_fn(
        &self,
        name: &str,
        min_args: usize,
        max_args: usize,
        doc: &str,
        f: Box<HostFn>,
    ) {
        let index = valk_lang::builtins::register_fn(name, min_args, max_args, doc, f);
        self.inner.globals.bind_builtin(index);
    }

    /// Blocks until the main actor ends; its exit reason.
    pub fn wait_main(&self) -> Reason {
        self.inner.rt.wait_main()
    }

    /// [`Handle::wait_main`] for at most `d`.
    pub fn wait_main_timeout(&self, d: Duration) -> Option<Reason> {
        self.inner.rt.wait_main_timeout(d)
    }

    /// Stops every actor and joins the workers (also done when the last
    /// clone is dropped).
    pub fn shutdown(&self) {
        self.inner.shared_session.lock().take();
        self.inner.rt.shutdown();
    }
}
