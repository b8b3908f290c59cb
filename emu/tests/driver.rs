//! The driver layer, called directly from Rust through the extern "C"
//! functions (they are `pub` in the rlib): device queries, contexts, memory on
//! both allocation paths, streams, events, graph capture and replay, module
//! loading, launches, occupancy and the counters.
//!
//! Every test here shares the one primary context (as threads of a process
//! do); captures use THREAD_LOCAL mode so that one test's capture cannot fail
//! another's calls. A test that faults the context is in `driver_fault.rs`.

mod driver_common;

use std::ffi::{c_char, c_void, CStr};
use std::ptr::null_mut;

use driver_common::*;
use mfcuda_emu::config::Config;
use mfcuda_emu::driver::types::{attr, capture_mode, capture_status, event_flags, func_attr, DEVICE_NAME};
use mfcuda_emu::driver::*;

#[test]
fn the_device_says_it_is_emulated_and_looks_like_an_h200() {
    // SAFETY: plain driver calls with valid out-pointers.
    unsafe {
        let mut v = 0;
        ok(cuDriverGetVersion(&mut v));
        assert_eq!(v, 13000);
        assert_eq!(cuInit(1), CUresult::CUDA_ERROR_INVALID_VALUE);
        ok(cuInit(0));
        let mut n = 0;
        ok(cuDeviceGetCount(&mut n));
        assert_eq!(n, 1);
        let mut d = -1;
        ok(cuDeviceGet(&mut d, 0));
        assert_eq!(d, 0);
        assert_eq!(cuDeviceGet(&mut d, 1), CUresult::CUDA_ERROR_INVALID_DEVICE);

        let mut buf = [0 as c_char; 128];
        ok(cuDeviceGetName(buf.as_mut_ptr(), buf.len() as i32, 0));
        let name = CStr::from_ptr(buf.as_ptr()).to_str().unwrap();
        assert_eq!(name, DEVICE_NAME);
        assert!(name.contains("emulated"));
        // A short buffer gets a cut, NUL-terminated name.
        let mut short = [1 as c_char; 7];
        ok(cuDeviceGetName(short.as_mut_ptr(), 7, 0));
        assert_eq!(CStr::from_ptr(short.as_ptr()).to_str().unwrap(), "mfcuda");

        let get = |a: i32| {
            let mut v = 0;
            ok(cuDeviceGetAttribute(&mut v, a, 0));
            v
        };
        assert_eq!(
            (
                get(attr::COMPUTE_CAPABILITY_MAJOR),
                get(attr::COMPUTE_CAPABILITY_MINOR)
            ),
            (9, 0)
        );
        assert_eq!(get(attr::MULTIPROCESSOR_COUNT), Config::get().sms as i32);
        assert_eq!(get(attr::WARP_SIZE), 32);
        assert_eq!(get(attr::MAX_THREADS_PER_BLOCK), 1024);
        assert_eq!(get(attr::MAX_THREADS_PER_MULTIPROCESSOR), 2048);
        assert_eq!(get(attr::COOPERATIVE_LAUNCH), 1);
        assert_eq!(get(attr::MEMORY_POOLS_SUPPORTED), 1);
        assert_eq!(get(attr::MAX_SHARED_MEMORY_PER_BLOCK), 48 << 10);
        assert_eq!(get(attr::MAX_SHARED_MEMORY_PER_BLOCK_OPTIN), 227 << 10);
        assert_eq!(get(attr::MAX_SHARED_MEMORY_PER_MULTIPROCESSOR), 228 << 10);
        assert_eq!(get(attr::L2_CACHE_SIZE), 60 << 20);
        assert_eq!(get(attr::MAX_BLOCKS_PER_MULTIPROCESSOR), 32);
        // Every attribute CUDA 13.0 defines has an answer; others are refused.
        for a in 1..attr::MAX {
            let mut v = 0;
            ok(cuDeviceGetAttribute(&mut v, a, 0));
        }
        for a in [0, attr::MAX, 9999, -1] {
            assert_eq!(
                cuDeviceGetAttribute(&mut v, a, 0),
                CUresult::CUDA_ERROR_INVALID_VALUE
            );
        }
        assert_eq!(
            cuDeviceGetAttribute(null_mut(), 1, 0),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        assert_eq!(
            cuDeviceGetAttribute(&mut v, 1, 1),
            CUresult::CUDA_ERROR_INVALID_DEVICE
        );

        let mut total = 0usize;
        ok(cuDeviceTotalMem_v2(&mut total, 0));
        assert_eq!(total as u64, Config::get().memory_bytes);
    }
}

#[test]
fn errors_have_the_drivers_names_and_descriptions() {
    let text = |f: unsafe extern "C" fn(CUresult, *mut *const c_char) -> CUresult, code: u32| {
        let mut p: *const c_char = std::ptr::null();
        // SAFETY: valid out-pointer; the answer is a static C string or null.
        let r = unsafe { f(CUresult(code), &mut p) };
        (
            r,
            (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_string()),
        )
    };
    assert_eq!(
        text(cuGetErrorName, 700),
        (CUresult::CUDA_SUCCESS, Some("CUDA_ERROR_ILLEGAL_ADDRESS".into()))
    );
    assert_eq!(
        text(cuGetErrorString, 1),
        (CUresult::CUDA_SUCCESS, Some("invalid argument".into()))
    );
    assert_eq!(
        text(cuGetErrorString, 720),
        (
            CUresult::CUDA_SUCCESS,
            Some("too many blocks in cooperative launch".into())
        )
    );
    assert_eq!(
        text(cuGetErrorName, 0),
        (CUresult::CUDA_SUCCESS, Some("CUDA_SUCCESS".into()))
    );
    assert_eq!(
        text(cuGetErrorName, 12345),
        (CUresult::CUDA_ERROR_INVALID_VALUE, None)
    );
    assert_eq!(
        text(cuGetErrorString, 12345),
        (CUresult::CUDA_ERROR_INVALID_VALUE, None)
    );
    assert_eq!(
        format!("{:?}", CUresult::CUDA_ERROR_INVALID_PTX),
        "CUDA_ERROR_INVALID_PTX (218)"
    );
}

#[test]
fn the_current_context_is_per_thread() {
    let ctx = Ctx::new();
    // SAFETY: plain driver calls with valid out-pointers.
    unsafe {
        let mut c: CUcontext = null_mut();
        ok(cuCtxGetCurrent(&mut c));
        assert_eq!(c, ctx.0);
        let h = ctx.0 as usize;
        std::thread::spawn(move || {
            let mut c: CUcontext = null_mut();
            ok(cuCtxGetCurrent(&mut c));
            assert!(c.is_null(), "a new thread has no current context");
            let mut p = 0;
            assert_eq!(cuMemAlloc_v2(&mut p, 64), CUresult::CUDA_ERROR_INVALID_CONTEXT);
            ok(cuCtxSetCurrent(h as CUcontext));
            ok(cuMemAlloc_v2(&mut p, 64));
            ok(cuMemFree_v2(p));
        })
        .join()
        .unwrap();
        assert_eq!(
            cuCtxSetCurrent(0x1234 as CUcontext),
            CUresult::CUDA_ERROR_INVALID_CONTEXT
        );
        let mut d = -1;
        ok(cuCtxGetDevice(&mut d));
        assert_eq!(d, 0);
        ok(cuCtxSynchronize());
    }
}

#[test]
fn memory_round_trips_on_both_allocation_paths() {
    let _ctx = Ctx::new();
    let host: Vec<f32> = (0..1000).map(|i| i as f32 * 0.5).collect();
    let bytes = host.len() * 4;
    // The synchronous path (cuMemAlloc_v2, cuMemcpy*_v2).
    let a = upload(&host);
    assert_eq!(download(a, host.len()), host);
    // SAFETY: plain driver calls; every host buffer outlives its (synchronous) use.
    unsafe {
        let (mut free0, mut total) = (0usize, 0usize);
        ok(cuMemGetInfo_v2(&mut free0, &mut total));
        assert_eq!(total as u64, Config::get().memory_bytes);
        assert!(free0 <= total);
        // The pool path cudarc takes on a device with memory pools.
        let s = stream();
        let mut b = 0;
        ok(cuMemAllocAsync(&mut b, bytes, s));
        assert_ne!(b, 0);
        assert_eq!(b % 256, 0, "allocations are 256-byte aligned");
        ok(cuMemcpyDtoDAsync_v2(b, a, bytes, s));
        let mut out = vec![0f32; host.len()];
        ok(cuMemcpyDtoHAsync_v2(out.as_mut_ptr().cast(), b, bytes, s));
        ok(cuStreamSynchronize(s));
        assert_eq!(out, host);
        // memset: D8 zeroes, D32 writes a float's bits.
        ok(cuMemsetD8Async(b, 0, bytes, s));
        ok(cuMemcpyDtoHAsync_v2(out.as_mut_ptr().cast(), b, bytes, s));
        assert!(out.iter().all(|&x| x == 0.0));
        ok(cuMemsetD32Async(b, 2.5f32.to_bits(), host.len(), s));
        ok(cuMemcpyDtoHAsync_v2(out.as_mut_ptr().cast(), b, bytes, s));
        assert!(out.iter().all(|&x| x == 2.5));
        ok(cuMemsetD16_v2(b, 0x3f80, 2));
        assert_eq!(download(b, 1)[0].to_bits(), 0x3f80_3f80, "two 16-bit elements");
        // A copy past the end of an allocation is refused.
        assert_eq!(
            cuMemcpyDtoDAsync_v2(b, a, bytes + 4, s),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        // Zero-byte copies and memsets are no-ops.
        ok(cuMemcpyHtoDAsync_v2(b, std::ptr::null(), 0, s));
        ok(cuMemsetD8Async(b, 0, 0, s));
        let (mut free1, mut total1) = (0usize, 0usize);
        ok(cuMemGetInfo_v2(&mut free1, &mut total1));
        assert_eq!(total1, total);
        ok(cuMemFreeAsync(b, s));
        assert_eq!(
            cuMemFreeAsync(b, s),
            CUresult::CUDA_ERROR_INVALID_VALUE,
            "a double free is refused"
        );
        ok(cuMemFree_v2(a));
        ok(cuStreamDestroy_v2(s));
        assert_eq!(cuStreamDestroy_v2(s), CUresult::CUDA_ERROR_INVALID_HANDLE);
        assert_eq!(
            cuMemGetInfo_v2(null_mut(), &mut total1),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
    }
}

#[test]
fn zero_byte_allocations_are_refused_on_both_paths() {
    let _ctx = Ctx::new();
    // SAFETY: plain driver calls with valid out-pointers.
    unsafe {
        let mut p = 0;
        assert_eq!(cuMemAlloc_v2(&mut p, 0), CUresult::CUDA_ERROR_INVALID_VALUE);
        let s = stream();
        assert_eq!(cuMemAllocAsync(&mut p, 0, s), CUresult::CUDA_ERROR_INVALID_VALUE);
        assert_eq!(
            cuMemAllocAsync(&mut p, 0, null_mut()),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        assert_eq!(
            cuMemAllocAsync(null_mut(), 8, s),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        ok(cuStreamDestroy_v2(s));
    }
}

#[test]
fn pinned_host_memory_allocates_and_frees() {
    let _ctx = Ctx::new();
    // SAFETY: plain driver calls; the pinned buffer is used only between alloc and free.
    unsafe {
        let mut p: *mut c_void = null_mut();
        ok(cuMemHostAlloc(&mut p, 1 << 16, 0));
        assert!(!p.is_null());
        assert_eq!(p as usize % 4096, 0);
        std::slice::from_raw_parts_mut(p.cast::<u8>(), 1 << 16).fill(7);
        ok(cuMemFreeHost(p));
        assert_eq!(cuMemFreeHost(p), CUresult::CUDA_ERROR_INVALID_VALUE);
    }
}

#[test]
fn a_captured_graph_replays_copies_and_memsets_reading_host_memory_at_replay() {
    let _ctx = Ctx::new();
    let n = 64;
    let bytes = n * 4;
    let a = upload(&vec![-1.0; n]);
    let b = upload(&vec![-2.0; n]);
    let mut host = vec![3.0f32; n];
    // SAFETY: `host` outlives the graph's replays (the captured copy reads it then).
    unsafe {
        let s = stream();
        ok(cuStreamBeginCapture_v2(s, capture_mode::THREAD_LOCAL));
        let mut st = 9;
        ok(cuStreamIsCapturing(s, &mut st));
        assert_eq!(st, capture_status::ACTIVE);
        assert_eq!(
            cuStreamBeginCapture_v2(s, capture_mode::THREAD_LOCAL),
            CUresult::CUDA_ERROR_ILLEGAL_STATE
        );
        ok(cuMemcpyHtoDAsync_v2(a, host.as_ptr().cast(), bytes, s));
        ok(cuMemcpyDtoDAsync_v2(b, a, bytes, s));
        ok(cuMemsetD32Async(a, 0f32.to_bits(), n / 2, s));
        let mut ev: CUevent = null_mut();
        ok(cuEventCreate(&mut ev, event_flags::DEFAULT));
        ok(cuEventRecord(ev, s));
        let mut g: CUgraph = null_mut();
        ok(cuStreamEndCapture(s, &mut g));
        assert!(!g.is_null());
        // Nothing ran yet (and a synchronous download could not have run during the capture).
        assert_eq!(download(a, n), vec![-1.0; n]);
        ok(cuStreamIsCapturing(s, &mut st));
        assert_eq!(st, capture_status::NONE);
        let mut e: CUgraphExec = null_mut();
        ok(cuGraphInstantiateWithFlags(&mut e, g, 0));
        assert_eq!(download(b, n), vec![-2.0; n], "instantiating runs nothing");
        // The replay reads the host buffer as it is now.
        host.fill(4.0);
        ok(cuGraphLaunch(e, s));
        let a_now = download(a, n);
        assert_eq!(&a_now[..n / 2], &vec![0.0; n / 2][..]);
        assert_eq!(&a_now[n / 2..], &vec![4.0; n / 2][..]);
        assert_eq!(download(b, n), vec![4.0; n]);
        host.fill(5.0);
        ok(cuGraphLaunch(e, s));
        ok(cuGraphUpload(e, s));
        assert_eq!(download(b, n), vec![5.0; n]);
        // The replayed event record has a time.
        let mut ev2: CUevent = null_mut();
        ok(cuEventCreate(&mut ev2, event_flags::DEFAULT));
        ok(cuEventRecord(ev2, s));
        let mut ms = -1.0f32;
        ok(cuEventElapsedTime_v2(&mut ms, ev, ev2));
        assert!(ms >= 0.0);
        ok(cuGraphExecDestroy(e));
        assert_eq!(cuGraphLaunch(e, s), CUresult::CUDA_ERROR_INVALID_HANDLE);
        ok(cuGraphDestroy(g));
        assert_eq!(cuGraphDestroy(g), CUresult::CUDA_ERROR_INVALID_HANDLE);
        // Flags: device launch together with auto-free is invalid (cudarc's own test).
        ok(cuStreamBeginCapture_v2(s, capture_mode::THREAD_LOCAL));
        ok(cuStreamEndCapture(s, &mut g));
        assert_eq!(
            cuGraphInstantiateWithFlags(&mut e, g, 1 | 4),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        ok(cuGraphInstantiateWithFlags(&mut e, g, 1 | 8));
        ok(cuGraphLaunch(e, s));
        ok(cuGraphExecDestroy(e));
        ok(cuGraphDestroy(g));
        ok(cuEventDestroy_v2(ev));
        ok(cuEventDestroy_v2(ev2));
        ok(cuStreamDestroy_v2(s));
        ok(cuMemFree_v2(a));
        ok(cuMemFree_v2(b));
    }
}

#[test]
fn memory_allocated_and_freed_inside_a_capture_lives_as_long_as_the_graph() {
    let _ctx = Ctx::new();
    // SAFETY: plain driver calls; `out` outlives the replay.
    unsafe {
        let s = stream();
        ok(cuStreamBeginCapture_v2(s, capture_mode::THREAD_LOCAL));
        let mut p = 0;
        ok(cuMemAllocAsync(&mut p, 16, s));
        ok(cuMemsetD32Async(p, 7, 4, s));
        let mut out = [0u32; 4];
        ok(cuMemcpyDtoHAsync_v2(out.as_mut_ptr().cast(), p, 16, s));
        ok(cuMemFreeAsync(p, s));
        let mut g: CUgraph = null_mut();
        ok(cuStreamEndCapture(s, &mut g));
        let mut e: CUgraphExec = null_mut();
        ok(cuGraphInstantiateWithFlags(&mut e, g, 0));
        ok(cuGraphLaunch(e, s));
        ok(cuGraphLaunch(e, s));
        assert_eq!(out, [7; 4]);
        ok(cuGraphExecDestroy(e));
        ok(cuGraphDestroy(g));
        ok(cuStreamDestroy_v2(s));
    }
}

#[test]
fn calls_forbidden_during_capture_invalidate_it() {
    let _ctx = Ctx::new();
    // SAFETY: plain driver calls with valid out-pointers.
    unsafe {
        // The default stream cannot capture.
        assert_eq!(
            cuStreamBeginCapture_v2(null_mut(), capture_mode::THREAD_LOCAL),
            CUresult::CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED
        );
        let s = stream();
        let mut g: CUgraph = null_mut();
        assert_eq!(
            cuStreamEndCapture(s, &mut g),
            CUresult::CUDA_ERROR_ILLEGAL_STATE,
            "not capturing"
        );
        assert_eq!(cuStreamBeginCapture_v2(s, 7), CUresult::CUDA_ERROR_INVALID_VALUE);

        // A synchronous allocation on the capturing thread.
        ok(cuStreamBeginCapture_v2(s, capture_mode::THREAD_LOCAL));
        let mut p = 0;
        assert_eq!(
            cuMemAlloc_v2(&mut p, 64),
            CUresult::CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED
        );
        let mut st = 0;
        ok(cuStreamIsCapturing(s, &mut st));
        assert_eq!(st, capture_status::INVALIDATED);
        assert_eq!(
            cuMemsetD8Async(8, 0, 1, s),
            CUresult::CUDA_ERROR_STREAM_CAPTURE_INVALIDATED
        );
        g = 0x1 as CUgraph;
        assert_eq!(
            cuStreamEndCapture(s, &mut g),
            CUresult::CUDA_ERROR_STREAM_CAPTURE_INVALIDATED
        );
        assert!(g.is_null());

        // Another thread is not affected by a thread-local capture.
        ok(cuStreamBeginCapture_v2(s, capture_mode::THREAD_LOCAL));
        let (h, sv) = (_ctx.0 as usize, s as usize);
        std::thread::spawn(move || {
            ok(cuCtxSetCurrent(h as CUcontext));
            let mut p = 0;
            ok(cuMemAlloc_v2(&mut p, 64));
            ok(cuMemFree_v2(p));
            // ... but may not end it.
            let mut g: CUgraph = null_mut();
            assert_eq!(
                cuStreamEndCapture(sv as CUstream, &mut g),
                CUresult::CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD
            );
        })
        .join()
        .unwrap_or_else(|_| panic!("the other thread failed"));
        // Synchronizing the capturing stream.
        assert_eq!(
            cuStreamSynchronize(s),
            CUresult::CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED
        );
        assert_eq!(
            cuStreamEndCapture(s, &mut g),
            CUresult::CUDA_ERROR_STREAM_CAPTURE_INVALIDATED
        );

        // An invalid argument while capturing.
        ok(cuStreamBeginCapture_v2(s, capture_mode::THREAD_LOCAL));
        assert_eq!(
            cuMemcpyHtoDAsync_v2(8, std::ptr::null(), 4, s),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        assert_eq!(
            cuStreamEndCapture(s, &mut g),
            CUresult::CUDA_ERROR_STREAM_CAPTURE_INVALIDATED
        );
        ok(cuStreamDestroy_v2(s));
    }
}

#[test]
fn events_record_host_times() {
    let _ctx = Ctx::new();
    // SAFETY: plain driver calls with valid out-pointers.
    unsafe {
        let s = stream();
        let mk = |flags| {
            let mut e: CUevent = null_mut();
            ok(cuEventCreate(&mut e, flags));
            e
        };
        let (a, b) = (mk(event_flags::DEFAULT), mk(event_flags::BLOCKING_SYNC));
        let mut ms = 0f32;
        assert_eq!(
            cuEventElapsedTime_v2(&mut ms, a, b),
            CUresult::CUDA_ERROR_INVALID_HANDLE,
            "not recorded"
        );
        ok(cuEventQuery(a));
        ok(cuEventRecord(a, s));
        std::thread::sleep(std::time::Duration::from_millis(20));
        ok(cuEventRecord(b, s));
        ok(cuEventSynchronize(b));
        ok(cuEventElapsedTime_v2(&mut ms, a, b));
        assert!((15.0..5000.0).contains(&ms), "{ms} ms");
        ok(cuEventElapsedTime(&mut ms, b, a));
        assert!(ms < 0.0);
        ok(cuStreamWaitEvent(s, a, 0));
        ok(cuStreamWaitEvent(null_mut(), a, 0));
        // cudarc's default event flags disable timing: no elapsed time, as on a card.
        let c = mk(event_flags::DISABLE_TIMING);
        ok(cuEventRecord(c, null_mut()));
        assert_eq!(
            cuEventElapsedTime_v2(&mut ms, a, c),
            CUresult::CUDA_ERROR_INVALID_HANDLE
        );
        assert_eq!(
            cuEventCreate(&mut null_mut(), 64),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        for e in [a, b, c] {
            ok(cuEventDestroy_v2(e));
        }
        assert_eq!(cuEventDestroy_v2(a), CUresult::CUDA_ERROR_INVALID_HANDLE);
        ok(cuStreamDestroy_v2(s));
    }
}

#[test]
fn handles_of_the_wrong_kind_or_unknown_are_refused() {
    let _ctx = Ctx::new();
    // SAFETY: plain driver calls; the bogus handles are only compared, never dereferenced.
    unsafe {
        let s = stream();
        let mut e: CUevent = null_mut();
        ok(cuEventCreate(&mut e, 0));
        assert_eq!(
            cuEventRecord(s, s),
            CUresult::CUDA_ERROR_INVALID_HANDLE,
            "a stream is not an event"
        );
        assert_eq!(
            cuStreamSynchronize(e),
            CUresult::CUDA_ERROR_INVALID_HANDLE,
            "an event is not a stream"
        );
        assert_eq!(
            cuStreamSynchronize(0xdead_beef as CUstream),
            CUresult::CUDA_ERROR_INVALID_HANDLE
        );
        assert_eq!(cuGraphLaunch(e, s), CUresult::CUDA_ERROR_INVALID_HANDLE);
        assert_eq!(cuModuleUnload(s), CUresult::CUDA_ERROR_INVALID_HANDLE);
        let mut f: CUfunction = null_mut();
        assert_eq!(
            cuModuleGetFunction(&mut f, s, c"add_one".as_ptr()),
            CUresult::CUDA_ERROR_INVALID_HANDLE
        );
        let mut v = 0;
        assert_eq!(
            cuFuncGetAttribute(&mut v, 0, s),
            CUresult::CUDA_ERROR_INVALID_HANDLE
        );
        // The legacy and per-thread stream handles are the default stream.
        ok(cuStreamSynchronize(0x1 as CUstream));
        ok(cuStreamSynchronize(0x2 as CUstream));
        let mut st = 5;
        ok(cuStreamIsCapturing(null_mut(), &mut st));
        assert_eq!(st, capture_status::NONE);
        ok(cuEventDestroy_v2(e));
        ok(cuStreamDestroy_v2(s));
    }
}

#[test]
fn a_host_function_runs_in_order_and_may_not_call_cuda() {
    let _ctx = Ctx::new();
    unsafe extern "C" fn note(data: *mut c_void) {
        // SAFETY: data is the &mut [CUresult; 2] passed below, alive for the call.
        let out = unsafe { &mut *data.cast::<[CUresult; 2]>() };
        let mut p = 0;
        // SAFETY: a plain driver call (refused: a host function may not call CUDA).
        out[0] = unsafe { cuMemAlloc_v2(&mut p, 4) };
        out[1] = CUresult::CUDA_SUCCESS;
    }
    let mut seen = [CUresult::CUDA_ERROR_UNKNOWN; 2];
    // SAFETY: `seen` outlives the synchronous call.
    unsafe {
        let s = stream();
        ok(cuLaunchHostFunc(
            s,
            Some(note),
            (&mut seen as *mut [CUresult; 2]).cast(),
        ));
        ok(cuStreamDestroy_v2(s));
    }
    assert_eq!(seen, [CUresult::CUDA_ERROR_NOT_PERMITTED, CUresult::CUDA_SUCCESS]);
}

#[test]
fn modules_that_cannot_run_are_refused_at_load() {
    let _ctx = Ctx::new();
    assert_eq!(
        load("this is not PTX").unwrap_err(),
        CUresult::CUDA_ERROR_INVALID_PTX
    );
    assert_eq!(
        load(&PTX.replace(".version 9.0", ".version 9.9")).unwrap_err(),
        CUresult::CUDA_ERROR_UNSUPPORTED_PTX_VERSION
    );
    assert_eq!(
        load(&PTX.replace("sm_80", "sm_100")).unwrap_err(),
        CUresult::CUDA_ERROR_INVALID_PTX
    );
    let mut m: CUmodule = null_mut();
    let elf = b"\x7fELF\x02\x01\x01\x00";
    // SAFETY: elf is NUL-terminated (its 8th byte); valid out-pointer.
    assert_eq!(
        unsafe { cuModuleLoadData(&mut m, elf.as_ptr().cast()) },
        CUresult::CUDA_ERROR_INVALID_IMAGE
    );
    // SAFETY: null image: refused.
    assert_eq!(
        unsafe { cuModuleLoadData(&mut m, std::ptr::null()) },
        CUresult::CUDA_ERROR_INVALID_VALUE
    );
}

#[test]
fn a_module_loads_and_its_functions_report_their_attributes() {
    let _ctx = Ctx::new();
    let m = load(PTX).expect("the test PTX loads");
    let f = function(m, "add_one").unwrap();
    assert_eq!(function(m, "add_one").unwrap(), f, "one handle per name");
    assert_eq!(
        function(m, "no_such_kernel").unwrap_err(),
        CUresult::CUDA_ERROR_NOT_FOUND
    );
    // SAFETY: plain driver calls with valid out-pointers.
    unsafe {
        let get = |a| {
            let mut v = -7;
            ok(cuFuncGetAttribute(&mut v, a, f));
            v
        };
        assert_eq!(get(func_attr::MAX_THREADS_PER_BLOCK), 1024);
        assert_eq!(get(func_attr::SHARED_SIZE_BYTES), 0);
        assert_eq!(get(func_attr::LOCAL_SIZE_BYTES), 0);
        assert_eq!(get(func_attr::NUM_REGS), 0);
        assert_eq!(get(func_attr::MAX_DYNAMIC_SHARED_SIZE_BYTES), 48 << 10);
        ok(cuFuncSetAttribute(
            f,
            func_attr::MAX_DYNAMIC_SHARED_SIZE_BYTES,
            100 << 10,
        ));
        assert_eq!(get(func_attr::MAX_DYNAMIC_SHARED_SIZE_BYTES), 100 << 10);
        assert_eq!(
            cuFuncSetAttribute(f, func_attr::MAX_DYNAMIC_SHARED_SIZE_BYTES, 228 << 10),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        ok(cuFuncSetAttribute(
            f,
            func_attr::MAX_DYNAMIC_SHARED_SIZE_BYTES,
            48 << 10,
        ));
        let mut v = 0;
        assert_eq!(
            cuFuncGetAttribute(&mut v, 99, f),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        ok(cuFuncSetCacheConfig(f, 1));
        let (mut p, mut b) = (0, 0usize);
        assert_eq!(
            cuModuleGetGlobal_v2(&mut p, &mut b, m, c"x".as_ptr()),
            CUresult::CUDA_ERROR_NOT_FOUND
        );
        ok(cuModuleUnload(m));
        assert_eq!(
            cuFuncGetAttribute(&mut v, 0, f),
            CUresult::CUDA_ERROR_INVALID_HANDLE,
            "unloaded"
        );
        assert_eq!(cuModuleUnload(m), CUresult::CUDA_ERROR_INVALID_HANDLE);
    }
}

#[test]
fn a_kernel_runs_and_leaves_its_counters() {
    let _ctx = Ctx::new();
    let m = load(PTX).unwrap();
    let f = function(m, "add_one").unwrap();
    let n = 1000u32;
    let host: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let x = upload(&host);
    let s = stream();
    ok(launch_xn(f, n.div_ceil(128), 128, s, x, n, false));
    let want: Vec<f32> = host.iter().map(|v| v + 1.0).collect();
    assert_eq!(download(x, n as usize), want);

    let mut last = EmuLaunchRecord::default();
    // SAFETY: valid out-pointer. Another test may launch in between on
    // another thread, so only this test's kernel name is checked loosely.
    assert_eq!(unsafe { mfcudaEmuLastLaunch(&mut last) }, 0);
    assert_eq!(last.size as usize, std::mem::size_of::<EmuLaunchRecord>());
    let mut totals = EmuLaunchRecord::default();
    // SAFETY: valid out-pointer.
    assert_eq!(unsafe { mfcudaEmuTotals(&mut totals) }, 0);
    assert!(totals.launches >= 1);
    let mut found = false;
    for i in 0..mfcudaEmuKernelCount() {
        let mut k = EmuLaunchRecord::default();
        // SAFETY: valid out-pointer.
        assert_eq!(unsafe { mfcudaEmuKernelTotals(i, &mut k) }, 0);
        if k.kernel_name() == "add_one" {
            found = true;
            assert!(k.launches >= 1);
            if Config::get().counters {
                assert!(k.thread_instructions >= n as u64, "every thread ran instructions");
                assert!(k.global_store_requests > 0);
            }
        }
    }
    assert!(found, "add_one is in the per-kernel totals");
    // SAFETY: null is refused.
    assert_eq!(unsafe { mfcudaEmuLastLaunch(null_mut()) }, -1);
    assert_eq!(unsafe { mfcudaEmuKernelTotals(u32::MAX, &mut totals) }, 1);

    // A graph replays the launch with the parameters as they were captured.
    // SAFETY: plain driver calls with valid out-pointers.
    unsafe {
        ok(cuStreamBeginCapture_v2(s, capture_mode::THREAD_LOCAL));
        ok(launch_xn(f, n.div_ceil(128), 128, s, x, n, false));
        let mut g: CUgraph = null_mut();
        ok(cuStreamEndCapture(s, &mut g));
        assert_eq!(download(x, n as usize), want, "captured, not run");
        let mut e: CUgraphExec = null_mut();
        ok(cuGraphInstantiateWithFlags(&mut e, g, 0));
        ok(cuGraphLaunch(e, s));
        ok(cuGraphLaunch(e, s));
        let want2: Vec<f32> = host.iter().map(|v| v + 3.0).collect();
        assert_eq!(download(x, n as usize), want2);
        ok(cuGraphExecDestroy(e));
        ok(cuGraphDestroy(g));
        ok(cuMemFree_v2(x));
        ok(cuStreamDestroy_v2(s));
        ok(cuModuleUnload(m));
    }
}

#[test]
fn launches_the_emulator_cannot_run_or_a_card_would_refuse_are_refused() {
    let _ctx = Ctx::new();
    let m = load(PTX).unwrap();
    let f = function(m, "add_one").unwrap();
    let x = upload(&[0.0; 4]);
    let (mut xp, mut n) = (x, 4u32);
    let mut params: [*mut c_void; 2] = [(&mut xp as *mut u64).cast(), (&mut n as *mut u32).cast()];
    let p = params.as_mut_ptr();
    // SAFETY: params holds one pointer per parameter of add_one, each to its bytes.
    unsafe {
        let launch = |g: [u32; 3], b: [u32; 3], shared: u32, extra: *mut *mut c_void| {
            cuLaunchKernel(
                f,
                g[0],
                g[1],
                g[2],
                b[0],
                b[1],
                b[2],
                shared,
                null_mut(),
                p,
                extra,
            )
        };
        assert_eq!(
            launch([1, 2, 1], [4, 1, 1], 0, null_mut()),
            CUresult::CUDA_ERROR_NOT_SUPPORTED
        );
        assert_eq!(
            launch([1, 1, 1], [4, 1, 2], 0, null_mut()),
            CUresult::CUDA_ERROR_NOT_SUPPORTED
        );
        assert_eq!(
            launch([0, 1, 1], [4, 1, 1], 0, null_mut()),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        assert_eq!(
            launch([1, 1, 1], [2048, 1, 1], 0, null_mut()),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        assert_eq!(
            launch([1, 1, 1], [4, 1, 1], 64 << 10, null_mut()),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        let mut extra = [null_mut::<c_void>(); 1];
        assert_eq!(
            launch([1, 1, 1], [4, 1, 1], 0, extra.as_mut_ptr()),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        assert_eq!(
            cuLaunchKernel(f, 1, 1, 1, 4, 1, 1, 0, null_mut(), null_mut(), null_mut()),
            CUresult::CUDA_ERROR_INVALID_VALUE,
            "add_one has parameters"
        );
        // Raising the function's limit admits the shared memory.
        ok(cuFuncSetAttribute(
            f,
            func_attr::MAX_DYNAMIC_SHARED_SIZE_BYTES,
            64 << 10,
        ));
        ok(launch([1, 1, 1], [4, 1, 1], 64 << 10, null_mut()));
        assert_eq!(download(x, 4), vec![1.0; 4]);
        ok(cuFuncSetAttribute(
            f,
            func_attr::MAX_DYNAMIC_SHARED_SIZE_BYTES,
            48 << 10,
        ));
    }

    // Occupancy, and the cooperative limit it sets.
    let mut per_sm = 0;
    // SAFETY: valid out-pointer.
    ok(unsafe { cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(&mut per_sm, f, 256, 0, 0) });
    assert!(
        (1..=8).contains(&per_sm),
        "256-thread blocks: at most 2048 / 256 a SM, got {per_sm}"
    );
    let mut plain = 0;
    // SAFETY: valid out-pointer.
    ok(unsafe { cuOccupancyMaxActiveBlocksPerMultiprocessor(&mut plain, f, 256, 0) });
    assert_eq!(plain, per_sm);
    let max_grid = per_sm as u32 * Config::get().sms;
    let big = upload(&vec![0.0; (max_grid as usize + 1) * 256]);
    let total = (max_grid + 1) * 256;
    assert_eq!(
        launch_xn(f, max_grid + 1, 256, null_mut(), big, total, true),
        CUresult::CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE
    );
    // The largest cooperative grid runs.
    ok(launch_xn(f, max_grid, 256, null_mut(), big, total, true));
    let got = download(big, total as usize);
    assert!(got[..(max_grid * 256) as usize].iter().all(|&v| v == 1.0));
    assert_eq!(got[(max_grid * 256) as usize], 0.0);
    let mut last = EmuLaunchRecord::default();
    // SAFETY: valid out-pointer.
    unsafe { mfcudaEmuLastLaunch(&mut last) };

    let (mut min_grid, mut block) = (0, 0);
    // SAFETY: valid out-pointers; no callback.
    ok(unsafe { cuOccupancyMaxPotentialBlockSize(&mut min_grid, &mut block, f, None, 0, 0) });
    assert!((32..=1024).contains(&block) && block % 32 == 0, "{block}");
    assert!(min_grid >= Config::get().sms as i32);
    let mut avail = 0usize;
    // SAFETY: valid out-pointer.
    ok(unsafe { cuOccupancyAvailableDynamicSMemPerBlock(&mut avail, f, 2, 256) });
    assert_eq!(avail, (228 << 10) / 2 - 1024);
    // SAFETY: cleanup.
    unsafe {
        ok(cuMemFree_v2(x));
        ok(cuMemFree_v2(big));
        ok(cuModuleUnload(m));
    }
}
