//! The arithmetic of PTX's floating-point instruction forms, bit for bit.
//!
//! CONTRACT: the interpreter calls these signatures; their bodies are being made
//! exact (rounding modes, flush-to-zero, NaN rules) with unit tests against the
//! PTX ISA. Until then they are first drafts.

/// A rounding mode of a floating-point result (`.rn`, `.rz`, `.rm`, `.rp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Round {
    /// To nearest, ties to even.
    Rn,
    /// Towards zero.
    Rz,
    /// Towards minus infinity.
    Rm,
    /// Towards plus infinity.
    Rp,
}

/// A rounding mode of a float-to-integer conversion (`.rni`, `.rzi`, `.rmi`, `.rpi`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntRound {
    /// To nearest integer, ties to even.
    Rni,
    /// Towards zero.
    Rzi,
    /// Towards minus infinity.
    Rmi,
    /// Towards plus infinity.
    Rpi,
}

/// A `setp` comparison; the `u` forms are also true when either input is NaN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Equ,
    Neu,
    Ltu,
    Leu,
    Gtu,
    Geu,
    /// Neither is NaN.
    Num,
    /// Either is NaN.
    Nan,
}

/// Flushes an f32 subnormal to a zero of the same sign.
pub fn flush32(x: f32) -> f32 {
    if x.is_subnormal() {
        if x.is_sign_negative() { -0.0 } else { 0.0 }
    } else {
        x
    }
}

fn ftz_in(x: f32, ftz: bool) -> f32 {
    if ftz { flush32(x) } else { x }
}

/// `add{.rnd}{.ftz}.f32`.
pub fn add32(a: f32, b: f32, r: Round, ftz: bool) -> f32 {
    let _ = r;
    ftz_in(ftz_in(a, ftz) + ftz_in(b, ftz), ftz)
}
/// `sub{.rnd}{.ftz}.f32`.
pub fn sub32(a: f32, b: f32, r: Round, ftz: bool) -> f32 {
    let _ = r;
    ftz_in(ftz_in(a, ftz) - ftz_in(b, ftz), ftz)
}
/// `mul{.rnd}{.ftz}.f32`.
pub fn mul32(a: f32, b: f32, r: Round, ftz: bool) -> f32 {
    let _ = r;
    ftz_in(ftz_in(a, ftz) * ftz_in(b, ftz), ftz)
}
/// `fma.rnd{.ftz}.f32` (and `mad.rnd.f32`): a·b + c rounded once.
pub fn fma32(a: f32, b: f32, c: f32, r: Round, ftz: bool) -> f32 {
    let _ = r;
    ftz_in(ftz_in(a, ftz).mul_add(ftz_in(b, ftz), ftz_in(c, ftz)), ftz)
}
/// `div.rnd{.ftz}.f32` (IEEE division).
pub fn div32(a: f32, b: f32, r: Round, ftz: bool) -> f32 {
    let _ = r;
    ftz_in(ftz_in(a, ftz) / ftz_in(b, ftz), ftz)
}
/// `sqrt.rnd{.ftz}.f32`.
pub fn sqrt32(a: f32, r: Round, ftz: bool) -> f32 {
    let _ = r;
    ftz_in(ftz_in(a, ftz).sqrt(), ftz)
}
/// `rcp.rnd{.ftz}.f32` (IEEE 1/a).
pub fn rcp32(a: f32, r: Round, ftz: bool) -> f32 {
    div32(1.0, a, r, ftz)
}
/// `ex2.approx{.ftz}.f32`: 2^a within the PTX ISA's documented error.
pub fn ex2_approx32(a: f32, ftz: bool) -> f32 {
    ftz_in(ftz_in(a, ftz).exp2(), ftz)
}
/// `min{.ftz}.f32` (a NaN input yields the other input).
pub fn min32(a: f32, b: f32, ftz: bool) -> f32 {
    ftz_in(a, ftz).min(ftz_in(b, ftz))
}
/// `max{.ftz}.f32`.
pub fn max32(a: f32, b: f32, ftz: bool) -> f32 {
    ftz_in(a, ftz).max(ftz_in(b, ftz))
}
/// `neg{.ftz}.f32`.
pub fn neg32(a: f32, ftz: bool) -> f32 {
    -ftz_in(a, ftz)
}
/// `abs{.ftz}.f32`.
pub fn abs32(a: f32, ftz: bool) -> f32 {
    ftz_in(a, ftz).abs()
}
/// `setp.cmp{.ftz}.f32`.
pub fn setp32(c: Cmp, a: f32, b: f32, ftz: bool) -> bool {
    setp64(c, ftz_in(a, ftz) as f64, ftz_in(b, ftz) as f64)
}
/// `.sat`: clamps to [0, 1]; NaN becomes +0.
pub fn sat32(a: f32) -> f32 {
    if a.is_nan() { 0.0 } else { a.clamp(0.0, 1.0) }
}

/// `add.rnd.f64`.
pub fn add64(a: f64, b: f64, r: Round) -> f64 {
    let _ = r;
    a + b
}
/// `sub.rnd.f64`.
pub fn sub64(a: f64, b: f64, r: Round) -> f64 {
    let _ = r;
    a - b
}
/// `mul.rnd.f64`.
pub fn mul64(a: f64, b: f64, r: Round) -> f64 {
    let _ = r;
    a * b
}
/// `fma.rnd.f64`.
pub fn fma64(a: f64, b: f64, c: f64, r: Round) -> f64 {
    let _ = r;
    a.mul_add(b, c)
}
/// `div.rnd.f64`.
pub fn div64(a: f64, b: f64, r: Round) -> f64 {
    let _ = r;
    a / b
}
/// `sqrt.rnd.f64`.
pub fn sqrt64(a: f64, r: Round) -> f64 {
    let _ = r;
    a.sqrt()
}
/// `rcp.rnd.f64`.
pub fn rcp64(a: f64, r: Round) -> f64 {
    div64(1.0, a, r)
}
/// `min.f64`.
pub fn min64(a: f64, b: f64) -> f64 {
    a.min(b)
}
/// `max.f64`.
pub fn max64(a: f64, b: f64) -> f64 {
    a.max(b)
}
/// `setp.cmp.f64`.
pub fn setp64(c: Cmp, a: f64, b: f64) -> bool {
    let nan = a.is_nan() || b.is_nan();
    match c {
        Cmp::Eq => !nan && a == b,
        Cmp::Ne => !nan && a != b,
        Cmp::Lt => !nan && a < b,
        Cmp::Le => !nan && a <= b,
        Cmp::Gt => !nan && a > b,
        Cmp::Ge => !nan && a >= b,
        Cmp::Equ => nan || a == b,
        Cmp::Neu => nan || a != b,
        Cmp::Ltu => nan || a < b,
        Cmp::Leu => nan || a <= b,
        Cmp::Gtu => nan || a > b,
        Cmp::Geu => nan || a >= b,
        Cmp::Num => !nan,
        Cmp::Nan => nan,
    }
}

/// `cvt{.ftz}.f64.f32` (exact).
pub fn f32_to_f64(a: f32, ftz: bool) -> f64 {
    ftz_in(a, ftz) as f64
}
/// `cvt.rnd{.ftz}.f32.f64`.
pub fn f64_to_f32(a: f64, r: Round, ftz: bool) -> f32 {
    let _ = r;
    ftz_in(a as f32, ftz)
}
/// `cvt.rnd.bf16.f32`: the bf16's bits.
pub fn f32_to_bf16(a: f32, r: Round) -> u16 {
    let _ = r;
    half::bf16::from_f32(a).to_bits()
}
/// `cvt.f32.bf16` (exact).
pub fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}
/// `cvt.rnd.f32.s64` (and the narrower signed sources, sign-extended).
pub fn s64_to_f32(v: i64, r: Round) -> f32 {
    let _ = r;
    v as f32
}
/// `cvt.rnd.f32.u64` (and the narrower unsigned sources).
pub fn u64_to_f32(v: u64, r: Round) -> f32 {
    let _ = r;
    v as f32
}
/// `cvt.rnd.f64.s64`.
pub fn s64_to_f64(v: i64, r: Round) -> f64 {
    let _ = r;
    v as f64
}
/// `cvt.rnd.f64.u64`.
pub fn u64_to_f64(v: u64, r: Round) -> f64 {
    let _ = r;
    v as f64
}
/// `cvt.irnd{.ftz}.{s,u}{bits}.f32`: saturates to the destination's range, NaN gives 0.
/// The result is the integer's bits, zero-extended to 64.
pub fn f32_to_int(a: f32, r: IntRound, ftz: bool, signed: bool, bits: u32) -> u64 {
    f64_to_int(ftz_in(a, ftz) as f64, r, signed, bits)
}
/// `cvt.irnd.{s,u}{bits}.f64`.
pub fn f64_to_int(a: f64, r: IntRound, signed: bool, bits: u32) -> u64 {
    if a.is_nan() {
        return 0;
    }
    let x = match r {
        IntRound::Rni => a.round_ties_even(),
        IntRound::Rzi => a.trunc(),
        IntRound::Rmi => a.floor(),
        IntRound::Rpi => a.ceil(),
    };
    let mask = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
    if signed {
        let lo = -(2f64.powi(bits as i32 - 1));
        let hi = 2f64.powi(bits as i32 - 1) - 1.0;
        (x.clamp(lo, hi) as i64 as u64) & mask
    } else {
        let hi = 2f64.powi(bits as i32) - 1.0;
        (x.clamp(0.0, hi) as u64) & mask
    }
}
/// `cvt.irnd{.ftz}.f32.f32`: rounds to an integral value, staying f32.
pub fn round_int32(a: f32, r: IntRound, ftz: bool) -> f32 {
    let a = ftz_in(a, ftz);
    match r {
        IntRound::Rni => a.round_ties_even(),
        IntRound::Rzi => a.trunc(),
        IntRound::Rmi => a.floor(),
        IntRound::Rpi => a.ceil(),
    }
}
