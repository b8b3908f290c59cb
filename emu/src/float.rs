//! The arithmetic of PTX's floating-point instruction forms, bit for bit.
//!
//! Every function here is one PTX instruction form (its doc names it), and each
//! computes what an sm_80/sm_90 card computes, to the bit, with one documented
//! exception ([`ex2_approx32`]). The interpreter calls these and nothing else for
//! floating-point work, so this file is the whole of the emulator's float semantics.
//!
//! # What a GPU's float unit does, and what this file reproduces
//!
//! - **Rounding modes.** An exact result is rarely representable, so each
//!   instruction says how to round it: `.rn` to the nearest value (a tie goes to
//!   the one whose last mantissa bit is 0, "ties to even"), `.rz` towards zero,
//!   `.rm` towards minus infinity, `.rp` towards plus infinity ([`Round`]). A card
//!   rounds *correctly*: the result is exactly the real-number result, rounded
//!   once in that direction. Here that holds for `add`, `sub`, `mul`, `fma`,
//!   `div`, `rcp`, `sqrt` and `cvt`, in f32 and f64, in every mode. The common
//!   case (`.rn`) uses the host's IEEE-754 arithmetic, which rounds the same way;
//!   directed modes, `fma` and conversions go through a small software float
//!   (an exact significand in a `u128`, then one rounding, see `round_pack`).
//! - **Overflow.** A result beyond the largest finite value becomes infinity when
//!   the rounding direction points away from zero (`.rn` always, `.rp` for
//!   positive, `.rm` for negative results), and the largest finite value otherwise:
//!   `add.rz.f32 MAX, MAX` is `MAX`, `add.rp.f32 MAX, MAX` is `+inf`.
//! - **Signed zero.** An exact zero sum (`x + -x`) is `+0`, except under `.rm`,
//!   where it is `-0`; `-0 + -0` is `-0`. Products and quotients take the xor of
//!   the signs. `sqrt(-0)` is `-0`.
//! - **Flush to zero (`.ftz`, f32 only).** Subnormal numbers (magnitude below
//!   2^-126, the smallest normal f32) are replaced by a zero of the same sign: in
//!   every input before the operation, and in the result after it has been rounded
//!   (a result that rounds up to 2^-126 is kept). f64 never flushes. The kernels
//!   here are built with `-ftz=true`, so almost every f32 instruction has `.ftz`.
//! - **No contraction.** `mul` then `add` are two roundings; only `fma` rounds
//!   once. The interpreter never fuses them (the kernels are built with
//!   `-fmad=false`, so nvcc does not either).
//! - **NaN.** A card does not propagate NaN payloads in f32 arithmetic: any f32
//!   arithmetic result that is NaN is the canonical NaN, bits `0x7FFF_FFFF`
//!   ([`CANONICAL_NAN32_BITS`], CUDA Programming Guide, "Floating-Point
//!   Standard"). f64 results use [`CANONICAL_NAN64_BITS`]. Signalling NaNs are
//!   treated as quiet ones.
//! - **min/max** return the other input when one is NaN, and order `-0 < +0`.
//! - **Conversions** to integers round as asked, saturate to the destination's
//!   range and turn NaN into 0. Integer to float conversions round once, even for
//!   64-bit integers that need more bits than an f64 holds.
//!
//! # Where the emulator's bits may differ from a card's
//!
//! Exactly one instruction form: `ex2.approx{.ftz}.f32` ([`ex2_approx32`]). The
//! PTX ISA only promises that a card's result is within 2 ulp of the correctly
//! rounded 2^a; the hardware's approximation is not published. The emulator
//! returns the correctly rounded value (or, in rare inputs very near a rounding
//! boundary, its neighbour), so emulated and card bits may differ by up to 2 ulp
//! (3 ulp in that rare corner). Everything else is exact.
//!
//! The ISA leaves a few NaN encodings and one signed-zero case unspecified; the
//! choices made here are listed on the functions they concern ([`sat32`],
//! [`neg32`], [`abs32`], [`neg64`], [`f32_to_f64`], [`bf16_to_f32`], and the
//! f64 canonical NaN). They only change which NaN or which zero comes out,
//! never a number.

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
///
/// The ordered forms (`eq` … `ge`) are false when either input is NaN; `ne` too
/// (unlike C's `!=`). `-0` and `+0` compare equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    /// `a == b`, neither NaN.
    Eq,
    /// `a != b`, neither NaN.
    Ne,
    /// `a < b`, neither NaN.
    Lt,
    /// `a <= b`, neither NaN.
    Le,
    /// `a > b`, neither NaN.
    Gt,
    /// `a >= b`, neither NaN.
    Ge,
    /// `a == b`, or either is NaN.
    Equ,
    /// `a != b`, or either is NaN.
    Neu,
    /// `a < b`, or either is NaN.
    Ltu,
    /// `a <= b`, or either is NaN.
    Leu,
    /// `a > b`, or either is NaN.
    Gtu,
    /// `a >= b`, or either is NaN.
    Geu,
    /// Neither is NaN.
    Num,
    /// Either is NaN.
    Nan,
}

/// The bits of the NaN every f32 arithmetic instruction returns when its result
/// is NaN (CUDA Programming Guide: "the quiet NaN of bit pattern 0x7fffffff").
pub const CANONICAL_NAN32_BITS: u32 = 0x7FFF_FFFF;

/// The bits of the NaN the f64 instructions here return when their result is NaN.
///
/// The ISA documents no canonical f64 NaN for arithmetic; this is the f32 pattern
/// widened (all ones but the sign), the emulator's choice. Only NaN bits depend on it.
pub const CANONICAL_NAN64_BITS: u64 = 0x7FFF_FFFF_FFFF_FFFF;

/// The bf16 NaN that `cvt.rn.bf16.f32` writes for any NaN input (as CUDA's
/// `__float2bfloat16_rn` does).
pub const CANONICAL_NAN_BF16_BITS: u16 = 0x7FFF;

#[inline]
fn nan32() -> f32 {
    f32::from_bits(CANONICAL_NAN32_BITS)
}

#[inline]
fn nan64() -> f64 {
    f64::from_bits(CANONICAL_NAN64_BITS)
}

/// Flushes an f32 subnormal to a zero of the same sign (what `.ftz` does to each
/// input and to the result); every other value, NaN included, is returned as is.
#[inline]
pub fn flush32(x: f32) -> f32 {
    if x.is_subnormal() {
        f32::from_bits(x.to_bits() & 0x8000_0000)
    } else {
        x
    }
}

#[inline]
fn ftz_in(x: f32, ftz: bool) -> f32 {
    if ftz {
        flush32(x)
    } else {
        x
    }
}

/// The last step of every f32 arithmetic instruction: NaN becomes the canonical
/// NaN, and under `.ftz` a subnormal (already rounded) result becomes a signed zero.
#[inline]
fn out32(y: f32, ftz: bool) -> f32 {
    if y.is_nan() {
        nan32()
    } else {
        ftz_in(y, ftz)
    }
}

#[inline]
fn out64(y: f64) -> f64 {
    if y.is_nan() {
        nan64()
    } else {
        y
    }
}

// ---------------------------------------------------------------------------
// A small software float: exact significands, one rounding.
//
// A finite value is ±sig·2^exp with an integer significand `sig` (a u128 is wide
// enough for the exact product of two f64 significands). Each operation computes
// its result exactly, or exactly enough: when bits must be dropped (aligning a
// sum, a quotient's remainder, a square root's remainder) they are "jammed" into
// the lowest bit, which is then 1 if anything nonzero was dropped. As long as at
// least two bits lie between that lowest bit and the result's last place, rounding
// the jammed value gives the same answer as rounding the exact one: the lowest bit
// tells "exactly on a boundary" from "a little past it". `round_pack` then rounds
// once to the destination format, subnormals and overflow included.
// ---------------------------------------------------------------------------

/// A binary floating-point format: explicit mantissa bits and exponent bits.
#[derive(Clone, Copy)]
struct Fmt {
    man: u32,
    exp: u32,
    nan: u64,
}

const F32: Fmt = Fmt {
    man: 23,
    exp: 8,
    nan: CANONICAL_NAN32_BITS as u64,
};
const F64: Fmt = Fmt {
    man: 52,
    exp: 11,
    nan: CANONICAL_NAN64_BITS,
};
const BF16: Fmt = Fmt {
    man: 7,
    exp: 8,
    nan: CANONICAL_NAN_BF16_BITS as u64,
};

impl Fmt {
    fn bias(self) -> i32 {
        (1 << (self.exp - 1)) - 1
    }
    fn sign_bit(self) -> u64 {
        1 << (self.man + self.exp)
    }
    fn inf(self, neg: bool) -> u64 {
        self.zero(neg) | (((1u64 << self.exp) - 1) << self.man)
    }
    fn zero(self, neg: bool) -> u64 {
        if neg {
            self.sign_bit()
        } else {
            0
        }
    }
}

/// A finite nonzero value: `(-1)^neg · sig · 2^exp`.
#[derive(Clone, Copy, Debug)]
struct Fin {
    neg: bool,
    sig: u128,
    exp: i32,
}

/// A decoded value.
#[derive(Clone, Copy, Debug)]
enum Val {
    Nan,
    Inf(bool),
    Zero(bool),
    Fin(Fin),
}

impl Val {
    fn neg(self) -> bool {
        match self {
            Val::Nan => false,
            Val::Inf(n) | Val::Zero(n) => n,
            Val::Fin(f) => f.neg,
        }
    }
}

fn unpack(bits: u64, f: Fmt) -> Val {
    let neg = bits & f.sign_bit() != 0;
    let e = ((bits >> f.man) & ((1 << f.exp) - 1)) as i32;
    let m = bits & ((1 << f.man) - 1);
    if e == (1 << f.exp) - 1 {
        if m == 0 {
            Val::Inf(neg)
        } else {
            Val::Nan
        }
    } else if e == 0 {
        if m == 0 {
            Val::Zero(neg)
        } else {
            Val::Fin(Fin {
                neg,
                sig: m as u128,
                exp: 1 - f.bias() - f.man as i32,
            })
        }
    } else {
        Val::Fin(Fin {
            neg,
            sig: (m | 1 << f.man) as u128,
            exp: e - f.bias() - f.man as i32,
        })
    }
}

/// The result of an overflow: infinity if the rounding direction points away from
/// zero, else the largest finite value.
fn overflow(neg: bool, r: Round, f: Fmt) -> u64 {
    let to_inf = match r {
        Round::Rn => true,
        Round::Rz => false,
        Round::Rp => !neg,
        Round::Rm => neg,
    };
    if to_inf {
        f.inf(neg)
    } else {
        f.inf(neg) - 1
    }
}

/// Rounds `x` (exact, or jammed as described above) once into format `f`.
fn round_pack(x: Fin, f: Fmt, r: Round) -> u64 {
    debug_assert!(x.sig != 0);
    let top = 127 - x.sig.leading_zeros() as i32;
    // |x| lies in [2^big_e, 2^(big_e+1)).
    let big_e = x.exp + top;
    let bias = f.bias();
    if big_e > bias {
        return overflow(x.neg, r, f);
    }
    // Below the normal range the last place stays at the subnormals' 2^(emin-man).
    let eff = big_e.max(1 - bias);
    let lsb = eff - f.man as i32;
    let shift = lsb - x.exp;
    let q: u64 = if shift <= 0 {
        (x.sig << (-shift) as u32) as u64
    } else {
        // q: the kept bits; rem compared with half an ulp decides the rounding.
        let (q, above_half, at_half, inexact) = if shift > 128 {
            (0u64, false, false, true)
        } else if shift == 128 {
            let half = 1u128 << 127;
            (0, x.sig > half, x.sig == half, true)
        } else {
            let rem = x.sig & ((1u128 << shift) - 1);
            let half = 1u128 << (shift - 1);
            ((x.sig >> shift) as u64, rem > half, rem == half, rem != 0)
        };
        let up = match r {
            Round::Rn => above_half || (at_half && q & 1 == 1),
            Round::Rz => false,
            Round::Rp => inexact && !x.neg,
            Round::Rm => inexact && x.neg,
        };
        q + up as u64
    };
    // A normal q carries the implicit bit, which adds 1 to the exponent field; a
    // subnormal q does not (eff + bias - 1 == 0). Rounding up past the top of a
    // binade (or from the largest subnormal to the smallest normal, or from the
    // largest finite value to infinity) carries into the exponent field by itself.
    let bits = (((eff + bias - 1) as u64) << f.man) + q;
    f.zero(x.neg) | bits
}

/// Shifts right by `d`, jamming the dropped bits into the lowest bit.
fn shift_right_jam(x: u128, d: i64) -> u128 {
    if d <= 0 {
        x
    } else if d >= 128 {
        (x != 0) as u128
    } else {
        (x >> d) | ((x & ((1u128 << d) - 1)) != 0) as u128
    }
}

/// The sum of two finite nonzero values; `None` when it is exactly zero.
fn add_fin(a: Fin, b: Fin) -> Option<Fin> {
    // Put both leading bits at bit 125 (bit 126 takes a carry); a significand
    // has at most 106 bits, so at least 19 zero bits lie below each.
    let norm = |x: Fin| {
        let s = 125 - (127 - x.sig.leading_zeros() as i32);
        (x.sig << s, x.exp - s)
    };
    let (sa, ea) = norm(a);
    let (sb, eb) = norm(b);
    let ((big, big_e, big_neg), (small, small_e, small_neg)) = if (ea, sa) >= (eb, sb) {
        ((sa, ea, a.neg), (sb, eb, b.neg))
    } else {
        ((sb, eb, b.neg), (sa, ea, a.neg))
    };
    // Bits of the smaller one are dropped only when it lies far below the larger,
    // and then the result's leading bit is at 124 or 125: the jam is far below
    // the result's last place.
    let small = shift_right_jam(small, big_e as i64 - small_e as i64);
    let sig = if big_neg == small_neg {
        big + small
    } else {
        big - small
    };
    if sig == 0 {
        None
    } else {
        Some(Fin {
            neg: big_neg,
            sig,
            exp: big_e,
        })
    }
}

/// The exact product of two values of at most 64-bit significands.
fn mul_fin(a: Fin, b: Fin) -> Fin {
    Fin {
        neg: a.neg ^ b.neg,
        sig: a.sig * b.sig,
        exp: a.exp + b.exp,
    }
}

/// The quotient, with at least 64 significant bits and the remainder jammed.
fn div_fin(a: Fin, b: Fin) -> Fin {
    let sa = a.sig.leading_zeros() as i32; // leading bit to 127
    let sb = b.sig.leading_zeros() as i32 - 64; // leading bit to 63
    let na = a.sig << sa;
    let nb = b.sig << sb;
    let q = na / nb; // in [2^63, 2^65)
    let rem = na % nb;
    Fin {
        neg: a.neg ^ b.neg,
        sig: q | (rem != 0) as u128,
        exp: (a.exp - sa) - (b.exp - sb),
    }
}

/// The square root of a positive value, with at least 62 significant bits and
/// the remainder jammed.
fn sqrt_fin(a: Fin) -> Fin {
    let top = 127 - a.sig.leading_zeros() as i32;
    let mut s = 125 - top;
    if (a.exp - s) & 1 != 0 {
        s += 1;
    }
    let n = a.sig << s; // leading bit at 125 or 126, an even exponent
    let (root, rem) = isqrt(n);
    Fin {
        neg: false,
        sig: root | (rem != 0) as u128,
        exp: (a.exp - s) >> 1,
    }
}

/// The integer square root of `n < 2^127` and its remainder `n - root²`.
fn isqrt(n: u128) -> (u128, u128) {
    let mut rem = n;
    let mut root = 0u128;
    let mut bit = 1u128 << 126;
    while bit > n {
        bit >>= 2;
    }
    while bit != 0 {
        if rem >= root + bit {
            rem -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    (root, rem)
}

/// A sum of finite nonzero values, rounded; an exact zero is `+0` (`-0` under `.rm`).
fn sum_round(x: Fin, y: Fin, f: Fmt, r: Round) -> u64 {
    match add_fin(x, y) {
        Some(s) => round_pack(s, f, r),
        None => f.zero(r == Round::Rm),
    }
}

/// IEEE addition in format `f`, rounded as `r` (no flushing: callers flush).
fn soft_add(a: u64, b: u64, f: Fmt, r: Round) -> u64 {
    match (unpack(a, f), unpack(b, f)) {
        (Val::Nan, _) | (_, Val::Nan) => f.nan,
        (Val::Inf(x), Val::Inf(y)) => {
            if x == y {
                f.inf(x)
            } else {
                f.nan
            }
        }
        (Val::Inf(x), _) | (_, Val::Inf(x)) => f.inf(x),
        (Val::Zero(x), Val::Zero(y)) => f.zero(if x == y { x } else { r == Round::Rm }),
        (Val::Zero(_), Val::Fin(_)) => b,
        (Val::Fin(_), Val::Zero(_)) => a,
        (Val::Fin(x), Val::Fin(y)) => sum_round(x, y, f, r),
    }
}

/// IEEE multiplication in format `f`, rounded as `r`.
fn soft_mul(a: u64, b: u64, f: Fmt, r: Round) -> u64 {
    let (va, vb) = (unpack(a, f), unpack(b, f));
    let neg = va.neg() ^ vb.neg();
    match (va, vb) {
        (Val::Nan, _) | (_, Val::Nan) => f.nan,
        (Val::Inf(_), Val::Zero(_)) | (Val::Zero(_), Val::Inf(_)) => f.nan,
        (Val::Inf(_), _) | (_, Val::Inf(_)) => f.inf(neg),
        (Val::Zero(_), _) | (_, Val::Zero(_)) => f.zero(neg),
        (Val::Fin(x), Val::Fin(y)) => round_pack(mul_fin(x, y), f, r),
    }
}

/// IEEE fused multiply-add `a·b + c` in format `f`, rounded once as `r`.
fn soft_fma(a: u64, b: u64, c: u64, f: Fmt, r: Round) -> u64 {
    let (va, vb, vc) = (unpack(a, f), unpack(b, f), unpack(c, f));
    if matches!(va, Val::Nan) || matches!(vb, Val::Nan) || matches!(vc, Val::Nan) {
        return f.nan;
    }
    let pneg = va.neg() ^ vb.neg();
    let p = match (va, vb) {
        (Val::Inf(_), Val::Zero(_)) | (Val::Zero(_), Val::Inf(_)) => return f.nan,
        (Val::Inf(_), _) | (_, Val::Inf(_)) => Val::Inf(pneg),
        (Val::Zero(_), _) | (_, Val::Zero(_)) => Val::Zero(pneg),
        (Val::Fin(x), Val::Fin(y)) => Val::Fin(mul_fin(x, y)),
        _ => unreachable!(),
    };
    match (p, vc) {
        (Val::Inf(_), Val::Inf(cn)) => {
            if cn == pneg {
                f.inf(pneg)
            } else {
                f.nan
            }
        }
        (Val::Inf(_), _) => f.inf(pneg),
        (_, Val::Inf(cn)) => f.inf(cn),
        (Val::Zero(_), Val::Zero(cn)) => f.zero(if cn == pneg { pneg } else { r == Round::Rm }),
        (Val::Zero(_), _) => c,
        (Val::Fin(x), Val::Zero(_)) => round_pack(x, f, r),
        (Val::Fin(x), Val::Fin(y)) => sum_round(x, y, f, r),
        _ => unreachable!(),
    }
}

/// IEEE division in format `f`, rounded as `r`.
fn soft_div(a: u64, b: u64, f: Fmt, r: Round) -> u64 {
    let (va, vb) = (unpack(a, f), unpack(b, f));
    let neg = va.neg() ^ vb.neg();
    match (va, vb) {
        (Val::Nan, _) | (_, Val::Nan) => f.nan,
        (Val::Inf(_), Val::Inf(_)) | (Val::Zero(_), Val::Zero(_)) => f.nan,
        (Val::Inf(_), _) => f.inf(neg),
        (_, Val::Inf(_)) | (Val::Zero(_), _) => f.zero(neg),
        (_, Val::Zero(_)) => f.inf(neg),
        (Val::Fin(x), Val::Fin(y)) => round_pack(div_fin(x, y), f, r),
    }
}

/// IEEE square root in format `f`, rounded as `r`.
fn soft_sqrt(a: u64, f: Fmt, r: Round) -> u64 {
    match unpack(a, f) {
        Val::Nan | Val::Inf(true) => f.nan,
        Val::Fin(x) if x.neg => f.nan,
        Val::Inf(false) => f.inf(false),
        Val::Zero(n) => f.zero(n),
        Val::Fin(x) => round_pack(sqrt_fin(x), f, r),
    }
}

/// Converts between formats, rounding once as `r`; NaN becomes `to`'s canonical NaN.
fn soft_cvt(a: u64, from: Fmt, to: Fmt, r: Round) -> u64 {
    match unpack(a, from) {
        Val::Nan => to.nan,
        Val::Inf(n) => to.inf(n),
        Val::Zero(n) => to.zero(n),
        Val::Fin(x) => round_pack(x, to, r),
    }
}

/// Rounds an integer `±mag` into format `f`; zero is `+0` in every mode.
fn int_to_float(neg: bool, mag: u64, f: Fmt, r: Round) -> u64 {
    if mag == 0 {
        0
    } else {
        round_pack(
            Fin {
                neg,
                sig: mag as u128,
                exp: 0,
            },
            f,
            r,
        )
    }
}

#[inline]
fn soft32_2(op: fn(u64, u64, Fmt, Round) -> u64, a: f32, b: f32, r: Round) -> f32 {
    f32::from_bits(op(a.to_bits() as u64, b.to_bits() as u64, F32, r) as u32)
}

#[inline]
fn soft64_2(op: fn(u64, u64, Fmt, Round) -> u64, a: f64, b: f64, r: Round) -> f64 {
    f64::from_bits(op(a.to_bits(), b.to_bits(), F64, r))
}

// ---------------------------------------------------------------------------
// f32 arithmetic
// ---------------------------------------------------------------------------

/// `add{.rnd}{.ftz}.f32`: `a + b`, correctly rounded as `r`.
///
/// With `ftz`, subnormal inputs are read as signed zeros and a subnormal result
/// is written as a signed zero. An exact zero sum is `+0` (`-0` under `.rm`, and
/// for `-0 + -0`).
pub fn add32(a: f32, b: f32, r: Round, ftz: bool) -> f32 {
    let (a, b) = (ftz_in(a, ftz), ftz_in(b, ftz));
    let y = match r {
        Round::Rn => a + b,
        _ => soft32_2(soft_add, a, b, r),
    };
    out32(y, ftz)
}

/// `sub{.rnd}{.ftz}.f32`: `a - b`, that is `a + (-b)`, correctly rounded as `r`.
pub fn sub32(a: f32, b: f32, r: Round, ftz: bool) -> f32 {
    add32(a, -b, r, ftz)
}

/// `mul{.rnd}{.ftz}.f32`: `a · b`, correctly rounded as `r`.
pub fn mul32(a: f32, b: f32, r: Round, ftz: bool) -> f32 {
    let (a, b) = (ftz_in(a, ftz), ftz_in(b, ftz));
    let y = match r {
        Round::Rn => a * b,
        _ => soft32_2(soft_mul, a, b, r),
    };
    out32(y, ftz)
}

/// `fma.rnd{.ftz}.f32` (and `mad.rnd.f32`): `a·b + c` rounded once.
///
/// The product is never rounded on its own: `fma.rn(1+2^-12, 1+2^-12, -1)` is
/// `2^-11 + 2^-24`, where `mul` then `add` give `2^-11`, and `fma(MAX, 2, -MAX)`
/// is `MAX`, not infinity.
pub fn fma32(a: f32, b: f32, c: f32, r: Round, ftz: bool) -> f32 {
    let (a, b, c) = (ftz_in(a, ftz), ftz_in(b, ftz), ftz_in(c, ftz));
    if r == Round::Rn {
        // Fast path: a·b is exact in f64, so s = a·b + c rounds once to f64;
        // rounding s to f32 is then right unless s sits exactly on an f32
        // halfway point (or below the normal range, where those points move).
        let s = a as f64 * b as f64 + c as f64;
        if s.is_nan() {
            return nan32();
        }
        if s == 0.0 || (s.abs() >= f32::MIN_POSITIVE as f64 && s.to_bits() & 0x1FFF_FFFF != 0x1000_0000) {
            return out32(s as f32, ftz);
        }
    }
    let bits = soft_fma(a.to_bits() as u64, b.to_bits() as u64, c.to_bits() as u64, F32, r);
    out32(f32::from_bits(bits as u32), ftz)
}

/// `div.rnd{.ftz}.f32` (`div.rn` is IEEE division): `a / b`, correctly rounded.
///
/// `x/±0` is a signed infinity for `x != 0`; `0/0` and `inf/inf` are NaN. Under
/// `ftz`, a subnormal divisor counts as zero.
pub fn div32(a: f32, b: f32, r: Round, ftz: bool) -> f32 {
    let (a, b) = (ftz_in(a, ftz), ftz_in(b, ftz));
    let y = match r {
        Round::Rn => a / b,
        _ => soft32_2(soft_div, a, b, r),
    };
    out32(y, ftz)
}

/// `sqrt.rnd{.ftz}.f32`: the correctly rounded square root.
///
/// `sqrt(-0) = -0`, `sqrt(+inf) = +inf`, any negative input (or `-inf`) gives NaN.
/// Under `ftz` a negative subnormal is `-0` first, so its root is `-0`, not NaN.
pub fn sqrt32(a: f32, r: Round, ftz: bool) -> f32 {
    let a = ftz_in(a, ftz);
    let y = match r {
        Round::Rn => a.sqrt(),
        _ => f32::from_bits(soft_sqrt(a.to_bits() as u64, F32, r) as u32),
    };
    out32(y, ftz)
}

/// `rcp.rnd{.ftz}.f32`: the IEEE reciprocal `1/a`, correctly rounded (not the
/// `rcp.approx` form, which the emulator does not implement).
pub fn rcp32(a: f32, r: Round, ftz: bool) -> f32 {
    div32(1.0, a, r, ftz)
}

/// `1/k!` for the Taylor series of `e^t` in [`ex2_approx32`].
const INV_FACT: [f64; 15] = [
    1.0,
    1.0,
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5040.0,
    1.0 / 40320.0,
    1.0 / 362880.0,
    1.0 / 3628800.0,
    1.0 / 39916800.0,
    1.0 / 479001600.0,
    1.0 / 6227020800.0,
    1.0 / 87178291200.0,
];

/// `ex2.approx{.ftz}.f32`: `2^a`, within the PTX ISA's documented error. **The one
/// instruction whose emulated bits may differ from a card's.**
///
/// The PTX ISA (9.x, "Floating Point Instructions: ex2") says only that the
/// result is within **2 ulp of the correctly rounded result** across the full
/// range of inputs; the card's approximation itself is not published.
///
/// The emulator computes `2^a` in f64 (`a = n + f` with integer `n` and
/// `|f| <= 1/2`, `2^f = e^(f·ln 2)` by a degree-14 Taylor series, relative error
/// below 1e-15, then an exact scaling by `2^n`) and rounds it to nearest f32. The
/// result is therefore the correctly rounded `2^a`, except for inputs whose `2^a`
/// lies within about 1e-15 (relative) of a halfway point between two f32 values,
/// where it may be the other neighbour: always within 1 ulp of correctly rounded,
/// usually 0. So emulated and card results may differ by up to 2 ulp (3 in that
/// rare corner); exact powers of two (`a` an integer) are exact on both. The
/// computation uses only f64 `+` and `·`, so it gives the same bits on every host.
///
/// Special values (the ISA's table): `ex2(-inf) = +0`, `ex2(±0) = +1`,
/// `ex2(+inf) = +inf`, `ex2(NaN) = NaN`. With `ftz`, a subnormal input is `±0`
/// (so the result is `1`) and a subnormal result (`a < -126`) is `+0`.
pub fn ex2_approx32(a: f32, ftz: bool) -> f32 {
    let a = ftz_in(a, ftz);
    if a.is_nan() {
        return nan32();
    }
    if a >= 128.0 {
        return f32::INFINITY; // 2^128 and above overflow (+inf included)
    }
    if a < -152.0 {
        return 0.0; // far below half the smallest subnormal (-inf included)
    }
    let n = a.round_ties_even();
    let t = (a as f64 - n as f64) * std::f64::consts::LN_2; // |t| <= 0.347
    let mut p = INV_FACT[14];
    for &c in INV_FACT[..14].iter().rev() {
        p = p * t + c;
    }
    // 2^n for n in [-152, 127] is a normal f64: the scaling is exact.
    let scale = f64::from_bits(((n as i64 + 1023) as u64) << 52);
    out32((p * scale) as f32, ftz)
}

/// `min{.ftz}.f32`: the smaller input.
///
/// If exactly one input is NaN the result is the other; if both are, the
/// canonical NaN. `-0` counts as less than `+0` (the ISA: "-0.0 < +0.0 here"), so
/// `min(+0, -0) = -0`. With `ftz` the inputs are flushed first.
pub fn min32(a: f32, b: f32, ftz: bool) -> f32 {
    let (a, b) = (ftz_in(a, ftz), ftz_in(b, ftz));
    match (a.is_nan(), b.is_nan()) {
        (true, true) => nan32(),
        (true, false) => b,
        (false, true) => a,
        _ => {
            if a < b || (a == b && a.is_sign_negative()) {
                a
            } else {
                b
            }
        }
    }
}

/// `max{.ftz}.f32`: the larger input; NaN rules as [`min32`], `max(-0, +0) = +0`.
pub fn max32(a: f32, b: f32, ftz: bool) -> f32 {
    let (a, b) = (ftz_in(a, ftz), ftz_in(b, ftz));
    match (a.is_nan(), b.is_nan()) {
        (true, true) => nan32(),
        (true, false) => b,
        (false, true) => a,
        _ => {
            if a > b || (a == b && a.is_sign_positive()) {
                a
            } else {
                b
            }
        }
    }
}

/// `neg{.ftz}.f32`: flips the sign bit (after flushing, with `ftz`).
///
/// Choice: a NaN keeps its payload and has its sign flipped, as IEEE-754's
/// `negate` does. The ISA leaves NaN results of `neg` unspecified; the CUDA
/// Programming Guide lists only f64 `neg`/`abs` as deviating from IEEE on NaNs.
pub fn neg32(a: f32, ftz: bool) -> f32 {
    f32::from_bits(ftz_in(a, ftz).to_bits() ^ 0x8000_0000)
}

/// `abs{.ftz}.f32`: clears the sign bit (after flushing, with `ftz`); a NaN keeps
/// its payload (the same choice as [`neg32`]).
pub fn abs32(a: f32, ftz: bool) -> f32 {
    f32::from_bits(ftz_in(a, ftz).to_bits() & 0x7FFF_FFFF)
}

#[inline]
fn compare<T: PartialOrd>(c: Cmp, a: T, b: T, nan: bool) -> bool {
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

/// `setp.cmp{.ftz}.f32`: the comparison's truth. With `ftz` the inputs are
/// flushed first, so a subnormal equals zero.
pub fn setp32(c: Cmp, a: f32, b: f32, ftz: bool) -> bool {
    let (a, b) = (ftz_in(a, ftz), ftz_in(b, ftz));
    compare(c, a, b, a.is_nan() || b.is_nan())
}

/// `.sat` on an f32 result (`cvt.sat.f32.f32`, `add.sat.f32`, …): clamps to
/// `[+0.0, 1.0]`; NaN becomes `+0.0` (the ISA: "NaN results are flushed to +0.0f").
///
/// Choice: `-0.0` becomes `+0.0`. The ISA says only "clamps the result to
/// [0.0, 1.0]"; under its own ordering for `min`/`max` (`-0.0 < +0.0`) `-0.0`
/// lies below the interval. Nothing but the zero's sign depends on this.
/// Subnormals in range are kept (flushing is `.ftz`'s business, done before).
pub fn sat32(a: f32) -> f32 {
    if a.is_nan() || a <= 0.0 {
        0.0
    } else if a > 1.0 {
        1.0
    } else {
        a
    }
}

// ---------------------------------------------------------------------------
// f64 arithmetic (never flushes)
// ---------------------------------------------------------------------------

/// `add.rnd.f64`: `a + b`, correctly rounded; subnormals are kept.
pub fn add64(a: f64, b: f64, r: Round) -> f64 {
    match r {
        Round::Rn => out64(a + b),
        _ => soft64_2(soft_add, a, b, r),
    }
}

/// `sub.rnd.f64`: `a - b`, correctly rounded.
pub fn sub64(a: f64, b: f64, r: Round) -> f64 {
    add64(a, -b, r)
}

/// `mul.rnd.f64`: `a · b`, correctly rounded.
pub fn mul64(a: f64, b: f64, r: Round) -> f64 {
    match r {
        Round::Rn => out64(a * b),
        _ => soft64_2(soft_mul, a, b, r),
    }
}

/// `fma.rnd.f64`: `a·b + c`, rounded once.
pub fn fma64(a: f64, b: f64, c: f64, r: Round) -> f64 {
    f64::from_bits(soft_fma(a.to_bits(), b.to_bits(), c.to_bits(), F64, r))
}

/// `div.rnd.f64`: IEEE division, correctly rounded.
pub fn div64(a: f64, b: f64, r: Round) -> f64 {
    match r {
        Round::Rn => out64(a / b),
        _ => soft64_2(soft_div, a, b, r),
    }
}

/// `sqrt.rnd.f64`: the correctly rounded square root (`sqrt(-0) = -0`).
pub fn sqrt64(a: f64, r: Round) -> f64 {
    match r {
        Round::Rn => out64(a.sqrt()),
        _ => f64::from_bits(soft_sqrt(a.to_bits(), F64, r)),
    }
}

/// `rcp.rnd.f64`: the IEEE reciprocal `1/a`, correctly rounded.
pub fn rcp64(a: f64, r: Round) -> f64 {
    div64(1.0, a, r)
}

/// `min.f64`: as [`min32`] without flushing (NaN rules, `-0 < +0`).
pub fn min64(a: f64, b: f64) -> f64 {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => nan64(),
        (true, false) => b,
        (false, true) => a,
        _ => {
            if a < b || (a == b && a.is_sign_negative()) {
                a
            } else {
                b
            }
        }
    }
}

/// `max.f64`: as [`max32`] without flushing.
pub fn max64(a: f64, b: f64) -> f64 {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => nan64(),
        (true, false) => b,
        (false, true) => a,
        _ => {
            if a > b || (a == b && a.is_sign_positive()) {
                a
            } else {
                b
            }
        }
    }
}

/// `neg.f64`: flips the sign bit; a NaN passes through unchanged (the CUDA
/// Programming Guide: f64 absolute value and negation "are not compliant with
/// IEEE-754 with respect to NaNs; these are passed through unchanged").
pub fn neg64(a: f64) -> f64 {
    if a.is_nan() {
        a
    } else {
        -a
    }
}

/// `abs.f64`: clears the sign bit; a NaN passes through unchanged (see [`neg64`]).
pub fn abs64(a: f64) -> f64 {
    if a.is_nan() {
        a
    } else {
        a.abs()
    }
}

/// `setp.cmp.f64`: the comparison's truth.
pub fn setp64(c: Cmp, a: f64, b: f64) -> bool {
    compare(c, a, b, a.is_nan() || b.is_nan())
}

// ---------------------------------------------------------------------------
// Conversions
// ---------------------------------------------------------------------------

/// `cvt{.ftz}.f64.f32`: exact widening (a subnormal input is flushed under `ftz`).
///
/// Choice: a NaN becomes the canonical f64 NaN ([`CANONICAL_NAN64_BITS`]); the
/// ISA does not say whether the payload is widened.
pub fn f32_to_f64(a: f32, ftz: bool) -> f64 {
    out64(ftz_in(a, ftz) as f64)
}

/// `cvt.rnd{.ftz}.f32.f64`: rounds once to f32 as `r`.
///
/// Beyond the f32 range the result is infinity or `±MAX` as the direction says
/// (`1e39` is `+inf` under `.rn`/`.rp`, `MAX` under `.rz`/`.rm`). A result in the
/// subnormal range is rounded there (2^-150 is a tie and goes to `+0`), then
/// flushed under `ftz`. NaN gives the canonical f32 NaN.
pub fn f64_to_f32(a: f64, r: Round, ftz: bool) -> f32 {
    let y = match r {
        Round::Rn => a as f32,
        _ => f32::from_bits(soft_cvt(a.to_bits(), F64, F32, r) as u32),
    };
    out32(y, ftz)
}

/// `cvt.rnd.bf16.f32`: the bf16's bits, rounded once as `r` (bf16 is the top
/// half of an f32: 8 exponent bits, 7 mantissa bits).
///
/// Subnormals are kept; overflow goes to infinity or the largest finite bf16
/// (`0x7F7F`) as the direction says. Any NaN gives [`CANONICAL_NAN_BF16_BITS`]
/// (`0x7FFF`), as CUDA's `__float2bfloat16_rn` does.
pub fn f32_to_bf16(a: f32, r: Round) -> u16 {
    let bits = a.to_bits();
    if a.is_nan() {
        return CANONICAL_NAN_BF16_BITS;
    }
    match r {
        // Adding 0x7FFF plus the kept part's last bit, then truncating, is round
        // to nearest even; the carry runs into the exponent (and into infinity).
        Round::Rn => ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) as u16,
        Round::Rz => (bits >> 16) as u16,
        _ => soft_cvt(bits as u64, F32, BF16, r) as u16,
    }
}

/// `cvt.f32.bf16`: exact (the bf16's bits become the f32's top half).
///
/// Choice: a NaN keeps its payload (the bits are moved, not recomputed), as
/// CUDA's `__bfloat162float` does.
pub fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// `cvt.rnd.f32.s64` (and the narrower signed sources, sign-extended): rounded once.
///
/// Zero converts to `+0` in every mode.
pub fn s64_to_f32(v: i64, r: Round) -> f32 {
    match r {
        Round::Rn => v as f32, // Rust's cast rounds once, to nearest even
        _ => f32::from_bits(int_to_float(v < 0, v.unsigned_abs(), F32, r) as u32),
    }
}

/// `cvt.rnd.f32.u64` (and the narrower unsigned sources): rounded once, never via
/// f64 (`2^63 + 2^39 + 1` rounds up to `2^63 + 2^40`; through f64 it would tie
/// down to `2^63`).
pub fn u64_to_f32(v: u64, r: Round) -> f32 {
    match r {
        Round::Rn => v as f32,
        _ => f32::from_bits(int_to_float(false, v, F32, r) as u32),
    }
}

/// `cvt.rnd.f64.s64`: rounded once (values beyond 2^53 may be inexact).
pub fn s64_to_f64(v: i64, r: Round) -> f64 {
    match r {
        Round::Rn => v as f64,
        _ => f64::from_bits(int_to_float(v < 0, v.unsigned_abs(), F64, r)),
    }
}

/// `cvt.rnd.f64.u64`: rounded once.
pub fn u64_to_f64(v: u64, r: Round) -> f64 {
    match r {
        Round::Rn => v as f64,
        _ => f64::from_bits(int_to_float(false, v, F64, r)),
    }
}

/// `cvt.irnd{.ftz}.{s,u}{bits}.f32`: rounds to an integer, saturates to the
/// destination's range, NaN gives 0 (the ISA: float-to-integer conversions
/// saturate by default). The result is the integer's bits, zero-extended to 64
/// (an `s8` of `-1` is `0xFF`).
///
/// With `ftz` a subnormal input is zero first: `cvt.rpi.ftz.s32.f32` of 2^-149 is
/// 0, without `ftz` it is 1.
pub fn f32_to_int(a: f32, r: IntRound, ftz: bool, signed: bool, bits: u32) -> u64 {
    f64_to_int(ftz_in(a, ftz) as f64, r, signed, bits)
}

#[inline]
fn round_integral64(a: f64, r: IntRound) -> f64 {
    match r {
        IntRound::Rni => a.round_ties_even(),
        IntRound::Rzi => a.trunc(),
        IntRound::Rmi => a.floor(),
        IntRound::Rpi => a.ceil(),
    }
}

/// `cvt.irnd.{s,u}{bits}.f64`: as [`f32_to_int`], from f64.
///
/// `bits` is the destination width (8, 16, 32 or 64).
pub fn f64_to_int(a: f64, r: IntRound, signed: bool, bits: u32) -> u64 {
    debug_assert!((1..=64).contains(&bits));
    if a.is_nan() {
        return 0;
    }
    // An integral f64 (or ±inf) to i128 is exact up to i128's range, saturating
    // beyond it; every destination range lies inside.
    let v = round_integral64(a, r) as i128;
    let (lo, hi) = if signed {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    } else {
        (0, (1i128 << bits) - 1)
    };
    let mask = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
    (v.clamp(lo, hi) as u64) & mask
}

/// `cvt.irnd{.ftz}.f32.f32`: rounds to an integral value, staying f32.
///
/// The sign survives (`cvt.rni` of `-0.4` is `-0.0`); infinities stay; NaN gives
/// the canonical NaN; with `ftz` a subnormal input is a signed zero first.
pub fn round_int32(a: f32, r: IntRound, ftz: bool) -> f32 {
    let a = ftz_in(a, ftz);
    let y = match r {
        IntRound::Rni => a.round_ties_even(),
        IntRound::Rzi => a.trunc(),
        IntRound::Rmi => a.floor(),
        IntRound::Rpi => a.ceil(),
    };
    out32(y, false)
}

/// `cvt.irnd.f64.f64`: rounds to an integral value, staying f64 (as [`round_int32`]).
pub fn round_int64(a: f64, r: IntRound) -> f64 {
    out64(round_integral64(a, r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    // ---- helpers -----------------------------------------------------------

    const RS: [Round; 4] = [Round::Rn, Round::Rz, Round::Rm, Round::Rp];
    const MAX: f32 = f32::MAX;
    const INF: f32 = f32::INFINITY;
    const NAN: u32 = CANONICAL_NAN32_BITS;

    fn f(bits: u32) -> f32 {
        f32::from_bits(bits)
    }
    fn d(bits: u64) -> f64 {
        f64::from_bits(bits)
    }
    /// 2^e as f32, built from its bits (`powi` is not exact everywhere).
    fn p2(e: i32) -> f32 {
        p2s(e)
    }
    /// 2^e as f64 for e in [-1074, 1023], subnormals included.
    fn p2d(e: i32) -> f64 {
        assert!((-1074..=1023).contains(&e));
        if e >= -1022 {
            d(((e + 1023) as u64) << 52)
        } else {
            d(1 << (e + 1074))
        }
    }
    /// 2^e as f32 for e in [-149, 127], subnormals included.
    fn p2s(e: i32) -> f32 {
        assert!((-149..=127).contains(&e));
        p2d(e) as f32
    }
    #[track_caller]
    fn same(got: f32, want: f32) {
        assert_eq!(
            got.to_bits(),
            want.to_bits(),
            "got {got:e} ({:#010x}), want {want:e} ({:#010x})",
            got.to_bits(),
            want.to_bits()
        );
    }
    #[track_caller]
    fn same64(got: f64, want: f64) {
        assert_eq!(
            got.to_bits(),
            want.to_bits(),
            "got {got:e} ({:#018x}), want {want:e} ({:#018x})",
            got.to_bits(),
            want.to_bits()
        );
    }
    /// Checks one function under the four modes: [rn, rz, rm, rp].
    #[track_caller]
    fn modes(g: impl Fn(Round) -> f32, want: [f32; 4]) {
        for (r, w) in RS.iter().zip(want) {
            let got = g(*r);
            assert_eq!(
                got.to_bits(),
                w.to_bits(),
                "{r:?}: got {got:e} ({:#010x}), want {w:e} ({:#010x})",
                got.to_bits(),
                w.to_bits()
            );
        }
    }
    #[track_caller]
    fn modes64(g: impl Fn(Round) -> f64, want: [f64; 4]) {
        for (r, w) in RS.iter().zip(want) {
            let got = g(*r);
            assert_eq!(
                got.to_bits(),
                w.to_bits(),
                "{r:?}: got {got:e} ({:#018x}), want {w:e} ({:#018x})",
                got.to_bits(),
                w.to_bits()
            );
        }
    }
    fn up32(x: f32) -> f32 {
        let b = x.to_bits();
        if x.is_nan() || x == INF {
            x
        } else if x == 0.0 {
            f(1)
        } else if b >> 31 == 0 {
            f(b + 1)
        } else {
            f(b - 1)
        }
    }
    fn down32(x: f32) -> f32 {
        -up32(-x)
    }
    fn up64(x: f64) -> f64 {
        let b = x.to_bits();
        if x.is_nan() || x == f64::INFINITY {
            x
        } else if x == 0.0 {
            d(1)
        } else if b >> 63 == 0 {
            d(b + 1)
        } else {
            d(b - 1)
        }
    }
    fn down64(x: f64) -> f64 {
        -up64(-x)
    }
    fn is_nan32(x: f32) -> bool {
        x.to_bits() == NAN
    }

    /// SplitMix64.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        /// A finite f32: random bits, or values near 1 with few bits, or near a given exponent.
        fn f32(&mut self) -> f32 {
            loop {
                let r = self.next();
                let x = match r % 4 {
                    0 => f((r >> 32) as u32),
                    1 => f(((r >> 32) as u32 & 0x807F_FFFF) | (((r >> 8) % 40 + 107) as u32) << 23),
                    2 => f(((r >> 32) as u32 & 0x8000_00FF) | 0x3F80_0000 | ((r >> 16) as u32 & 0x7F) << 16),
                    _ => f(((r >> 32) as u32) & 0x80FF_FFFF), // tiny: subnormal or near 2^-126
                };
                if x.is_finite() {
                    return x;
                }
            }
        }
        fn f64(&mut self) -> f64 {
            loop {
                let r = self.next();
                let x = match r % 3 {
                    0 => d(r),
                    1 => d((r & 0x800F_FFFF_FFFF_FFFF) | (((r >> 13) % 60 + 993) << 52)),
                    _ => d(r & 0x801F_FFFF_FFFF_FFFF),
                };
                if x.is_finite() {
                    return x;
                }
            }
        }
    }

    /// Checks that rm/rp/rz are the floats just below/above/towards zero of the
    /// exact value, given an exact comparison `cmp(y) = y ⋚ exact`.
    #[track_caller]
    fn bracket32(what: &str, rz: f32, rm: f32, rp: f32, cmp: impl Fn(f32) -> Ordering) {
        assert!(
            cmp(rm) != Ordering::Greater && cmp(up32(rm)) == Ordering::Greater,
            "{what}: rm {rm:e}"
        );
        assert!(
            cmp(rp) != Ordering::Less && cmp(down32(rp)) == Ordering::Less,
            "{what}: rp {rp:e}"
        );
        match cmp(0.0) {
            Ordering::Less => same(rz, rm),
            Ordering::Greater => same(rz, rp),
            Ordering::Equal => assert!(rz == 0.0 && rm == 0.0 && rp == 0.0, "{what}"),
        }
    }
    #[track_caller]
    fn bracket64(what: &str, rz: f64, rm: f64, rp: f64, cmp: impl Fn(f64) -> Ordering) {
        assert!(
            cmp(rm) != Ordering::Greater && cmp(up64(rm)) == Ordering::Greater,
            "{what}: rm {rm:e}"
        );
        assert!(
            cmp(rp) != Ordering::Less && cmp(down64(rp)) == Ordering::Less,
            "{what}: rp {rp:e}"
        );
        match cmp(0.0) {
            Ordering::Less => same64(rz, rm),
            Ordering::Greater => same64(rz, rp),
            Ordering::Equal => assert!(rz == 0.0 && rm == 0.0 && rp == 0.0, "{what}"),
        }
    }
    /// `s + e` exactly (Knuth's TwoSum).
    fn two_sum(a: f64, b: f64) -> (f64, f64) {
        let s = a + b;
        let bb = s - a;
        (s, (a - (s - bb)) + (b - bb))
    }
    /// Compares `y` with `s + e`, where `e` is below half an ulp of `s`.
    fn cmp_sum(y: f64, s: f64, e: f64) -> Ordering {
        match y.partial_cmp(&s).unwrap() {
            Ordering::Equal => 0f64.partial_cmp(&e).unwrap(),
            o => o,
        }
    }

    // ---- flush32 / ftz -----------------------------------------------------

    #[test]
    fn flush32_keeps_sign_and_normals() {
        same(flush32(f(1)), 0.0);
        same(flush32(f(0x8000_0001)), -0.0);
        same(flush32(f(0x007F_FFFF)), 0.0);
        same(flush32(f32::MIN_POSITIVE), f32::MIN_POSITIVE);
        same(flush32(-0.0), -0.0);
        assert_eq!(flush32(f(0xFFC0_0001)).to_bits(), 0xFFC0_0001);
    }

    // ---- add / sub ---------------------------------------------------------

    #[test]
    fn add32_ties_to_even_and_directed() {
        let a = |b: f32| move |r| add32(1.0, b, r, false);
        // 1 + 2^-24: exactly halfway between 1 and 1 + 2^-23; even is 1.
        modes(a(p2(-24)), [1.0, 1.0, 1.0, 1.0 + p2(-23)]);
        // 1 + 3·2^-24: halfway between 1 + 2^-23 and 1 + 2^-22; even is up.
        modes(
            a(3.0 * p2(-24)),
            [1.0 + p2(-22), 1.0 + p2(-23), 1.0 + p2(-23), 1.0 + p2(-22)],
        );
        // 1 + (2^-24 + 2^-40): just past halfway.
        modes(a(p2(-24) + p2(-40)), [1.0 + p2(-23), 1.0, 1.0, 1.0 + p2(-23)]);
        // Far below the last place: only the directed modes see it.
        modes(a(p2(-100)), [1.0, 1.0, 1.0, 1.0 + p2(-23)]);
        modes(a(-p2(-100)), [1.0, 1.0 - p2(-24), 1.0 - p2(-24), 1.0]);
        // Negative: -1 - 2^-24.
        modes(
            |r| add32(-1.0, -p2(-24), r, false),
            [-1.0, -1.0, -1.0 - p2(-23), -1.0],
        );
        // Exact sums are exact in every mode.
        modes(a(0.5), [1.5; 4]);
    }

    #[test]
    fn add32_overflow_follows_direction() {
        modes(|r| add32(MAX, MAX, r, false), [INF, MAX, MAX, INF]);
        modes(|r| add32(-MAX, -MAX, r, false), [-INF, -MAX, -INF, -MAX]);
        // MAX + half its ulp (2^103) is a tie between MAX (odd) and 2^128 (even): inf.
        modes(|r| add32(MAX, p2(103), r, false), [INF, MAX, MAX, INF]);
        // Just under the tie stays MAX.
        modes(|r| add32(MAX, p2(102), r, false), [MAX, MAX, MAX, INF]);
        modes(|r| add32(INF, 1.0, r, false), [INF; 4]);
    }

    #[test]
    fn add32_signed_zeros() {
        modes(|r| add32(1.0, -1.0, r, false), [0.0, 0.0, -0.0, 0.0]);
        modes(|r| add32(-0.0, -0.0, r, false), [-0.0; 4]);
        modes(|r| add32(0.0, -0.0, r, false), [0.0, 0.0, -0.0, 0.0]);
        modes(|r| add32(-0.0, 0.0, r, false), [0.0, 0.0, -0.0, 0.0]);
        modes(|r| add32(0.0, 0.0, r, false), [0.0; 4]);
        modes(|r| add32(-0.0, 3.0, r, false), [3.0; 4]);
    }

    #[test]
    fn add32_nan_is_canonical() {
        for r in RS {
            assert!(is_nan32(add32(f32::NAN, 1.0, r, false)));
            assert!(is_nan32(add32(1.0, f(0xFFC0_0001), r, true)));
            assert!(is_nan32(add32(f(0x7F80_0001), 1.0, r, false))); // signalling
            assert!(is_nan32(add32(INF, -INF, r, false)));
        }
    }

    #[test]
    fn add32_ftz_flushes_inputs_and_results() {
        let tiny = f(1); // 2^-149
        same(add32(tiny, 0.0, Round::Rn, false), tiny);
        same(add32(tiny, 0.0, Round::Rn, true), 0.0);
        same(add32(-tiny, -0.0, Round::Rn, true), -0.0);
        // A subnormal input next to a normal one is lost entirely under ftz.
        same(add32(1.0, tiny, Round::Rp, true), 1.0);
        same(add32(1.0, tiny, Round::Rp, false), 1.0 + p2(-23));
        // 1.5·2^-126 - 2^-126 = 2^-127: subnormal, flushed with its sign.
        let x = 1.5 * f32::MIN_POSITIVE;
        for r in RS {
            same(add32(x, -f32::MIN_POSITIVE, r, false), p2s(-127));
            same(add32(x, -f32::MIN_POSITIVE, r, true), 0.0);
            same(add32(-x, f32::MIN_POSITIVE, r, true), -0.0);
        }
        // Subnormal sums are exact without ftz.
        same(add32(f(3), f(5), Round::Rz, false), f(8));
    }

    #[test]
    fn sub32_cases() {
        modes(|r| sub32(1.0, 1.0, r, false), [0.0, 0.0, -0.0, 0.0]);
        modes(|r| sub32(-0.0, 0.0, r, false), [-0.0; 4]);
        modes(|r| sub32(0.0, 0.0, r, false), [0.0, 0.0, -0.0, 0.0]);
        // 1 - 2^-25 is halfway between 1 - 2^-24 (odd) and 1 (even).
        modes(
            |r| sub32(1.0, p2(-25), r, false),
            [1.0, 1.0 - p2(-24), 1.0 - p2(-24), 1.0],
        );
        modes(|r| sub32(-MAX, MAX, r, false), [-INF, -MAX, -INF, -MAX]);
        assert!(is_nan32(sub32(INF, INF, Round::Rn, false)));
        same(sub32(f(1), 0.0, Round::Rn, true), 0.0);
        modes(|r| sub32(0.0, f(1), r, true), [0.0, 0.0, -0.0, 0.0]); // 0 - 0
        same(sub32(0.0, f(1), Round::Rn, false), -f(1));
    }

    // ---- mul ---------------------------------------------------------------

    #[test]
    fn mul32_rounding_overflow_zeros() {
        let a = 1.0 + p2(-23);
        // (1 + 2^-23)^2 = 1 + 2^-22 + 2^-46.
        modes(
            |r| mul32(a, a, r, false),
            [1.0 + p2(-22), 1.0 + p2(-22), 1.0 + p2(-22), 1.0 + 3.0 * p2(-23)],
        );
        modes(
            |r| mul32(-a, a, r, false),
            [
                -(1.0 + p2(-22)),
                -(1.0 + p2(-22)),
                -(1.0 + 3.0 * p2(-23)),
                -(1.0 + p2(-22)),
            ],
        );
        modes(|r| mul32(p2(127), 2.0, r, false), [INF, MAX, MAX, INF]);
        modes(|r| mul32(p2(127), -2.0, r, false), [-INF, -MAX, -INF, -MAX]);
        modes(|r| mul32(-0.0, 5.0, r, false), [-0.0; 4]);
        modes(|r| mul32(-1.0, 0.0, r, false), [-0.0; 4]);
        modes(|r| mul32(-0.0, -0.0, r, false), [0.0; 4]);
        modes(|r| mul32(INF, -2.0, r, false), [-INF; 4]);
        for r in RS {
            assert!(is_nan32(mul32(INF, 0.0, r, false)));
            assert!(is_nan32(mul32(f32::NAN, 0.0, r, false)));
        }
    }

    #[test]
    fn mul32_underflow_and_ftz() {
        // 2^-149 · 0.5 = 2^-150: a tie between 0 (even) and 2^-149.
        modes(|r| mul32(f(1), 0.5, r, false), [0.0, 0.0, 0.0, f(1)]);
        modes(|r| mul32(-f(1), 0.5, r, false), [-0.0, -0.0, -f(1), -0.0]);
        // 3·2^-149 · 0.5 = 1.5·2^-149: tie between 1 (odd) and 2 (even) units.
        modes(|r| mul32(f(3), 0.5, r, false), [f(2), f(1), f(1), f(2)]);
        // The rounded-up subnormal is flushed under ftz.
        modes(|r| mul32(f(1), 0.5, r, true), [0.0; 4]);
        // 2^-100 · 2^-30 = 2^-130: subnormal result, flushed with its sign.
        same(mul32(p2(-100), p2(-30), Round::Rn, false), p2s(-130));
        same(mul32(p2(-100), -p2(-30), Round::Rn, true), -0.0);
        // (1 - 2^-24) · 2^-126 = 2^-126 - 2^-150, halfway between the largest
        // subnormal (odd) and 2^-126 (even): .rn rounds up to the normal 2^-126,
        // which ftz keeps (flushing is after rounding); .rz stays subnormal and is flushed.
        let x = f(0x3F7F_FFFF);
        same(mul32(x, f32::MIN_POSITIVE, Round::Rn, true), f32::MIN_POSITIVE);
        same(mul32(x, f32::MIN_POSITIVE, Round::Rz, false), f(0x007F_FFFF));
        same(mul32(x, f32::MIN_POSITIVE, Round::Rz, true), 0.0);
        // A subnormal input is zero under ftz.
        same(mul32(f(1), p2(100), Round::Rn, false), p2(-49));
        same(mul32(f(1), p2(100), Round::Rn, true), 0.0);
        same(mul32(f(0x8000_0001), p2(100), Round::Rn, true), -0.0);
    }

    // ---- fma ---------------------------------------------------------------

    #[test]
    fn fma32_rounds_once() {
        let a = 1.0 + p2(-12);
        // a·a = 1 + 2^-11 + 2^-24: mul rounds it (a tie, to even) to 1 + 2^-11.
        same(mul32(a, a, Round::Rn, false), 1.0 + p2(-11));
        same(
            sub32(mul32(a, a, Round::Rn, false), 1.0, Round::Rn, false),
            p2(-11),
        );
        modes(|r| fma32(a, a, -1.0, r, false), [p2(-11) + p2(-24); 4]);
        // The same tie inside an fma: [rn, rz, rm, rp].
        modes(
            |r| fma32(a, a, 0.0, r, false),
            [
                1.0 + p2(-11),
                1.0 + p2(-11),
                1.0 + p2(-11),
                1.0 + p2(-11) + p2(-23),
            ],
        );
        // No intermediate overflow: 2·MAX - MAX = MAX.
        modes(|r| fma32(MAX, 2.0, -MAX, r, false), [MAX; 4]);
        same(
            add32(mul32(MAX, 2.0, Round::Rn, false), -MAX, Round::Rn, false),
            INF,
        );
        modes(|r| fma32(MAX, 2.0, 0.0, r, false), [INF, MAX, MAX, INF]);
        // A far-away addend only moves the directed modes.
        modes(
            |r| fma32(1.0, 1.0, p2(-30), r, false),
            [1.0, 1.0, 1.0, 1.0 + p2(-23)],
        );
        modes(
            |r| fma32(1.0, 1.0, -p2(-30), r, false),
            [1.0, 1.0 - p2(-24), 1.0 - p2(-24), 1.0],
        );
    }

    #[test]
    fn fma32_rm_as_in_expf() {
        // expf's fma.rm.ftz: 0.3f · 252 + 12582913 = 12582988.600003…; the ulp is 1.
        let x = f(0x3E99_999A);
        modes(
            |r| fma32(x, 252.0, 12582913.0, r, true),
            [12582989.0, 12582988.0, 12582988.0, 12582989.0],
        );
        modes(
            |r| fma32(-x, 252.0, -12582913.0, r, true),
            [-12582989.0, -12582988.0, -12582989.0, -12582988.0],
        );
    }

    #[test]
    fn fma32_zeros_infinities_nan_ftz() {
        modes(|r| fma32(1.0, -1.0, 1.0, r, false), [0.0, 0.0, -0.0, 0.0]);
        modes(|r| fma32(0.0, -1.0, -0.0, r, false), [-0.0; 4]);
        modes(|r| fma32(0.0, -1.0, 0.0, r, false), [0.0, 0.0, -0.0, 0.0]);
        modes(|r| fma32(-0.0, -1.0, 0.0, r, false), [0.0; 4]);
        modes(|r| fma32(0.0, 5.0, -3.0, r, false), [-3.0; 4]);
        modes(|r| fma32(1e38, 10.0, -INF, r, false), [-INF; 4]);
        modes(|r| fma32(INF, 2.0, 1.0, r, false), [INF; 4]);
        for r in RS {
            assert!(is_nan32(fma32(INF, 0.0, 1.0, r, false)));
            assert!(is_nan32(fma32(INF, 1.0, -INF, r, false)));
            assert!(is_nan32(fma32(1.0, 1.0, f32::NAN, r, false)));
            assert!(is_nan32(fma32(INF, 0.0, f32::NAN, r, false)));
        }
        // ftz: subnormal inputs vanish, subnormal results are flushed.
        same(fma32(f(1), 1.0, 0.0, Round::Rn, false), f(1));
        same(fma32(f(1), 1.0, 0.0, Round::Rn, true), 0.0);
        same(fma32(1.0, 1.0, f(1), Round::Rp, true), 1.0);
        same(fma32(1.0, 1.0, f(1), Round::Rp, false), 1.0 + p2(-23));
        same(fma32(p2(-70), p2(-70), 0.0, Round::Rn, false), p2s(-140));
        same(fma32(p2(-70), -p2(-70), 0.0, Round::Rn, true), -0.0);
        // Sticky bits below the subnormal grid: 2^-149 + 2^-200 rounds up under .rp only.
        modes(
            |r| fma32(p2(-100), p2(-100), f(1), r, false),
            [f(1), f(1), f(1), f(2)],
        );
        // a·b = 2^-24 - 2^-70, so the exact sum is 1 + 3·2^-24 - 2^-70, just below a
        // halfway point: .rn gives 1 + 2^-23. Its f64 rounding is the halfway point
        // itself, which rounded again (to even) would give 1 + 2^-22.
        let (a, b) = ((1.0 + p2(-23)) * p2(-12), (1.0 - p2(-23)) * p2(-12));
        let c = 1.0 + p2(-23);
        same((a as f64 * b as f64 + c as f64) as f32, 1.0 + p2(-22));
        modes(|r| fma32(a, b, c, r, false), [c, c, c, 1.0 + p2(-22)]);
        // A tie on the subnormal grid, where the f64 fast path must not be trusted.
        let t = fma32(f(1), 0.5, f(2), Round::Rn, false); // 2.5 units: tie to 2
        same(t, f(2));
    }

    // ---- div / rcp ---------------------------------------------------------

    #[test]
    fn div32_directed_and_specials() {
        modes(
            |r| div32(1.0, 3.0, r, false),
            [f(0x3EAA_AAAB), f(0x3EAA_AAAA), f(0x3EAA_AAAA), f(0x3EAA_AAAB)],
        );
        modes(
            |r| div32(-1.0, 3.0, r, false),
            [f(0xBEAA_AAAB), f(0xBEAA_AAAA), f(0xBEAA_AAAB), f(0xBEAA_AAAA)],
        );
        modes(
            |r| div32(2.0, 3.0, r, false),
            [f(0x3F2A_AAAB), f(0x3F2A_AAAA), f(0x3F2A_AAAA), f(0x3F2A_AAAB)],
        );
        modes(|r| div32(6.0, 3.0, r, false), [2.0; 4]);
        modes(|r| div32(1.0, 0.0, r, false), [INF; 4]);
        modes(|r| div32(-1.0, 0.0, r, false), [-INF; 4]);
        modes(|r| div32(1.0, -0.0, r, false), [-INF; 4]);
        modes(|r| div32(1.0, INF, r, false), [0.0; 4]);
        modes(|r| div32(-1.0, INF, r, false), [-0.0; 4]);
        modes(|r| div32(-0.0, 2.0, r, false), [-0.0; 4]);
        modes(|r| div32(MAX, 0.5, r, false), [INF, MAX, MAX, INF]);
        for r in RS {
            assert!(is_nan32(div32(0.0, 0.0, r, false)));
            assert!(is_nan32(div32(INF, -INF, r, false)));
            assert!(is_nan32(div32(f32::NAN, 1.0, r, false)));
        }
        // ftz: a subnormal divisor is zero; a subnormal quotient is flushed.
        same(div32(1.0, f(1), Round::Rn, true), INF);
        same(div32(p2(-120), p2(10), Round::Rn, false), p2s(-130));
        same(div32(p2(-120), -p2(10), Round::Rn, true), -0.0);
        same(div32(f(2), 2.0, Round::Rn, false), f(1));
        same(div32(f(2), 2.0, Round::Rn, true), 0.0);
        // 2^-149 / 2 = 2^-150: a tie to 0; .rp gives the smallest subnormal.
        modes(|r| div32(f(1), 2.0, r, false), [0.0, 0.0, 0.0, f(1)]);
    }

    #[test]
    fn rcp32_cases() {
        modes(
            |r| rcp32(3.0, r, true),
            [f(0x3EAA_AAAB), f(0x3EAA_AAAA), f(0x3EAA_AAAA), f(0x3EAA_AAAB)],
        );
        same(rcp32(-0.0, Round::Rn, true), -INF);
        same(rcp32(INF, Round::Rn, true), 0.0);
        same(rcp32(-INF, Round::Rn, true), -0.0);
        same(rcp32(p2s(-127), Round::Rn, false), p2(127));
        same(rcp32(p2s(-127), Round::Rn, true), INF);
        // 1/(1.5·2^127) ≈ 0.667·2^-127: subnormal, flushed.
        let big = 1.5 * p2(127);
        assert!(rcp32(big, Round::Rn, false).is_subnormal());
        same(rcp32(big, Round::Rn, true), 0.0);
        same(rcp32(-big, Round::Rn, true), -0.0);
        assert!(is_nan32(rcp32(f32::NAN, Round::Rn, true)));
    }

    // ---- sqrt --------------------------------------------------------------

    #[test]
    fn sqrt32_cases() {
        modes(
            |r| sqrt32(2.0, r, false),
            [f(0x3FB5_04F3), f(0x3FB5_04F3), f(0x3FB5_04F3), f(0x3FB5_04F4)],
        );
        modes(|r| sqrt32(4.0, r, false), [2.0; 4]);
        modes(|r| sqrt32(-0.0, r, false), [-0.0; 4]);
        modes(|r| sqrt32(INF, r, false), [INF; 4]);
        for r in RS {
            assert!(is_nan32(sqrt32(-1.0, r, false)));
            assert!(is_nan32(sqrt32(-INF, r, false)));
            assert!(is_nan32(sqrt32(f32::NAN, r, false)));
            assert!(is_nan32(sqrt32(-f(1), r, false)));
        }
        // ftz: a negative subnormal is -0 first, and sqrt(-0) = -0, not NaN.
        same(sqrt32(-f(1), Round::Rn, true), -0.0);
        same(sqrt32(f(1), Round::Rn, true), 0.0);
        modes(|r| sqrt32(f(2), r, false), [p2(-74); 4]); // sqrt(2^-148), exact
                                                         // sqrt of the smallest subnormal, 2^-74.5, is inexact.
        let s = sqrt32(f(1), Round::Rm, false);
        same(sqrt32(f(1), Round::Rp, false), up32(s));
    }

    // ---- ex2.approx --------------------------------------------------------

    #[test]
    fn ex2_special_values_from_the_isa_table() {
        for ftz in [false, true] {
            same(ex2_approx32(-INF, ftz), 0.0);
            same(ex2_approx32(-0.0, ftz), 1.0);
            same(ex2_approx32(0.0, ftz), 1.0);
            same(ex2_approx32(INF, ftz), INF);
            assert!(is_nan32(ex2_approx32(f32::NAN, ftz)));
            assert!(is_nan32(ex2_approx32(f(0xFFC0_0001), ftz)));
            same(ex2_approx32(f(1), ftz), 1.0);
            same(ex2_approx32(f(0x8000_0001), ftz), 1.0);
        }
    }

    #[test]
    fn ex2_exact_powers_range_and_ftz() {
        for n in -126..128 {
            same(ex2_approx32(n as f32, true), p2(n));
        }
        same(ex2_approx32(128.0, true), INF);
        assert!(ex2_approx32(127.99999, false).is_finite());
        // Subnormal results: kept without ftz, +0 with it.
        same(ex2_approx32(-127.0, false), p2s(-127));
        same(ex2_approx32(-127.0, true), 0.0);
        same(ex2_approx32(-149.0, false), f(1));
        same(ex2_approx32(-150.0, false), 0.0); // 2^-150 is a tie, to even (0)
        same(ex2_approx32(-149.5, false), f(1)); // 2^-149.5 ≈ 0.707 units
        same(ex2_approx32(-200.0, false), 0.0);
        // A non-integer: 2^0.5 = sqrt(2), correctly rounded.
        same(ex2_approx32(0.5, true), f(0x3FB5_04F3));
        same(ex2_approx32(-0.5, true), f(0x3F35_04F3));
    }

    #[test]
    fn ex2_within_documented_error_random() {
        // The ISA's bound is 2 ulp from the correctly rounded result; ours is
        // almost always that result, and never more than 1 ulp from it.
        let mut rng = Rng(7);
        let mut off = 0;
        let n = 200_000;
        for i in 0..n {
            let a = if i % 2 == 0 {
                ((rng.next() >> 11) as f64 / (1u64 << 53) as f64 * 280.0 - 150.0) as f32
            } else {
                ((rng.next() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32
            };
            let want = (a as f64).exp2() as f32; // libm's exp2 is within an f64 ulp or so
            let got = ex2_approx32(a, false);
            let ulps = (got.to_bits() as i64 - want.to_bits() as i64).abs();
            assert!(ulps <= 1, "ex2({a:e}) = {got:e}, reference {want:e}");
            off += (ulps != 0) as u32;
        }
        assert!(off < 20, "{off} of {n} results not correctly rounded");
    }

    #[test]
    fn ex2_taylor_coefficients_are_inverse_factorials() {
        let mut fact = 1.0f64;
        for (k, c) in INV_FACT.iter().enumerate() {
            if k > 0 {
                fact *= k as f64;
            }
            assert_eq!(*c, 1.0 / fact);
        }
    }

    // ---- min / max / neg / abs / setp / sat --------------------------------

    #[test]
    fn min_max_32() {
        same(min32(-0.0, 0.0, false), -0.0);
        same(min32(0.0, -0.0, false), -0.0);
        same(max32(-0.0, 0.0, false), 0.0);
        same(max32(0.0, -0.0, false), 0.0);
        same(min32(f32::NAN, 1.0, false), 1.0);
        same(min32(1.0, f32::NAN, false), 1.0);
        same(max32(f32::NAN, -1.0, false), -1.0);
        same(max32(-1.0, f(0xFFC0_0001), false), -1.0);
        assert!(is_nan32(min32(f32::NAN, f(0xFFC0_0001), false)));
        assert!(is_nan32(max32(f32::NAN, f32::NAN, true)));
        same(min32(-INF, 1.0, false), -INF);
        same(max32(INF, 1.0, false), INF);
        same(min32(2.0, 3.0, false), 2.0);
        same(max32(2.0, 3.0, false), 3.0);
        // ftz: subnormals are zeros first, so the zero ordering applies.
        same(min32(-f(1), 0.0, false), -f(1));
        same(min32(-f(1), 0.0, true), -0.0);
        same(max32(f(1), 0.0, true), 0.0);
        same(max32(f(1), -1.0, true), 0.0);
        same(max32(f(1), -1.0, false), f(1));
        same(max32(f(1), f32::NAN, true), 0.0);
    }

    #[test]
    fn min_max_64() {
        same64(min64(-0.0, 0.0), -0.0);
        same64(min64(0.0, -0.0), -0.0);
        same64(max64(-0.0, 0.0), 0.0);
        same64(max64(0.0, -0.0), 0.0);
        same64(min64(f64::NAN, 1.0), 1.0);
        same64(max64(1.0, f64::NAN), 1.0);
        assert_eq!(min64(f64::NAN, f64::NAN).to_bits(), CANONICAL_NAN64_BITS);
        assert_eq!(max64(f64::NAN, -f64::NAN).to_bits(), CANONICAL_NAN64_BITS);
        same64(min64(d(1), 0.0), 0.0); // f64 never flushes
        same64(max64(d(1), 0.0), d(1));
    }

    #[test]
    fn neg_abs() {
        same(neg32(0.0, false), -0.0);
        same(neg32(-0.0, false), 0.0);
        same(abs32(-0.0, false), 0.0);
        same(abs32(-INF, false), INF);
        same(neg32(1.5, true), -1.5);
        same(neg32(f(1), false), f(0x8000_0001));
        same(neg32(f(1), true), -0.0);
        same(abs32(f(0x8000_0001), false), f(1));
        same(abs32(f(0x8000_0001), true), 0.0);
        assert_eq!(neg32(f(0x7FC0_0001), false).to_bits(), 0xFFC0_0001);
        assert_eq!(abs32(f(0xFFC0_0001), false).to_bits(), 0x7FC0_0001);
        same64(neg64(0.0), -0.0);
        same64(neg64(-2.0), 2.0);
        same64(abs64(-0.0), 0.0);
        same64(abs64(-d(1)), d(1));
        assert_eq!(neg64(d(0x7FF8_0000_0000_0001)).to_bits(), 0x7FF8_0000_0000_0001);
        assert_eq!(abs64(d(0xFFF8_0000_0000_0001)).to_bits(), 0xFFF8_0000_0000_0001);
    }

    #[test]
    fn setp_ordered_unordered_and_ftz() {
        use Cmp::*;
        let all = [Eq, Ne, Lt, Le, Gt, Ge, Equ, Neu, Ltu, Leu, Gtu, Geu, Num, Nan];
        // [a < b]: 1 < 2.
        let lt = [
            false, true, true, true, false, false, false, true, true, true, false, false, true, false,
        ];
        // With a NaN: ordered false, unordered true.
        let nan = [
            false, false, false, false, false, false, true, true, true, true, true, true, false, true,
        ];
        // Equal: -0 vs +0.
        let eq = [
            true, false, false, true, false, true, true, false, false, true, false, true, true, false,
        ];
        for (i, c) in all.iter().enumerate() {
            assert_eq!(setp32(*c, 1.0, 2.0, false), lt[i], "{c:?}");
            assert_eq!(setp32(*c, f32::NAN, 2.0, false), nan[i], "{c:?}");
            assert_eq!(setp32(*c, 2.0, f32::NAN, true), nan[i], "{c:?}");
            assert_eq!(setp32(*c, -0.0, 0.0, false), eq[i], "{c:?}");
            // ftz: 2^-149 equals 0; without ftz it is greater.
            assert_eq!(setp32(*c, 0.0, f(1), true), eq[i], "{c:?}");
            assert_eq!(setp32(*c, 0.0, f(1), false), lt[i], "{c:?}");
            assert_eq!(setp64(*c, 1.0, 2.0), lt[i], "{c:?}");
            assert_eq!(setp64(*c, 1.0, f64::NAN), nan[i], "{c:?}");
            assert_eq!(setp64(*c, 0.0, -0.0), eq[i], "{c:?}");
            assert_eq!(setp64(*c, 0.0, d(1)), lt[i], "{c:?}");
        }
        assert!(setp32(Lt, -INF, -MAX, false));
        assert!(setp32(Gt, INF, MAX, false));
    }

    #[test]
    fn sat32_cases() {
        same(sat32(-0.5), 0.0);
        same(sat32(-0.0), 0.0);
        same(sat32(0.0), 0.0);
        same(sat32(0.5), 0.5);
        same(sat32(1.0), 1.0);
        same(sat32(1.5), 1.0);
        same(sat32(INF), 1.0);
        same(sat32(-INF), 0.0);
        same(sat32(f32::NAN), 0.0);
        same(sat32(f(0xFFC0_0001)), 0.0);
        same(sat32(f(1)), f(1));
        same(sat32(-f(1)), 0.0);
        same(sat32(f(0x3F7F_FFFF)), f(0x3F7F_FFFF));
    }

    // ---- f64 arithmetic ----------------------------------------------------

    #[test]
    fn add64_sub64_cases() {
        let e = p2d(-52);
        modes64(|r| add64(1.0, e / 2.0, r), [1.0, 1.0, 1.0, 1.0 + e]);
        modes64(
            |r| add64(1.0, 1.5 * e, r),
            [1.0 + 2.0 * e, 1.0 + e, 1.0 + e, 1.0 + 2.0 * e],
        );
        modes64(|r| add64(-1.0, -e / 2.0, r), [-1.0, -1.0, -1.0 - e, -1.0]);
        modes64(|r| add64(1.0, p2d(-1000), r), [1.0, 1.0, 1.0, 1.0 + e]);
        modes64(
            |r| add64(f64::MAX, f64::MAX, r),
            [f64::INFINITY, f64::MAX, f64::MAX, f64::INFINITY],
        );
        modes64(
            |r| add64(-f64::MAX, -f64::MAX, r),
            [-f64::INFINITY, -f64::MAX, -f64::INFINITY, -f64::MAX],
        );
        modes64(|r| add64(1.0, -1.0, r), [0.0, 0.0, -0.0, 0.0]);
        modes64(|r| add64(-0.0, -0.0, r), [-0.0; 4]);
        modes64(|r| sub64(0.0, 0.0, r), [0.0, 0.0, -0.0, 0.0]);
        modes64(
            |r| sub64(1.0, e / 4.0, r),
            [1.0, 1.0 - e / 2.0, 1.0 - e / 2.0, 1.0],
        );
        // Subnormals are kept (f64 has no ftz).
        modes64(|r| add64(d(1), 0.0, r), [d(1); 4]);
        modes64(|r| add64(d(3), d(5), r), [d(8); 4]);
        for r in RS {
            assert_eq!(
                add64(f64::INFINITY, f64::NEG_INFINITY, r).to_bits(),
                CANONICAL_NAN64_BITS
            );
            assert_eq!(
                add64(d(0xFFF0_0000_0000_0001), 1.0, r).to_bits(),
                CANONICAL_NAN64_BITS
            );
            assert_eq!(sub64(f64::NAN, 1.0, r).to_bits(), CANONICAL_NAN64_BITS);
        }
    }

    #[test]
    fn mul64_fma64_cases() {
        let a = 1.0 + p2d(-52);
        modes64(
            |r| mul64(a, a, r),
            [
                1.0 + p2d(-51),
                1.0 + p2d(-51),
                1.0 + p2d(-51),
                1.0 + 3.0 * p2d(-52),
            ],
        );
        modes64(
            |r| mul64(p2d(1023), 2.0, r),
            [f64::INFINITY, f64::MAX, f64::MAX, f64::INFINITY],
        );
        // Subnormal products: 2^-1074 · 0.5 is a tie to 0.
        modes64(|r| mul64(d(1), 0.5, r), [0.0, 0.0, 0.0, d(1)]);
        modes64(|r| mul64(-d(1), 0.5, r), [-0.0, -0.0, -d(1), -0.0]);
        modes64(|r| mul64(p2d(-1000), p2d(-70), r), [p2d(-1070); 4]);
        modes64(|r| mul64(-0.0, 3.0, r), [-0.0; 4]);
        // fma: one rounding. (1 + 2^-27)^2 - 1 = 2^-26 + 2^-54 exactly.
        let b = 1.0 + p2d(-27);
        same64(sub64(mul64(b, b, Round::Rn), 1.0, Round::Rn), p2d(-26));
        modes64(|r| fma64(b, b, -1.0, r), [p2d(-26) + p2d(-54); 4]);
        modes64(|r| fma64(1.0, 1.0, p2d(-60), r), [1.0, 1.0, 1.0, 1.0 + p2d(-52)]);
        modes64(
            |r| fma64(1.0, 1.0, -p2d(-60), r),
            [1.0, 1.0 - p2d(-53), 1.0 - p2d(-53), 1.0],
        );
        modes64(|r| fma64(f64::MAX, 2.0, -f64::MAX, r), [f64::MAX; 4]);
        modes64(|r| fma64(1.0, -1.0, 1.0, r), [0.0, 0.0, -0.0, 0.0]);
        modes64(|r| fma64(p2d(-600), p2d(-600), d(1), r), [d(1), d(1), d(1), d(2)]);
        for r in RS {
            assert_eq!(fma64(f64::INFINITY, 0.0, 1.0, r).to_bits(), CANONICAL_NAN64_BITS);
            assert_eq!(mul64(f64::INFINITY, 0.0, r).to_bits(), CANONICAL_NAN64_BITS);
        }
    }

    #[test]
    fn div64_sqrt64_rcp64_cases() {
        modes64(
            |r| div64(1.0, 3.0, r),
            [
                d(0x3FD5_5555_5555_5555),
                d(0x3FD5_5555_5555_5555),
                d(0x3FD5_5555_5555_5555),
                d(0x3FD5_5555_5555_5556),
            ],
        );
        modes64(
            |r| rcp64(-3.0, r),
            [
                d(0xBFD5_5555_5555_5555),
                d(0xBFD5_5555_5555_5555),
                d(0xBFD5_5555_5555_5556),
                d(0xBFD5_5555_5555_5555),
            ],
        );
        modes64(|r| div64(1.0, -0.0, r), [f64::NEG_INFINITY; 4]);
        modes64(
            |r| div64(f64::MAX, 0.5, r),
            [f64::INFINITY, f64::MAX, f64::MAX, f64::INFINITY],
        );
        modes64(|r| div64(d(1), 2.0, r), [0.0, 0.0, 0.0, d(1)]);
        // sqrt(2) = 1.41421356237309504880…: 0x…BCD is above it, and nearer.
        modes64(
            |r| sqrt64(2.0, r),
            [
                d(0x3FF6_A09E_667F_3BCD),
                d(0x3FF6_A09E_667F_3BCC),
                d(0x3FF6_A09E_667F_3BCC),
                d(0x3FF6_A09E_667F_3BCD),
            ],
        );
        modes64(|r| sqrt64(-0.0, r), [-0.0; 4]);
        modes64(|r| sqrt64(d(4), r), [p2d(-536); 4]);
        for r in RS {
            assert_eq!(sqrt64(-1.0, r).to_bits(), CANONICAL_NAN64_BITS);
            assert_eq!(div64(0.0, 0.0, r).to_bits(), CANONICAL_NAN64_BITS);
        }
    }

    // ---- conversions -------------------------------------------------------

    #[test]
    fn f32_f64_widening() {
        same64(f32_to_f64(f(1), false), p2d(-149));
        same64(f32_to_f64(f(1), true), 0.0);
        same64(f32_to_f64(f(0x8000_0001), true), -0.0);
        same64(f32_to_f64(-0.0, false), -0.0);
        same64(f32_to_f64(1.0 / 3.0, true), (1.0f32 / 3.0) as f64);
        same64(f32_to_f64(-INF, true), f64::NEG_INFINITY);
        assert_eq!(f32_to_f64(f(0xFFC0_0001), false).to_bits(), CANONICAL_NAN64_BITS);
    }

    #[test]
    fn f64_to_f32_rounding() {
        let third = 1.0f64 / 3.0;
        modes(
            |r| f64_to_f32(third, r, false),
            [f(0x3EAA_AAAB), f(0x3EAA_AAAA), f(0x3EAA_AAAA), f(0x3EAA_AAAB)],
        );
        modes(
            |r| f64_to_f32(-third, r, false),
            [f(0xBEAA_AAAB), f(0xBEAA_AAAA), f(0xBEAA_AAAB), f(0xBEAA_AAAA)],
        );
        modes(|r| f64_to_f32(1e39, r, false), [INF, MAX, MAX, INF]);
        modes(|r| f64_to_f32(-1e39, r, false), [-INF, -MAX, -INF, -MAX]);
        modes(|r| f64_to_f32(f64::INFINITY, r, false), [INF; 4]);
        // Ties: 1 + 2^-24 to even (1); a hair above goes up.
        modes(
            |r| f64_to_f32(1.0 + p2d(-24), r, false),
            [1.0, 1.0, 1.0, 1.0 + p2(-23)],
        );
        modes(
            |r| f64_to_f32(1.0 + p2d(-24) + p2d(-52), r, false),
            [1.0 + p2(-23), 1.0, 1.0, 1.0 + p2(-23)],
        );
        modes(
            |r| f64_to_f32(1.0 + 3.0 * p2d(-24), r, false),
            [1.0 + p2(-22), 1.0 + p2(-23), 1.0 + p2(-23), 1.0 + p2(-22)],
        );
        // The subnormal range: kept, or flushed under ftz.
        same(f64_to_f32(p2d(-140), Round::Rn, false), p2s(-140));
        same(f64_to_f32(p2d(-140), Round::Rn, true), 0.0);
        same(f64_to_f32(-p2d(-140), Round::Rn, true), -0.0);
        modes(|r| f64_to_f32(p2d(-150), r, false), [0.0, 0.0, 0.0, f(1)]);
        modes(
            |r| f64_to_f32(p2d(-150) + p2d(-170), r, false),
            [f(1), 0.0, 0.0, f(1)],
        );
        modes(|r| f64_to_f32(-p2d(-200), r, false), [-0.0, -0.0, -f(1), -0.0]);
        modes(|r| f64_to_f32(p2d(-200), r, true), [0.0; 4]);
        modes(|r| f64_to_f32(-0.0, r, false), [-0.0; 4]);
        modes(|r| f64_to_f32(d(1), r, false), [0.0, 0.0, 0.0, f(1)]);
        for r in RS {
            assert!(is_nan32(f64_to_f32(f64::NAN, r, false)));
            assert!(is_nan32(f64_to_f32(d(0xFFF0_0000_0000_0001), r, true)));
        }
    }

    #[test]
    fn bf16_conversions() {
        let rn = |x: u32| f32_to_bf16(f(x), Round::Rn);
        assert_eq!(rn(0x3F80_8000), 0x3F80); // tie, 0x3F80 is even
        assert_eq!(rn(0x3F81_8000), 0x3F82); // tie, 0x3F81 is odd: up
        assert_eq!(rn(0x3F80_8001), 0x3F81);
        assert_eq!(rn(0x3F80_7FFF), 0x3F80);
        assert_eq!(rn(0xBF81_8000), 0xBF82);
        assert_eq!(rn(0x7F7F_FFFF), 0x7F80); // MAX overflows to inf
        assert_eq!(rn(0x7F7F_7FFF), 0x7F7F);
        assert_eq!(rn(0x7F80_0000), 0x7F80);
        assert_eq!(rn(0xFF80_0000), 0xFF80);
        assert_eq!(rn(0x8000_0000), 0x8000);
        assert_eq!(rn(0x0000_8000), 0x0000); // subnormal tie to even (0)
        assert_eq!(rn(0x0001_8000), 0x0002);
        assert_eq!(rn(0x007F_C000), 0x0080); // largest subnormal rounds up to the smallest normal
        for nan in [0x7FC0_0000, 0xFFC0_0000, 0x7F80_0001, 0x7FFF_FFFF, 0xFFFF_FFFF] {
            for r in RS {
                assert_eq!(f32_to_bf16(f(nan), r), CANONICAL_NAN_BF16_BITS);
            }
        }
        let all = |x: u32| RS.map(|r| f32_to_bf16(f(x), r));
        assert_eq!(all(0x3F80_FFFF), [0x3F81, 0x3F80, 0x3F80, 0x3F81]);
        assert_eq!(all(0x3F80_0001), [0x3F80, 0x3F80, 0x3F80, 0x3F81]);
        assert_eq!(all(0xBF80_0001), [0xBF80, 0xBF80, 0xBF81, 0xBF80]);
        assert_eq!(all(0x7F7F_FFFF), [0x7F80, 0x7F7F, 0x7F7F, 0x7F80]);
        assert_eq!(all(0xFF7F_FFFF), [0xFF80, 0xFF7F, 0xFF80, 0xFF7F]);
        assert_eq!(all(0x3F80_0000), [0x3F80; 4]);
        assert_eq!(all(0x0000_0001), [0x0000, 0x0000, 0x0000, 0x0001]);
        assert_eq!(all(0x8000_0001), [0x8000, 0x8000, 0x8001, 0x8000]);

        same(bf16_to_f32(0x3F80), 1.0);
        same(bf16_to_f32(0x8000), -0.0);
        same(bf16_to_f32(0x0001), p2s(-133));
        same(bf16_to_f32(0xFF80), -INF);
        same(bf16_to_f32(0x7F7F), f(0x7F7F_0000));
        assert_eq!(bf16_to_f32(0x7FC1).to_bits(), 0x7FC1_0000);
    }

    #[test]
    fn int_to_float_rounds_once() {
        // 2^63 + 2^39 + 1: just above halfway between 2^63 and 2^63 + 2^40.
        let v = (1u64 << 63) + (1 << 39) + 1;
        let lo = p2(63);
        let hi = f(p2(63).to_bits() + 1);
        same((v as f64) as f32, lo); // what rounding through f64 would give
        modes(|r| u64_to_f32(v, r), [hi, lo, lo, hi]);
        // An exact tie goes to even.
        modes(|r| u64_to_f32((1u64 << 63) + (1 << 39), r), [lo, lo, lo, hi]);
        modes(
            |r| u64_to_f32(u64::MAX, r),
            [p2(64), f(0x5F7F_FFFF), f(0x5F7F_FFFF), p2(64)],
        );
        modes(|r| u64_to_f32(0, r), [0.0; 4]);
        modes(|r| s64_to_f32(0, r), [0.0; 4]);
        modes(|r| s64_to_f32(i64::MIN, r), [-p2(63); 4]);
        let big = (1i64 << 24) + 1; // tie between 2^24 and 2^24 + 2
        modes(|r| s64_to_f32(big, r), [p2(24), p2(24), p2(24), p2(24) + 2.0]);
        modes(
            |r| s64_to_f32(-big, r),
            [-p2(24), -p2(24), -p2(24) - 2.0, -p2(24)],
        );
        // -12582913 has 24 bits: exact in every mode.
        modes(|r| s64_to_f32(-(3 << 22) - 1, r), [-12582913.0; 4]);
        modes(|r| s64_to_f32(-1, r), [-1.0; 4]);
        // f64 destinations: 2^53 + 1 is a tie between 2^53 and 2^53 + 2.
        let t = (1u64 << 53) + 1;
        modes64(|r| u64_to_f64(t, r), [p2d(53), p2d(53), p2d(53), p2d(53) + 2.0]);
        modes64(
            |r| s64_to_f64(-(t as i64), r),
            [-p2d(53), -p2d(53), -p2d(53) - 2.0, -p2d(53)],
        );
        modes64(
            |r| u64_to_f64(u64::MAX, r),
            [p2d(64), p2d(64) - 2048.0, p2d(64) - 2048.0, p2d(64)],
        );
        modes64(
            |r| s64_to_f64(i64::MAX, r),
            [p2d(63), p2d(63) - 1024.0, p2d(63) - 1024.0, p2d(63)],
        );
        modes64(|r| s64_to_f64(0, r), [0.0; 4]);
    }

    #[test]
    fn float_to_int_saturates_and_rounds() {
        use IntRound::*;
        let s32 = |a: f32, r| f32_to_int(a, r, false, true, 32);
        let u32_ = |a: f32, r| f32_to_int(a, r, false, false, 32);
        assert_eq!(s32(1e20, Rzi), 0x7FFF_FFFF);
        assert_eq!(s32(-1e20, Rzi), 0x8000_0000);
        assert_eq!(s32(INF, Rni), 0x7FFF_FFFF);
        assert_eq!(s32(-INF, Rni), 0x8000_0000);
        assert_eq!(s32(f32::NAN, Rni), 0);
        assert_eq!(u32_(f32::NAN, Rpi), 0);
        assert_eq!(u32_(-1.0, Rni), 0);
        assert_eq!(u32_(-0.7, Rzi), 0);
        assert_eq!(u32_(1e20, Rni), 0xFFFF_FFFF);
        assert_eq!(u32_(-INF, Rni), 0);
        // Rounding: ties to even, toward zero, down, up.
        assert_eq!(s32(2.5, Rni), 2);
        assert_eq!(s32(3.5, Rni), 4);
        assert_eq!(s32(-2.5, Rni), (-2i32) as u32 as u64);
        assert_eq!(s32(-2.5, Rzi), (-2i32) as u32 as u64);
        assert_eq!(s32(-2.5, Rmi), (-3i32) as u32 as u64);
        assert_eq!(s32(-2.5, Rpi), (-2i32) as u32 as u64);
        assert_eq!(s32(2.1, Rpi), 3);
        assert_eq!(s32(2.9, Rmi), 2);
        assert_eq!(s32(-0.5, Rpi), 0);
        // The largest f32 below 2^31 fits; 2^31 saturates.
        assert_eq!(s32(f(0x4EFF_FFFF), Rni), 0x7FFF_FF80);
        assert_eq!(s32(p2(31), Rni), 0x7FFF_FFFF);
        assert_eq!(s32(-p2(31), Rni), 0x8000_0000);
        // Narrow and wide destinations; the bits are zero-extended.
        assert_eq!(f32_to_int(300.0, Rni, false, false, 8), 255);
        assert_eq!(f32_to_int(-200.0, Rni, false, true, 8), 0x80);
        assert_eq!(f32_to_int(-1.0, Rni, false, true, 16), 0xFFFF);
        assert_eq!(f32_to_int(-1.0, Rni, false, true, 64), u64::MAX);
        assert_eq!(f32_to_int(INF, Rni, false, false, 64), u64::MAX);
        assert_eq!(f32_to_int(1e19, Rni, false, true, 64), i64::MAX as u64);
        assert_eq!(f32_to_int(-1e19, Rni, false, true, 64), i64::MIN as u64);
        assert_eq!(f32_to_int(p2(63), Rni, false, false, 64), 1 << 63);
        // ftz: a subnormal is zero before rounding up or down.
        assert_eq!(f32_to_int(f(1), Rpi, false, true, 32), 1);
        assert_eq!(f32_to_int(f(1), Rpi, true, true, 32), 0);
        assert_eq!(f32_to_int(-f(1), Rmi, false, true, 32), 0xFFFF_FFFF);
        assert_eq!(f32_to_int(-f(1), Rmi, true, true, 32), 0);
        // f64 sources.
        assert_eq!(f64_to_int(4294967295.5, Rni, false, 32), 0xFFFF_FFFF);
        assert_eq!(f64_to_int(4294967295.5, Rzi, false, 32), 0xFFFF_FFFF);
        assert_eq!(f64_to_int(4294967294.5, Rni, false, 32), 0xFFFF_FFFE);
        assert_eq!(f64_to_int(-0.5, Rni, false, 32), 0);
        assert_eq!(f64_to_int(-2147483648.9, Rzi, true, 32), 0x8000_0000);
        assert_eq!(f64_to_int(-2147483648.9, Rmi, true, 32), 0x8000_0000);
        assert_eq!(f64_to_int(9.3e18, Rni, true, 64), i64::MAX as u64);
        assert_eq!(f64_to_int(1e300, Rni, false, 64), u64::MAX);
        assert_eq!(f64_to_int(f64::NAN, Rni, true, 64), 0);
        assert_eq!(f64_to_int(d(1), Rpi, true, 32), 1); // f64 never flushes
    }

    #[test]
    fn round_int_cases() {
        use IntRound::*;
        let all = |a: f32| [Rni, Rzi, Rmi, Rpi].map(|r| round_int32(a, r, false));
        let chk = |a: f32, want: [f32; 4]| {
            for (g, w) in all(a).iter().zip(want) {
                same(*g, w);
            }
        };
        chk(2.5, [2.0, 2.0, 2.0, 3.0]);
        chk(3.5, [4.0, 3.0, 3.0, 4.0]);
        chk(-2.5, [-2.0, -2.0, -3.0, -2.0]);
        chk(-0.5, [-0.0, -0.0, -1.0, -0.0]);
        chk(0.5, [0.0, 0.0, 0.0, 1.0]);
        chk(-0.0, [-0.0; 4]);
        chk(INF, [INF; 4]);
        chk(8388607.5, [8388608.0, 8388607.0, 8388607.0, 8388608.0]);
        chk(p2(30) + 64.0, [p2(30) + 64.0; 4]);
        assert!(is_nan32(round_int32(f(0xFFC0_0001), Rni, false)));
        same(round_int32(f(1), Rpi, false), 1.0);
        same(round_int32(f(1), Rpi, true), 0.0);
        same(round_int32(-f(1), Rmi, true), -0.0);
        same(round_int32(-f(1), Rmi, false), -1.0);
        same64(round_int64(-2.5, Rni), -2.0);
        same64(round_int64(-0.3, Rpi), -0.0);
        same64(round_int64(d(1), Rpi), 1.0);
        assert_eq!(round_int64(f64::NAN, Rzi).to_bits(), CANONICAL_NAN64_BITS);
    }

    // ---- randomized cross-checks -------------------------------------------

    const N: usize = 200_000;

    #[test]
    fn random_f32_soft_rn_matches_host_ieee() {
        // The software path with .rn against the host's IEEE arithmetic: the
        // public functions use the host for .rn, so this checks the software
        // float that serves the other modes.
        let mut rng = Rng(1);
        let soft = |op: fn(u64, u64, Fmt, Round) -> u64, a: f32, b: f32| soft32_2(op, a, b, Round::Rn);
        let eq = |got: f32, want: f32, what: &str| {
            if want.is_nan() {
                assert!(is_nan32(got), "{what}");
            } else {
                assert_eq!(got.to_bits(), want.to_bits(), "{what}: got {got:e} want {want:e}");
            }
        };
        for _ in 0..N {
            let (a, b, c) = (rng.f32(), rng.f32(), rng.f32());
            eq(soft(soft_add, a, b), a + b, &format!("{a:e} + {b:e}"));
            eq(soft(soft_mul, a, b), a * b, &format!("{a:e} * {b:e}"));
            eq(soft(soft_div, a, b), a / b, &format!("{a:e} / {b:e}"));
            let s = f32::from_bits(soft_sqrt(a.abs().to_bits() as u64, F32, Round::Rn) as u32);
            eq(s, a.abs().sqrt(), &format!("sqrt {a:e}"));
            let want = a.mul_add(b, c);
            let sf = f32::from_bits(soft_fma(
                a.to_bits().into(),
                b.to_bits().into(),
                c.to_bits().into(),
                F32,
                Round::Rn,
            ) as u32);
            eq(sf, want, &format!("fma soft {a:e} {b:e} {c:e}"));
            eq(
                fma32(a, b, c, Round::Rn, false),
                want,
                &format!("fma {a:e} {b:e} {c:e}"),
            );
            // With a product that nearly cancels c, the fast path's sum is inexact more often.
            let c2 = -(a * b);
            eq(
                fma32(a, b, c2, Round::Rn, false),
                a.mul_add(b, c2),
                &format!("fma {a:e} {b:e} {c2:e}"),
            );
            eq(add32(a, b, Round::Rn, false), a + b, "add32");
            eq(mul32(a, b, Round::Rn, false), a * b, "mul32");
            eq(div32(a, b, Round::Rn, false), a / b, "div32");
            eq(sqrt32(a.abs(), Round::Rn, false), a.abs().sqrt(), "sqrt32");
        }
    }

    #[test]
    fn random_f32_directed_modes_bracket_the_exact_value() {
        let mut rng = Rng(2);
        let three = |g: &dyn Fn(Round) -> f32| (g(Round::Rz), g(Round::Rm), g(Round::Rp));
        for _ in 0..N {
            let (a, b, c) = (rng.f32(), rng.f32(), rng.f32());
            let (x, y) = (a as f64, b as f64);
            // add: exact = s + e.
            let (s, e) = two_sum(x, y);
            let (rz, rm, rp) = three(&|r| add32(a, b, r, false));
            bracket32(&format!("{a:e} + {b:e}"), rz, rm, rp, |v| cmp_sum(v as f64, s, e));
            // mul: the f64 product is exact.
            let p = x * y;
            let (rz, rm, rp) = three(&|r| mul32(a, b, r, false));
            bracket32(&format!("{a:e} * {b:e}"), rz, rm, rp, |v| {
                (v as f64).partial_cmp(&p).unwrap()
            });
            // fma: exact = a·b + c = s + e.
            let (s, e) = two_sum(p, c as f64);
            let (rz, rm, rp) = three(&|r| fma32(a, b, c, r, false));
            bracket32(&format!("fma {a:e} {b:e} {c:e}"), rz, rm, rp, |v| {
                cmp_sum(v as f64, s, e)
            });
            // div (b != 0): v ⋚ a/b  ⟺  v·b ⋚ a for b > 0 (reversed for b < 0); v·b is exact.
            if b != 0.0 {
                let (rz, rm, rp) = three(&|r| div32(a, b, r, false));
                bracket32(&format!("{a:e} / {b:e}"), rz, rm, rp, |v| {
                    if v.is_infinite() {
                        if v > 0.0 {
                            Ordering::Greater
                        } else {
                            Ordering::Less
                        }
                    } else {
                        let o = (v as f64 * y).partial_cmp(&x).unwrap();
                        if b > 0.0 {
                            o
                        } else {
                            o.reverse()
                        }
                    }
                });
            }
            // sqrt: v ⋚ sqrt(a)  ⟺  v·|v| ⋚ a; v² is exact in f64.
            let q = a.abs();
            let (rz, rm, rp) = three(&|r| sqrt32(q, r, false));
            bracket32(&format!("sqrt {q:e}"), rz, rm, rp, |v| {
                (v as f64 * (v as f64).abs()).partial_cmp(&(q as f64)).unwrap()
            });
        }
    }

    #[test]
    fn random_f32_ftz_is_flush_op_flush() {
        let mut rng = Rng(3);
        for _ in 0..N / 4 {
            let (a, b, c) = (rng.f32(), rng.f32(), rng.f32());
            let (fa, fb, fc) = (flush32(a), flush32(b), flush32(c));
            for r in RS {
                let chk = |got: f32, plain: f32| {
                    let want = if plain.is_nan() { nan32() } else { flush32(plain) };
                    same(got, want);
                };
                chk(add32(a, b, r, true), add32(fa, fb, r, false));
                chk(mul32(a, b, r, true), mul32(fa, fb, r, false));
                chk(fma32(a, b, c, r, true), fma32(fa, fb, fc, r, false));
                chk(div32(a, b, r, true), div32(fa, fb, r, false));
                chk(sqrt32(a, r, true), sqrt32(fa, r, false));
            }
        }
    }

    #[test]
    fn random_f64_soft_rn_matches_host_ieee() {
        let mut rng = Rng(4);
        let eq = |got: u64, want: f64, what: &str| {
            if want.is_nan() {
                assert_eq!(got, CANONICAL_NAN64_BITS, "{what}");
            } else {
                assert_eq!(got, want.to_bits(), "{what}: got {:e} want {want:e}", d(got));
            }
        };
        for _ in 0..N {
            let (a, b, c) = (rng.f64(), rng.f64(), rng.f64());
            let (x, y, z) = (a.to_bits(), b.to_bits(), c.to_bits());
            eq(soft_add(x, y, F64, Round::Rn), a + b, &format!("{a:e} + {b:e}"));
            eq(soft_mul(x, y, F64, Round::Rn), a * b, &format!("{a:e} * {b:e}"));
            eq(soft_div(x, y, F64, Round::Rn), a / b, &format!("{a:e} / {b:e}"));
            eq(
                soft_sqrt(a.abs().to_bits(), F64, Round::Rn),
                a.abs().sqrt(),
                &format!("sqrt {a:e}"),
            );
            eq(
                soft_fma(x, y, z, F64, Round::Rn),
                a.mul_add(b, c),
                &format!("fma {a:e} {b:e} {c:e}"),
            );
            let c2 = -(a * b);
            eq(
                fma64(a, b, c2, Round::Rn).to_bits(),
                a.mul_add(b, c2),
                &format!("fma {a:e} {b:e} {c2:e}"),
            );
        }
    }

    #[test]
    fn random_f64_directed_modes_bracket_the_exact_value() {
        let mut rng = Rng(5);
        let three = |g: &dyn Fn(Round) -> f64| (g(Round::Rz), g(Round::Rm), g(Round::Rp));
        // Moderate exponents keep the oracles' error terms exact (no underflow).
        let moderate = |rng: &mut Rng| {
            let r = rng.next();
            d((r & 0x800F_FFFF_FFFF_FFFF) | (((r >> 52) % 400 + 823) << 52))
        };
        for i in 0..N {
            let (a, b) = if i % 2 == 0 {
                (rng.f64(), rng.f64())
            } else {
                (moderate(&mut rng), moderate(&mut rng))
            };
            let (s, e) = two_sum(a, b);
            if s.is_finite() {
                let (rz, rm, rp) = three(&|r| add64(a, b, r));
                bracket64(&format!("{a:e} + {b:e}"), rz, rm, rp, |v| cmp_sum(v, s, e));
            }
            let (a, b) = (moderate(&mut rng), moderate(&mut rng));
            // mul: exact = p + e (TwoProduct with fma).
            let p = a * b;
            let e = a.mul_add(b, -p);
            let (rz, rm, rp) = three(&|r| mul64(a, b, r));
            bracket64(&format!("{a:e} * {b:e}"), rz, rm, rp, |v| cmp_sum(v, p, e));
            // div: v ⋚ a/b  ⟺  v·b ⋚ a (b > 0); v·b = hi + lo exactly.
            let bb = b.abs();
            let (rz, rm, rp) = three(&|r| div64(a, bb, r));
            bracket64(&format!("{a:e} / {bb:e}"), rz, rm, rp, |v| {
                let hi = v * bb;
                let lo = v.mul_add(bb, -hi);
                match hi.partial_cmp(&a).unwrap() {
                    Ordering::Equal => lo.partial_cmp(&0.0).unwrap(),
                    o => o,
                }
            });
            // sqrt: v ⋚ sqrt(q)  ⟺  v² ⋚ q.
            let q = a.abs();
            let (rz, rm, rp) = three(&|r| sqrt64(q, r));
            bracket64(&format!("sqrt {q:e}"), rz, rm, rp, |v| {
                let hi = v * v;
                let lo = v.mul_add(v, -hi);
                match hi.partial_cmp(&q).unwrap() {
                    Ordering::Equal => lo.partial_cmp(&0.0).unwrap(),
                    o => o,
                }
            });
            // fma with an exact product (26-bit significands) is the rounded sum.
            let short = |x: f64| d(x.to_bits() & !((1u64 << 27) - 1));
            let (sa, sb) = (short(a), short(b));
            let c = rng.f64();
            for r in RS {
                same64(fma64(sa, sb, c, r), add64(sa * sb, c, r));
            }
        }
    }

    #[test]
    fn random_conversions() {
        let mut rng = Rng(6);
        for _ in 0..N {
            // f64 → f32: .rn against the host cast, directed modes bracket.
            let r = rng.next();
            let a = if r % 2 == 0 {
                rng.f64()
            } else {
                // An exponent near the f32 range, subnormals and overflow included.
                d((r & 0x800F_FFFF_FFFF_FFFF) | (((r >> 52) % 310 + 1023 - 170) << 52))
            };
            if a.is_finite() {
                same(f64_to_f32(a, Round::Rn, false), a as f32);
                let g = |r| f64_to_f32(a, r, false);
                bracket32(
                    &format!("cvt {a:e}"),
                    g(Round::Rz),
                    g(Round::Rm),
                    g(Round::Rp),
                    |v| (v as f64).partial_cmp(&a).unwrap(),
                );
                // …and once more through the software path for .rn.
                same(
                    f32::from_bits(soft_cvt(a.to_bits(), F64, F32, Round::Rn) as u32),
                    a as f32,
                );
            }
            // f32 → bf16: .rn against `half` and the software path; directed modes bracket.
            let x = f((rng.next() >> 32) as u32);
            if !x.is_nan() {
                let want = half::bf16::from_f32(x).to_bits();
                assert_eq!(f32_to_bf16(x, Round::Rn), want, "{x:e}");
                assert_eq!(
                    soft_cvt(x.to_bits() as u64, F32, BF16, Round::Rn) as u16,
                    want,
                    "{x:e}"
                );
                assert_eq!(
                    soft_cvt(x.to_bits() as u64, F32, BF16, Round::Rz) as u16,
                    f32_to_bf16(x, Round::Rz)
                );
                let g = |r| bf16_to_f32(f32_to_bf16(x, r));
                bracket_bf16(x, g(Round::Rz), g(Round::Rm), g(Round::Rp));
            }
            // Integers → floats: .rn against the host's cast (which rounds once),
            // directed modes bracket (compared exactly in i128).
            let v = rng.next() >> (rng.next() % 64);
            let sv = if rng.next() % 2 == 0 {
                v as i64
            } else {
                (v as i64).wrapping_neg()
            };
            same(u64_to_f32(v, Round::Rn), v as f32);
            same(
                f32::from_bits(int_to_float(false, v, F32, Round::Rn) as u32),
                v as f32,
            );
            same(
                f32::from_bits(int_to_float(sv < 0, sv.unsigned_abs(), F32, Round::Rn) as u32),
                sv as f32,
            );
            same64(f64::from_bits(int_to_float(false, v, F64, Round::Rn)), v as f64);
            same64(
                f64::from_bits(int_to_float(sv < 0, sv.unsigned_abs(), F64, Round::Rn)),
                sv as f64,
            );
            // y ⋚ w exactly, for any float y (integral or not) and integer w.
            let cmp = |y: f64, w: i128| match (y.floor() as i128).cmp(&w) {
                Ordering::Equal if y.fract() != 0.0 => Ordering::Greater,
                o => o,
            };
            let g = |r| u64_to_f32(v, r) as f64;
            bracket_int(
                g(Round::Rz),
                g(Round::Rm),
                g(Round::Rp),
                |y| cmp(y, v as i128),
                up32d,
                down32d,
            );
            let g = |r| s64_to_f32(sv, r) as f64;
            bracket_int(
                g(Round::Rz),
                g(Round::Rm),
                g(Round::Rp),
                |y| cmp(y, sv as i128),
                up32d,
                down32d,
            );
            let g = |r| u64_to_f64(v, r);
            bracket_int(
                g(Round::Rz),
                g(Round::Rm),
                g(Round::Rp),
                |y| cmp(y, v as i128),
                up64,
                down64,
            );
            let g = |r| s64_to_f64(sv, r);
            bracket_int(
                g(Round::Rz),
                g(Round::Rm),
                g(Round::Rp),
                |y| cmp(y, sv as i128),
                up64,
                down64,
            );
            // Floats → integers against a direct definition.
            let y = rng.f32() * [1.0, 1e-30, 1e10, 1e20][(rng.next() % 4) as usize];
            for (r, ir) in [
                (IntRound::Rni, 0),
                (IntRound::Rzi, 1),
                (IntRound::Rmi, 2),
                (IntRound::Rpi, 3),
            ] {
                let t = [f64::round_ties_even, f64::trunc, f64::floor, f64::ceil][ir](y as f64);
                for bits in [8u32, 16, 32, 64] {
                    let smax = (1i128 << (bits - 1)) - 1;
                    let want_s = (t as i128).clamp(-smax - 1, smax) as u64 & mask(bits);
                    let umax = (1i128 << bits) - 1;
                    let want_u = (t as i128).clamp(0, umax) as u64 & mask(bits);
                    assert_eq!(f32_to_int(y, r, false, true, bits), want_s, "{y:e} {r:?} s{bits}");
                    assert_eq!(
                        f32_to_int(y, r, false, false, bits),
                        want_u,
                        "{y:e} {r:?} u{bits}"
                    );
                }
            }
        }
    }

    fn mask(bits: u32) -> u64 {
        if bits == 64 {
            u64::MAX
        } else {
            (1 << bits) - 1
        }
    }
    fn up32d(y: f64) -> f64 {
        up32(y as f32) as f64
    }
    fn down32d(y: f64) -> f64 {
        down32(y as f32) as f64
    }
    #[track_caller]
    fn bracket_int(
        rz: f64,
        rm: f64,
        rp: f64,
        cmp: impl Fn(f64) -> Ordering,
        up: fn(f64) -> f64,
        down: fn(f64) -> f64,
    ) {
        assert!(
            cmp(rm) != Ordering::Greater && cmp(up(rm)) == Ordering::Greater,
            "rm {rm:e}"
        );
        assert!(
            cmp(rp) != Ordering::Less && cmp(down(rp)) == Ordering::Less,
            "rp {rp:e}"
        );
        match cmp(0.0) {
            Ordering::Less => same64(rz, rm),
            Ordering::Greater => same64(rz, rp),
            Ordering::Equal => assert!(rz == 0.0 && rm == 0.0 && rp == 0.0),
        }
    }
    #[track_caller]
    fn bracket_bf16(x: f32, rz: f32, rm: f32, rp: f32) {
        // Neighbouring bf16 values are 2^16 f32 steps apart; compare exactly in f32.
        let up = |v: f32| bf16_to_f32(bf16_step(v, true));
        let down = |v: f32| bf16_to_f32(bf16_step(v, false));
        let cmp = |v: f32| v.partial_cmp(&x).unwrap();
        assert!(
            cmp(rm) != Ordering::Greater && cmp(up(rm)) == Ordering::Greater,
            "{x:e} rm {rm:e}"
        );
        assert!(
            cmp(rp) != Ordering::Less && cmp(down(rp)) == Ordering::Less,
            "{x:e} rp {rp:e}"
        );
        if x > 0.0 {
            same(rz, rm)
        } else if x < 0.0 {
            same(rz, rp)
        }
    }
    /// The next bf16 up (`true`) or down from a bf16 value held in an f32.
    fn bf16_step(v: f32, up: bool) -> u16 {
        let h = (v.to_bits() >> 16) as u16;
        let pos = h & 0x8000 == 0;
        if v == 0.0 {
            return if up { 0x0001 } else { 0x8001 };
        }
        if v.is_infinite() && (v > 0.0) == up {
            return h;
        }
        if pos == up {
            h + 1
        } else {
            h - 1
        }
    }
}
