//! The `rules` example (examples/embed/rules.rs) prints exactly
//! examples/embed/rules.expected.

use std::path::Path;
use std::process::Command;

#[test]
fn rules_example_prints_the_expected_summary() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO"))
        .args(["run", "-q", "-p", "valk", "--example", "rules"])
        .current_dir(manifest.join(".."))
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the example failed: {}\n{stderr}",
        out.status
    );
    let expected = std::fs::read_to_string(manifest.join("../examples/embed/rules.expected"))
        .expect("rules.expected is readable");
    let stdout = String::from_utf8(out.stdout).expect("the output is UTF-8");
    assert!(
        stdout == expected,
        "the example's output differs from examples/embed/rules.expected\n--- got:\n{stdout}\n--- stderr:\n{stderr}"
    );
}
