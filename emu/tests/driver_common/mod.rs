//! Helpers shared by the driver tests (`mod driver_common;` in each; not a test binary of its own).
#![allow(dead_code)]

use std::ffi::{c_void, CString};
use std::ptr::null_mut;

use mfcuda_emu::driver::*;

/// The kernels the tests launch: nvcc 13.0 `-ptx -O3 -arch=compute_80 -fmad=false` of
///
/// ```cuda
/// extern "C" __global__ void add_one(float* x, unsigned n) {
///     unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
///     if (i < n) x[i] += 1.0f;
/// }
/// extern "C" __global__ void store_past_end(float* x, unsigned n) {
///     unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
///     if (i == 0) x[n] = 1.0f;
/// }
/// ```
pub const PTX: &str = r#"
.version 9.0
.target sm_80
.address_size 64

	// .globl	add_one

.visible .entry add_one(
	.param .u64 add_one_param_0,
	.param .u32 add_one_param_1
)
{
	.reg .pred 	%p<2>;
	.reg .f32 	%f<3>;
	.reg .b32 	%r<6>;
	.reg .b64 	%rd<5>;


	ld.param.u64 	%rd1, [add_one_param_0];
	ld.param.u32 	%r2, [add_one_param_1];
	mov.u32 	%r3, %ctaid.x;
	mov.u32 	%r4, %ntid.x;
	mov.u32 	%r5, %tid.x;
	mad.lo.s32 	%r1, %r3, %r4, %r5;
	setp.ge.u32 	%p1, %r1, %r2;
	@%p1 bra 	$L__BB0_2;

	cvta.to.global.u64 	%rd2, %rd1;
	mul.wide.u32 	%rd3, %r1, 4;
	add.s64 	%rd4, %rd2, %rd3;
	ld.global.f32 	%f1, [%rd4];
	add.rn.f32 	%f2, %f1, 0f3F800000;
	st.global.f32 	[%rd4], %f2;

$L__BB0_2:
	ret;

}
	// .globl	store_past_end
.visible .entry store_past_end(
	.param .u64 store_past_end_param_0,
	.param .u32 store_past_end_param_1
)
{
	.reg .pred 	%p<2>;
	.reg .b32 	%r<8>;
	.reg .b64 	%rd<5>;


	ld.param.u64 	%rd1, [store_past_end_param_0];
	ld.param.u32 	%r1, [store_past_end_param_1];
	mov.u32 	%r2, %ctaid.x;
	mov.u32 	%r3, %ntid.x;
	mul.lo.s32 	%r4, %r2, %r3;
	mov.u32 	%r5, %tid.x;
	neg.s32 	%r6, %r5;
	setp.ne.s32 	%p1, %r4, %r6;
	@%p1 bra 	$L__BB1_2;

	cvta.to.global.u64 	%rd2, %rd1;
	mul.wide.u32 	%rd3, %r1, 4;
	add.s64 	%rd4, %rd2, %rd3;
	mov.u32 	%r7, 1065353216;
	st.global.u32 	[%rd4], %r7;

$L__BB1_2:
	ret;

}
"#;

/// Asserts a call succeeded.
#[track_caller]
pub fn ok(r: CUresult) {
    assert_eq!(r, CUresult::CUDA_SUCCESS);
}

/// The primary context, retained and current on this thread for the guard's life.
pub struct Ctx(pub CUcontext);

impl Ctx {
    pub fn new() -> Ctx {
        let mut c: CUcontext = null_mut();
        // SAFETY: plain driver calls with valid out-pointers.
        unsafe {
            ok(cuInit(0));
            ok(cuDevicePrimaryCtxRetain(&mut c, 0));
            ok(cuCtxSetCurrent(c));
        }
        Ctx(c)
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: releases the retain made in new().
        let r = unsafe { cuDevicePrimaryCtxRelease_v2(0) };
        if !std::thread::panicking() {
            ok(r);
        }
    }
}

pub fn stream() -> CUstream {
    let mut s: CUstream = null_mut();
    // SAFETY: valid out-pointer.
    ok(unsafe { cuStreamCreate(&mut s, 1) });
    s
}

pub fn alloc(bytes: usize) -> CUdeviceptr {
    let mut p = 0;
    // SAFETY: valid out-pointer.
    ok(unsafe { cuMemAlloc_v2(&mut p, bytes) });
    p
}

pub fn upload(data: &[f32]) -> CUdeviceptr {
    let p = alloc(std::mem::size_of_val(data));
    // SAFETY: data is readable for its size.
    ok(unsafe { cuMemcpyHtoD_v2(p, data.as_ptr().cast(), std::mem::size_of_val(data)) });
    p
}

pub fn download(p: CUdeviceptr, n: usize) -> Vec<f32> {
    let mut v = vec![0f32; n];
    // SAFETY: v is writable for n floats.
    ok(unsafe { cuMemcpyDtoH_v2(v.as_mut_ptr().cast(), p, n * 4) });
    v
}

pub fn load(ptx: &str) -> Result<CUmodule, CUresult> {
    let text = CString::new(ptx).unwrap();
    let mut m: CUmodule = null_mut();
    // SAFETY: text is NUL-terminated; valid out-pointer.
    let r = unsafe { cuModuleLoadData(&mut m, text.as_ptr().cast()) };
    if r == CUresult::CUDA_SUCCESS {
        Ok(m)
    } else {
        Err(r)
    }
}

pub fn function(m: CUmodule, name: &str) -> Result<CUfunction, CUresult> {
    let name = CString::new(name).unwrap();
    let mut f: CUfunction = null_mut();
    // SAFETY: name is NUL-terminated; valid out-pointer.
    let r = unsafe { cuModuleGetFunction(&mut f, m, name.as_ptr()) };
    if r == CUresult::CUDA_SUCCESS {
        Ok(f)
    } else {
        Err(r)
    }
}

/// Launches `f(x, n)` with `grid` blocks of `block` threads on `s`.
pub fn launch_xn(
    f: CUfunction,
    grid: u32,
    block: u32,
    s: CUstream,
    x: CUdeviceptr,
    n: u32,
    cooperative: bool,
) -> CUresult {
    let (mut x, mut n) = (x, n);
    let mut params: [*mut c_void; 2] = [(&mut x as *mut u64).cast(), (&mut n as *mut u32).cast()];
    // SAFETY: params holds one pointer per parameter of the (x, n) kernels, each to its bytes.
    unsafe {
        if cooperative {
            cuLaunchCooperativeKernel(f, grid, 1, 1, block, 1, 1, 0, s, params.as_mut_ptr())
        } else {
            cuLaunchKernel(f, grid, 1, 1, block, 1, 1, 0, s, params.as_mut_ptr(), null_mut())
        }
    }
}
