//! Calling C from Valk (LANGUAGE.md §10, the C part): `dlopen`/`dlsym`
//! with libffi call interfaces prepared once per symbol, the original's
//! `c-register`/`c-call`, pointers and `c-malloc`ed blocks, structs by
//! value, variadic functions, callbacks, and `:blocking` calls on the
//! blocking pool.
//!
//! A layer of builtins ([`BUILTINS`]) that a runtime adds to its builtin
//! set; it knows the core language (values, heaps, `BuiltinCx`) and
//! nothing of the scheduler.
//!
//! Modules: `types` (C types and layout), `raw` (the libffi calls: the
//! unsafe core), `marshal` (values to C memory and back), `memory`
//! (pointers and blocks), `callback` (closures into Valk), `call` (foreign
//! functions and calls).

mod call;
mod callback;
#[doc(hidden)]
pub mod fuzzing;
mod marshal;
mod memory;
mod raw;
mod types;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use valk_heap::{SharedValue, Value};
use valk_lang::builtins::VARIADIC;
use valk_lang::{BuiltinCx, BuiltinDef, Failure};

pub use types::CType;

use call::{CFunction, Library};
use marshal::Slot;

/// The C layer's builtins.
pub static BUILTINS: &[BuiltinDef] = &[
    BuiltinDef::new(
        "dlopen",
        1,
        1,
        "(dlopen path): a handle on the C library at path (() for the running process and the libraries it has loaded); an error naming the library when it cannot be opened.",
        dlopen,
    ),
    BuiltinDef::new(
        "dlsym",
        4,
        VARIADIC,
        "(dlsym lib name ret {arg-types...} [:blocking] [:cost n]): the C function name of lib as a Valk function; its call interface is prepared once. :... as the last argument type makes it variadic (each variadic argument is then passed as a type and a value). :blocking runs each call on the blocking pool while the actor parks; :cost n charges n reductions per call (default 1).",
        dlsym,
    ),
    BuiltinDef::new(
        "c/-call",
        1,
        VARIADIC,
        "(c/-call f args...): call the C function f (what a function from dlsym runs).",
        c_call_fn,
    ),
    BuiltinDef::new(
        "c-register",
        1,
        VARIADIC,
        "(c-register name :ret-type t :arg-types {t...} [:lib lib-or-path] [:blocking] [:cost n]): declare the C function name (looked up in lib, default the running process) for c-call.",
        c_register,
    ),
    BuiltinDef::new(
        "c-call",
        1,
        VARIADIC,
        "(c-call name args...): call a function declared with c-register.",
        c_call_named,
    ),
    BuiltinDef::new(
        "c-malloc",
        1,
        1,
        "(c-malloc n): a zeroed block of n bytes, as a pointer; the runtime knows its size, so c-read and c-write are checked against it.",
        c_malloc,
    ),
    BuiltinDef::new(
        "c-free",
        1,
        1,
        "(c-free p): free a block from c-malloc; an error for a block already freed or a pointer c-malloc did not make.",
        c_free,
    ),
    BuiltinDef::new(
        "c-read",
        3,
        3,
        "(c-read p type offset): the value of C type type at byte offset of the c-malloc block p (checked to be inside it).",
        c_read,
    ),
    BuiltinDef::new(
        "c-write",
        4,
        4,
        "(c-write p type offset v): write v as C type type at byte offset of the c-malloc block p (checked to be inside it); returns ().",
        c_write,
    ),
    BuiltinDef::new(
        "c-null?",
        1,
        1,
        "(c-null? p): true when the pointer p (or ()) is NULL.",
        c_null,
    ),
    BuiltinDef::new(
        "c-callback",
        3,
        3,
        "(c-callback f ret {arg-types...}): a C function pointer that calls the Valk function f (inside the C call that calls it); an error in f makes that C call's result an error. Keep the value while C may call it.",
        c_callback,
    ),
];

/// `set` with this layer added (its values named for `type` and the
/// printer, its builtins listed under "C calls" by `(help)`).
pub fn add_to(set: &mut valk_lang::BuiltinSet) {
    register_types();
    valk_lang::builtins::help::set_layer_topic(BUILTINS, "C calls");
    set.add_layer(BUILTINS);
}

/// Names the layer's opaque values for `type` and the printer.
fn register_types() {
    valk_lang::printer::register_opaque::<Library>("library", "library");
    valk_lang::printer::register_opaque::<CFunction>("c-function", "c-function");
    valk_lang::printer::register_opaque::<callback::Callback>("c-callback", "c-callback");
}

fn err(cx: &BuiltinCx<'_>, m: impl std::fmt::Display) -> Failure {
    Failure::Message(format!("`{}`: {m}", cx.builtin_name()))
}

fn opaque(cx: &mut BuiltinCx<'_>, obj: Arc<dyn std::any::Any + Send + Sync>) -> Value {
    let v = SharedValue::opaque(obj);
    let value = v.value();
    // The heap keeps its own count; `v` gives its up when it drops.
    cx.heap.keep_shared(value);
    value
}

fn dlopen(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let lib = open_library(cx, args[0])?;
    Ok(opaque(cx, lib))
}

/// Every library opened, by path (`""`: the running process). Libraries
/// are never closed: a pointer C returned into one's data, or a callback
/// it registered, must not outlive it (as with ctypes and LuaJIT).
static LIBRARIES: Mutex<Option<HashMap<String, Arc<Library>>>> = Mutex::new(None);

/// The Rust object of type `T` behind the opaque value `v`, shared.
fn opaque_of<T: std::any::Any + Send + Sync>(cx: &BuiltinCx<'_>, v: Value) -> Option<Arc<T>> {
    v.is_ptr()
        .then(|| cx.heap.opaque(v))
        .flatten()
        .and_then(|o| o.clone().downcast::<T>().ok())
}

fn open_library(cx: &mut BuiltinCx<'_>, v: Value) -> Result<Arc<Library>, Failure> {
    if let Some(existing) = opaque_of::<Library>(cx, v) {
        return Ok(existing);
    }
    let path = if v.is_nil() || v.is_empty_s() {
        String::new()
    } else {
        cx.str_arg(&[v], 0)?.to_owned()
    };
    if path.contains('\0') {
        return Err(err(cx, "the library path contains a NUL byte"));
    }
    let mut libraries = LIBRARIES.lock().unwrap_or_else(|e| e.into_inner());
    let libraries = libraries.get_or_insert_with(HashMap::new);
    if let Some(lib) = libraries.get(&path) {
        return Ok(lib.clone());
    }
    let lib = if path.is_empty() {
        Library {
            name: "the running process".into(),
            lib: libloading::os::unix::Library::this().into(),
        }
    } else {
        // SAFETY: loading a library runs its initialisers: C code the user
        // chose to load, which the spec leaves to C (a misbehaving library
        // can crash the process, as any C code can).
        match unsafe { libloading::Library::new(&path) } {
            Ok(lib) => Library {
                name: path.clone(),
                lib,
            },
            Err(e) => {
                return Err(err(
                    cx,
                    format!("cannot open the C library \"{path}\": {e}"),
                ))
            }
        }
    };
    let lib = Arc::new(lib);
    libraries.insert(path, lib.clone());
    Ok(lib)
}

/// Options after a signature: `:blocking`, `:cost n`.
struct Options {
    blocking: bool,
    cost: u64,
}

fn options(cx: &BuiltinCx<'_>, rest: &[Value]) -> Result<Options, Failure> {
    let mut o = Options {
        blocking: false,
        cost: 1,
    };
    let mut i = 0;
    while i < rest.len() {
        match rest[i].as_keyword().map(valk_heap::symbol_name) {
            Some("blocking") => o.blocking = true,
            Some("cost") => {
                let n = rest
                    .get(i + 1)
                    .and_then(|v| cx.heap.as_int(*v))
                    .filter(|n| (0..=1_000_000).contains(n))
                    .ok_or_else(|| {
                        err(cx, ":cost takes a whole number of reductions, 0 to 1000000")
                    })?;
                o.cost = n as u64;
                i += 1;
            }
            _ => {
                return Err(err(
                    cx,
                    format!(
                        "unknown option {} (expected :blocking or :cost n)",
                        cx.repr(rest[i])
                    ),
                ))
            }
        }
        i += 1;
    }
    Ok(o)
}

/// Parses `{arg-types...}` (`:...` last: variadic).
fn arg_types(cx: &BuiltinCx<'_>, v: Value) -> Result<(Vec<CType>, Option<usize>), Failure> {
    let items = cx.heap.list_to_vec(v).ok_or_else(|| {
        err(
            cx,
            format!("the argument types must be a list, got {}", cx.type_name(v)),
        )
    })?;
    let mut types = Vec::with_capacity(items.len());
    let mut variadic = None;
    for (i, item) in items.iter().enumerate() {
        if item.as_keyword().map(valk_heap::symbol_name) == Some("...") {
            if i + 1 != items.len() {
                return Err(err(cx, ":... must be the last argument type"));
            }
            variadic = Some(types.len());
            break;
        }
        types.push(CType::parse(cx.heap, *item).map_err(|m| err(cx, m))?);
    }
    Ok((types, variadic))
}

fn make_function(
    cx: &mut BuiltinCx<'_>,
    lib: Arc<Library>,
    name: &str,
    ret: Value,
    types: Value,
    rest: &[Value],
) -> Result<CFunction, Failure> {
    let ret = CType::parse(cx.heap, ret).map_err(|m| err(cx, format!("return type: {m}")))?;
    let (args, variadic) = arg_types(cx, types)?;
    let opts = options(cx, rest)?;
    if name.contains('\0') {
        return Err(err(cx, "the symbol name contains a NUL byte"));
    }
    // SAFETY: looking a symbol up only reads the library's tables; the
    // address is called later through the user's declared interface.
    let code = match unsafe { lib.lib.get::<unsafe extern "C" fn()>(name.as_bytes()) } {
        Ok(sym) => *sym as usize,
        Err(_) => {
            return Err(err(
                cx,
                format!("the symbol `{name}` is not in {}", lib.name),
            ))
        }
    };
    let cif = raw::Cif::new(args, ret, variadic).map_err(|m| err(cx, m))?;
    Ok(CFunction {
        name: name.to_owned(),
        code,
        cif: Arc::new(cif),
        variadic,
        blocking: opts.blocking,
        cost: opts.cost,
        var_cifs: Mutex::new(Vec::new()),
        _lib: lib,
    })
}

fn dlsym(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let lib =
        opaque_of::<Library>(cx, args[0]).ok_or_else(|| cx.arg_error(0, "library", args[0]))?;
    let name = cx.str_arg(args, 1)?.to_owned();
    let f = make_function(cx, lib, &name, args[2], args[3], &args[4..])?;
    let handle = opaque(cx, Arc::new(f));
    let call = valk_lang::builtins::index_of("c/-call")
        .ok_or_else(|| err(cx, "the C layer is not registered"))?;
    Ok(cx.heap.partial(Value::builtin(call), &[handle])?)
}

fn c_call_fn(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let f = opaque_of::<CFunction>(cx, args[0])
        .ok_or_else(|| cx.arg_error(0, "c-function", args[0]))?;
    call::call(cx, &f, &args[1..])
}

/// Functions declared with `c-register`, by name (process-wide, as the
/// original's table).
static REGISTERED: Mutex<Option<HashMap<String, Arc<CFunction>>>> = Mutex::new(None);

/// The name a `c-register`/`c-call` form gives first: a string, a symbol
/// or a keyword.
fn function_name(cx: &BuiltinCx<'_>, args: &[Value]) -> Result<String, Failure> {
    match args[0].as_symbol().or(args[0].as_keyword()) {
        Some(s) => Ok(valk_heap::symbol_name(s).to_owned()),
        None => Ok(cx.str_arg(args, 0)?.to_owned()),
    }
}

fn c_register(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let name = function_name(cx, args)?;
    let mut ret = None;
    let mut types = None;
    let mut lib = None;
    let mut rest = Vec::new();
    let mut i = 1;
    while i < args.len() {
        let key = args[i].as_keyword().map(valk_heap::symbol_name);
        let value = args.get(i + 1).copied();
        match (key, value) {
            (Some("ret-type"), Some(v)) => ret = Some(v),
            (Some("arg-types"), Some(v)) => types = Some(v),
            (Some("lib"), Some(v)) => lib = Some(v),
            (Some("cost"), Some(v)) => rest.extend([args[i], v]),
            (Some("blocking"), _) => {
                rest.push(args[i]);
                i += 1;
                continue;
            }
            _ => {
                return Err(err(
                    cx,
                    format!(
                        "expected :ret-type t :arg-types {{t...}} [:lib lib] [:blocking] [:cost n], got {}",
                        cx.repr(args[i])
                    ),
                ))
            }
        }
        i += 2;
    }
    let ret = ret.ok_or_else(|| err(cx, "missing :ret-type"))?;
    let types = types.ok_or_else(|| err(cx, "missing :arg-types"))?;
    let lib = open_library(cx, lib.unwrap_or(Value::EMPTY_S))?;
    let f = make_function(cx, lib, &name, ret, types, &rest)?;
    REGISTERED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert(name, Arc::new(f));
    Ok(Value::EMPTY_S)
}

fn c_call_named(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let name = function_name(cx, args)?;
    let f = REGISTERED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .and_then(|m| m.get(&name).cloned())
        .ok_or_else(|| {
            err(
                cx,
                format!("no C function `{name}` was declared with c-register"),
            )
        })?;
    call::call(cx, &f, &args[1..])
}

fn c_malloc(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let n = cx.int_arg(args, 0)?;
    memory::malloc(cx.heap, n).map_err(|m| err(cx, m))
}

fn c_free(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    memory::free(cx.heap, args[0]).map_err(|m| err(cx, m))?;
    Ok(Value::EMPTY_S)
}

fn c_read(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let t = CType::parse(cx.heap, args[1]).map_err(|m| err(cx, m))?;
    if t == CType::Void {
        return Err(err(cx, ":void has no values"));
    }
    if t.has_string() {
        // A `char*` read from memory points wherever its bytes say: only
        // what the runtime can check is safe, so strings are refused.
        return Err(err(
            cx,
            "reading :string from memory is not supported; read :ptr",
        ));
    }
    let offset = cx.int_arg(args, 2)?;
    let at = memory::inside(cx.heap, args[0], offset, t.size(), "read").map_err(|m| err(cx, m))?;
    let mut slot = Slot::for_type(&t);
    // SAFETY: `inside` checked that `size` bytes at `at` lie in a live
    // block; they are copied to an aligned slot first (the offset may not
    // be aligned for the type).
    unsafe { std::ptr::copy_nonoverlapping(at as *const u8, slot.as_mut_ptr(), t.size()) };
    // SAFETY: the slot holds the type's bytes, aligned.
    unsafe { marshal::read(cx.heap, &t, slot.as_ptr()) }.map_err(|m| err(cx, m))
}

fn c_write(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let t = CType::parse(cx.heap, args[1]).map_err(|m| err(cx, m))?;
    // A string's copy would not outlive this call.
    if t == CType::Void || t.has_string() {
        return Err(err(
            cx,
            format!("cannot write {} into memory (write :ptr)", t.describe()),
        ));
    }
    let offset = cx.int_arg(args, 2)?;
    let at = memory::inside(cx.heap, args[0], offset, t.size(), "write").map_err(|m| err(cx, m))?;
    let mut slot = Slot::for_type(&t);
    let mut keep = marshal::Keep::default();
    // SAFETY: the slot holds the type (≥ 16 bytes, aligned).
    unsafe { marshal::write(cx.heap, &t, args[3], slot.as_mut_ptr(), &mut keep) }
        .map_err(|m| err(cx, m))?;
    // SAFETY: `inside` checked that `size` bytes at `at` lie in a live block.
    unsafe { std::ptr::copy_nonoverlapping(slot.as_ptr(), at as *mut u8, t.size()) };
    Ok(Value::EMPTY_S)
}

fn c_null(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let null = memory::is_null(cx.heap, args[0]).map_err(|m| err(cx, m))?;
    Ok(Value::bool(null))
}

fn c_callback(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let f = args[0];
    let is_function = matches!(cx.type_name(f), "function" | "builtin" | "lambda");
    if !is_function {
        return Err(cx.arg_error(0, "function", f));
    }
    let ret = CType::parse(cx.heap, args[1]).map_err(|m| err(cx, format!("return type: {m}")))?;
    let (types, variadic) = arg_types(cx, args[2])?;
    if variadic.is_some() {
        return Err(err(cx, "a callback cannot be variadic"));
    }
    let func = cx.heap.try_to_shared(f)?;
    let cb =
        callback::Callback::new(func, ret, types, cx.globals.clone()).map_err(|m| err(cx, m))?;
    Ok(opaque(cx, Arc::new(cb)))
}
