//! One thread's instruction loop, and the semantics of each operation.
//!
//! [`Engine::run_thread`] runs thread `t` of a block from its pc until it
//! reaches a barrier, a shuffle, a volatile load, its exit, a fault, or the
//! end of its instruction budget. Every float operation goes through
//! [`crate::float`], so rounding and flush-to-zero are the PTX ISA's.

use super::counters::Rec;
use super::sanitize::{shared_access, Access};
use super::{Block, Engine, FaultKind, Stop};
use crate::float::{
    abs32, abs64, add32, add64, bf16_to_f32, div32, div64, ex2_approx32, f32_to_bf16, f32_to_f64, f32_to_int,
    f64_to_f32, f64_to_int, flush32, fma32, fma64, max32, max64, min32, min64, mul32, mul64, neg32, neg64,
    rcp32, rcp64, round_int32, s64_to_f32, s64_to_f64, sat32, setp32, setp64, sqrt32, sqrt64, sub32, sub64,
    u64_to_f32, u64_to_f64, Cmp, Round,
};
use crate::ptx::{
    mask, AtomOp, AtomTy, CmpTy, Comb, CvtKind, FOp, IntOp, Op, Space, UnOp, GUARD_NEG, NONE, NO_GUARD,
};

/// `v`'s low `bits` bits, sign-extended.
#[inline(always)]
pub(crate) fn sext(v: u64, bits: u8) -> i64 {
    let s = 64 - bits as u32;
    ((v << s) as i64) >> s
}

#[inline(always)]
fn f32b(v: u64) -> f32 {
    f32::from_bits(v as u32)
}

#[inline(always)]
fn read_le(b: &[u8], size: usize) -> u64 {
    match size {
        1 => b[0] as u64,
        2 => u16::from_le_bytes([b[0], b[1]]) as u64,
        4 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64,
        _ => u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
    }
}

#[inline(always)]
fn write_le(b: &mut [u8], size: usize, v: u64) {
    b[..size].copy_from_slice(&v.to_le_bytes()[..size]);
}

/// A loaded value, sign- or zero-extended into a `dw`-bit register.
#[inline(always)]
fn extend(v: u64, size: usize, signed: bool, dw: u8) -> u64 {
    if signed {
        sext(v, (size * 8) as u8) as u64 & mask(dw)
    } else {
        v
    }
}

/// A two-operand integer operation on `w`-bit values (see the module docs of
/// [`super`] for division by zero).
#[inline(always)]
pub(crate) fn int_op(op: IntOp, w: u8, signed: bool, a: u64, b: u64) -> u64 {
    let m = mask(w);
    match op {
        IntOp::Add => a.wrapping_add(b) & m,
        IntOp::Sub => a.wrapping_sub(b) & m,
        IntOp::MulLo => a.wrapping_mul(b) & m,
        IntOp::MulHi => {
            if signed {
                ((sext(a, w) as i128 * sext(b, w) as i128) >> w) as u64 & m
            } else {
                (((a & m) as u128 * (b & m) as u128) >> w) as u64 & m
            }
        }
        IntOp::MulWide => {
            let m2 = mask(2 * w);
            if signed {
                sext(a, w).wrapping_mul(sext(b, w)) as u64 & m2
            } else {
                (a & m).wrapping_mul(b & m) & m2
            }
        }
        IntOp::Div => {
            if signed {
                let (x, y) = (sext(a, w), sext(b, w));
                if y == 0 {
                    m
                } else {
                    x.wrapping_div(y) as u64 & m
                }
            } else {
                (a & m).checked_div(b & m).unwrap_or(m)
            }
        }
        IntOp::Rem => {
            if signed {
                let (x, y) = (sext(a, w), sext(b, w));
                if y == 0 {
                    a & m
                } else {
                    x.wrapping_rem(y) as u64 & m
                }
            } else {
                let (x, y) = (a & m, b & m);
                if y == 0 {
                    x
                } else {
                    x % y
                }
            }
        }
        IntOp::Min | IntOp::Max => {
            let first = if signed {
                sext(a, w) <= sext(b, w)
            } else {
                a & m <= b & m
            };
            let pick_a = if op == IntOp::Min { first } else { !first };
            (if pick_a { a } else { b }) & m
        }
        IntOp::And => a & b & m,
        IntOp::Or => (a | b) & m,
        IntOp::Xor => (a ^ b) & m,
        IntOp::Shl => {
            let s = b as u32;
            if s >= w as u32 {
                0
            } else {
                (a << s) & m
            }
        }
        IntOp::Shr => {
            let s = b as u32;
            if signed {
                (sext(a, w) >> s.min(63)) as u64 & m
            } else if s >= w as u32 {
                0
            } else {
                (a & m) >> s
            }
        }
    }
}

/// A one-operand integer operation.
#[inline(always)]
pub(crate) fn un_op(op: UnOp, w: u8, a: u64) -> u64 {
    let m = mask(w);
    match op {
        UnOp::Neg => a.wrapping_neg() & m,
        UnOp::Not => !a & m,
        UnOp::Abs => sext(a, w).wrapping_abs() as u64 & m,
    }
}

/// An f32 operation on register bits.
#[inline(always)]
pub(crate) fn f32_op(op: FOp, rnd: Round, ftz: bool, sat: bool, a: u64, b: u64, c: u64) -> u64 {
    let (x, y, z) = (f32b(a), f32b(b), f32b(c));
    let v = match op {
        FOp::Add => add32(x, y, rnd, ftz),
        FOp::Sub => sub32(x, y, rnd, ftz),
        FOp::Mul => mul32(x, y, rnd, ftz),
        FOp::Fma => fma32(x, y, z, rnd, ftz),
        FOp::Div => div32(x, y, rnd, ftz),
        FOp::Min => min32(x, y, ftz),
        FOp::Max => max32(x, y, ftz),
        FOp::Sqrt => sqrt32(x, rnd, ftz),
        FOp::Rcp => rcp32(x, rnd, ftz),
        FOp::Ex2 => ex2_approx32(x, ftz),
        FOp::Neg => neg32(x, ftz),
        FOp::Abs => abs32(x, ftz),
    };
    let v = if sat { sat32(v) } else { v };
    v.to_bits() as u64
}

/// An f64 operation on register bits.
#[inline(always)]
pub(crate) fn f64_op(op: FOp, rnd: Round, a: u64, b: u64, c: u64) -> u64 {
    let (x, y, z) = (f64::from_bits(a), f64::from_bits(b), f64::from_bits(c));
    let v = match op {
        FOp::Add => add64(x, y, rnd),
        FOp::Sub => sub64(x, y, rnd),
        FOp::Mul => mul64(x, y, rnd),
        FOp::Fma => fma64(x, y, z, rnd),
        FOp::Div => div64(x, y, rnd),
        FOp::Min => min64(x, y),
        FOp::Max => max64(x, y),
        FOp::Sqrt => sqrt64(x, rnd),
        FOp::Rcp => rcp64(x, rnd),
        FOp::Neg => neg64(x),
        FOp::Abs => abs64(x),
        // The decoder admits ex2 for f32 only.
        FOp::Ex2 => f64::NAN,
    };
    v.to_bits()
}

/// `setp`'s comparison.
#[inline(always)]
pub(crate) fn compare(cmp: Cmp, ty: CmpTy, a: u64, b: u64) -> bool {
    match ty {
        CmpTy::Int { w, signed } => {
            let o = if signed {
                sext(a, w).cmp(&sext(b, w))
            } else {
                (a & mask(w)).cmp(&(b & mask(w)))
            };
            match cmp {
                Cmp::Eq => o.is_eq(),
                Cmp::Ne => o.is_ne(),
                Cmp::Lt => o.is_lt(),
                Cmp::Le => o.is_le(),
                Cmp::Gt => o.is_gt(),
                Cmp::Ge => o.is_ge(),
                _ => false,
            }
        }
        CmpTy::F32 { ftz } => setp32(cmp, f32b(a), f32b(b), ftz),
        CmpTy::F64 => setp64(cmp, f64::from_bits(a), f64::from_bits(b)),
    }
}

/// `cvt`.
#[inline(always)]
pub(crate) fn convert(kind: CvtKind, a: u64) -> u64 {
    match kind {
        CvtKind::Int {
            from_w,
            from_signed,
            to_w,
        } => {
            let v = if from_signed {
                sext(a, from_w) as u64
            } else {
                a & mask(from_w)
            };
            v & mask(to_w)
        }
        CvtKind::F32ToF64 { ftz } => f32_to_f64(f32b(a), ftz).to_bits(),
        CvtKind::F64ToF32 { rnd, ftz } => f64_to_f32(f64::from_bits(a), rnd, ftz).to_bits() as u64,
        CvtKind::F32ToBf16 { rnd } => f32_to_bf16(f32b(a), rnd) as u64,
        CvtKind::Bf16ToF32 => bf16_to_f32(a as u16).to_bits() as u64,
        CvtKind::IntToF32 { w, signed, rnd } => {
            let v = if signed {
                s64_to_f32(sext(a, w), rnd)
            } else {
                u64_to_f32(a & mask(w), rnd)
            };
            v.to_bits() as u64
        }
        CvtKind::IntToF64 { w, signed, rnd } => {
            let v = if signed {
                s64_to_f64(sext(a, w), rnd)
            } else {
                u64_to_f64(a & mask(w), rnd)
            };
            v.to_bits()
        }
        CvtKind::F32ToInt { irnd, ftz, signed, w } => f32_to_int(f32b(a), irnd, ftz, signed, w as u32),
        CvtKind::F64ToInt { irnd, signed, w } => f64_to_int(f64::from_bits(a), irnd, signed, w as u32),
        CvtKind::F32ToF32 { irnd, ftz, sat } => {
            let x = f32b(a);
            let x = match irnd {
                Some(i) => round_int32(x, i, ftz),
                None if ftz => flush32(x),
                None => x,
            };
            let x = if sat { sat32(x) } else { x };
            x.to_bits() as u64
        }
    }
}

/// An atomic's new value from the old one and its operands. `atom.add.f32`
/// rounds to nearest and flushes subnormal inputs and results, as the PTX ISA says.
pub(crate) fn atom_apply(op: AtomOp, ty: AtomTy, old: u64, b: u64, c: u64) -> u64 {
    match ty {
        AtomTy::F32 => match op {
            AtomOp::Add => add32(f32b(old), f32b(b), Round::Rn, true).to_bits() as u64,
            _ => b & 0xFFFF_FFFF,
        },
        AtomTy::F64 => match op {
            AtomOp::Add => add64(f64::from_bits(old), f64::from_bits(b), Round::Rn).to_bits(),
            _ => b,
        },
        AtomTy::Int { w, signed } => {
            let m = mask(w);
            let (old, b, c) = (old & m, b & m, c & m);
            match op {
                AtomOp::Add => old.wrapping_add(b) & m,
                AtomOp::Exch => b,
                AtomOp::Cas => {
                    if old == b {
                        c
                    } else {
                        old
                    }
                }
                AtomOp::And => old & b,
                AtomOp::Or => old | b,
                AtomOp::Xor => old ^ b,
                AtomOp::Min => int_op(IntOp::Min, w, signed, old, b),
                AtomOp::Max => int_op(IntOp::Max, w, signed, old, b),
                AtomOp::Inc => {
                    if old >= b {
                        0
                    } else {
                        old + 1
                    }
                }
                AtomOp::Dec => {
                    if old == 0 || old > b {
                        b
                    } else {
                        old - 1
                    }
                }
            }
        }
    }
}

impl Engine<'_> {
    /// The allocation holding `[addr, addr + len)` and the offset in it; the
    /// last hit is cached, so a kernel streaming through one buffer does no search.
    #[inline(always)]
    fn gfind(&mut self, addr: u64, len: u64) -> Option<(usize, usize)> {
        let end = addr.wrapping_add(len);
        if addr >= self.c_start && end <= self.c_end && end >= addr {
            return Some((self.c_idx, (addr - self.c_start) as usize));
        }
        let (i, o) = self.mem.locate(addr, len)?;
        let a = &self.mem.allocs[i];
        self.c_start = a.start;
        self.c_end = a.end();
        self.c_idx = i;
        Some((i, o))
    }

    fn oob(&self, what: &str, bytes: u64, addr: u64) -> String {
        format!(
            "{what} of {bytes} bytes at {addr:#x}: outside every live allocation ({})",
            self.mem.near(addr)
        )
    }

    /// Runs thread `t` of `b` for at most `budget` instructions.
    pub(super) fn run_thread(&mut self, b: &mut Block, t: usize, budget: u64) -> Stop {
        let k = self.k;
        let code = &k.code[..];
        let nr = k.nregs;
        let ni = code.len();
        let bid = b.id;
        let sanitize = self.opts.sanitize;
        let counting = self.opts.counters;
        let warp = t / 32;
        let lb = k.local_bytes;
        let Block {
            regs,
            pc: pcs,
            shared,
            local,
            shadow,
            cnt,
            log,
            be,
            we,
            ..
        } = b;
        let be = *be;
        let r = &mut regs[t * nr..(t + 1) * nr];
        let local = &mut local[t * lb..(t + 1) * lb];
        let cnt: &mut [u32] = if counting {
            &mut cnt[t * ni..(t + 1) * ni]
        } else {
            &mut []
        };
        let mut pc = pcs[t] as usize;
        let mut n = 0u64;
        // SAFETY: every slot an executed operand names is below `nregs`
        // (checked for the whole kernel by `ptx::check_slots` at load), and
        // `r` is exactly `nregs` long.
        macro_rules! g {
            ($i:expr) => {
                *unsafe { r.get_unchecked_mut($i as usize) }
            };
        }
        // Counters: log this lane's access (or branch direction) under its
        // instruction and how many times this lane has executed it.
        macro_rules! rec {
            ($addr:expr) => {
                if counting {
                    log[warp].push(Rec {
                        key: (pc as u64) << 32 | cnt[pc] as u64,
                        addr: $addr,
                    });
                }
            };
        }
        let stop = loop {
            if n >= budget {
                break Stop::Preempt;
            }
            let ins = &code[pc];
            n += 1;
            if counting {
                cnt[pc] += 1;
            }
            if ins.guard != NO_GUARD {
                let p = r[(ins.guard & !GUARD_NEG) as usize] != 0;
                if p == (ins.guard & GUARD_NEG != 0) {
                    pc += 1;
                    continue;
                }
            }
            match ins.op {
                Op::Mov { d, a, mask } => g!(d) = g!(a) & mask,
                Op::Int {
                    op,
                    w,
                    signed,
                    d,
                    a,
                    b,
                } => g!(d) = int_op(op, w, signed, g!(a), g!(b)),
                Op::Pack { d, parts, n, ew } => {
                    let mut v = 0u64;
                    for (i, &p) in parts.iter().enumerate().take(n as usize) {
                        v |= (g!(p) & mask(ew)) << (i as u32 * ew as u32);
                    }
                    g!(d) = v;
                }
                Op::Unpack { d, n, ew, a } => {
                    let v = g!(a);
                    for (i, &x) in d.iter().enumerate().take(n as usize) {
                        g!(x) = (v >> (i as u32 * ew as u32)) & mask(ew);
                    }
                }
                Op::Mad {
                    op,
                    w,
                    signed,
                    d,
                    a,
                    b,
                    c,
                } => {
                    let ow = if op == IntOp::MulWide { 2 * w } else { w };
                    g!(d) = int_op(op, w, signed, g!(a), g!(b)).wrapping_add(g!(c)) & mask(ow);
                }
                Op::Un { op, w, d, a } => g!(d) = un_op(op, w, g!(a)),
                Op::F32 {
                    op,
                    rnd,
                    ftz,
                    sat,
                    d,
                    a,
                    b,
                    c,
                } => g!(d) = f32_op(op, rnd, ftz, sat, g!(a), g!(b), g!(c)),
                Op::F64 { op, rnd, d, a, b, c } => g!(d) = f64_op(op, rnd, g!(a), g!(b), g!(c)),
                Op::Setp {
                    cmp,
                    ty,
                    comb,
                    negc,
                    d,
                    q,
                    a,
                    b,
                    c,
                } => {
                    let x = compare(cmp, ty, g!(a), g!(b));
                    let (v, nv) = if comb == Comb::None {
                        (x, !x)
                    } else {
                        let cv = (g!(c) != 0) != negc;
                        let f = |p: bool| match comb {
                            Comb::And => p && cv,
                            Comb::Or => p || cv,
                            _ => p != cv,
                        };
                        (f(x), f(!x))
                    };
                    g!(d) = v as u64;
                    if q != NONE {
                        g!(q) = nv as u64;
                    }
                }
                Op::Selp { mask, d, a, b, p } => g!(d) = if g!(p) != 0 { g!(a) } else { g!(b) } & mask,
                Op::Cvt {
                    kind,
                    d,
                    a,
                    sext: e,
                    dw,
                } => {
                    let v = convert(kind, g!(a));
                    g!(d) = if e == 0 { v } else { sext(v, e) as u64 & mask(dw) };
                }
                Op::LdParam {
                    d,
                    off,
                    size,
                    signed,
                    dw,
                } => {
                    let (o, s) = (off as usize, size as usize);
                    match self.params.get(o..o + s) {
                        Some(bytes) => g!(d) = extend(read_le(bytes, s), s, signed, dw),
                        None => {
                            break self.fault_at(
                                FaultKind::Launch,
                                bid,
                                t,
                                pc,
                                format!(
                                    "ld.param of {s} bytes at offset {o}, past the {}-byte parameters",
                                    self.params.len()
                                ),
                            )
                        }
                    }
                }
                Op::Ld {
                    space,
                    size,
                    vec,
                    signed,
                    volatile,
                    dw,
                    d,
                    addr,
                    off,
                } => {
                    let a = g!(addr).wrapping_add(off as u64);
                    let sz = size as usize;
                    let total = sz * vec as usize;
                    if a & (total as u64 - 1) != 0 {
                        let msg = format!("a misaligned {total}-byte {space:?} load at {a:#x}");
                        break self.fault_at(FaultKind::Memcheck, bid, t, pc, msg);
                    }
                    match space {
                        Space::Global => {
                            let Some((ai, o)) = self.gfind(a, total as u64) else {
                                let msg = self.oob("a global load", total as u64, a);
                                break self.fault_at(FaultKind::Memcheck, bid, t, pc, msg);
                            };
                            let al = &self.mem.allocs[ai];
                            if sanitize && al.init[o..o + total].contains(&0) {
                                let msg = format!(
                                    "a global load of {total} bytes at {a:#x} reads bytes never written \
                                     (offset {o} of the allocation at {:#x})",
                                    al.start
                                );
                                break self.fault_at(FaultKind::Initcheck, bid, t, pc, msg);
                            }
                            let bytes = &al.data[o..o + total];
                            for (e, &x) in d.iter().enumerate().take(vec as usize) {
                                g!(x) = extend(read_le(&bytes[e * sz..], sz), sz, signed, dw);
                            }
                            rec!(a);
                        }
                        Space::Shared => {
                            let o = a as usize;
                            if a > shared.len() as u64 || o + total > shared.len() {
                                let msg = format!(
                                    "a shared load of {total} bytes at offset {a:#x}, outside the block's {}-byte \
                                     shared window",
                                    shared.len()
                                );
                                break self.fault_at(FaultKind::Memcheck, bid, t, pc, msg);
                            }
                            if sanitize {
                                if let Err((kind, msg)) =
                                    shared_access(shadow, o, total, t as u32, be, we, Access::Read)
                                {
                                    break self.fault_at(kind, bid, t, pc, msg);
                                }
                            }
                            for (e, &x) in d.iter().enumerate().take(vec as usize) {
                                g!(x) = extend(read_le(&shared[o + e * sz..], sz), sz, signed, dw);
                            }
                            rec!(a);
                        }
                        Space::Local => {
                            let o = a as usize;
                            if a > local.len() as u64 || o + total > local.len() {
                                let msg = format!(
                                    "a local load of {total} bytes at offset {a:#x}, outside the thread's \
                                     {}-byte local frame",
                                    local.len()
                                );
                                break self.fault_at(FaultKind::Memcheck, bid, t, pc, msg);
                            }
                            for (e, &x) in d.iter().enumerate().take(vec as usize) {
                                g!(x) = extend(read_le(&local[o + e * sz..], sz), sz, signed, dw);
                            }
                        }
                    }
                    if volatile {
                        pc += 1;
                        break Stop::Yield;
                    }
                }
                Op::St {
                    space,
                    size,
                    vec,
                    a: src,
                    addr,
                    off,
                } => {
                    let a = g!(addr).wrapping_add(off as u64);
                    let sz = size as usize;
                    let total = sz * vec as usize;
                    if a & (total as u64 - 1) != 0 {
                        let msg = format!("a misaligned {total}-byte {space:?} store at {a:#x}");
                        break self.fault_at(FaultKind::Memcheck, bid, t, pc, msg);
                    }
                    match space {
                        Space::Global => {
                            let Some((ai, o)) = self.gfind(a, total as u64) else {
                                let msg = self.oob("a global store", total as u64, a);
                                break self.fault_at(FaultKind::Memcheck, bid, t, pc, msg);
                            };
                            let al = &mut self.mem.allocs[ai];
                            for (e, &x) in src.iter().enumerate().take(vec as usize) {
                                write_le(&mut al.data[o + e * sz..], sz, g!(x));
                            }
                            al.init[o..o + total].fill(1);
                            self.progress += 1;
                            rec!(a);
                        }
                        Space::Shared => {
                            let o = a as usize;
                            if a > shared.len() as u64 || o + total > shared.len() {
                                let msg = format!(
                                    "a shared store of {total} bytes at offset {a:#x}, outside the block's {}-byte \
                                     shared window",
                                    shared.len()
                                );
                                break self.fault_at(FaultKind::Memcheck, bid, t, pc, msg);
                            }
                            if sanitize {
                                if let Err((kind, msg)) =
                                    shared_access(shadow, o, total, t as u32, be, we, Access::Write)
                                {
                                    break self.fault_at(kind, bid, t, pc, msg);
                                }
                            }
                            for (e, &x) in src.iter().enumerate().take(vec as usize) {
                                write_le(&mut shared[o + e * sz..], sz, g!(x));
                            }
                            self.progress += 1;
                            rec!(a);
                        }
                        Space::Local => {
                            let o = a as usize;
                            if a > local.len() as u64 || o + total > local.len() {
                                let msg = format!(
                                    "a local store of {total} bytes at offset {a:#x}, outside the thread's \
                                     {}-byte local frame",
                                    local.len()
                                );
                                break self.fault_at(FaultKind::Memcheck, bid, t, pc, msg);
                            }
                            for (e, &x) in src.iter().enumerate().take(vec as usize) {
                                write_le(&mut local[o + e * sz..], sz, g!(x));
                            }
                        }
                    }
                }
                Op::Atom {
                    space,
                    op,
                    ty,
                    d,
                    addr,
                    off,
                    b: bo,
                    c: co,
                } => {
                    let a = g!(addr).wrapping_add(off as u64);
                    let sz = ty.bytes();
                    if a & (sz as u64 - 1) != 0 {
                        let msg = format!("a misaligned {sz}-byte atomic at {a:#x}");
                        break self.fault_at(FaultKind::Memcheck, bid, t, pc, msg);
                    }
                    let (bv, cv) = (g!(bo), if co == NONE { 0 } else { g!(co) });
                    let old = match space {
                        Space::Global => {
                            let Some((ai, o)) = self.gfind(a, sz as u64) else {
                                let msg = self.oob("a global atomic", sz as u64, a);
                                break self.fault_at(FaultKind::Memcheck, bid, t, pc, msg);
                            };
                            let al = &mut self.mem.allocs[ai];
                            if sanitize && al.init[o..o + sz].contains(&0) {
                                let msg = format!("an atomic on {sz} bytes at {a:#x} never written");
                                break self.fault_at(FaultKind::Initcheck, bid, t, pc, msg);
                            }
                            let old = read_le(&al.data[o..], sz);
                            write_le(&mut al.data[o..], sz, atom_apply(op, ty, old, bv, cv));
                            al.init[o..o + sz].fill(1);
                            self.progress += 1;
                            rec!(a);
                            old
                        }
                        Space::Shared => {
                            let o = a as usize;
                            if a > shared.len() as u64 || o + sz > shared.len() {
                                let msg = format!(
                                    "a shared atomic of {sz} bytes at offset {a:#x}, outside the block's {}-byte \
                                     shared window",
                                    shared.len()
                                );
                                break self.fault_at(FaultKind::Memcheck, bid, t, pc, msg);
                            }
                            if sanitize {
                                if let Err((kind, msg)) =
                                    shared_access(shadow, o, sz, t as u32, be, we, Access::Atomic)
                                {
                                    break self.fault_at(kind, bid, t, pc, msg);
                                }
                            }
                            let old = read_le(&shared[o..], sz);
                            write_le(&mut shared[o..], sz, atom_apply(op, ty, old, bv, cv));
                            self.progress += 1;
                            rec!(a);
                            old
                        }
                        Space::Local => {
                            break self.fault_at(FaultKind::Launch, bid, t, pc, "a local atomic".into());
                        }
                    };
                    if d != NONE {
                        g!(d) = old;
                    }
                }
                Op::Bra { target } => {
                    pc = target as usize;
                    continue;
                }
                Op::BraIf { target, p, neg } => {
                    let taken = (g!(p) != 0) != neg;
                    rec!(taken as u64);
                    if taken {
                        pc = target as usize;
                        continue;
                    }
                }
                Op::Exit => break Stop::Exit,
                Op::BarSync => break Stop::Bar,
                Op::WarpSync { .. } => break Stop::WarpSync,
                Op::Shfl { .. } => break Stop::Shfl,
                Op::Nop => {}
            }
            pc += 1;
        };
        pcs[t] = pc as u32;
        self.total += n;
        stop
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_corner_cases() {
        // Wrap-around.
        assert_eq!(int_op(IntOp::Add, 32, true, 0x7FFF_FFFF, 1), 0x8000_0000);
        assert_eq!(int_op(IntOp::Sub, 64, false, 0, 1), u64::MAX);
        // mul.hi / mul.wide.
        assert_eq!(
            int_op(IntOp::MulHi, 32, false, 0xFFFF_FFFF, 0xFFFF_FFFF),
            0xFFFF_FFFE
        );
        assert_eq!(int_op(IntOp::MulHi, 32, true, 0xFFFF_FFFF, 2), 0xFFFF_FFFF); // -1*2 = -2: hi = -1
        assert_eq!(int_op(IntOp::MulWide, 32, true, 0xFFFF_FFFF, 3), (-3i64) as u64);
        assert_eq!(int_op(IntOp::MulWide, 32, false, 0xFFFF_FFFF, 2), 0x1_FFFF_FFFE);
        assert_eq!(int_op(IntOp::MulWide, 16, false, 0xFFFF, 8), 0x7FFF8);
        // Division by zero and overflow.
        assert_eq!(int_op(IntOp::Div, 32, false, 7, 0), 0xFFFF_FFFF);
        assert_eq!(int_op(IntOp::Div, 32, true, 7, 0), 0xFFFF_FFFF);
        assert_eq!(int_op(IntOp::Rem, 32, true, 7, 0), 7);
        assert_eq!(
            int_op(IntOp::Div, 32, true, 0x8000_0000, 0xFFFF_FFFF),
            0x8000_0000
        );
        assert_eq!(int_op(IntOp::Rem, 32, true, 0x8000_0000, 0xFFFF_FFFF), 0);
        assert_eq!(
            int_op(IntOp::Div, 32, true, (-7i32) as u32 as u64, 2),
            (-3i32) as u32 as u64
        );
        assert_eq!(
            int_op(IntOp::Rem, 32, true, (-7i32) as u32 as u64, 2),
            (-1i32) as u32 as u64
        );
        assert_eq!(
            int_op(IntOp::Div, 64, true, i64::MIN as u64, u64::MAX),
            i64::MIN as u64
        );
        // Shifts clamp.
        assert_eq!(int_op(IntOp::Shl, 32, false, 1, 32), 0);
        assert_eq!(int_op(IntOp::Shl, 32, false, 1, 31), 0x8000_0000);
        assert_eq!(int_op(IntOp::Shr, 32, false, 0x8000_0000, 40), 0);
        assert_eq!(int_op(IntOp::Shr, 32, true, 0x8000_0000, 40), 0xFFFF_FFFF);
        assert_eq!(int_op(IntOp::Shr, 32, true, 0x8000_0000, 4), 0xF800_0000);
        assert_eq!(int_op(IntOp::Shr, 64, true, 1 << 63, 64), u64::MAX);
        // Min/max by signedness.
        assert_eq!(int_op(IntOp::Max, 32, true, 0xFFFF_FFFF, 1), 1);
        assert_eq!(int_op(IntOp::Max, 32, false, 0xFFFF_FFFF, 1), 0xFFFF_FFFF);
        assert_eq!(int_op(IntOp::Min, 64, true, u64::MAX, 0), u64::MAX);
        // Negative immediates are stored sign-extended to 64 bits.
        assert_eq!(int_op(IntOp::Add, 32, true, 5, u64::MAX), 4);
        assert_eq!(un_op(UnOp::Neg, 64, 1), u64::MAX);
        assert_eq!(un_op(UnOp::Not, 1, 1), 0);
        assert_eq!(un_op(UnOp::Not, 1, 0), 1);
        assert_eq!(un_op(UnOp::Abs, 32, 0x8000_0000), 0x8000_0000);
    }

    #[test]
    fn compares_and_conversions() {
        let s = CmpTy::Int { w: 32, signed: true };
        let u = CmpTy::Int { w: 32, signed: false };
        assert!(compare(Cmp::Lt, s, 0xFFFF_FFFF, 0));
        assert!(!compare(Cmp::Lt, u, 0xFFFF_FFFF, 0));
        assert!(compare(Cmp::Eq, CmpTy::Int { w: 16, signed: true }, 0x1_0001, 1));
        let nan = f32::NAN.to_bits() as u64;
        assert!(compare(Cmp::Ltu, CmpTy::F32 { ftz: true }, nan, 0));
        assert!(!compare(Cmp::Lt, CmpTy::F32 { ftz: true }, nan, 0));
        assert_eq!(
            convert(
                CvtKind::Int {
                    from_w: 32,
                    from_signed: true,
                    to_w: 64
                },
                0xFFFF_FFFF
            ),
            u64::MAX
        );
        assert_eq!(
            convert(
                CvtKind::Int {
                    from_w: 32,
                    from_signed: false,
                    to_w: 64
                },
                0xFFFF_FFFF
            ),
            0xFFFF_FFFF
        );
        assert_eq!(
            convert(
                CvtKind::Int {
                    from_w: 64,
                    from_signed: false,
                    to_w: 32
                },
                0x1_0000_0002
            ),
            2
        );
        assert_eq!(
            convert(
                CvtKind::Int {
                    from_w: 16,
                    from_signed: false,
                    to_w: 32
                },
                0xFFFF_8001
            ),
            0x8001
        );
        let one = convert(
            CvtKind::IntToF32 {
                w: 32,
                signed: true,
                rnd: Round::Rn,
            },
            0xFFFF_FFFF,
        );
        assert_eq!(f32::from_bits(one as u32), -1.0);
        let two = convert(
            CvtKind::IntToF64 {
                w: 64,
                signed: true,
                rnd: Round::Rn,
            },
            2,
        );
        assert_eq!(f64::from_bits(two), 2.0);
        let sat = CvtKind::F32ToF32 {
            irnd: None,
            ftz: true,
            sat: true,
        };
        assert_eq!(f32::from_bits(convert(sat, 1.5f32.to_bits() as u64) as u32), 1.0);
        assert_eq!(
            f32::from_bits(convert(sat, (-0.5f32).to_bits() as u64) as u32),
            0.0
        );
        assert_eq!(
            convert(CvtKind::F32ToBf16 { rnd: Round::Rn }, 1.0f32.to_bits() as u64),
            0x3F80
        );
        assert_eq!(extend(0x80, 1, true, 16), 0xFF80);
        assert_eq!(extend(0x8000_0000, 4, true, 64), 0xFFFF_FFFF_8000_0000);
        assert_eq!(extend(0x80, 1, false, 32), 0x80);
    }

    #[test]
    fn atomics() {
        let i32t = AtomTy::Int { w: 32, signed: false };
        assert_eq!(atom_apply(AtomOp::Add, i32t, 0xFFFF_FFFF, 1, 0), 0);
        assert_eq!(atom_apply(AtomOp::Exch, i32t, 5, 9, 0), 9);
        assert_eq!(atom_apply(AtomOp::Cas, i32t, 5, 5, 7), 7);
        assert_eq!(atom_apply(AtomOp::Cas, i32t, 5, 6, 7), 5);
        assert_eq!(atom_apply(AtomOp::Inc, i32t, 3, 3, 0), 0);
        assert_eq!(atom_apply(AtomOp::Dec, i32t, 0, 3, 0), 3);
        assert_eq!(atom_apply(AtomOp::Or, i32t, 1, 4, 0), 5);
        let f = atom_apply(
            AtomOp::Add,
            AtomTy::F32,
            1.5f32.to_bits() as u64,
            2.25f32.to_bits() as u64,
            0,
        );
        assert_eq!(f32::from_bits(f as u32), 3.75);
        let sub = f32::from_bits(1); // a subnormal input is flushed
        let f = atom_apply(AtomOp::Add, AtomTy::F32, sub.to_bits() as u64, 0, 0);
        assert_eq!(f32::from_bits(f as u32), 0.0);
    }
}
