//! The compile thread: one per process, owning the LLVM context and the
//! MCJIT engine, fed by a channel. An interpreter that finds a function hot
//! queues it and goes on interpreting; `--jit=always` waits for the answer.
//! Compiled code is never freed (a proto is permanent, and an entry may be
//! running on any actor's stack).

use std::collections::HashMap;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use inkwell::context::Context;
use inkwell::execution_engine::ExecutionEngine;
use inkwell::module::Module;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{CodeModel, InitializationConfig, RelocMode, Target, TargetMachine};
use inkwell::OptimizationLevel;

use valk_lang::tier::{JitMode, NativeTier, Published};
use valk_lang::Globals;

use crate::lower::{self, Target as CallTarget};
use crate::plan::{self, Plan};

/// Functions the tier compiles in one process at most. Compiled code is
/// never freed (any actor may be running it), so a program that keeps
/// making new hot functions (through `eval`, say) would otherwise grow
/// without bound until LLVM cannot map more code and aborts. Past the cap
/// everything new is interpreted (about 14 KB of memory per function).
/// `$VALK_JIT_MAX_FUNCTIONS` sets another cap.
pub const MAX_COMPILED: u64 = 20_000;

fn max_compiled() -> u64 {
    static MAX: OnceLock<u64> = OnceLock::new();
    *MAX.get_or_init(|| {
        std::env::var("VALK_JIT_MAX_FUNCTIONS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(MAX_COMPILED)
    })
}

/// One compile request.
struct Job {
    proto: u32,
    globals: Arc<Globals>,
    done: Option<Sender<()>>,
}

/// Totals of the compile thread (`valk run --jit-stats`, benchmarks).
#[derive(Clone, Copy, Debug, Default)]
pub struct JitStats {
    /// Functions compiled.
    pub compiled: u64,
    /// Functions the tier left to the interpreter.
    pub rejected: u64,
    /// Time spent compiling, in microseconds.
    pub compile_micros: u64,
    /// Bytes of the object code of the compiled modules (measured only
    /// under `$VALK_JIT_LOG`: it costs a second code generation).
    pub code_bytes: u64,
}

static STATS: Mutex<JitStats> = Mutex::new(JitStats {
    compiled: 0,
    rejected: 0,
    compile_micros: 0,
    code_bytes: 0,
});

/// The compile thread's totals so far.
pub fn stats() -> JitStats {
    *STATS.lock().unwrap_or_else(|e| e.into_inner())
}

/// The process's compile thread (started on first use).
fn queue() -> &'static Mutex<Sender<Job>> {
    static QUEUE: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    QUEUE.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        let started = std::thread::Builder::new()
            .name("valk-jit".into())
            .spawn(move || compile_loop(rx));
        if started.is_err() {
            // No thread: requests are dropped (and waiters told at once).
        }
        Mutex::new(tx)
    })
}

/// The native tier for one runtime: [`NativeTier`] over the compile thread.
pub struct Jit {
    mode: JitMode,
}

impl Jit {
    pub fn new(mode: JitMode) -> Jit {
        Jit { mode }
    }
}

impl NativeTier for Jit {
    fn mode(&self) -> JitMode {
        self.mode
    }

    fn prepared(&self, proto: u32) -> bool {
        crate::linked::library().is_some_and(|lib| {
            valk_lang::code::get(proto)
                .and_then(|p| p.meta.name)
                .is_some_and(|name| lib.has_root(name))
        })
    }

    fn request(&self, proto: u32, globals: &Arc<Globals>, wait: bool) {
        let (done, answer) = if wait {
            let (tx, rx) = channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let job = Job {
            proto,
            globals: globals.clone(),
            done,
        };
        let sent = queue()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(job)
            .is_ok();
        if let (true, Some(rx)) = (sent, answer) {
            // Disconnected (the thread died) also ends the wait.
            let _ = rx.recv();
        }
    }
}

/// A compiled function.
struct Compiled {
    /// Its C entry (`NativeEntry`) with the runtime it was compiled for,
    /// as its tier slot publishes it.
    published: &'static Published,
    /// Its checked entry (the fast signature; other units call it).
    checked: usize,
    /// What its unit assumed: it is stale once these no longer hold.
    guards: lower::UnitGuards,
    /// The functions of earlier units its unit calls, with the checked
    /// entry it calls: stale too once one of them is.
    deps: Vec<(u32, usize)>,
}

/// Do `guards` still hold in `globals` (no builtin replaced, every called
/// global still the closure it was)?
fn guards_hold(guards: &lower::UnitGuards, globals: &Globals) -> bool {
    guards.intact.iter().all(|&i| globals.builtin_intact(i))
        && guards
            .globals
            .iter()
            .all(|&(sym, bits)| globals.get(sym).map(|v| v.to_bits()) == Some(bits))
}

/// LLVM, started at the first function the compile thread compiles
/// (binding code built ahead of time needs none of it).
struct Llvm {
    context: &'static Context,
    ee: ExecutionEngine<'static>,
    machine: TargetMachine,
}

impl Llvm {
    fn new() -> Option<Llvm> {
        let machine = host_machine(OptimizationLevel::Aggressive, RelocMode::Default)?;
        // Leaked on purpose: compiled code lives as long as the process.
        let context: &'static Context = Box::leak(Box::new(Context::create()));
        let first = context.create_module("valk_jit");
        let ee = first
            .create_jit_execution_engine(OptimizationLevel::Aggressive)
            .ok()?;
        std::mem::forget(first);
        Some(Llvm {
            context,
            ee,
            machine,
        })
    }
}

/// What the compile thread keeps.
struct Engine {
    /// `None` until the first compile; then `None` again only if LLVM
    /// could not start (`llvm_failed`).
    llvm: Option<Llvm>,
    llvm_failed: bool,
    /// (globals table, code index) -> its code and its unit's guards.
    compiled: HashMap<(usize, u32), Compiled>,
    /// Counts on the closures compiled guards compare against.
    kept: Vec<valk_heap::SharedValue>,
    /// The cap on compiled functions was reached (said once in the log).
    capped: bool,
    /// Units built so far: each one's symbols carry its number.
    units: u64,
}

fn compile_loop(rx: Receiver<Job>) {
    let mut engine = Engine {
        llvm: None,
        llvm_failed: false,
        compiled: HashMap::new(),
        kept: Vec::new(),
        capped: false,
        units: 0,
    };
    for job in rx {
        let quiet = COMPILING.lock().unwrap_or_else(|e| e.into_inner());
        engine.compile(job.proto, &job.globals);
        drop(quiet);
        if let Some(d) = job.done {
            let _ = d.send(());
        }
    }
}

/// Held by the compile thread while it is inside LLVM.
static COMPILING: Mutex<()> = Mutex::new(());

/// Stops the compile thread for good (waiting for a compile in progress):
/// call before the process exits, so LLVM's static destructors never run
/// under a compile. Later requests are never answered; code already
/// compiled keeps running.
pub fn quiesce() {
    std::mem::forget(COMPILING.lock().unwrap_or_else(|e| e.into_inner()));
    let s = stats();
    if s.compiled + s.rejected > 0 {
        log(|| {
            format!(
                "{} functions compiled ({} us, {} bytes of code), {} left to the interpreter",
                s.compiled, s.compile_micros, s.code_bytes, s.rejected
            )
        });
    }
}

/// The host's target machine, for the JIT and for `--emit`.
pub fn host_machine(level: OptimizationLevel, reloc: RelocMode) -> Option<TargetMachine> {
    Target::initialize_native(&InitializationConfig::default()).ok()?;
    let triple = TargetMachine::get_default_triple();
    let target = Target::from_triple(&triple).ok()?;
    target.create_target_machine(
        &triple,
        TargetMachine::get_host_cpu_name().to_str().ok()?,
        TargetMachine::get_host_cpu_features().to_str().ok()?,
        level,
        reloc,
        // Code built ahead of time is linked into a shared object: the
        // small model (direct calls, PC-relative data). The JIT's code
        // lands anywhere in the address space.
        if reloc == RelocMode::PIC {
            CodeModel::Default
        } else {
            CodeModel::JITDefault
        },
    )
}

impl Engine {
    /// LLVM, started now if it was not (`None`: it cannot start).
    fn llvm(&mut self) -> Option<&Llvm> {
        if self.llvm.is_none() && !self.llvm_failed {
            self.llvm = Llvm::new();
            self.llvm_failed = self.llvm.is_none();
            if self.llvm_failed {
                log(|| "LLVM could not start: everything is interpreted".to_string());
            }
        }
        self.llvm.as_ref()
    }

    /// Compiles proto `root` and the uncompiled functions it calls, as one
    /// module, and publishes them; or rejects `root`.
    fn compile(&mut self, root: u32, globals: &Arc<Globals>) {
        let Some(root_proto) = valk_lang::code::get(root) else {
            return;
        };
        let owner = Arc::as_ptr(globals) as usize;
        if let Some(c) = self.fresh(owner, root, globals) {
            // Its unit's assumptions hold.
            root_proto.tier.publish(c.published);
            return;
        }
        if self.bind_linked(root, owner, globals) {
            return;
        }
        if stats().compiled >= max_compiled() {
            if !self.capped {
                log(|| {
                    format!(
                        "{} functions compiled: the rest are interpreted",
                        max_compiled()
                    )
                });
                self.capped = true;
            }
            root_proto.tier.reject();
            bump(|s| s.rejected += 1);
            return;
        }
        let start = Instant::now();
        let plans = match self.unit(root, owner, globals) {
            Ok(p) => p,
            Err(why) => {
                log(|| format!("left {} to the interpreter: {why}", name_of(root)));
                root_proto.tier.reject();
                bump(|s| s.rejected += 1);
                return;
            }
        };
        match self.build(&plans, owner, globals) {
            Some(bytes) => {
                let n = plans.len() as u64;
                let micros = start.elapsed().as_micros() as u64;
                log(|| {
                    let names: Vec<String> = plans.iter().map(|p| name_of(p.index)).collect();
                    format!(
                        "compiled {} in {micros} us, {bytes} bytes of code",
                        names.join(", ")
                    )
                });
                bump(|s| {
                    s.compiled += n;
                    s.compile_micros += micros;
                    s.code_bytes += bytes;
                });
            }
            None => {
                log(|| format!("LLVM refused {}", name_of(root)));
                root_proto.tier.reject();
                bump(|s| s.rejected += 1);
            }
        }
    }

    /// Publishes `root`'s code built ahead of time (`valk build`), if the
    /// executable carries its unit as planned now (`linked.rs`).
    fn bind_linked(&mut self, root: u32, owner: usize, globals: &Globals) -> bool {
        let Some(lib) = crate::linked::library() else {
            return false;
        };
        let Ok(plans) = crate::linked::whole_unit(root, globals) else {
            return false;
        };
        let Some(bound) = lib.bind(&plans, globals) else {
            log(|| format!("no code built ahead of time for {}", name_of(root)));
            return false;
        };
        let guards = || lower::UnitGuards::of(&plans);
        for (p, (index, entry, checked)) in plans.iter().zip(bound) {
            self.kept.extend(p.callees.values().map(|c| c.keep.clone()));
            if index != root && self.fresh(owner, index, globals).is_some() {
                continue;
            }
            // SAFETY: `entry` is the C entry `valk build` lowered from a
            // plan with this very key (same IR, same callees, same
            // builtins), linked to this runtime's words by `bind`: the code
            // the JIT would have built, with the `NativeEntry` contract,
            // in a library never unloaded.
            let published = unsafe { Published::new(entry as *const (), owner) };
            self.compiled.insert(
                (owner, index),
                Compiled {
                    published,
                    checked,
                    guards: guards(),
                    deps: Vec::new(),
                },
            );
            p.proto.tier.publish(published);
        }
        log(|| format!("bound {} to code built ahead of time", name_of(root)));
        true
    }

    /// Proto `i`'s compiled code for `owner`, unless its unit is stale
    /// (then it is compiled again, and the new code replaces it).
    fn fresh(&self, owner: usize, i: u32, globals: &Globals) -> Option<&Compiled> {
        let c = self.compiled.get(&(owner, i))?;
        let deps_fresh = c.deps.iter().all(|&(d, checked)| {
            // Earlier units only: the chain ends.
            d != i
                && self
                    .fresh(owner, d, globals)
                    .is_some_and(|dc| dc.checked == checked)
        });
        (deps_fresh && guards_hold(&c.guards, globals)).then_some(c)
    }

    /// The plans of `root` and every function it reaches that is not
    /// compiled yet (or is stale); an error if any of them cannot be
    /// compiled.
    fn unit(&self, root: u32, owner: usize, globals: &Globals) -> Result<Vec<Plan>, plan::Reject> {
        let mut plans: Vec<Plan> = Vec::new();
        let mut work = vec![root];
        while let Some(i) = work.pop() {
            if plans.iter().any(|p| p.index == i) || self.fresh(owner, i, globals).is_some() {
                continue;
            }
            if valk_lang::code::get(i).is_some_and(|p| p.tier.is_rejected()) {
                return Err("calls a function the tier rejected".into());
            }
            let p = plan::plan(i, globals)?;
            work.extend(p.callees.values().map(|c| c.proto));
            plans.push(p);
        }
        Ok(plans)
    }

    /// Lowers, optimises and loads `plans`; publishes their entries.
    /// Answers the object code's size, or `None` if LLVM refused.
    fn build(&mut self, plans: &[Plan], owner: usize, globals: &Globals) -> Option<u64> {
        self.units += 1;
        let module = self
            .llvm()?
            .context
            .create_module(&format!("valk_{}", plans[0].index));
        let llvm = self.llvm.as_ref()?;
        let t0 = Instant::now();
        let module = self.emit(module, plans, owner, globals)?;
        let t_emit = t0.elapsed();
        if std::env::var_os("VALK_JIT_IR").is_some() {
            eprintln!("{}", module.print_to_string().to_string());
        }
        // The code's size costs a second code generation: only when asked.
        let bytes = if logging() {
            llvm.machine
                .write_to_memory_buffer(&module, inkwell::targets::FileType::Object)
                .map(|b| b.get_size() as u64)
                .unwrap_or(0)
        } else {
            0
        };
        let t1 = Instant::now();
        llvm.ee.add_module(&module).ok()?;
        let mut entries = Vec::new();
        for p in plans {
            let a = llvm
                .ee
                .get_function_address(&lower::symbol(p.index, self.units))
                .ok()?;
            let checked = llvm
                .ee
                .get_function_address(&lower::checked_symbol(p.index, self.units))
                .ok()?;
            entries.push((p, a, checked));
        }
        let t_code = t1.elapsed();
        log(|| format!("lowering and optimising took {t_emit:?}, machine code {t_code:?}"));
        // The earlier units this one calls into.
        let mut deps: Vec<(u32, usize)> = Vec::new();
        for p in plans {
            for c in p.callees.values() {
                if plans.iter().all(|q| q.index != c.proto) {
                    if let Some(dc) = self.compiled.get(&(owner, c.proto)) {
                        deps.push((c.proto, dc.checked));
                    }
                }
            }
        }
        for (p, a, checked) in entries {
            // SAFETY: `a` is the address MCJIT gave for the function that
            // `lower` built from this plan: it has the `NativeEntry`
            // signature and contract (only effect-free code, bails on
            // anything else), and the engine is never dropped.
            let published = unsafe { Published::new(a as *const (), owner) };
            let compiled = Compiled {
                published,
                checked,
                guards: lower::UnitGuards::of(plans),
                deps: deps.clone(),
            };
            self.compiled.insert((owner, p.index), compiled);
            self.kept.extend(p.callees.values().map(|c| c.keep.clone()));
            p.proto.tier.publish(published);
        }
        // The machine code is loaded (MCJIT keeps it with its memory
        // manager); the module's IR is not needed any more.
        if llvm.ee.remove_module(&module).is_err() {
            std::mem::forget(module);
        }
        Some(bytes)
    }

    /// `plans` lowered into `module` and optimised (`None`: LLVM refused).
    fn emit(
        &self,
        module: Module<'static>,
        plans: &[Plan],
        owner: usize,
        globals: &Globals,
    ) -> Option<Module<'static>> {
        let llvm = self.llvm.as_ref()?;
        emit_module(
            llvm.context,
            module,
            plans,
            &llvm.machine,
            How {
                passes: "default<O2>",
                unit: self.units,
                links: None,
            },
            |i| self.compiled.get(&(owner, i)).map(|c| c.checked),
            globals,
        )
    }
}

/// How [`emit_module`] builds a module.
pub struct How<'a> {
    /// The LLVM pass pipeline (`default<O2>`).
    pub passes: &'a str,
    /// The unit's number, carried by its symbols.
    pub unit: u64,
    /// Built ahead of time: the runtime's words are read from the table
    /// [`lower::table_symbol`]`(unit)` (these links, in order, filled in
    /// when loaded), and functions are named by their place in `plans`.
    /// `None`: the JIT's code, with `globals`' addresses in it.
    pub links: Option<&'a [lower::Link]>,
}

/// Lowers `plans` into `module`, verifies and optimises it. `earlier`
/// answers the address of a function compiled before.
pub fn emit_module<'ctx>(
    context: &'ctx Context,
    module: Module<'ctx>,
    plans: &[Plan],
    machine: &TargetMachine,
    how: How<'_>,
    earlier: impl Fn(u32) -> Option<usize>,
    globals: &Globals,
) -> Option<Module<'ctx>> {
    let How {
        passes,
        unit,
        links,
    } = how;
    module.set_triple(&machine.get_triple());
    module.set_data_layout(&machine.get_target_data().get_data_layout());
    let ids: Vec<u32> = match links {
        Some(_) => (0..plans.len() as u32).collect(),
        None => plans.iter().map(|p| p.index).collect(),
    };
    let fns = lower::declare(context, &module, &ids, unit);
    let linking = match links {
        Some(links) => {
            let ty = context.i64_type().array_type(links.len() as u32);
            let table = module.add_global(ty, None, &lower::table_symbol(unit));
            table.set_initializer(&ty.const_zero());
            lower::Linking::Table(table.as_pointer_value(), links)
        }
        None => lower::Linking::Now(globals),
    };
    let guards = lower::UnitGuards::of(plans);
    let mut targets: HashMap<u32, CallTarget> = HashMap::new();
    for (p, f) in plans.iter().zip(&fns) {
        targets.insert(p.index, CallTarget::Here(f.body));
    }
    for p in plans {
        for c in p.callees.values() {
            if let std::collections::hash_map::Entry::Vacant(e) = targets.entry(c.proto) {
                e.insert(CallTarget::At(earlier(c.proto)?));
            }
        }
    }
    for (p, f) in plans.iter().zip(&fns) {
        lower::lower(context, &module, *f, p, linking, &guards, &targets).ok()?;
    }
    module.verify().ok()?;
    module
        .run_passes(passes, machine, PassBuilderOptions::create())
        .ok()?;
    Some(module)
}

fn bump(f: impl FnOnce(&mut JitStats)) {
    f(&mut STATS.lock().unwrap_or_else(|e| e.into_inner()));
}

/// Is `$VALK_JIT_LOG` set (say on stderr what the tier does)?
fn logging() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("VALK_JIT_LOG").is_some_and(|v| !v.is_empty()))
}

fn log(line: impl FnOnce() -> String) {
    if logging() {
        eprintln!("valk-jit: {}", line());
    }
}

/// A function's name for the log (`fib`, or `lambda@LINE:COL`).
fn name_of(index: u32) -> String {
    let Some(p) = valk_lang::code::get(index) else {
        return format!("#{index}");
    };
    match p.meta.name {
        Some(n) => valk_heap::symbol_name(n).to_string(),
        None => format!("a lambda at {}:{}", p.meta.span.line, p.meta.span.col),
    }
}
