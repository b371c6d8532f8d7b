//! Callbacks: `(c-callback f ret {arg-types...})` makes a C function
//! pointer that runs the Valk function `f` (for `qsort` and the like).
//!
//! The callback runs inside the C call that calls it, on the calling
//! actor's thread, in an interpreter of its own over the runtime's globals
//! (made once per C call and reused by every callback of that call): `f`'s
//! closure is shared, its arguments are read from C into that interpreter's
//! heap. An error (or a panic) in `f` never unwinds into C: the callback
//! returns zero to C, and the C call, when it returns, gives the error.
//! Actor builtins (`self`, `receive`) are not available inside a callback.

use std::cell::RefCell;
use std::ffi::c_void;
use std::sync::Arc;

use valk_heap::{Heap, SharedValue, Value};
use valk_lang::{Globals, Interp};

use crate::marshal::{self, Slot};
use crate::raw::{self, Cif};
use crate::types::CType;

/// What a callback's closure points at.
struct Target {
    func: SharedValue,
    args: Vec<CType>,
    ret: CType,
    globals: Arc<Globals>,
}

/// A C function pointer calling a Valk function; alive as long as the
/// Valk value holding it (C must not keep it longer).
pub struct Callback {
    // Dropped first: no call can start once the target goes.
    closure: raw::Closure,
    _target: Box<Target>,
}

impl Callback {
    pub fn new(
        func: SharedValue,
        ret: CType,
        args: Vec<CType>,
        globals: Arc<Globals>,
    ) -> Result<Callback, String> {
        if ret.has_string() {
            return Err("a callback cannot return :string (the copy would not outlive the call); return :ptr".into());
        }
        let cif = Cif::new(args.clone(), ret.clone(), None)?;
        let mut target = Box::new(Target {
            func,
            args,
            ret,
            globals,
        });
        let user: *mut Target = &mut *target;
        // SAFETY: `target` is boxed (it does not move) and dropped after
        // the closure (field order); `Target` is Send + Sync (shared values
        // and the globals are), so any thread may use it; `handler` writes
        // the return type, widened (see `write_return`).
        let closure = unsafe { raw::Closure::new(cif, handler, user.cast())? };
        Ok(Callback {
            closure,
            _target: target,
        })
    }

    /// The C function pointer.
    pub fn code(&self) -> *const c_void {
        self.closure.code()
    }
}

/// The callback behind a Valk value, if it is one.
pub fn callback_of(heap: &Heap, v: Value) -> Option<&Callback> {
    if !v.is_ptr() {
        return None;
    }
    heap.opaque(v)?.downcast_ref::<Callback>()
}

/// The interpreter callbacks of the C call in progress on this thread
/// share, and the first error one of them raised.
#[derive(Default)]
struct CallEnv {
    /// The calling actor's heap limit, for the callbacks' interpreter.
    limit: Option<usize>,
    // Boxed: an `Interp` is large, and the environment is moved in and out
    // of its thread-local at every C call.
    interp: Option<Box<Interp>>,
    error: Option<String>,
}

thread_local! {
    static ENV: RefCell<Option<CallEnv>> = const { RefCell::new(None) };
}

/// C calls nest at most this deep (C calling a callback making a C call
/// ...): each level takes C and interpreter frames from the actor's stack.
pub const MAX_NESTING: u32 = 8;

thread_local! {
    static DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Runs the C call `call` with a callback environment (callbacks' heaps
/// limited to `limit`): the result, and the error a callback raised during
/// it, if any; an error without calling when C calls already nest
/// [`MAX_NESTING`] deep on this thread.
pub fn with_callbacks<R>(
    limit: Option<usize>,
    call: impl FnOnce() -> R,
) -> (Result<R, String>, Option<String>) {
    let depth = DEPTH.with(|d| d.get());
    if depth >= MAX_NESTING {
        return (
            Err(format!(
                "C calls nest at most {MAX_NESTING} deep (a callback calling C calling a callback ...)"
            )),
            None,
        );
    }
    DEPTH.with(|d| d.set(depth + 1));
    let env = CallEnv {
        limit,
        ..CallEnv::default()
    };
    let previous = ENV.with(|e| e.borrow_mut().replace(env));
    let r = call();
    let env = ENV.with(|e| std::mem::replace(&mut *e.borrow_mut(), previous));
    DEPTH.with(|d| d.set(depth));
    (Ok(r), env.and_then(|e| e.error))
}

fn record(error: String) {
    let unkept = ENV.with(|e| match e.borrow_mut().as_mut() {
        Some(env) => {
            // The first error is the one the C call returns.
            env.error.get_or_insert(error);
            None
        }
        None => Some(error),
    });
    if let Some(error) = unkept {
        // Called from a thread with no Valk call in progress (a C library's
        // own thread): nobody can be given the error.
        eprintln!("valk: a C callback failed outside a Valk call: {error}");
    }
}

/// libffi's entry point for every callback.
unsafe extern "C" fn handler(
    _cif: *mut libffi::raw::ffi_cif,
    ret: *mut c_void,
    args: *mut *mut c_void,
    user: *mut c_void,
) {
    // SAFETY: `user` is the `Target` the closure was made with, alive
    // while the closure is (see `Callback::new`).
    let target = unsafe { &*user.cast::<Target>() };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: libffi passes one pointer per declared argument, each to
        // a value of its type, and a return buffer for the return type.
        unsafe { run(target, ret.cast(), args) }
    }));
    let error = match outcome {
        Ok(Ok(())) => return,
        Ok(Err(m)) => m,
        Err(_) => "the callback panicked".to_owned(),
    };
    // SAFETY: libffi's return buffer holds at least the return type,
    // widened to a word for integers.
    unsafe { std::ptr::write_bytes(ret.cast::<u8>(), 0, target.ret.size().max(8)) };
    record(error);
}

/// Runs the target on its arguments and writes its result.
///
/// # Safety
/// As [`handler`]'s libffi contract.
unsafe fn run(target: &Target, ret: *mut u8, args: *mut *mut c_void) -> Result<(), String> {
    // The interpreter is taken out of the environment while it runs: the
    // Valk function may make C calls with callbacks of their own.
    let (taken, limit) = ENV.with(|e| match e.borrow_mut().as_mut() {
        Some(env) => (env.interp.take(), env.limit),
        None => (None, target.globals.heap_limit()),
    });
    let mut interp = taken.unwrap_or_else(|| {
        let mut it = Box::new(Interp::with_globals(target.globals.clone()));
        // The calling actor's heap limit holds inside its callbacks too.
        it.heap_mut().set_limit(limit);
        it
    });
    let result = (|| {
        let heap = interp.heap_mut();
        let mut values = Vec::with_capacity(target.args.len());
        for (i, t) in target.args.iter().enumerate() {
            // SAFETY: argument i points to a value of type t (libffi).
            let p = unsafe { *args.add(i) };
            // SAFETY: as above; C values of type t are read.
            values.push(unsafe { marshal::read(heap, t, p.cast::<u8>())? });
        }
        let f = target.func.value();
        heap.keep_shared(f);
        let v = interp.call(f, &values).map_err(|e| e.message)?;
        // SAFETY: libffi's return buffer (the caller's contract).
        unsafe { write_return(interp.heap_mut(), &target.ret, v, ret) }
    })();
    ENV.with(|e| {
        if let Some(env) = e.borrow_mut().as_mut() {
            env.interp.get_or_insert(interp);
        }
    });
    result
}

/// Writes a callback's result: integers narrower than a word are widened
/// to one (libffi's rule for closure returns).
///
/// # Safety
/// `ret` must hold the return type, widened to a word for integers.
unsafe fn write_return(heap: &Heap, t: &CType, v: Value, ret: *mut u8) -> Result<(), String> {
    if *t == CType::Void {
        return Ok(());
    }
    let mut slot = Slot::for_type(t);
    let mut keep = marshal::Keep::default();
    // SAFETY: the slot holds the type (at least 16 bytes, aligned).
    unsafe { marshal::write(heap, t, v, slot.as_mut_ptr(), &mut keep)? };
    let p = slot.as_ptr();
    // SAFETY: reads of the slot just written; writes of at most the
    // buffer's widened size.
    unsafe {
        match t {
            CType::Bool | CType::U8 => ret.cast::<u64>().write(u64::from(p.read())),
            CType::I8 => ret.cast::<i64>().write(i64::from(p.cast::<i8>().read())),
            CType::U16 => ret.cast::<u64>().write(u64::from(p.cast::<u16>().read())),
            CType::I16 => ret.cast::<i64>().write(i64::from(p.cast::<i16>().read())),
            CType::U32 => ret.cast::<u64>().write(u64::from(p.cast::<u32>().read())),
            CType::I32 => ret.cast::<i64>().write(i64::from(p.cast::<i32>().read())),
            _ => std::ptr::copy_nonoverlapping(p, ret, t.size()),
        }
    }
    Ok(())
}
