//! The C API (`valk::capi`, `include/valk.h`), called the way C calls it.
//!
//! `header_is_up_to_date` regenerates `include/valk.h` from
//! `embed/src/capi.rs` with cbindgen and fails if the checked-in header
//! differs: `VALK_BLESS=1 cargo test -p valk --test capi` rewrites it.

use std::ffi::{c_char, c_long, c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use valk::capi::*;

// ---------------------------------------------------------------------------
// The header

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("embed/ has a parent")
        .to_path_buf()
}

/// The `//!` lines at the top of capi.rs, as the header's opening comment.
fn header_comment(src: &str) -> String {
    let mut out = String::from("/*\n");
    for line in src.lines().take_while(|l| l.starts_with("//!")) {
        let text = line.trim_start_matches("//!").trim_start();
        if text.is_empty() {
            out.push_str(" *\n");
        } else {
            out.push_str(" * ");
            out.push_str(text);
            out.push('\n');
        }
    }
    out.push_str(" */");
    out
}

/// `include/valk.h` as cbindgen makes it from `embed/src/capi.rs`.
fn generate_header() -> String {
    let src_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/capi.rs");
    let src = std::fs::read_to_string(&src_path).expect("read capi.rs");
    let mut config = cbindgen::Config {
        header: Some(header_comment(&src)),
        include_guard: Some("VALK_H".into()),
        autogen_warning: Some(
            "/* Generated from embed/src/capi.rs by cbindgen: do not edit. Regenerate with\n   \
             VALK_BLESS=1 cargo test -p valk --test capi */"
                .into(),
        ),
        language: cbindgen::Language::C,
        cpp_compat: true,
        style: cbindgen::Style::Type,
        no_includes: true,
        sys_includes: vec!["stddef.h".into()],
        usize_is_size_t: true,
        documentation: true,
        documentation_style: cbindgen::DocumentationStyle::Doxy,
        line_length: 80,
        ..Default::default()
    };
    for (from, to) in [
        ("ValkState", "valk_state_t"),
        ("ValkValue", "valk_value_t"),
        ("ValkCFn", "valk_c_fn"),
    ] {
        config.export.rename.insert(from.into(), to.into());
    }
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(&src_path)
        .generate()
        .expect("cbindgen could not generate the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("cbindgen wrote UTF-8")
}

#[test]
fn header_is_up_to_date() {
    let path = repo_root().join("include/valk.h");
    let fresh = generate_header();
    if std::env::var_os("VALK_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current != fresh {
        let line = current
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| current.lines().count().min(fresh.lines().count()));
        panic!(
            "include/valk.h does not match embed/src/capi.rs (first difference at \
             line {}:\n  checked in: {:?}\n  generated:  {:?}); regenerate it with\n\n    \
             VALK_BLESS=1 cargo test -p valk --test capi\n\nand review the diff",
            line + 1,
            current.lines().nth(line).unwrap_or("<end of file>"),
            fresh.lines().nth(line).unwrap_or("<end of file>"),
        );
    }
}

/// The header compiles as C99 and as C++ with every warning an error (when
/// there is a C compiler: `cc`, `c++`; `scripts/embed-c.sh` links it too).
#[test]
fn header_compiles_as_c99_and_cpp() {
    let dir = std::env::temp_dir().join(format!("valk-capi-header-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let include = repo_root().join("include");
    for (compiler, file, std) in [("cc", "h.c", "-std=c99"), ("c++", "h.cpp", "-std=c++11")] {
        let path = dir.join(file);
        std::fs::write(&path, "#include \"valk.h\"\nint main(void) { return 0; }\n").unwrap();
        let out = Command::new(compiler)
            .args([
                std,
                "-Wall",
                "-Wextra",
                "-Werror",
                "-pedantic",
                "-fsyntax-only",
            ])
            .arg("-I")
            .arg(&include)
            .arg(&path)
            .output();
        match out {
            Err(e) => eprintln!("skipped: no `{compiler}` ({e})"),
            Ok(out) => assert!(
                out.status.success(),
                "{compiler} rejects include/valk.h:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------
// Helpers

/// A state, shut down when dropped (also when a test fails).
struct State(*mut ValkState);

impl State {
    fn new() -> State {
        let st = valk_init();
        assert!(!st.is_null(), "valk_init failed");
        State(st)
    }

    /// `code`'s return code and result value (owned by the caller).
    fn eval(&self, code: &CStr) -> (i32, Value) {
        let mut r = ptr::null_mut();
        // SAFETY: the state is live, `code` is NUL-terminated and `r` is
        // writable.
        let rc = unsafe { valk_eval_string(self.0, code.as_ptr(), &mut r) };
        assert!(!r.is_null(), "valk_eval_string left *result NULL");
        (rc, Value(r))
    }

    /// `code`'s result, which must not be an error.
    fn eval_ok(&self, code: &CStr) -> Value {
        let (rc, v) = self.eval(code);
        assert_eq!(rc, 0, "{code:?} failed: {}", v.text());
        assert!(!v.is_error());
        v
    }

    /// valk_call with borrowed arguments.
    fn call(&self, name: &CStr, args: &[&Value]) -> Value {
        let mut ptrs: Vec<*mut ValkValue> = args.iter().map(|v| v.0).collect();
        let args_ptr = if ptrs.is_empty() {
            ptr::null_mut()
        } else {
            ptrs.as_mut_ptr()
        };
        // SAFETY: the state is live, `name` is NUL-terminated, and
        // `args_ptr` points to `ptrs.len()` live values (or is NULL for 0).
        Value(unsafe { valk_call(self.0, name.as_ptr(), args_ptr, ptrs.len()) })
    }

    fn register(&self, name: &CStr, f: ValkCFn, userdata: *mut c_void) -> i32 {
        // SAFETY: the state is live, `name` is NUL-terminated, and the test
        // callbacks are thread-safe with the userdata they are given (which
        // outlives the state: see each test).
        unsafe { valk_register_c_function(self.0, name.as_ptr(), f, userdata) }
    }

    /// Shuts down now (dropping does the same).
    fn shutdown(mut self) {
        self.shutdown_now();
    }

    fn shutdown_now(&mut self) {
        // SAFETY: the state is live (or NULL after an earlier call) and no
        // other thread uses it any more.
        unsafe { valk_shutdown(self.0) };
        self.0 = ptr::null_mut();
    }
}

impl Drop for State {
    fn drop(&mut self) {
        self.shutdown_now();
    }
}

/// An owned value, freed when dropped.
struct Value(*mut ValkValue);

impl Value {
    fn long(x: c_long) -> Value {
        Value(valk_from_long(x))
    }

    fn double(x: f64) -> Value {
        Value(valk_from_double(x))
    }

    fn string(s: &CStr) -> Value {
        // SAFETY: `s` is NUL-terminated.
        Value(unsafe { valk_from_string(s.as_ptr()) })
    }

    fn error(msg: &CStr) -> Value {
        // SAFETY: `msg` is NUL-terminated.
        Value(unsafe { valk_from_error(msg.as_ptr()) })
    }

    fn to_long(&self) -> c_long {
        // SAFETY: the value is live (or NULL).
        unsafe { valk_to_long(self.0) }
    }

    fn to_double(&self) -> f64 {
        // SAFETY: the value is live (or NULL).
        unsafe { valk_to_double(self.0) }
    }

    fn text_ptr(&self) -> *const c_char {
        // SAFETY: the value is live (or NULL).
        unsafe { valk_to_string(self.0) }
    }

    /// valk_to_string as a Rust string.
    fn text(&self) -> String {
        // SAFETY: valk_to_string never returns NULL, and its text lives as
        // long as the value (at least until this returns).
        unsafe { text(self.text_ptr()) }.expect("valk_to_string returned NULL")
    }

    fn is_error(&self) -> bool {
        // SAFETY: the value is live (or NULL).
        match unsafe { valk_is_error(self.0) } {
            0 => false,
            1 => true,
            other => panic!("valk_is_error returned {other}"),
        }
    }

    fn message_ptr(&self) -> *const c_char {
        // SAFETY: the value is live (or NULL).
        unsafe { valk_error_message(self.0) }
    }

    /// valk_error_message as a Rust string, `None` for NULL.
    fn message(&self) -> Option<String> {
        // SAFETY: the message (if any) lives as long as the value.
        unsafe { text(self.message_ptr()) }
    }
}

impl Drop for Value {
    fn drop(&mut self) {
        // SAFETY: the value is live (or NULL) and freed only here.
        unsafe { valk_value_free(self.0) };
    }
}

/// The UTF-8 text at `p`, `None` for NULL.
///
/// # Safety
///
/// `p` is NULL or a NUL-terminated string.
unsafe fn text(p: *const c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` is non-null and NUL-terminated (the caller's contract).
    let s = unsafe { CStr::from_ptr(p) };
    Some(s.to_str().expect("the library hands out UTF-8").to_owned())
}

/// Does `m` name a location in evaluated code, `<eval>:LINE:COL: `?
fn has_location(m: &str) -> bool {
    let Some(rest) = m.split("<eval>:").nth(1) else {
        return false;
    };
    let mut parts = rest.splitn(3, ':');
    let digits =
        |s: Option<&str>| s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    digits(parts.next()) && digits(parts.next()) && parts.next().is_some()
}

// ---------------------------------------------------------------------------
// Evaluating and calling

#[test]
fn eval_success() {
    let st = State::new();
    let v = st.eval_ok(c"(+ 1 2)");
    assert_eq!(v.to_long(), 3);
    assert_eq!(v.text(), "3");
    assert_eq!(v.message(), None);
    // Definitions stay for later evaluations.
    drop(st.eval_ok(c"(def {base} 40)"));
    assert_eq!(st.eval_ok(c"(+ base 2)").to_long(), 42);
    // Several forms make one expression, as on a REPL line.
    assert_eq!(st.eval_ok(c"+ 1 2 3").to_long(), 6);
    assert_eq!(st.eval_ok(c"{1 \"a\" :k}").text(), "{1 \"a\" :k}");
    assert_eq!(st.eval_ok(c"(/ 7.0 2)").to_double(), 3.5);
    // A NULL `result` is allowed: only the return code.
    // SAFETY: the state is live and the code NUL-terminated.
    unsafe {
        assert_eq!(
            valk_eval_string(st.0, c"(def {y} 5)".as_ptr(), ptr::null_mut()),
            0
        );
        assert_eq!(
            valk_eval_string(st.0, c"(+ y \"a\")".as_ptr(), ptr::null_mut()),
            -1
        );
    }
    assert_eq!(st.eval_ok(c"y").to_long(), 5);
}

#[test]
fn eval_errors_carry_their_location() {
    let st = State::new();
    // A run-time error.
    let (rc, v) = st.eval(c"(+ 1 \"a\")");
    assert_eq!(rc, -1);
    assert!(v.is_error());
    let m = v.message().expect("an error has a message");
    assert!(has_location(&m), "{m}");
    assert!(m.starts_with("<eval>:1:1: error: "), "{m}");
    assert_eq!(v.text(), format!("Error: {m}"));
    // On a later line and column.
    let (rc, v) = st.eval(c"\n  (error \"boom\")");
    assert_eq!(rc, -1);
    let m = v.message().unwrap();
    assert!(m.starts_with("<eval>:2:3: error: "), "{m}");
    assert!(m.ends_with("boom"), "{m}");
    // A read error.
    let (rc, v) = st.eval(c"(+ 1");
    assert_eq!(rc, -1);
    assert!(v.is_error());
    assert!(has_location(&v.message().unwrap()), "{}", v.text());
    // An unbound name.
    let (rc, v) = st.eval(c"(no-such-function 1)");
    assert_eq!(rc, -1);
    assert!(
        v.message().unwrap().contains("no-such-function"),
        "{}",
        v.text()
    );
    // The state goes on after errors.
    assert_eq!(st.eval_ok(c"(* 6 7)").to_long(), 42);
}

#[test]
fn call_with_arguments() {
    let st = State::new();
    drop(st.eval_ok(c"(fun {scale x k} {* x k})"));
    drop(st.eval_ok(c"(fun {greet who} {join \"hello, \" who \"!\"})"));
    drop(st.eval_ok(c"(fun {answer} {42})"));
    let (six, half) = (Value::long(6), Value::double(1.5));
    let r = st.call(c"scale", &[&six, &half]);
    assert!(!r.is_error(), "{}", r.text());
    assert_eq!(r.to_double(), 9.0);
    assert_eq!(st.call(c"scale", &[&six, &six]).to_long(), 36);
    // The arguments are only borrowed.
    assert_eq!(six.to_long(), 6);
    assert_eq!(half.to_double(), 1.5);
    let who = Value::string(c"wörld");
    assert_eq!(st.call(c"greet", &[&who]).text(), "hello, wörld!");
    // No arguments: `args` may be NULL.
    assert_eq!(st.call(c"answer", &[]).to_long(), 42);
    // Builtins and prelude functions are globals too.
    assert_eq!(st.call(c"+", &[&six, &six, &six]).to_long(), 18);
    assert_eq!(st.call(c"len", &[&who]).to_long(), 5);
    // Failures are error values.
    let r = st.call(c"no-such-function", &[]);
    assert!(r.is_error());
    assert!(
        r.message().unwrap().contains("no-such-function"),
        "{}",
        r.text()
    );
    let r = st.call(c"scale", &[&six, &who]);
    assert!(r.is_error(), "{}", r.text());
    // Too few arguments: a partial application, as in Valk.
    assert_eq!(st.call(c"scale", &[&six]).text(), "<partial>");
    // An error value as an argument makes the call fail with it, as in
    // Valk (a call returns the first error among its arguments).
    let e = Value::error(c"bad input");
    let r = st.call(c"scale", &[&six, &e]);
    assert!(r.is_error());
    assert!(r.message().unwrap().contains("bad input"), "{}", r.text());
}

#[test]
fn values_pass_between_states() {
    let (a, b) = (State::new(), State::new());
    let v = a.eval_ok(c"(list 1 \"two\" 3.5 :four)");
    drop(b.eval_ok(c"(fun {count xs} {len xs})"));
    assert_eq!(b.call(c"count", &[&v]).to_long(), 4);
    // Each state has its own globals.
    drop(a.eval_ok(c"(def {only-a} 1)"));
    assert!(b.eval(c"only-a").1.is_error());
}

#[test]
fn host_threads_share_a_state() {
    let st = State::new();
    drop(st.eval_ok(c"(fun {sq x} {* x x})"));
    // The state is used from several threads at once (by address: raw
    // pointers are not Send, the C API is thread-safe).
    let addr = st.0 as usize;
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                for i in 0..50 {
                    let st = State(addr as *mut ValkState);
                    let x = Value::long(t * 100 + i);
                    let r = st.call(c"sq", &[&x]);
                    assert_eq!(r.to_long(), (t * 100 + i) * (t * 100 + i));
                    std::mem::forget(st); // not ours to shut down
                }
            });
        }
    });
}

// ---------------------------------------------------------------------------
// C functions called from Valk

/// Sums its arguments (integers), counting calls in `*userdata` (an
/// `AtomicUsize`).
unsafe extern "C" fn c_sum(
    args: *mut *mut ValkValue,
    n: usize,
    userdata: *mut c_void,
) -> *mut ValkValue {
    // SAFETY: the tests register c_sum with a pointer to a live
    // AtomicUsize; the runtime passes `n` live handles at `args`.
    let (calls, args) = unsafe {
        (
            &*(userdata as *const AtomicUsize),
            std::slice::from_raw_parts(args, n),
        )
    };
    calls.fetch_add(1, Ordering::SeqCst);
    let mut sum: c_long = 0;
    for &a in args {
        // SAFETY: each argument is live during the call.
        unsafe {
            if valk_is_error(a) != 0 {
                return valk_from_error(c"c-sum: got an error".as_ptr());
            }
            sum += valk_to_long(a);
        }
    }
    valk_from_long(sum)
}

/// Fails with an error value.
unsafe extern "C" fn c_fail(_: *mut *mut ValkValue, _: usize, _: *mut c_void) -> *mut ValkValue {
    // SAFETY: a NUL-terminated literal.
    unsafe { valk_from_error(c"c-fail: it went wrong".as_ptr()) }
}

/// Returns NULL: `()`.
unsafe extern "C" fn c_null(_: *mut *mut ValkValue, _: usize, _: *mut c_void) -> *mut ValkValue {
    ptr::null_mut()
}

/// Returns its first argument itself (allowed: the runtime copies it), or
/// NULL without arguments.
unsafe extern "C" fn c_first(
    args: *mut *mut ValkValue,
    n: usize,
    _: *mut c_void,
) -> *mut ValkValue {
    if n == 0 {
        return ptr::null_mut();
    }
    // SAFETY: `args` holds `n` > 0 handles. Overwriting the array's slot
    // is allowed: the runtime frees what it passed, not what is there.
    unsafe {
        let first = *args;
        *args = ptr::null_mut();
        first
    }
}

/// Its arguments' texts (valk_to_string) joined with `|`.
unsafe extern "C" fn c_describe(
    args: *mut *mut ValkValue,
    n: usize,
    _: *mut c_void,
) -> *mut ValkValue {
    // SAFETY: the runtime passes `n` live handles at `args`; their texts
    // live until they are freed, after this returns.
    let parts: Vec<String> = unsafe { std::slice::from_raw_parts(args, n) }
        .iter()
        // SAFETY: as above.
        .map(|&a| unsafe { text(valk_to_string(a)) }.unwrap_or_default())
        .collect();
    let joined = CString::new(parts.join("|")).unwrap();
    // SAFETY: a NUL-terminated string.
    unsafe { valk_from_string(joined.as_ptr()) }
}

/// Records the thread it runs on in `*userdata` (a `Mutex<Vec<ThreadId>>`)
/// and squares its argument.
unsafe extern "C" fn c_square(
    args: *mut *mut ValkValue,
    n: usize,
    userdata: *mut c_void,
) -> *mut ValkValue {
    // SAFETY: registered with a pointer to a live Mutex<Vec<ThreadId>>;
    // `args` holds `n` live handles.
    let (threads, args) = unsafe {
        (
            &*(userdata as *const Mutex<Vec<std::thread::ThreadId>>),
            std::slice::from_raw_parts(args, n),
        )
    };
    threads.lock().unwrap().push(std::thread::current().id());
    // SAFETY: the argument (if any) is live; NULL reads as 0.
    let x = unsafe { valk_to_long(args.first().copied().unwrap_or(ptr::null_mut())) };
    valk_from_long(x * x)
}

#[test]
fn c_functions_are_called_from_valk() {
    // Declared first: it outlives the state, so every call.
    let calls = AtomicUsize::new(0);
    let st = State::new();
    let ud = &calls as *const AtomicUsize as *mut c_void;
    assert_eq!(st.register(c"c-sum", Some(c_sum), ud), 0);
    assert_eq!(st.eval_ok(c"(c-sum 1 2 3)").to_long(), 6);
    assert_eq!(st.eval_ok(c"(c-sum)").to_long(), 0);
    // From a Valk function, called from C.
    drop(st.eval_ok(c"(fun {twice-sum x y} {* 2 (c-sum x y)})"));
    let (x, y) = (Value::long(20), Value::long(1));
    assert_eq!(st.call(c"twice-sum", &[&x, &y]).to_long(), 42);
    // As a value, passed to a prelude function.
    assert_eq!(st.eval_ok(c"(foldl c-sum 0 {1 2 3 4})").to_long(), 10);
    // And through valk_call directly.
    assert_eq!(st.call(c"c-sum", &[&x, &x]).to_long(), 40);
    // 1 + 1 + 1 + 4 (foldl) + 1.
    assert_eq!(calls.load(Ordering::SeqCst), 8);
    // Arguments arrive converted; texts are printed forms.
    assert_eq!(
        st.register(c"c-describe", Some(c_describe), ptr::null_mut()),
        0
    );
    assert_eq!(
        st.eval_ok(c"(c-describe 1 2.5 \"s t\" {1 {2}} :k (list))")
            .text(),
        "1|2.5|s t|{1 {2}}|:k|{}"
    );
    // Registering again rebinds.
    assert_eq!(
        st.register(c"c-describe", Some(c_first), ptr::null_mut()),
        0
    );
    assert_eq!(st.eval_ok(c"(c-describe 7 8)").to_long(), 7);
}

#[test]
fn c_function_results() {
    let st = State::new();
    assert_eq!(st.register(c"c-fail", Some(c_fail), ptr::null_mut()), 0);
    assert_eq!(st.register(c"c-null", Some(c_null), ptr::null_mut()), 0);
    assert_eq!(st.register(c"c-first", Some(c_first), ptr::null_mut()), 0);
    // An error value raises that error where the C function was called.
    let (rc, v) = st.eval(c"(+ 1 (c-fail 2))");
    assert_eq!(rc, -1);
    let m = v.message().unwrap();
    assert!(m.contains("c-fail: it went wrong"), "{m}");
    assert!(has_location(&m), "{m}");
    let r = st.call(c"c-fail", &[]);
    assert!(r.is_error());
    assert!(r.message().unwrap().contains("c-fail: it went wrong"));
    // Valk code can catch it like any error.
    assert_eq!(
        st.eval_ok(c"(try {c-fail} (\\ {e} {:caught}))").text(),
        ":caught"
    );
    // NULL is `()`.
    assert_eq!(st.eval_ok(c"(c-null 1 2)").text(), "()");
    // Returning an argument itself.
    assert_eq!(st.eval_ok(c"(c-first \"x y\" 2)").text(), "x y");
    assert_eq!(st.eval_ok(c"(c-first {1 2})").text(), "{1 2}");
    assert_eq!(st.eval_ok(c"(c-first)").text(), "()");
}

#[test]
fn c_functions_run_on_worker_threads() {
    let st = State::new();
    let threads: Mutex<Vec<std::thread::ThreadId>> = Mutex::new(Vec::new());
    let ud = &threads as *const Mutex<Vec<std::thread::ThreadId>> as *mut c_void;
    assert_eq!(st.register(c"c-square", Some(c_square), ud), 0);
    drop(st.eval_ok(c"(fun {worker parent ref f x} {send parent (list ref (f x))})"));
    drop(st.eval_ok(
        c"(fun {pmap f xs} {do
            (= {me} (self))
            (= {refs} (map (\\ {x} {do (= {r} (make-ref)) (spawn worker me r f x) r}) xs))
            (map (\\ {r} {receive {{^r v} v}}) refs)})",
    ));
    let v = st.eval_ok(c"(sum (pmap c-square (range 0 64)))");
    assert_eq!(v.to_long(), (0..64).map(|x| x * x).sum::<c_long>());
    // `threads` outlives every call: the state is shut down first.
    st.shutdown();
    let seen = threads.lock().unwrap();
    assert_eq!(seen.len(), 64);
    assert!(!seen.contains(&std::thread::current().id()));
}

// ---------------------------------------------------------------------------
// Misuse: NULLs, wrong types, bad UTF-8

#[test]
fn null_arguments_everywhere() {
    // SAFETY: NULL is allowed for every pointer here, and every value
    // made is freed once.
    unsafe {
        valk_shutdown(ptr::null_mut());
        valk_value_free(ptr::null_mut());

        let mut r = ptr::null_mut();
        assert_eq!(valk_eval_string(ptr::null_mut(), c"1".as_ptr(), &mut r), -1);
        let v = Value(r);
        assert!(v.is_error());
        assert_eq!(v.message().unwrap(), "valk_eval_string: state is NULL");
        assert_eq!(
            valk_eval_string(ptr::null_mut(), ptr::null(), ptr::null_mut()),
            -1
        );

        let v = Value(valk_call(
            ptr::null_mut(),
            c"f".as_ptr(),
            ptr::null_mut(),
            0,
        ));
        assert_eq!(v.message().unwrap(), "valk_call: state is NULL");

        let calls = AtomicUsize::new(0);
        let ud = &calls as *const AtomicUsize as *mut c_void;
        assert_eq!(
            valk_register_c_function(ptr::null_mut(), c"f".as_ptr(), Some(c_sum), ud),
            -1
        );

        let st = State::new();
        let (rc, v) = {
            let mut r = ptr::null_mut();
            let rc = valk_eval_string(st.0, ptr::null(), &mut r);
            (rc, Value(r))
        };
        assert_eq!(rc, -1);
        assert_eq!(v.message().unwrap(), "valk_eval_string: code is NULL");

        let v = Value(valk_call(st.0, ptr::null(), ptr::null_mut(), 0));
        assert_eq!(v.message().unwrap(), "valk_call: fn is NULL");
        let v = Value(valk_call(st.0, c"+".as_ptr(), ptr::null_mut(), 2));
        assert_eq!(v.message().unwrap(), "valk_call: args is NULL but n is 2");
        let one = Value::long(1);
        let mut args = [one.0, ptr::null_mut()];
        let v = Value(valk_call(st.0, c"+".as_ptr(), args.as_mut_ptr(), 2));
        assert_eq!(v.message().unwrap(), "valk_call: argument 1 is NULL");
        let v = Value(valk_call(
            st.0,
            c"+".as_ptr(),
            args.as_mut_ptr(),
            usize::MAX,
        ));
        assert!(v.message().unwrap().contains("too large"), "{}", v.text());

        assert_eq!(st.register(c"f", None, ptr::null_mut()), -1);
        assert_eq!(
            valk_register_c_function(st.0, ptr::null(), Some(c_sum), ud),
            -1
        );
        // Nothing was registered.
        assert!(st.eval(c"(f 1)").1.is_error());
        drop(st);
        assert_eq!(calls.load(Ordering::SeqCst), 0);

        let v = Value(valk_from_string(ptr::null()));
        assert_eq!(v.message().unwrap(), "valk_from_string: s is NULL");
        let v = Value(valk_from_error(ptr::null()));
        assert_eq!(v.message().unwrap(), "NULL message");

        // Reading a NULL value gives the documented defaults.
        let null = Value(ptr::null_mut());
        assert_eq!(null.to_long(), 0);
        assert_eq!(null.to_double(), 0.0);
        assert_eq!(null.text(), "");
        assert!(null.is_error());
        assert_eq!(null.message().unwrap(), "NULL value");
    }
}

#[test]
fn wrong_types_give_defaults() {
    let st = State::new();
    let s = Value::string(c"12");
    assert_eq!(s.to_long(), 0, "strings are not parsed");
    assert_eq!(s.to_double(), 0.0);
    assert_eq!(s.message(), None);
    assert!(!s.is_error());
    let f = Value::double(2.9);
    assert_eq!(f.to_long(), 2);
    assert_eq!(Value::double(-2.9).to_long(), -2);
    assert_eq!(Value::double(f64::NAN).to_long(), 0);
    assert_eq!(Value::double(1e300).to_long(), c_long::MAX);
    assert_eq!(Value::double(-1e300).to_long(), c_long::MIN);
    assert_eq!(f.text(), "2.9");
    assert_eq!(Value::double(1.0).text(), "1.0");
    let i = Value::long(-7);
    assert_eq!(i.to_double(), -7.0);
    assert_eq!(i.text(), "-7");
    assert_eq!(Value::long(c_long::MAX).to_long(), c_long::MAX);
    assert_eq!(Value::long(c_long::MIN).to_long(), c_long::MIN);
    let e = Value::error(c"oops");
    assert_eq!(e.to_long(), 0);
    assert_eq!(e.to_double(), 0.0);
    assert_eq!(e.text(), "Error: oops");
    assert_eq!(e.message().unwrap(), "oops");
    let l = st.eval_ok(c"{1 2}");
    assert_eq!(l.to_long(), 0);
    assert_eq!(l.text(), "{1 2}");
    assert_eq!(l.message(), None);
    assert_eq!(st.eval_ok(c":ok").text(), ":ok");
    assert_eq!(st.eval_ok(c"(\\ {x} {x})").text(), "<closure>");
    assert_eq!(st.eval_ok(c"(self)").text().split(' ').next(), Some("<pid"));
}

#[test]
fn invalid_utf8_is_an_error() {
    let st = State::new();
    let bad = c"\xff\xfe(+ 1 2)";
    let v = Value::string(bad);
    assert!(v.is_error());
    assert!(
        v.message()
            .unwrap()
            .starts_with("valk_from_string: s is not UTF-8"),
        "{}",
        v.text()
    );
    let (rc, v) = st.eval(bad);
    assert_eq!(rc, -1);
    assert!(v
        .message()
        .unwrap()
        .starts_with("valk_eval_string: code is not UTF-8"));
    let v = st.call(c"\xffname", &[]);
    assert!(v
        .message()
        .unwrap()
        .starts_with("valk_call: fn is not UTF-8"));
    let calls = AtomicUsize::new(0);
    let ud = &calls as *const AtomicUsize as *mut c_void;
    assert_eq!(st.register(c"c-\xff", Some(c_sum), ud), -1);
    // An error message is made valid: the error is what matters.
    let e = Value::error(c"bad \xff byte");
    assert!(e.is_error());
    assert_eq!(e.message().unwrap(), "bad \u{fffd} byte");
    drop(st);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

// ---------------------------------------------------------------------------
// Strings and lifetimes

#[test]
fn strings_round_trip() {
    let st = State::new();
    for s in [
        c"",
        c"plain",
        c"h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xf0\x9f\xa6\x80",
        c"quotes \" and \\ backslash",
        c"new\nline\ttab\r",
        c"{not a list} (nor this)",
    ] {
        let v = Value::string(s);
        assert!(!v.is_error());
        let expected = s.to_str().unwrap();
        assert_eq!(v.text(), expected);
        // Through Valk and back: the prelude's identity function.
        let back = st.call(c"id", &[&v]);
        assert_eq!(back.text(), expected);
        let len = st.call(c"len", &[&v]);
        assert_eq!(len.to_long() as usize, expected.chars().count());
    }
    // Valk string literals come out unescaped.
    assert_eq!(st.eval_ok(c"\"a\\nb \\\"q\\\"\"").text(), "a\nb \"q\"");
    assert_eq!(
        st.eval_ok(c"(string/upper \"stra\xc3\x9fe\")").text(),
        "STRASSE"
    );
    // A string holding NUL comes out cut at the NUL.
    assert_eq!(st.eval_ok(c"\"a\\0b\"").text(), "a");
}

#[test]
fn text_pointers_live_until_free() {
    let st = State::new();
    let v = st.eval_ok(c"(join \"stable \" \"text\")");
    let p = v.text_ptr();
    // Other values come and go; the pointer stays the same and valid.
    for i in 0..100 {
        let other = Value::long(i);
        assert_eq!(other.text(), i.to_string());
        drop(st.eval_ok(c"(list \"garbage\" \"more garbage\")"));
        assert_eq!(v.text_ptr(), p);
    }
    // SAFETY: `v` is still live, so is its text.
    assert_eq!(unsafe { text(p) }.unwrap(), "stable text");
    let (_, e) = st.eval(c"(error \"kept\")");
    let (t, m) = (e.text_ptr(), e.message_ptr());
    for _ in 0..10 {
        drop(st.eval(c"(error \"another\")"));
    }
    assert_eq!((e.text_ptr(), e.message_ptr()), (t, m));
    // SAFETY: `e` is still live, so are its texts.
    unsafe {
        assert!(text(t).unwrap().ends_with("kept"));
        assert!(text(m).unwrap().ends_with("kept"));
    }
}

#[test]
fn values_outlive_their_state() {
    let st = State::new();
    let int = st.eval_ok(c"(* 6 7)");
    let s = st.eval_ok(c"\"still here\"");
    let list = st.eval_ok(c"{1 {2 \"three\"} :four}");
    let closure = st.eval_ok(c"(\\ {x} {* x 2})");
    let (_, err) = st.eval(c"(error \"after\")");
    let arg = Value::long(5);
    st.shutdown();
    assert_eq!(int.to_long(), 42);
    assert_eq!(s.text(), "still here");
    assert_eq!(list.text(), "{1 {2 \"three\"} :four}");
    assert_eq!(closure.text(), "<closure>");
    assert!(err.message().unwrap().ends_with("after"));
    assert_eq!(arg.to_long(), 5);
    // New values need no state either.
    assert_eq!(Value::string(c"x").text(), "x");
    drop((int, s, list, closure, err, arg));
}

#[test]
fn a_closure_value_can_be_called_back() {
    let st = State::new();
    let double = st.eval_ok(c"(\\ {x} {* x 2})");
    drop(st.eval_ok(c"(fun {apply f x} {f x})"));
    let x = Value::long(21);
    assert_eq!(st.call(c"apply", &[&double, &x]).to_long(), 42);
}
