//! Valk IR -> LLVM IR for the functions a [`Plan`] accepts.
//!
//! Each function becomes three LLVM functions:
//!
//! - `valk_fn_N_body`: the code, on the fast signature
//!   `(cx, budget, a0..a3) -> {value, budget}`. `budget` packs the slice's
//!   fuel (low 32 bits) and the native calls that may still nest (high 32
//!   bits) in one register, so a call charges its reduction and checks its
//!   depth without touching memory.
//! - `valk_fn_N_checked`: the entry checks of the function's unit (every
//!   builtin whose fast path it takes is intact, every global it calls
//!   directly still holds the closure it was compiled against), then the
//!   body. Calls from other units go here.
//! - `valk_fn_N`: the C entry the interpreter calls
//!   (`valk_lang::tier::NativeEntry`), around the checked entry.
//! - `valk_fn_N_body_acc`, only where [`accumulate`] finds a self call
//!   that is only added to and returned: the body's twin, which keeps the
//!   pending sum. The body then runs up to its first call and restarts
//!   the call there.
//!
//! Checking once per entry from outside the unit is enough: compiled code
//! has no effect but its result, so a `def` made by another actor while it
//! runs can be taken as made after the call.
//!
//! Each register is an `alloca` (promoted to SSA by LLVM's `mem2reg`);
//! each reachable IR block an LLVM block. Every check on the way (an
//! operand is not a small integer, a result leaves the small range, the
//! stack runs short) goes to one `bail` block that answers [`BAIL`]; the
//! interpreter then runs the call from its start (`valk_lang::tier`).
//!
//! Inside a unit every value is a small integer, held *shifted*: `i << 16`
//! (the low 16 bits zero). Then `+` and `-` are one add or subtract whose
//! 64-bit overflow flag is exactly "the result left the 48-bit range", and
//! comparisons work on the shifted words unchanged. The C entry shifts the
//! interpreter's tagged arguments in and tags the result out; an
//! immediate that is not a small integer bails where it appears. A body
//! answers [`BODY_BAIL`] or [`BODY_RESUME`] (low bits set: never a shifted
//! integer); the C entry turns them into `BAIL` / `RESUME`.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};

use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::basic_block::BasicBlock;
use inkwell::builder::{Builder, BuilderError};
use inkwell::context::Context;
use inkwell::intrinsics::Intrinsic;
use inkwell::module::{Linkage, Module};
use inkwell::types::{BasicMetadataTypeEnum, FunctionType, IntType, StructType};
use inkwell::values::{
    BasicMetadataValueEnum, BasicValue, BasicValueEnum, CallSiteValue, FunctionValue, IntValue,
    PointerValue, StructValue, ValueKind,
};
use inkwell::{AtomicOrdering, IntPredicate};

use valk_heap::Value;
use valk_lang::ir::{ArithOp, CmpOp, Op, Reg};
use valk_lang::tier::{cx_offset, BAIL, MAX_NATIVE_PARAMS, RESUME, STALE};
use valk_lang::Globals;

use crate::accumulate;
use crate::plan::{live_ops, sole_jumper, CallKind, Plan};

/// One nesting level in a budget's high half.
const DEPTH_ONE: u64 = 1 << 32;

/// A body gave up (the interpreter reruns the call).
const BODY_BAIL: u64 = 1;

/// A body's outermost loop hands its next turn to the interpreter.
const BODY_RESUME: u64 = 2;

/// A checked entry found the unit's assumptions broken (a `def`).
const BODY_STALE: u64 = 3;

/// The low bits that are zero in every shifted integer: a call's answer
/// with any of them set is one of the `BODY_` signals, passed up as is.
const SIGNAL_BITS: u64 = (1 << SHIFT) - 1;

/// Small integers are held shifted left this much.
const SHIFT: u64 = 16;

/// How a compiled call reaches its callee.
#[derive(Clone, Copy)]
pub enum Target<'ctx> {
    /// Defined in the module being built: its body.
    Here(FunctionValue<'ctx>),
    /// Compiled earlier: its checked entry, at this address.
    At(usize),
}

/// A word compiled code needs from the runtime it runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Link {
    /// `valk_lang::tier::native_yield`.
    Yield,
    /// The address of builtin `index`'s intact flag.
    Intact(u32),
    /// The address of global `sym`'s slot.
    Slot(u32),
    /// The closure bits global `sym` must hold (a unit's guard).
    Expected(u32),
}

/// How compiled code finds its [`Link`]s.
#[derive(Clone, Copy)]
pub enum Linking<'a, 'ctx> {
    /// Known now (the JIT): constants in the code.
    Now(&'a Globals),
    /// Known only when the code is loaded (`valk build`): word `k` of
    /// this table for `links[k]`, filled in by the loader before any
    /// entry is published.
    Table(PointerValue<'ctx>, &'a [Link]),
}

impl<'ctx> Linking<'_, 'ctx> {
    /// `link`'s word as code reads it; `None`: the runtime has no such
    /// word (the code bails there).
    fn word(
        &self,
        b: &Builder<'ctx>,
        cx: &'ctx Context,
        link: Link,
        guards: &UnitGuards,
    ) -> Result<Option<IntValue<'ctx>>, BuilderError> {
        let i64t = cx.i64_type();
        match *self {
            Linking::Now(globals) => {
                Ok(link_word(link, globals, guards).map(|w| i64t.const_int(w, false)))
            }
            Linking::Table(table, links) => {
                let Some(k) = links.iter().position(|l| *l == link) else {
                    return Ok(None);
                };
                let p = gep(b, cx, table, 8 * k as u64)?;
                Ok(Some(b.build_load(i64t, p, "")?.into_int_value()))
            }
        }
    }
}

/// `link`'s word in the runtime of `globals`, for a unit with `guards`
/// (`None`: the runtime has no such word).
pub fn link_word(link: Link, globals: &Globals, guards: &UnitGuards) -> Option<u64> {
    match link {
        Link::Yield => Some(valk_lang::tier::native_yield as *const () as usize as u64),
        Link::Intact(i) => globals.intact_address(i).map(|a| a as usize as u64),
        Link::Slot(sym) => globals.slot_address(sym).map(|a| a as usize as u64),
        Link::Expected(sym) => guards
            .globals
            .iter()
            .find(|(s, _)| *s == sym)
            .map(|&(_, bits)| bits),
    }
}

/// The words `plans` (one unit) read through [`Linking::Table`], in a
/// fixed order.
pub fn links_of(plans: &[Plan]) -> Vec<Link> {
    let guards = UnitGuards::of(plans);
    let mut links = std::collections::BTreeSet::from([Link::Yield]);
    links.extend(guards.intact.iter().map(|&i| Link::Intact(i)));
    for &(sym, _) in &guards.globals {
        links.insert(Link::Slot(sym));
        links.insert(Link::Expected(sym));
    }
    for p in plans {
        for (b, _) in p.reachable.iter().enumerate().filter(|(_, r)| **r) {
            for op in live_ops(p.proto, b) {
                if let Op::Global { sym, .. } = op {
                    links.insert(Link::Slot(*sym));
                }
            }
        }
    }
    links.into_iter().collect()
}

/// The C entry's symbol of proto `index` in compilation unit `unit` (the
/// one the interpreter calls). Names are never reused: a stale unit's
/// code stays loaded, and the JIT looks symbols up by name.
pub fn symbol(index: u32, unit: u64) -> String {
    format!("valk_fn_{index}_u{unit}")
}

/// The symbol of the link table of a unit built ahead of time.
pub fn table_symbol(unit: u64) -> String {
    format!("valk_links_u{unit}")
}

/// The checked entry's symbol (the one other units call).
pub fn checked_symbol(index: u32, unit: u64) -> String {
    format!("valk_fn_{index}_u{unit}_checked")
}

/// The C entry's signature (`valk_lang::tier::NativeEntry`).
pub fn entry_type(cx: &Context) -> FunctionType<'_> {
    let i64t = cx.i64_type();
    let mut params: Vec<BasicMetadataTypeEnum> = vec![cx.ptr_type(Default::default()).into()];
    params.extend((0..MAX_NATIVE_PARAMS).map(|_| BasicMetadataTypeEnum::from(i64t)));
    i64t.fn_type(&params, false)
}

/// `{value, budget}`: what the fast signature returns (two registers).
fn pair_type(cx: &Context) -> StructType<'_> {
    let i64t = cx.i64_type();
    cx.struct_type(&[i64t.into(), i64t.into()], false)
}

/// The fast signature of bodies and checked entries.
pub fn fast_type(cx: &Context) -> FunctionType<'_> {
    let i64t = cx.i64_type();
    let mut params: Vec<BasicMetadataTypeEnum> =
        vec![cx.ptr_type(Default::default()).into(), i64t.into()];
    params.extend((0..MAX_NATIVE_PARAMS).map(|_| BasicMetadataTypeEnum::from(i64t)));
    pair_type(cx).fn_type(&params, false)
}

/// The three functions of one planned proto.
#[derive(Clone, Copy)]
pub struct Fns<'ctx> {
    pub body: FunctionValue<'ctx>,
    pub checked: FunctionValue<'ctx>,
    pub entry: FunctionValue<'ctx>,
}

/// Declares the functions of a unit in `module` (so they can call each
/// other), in order, named by `ids` (their code indices, or their places
/// in a unit built ahead of time).
pub fn declare<'ctx>(
    cx: &'ctx Context,
    module: &Module<'ctx>,
    ids: &[u32],
    unit: u64,
) -> Vec<Fns<'ctx>> {
    let uwtable = uwtable(cx);
    ids.iter()
        .map(|&id| {
            let body = module.add_function(
                &format!("valk_fn_{id}_u{unit}_body"),
                fast_type(cx),
                Some(Linkage::Internal),
            );
            let checked = module.add_function(
                &checked_symbol(id, unit),
                fast_type(cx),
                Some(Linkage::External),
            );
            let entry =
                module.add_function(&symbol(id, unit), entry_type(cx), Some(Linkage::External));
            for f in [body, checked, entry] {
                f.add_attribute(AttributeLoc::Function, uwtable);
            }
            Fns {
                body,
                checked,
                entry,
            }
        })
        .collect()
}

/// Unwind tables: a kill unwinds an actor's stack through its native
/// frames (from inside `native_yield`).
fn uwtable(cx: &Context) -> Attribute {
    cx.create_enum_attribute(Attribute::get_named_enum_kind_id("uwtable"), 2)
}

/// A `musttail` call's value returned (every body has the same
/// signature, so the stack never grows).
fn return_tail_call<'ctx>(
    b: &Builder<'ctx>,
    call: CallSiteValue<'ctx>,
) -> Result<(), BuilderError> {
    call.set_tail_call_kind(inkwell::llvm_sys::LLVMTailCallKind::LLVMTailCallKindMustTail);
    let r = basic(call.try_as_basic_value()).ok_or(BuilderError::UnsetPosition)?;
    b.build_return(Some(&r))?;
    Ok(())
}

/// What every function of a unit checks on entry from outside it.
pub struct UnitGuards {
    /// Intact flags (builtin indices).
    pub intact: BTreeSet<u32>,
    /// (global symbol, the closure bits it must hold).
    pub globals: Vec<(u32, u64)>,
}

impl UnitGuards {
    pub fn of(plans: &[Plan]) -> UnitGuards {
        let mut intact = BTreeSet::new();
        let mut globals: Vec<(u32, u64)> = Vec::new();
        for p in plans {
            intact.extend(p.intact.iter().copied());
            for (&sym, c) in &p.callees {
                if !globals.contains(&(sym, c.expected)) {
                    globals.push((sym, c.expected));
                }
            }
        }
        globals.sort_unstable();
        UnitGuards { intact, globals }
    }
}

/// Lowers one planned function into its declared functions. `targets`
/// maps code indices to what calls them.
pub fn lower<'ctx>(
    cx: &'ctx Context,
    module: &Module<'ctx>,
    fns: Fns<'ctx>,
    plan: &Plan,
    linking: Linking<'_, 'ctx>,
    guards: &UnitGuards,
    targets: &HashMap<u32, Target<'ctx>>,
) -> Result<(), BuilderError> {
    let b = cx.create_builder();
    lower_entry(cx, &b, fns)?;
    lower_checked(cx, &b, fns, linking, guards)?;
    let sites = accumulate::sites(plan);
    // A function with self calls turned into loop turns runs in a twin
    // of its body that holds the pending additions. The body only runs
    // up to its first call and then restarts the call in the twin, so
    // its leaf path saves no registers for the loop.
    let twin = (!sites.is_empty()).then(|| {
        let name = format!("{}_acc", fns.body.get_name().to_string_lossy());
        let f = module.add_function(&name, fast_type(cx), Some(Linkage::Internal));
        f.add_attribute(AttributeLoc::Function, uwtable(cx));
        // Inlined, its loop's registers would be saved on the leaf path.
        let noinline = cx.create_enum_attribute(Attribute::get_named_enum_kind_id("noinline"), 0);
        f.add_attribute(AttributeLoc::Function, noinline);
        f
    });
    let context = Bodies {
        cx,
        module,
        plan,
        linking,
        guards,
        targets,
        sites: &sites,
        sole_jumper: &sole_jumper(plan.proto, &plan.reachable),
    };
    lower_body(&context, fns.body, Twin::RestartIn(twin))?;
    if let Some(f) = twin {
        lower_body(&context, f, Twin::Accumulating)?;
    }
    Ok(())
}

/// Which of a function's two bodies is being lowered ([`accumulate`]).
#[derive(Clone, Copy)]
enum Twin<'ctx> {
    /// The body: with a twin, it restarts the call there at its first
    /// call or safepoint (nothing it did before has an effect).
    RestartIn(Option<FunctionValue<'ctx>>),
    /// The twin: it holds the accumulator, and a site is a loop turn.
    Accumulating,
}

/// What both bodies of one planned function are lowered against.
struct Bodies<'a, 'ctx> {
    cx: &'ctx Context,
    module: &'a Module<'ctx>,
    plan: &'a Plan,
    linking: Linking<'a, 'ctx>,
    guards: &'a UnitGuards,
    targets: &'a HashMap<u32, Target<'ctx>>,
    sites: &'a HashMap<(usize, usize), Reg>,
    /// Each block's only way in, when that is a jump ([`sole_jumper`]).
    sole_jumper: &'a [Option<usize>],
}

fn lower_body<'ctx>(
    c: &Bodies<'_, 'ctx>,
    f: FunctionValue<'ctx>,
    mode: Twin<'ctx>,
) -> Result<(), BuilderError> {
    let cx = c.cx;
    let plan = c.plan;
    let b = cx.create_builder();
    let i64t = cx.i64_type();
    let entry = cx.append_basic_block(f, "entry");
    let bail = cx.append_basic_block(f, "bail");
    let blocks: Vec<Option<BasicBlock>> = plan
        .reachable
        .iter()
        .enumerate()
        .map(|(i, r)| r.then(|| cx.append_basic_block(f, &format!("b{i}"))))
        .collect();
    b.position_at_end(entry);
    let nregs = plan.proto.meta.nregs as usize;
    let regs: Vec<PointerValue> = (0..nregs)
        .map(|r| b.build_alloca(i64t, &format!("r{r}")))
        .collect::<Result<_, _>>()?;
    let budget = b.build_alloca(i64t, "budget")?;
    let (acc, twin) = match mode {
        Twin::Accumulating => {
            let acc = b.build_alloca(i64t, "acc")?;
            b.build_store(acc, i64t.const_zero())?;
            (Some(acc), None)
        }
        Twin::RestartIn(twin) => (None, twin),
    };
    let l = Lower {
        cx,
        module: c.module,
        b,
        f,
        i64t,
        regs,
        budget,
        blocks,
        bail,
        plan,
        linking: c.linking,
        guards: c.guards,
        targets: c.targets,
        acc,
        twin,
        sites: c.sites,
        sole_jumper: c.sole_jumper,
        call_on_path: Cell::new(false),
        checked_at_jump: RefCell::new(HashMap::new()),
    };
    l.b.build_store(budget, l.param(1))?;
    let nparams = plan.proto.meta.nparams as usize;
    for r in 0..nregs {
        // Locals are written before they are read (no `=` locals: plan).
        let v = if r < nparams { l.param(r + 2) } else { l.k(0) };
        l.b.build_store(l.regs[r], v)?;
    }
    l.b.build_unconditional_branch(l.block(0))?;
    l.b.position_at_end(bail);
    let spent = l.load_budget()?;
    l.ret_signal(l.k(BODY_BAIL), spent)?;
    for (i, _) in plan.reachable.iter().enumerate().filter(|(_, r)| **r) {
        l.b.position_at_end(l.block(i as u32));
        l.lower_block(i)?;
    }
    Ok(())
}

/// The C entry: the budget from the context, the checked entry, the fuel
/// left back into the context.
fn lower_entry<'ctx>(
    cx: &'ctx Context,
    b: &Builder<'ctx>,
    fns: Fns<'ctx>,
) -> Result<(), BuilderError> {
    let f = fns.entry;
    let i32t = cx.i32_type();
    let i64t = cx.i64_type();
    b.position_at_end(cx.append_basic_block(f, "entry"));
    let ncx = f
        .get_nth_param(0)
        .map(|p| p.into_pointer_value())
        .ok_or(BuilderError::UnsetPosition)?;
    let fuel = b.build_load(i32t, ncx, "fuel")?.into_int_value();
    let depth_at = gep(b, cx, ncx, cx_offset::DEPTH_LEFT)?;
    let depth = b.build_load(i32t, depth_at, "depth")?.into_int_value();
    let fuel = b.build_int_z_extend(fuel, i64t, "")?;
    let depth = b.build_int_z_extend(depth, i64t, "")?;
    let depth = b.build_left_shift(depth, i64t.const_int(32, false), "")?;
    let budget = b.build_or(depth, fuel, "budget")?;
    let mut args: Vec<BasicMetadataValueEnum> = vec![ncx.into(), budget.into()];
    for k in 0..MAX_NATIVE_PARAMS {
        let a = f
            .get_nth_param(k as u32 + 1)
            .ok_or(BuilderError::UnsetPosition)?
            .into_int_value();
        // The interpreter enters with small integers only (`try_native`).
        args.push(
            b.build_left_shift(a, i64t.const_int(SHIFT, false), "")?
                .into(),
        );
    }
    let pair = basic(
        b.build_direct_call(fns.checked, &args, "")?
            .try_as_basic_value(),
    )
    .ok_or(BuilderError::UnsetPosition)?
    .into_struct_value();
    let v = b.build_extract_value(pair, 0, "")?.into_int_value();
    let left = b.build_extract_value(pair, 1, "")?.into_int_value();
    let left = b.build_int_truncate(left, i32t, "")?;
    b.build_store(ncx, left)?;
    let bail_bb = cx.append_basic_block(f, "bail");
    let resume_bb = cx.append_basic_block(f, "resume");
    let stale_bb = cx.append_basic_block(f, "stale");
    let value_bb = cx.append_basic_block(f, "value");
    b.build_switch(
        v,
        value_bb,
        &[
            (i64t.const_int(BODY_BAIL, false), bail_bb),
            (i64t.const_int(BODY_RESUME, false), resume_bb),
            (i64t.const_int(BODY_STALE, false), stale_bb),
        ],
    )?;
    b.position_at_end(bail_bb);
    b.build_return(Some(&i64t.const_int(BAIL, false)))?;
    b.position_at_end(stale_bb);
    b.build_return(Some(&i64t.const_int(STALE, false)))?;
    b.position_at_end(resume_bb);
    for k in 0..MAX_NATIVE_PARAMS as u64 {
        let at = gep(b, cx, ncx, cx_offset::RESUME + 8 * k)?;
        let w = b.build_load(i64t, at, "")?.into_int_value();
        b.build_store(at, tag(b, cx, w)?)?;
    }
    b.build_return(Some(&i64t.const_int(RESUME, false)))?;
    b.position_at_end(value_bb);
    b.build_return(Some(&tag(b, cx, v)?))?;
    Ok(())
}

/// A shifted small integer in the heap's encoding.
fn tag<'ctx>(
    b: &Builder<'ctx>,
    cx: &'ctx Context,
    s: IntValue<'ctx>,
) -> Result<IntValue<'ctx>, BuilderError> {
    let i64t = cx.i64_type();
    let payload = b.build_right_shift(s, i64t.const_int(SHIFT, false), false, "")?;
    b.build_or(payload, i64t.const_int(int_tag() << 48, false), "")
}

/// The checked entry: the unit's guards, then the body (a tail call).
fn lower_checked<'ctx>(
    cx: &'ctx Context,
    b: &Builder<'ctx>,
    fns: Fns<'ctx>,
    linking: Linking<'_, 'ctx>,
    guards: &UnitGuards,
) -> Result<(), BuilderError> {
    let f = fns.checked;
    let i64t = cx.i64_type();
    let i8t = cx.i8_type();
    b.position_at_end(cx.append_basic_block(f, "entry"));
    let mut ok = cx.bool_type().const_int(1, false);
    for &i in &guards.intact {
        let Some(a) = linking.word(b, cx, Link::Intact(i), guards)? else {
            ok = cx.bool_type().const_zero();
            continue;
        };
        let v = load_shared(b, cx, a, i8t)?;
        let set = b.build_int_compare(IntPredicate::NE, v, i8t.const_zero(), "")?;
        ok = b.build_and(ok, set, "")?;
    }
    for &(sym, _) in &guards.globals {
        let (Some(a), Some(expected)) = (
            linking.word(b, cx, Link::Slot(sym), guards)?,
            linking.word(b, cx, Link::Expected(sym), guards)?,
        ) else {
            ok = cx.bool_type().const_zero();
            continue;
        };
        let v = load_shared(b, cx, a, i64t)?;
        let same = b.build_int_compare(IntPredicate::EQ, v, expected, "")?;
        ok = b.build_and(ok, same, "")?;
    }
    let go = cx.append_basic_block(f, "go");
    let no = cx.append_basic_block(f, "bail");
    b.build_conditional_branch(ok, go, no)?;
    b.position_at_end(no);
    let budget = f
        .get_nth_param(1)
        .ok_or(BuilderError::UnsetPosition)?
        .into_int_value();
    let pair = pair_value(b, cx, i64t.const_int(BODY_STALE, false), budget)?;
    b.build_return(Some(&pair))?;
    b.position_at_end(go);
    forward(b, f, fns.body)
}

/// `from` returns what `to` answers for `from`'s own arguments (a tail
/// call).
fn forward<'ctx>(
    b: &Builder<'ctx>,
    from: FunctionValue<'ctx>,
    to: FunctionValue<'ctx>,
) -> Result<(), BuilderError> {
    let args: Vec<BasicMetadataValueEnum> = from.get_param_iter().map(|p| p.into()).collect();
    return_tail_call(b, b.build_direct_call(to, &args, "")?)
}

fn pair_value<'ctx>(
    b: &Builder<'ctx>,
    cx: &'ctx Context,
    v: IntValue<'ctx>,
    budget: IntValue<'ctx>,
) -> Result<StructValue<'ctx>, BuilderError> {
    let t = pair_type(cx);
    let p = b.build_insert_value(t.get_undef(), v, 0, "")?;
    let p = b.build_insert_value(p, budget, 1, "")?;
    Ok(p.into_struct_value())
}

/// An atomic (relaxed) load of a word another thread may store, at
/// address `a`.
fn load_shared<'ctx>(
    b: &Builder<'ctx>,
    cx: &'ctx Context,
    a: IntValue<'ctx>,
    ty: IntType<'ctx>,
) -> Result<IntValue<'ctx>, BuilderError> {
    let p = b.build_int_to_ptr(a, cx.ptr_type(Default::default()), "")?;
    let v = b.build_load(ty, p, "")?;
    if let Some(i) = v.as_instruction_value() {
        let _ = i.set_alignment(ty.get_bit_width() / 8);
        let _ = i.set_atomic_ordering(AtomicOrdering::Monotonic);
    }
    Ok(v.into_int_value())
}

struct Lower<'a, 'ctx> {
    cx: &'ctx Context,
    module: &'a Module<'ctx>,
    b: Builder<'ctx>,
    f: FunctionValue<'ctx>,
    i64t: IntType<'ctx>,
    regs: Vec<PointerValue<'ctx>>,
    budget: PointerValue<'ctx>,
    blocks: Vec<Option<BasicBlock<'ctx>>>,
    bail: BasicBlock<'ctx>,
    plan: &'a Plan,
    linking: Linking<'a, 'ctx>,
    guards: &'a UnitGuards,
    targets: &'a HashMap<u32, Target<'ctx>>,
    /// The pending additions of self calls turned into loop turns
    /// ([`accumulate`]), shifted: in the twin only.
    acc: Option<PointerValue<'ctx>>,
    /// The twin, in a body that restarts there.
    twin: Option<FunctionValue<'ctx>>,
    /// Those call sites, with the register each adds.
    sites: &'a HashMap<(usize, usize), Reg>,
    /// Each block's only way in, when that is a jump ([`sole_jumper`]).
    sole_jumper: &'a [Option<usize>],
    /// On the straight path being lowered, a call went through a full
    /// safepoint and checked the nesting level (calls give it back as it
    /// was): a later call or loop turn takes its level without checking
    /// again, and a loop turn charges its reduction without a yield path.
    call_on_path: Cell<bool>,
    /// `call_on_path` at each lowered block's closing jump.
    checked_at_jump: RefCell<HashMap<usize, bool>>,
}

fn int_tag() -> u64 {
    Value::small_int(0).map_or(0, |v| v.to_bits()) >> 48
}

impl<'ctx> Lower<'_, 'ctx> {
    fn block(&self, t: u32) -> BasicBlock<'ctx> {
        self.blocks[t as usize].unwrap_or(self.bail)
    }

    fn k(&self, bits: u64) -> IntValue<'ctx> {
        self.i64t.const_int(bits, false)
    }

    fn param(&self, n: usize) -> IntValue<'ctx> {
        self.f
            .get_nth_param(n as u32)
            .map(|p| p.into_int_value())
            .unwrap_or_else(|| self.k(0))
    }

    fn cxp(&self) -> PointerValue<'ctx> {
        self.f
            .get_nth_param(0)
            .map(|p| p.into_pointer_value())
            .unwrap_or_else(|| self.cx.ptr_type(Default::default()).const_null())
    }

    fn load(&self, r: Reg) -> Result<IntValue<'ctx>, BuilderError> {
        Ok(self
            .b
            .build_load(self.i64t, self.regs[r as usize], "")?
            .into_int_value())
    }

    fn store(&self, r: Reg, v: IntValue<'ctx>) -> Result<(), BuilderError> {
        self.b.build_store(self.regs[r as usize], v)?;
        Ok(())
    }

    fn load_budget(&self) -> Result<IntValue<'ctx>, BuilderError> {
        Ok(self
            .b
            .build_load(self.i64t, self.budget, "budget")?
            .into_int_value())
    }

    fn ret(&self, v: IntValue<'ctx>, budget: IntValue<'ctx>) -> Result<(), BuilderError> {
        let pair = pair_value(&self.b, self.cx, v, budget)?;
        self.b.build_return(Some(&pair))?;
        Ok(())
    }

    /// The budget a return hands back: this frame's nesting level as it
    /// came in (loop turns of [`accumulate`] took levels of their own).
    fn budget_out(&self, budget: IntValue<'ctx>) -> Result<IntValue<'ctx>, BuilderError> {
        if self.acc.is_none() {
            return Ok(budget);
        }
        let fuel = self.b.build_and(budget, self.k(u64::from(u32::MAX)), "")?;
        let depth = self
            .b
            .build_and(self.param(1), self.k(!u64::from(u32::MAX)), "")?;
        self.b.build_or(depth, fuel, "")
    }

    /// Return value `v` (shifted), with the pending additions added.
    fn ret_value(&self, v: IntValue<'ctx>) -> Result<(), BuilderError> {
        let v = match self.acc {
            Some(acc) => {
                let pending = self.b.build_load(self.i64t, acc, "")?.into_int_value();
                self.checked(ArithOp::Add, pending, v)?
            }
            None => v,
        };
        let budget = self.budget_out(self.load_budget()?)?;
        self.ret(v, budget)
    }

    /// Return a `BODY_` signal (or a callee's).
    fn ret_signal(&self, v: IntValue<'ctx>, budget: IntValue<'ctx>) -> Result<(), BuilderError> {
        let budget = self.budget_out(budget)?;
        self.ret(v, budget)
    }

    /// Go on only if `ok`; otherwise bail.
    fn guard(&self, ok: IntValue<'ctx>) -> Result<(), BuilderError> {
        let next = self.cx.append_basic_block(self.f, "");
        self.b.build_conditional_branch(ok, next, self.bail)?;
        self.b.position_at_end(next);
        Ok(())
    }

    fn is_int(&self, v: IntValue<'ctx>) -> Result<IntValue<'ctx>, BuilderError> {
        let tag = self.b.build_right_shift(v, self.k(48), false, "")?;
        self.b
            .build_int_compare(IntPredicate::EQ, tag, self.k(int_tag()), "")
    }

    /// 1 or 0, shifted.
    fn bool_value(&self, c: IntValue<'ctx>) -> Result<IntValue<'ctx>, BuilderError> {
        Ok(self
            .b
            .build_select(c, self.k(1 << SHIFT), self.k(0), "")?
            .into_int_value())
    }

    /// A small integer literal, shifted.
    fn imm(&self, imm: i32) -> IntValue<'ctx> {
        self.k((i64::from(imm) << SHIFT) as u64)
    }

    /// `dst = x op y` on shifted integers; leaving the small range bails.
    fn arith(
        &self,
        op: ArithOp,
        dst: Reg,
        x: IntValue<'ctx>,
        y: IntValue<'ctx>,
    ) -> Result<(), BuilderError> {
        let r = self.checked(op, x, y)?;
        self.store(dst, r)
    }

    /// `x op y` on shifted integers; leaving the small range bails.
    fn checked(
        &self,
        op: ArithOp,
        x: IntValue<'ctx>,
        y: IntValue<'ctx>,
    ) -> Result<IntValue<'ctx>, BuilderError> {
        let (name, x) = match op {
            ArithOp::Add => ("llvm.sadd.with.overflow", x),
            ArithOp::Sub => ("llvm.ssub.with.overflow", x),
            // (i << 16) * j: one factor unshifted.
            ArithOp::Mul => (
                "llvm.smul.with.overflow",
                self.b.build_right_shift(x, self.k(SHIFT), true, "")?,
            ),
        };
        let f = Intrinsic::find(name)
            .and_then(|k| k.get_declaration(self.module, &[self.i64t.into()]))
            .ok_or(BuilderError::UnsetPosition)?;
        let pair = basic(
            self.b
                .build_direct_call(f, &[x.into(), y.into()], "")?
                .try_as_basic_value(),
        )
        .ok_or(BuilderError::UnsetPosition)?
        .into_struct_value();
        let r = self.b.build_extract_value(pair, 0, "")?.into_int_value();
        let ovf = self.b.build_extract_value(pair, 1, "")?.into_int_value();
        // Past 48 bits: the boxed form, the interpreter's to make.
        self.guard(self.b.build_not(ovf, "")?)?;
        Ok(r)
    }

    fn compare(
        &self,
        op: CmpOp,
        x: IntValue<'ctx>,
        y: IntValue<'ctx>,
    ) -> Result<IntValue<'ctx>, BuilderError> {
        let pred = match op {
            CmpOp::Lt => IntPredicate::SLT,
            CmpOp::Gt => IntPredicate::SGT,
            CmpOp::Le => IntPredicate::SLE,
            CmpOp::Ge => IntPredicate::SGE,
            CmpOp::Eq => IntPredicate::EQ,
            CmpOp::Ne => IntPredicate::NE,
        };
        self.b.build_int_compare(pred, x, y, "")
    }

    /// A global's value read now, shifted: a small integer, else bail (an
    /// unbound name may be a caller's local: dynamic scope is the
    /// interpreter's).
    fn global(&self, sym: u32) -> Result<IntValue<'ctx>, BuilderError> {
        let Some(a) = self.word(Link::Slot(sym))? else {
            self.guard(self.cx.bool_type().const_zero())?;
            return Ok(self.k(0));
        };
        let v = load_shared(&self.b, self.cx, a, self.i64t)?;
        self.guard(self.is_int(v)?)?;
        self.b.build_left_shift(v, self.k(SHIFT), "")
    }

    fn word(&self, link: Link) -> Result<Option<IntValue<'ctx>>, BuilderError> {
        self.linking.word(&self.b, self.cx, link, self.guards)
    }

    /// Charge a reduction; yield to the host when the slice is spent.
    /// At a loop's back-edge (`turn`: the next turn's arguments) the
    /// outermost native frame hands the loop back to the interpreter
    /// ([`RESUME`]) instead of yielding with native frames.
    fn safepoint(&self, turn: Option<&[IntValue<'ctx>]>) -> Result<(), BuilderError> {
        let i32t = self.cx.i32_type();
        let budget = self.load_budget()?;
        let fuel = self.b.build_int_truncate(budget, i32t, "fuel")?;
        let spent = self
            .b
            .build_int_compare(IntPredicate::EQ, fuel, i32t.const_zero(), "")?;
        let yield_bb = self.cx.append_basic_block(self.f, "yield");
        let go = self.cx.append_basic_block(self.f, "");
        self.b.build_conditional_branch(spent, yield_bb, go)?;
        self.b.position_at_end(yield_bb);
        if let Some(args) = turn {
            let depth = self.b.build_right_shift(budget, self.k(32), false, "")?;
            let start = self
                .b
                .build_load(
                    i32t,
                    gep(&self.b, self.cx, self.cxp(), cx_offset::DEPTH_START)?,
                    "",
                )?
                .into_int_value();
            let start = self.b.build_int_z_extend(start, self.i64t, "")?;
            let outermost = self
                .b
                .build_int_compare(IntPredicate::EQ, depth, start, "")?;
            let resume_bb = self.cx.append_basic_block(self.f, "resume");
            let hook_bb = self.cx.append_basic_block(self.f, "");
            self.b
                .build_conditional_branch(outermost, resume_bb, hook_bb)?;
            self.b.position_at_end(resume_bb);
            for (k, v) in args.iter().enumerate() {
                let at = gep(
                    &self.b,
                    self.cx,
                    self.cxp(),
                    cx_offset::RESUME + 8 * k as u64,
                )?;
                self.b.build_store(at, *v)?;
            }
            self.ret(self.k(BODY_RESUME), budget)?;
            self.b.position_at_end(hook_bb);
        }
        let hook_ty = self.i64t.fn_type(
            &[
                self.cx.ptr_type(Default::default()).into(),
                self.i64t.into(),
            ],
            false,
        );
        let hook = self.word(Link::Yield)?.ok_or(BuilderError::UnsetPosition)?;
        let hook = self
            .b
            .build_int_to_ptr(hook, self.cx.ptr_type(Default::default()), "")?;
        let refilled = basic(
            self.b
                .build_indirect_call(hook_ty, hook, &[self.cxp().into(), budget.into()], "")?
                .try_as_basic_value(),
        )
        .ok_or(BuilderError::UnsetPosition)?
        .into_int_value();
        self.b.build_store(self.budget, refilled)?;
        self.b.build_unconditional_branch(go)?;
        self.b.position_at_end(go);
        let budget = self.load_budget()?;
        let left = self.b.build_int_sub(budget, self.k(1), "")?;
        self.b.build_store(self.budget, left)?;
        Ok(())
    }

    /// The fast-signature arguments of a call: the context, `budget`, the
    /// argument registers.
    fn args(
        &self,
        budget: IntValue<'ctx>,
        args: Reg,
        argc: u16,
    ) -> Result<Vec<BasicMetadataValueEnum<'ctx>>, BuilderError> {
        let mut v: Vec<BasicMetadataValueEnum> = vec![self.cxp().into(), budget.into()];
        for k in 0..MAX_NATIVE_PARAMS as u16 {
            let x = if k < argc {
                self.load(args + k)?
            } else {
                self.i64t.get_undef()
            };
            v.push(x.into());
        }
        Ok(v)
    }

    fn call_target(
        &self,
        callee: u32,
        args: &[BasicMetadataValueEnum<'ctx>],
    ) -> Result<CallSiteValue<'ctx>, BuilderError> {
        match self.targets.get(&callee) {
            Some(Target::Here(f)) => self.b.build_direct_call(*f, args, ""),
            Some(Target::At(a)) => {
                let p = self.b.build_int_to_ptr(
                    self.k(*a as u64),
                    self.cx.ptr_type(Default::default()),
                    "",
                )?;
                self.b.build_indirect_call(fast_type(self.cx), p, args, "")
            }
            None => Err(BuilderError::UnsetPosition),
        }
    }

    /// The code index a direct call site calls.
    fn callee_of(&self, call: Option<CallKind>) -> Result<u32, BuilderError> {
        match call {
            Some(CallKind::Direct(sym)) => self
                .plan
                .callees
                .get(&sym)
                .map(|c| c.proto)
                .ok_or(BuilderError::UnsetPosition),
            _ => Err(BuilderError::UnsetPosition),
        }
    }

    /// One reduction from the budget if any fuel is left (no yield).
    fn charge_without_yield(&self) -> Result<(), BuilderError> {
        let budget = self.load_budget()?;
        let fuel = self
            .b
            .build_int_truncate(budget, self.cx.i32_type(), "fuel")?;
        let left = self.b.build_int_compare(
            IntPredicate::NE,
            fuel,
            self.cx.i32_type().const_zero(),
            "",
        )?;
        let one = self.b.build_int_z_extend(left, self.i64t, "")?;
        let budget = self.b.build_int_sub(budget, one, "")?;
        self.b.build_store(self.budget, budget)?;
        Ok(())
    }

    /// The budget with the nesting level of one call taken; bails when
    /// the native stack has no room for it.
    fn take_level(&self) -> Result<IntValue<'ctx>, BuilderError> {
        let budget = self.load_budget()?;
        if !self.call_on_path.get() {
            // A level is left when the high half is not zero: one
            // unsigned compare of the whole budget.
            let room =
                self.b
                    .build_int_compare(IntPredicate::UGE, budget, self.k(DEPTH_ONE), "")?;
            self.guard(room)?;
        }
        self.b.build_int_sub(budget, self.k(DEPTH_ONE), "")
    }

    /// A self call whose result is only added to `x` and returned, as a
    /// loop turn ([`accumulate`]): the call's safepoint and nesting level,
    /// `x` into the accumulator, the new arguments, the top.
    fn loop_turn(&self, args: Reg, argc: u16, x: IntValue<'ctx>) -> Result<(), BuilderError> {
        let acc = self.acc.ok_or(BuilderError::UnsetPosition)?;
        let vals = self.load_args(args, argc)?;
        if self.call_on_path.get() {
            // A call on this path went through a full safepoint: charge
            // the turn's reduction without a yield path of its own (that
            // call to the hook in the loop costs fib a quarter of its
            // speed). A slice spent here yields at the next call's
            // safepoint, a few turns on (turns on the way are free).
            self.charge_without_yield()?;
        } else {
            self.safepoint(None)?;
        }
        let inner = self.take_level()?;
        self.call_on_path.set(false);
        self.b.build_store(self.budget, inner)?;
        let pending = self.b.build_load(self.i64t, acc, "")?.into_int_value();
        let pending = self.checked(ArithOp::Add, pending, x)?;
        self.b.build_store(acc, pending)?;
        self.jump_to_top(vals)
    }

    /// A call's `argc` argument registers from `args` on.
    fn load_args(&self, args: Reg, argc: u16) -> Result<Vec<IntValue<'ctx>>, BuilderError> {
        (0..argc).map(|k| self.load(args + k)).collect()
    }

    /// A loop's next turn: `vals` as the parameters, fresh locals, the top.
    fn jump_to_top(&self, vals: Vec<IntValue<'ctx>>) -> Result<(), BuilderError> {
        let argc = vals.len();
        for (r, v) in vals.into_iter().enumerate() {
            self.store(r as Reg, v)?;
        }
        for r in argc..self.regs.len() {
            self.store(r as Reg, self.k(0))?;
        }
        self.b.build_unconditional_branch(self.block(0))?;
        Ok(())
    }

    fn lower_block(&self, bi: usize) -> Result<(), BuilderError> {
        let ops = live_ops(self.plan.proto, bi);
        let from =
            self.sole_jumper[bi].and_then(|p| self.checked_at_jump.borrow().get(&p).copied());
        self.call_on_path.set(from.unwrap_or(false));
        for (k, op) in ops.iter().enumerate() {
            let call = self.plan.calls.get(&(bi, k)).copied();
            if let Some(twin) = self.twin {
                let calls = matches!(op, Op::Call { .. } | Op::TailCall { .. })
                    && call != Some(CallKind::Sequence);
                if calls || matches!(op, Op::Safepoint) {
                    // The call restarted in the twin: this body's own
                    // budget and arguments.
                    return forward(&self.b, self.f, twin);
                }
            }
            match *op {
                Op::Imm { dst, val } => match val.as_small_int() {
                    Some(i) => self.store(dst, self.k((i << SHIFT) as u64))?,
                    // Not a small integer: the interpreter's from here.
                    None => self.guard(self.cx.bool_type().const_zero())?,
                },
                Op::Move { dst, src } => {
                    let v = self.load(src)?;
                    self.store(dst, v)?
                }
                Op::Global { dst, sym } => {
                    let v = self.global(sym)?;
                    self.store(dst, v)?
                }
                Op::Arith { op, dst, a, b } => {
                    let (x, y) = (self.load(a)?, self.load(b)?);
                    self.arith(op, dst, x, y)?
                }
                Op::ArithImm { op, dst, a, imm } => {
                    let x = self.load(a)?;
                    self.arith(op, dst, x, self.imm(imm))?
                }
                Op::Compare { op, dst, a, b } => {
                    let (x, y) = (self.load(a)?, self.load(b)?);
                    let c = self.compare(op, x, y)?;
                    self.store(dst, self.bool_value(c)?)?
                }
                Op::CompareImm { op, dst, a, imm } => {
                    let x = self.load(a)?;
                    let c = self.compare(op, x, self.imm(imm))?;
                    self.store(dst, self.bool_value(c)?)?
                }
                Op::CompareBranch {
                    op,
                    dst,
                    a,
                    b,
                    then,
                    else_,
                } => {
                    let (x, y) = (self.load(a)?, self.load(b)?);
                    let c = self.compare(op, x, y)?;
                    self.store(dst, self.bool_value(c)?)?;
                    self.b
                        .build_conditional_branch(c, self.block(then), self.block(else_))?;
                }
                Op::CompareImmBranch {
                    op,
                    dst,
                    a,
                    imm,
                    then,
                    else_,
                } => {
                    let x = self.load(a)?;
                    let c = self.compare(op, x, self.imm(imm))?;
                    self.store(dst, self.bool_value(c)?)?;
                    self.b
                        .build_conditional_branch(c, self.block(then), self.block(else_))?;
                }
                Op::TestEqual { dst, a, b } => {
                    let (x, y) = (self.load(a)?, self.load(b)?);
                    let c = self.b.build_int_compare(IntPredicate::EQ, x, y, "")?;
                    self.store(dst, self.bool_value(c)?)?
                }
                // Checked on entry; calls through it are resolved (plan).
                Op::GlobalHead { .. } => {}
                Op::MacroCheck { .. } => {}
                // A number called with no arguments is itself.
                Op::Call { dst, func, .. } if call == Some(CallKind::Sequence) => {
                    let v = self.load(func)?;
                    self.store(dst, v)?
                }
                Op::TailCall { func, .. } if call == Some(CallKind::Sequence) => {
                    let v = self.load(func)?;
                    self.ret_value(v)?;
                }
                Op::Call { args, argc, .. }
                    if self.acc.is_some() && self.sites.contains_key(&(bi, k)) =>
                {
                    let x = self.load(self.sites[&(bi, k)])?;
                    self.loop_turn(args, argc, x)?;
                    // The rest of the block (a jump to the addition) is
                    // the loop's now.
                    return Ok(());
                }
                Op::Call {
                    dst, args, argc, ..
                } => {
                    self.safepoint(None)?;
                    let callee = self.callee_of(call)?;
                    let inner = self.take_level()?;
                    let argv = self.args(inner, args, argc)?;
                    let pair = basic(self.call_target(callee, &argv)?.try_as_basic_value())
                        .ok_or(BuilderError::UnsetPosition)?
                        .into_struct_value();
                    let r = self.b.build_extract_value(pair, 0, "")?.into_int_value();
                    let after = self.b.build_extract_value(pair, 1, "")?.into_int_value();
                    let after = self.b.build_int_add(after, self.k(DEPTH_ONE), "")?;
                    self.b.build_store(self.budget, after)?;
                    // A bail or a stale unit below: pass the signal up.
                    let signal = self.b.build_and(r, self.k(SIGNAL_BITS), "")?;
                    let value =
                        self.b
                            .build_int_compare(IntPredicate::EQ, signal, self.k(0), "")?;
                    let up = self.cx.append_basic_block(self.f, "signal");
                    let next = self.cx.append_basic_block(self.f, "");
                    self.b.build_conditional_branch(value, next, up)?;
                    self.b.position_at_end(up);
                    self.ret_signal(r, after)?;
                    self.b.position_at_end(next);
                    // The call checked a level and gave it back.
                    self.call_on_path.set(true);
                    self.store(dst, r)?
                }
                Op::Safepoint => self.safepoint(None)?,
                Op::Jump { to } => {
                    self.checked_at_jump
                        .borrow_mut()
                        .insert(bi, self.call_on_path.get());
                    self.b.build_unconditional_branch(self.block(to))?;
                }
                Op::Branch {
                    cond, then, else_, ..
                } => {
                    let v = self.load(cond)?;
                    let nz = self
                        .b
                        .build_int_compare(IntPredicate::NE, v, self.k(0), "")?;
                    self.b
                        .build_conditional_branch(nz, self.block(then), self.block(else_))?;
                }
                Op::ReturnIfError { ok, .. } | Op::IfError { ok, .. } => {
                    self.b.build_unconditional_branch(self.block(ok))?;
                }
                Op::Guard { intact, .. } => {
                    // Checked on entry.
                    self.b.build_unconditional_branch(self.block(intact))?;
                }
                Op::Return { src } => {
                    let v = self.load(src)?;
                    self.ret_value(v)?;
                }
                Op::TailCall { args, argc, .. } => {
                    let callee = self.callee_of(call)?;
                    if callee == self.plan.index {
                        let vals = self.load_args(args, argc)?;
                        self.safepoint(Some(&vals))?;
                        self.jump_to_top(vals)?;
                    } else {
                        self.safepoint(None)?;
                        let argv = self.args(self.load_budget()?, args, argc)?;
                        return_tail_call(&self.b, self.call_target(callee, &argv)?)?;
                    }
                }
                _ => return Err(BuilderError::UnsetPosition),
            }
        }
        // Every IR block ends in a terminator; close a block defensively
        // if its live ops did not.
        if self
            .b
            .get_insert_block()
            .is_some_and(|bb| bb.get_terminator().is_none())
        {
            self.b.build_unconditional_branch(self.bail)?;
        }
        Ok(())
    }
}

/// A pointer to the `NativeCx` field at byte `offset`.
fn gep<'ctx>(
    b: &Builder<'ctx>,
    cx: &'ctx Context,
    base: PointerValue<'ctx>,
    offset: u64,
) -> Result<PointerValue<'ctx>, BuilderError> {
    let i8t = cx.i8_type();
    let off = cx.i64_type().const_int(offset, false);
    // SAFETY: building a GEP instruction is unsafe in inkwell's API only
    // because LLVM does not check the indices; every `offset` given is a
    // constant inside `NativeCx` (`cx_offset`).
    unsafe { b.build_in_bounds_gep(i8t, base, &[off], "") }
}

/// A call's value, if it has one.
fn basic(k: ValueKind<'_>) -> Option<BasicValueEnum<'_>> {
    match k {
        ValueKind::Basic(v) => Some(v),
        ValueKind::Instruction(_) => None,
    }
}
