//! One test per PTX instruction form the parser accepts, run through the
//! interpreter on a small hand-written kernel (no nvcc needed), checked against
//! the PTX ISA's definition on hand-computed edge cases.
//!
//! `float.rs` has its own tests of the float arithmetic; here the float forms
//! check the interpreter's wiring of them (operand order, rounding mode, .ftz,
//! .sat, register widths), with one discriminating case each.
//!
//! Every kernel gets the same prologue (see [`KERNEL`]): `%out` and `%in` are
//! the global addresses of the output and input buffers, and the parameters
//! `k_a` (.u32 = 0xFFFF_FFFE), `k_b` (.f32 = -1.5) and `k_c` (.u64 =
//! 0x1234_5678_9ABC_DEF0) are there for the ld.param forms. Output bytes start
//! as 0xA5, so a store that writes more (or fewer) bytes than its type shows.

use mfcuda_emu::exec::{self, Launch, RunOptions};
use mfcuda_emu::memory::Memory;
use mfcuda_emu::ptx::Module;

const KERNEL: &str = r#"
.version 9.0
.target sm_80
.address_size 64

.visible .entry k(
	.param .u64 k_out,
	.param .u64 k_in,
	.param .u32 k_a,
	.param .f32 k_b,
	.param .u64 k_c
)
{
	.local .align 16 .b8 	__local_depot0[32];
	.reg .b64 	%SPL;
	.reg .pred 	%p<8>;
	.reg .b16 	%rs<8>;
	.reg .b32 	%r<16>;
	.reg .b64 	%rd<16>;
	.reg .f32 	%f<8>;
	.reg .f64 	%fd<8>;
	.reg .b64 	%out;
	.reg .b64 	%in;
	.shared .align 16 .b8 	sh[512];

	mov.u64 	%SPL, __local_depot0;
	ld.param.u64 	%out, [k_out];
	cvta.to.global.u64 	%out, %out;
	ld.param.u64 	%in, [k_in];
	cvta.to.global.u64 	%in, %in;
BODY
	ret;
}
"#;

const OUT_BYTES: usize = 1024;

/// The output buffer after a run.
struct Out(Vec<u8>);

impl Out {
    fn bytes<const N: usize>(&self, at: usize) -> [u8; N] {
        self.0[at..at + N].try_into().unwrap()
    }
    fn u16(&self, i: usize) -> u16 {
        u16::from_le_bytes(self.bytes(2 * i))
    }
    fn u32(&self, i: usize) -> u32 {
        u32::from_le_bytes(self.bytes(4 * i))
    }
    fn u64(&self, i: usize) -> u64 {
        u64::from_le_bytes(self.bytes(8 * i))
    }
    fn f32(&self, i: usize) -> f32 {
        f32::from_bits(self.u32(i))
    }
    fn f64(&self, i: usize) -> f64 {
        f64::from_bits(self.u64(i))
    }
}

/// Runs `body` (inside [`KERNEL`]) on `grid` blocks of `block` threads, with
/// sanitizers on; `input` is the input buffer's 64-bit words.
fn launch_ptx(body: &str, input: &[u64], grid: u32, block: u32) -> Out {
    let text = KERNEL.replace("BODY", body);
    let m = Module::load(&text).unwrap_or_else(|e| panic!("load: {e}"));
    let k = m.kernel("k").unwrap();
    let mut mem = Memory::new(1 << 20);
    let inb: Vec<u8> = input.iter().flat_map(|w| w.to_le_bytes()).collect();
    let din = mem.alloc(inb.len().max(8) as u64).unwrap();
    mem.write(din, &inb).unwrap();
    let out = mem.alloc(OUT_BYTES as u64).unwrap();
    mem.write(out, &[0xA5; OUT_BYTES]).unwrap();
    let (a, b, c) = (0xFFFF_FFFEu32, -1.5f32, 0x1234_5678_9ABC_DEF0u64);
    let params: [&[u8]; 5] = [
        &out.to_le_bytes(),
        &din.to_le_bytes(),
        &a.to_le_bytes(),
        &b.to_le_bytes(),
        &c.to_le_bytes(),
    ];
    let l = Launch {
        grid,
        block,
        dynamic_shared: 0,
        cooperative: false,
    };
    let o = RunOptions {
        sanitize: true,
        counters: true,
        seed: 0,
    };
    exec::run(&k, l, &params, &mut mem, o).unwrap_or_else(|f| panic!("run: {f}"));
    let mut v = vec![0u8; OUT_BYTES];
    mem.read(out, &mut v).unwrap();
    Out(v)
}

/// One thread.
fn run1(body: &str, input: &[u64]) -> Out {
    launch_ptx(body, input, 1, 1)
}

const UNTOUCHED32: u32 = 0xA5A5_A5A5;

fn f(x: f32) -> u64 {
    x.to_bits() as u64
}
fn d(x: f64) -> u64 {
    x.to_bits()
}
/// Two 32-bit words as one input word (`lo` first in memory).
fn pk(lo: u32, hi: u32) -> u64 {
    lo as u64 | (hi as u64) << 32
}

// ---------------------------------------------------------------------------
// Integer arithmetic
// ---------------------------------------------------------------------------

/// add/sub wrap modulo 2^n (ISA: "add/sub ... integer, no overflow detection").
#[test]
fn add_sub_s32_s64_u64_wrap() {
    let o = run1(
        "	ld.global.u32 	%r1, [%in];
	ld.global.u64 	%rd1, [%in+8];
	add.s32 	%r2, %r1, 1;
	sub.s32 	%r3, 0, %r1;
	add.s64 	%rd2, %rd1, 1;
	sub.s64 	%rd3, 0, %rd1;
	add.u64 	%rd4, %rd1, -1;
	add.s32 	%r4, %r1, -1;
	st.global.u32 	[%out], %r2;
	st.global.u32 	[%out+4], %r3;
	st.global.u64 	[%out+8], %rd2;
	st.global.u64 	[%out+16], %rd3;
	st.global.u64 	[%out+24], %rd4;
	st.global.u32 	[%out+32], %r4;",
        &[0x7FFF_FFFF, u64::MAX],
    );
    assert_eq!(o.u32(0), 0x8000_0000);
    assert_eq!(o.u32(1), 0x8000_0001);
    assert_eq!(o.u64(1), 0);
    assert_eq!(o.u64(2), 1);
    assert_eq!(o.u64(3), u64::MAX - 1);
    // A negative immediate in a 32-bit op is the 32-bit pattern.
    assert_eq!(o.u32(8), 0x7FFF_FFFE);
}

/// 16-bit forms work modulo 2^16 (add.u16, mul.lo.u16, shr.s16).
#[test]
fn add_mul_shr_16_bit() {
    let o = run1(
        "	mov.u16 	%rs1, 0xFFFF;
	add.u16 	%rs2, %rs1, 1;
	mul.lo.u16 	%rs3, %rs1, %rs1;
	mov.u16 	%rs4, 0x8000;
	shr.s16 	%rs5, %rs4, 1;
	shr.u16 	%rs6, %rs4, 1;
	st.global.u16 	[%out], %rs2;
	st.global.u16 	[%out+2], %rs3;
	st.global.u16 	[%out+4], %rs5;
	st.global.u16 	[%out+6], %rs6;",
        &[],
    );
    assert_eq!(o.u16(0), 0);
    assert_eq!(o.u16(1), 1); // 0xFFFF^2 = 0xFFFE_0001
    assert_eq!(o.u16(2), 0xC000);
    assert_eq!(o.u16(3), 0x4000);
}

/// mul.lo: the low n bits of the 2n-bit product.
#[test]
fn mul_lo_s32_s64() {
    let o = run1(
        "	mov.u32 	%r1, 0x10001;
	mul.lo.s32 	%r2, %r1, %r1;
	mov.u32 	%r3, -3;
	mul.lo.s32 	%r4, %r3, 5;
	mov.u64 	%rd1, 0x100000001;
	mul.lo.s64 	%rd2, %rd1, %rd1;
	mov.u64 	%rd3, -3;
	mul.lo.s64 	%rd4, %rd3, 5;
	st.global.u32 	[%out], %r2;
	st.global.u32 	[%out+4], %r4;
	st.global.u64 	[%out+8], %rd2;
	st.global.u64 	[%out+16], %rd4;",
        &[],
    );
    assert_eq!(o.u32(0), 0x0002_0001); // 0x1_0002_0001 mod 2^32
    assert_eq!(o.u32(1), (-15i32) as u32);
    assert_eq!(o.u64(1), 0x2_0000_0001); // (2^32+1)^2 = 2^64 + 2^33 + 1
    assert_eq!(o.u64(2), (-15i64) as u64);
}

/// mul.hi: the high n bits of the 2n-bit product; .s takes signed operands.
/// -1 * -1 = 1 (hi 0) signed, (2^32-1)^2 = 0xFFFF_FFFE_0000_0001 unsigned.
#[test]
fn mul_hi_s32_u32_s64_u64() {
    let o = run1(
        "	mov.u32 	%r1, -1;
	mul.hi.s32 	%r2, %r1, %r1;
	mul.hi.u32 	%r3, %r1, %r1;
	mul.hi.s32 	%r4, %r1, 2;
	mov.u64 	%rd1, -1;
	mul.hi.s64 	%rd2, %rd1, %rd1;
	mul.hi.u64 	%rd3, %rd1, %rd1;
	mov.u32 	%r5, 0x80000000;
	mul.hi.s32 	%r6, %r5, %r5;
	st.global.u32 	[%out], %r2;
	st.global.u32 	[%out+4], %r3;
	st.global.u32 	[%out+8], %r4;
	st.global.u32 	[%out+12], %r6;
	st.global.u64 	[%out+16], %rd2;
	st.global.u64 	[%out+24], %rd3;",
        &[],
    );
    assert_eq!(o.u32(0), 0);
    assert_eq!(o.u32(1), 0xFFFF_FFFE);
    assert_eq!(o.u32(2), 0xFFFF_FFFF); // -2: hi word all ones
    assert_eq!(o.u32(3), 0x4000_0000); // (-2^31)^2 = 2^62
    assert_eq!(o.u64(2), 0);
    assert_eq!(o.u64(3), 0xFFFF_FFFF_FFFF_FFFE);
}

/// mul.wide: the full 2n-bit product, operands extended by the type's signedness.
#[test]
fn mul_wide_s32_u32_u16_s16() {
    let o = run1(
        "	mov.u32 	%r1, -1;
	mul.wide.s32 	%rd1, %r1, %r1;
	mul.wide.u32 	%rd2, %r1, %r1;
	mov.u32 	%r2, -3;
	mul.wide.s32 	%rd3, %r2, 5;
	mul.wide.u32 	%rd4, %r2, 4;
	mov.u16 	%rs1, 0xFFFF;
	mul.wide.u16 	%r3, %rs1, %rs1;
	mul.wide.s16 	%r4, %rs1, 8;
	st.global.u64 	[%out], %rd1;
	st.global.u64 	[%out+8], %rd2;
	st.global.u64 	[%out+16], %rd3;
	st.global.u64 	[%out+24], %rd4;
	st.global.u32 	[%out+32], %r3;
	st.global.u32 	[%out+36], %r4;",
        &[],
    );
    assert_eq!(o.u64(0), 1);
    assert_eq!(o.u64(1), 0xFFFF_FFFE_0000_0001);
    assert_eq!(o.u64(2), (-15i64) as u64);
    assert_eq!(o.u64(3), 0xFFFF_FFFD * 4);
    assert_eq!(o.u32(8), 0xFFFE_0001);
    assert_eq!(o.u32(9), (-8i32) as u32);
}

/// mad.lo/hi/wide: d = (a*b).{lo,hi,wide} + c, wrapping in the result's width.
#[test]
fn mad_lo_hi_wide() {
    let o = run1(
        "	mov.u32 	%r1, 0x7FFFFFFF;
	mad.lo.s32 	%r2, %r1, 2, 3;
	mov.u32 	%r3, -1;
	mad.hi.u32 	%r4, %r3, %r3, 3;
	mad.hi.s32 	%r5, %r3, %r3, 3;
	mov.u32 	%r6, -3;
	mov.u64 	%rd1, -1;
	mad.wide.s32 	%rd2, %r6, 5, %rd1;
	mad.wide.u32 	%rd3, %r3, %r3, %rd1;
	st.global.u32 	[%out], %r2;
	st.global.u32 	[%out+4], %r4;
	st.global.u32 	[%out+8], %r5;
	st.global.u64 	[%out+16], %rd2;
	st.global.u64 	[%out+24], %rd3;",
        &[],
    );
    assert_eq!(o.u32(0), 1); // 0xFFFF_FFFE + 3 mod 2^32
    assert_eq!(o.u32(1), 1); // 0xFFFF_FFFE + 3 mod 2^32
    assert_eq!(o.u32(2), 3); // hi(1) = 0
    assert_eq!(o.u64(2), (-16i64) as u64);
    assert_eq!(o.u64(3), 0xFFFF_FFFE_0000_0000);
}

/// div.s / rem.s truncate toward zero; the remainder takes the dividend's sign.
/// div.u / rem.u treat the bits as unsigned.
#[test]
fn div_rem_s32_u32() {
    let o = run1(
        "	mov.u32 	%r1, -7;
	mov.u32 	%r2, 7;
	div.s32 	%r3, %r1, 2;
	div.s32 	%r4, %r2, -2;
	div.s32 	%r5, %r1, -2;
	rem.s32 	%r6, %r1, 2;
	rem.s32 	%r7, %r2, -2;
	rem.s32 	%r8, %r1, -2;
	mov.u32 	%r9, -1;
	div.u32 	%r10, %r9, 2;
	rem.u32 	%r11, %r9, 10;
	st.global.u32 	[%out], %r3;
	st.global.u32 	[%out+4], %r4;
	st.global.u32 	[%out+8], %r5;
	st.global.u32 	[%out+12], %r6;
	st.global.u32 	[%out+16], %r7;
	st.global.u32 	[%out+20], %r8;
	st.global.u32 	[%out+24], %r10;
	st.global.u32 	[%out+28], %r11;",
        &[],
    );
    let s = |i| o.u32(i) as i32;
    assert_eq!([s(0), s(1), s(2)], [-3, -3, 3]);
    assert_eq!([s(3), s(4), s(5)], [-1, 1, -1]);
    assert_eq!(o.u32(6), 0x7FFF_FFFF);
    assert_eq!(o.u32(7), 5); // 4294967295 mod 10
}

/// The 64-bit forms of div/rem, signed and unsigned.
#[test]
fn div_rem_s64_u64() {
    let o = run1(
        "	mov.u64 	%rd1, -7;
	div.s64 	%rd2, %rd1, 2;
	rem.s64 	%rd3, %rd1, 3;
	div.u64 	%rd4, %rd1, 2;
	mov.u64 	%rd5, -1;
	div.u64 	%rd6, %rd5, 3;
	rem.u64 	%rd7, %rd5, 10;
	st.global.u64 	[%out], %rd2;
	st.global.u64 	[%out+8], %rd3;
	st.global.u64 	[%out+16], %rd4;
	st.global.u64 	[%out+24], %rd6;
	st.global.u64 	[%out+32], %rd7;",
        &[],
    );
    assert_eq!(o.u64(0) as i64, -3);
    assert_eq!(o.u64(1) as i64, -1);
    assert_eq!(o.u64(2), (u64::MAX - 6) / 2);
    assert_eq!(o.u64(3), 0x5555_5555_5555_5555);
    assert_eq!(o.u64(4), 5);
}

/// min/max compare by the type's signedness.
#[test]
fn min_max_signed_unsigned() {
    let o = run1(
        "	mov.u32 	%r1, -1;
	min.s32 	%r2, %r1, 1;
	min.u32 	%r3, %r1, 1;
	max.s32 	%r4, %r1, 1;
	max.u32 	%r5, %r1, 1;
	mov.u64 	%rd1, -1;
	min.s64 	%rd2, %rd1, 1;
	max.s64 	%rd3, %rd1, 1;
	min.u64 	%rd4, %rd1, 1;
	st.global.u32 	[%out], %r2;
	st.global.u32 	[%out+4], %r3;
	st.global.u32 	[%out+8], %r4;
	st.global.u32 	[%out+12], %r5;
	st.global.u64 	[%out+16], %rd2;
	st.global.u64 	[%out+24], %rd3;
	st.global.u64 	[%out+32], %rd4;",
        &[],
    );
    assert_eq!(
        [o.u32(0), o.u32(1), o.u32(2), o.u32(3)],
        [u32::MAX, 1, 1, u32::MAX]
    );
    assert_eq!([o.u64(2), o.u64(3), o.u64(4)], [u64::MAX, 1, 1]);
}

/// neg.s negates modulo 2^n (neg of the most negative value is itself); abs likewise.
#[test]
fn neg_s32_s64_abs_s32() {
    let o = run1(
        "	mov.u64 	%rd1, 0x8000000000000000;
	neg.s64 	%rd2, %rd1;
	neg.s64 	%rd3, 1;
	mov.u32 	%r1, 5;
	neg.s32 	%r2, %r1;
	mov.u32 	%r3, -5;
	abs.s32 	%r4, %r3;
	mov.u32 	%r5, 0x80000000;
	abs.s32 	%r6, %r5;
	st.global.u64 	[%out], %rd2;
	st.global.u64 	[%out+8], %rd3;
	st.global.u32 	[%out+16], %r2;
	st.global.u32 	[%out+20], %r4;
	st.global.u32 	[%out+24], %r6;",
        &[],
    );
    assert_eq!(o.u64(0), 0x8000_0000_0000_0000);
    assert_eq!(o.u64(1), u64::MAX);
    assert_eq!(o.u32(4), (-5i32) as u32);
    assert_eq!(o.u32(5), 5);
    assert_eq!(o.u32(6), 0x8000_0000);
}

/// and/or/xor/not on .b32 and .b64: bitwise.
#[test]
fn and_or_xor_not_b32_b64() {
    let o = run1(
        "	mov.b32 	%r1, 0xF0F0F0F0;
	and.b32 	%r2, %r1, 0x0FF00FF0;
	or.b32 	%r3, %r1, 0x0F;
	xor.b32 	%r4, %r1, -1;
	not.b32 	%r5, %r1;
	mov.b64 	%rd1, 0xF0F0F0F0F0F0F0F0;
	and.b64 	%rd2, %rd1, 0xFF00000000000FF0;
	or.b64 	%rd3, %rd1, 0x0F00000000000000;
	xor.b64 	%rd4, %rd1, -1;
	not.b64 	%rd5, %rd1;
	st.global.u32 	[%out], %r2;
	st.global.u32 	[%out+4], %r3;
	st.global.u32 	[%out+8], %r4;
	st.global.u32 	[%out+12], %r5;
	st.global.u64 	[%out+16], %rd2;
	st.global.u64 	[%out+24], %rd3;
	st.global.u64 	[%out+32], %rd4;
	st.global.u64 	[%out+40], %rd5;",
        &[],
    );
    assert_eq!(o.u32(0), 0x00F0_00F0);
    assert_eq!(o.u32(1), 0xF0F0_F0FF);
    assert_eq!(o.u32(2), 0x0F0F_0F0F);
    assert_eq!(o.u32(3), 0x0F0F_0F0F);
    assert_eq!(o.u64(2), 0xF000_0000_0000_00F0);
    assert_eq!(o.u64(3), 0xFFF0_F0F0_F0F0_F0F0);
    assert_eq!(o.u64(4), 0x0F0F_0F0F_0F0F_0F0F);
    assert_eq!(o.u64(5), 0x0F0F_0F0F_0F0F_0F0F);
}

/// shl.b / shr.u fill with zeros, shr.s with the sign bit; shift amounts past
/// the width are clamped to it ("Shift amounts greater than the register
/// width N are clamped to N").
#[test]
fn shl_shr_s_u_and_clamping() {
    let o = run1(
        "	mov.u32 	%r1, 0x80000000;
	shr.s32 	%r2, %r1, 4;
	shr.u32 	%r3, %r1, 4;
	shr.b32 	%r4, %r1, 4;
	shr.s32 	%r5, %r1, 40;
	shr.u32 	%r6, %r1, 32;
	mov.u32 	%r7, 0x40000000;
	shr.s32 	%r8, %r7, 40;
	shl.b32 	%r9, 1, 31;
	mov.u32 	%r10, 32;
	shl.b32 	%r11, 1, %r10;
	mov.u64 	%rd1, 0x8000000000000000;
	shr.s64 	%rd2, %rd1, 100;
	shr.u64 	%rd3, %rd1, 63;
	shr.u64 	%rd4, %rd1, 64;
	mov.u64 	%rd5, 0xFFFFFFFF;
	shl.b64 	%rd6, %rd5, 32;
	shl.b64 	%rd7, %rd5, 64;
	st.global.u32 	[%out], %r2;
	st.global.u32 	[%out+4], %r3;
	st.global.u32 	[%out+8], %r4;
	st.global.u32 	[%out+12], %r5;
	st.global.u32 	[%out+16], %r6;
	st.global.u32 	[%out+20], %r8;
	st.global.u32 	[%out+24], %r9;
	st.global.u32 	[%out+28], %r11;
	st.global.u64 	[%out+32], %rd2;
	st.global.u64 	[%out+40], %rd3;
	st.global.u64 	[%out+48], %rd4;
	st.global.u64 	[%out+56], %rd6;
	st.global.u64 	[%out+64], %rd7;",
        &[],
    );
    assert_eq!(o.u32(0), 0xF800_0000);
    assert_eq!(o.u32(1), 0x0800_0000);
    assert_eq!(o.u32(2), 0x0800_0000);
    assert_eq!(o.u32(3), 0xFFFF_FFFF);
    assert_eq!(o.u32(4), 0);
    assert_eq!(o.u32(5), 0);
    assert_eq!(o.u32(6), 0x8000_0000);
    assert_eq!(o.u32(7), 0);
    assert_eq!(o.u64(4), u64::MAX);
    assert_eq!(o.u64(5), 1);
    assert_eq!(o.u64(6), 0);
    assert_eq!(o.u64(7), 0xFFFF_FFFF_0000_0000);
    assert_eq!(o.u64(8), 0);
}

// ---------------------------------------------------------------------------
// Integer conversions, moves, selects
// ---------------------------------------------------------------------------

/// cvt between integer widths: a narrower source is sign-extended for .s and
/// zero-extended for .u; a narrower destination keeps the low bits.
#[test]
fn cvt_integer_widths() {
    let o = run1(
        "	mov.u16 	%rs1, 0x8001;
	cvt.u32.u16 	%r1, %rs1;
	cvt.s32.s16 	%r2, %rs1;
	mov.u32 	%r3, 0x80000000;
	cvt.s64.s32 	%rd1, %r3;
	cvt.u64.u32 	%rd2, %r3;
	mov.u64 	%rd3, 0x123456789;
	cvt.u32.u64 	%r4, %rd3;
	mov.u32 	%r5, 0x1FF;
	cvt.s32.s8 	%r6, %r5;
	cvt.u32.u8 	%r7, %r5;
	mov.u32 	%r8, 0x12345;
	cvt.u16.u32 	%rs2, %r8;
	cvt.s64.s16 	%rd4, %rs1;
	st.global.u32 	[%out], %r1;
	st.global.u32 	[%out+4], %r2;
	st.global.u64 	[%out+8], %rd1;
	st.global.u64 	[%out+16], %rd2;
	st.global.u32 	[%out+24], %r4;
	st.global.u32 	[%out+28], %r6;
	st.global.u32 	[%out+32], %r7;
	st.global.u16 	[%out+36], %rs2;
	st.global.u64 	[%out+40], %rd4;",
        &[],
    );
    assert_eq!(o.u32(0), 0x8001);
    assert_eq!(o.u32(1), 0xFFFF_8001);
    assert_eq!(o.u64(1), 0xFFFF_FFFF_8000_0000);
    assert_eq!(o.u64(2), 0x8000_0000);
    assert_eq!(o.u32(6), 0x2345_6789);
    assert_eq!(o.u32(7), 0xFFFF_FFFF);
    assert_eq!(o.u32(8), 0xFF);
    assert_eq!(o.u16(18), 0x2345);
    assert_eq!(o.u64(5), 0xFFFF_FFFF_FFFF_8001);
}

/// cvt to a signed integer type narrower than its destination register: the
/// ISA's rule for operands wider than the instruction type ("If the
/// corresponding instruction type is signed integer, the data is
/// sign-extended; otherwise, the data is zero-extended") applies to the
/// destination of cvt, as to ld.
#[test]
fn cvt_s16_s32_into_a_32_bit_register_sign_extends() {
    let o = run1(
        "	mov.u32 	%r1, 0x18000;
	cvt.s16.s32 	%r2, %r1;
	cvt.u16.u32 	%r3, %r1;
	mov.f32 	%f1, 0fC0400000;
	cvt.rzi.s16.f32 	%r4, %f1;
	cvt.rzi.s8.f32 	%rd1, %f1;
	st.global.u32 	[%out], %r2;
	st.global.u32 	[%out+4], %r3;
	st.global.u32 	[%out+8], %r4;
	st.global.u64 	[%out+16], %rd1;",
        &[],
    );
    assert_eq!(o.u32(0), 0xFFFF_8000);
    assert_eq!(o.u32(1), 0x8000);
    assert_eq!(o.u32(2), (-3i32) as u32);
    assert_eq!(o.u64(2), (-3i64) as u64);
}

/// mov of each register kind copies the bits (mov.b32 of an f32 is a bit cast).
#[test]
fn mov_u16_u32_u64_f32_f64_b32_pred() {
    let o = run1(
        "	mov.u16 	%rs1, 0xBEEF;
	mov.u16 	%rs2, %rs1;
	mov.u32 	%r1, -1;
	mov.u64 	%rd1, -2;
	mov.f32 	%f1, 0f80000000;
	mov.b32 	%r2, %f1;
	mov.f64 	%fd1, 0dFFF0000000000000;
	mov.b64 	%rd2, %fd1;
	setp.eq.u32 	%p1, %r1, -1;
	mov.pred 	%p2, %p1;
	selp.u32 	%r3, 1, 0, %p2;
	st.global.u16 	[%out], %rs2;
	st.global.u32 	[%out+4], %r1;
	st.global.u64 	[%out+8], %rd1;
	st.global.u32 	[%out+16], %r2;
	st.global.u32 	[%out+20], %r3;
	st.global.u64 	[%out+24], %rd2;",
        &[],
    );
    assert_eq!(o.u16(0), 0xBEEF);
    assert_eq!(o.u16(1), 0xA5A5, "st.u16 wrote 2 bytes only");
    assert_eq!(o.u32(1), u32::MAX);
    assert_eq!(o.u64(1), u64::MAX - 1);
    assert_eq!(o.u32(4), 0x8000_0000, "-0.0 keeps its sign bit");
    assert_eq!(o.u32(5), 1);
    assert_eq!(o.u64(3), 0xFFF0_0000_0000_0000);
}

/// mov.b32/b64 pack and unpack: "the first element is the least significant".
#[test]
fn mov_b32_b64_pack_unpack() {
    let o = run1(
        "	mov.u16 	%rs1, 0x1111;
	mov.u16 	%rs2, 0x2222;
	mov.b32 	%r1, {%rs1, %rs2};
	mov.u32 	%r2, 0xAAAABBBB;
	mov.b32 	{%rs3, %rs4}, %r2;
	mov.u32 	%r3, 0x33333333;
	mov.u32 	%r4, 0x44444444;
	mov.b64 	%rd1, {%r3, %r4};
	mov.u64 	%rd2, 0x123456789ABCDEF0;
	mov.b64 	{%r5, %r6}, %rd2;
	st.global.u32 	[%out], %r1;
	st.global.u16 	[%out+4], %rs3;
	st.global.u16 	[%out+6], %rs4;
	st.global.u64 	[%out+8], %rd1;
	st.global.u32 	[%out+16], %r5;
	st.global.u32 	[%out+20], %r6;",
        &[],
    );
    assert_eq!(o.u32(0), 0x2222_1111);
    assert_eq!(o.u16(2), 0xBBBB);
    assert_eq!(o.u16(3), 0xAAAA);
    assert_eq!(o.u64(1), 0x4444_4444_3333_3333);
    assert_eq!(o.u32(4), 0x9ABC_DEF0);
    assert_eq!(o.u32(5), 0x1234_5678);
}

/// selp: d = c ? a : b, for each type.
#[test]
fn selp_b32_b64_f32_f64_u16() {
    let o = run1(
        "	setp.eq.u32 	%p1, 1, 1;
	setp.eq.u32 	%p2, 1, 0;
	selp.b32 	%r1, 5, 7, %p1;
	selp.b32 	%r2, 5, -1, %p2;
	selp.b64 	%rd1, 5, -1, %p2;
	selp.b64 	%rd2, 5, -1, %p1;
	selp.f32 	%f1, 0f3F800000, 0fBF800000, %p2;
	selp.f64 	%fd1, 0d3FF0000000000000, 0d4000000000000000, %p1;
	selp.u16 	%rs1, 1, 0, %p1;
	selp.u16 	%rs2, 1, 0, %p2;
	st.global.u32 	[%out], %r1;
	st.global.u32 	[%out+4], %r2;
	st.global.u64 	[%out+8], %rd1;
	st.global.u64 	[%out+16], %rd2;
	st.global.f32 	[%out+24], %f1;
	st.global.f64 	[%out+32], %fd1;
	st.global.u16 	[%out+40], %rs1;
	st.global.u16 	[%out+42], %rs2;",
        &[],
    );
    assert_eq!(o.u32(0), 5);
    assert_eq!(o.u32(1), u32::MAX);
    assert_eq!(o.u64(1), u64::MAX);
    assert_eq!(o.u64(2), 5);
    assert_eq!(o.f32(6), -1.0);
    assert_eq!(o.f64(4), 1.0);
    assert_eq!((o.u16(20), o.u16(21)), (1, 0));
}

// ---------------------------------------------------------------------------
// setp and predicates
// ---------------------------------------------------------------------------

/// Stores predicates %p1..%p7 as bytes 0..7 of out (1 or 0), %p0 first.
const STORE_PREDS: &str = "
	selp.u32 	%r8, 1, 0, %p0;
	st.global.u8 	[%out], %r8;
	selp.u32 	%r8, 1, 0, %p1;
	st.global.u8 	[%out+1], %r8;
	selp.u32 	%r8, 1, 0, %p2;
	st.global.u8 	[%out+2], %r8;
	selp.u32 	%r8, 1, 0, %p3;
	st.global.u8 	[%out+3], %r8;
	selp.u32 	%r8, 1, 0, %p4;
	st.global.u8 	[%out+4], %r8;
	selp.u32 	%r8, 1, 0, %p5;
	st.global.u8 	[%out+5], %r8;
	selp.u32 	%r8, 1, 0, %p6;
	st.global.u8 	[%out+6], %r8;
	selp.u32 	%r8, 1, 0, %p7;
	st.global.u8 	[%out+7], %r8;";

fn preds(body: &str) -> [u8; 8] {
    run1(&format!("{body}{STORE_PREDS}"), &[]).bytes(0)
}

/// Integer setp compares by the type: .s signed, .u (and lo/ls/hi/hs) unsigned, .b bits.
#[test]
fn setp_integer_signed_unsigned() {
    let p = preds(
        "	mov.u32 	%r1, -1;
	setp.lt.s32 	%p0, %r1, 0;
	setp.lt.u32 	%p1, %r1, 0;
	setp.gt.u32 	%p2, %r1, 0;
	setp.ge.u32 	%p3, %r1, -1;
	setp.le.s32 	%p4, %r1, -1;
	setp.gt.s32 	%p5, %r1, 0;
	setp.hi.u32 	%p6, %r1, 0;
	setp.ne.s32 	%p7, %r1, -1;",
    );
    assert_eq!(p, [1, 0, 1, 1, 1, 0, 1, 0]);
    let p = preds(
        "	mov.u64 	%rd1, -1;
	setp.lt.s64 	%p0, %rd1, 0;
	setp.lt.u64 	%p1, %rd1, 0;
	setp.gt.u64 	%p2, %rd1, 0;
	setp.ge.s64 	%p3, %rd1, 0;
	setp.le.s64 	%p4, %rd1, -1;
	setp.ne.s64 	%p5, %rd1, -1;
	setp.eq.s64 	%p6, %rd1, -1;
	setp.eq.b64 	%p7, %rd1, 0xFFFFFFFFFFFFFFFF;",
    );
    assert_eq!(p, [1, 0, 1, 0, 1, 0, 1, 1]);
    let p = preds(
        "	mov.u16 	%rs1, 0x8000;
	setp.eq.s16 	%p0, %rs1, 0;
	setp.lt.s16 	%p1, %rs1, 0;
	setp.lt.u16 	%p2, %rs1, 0;
	mov.u32 	%r1, 7;
	setp.eq.b32 	%p3, %r1, 7;
	setp.eq.s32 	%p4, %r1, 7;
	setp.ge.s32 	%p5, %r1, 8;
	setp.gt.s32 	%p6, %r1, 6;
	setp.lt.s32 	%p7, %r1, 8;",
    );
    assert_eq!(p, [0, 1, 0, 1, 1, 0, 1, 1]);
}

/// setp.CmpOp.BoolOp: p = (a cmp b) BoolOp c and q = !(a cmp b) BoolOp c,
/// with `!c` allowed; the `p|q` form writes both.
#[test]
fn setp_and_or_xor_and_two_outputs() {
    let p = preds(
        "	setp.eq.u32 	%p6, 1, 1;
	setp.eq.u32 	%p7, 1, 0;
	setp.lt.and.s32 	%p0, 1, 2, %p6;
	setp.lt.and.s32 	%p1, 1, 2, %p7;
	setp.lt.or.s32 	%p2, 2, 1, %p6;
	setp.lt.or.s32 	%p3, 2, 1, %p7;
	setp.lt.xor.s32 	%p4, 1, 2, %p6;
	setp.lt.and.s32 	%p5, 1, 2, !%p7;",
    );
    assert_eq!(p, [1, 0, 1, 0, 0, 1, 1, 0]);
    let p = preds(
        "	setp.eq.u32 	%p6, 1, 1;
	setp.eq.u32 	%p7, 1, 0;
	setp.lt.s32 	%p0|%p1, 1, 2;
	setp.lt.s32 	%p2|%p3, 2, 1;
	setp.lt.and.s32 	%p4|%p5, 2, 1, %p6;",
    );
    assert_eq!(p, [1, 0, 0, 1, 0, 1, 1, 0]);
}

/// and/or/xor/not on .pred.
#[test]
fn and_or_xor_not_pred() {
    let p = preds(
        "	setp.eq.u32 	%p6, 1, 1;
	setp.eq.u32 	%p7, 1, 0;
	and.pred 	%p0, %p6, %p7;
	and.pred 	%p1, %p6, %p6;
	or.pred 	%p2, %p7, %p7;
	or.pred 	%p3, %p6, %p7;
	xor.pred 	%p4, %p6, %p6;
	xor.pred 	%p5, %p6, %p7;
	not.pred 	%p6, %p6;
	not.pred 	%p7, %p7;",
    );
    assert_eq!(p, [0, 1, 0, 1, 0, 1, 0, 1]);
}

/// Float setp: ordered comparisons are false with a NaN, the `u` forms true;
/// .ftz compares subnormals as zero; +0 == -0.
#[test]
fn setp_f32_ftz_nan_and_unordered() {
    let nan = "0f7FC00000";
    let p = preds(&format!(
        "	mov.f32 	%f1, {nan};
	setp.lt.ftz.f32 	%p0, %f1, 0f3F800000;
	setp.ltu.ftz.f32 	%p1, %f1, 0f3F800000;
	setp.leu.ftz.f32 	%p2, %f1, 0f3F800000;
	setp.neu.ftz.f32 	%p3, %f1, %f1;
	setp.eq.ftz.f32 	%p4, %f1, %f1;
	setp.gtu.ftz.f32 	%p5, %f1, 0f3F800000;
	setp.ge.ftz.f32 	%p6, %f1, %f1;
	setp.nan.f32 	%p7, %f1, 0f3F800000;"
    ));
    assert_eq!(p, [0, 1, 1, 1, 0, 1, 0, 1]);
    let p = preds(
        "	mov.f32 	%f1, 0f00000001;
	setp.eq.ftz.f32 	%p0, %f1, 0f00000000;
	setp.eq.f32 	%p1, %f1, 0f00000000;
	setp.gt.ftz.f32 	%p2, %f1, 0f00000000;
	setp.gt.f32 	%p3, %f1, 0f00000000;
	setp.eq.ftz.f32 	%p4, 0f80000000, 0f00000000;
	setp.ge.ftz.f32 	%p5, 0f3F800000, 0f3F800000;
	setp.leu.ftz.f32 	%p6, 0f40000000, 0f3F800000;
	setp.num.f32 	%p7, %f1, 0f3F800000;",
    );
    assert_eq!(p, [1, 0, 0, 1, 1, 1, 0, 1]);
}

/// f64 setp: same rules, no ftz.
#[test]
fn setp_f64() {
    let p = preds(
        "	mov.f64 	%fd1, 0d7FF8000000000000;
	mov.f64 	%fd2, 0d0000000000000001;
	setp.lt.f64 	%p0, %fd1, 0d3FF0000000000000;
	setp.ltu.f64 	%p1, %fd1, 0d3FF0000000000000;
	setp.gt.f64 	%p2, %fd2, 0d0000000000000000;
	setp.eq.f64 	%p3, 0d8000000000000000, 0d0000000000000000;
	setp.ne.f64 	%p4, %fd2, %fd2;
	setp.neu.f64 	%p5, %fd1, %fd1;
	setp.ge.f64 	%p6, %fd2, %fd2;
	setp.le.f64 	%p7, %fd1, %fd1;",
    );
    assert_eq!(p, [0, 1, 1, 1, 0, 1, 1, 0]);
}

// ---------------------------------------------------------------------------
// Float arithmetic (wiring: operand order, rounding, ftz)
// ---------------------------------------------------------------------------

const DENORM: u32 = 0x0040_0000; // 2^-127

/// add/sub/mul.rn.ftz.f32: round to nearest even; subnormal inputs and results
/// flush to sign-preserving zero.
#[test]
fn add_sub_mul_rn_ftz_f32() {
    let o = run1(
        "	ld.global.f32 	%f1, [%in];
	ld.global.f32 	%f2, [%in+4];
	ld.global.f32 	%f3, [%in+8];
	add.rn.ftz.f32 	%f4, %f1, 0f00000000;
	add.rn.f32 	%f5, %f1, 0f00000000;
	add.rn.ftz.f32 	%f6, 0f3F800000, %f2;
	sub.rn.ftz.f32 	%f7, 0f3F800000, 0f40400000;
	mul.rn.ftz.f32 	%f1, %f3, %f3;
	neg.ftz.f32 	%f3, %f3;
	mul.rn.ftz.f32 	%f2, %f3, 0f1F800000;
	mul.rn.ftz.f32 	%f3, 0f7F000000, 0f40000000;
	st.global.f32 	[%out], %f4;
	st.global.f32 	[%out+4], %f5;
	st.global.f32 	[%out+8], %f6;
	st.global.f32 	[%out+12], %f7;
	st.global.f32 	[%out+16], %f1;
	st.global.f32 	[%out+20], %f2;
	st.global.f32 	[%out+24], %f3;",
        &[
            pk(DENORM, 0x3380_0000), // 2^-127, 2^-24 (half an ulp of 1)
            f(2f32.powi(-64)),
        ],
    );
    assert_eq!(o.u32(0), 0, "a subnormal input flushes");
    assert_eq!(o.u32(1), DENORM, "without .ftz it is kept");
    assert_eq!(o.u32(2), 0x3F80_0000, "1 + 2^-24 ties to even");
    assert_eq!(o.f32(3), -2.0, "sub is a - b");
    assert_eq!(o.u32(4), 0, "2^-128 flushes");
    assert_eq!(o.u32(5), 0x8000_0000, "-2^-128 flushes to -0");
    assert_eq!(o.f32(6), f32::INFINITY);
}

/// div.rn.ftz.f32: IEEE division, correctly rounded; a/0 = inf, 0/0 = NaN.
#[test]
fn div_rn_ftz_f32() {
    let o = run1(
        "	div.rn.ftz.f32 	%f1, 0f3F800000, 0f40400000;
	div.rn.ftz.f32 	%f2, 0f40C00000, 0f40400000;
	div.rn.ftz.f32 	%f3, 0fBF800000, 0f00000000;
	div.rn.ftz.f32 	%f4, 0f00000000, 0f00000000;
	div.rn.ftz.f32 	%f5, 0f3F800000, 0f00400000;
	st.global.f32 	[%out], %f1;
	st.global.f32 	[%out+4], %f2;
	st.global.f32 	[%out+8], %f3;
	st.global.f32 	[%out+12], %f4;
	st.global.f32 	[%out+16], %f5;",
        &[],
    );
    assert_eq!(o.u32(0), 0x3EAA_AAAB);
    assert_eq!(o.f32(1), 2.0);
    assert_eq!(o.f32(2), f32::NEG_INFINITY);
    assert!(o.f32(3).is_nan());
    assert_eq!(o.f32(4), f32::INFINITY, "1 / flushed subnormal = 1 / +0");
}

/// fma.rn: a*b+c rounded once. (1+2^-12)^2 - 1 = 2^-11 + 2^-24 exactly; a
/// separately rounded product would give 2^-11.
#[test]
fn fma_rn_ftz_f32_is_fused() {
    let o = run1(
        "	mov.f32 	%f1, 0f3F800800;
	fma.rn.ftz.f32 	%f2, %f1, %f1, 0fBF800000;
	mul.rn.ftz.f32 	%f3, %f1, %f1;
	add.rn.ftz.f32 	%f3, %f3, 0fBF800000;
	fma.rn.ftz.f32 	%f4, 0f40000000, 0f40400000, 0f3F800000;
	st.global.f32 	[%out], %f2;
	st.global.f32 	[%out+4], %f3;
	st.global.f32 	[%out+8], %f4;",
        &[],
    );
    assert_eq!(o.u32(0), 0x3A00_0400);
    assert_eq!(o.u32(1), 0x3A00_0000);
    assert_eq!(o.f32(2), 7.0, "a * b + c, in that order");
}

/// fma.rm rounds toward -inf: 1*1 + 2^-30 stays 1; -1*1 - 2^-30 goes to -(1+2^-23).
#[test]
fn fma_rm_ftz_f32() {
    let o = run1(
        "	fma.rm.ftz.f32 	%f1, 0f3F800000, 0f3F800000, 0f30800000;
	fma.rm.ftz.f32 	%f2, 0fBF800000, 0f3F800000, 0fB0800000;
	fma.rp.ftz.f32 	%f3, 0f3F800000, 0f3F800000, 0f30800000;
	fma.rz.ftz.f32 	%f4, 0fBF800000, 0f3F800000, 0fB0800000;
	st.global.f32 	[%out], %f1;
	st.global.f32 	[%out+4], %f2;
	st.global.f32 	[%out+8], %f3;
	st.global.f32 	[%out+12], %f4;",
        &[],
    );
    assert_eq!(o.u32(0), 0x3F80_0000);
    assert_eq!(o.u32(1), 0xBF80_0001);
    assert_eq!(o.u32(2), 0x3F80_0001);
    assert_eq!(o.u32(3), 0xBF80_0000);
}

/// rcp.rn.ftz.f32: 1/x correctly rounded; 1/-0 = -inf; a subnormal input is
/// zero (1/it = +inf) and a subnormal result is zero.
#[test]
fn rcp_rn_ftz_f32() {
    let o = run1(
        "	rcp.rn.ftz.f32 	%f1, 0f40400000;
	rcp.rn.ftz.f32 	%f2, 0f80000000;
	rcp.rn.ftz.f32 	%f3, 0f00400000;
	rcp.rn.ftz.f32 	%f4, 0f7F000000;
	rcp.rn.ftz.f32 	%f5, 0f7F800000;
	st.global.f32 	[%out], %f1;
	st.global.f32 	[%out+4], %f2;
	st.global.f32 	[%out+8], %f3;
	st.global.f32 	[%out+12], %f4;
	st.global.f32 	[%out+16], %f5;",
        &[],
    );
    assert_eq!(o.u32(0), 0x3EAA_AAAB);
    assert_eq!(o.f32(1), f32::NEG_INFINITY);
    assert_eq!(o.f32(2), f32::INFINITY);
    assert_eq!(o.u32(3), 0, "1/2^127 = 2^-127 is subnormal and flushes");
    assert_eq!(o.u32(4), 0);
}

/// sqrt.rn.ftz.f32: correctly rounded; sqrt(-0) = -0; sqrt(negative) = NaN.
#[test]
fn sqrt_rn_ftz_f32() {
    let o = run1(
        "	sqrt.rn.ftz.f32 	%f1, 0f40000000;
	sqrt.rn.ftz.f32 	%f2, 0f80000000;
	sqrt.rn.ftz.f32 	%f3, 0fBF800000;
	sqrt.rn.ftz.f32 	%f4, 0f00400000;
	sqrt.rn.ftz.f32 	%f5, 0f80400000;
	sqrt.rn.ftz.f32 	%f6, 0f40800000;
	st.global.f32 	[%out], %f1;
	st.global.f32 	[%out+4], %f2;
	st.global.f32 	[%out+8], %f3;
	st.global.f32 	[%out+12], %f4;
	st.global.f32 	[%out+16], %f5;
	st.global.f32 	[%out+20], %f6;",
        &[],
    );
    assert_eq!(o.u32(0), 0x3FB5_04F3);
    assert_eq!(o.u32(1), 0x8000_0000);
    assert!(o.f32(2).is_nan());
    assert_eq!(o.u32(3), 0);
    assert_eq!(o.u32(4), 0x8000_0000);
    assert_eq!(o.f32(5), 2.0);
}

/// ex2.approx.ftz.f32: 2^x within the ISA's error; ex2(-inf) = +0, ex2(+inf) =
/// +inf, ex2(NaN) = NaN; a subnormal input is 0 (result 1), a subnormal result 0.
#[test]
fn ex2_approx_ftz_f32() {
    let o = run1(
        "	ex2.approx.ftz.f32 	%f1, 0f3F000000;
	ex2.approx.ftz.f32 	%f2, 0fFF800000;
	ex2.approx.ftz.f32 	%f3, 0f7F800000;
	ex2.approx.ftz.f32 	%f4, 0f7FC00000;
	ex2.approx.ftz.f32 	%f5, 0f00400000;
	ex2.approx.ftz.f32 	%f6, 0fC3480000;
	ex2.approx.ftz.f32 	%f7, 0f40400000;
	st.global.f32 	[%out], %f1;
	st.global.f32 	[%out+4], %f2;
	st.global.f32 	[%out+8], %f3;
	st.global.f32 	[%out+12], %f4;
	st.global.f32 	[%out+16], %f5;
	st.global.f32 	[%out+20], %f6;
	st.global.f32 	[%out+24], %f7;",
        &[],
    );
    let s2 = std::f32::consts::SQRT_2;
    assert!((o.u32(0) as i64 - s2.to_bits() as i64).abs() <= 2, "{}", o.f32(0));
    assert_eq!(o.u32(1), 0);
    assert_eq!(o.f32(2), f32::INFINITY);
    assert!(o.f32(3).is_nan());
    assert_eq!(o.f32(4), 1.0);
    assert_eq!(o.u32(5), 0, "2^-200 flushes");
    assert_eq!(o.f32(6), 8.0);
}

/// neg/abs/max/min.ftz.f32: sign flips, subnormals flush; max/min return the
/// non-NaN operand when one is NaN.
#[test]
fn neg_abs_min_max_ftz_f32() {
    let o = run1(
        "	neg.ftz.f32 	%f1, 0f00000000;
	neg.ftz.f32 	%f2, 0f00400000;
	abs.ftz.f32 	%f3, 0fBF800000;
	max.ftz.f32 	%f4, 0f7FC00000, 0f3F800000;
	max.ftz.f32 	%f5, 0f00400000, 0fBF800000;
	min.ftz.f32 	%f6, 0f3F800000, 0f7FC00000;
	max.ftz.f32 	%f7, 0f40000000, 0f40400000;
	st.global.f32 	[%out], %f1;
	st.global.f32 	[%out+4], %f2;
	st.global.f32 	[%out+8], %f3;
	st.global.f32 	[%out+12], %f4;
	st.global.f32 	[%out+16], %f5;
	st.global.f32 	[%out+20], %f6;
	st.global.f32 	[%out+24], %f7;",
        &[],
    );
    assert_eq!(o.u32(0), 0x8000_0000);
    assert_eq!(o.u32(1), 0x8000_0000);
    assert_eq!(o.f32(2), 1.0);
    assert_eq!(o.f32(3), 1.0);
    assert_eq!(o.u32(4), 0, "max(flushed subnormal, -1) = +0");
    assert_eq!(o.f32(5), 1.0);
    assert_eq!(o.f32(6), 3.0);
}

/// .sat on an arithmetic op clamps the result to [0, 1] (NaN to +0).
#[test]
fn add_sat_f32() {
    let o = run1(
        "	add.rn.sat.f32 	%f1, 0f3F800000, 0f3F800000;
	add.rn.sat.f32 	%f2, 0fBF800000, 0f00000000;
	add.rn.sat.f32 	%f3, 0f3E800000, 0f00000000;
	st.global.f32 	[%out], %f1;
	st.global.f32 	[%out+4], %f2;
	st.global.f32 	[%out+8], %f3;",
        &[],
    );
    assert_eq!([o.f32(0), o.f32(1), o.f32(2)], [1.0, 0.0, 0.25]);
}

/// f64 add/sub/mul/div/fma .rn: IEEE double, ties to even.
#[test]
fn add_sub_mul_div_fma_rn_f64() {
    let o = run1(
        "	ld.global.f64 	%fd1, [%in];
	add.rn.f64 	%fd2, 0d3FF0000000000000, %fd1;
	sub.rn.f64 	%fd3, 0d3FF0000000000000, 0d4008000000000000;
	mul.rn.f64 	%fd4, 0d7FE0000000000000, 0d4000000000000000;
	div.rn.f64 	%fd5, 0d3FF0000000000000, 0d4008000000000000;
	fma.rn.f64 	%fd6, 0d4000000000000000, 0d4008000000000000, 0d3FF0000000000000;
	st.global.f64 	[%out], %fd2;
	st.global.f64 	[%out+8], %fd3;
	st.global.f64 	[%out+16], %fd4;
	st.global.f64 	[%out+24], %fd5;
	st.global.f64 	[%out+32], %fd6;",
        &[d(2f64.powi(-53))],
    );
    assert_eq!(o.f64(0), 1.0, "1 + 2^-53 ties to even");
    assert_eq!(o.f64(1), -2.0);
    assert_eq!(o.f64(2), f64::INFINITY);
    assert_eq!(o.u64(3), 0x3FD5_5555_5555_5555);
    assert_eq!(o.f64(4), 7.0);
}

// ---------------------------------------------------------------------------
// Float conversions
// ---------------------------------------------------------------------------

/// cvt.ftz.sat.f32.f32: clamp to [0, 1], NaN to +0, subnormals flushed.
#[test]
fn cvt_ftz_sat_f32_f32() {
    let o = run1(
        "	cvt.ftz.sat.f32.f32 	%f1, 0f3FC00000;
	cvt.ftz.sat.f32.f32 	%f2, 0fBF000000;
	cvt.ftz.sat.f32.f32 	%f3, 0f7FC00000;
	cvt.ftz.sat.f32.f32 	%f4, 0f00400000;
	cvt.ftz.sat.f32.f32 	%f5, 0f3E800000;
	cvt.ftz.sat.f32.f32 	%f6, 0f7F800000;
	st.global.f32 	[%out], %f1;
	st.global.f32 	[%out+4], %f2;
	st.global.f32 	[%out+8], %f3;
	st.global.f32 	[%out+12], %f4;
	st.global.f32 	[%out+16], %f5;
	st.global.f32 	[%out+20], %f6;",
        &[],
    );
    assert_eq!(o.f32(0), 1.0);
    assert_eq!(o.u32(1), 0);
    assert_eq!(o.u32(2), 0);
    assert_eq!(o.u32(3), 0);
    assert_eq!(o.f32(4), 0.25);
    assert_eq!(o.f32(5), 1.0);
}

/// cvt.rn.bf16.f32 into a 16-bit register, then st.global.u16 of it: round to
/// nearest even on the dropped 16 bits; overflow to inf; NaN stays NaN;
/// subnormals kept (no .ftz). The store writes two bytes.
#[test]
fn cvt_rn_bf16_f32_and_st_global_u16() {
    let o = run1(
        "	cvt.rn.bf16.f32 	%rs1, 0f3F800000;
	cvt.rn.bf16.f32 	%rs2, 0f3F808000;
	cvt.rn.bf16.f32 	%rs3, 0f3F818000;
	cvt.rn.bf16.f32 	%rs4, 0f7F7FFFFF;
	cvt.rn.bf16.f32 	%rs5, 0f7FC00000;
	cvt.rn.bf16.f32 	%rs6, 0f00010000;
	cvt.rn.bf16.f32 	%rs7, 0fBF808001;
	st.global.u16 	[%out], %rs1;
	st.global.u16 	[%out+2], %rs2;
	st.global.u16 	[%out+4], %rs3;
	st.global.u16 	[%out+6], %rs4;
	st.global.u16 	[%out+8], %rs5;
	st.global.u16 	[%out+10], %rs6;
	st.global.u16 	[%out+12], %rs7;",
        &[],
    );
    assert_eq!(o.u16(0), 0x3F80);
    assert_eq!(o.u16(1), 0x3F80, "a tie rounds to the even 0x3F80");
    assert_eq!(o.u16(2), 0x3F82, "a tie rounds to the even 0x3F82");
    assert_eq!(o.u16(3), 0x7F80, "rounds up to inf");
    let nan = o.u16(4);
    assert!(nan & 0x7F80 == 0x7F80 && nan & 0x7F != 0, "{nan:#x}");
    assert_eq!(o.u16(5), 0x0001);
    assert_eq!(o.u16(6), 0xBF81, "past the tie rounds away");
    assert_eq!(o.u16(7), 0xA5A5, "nothing past the last u16");
}

/// bf16 to f32 is exact (the bits shifted up).
#[test]
fn cvt_f32_bf16() {
    let o = run1(
        "	mov.b16 	%rs1, 0xBF81;
	cvt.f32.bf16 	%f1, %rs1;
	st.global.f32 	[%out], %f1;",
        &[],
    );
    assert_eq!(o.u32(0), 0xBF81_0000);
}

/// cvt.ftz.f64.f32 (exact, subnormal input flushed, sign kept) and
/// cvt.rn.ftz.f32.f64 (rounded, overflow to inf, subnormal result flushed).
#[test]
fn cvt_ftz_f64_f32_and_rn_ftz_f32_f64() {
    let o = run1(
        "	cvt.ftz.f64.f32 	%fd1, 0f3FC00000;
	cvt.ftz.f64.f32 	%fd2, 0f80400000;
	cvt.f64.f32 	%fd3, 0f00400000;
	ld.global.f64 	%fd4, [%in];
	ld.global.f64 	%fd5, [%in+8];
	cvt.rn.ftz.f32.f64 	%f1, %fd4;
	cvt.rn.ftz.f32.f64 	%f2, %fd5;
	cvt.rn.ftz.f32.f64 	%f3, 0d7E37E43C8800759C;
	cvt.rn.ftz.f32.f64 	%f4, 0d3730000000000000;
	cvt.rz.f32.f64 	%f5, %fd5;
	st.global.f64 	[%out], %fd1;
	st.global.f64 	[%out+8], %fd2;
	st.global.f64 	[%out+16], %fd3;
	st.global.f32 	[%out+24], %f1;
	st.global.f32 	[%out+28], %f2;
	st.global.f32 	[%out+32], %f3;
	st.global.f32 	[%out+36], %f4;
	st.global.f32 	[%out+40], %f5;",
        &[d(1.0 + 2f64.powi(-24)), d(1.0 + 2f64.powi(-24) + 2f64.powi(-50))],
    );
    assert_eq!(o.f64(0), 1.5);
    assert_eq!(o.u64(1), 0x8000_0000_0000_0000);
    assert_eq!(o.f64(2), 2f64.powi(-127));
    assert_eq!(o.u32(6), 0x3F80_0000, "tie to even");
    assert_eq!(o.u32(7), 0x3F80_0001, "past the tie");
    assert_eq!(o.f32(8), f32::INFINITY, "1e300");
    assert_eq!(o.u32(9), 0, "2^-140 flushes");
    assert_eq!(o.u32(10), 0x3F80_0000, "rz truncates");
}

/// cvt.rn.f32.{s32,u32}, cvt.rn.f64.s64: ties to even; the source's signedness.
#[test]
fn cvt_rn_f32_s32_u32_f64_s64() {
    let o = run1(
        "	mov.u32 	%r1, 16777217;
	cvt.rn.f32.s32 	%f1, %r1;
	mov.u32 	%r2, -1;
	cvt.rn.f32.s32 	%f2, %r2;
	cvt.rn.f32.u32 	%f3, %r2;
	cvt.rz.f32.u32 	%f4, %r2;
	mov.u64 	%rd1, 0x20000000000001;
	cvt.rn.f64.s64 	%fd1, %rd1;
	mov.u64 	%rd2, 0x8000000000000000;
	cvt.rn.f64.s64 	%fd2, %rd2;
	cvt.rn.f64.u64 	%fd3, %rd2;
	st.global.f32 	[%out], %f1;
	st.global.f32 	[%out+4], %f2;
	st.global.f32 	[%out+8], %f3;
	st.global.f32 	[%out+12], %f4;
	st.global.f64 	[%out+16], %fd1;
	st.global.f64 	[%out+24], %fd2;
	st.global.f64 	[%out+32], %fd3;",
        &[],
    );
    assert_eq!(o.f32(0), 16_777_216.0);
    assert_eq!(o.f32(1), -1.0);
    assert_eq!(o.u32(2), 0x4F80_0000); // 2^32
    assert_eq!(o.u32(3), 0x4F7F_FFFF);
    assert_eq!(o.f64(2), 2f64.powi(53));
    assert_eq!(o.f64(3), -(2f64.powi(63)));
    assert_eq!(o.f64(4), 2f64.powi(63));
}

/// cvt.{rni,rzi,rmi,rpi}.{s32,u32}.f32: round to an integer, saturate to the
/// destination's range, NaN to 0.
#[test]
fn cvt_irnd_int_f32() {
    let o = run1(
        "	cvt.rni.s32.f32 	%r1, 0f40200000;
	cvt.rzi.s32.f32 	%r2, 0fBFC00000;
	cvt.rmi.s32.f32 	%r3, 0fBFC00000;
	cvt.rpi.s32.f32 	%r4, 0f3FC00000;
	cvt.rzi.s32.f32 	%r5, 0f501502F9;
	cvt.rzi.s32.f32 	%r6, 0f7FC00000;
	cvt.rmi.u32.f32 	%r7, 0fBF800000;
	cvt.rzi.s64.f64 	%rd1, 0dC00C000000000000;
	st.global.u32 	[%out], %r1;
	st.global.u32 	[%out+4], %r2;
	st.global.u32 	[%out+8], %r3;
	st.global.u32 	[%out+12], %r4;
	st.global.u32 	[%out+16], %r5;
	st.global.u32 	[%out+20], %r6;
	st.global.u32 	[%out+24], %r7;
	st.global.u64 	[%out+32], %rd1;",
        &[],
    );
    let s = |i| o.u32(i) as i32;
    assert_eq!([s(0), s(1), s(2), s(3)], [2, -1, -2, 2]);
    assert_eq!(s(4), i32::MAX, "1e10 saturates");
    assert_eq!(s(5), 0);
    assert_eq!(o.u32(6), 0);
    assert_eq!(o.u64(4) as i64, -3);
}

// ---------------------------------------------------------------------------
// Loads and stores
// ---------------------------------------------------------------------------

/// ld of a type narrower than its destination register: sign-extended for .s,
/// zero-extended for .u (memory bytes 80 FF 01 80).
#[test]
fn ld_global_u8_s8_u16_s16_extension() {
    let o = run1(
        "	ld.global.u8 	%r1, [%in];
	ld.global.s8 	%r2, [%in];
	ld.global.u16 	%r3, [%in];
	ld.global.s16 	%r4, [%in];
	ld.global.u16 	%r5, [%in+2];
	ld.global.s16 	%r6, [%in+2];
	ld.global.s8 	%rd1, [%in];
	ld.global.s32 	%rd2, [%in];
	ld.global.u32 	%rd3, [%in];
	ld.global.u16 	%rs1, [%in+2];
	ld.global.cg.u16 	%rs2, [%in];
	ld.global.cg.s32 	%r7, [%in];
	st.global.u32 	[%out], %r1;
	st.global.u32 	[%out+4], %r2;
	st.global.u32 	[%out+8], %r3;
	st.global.u32 	[%out+12], %r4;
	st.global.u32 	[%out+16], %r5;
	st.global.u32 	[%out+20], %r6;
	st.global.u64 	[%out+24], %rd1;
	st.global.u64 	[%out+32], %rd2;
	st.global.u64 	[%out+40], %rd3;
	st.global.u16 	[%out+48], %rs1;
	st.global.u16 	[%out+50], %rs2;
	st.global.u32 	[%out+52], %r7;",
        &[0x8001_FF80],
    );
    assert_eq!(o.u32(0), 0x80);
    assert_eq!(o.u32(1), 0xFFFF_FF80);
    assert_eq!(o.u32(2), 0xFF80);
    assert_eq!(o.u32(3), 0xFFFF_FF80);
    assert_eq!(o.u32(4), 0x8001);
    assert_eq!(o.u32(5), 0xFFFF_8001);
    assert_eq!(o.u64(3), 0xFFFF_FFFF_FFFF_FF80);
    assert_eq!(o.u64(4), 0xFFFF_FFFF_8001_FF80);
    assert_eq!(o.u64(5), 0x8001_FF80);
    assert_eq!(o.u16(24), 0x8001);
    assert_eq!(o.u16(25), 0xFF80);
    assert_eq!(o.u32(13), 0x8001_FF80);
}

/// The cache-hint and volatile forms load the same values: ld.global.{cg,nc}
/// .f32/.f64/.u32, ld.volatile.global.u32.
#[test]
fn ld_global_cg_nc_volatile() {
    let o = run1(
        "	ld.global.cg.f32 	%f1, [%in];
	ld.global.nc.f32 	%f2, [%in+4];
	ld.global.cg.f64 	%fd1, [%in+8];
	ld.global.nc.f64 	%fd2, [%in+8];
	ld.global.nc.u32 	%r1, [%in];
	ld.volatile.global.u32 	%r2, [%in+4];
	membar.gl;
	st.global.f32 	[%out], %f1;
	st.global.f32 	[%out+4], %f2;
	st.global.f64 	[%out+8], %fd1;
	st.global.f64 	[%out+16], %fd2;
	st.global.u32 	[%out+24], %r1;
	st.global.u32 	[%out+28], %r2;",
        &[pk(1.5f32.to_bits(), (-2.0f32).to_bits()), d(0.125)],
    );
    assert_eq!([o.f32(0), o.f32(1)], [1.5, -2.0]);
    assert_eq!([o.f64(1), o.f64(2)], [0.125, 0.125]);
    assert_eq!(o.u32(6), 1.5f32.to_bits());
    assert_eq!(o.u32(7), (-2.0f32).to_bits());
}

/// Vector ld/st: element i at address + i * size, first register first.
#[test]
fn ld_st_global_v2_v4_element_order() {
    let o = run1(
        "	ld.global.v2.u32 	{%r1, %r2}, [%in];
	ld.global.cg.v2.u32 	{%r3, %r4}, [%in];
	ld.global.v4.f32 	{%f1, %f2, %f3, %f4}, [%in+16];
	ld.global.cg.v4.f32 	{%f5, %f6, %f7, %f0}, [%in+16];
	st.global.v2.u32 	[%out], {%r2, %r1};
	st.global.v2.u32 	[%out+8], {%r3, %r4};
	st.global.v4.f32 	[%out+16], {%f4, %f3, %f2, %f1};
	st.global.v4.f32 	[%out+32], {%f5, %f6, %f7, %f0};",
        &[
            pk(0x1111_1111, 0x2222_2222),
            0,
            pk(1f32.to_bits(), 2f32.to_bits()),
            pk(3f32.to_bits(), 4f32.to_bits()),
        ],
    );
    assert_eq!(o.u64(0), 0x1111_1111_2222_2222);
    assert_eq!(o.u64(1), 0x2222_2222_1111_1111);
    assert_eq!([o.f32(4), o.f32(5), o.f32(6), o.f32(7)], [4.0, 3.0, 2.0, 1.0]);
    assert_eq!([o.f32(8), o.f32(9), o.f32(10), o.f32(11)], [1.0, 2.0, 3.0, 4.0]);
}

/// Shared memory: st/ld.shared of u8/u32/s32/f32/f64 and the v2/v4 loads; ld.shared.s32
/// into a 64-bit register sign-extends.
#[test]
fn ld_st_shared_widths_and_vectors() {
    let o = run1(
        "	mov.u16 	%rs1, 0x1FF;
	st.shared.u8 	[sh], %rs1;
	st.shared.u8 	[sh+1], 0x7F;
	st.shared.u32 	[sh+4], -2;
	st.shared.f32 	[sh+16], 0f3F800000;
	st.shared.f32 	[sh+20], 0f40000000;
	st.shared.f32 	[sh+24], 0f40400000;
	st.shared.f32 	[sh+28], 0f40800000;
	st.shared.f64 	[sh+32], 0d3FF8000000000000;
	ld.shared.u8 	%rs2, [sh];
	ld.shared.u8 	%r1, [sh+1];
	ld.shared.u32 	%r2, [sh+4];
	ld.shared.s32 	%rd1, [sh+4];
	ld.shared.f32 	%f1, [sh+28];
	ld.shared.v2.f32 	{%f2, %f3}, [sh+16];
	ld.shared.v4.f32 	{%f4, %f5, %f6, %f7}, [sh+16];
	ld.shared.f64 	%fd1, [sh+32];
	mov.u64 	%rd2, sh;
	ld.shared.u32 	%r3, [%rd2+4];
	st.global.u16 	[%out], %rs2;
	st.global.u32 	[%out+4], %r1;
	st.global.u32 	[%out+8], %r2;
	st.global.u64 	[%out+16], %rd1;
	st.global.f32 	[%out+24], %f1;
	st.global.f32 	[%out+28], %f2;
	st.global.f32 	[%out+32], %f3;
	st.global.v4.f32 	[%out+48], {%f4, %f5, %f6, %f7};
	st.global.f64 	[%out+64], %fd1;
	st.global.u32 	[%out+72], %r3;",
        &[],
    );
    assert_eq!(o.u16(0), 0xFF, "st.u8 keeps the low byte, ld.u8 zero-extends");
    assert_eq!(o.u32(1), 0x7F);
    assert_eq!(o.u32(2), 0xFFFF_FFFE);
    assert_eq!(o.u64(2), (-2i64) as u64);
    assert_eq!([o.f32(6), o.f32(7), o.f32(8)], [4.0, 1.0, 2.0]);
    assert_eq!([o.f32(12), o.f32(13), o.f32(14), o.f32(15)], [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(o.f64(8), 1.5);
    assert_eq!(o.u32(18), 0xFFFF_FFFE);
}

/// The .local stack: st/ld.local of u32/f32 and the v4 forms, through %SPL as nvcc writes it.
#[test]
fn ld_st_local_scalars_and_v4() {
    let o = run1(
        "	add.u64 	%rd1, %SPL, 0;
	st.local.u32 	[%rd1], 7;
	st.local.f32 	[%rd1+4], 0f3F800000;
	st.local.u32 	[%rd1+8], 9;
	st.local.f32 	[%rd1+12], 0f40000000;
	ld.local.u32 	%r1, [%rd1+8];
	ld.local.f32 	%f1, [%rd1+12];
	ld.local.v4.u32 	{%r2, %r3, %r4, %r5}, [%rd1];
	ld.local.v4.f32 	{%f2, %f3, %f4, %f5}, [%rd1];
	st.local.v4.f32 	[%rd1+16], {%f5, %f4, %f3, %f2};
	ld.local.v4.u32 	{%r6, %r7, %r8, %r9}, [%rd1+16];
	st.global.u32 	[%out], %r1;
	st.global.f32 	[%out+4], %f1;
	st.global.v4.u32 	[%out+16], {%r2, %r3, %r4, %r5};
	st.global.v4.u32 	[%out+32], {%r6, %r7, %r8, %r9};",
        &[],
    );
    assert_eq!(o.u32(0), 9);
    assert_eq!(o.f32(1), 2.0);
    assert_eq!([o.u32(4), o.u32(6)], [7, 9]);
    assert_eq!([o.f32(5), o.f32(7)], [1.0, 2.0]);
    assert_eq!((o.f32(8), o.u32(9), o.f32(10), o.u32(11)), (2.0, 9, 1.0, 7));
}

/// ld.param: .u32/.s32/.f32/.u64, sign- or zero-extended into a wider register.
#[test]
fn ld_param_u32_s32_f32_u64() {
    let o = run1(
        "	ld.param.u32 	%r1, [k_a];
	ld.param.s32 	%r2, [k_a];
	ld.param.s32 	%rd1, [k_a];
	ld.param.u32 	%rd2, [k_a];
	ld.param.f32 	%f1, [k_b];
	ld.param.u64 	%rd3, [k_c];
	st.global.u32 	[%out], %r1;
	st.global.u32 	[%out+4], %r2;
	st.global.u64 	[%out+8], %rd1;
	st.global.u64 	[%out+16], %rd2;
	st.global.f32 	[%out+24], %f1;
	st.global.u64 	[%out+32], %rd3;",
        &[],
    );
    assert_eq!([o.u32(0), o.u32(1)], [0xFFFF_FFFE, 0xFFFF_FFFE]);
    assert_eq!(o.u64(1), (-2i64) as u64);
    assert_eq!(o.u64(2), 0xFFFF_FFFE);
    assert_eq!(o.f32(6), -1.5);
    assert_eq!(o.u64(4), 0x1234_5678_9ABC_DEF0);
}

// ---------------------------------------------------------------------------
// Atomics
// ---------------------------------------------------------------------------

/// atom returns the OLD value and stores op(old, b): add.u32 (wrapping),
/// add.f32 (rn, subnormals flushed), add.f64, exch.b32.
#[test]
fn atom_global_add_u32_f32_f64_exch_return_old() {
    let o = run1(
        "	st.global.u32 	[%out], 5;
	atom.global.add.u32 	%r1, [%out], 3;
	st.global.u32 	[%out+4], -1;
	atom.global.add.u32 	%r2, [%out+4], 1;
	st.global.f32 	[%out+8], 0f3FC00000;
	atom.global.add.f32 	%f1, [%out+8], 0f40100000;
	st.global.f32 	[%out+12], 0f00400000;
	atom.global.add.f32 	%f2, [%out+12], 0f00000000;
	st.global.f64 	[%out+16], 0d3FE0000000000000;
	atom.global.add.f64 	%fd1, [%out+16], 0d3FD0000000000000;
	st.global.u32 	[%out+24], 11;
	atom.global.exch.b32 	%r3, [%out+24], 22;
	st.global.u32 	[%out+32], %r1;
	st.global.u32 	[%out+36], %r2;
	st.global.f32 	[%out+40], %f1;
	st.global.f32 	[%out+44], %f2;
	st.global.f64 	[%out+48], %fd1;
	st.global.u32 	[%out+56], %r3;",
        &[],
    );
    assert_eq!((o.u32(8), o.u32(0)), (5, 8));
    assert_eq!((o.u32(9), o.u32(1)), (u32::MAX, 0));
    assert_eq!((o.f32(10), o.f32(2)), (1.5, 3.75));
    assert_eq!(
        (o.u32(11), o.u32(3)),
        (DENORM, 0),
        "old as stored; the sum flushed"
    );
    assert_eq!((o.f64(6), o.f64(2)), (0.5, 0.75));
    assert_eq!((o.u32(14), o.u32(6)), (11, 22));
}

/// Concurrent atom.global.add.u32 from 64 threads: each gets a distinct old
/// value, 0..64, and the total is 64.
#[test]
fn atom_global_add_u32_concurrent_tickets() {
    let o = launch_ptx(
        "	mov.u32 	%r0, %tid.x;
	setp.ne.s32 	%p1, %r0, 0;
	@%p1 bra 	$L_wait;
	st.global.u32 	[%out], 0;
$L_wait:
	bar.sync 	0;
	atom.global.add.u32 	%r1, [%out], 1;
	mul.wide.u32 	%rd1, %r0, 4;
	add.s64 	%rd2, %out, %rd1;
	st.global.u32 	[%rd2+4], %r1;",
        &[],
        1,
        64,
    );
    assert_eq!(o.u32(0), 64);
    let mut t: Vec<u32> = (1..=64).map(|i| o.u32(i)).collect();
    t.sort_unstable();
    assert_eq!(t, (0..64).collect::<Vec<_>>());
}

/// atom.shared.or.b32 from 32 threads, each its own bit: the result is all ones,
/// and no thread's old value (returned) holds its own bit yet.
#[test]
fn atom_shared_or_b32() {
    let o = launch_ptx(
        "	mov.u32 	%r0, %tid.x;
	setp.ne.s32 	%p1, %r0, 0;
	@%p1 bra 	$L_go;
	st.shared.u32 	[sh], 0;
$L_go:
	bar.sync 	0;
	shl.b32 	%r1, 1, %r0;
	atom.shared.or.b32 	%r2, [sh], %r1;
	and.b32 	%r3, %r2, %r1;
	mul.wide.u32 	%rd1, %r0, 4;
	add.s64 	%rd2, %out, %rd1;
	st.global.u32 	[%rd2+4], %r3;
	bar.sync 	0;
	@%p1 bra 	$L_end;
	ld.shared.u32 	%r4, [sh];
	st.global.u32 	[%out], %r4;
$L_end:",
        &[],
        1,
        32,
    );
    assert_eq!(o.u32(0), u32::MAX);
    for l in 0..32 {
        assert_eq!(o.u32(1 + l), 0, "lane {l} saw its own bit before setting it");
    }
}

/// The other atomic operations the parser accepts: cas, and/xor, min/max
/// (signed and unsigned), inc/dec (wrapping at b), add.u64, and red (no result).
#[test]
fn atom_cas_and_xor_min_max_inc_dec_red() {
    let o = run1(
        "	st.global.u32 	[%out], 5;
	atom.global.cas.b32 	%r1, [%out], 5, 9;
	atom.global.cas.b32 	%r2, [%out], 5, 7;
	st.global.u32 	[%out+4], -1;
	atom.global.min.s32 	%r3, [%out+4], 1;
	st.global.u32 	[%out+8], -1;
	atom.global.min.u32 	%r4, [%out+8], 1;
	st.global.u32 	[%out+12], 3;
	atom.global.inc.u32 	%r5, [%out+12], 3;
	st.global.u32 	[%out+16], 0;
	atom.global.dec.u32 	%r6, [%out+16], 3;
	st.global.u32 	[%out+20], 0xF0;
	atom.global.and.b32 	%r7, [%out+20], 0x3C;
	atom.global.xor.b32 	%r7, [%out+20], 0xFF;
	st.global.u64 	[%out+24], -1;
	atom.global.add.u64 	%rd1, [%out+24], 2;
	st.global.u32 	[%out+32], 1;
	red.global.add.u32 	[%out+32], 41;
	st.global.u32 	[%out+36], -5;
	atom.global.max.s32 	%r8, [%out+36], -7;
	st.global.u32 	[%out+64], %r1;
	st.global.u32 	[%out+68], %r2;
	st.global.u32 	[%out+72], %r3;
	st.global.u32 	[%out+76], %r4;
	st.global.u32 	[%out+80], %r5;
	st.global.u32 	[%out+84], %r6;
	st.global.u32 	[%out+88], %r7;
	st.global.u64 	[%out+96], %rd1;
	st.global.u32 	[%out+104], %r8;",
        &[],
    );
    assert_eq!((o.u32(16), o.u32(17), o.u32(0)), (5, 9, 9));
    assert_eq!((o.u32(18), o.u32(1)), (u32::MAX, u32::MAX)); // min.s32(-1, 1) = -1
    assert_eq!((o.u32(19), o.u32(2)), (u32::MAX, 1)); // min.u32 = 1
    assert_eq!((o.u32(20), o.u32(3)), (3, 0)); // inc: old >= b -> 0
    assert_eq!((o.u32(21), o.u32(4)), (0, 3)); // dec: old == 0 -> b
    assert_eq!((o.u32(22), o.u32(5)), (0x30, 0xCF));
    assert_eq!((o.u64(12), o.u64(3)), (u64::MAX, 1));
    assert_eq!(o.u32(8), 42);
    assert_eq!((o.u32(26), o.u32(9)), ((-5i32) as u32, (-5i32) as u32));
}

// ---------------------------------------------------------------------------
// Warp shuffles
// ---------------------------------------------------------------------------

/// Runs one 32-lane warp: each lane's %r1 = 10 * lane + 1; `shfl` (one
/// instruction writing %r2|%p1) runs; out[lane] = %r2, out[32 + lane] = %p1.
fn shuffle(shfl: &str) -> (Vec<u32>, Vec<u32>) {
    let o = launch_ptx(
        &format!(
            "	mov.u32 	%r0, %laneid;
	mad.lo.s32 	%r1, %r0, 10, 1;
	bar.warp.sync 	-1;
	{shfl}
	selp.u32 	%r3, 1, 0, %p1;
	mul.wide.u32 	%rd1, %r0, 4;
	add.s64 	%rd2, %out, %rd1;
	st.global.u32 	[%rd2], %r2;
	st.global.u32 	[%rd2+128], %r3;"
        ),
        &[],
        1,
        32,
    );
    (
        (0..32).map(|i| o.u32(i)).collect(),
        (32..64).map(|i| o.u32(i)).collect(),
    )
}

fn v(lane: u32) -> u32 {
    10 * lane + 1
}

/// shfl.sync.bfly with c = 0x1f: j = lane ^ b, always in range (p true).
#[test]
fn shfl_sync_bfly_b32_full_warp() {
    for b in [1u32, 16] {
        let (d, p) = shuffle(&format!("shfl.sync.bfly.b32 	%r2|%p1, %r1, {b}, 0x1f, -1;"));
        for l in 0..32 {
            assert_eq!((d[l as usize], p[l as usize]), (v(l ^ b), 1), "b {b} lane {l}");
        }
    }
    // b, c and the mask in registers, as nvcc writes them.
    let (d, _) = shuffle(
        "mov.u32 	%r4, 2;
	mov.u32 	%r5, 31;
	mov.u32 	%r6, -1;
	shfl.sync.bfly.b32 	%r2|%p1, %r1, %r4, %r5, %r6;",
    );
    assert_eq!(d, (0..32).map(|l| v(l ^ 2)).collect::<Vec<_>>());
}

/// bfly with a clamp below 31 (c = 0xf): maxLane = 15; a lane whose j = lane ^
/// 16 is past it keeps its own value with p false. With segments of 8 (c =
/// 0x181f), j past the segment's end keeps its own value, j below is taken.
#[test]
fn shfl_sync_bfly_b32_clamp_and_segments() {
    let (d, p) = shuffle("shfl.sync.bfly.b32 	%r2|%p1, %r1, 16, 0xf, -1;");
    for l in 0..32u32 {
        let j = l ^ 16;
        let want = if j <= 15 { (v(j), 1) } else { (v(l), 0) };
        assert_eq!((d[l as usize], p[l as usize]), want, "lane {l}");
    }
    let (d, p) = shuffle("shfl.sync.bfly.b32 	%r2|%p1, %r1, 8, 0x181f, -1;");
    for l in 0..32u32 {
        let (j, max) = (l ^ 8, (l & 0x18) | 7);
        let want = if j <= max { (v(j), 1) } else { (v(l), 0) };
        assert_eq!((d[l as usize], p[l as usize]), want, "lane {l}");
    }
}

/// down: j = lane + b, in range when j <= maxLane; up: j = lane - b, in range
/// when j >= maxLane (c = 0 for up); idx: j = b (mod 32).
#[test]
fn shfl_sync_down_up_idx_b32() {
    let (d, p) = shuffle("shfl.sync.down.b32 	%r2|%p1, %r1, 4, 0x1f, -1;");
    for l in 0..32u32 {
        let want = if l + 4 <= 31 { (v(l + 4), 1) } else { (v(l), 0) };
        assert_eq!((d[l as usize], p[l as usize]), want, "down lane {l}");
    }
    let (d, p) = shuffle("shfl.sync.up.b32 	%r2|%p1, %r1, 4, 0, -1;");
    for l in 0..32u32 {
        let want = if l >= 4 { (v(l - 4), 1) } else { (v(l), 0) };
        assert_eq!((d[l as usize], p[l as usize]), want, "up lane {l}");
    }
    let (d, p) = shuffle("shfl.sync.idx.b32 	%r2|%p1, %r1, 40, 0x1f, -1;");
    assert!(d.iter().all(|&x| x == v(8)) && p.iter().all(|&x| x == 1), "{d:?}");
    // Without the predicate output.
    let (d, _) = shuffle(
        "setp.eq.u32 	%p1, 1, 1;
	shfl.sync.idx.b32 	%r2, %r1, 3, 0x1f, -1;",
    );
    assert!(d.iter().all(|&x| x == v(3)), "{d:?}");
}

// ---------------------------------------------------------------------------
// Special registers, barriers, control flow
// ---------------------------------------------------------------------------

/// %tid.x, %ntid.x, %ctaid.x, %nctaid.x, %laneid, %warpid (the emulator's
/// tid / 32), and the y/z components (0 and 1 in one-dimensional launches).
#[test]
fn special_registers() {
    let o = launch_ptx(
        "	mov.u32 	%r0, %tid.x;
	mov.u32 	%r1, %ntid.x;
	mov.u32 	%r2, %ctaid.x;
	mov.u32 	%r3, %nctaid.x;
	mov.u32 	%r4, %laneid;
	mov.u32 	%r5, %warpid;
	mov.u32 	%r6, %tid.y;
	mov.u32 	%r7, %ntid.z;
	mad.lo.s32 	%r8, %r2, %r1, %r0;
	mul.wide.u32 	%rd1, %r8, 16;
	add.s64 	%rd2, %out, %rd1;
	st.global.v4.u32 	[%rd2], {%r0, %r1, %r2, %r3};
	shl.b32 	%r9, %r5, 8;
	or.b32 	%r9, %r9, %r4;
	shl.b32 	%r10, %r6, 16;
	or.b32 	%r9, %r9, %r10;
	shl.b32 	%r10, %r7, 24;
	or.b32 	%r9, %r9, %r10;
	shl.b32 	%r10, %r3, 28;
	or.b32 	%r9, %r9, %r10;
	st.global.u32 	[%rd2+12], %r9;",
        &[],
        3,
        20,
    );
    for g in 0..60u32 {
        let (b, t) = (g / 20, g % 20);
        let w = |i| o.u32(4 * g as usize + i);
        assert_eq!([w(0), w(1), w(2)], [t, 20, b], "thread {g}");
        // The v4 store's %nctaid.x is overwritten by lane | warp << 8 | tid.y << 16
        // | ntid.z << 24 | nctaid.x << 28.
        assert_eq!(w(3), (t % 32) | (t / 32) << 8 | 1 << 24 | 3 << 28, "thread {g}");
    }
    let o = launch_ptx(
        "	mov.u32 	%r0, %tid.x;
	mov.u32 	%r1, %laneid;
	mov.u32 	%r2, %warpid;
	mov.u32 	%r3, %nctaid.x;
	shl.b32 	%r2, %r2, 8;
	or.b32 	%r1, %r1, %r2;
	shl.b32 	%r3, %r3, 16;
	or.b32 	%r1, %r1, %r3;
	mul.wide.u32 	%rd1, %r0, 4;
	add.s64 	%rd2, %out, %rd1;
	st.global.u32 	[%rd2], %r1;",
        &[],
        1,
        96,
    );
    for t in 0..96u32 {
        assert_eq!(
            o.u32(t as usize),
            (t % 32) | (t / 32) << 8 | 1 << 16,
            "thread {t}"
        );
    }
}

/// bar.sync 0: every write before it is seen by every thread after it.
#[test]
fn bar_sync_orders_shared_memory() {
    let o = launch_ptx(
        "	mov.u32 	%r0, %tid.x;
	mul.wide.u32 	%rd1, %r0, 4;
	mov.u64 	%rd2, sh;
	add.s64 	%rd3, %rd2, %rd1;
	mul.lo.s32 	%r1, %r0, 3;
	st.shared.u32 	[%rd3], %r1;
	bar.sync 	0;
	add.s32 	%r2, %r0, 1;
	rem.u32 	%r2, %r2, 64;
	mul.wide.u32 	%rd4, %r2, 4;
	add.s64 	%rd5, %rd2, %rd4;
	ld.shared.u32 	%r3, [%rd5];
	add.s64 	%rd6, %out, %rd1;
	st.global.u32 	[%rd6], %r3;",
        &[],
        1,
        64,
    );
    for t in 0..64u32 {
        assert_eq!(o.u32(t as usize), 3 * ((t + 1) % 64));
    }
}

/// A guard `@%p` runs the instruction when p is true, `@!%p` when it is false,
/// on any instruction (here add, st, setp, mov); bra and bra.uni are unconditional branches.
#[test]
fn predicated_execution_and_bra_uni() {
    let o = launch_ptx(
        "	mov.u32 	%r0, %tid.x;
	and.b32 	%r1, %r0, 1;
	setp.eq.u32 	%p1, %r1, 1;
	mov.u32 	%r2, 100;
	@%p1 add.s32 	%r2, %r2, 1;
	@!%p1 add.s32 	%r2, %r2, 2;
	setp.eq.u32 	%p2, 1, 1;
	@%p1 setp.eq.u32 	%p2, 1, 0;
	selp.u32 	%r3, 1, 0, %p2;
	mov.u32 	%r4, 7;
	@!%p2 mov.u32 	%r4, 8;
	mul.wide.u32 	%rd1, %r0, 16;
	add.s64 	%rd2, %out, %rd1;
	st.global.u32 	[%rd2], %r2;
	st.global.u32 	[%rd2+4], %r3;
	st.global.u32 	[%rd2+8], %r4;
	@%p1 st.global.u32 	[%rd2+12], 55;
	bra.uni 	$L_skip;
	st.global.u32 	[%rd2+8], 99;
$L_skip:
	bra 	$L_plain;
	st.global.u32 	[%rd2+8], 98;
$L_plain:
	@!%p1 bra 	$L_end;
	add.s32 	%r4, %r4, 1;
	st.global.u32 	[%rd2+8], %r4;
$L_end:",
        &[],
        1,
        4,
    );
    for t in 0..4usize {
        let odd = t % 2 == 1;
        let w = |i| o.u32(4 * t + i);
        assert_eq!(w(0), if odd { 101 } else { 102 }, "thread {t}");
        assert_eq!(w(1), if odd { 0 } else { 1 }, "thread {t}");
        assert_eq!(w(2), if odd { 9 } else { 7 }, "thread {t}");
        assert_eq!(w(3), if odd { 55 } else { UNTOUCHED32 }, "thread {t}");
    }
}

/// A cvt destination register narrower than the instruction type is invalid
/// ("Destination register size must be of equal or greater size than the
/// instruction-type size"): the load fails, naming the instruction.
#[test]
fn cvt_into_a_narrower_register_fails_the_load() {
    let text = KERNEL.replace("BODY", "\tcvt.u32.u16 \t%rs1, %rs2;");
    let e = Module::load(&text).unwrap_err().0;
    assert!(e.contains("cvt.u32.u16") && e.contains("narrower"), "{e}");
}
