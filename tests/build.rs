//! `valk build`: the executable it makes behaves like `valk run` on the
//! same program (output, status, arguments, actors), and `--emit` writes
//! the native tier's code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn valk() -> Command {
    Command::new(env!("CARGO_BIN_EXE_valk"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("build");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn run(mut c: Command) -> Output {
    c.env("NO_COLOR", "1").output().expect("the command starts")
}

fn same(a: &Output, b: &Output) {
    assert_eq!(
        String::from_utf8_lossy(&a.stdout),
        String::from_utf8_lossy(&b.stdout)
    );
    assert_eq!(
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    assert_eq!(a.status.code(), b.status.code());
}

#[test]
fn a_built_program_behaves_like_valk_run() {
    let program = scratch("prog.valk");
    std::fs::write(
        &program,
        "(fun {fib n} {if (< n 2) {n} {+ (fib (- n 1)) (fib (- n 2))}})
         (print \"args:\" *args*)
         (def {p} (spawn (\\ {} {receive {{from n} (send from (fib n))}})))
         (send p (list (self) 20))
         (print (receive {v v}))
         (exit (len *args*))",
    )
    .unwrap();
    let exe = scratch("prog");
    let built = run({
        let mut c = valk();
        c.args(["build"]).arg(&program).arg("-o").arg(&exe);
        c
    });
    assert!(built.status.success(), "{built:?}");
    let by_run = run({
        let mut c = valk();
        c.arg("run").arg(&program).args(["x", "--y", "z"]);
        c
    });
    let by_exe = run({
        let mut c = Command::new(&exe);
        c.args(["x", "--y", "z"]);
        c
    });
    same(&by_run, &by_exe);
    assert_eq!(by_exe.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&by_exe.stdout).contains("6765"));
}

#[test]
fn errors_at_run_time_are_reported_alike_and_syntax_errors_stop_the_build() {
    let program = scratch("fails.valk");
    std::fs::write(&program, "(print 1)\n(+ 1 \"a\")\n").unwrap();
    let exe = scratch("fails");
    assert!(run({
        let mut c = valk();
        c.arg("build").arg(&program).arg("-o").arg(&exe);
        c
    })
    .status
    .success());
    let by_run = run({
        let mut c = valk();
        c.arg("run").arg(&program);
        c
    });
    same(&by_run, &run(Command::new(&exe)));
    assert_eq!(by_run.status.code(), Some(1));

    let broken = scratch("broken.valk");
    std::fs::write(&broken, "(print 1\n").unwrap();
    let out = scratch("broken");
    let built = run({
        let mut c = valk();
        c.arg("build").arg(&broken).arg("-o").arg(&out);
        c
    });
    assert_eq!(built.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&built.stderr).contains("broken.valk:"));
    assert!(!out.exists());
}

#[cfg(feature = "jit")]
#[test]
fn emit_writes_the_native_code_of_the_programs_functions() {
    let program = scratch("emit.valk");
    std::fs::write(
        &program,
        "(fun {fib n} {if (< n 2) {n} {+ (fib (- n 1)) (fib (- n 2))}})
         (fun {greet n} {print \"hi\" n})
         (print (fib 10))",
    )
    .unwrap();
    for (kind, level) in [("llvm", "-O0"), ("asm", "-O2"), ("obj", "-O3")] {
        let out = scratch(&format!("emit.{kind}"));
        let r = run({
            let mut c = valk();
            c.arg("build")
                .arg(&program)
                .args(["--emit", kind, level, "-o"])
                .arg(&out);
            c
        });
        assert!(r.status.success(), "{r:?}");
        assert!(String::from_utf8_lossy(&r.stderr).contains("native code for fib"));
        let bytes = std::fs::read(&out).unwrap();
        match kind {
            "llvm" => assert!(String::from_utf8_lossy(&bytes).contains("define i64 @valk_fn_")),
            "asm" => assert!(String::from_utf8_lossy(&bytes).contains("valk_fn_")),
            _ => assert_eq!(&bytes[..4], b"\x7fELF"),
        }
    }
}
