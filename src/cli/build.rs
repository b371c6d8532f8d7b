//! `valk build FILE -o OUT`: a standalone executable that runs FILE the way
//! `valk run FILE` does; `--emit llvm|asm|obj` writes the native tier's
//! code for FILE's functions instead.
//!
//! The executable is this `valk` binary with the program appended (its
//! text, its name, then a trailer: both lengths and [`MAGIC`]). At start,
//! [`embedded`] finds the trailer and the program runs, every command-line
//! argument bound to `*args*`. The program is read and compiled at build
//! time, so a syntax error is reported by `valk build`, not by the
//! executable. Its hot functions are compiled to native code when it runs
//! (the JIT; `--jit` / `$VALK_JIT` apply).

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::output::err_line;

/// The last 8 bytes of an executable `valk build` made.
const MAGIC: &[u8; 8] = b"VALKPRG1";

/// A trailer: the text's length, the name's length, [`MAGIC`].
const TRAILER: usize = 24;

/// `valk build FILE -o OUT` (no `--emit`): returns the exit status.
pub fn build(file: &Path, out: &Path) -> i32 {
    let (name, source) = match super::run::compile_program(file) {
        Ok(p) => p,
        Err(status) => return status,
    };
    match write_bundle(&source, &name, out) {
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

fn write_bundle(source: &str, name: &str, out: &Path) -> std::io::Result<()> {
    let mut image = fs::read(std::env::current_exe()?)?;
    // A bundle built from a bundle carries one program: the runtime's part.
    if let Some((_, _, at)) = trailer(&image) {
        image.truncate(at);
    }
    image.extend_from_slice(source.as_bytes());
    image.extend_from_slice(name.as_bytes());
    image.extend_from_slice(&(source.len() as u64).to_le_bytes());
    image.extend_from_slice(&(name.len() as u64).to_le_bytes());
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

/// (text length, name length, where the payload starts) of an image with
/// a program appended.
fn trailer(image: &[u8]) -> Option<(usize, usize, usize)> {
    let t = image.len().checked_sub(TRAILER)?;
    let tail = &image[t..];
    if &tail[16..] != MAGIC {
        return None;
    }
    let text = usize::try_from(u64::from_le_bytes(tail[..8].try_into().ok()?)).ok()?;
    let name = usize::try_from(u64::from_le_bytes(tail[8..16].try_into().ok()?)).ok()?;
    let start = t.checked_sub(text.checked_add(name)?)?;
    Some((text, name, start))
}

/// The program this executable carries (text, name), if `valk build` made
/// it. Reads only the trailer and the payload.
pub fn embedded() -> Option<(String, String)> {
    let mut f = fs::File::open(std::env::current_exe().ok()?).ok()?;
    let len = f.seek(SeekFrom::End(0)).ok()?;
    let t = len.checked_sub(TRAILER as u64)?;
    f.seek(SeekFrom::Start(t)).ok()?;
    let mut tail = [0u8; TRAILER];
    f.read_exact(&mut tail).ok()?;
    if &tail[16..] != MAGIC {
        return None;
    }
    let text = u64::from_le_bytes(tail[..8].try_into().ok()?);
    let name = u64::from_le_bytes(tail[8..16].try_into().ok()?);
    let start = t.checked_sub(text.checked_add(name)?)?;
    f.seek(SeekFrom::Start(start)).ok()?;
    let mut payload = vec![0u8; usize::try_from(text + name).ok()?];
    f.read_exact(&mut payload).ok()?;
    let name_bytes = payload.split_off(usize::try_from(text).ok()?);
    Some((
        String::from_utf8(payload).ok()?,
        String::from_utf8(name_bytes).ok()?,
    ))
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
                err_line(&format!("valk: native code for {}", functions.join(", ")));
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
    fn a_trailer_finds_its_payload_and_nothing_else_has_one() {
        let mut image = b"\x7fELF runtime bytes".to_vec();
        assert_eq!(trailer(&image), None);
        let base = image.len();
        image.extend_from_slice(b"(print 1)prog.valk");
        image.extend_from_slice(&9u64.to_le_bytes());
        image.extend_from_slice(&9u64.to_le_bytes());
        image.extend_from_slice(MAGIC);
        assert_eq!(trailer(&image), Some((9, 9, base)));
        // Lengths past the start of the image are not a payload.
        let n = image.len();
        image[n - 24..n - 16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(trailer(&image), None);
    }
}
