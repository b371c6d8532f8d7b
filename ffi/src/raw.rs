//! The one module that talks to libffi: call interfaces (`Cif`, prepared
//! once per foreign function and kept), calls through them, and closures
//! (C function pointers that land in Rust, for callbacks).
//!
//! A `Cif` owns every `ffi_type` it points at (struct descriptions and
//! their element arrays) in boxes that never move, so the raw pointers
//! libffi keeps stay valid as long as the `Cif` lives.

use std::ffi::c_void;

use libffi::raw::{self, ffi_cif, ffi_closure, ffi_type};

use crate::types::CType;

/// Owned type descriptions a `Cif` points into.
#[derive(Default)]
struct TypeStore {
    // Boxed: libffi keeps pointers to each description, which must not
    // move when the vector grows.
    #[allow(clippy::vec_box)]
    structs: Vec<Box<ffi_type>>,
    element_arrays: Vec<Box<[*mut ffi_type]>>,
}

impl TypeStore {
    /// The libffi description of `t` (a static one for scalars).
    fn describe(&mut self, t: &CType) -> *mut ffi_type {
        // Only the address of libffi's
        // static type descriptions is taken; libffi reads them, nothing
        // here writes them.
        match t {
            CType::Void => &raw mut raw::ffi_type_void,
            CType::Bool | CType::U8 => &raw mut raw::ffi_type_uint8,
            CType::I8 => &raw mut raw::ffi_type_sint8,
            CType::I16 => &raw mut raw::ffi_type_sint16,
            CType::U16 => &raw mut raw::ffi_type_uint16,
            CType::I32 => &raw mut raw::ffi_type_sint32,
            CType::U32 => &raw mut raw::ffi_type_uint32,
            CType::I64 => &raw mut raw::ffi_type_sint64,
            CType::U64 => &raw mut raw::ffi_type_uint64,
            CType::Isize if usize::BITS == 64 => &raw mut raw::ffi_type_sint64,
            CType::Isize => &raw mut raw::ffi_type_sint32,
            CType::Usize if usize::BITS == 64 => &raw mut raw::ffi_type_uint64,
            CType::Usize => &raw mut raw::ffi_type_uint32,
            CType::F32 => &raw mut raw::ffi_type_float,
            CType::F64 => &raw mut raw::ffi_type_double,
            CType::Ptr | CType::Str => &raw mut raw::ffi_type_pointer,
            CType::Struct(fields) => {
                let mut elements: Vec<*mut ffi_type> =
                    fields.iter().map(|f| self.describe(f)).collect();
                elements.push(std::ptr::null_mut());
                let mut elements = elements.into_boxed_slice();
                let mut st = Box::new(ffi_type {
                    type_: raw::FFI_TYPE_STRUCT,
                    elements: elements.as_mut_ptr(),
                    ..Default::default()
                });
                let p: *mut ffi_type = &mut *st;
                self.element_arrays.push(elements);
                self.structs.push(st);
                p
            }
        }
    }
}

/// A prepared call interface: argument and return types, fixed for every
/// call through it.
pub struct Cif {
    cif: Box<ffi_cif>,
    _arg_types: Box<[*mut ffi_type]>,
    _store: TypeStore,
    pub args: Vec<CType>,
    pub ret: CType,
}

// SAFETY: after `ffi_prep_cif` a `Cif` is never written again; libffi only
// reads it (and the type descriptions it owns) during calls, from any
// thread.
unsafe impl Send for Cif {}
// SAFETY: as above: shared use is read-only.
unsafe impl Sync for Cif {}

impl Cif {
    /// Prepares the interface of a function taking `args` and returning
    /// `ret`; `fixed` is `Some(n)` for a variadic function whose first `n`
    /// arguments are the fixed ones.
    pub fn new(args: Vec<CType>, ret: CType, fixed: Option<usize>) -> Result<Cif, String> {
        if args.contains(&CType::Void) {
            return Err(":void is only a return type".into());
        }
        let mut store = TypeStore::default();
        let mut arg_types: Box<[*mut ffi_type]> = args.iter().map(|a| store.describe(a)).collect();
        let rtype = store.describe(&ret);
        let mut cif: Box<ffi_cif> = Box::default();
        let n = u32::try_from(args.len()).map_err(|_| "too many arguments".to_owned())?;
        let status = match fixed {
            // SAFETY: `cif`, `rtype` and `arg_types` (n entries) are valid
            // and owned by the `Cif` returned below, which keeps them.
            None => unsafe {
                raw::ffi_prep_cif(
                    &mut *cif,
                    raw::ffi_abi_FFI_DEFAULT_ABI,
                    n,
                    rtype,
                    arg_types.as_mut_ptr(),
                )
            },
            // SAFETY: as above; `fixed` ≤ `n` is checked by the caller.
            Some(k) => unsafe {
                raw::ffi_prep_cif_var(
                    &mut *cif,
                    raw::ffi_abi_FFI_DEFAULT_ABI,
                    u32::try_from(k.min(args.len())).unwrap_or(0),
                    n,
                    rtype,
                    arg_types.as_mut_ptr(),
                )
            },
        };
        if status != raw::ffi_status_FFI_OK {
            return Err(format!(
                "libffi cannot describe this signature (status {status})"
            ));
        }
        Ok(Cif {
            cif,
            _arg_types: arg_types,
            _store: store,
            args,
            ret,
        })
    }

    /// Calls the C function at `code`.
    ///
    /// # Safety
    /// `code` must be a C function of this interface's signature; `args`
    /// must hold one pointer per argument, each to a value of its type;
    /// `ret` must point to at least `max(size of ret, 8)` writable bytes
    /// aligned to 8 (16 bytes of alignment-8 storage covers every scalar).
    pub unsafe fn call(&self, code: *const c_void, ret: *mut c_void, args: *mut *mut c_void) {
        // SAFETY: the caller's contract; the cif was prepared and is kept
        // alive by `self`. libffi reads the cif through a mutable pointer
        // but does not write it.
        unsafe {
            let f: unsafe extern "C" fn() = std::mem::transmute(code);
            raw::ffi_call((&raw const *self.cif).cast_mut(), Some(f), ret, args);
        }
    }

    fn as_ptr(&self) -> *mut ffi_cif {
        (&raw const *self.cif).cast_mut()
    }
}

/// What a closure calls: the interface, the return buffer, the argument
/// pointers and the closure's user data.
pub type Handler = unsafe extern "C" fn(*mut ffi_cif, *mut c_void, *mut *mut c_void, *mut c_void);

/// A C function pointer that calls `handler` with `user` (a libffi
/// closure). Freed on drop: C must not call it afterwards.
pub struct Closure {
    writable: *mut ffi_closure,
    code: *const c_void,
    _cif: Box<Cif>,
}

// SAFETY: the closure memory is written once (by `ffi_prep_closure_loc`)
// and then only executed; the handler and user data are required to be
// usable from any thread by `Closure::new`'s contract.
unsafe impl Send for Closure {}
// SAFETY: as above.
unsafe impl Sync for Closure {}

impl Closure {
    /// # Safety
    /// `user` must stay valid, and usable from any thread, for as long as
    /// the closure lives; `handler` must write a value of the interface's
    /// return type (widened to 8 bytes for integers) to its return buffer.
    pub unsafe fn new(cif: Cif, handler: Handler, user: *mut c_void) -> Result<Closure, String> {
        let cif = Box::new(cif);
        let mut code: *mut c_void = std::ptr::null_mut();
        // SAFETY: allocating closure memory of libffi's closure size.
        let writable =
            unsafe { raw::ffi_closure_alloc(std::mem::size_of::<ffi_closure>(), &mut code) }
                .cast::<ffi_closure>();
        if writable.is_null() {
            return Err("libffi could not allocate a closure".into());
        }
        // SAFETY: `writable`/`code` came from `ffi_closure_alloc`; the cif
        // is boxed and kept by the returned `Closure`; `user` is the
        // caller's (see the contract).
        let status =
            unsafe { raw::ffi_prep_closure_loc(writable, cif.as_ptr(), Some(handler), user, code) };
        if status != raw::ffi_status_FFI_OK {
            // SAFETY: allocated above and not handed out.
            unsafe { raw::ffi_closure_free(writable.cast()) };
            return Err(format!(
                "libffi could not prepare a closure (status {status})"
            ));
        }
        Ok(Closure {
            writable,
            code,
            _cif: cif,
        })
    }

    /// The C function pointer.
    pub fn code(&self) -> *const c_void {
        self.code
    }
}

impl Drop for Closure {
    fn drop(&mut self) {
        // SAFETY: allocated by `ffi_closure_alloc` in `new`, freed once.
        unsafe { raw::ffi_closure_free(self.writable.cast()) };
    }
}
