//! Fair builtins (`builtins::fair`): a builtin is charged reductions in
//! proportion to its work, a long one yields to its host every slice's
//! worth of work and gives the same result as if it had run in one go, and
//! the work of short builtin calls ends the slice as interpreted work does.
//! Nothing here measures time: charges and yields are counted by a host.

use valk_lang::{Host, Interp, RunOutcome, DEFAULT_BUDGET};

/// A host that counts what the interpreter charges and how often it yields.
#[derive(Default)]
struct CountingHost {
    charged: u64,
    yields: u64,
}

impl Host for CountingHost {
    fn charge(&mut self, spent: u32) {
        self.charged += u64::from(spent);
    }

    fn yield_now(&mut self) {
        self.yields += 1;
    }
}

/// Evaluates `src` under a fresh counting host: its value's `repr`, and
/// the host's counts.
fn counted(it: &mut Interp, src: &str) -> (String, CountingHost) {
    let mut host = CountingHost::default();
    let shown = it.with_host(&mut host, |it| {
        let v = it.eval_source(src, "fair.valk").expect("evaluates");
        it.repr(v)
    });
    (shown, host)
}

/// The reductions charged for evaluating `expr` once `setup` has run.
fn charge_of(setup: &str, expr: &str) -> u64 {
    let mut it = Interp::new();
    it.eval_source(setup, "setup.valk")
        .expect("setup evaluates");
    counted(&mut it, expr).1.charged
}

#[test]
fn builtins_are_charged_in_proportion_to_their_work() {
    // (setup with n elements, expression): charged 100 times the elements,
    // each costs at least 30 times as much (a fixed cost would give ~1x).
    let cases: &[(&str, &str)] = &[
        ("(def {l} (range N))", "(sort (reverse l))"),
        ("(def {l} (range N))", "(sort l)"),
        ("(def {l} (map (\\ {x} {* x 1.5}) (range N)))", "(sort l)"),
        ("(def {l} (map str (range N)))", "(sort l)"),
        ("(def {l} (range N))", "(reverse l)"),
        ("(def {l} 0)", "(range N)"),
        ("(def {l} (range N))", "(len l)"),
        ("(def {l} (range N))", "(join l l)"),
        ("(def {l} (range N))", "(init l)"),
        ("(def {l} (range N))", "(string/join l \",\")"),
        ("(def {l} (range N))", "(str l)"),
        ("(def {l} (string/join (range N)))", "(reverse l)"),
        ("(def {l} (string/join (range N)))", "(len l)"),
        ("(def {l} (string/join (range N)))", "(string/upper l)"),
        ("(def {l} (string/join (range N)))", "(join l l)"),
        (
            "(def {l} (string/join (range N) \",\"))",
            "(string/split l \",\")",
        ),
        (
            "(def {l} (string/join (range N)))",
            "(string/replace l \"1\" \"22\")",
        ),
        (
            "(def {l} (string/join (range N)))",
            "(string/contains? l \"x\")",
        ),
    ];
    for (setup, expr) in cases {
        let at = |n: &str| charge_of(&setup.replace('N', n), &expr.replace('N', n));
        let (small, big) = (at("1000"), at("100000"));
        assert!(
            big >= 30 * small.max(1),
            "{expr} after {setup}: {small} reductions for 1,000 elements, {big} for 100,000"
        );
    }
}

#[test]
fn a_builtin_called_with_many_arguments_is_charged_for_them() {
    let at = |n: u32| charge_of(&format!("(def {{l}} (range {n}))"), "(unpack max l)");
    let (small, big) = (at(300), at(30_000));
    assert!(
        big >= 30 * small.max(1),
        "{small} reductions for 300 arguments, {big} for 30,000"
    );
}

#[test]
fn a_sort_costs_n_log_n() {
    let charge = |n: u64| charge_of(&format!("(def {{l}} (range {n}))"), "(sort (reverse l))");
    let (a, b) = (charge(4_000), charge(64_000));
    // 16 times the elements, each merged in 7 more passes: over 16 times.
    assert!(b > 16 * a, "sorting 4,000: {a} reductions; 64,000: {b}");
    // And a real cost: a reduction per 4 elements a pass, at least.
    assert!(
        b > 64_000 / 4 * 7,
        "sorting 64,000 cost only {b} reductions"
    );
}

#[test]
fn long_builtins_yield_inside_and_short_ones_do_not() {
    let mut it = Interp::new();
    it.eval_source(
        "(def {big} (range 200000)) (def {small} (range 100))",
        "setup.valk",
    )
    .expect("setup evaluates");
    let (_, host) = counted(&mut it, "(sort (reverse small))");
    assert_eq!(host.yields, 0, "a 100-element sort yielded");
    let (_, host) = counted(&mut it, "(sort (reverse big))");
    // A yield every DEFAULT_BUDGET reductions of work (a batch may
    // overshoot a little before the meter looks).
    let expected = host.charged / u64::from(2 * DEFAULT_BUDGET);
    assert!(
        host.yields >= expected.saturating_sub(2) && host.yields >= 10,
        "{} yields for {} reductions",
        host.yields,
        host.charged
    );
}

#[test]
fn builtins_that_yield_give_the_uninterrupted_result() {
    // Sizes around the batch (256), the sort run (512) and the yield
    // interval (16,000 elements of work).
    let sizes = [
        0, 1, 2, 255, 256, 257, 511, 512, 513, 1023, 1024, 1025, 4000, 15_999, 16_000, 16_001,
        70_001,
    ];
    let mut it = Interp::new();
    it.eval_source(
        "(fun {asc? l} {if (== l {}) {true} {if (== (tail l) {}) {true}
           {if (<= (fst l) (fst (tail l))) {asc? (tail l)} {false}}}})
         (fun {count-down i acc} {if (== i 0) {acc} {count-down (- i 1) (cons (- i 1) acc)}})
         (fun {check n} {do
           (= {l} (range n))
           (= {d} (map (\\ {x} {mod (* x 7919) 97}) l))
           (= {s} (string/join (map (\\ {x} {mod x 10}) l) \"é\"))
           (list
             (and (== l (count-down n {}))
                  (== (range (- n 1) -1 -1) (reverse l)))
             (== (sort (reverse l)) l)
             (== (reverse (reverse l)) l)
             (== (len l) n)
             (== (join l l) (foldr cons l l))
             (and (asc? (sort d)) (and (== (len (sort d)) n) (== (sort d) (sort (reverse d)))))
             (== (sort (map str d)) (sort (reverse (map str d))))
             (== (reverse (reverse s)) s)
             (== (len s) (if (== n 0) {0} {- (* 2 n) 1}))
             (== (string/split s \"é\")
                 (if (== n 0) {list \"\"} {map str (map (\\ {x} {mod x 10}) l)})))})",
        "check.valk",
    )
    .expect("defines check");
    let mut yields = 0;
    for n in sizes {
        let (shown, host) = counted(&mut it, &format!("(check {n})"));
        assert_eq!(shown, "{1 1 1 1 1 1 1 1 1 1}", "size {n}");
        yields += host.yields;
    }
    assert!(yields > 0, "no builtin yielded: the test checks nothing");
}

#[test]
fn short_builtin_calls_end_the_slice_like_interpreted_work() {
    // 1,000 calls of `len` over 1,000 elements: about 250,000 reductions of
    // work. Charged a reduction a call, they would all fit in one slice.
    let mut it = Interp::new();
    it.eval_source(
        "(def {l} (range 1000)) (fun {loop n} {if (== n 0) {:done} {do (len l) (loop (- n 1))}})",
        "setup.valk",
    )
    .expect("setup evaluates");
    let f = it.global("loop").expect("loop is defined");
    it.start_call(f, &[valk_lang::Value::small_int(1000).expect("small")])
        .expect("starts");
    let mut slices = 0;
    let out = loop {
        match it.run(DEFAULT_BUDGET) {
            RunOutcome::OutOfBudget => slices += 1,
            other => break other,
        }
    };
    assert!(matches!(out, RunOutcome::Done(_)), "{out:?}");
    assert!(
        slices >= 50,
        "only {slices} slices for 1,000 len calls over 1,000 elements"
    );
}
