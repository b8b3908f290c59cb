//! The exported driver functions, grouped as `cuda.h` groups them. Each body
//! runs inside [`api`], which turns a panic into `CUDA_ERROR_UNKNOWN` (and a
//! line on stderr) so that no unwind crosses the FFI boundary.

use std::ffi::{c_char, c_int, c_uint, c_void, CStr};
use std::panic::AssertUnwindSafe;

use crate::config::Config;
use crate::exec::{self, Launch};
use crate::ptx;

use super::state::{
    kind, panic_message, with_state, Capture, Event, Graph, LaunchOp, ModuleEntry, Op, State, Stream,
    StreamRef, CURRENT, DEFAULT_POOL, R,
};
use super::types::*;

/// Runs one API body: its `Err` becomes the returned code, a panic becomes
/// `CUDA_ERROR_UNKNOWN` with a line on stderr.
fn api(name: &'static str, f: impl FnOnce() -> R) -> CUresult {
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => CUresult::CUDA_SUCCESS,
        Ok(Err(e)) => e,
        Err(p) => {
            eprintln!(
                "mfcuda-emu: internal error in {name}: {}",
                panic_message(p.as_ref())
            );
            CUresult::CUDA_ERROR_UNKNOWN
        }
    }
}

/// Writes `v` through an output pointer; null is `CUDA_ERROR_INVALID_VALUE`.
///
/// # Safety
/// `p` is null or valid for one write of a `T` (it may be uninitialised).
unsafe fn put<T>(p: *mut T, v: T) -> R {
    if p.is_null() {
        return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
    }
    // SAFETY: non-null, and valid for a write by the caller's contract.
    unsafe { p.write(v) };
    Ok(())
}

/// A handle's integer value.
fn hv(p: *mut c_void) -> u64 {
    p as usize as u64
}

/// The pointer a handle is handed out as.
fn hp(h: u64) -> *mut c_void {
    h as usize as *mut c_void
}

fn need_device(dev: CUdevice) -> R {
    if dev == 0 {
        Ok(())
    } else {
        Err(CUresult::CUDA_ERROR_INVALID_DEVICE)
    }
}

/// A NUL-terminated string argument.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string.
unsafe fn c_str<'a>(p: *const c_char) -> R<&'a str> {
    if p.is_null() {
        return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
    }
    // SAFETY: non-null and NUL-terminated by the caller's contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map_err(|_| CUresult::CUDA_ERROR_INVALID_VALUE)
}

// ---------------------------------------------------------------- errors

/// `cuGetErrorString`: the description of `error`, as a static C string.
///
/// # Safety
/// `p_str` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuGetErrorString(error: CUresult, p_str: *mut *const c_char) -> CUresult {
    api("cuGetErrorString", || {
        let text = error.description();
        // SAFETY: p_str is null (refused by put) or writable, by the caller's contract.
        unsafe { put(p_str, text.map_or(std::ptr::null(), CStr::as_ptr))? };
        text.map(|_| ()).ok_or(CUresult::CUDA_ERROR_INVALID_VALUE)
    })
}

/// `cuGetErrorName`: the enum name of `error` (`"CUDA_ERROR_INVALID_VALUE"`).
///
/// # Safety
/// `p_str` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuGetErrorName(error: CUresult, p_str: *mut *const c_char) -> CUresult {
    api("cuGetErrorName", || {
        let text = error.name();
        // SAFETY: as in cuGetErrorString.
        unsafe { put(p_str, text.map_or(std::ptr::null(), CStr::as_ptr))? };
        text.map(|_| ()).ok_or(CUresult::CUDA_ERROR_INVALID_VALUE)
    })
}

// ---------------------------------------------------------------- init, version, device

/// `cuInit`: flags must be 0.
///
/// # Safety
/// None beyond the C ABI.
#[no_mangle]
pub unsafe extern "C" fn cuInit(flags: c_uint) -> CUresult {
    api("cuInit", || {
        if flags != 0 {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        with_state(|s| {
            s.initialized = true;
            Ok(())
        })
    })
}

/// `cuDriverGetVersion`: 13000 (CUDA 13.0).
///
/// # Safety
/// `version` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuDriverGetVersion(version: *mut c_int) -> CUresult {
    // SAFETY: version is null (refused) or writable, by the caller's contract.
    api("cuDriverGetVersion", || unsafe { put(version, DRIVER_VERSION) })
}

/// `cuDeviceGetCount`: one device.
///
/// # Safety
/// `count` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuDeviceGetCount(count: *mut c_int) -> CUresult {
    api("cuDeviceGetCount", || {
        with_state(|s| s.need_init())?;
        // SAFETY: count is null (refused) or writable.
        unsafe { put(count, 1) }
    })
}

/// `cuDeviceGet`: ordinal 0 only.
///
/// # Safety
/// `device` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuDeviceGet(device: *mut CUdevice, ordinal: c_int) -> CUresult {
    api("cuDeviceGet", || {
        with_state(|s| s.need_init())?;
        need_device(ordinal)?;
        // SAFETY: device is null (refused) or writable.
        unsafe { put(device, 0) }
    })
}

/// `cuDeviceGetName`: [`DEVICE_NAME`], cut to `len - 1` bytes.
///
/// # Safety
/// `name` is null or valid for `len` bytes of writes.
#[no_mangle]
pub unsafe extern "C" fn cuDeviceGetName(name: *mut c_char, len: c_int, dev: CUdevice) -> CUresult {
    api("cuDeviceGetName", || {
        with_state(|s| s.need_init())?;
        need_device(dev)?;
        if name.is_null() || len <= 0 {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        let n = DEVICE_NAME.len().min(len as usize - 1);
        // SAFETY: name is writable for len > n bytes by the caller's contract;
        // the source is our own string, which cannot overlap it.
        unsafe {
            std::ptr::copy_nonoverlapping(DEVICE_NAME.as_ptr().cast::<c_char>(), name, n);
            name.add(n).write(0);
        }
        Ok(())
    })
}

/// `cuDeviceGetAttribute`: see [`attribute_value`].
///
/// # Safety
/// `pi` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuDeviceGetAttribute(pi: *mut c_int, attrib: c_int, dev: CUdevice) -> CUresult {
    api("cuDeviceGetAttribute", || {
        with_state(|s| s.need_init())?;
        need_device(dev)?;
        let v = attribute_value(attrib, Config::get().sms).ok_or(CUresult::CUDA_ERROR_INVALID_VALUE)?;
        // SAFETY: pi is null (refused) or writable.
        unsafe { put(pi, v) }
    })
}

/// `cuDeviceTotalMem_v2`: `MFCUDA_EMU_MEMORY_MB`.
///
/// # Safety
/// `bytes` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuDeviceTotalMem_v2(bytes: *mut usize, dev: CUdevice) -> CUresult {
    api("cuDeviceTotalMem_v2", || {
        with_state(|s| s.need_init())?;
        need_device(dev)?;
        // SAFETY: bytes is null (refused) or writable.
        unsafe { put(bytes, Config::get().memory_bytes as usize) }
    })
}

const UUID: CUuuid = CUuuid {
    bytes: [
        b'm' as c_char,
        b'f' as c_char,
        b'c' as c_char,
        b'u' as c_char,
        b'd' as c_char,
        b'a' as c_char,
        b'-' as c_char,
        b'e' as c_char,
        b'm' as c_char,
        b'u' as c_char,
        b'-' as c_char,
        b'g' as c_char,
        b'p' as c_char,
        b'u' as c_char,
        b'-' as c_char,
        b'0' as c_char,
    ],
};

/// `cuDeviceGetUuid_v2`: a fixed UUID ("mfcuda-emu-gpu-0").
///
/// # Safety
/// `uuid` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuDeviceGetUuid_v2(uuid: *mut CUuuid, dev: CUdevice) -> CUresult {
    api("cuDeviceGetUuid_v2", || {
        with_state(|s| s.need_init())?;
        need_device(dev)?;
        // SAFETY: uuid is null (refused) or writable.
        unsafe { put(uuid, UUID) }
    })
}

/// `cuDeviceGetUuid`: as [`cuDeviceGetUuid_v2`].
///
/// # Safety
/// `uuid` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuDeviceGetUuid(uuid: *mut CUuuid, dev: CUdevice) -> CUresult {
    // SAFETY: same contract.
    unsafe { cuDeviceGetUuid_v2(uuid, dev) }
}

/// `cuDeviceGetDefaultMemPool`: the one pool `cuMemAllocAsync` draws from.
///
/// # Safety
/// `pool` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuDeviceGetDefaultMemPool(pool: *mut CUmemoryPool, dev: CUdevice) -> CUresult {
    api("cuDeviceGetDefaultMemPool", || {
        with_state(|s| s.need_init())?;
        need_device(dev)?;
        // SAFETY: pool is null (refused) or writable.
        unsafe { put(pool, hp(DEFAULT_POOL)) }
    })
}

/// `cuDeviceGetMemPool`: the default pool (it cannot be changed here).
///
/// # Safety
/// `pool` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuDeviceGetMemPool(pool: *mut CUmemoryPool, dev: CUdevice) -> CUresult {
    // SAFETY: same contract.
    unsafe { cuDeviceGetDefaultMemPool(pool, dev) }
}

// ---------------------------------------------------------------- contexts

/// `cuDevicePrimaryCtxRetain`: the primary context, made when it had no retains.
///
/// # Safety
/// `pctx` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuDevicePrimaryCtxRetain(pctx: *mut CUcontext, dev: CUdevice) -> CUresult {
    api("cuDevicePrimaryCtxRetain", || {
        with_state(|s| {
            s.need_init()?;
            need_device(dev)?;
            if pctx.is_null() {
                return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
            }
            let h = s.retain();
            // SAFETY: pctx is non-null and writable.
            unsafe { put(pctx, hp(h)) }
        })
    })
}

/// `cuDevicePrimaryCtxRelease_v2`: the last release destroys the context and
/// everything in it, and clears a fault's sticky error.
///
/// # Safety
/// None beyond the C ABI.
#[no_mangle]
pub unsafe extern "C" fn cuDevicePrimaryCtxRelease_v2(dev: CUdevice) -> CUresult {
    api("cuDevicePrimaryCtxRelease_v2", || {
        need_device(dev)?;
        with_state(|s| s.release())
    })
}

/// `cuDevicePrimaryCtxGetState`: flags 0, active while retained.
///
/// # Safety
/// `flags` and `active` are null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuDevicePrimaryCtxGetState(
    dev: CUdevice,
    flags: *mut c_uint,
    active: *mut c_int,
) -> CUresult {
    api("cuDevicePrimaryCtxGetState", || {
        need_device(dev)?;
        let refs = with_state(|s| {
            s.need_init()?;
            Ok(s.ctx_refs)
        })?;
        // SAFETY: each is null (refused) or writable.
        unsafe {
            put(flags, 0)?;
            put(active, (refs > 0) as c_int)
        }
    })
}

/// `cuCtxGetCurrent`: the calling thread's current context (null: none).
///
/// # Safety
/// `pctx` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuCtxGetCurrent(pctx: *mut CUcontext) -> CUresult {
    api("cuCtxGetCurrent", || {
        with_state(|s| s.need_init())?;
        // SAFETY: pctx is null (refused) or writable.
        unsafe { put(pctx, hp(CURRENT.with(|c| c.get()))) }
    })
}

/// `cuCtxSetCurrent`: null unbinds; otherwise the primary context's handle.
///
/// # Safety
/// None beyond the C ABI (the handle is only compared).
#[no_mangle]
pub unsafe extern "C" fn cuCtxSetCurrent(ctx: CUcontext) -> CUresult {
    api("cuCtxSetCurrent", || {
        with_state(|s| {
            s.need_init()?;
            let h = hv(ctx);
            if h != 0 && (h != s.ctx_handle || s.ctx_refs == 0) {
                return Err(CUresult::CUDA_ERROR_INVALID_CONTEXT);
            }
            CURRENT.with(|c| c.set(h));
            Ok(())
        })
    })
}

/// `cuCtxGetDevice`: device 0.
///
/// # Safety
/// `device` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuCtxGetDevice(device: *mut CUdevice) -> CUresult {
    api("cuCtxGetDevice", || {
        with_state(|s| s.live_current())?;
        // SAFETY: device is null (refused) or writable.
        unsafe { put(device, 0) }
    })
}

/// `cuCtxSynchronize`: every stream op has already run, so this only reports
/// a fault's sticky error (and refuses while the calling thread captures).
///
/// # Safety
/// None beyond the C ABI.
#[no_mangle]
pub unsafe extern "C" fn cuCtxSynchronize() -> CUresult {
    api("cuCtxSynchronize", || {
        with_state(|s| {
            s.live_current()?;
            s.capture_unsafe("cuCtxSynchronize")
        })
    })
}

/// `cuCtxGetStreamPriorityRange`: 0 (least) to -5 (greatest), as an H200.
///
/// # Safety
/// Each pointer is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuCtxGetStreamPriorityRange(least: *mut c_int, greatest: *mut c_int) -> CUresult {
    api("cuCtxGetStreamPriorityRange", || {
        with_state(|s| s.live_current())?;
        // SAFETY: each is null (skipped) or writable.
        unsafe {
            if !least.is_null() {
                least.write(0);
            }
            if !greatest.is_null() {
                greatest.write(-5);
            }
        }
        Ok(())
    })
}

// ---------------------------------------------------------------- memory

fn alloc_bytes(s: &mut State, bytes: usize, api: &str) -> R<u64> {
    if bytes == 0 {
        eprintln!(
            "mfcuda-emu: {api} of 0 bytes refused with CUDA_ERROR_INVALID_VALUE, as the driver API documents \
             (a zero-length buffer was asked for)"
        );
        return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
    }
    s.mem().alloc(bytes as u64).map_err(|e| {
        eprintln!("mfcuda-emu: {api} of {bytes} bytes: {e}");
        CUresult::CUDA_ERROR_OUT_OF_MEMORY
    })
}

/// `cuMemAlloc_v2`: a new allocation (0 bytes is `CUDA_ERROR_INVALID_VALUE`).
///
/// # Safety
/// `dptr` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuMemAlloc_v2(dptr: *mut CUdeviceptr, bytesize: usize) -> CUresult {
    api("cuMemAlloc_v2", || {
        with_state(|s| {
            s.live_current()?;
            if dptr.is_null() {
                return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
            }
            s.capture_unsafe("cuMemAlloc_v2")?;
            let p = alloc_bytes(s, bytesize, "cuMemAlloc_v2")?;
            // SAFETY: dptr is non-null and writable.
            unsafe { put(dptr, p) }
        })
    })
}

/// `cuMemFree_v2`.
///
/// # Safety
/// None beyond the C ABI.
#[no_mangle]
pub unsafe extern "C" fn cuMemFree_v2(dptr: CUdeviceptr) -> CUresult {
    api("cuMemFree_v2", || {
        with_state(|s| {
            s.live()?;
            if dptr == 0 {
                return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
            }
            s.capture_unsafe("cuMemFree_v2")?;
            s.run_op(&Op::Free(dptr), false)
        })
    })
}

fn alloc_async(s: &mut State, dptr: *mut CUdeviceptr, bytes: usize, stream: u64, api: &str) -> R {
    let st = s.stream(stream)?;
    if dptr.is_null() {
        return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
    }
    if let Some(c) = s.capture_mut(st) {
        if c.invalidated {
            return Err(CUresult::CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
        }
    }
    let p = match alloc_bytes(s, bytes, api) {
        Ok(p) => p,
        Err(e) => {
            if let Some(c) = s.capture_mut(st) {
                c.invalidated = true;
            }
            return Err(e);
        }
    };
    if let Some(c) = s.capture_mut(st) {
        c.allocs.push(p);
    }
    // SAFETY: dptr is non-null and writable by the caller's contract.
    unsafe { put(dptr, p) }
}

/// `cuMemAllocAsync`: allocates at once (streams run synchronously). 0 bytes
/// is refused with `CUDA_ERROR_INVALID_VALUE`, as `cuMemAlloc` documents (a
/// card's answer to 0 here is not documented; the emulator takes the strict one).
/// During a capture the allocation is made at capture time and serves every replay.
///
/// # Safety
/// `dptr` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuMemAllocAsync(
    dptr: *mut CUdeviceptr,
    bytesize: usize,
    h_stream: CUstream,
) -> CUresult {
    api("cuMemAllocAsync", || {
        with_state(|s| alloc_async(s, dptr, bytesize, hv(h_stream), "cuMemAllocAsync"))
    })
}

/// `cuMemAllocFromPoolAsync`: the default pool only.
///
/// # Safety
/// `dptr` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuMemAllocFromPoolAsync(
    dptr: *mut CUdeviceptr,
    bytesize: usize,
    pool: CUmemoryPool,
    h_stream: CUstream,
) -> CUresult {
    api("cuMemAllocFromPoolAsync", || {
        if hv(pool) != DEFAULT_POOL {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        with_state(|s| alloc_async(s, dptr, bytesize, hv(h_stream), "cuMemAllocFromPoolAsync"))
    })
}

/// `cuMemFreeAsync`: frees at once; during a capture it becomes a free in the
/// graph (or, for memory allocated in the same capture, a free when the graph
/// is destroyed).
///
/// # Safety
/// None beyond the C ABI.
#[no_mangle]
pub unsafe extern "C" fn cuMemFreeAsync(dptr: CUdeviceptr, h_stream: CUstream) -> CUresult {
    api("cuMemFreeAsync", || {
        with_state(|s| {
            let st = s.stream(hv(h_stream))?;
            if dptr == 0 {
                return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
            }
            if let Some(c) = s.capture_mut(st) {
                if c.invalidated {
                    return Err(CUresult::CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
                }
                if c.allocs.contains(&dptr) {
                    c.deferred_frees.push(dptr);
                } else {
                    c.ops.push(Op::Free(dptr));
                }
                return Ok(());
            }
            s.run_op(&Op::Free(dptr), false)
        })
    })
}

/// `cuMemGetInfo_v2`: free and total device memory.
///
/// # Safety
/// Each pointer is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuMemGetInfo_v2(free: *mut usize, total: *mut usize) -> CUresult {
    api("cuMemGetInfo_v2", || {
        if free.is_null() || total.is_null() {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        let (f, t) = with_state(|s| {
            s.live_current()?;
            Ok(s.mem().info())
        })?;
        // SAFETY: both are non-null and writable.
        unsafe {
            put(free, f as usize)?;
            put(total, t as usize)
        }
    })
}

fn htod(dst: CUdeviceptr, src: *const c_void, bytes: usize) -> R<Op> {
    if src.is_null() && bytes > 0 {
        return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
    }
    Ok(Op::HtoD {
        dst,
        src: src as usize,
        bytes,
    })
}

fn dtoh(dst: *mut c_void, src: CUdeviceptr, bytes: usize) -> R<Op> {
    if dst.is_null() && bytes > 0 {
        return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
    }
    Ok(Op::DtoH {
        dst: dst as usize,
        src,
        bytes,
    })
}

/// A synchronous copy or memset: not permitted while the calling thread captures.
fn sync_op(api: &str, op: R<Op>) -> R {
    with_state(|s| {
        s.live_current()?;
        s.capture_unsafe(api)?;
        s.run_op(&op?, false)
    })
}

/// An operation on a stream: run now, or recorded while the stream captures.
fn stream_op(stream: CUstream, op: R<Op>) -> R {
    with_state(|s| {
        let st = s.stream(hv(stream))?;
        s.submit(st, op)
    })
}

/// `cuMemcpyHtoD_v2`.
///
/// # Safety
/// `src` is readable for `bytes` bytes.
#[no_mangle]
pub unsafe extern "C" fn cuMemcpyHtoD_v2(dst: CUdeviceptr, src: *const c_void, bytes: usize) -> CUresult {
    api("cuMemcpyHtoD_v2", || {
        sync_op("cuMemcpyHtoD_v2", htod(dst, src, bytes))
    })
}

/// `cuMemcpyDtoH_v2`.
///
/// # Safety
/// `dst` is writable for `bytes` bytes.
#[no_mangle]
pub unsafe extern "C" fn cuMemcpyDtoH_v2(dst: *mut c_void, src: CUdeviceptr, bytes: usize) -> CUresult {
    api("cuMemcpyDtoH_v2", || {
        sync_op("cuMemcpyDtoH_v2", dtoh(dst, src, bytes))
    })
}

/// `cuMemcpyDtoD_v2`.
///
/// # Safety
/// None beyond the C ABI.
#[no_mangle]
pub unsafe extern "C" fn cuMemcpyDtoD_v2(dst: CUdeviceptr, src: CUdeviceptr, bytes: usize) -> CUresult {
    api("cuMemcpyDtoD_v2", || {
        sync_op("cuMemcpyDtoD_v2", Ok(Op::DtoD { dst, src, bytes }))
    })
}

/// `cuMemcpyHtoDAsync_v2`: copies at once; during a capture, `src` is read at
/// each replay (as the driver does), so it must stay valid while the graph lives.
///
/// # Safety
/// `src` is readable for `bytes` bytes (until the graph's last replay, when captured).
#[no_mangle]
pub unsafe extern "C" fn cuMemcpyHtoDAsync_v2(
    dst: CUdeviceptr,
    src: *const c_void,
    bytes: usize,
    h_stream: CUstream,
) -> CUresult {
    api("cuMemcpyHtoDAsync_v2", || {
        stream_op(h_stream, htod(dst, src, bytes))
    })
}

/// `cuMemcpyDtoHAsync_v2`: copies at once (or at each replay, when captured).
///
/// # Safety
/// `dst` is writable for `bytes` bytes (until the graph's last replay, when captured).
#[no_mangle]
pub unsafe extern "C" fn cuMemcpyDtoHAsync_v2(
    dst: *mut c_void,
    src: CUdeviceptr,
    bytes: usize,
    h_stream: CUstream,
) -> CUresult {
    api("cuMemcpyDtoHAsync_v2", || {
        stream_op(h_stream, dtoh(dst, src, bytes))
    })
}

/// `cuMemcpyDtoDAsync_v2`.
///
/// # Safety
/// None beyond the C ABI.
#[no_mangle]
pub unsafe extern "C" fn cuMemcpyDtoDAsync_v2(
    dst: CUdeviceptr,
    src: CUdeviceptr,
    bytes: usize,
    h_stream: CUstream,
) -> CUresult {
    api("cuMemcpyDtoDAsync_v2", || {
        stream_op(h_stream, Ok(Op::DtoD { dst, src, bytes }))
    })
}

/// `cuMemcpyPeerAsync`: both contexts must be the primary context (one device).
///
/// # Safety
/// None beyond the C ABI.
#[no_mangle]
pub unsafe extern "C" fn cuMemcpyPeerAsync(
    dst: CUdeviceptr,
    dst_ctx: CUcontext,
    src: CUdeviceptr,
    src_ctx: CUcontext,
    bytes: usize,
    h_stream: CUstream,
) -> CUresult {
    api("cuMemcpyPeerAsync", || {
        with_state(|s| {
            let st = s.stream(hv(h_stream))?;
            let op = if hv(dst_ctx) != s.ctx_handle || hv(src_ctx) != s.ctx_handle {
                Err(CUresult::CUDA_ERROR_INVALID_CONTEXT)
            } else {
                Ok(Op::DtoD { dst, src, bytes })
            };
            s.submit(st, op)
        })
    })
}

macro_rules! memsets {
    ($($sync:ident, $async_:ident, $t:ty, $elem:literal;)*) => {$(
        #[doc = concat!("`", stringify!($sync), "`: `n` elements of ", stringify!($elem), " byte(s).")]
        ///
        /// # Safety
        /// None beyond the C ABI.
        #[no_mangle]
        pub unsafe extern "C" fn $sync(dst: CUdeviceptr, value: $t, n: usize) -> CUresult {
            api(stringify!($sync), || {
                sync_op(stringify!($sync), Ok(Op::Memset { dst, value: value as u32, elem: $elem, count: n as u64 }))
            })
        }

        #[doc = concat!("`", stringify!($async_), "`: `n` elements of ", stringify!($elem), " byte(s), on a stream.")]
        ///
        /// # Safety
        /// None beyond the C ABI.
        #[no_mangle]
        pub unsafe extern "C" fn $async_(dst: CUdeviceptr, value: $t, n: usize, h_stream: CUstream) -> CUresult {
            api(stringify!($async_), || {
                stream_op(h_stream, Ok(Op::Memset { dst, value: value as u32, elem: $elem, count: n as u64 }))
            })
        }
    )*};
}

memsets! {
    cuMemsetD8_v2, cuMemsetD8Async, u8, 1;
    cuMemsetD16_v2, cuMemsetD16Async, u16, 2;
    cuMemsetD32_v2, cuMemsetD32Async, u32, 4;
}

const HOST_ALIGN: usize = 4096;

/// `cuMemHostAlloc`: page-aligned, zeroed host memory (the flags are accepted
/// and have no effect: every host pointer is as good as pinned here).
///
/// # Safety
/// `pp` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuMemHostAlloc(pp: *mut *mut c_void, bytesize: usize, flags: c_uint) -> CUresult {
    api("cuMemHostAlloc", || {
        let _ = flags;
        with_state(|s| {
            s.live_current()?;
            if pp.is_null() || bytesize == 0 {
                return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
            }
            let layout = std::alloc::Layout::from_size_align(bytesize, HOST_ALIGN)
                .map_err(|_| CUresult::CUDA_ERROR_OUT_OF_MEMORY)?;
            // SAFETY: the layout has a non-zero size.
            let p = unsafe { std::alloc::alloc_zeroed(layout) };
            if p.is_null() {
                return Err(CUresult::CUDA_ERROR_OUT_OF_MEMORY);
            }
            s.host_allocs.insert(p as usize, layout);
            // SAFETY: pp is non-null and writable.
            unsafe { put(pp, p.cast::<c_void>()) }
        })
    })
}

/// `cuMemFreeHost`: memory from [`cuMemHostAlloc`] only.
///
/// # Safety
/// `p` came from `cuMemHostAlloc` and is not used after this call.
#[no_mangle]
pub unsafe extern "C" fn cuMemFreeHost(p: *mut c_void) -> CUresult {
    api("cuMemFreeHost", || {
        with_state(|s| {
            s.need_init()?;
            let layout = s
                .host_allocs
                .remove(&(p as usize))
                .ok_or(CUresult::CUDA_ERROR_INVALID_VALUE)?;
            // SAFETY: p was allocated by cuMemHostAlloc with exactly this layout
            // (it was in the table) and is removed from it, so it is freed once.
            unsafe { std::alloc::dealloc(p.cast::<u8>(), layout) };
            Ok(())
        })
    })
}

// ---------------------------------------------------------------- streams

fn create_stream(ph: *mut CUstream, flags: c_uint) -> R {
    with_state(|s| {
        s.live_current()?;
        if ph.is_null() || flags & !1 != 0 {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        let h = s.new_handle(kind::STREAM);
        s.streams.insert(h, Stream { capture: None });
        // SAFETY: ph is non-null and writable by the caller's contract.
        unsafe { put(ph, hp(h)) }
    })
}

/// `cuStreamCreate`: flags 0 (default) or 1 (non-blocking). Every stream runs
/// its work at once, in the order submitted, under the device lock.
///
/// # Safety
/// `ph_stream` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuStreamCreate(ph_stream: *mut CUstream, flags: c_uint) -> CUresult {
    api("cuStreamCreate", || create_stream(ph_stream, flags))
}

/// `cuStreamCreateWithPriority`: the priority is accepted and has no effect.
///
/// # Safety
/// `ph_stream` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuStreamCreateWithPriority(
    ph_stream: *mut CUstream,
    flags: c_uint,
    priority: c_int,
) -> CUresult {
    let _ = priority;
    api("cuStreamCreateWithPriority", || create_stream(ph_stream, flags))
}

/// `cuStreamDestroy_v2`.
///
/// # Safety
/// None beyond the C ABI.
#[no_mangle]
pub unsafe extern "C" fn cuStreamDestroy_v2(h_stream: CUstream) -> CUresult {
    api("cuStreamDestroy_v2", || {
        with_state(|s| match s.stream(hv(h_stream))? {
            StreamRef::Default => Err(CUresult::CUDA_ERROR_INVALID_HANDLE),
            StreamRef::Created(h) => {
                s.streams.remove(&h);
                Ok(())
            }
        })
    })
}

/// `cuStreamSynchronize`: the work has run; reports a fault's sticky error.
/// On a capturing stream it is refused and invalidates the capture, as the driver does.
///
/// # Safety
/// None beyond the C ABI.
#[no_mangle]
pub unsafe extern "C" fn cuStreamSynchronize(h_stream: CUstream) -> CUresult {
    api("cuStreamSynchronize", || {
        with_state(|s| {
            let st = s.stream(hv(h_stream))?;
            if st == StreamRef::Default {
                return s.capture_unsafe("cuStreamSynchronize of the default stream");
            }
            if let Some(c) = s.capture_mut(st) {
                c.invalidated = true;
                eprintln!(
                    "mfcuda-emu: cuStreamSynchronize of a capturing stream; the capture is invalidated"
                );
                return Err(CUresult::CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
            }
            Ok(())
        })
    })
}

/// `cuStreamQuery`: always complete (or the sticky error).
///
/// # Safety
/// None beyond the C ABI.
#[no_mangle]
pub unsafe extern "C" fn cuStreamQuery(h_stream: CUstream) -> CUresult {
    api("cuStreamQuery", || {
        with_state(|s| s.stream(hv(h_stream)).map(|_| ()))
    })
}

/// `cuStreamWaitEvent`: nothing to wait for (the event's work has run); the
/// handles are checked.
///
/// # Safety
/// None beyond the C ABI.
#[no_mangle]
pub unsafe extern "C" fn cuStreamWaitEvent(h_stream: CUstream, h_event: CUevent, flags: c_uint) -> CUresult {
    api("cuStreamWaitEvent", || {
        with_state(|s| {
            s.stream(hv(h_stream))?;
            if !s.events.contains_key(&hv(h_event)) {
                return Err(CUresult::CUDA_ERROR_INVALID_HANDLE);
            }
            if flags & !1 != 0 {
                return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
            }
            Ok(())
        })
    })
}

/// `cuStreamBeginCapture_v2`: from now on the stream records its launches,
/// copies, memsets, event records and host functions instead of running them.
/// The default stream cannot capture (`CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED`).
///
/// # Safety
/// None beyond the C ABI.
#[no_mangle]
pub unsafe extern "C" fn cuStreamBeginCapture_v2(h_stream: CUstream, mode: c_uint) -> CUresult {
    api("cuStreamBeginCapture_v2", || {
        with_state(|s| {
            let h = match s.stream(hv(h_stream))? {
                StreamRef::Default => return Err(CUresult::CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED),
                StreamRef::Created(h) => h,
            };
            if mode > capture_mode::RELAXED {
                return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
            }
            let st = s.streams.get_mut(&h).ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)?;
            if st.capture.is_some() {
                return Err(CUresult::CUDA_ERROR_ILLEGAL_STATE);
            }
            st.capture = Some(Capture {
                mode,
                thread: std::thread::current().id(),
                ops: Vec::new(),
                invalidated: false,
                allocs: Vec::new(),
                deferred_frees: Vec::new(),
            });
            Ok(())
        })
    })
}

/// `cuStreamEndCapture`: the recording as a graph; an invalidated capture
/// gives a null graph and `CUDA_ERROR_STREAM_CAPTURE_INVALIDATED`.
///
/// # Safety
/// `ph_graph` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuStreamEndCapture(h_stream: CUstream, ph_graph: *mut CUgraph) -> CUresult {
    api("cuStreamEndCapture", || {
        with_state(|s| {
            if ph_graph.is_null() {
                return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
            }
            let h = match s.stream(hv(h_stream))? {
                StreamRef::Default => return Err(CUresult::CUDA_ERROR_ILLEGAL_STATE),
                StreamRef::Created(h) => h,
            };
            let st = s.streams.get_mut(&h).ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)?;
            let c = st.capture.as_ref().ok_or(CUresult::CUDA_ERROR_ILLEGAL_STATE)?;
            if c.mode != capture_mode::RELAXED && c.thread != std::thread::current().id() {
                return Err(CUresult::CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD);
            }
            let Some(c) = st.capture.take() else {
                return Err(CUresult::CUDA_ERROR_ILLEGAL_STATE);
            };
            if c.invalidated {
                // SAFETY: ph_graph is non-null and writable.
                unsafe { put(ph_graph, std::ptr::null_mut())? };
                return Err(CUresult::CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
            }
            let g = s.new_handle(kind::GRAPH);
            s.graphs.insert(
                g,
                Graph {
                    ops: c.ops,
                    owned: c.deferred_frees,
                },
            );
            // SAFETY: ph_graph is non-null and writable.
            unsafe { put(ph_graph, hp(g)) }
        })
    })
}

/// `cuStreamIsCapturing`: none (0), active (1) or invalidated (2).
///
/// # Safety
/// `status` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuStreamIsCapturing(h_stream: CUstream, status: *mut c_uint) -> CUresult {
    api("cuStreamIsCapturing", || {
        with_state(|s| {
            let st = s.stream(hv(h_stream))?;
            let v = match s.capture_mut(st) {
                None => capture_status::NONE,
                Some(c) if c.invalidated => capture_status::INVALIDATED,
                Some(_) => capture_status::ACTIVE,
            };
            // SAFETY: status is null (refused) or writable.
            unsafe { put(status, v) }
        })
    })
}

/// `cuLaunchHostFunc`: calls `f(user_data)` as the stream reaches it (at once,
/// or at each replay when captured). A CUDA call from inside it gets
/// `CUDA_ERROR_NOT_PERMITTED`.
///
/// # Safety
/// `f` may be called with `user_data` on this thread.
#[no_mangle]
pub unsafe extern "C" fn cuLaunchHostFunc(
    h_stream: CUstream,
    f: CUhostFn,
    user_data: *mut c_void,
) -> CUresult {
    api("cuLaunchHostFunc", || {
        let op = f
            .map(|f| Op::HostFn {
                f,
                data: user_data as usize,
            })
            .ok_or(CUresult::CUDA_ERROR_INVALID_VALUE);
        stream_op(h_stream, op)
    })
}

// ---------------------------------------------------------------- events

/// `cuEventCreate`: flags are `CU_EVENT_*` bits.
///
/// # Safety
/// `ph_event` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuEventCreate(ph_event: *mut CUevent, flags: c_uint) -> CUresult {
    api("cuEventCreate", || {
        with_state(|s| {
            s.live_current()?;
            let all = event_flags::BLOCKING_SYNC | event_flags::DISABLE_TIMING | event_flags::INTERPROCESS;
            if ph_event.is_null() || flags & !all != 0 {
                return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
            }
            let h = s.new_handle(kind::EVENT);
            s.events.insert(h, Event { flags, time: None });
            // SAFETY: ph_event is non-null and writable.
            unsafe { put(ph_event, hp(h)) }
        })
    })
}

/// `cuEventRecord`: stamps the host clock now (or at each replay, when captured).
///
/// # Safety
/// None beyond the C ABI.
#[no_mangle]
pub unsafe extern "C" fn cuEventRecord(h_event: CUevent, h_stream: CUstream) -> CUresult {
    api("cuEventRecord", || {
        with_state(|s| {
            let st = s.stream(hv(h_stream))?;
            let e = hv(h_event);
            let op = if s.events.contains_key(&e) {
                Ok(Op::EventRecord(e))
            } else {
                Err(CUresult::CUDA_ERROR_INVALID_HANDLE)
            };
            s.submit(st, op)
        })
    })
}

fn event_check(h: CUevent) -> R {
    with_state(|s| {
        s.live()?;
        if s.events.contains_key(&hv(h)) {
            Ok(())
        } else {
            Err(CUresult::CUDA_ERROR_INVALID_HANDLE)
        }
    })
}

/// `cuEventQuery`: always complete.
///
/// # Safety
/// None beyond the C ABI.
#[no_mangle]
pub unsafe extern "C" fn cuEventQuery(h_event: CUevent) -> CUresult {
    api("cuEventQuery", || event_check(h_event))
}

/// `cuEventSynchronize`: nothing to wait for.
///
/// # Safety
/// None beyond the C ABI.
#[no_mangle]
pub unsafe extern "C" fn cuEventSynchronize(h_event: CUevent) -> CUresult {
    api("cuEventSynchronize", || event_check(h_event))
}

/// `cuEventDestroy_v2`.
///
/// # Safety
/// None beyond the C ABI.
#[no_mangle]
pub unsafe extern "C" fn cuEventDestroy_v2(h_event: CUevent) -> CUresult {
    api("cuEventDestroy_v2", || {
        with_state(|s| {
            s.live()?;
            s.events
                .remove(&hv(h_event))
                .map(|_| ())
                .ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)
        })
    })
}

/// `cuEventElapsedTime_v2`: milliseconds of HOST wall time between the two
/// records. Streams run synchronously, so this is the time the emulator took
/// to interpret the work in between: not a GPU time, and no basis for a
/// bandwidth. Events made with `CU_EVENT_DISABLE_TIMING`, or never recorded,
/// give `CUDA_ERROR_INVALID_HANDLE`, as on a card.
///
/// # Safety
/// `ms` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuEventElapsedTime_v2(ms: *mut f32, h_start: CUevent, h_end: CUevent) -> CUresult {
    api("cuEventElapsedTime_v2", || {
        let dt = with_state(|s| {
            s.live()?;
            let get = |h: CUevent| s.events.get(&hv(h)).ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE);
            let (a, b) = (get(h_start)?, get(h_end)?);
            if (a.flags | b.flags) & event_flags::DISABLE_TIMING != 0 {
                return Err(CUresult::CUDA_ERROR_INVALID_HANDLE);
            }
            let (Some(ta), Some(tb)) = (a.time, b.time) else {
                return Err(CUresult::CUDA_ERROR_INVALID_HANDLE);
            };
            Ok(match tb.checked_duration_since(ta) {
                Some(d) => d.as_secs_f64() * 1e3,
                None => -(ta.duration_since(tb).as_secs_f64() * 1e3),
            })
        })?;
        // SAFETY: ms is null (refused) or writable.
        unsafe { put(ms, dt as f32) }
    })
}

/// `cuEventElapsedTime`: as [`cuEventElapsedTime_v2`].
///
/// # Safety
/// `ms` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuEventElapsedTime(ms: *mut f32, h_start: CUevent, h_end: CUevent) -> CUresult {
    // SAFETY: same contract.
    unsafe { cuEventElapsedTime_v2(ms, h_start, h_end) }
}

// ---------------------------------------------------------------- modules and functions

/// `(major·10 + minor)` of the module's `.version`, and the N of `.target sm_N`.
fn ptx_header(text: &str) -> (Option<u32>, Option<u32>) {
    let mut version = None;
    let mut target = None;
    for line in text.lines().take(200) {
        let l = line.trim();
        if let Some(v) = l.strip_prefix(".version") {
            let mut it = v.trim().split('.');
            if let (Some(a), Some(b)) = (it.next(), it.next()) {
                if let (Ok(a), Ok(b)) = (a.trim().parse::<u32>(), b.trim().parse::<u32>()) {
                    version = Some(a * 10 + b);
                }
            }
        } else if let Some(t) = l.strip_prefix(".target") {
            target = t.split([',', ' ']).map(str::trim).find_map(|w| {
                let n = w.strip_prefix("sm_")?;
                n.trim_end_matches(|c: char| c.is_ascii_alphabetic())
                    .parse::<u32>()
                    .ok()
            });
        }
    }
    (version, target)
}

fn load_image(s: &mut State, image: &[u8], pmod: *mut CUmodule) -> R {
    if image.starts_with(b"\x7fELF")
        || image.starts_with(&[0x50, 0xed, 0x55, 0xba])
        || image.starts_with(&[0xb1, 0x43, 0x62, 0x46])
    {
        eprintln!(
            "mfcuda-emu: cuModuleLoadData: a cubin or fatbin image; the emulated driver runs PTX text only"
        );
        return Err(CUresult::CUDA_ERROR_INVALID_IMAGE);
    }
    let Ok(text) = std::str::from_utf8(image) else {
        eprintln!("mfcuda-emu: cuModuleLoadData: the image is not PTX text (not UTF-8)");
        return Err(CUresult::CUDA_ERROR_INVALID_PTX);
    };
    let (version, target) = ptx_header(text);
    if let Some(v) = version.filter(|&v| v > MAX_PTX_ISA) {
        eprintln!(
            "mfcuda-emu: cuModuleLoadData: PTX ISA {}.{} is newer than this driver (CUDA 13.0) accepts ({}.{})",
            v / 10,
            v % 10,
            MAX_PTX_ISA / 10,
            MAX_PTX_ISA % 10
        );
        return Err(CUresult::CUDA_ERROR_UNSUPPORTED_PTX_VERSION);
    }
    if let Some(t) = target.filter(|&t| t > 90) {
        eprintln!("mfcuda-emu: cuModuleLoadData: PTX for sm_{t} cannot run on this sm_90 device");
        return Err(CUresult::CUDA_ERROR_INVALID_PTX);
    }
    let module = ptx::Module::load(text).map_err(|e| {
        eprintln!("mfcuda-emu: cuModuleLoadData: the PTX does not load: {e}");
        CUresult::CUDA_ERROR_INVALID_PTX
    })?;
    let h = s.new_handle(kind::MODULE);
    s.modules.insert(
        h,
        ModuleEntry {
            module,
            functions: Default::default(),
        },
    );
    // SAFETY: pmod is non-null (checked by the callers) and writable.
    unsafe { put(pmod, hp(h)) }
}

/// `cuModuleLoadData`: `image` is NUL-terminated PTX text (what cudarc passes
/// for `Ptx::from_src`). A module the interpreter cannot run is refused with
/// `CUDA_ERROR_INVALID_PTX` and the reason on stderr; cubins with
/// `CUDA_ERROR_INVALID_IMAGE`; a PTX ISA newer than 9.0 with
/// `CUDA_ERROR_UNSUPPORTED_PTX_VERSION`.
///
/// # Safety
/// `module` is null or valid for one write; `image` is null or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn cuModuleLoadData(module: *mut CUmodule, image: *const c_void) -> CUresult {
    api("cuModuleLoadData", || {
        with_state(|s| {
            s.live_current()?;
            if module.is_null() || image.is_null() {
                return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
            }
            // SAFETY: image is non-null and, as the driver API requires of PTX, NUL-terminated.
            let bytes = unsafe { CStr::from_ptr(image.cast::<c_char>()) }.to_bytes();
            load_image(s, bytes, module)
        })
    })
}

/// `cuModuleLoadDataEx`: as [`cuModuleLoadData`]; the JIT options are ignored.
///
/// # Safety
/// As `cuModuleLoadData`.
#[no_mangle]
pub unsafe extern "C" fn cuModuleLoadDataEx(
    module: *mut CUmodule,
    image: *const c_void,
    num_options: c_uint,
    options: *mut c_int,
    option_values: *mut *mut c_void,
) -> CUresult {
    let _ = (num_options, options, option_values);
    // SAFETY: same contract.
    unsafe { cuModuleLoadData(module, image) }
}

/// `cuModuleLoad`: a PTX file.
///
/// # Safety
/// `module` is null or valid for one write; `fname` is null or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn cuModuleLoad(module: *mut CUmodule, fname: *const c_char) -> CUresult {
    api("cuModuleLoad", || {
        // SAFETY: fname is null (refused) or NUL-terminated.
        let path = unsafe { c_str(fname)? };
        with_state(|s| {
            s.live_current()?;
            if module.is_null() {
                return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
            }
            let bytes = std::fs::read(path).map_err(|_| CUresult::CUDA_ERROR_FILE_NOT_FOUND)?;
            load_image(s, &bytes, module)
        })
    })
}

/// `cuModuleUnload`: its function handles stop working (graphs that captured
/// its kernels keep them).
///
/// # Safety
/// None beyond the C ABI.
#[no_mangle]
pub unsafe extern "C" fn cuModuleUnload(hmod: CUmodule) -> CUresult {
    api("cuModuleUnload", || {
        with_state(|s| {
            s.live()?;
            let m = hv(hmod);
            s.modules.remove(&m).ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)?;
            s.functions.retain(|_, f| f.module != m);
            Ok(())
        })
    })
}

/// `cuModuleGetFunction`: `CUDA_ERROR_NOT_FOUND` for a name the module lacks.
///
/// # Safety
/// `hfunc` is null or valid for one write; `name` is null or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn cuModuleGetFunction(
    hfunc: *mut CUfunction,
    hmod: CUmodule,
    name: *const c_char,
) -> CUresult {
    api("cuModuleGetFunction", || {
        // SAFETY: name is null (refused) or NUL-terminated.
        let name = unsafe { c_str(name)? };
        if hfunc.is_null() {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        let h = with_state(|s| {
            s.live()?;
            s.function_handle(hv(hmod), name)
        })?;
        // SAFETY: hfunc is non-null and writable.
        unsafe { put(hfunc, hp(h)) }
    })
}

/// `cuModuleGetGlobal_v2`: the interpreter gives the host no module-scope
/// variables, so every name is `CUDA_ERROR_NOT_FOUND`.
///
/// # Safety
/// None beyond the C ABI (nothing is written).
#[no_mangle]
pub unsafe extern "C" fn cuModuleGetGlobal_v2(
    dptr: *mut CUdeviceptr,
    bytes: *mut usize,
    hmod: CUmodule,
    name: *const c_char,
) -> CUresult {
    let _ = (dptr, bytes, name);
    api("cuModuleGetGlobal_v2", || {
        with_state(|s| {
            s.live()?;
            if !s.modules.contains_key(&hv(hmod)) {
                return Err(CUresult::CUDA_ERROR_INVALID_HANDLE);
            }
            Err(CUresult::CUDA_ERROR_NOT_FOUND)
        })
    })
}

fn max_threads(k: &ptx::Kernel) -> u32 {
    k.max_threads
        .unwrap_or(MAX_THREADS_PER_BLOCK)
        .min(MAX_THREADS_PER_BLOCK)
}

/// `cuFuncGetAttribute`. `NUM_REGS` is 0: the emulator allocates no registers.
/// `PTX_VERSION` and `BINARY_VERSION` are 80 and 90 (nvcc's compute_80 PTX, JIT-compiled for sm_90).
///
/// # Safety
/// `pi` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuFuncGetAttribute(pi: *mut c_int, attrib: c_int, hfunc: CUfunction) -> CUresult {
    api("cuFuncGetAttribute", || {
        let v = with_state(|s| {
            s.live()?;
            let f = s.function(hv(hfunc))?;
            let k = &f.kernel;
            Ok(match attrib {
                func_attr::MAX_THREADS_PER_BLOCK => max_threads(k) as c_int,
                func_attr::SHARED_SIZE_BYTES => k.static_shared as c_int,
                func_attr::CONST_SIZE_BYTES => 0,
                func_attr::LOCAL_SIZE_BYTES => k.local_bytes as c_int,
                func_attr::NUM_REGS => 0,
                func_attr::PTX_VERSION => 80,
                func_attr::BINARY_VERSION => 90,
                func_attr::CACHE_MODE_CA => 0,
                func_attr::MAX_DYNAMIC_SHARED_SIZE_BYTES => f.max_dynamic_shared as c_int,
                func_attr::PREFERRED_SHARED_MEMORY_CARVEOUT => f.carveout,
                func_attr::CLUSTER_SIZE_MUST_BE_SET..=func_attr::CLUSTER_SCHEDULING_POLICY_PREFERENCE => 0,
                _ => return Err(CUresult::CUDA_ERROR_INVALID_VALUE),
            })
        })?;
        // SAFETY: pi is null (refused) or writable.
        unsafe { put(pi, v) }
    })
}

/// `cuFuncSetAttribute`: `MAX_DYNAMIC_SHARED_SIZE_BYTES` (up to 227 KiB less
/// the static shared memory) and `PREFERRED_SHARED_MEMORY_CARVEOUT`.
///
/// # Safety
/// None beyond the C ABI.
#[no_mangle]
pub unsafe extern "C" fn cuFuncSetAttribute(hfunc: CUfunction, attrib: c_int, value: c_int) -> CUresult {
    api("cuFuncSetAttribute", || {
        with_state(|s| {
            s.live()?;
            let f = s
                .functions
                .get_mut(&hv(hfunc))
                .ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)?;
            match attrib {
                func_attr::MAX_DYNAMIC_SHARED_SIZE_BYTES => {
                    let limit = SHARED_PER_BLOCK_OPTIN.saturating_sub(f.kernel.static_shared as u32);
                    if value < 0 || value as u32 > limit {
                        return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
                    }
                    f.max_dynamic_shared = value as u32;
                }
                func_attr::PREFERRED_SHARED_MEMORY_CARVEOUT => {
                    if !(-1..=100).contains(&value) {
                        return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
                    }
                    f.carveout = value;
                }
                _ => return Err(CUresult::CUDA_ERROR_INVALID_VALUE),
            }
            Ok(())
        })
    })
}

/// `cuFuncSetCacheConfig`: accepted, no effect.
///
/// # Safety
/// None beyond the C ABI.
#[no_mangle]
pub unsafe extern "C" fn cuFuncSetCacheConfig(hfunc: CUfunction, config: c_uint) -> CUresult {
    api("cuFuncSetCacheConfig", || {
        with_state(|s| {
            s.live()?;
            s.function(hv(hfunc))?;
            if config > 3 {
                return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
            }
            Ok(())
        })
    })
}

// ---------------------------------------------------------------- launches

/// One launch's arguments as `cuLaunchKernel` takes them.
struct LaunchArgs {
    api: &'static str,
    f: CUfunction,
    grid: [c_uint; 3],
    block: [c_uint; 3],
    shared: c_uint,
    params: *mut *mut c_void,
    extra: *mut *mut c_void,
    cooperative: bool,
}

/// Checks a launch and copies its parameters (as the driver does at launch
/// time: later changes to the host's argument bytes do not reach it).
///
/// # Safety
/// `a.params` is null or holds one pointer per kernel parameter, each to that
/// parameter's bytes.
unsafe fn build_launch(s: &State, a: &LaunchArgs) -> R<Op> {
    let func = s.function(hv(a.f))?;
    let k = &func.kernel;
    let [gx, gy, gz] = a.grid;
    let [bx, by, bz] = a.block;
    if !a.extra.is_null() {
        eprintln!(
            "mfcuda-emu: {} of kernel {}: `extra` parameters are not supported; pass kernelParams",
            a.api, k.name
        );
        return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
    }
    if a.grid.contains(&0) || a.block.contains(&0) || gx > i32::MAX as u32 {
        return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
    }
    if gy != 1 || gz != 1 || by != 1 || bz != 1 {
        eprintln!(
            "mfcuda-emu: {} of kernel {}: grid ({gx}, {gy}, {gz}), block ({bx}, {by}, {bz}): the emulator runs only the x dimension",
            a.api, k.name
        );
        return Err(CUresult::CUDA_ERROR_NOT_SUPPORTED);
    }
    if bx > max_threads(k) {
        eprintln!(
            "mfcuda-emu: {} of kernel {}: {bx} threads a block exceeds its limit of {}",
            a.api,
            k.name,
            max_threads(k)
        );
        return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
    }
    if a.shared > func.max_dynamic_shared {
        eprintln!(
            "mfcuda-emu: {} of kernel {}: {} bytes of dynamic shared memory exceed its limit of {} \
             (raise CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES)",
            a.api, k.name, a.shared, func.max_dynamic_shared
        );
        return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
    }
    let mut params = Vec::with_capacity(k.params.len());
    if !k.params.is_empty() && a.params.is_null() {
        return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
    }
    for (i, p) in k.params.iter().enumerate() {
        // SAFETY: a.params holds one pointer per parameter (the caller's contract, as the driver's).
        let arg = unsafe { *a.params.add(i) };
        if arg.is_null() {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        // SAFETY: each parameter pointer is readable for the parameter's size, by the same contract.
        params.push(unsafe { std::slice::from_raw_parts(arg.cast::<u8>(), p.size) }.to_vec());
    }
    let launch = Launch {
        grid: gx,
        block: bx,
        dynamic_shared: a.shared,
        cooperative: a.cooperative,
    };
    if a.cooperative {
        let per_sm = exec::max_blocks_per_sm(k, bx, a.shared) as u64;
        let sms = Config::get().sms as u64;
        if gx as u64 > per_sm * sms {
            eprintln!(
                "mfcuda-emu: {} of kernel {}: {gx} blocks cannot all be resident ({per_sm} a SM at {bx} threads \
                 and {} bytes of dynamic shared memory, {sms} SMs): CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE",
                a.api, k.name, a.shared
            );
            return Err(CUresult::CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE);
        }
    }
    Ok(Op::Launch(LaunchOp {
        kernel: k.clone(),
        launch,
        params,
    }))
}

fn launch(a: LaunchArgs, stream: CUstream) -> CUresult {
    api(a.api, || {
        with_state(|s| {
            let st = s.stream(hv(stream))?;
            // SAFETY: the launch's pointers follow the driver API's contract (see build_launch).
            let op = unsafe { build_launch(s, &a) };
            s.submit(st, op)
        })
    })
}

/// `cuLaunchKernel`: runs the kernel to completion in the interpreter (or
/// records it, while the stream captures). Only the x dimension is supported
/// (`CUDA_ERROR_NOT_SUPPORTED` otherwise); `extra` must be null. A fault is
/// printed and returned, and stays the context's error (see the module docs).
///
/// # Safety
/// `kernel_params` holds one pointer per kernel parameter, each to that parameter's bytes.
#[no_mangle]
pub unsafe extern "C" fn cuLaunchKernel(
    f: CUfunction,
    grid_x: c_uint,
    grid_y: c_uint,
    grid_z: c_uint,
    block_x: c_uint,
    block_y: c_uint,
    block_z: c_uint,
    shared_mem_bytes: c_uint,
    h_stream: CUstream,
    kernel_params: *mut *mut c_void,
    extra: *mut *mut c_void,
) -> CUresult {
    let a = LaunchArgs {
        api: "cuLaunchKernel",
        f,
        grid: [grid_x, grid_y, grid_z],
        block: [block_x, block_y, block_z],
        shared: shared_mem_bytes,
        params: kernel_params,
        extra,
        cooperative: false,
    };
    launch(a, h_stream)
}

/// `cuLaunchCooperativeKernel`: every block resident at once (blocks
/// interleave and may wait on each other). A grid larger than
/// `max_blocks_per_sm × SMs` is `CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE`, as on a card.
///
/// # Safety
/// As `cuLaunchKernel`.
#[no_mangle]
pub unsafe extern "C" fn cuLaunchCooperativeKernel(
    f: CUfunction,
    grid_x: c_uint,
    grid_y: c_uint,
    grid_z: c_uint,
    block_x: c_uint,
    block_y: c_uint,
    block_z: c_uint,
    shared_mem_bytes: c_uint,
    h_stream: CUstream,
    kernel_params: *mut *mut c_void,
) -> CUresult {
    let a = LaunchArgs {
        api: "cuLaunchCooperativeKernel",
        f,
        grid: [grid_x, grid_y, grid_z],
        block: [block_x, block_y, block_z],
        shared: shared_mem_bytes,
        params: kernel_params,
        extra: std::ptr::null_mut(),
        cooperative: true,
    };
    launch(a, h_stream)
}

// ---------------------------------------------------------------- occupancy

fn occupancy(f: CUfunction, block: c_int, dynamic_shared: usize) -> R<c_int> {
    if block <= 0 {
        return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
    }
    let shared = u32::try_from(dynamic_shared).map_err(|_| CUresult::CUDA_ERROR_INVALID_VALUE)?;
    with_state(|s| {
        s.live()?;
        let k = s.function(hv(f))?.kernel.clone();
        if block as u32 > max_threads(&k) {
            return Ok(0);
        }
        Ok(exec::max_blocks_per_sm(&k, block as u32, shared) as c_int)
    })
}

/// `cuOccupancyMaxActiveBlocksPerMultiprocessor`: [`exec::max_blocks_per_sm`].
///
/// # Safety
/// `num_blocks` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuOccupancyMaxActiveBlocksPerMultiprocessor(
    num_blocks: *mut c_int,
    func: CUfunction,
    block_size: c_int,
    dynamic_smem_size: usize,
) -> CUresult {
    api("cuOccupancyMaxActiveBlocksPerMultiprocessor", || {
        let n = occupancy(func, block_size, dynamic_smem_size)?;
        // SAFETY: num_blocks is null (refused) or writable.
        unsafe { put(num_blocks, n) }
    })
}

/// `cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags`: the flags change nothing here.
///
/// # Safety
/// `num_blocks` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(
    num_blocks: *mut c_int,
    func: CUfunction,
    block_size: c_int,
    dynamic_smem_size: usize,
    flags: c_uint,
) -> CUresult {
    if flags > 1 {
        return CUresult::CUDA_ERROR_INVALID_VALUE;
    }
    // SAFETY: same contract.
    unsafe { cuOccupancyMaxActiveBlocksPerMultiprocessor(num_blocks, func, block_size, dynamic_smem_size) }
}

/// `cuOccupancyAvailableDynamicSMemPerBlock`: the sm_90 shared-memory model
/// (228 KiB a SM, 1 KiB reserved a block, 227 KiB at most a block).
///
/// # Safety
/// `dynamic_smem_size` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuOccupancyAvailableDynamicSMemPerBlock(
    dynamic_smem_size: *mut usize,
    func: CUfunction,
    num_blocks: c_int,
    block_size: c_int,
) -> CUresult {
    api("cuOccupancyAvailableDynamicSMemPerBlock", || {
        if num_blocks <= 0 || block_size <= 0 {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        let k = with_state(|s| {
            s.live()?;
            Ok(s.function(hv(func))?.kernel.clone())
        })?;
        let (nb, bs) = (num_blocks as u64, block_size as u64);
        let fits = nb <= 32 && nb * bs <= 2048 && bs as u32 <= max_threads(&k);
        let avail = if fits {
            ((SHARED_PER_SM as u64 / nb).saturating_sub(SHARED_RESERVED_PER_BLOCK as u64))
                .min(SHARED_PER_BLOCK_OPTIN as u64)
                .saturating_sub(k.static_shared as u64)
        } else {
            0
        };
        // SAFETY: dynamic_smem_size is null (refused) or writable.
        unsafe { put(dynamic_smem_size, avail as usize) }
    })
}

/// `cuOccupancyMaxPotentialBlockSize`: the block size (a multiple of 32) with
/// the most resident threads a SM, the largest on a tie, and the grid that fills every SM.
///
/// # Safety
/// The output pointers are null or valid for one write; `b2d` (if any) may be called.
#[no_mangle]
pub unsafe extern "C" fn cuOccupancyMaxPotentialBlockSize(
    min_grid_size: *mut c_int,
    block_size: *mut c_int,
    func: CUfunction,
    b2d: CUoccupancyB2DSize,
    dynamic_smem_size: usize,
    block_size_limit: c_int,
) -> CUresult {
    api("cuOccupancyMaxPotentialBlockSize", || {
        if min_grid_size.is_null() || block_size.is_null() {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        let k = with_state(|s| {
            s.live()?;
            Ok(s.function(hv(func))?.kernel.clone())
        })?;
        let mut limit = max_threads(&k);
        if block_size_limit > 0 {
            limit = limit.min(block_size_limit as u32);
        }
        let (mut best_bs, mut best_blocks, mut best_threads) = (0u32, 0u32, 0u32);
        let mut bs = 32;
        while bs <= limit.max(32) {
            let shared = match b2d {
                // SAFETY: the caller supplies a callable function (or none).
                Some(cb) => unsafe { cb(bs as c_int) },
                None => dynamic_smem_size,
            };
            let blocks = match u32::try_from(shared) {
                Ok(sh) if bs <= limit => exec::max_blocks_per_sm(&k, bs, sh),
                _ => 0,
            };
            if blocks * bs >= best_threads && blocks > 0 {
                (best_bs, best_blocks, best_threads) = (bs, blocks, blocks * bs);
            }
            bs += 32;
        }
        let grid = best_blocks as u64 * Config::get().sms as u64;
        // SAFETY: both are non-null and writable.
        unsafe {
            put(min_grid_size, grid.min(i32::MAX as u64) as c_int)?;
            put(block_size, best_bs as c_int)
        }
    })
}

/// `cuOccupancyMaxPotentialBlockSizeWithFlags`: the flags change nothing here.
///
/// # Safety
/// As `cuOccupancyMaxPotentialBlockSize`.
#[no_mangle]
pub unsafe extern "C" fn cuOccupancyMaxPotentialBlockSizeWithFlags(
    min_grid_size: *mut c_int,
    block_size: *mut c_int,
    func: CUfunction,
    b2d: CUoccupancyB2DSize,
    dynamic_smem_size: usize,
    block_size_limit: c_int,
    flags: c_uint,
) -> CUresult {
    let _ = flags;
    // SAFETY: same contract.
    unsafe {
        cuOccupancyMaxPotentialBlockSize(
            min_grid_size,
            block_size,
            func,
            b2d,
            dynamic_smem_size,
            block_size_limit,
        )
    }
}

// ---------------------------------------------------------------- graphs

/// `cuGraphInstantiateWithFlags`: a copy of the graph's operations.
/// `CUDA_GRAPH_INSTANTIATE_FLAG_DEVICE_LAUNCH` is not supported.
///
/// # Safety
/// `ph_exec` is null or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cuGraphInstantiateWithFlags(
    ph_exec: *mut CUgraphExec,
    h_graph: CUgraph,
    flags: u64,
) -> CUresult {
    api("cuGraphInstantiateWithFlags", || {
        with_state(|s| {
            s.live()?;
            if ph_exec.is_null() {
                return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
            }
            let known = graph_flags::AUTO_FREE_ON_LAUNCH
                | graph_flags::UPLOAD
                | graph_flags::DEVICE_LAUNCH
                | graph_flags::USE_NODE_PRIORITY;
            if flags & !known != 0
                || (flags & graph_flags::DEVICE_LAUNCH != 0 && flags & graph_flags::AUTO_FREE_ON_LAUNCH != 0)
            {
                return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
            }
            if flags & graph_flags::DEVICE_LAUNCH != 0 {
                eprintln!("mfcuda-emu: cuGraphInstantiateWithFlags: device-launched graphs are not emulated");
                return Err(CUresult::CUDA_ERROR_NOT_SUPPORTED);
            }
            let ops = s
                .graphs
                .get(&hv(h_graph))
                .ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)?
                .ops
                .clone();
            let e = s.new_handle(kind::GRAPH_EXEC);
            s.execs.insert(e, ops);
            // SAFETY: ph_exec is non-null and writable.
            unsafe { put(ph_exec, hp(e)) }
        })
    })
}

/// `cuGraphLaunch`: replays the operations in order, now (on a capturing
/// stream: appends them to that capture). Stops at the first failure.
///
/// # Safety
/// Host buffers of captured copies are valid now, as `cuMemcpy*Async` required.
#[no_mangle]
pub unsafe extern "C" fn cuGraphLaunch(h_exec: CUgraphExec, h_stream: CUstream) -> CUresult {
    api("cuGraphLaunch", || {
        with_state(|s| {
            let st = s.stream(hv(h_stream))?;
            let ops = s
                .execs
                .get(&hv(h_exec))
                .ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)?
                .clone();
            if let Some(c) = s.capture_mut(st) {
                if c.invalidated {
                    return Err(CUresult::CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
                }
                c.ops.extend(ops);
                return Ok(());
            }
            for op in &ops {
                s.run_op(op, true)?;
            }
            Ok(())
        })
    })
}

/// `cuGraphUpload`: nothing to upload; the handles are checked.
///
/// # Safety
/// None beyond the C ABI.
#[no_mangle]
pub unsafe extern "C" fn cuGraphUpload(h_exec: CUgraphExec, h_stream: CUstream) -> CUresult {
    api("cuGraphUpload", || {
        with_state(|s| {
            s.stream(hv(h_stream))?;
            s.execs
                .get(&hv(h_exec))
                .map(|_| ())
                .ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)
        })
    })
}

/// `cuGraphExecDestroy`.
///
/// # Safety
/// None beyond the C ABI.
#[no_mangle]
pub unsafe extern "C" fn cuGraphExecDestroy(h_exec: CUgraphExec) -> CUresult {
    api("cuGraphExecDestroy", || {
        with_state(|s| {
            s.live()?;
            s.execs
                .remove(&hv(h_exec))
                .map(|_| ())
                .ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)
        })
    })
}

/// `cuGraphDestroy`: also frees memory allocated and freed inside its capture.
///
/// # Safety
/// None beyond the C ABI.
#[no_mangle]
pub unsafe extern "C" fn cuGraphDestroy(h_graph: CUgraph) -> CUresult {
    api("cuGraphDestroy", || {
        with_state(|s| {
            s.live()?;
            let g = s
                .graphs
                .remove(&hv(h_graph))
                .ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)?;
            for p in g.owned {
                let _ = s.mem().free(p);
            }
            Ok(())
        })
    })
}

// ---------------------------------------------------------------- not emulated

/// `cuMemAllocManaged`: managed memory is not emulated (the device reports
/// `CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY` = 0): `CUDA_ERROR_NOT_SUPPORTED`.
///
/// # Safety
/// None (nothing is written).
#[no_mangle]
pub unsafe extern "C" fn cuMemAllocManaged(
    dptr: *mut CUdeviceptr,
    bytesize: usize,
    flags: c_uint,
) -> CUresult {
    let _ = (dptr, bytesize, flags);
    eprintln!("mfcuda-emu: cuMemAllocManaged: managed memory is not emulated");
    CUresult::CUDA_ERROR_NOT_SUPPORTED
}
