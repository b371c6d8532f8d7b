//! The guide's examples run: in `docs/language.md` every ```` ```valk ````
//! block is a program, and the ```` ```text ```` block right after it is
//! exactly what `valk run` prints for it (status 0).

use std::path::Path;
use std::process::Command;

/// (line of the program block, program, expected output) for each pair.
fn examples(doc: &str) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    let lines: Vec<&str> = doc.lines().collect();
    let mut i = 0;
    let block = |start: usize| -> (String, usize) {
        let mut text = String::new();
        let mut j = start;
        while j < lines.len() && lines[j] != "```" {
            text.push_str(lines[j]);
            text.push('\n');
            j += 1;
        }
        (text, j + 1)
    };
    while i < lines.len() {
        if lines[i] == "```valk" {
            let at = i + 1;
            let (program, next) = block(i + 1);
            let mut k = next;
            while k < lines.len() && lines[k].trim().is_empty() {
                k += 1;
            }
            assert!(
                k < lines.len() && lines[k] == "```text",
                "docs/language.md:{at}: a valk block must be followed by a text block"
            );
            let (expected, after) = block(k + 1);
            out.push((at, program, expected));
            i = after;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn every_example_in_the_language_guide_prints_what_it_shows() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/language.md")).expect("docs/language.md");
    let all = examples(&doc);
    assert!(all.len() >= 10, "only {} examples found", all.len());
    let dir = std::env::temp_dir().join(format!("valk-doc-examples-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut failures = Vec::new();
    // Under the default tier and with every function compiled first: the
    // native tier must not change what any example prints.
    let modes: &[&str] = if cfg!(feature = "jit") {
        &["on", "always"]
    } else {
        &["off"]
    };
    for (mode, (line, program, expected)) in
        modes.iter().flat_map(|m| all.iter().map(move |e| (m, e)))
    {
        let file = dir.join(format!("example_{line}.valk"));
        std::fs::write(&file, program).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_valk"))
            .arg("run")
            .arg(&file)
            .env("VALK_JIT", mode)
            .current_dir(&dir)
            .output()
            .expect("valk runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        if stdout != *expected || !out.status.success() {
            failures.push(format!(
                "docs/language.md:{line} (--jit={mode}): status {:?}\n--- expected\n{expected}--- got\n{stdout}--- stderr\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
