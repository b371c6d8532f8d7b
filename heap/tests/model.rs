//! Property test: random object graphs in two heaps, driven by random
//! interleavings of allocation, mutation, minor/major collection, message
//! copy + adoption (into the same or the other heap), `to_shared` and boxes,
//! are compared after every collection and at the end against a plain Rust
//! model of the same graph. The comparison also checks identity: one heap
//! object per model node and vice versa, so sharing must be preserved
//! exactly.
//!
//! `PROPTEST_CASES` sets the number of cases (default 64).

use proptest::prelude::*;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use valk_heap::{Heap, ListKind, SourceLoc, Value, LARGE_STRING};

type MRef = usize;

#[derive(Clone, Debug)]
enum Node {
    Imm(Value),
    Int(i64),
    Str(String),
    Cons(ListKind, MRef, MRef),
    Closure(MRef, Vec<MRef>),
    Error(MRef, Option<MRef>, Option<SourceLoc>),
    Pid(u64),
    Box(MRef),
}

#[derive(Clone, Debug)]
struct MNode {
    node: Node,
    /// Lives in the shared heap: messages pass it by reference.
    shared: bool,
}

#[derive(Default)]
struct Model {
    nodes: Vec<MNode>,
}

impl Model {
    fn add(&mut self, node: Node, shared: bool) -> MRef {
        self.nodes.push(MNode { node, shared });
        self.nodes.len() - 1
    }

    fn children(n: &Node) -> Vec<MRef> {
        match n {
            Node::Cons(_, a, d) => vec![*a, *d],
            Node::Closure(c, caps) => std::iter::once(*c).chain(caps.iter().copied()).collect(),
            Node::Error(m, p, _) => std::iter::once(*m).chain(*p).collect(),
            Node::Box(b) => vec![*b],
            _ => vec![],
        }
    }

    /// Deep-copy the private part of the graph under `root` (shared nodes
    /// are kept), preserving sharing; new nodes get `shared`.
    fn copy(&mut self, root: MRef, shared: bool) -> MRef {
        if self.nodes[root].shared || matches!(self.nodes[root].node, Node::Imm(_)) {
            return root;
        }
        let mut map: HashMap<MRef, MRef> = HashMap::new();
        let mut order = vec![root];
        let mut stack = vec![root];
        map.insert(root, usize::MAX);
        while let Some(n) = stack.pop() {
            for c in Self::children(&self.nodes[n].node) {
                if !self.nodes[c].shared && !map.contains_key(&c) {
                    map.insert(c, usize::MAX);
                    order.push(c);
                    stack.push(c);
                }
            }
        }
        for &n in &order {
            let id = self.add(self.nodes[n].node.clone(), shared);
            map.insert(n, id);
        }
        let fix = |map: &HashMap<MRef, MRef>, r: MRef| *map.get(&r).unwrap_or(&r);
        for &n in &order {
            let id = map[&n];
            let node = match self.nodes[id].node.clone() {
                Node::Cons(k, a, d) => Node::Cons(k, fix(&map, a), fix(&map, d)),
                Node::Closure(c, caps) => {
                    Node::Closure(fix(&map, c), caps.iter().map(|&x| fix(&map, x)).collect())
                }
                Node::Error(m, p, l) => Node::Error(fix(&map, m), p.map(|x| fix(&map, x)), l),
                Node::Box(b) => Node::Box(fix(&map, b)),
                other => other,
            };
            self.nodes[id].node = node;
        }
        map[&root]
    }
}

/// One actor: a heap, its roots, and the model node of each root.
struct Actor {
    heap: Heap,
    roots: Vec<Value>,
    models: Vec<MRef>,
}

impl Actor {
    fn push(&mut self, v: Value, m: MRef) {
        self.roots.push(v);
        self.models.push(m);
    }
    fn pick(&self, i: usize) -> Option<usize> {
        (!self.roots.is_empty()).then(|| i % self.roots.len())
    }
}

/// Compare every root of `a` with the model, identity included.
fn check(a: &Actor, model: &Model) -> Result<(), String> {
    let h = &a.heap;
    let mut fwd: HashMap<u64, MRef> = HashMap::new();
    let mut back: HashMap<MRef, u64> = HashMap::new();
    let mut stack: Vec<(Value, MRef)> = a
        .roots
        .iter()
        .copied()
        .zip(a.models.iter().copied())
        .collect();
    while let Some((v, m)) = stack.pop() {
        let node = &model.nodes[m];
        if v.is_ptr() {
            if node.shared != v.is_shared() {
                return Err(format!(
                    "{v:?} shared={} but model says {}",
                    v.is_shared(),
                    node.shared
                ));
            }
            match fwd.entry(v.to_bits()) {
                Entry::Occupied(e) if *e.get() == m => continue,
                Entry::Occupied(e) => {
                    return Err(format!("{v:?} is model nodes {} and {m}", e.get()))
                }
                Entry::Vacant(e) => {
                    e.insert(m);
                }
            }
            if let Some(old) = back.insert(m, v.to_bits()) {
                return Err(format!("model node {m} is two objects {old:#x} and {v:?}"));
            }
        }
        let ok = match &node.node {
            Node::Imm(x) => v == *x,
            Node::Int(i) => {
                h.as_int(v) == Some(*i) && (Value::small_int(*i).is_some() != v.is_ptr())
            }
            Node::Str(s) => h.str(v) == Some(s.as_str()),
            Node::Pid(id) => h.pid_id(v) == Some(*id),
            Node::Cons(k, car, cdr) => match (h.list_kind(v), h.car_cdr(v)) {
                (Some(k2), Some((a2, d2))) if k2 == *k => {
                    stack.push((a2, *car));
                    stack.push((d2, *cdr));
                    true
                }
                _ => false,
            },
            Node::Closure(code, caps) => match h.closure_parts(v) {
                Some((c2, caps2)) if caps2.len() == caps.len() => {
                    stack.push((c2, *code));
                    stack.extend(caps2.iter().copied().zip(caps.iter().copied()));
                    true
                }
                _ => false,
            },
            Node::Error(msg, payload, loc) => match h.error_parts(v) {
                Some(p) if p.loc == *loc && p.payload.is_some() == payload.is_some() => {
                    stack.push((p.message, *msg));
                    if let (Some(a), Some(b)) = (p.payload, payload) {
                        stack.push((a, *b));
                    }
                    true
                }
                _ => false,
            },
            Node::Box(inner) => match h.unbox(v) {
                Some(x) => {
                    stack.push((x, *inner));
                    true
                }
                None => false,
            },
        };
        if !ok {
            return Err(format!(
                "{v:?} does not match model node {m}: {:?}",
                node.node
            ));
        }
    }
    a.heap.check_invariants(&mut a.roots.clone())
}

#[derive(Clone, Debug)]
enum Op {
    Int(usize, i64),
    Float(usize, f64),
    Str(usize, String),
    BigStr(usize, usize),
    Symbol(usize, u32),
    List(usize, bool, Vec<usize>),
    Nest(usize, usize, u8),
    Closure(usize, usize, Vec<usize>),
    Error(usize, usize, Option<usize>, bool),
    Pid(usize, u64),
    Box(usize, usize),
    ToShared(usize, usize),
    SetCdr(usize, usize, usize),
    Garbage(usize, u16),
    DropRoot(usize, usize),
    Minor(usize),
    Major(usize),
    Collect(usize),
    Send(usize, usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    let ints = prop_oneof![
        any::<i64>(),
        Just(i64::MIN),
        Just(i64::MAX),
        Just((1 << 47) - 1),
        Just(1 << 47),
        Just(-(1 << 47)),
        Just(-(1 << 47) - 1),
        -1000i64..1000,
    ];
    let idx = any::<usize>();
    prop_oneof![
        3 => (0..2usize, ints).prop_map(|(a, i)| Op::Int(a, i)),
        2 => (0..2usize, any::<f64>()).prop_map(|(a, f)| Op::Float(a, f)),
        2 => (0..2usize, ".{0,40}").prop_map(|(a, s)| Op::Str(a, s)),
        1 => (0..2usize, 0..3000usize).prop_map(|(a, n)| Op::BigStr(a, n)),
        1 => (0..2usize, 0..5u32).prop_map(|(a, s)| Op::Symbol(a, s)),
        6 => (0..2usize, any::<bool>(), prop::collection::vec(idx, 0..8)).prop_map(|(a, s, v)| Op::List(a, s, v)),
        2 => (0..2usize, idx, 1..=50u8).prop_map(|(a, i, d)| Op::Nest(a, i, d)),
        2 => (0..2usize, idx, prop::collection::vec(idx, 0..5)).prop_map(|(a, c, v)| Op::Closure(a, c, v)),
        1 => (0..2usize, idx, prop::option::of(idx), any::<bool>()).prop_map(|(a, m, p, l)| Op::Error(a, m, p, l)),
        1 => (0..2usize, any::<u64>()).prop_map(|(a, id)| Op::Pid(a, id)),
        1 => (0..2usize, idx).prop_map(|(a, i)| Op::Box(a, i)),
        1 => (0..2usize, idx).prop_map(|(a, i)| Op::ToShared(a, i)),
        2 => (0..2usize, idx, idx).prop_map(|(a, i, j)| Op::SetCdr(a, i, j)),
        2 => (0..2usize, any::<u16>()).prop_map(|(a, n)| Op::Garbage(a, n)),
        2 => (0..2usize, idx).prop_map(|(a, i)| Op::DropRoot(a, i)),
        2 => (0..2usize).prop_map(Op::Minor),
        1 => (0..2usize).prop_map(Op::Major),
        2 => (0..2usize).prop_map(Op::Collect),
        3 => (0..2usize, idx, 0..2usize).prop_map(|(a, i, b)| Op::Send(a, i, b)),
    ]
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut model = Model::default();
    let mut actors: Vec<Actor> = (0..2)
        .map(|_| Actor {
            heap: Heap::new(),
            roots: vec![],
            models: vec![],
        })
        .collect();
    let sym = valk_heap::intern("model-sym");
    for op in ops {
        match op {
            Op::Int(a, i) => {
                let v = actors[a].heap.int(i).unwrap();
                let m = model.add(Node::Int(i), false);
                actors[a].push(v, m);
            }
            Op::Float(a, f) => {
                let v = Value::float(f);
                let m = model.add(Node::Imm(v), false);
                actors[a].push(v, m);
            }
            Op::Str(a, s) => {
                let v = actors[a].heap.string(&s).unwrap();
                let m = model.add(Node::Str(s), false);
                actors[a].push(v, m);
            }
            Op::BigStr(a, n) => {
                let s: String = "λx".chars().cycle().take(LARGE_STRING / 2 + n).collect();
                let v = actors[a].heap.string(&s).unwrap();
                let shared = s.len() >= LARGE_STRING;
                let m = model.add(Node::Str(s), shared);
                actors[a].push(v, m);
            }
            Op::Symbol(a, s) => {
                let v = match s {
                    0 => Value::symbol(sym),
                    1 => Value::keyword(sym),
                    2 => Value::NIL,
                    3 => Value::EMPTY_S,
                    _ => Value::builtin(7),
                };
                let m = model.add(Node::Imm(v), false);
                actors[a].push(v, m);
            }
            Op::List(a, s, items) => {
                let act = &mut actors[a];
                let kind = if s { ListKind::S } else { ListKind::Q };
                let picked: Vec<usize> = items.iter().filter_map(|&i| act.pick(i)).collect();
                let vals: Vec<Value> = picked.iter().map(|&i| act.roots[i]).collect();
                let v = act.heap.list(&vals, kind).unwrap();
                let mut m = model.add(
                    Node::Imm(if s { Value::EMPTY_S } else { Value::NIL }),
                    false,
                );
                for &i in picked.iter().rev() {
                    m = model.add(Node::Cons(kind, act.models[i], m), false);
                }
                act.push(v, m);
            }
            Op::Nest(a, i, depth) => {
                let act = &mut actors[a];
                let Some(i) = act.pick(i) else { continue };
                let (mut v, mut m) = (act.roots[i], act.models[i]);
                let nil = model.add(Node::Imm(Value::NIL), false);
                for _ in 0..depth {
                    v = act.heap.cons(v, Value::NIL, ListKind::Q).unwrap();
                    m = model.add(Node::Cons(ListKind::Q, m, nil), false);
                }
                act.push(v, m);
            }
            Op::Closure(a, c, caps) => {
                let act = &mut actors[a];
                let Some(c) = act.pick(c) else { continue };
                let picked: Vec<usize> = caps.iter().filter_map(|&i| act.pick(i)).collect();
                let vals: Vec<Value> = picked.iter().map(|&i| act.roots[i]).collect();
                let v = act.heap.closure(act.roots[c], &vals).unwrap();
                let m = model.add(
                    Node::Closure(
                        act.models[c],
                        picked.iter().map(|&i| act.models[i]).collect(),
                    ),
                    false,
                );
                act.push(v, m);
            }
            Op::Error(a, msg, payload, with_loc) => {
                let act = &mut actors[a];
                let Some(msg) = act.pick(msg) else { continue };
                let payload = payload.and_then(|p| act.pick(p));
                let loc = with_loc.then_some(SourceLoc {
                    file: sym,
                    line: 3,
                    col: 9,
                });
                let v = act
                    .heap
                    .error(act.roots[msg], loc, payload.map(|p| act.roots[p]))
                    .unwrap();
                let m = model.add(
                    Node::Error(act.models[msg], payload.map(|p| act.models[p]), loc),
                    false,
                );
                act.push(v, m);
            }
            Op::Pid(a, id) => {
                let v = actors[a].heap.pid(id).unwrap();
                let m = model.add(Node::Pid(id), false);
                actors[a].push(v, m);
            }
            Op::Box(a, i) => {
                let act = &mut actors[a];
                let Some(i) = act.pick(i) else { continue };
                let v = act.heap.make_box(act.roots[i]).unwrap();
                let inner = model.copy(act.models[i], true);
                let m = model.add(Node::Box(inner), true);
                act.push(v, m);
            }
            Op::ToShared(a, i) => {
                // The SharedValue is dropped at once: the heap does not own
                // the copy yet, so it is stored only while the handle lives;
                // check it right here through the handle.
                let act = &mut actors[a];
                let Some(i) = act.pick(i) else { continue };
                let sv = act.heap.to_shared(act.roots[i]);
                let m = model.copy(act.models[i], true);
                let probe = Actor {
                    heap: Heap::new(),
                    roots: vec![sv.value()],
                    models: vec![m],
                };
                check(&probe, &model).map_err(TestCaseError::fail)?;
                // Sending it keeps it: a fragment holding the shared value.
                let v = act
                    .heap
                    .adopt(valk_heap::Fragment::from_shared(sv))
                    .unwrap();
                act.push(v, m);
            }
            Op::SetCdr(a, i, j) => {
                let act = &mut actors[a];
                let (Some(i), Some(j)) = (act.pick(i), act.pick(j)) else {
                    continue;
                };
                let (cell, cdr) = (act.roots[i], act.roots[j]);
                let mi = act.models[i];
                act.heap.set_cdr(cell, cdr);
                if let (Node::Cons(k, car, _), false) =
                    (&model.nodes[mi].node, model.nodes[mi].shared)
                {
                    model.nodes[mi].node = Node::Cons(*k, *car, act.models[j]);
                }
            }
            Op::Garbage(a, n) => {
                let h = &mut actors[a].heap;
                let mut l = Value::NIL;
                for k in 0..n {
                    l = h
                        .cons(Value::small_int(k as i64).unwrap(), l, ListKind::Q)
                        .unwrap();
                    if k % 64 == 0 {
                        h.string("garbage").unwrap();
                    }
                }
            }
            Op::DropRoot(a, i) => {
                let act = &mut actors[a];
                if let Some(i) = act.pick(i) {
                    act.roots.swap_remove(i);
                    act.models.swap_remove(i);
                }
            }
            Op::Minor(a) | Op::Major(a) | Op::Collect(a) => {
                let act = &mut actors[a];
                match op {
                    Op::Minor(_) => act.heap.minor_gc(&mut act.roots),
                    Op::Major(_) => act.heap.major_gc(&mut act.roots),
                    _ => act.heap.collect(&mut act.roots),
                }
                check(act, &model).map_err(TestCaseError::fail)?;
            }
            Op::Send(a, i, b) => {
                let Some(i) = actors[a].pick(i) else { continue };
                let root = actors[a].roots[i];
                let frag = actors[a].heap.copy_to_fragment(root);
                // The sender is unchanged by the copy.
                check(&actors[a], &model).map_err(TestCaseError::fail)?;
                let m = model.copy(actors[a].models[i], false);
                let v = actors[b].heap.adopt(frag).unwrap();
                actors[b].push(v, m);
                check(&actors[b], &model).map_err(TestCaseError::fail)?;
            }
        }
    }
    for a in &mut actors {
        check(a, &model).map_err(TestCaseError::fail)?;
        a.heap.collect(&mut a.roots);
        check(a, &model).map_err(TestCaseError::fail)?;
        a.heap.major_gc(&mut a.roots);
        check(a, &model).map_err(TestCaseError::fail)?;
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn graphs_survive_gc_and_messages(ops in prop::collection::vec(op(), 1..80)) {
        run(ops)?;
    }
}
