//! `valk build FILE -o OUT`: a standalone executable that runs FILE the way
//! `valk run FILE` does; `--emit llvm|asm|obj` writes the native tier's
//! code for FILE's functions instead.
//!
//! The executable is this `valk` binary with the program appended: its
//! text, its name, its native code (a shared object and its manifest,
//! empty when no function compiles), then a trailer: the four lengths and
//! [`MAGIC`]. The program is read and compiled at build time, so a syntax
//! error is reported by `valk build`, not by the executable; its `fun`
//! definitions are compiled to native code ahead of time
//! (`valk_codegen::precompile`, linked by the C compiler). At start,
//! [`embedded`] finds the trailer, the native code is mapped, and the
//! program runs with every command-line argument bound to `*args*`. Each
//! function built ahead of time runs its native code from its first call;
//! the JIT compiles the others when they are hot (`--jit` / `$VALK_JIT`
//! apply).

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::output::err_line;

/// The last 8 bytes of an executable `valk build` made.
const MAGIC: &[u8; 8] = b"VALKPRG2";

/// The payload's parts, in order: text, name, shared object, manifest.
const PARTS: usize = 4;

/// A trailer: each part's length, then [`MAGIC`].
const TRAILER: usize = 8 * PARTS + 8;

/// The program an executable carries.
pub struct Embedded {
    pub source: String,
    pub name: String,
    /// Its native code built ahead of time: (shared object, manifest).
    pub native: Option<(Vec<u8>, String)>,
}

/// `valk build FILE -o OUT` (no `--emit`) at `-O{opt_level}`: returns
/// the exit status.
pub fn build(file: &Path, out: &Path, opt_level: u8) -> i32 {
    let (name, source) = match super::run::compile_program(file) {
        Ok(p) => p,
        Err(status) => return status,
    };
    let native = match precompile(&source, &name, opt_level) {
        Ok(native) => native,
        Err(message) => {
            err_line(&format!("valk: {message}"));
            return 1;
        }
    };
    let (image, manifest) = native.unwrap_or_default();
    match write_bundle(
        &[
            source.as_bytes(),
            name.as_bytes(),
            &image,
            manifest.as_bytes(),
        ],
        out,
    ) {
        Ok(()) => 0,
        Err(e) => {
            err_line(&format!(
                "valk: cannot write {}: {}",
                out.display(),
                super::io_reason(&e)
            ));
            1
        }
    }
}

/// The program's native code: (shared object, manifest), `None` if no
/// function compiles.
#[cfg(feature = "jit")]
fn precompile(
    source: &str,
    name: &str,
    opt_level: u8,
) -> Result<Option<(Vec<u8>, String)>, String> {
    use std::io::IsTerminal;
    // A line that counts up on a terminal, for programs with many
    // functions (about 6 ms each).
    let tty = std::io::stderr().is_terminal();
    let mut last = std::time::Instant::now();
    let mut shown = false;
    let mut progress = |done: usize, total: usize| {
        if tty && last.elapsed() >= std::time::Duration::from_millis(500) {
            eprint!("\rvalk: compiling native code: {done}/{total} functions");
            last = std::time::Instant::now();
            shown = true;
        }
    };
    let image = valk_codegen::precompile(source, name, opt_level, &mut progress);
    if shown {
        eprint!("\r\x1b[K");
    }
    Ok(image?.map(|i| {
        err_line(&format!("valk: native code for {}", listed(&i.functions)));
        (i.shared_object, i.manifest)
    }))
}

/// Function names for a one-line report: all of a few, the first of many.
#[cfg_attr(not(feature = "jit"), allow(dead_code))]
fn listed(names: &[String]) -> String {
    const SHOWN: usize = 8;
    if names.len() <= SHOWN {
        return names.join(", ");
    }
    format!(
        "{} functions: {} and {} more",
        names.len(),
        names[..SHOWN].join(", "),
        names.len() - SHOWN
    )
}

#[cfg(not(feature = "jit"))]
fn precompile(_: &str, _: &str, _: u8) -> Result<Option<(Vec<u8>, String)>, String> {
    Ok(None)
}

fn write_bundle(parts: &[&[u8]; PARTS], out: &Path) -> std::io::Result<()> {
    // The executable replaces OUT by a rename: never a device, a pipe or
    // a directory (`-o /dev/null` would be replaced by a file).
    if fs::symlink_metadata(out).is_ok_and(|m| !m.is_file()) {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut image = fs::read(std::env::current_exe()?)?;
    // A bundle built from a bundle carries one program: the runtime's part.
    if let Some((_, at)) = trailer(&image) {
        image.truncate(at);
    }
    for part in parts {
        image.extend_from_slice(part);
    }
    for part in parts {
        image.extend_from_slice(&(part.len() as u64).to_le_bytes());
    }
    image.extend_from_slice(MAGIC);
    // Written beside the target and renamed: a running OUT is not torn.
    let tmp = out.with_extension("valk-build-tmp");
    fs::write(&tmp, &image)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755))?;
    }
    fs::rename(&tmp, out)
}

/// The parts' lengths and where the payload starts, from a trailer (the
/// last [`TRAILER`] bytes of an image `len` bytes long).
fn parse_trailer(tail: &[u8], len: u64) -> Option<([u64; PARTS], u64)> {
    if tail.len() != TRAILER || &tail[8 * PARTS..] != MAGIC {
        return None;
    }
    let mut lens = [0u64; PARTS];
    let mut total = 0u64;
    for (k, l) in lens.iter_mut().enumerate() {
        *l = u64::from_le_bytes(tail[8 * k..8 * k + 8].try_into().ok()?);
        total = total.checked_add(*l)?;
    }
    let start = len.checked_sub(TRAILER as u64)?.checked_sub(total)?;
    Some((lens, start))
}

/// (the parts' lengths, where the payload starts) of an image with a
/// program appended.
fn trailer(image: &[u8]) -> Option<([u64; PARTS], usize)> {
    let t = image.len().checked_sub(TRAILER)?;
    let (lens, start) = parse_trailer(&image[t..], image.len() as u64)?;
    Some((lens, usize::try_from(start).ok()?))
}

/// The program this executable carries, if `valk build` made it. Reads
/// only the trailer and the payload.
pub fn embedded() -> Option<Embedded> {
    let mut f = fs::File::open(std::env::current_exe().ok()?).ok()?;
    let len = f.seek(SeekFrom::End(0)).ok()?;
    f.seek(SeekFrom::Start(len.checked_sub(TRAILER as u64)?))
        .ok()?;
    let mut tail = [0u8; TRAILER];
    f.read_exact(&mut tail).ok()?;
    let (lens, start) = parse_trailer(&tail, len)?;
    f.seek(SeekFrom::Start(start)).ok()?;
    let mut parts = Vec::with_capacity(PARTS);
    for l in lens {
        let mut part = vec![0u8; usize::try_from(l).ok()?];
        f.read_exact(&mut part).ok()?;
        parts.push(part);
    }
    let mut parts = parts.into_iter();
    let mut text = || parts.next().and_then(|p| String::from_utf8(p).ok());
    let (source, name) = (text()?, text()?);
    let image = parts.next()?;
    let manifest = String::from_utf8(parts.next()?).ok()?;
    Some(Embedded {
        source,
        name,
        native: (!image.is_empty()).then_some((image, manifest)),
    })
}

/// `valk build FILE --emit KIND -o OUT -O LEVEL`: returns the exit status.
pub fn emit(file: &Path, out: &Path, kind: &str, opt_level: u8) -> i32 {
    let (name, source) = match super::run::compile_program(file) {
        Ok(p) => p,
        Err(status) => return status,
    };
    emit_native(&source, &name, out, kind, opt_level)
}

#[cfg(feature = "jit")]
fn emit_native(source: &str, name: &str, out: &Path, kind: &str, opt_level: u8) -> i32 {
    let Some(kind) = valk_codegen::EmitKind::parse(kind) else {
        err_line(&format!(
            "valk: --emit takes llvm, asm or obj, not `{kind}`"
        ));
        return 1;
    };
    match valk_codegen::emit(source, name, kind, opt_level) {
        Ok((bytes, functions)) => {
            if let Err(e) = fs::write(out, bytes) {
                err_line(&format!(
                    "valk: cannot write {}: {}",
                    out.display(),
                    super::io_reason(&e)
                ));
                return 1;
            }
            if functions.is_empty() {
                err_line("valk: no function of the program compiles to native code");
            } else {
                err_line(&format!("valk: native code for {}", listed(&functions)));
            }
            0
        }
        Err(message) => {
            err_line(&format!("valk: {message}"));
            1
        }
    }
}

#[cfg(not(feature = "jit"))]
fn emit_native(_: &str, _: &str, _: &Path, _: &str, _: u8) -> i32 {
    err_line("valk: this valk was built without the native tier (cargo feature `jit`)");
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lists_of_functions_are_cut_short() {
        let names: Vec<String> = (0..20).map(|i| format!("f{i}")).collect();
        assert_eq!(listed(&names[..2]), "f0, f1");
        assert_eq!(
            listed(&names),
            "20 functions: f0, f1, f2, f3, f4, f5, f6, f7 and 12 more"
        );
    }

    #[test]
    fn a_trailer_finds_its_payload_and_nothing_else_has_one() {
        let mut image = b"\x7fELF runtime bytes".to_vec();
        assert!(trailer(&image).is_none());
        let base = image.len();
        let parts: [&[u8]; PARTS] = [b"(print 1)", b"prog.valk", b"", b"m"];
        for p in parts {
            image.extend_from_slice(p);
        }
        for p in parts {
            image.extend_from_slice(&(p.len() as u64).to_le_bytes());
        }
        image.extend_from_slice(MAGIC);
        assert_eq!(trailer(&image), Some(([9, 9, 0, 1], base)));
        // Lengths past the start of the image are not a payload.
        let n = image.len();
        image[n - TRAILER..n - TRAILER + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(trailer(&image).is_none());
    }
}
