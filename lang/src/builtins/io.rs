//! I/O: `print`, `println`, `printf`, files, `read-forms`.
//!
//! Owned by the library helper; see `super` for how to write a builtin.
//! (`load` is in the prelude: it reads a file with `read-file` and
//! `read-forms` and evaluates the forms in order.)
//!
//! Output goes to the interpreter's writer (`BuiltinCx::out`), never straight to the
//! process's stdout, so embedders and tests can capture it. A formatted line
//! is built completely before anything is written: a bad `printf` prints
//! nothing.

use std::io::Read as _;
use std::sync::atomic::{AtomicBool, Ordering};

use valk_heap::Value;

use super::{BuiltinCx, BuiltinDef, Failure, VARIADIC};
use crate::reader;
use crate::syntax::Node;

pub(crate) static BUILTINS: &[BuiltinDef] = &[
    BuiltinDef::new(
        "print",
        0,
        VARIADIC,
        "(print x ...): the display forms of the arguments separated by one space, then a newline.",
        print,
    ),
    BuiltinDef::new(
        "printf",
        1,
        VARIADIC,
        "(printf format x ...): print format with C's directives replaced: %s (display form), %d/%ld (integer), %x/%X/%o (hex, octal), %f/%e/%g (number), %%, each with flags, width and precision (%-8s, %05.2f, %#x); no newline.",
        printf,
    ),
    BuiltinDef::new(
        "println",
        1,
        VARIADIC,
        "(println format x ...): printf, then a newline.",
        println,
    ),
    BuiltinDef::new(
        "read-file",
        1,
        1,
        "(read-file path): the contents of a UTF-8 text file as a string.",
        read_file,
    ),
    BuiltinDef::new(
        "write-file",
        2,
        2,
        "(write-file path text): replace the file's contents with the string text.",
        write_file,
    ),
    BuiltinDef::new(
        "read-forms",
        1,
        2,
        "(read-forms text [source-name]): the forms written in text, as a Q-expression of data (nothing runs), or the read error naming source-name:line:col.",
        read_forms,
    ),
];

/// Set when a write failed because the reader of the output went away.
static OUTPUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// See [`super::system::output_closed`].
pub(crate) fn output_closed() -> bool {
    OUTPUT_CLOSED.load(Ordering::Relaxed)
}

/// Writes `text` to the interpreter's output. A failed write (a closed pipe,
/// a full disk) is an error in the writing actor, never a panic.
/// Writes `text` where `print` writes; `()`.
pub(crate) fn emit_text(cx: &mut BuiltinCx<'_>, text: &str) -> Result<Value, Failure> {
    emit(cx, text)
}

fn emit(cx: &mut BuiltinCx<'_>, text: &str) -> Result<Value, Failure> {
    let written = cx
        .out
        .write_all(text.as_bytes())
        .and_then(|()| cx.out.flush());
    match written {
        Ok(()) => Ok(Value::EMPTY_S),
        Err(e) => {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                OUTPUT_CLOSED.store(true, Ordering::Relaxed);
            }
            Err(cx.error(format!(
                "`{}`: cannot write the output: {}",
                cx.builtin_name(),
                io_reason(&e)
            )))
        }
    }
}

fn print(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let mut line = String::new();
    for (i, &arg) in args.iter().enumerate() {
        if i > 0 {
            cx.append_text(&mut line, " ")?;
        }
        cx.append_value(&mut line, arg, false)?;
    }
    cx.append_text(&mut line, "\n")?;
    emit(cx, &line)
}

fn printf(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let text = format(cx, args)?;
    cx.meter.bytes(text.len());
    emit(cx, &text)
}

fn println(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let mut text = format(cx, args)?;
    cx.meter.bytes(text.len());
    cx.append_text(&mut text, "\n")?;
    emit(cx, &text)
}

/// The text of a `printf` call: `args[0]` is the format, the rest fill its
/// directives in order. Every argument must be used.
fn format(cx: &BuiltinCx<'_>, args: &[Value]) -> Result<String, Failure> {
    let fmt = cx.str_arg(args, 0)?;
    let name = cx.builtin_name();
    let mut out = String::with_capacity(fmt.len());
    let mut next = 1;
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        let spec = match super::format::parse(&mut chars) {
            Ok(spec) => spec,
            Err(why) => return Err(cx.error(format!("`{name}`: {why}"))),
        };
        if next >= args.len() {
            return Err(cx.error(format!(
                "`{name}`: the format needs more than the {} argument(s) given after it",
                args.len() - 1
            )));
        }
        if spec.wants_int() {
            spec.int(&mut out, cx.int_arg(args, next)?);
        } else if spec.wants_float() {
            spec.float(&mut out, cx.float_arg(args, next)?);
        } else if spec.width == 0 && spec.precision.is_none() {
            cx.append_value_unmetered(&mut out, args[next], false)?;
        } else {
            let mut text = String::new();
            cx.append_value_unmetered(&mut text, args[next], false)?;
            spec.text(&mut out, &text);
        }
        next += 1;
    }
    if next < args.len() {
        return Err(cx.error(format!(
            "`{name}`: {} argument(s) left over after the format",
            args.len() - next
        )));
    }
    Ok(out)
}

/// The most bytes `read-file` reads: a bigger file is an error rather than
/// an out-of-memory abort.
pub const MAX_READ_BYTES: u64 = 256 << 20;

fn read_file(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let path = cx.str_arg(args, 0)?.to_owned();
    let p = path.clone();
    // Off the scheduler threads: a slow disk or network file system must
    // not stop other actors.
    let read = cx.blocking(move || read_regular_file(std::path::Path::new(&p), MAX_READ_BYTES))?;
    match read {
        Ok(text) => cx.string(&text),
        Err(reason) => Err(cx.error(format!(
            "`{}`: cannot read {path:?}: {reason}",
            cx.builtin_name(),
        ))),
    }
}

/// The text of a regular file of at most `max` bytes, or a short reason.
/// A FIFO or device is refused before it is opened (opening a FIFO blocks
/// until a writer comes; `/dev/zero` never ends), and a file that grows past
/// `max` while it is read is refused too.
pub fn read_regular_file(path: &std::path::Path, max: u64) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| io_reason(&e))?;
    if meta.is_dir() {
        return Err("it is a directory".into());
    }
    if !meta.is_file() {
        return Err("not a regular file (a FIFO, socket or device)".into());
    }
    let too_big = || format!("bigger than the {} MB limit", max >> 20);
    if meta.len() > max {
        return Err(too_big());
    }
    let file = std::fs::File::open(path).map_err(|e| io_reason(&e))?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_reason(&e))?;
    if bytes.len() as u64 > max {
        return Err(too_big());
    }
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".into())
}

fn write_file(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let path = cx.str_arg(args, 0)?.to_owned();
    let text = cx.str_arg(args, 1)?.to_owned();
    let p = path.clone();
    match cx.blocking(move || std::fs::write(p, text))? {
        Ok(()) => Ok(Value::EMPTY_S),
        Err(e) => Err(cx.error(format!(
            "`{}`: cannot write {path:?}: {}",
            cx.builtin_name(),
            io_reason(&e)
        ))),
    }
}

fn read_forms(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let source_name = if args.len() > 1 {
        cx.str_arg(args, 1)?.to_owned()
    } else {
        "<string>".to_owned()
    };
    let forms = match reader::read_all(cx.str_arg(args, 0)?, &source_name) {
        Ok(forms) => forms,
        Err(e) => {
            return Err(cx.error(format!(
                "{source_name}:{}:{}: {}",
                e.span.line, e.span.col, e.message
            )))
        }
    };
    let mut items = Vec::with_capacity(forms.len());
    for form in &forms {
        items.push(form_value(cx, form)?);
    }
    cx.qlist(&items)
}

/// A read form as data (iterative: the form may be as deep as the reader
/// allows on any stack).
fn form_value(cx: &mut BuiltinCx<'_>, form: &Node) -> Result<Value, Failure> {
    Ok(crate::compiler::node_to_value(cx.heap, form)?)
}

/// An I/O error as a short lower-case phrase, without the OS error number
/// ("no such file or directory").
fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error") {
        Some(at) => &text[..at],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::{io_reason, output_closed, read_regular_file};
    use crate::Interp;

    /// A writer whose reader has gone away.
    struct ClosedPipe;

    impl std::io::Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_write_is_an_error_value_and_a_closed_pipe_is_remembered() {
        let mut it = Interp::new();
        it.set_output(Box::new(ClosedPipe));
        for src in ["(print 1)", "(println \"%d\" 1)", "(printf \"x\")"] {
            let err = it.eval_source(src, "t.valk").unwrap_err();
            assert!(
                err.message
                    .ends_with("cannot write the output: broken pipe"),
                "{src}: {err}"
            );
        }
        let caught = it
            .eval_source("(error-message (try {print 1} {\\ {e} {e}}))", "t.valk")
            .unwrap();
        assert_eq!(
            it.repr(caught),
            "\"`print`: cannot write the output: broken pipe\""
        );
        assert!(output_closed());
    }

    #[test]
    fn only_regular_files_within_the_cap_are_read() {
        let reason = read_regular_file(std::path::Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert!(reason.starts_with("not a regular file"), "{reason}");
        let dir = std::env::temp_dir().join(format!("valk-io-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ten.txt");
        std::fs::write(&file, "0123456789").unwrap();
        assert_eq!(read_regular_file(&file, 10).unwrap(), "0123456789");
        let reason = read_regular_file(&file, 9).unwrap_err();
        assert!(reason.starts_with("bigger than"), "{reason}");
        assert!(read_regular_file(&dir, 10)
            .unwrap_err()
            .contains("directory"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn io_reasons_are_short_phrases() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(io_reason(&e), "no such file or directory");
        let e = std::io::Error::other("Odd");
        assert_eq!(io_reason(&e), "odd");
    }
}
