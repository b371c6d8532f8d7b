//! `valk build --emit llvm|asm|obj`: the native tier's code for a
//! program's functions, written out for inspection.
//!
//! The program's `fun` definitions are bound in a scratch runtime (binding
//! a function has no other effect; nothing else of the program runs), each
//! is planned as the JIT would plan it, and those that compile (with every
//! function they call) are lowered into one module at the chosen level.
//! Compiled code refers to its runtime's globals by address, so the output
//! shows what the JIT runs; it is not linked into executables (`valk
//! build` without `--emit` bundles the program, whose functions the JIT
//! compiles when it runs).

use inkwell::context::Context;
use inkwell::targets::{FileType, RelocMode};
use inkwell::OptimizationLevel;

use valk_heap::{intern, SharedReader};
use valk_lang::syntax::{Node, Syn};
use valk_lang::{Interp, ValkError};

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

/// The output of `--emit kind` at `-O{opt}` for `source` (named `file`),
/// and the names of the functions in it. `Err`: a message (a read or
/// compile error carries its place).
pub fn emit(
    source: &str,
    file: &str,
    kind: EmitKind,
    opt: u8,
) -> Result<(Vec<u8>, Vec<String>), String> {
    let forms = valk_lang::reader::read_all(source, file)
        .map_err(|e| ValkError::from_read(e).to_string())?;
    let mut it = Interp::new();
    it.set_output(Box::new(std::io::sink()));
    let mut defined = Vec::new();
    for form in &forms {
        if let Some(name) = fun_name(form) {
            it.eval_form(form).map_err(|e| e.to_string())?;
            defined.push(name);
        }
    }
    let globals = it.globals().clone();
    let mut plans: Vec<Plan> = Vec::new();
    for &name in &defined {
        let Some(v) = globals.get_counted(name) else {
            continue;
        };
        let Some((code, _)) = SharedReader.closure_parts(v.value()) else {
            continue;
        };
        let Some((index, false)) = valk_lang::code::decode(code) else {
            continue;
        };
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
    let level = match opt {
        0 => OptimizationLevel::None,
        1 => OptimizationLevel::Less,
        2 => OptimizationLevel::Default,
        _ => OptimizationLevel::Aggressive,
    };
    let machine = crate::jit::host_machine(level, RelocMode::Default)
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
