//! `valk build`: the native tier's code for a program's functions, ahead
//! of time: linked into an executable, or written out (`--emit
//! llvm|asm|obj`) for inspection.
//!
//! The program's `fun` definitions are bound in a scratch runtime (binding
//! a function has no other effect; nothing else of the program runs), each
//! is planned as the JIT would plan it, and those that compile (with every
//! function they call) are lowered into one module at the chosen level.
//! `--emit` shows the code the JIT runs (with the scratch runtime's
//! addresses in it). [`precompile`] builds the code `valk build` carries
//! in an executable: the same lowering, reading the runtime's addresses
//! from a table filled in when it is loaded (`linked.rs`).

use inkwell::context::Context;
use inkwell::targets::{FileType, RelocMode};
use inkwell::OptimizationLevel;

use valk_heap::{intern, SharedReader};
use valk_lang::syntax::{Node, Syn};
use valk_lang::{Globals, Interp, ValkError};

use crate::linked;
use crate::plan::{self, Plan};

/// What `--emit` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmitKind {
    Llvm,
    Asm,
    Obj,
}

impl EmitKind {
    pub fn parse(s: &str) -> Option<EmitKind> {
        match s {
            "llvm" => Some(EmitKind::Llvm),
            "asm" => Some(EmitKind::Asm),
            "obj" => Some(EmitKind::Obj),
            _ => None,
        }
    }
}

/// The name a top-level `(fun {name params...} {body})` defines.
fn fun_name(form: &Node) -> Option<u32> {
    let Syn::List(_, items) = &form.syn else {
        return None;
    };
    let (Some(head), Some(sig)) = (items.first(), items.get(1)) else {
        return None;
    };
    if !matches!(head.syn, Syn::Sym(s) if s == intern("fun")) {
        return None;
    }
    let Syn::List(_, sig) = &sig.syn else {
        return None;
    };
    match sig.first().map(|n| &n.syn) {
        Some(Syn::Sym(s)) => Some(*s),
        _ => None,
    }
}

/// A scratch runtime with the program's `fun` definitions bound (binding
/// a function has no other effect; nothing else of the program runs).
/// `bound` sees the code index of each function just bound, with the
/// globals as they are then (a later `fun` of the same name comes after).
fn bind_functions(
    source: &str,
    file: &str,
    mut bound: impl FnMut(u32, &Globals),
) -> Result<Interp, String> {
    let forms = valk_lang::reader::read_all(source, file)
        .map_err(|e| ValkError::from_read(e).to_string())?;
    let mut it = Interp::new();
    it.set_output(Box::new(std::io::sink()));
    for form in &forms {
        let Some(name) = fun_name(form) else {
            continue;
        };
        if name == intern("fun") {
            // Later `fun` forms would run the program's own code.
            break;
        }
        it.eval_form(form).map_err(|e| e.to_string())?;
        let globals = it.globals().clone();
        let Some(v) = globals.get_counted(name) else {
            continue;
        };
        let Some((code, _)) = SharedReader.closure_parts(v.value()) else {
            continue;
        };
        if let Some((index, false)) = valk_lang::code::decode(code) {
            bound(index, &globals);
        }
    }
    Ok(it)
}

fn level(opt: u8) -> OptimizationLevel {
    match opt {
        0 => OptimizationLevel::None,
        1 => OptimizationLevel::Less,
        2 => OptimizationLevel::Default,
        _ => OptimizationLevel::Aggressive,
    }
}

/// The output of `--emit kind` at `-O{opt}` for `source` (named `file`),
/// and the names of the functions in it. `Err`: a message (a read or
/// compile error carries its place).
pub fn emit(
    source: &str,
    file: &str,
    kind: EmitKind,
    opt: u8,
) -> Result<(Vec<u8>, Vec<String>), String> {
    let mut defined = Vec::new();
    let it = bind_functions(source, file, |index, _| defined.push(index))?;
    let globals = it.globals().clone();
    let mut plans: Vec<Plan> = Vec::new();
    for index in defined {
        if plans.iter().all(|p| p.index != index) {
            if let Ok(p) = plan::plan(index, &globals) {
                plans.push(p);
            }
        }
    }
    // The functions they call (the prelude's too), then only those whose
    // callees are all there.
    let mut at = 0;
    while at < plans.len() {
        let wanted: Vec<u32> = plans[at].callees.values().map(|c| c.proto).collect();
        for index in wanted {
            if plans.iter().all(|p| p.index != index) {
                if let Ok(p) = plan::plan(index, &globals) {
                    plans.push(p);
                }
            }
        }
        at += 1;
    }
    loop {
        let keep: Vec<bool> = plans
            .iter()
            .map(|p| {
                p.callees
                    .values()
                    .all(|c| plans.iter().any(|q| q.index == c.proto))
            })
            .collect();
        if keep.iter().all(|k| *k) {
            break;
        }
        let mut k = keep.into_iter();
        plans.retain(|_| k.next().unwrap_or(false));
    }
    let names = plans
        .iter()
        .filter_map(|p| {
            p.proto
                .meta
                .name
                .map(|n| valk_heap::symbol_name(n).to_string())
        })
        .collect();
    let machine = crate::jit::host_machine(level(opt), RelocMode::Default)
        .ok_or("LLVM has no target for this machine")?;
    let context = Context::create();
    let module = context.create_module(file);
    let passes = format!("default<O{}>", opt.min(3));
    let module = crate::jit::emit_module(
        &context,
        module,
        &plans,
        &machine,
        crate::jit::How {
            passes: &passes,
            unit: 0,
            links: None,
        },
        |_| None,
        &globals,
    )
    .ok_or("LLVM refused the module")?;
    let bytes = match kind {
        EmitKind::Llvm => module.print_to_string().to_bytes().to_vec(),
        EmitKind::Asm | EmitKind::Obj => {
            let ft = if kind == EmitKind::Asm {
                FileType::Assembly
            } else {
                FileType::Object
            };
            machine
                .write_to_memory_buffer(&module, ft)
                .map_err(|e| e.to_string())?
                .as_slice()
                .to_vec()
        }
    };
    Ok((bytes, names))
}

/// The native part of an executable `valk build` makes.
pub struct NativeImage {
    /// A shared object with every unit's code.
    pub shared_object: Vec<u8>,
    /// What is in it (`linked::manifest`).
    pub manifest: String,
    /// The functions compiled, by name.
    pub functions: Vec<String>,
}

/// Compiles every function `source` defines with `fun` (each with every
/// function it reaches) at `-O{opt}`, and links the code into a shared
/// object with the system's C compiler (`$CC`, else `cc`). `progress` is
/// told (units done, units in all) after each unit. `Ok(None)`: no
/// function compiles. `Err`: a message.
pub fn precompile(
    source: &str,
    file: &str,
    opt: u8,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Option<NativeImage>, String> {
    // Each function is planned as it is when bound: the unit its first
    // calls will ask for. One that calls a function defined later is
    // planned again once all are bound.
    let mut planned: Vec<Vec<Plan>> = Vec::new();
    let mut later: Vec<u32> = Vec::new();
    let it = bind_functions(source, file, |index, globals| {
        match linked::whole_unit(index, globals) {
            Ok(plans) => planned.push(plans),
            Err(_) => later.push(index),
        }
    })?;
    let globals = it.globals().clone();
    planned.extend(
        later
            .into_iter()
            .filter_map(|index| linked::whole_unit(index, &globals).ok()),
    );
    let machine = crate::jit::host_machine(level(opt), RelocMode::PIC)
        .ok_or("LLVM has no target for this machine")?;
    let passes = format!("default<O{}>", opt.min(3));
    let context = Context::create();
    let mut units: Vec<linked::UnitEntry> = Vec::new();
    let mut objects: Vec<Vec<u8>> = Vec::new();
    let mut functions: Vec<String> = Vec::new();
    let total = planned.len();
    for (done, plans) in planned.into_iter().enumerate() {
        progress(done, total);
        let (entry, links) = linked::unit_entry(units.len() as u64 + 1, &plans);
        if units.iter().any(|u| u.key == entry.key) {
            continue;
        }
        let module = context.create_module(&entry.root);
        let module = crate::jit::emit_module(
            &context,
            module,
            &plans,
            &machine,
            crate::jit::How {
                passes: &passes,
                unit: entry.id,
                links: Some(&links),
            },
            |_| None,
            &globals,
        )
        .ok_or_else(|| format!("LLVM refused `{}`", entry.root))?;
        let object = machine
            .write_to_memory_buffer(&module, FileType::Object)
            .map_err(|e| e.to_string())?;
        objects.push(object.as_slice().to_vec());
        functions.push(entry.root.clone());
        units.push(entry);
    }
    if units.is_empty() {
        return Ok(None);
    }
    let shared_object = link_shared(&objects)?;
    Ok(Some(NativeImage {
        shared_object,
        manifest: linked::manifest(&units),
        functions,
    }))
}

/// `objects` linked into one shared object by the C compiler.
fn link_shared(objects: &[Vec<u8>]) -> Result<Vec<u8>, String> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("valk-build-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let result = (|| {
        let mut args: Vec<std::ffi::OsString> = vec![
            "-shared".into(),
            "-nostdlib".into(),
            "-Wl,-z,noexecstack".into(),
            "-o".into(),
            dir.join("native.so").into(),
        ];
        for (k, o) in objects.iter().enumerate() {
            let path = dir.join(format!("unit{k}.o"));
            std::fs::write(&path, o).map_err(|e| format!("{}: {e}", path.display()))?;
            args.push(path.into());
        }
        let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
        let out = std::process::Command::new(&cc)
            .args(&args)
            .output()
            .map_err(|e| {
                format!(
                    "linking native code needs a C compiler (`{}`): {e}",
                    cc.to_string_lossy()
                )
            })?;
        if !out.status.success() {
            return Err(format!(
                "`{}` could not link the native code: {}",
                cc.to_string_lossy(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        std::fs::read(dir.join("native.so")).map_err(|e| e.to_string())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
