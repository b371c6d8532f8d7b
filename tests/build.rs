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

    // An OUT that is not a regular file is left alone.
    let dir = scratch("out_is_a_directory");
    std::fs::create_dir_all(&dir).unwrap();
    let built = run({
        let mut c = valk();
        c.arg("build").arg(&program).arg("-o").arg(&dir);
        c
    });
    assert_eq!(built.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&built.stderr).contains("not a regular file"));
    assert!(dir.is_dir());
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

/// Builds `source` (saved as `name.valk`) into an executable; answers
/// its path and what `valk build` said.
fn build(name: &str, source: &str) -> (PathBuf, Output) {
    let program = scratch(&format!("{name}.valk"));
    std::fs::write(&program, source).unwrap();
    let exe = scratch(name);
    let built = run({
        let mut c = valk();
        c.arg("build").arg(&program).arg("-o").arg(&exe);
        c
    });
    assert!(built.status.success(), "{built:?}");
    (exe, built)
}

/// `valk run` of `name.valk` (written by [`build`]).
fn valk_run(name: &str) -> Output {
    run({
        let mut c = valk();
        c.arg("run").arg(scratch(&format!("{name}.valk")));
        c
    })
}

#[cfg(feature = "jit")]
#[test]
fn built_functions_run_native_code_from_their_first_call() {
    let (exe, built) = build(
        "aot",
        "(fun {fib n} {if (< n 2) {n} {+ (fib (- n 1)) (fib (- n 2))}})
         (fun {tak x y z} {if (< y x) {tak (tak (- x 1) y z) (tak (- y 1) z x) (tak (- z 1) x y)} {z}})
         (fun {mul a b} {* a b})
         (fun {greet n} {print \"hi\" n})
         (greet (fib 15))
         (print (tak 12 8 4) (mul 3037000499 3037000499))",
    );
    let said = String::from_utf8_lossy(&built.stderr);
    assert!(said.contains("native code for fib, tak, mul"), "{said}");
    let by_exe = run({
        let mut c = Command::new(&exe);
        c.env("VALK_JIT_LOG", "1");
        c
    });
    let log = String::from_utf8_lossy(&by_exe.stderr);
    // One call each: the JIT would not have compiled them yet.
    assert!(
        log.contains("bound fib to code built ahead of time"),
        "{log}"
    );
    assert!(
        log.contains("bound tak to code built ahead of time"),
        "{log}"
    );
    assert!(!log.contains("compiled fib"), "{log}");
    // The product leaves the small integers: the bail to the interpreter
    // gives the boxed result.
    assert_eq!(
        String::from_utf8_lossy(&by_exe.stdout),
        String::from_utf8_lossy(&valk_run("aot").stdout)
    );
    assert!(String::from_utf8_lossy(&by_exe.stdout).contains("9223372030926249001"));
    // Without the native tier the same executable interprets.
    let off = run({
        let mut c = Command::new(&exe);
        c.env("VALK_JIT", "off").env("VALK_JIT_LOG", "1");
        c
    });
    same(&valk_run("aot"), &off);
}

#[cfg(feature = "jit")]
#[test]
fn redefinitions_in_a_built_program_behave_like_valk_run() {
    let (exe, _) = build(
        "aot_redef",
        "(fun {sq n} {* n n})
         (fun {f n} {+ (sq n) 1})
         (print (f 7))
         (fun {sq n} {* n 3})
         (print (f 7) (sq 2))
         (def {k} 100)
         (fun {g n} {+ n k})
         (print (g 1))
         (def {k} 5)
         (print (g 1))
         (def {+} -)
         (print (g 1))
         (fun {before n} {* (after n) 2})
         (fun {after n} {- n 1})
         (print (before 5))",
    );
    let by_exe = run({
        let mut c = Command::new(&exe);
        c.env("VALK_JIT_LOG", "1");
        c
    });
    let log = String::from_utf8_lossy(&by_exe.stderr);
    assert!(log.contains("bound f to code built ahead of time"), "{log}");
    assert!(log.contains("bound g to code built ahead of time"), "{log}");
    // A function calling one defined after it is built once both are.
    assert!(
        log.contains("bound before to code built ahead of time"),
        "{log}"
    );
    assert_eq!(
        String::from_utf8_lossy(&by_exe.stdout),
        "50\n22 6\n101\n6\n-4\n8\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&by_exe.stdout),
        String::from_utf8_lossy(&valk_run("aot_redef").stdout)
    );
}

#[cfg(feature = "jit")]
#[test]
fn an_actor_in_code_built_ahead_of_time_yields_and_can_be_killed() {
    // fib 40 takes seconds even natively: the actor must yield (through
    // its native frames) for the main actor to run, and die when killed.
    let (exe, _) = build(
        "aot_kill",
        "(fun {fib n} {if (< n 2) {n} {+ (fib (- n 1)) (fib (- n 2))}})
         (def {busy} (spawn (\\ {} {fib 40})))
         (def {m} (monitor busy))
         (print (fib 20))
         (sleep 50)
         (exit busy :kill)
         (print (receive {{:DOWN r p why} why}))",
    );
    let by_exe = run({
        let mut c = Command::new(&exe);
        c.env("VALK_SCHEDULERS", "1");
        c
    });
    assert_eq!(String::from_utf8_lossy(&by_exe.stdout), "6765\n:killed\n");
    assert_eq!(by_exe.status.code(), Some(0));
}

#[cfg(feature = "jit")]
#[test]
fn a_build_whose_native_code_cannot_be_linked_says_why() {
    let program = scratch("nolink.valk");
    std::fs::write(&program, "(fun {inc n} {+ n 1})\n(print (inc 1))\n").unwrap();
    let exe = scratch("nolink");
    let _ = std::fs::remove_file(&exe);
    let built = run({
        let mut c = valk();
        c.env("CC", "/nonexistent/cc")
            .arg("build")
            .arg(&program)
            .arg("-o")
            .arg(&exe);
        c
    });
    assert_eq!(built.status.code(), Some(1));
    let said = String::from_utf8_lossy(&built.stderr);
    assert!(
        said.contains("needs a C compiler (`/nonexistent/cc`)"),
        "{said}"
    );
    assert!(!exe.exists());
}

#[cfg(feature = "jit")]
#[test]
fn an_executable_whose_native_code_is_damaged_still_runs_its_program() {
    let (exe, _) = build(
        "aot_damaged",
        "(fun {fib n} {if (< n 2) {n} {+ (fib (- n 1)) (fib (- n 2))}})
         (print (fib 20))",
    );
    // The trailer: four little-endian lengths (text, name, shared object,
    // manifest), then the magic. Zero the shared object's ELF header.
    let mut image = std::fs::read(&exe).unwrap();
    let n = image.len();
    let len = |k: usize| {
        let at = n - 40 + 8 * k;
        u64::from_le_bytes(image[at..at + 8].try_into().unwrap()) as usize
    };
    let (text, name, so, manifest) = (len(0), len(1), len(2), len(3));
    assert!(so > 64, "the executable carries native code");
    let so_start = n - 40 - manifest - so;
    assert_eq!(&image[so_start..so_start + 4], b"\x7fELF");
    assert!(so_start >= text + name);
    image[so_start..so_start + 64].fill(0);
    let damaged = scratch("aot_damaged_copy");
    std::fs::write(&damaged, &image).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&damaged, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = run({
        let mut c = Command::new(&damaged);
        c.env("VALK_JIT_LOG", "1");
        c
    });
    assert_eq!(String::from_utf8_lossy(&out.stdout), "6765\n");
    assert_eq!(out.status.code(), Some(0));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("native code not loaded"), "{log}");
    assert!(!log.contains("bound fib"), "{log}");
}

/// The fuzz target's generated integer programs (`valk_codegen::fuzzing`),
/// sixty of them in one file (each round's functions renamed apart, each
/// call printed or its error message printed): the executable `valk
/// build` makes, running code built ahead of time, prints what the
/// interpreter prints.
#[cfg(feature = "jit")]
#[test]
fn generated_programs_built_ahead_of_time_match_the_interpreter() {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut source = String::new();
    for round in 0..60 {
        let data = valk_codegen::fuzzing::seeded_bytes(&mut seed, 256);
        let (defs, calls) = valk_codegen::fuzzing::program(&data);
        let rename = |s: &str| {
            let mut s = s.to_string();
            for i in 0..3 {
                s = s
                    .replace(&format!("{{f{i} "), &format!("{{r{round}f{i} "))
                    .replace(&format!("(f{i} "), &format!("(r{round}f{i} "));
            }
            s
        };
        source += &rename(&defs);
        for call in calls {
            source += &format!(
                "(print (try {{{}}} {{\\ {{e}} {{error-message e}}}}))\n",
                rename(&call)
            );
        }
    }
    let (exe, built) = build("aot_generated", &source);
    let said = String::from_utf8_lossy(&built.stderr);
    let interpreted = run({
        let mut c = valk();
        c.arg("--jit=off")
            .arg("run")
            .arg(scratch("aot_generated.valk"));
        c
    });
    let by_exe = run({
        let mut c = Command::new(&exe);
        c.env("VALK_JIT_LOG", "1");
        c
    });
    assert_eq!(
        String::from_utf8_lossy(&by_exe.stdout),
        String::from_utf8_lossy(&interpreted.stdout),
    );
    assert_eq!(by_exe.status.code(), interpreted.status.code());
    let log = String::from_utf8_lossy(&by_exe.stderr);
    let bound = log.matches("to code built ahead of time").count();
    assert!(bound > 30, "only {bound} functions bound ({said})\n{log}");
}
