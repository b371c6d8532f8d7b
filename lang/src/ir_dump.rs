//! `valk run --dump-ir`: the Valk IR of every function of a program, as
//! text. Each top-level form is compiled (not run) and printed with the
//! lambdas it contains, block by block, one instruction a line with the
//! source line:col it came from.

use std::fmt::Write as _;

use valk_heap::symbol::symbol_name;
use valk_heap::Heap;

use crate::compiler::{Compiler, Mode};
use crate::error::ValkError;
use crate::ir::{Op, Proto};
use crate::reader;

/// The IR of every form of `src` (named `file` in errors) and of every
/// function in it.
pub fn dump_source(src: &str, file: &str) -> Result<String, ValkError> {
    let forms = reader::read_all(src, file).map_err(ValkError::from_read)?;
    let mut heap = Heap::new();
    let mut out = String::new();
    for form in &forms {
        let index = Compiler::new(&mut heap)
            .compile_chunk(form, Mode::TopLevel)
            .map_err(ValkError::from_compile)?;
        dump(index, &mut out);
    }
    Ok(out)
}

/// Proto `index` and the lambdas it makes, in order.
pub fn dump(index: u32, out: &mut String) {
    let mut work = vec![index];
    while let Some(i) = work.pop() {
        let Some(p) = crate::code::get(i) else {
            continue;
        };
        write_proto(i, p, out);
        let mut inner: Vec<u32> = p
            .blocks
            .iter()
            .flat_map(|b| b.ops.iter())
            .filter_map(|op| match op {
                Op::Closure { proto, .. } => Some(*proto),
                _ => None,
            })
            .collect();
        inner.reverse();
        work.extend(inner);
    }
}

fn write_proto(index: u32, p: &Proto, out: &mut String) {
    let m = &p.meta;
    let name = match m.name {
        Some(n) => format!("`{}`", symbol_name(n)),
        None if index == 0 || m.formals.is_empty() && m.nparams == 0 => "top-level form".into(),
        None => "lambda".into(),
    };
    let params: Vec<&str> = m.formals.iter().map(|&s| symbol_name(s)).collect();
    let _ = writeln!(
        out,
        "function #{index} {name} at {}:{} (params: {}{}; captures: {}; registers: {}){}",
        m.span.line,
        m.span.col,
        if params.is_empty() {
            "none".to_string()
        } else {
            params.join(" ")
        },
        if m.rest { " (last is & rest)" } else { "" },
        m.ncaps,
        m.nregs,
        if m.is_macro { " macro" } else { "" },
    );
    for (k, c) in m.consts.iter().enumerate() {
        let _ = writeln!(out, "  const {k} = {:?}", c.value());
    }
    for (b, block) in p.blocks.iter().enumerate() {
        let _ = writeln!(out, "  b{b}:");
        for (op, span) in block.ops.iter().zip(&block.spans) {
            let mut text = format!("{op:?}");
            if let Some(sym) = symbol_of(op) {
                let _ = write!(text, " `{}`", symbol_name(sym));
            }
            let _ = writeln!(out, "    {text:<60} ; {}:{}", span.line, span.col);
        }
    }
    out.push('\n');
}

/// The global name an op reads or binds, if any.
fn symbol_of(op: &Op) -> Option<u32> {
    match op {
        Op::Global { sym, .. }
        | Op::FrameGlobal { sym, .. }
        | Op::LocalChecked { sym, .. }
        | Op::DefGlobal { sym, .. }
        | Op::GlobalHead { sym, .. } => Some(*sym),
        _ => None,
    }
}
