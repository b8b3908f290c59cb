//! A kernel that stores one past its allocation: the launch fails with
//! `CUDA_ERROR_ILLEGAL_ADDRESS`, the context stays dead for every later call
//! (as a card's does), and the primary context's last release brings a fresh
//! one. In a test binary of its own: the fault kills the shared context.

mod driver_common;

use std::ptr::null_mut;

use driver_common::*;
use mfcuda_emu::driver::*;

#[test]
fn a_fault_kills_the_context_until_its_last_release() {
    {
        let _ctx = Ctx::new();
        let m = load(PTX).unwrap();
        let f = function(m, "store_past_end").unwrap();
        let x = upload(&[0.0; 8]);
        let s = stream();
        let r = launch_xn(f, 1, 32, s, x, 8, false);
        assert_eq!(r, CUresult::CUDA_ERROR_ILLEGAL_ADDRESS);
        let mut last = EmuLaunchRecord::default();
        // SAFETY: valid out-pointer.
        assert_eq!(unsafe { mfcudaEmuLastLaunch(&mut last) }, 0);
        assert_eq!(last.kernel_name(), "store_past_end");
        assert_eq!(last.status, 700);
        assert_eq!((last.grid, last.block, last.cooperative), (1, 32, 0));
        // SAFETY: plain driver calls with valid out-pointers.
        unsafe {
            let mut p = 0;
            assert_eq!(cuMemAlloc_v2(&mut p, 16), CUresult::CUDA_ERROR_ILLEGAL_ADDRESS);
            assert_eq!(cuCtxSynchronize(), CUresult::CUDA_ERROR_ILLEGAL_ADDRESS);
            assert_eq!(cuStreamSynchronize(s), CUresult::CUDA_ERROR_ILLEGAL_ADDRESS);
            let mut out = [0f32; 8];
            assert_eq!(
                cuMemcpyDtoHAsync_v2(out.as_mut_ptr().cast(), x, 32, s),
                CUresult::CUDA_ERROR_ILLEGAL_ADDRESS
            );
            // Device queries still answer.
            let mut n = 0;
            ok(cuDeviceGetCount(&mut n));
            let mut st = 0;
            let mut c = null_mut();
            ok(cuDevicePrimaryCtxGetState(0, &mut st, &mut n));
            assert_eq!(n, 1);
            ok(cuCtxGetCurrent(&mut c));
        }
    }
    // The last release destroyed the context; a new one works.
    let _ctx = Ctx::new();
    let x = upload(&[1.0, 2.0]);
    assert_eq!(download(x, 2), vec![1.0, 2.0]);
}
