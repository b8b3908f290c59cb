//! The PTX parser and the decoded form that [`crate::exec`] runs.
//!
//! CONTRACT (the driver layer codes against these signatures; the interpreter
//! owns the implementation and may add to it, not change it).
//!
//! # How a kernel is decoded
//!
//! Every register a thread can name lives in one flat file of `u64` slots (see
//! `Kernel::nregs`): first the special registers (`%tid.x`, `%ntid.x`, ...,
//! see `slot`), then every `.reg` declaration in order, and the immediates an
//! instruction names, each given a slot of its own whose value is set when the
//! thread starts. So every operand of a decoded `Op` is one slot index and the
//! interpreter never asks "is this a register or a constant?". A 32-bit value
//! lives in the low half of its slot (a float as its bits), a predicate is 0 or 1.
//!
//! Addresses in `.shared` and `.local` are offsets into the block's shared
//! window and the thread's local frame; a symbol such as `smem` or
//! `__local_depot0` decodes to the constant offset it has there. Static shared
//! symbols come first, in declaration order, then the dynamic (`extern`) shared
//! array at its alignment.
//!
//! Anything outside the subset below fails [`Module::load`] with a
//! [`LoadError`] naming the text, its line and its kernel.

use std::collections::HashMap;
use std::sync::Arc;

use crate::float::{Cmp, IntRound, Round};

/// Why a module did not load: names the instruction or directive, its PTX line
/// (1-based) and the kernel it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError(pub String);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoadError {}

/// One kernel parameter as the `.entry` declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Its PTX name (`foo_param_0`).
    pub name: String,
    /// Bytes.
    pub size: usize,
}

/// One decoded `.entry`.
#[derive(Debug)]
pub struct Kernel {
    /// The kernel's name.
    pub name: String,
    /// Its parameters, in order.
    pub params: Vec<Param>,
    /// Bytes of static `.shared` memory.
    pub static_shared: usize,
    /// Bytes of `.local` memory per thread.
    pub local_bytes: usize,
    /// `.maxntid` (threads a block), if declared.
    pub max_threads: Option<u32>,
    /// The decoded instructions; the last is always an [`Op::Exit`].
    pub(crate) code: Vec<Inst>,
    /// The 1-based PTX line of each instruction.
    pub(crate) lines: Vec<u32>,
    /// The source text of each instruction (for fault messages).
    pub(crate) text: Vec<String>,
    /// Register-file slots a thread has.
    pub(crate) nregs: usize,
    /// A thread's register file when it starts (constants set, the rest 0; the
    /// per-thread special registers are filled in by the interpreter).
    pub(crate) init: Vec<u64>,
    /// Byte offset of each parameter in the parameter buffer.
    pub(crate) param_offsets: Vec<usize>,
    /// Bytes of the parameter buffer.
    pub(crate) param_bytes: usize,
    /// Offset of the dynamic shared array in the shared window (`static_shared`
    /// rounded up to its alignment).
    pub(crate) dyn_shared_offset: usize,
    /// 32-bit registers the declarations name (64-bit ones count twice, predicates not).
    pub(crate) declared_regs: u32,
    /// `.minnctapersm`, if declared.
    pub(crate) min_blocks: Option<u32>,
}

impl Kernel {
    /// Registers per thread in the occupancy model: the declared 32-bit
    /// registers, at most 255, and at most what `.maxntid` (and
    /// `.minnctapersm`) leave a thread of a 64K-register SM, as ptxas does.
    pub fn regs_per_thread(&self) -> u32 {
        let mut r = self.declared_regs.clamp(16, 255);
        if let Some(m) = self.max_threads {
            let threads = m.div_ceil(32) * 32 * self.min_blocks.unwrap_or(1).max(1);
            let limit = (65536 / threads.max(1)) / 8 * 8;
            r = r.min(limit.max(16));
        }
        r
    }

    /// Instructions the kernel has (its decoded length, the final `exit` included).
    pub fn instructions(&self) -> usize {
        self.code.len()
    }
}

/// A loaded module: its kernels by name.
#[derive(Debug)]
pub struct Module {
    /// The kernels, in the order the PTX declares them.
    pub kernels: Vec<Arc<Kernel>>,
}

impl Module {
    /// Parses and decodes a whole PTX module. Any instruction form, directive or
    /// state space the interpreter does not implement fails here, never later.
    pub fn load(text: &str) -> Result<Module, LoadError> {
        Parser::new(text).module()
    }

    /// The kernel called `name`.
    pub fn kernel(&self, name: &str) -> Option<Arc<Kernel>> {
        self.kernels.iter().find(|k| k.name == name).cloned()
    }
}

// ---------------------------------------------------------------------------
// The decoded form
// ---------------------------------------------------------------------------

/// A register-file slot index.
pub(crate) type R = u32;
/// "No register" (an absent optional operand).
pub(crate) const NONE: R = u32::MAX;

/// The fixed slots of the special registers. Slots below [`slot::PER_THREAD`]
/// are written for each thread when it starts; the y and z ones are constants.
pub(crate) mod slot {
    pub const TID: u32 = 0;
    pub const NTID: u32 = 1;
    pub const CTAID: u32 = 2;
    pub const NCTAID: u32 = 3;
    pub const LANEID: u32 = 4;
    pub const WARPID: u32 = 5;
    pub const NWARPID: u32 = 6;
    pub const ZERO: u32 = 7; // %tid.y, %tid.z, %ctaid.y, %ctaid.z
    pub const ONE: u32 = 8; // %ntid.y, %ntid.z, %nctaid.y, %nctaid.z
    /// The first slot of the declared registers.
    pub const FIRST: u32 = 9;
}

/// A memory state space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Space {
    Global,
    Shared,
    Local,
}

/// A two-operand integer operation (`w` bits, signed or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntOp {
    Add,
    Sub,
    MulLo,
    MulHi,
    /// The 2w-bit product.
    MulWide,
    Div,
    Rem,
    Min,
    Max,
    And,
    Or,
    Xor,
    Shl,
    Shr,
}

/// A one-operand integer operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnOp {
    Neg,
    Not,
    Abs,
}

/// A floating-point operation (f32 or f64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FOp {
    Add,
    Sub,
    Mul,
    Fma,
    Div,
    Min,
    Max,
    Sqrt,
    Rcp,
    Ex2,
    Neg,
    Abs,
}

/// How `setp` combines its comparison with a third predicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comb {
    None,
    And,
    Or,
    Xor,
}

/// What kind of values `setp` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpTy {
    /// w bits, signed or not.
    Int {
        w: u8,
        signed: bool,
    },
    F32 {
        ftz: bool,
    },
    F64,
}

/// A `cvt` form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CvtKind {
    /// Integer to integer: extend by the source's signedness, truncate to `to_w`.
    Int {
        from_w: u8,
        from_signed: bool,
        to_w: u8,
    },
    F32ToF64 {
        ftz: bool,
    },
    F64ToF32 {
        rnd: Round,
        ftz: bool,
    },
    F32ToBf16 {
        rnd: Round,
    },
    Bf16ToF32,
    IntToF32 {
        w: u8,
        signed: bool,
        rnd: Round,
    },
    IntToF64 {
        w: u8,
        signed: bool,
        rnd: Round,
    },
    F32ToInt {
        irnd: IntRound,
        ftz: bool,
        signed: bool,
        w: u8,
    },
    F64ToInt {
        irnd: IntRound,
        signed: bool,
        w: u8,
    },
    /// f32 to f32: optional rounding to an integral value, flush, saturate.
    F32ToF32 {
        irnd: Option<IntRound>,
        ftz: bool,
        sat: bool,
    },
}

/// An atomic read-modify-write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AtomOp {
    Add,
    Exch,
    Cas,
    And,
    Or,
    Xor,
    Min,
    Max,
    Inc,
    Dec,
}

/// The value type of an atomic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AtomTy {
    /// Integer (or bits) of w bits.
    Int {
        w: u8,
        signed: bool,
    },
    F32,
    F64,
}

impl AtomTy {
    pub(crate) fn bytes(self) -> usize {
        match self {
            AtomTy::Int { w, .. } => w as usize / 8,
            AtomTy::F32 => 4,
            AtomTy::F64 => 8,
        }
    }
}

/// A `shfl.sync` mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShflMode {
    Up,
    Down,
    Bfly,
    Idx,
}

/// One decoded operation. Register operands are slot indices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op {
    /// `d = a & mask` (mov, cvta.to.global).
    Mov { d: R, a: R, mask: u64 },
    /// `mov.bN d, {a, b, ...}`: `d` = the parts, first in the low bits, each `ew` bits.
    Pack { d: R, parts: [R; 4], n: u8, ew: u8 },
    /// `mov.bN {d0, d1, ...}, a`: each part of `a`, first from the low bits.
    Unpack { d: [R; 4], n: u8, ew: u8, a: R },
    /// Two-operand integer arithmetic.
    Int {
        op: IntOp,
        w: u8,
        signed: bool,
        d: R,
        a: R,
        b: R,
    },
    /// `mad.lo` / `mad.hi` / `mad.wide`: `d = op(a, b) + c`.
    Mad {
        op: IntOp,
        w: u8,
        signed: bool,
        d: R,
        a: R,
        b: R,
        c: R,
    },
    /// One-operand integer arithmetic.
    Un { op: UnOp, w: u8, d: R, a: R },
    /// f32 arithmetic: `d = op(a, b, c)`.
    F32 {
        op: FOp,
        rnd: Round,
        ftz: bool,
        sat: bool,
        d: R,
        a: R,
        b: R,
        c: R,
    },
    /// f64 arithmetic.
    F64 {
        op: FOp,
        rnd: Round,
        d: R,
        a: R,
        b: R,
        c: R,
    },
    /// `setp`: `d = cmp(a, b) comb c`, and `q = !cmp(a, b) comb c` when q is not NONE.
    Setp {
        cmp: Cmp,
        ty: CmpTy,
        comb: Comb,
        negc: bool,
        d: R,
        q: R,
        a: R,
        b: R,
        c: R,
    },
    /// `selp`: `d = p ? a : b`.
    Selp { mask: u64, d: R, a: R, b: R, p: R },
    /// `cvt`. When `sext` is not 0, the destination type is a signed integer of
    /// `sext` bits narrower than the `dw`-bit destination register, and the
    /// result is sign-extended to the register (the ISA's rule for destination
    /// operands wider than the instruction type).
    Cvt {
        kind: CvtKind,
        d: R,
        a: R,
        sext: u8,
        dw: u8,
    },
    /// `ld.param`: `size` bytes at `off` of the parameter buffer.
    LdParam {
        d: R,
        off: u32,
        size: u8,
        signed: bool,
        dw: u8,
    },
    /// `ld.space`: `vec` elements of `size` bytes from `[addr + off]`; `dw` is
    /// the destination registers' width (sign or zero extension to it).
    Ld {
        space: Space,
        size: u8,
        vec: u8,
        signed: bool,
        volatile: bool,
        dw: u8,
        d: [R; 4],
        addr: R,
        off: i64,
    },
    /// `st.space`.
    St {
        space: Space,
        size: u8,
        vec: u8,
        a: [R; 4],
        addr: R,
        off: i64,
    },
    /// `atom`/`red`: `d = old` (unless NONE); `[addr+off] = op(old, b, c)`.
    Atom {
        space: Space,
        op: AtomOp,
        ty: AtomTy,
        d: R,
        addr: R,
        off: i64,
        b: R,
        c: R,
    },
    /// Unconditional branch.
    Bra { target: u32 },
    /// Conditional branch: taken when `(p != 0) != neg`.
    BraIf { target: u32, p: R, neg: bool },
    /// `exit` / `ret`.
    Exit,
    /// `bar.sync 0`.
    BarSync,
    /// `bar.warp.sync mask`.
    WarpSync { mask: R },
    /// `shfl.sync.mode.b32 d|p, a, b, c, mask`.
    Shfl {
        mode: ShflMode,
        d: R,
        p: R,
        a: R,
        b: R,
        c: R,
        mask: R,
    },
    /// `membar` / `fence`: nothing to do in a sequentially consistent machine.
    Nop,
}

impl Op {
    /// Every register slot the operation names (NONE where an optional operand is absent).
    pub(crate) fn slots(&self) -> Vec<R> {
        match *self {
            Op::Mov { d, a, .. } | Op::Un { d, a, .. } | Op::Cvt { d, a, .. } => vec![d, a],
            Op::Pack { d, parts, n, .. } => std::iter::once(d)
                .chain(parts[..n as usize].iter().copied())
                .collect(),
            Op::Unpack { d, n, a, .. } => std::iter::once(a)
                .chain(d[..n as usize].iter().copied())
                .collect(),
            Op::Int { d, a, b, .. } => vec![d, a, b],
            Op::Mad { d, a, b, c, .. } | Op::F32 { d, a, b, c, .. } | Op::F64 { d, a, b, c, .. } => {
                vec![d, a, b, c]
            }
            Op::Setp { d, q, a, b, c, .. } => vec![d, q, a, b, c],
            Op::Selp { d, a, b, p, .. } => vec![d, a, b, p],
            Op::LdParam { d, .. } => vec![d],
            Op::Ld { vec, d, addr, .. } => std::iter::once(addr)
                .chain(d[..vec as usize].iter().copied())
                .collect(),
            Op::St { vec, a, addr, .. } => std::iter::once(addr)
                .chain(a[..vec as usize].iter().copied())
                .collect(),
            Op::Atom { d, addr, b, c, .. } => vec![d, addr, b, c],
            Op::BraIf { p, .. } => vec![p],
            Op::WarpSync { mask } => vec![mask],
            Op::Shfl {
                d, p, a, b, c, mask, ..
            } => vec![d, p, a, b, c, mask],
            Op::Bra { .. } | Op::Exit | Op::BarSync | Op::Nop => vec![],
        }
    }

    /// The slots that may be NONE: setp's `q`, an atomic's `d` and `c`, a shuffle's `p`.
    fn optional(&self, i: usize) -> bool {
        matches!(
            (self, i),
            (Op::Setp { .. }, 1) | (Op::Atom { .. }, 0 | 3) | (Op::Shfl { .. }, 1)
        )
    }
}

/// Checks that every slot every instruction names lies in the register file
/// (what lets the interpreter index registers without bounds checks), and that
/// every branch lands on an instruction.
fn check_slots(code: &[Inst], nregs: usize) -> Result<(), String> {
    for (i, ins) in code.iter().enumerate() {
        for (j, s) in ins.op.slots().into_iter().enumerate() {
            if (s as usize) < nregs || (s == NONE && ins.op.optional(j)) {
                continue;
            }
            return Err(format!(
                "instruction {i} names the slot {s} outside the {nregs}-slot register file"
            ));
        }
        if ins.guard != NO_GUARD && (ins.guard & !GUARD_NEG) as usize >= nregs {
            return Err(format!("instruction {i} has a guard outside the register file"));
        }
        if let Op::Bra { target } | Op::BraIf { target, .. } = ins.op {
            if target as usize >= code.len() {
                return Err(format!("instruction {i} branches outside the kernel"));
            }
        }
    }
    Ok(())
}

/// An instruction: its operation and its guard predicate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Inst {
    /// The operation.
    pub op: Op,
    /// [`NO_GUARD`], or the guard's slot with [`GUARD_NEG`] set for `@!%p`.
    pub guard: u32,
}

/// An unguarded instruction.
pub(crate) const NO_GUARD: u32 = u32::MAX;
/// The bit of [`Inst::guard`] that negates the predicate.
pub(crate) const GUARD_NEG: u32 = 1 << 31;

// ---------------------------------------------------------------------------
// The parser
// ---------------------------------------------------------------------------

/// The mask of a `bits`-wide value (1 for a predicate).
pub(crate) const fn mask(bits: u8) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// A PTX type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TyK {
    B,
    U,
    S,
    F,
    Bf16,
    Pred,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ty {
    k: TyK,
    bits: u8,
}

impl Ty {
    fn parse(s: &str) -> Option<Ty> {
        let (k, rest) = match s.as_bytes().first()? {
            b'b' if s == "bf16" => {
                return Some(Ty {
                    k: TyK::Bf16,
                    bits: 16,
                })
            }
            b'p' if s == "pred" => {
                return Some(Ty {
                    k: TyK::Pred,
                    bits: 1,
                })
            }
            b'b' => (TyK::B, &s[1..]),
            b'u' => (TyK::U, &s[1..]),
            b's' => (TyK::S, &s[1..]),
            b'f' => (TyK::F, &s[1..]),
            _ => return None,
        };
        let bits: u8 = match rest {
            "8" => 8,
            "16" => 16,
            "32" => 32,
            "64" => 64,
            _ => return None,
        };
        if k == TyK::F && bits < 16 {
            return None;
        }
        Some(Ty { k, bits })
    }
    fn is_int(self) -> bool {
        matches!(self.k, TyK::B | TyK::U | TyK::S)
    }
    fn f32(self) -> bool {
        self.k == TyK::F && self.bits == 32
    }
    fn f64(self) -> bool {
        self.k == TyK::F && self.bits == 64
    }
}

/// One operand as written.
#[derive(Debug, Clone, PartialEq)]
enum Opnd {
    /// `%name` (a register or a special register).
    Reg(String),
    /// `%r|%p`.
    Pair(String, String),
    /// `!%p` (setp's third operand).
    NotReg(String),
    /// An integer literal (sign-extended bits) or a float literal's bits.
    Imm(u64),
    /// A name (a label, a shared symbol, the local depot).
    Sym(String),
    /// `[base+off]`: base a register or a symbol.
    Addr(Box<Opnd>, i64),
    /// `{%a, %b, ...}`.
    Vec(Vec<String>),
}

fn parse_int(s: &str) -> Option<u64> {
    let (neg, t) = match s.strip_prefix('-') {
        Some(t) => (true, t),
        None => (false, s),
    };
    let t = t.strip_suffix('U').unwrap_or(t);
    let v = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()?
    } else if t.len() > 1 && t.starts_with('0') && t.bytes().all(|c| c.is_ascii_digit()) {
        u64::from_str_radix(&t[1..], 8).ok()?
    } else {
        t.parse::<u64>().ok()?
    };
    Some(if neg { v.wrapping_neg() } else { v })
}

fn parse_operand(s: &str) -> Result<Opnd, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("an empty operand".into());
    }
    if let Some(inner) = s.strip_prefix('{') {
        let inner = inner.strip_suffix('}').ok_or("an unclosed `{`")?;
        let regs: Vec<String> = inner.split(',').map(|r| r.trim().to_string()).collect();
        if regs.iter().any(|r| !r.starts_with('%')) {
            return Err(format!("a vector operand `{s}` of other than registers"));
        }
        return Ok(Opnd::Vec(regs));
    }
    if let Some(inner) = s.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or("an unclosed `[`")?.trim();
        let (base, off) = match inner.find('+') {
            Some(i) => {
                let off = parse_int(inner[i + 1..].trim()).ok_or(format!("an address offset in `{s}`"))?;
                (inner[..i].trim(), off as i64)
            }
            None => (inner, 0),
        };
        let b = if base.starts_with('%') {
            Opnd::Reg(base.to_string())
        } else if base.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '$') {
            Opnd::Sym(base.to_string())
        } else {
            return Err(format!("an absolute address `{s}`"));
        };
        return Ok(Opnd::Addr(Box::new(b), off));
    }
    if let Some(i) = s.find('|') {
        return Ok(Opnd::Pair(
            s[..i].trim().to_string(),
            s[i + 1..].trim().to_string(),
        ));
    }
    if let Some(r) = s.strip_prefix('!') {
        return Ok(Opnd::NotReg(r.trim().to_string()));
    }
    if s.starts_with('%') {
        return Ok(Opnd::Reg(s.to_string()));
    }
    let b = s.as_bytes();
    if b[0].is_ascii_digit() || b[0] == b'-' {
        if s.len() == 10 && (s.starts_with("0f") || s.starts_with("0F")) {
            return u32::from_str_radix(&s[2..], 16)
                .map(|v| Opnd::Imm(v as u64))
                .map_err(|_| format!("`{s}`"));
        }
        if s.len() == 18 && (s.starts_with("0d") || s.starts_with("0D")) {
            return u64::from_str_radix(&s[2..], 16)
                .map(Opnd::Imm)
                .map_err(|_| format!("`{s}`"));
        }
        return parse_int(s)
            .map(Opnd::Imm)
            .ok_or(format!("a literal `{s}` (only integers, 0f and 0d)"));
    }
    Ok(Opnd::Sym(s.to_string()))
}

/// Splits an operand list at the commas outside `{}` and `[]`.
fn split_operands(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if !s[start..].trim().is_empty() {
        out.push(&s[start..]);
    }
    out
}

/// A symbol a kernel body can name.
#[derive(Debug, Clone, Copy)]
enum SymKind {
    /// A shared symbol at this offset of the window.
    Shared(u64),
    /// The local depot at this offset of the frame.
    Local(u64),
    /// A parameter at this offset of the parameter buffer.
    Param(u64),
}

/// A module-level shared declaration.
#[derive(Debug, Clone)]
struct SharedDecl {
    name: String,
    align: usize,
    /// None for `extern` (dynamic).
    size: Option<usize>,
}

/// Parses `[.extern] .shared .align A .type name[N]` (or a scalar), or
/// `.local .align A .b8 name[N]`; returns (name, align, size; None for `[]`).
fn parse_var_decl(s: &str) -> Result<(String, usize, Option<usize>), String> {
    let toks: Vec<&str> = s.split_whitespace().collect();
    let mut align = 1usize;
    let mut elem = None;
    let mut name = None;
    let mut i = 0;
    while i < toks.len() {
        match toks[i] {
            ".extern" | ".shared" | ".local" => {}
            ".align" => {
                i += 1;
                align = toks.get(i).and_then(|t| t.parse().ok()).ok_or("a bad .align")?;
            }
            t if t.starts_with('.') => {
                let ty = Ty::parse(&t[1..]).ok_or(format!("the type `{t}`"))?;
                elem = Some((ty.bits as usize).div_ceil(8).max(1));
            }
            t => {
                if name.is_some() {
                    return Err(format!("`{t}`"));
                }
                name = Some(t);
            }
        }
        i += 1;
    }
    let elem = elem.ok_or("a declaration without a type")?;
    let name = name.ok_or("a declaration without a name")?;
    if !align.is_power_of_two() {
        return Err(format!("the alignment {align}"));
    }
    if let Some(b) = name.find('[') {
        let n = name[b + 1..].strip_suffix(']').ok_or("an unclosed `[`")?.trim();
        let size = if n.is_empty() {
            None
        } else {
            Some(elem * n.parse::<usize>().map_err(|_| "a bad size")?)
        };
        Ok((name[..b].to_string(), align.max(1), size))
    } else if name.contains('<') || name.contains('=') {
        Err(format!("`{name}`"))
    } else {
        Ok((name.to_string(), align.max(elem), Some(elem)))
    }
}

struct Parser<'t> {
    lines: Vec<&'t str>,
    i: usize,
    shared: Vec<SharedDecl>,
}

fn strip_comment(l: &str) -> &str {
    match l.find("//") {
        Some(i) => &l[..i],
        None => l,
    }
}

impl<'t> Parser<'t> {
    fn new(text: &'t str) -> Self {
        Parser {
            lines: text.lines().collect(),
            i: 0,
            shared: Vec::new(),
        }
    }

    fn err(&self, line: usize, kernel: Option<&str>, what: &str) -> LoadError {
        let text = self
            .lines
            .get(line.wrapping_sub(1))
            .map(|l| l.trim())
            .unwrap_or("");
        match kernel {
            Some(k) => LoadError(format!("PTX line {line}, kernel {k}: {what}: `{text}`")),
            None => LoadError(format!("PTX line {line}: {what}: `{text}`")),
        }
    }

    fn module(mut self) -> Result<Module, LoadError> {
        let mut kernels = Vec::new();
        let mut in_block_comment = false;
        while self.i < self.lines.len() {
            let lineno = self.i + 1;
            let raw = self.lines[self.i];
            self.i += 1;
            // Block comments (nvcc writes none, but they are legal).
            let mut l = raw;
            if in_block_comment {
                match l.find("*/") {
                    Some(e) => {
                        in_block_comment = false;
                        l = &l[e + 2..];
                    }
                    None => continue,
                }
            }
            if let Some(s) = l.find("/*") {
                if !l[s..].contains("*/") {
                    in_block_comment = true;
                }
                l = &l[..s];
            }
            let l = strip_comment(l).trim();
            if l.is_empty() {
                continue;
            }
            let first = l.split_whitespace().next().unwrap_or("");
            match first {
                ".version" | ".target" | ".address_size" => {
                    if first == ".address_size" && !l.contains("64") {
                        return Err(self.err(lineno, None, "only 64-bit addresses are supported"));
                    }
                }
                ".extern" | ".shared" if l.contains(".shared") => {
                    let (name, align, size) = parse_var_decl(l.trim_end_matches(';'))
                        .map_err(|e| self.err(lineno, None, &format!("unsupported declaration ({e})")))?;
                    let extern_ = first == ".extern";
                    if extern_ != size.is_none() {
                        return Err(self.err(
                            lineno,
                            None,
                            "a shared array must be extern exactly when unsized",
                        ));
                    }
                    self.shared.push(SharedDecl { name, align, size });
                }
                ".visible" | ".entry" | ".weak" if l.contains(".entry") => {
                    kernels.push(Arc::new(self.entry(lineno, l)?));
                }
                _ if l.contains(".func") => {
                    return Err(self.err(lineno, None, "unsupported directive (device functions and calls)"));
                }
                _ => return Err(self.err(lineno, None, "unsupported directive")),
            }
        }
        Ok(Module { kernels })
    }

    /// Parses one `.entry` starting at `first` (line `lineno`), through its closing brace.
    fn entry(&mut self, lineno: usize, first: &str) -> Result<Kernel, LoadError> {
        let after = first.split(".entry").nth(1).unwrap_or("").trim();
        let name_end = after
            .find(|c: char| c == '(' || c.is_whitespace())
            .unwrap_or(after.len());
        let name = after[..name_end].to_string();
        if name.is_empty() {
            return Err(self.err(lineno, None, "an entry without a name"));
        }
        let kn = Some(name.as_str());
        // The parameter list: from '(' to ')'.
        let mut header = after[name_end..].to_string();
        while !header.contains(')') {
            let Some(l) = self.lines.get(self.i) else {
                return Err(self.err(lineno, kn, "an unterminated parameter list"));
            };
            self.i += 1;
            header.push(' ');
            header.push_str(strip_comment(l));
        }
        let open = header.find('(');
        let close = header.rfind(')').unwrap_or(header.len());
        let plist = match open {
            Some(o) if o < close => &header[o + 1..close],
            _ => return Err(self.err(lineno, kn, "a malformed parameter list")),
        };
        let mut params = Vec::new();
        let mut syms: HashMap<String, SymKind> = HashMap::new();
        let mut param_offsets = Vec::new();
        let mut poff = 0usize;
        for p in plist.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let toks: Vec<&str> = p.split_whitespace().collect();
            if toks.first() != Some(&".param") {
                return Err(self.err(lineno, kn, &format!("an unsupported parameter `{p}`")));
            }
            let decl = toks[1..].join(" ");
            let (pname, align, size) = parse_var_decl(&decl)
                .map_err(|e| self.err(lineno, kn, &format!("an unsupported parameter `{p}` ({e})")))?;
            let size = size.ok_or_else(|| self.err(lineno, kn, "an unsized parameter"))?;
            poff = poff.div_ceil(align) * align;
            syms.insert(pname.clone(), SymKind::Param(poff as u64));
            param_offsets.push(poff);
            poff += size;
            params.push(Param { name: pname, size });
        }
        // Performance directives up to '{'.
        let mut max_threads = None;
        let mut min_blocks = None;
        let rest = header[close + 1..].trim().to_string();
        let mut pending: Vec<(usize, String)> = Vec::new();
        if !rest.is_empty() {
            pending.push((lineno, rest));
        }
        loop {
            let (ln, l) = match pending.pop() {
                Some(x) => x,
                None => {
                    let Some(l) = self.lines.get(self.i) else {
                        return Err(self.err(lineno, kn, "an entry without a body"));
                    };
                    self.i += 1;
                    (self.i, strip_comment(l).trim().to_string())
                }
            };
            if l.is_empty() {
                continue;
            }
            if l == "{" {
                break;
            }
            let nums = |l: &str| -> Vec<u32> {
                l.split_whitespace()
                    .skip(1)
                    .collect::<String>()
                    .split(',')
                    .filter_map(|t| t.trim().parse().ok())
                    .collect()
            };
            if l.starts_with(".maxntid") || l.starts_with(".reqntid") {
                let v = nums(&l);
                if v.is_empty() || v.iter().skip(1).any(|&d| d != 1) {
                    return Err(self.err(ln, kn, "only x-dimensional .maxntid is supported"));
                }
                max_threads = Some(v[0]);
            } else if l.starts_with(".minnctapersm") {
                min_blocks = nums(&l).first().copied();
            } else if l.starts_with(".maxnreg") || l.starts_with(".pragma") {
            } else {
                return Err(self.err(ln, kn, "an unsupported entry directive"));
            }
        }
        // The body.
        let mut dec = Decoder::new(&name);
        dec.syms = syms;
        let mut body: Vec<(usize, String)> = Vec::new();
        let mut local_shared: Vec<SharedDecl> = Vec::new();
        let mut local_bytes = 0usize;
        let mut depth = 1;
        let mut acc = String::new();
        let mut acc_line = 0;
        loop {
            let Some(l) = self.lines.get(self.i) else {
                return Err(self.err(lineno, kn, "an unterminated kernel body"));
            };
            self.i += 1;
            let ln = self.i;
            let l = strip_comment(l).trim();
            if l.is_empty() {
                continue;
            }
            if l == "{" {
                depth += 1;
                continue;
            }
            if l == "}" {
                depth -= 1;
                if depth == 0 {
                    break;
                }
                continue;
            }
            let mut l = l;
            // Labels.
            if acc.is_empty() {
                if let Some(c) = l.find(':') {
                    let lab = l[..c].trim();
                    if !lab.is_empty()
                        && lab
                            .chars()
                            .all(|ch| ch.is_ascii_alphanumeric() || "_$.".contains(ch))
                    {
                        body.push((ln, format!("{lab}:")));
                        l = l[c + 1..].trim();
                        if l.is_empty() {
                            continue;
                        }
                    }
                }
            }
            if acc.is_empty() {
                acc_line = ln;
            } else {
                acc.push(' ');
            }
            acc.push_str(l);
            while let Some(sc) = acc.find(';') {
                let stmt = acc[..sc].trim().to_string();
                acc = acc[sc + 1..].trim().to_string();
                if !stmt.is_empty() {
                    body.push((acc_line, stmt));
                }
            }
        }
        if !acc.trim().is_empty() {
            return Err(self.err(acc_line, kn, "a statement without `;`"));
        }
        // Declarations first: registers, shared, local.
        for (ln, s) in &body {
            let ln = *ln;
            if s.starts_with(".reg") {
                dec.declare_regs(s)
                    .map_err(|e| self.err(ln, kn, &format!("unsupported .reg ({e})")))?;
            } else if s.starts_with(".shared") {
                let (n, align, size) =
                    parse_var_decl(s).map_err(|e| self.err(ln, kn, &format!("unsupported .shared ({e})")))?;
                let size = size.ok_or_else(|| self.err(ln, kn, "an unsized .shared in a kernel"))?;
                local_shared.push(SharedDecl {
                    name: n,
                    align,
                    size: Some(size),
                });
            } else if s.starts_with(".local") {
                let (n, align, size) =
                    parse_var_decl(s).map_err(|e| self.err(ln, kn, &format!("unsupported .local ({e})")))?;
                let size = size.ok_or_else(|| self.err(ln, kn, "an unsized .local"))?;
                let off = local_bytes.div_ceil(align) * align;
                dec.syms.insert(n, SymKind::Local(off as u64));
                local_bytes = off + size;
            }
        }
        // The shared window: module-level static symbols this kernel names,
        // then its own, then the dynamic array.
        let mentions = |n: &str| body.iter().any(|(_, s)| s.contains(n));
        let mut soff = 0usize;
        let mut dyn_align = 16usize;
        let mut dyn_names = Vec::new();
        let module_shared = self.shared.clone();
        for d in module_shared.iter().chain(local_shared.iter()) {
            match d.size {
                Some(size) => {
                    if local_shared.iter().any(|x| std::ptr::eq(x, d)) || mentions(&d.name) {
                        soff = soff.div_ceil(d.align) * d.align;
                        dec.syms.insert(d.name.clone(), SymKind::Shared(soff as u64));
                        soff += size;
                    }
                }
                None => {
                    dyn_align = dyn_align.max(d.align);
                    dyn_names.push(d.name.clone());
                }
            }
        }
        let static_shared = soff;
        let dyn_off = soff.div_ceil(dyn_align) * dyn_align;
        for n in dyn_names {
            dec.syms.insert(n, SymKind::Shared(dyn_off as u64));
        }
        // Labels: each names the index of the next instruction.
        let mut n = 0u32;
        for (_, s) in &body {
            if let Some(lab) = s.strip_suffix(':') {
                dec.labels.insert(lab.to_string(), n);
            } else if !s.starts_with('.') {
                n += 1;
            }
        }
        // Instructions.
        for (ln, s) in &body {
            if s.ends_with(':') {
                continue;
            }
            if s.starts_with('.') {
                let d = s.split_whitespace().next().unwrap_or("");
                if !matches!(d, ".reg" | ".shared" | ".local" | ".pragma") {
                    return Err(self.err(*ln, kn, "an unsupported directive"));
                }
                continue;
            }
            let inst = dec.instruction(s).map_err(|e| {
                LoadError(format!(
                    "PTX line {ln}, kernel {name}: unsupported instruction `{s}`: {e}"
                ))
            })?;
            dec.code.push(inst);
            dec.lines.push(*ln as u32);
            dec.text.push(s.clone());
        }
        // Falling off the end is an exit.
        dec.code.push(Inst {
            op: Op::Exit,
            guard: NO_GUARD,
        });
        dec.lines.push(self.i as u32);
        dec.text.push("} (end of kernel)".into());
        check_slots(&dec.code, dec.next as usize)
            .map_err(|e| LoadError(format!("kernel {name}: an internal decoding error: {e}")))?;
        let mut init = dec.consts_init.clone();
        init.resize(dec.next as usize, 0);
        init[slot::ONE as usize] = 1;
        Ok(Kernel {
            name,
            params,
            static_shared,
            local_bytes,
            max_threads,
            code: dec.code,
            lines: dec.lines,
            text: dec.text,
            nregs: dec.next as usize,
            init,
            param_offsets,
            param_bytes: poff,
            dyn_shared_offset: dyn_off,
            declared_regs: dec.declared_regs,
            min_blocks,
        })
    }
}

/// Classified opcode modifiers.
#[derive(Debug, Default)]
struct Mods<'a> {
    rnd: Option<Round>,
    irnd: Option<IntRound>,
    ftz: bool,
    sat: bool,
    approx: bool,
    space: Option<&'a str>,
    vec: u8,
    volatile: bool,
    lohi: Option<&'a str>,
    cmp: Option<&'a str>,
    word: Option<&'a str>,
    shfl: Option<ShflMode>,
    types: Vec<Ty>,
    /// Modifiers that change nothing here (cache operators, memory-order
    /// qualifiers, scopes, `.uni`, `.sync`, `.aligned`, `.to`).
    ignored: Vec<&'a str>,
}

fn classify<'a>(base: &str, parts: &[&'a str]) -> Result<Mods<'a>, String> {
    let mut m = Mods {
        vec: 1,
        ..Default::default()
    };
    for &p in parts {
        match p {
            "rn" => m.rnd = Some(Round::Rn),
            "rz" => m.rnd = Some(Round::Rz),
            "rm" => m.rnd = Some(Round::Rm),
            "rp" => m.rnd = Some(Round::Rp),
            "rni" => m.irnd = Some(IntRound::Rni),
            "rzi" => m.irnd = Some(IntRound::Rzi),
            "rmi" => m.irnd = Some(IntRound::Rmi),
            "rpi" => m.irnd = Some(IntRound::Rpi),
            "ftz" => m.ftz = true,
            "sat" => m.sat = true,
            "approx" => m.approx = true,
            "global" | "shared" | "local" | "param" | "const" | "tex" => m.space = Some(p),
            "v2" => m.vec = 2,
            "v4" => m.vec = 4,
            "volatile" => m.volatile = true,
            "ca" | "cg" | "cs" | "lu" | "cv" | "nc" | "wb" | "wt" | "relaxed" | "acquire" | "release"
            | "acq_rel" | "weak" | "cta" | "gpu" | "sys" | "gl" | "uni" | "sync" | "aligned" | "to" => {
                m.ignored.push(p)
            }
            "lo" | "hi" if base == "setp" => m.cmp = Some(p),
            "lo" | "hi" | "wide" => m.lohi = Some(p),
            "eq" | "ne" | "lt" | "le" | "gt" | "ge" | "ls" | "hs" | "equ" | "neu" | "ltu" | "leu" | "gtu"
            | "geu" | "num" | "nan" => m.cmp = Some(p),
            "and" | "or" | "xor" | "add" | "exch" | "cas" | "min" | "max" | "inc" | "dec" => m.word = Some(p),
            "up" => m.shfl = Some(ShflMode::Up),
            "down" => m.shfl = Some(ShflMode::Down),
            "bfly" => m.shfl = Some(ShflMode::Bfly),
            "idx" => m.shfl = Some(ShflMode::Idx),
            "warp" if base == "bar" => m.ignored.push(p),
            _ => match Ty::parse(p) {
                Some(t) => m.types.push(t),
                None => return Err(format!("the modifier `.{p}`")),
            },
        }
    }
    Ok(m)
}

/// Decodes one kernel's statements.
struct Decoder {
    kernel: String,
    regs: HashMap<String, (R, u8)>,
    consts: HashMap<u64, R>,
    consts_init: Vec<u64>,
    syms: HashMap<String, SymKind>,
    labels: HashMap<String, u32>,
    next: R,
    declared_regs: u32,
    code: Vec<Inst>,
    lines: Vec<u32>,
    text: Vec<String>,
}

impl Decoder {
    fn new(kernel: &str) -> Self {
        let mut regs = HashMap::new();
        for (n, s) in [
            ("%tid.x", slot::TID),
            ("%ntid.x", slot::NTID),
            ("%ctaid.x", slot::CTAID),
            ("%nctaid.x", slot::NCTAID),
            ("%laneid", slot::LANEID),
            ("%warpid", slot::WARPID),
            ("%nwarpid", slot::NWARPID),
            ("%tid.y", slot::ZERO),
            ("%tid.z", slot::ZERO),
            ("%ctaid.y", slot::ZERO),
            ("%ctaid.z", slot::ZERO),
            ("%ntid.y", slot::ONE),
            ("%ntid.z", slot::ONE),
            ("%nctaid.y", slot::ONE),
            ("%nctaid.z", slot::ONE),
        ] {
            regs.insert(n.to_string(), (s, 32));
        }
        Decoder {
            kernel: kernel.to_string(),
            regs,
            consts: HashMap::new(),
            consts_init: vec![0; slot::FIRST as usize],
            syms: HashMap::new(),
            labels: HashMap::new(),
            next: slot::FIRST,
            declared_regs: 0,
            code: Vec::new(),
            lines: Vec::new(),
            text: Vec::new(),
        }
    }

    /// `.reg .b32 %r<N>;` or `.reg .b64 %SP, %SPL;`
    fn declare_regs(&mut self, s: &str) -> Result<(), String> {
        let mut toks = s.split_whitespace().skip(1);
        let ty = toks
            .next()
            .and_then(|t| t.strip_prefix('.'))
            .and_then(Ty::parse)
            .ok_or("a bad type")?;
        let width = if ty.k == TyK::Pred { 1 } else { ty.bits };
        let names: String = toks.collect::<Vec<_>>().join("");
        for n in names.split(',').filter(|n| !n.is_empty()) {
            if let Some(lt) = n.find('<') {
                let count: u32 = n[lt + 1..]
                    .strip_suffix('>')
                    .and_then(|c| c.parse().ok())
                    .ok_or("a bad range")?;
                let stem = &n[..lt];
                for i in 0..count {
                    self.add_reg(format!("{stem}{i}"), width)?;
                }
                if ty.k != TyK::Pred {
                    self.declared_regs += count * if ty.bits == 64 { 2 } else { 1 };
                }
            } else {
                self.add_reg(n.to_string(), width)?;
                if ty.k != TyK::Pred {
                    self.declared_regs += if ty.bits == 64 { 2 } else { 1 };
                }
            }
        }
        Ok(())
    }

    fn add_reg(&mut self, name: String, width: u8) -> Result<(), String> {
        if !name.starts_with('%') {
            return Err(format!("the register name `{name}`"));
        }
        if self.regs.insert(name.clone(), (self.next, width)).is_some() {
            return Err(format!("`{name}` declared twice"));
        }
        self.next = self.next.checked_add(1).ok_or("too many registers")?;
        Ok(())
    }

    fn konst(&mut self, v: u64) -> R {
        if let Some(&r) = self.consts.get(&v) {
            return r;
        }
        let r = self.next;
        self.next += 1;
        self.consts_init.resize(r as usize + 1, 0);
        self.consts_init[r as usize] = v;
        self.consts.insert(v, r);
        r
    }

    fn reg(&self, n: &str) -> Result<(R, u8), String> {
        self.regs
            .get(n)
            .copied()
            .ok_or_else(|| format!("the undeclared register `{n}`"))
    }

    /// A destination: a declared register (never a special one or a constant).
    fn dst(&self, o: &Opnd) -> Result<R, String> {
        Ok(self.dst_w(o)?.0)
    }
    fn dst_w(&self, o: &Opnd) -> Result<(R, u8), String> {
        match o {
            Opnd::Reg(n) => {
                let (r, w) = self.reg(n)?;
                if r < slot::FIRST {
                    return Err(format!("a write to the special register `{n}`"));
                }
                Ok((r, w))
            }
            _ => Err(format!("a destination that is not a register ({o:?})")),
        }
    }

    /// A source: a register, special register, immediate, or the address of a shared/local symbol.
    fn src(&mut self, o: &Opnd) -> Result<R, String> {
        match o {
            Opnd::Reg(n) => Ok(self.reg(n)?.0),
            Opnd::Imm(v) => Ok(self.konst(*v)),
            Opnd::Sym(s) => match self.syms.get(s) {
                Some(SymKind::Shared(off)) | Some(SymKind::Local(off)) => {
                    let off = *off;
                    Ok(self.konst(off))
                }
                _ => Err(format!(
                    "the symbol `{s}` as a value (only shared and local symbols are)"
                )),
            },
            _ => Err(format!("an operand of an unexpected form ({o:?})")),
        }
    }

    /// `[base+off]` of the space `space`: the base register (or the constant
    /// that holds a symbol's offset) and the offset.
    fn addr(&mut self, o: &Opnd, space: Space) -> Result<(R, i64), String> {
        let Opnd::Addr(base, off) = o else {
            return Err(format!("an address expected, not {o:?}"));
        };
        match &**base {
            Opnd::Reg(n) => Ok((self.reg(n)?.0, *off)),
            Opnd::Sym(s) => match (self.syms.get(s), space) {
                (Some(SymKind::Shared(v)), Space::Shared) | (Some(SymKind::Local(v)), Space::Local) => {
                    let v = *v;
                    Ok((self.konst(v), *off))
                }
                _ => Err(format!("the symbol `{s}` in this state space")),
            },
            _ => Err("a bad address".into()),
        }
    }

    fn label(&self, o: &Opnd) -> Result<u32, String> {
        match o {
            Opnd::Sym(s) => self
                .labels
                .get(s)
                .copied()
                .ok_or_else(|| format!("the unknown label `{s}`")),
            _ => Err("a branch target that is not a label".into()),
        }
    }

    fn instruction(&mut self, s: &str) -> Result<Inst, String> {
        let _ = &self.kernel;
        let mut s = s.trim();
        let mut guard = NO_GUARD;
        if let Some(g) = s.strip_prefix('@') {
            let end = g
                .find(char::is_whitespace)
                .ok_or("a guard without an instruction")?;
            let (neg, p) = match g[..end].strip_prefix('!') {
                Some(p) => (true, p),
                None => (false, &g[..end]),
            };
            let (r, w) = self.reg(p)?;
            if w != 1 {
                return Err(format!("the guard `{p}` is not a predicate"));
            }
            guard = r | if neg { GUARD_NEG } else { 0 };
            s = g[end..].trim();
        }
        let (opcode, rest) = match s.find(char::is_whitespace) {
            Some(i) => (&s[..i], s[i..].trim()),
            None => (s, ""),
        };
        let ops: Vec<Opnd> = split_operands(rest)
            .into_iter()
            .map(parse_operand)
            .collect::<Result<_, _>>()?;
        let parts: Vec<&str> = opcode.split('.').collect();
        let base = parts[0];
        let m = classify(base, &parts[1..])?;
        let op = self.decode(base, &m, &ops)?;
        // A guarded branch is a conditional branch.
        if guard != NO_GUARD {
            if let Op::Bra { target } = op {
                return Ok(Inst {
                    op: Op::BraIf {
                        target,
                        p: guard & !GUARD_NEG,
                        neg: guard & GUARD_NEG != 0,
                    },
                    guard: NO_GUARD,
                });
            }
            if matches!(op, Op::BarSync | Op::Shfl { .. } | Op::WarpSync { .. }) {
                return Err("a guarded barrier or shuffle".into());
            }
        }
        Ok(Inst { op, guard })
    }

    fn decode(&mut self, base: &str, m: &Mods, ops: &[Opnd]) -> Result<Op, String> {
        let n_ops = |n: usize| -> Result<(), String> {
            if ops.len() == n {
                Ok(())
            } else {
                Err(format!("{} operands where {n} were expected", ops.len()))
            }
        };
        let one_ty = || -> Result<Ty, String> {
            match m.types.as_slice() {
                [t] => Ok(*t),
                _ => Err("not exactly one type".into()),
            }
        };
        let no_ignored = || -> Result<(), String> {
            match m.ignored.first() {
                Some(p) => Err(format!("the modifier `.{p}` here")),
                None => Ok(()),
            }
        };
        let no_float_mods = || -> Result<(), String> {
            if m.rnd.is_some() || m.irnd.is_some() || m.ftz || m.sat || m.approx {
                Err("a float modifier on an integer instruction".into())
            } else {
                Ok(())
            }
        };
        let plain = || -> Result<(), String> {
            if m.space.is_some() || m.vec != 1 || m.volatile || m.shfl.is_some() || m.cmp.is_some() {
                Err("a modifier this instruction does not take".into())
            } else {
                Ok(())
            }
        };
        match base {
            "add" | "sub" | "mul" | "mad" | "div" | "rem" | "min" | "max" | "and" | "or" | "xor" | "shl"
            | "shr" | "fma" => {
                plain()?;
                no_ignored()?;
                if m.word.is_some() {
                    return Err("an unexpected modifier".into());
                }
                let t = one_ty()?;
                let three = matches!(base, "mad" | "fma");
                n_ops(if three { 4 } else { 3 })?;
                let d = self.dst(&ops[0])?;
                let a = self.src(&ops[1])?;
                let b = self.src(&ops[2])?;
                let c = if three { self.src(&ops[3])? } else { slot::ZERO };
                if t.f32() || t.f64() {
                    if m.lohi.is_some() || m.irnd.is_some() {
                        return Err("an integer modifier on a float instruction".into());
                    }
                    let fop = match base {
                        "add" => FOp::Add,
                        "sub" => FOp::Sub,
                        "mul" => FOp::Mul,
                        "fma" | "mad" => FOp::Fma,
                        "div" => FOp::Div,
                        "min" => FOp::Min,
                        "max" => FOp::Max,
                        _ => return Err("a float form that does not exist".into()),
                    };
                    if m.approx {
                        return Err("an approximate form (not implemented)".into());
                    }
                    if matches!(fop, FOp::Fma | FOp::Div) && m.rnd.is_none() {
                        return Err("fma/mad/div without a rounding mode (div.full is approximate)".into());
                    }
                    if matches!(fop, FOp::Min | FOp::Max) && m.rnd.is_some() {
                        return Err("a rounding mode on min/max".into());
                    }
                    let rnd = m.rnd.unwrap_or(Round::Rn);
                    if t.f32() {
                        return Ok(Op::F32 {
                            op: fop,
                            rnd,
                            ftz: m.ftz,
                            sat: m.sat,
                            d,
                            a,
                            b,
                            c,
                        });
                    }
                    if m.ftz || m.sat {
                        return Err(".ftz/.sat on f64".into());
                    }
                    return Ok(Op::F64 {
                        op: fop,
                        rnd,
                        d,
                        a,
                        b,
                        c,
                    });
                }
                no_float_mods()?;
                if !(t.is_int() || t.k == TyK::Pred && matches!(base, "and" | "or" | "xor")) {
                    return Err("an unsupported type".into());
                }
                let w = if t.k == TyK::Pred { 1 } else { t.bits };
                if w == 8 {
                    return Err("8-bit arithmetic".into());
                }
                let signed = t.k == TyK::S;
                let iop = match (base, m.lohi) {
                    ("add", None) => IntOp::Add,
                    ("sub", None) => IntOp::Sub,
                    ("mul" | "mad", Some("lo")) => IntOp::MulLo,
                    ("mul" | "mad", Some("hi")) => IntOp::MulHi,
                    ("mul" | "mad", Some("wide")) if w <= 32 => IntOp::MulWide,
                    ("div", None) => IntOp::Div,
                    ("rem", None) => IntOp::Rem,
                    ("min", None) => IntOp::Min,
                    ("max", None) => IntOp::Max,
                    ("and", None) => IntOp::And,
                    ("or", None) => IntOp::Or,
                    ("xor", None) => IntOp::Xor,
                    ("shl", None) if t.k == TyK::B => IntOp::Shl,
                    ("shr", None) => IntOp::Shr,
                    _ => return Err("an unsupported integer form".into()),
                };
                if matches!(base, "and" | "or" | "xor") && t.k != TyK::B && t.k != TyK::Pred {
                    return Err("a logic op on a non-.b type".into());
                }
                if base == "mad" {
                    return Ok(Op::Mad {
                        op: iop,
                        w,
                        signed,
                        d,
                        a,
                        b,
                        c,
                    });
                }
                Ok(Op::Int {
                    op: iop,
                    w,
                    signed,
                    d,
                    a,
                    b,
                })
            }
            "neg" | "not" | "abs" | "sqrt" | "rcp" | "ex2" => {
                plain()?;
                no_ignored()?;
                if m.word.is_some() || m.lohi.is_some() {
                    return Err("an unexpected modifier".into());
                }
                let t = one_ty()?;
                n_ops(2)?;
                let d = self.dst(&ops[0])?;
                let a = self.src(&ops[1])?;
                if t.f32() || t.f64() {
                    let fop = match base {
                        "neg" => FOp::Neg,
                        "abs" => FOp::Abs,
                        "sqrt" => FOp::Sqrt,
                        "rcp" => FOp::Rcp,
                        "ex2" => FOp::Ex2,
                        _ => return Err("a float form that does not exist".into()),
                    };
                    match fop {
                        FOp::Ex2 if !(m.approx && t.f32() && m.rnd.is_none()) => {
                            return Err("ex2 other than ex2.approx{.ftz}.f32".into())
                        }
                        FOp::Sqrt | FOp::Rcp if m.approx || m.rnd.is_none() => {
                            return Err("an approximate sqrt/rcp (not implemented)".into())
                        }
                        FOp::Neg | FOp::Abs if m.rnd.is_some() || m.approx => {
                            return Err("a rounding mode on neg/abs".into())
                        }
                        _ => {}
                    }
                    let rnd = m.rnd.unwrap_or(Round::Rn);
                    if t.f32() {
                        return Ok(Op::F32 {
                            op: fop,
                            rnd,
                            ftz: m.ftz,
                            sat: m.sat,
                            d,
                            a,
                            b: slot::ZERO,
                            c: slot::ZERO,
                        });
                    }
                    if m.ftz || m.sat {
                        return Err(".ftz/.sat on f64".into());
                    }
                    return Ok(Op::F64 {
                        op: fop,
                        rnd,
                        d,
                        a,
                        b: slot::ZERO,
                        c: slot::ZERO,
                    });
                }
                no_float_mods()?;
                let w = if t.k == TyK::Pred { 1 } else { t.bits };
                let op = match base {
                    "neg" if t.k == TyK::S => UnOp::Neg,
                    "abs" if t.k == TyK::S => UnOp::Abs,
                    "not" if t.k == TyK::B || t.k == TyK::Pred => UnOp::Not,
                    _ => return Err("an unsupported integer form".into()),
                };
                if w == 8 {
                    return Err("8-bit arithmetic".into());
                }
                Ok(Op::Un { op, w, d, a })
            }
            "setp" => {
                if m.space.is_some() || m.vec != 1 || m.lohi.is_some() || m.sat || m.approx || m.rnd.is_some()
                {
                    return Err("an unexpected modifier".into());
                }
                no_ignored()?;
                let t = one_ty()?;
                let comb = match m.word {
                    None => Comb::None,
                    Some("and") => Comb::And,
                    Some("or") => Comb::Or,
                    Some("xor") => Comb::Xor,
                    Some(w) => return Err(format!("the combiner `.{w}`")),
                };
                n_ops(if comb == Comb::None { 3 } else { 4 })?;
                let (d, q) = match &ops[0] {
                    Opnd::Pair(p, q) => (self.dst(&Opnd::Reg(p.clone()))?, self.dst(&Opnd::Reg(q.clone()))?),
                    o => (self.dst(o)?, NONE),
                };
                let a = self.src(&ops[1])?;
                let b = self.src(&ops[2])?;
                let (c, negc) = match ops.get(3) {
                    None => (slot::ZERO, false),
                    Some(Opnd::NotReg(r)) => (self.reg(r)?.0, true),
                    Some(o) => (self.src(o)?, false),
                };
                let name = m.cmp.ok_or("setp without a comparison")?;
                let ty = if t.f32() {
                    CmpTy::F32 { ftz: m.ftz }
                } else if t.f64() && !m.ftz {
                    CmpTy::F64
                } else if t.is_int() && !m.ftz && t.bits >= 16 {
                    CmpTy::Int {
                        w: t.bits,
                        signed: t.k == TyK::S,
                    }
                } else {
                    return Err("an unsupported setp type".into());
                };
                let is_int = matches!(ty, CmpTy::Int { .. });
                let cmp = match name {
                    "eq" => Cmp::Eq,
                    "ne" => Cmp::Ne,
                    "lt" | "lo" => Cmp::Lt,
                    "le" | "ls" => Cmp::Le,
                    "gt" | "hi" => Cmp::Gt,
                    "ge" | "hs" => Cmp::Ge,
                    "equ" if !is_int => Cmp::Equ,
                    "neu" if !is_int => Cmp::Neu,
                    "ltu" if !is_int => Cmp::Ltu,
                    "leu" if !is_int => Cmp::Leu,
                    "gtu" if !is_int => Cmp::Gtu,
                    "geu" if !is_int => Cmp::Geu,
                    "num" if !is_int => Cmp::Num,
                    "nan" if !is_int => Cmp::Nan,
                    _ => return Err(format!("the comparison `.{name}` on this type")),
                };
                if is_int && matches!(name, "lo" | "ls" | "hi" | "hs") && t.k == TyK::S {
                    return Err("an unsigned comparison on a signed type".into());
                }
                Ok(Op::Setp {
                    cmp,
                    ty,
                    comb,
                    negc,
                    d,
                    q,
                    a,
                    b,
                    c,
                })
            }
            "selp" => {
                plain()?;
                no_ignored()?;
                no_float_mods()?;
                let t = one_ty()?;
                n_ops(4)?;
                let d = self.dst(&ops[0])?;
                let a = self.src(&ops[1])?;
                let b = self.src(&ops[2])?;
                let p = self.src(&ops[3])?;
                Ok(Op::Selp {
                    mask: mask(t.bits),
                    d,
                    a,
                    b,
                    p,
                })
            }
            "mov" => {
                plain()?;
                no_ignored()?;
                no_float_mods()?;
                let t = one_ty()?;
                n_ops(2)?;
                if let Opnd::Vec(v) = &ops[1] {
                    let d = self.dst(&ops[0])?;
                    return self.pack(t, v, |parts, n, ew| Op::Pack { d, parts, n, ew });
                }
                if let Opnd::Vec(v) = &ops[0] {
                    let a = self.src(&ops[1])?;
                    let mut dsts = Vec::new();
                    for r in v {
                        dsts.push(Opnd::Reg(r.clone()));
                    }
                    let mut d = [NONE; 4];
                    for (i, o) in dsts.iter().enumerate().take(4) {
                        d[i] = self.dst(o)?;
                    }
                    return self.pack(t, v, |_, n, ew| Op::Unpack { d, n, ew, a });
                }
                let (d, dw) = self.dst_w(&ops[0])?;
                let a = self.src(&ops[1])?;
                let w = if t.k == TyK::Pred { 1 } else { t.bits };
                if w != dw {
                    return Err("a mov whose type is not its destination's width".into());
                }
                Ok(Op::Mov { d, a, mask: mask(w) })
            }
            "cvta" => {
                // cvta.to.global.u64: global addresses are the same in both forms.
                let t = one_ty()?;
                n_ops(2)?;
                if m.space != Some("global") || !m.ignored.contains(&"to") || t.bits != 64 {
                    return Err(
                        "cvta other than cvta.to.global.u64 (generic addressing is not supported)".into(),
                    );
                }
                let d = self.dst(&ops[0])?;
                let a = self.src(&ops[1])?;
                Ok(Op::Mov { d, a, mask: u64::MAX })
            }
            "cvt" => {
                no_ignored()?;
                if m.space.is_some() || m.vec != 1 || m.word.is_some() || m.lohi.is_some() || m.approx {
                    return Err("an unexpected modifier".into());
                }
                let [to, from] = m.types.as_slice() else {
                    return Err("cvt needs two types".into());
                };
                let (to, from) = (*to, *from);
                n_ops(2)?;
                let (d, dw) = self.dst_w(&ops[0])?;
                let a = self.src(&ops[1])?;
                let kind = self.cvt_kind(m, to, from)?;
                if dw < to.bits {
                    return Err("a destination register narrower than the cvt's type".into());
                }
                let sext = if to.k == TyK::S && dw > to.bits {
                    to.bits
                } else {
                    0
                };
                Ok(Op::Cvt { kind, d, a, sext, dw })
            }
            "ld" | "st" => self.decode_ldst(base, m, ops),
            "atom" | "red" => {
                let space = match m.space {
                    Some("global") => Space::Global,
                    Some("shared") => Space::Shared,
                    _ => return Err("an atomic outside .global and .shared (generic addressing)".into()),
                };
                if m.ignored.iter().any(|p| {
                    !matches!(
                        *p,
                        "relaxed" | "acquire" | "release" | "acq_rel" | "cta" | "gpu" | "sys"
                    )
                }) {
                    return Err("an unexpected modifier".into());
                }
                if m.vec != 1 || m.lohi.is_some() || m.rnd.is_some() || m.ftz || m.sat || m.approx {
                    return Err("an unexpected modifier".into());
                }
                let t = one_ty()?;
                let word = m.word.ok_or("an atomic without an operation")?;
                let op = match word {
                    "add" => AtomOp::Add,
                    "exch" => AtomOp::Exch,
                    "cas" => AtomOp::Cas,
                    "and" => AtomOp::And,
                    "or" => AtomOp::Or,
                    "xor" => AtomOp::Xor,
                    "min" => AtomOp::Min,
                    "max" => AtomOp::Max,
                    "inc" => AtomOp::Inc,
                    "dec" => AtomOp::Dec,
                    _ => return Err(format!("the atomic operation `.{word}`")),
                };
                let ty = match (t.k, t.bits) {
                    (TyK::F, 32) => AtomTy::F32,
                    (TyK::F, 64) => AtomTy::F64,
                    (TyK::B | TyK::U | TyK::S, 32 | 64) => AtomTy::Int {
                        w: t.bits,
                        signed: t.k == TyK::S,
                    },
                    _ => return Err("an unsupported atomic type".into()),
                };
                let ok = match op {
                    AtomOp::Add => !(t.k == TyK::B),
                    AtomOp::Exch | AtomOp::Cas | AtomOp::And | AtomOp::Or | AtomOp::Xor => t.k == TyK::B,
                    AtomOp::Min | AtomOp::Max => matches!(t.k, TyK::U | TyK::S),
                    AtomOp::Inc | AtomOp::Dec => t.k == TyK::U && t.bits == 32,
                };
                if !ok {
                    return Err("an atomic operation this type does not take".into());
                }
                let red = base == "red";
                let want = if red { 2 } else { 3 } + usize::from(op == AtomOp::Cas);
                n_ops(want)?;
                let (d, rest) = if red {
                    (NONE, ops)
                } else {
                    (self.dst(&ops[0])?, &ops[1..])
                };
                let (addr, off) = self.addr(&rest[0], space)?;
                let b = self.src(&rest[1])?;
                let c = if op == AtomOp::Cas {
                    self.src(&rest[2])?
                } else {
                    NONE
                };
                Ok(Op::Atom {
                    space,
                    op,
                    ty,
                    d,
                    addr,
                    off,
                    b,
                    c,
                })
            }
            "bra" => {
                n_ops(1)?;
                if !m.types.is_empty() || m.ignored.iter().any(|p| *p != "uni") {
                    return Err("an unexpected modifier".into());
                }
                Ok(Op::Bra {
                    target: self.label(&ops[0])?,
                })
            }
            "ret" | "exit" => {
                n_ops(0)?;
                if !m.types.is_empty() || m.ignored.iter().any(|p| *p != "uni") {
                    return Err("an unexpected modifier".into());
                }
                Ok(Op::Exit)
            }
            "bar" | "barrier" => {
                let warp = m.ignored.contains(&"warp");
                if !m.ignored.contains(&"sync") || !m.types.is_empty() {
                    return Err("a barrier other than bar.sync / bar.warp.sync".into());
                }
                if warp {
                    n_ops(1)?;
                    let mask = self.src(&ops[0])?;
                    return Ok(Op::WarpSync { mask });
                }
                n_ops(1)?;
                if ops[0] != Opnd::Imm(0) {
                    return Err("a barrier other than barrier 0, or with a thread count".into());
                }
                Ok(Op::BarSync)
            }
            "membar" | "fence" => {
                if !ops.is_empty() || !m.types.is_empty() {
                    return Err("an unexpected operand".into());
                }
                Ok(Op::Nop)
            }
            "shfl" => {
                let mode = m.shfl.ok_or("shfl without a mode")?;
                if !m.ignored.contains(&"sync") || m.types != [Ty { k: TyK::B, bits: 32 }] {
                    return Err("shfl other than shfl.sync.mode.b32".into());
                }
                n_ops(5)?;
                let (d, p) = match &ops[0] {
                    Opnd::Pair(d, p) => (self.dst(&Opnd::Reg(d.clone()))?, self.dst(&Opnd::Reg(p.clone()))?),
                    o => (self.dst(o)?, NONE),
                };
                let a = self.src(&ops[1])?;
                let b = self.src(&ops[2])?;
                let c = self.src(&ops[3])?;
                let mask = self.src(&ops[4])?;
                Ok(Op::Shfl {
                    mode,
                    d,
                    p,
                    a,
                    b,
                    c,
                    mask,
                })
            }
            _ => Err(format!("the opcode `{base}`")),
        }
    }

    /// Checks a `mov` pack or unpack of `v` into/out of a `t`-typed value.
    fn pack(&mut self, t: Ty, v: &[String], make: impl FnOnce([R; 4], u8, u8) -> Op) -> Result<Op, String> {
        let n = v.len();
        if t.k != TyK::B || !(n == 2 || n == 4) || t.bits as usize % n != 0 {
            return Err("an unsupported vector mov".into());
        }
        let ew = (t.bits as usize / n) as u8;
        let mut parts = [NONE; 4];
        for (i, r) in v.iter().enumerate() {
            let (x, w) = self.reg(r)?;
            if w != ew {
                return Err(format!("`{r}` is not {ew} bits wide"));
            }
            parts[i] = x;
        }
        Ok(make(parts, n as u8, ew))
    }

    fn cvt_kind(&self, m: &Mods, to: Ty, from: Ty) -> Result<CvtKind, String> {
        let int_w = |t: Ty| if t.is_int() { Some(t.bits) } else { None };
        if let (Some(tw), Some(fw)) = (int_w(to), int_w(from)) {
            if m.rnd.is_some() || m.irnd.is_some() || m.ftz || m.sat {
                return Err("a float modifier on an integer cvt (or .sat)".into());
            }
            return Ok(CvtKind::Int {
                from_w: fw,
                from_signed: from.k == TyK::S,
                to_w: tw,
            });
        }
        if let Some(fw) = int_w(from) {
            let rnd = m.rnd.ok_or("int to float without a rounding mode")?;
            if m.irnd.is_some() || m.ftz || m.sat {
                return Err("an unsupported modifier".into());
            }
            let signed = from.k == TyK::S;
            if to.f32() {
                return Ok(CvtKind::IntToF32 { w: fw, signed, rnd });
            }
            if to.f64() {
                return Ok(CvtKind::IntToF64 { w: fw, signed, rnd });
            }
            return Err("an unsupported destination type".into());
        }
        if let Some(tw) = int_w(to) {
            let irnd = m.irnd.ok_or("float to int without .rni/.rzi/.rmi/.rpi")?;
            if m.rnd.is_some() || m.sat {
                return Err("an unsupported modifier".into());
            }
            let signed = to.k == TyK::S;
            if from.f32() {
                return Ok(CvtKind::F32ToInt {
                    irnd,
                    ftz: m.ftz,
                    signed,
                    w: tw,
                });
            }
            if from.f64() && !m.ftz {
                return Ok(CvtKind::F64ToInt { irnd, signed, w: tw });
            }
            return Err("an unsupported source type".into());
        }
        if to.f64() && from.f32() {
            if m.rnd.is_some() || m.irnd.is_some() || m.sat {
                return Err("a rounding mode on the exact f32 to f64".into());
            }
            return Ok(CvtKind::F32ToF64 { ftz: m.ftz });
        }
        if to.f32() && from.f64() {
            let rnd = m.rnd.ok_or("f64 to f32 without a rounding mode")?;
            if m.irnd.is_some() || m.sat {
                return Err("an unsupported modifier".into());
            }
            return Ok(CvtKind::F64ToF32 { rnd, ftz: m.ftz });
        }
        if to.k == TyK::Bf16 && from.f32() {
            let rnd = m.rnd.ok_or("f32 to bf16 without a rounding mode")?;
            if m.irnd.is_some() || m.sat || m.ftz {
                return Err("an unsupported modifier".into());
            }
            return Ok(CvtKind::F32ToBf16 { rnd });
        }
        if to.f32() && from.k == TyK::Bf16 {
            if m.rnd.is_some() || m.irnd.is_some() || m.sat || m.ftz {
                return Err("an unsupported modifier".into());
            }
            return Ok(CvtKind::Bf16ToF32);
        }
        if to.f32() && from.f32() {
            if m.rnd.is_some() {
                return Err("a float rounding mode on f32 to f32".into());
            }
            return Ok(CvtKind::F32ToF32 {
                irnd: m.irnd,
                ftz: m.ftz,
                sat: m.sat,
            });
        }
        Err("an unsupported pair of types".into())
    }

    fn decode_ldst(&mut self, base: &str, m: &Mods, ops: &[Opnd]) -> Result<Op, String> {
        if m.rnd.is_some()
            || m.irnd.is_some()
            || m.ftz
            || m.sat
            || m.approx
            || m.word.is_some()
            || m.lohi.is_some()
        {
            return Err("an unexpected modifier".into());
        }
        if m.ignored.iter().any(|p| {
            !matches!(
                *p,
                "ca" | "cg"
                    | "cs"
                    | "lu"
                    | "cv"
                    | "nc"
                    | "wb"
                    | "wt"
                    | "relaxed"
                    | "weak"
                    | "cta"
                    | "gpu"
                    | "sys"
            )
        }) {
            return Err("an unexpected modifier".into());
        }
        let t = one(&m.types)?;
        if t.k == TyK::Pred || t.k == TyK::Bf16 {
            return Err("an unsupported type".into());
        }
        let size = t.bits / 8;
        let signed = t.k == TyK::S;
        let space = match m.space {
            Some("global") => Space::Global,
            Some("shared") => Space::Shared,
            Some("local") => Space::Local,
            Some("param") => {
                if base != "ld" || m.vec != 1 {
                    return Err("only scalar ld.param is supported".into());
                }
                if ops.len() != 2 {
                    return Err("ld.param takes 2 operands".into());
                }
                let (d, dw) = self.dst_w(&ops[0])?;
                let Opnd::Addr(b, off) = &ops[1] else {
                    return Err("ld.param without an address".into());
                };
                let Opnd::Sym(s) = &**b else {
                    return Err("ld.param from a register".into());
                };
                let Some(SymKind::Param(p)) = self.syms.get(s) else {
                    return Err(format!("`{s}` is not a parameter"));
                };
                let off = (*p as i64)
                    .checked_add(*off)
                    .filter(|&o| o >= 0)
                    .ok_or("a bad parameter offset")?;
                return Ok(Op::LdParam {
                    d,
                    off: off as u32,
                    size,
                    signed,
                    dw,
                });
            }
            None => {
                return Err(
                    "a generic (un-spaced) access: only .global, .shared, .local and .param are".into(),
                )
            }
            Some(s) => return Err(format!("the state space `.{s}`")),
        };
        if m.volatile && base == "st" && space != Space::Global && space != Space::Shared {
            return Err("st.volatile outside global and shared".into());
        }
        if ops.len() != 2 {
            return Err(format!("{} operands where 2 were expected", ops.len()));
        }
        let (data, addr_op) = if base == "ld" {
            (&ops[0], &ops[1])
        } else {
            (&ops[1], &ops[0])
        };
        let (addr, off) = self.addr(addr_op, space)?;
        let vec = m.vec;
        let regs: Vec<Opnd> = match data {
            Opnd::Vec(v) => v.iter().map(|r| Opnd::Reg(r.clone())).collect(),
            o => vec![o.clone()],
        };
        if regs.len() != vec as usize {
            return Err("a vector operand of the wrong length".into());
        }
        let mut rs = [NONE; 4];
        if base == "ld" {
            let mut dw = 0;
            for (i, r) in regs.iter().enumerate() {
                let (x, w) = self.dst_w(r)?;
                if w == 1 || w < t.bits || (i > 0 && w != dw) {
                    return Err("a destination narrower than the load, or of mixed widths".into());
                }
                rs[i] = x;
                dw = w;
            }
            Ok(Op::Ld {
                space,
                size,
                vec,
                signed,
                volatile: m.volatile,
                dw,
                d: rs,
                addr,
                off,
            })
        } else {
            for (i, r) in regs.iter().enumerate() {
                rs[i] = self.src(r)?;
            }
            Ok(Op::St {
                space,
                size,
                vec,
                a: rs,
                addr,
                off,
            })
        }
    }
}

fn one(types: &[Ty]) -> Result<Ty, String> {
    match types {
        [t] => Ok(*t),
        _ => Err("not exactly one type".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: &str = r#"
.version 9.0
.target sm_80
.address_size 64

.visible .entry k(
	.param .u64 k_param_0,
	.param .u32 k_param_1
)
.maxntid 256, 1, 1
{
	.reg .pred 	%p<2>;
	.reg .b32 	%r<4>;
	.reg .b64 	%rd<3>;

	ld.param.u64 	%rd1, [k_param_0];
	ld.param.u32 	%r1, [k_param_1];
	mov.u32 	%r2, %tid.x;
	setp.ge.u32 	%p1, %r2, %r1;
	@%p1 bra 	$L__BB0_2;
	cvta.to.global.u64 	%rd2, %rd1;
	mul.wide.u32 	%rd1, %r2, 4;
	add.s64 	%rd2, %rd2, %rd1;
	st.global.u32 	[%rd2+0], %r2;
$L__BB0_2:
	ret;
}
"#;

    #[test]
    fn parses_a_small_kernel() {
        let m = Module::load(TINY).unwrap();
        let k = m.kernel("k").unwrap();
        assert_eq!(k.params.len(), 2);
        assert_eq!(k.params[0].size, 8);
        assert_eq!(k.param_offsets, vec![0, 8]);
        assert_eq!(k.max_threads, Some(256));
        assert_eq!(k.code.len(), 11);
        assert!(matches!(k.code[4].op, Op::BraIf { target: 9, .. }));
        assert_eq!(k.lines[0], 16);
    }

    #[test]
    fn unsupported_forms_name_line_and_kernel() {
        for bad in [
            "div.approx.f32 %r1, %r1, %r1;",
            "sin.approx.f32 %r1, %r1;",
            "tex.1d.v4.f32.s32 {%r1,%r1,%r1,%r1}, [t, {%r1}];",
            "ld.u32 %r1, [%rd1];",
        ] {
            let text = TINY.replace("\tret;", &format!("\t{bad}\n\tret;"));
            let e = Module::load(&text).unwrap_err().0;
            assert!(e.contains("PTX line 26") && e.contains("kernel k"), "{e}");
        }
    }

    #[test]
    fn literals() {
        assert_eq!(parse_operand("0f3F800000").unwrap(), Opnd::Imm(0x3F80_0000));
        assert_eq!(
            parse_operand("0d3FF0000000000000").unwrap(),
            Opnd::Imm(0x3FF0_0000_0000_0000)
        );
        assert_eq!(parse_operand("-1").unwrap(), Opnd::Imm(u64::MAX));
        assert_eq!(parse_operand("0xff").unwrap(), Opnd::Imm(255));
        assert_eq!(
            parse_operand("[%rd3+-4]").unwrap(),
            Opnd::Addr(Box::new(Opnd::Reg("%rd3".into())), -4)
        );
    }
}
