//! Valk IR -> LLVM IR for the functions a [`Plan`] accepts.
//!
//! Each register is an `alloca` (promoted to SSA by LLVM's `mem2reg`);
//! each reachable IR block an LLVM block. Every check compiled code makes
//! (an operand is not a small integer, a builtin or a called global was
//! replaced, a result leaves the small range, the stack runs short) goes to
//! one `bail` block that returns [`BAIL`]; the interpreter then runs the
//! call from its start (`valk_lang::tier`).
//!
//! Values stay in the heap's encoding: a small integer is its 48-bit
//! payload under the integer tag, so results are the interpreter's bits.

use std::collections::HashMap;

use inkwell::attributes::AttributeLoc;
use inkwell::basic_block::BasicBlock;
use inkwell::builder::{Builder, BuilderError};
use inkwell::context::Context;
use inkwell::intrinsics::Intrinsic;
use inkwell::module::{Linkage, Module};
use inkwell::types::{FunctionType, IntType};
use inkwell::values::{
    BasicMetadataValueEnum, BasicValue, FunctionValue, IntValue, PointerValue, ValueKind,
};
use inkwell::{AtomicOrdering, IntPredicate};

use valk_heap::Value;
use valk_lang::globals::UNSET;
use valk_lang::ir::{ArithOp, CmpOp, Op, Reg};
use valk_lang::tier::{cx_offset, BAIL, MAX_NATIVE_PARAMS, RESUME};
use valk_lang::Globals;

use crate::plan::{live_ops, CallKind, Plan};

/// How a compiled call reaches its callee.
#[derive(Clone, Copy)]
pub enum Target<'ctx> {
    /// Defined in the module being built.
    Here(FunctionValue<'ctx>),
    /// Compiled earlier, at this address.
    At(usize),
}

/// The symbol of proto `index`'s compiled function.
pub fn symbol(index: u32) -> String {
    format!("valk_fn_{index}")
}

/// The one signature of compiled functions (`valk_lang::tier::NativeEntry`).
pub fn entry_type(cx: &Context) -> FunctionType<'_> {
    let i64t = cx.i64_type();
    let mut params: Vec<inkwell::types::BasicMetadataTypeEnum> =
        vec![cx.ptr_type(Default::default()).into()];
    params
        .extend((0..MAX_NATIVE_PARAMS).map(|_| inkwell::types::BasicMetadataTypeEnum::from(i64t)));
    i64t.fn_type(&params, false)
}

/// Declares the functions of `plans` in `module` (so they can call each
/// other), in order.
pub fn declare<'ctx>(
    cx: &'ctx Context,
    module: &Module<'ctx>,
    plans: &[Plan],
) -> Vec<FunctionValue<'ctx>> {
    let ty = entry_type(cx);
    plans
        .iter()
        .map(|p| {
            let f = module.add_function(&symbol(p.index), ty, Some(Linkage::External));
            // Unwind tables: a kill unwinds an actor's stack through its
            // native frames (from inside `native_yield`).
            let uwtable = cx.create_enum_attribute(
                inkwell::attributes::Attribute::get_named_enum_kind_id("uwtable"),
                2,
            );
            f.add_attribute(AttributeLoc::Function, uwtable);
            f
        })
        .collect()
}

/// Lowers one planned function into its declared `f`. `targets` maps code
/// indices to what calls them.
pub fn lower<'ctx>(
    cx: &'ctx Context,
    module: &Module<'ctx>,
    f: FunctionValue<'ctx>,
    plan: &Plan,
    globals: &Globals,
    targets: &HashMap<u32, Target<'ctx>>,
) -> Result<(), BuilderError> {
    let b = cx.create_builder();
    let i64t = cx.i64_type();
    let entry = cx.append_basic_block(f, "entry");
    let bail = cx.append_basic_block(f, "bail");
    b.position_at_end(bail);
    b.build_return(Some(&i64t.const_int(BAIL, false)))?;
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
    let mut l = Lower {
        cx,
        module,
        b,
        f,
        i64t,
        regs,
        blocks,
        bail,
        plan,
        globals,
        targets,
    };
    let nparams = plan.proto.meta.nparams as usize;
    for r in 0..nregs {
        let v = if r < nparams {
            l.param(r + 1)
        } else {
            l.k(UNSET.to_bits())
        };
        l.b.build_store(l.regs[r], v)?;
    }
    l.b.build_unconditional_branch(l.block(0))?;
    for (i, _) in plan.reachable.iter().enumerate().filter(|(_, r)| **r) {
        l.b.position_at_end(l.block(i as u32));
        l.lower_block(i)?;
    }
    Ok(())
}

struct Lower<'a, 'ctx> {
    cx: &'ctx Context,
    module: &'a Module<'ctx>,
    b: Builder<'ctx>,
    f: FunctionValue<'ctx>,
    i64t: IntType<'ctx>,
    regs: Vec<PointerValue<'ctx>>,
    blocks: Vec<Option<BasicBlock<'ctx>>>,
    bail: BasicBlock<'ctx>,
    plan: &'a Plan,
    globals: &'a Globals,
    targets: &'a HashMap<u32, Target<'ctx>>,
}

fn int_tag() -> u64 {
    Value::small_int(0).map_or(0, |v| v.to_bits()) >> 48
}

const PAYLOAD: u64 = (1 << 48) - 1;

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

    /// A pointer to a fixed address (a global slot, a flag, a hook).
    fn addr(&self, a: usize) -> Result<PointerValue<'ctx>, BuilderError> {
        self.b
            .build_int_to_ptr(self.k(a as u64), self.cx.ptr_type(Default::default()), "")
    }

    /// An atomic (relaxed) load of a word some other thread may store.
    fn load_shared(&self, a: usize, ty: IntType<'ctx>) -> Result<IntValue<'ctx>, BuilderError> {
        let p = self.addr(a)?;
        let v = self.b.build_load(ty, p, "")?;
        if let Some(i) = v.as_instruction_value() {
            let _ = i.set_alignment(ty.get_bit_width() / 8);
            let _ = i.set_atomic_ordering(AtomicOrdering::Monotonic);
        }
        Ok(v.into_int_value())
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

    fn untag(&self, v: IntValue<'ctx>) -> Result<IntValue<'ctx>, BuilderError> {
        let s = self.b.build_left_shift(v, self.k(16), "")?;
        self.b.build_right_shift(s, self.k(16), true, "")
    }

    fn tag(&self, i: IntValue<'ctx>) -> Result<IntValue<'ctx>, BuilderError> {
        let p = self.b.build_and(i, self.k(PAYLOAD), "")?;
        self.b.build_or(p, self.k(int_tag() << 48), "")
    }

    fn bool_value(&self, c: IntValue<'ctx>) -> Result<IntValue<'ctx>, BuilderError> {
        let t = self.k(Value::TRUE.to_bits());
        let f = self.k(Value::FALSE.to_bits());
        Ok(self.b.build_select(c, t, f, "")?.into_int_value())
    }

    fn intact(&self, index: u32) -> Result<IntValue<'ctx>, BuilderError> {
        let Some(a) = self.globals.intact_address(index) else {
            return Ok(self.cx.bool_type().const_zero());
        };
        let i8t = self.cx.i8_type();
        let v = self.load_shared(a as usize, i8t)?;
        self.b
            .build_int_compare(IntPredicate::NE, v, i8t.const_zero(), "")
    }

    /// Both operands small integers and builtin `index` intact: their
    /// untagged values.
    fn int_operands(
        &self,
        index: u32,
        x: IntValue<'ctx>,
        y: IntValue<'ctx>,
    ) -> Result<(IntValue<'ctx>, IntValue<'ctx>), BuilderError> {
        let ok = self.intact(index)?;
        let xi = self.is_int(x)?;
        let yi = self.is_int(y)?;
        let both = self.b.build_and(xi, yi, "")?;
        let ok = self.b.build_and(ok, both, "")?;
        self.guard(ok)?;
        Ok((self.untag(x)?, self.untag(y)?))
    }

    fn imm(&self, imm: i32) -> IntValue<'ctx> {
        self.k(Value::small_int(i64::from(imm)).map_or(0, |v| v.to_bits()))
    }

    fn arith(
        &self,
        op: ArithOp,
        dst: Reg,
        x: IntValue<'ctx>,
        y: IntValue<'ctx>,
    ) -> Result<(), BuilderError> {
        let (i, j) = self.int_operands(valk_lang::tier::arith_builtin(op), x, y)?;
        // 48-bit operands: a sum or difference cannot overflow 64 bits.
        let r = match op {
            ArithOp::Add => self.b.build_int_add(i, j, "")?,
            ArithOp::Sub => self.b.build_int_sub(i, j, "")?,
            ArithOp::Mul => {
                let f = Intrinsic::find("llvm.smul.with.overflow")
                    .and_then(|k| k.get_declaration(self.module, &[self.i64t.into()]));
                let Some(f) = f else {
                    self.b.build_unconditional_branch(self.bail)?;
                    let dead = self.cx.append_basic_block(self.f, "");
                    self.b.position_at_end(dead);
                    return Ok(());
                };
                let pair = self
                    .b
                    .build_direct_call(f, &[i.into(), j.into()], "")?
                    .try_as_basic_value();
                let pair = basic(pair).map(|v| v.into_struct_value());
                let Some(pair) = pair else {
                    return Err(BuilderError::UnsetPosition);
                };
                let prod = self.b.build_extract_value(pair, 0, "")?.into_int_value();
                let ovf = self.b.build_extract_value(pair, 1, "")?.into_int_value();
                let ok = self.b.build_not(ovf, "")?;
                self.guard(ok)?;
                prod
            }
        };
        // The result must stay a small integer (else: the boxed form).
        let back = self.untag(r)?;
        let fits = self.b.build_int_compare(IntPredicate::EQ, back, r, "")?;
        self.guard(fits)?;
        let v = self.tag(r)?;
        self.store(dst, v)
    }

    fn compare(
        &self,
        op: CmpOp,
        x: IntValue<'ctx>,
        y: IntValue<'ctx>,
    ) -> Result<IntValue<'ctx>, BuilderError> {
        let (i, j) = self.int_operands(valk_lang::tier::compare_builtin(op), x, y)?;
        let pred = match op {
            CmpOp::Lt => IntPredicate::SLT,
            CmpOp::Gt => IntPredicate::SGT,
            CmpOp::Le => IntPredicate::SLE,
            CmpOp::Ge => IntPredicate::SGE,
            CmpOp::Eq => IntPredicate::EQ,
            CmpOp::Ne => IntPredicate::NE,
        };
        self.b.build_int_compare(pred, i, j, "")
    }

    /// A global's value: a small integer, else bail (an unbound name may
    /// be a caller's local: dynamic scope is the interpreter's).
    fn global(&self, sym: u32) -> Result<IntValue<'ctx>, BuilderError> {
        let Some(a) = self.globals.slot_address(sym) else {
            self.guard(self.cx.bool_type().const_zero())?;
            return Ok(self.k(0));
        };
        let v = self.load_shared(a as usize, self.i64t)?;
        self.guard(self.is_int(v)?)?;
        Ok(v)
    }

    /// Charge a reduction; yield to the host when the slice is spent.
    fn safepoint(&self) -> Result<(), BuilderError> {
        self.safepoint_or_resume(None)
    }

    /// [`Lower::safepoint`] at a loop's back-edge with the next turn's
    /// arguments: the outermost native frame hands the loop back to the
    /// interpreter ([`RESUME`]) instead of yielding with native frames.
    fn safepoint_or_resume(&self, turn: Option<&[IntValue<'ctx>]>) -> Result<(), BuilderError> {
        let i32t = self.cx.i32_type();
        let fuel = self
            .b
            .build_load(i32t, self.cxp(), "fuel")?
            .into_int_value();
        let spent = self
            .b
            .build_int_compare(IntPredicate::EQ, fuel, i32t.const_zero(), "")?;
        let yield_bb = self.cx.append_basic_block(self.f, "yield");
        let go = self.cx.append_basic_block(self.f, "");
        self.b.build_conditional_branch(spent, yield_bb, go)?;
        self.b.position_at_end(yield_bb);
        if let Some(args) = turn {
            let left = self
                .b
                .build_load(i32t, self.field(cx_offset::DEPTH_LEFT)?, "")?
                .into_int_value();
            let start = self
                .b
                .build_load(i32t, self.field(cx_offset::DEPTH_START)?, "")?
                .into_int_value();
            let outermost = self
                .b
                .build_int_compare(IntPredicate::EQ, left, start, "")?;
            let resume_bb = self.cx.append_basic_block(self.f, "resume");
            let hook_bb = self.cx.append_basic_block(self.f, "");
            self.b
                .build_conditional_branch(outermost, resume_bb, hook_bb)?;
            self.b.position_at_end(resume_bb);
            for (k, v) in args.iter().enumerate() {
                let at = self.field(cx_offset::RESUME + 8 * k as u64)?;
                self.b.build_store(at, *v)?;
            }
            self.b.build_return(Some(&self.k(RESUME)))?;
            self.b.position_at_end(hook_bb);
        }
        let hook_ty = self
            .cx
            .void_type()
            .fn_type(&[self.cx.ptr_type(Default::default()).into()], false);
        let hook = self.addr(valk_lang::tier::native_yield as *const () as usize)?;
        self.b
            .build_indirect_call(hook_ty, hook, &[self.cxp().into()], "")?;
        self.b.build_unconditional_branch(go)?;
        self.b.position_at_end(go);
        let fuel = self
            .b
            .build_load(i32t, self.cxp(), "fuel")?
            .into_int_value();
        let left = self.b.build_int_sub(fuel, i32t.const_int(1, false), "")?;
        self.b.build_store(self.cxp(), left)?;
        Ok(())
    }

    /// A pointer to the `NativeCx` field at byte `offset`.
    fn field(&self, offset: u64) -> Result<PointerValue<'ctx>, BuilderError> {
        unsafe_gep(&self.b, self.cx.i8_type(), self.cxp(), self.k(offset))
    }

    fn depth_ptr(&self) -> Result<PointerValue<'ctx>, BuilderError> {
        self.field(cx_offset::DEPTH_LEFT)
    }

    fn args(
        &self,
        args: Reg,
        argc: u16,
    ) -> Result<Vec<BasicMetadataValueEnum<'ctx>>, BuilderError> {
        let mut v: Vec<BasicMetadataValueEnum> = vec![self.cxp().into()];
        for k in 0..MAX_NATIVE_PARAMS as u16 {
            let x = if k < argc {
                self.load(args + k)?
            } else {
                self.k(0)
            };
            v.push(x.into());
        }
        Ok(v)
    }

    fn call_target(
        &self,
        callee: u32,
        args: &[BasicMetadataValueEnum<'ctx>],
    ) -> Result<inkwell::values::CallSiteValue<'ctx>, BuilderError> {
        match self.targets.get(&callee) {
            Some(Target::Here(f)) => self.b.build_direct_call(*f, args, ""),
            Some(Target::At(a)) => {
                let p = self.addr(*a)?;
                self.b.build_indirect_call(entry_type(self.cx), p, args, "")
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

    fn lower_block(&mut self, bi: usize) -> Result<(), BuilderError> {
        let ops = live_ops(self.plan.proto, bi);
        for (k, op) in ops.iter().enumerate() {
            let call = self.plan.calls.get(&(bi, k)).copied();
            match *op {
                Op::Imm { dst, val } => self.store(dst, self.k(val.to_bits()))?,
                Op::Move { dst, src } => {
                    let v = self.load(src)?;
                    self.store(dst, v)?
                }
                Op::Global { dst, sym } => {
                    let v = self.global(sym)?;
                    self.store(dst, v)?
                }
                Op::LocalChecked { dst, src, sym } => {
                    let v = self.load(src)?;
                    let unset = self.b.build_int_compare(
                        IntPredicate::EQ,
                        v,
                        self.k(UNSET.to_bits()),
                        "",
                    )?;
                    let set_bb = self.cx.append_basic_block(self.f, "");
                    let unset_bb = self.cx.append_basic_block(self.f, "");
                    let join = self.cx.append_basic_block(self.f, "");
                    self.b.build_conditional_branch(unset, unset_bb, set_bb)?;
                    self.b.position_at_end(set_bb);
                    self.store(dst, v)?;
                    self.b.build_unconditional_branch(join)?;
                    self.b.position_at_end(unset_bb);
                    let g = self.global(sym)?;
                    self.store(dst, g)?;
                    self.b.build_unconditional_branch(join)?;
                    self.b.position_at_end(join);
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
                    let both = self.b.build_and(self.is_int(x)?, self.is_int(y)?, "")?;
                    self.guard(both)?;
                    let c = self.b.build_int_compare(IntPredicate::EQ, x, y, "")?;
                    self.store(dst, self.bool_value(c)?)?
                }
                Op::GlobalHead { dst, sym, .. } => {
                    let Some(c) = self.plan.callees.get(&sym) else {
                        return Err(BuilderError::UnsetPosition);
                    };
                    let Some(a) = self.globals.slot_address(sym) else {
                        return Err(BuilderError::UnsetPosition);
                    };
                    let v = self.load_shared(a as usize, self.i64t)?;
                    let same =
                        self.b
                            .build_int_compare(IntPredicate::EQ, v, self.k(c.expected), "")?;
                    self.guard(same)?;
                    self.store(dst, v)?
                }
                Op::MacroCheck { .. } => {}
                Op::Call { dst, func, .. } if call == Some(CallKind::Sequence) => {
                    let v = self.load(func)?;
                    self.guard(self.is_int(v)?)?;
                    self.store(dst, v)?
                }
                Op::TailCall { func, .. } if call == Some(CallKind::Sequence) => {
                    let v = self.load(func)?;
                    self.guard(self.is_int(v)?)?;
                    self.b.build_return(Some(&v))?;
                }
                Op::Call {
                    dst, args, argc, ..
                } => {
                    self.safepoint()?;
                    let callee = self.callee_of(call)?;
                    let argv = self.args(args, argc)?;
                    let i32t = self.cx.i32_type();
                    let dp = self.depth_ptr()?;
                    let depth = self.b.build_load(i32t, dp, "depth")?.into_int_value();
                    let room =
                        self.b
                            .build_int_compare(IntPredicate::NE, depth, i32t.const_zero(), "")?;
                    self.guard(room)?;
                    let less = self.b.build_int_sub(depth, i32t.const_int(1, false), "")?;
                    self.b.build_store(dp, less)?;
                    let r = basic(self.call_target(callee, &argv)?.try_as_basic_value())
                        .map(|v| v.into_int_value())
                        .ok_or(BuilderError::UnsetPosition)?;
                    let ok = self
                        .b
                        .build_int_compare(IntPredicate::NE, r, self.k(BAIL), "")?;
                    self.guard(ok)?;
                    self.b.build_store(dp, depth)?;
                    self.store(dst, r)?
                }
                Op::Safepoint => self.safepoint()?,
                Op::Jump { to } => {
                    self.b.build_unconditional_branch(self.block(to))?;
                }
                Op::Branch {
                    cond, then, else_, ..
                } => {
                    let v = self.load(cond)?;
                    self.guard(self.is_int(v)?)?;
                    let p = self.b.build_and(v, self.k(PAYLOAD), "")?;
                    let nz = self
                        .b
                        .build_int_compare(IntPredicate::NE, p, self.k(0), "")?;
                    self.b
                        .build_conditional_branch(nz, self.block(then), self.block(else_))?;
                }
                Op::ReturnIfError { ok, .. } | Op::IfError { ok, .. } => {
                    self.b.build_unconditional_branch(self.block(ok))?;
                }
                Op::Guard { index, intact, .. } => {
                    self.guard(self.intact(index)?)?;
                    self.b.build_unconditional_branch(self.block(intact))?;
                }
                Op::Return { src } => {
                    // Only immediates leave compiled code (a head register
                    // holds a closure, which must not escape uncounted).
                    let v = self.load(src)?;
                    let imm = self.b.build_int_compare(
                        IntPredicate::ULT,
                        v,
                        self.k(Value::FIRST_PTR_BITS),
                        "",
                    )?;
                    self.guard(imm)?;
                    self.b.build_return(Some(&v))?;
                }
                Op::TailCall { args, argc, .. } => {
                    let callee = self.callee_of(call)?;
                    if callee == self.plan.index {
                        // A loop: the new arguments, fresh locals, the top.
                        let vals: Vec<IntValue> = (0..argc)
                            .map(|k| self.load(args + k))
                            .collect::<Result<_, _>>()?;
                        self.safepoint_or_resume(Some(&vals))?;
                        for (r, v) in vals.into_iter().enumerate() {
                            self.store(r as Reg, v)?;
                        }
                        for r in argc as usize..self.regs.len() {
                            self.store(r as Reg, self.k(UNSET.to_bits()))?;
                        }
                        self.b.build_unconditional_branch(self.block(0))?;
                    } else {
                        self.safepoint()?;
                        let argv = self.args(args, argc)?;
                        let call = self.call_target(callee, &argv)?;
                        call.set_tail_call_kind(
                            inkwell::llvm_sys::LLVMTailCallKind::LLVMTailCallKindMustTail,
                        );
                        let r = basic(call.try_as_basic_value())
                            .map(|v| v.into_int_value())
                            .ok_or(BuilderError::UnsetPosition)?;
                        self.b.build_return(Some(&r))?;
                    }
                }
                _ => return Err(BuilderError::UnsetPosition),
            }
        }
        // A block whose live ops end without a terminator cannot happen
        // (every IR block ends in one); close it defensively.
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

/// `base + offset` in bytes.
fn unsafe_gep<'ctx>(
    b: &Builder<'ctx>,
    i8t: IntType<'ctx>,
    base: PointerValue<'ctx>,
    offset: IntValue<'ctx>,
) -> Result<PointerValue<'ctx>, BuilderError> {
    // SAFETY: building an in-bounds GEP instruction is only unsafe in
    // inkwell's API because LLVM does not check the indices; every
    // `offset` given is a constant inside `NativeCx` (`cx_offset`).
    unsafe { b.build_in_bounds_gep(i8t, base, &[offset], "") }
}

/// A call's value, if it has one.
fn basic(k: ValueKind<'_>) -> Option<inkwell::values::BasicValueEnum<'_>> {
    match k {
        ValueKind::Basic(v) => Some(v),
        ValueKind::Instruction(_) => None,
    }
}
