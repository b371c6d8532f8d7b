//! Foreign functions: a symbol's address with its prepared call interface,
//! and the call itself (marshal, call, read the result back).
//!
//! A call with up to [`INLINE_ARGS`] scalar arguments keeps its argument
//! storage on the stack: no allocation (a `:string` argument allocates its
//! NUL-terminated copy). `:blocking` functions run on the blocking pool
//! while the actor parks.

use std::ffi::c_void;
use std::sync::{Arc, Mutex};

use valk_heap::{Heap, Value};
use valk_lang::{BuiltinCx, Failure};

use crate::callback;
use crate::marshal::{self, Keep, Slot};
use crate::memory;
use crate::raw::Cif;
use crate::types::CType;

/// Arguments kept on the stack (16-byte slots each).
pub const INLINE_ARGS: usize = 8;

/// A dlopen'd library, kept open while any of its functions lives.
pub struct Library {
    pub name: String,
    pub lib: libloading::Library,
}

/// A C function callable from Valk.
pub struct CFunction {
    pub name: String,
    pub code: usize,
    pub cif: Arc<Cif>,
    /// `Some(n)`: variadic after `n` fixed arguments.
    pub variadic: Option<usize>,
    pub blocking: bool,
    /// Reductions charged per call (`:cost N`; default 1).
    pub cost: u64,
    /// Interfaces prepared for the variadic parts seen so far.
    pub var_cifs: Mutex<Vec<(Vec<CType>, Arc<Cif>)>>,
    pub _lib: Arc<Library>,
}

impl CFunction {
    /// For a variadic function: the interface and the values to pass for
    /// a call with `args`, where the part after the fixed arguments is
    /// given as type/value pairs (`:int 5 :double 2.5`).
    fn variadic_interface(
        &self,
        heap: &Heap,
        fixed: usize,
        args: &[Value],
    ) -> Result<(Arc<Cif>, Vec<Value>), String> {
        if args.len() < fixed || (args.len() - fixed) % 2 != 0 {
            return Err(format!(
                "expected {fixed} fixed argument(s), then a type and a value for each variadic one; got {} argument(s)",
                args.len()
            ));
        }
        let mut types = Vec::with_capacity(args.len() - fixed);
        let mut values = args[..fixed].to_vec();
        for pair in args[fixed..].chunks(2) {
            let t = CType::parse(heap, pair[0])?;
            match t {
                CType::F32 | CType::Bool | CType::I8 | CType::U8 | CType::I16 | CType::U16 => {
                    return Err(format!(
                        "variadic arguments are promoted by C: pass {} as :f64 or :int",
                        t.describe()
                    ))
                }
                CType::Void | CType::Struct(_) => {
                    return Err(format!("{} cannot be a variadic argument", t.describe()))
                }
                _ => {}
            }
            types.push(t);
            values.push(pair[1]);
        }
        let mut cache = self.var_cifs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, cif)) = cache.iter().find(|(ts, _)| *ts == types) {
            return Ok((cif.clone(), values));
        }
        let mut all = self.cif.args.clone();
        all.extend(types.iter().cloned());
        let cif = Arc::new(Cif::new(all, self.cif.ret.clone(), Some(fixed))?);
        if cache.len() < 64 {
            cache.push((types, cif.clone()));
        }
        Ok((cif, values))
    }
}

/// Argument storage: inline for a few scalars, on the heap otherwise.
enum Args {
    Inline([u128; INLINE_ARGS]),
    Heap(Vec<Slot>),
}

impl Args {
    fn for_types(types: &[CType]) -> Args {
        if types.len() <= INLINE_ARGS && types.iter().all(|t| t.size() <= 16) {
            Args::Inline([0; INLINE_ARGS])
        } else {
            Args::Heap(types.iter().map(Slot::for_type).collect())
        }
    }

    fn slot(&mut self, i: usize) -> *mut u8 {
        match self {
            Args::Inline(a) => (&raw mut a[i]).cast(),
            Args::Heap(v) => v[i].as_mut_ptr(),
        }
    }
}

/// Everything one call needs, owned (so a blocking call can move it to
/// the pool).
struct Prepared {
    cif: Arc<Cif>,
    args: Args,
    keep: Keep,
    code: usize,
}

// SAFETY: the argument storage is plain bytes (addresses and numbers) and
// the C strings it points into travel with it; the cif is Sync.
unsafe impl Send for Prepared {}

impl Prepared {
    /// Calls the function; the return value's bytes.
    fn call(&mut self) -> Slot {
        let n = self.cif.args.len();
        let mut inline_ptrs = [std::ptr::null_mut::<c_void>(); INLINE_ARGS];
        let mut heap_ptrs = Vec::new();
        let ptrs: &mut [*mut c_void] = if n <= INLINE_ARGS {
            &mut inline_ptrs[..n]
        } else {
            heap_ptrs.resize(n, std::ptr::null_mut());
            &mut heap_ptrs
        };
        for (i, p) in ptrs.iter_mut().enumerate() {
            *p = self.args.slot(i).cast();
        }
        let mut ret = Slot::for_type(&self.cif.ret);
        // SAFETY: `code` is the symbol the interface was declared for (the
        // user's declaration: a wrong one is a misbehaving C call, which
        // the spec leaves to C); every argument slot holds a value written
        // by `marshal::write` for its type; `ret` has ≥ 16 aligned bytes.
        unsafe {
            self.cif.call(
                self.code as *const c_void,
                ret.as_mut_ptr().cast(),
                ptrs.as_mut_ptr(),
            )
        };
        ret
    }
}

/// Calls `f` with the Valk arguments `args` from builtin context `cx`.
/// The common case (a fixed signature, scalar arguments) allocates
/// nothing: argument and return storage are on the stack.
pub fn call(cx: &mut BuiltinCx<'_>, f: &CFunction, args: &[Value]) -> Result<Value, Failure> {
    let fail = |m: String| Failure::Message(format!("`{}` (C): {m}", f.name));
    let variadic;
    let (cif, values): (&Arc<Cif>, &[Value]) = match f.variadic {
        None => {
            if args.len() != f.cif.args.len() {
                let n = f.cif.args.len();
                return Err(fail(format!(
                    "expected {n} argument{}, got {}",
                    if n == 1 { "" } else { "s" },
                    args.len()
                )));
            }
            (&f.cif, args)
        }
        Some(fixed) => {
            variadic = f.variadic_interface(cx.heap, fixed, args).map_err(fail)?;
            (&variadic.0, &variadic.1)
        }
    };
    let mut prepared = Prepared {
        args: Args::for_types(&cif.args),
        keep: Keep::default(),
        code: f.code,
        cif: cif.clone(),
    };
    let mut pins = memory::Pins::default();
    for (i, (t, v)) in cif.args.iter().zip(values).enumerate() {
        if f.blocking && callback::callback_of(cx.heap, *v).is_some() {
            return Err(fail(format!(
                "argument {}: a :blocking call cannot take a callback",
                i + 1
            )));
        }
        if *t == CType::Ptr {
            pins.pin(cx.heap, *v);
        }
        let dst = prepared.args.slot(i);
        // SAFETY: each slot is 16 bytes aligned to 16 (inline) or a `Slot`
        // sized for its type.
        unsafe { marshal::write(cx.heap, t, *v, dst, &mut prepared.keep) }
            .map_err(|m| fail(format!("argument {}: {m}", i + 1)))?;
    }
    cx.meter.reductions(f.cost);
    let limit = cx.heap.limit();
    let (ret, callback_error) = if f.blocking {
        cx.blocking(move || {
            // Unpinned when the C call ends, even if the actor was killed
            // while it waited.
            let _pins = pins;
            callback::with_callbacks(limit, || prepared.call())
        })?
    } else {
        let r = callback::with_callbacks(limit, || prepared.call());
        drop(pins);
        r
    };
    let ret = ret.map_err(fail)?;
    if let Some(e) = callback_error {
        return Err(fail(format!("a callback failed: {e}")));
    }
    // SAFETY: the function wrote a value of its return type (integers
    // narrower than a word widened to one, narrowed by `read_return`).
    unsafe { read_return(cx.heap, &f.cif.ret, &ret) }.map_err(fail)
}

/// A call's return value: libffi widens integer returns narrower than a
/// word to a whole word, so those are read as one and narrowed.
///
/// # Safety
/// `ret` holds what libffi wrote for a function returning `t`.
pub(crate) unsafe fn read_return(heap: &mut Heap, t: &CType, ret: &Slot) -> Result<Value, String> {
    let p = ret.as_ptr();
    let small = matches!(
        t,
        CType::Bool | CType::I8 | CType::U8 | CType::I16 | CType::U16 | CType::I32 | CType::U32
    );
    if !small {
        // SAFETY: the caller's contract.
        return unsafe { marshal::read(heap, t, p) };
    }
    // SAFETY: a widened integer return fills a whole (aligned) word.
    let word = unsafe { p.cast::<u64>().read() };
    let i = match t {
        CType::Bool => i64::from(word as u8 != 0),
        CType::I8 => i64::from(word as i8),
        CType::U8 => i64::from(word as u8),
        CType::I16 => i64::from(word as i16),
        CType::U16 => i64::from(word as u16),
        CType::I32 => i64::from(word as i32),
        _ => i64::from(word as u32),
    };
    marshal::int_value(heap, i)
}
