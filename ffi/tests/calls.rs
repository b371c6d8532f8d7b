//! The C layer against a small C library built for the tests
//! (`tests/c/valk_ffi_test.c`, by `build.rs`): structs by value, every
//! scalar width, the inline and the heap argument paths, strings and NULL,
//! callbacks (narrow returns, struct arguments, errors, nesting), and a
//! `:blocking` call that does not stop a one-scheduler runtime.

use valk_runtime::{Handle, Options};

const LIB: &str = env!("VALK_FFI_TEST_LIB");

fn runtime(schedulers: usize) -> Handle {
    let mut set = valk_runtime::builtin_set();
    valk_ffi::add_to(&mut set);
    Handle::start(Options {
        schedulers,
        builtins: Some(set),
        ..Options::default()
    })
    .expect("runtime starts")
}

/// Runs `src` (with `lib` bound to the test library) in the main actor of
/// a fresh runtime; the repr of its value or the error.
fn run(src: &str) -> String {
    let handle = runtime(2);
    let session = handle.main_session();
    let program = format!("(def {{lib}} (dlopen \"{LIB}\")) {src}");
    session.run_to_text(&program, "calls.valk")
}

#[test]
fn structs_go_in_and_come_out_by_value() {
    assert_eq!(
        run("(def {sum} (dlsym lib \"point_sum\" :i32 {{:struct :i32 :i32}})) (sum {3 4})"),
        "7"
    );
    assert_eq!(
        run(
            "(def {mk} (dlsym lib \"point_make\" {:struct :i32 :i32} {:i32 :i32})) \
             (def {swap} (dlsym lib \"point_swap\" {:struct :i32 :i32} {{:struct :i32 :i32}})) \
             (list (mk 1 -2) (swap (mk 5 6)))"
        ),
        "{{1 -2} {6 5}}"
    );
    // Padding between an i8 and a double, and after the last field.
    assert_eq!(
        run("(def {m} {:struct :i8 :f64 :i32}) \
             (def {total} (dlsym lib \"mixed_total\" :f64 (list m))) \
             (def {mk} (dlsym lib \"mixed_make\" m {:i8 :f64 :i32})) \
             (list (total {1 2.5 3}) (mk -1 0.25 70000))"),
        "{6.5 {-1 0.25 70000}}"
    );
    // A struct inside a struct.
    assert_eq!(
        run("(def {o} {:struct :i32 {:struct :i32 :i32} :f32}) \
             (def {shift} (dlsym lib \"outer_shift\" o (list o :i32))) \
             (shift {1 {10 20} 0.5} 5)"),
        "{2 {15 20} 0.5}"
    );
    assert!(
        run("((dlsym lib \"point_sum\" :i32 {{:struct :i32 :i32}}) {1 2 3})")
            .contains("has 2 fields, got a list of 3")
    );
}

#[test]
fn every_scalar_width_round_trips_and_is_range_checked() {
    let src = "(list \
        ((dlsym lib \"u8_echo\" :u8 {:u8}) 255) \
        ((dlsym lib \"i8_neg\" :i8 {:i8}) -127) \
        ((dlsym lib \"u16_echo\" :u16 {:u16}) 65535) \
        ((dlsym lib \"i16_echo\" :i16 {:i16}) -32768) \
        ((dlsym lib \"u32_echo\" :u32 {:u32}) 4294967295) \
        ((dlsym lib \"u64_echo\" :u64 {:u64}) 9223372036854775807) \
        ((dlsym lib \"i64_add\" :i64 {:i64 :i64}) 4611686018427387904 -1) \
        ((dlsym lib \"f32_half\" :f32 {:f32}) 3) \
        ((dlsym lib \"bool_not\" :bool {:bool}) 0) \
        ((dlsym lib \"usize_echo\" :usize {:usize}) 12) \
        ((dlsym lib \"isize_echo\" :isize {:isize}) -12))";
    assert_eq!(
        run(src),
        "{255 127 65535 -32768 4294967295 9223372036854775807 4611686018427387903 1.5 1 12 -12}"
    );
    for (f, t, v) in [
        ("u8_echo", ":u8", "256"),
        ("u8_echo", ":u8", "-1"),
        ("i8_neg", ":i8", "128"),
        ("u16_echo", ":u16", "65536"),
        ("i16_echo", ":i16", "-32769"),
        ("u32_echo", ":u32", "4294967296"),
        ("u64_echo", ":u64", "-1"),
        ("bool_not", ":bool", "2"),
        ("usize_echo", ":usize", "-1"),
    ] {
        let out = run(&format!("((dlsym lib \"{f}\" {t} {{{t}}}) {v})"));
        assert!(out.contains("out of range"), "{f} {v}: {out}");
    }
    assert!(run("((dlsym lib \"f32_half\" :f32 {:f32}) 1e300)").contains("out of range for :f32"));
}

#[test]
fn many_arguments_take_the_heap_path() {
    assert_eq!(
        run("(list ((dlsym lib \"sum8\" :i32 {:i32 :i32 :i32 :i32 :i32 :i32 :i32 :i32}) 1 2 3 4 5 6 7 8) \
                   ((dlsym lib \"sum10\" :i32 {:i32 :i32 :i32 :i32 :i32 :i32 :i32 :i32 :i32 :i32}) 1 2 3 4 5 6 7 8 9 10))"),
        "{36 55}"
    );
}

#[test]
fn strings_and_null() {
    assert_eq!(
        run(
            "(list ((dlsym lib \"greeting\" :string {})) ((dlsym lib \"null_string\" :string {})) \
                   (c-null? ((dlsym lib \"null_pointer\" :ptr {}))))"
        ),
        "{\"hello from C\" () 1}"
    );
}

#[test]
fn callbacks_run_valk_inside_the_c_call() {
    assert_eq!(
        run("(def {fold} (dlsym lib \"fold_calls\" :i64 {:i32 :ptr})) \
             (fold 100 (c-callback (\\ {i} {* i i}) :i64 {:i32}))"),
        "328350"
    );
    // A narrow return is widened for C; a struct argument arrives as a list.
    assert_eq!(
        run("(list ((dlsym lib \"apply_u8\" :i32 {:ptr :u8}) (c-callback (\\ {v} {+ v 100}) :u8 {:u8}) 155) \
                   ((dlsym lib \"apply_point\" :i32 {:ptr :i32 :i32}) \
                      (c-callback (\\ {p} {- (fst p) (snd p)}) :i32 {{:struct :i32 :i32}}) 10 3))"),
        "{255 7}"
    );
    // A result out of the return type's range is the callback's error.
    assert!(run(
        "((dlsym lib \"apply_u8\" :i32 {:ptr :u8}) (c-callback (\\ {v} {+ v 200}) :u8 {:u8}) 100)"
    )
    .contains("a callback failed: 300 is out of range for :u8"));
    // Callbacks nest: a callback's Valk code makes a C call with another.
    assert_eq!(
        run("(def {fold} (dlsym lib \"fold_calls\" :i64 {:i32 :ptr})) \
             (def {apply} (dlsym lib \"apply_double\" :f64 {:ptr :f64 :f64})) \
             (apply (c-callback (\\ {a b} {+ a b (fold 4 (c-callback (\\ {i} {i}) :i64 {:i32}))}) :f64 {:f64 :f64}) 1 2)"),
        "9.0"
    );
    // An error deep in a callback comes back from the outer C call.
    let out = run("(def {fold} (dlsym lib \"fold_calls\" :i64 {:i32 :ptr})) \
         (fold 10 (c-callback (\\ {i} {if (== i 7) {error \"seven\"} {i}}) :i64 {:i32}))");
    assert!(
        out.contains("`fold_calls` (C): a callback failed: seven"),
        "{out}"
    );
}

/// `sleep(1)` declared `:blocking` on a one-scheduler runtime: a
/// ping-pong pair finishes its 1,000 round trips while it sleeps. The same
/// call without `:blocking` holds the only scheduler: the round trips can
/// only start after it.
#[test]
fn a_blocking_call_does_not_stop_a_one_scheduler_runtime() {
    let program = |flag: &str| {
        format!(
            "(def {{sleep}} (dlsym (dlopen ()) \"sleep\" :uint {{:uint}} {flag})) \
             (def {{me}} (self)) \
             (spawn (\\ {{}} {{do (sleep 1) (send me :slept)}})) \
             (fun {{echo}} {{receive {{:stop ()}} {{{{from n}} (do (send from (list :echo n)) (echo))}}}}) \
             (def {{partner}} (spawn echo)) \
             (fun {{rounds n}} {{if (== n 0) {{:done}} {{do (send partner (list me n)) (receive {{{{:echo m}} m}}) (rounds (- n 1))}}}}) \
             (sleep-until-started) \
             (rounds 1000) \
             (def {{early}} (receive {{:slept :after-sleep}} {{:after 0 :during-sleep}})) \
             (if (== early :during-sleep) {{receive {{:slept ()}}}} {{()}}) \
             (send partner :stop) \
             early"
        )
    };
    let go = |flag: &str| {
        let handle = runtime(1);
        let session = handle.main_session();
        // Give the sleeper its turn first, so that it is inside sleep(1)
        // before the round trips start.
        let src = program(flag).replace(
            "(sleep-until-started)",
            "(receive {:never ()} {:after 50 ()})",
        );
        session.run_to_text(&src, "blocking.valk")
    };
    assert_eq!(go(":blocking"), ":during-sleep");
    assert_eq!(go(""), ":after-sleep");
}

/// The fuzz target's checks on a deterministic stream of inputs (the
/// target itself runs under cargo-fuzz: `fuzz/`).
#[test]
fn marshalling_survives_random_types_and_values() {
    // SAFETY: the test library runs no initialisers.
    let lib = unsafe { libloading::Library::new(LIB) }.expect("the test library opens");
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..20_000 {
        let mut input = [0u8; 48];
        for b in input.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = state as u8;
        }
        valk_ffi::fuzzing::run(&input, Some(&lib));
    }
}
