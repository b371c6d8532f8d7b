//! `Term` through real heaps: round trips, opaque identity and counts,
//! deep and long terms on a small stack, errors, printing.

use crate::{Opaque, Term, TermTypeError};
use valk_heap::{Heap, HeapError, ListKind, ObjKind, SharedReader, Value};

fn round_trip(t: &Term) -> Term {
    let mut heap = Heap::new();
    let v = t.to_value(&mut heap).unwrap();
    Term::from_value(&mut heap, v)
}

/// Run `f` on a thread with a 256 KiB stack: any recursion per nesting
/// level over a million levels would overflow it.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

fn sample() -> Term {
    Term::list(vec![
        Term::from(1),
        Term::from(-2.5),
        Term::from("text"),
        Term::symbol("sym"),
        Term::keyword("kw"),
        Term::sexpr(vec![
            Term::symbol("+"),
            Term::from(1),
            Term::list(vec![Term::nil(), Term::sexpr(vec![])]),
        ]),
        Term::Pid(42),
        Term::Ref(7),
        Term::Error("oops".into()),
        Term::from(i64::MAX),
        Term::list(vec![Term::list(vec![Term::sexpr(vec![Term::from(true)])])]),
    ])
}

#[test]
fn every_variant_round_trips() {
    let t = sample();
    assert_eq!(round_trip(&t), t);
    // (Term implements Drop, so a pattern cannot move its items out:
    // TryFrom takes them.)
    let items = Vec::<Term>::try_from(t.clone()).unwrap();
    for item in items {
        assert_eq!(round_trip(&item), item);
    }
}

#[test]
fn values_built_in_the_heap_read_back() {
    let mut heap = Heap::new();
    let s = heap.string("hi").unwrap();
    let big = heap.int(1 << 50).unwrap();
    let inner = heap
        .list(&[Value::symbol(valk_heap::intern("f")), big], ListKind::S)
        .unwrap();
    let v = heap
        .list(&[Value::TRUE, s, inner, Value::EMPTY_S], ListKind::Q)
        .unwrap();
    assert_eq!(
        Term::from_value(&mut heap, v),
        Term::list(vec![
            Term::from(1),
            Term::from("hi"),
            Term::sexpr(vec![Term::symbol("f"), Term::from(1i64 << 50)]),
            Term::sexpr(vec![]),
        ])
    );
}

#[test]
fn integers_at_every_edge() {
    let mut heap = Heap::new();
    for i in [
        0,
        1,
        -1,
        (1 << 47) - 1,
        1 << 47,
        -(1 << 47),
        -(1 << 47) - 1,
        1 << 48,
        -(1 << 48),
        1 << 62,
        i64::MAX,
        i64::MIN,
        i64::MIN + 1,
    ] {
        let v = Term::Int(i).to_value(&mut heap).unwrap();
        assert_eq!(heap.as_int(v), Some(i));
        let boxed = heap.kind(v) == Some(ObjKind::BigInt);
        assert_eq!(boxed, Value::small_int(i).is_none(), "{i}");
        assert_eq!(Term::from_value(&mut heap, v), Term::Int(i));
    }
}

#[test]
fn floats_round_trip_bit_for_bit_except_nan() {
    for x in [
        0.0,
        -0.0,
        1.5,
        -1e300,
        5e-324,
        f64::MAX,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ] {
        let Term::Float(y) = round_trip(&Term::Float(x)) else {
            panic!("{x} did not come back as a float")
        };
        assert_eq!(y.to_bits(), x.to_bits());
    }
    // Any NaN comes back as Valk's canonical NaN.
    let odd_nan = f64::from_bits(0xFFF8_0000_0000_1234);
    let Term::Float(y) = round_trip(&Term::Float(odd_nan)) else {
        panic!()
    };
    assert!(y.is_nan());
    assert_eq!(y.to_bits(), 0x7FF8_0000_0000_0000);
}

#[test]
fn long_strings_live_in_the_shared_heap() {
    let mut heap = Heap::new();
    let text = "é".repeat(2000);
    let v = Term::from(text.as_str()).to_value(&mut heap).unwrap();
    assert!(v.is_shared());
    assert_eq!(Term::from_value(&mut heap, v), Term::Str(text));
}

#[test]
fn heap_limit_is_reported() {
    let mut heap = Heap::with_limit(64 * 1024);
    let t = Term::list((0..100_000).map(Term::from).collect());
    assert!(matches!(
        t.to_value(&mut heap),
        Err(HeapError::Limit { .. })
    ));
}

#[test]
fn million_deep_nesting_on_a_small_stack() {
    on_small_stack(|| {
        const DEPTH: usize = 1_000_000;
        let mut t = Term::from(7);
        for i in 0..DEPTH {
            t = if i % 3 == 0 {
                Term::sexpr(vec![t])
            } else {
                Term::list(vec![t])
            };
        }
        let mut heap = Heap::new();
        let v = t.to_value(&mut heap).unwrap();
        let back = Term::from_value(&mut heap, v);
        assert!(back == t);
        let copy = back.clone();
        assert!(copy == t);

        // An innermost difference is found.
        let mut other = Term::from(8);
        for i in 0..DEPTH {
            other = if i % 3 == 0 {
                Term::sexpr(vec![other])
            } else {
                Term::list(vec![other])
            };
        }
        assert!(other != t);

        let shown = t.to_string();
        assert_eq!(shown.len(), 2 * DEPTH + 1);
        assert!(shown.starts_with("({{(") && shown.contains("(7)"));
        let debug = format!("{t:?}");
        assert!(debug.ends_with("])") && debug.contains("([...])"));

        drop(t);
        drop(back);
        drop(copy);
        drop(other);
        drop(heap);
    });
}

#[test]
fn million_long_list_on_a_small_stack() {
    on_small_stack(|| {
        const LEN: i64 = 1_000_000;
        let t = Term::list((0..LEN).map(Term::from).collect());
        let mut heap = Heap::new();
        let v = t.to_value(&mut heap).unwrap();
        assert_eq!(heap.list_to_vec(v).map(|l| l.len()), Some(LEN as usize));
        let back = Term::from_value(&mut heap, v);
        assert!(back == t);
        assert!(back.clone() == t);
        let shown = back.to_string();
        assert!(shown.starts_with("{0 1 2 ") && shown.ends_with(" 999999}"));
        let items = Vec::<Term>::try_from(back).unwrap();
        assert_eq!(items.len(), LEN as usize);
    });
}

#[test]
fn wide_and_deep_trees_drop_and_compare() {
    on_small_stack(|| {
        // Each level: {level {level} "x"}, nested 200k deep via the middle.
        let mut t = Term::nil();
        for i in 0..200_000 {
            t = Term::list(vec![Term::from(i), Term::list(vec![t]), "x".into()]);
        }
        let u = t.clone();
        assert!(u == t);
        let mut heap = Heap::new();
        let v = u.to_value(&mut heap).unwrap();
        assert!(Term::from_value(&mut heap, v) == t);
    });
}

#[test]
fn opaque_box_keeps_identity_and_releases_its_count() {
    let mut heap = Heap::new();
    let inner = heap.string("inside").unwrap();
    let b = heap.make_box(inner).unwrap();
    let counts = |v: Value| SharedReader.ref_count(v);
    assert_eq!(counts(b), Some(1)); // the heap's own

    let t = Term::from_value(&mut heap, b);
    let Term::Opaque(o) = &t else {
        panic!("got {t:?}")
    };
    assert_eq!(o.value(), b);
    assert_eq!(o.kind(), Some(ObjKind::Box));
    assert_eq!(counts(b), Some(2));

    // Clones share the handle; converting again gives an equal term.
    let t2 = t.clone();
    assert_eq!(counts(b), Some(2));
    assert_eq!(Term::from_value(&mut heap, b), t);
    assert_eq!(counts(b), Some(2));

    // Back into the same heap: the very same value.
    assert_eq!(t.to_value(&mut heap).unwrap(), b);
    assert_eq!(counts(b), Some(2));

    // Into another heap on another thread: same value, readable there;
    // that heap holds its own count until it is dropped.
    let t3 = t.clone();
    let bits = b.to_bits();
    std::thread::spawn(move || {
        let mut other = Heap::new();
        let v = t3.to_value(&mut other).unwrap();
        assert_eq!(v.to_bits(), bits);
        let inside = other.unbox(v).unwrap();
        assert_eq!(other.str(inside), Some("inside"));
        drop(t3);
        assert_eq!(SharedReader.ref_count(v), Some(3)); // heap, t/t2, other
        drop(other);
        assert_eq!(SharedReader.ref_count(v), Some(2));
    })
    .join()
    .unwrap();

    drop(t);
    assert_eq!(counts(b), Some(2));
    drop(t2);
    assert_eq!(counts(b), Some(1));
}

#[test]
fn opaque_closure_is_copied_to_the_shared_heap_once() {
    let mut heap = Heap::new();
    let code = heap.string("code").unwrap();
    let capture = heap.list(&[Value::TRUE], ListKind::Q).unwrap();
    let clo = heap.closure(code, &[capture]).unwrap();
    assert!(clo.is_local());

    let t = Term::from_value(&mut heap, clo);
    let Term::Opaque(o) = &t else {
        panic!("got {t:?}")
    };
    assert_eq!(format!("{t:?}"), "Opaque(#<opaque closure>)");
    assert_eq!(t.to_string(), "<closure>");
    let shared = o.value();
    assert!(shared.is_shared());
    assert_eq!(o.shared().ref_count(), Some(1));

    // Round trip through a second heap: identity kept, no new copy.
    let mut other = Heap::new();
    let v = t.to_value(&mut other).unwrap();
    assert_eq!(v, shared);
    let again = Term::from_value(&mut other, v);
    assert_eq!(again, t);
    let (code2, caps) = other.closure_parts(v).unwrap();
    assert_eq!(other.str(code2), Some("code"));
    assert_eq!(other.list_to_vec(caps[0]), Some(vec![Value::TRUE]));

    // Distinct conversions of the local closure are distinct copies.
    let t4 = Term::from_value(&mut heap, clo);
    assert_ne!(t4, t);

    let sv = o.shared().clone();
    drop(again);
    drop(t);
    drop(other);
    assert_eq!(sv.ref_count(), Some(1));
}

#[test]
fn opaque_wraps_any_shared_value() {
    let rust: std::sync::Arc<dyn std::any::Any + Send + Sync> = std::sync::Arc::new(5u8);
    let o = Opaque::new(valk_heap::SharedValue::opaque(rust));
    assert_eq!(o.kind(), Some(ObjKind::Opaque));
    let t = Term::from(o.clone());
    assert_eq!(format!("{t:?}"), "Opaque(#<opaque object>)");
    let mut heap = Heap::new();
    assert_eq!(t.to_value(&mut heap).unwrap(), o.value());
    assert_eq!(Term::from_value(&mut heap, o.value()), t);
}

#[test]
fn try_from_accepts_and_refuses() {
    assert_eq!(i64::try_from(Term::from(5)), Ok(5));
    assert_eq!(f64::try_from(Term::from(5)), Ok(5.0));
    assert_eq!(f64::try_from(Term::from(2.5)), Ok(2.5));
    assert_eq!(String::try_from(Term::from("s")), Ok("s".to_owned()));
    assert_eq!(
        Vec::<Term>::try_from(Term::sexpr(vec![1.into()])),
        Ok(vec![Term::from(1)])
    );
    assert_eq!(Vec::<Term>::try_from(Term::nil()), Ok(vec![]));

    let err = i64::try_from(Term::from(1.0)).unwrap_err();
    assert_eq!(
        err,
        TermTypeError {
            expected: "integer",
            found: "float"
        }
    );
    assert_eq!(err.to_string(), "expected integer, got float");
    assert_eq!(
        f64::try_from(Term::from("x")).unwrap_err().to_string(),
        "expected number, got string"
    );
    assert_eq!(
        String::try_from(Term::symbol("x")).unwrap_err().to_string(),
        "expected string, got symbol"
    );
    assert_eq!(
        Vec::<Term>::try_from(Term::Pid(1)).unwrap_err().to_string(),
        "expected list, got pid"
    );
    let boxed: Box<dyn std::error::Error + Send + Sync> =
        Box::new(String::try_from(Term::keyword("k")).unwrap_err());
    assert_eq!(boxed.to_string(), "expected string, got keyword");
}

#[test]
fn constructors() {
    assert_eq!(Term::from(true), Term::Int(1));
    assert_eq!(Term::from(false), Term::Int(0));
    assert_eq!(Term::from(String::from("s")), Term::Str("s".into()));
    assert_eq!(
        Term::from(vec![Term::from(1)]),
        Term::List(vec![Term::Int(1)])
    );
    assert_eq!(Term::nil(), Term::List(vec![]));
    assert_eq!(Term::default(), Term::nil());
    assert_eq!(Term::keyword("ok"), Term::keyword(":ok"));
    assert_eq!(Term::symbol("x"), Term::Symbol("x".into()));
}

#[test]
fn display_prints_like_valk() {
    let cases: Vec<(Term, &str)> = vec![
        (Term::from(42), "42"),
        (Term::from(i64::MIN), "-9223372036854775808"),
        (Term::from(1.0), "1.0"),
        (Term::from(-0.0), "-0.0"),
        (Term::from(0.1), "0.1"),
        (Term::from(1e300), "1e300"),
        (Term::from(f64::NAN), "nan"),
        (Term::from(f64::INFINITY), "inf"),
        (Term::from(f64::NEG_INFINITY), "-inf"),
        (Term::from("plain"), "\"plain\""),
        (
            Term::from("q\"b\\n\nt\tr\r0\0a\x07b\x08v\x0bf\x0ce\x1bd\x7fé"),
            r#""q\"b\\n\nt\tr\r0\0a\ab\bv\vf\fe\x1bd\x7fé""#,
        ),
        (Term::symbol("foo-bar"), "foo-bar"),
        (Term::keyword("ok"), ":ok"),
        (Term::nil(), "{}"),
        (Term::sexpr(vec![]), "()"),
        (Term::Pid((1 << 32) | 5), "<pid 0.5.1>"),
        (Term::Ref(9), "<ref 9>"),
        (
            Term::Error("division by zero".into()),
            "Error: division by zero",
        ),
        (
            sample(),
            "{1 -2.5 \"text\" sym :kw (+ 1 {{} ()}) <pid 0.42.0> <ref 7> \
             Error: oops 9223372036854775807 {{(1)}}}",
        ),
    ];
    for (t, want) in cases {
        assert_eq!(t.to_string(), want, "{t:?}");
    }
}
