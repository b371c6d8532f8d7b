//! The root set a collection starts from. The caller (interpreter, actor)
//! lists every live value precisely; the collector updates them in place
//! when objects move.

use crate::value::Value;

/// Everything a collection must keep alive. `visit_roots` calls `visit`
/// once for every root slot; the collector may rewrite the slot.
pub trait Roots {
    fn visit_roots(&mut self, visit: &mut dyn FnMut(&mut Value));
}

/// No roots: everything private becomes garbage.
impl Roots for () {
    fn visit_roots(&mut self, _: &mut dyn FnMut(&mut Value)) {}
}

impl Roots for Value {
    fn visit_roots(&mut self, visit: &mut dyn FnMut(&mut Value)) {
        visit(self)
    }
}

impl Roots for [Value] {
    fn visit_roots(&mut self, visit: &mut dyn FnMut(&mut Value)) {
        self.iter_mut().for_each(visit)
    }
}

impl<const N: usize> Roots for [Value; N] {
    fn visit_roots(&mut self, visit: &mut dyn FnMut(&mut Value)) {
        self.iter_mut().for_each(visit)
    }
}

impl Roots for Vec<Value> {
    fn visit_roots(&mut self, visit: &mut dyn FnMut(&mut Value)) {
        self.iter_mut().for_each(visit)
    }
}

impl<R: Roots + ?Sized> Roots for &mut R {
    fn visit_roots(&mut self, visit: &mut dyn FnMut(&mut Value)) {
        (**self).visit_roots(visit)
    }
}

impl<A: Roots, B: Roots> Roots for (A, B) {
    fn visit_roots(&mut self, visit: &mut dyn FnMut(&mut Value)) {
        self.0.visit_roots(visit);
        self.1.visit_roots(visit);
    }
}

/// A closure as a root set:
/// `heap.minor_gc(&mut RootsFn(|v: &mut dyn FnMut(&mut Value)| { v(&mut a); v(&mut b) }))`.
pub struct RootsFn<F>(pub F);

impl<F: FnMut(&mut dyn FnMut(&mut Value))> Roots for RootsFn<F> {
    fn visit_roots(&mut self, visit: &mut dyn FnMut(&mut Value)) {
        (self.0)(visit)
    }
}
