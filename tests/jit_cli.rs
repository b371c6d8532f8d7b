//! The native tier as the command line shows it: the cap on compiled
//! functions, and the log that says what was compiled.

use std::process::Command;

#[cfg(feature = "jit")]
#[test]
fn past_the_cap_functions_are_interpreted_with_the_same_results() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("jit_cli");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("many.valk");
    let mut program = String::new();
    for i in 0..6 {
        program += &format!("(fun {{f{i} x}} {{+ x {i}}})\n(print (f{i} 10))\n");
    }
    std::fs::write(&file, program).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_valk"))
        .args(["--jit=always", "run"])
        .arg(&file)
        .env("VALK_JIT_MAX_FUNCTIONS", "2")
        .env("VALK_JIT_LOG", "1")
        .output()
        .expect("valk runs");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout, "10\n11\n12\n13\n14\n15\n");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("compiled f0 "), "{log}");
    assert!(log.contains("compiled f1 "), "{log}");
    assert!(!log.contains("compiled f2 "), "{log}");
    assert!(
        log.contains("2 functions compiled: the rest are interpreted"),
        "{log}"
    );
}
