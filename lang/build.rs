//! Embeds every `prelude/*.valk` file: `prelude.valk` first, then
//! `test.valk`, then the rest by name. Missing files are simply absent.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join("prelude");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "valk"));
    let rank = |p: &PathBuf| match p.file_name().and_then(|n| n.to_str()) {
        Some("prelude.valk") => 0,
        Some("test.valk") => 1,
        _ => 2,
    };
    files.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    let mut out = String::from(
        "/// The embedded prelude files, in load order.\npub const FILES: [(&str, &str); ",
    );
    let _ = write!(out, "{}] = [", files.len());
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("prelude");
        // Source names no user file can have (`test.valk` is a common
        // name for a user's file): `<prelude/test.valk>`.
        let _ = write!(
            out,
            "({:?}, include_str!({:?})),",
            format!("<prelude/{name}>"),
            f.display().to_string()
        );
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("prelude.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        println!("cargo:warning=cannot write {}: {e}", dest.display());
    }
}
