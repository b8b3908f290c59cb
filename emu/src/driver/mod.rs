//! The driver API: the `extern "C"` functions cudarc resolves by name from
//! `libcuda.so` (`cuInit`, `cuMemAlloc_v2`, `cuLaunchKernel`, ...), with
//! streams, events and graph capture, over one emulated device.
//!
//! # The device
//! One device (ordinal 0), named [`types::DEVICE_NAME`] ("mfcuda emulated
//! GPU ..."): the word "emulated" is how tests and `bench` know where they
//! run. It reports itself as an sm_90 part like an H200 (compute capability
//! 9.0, warp 32, 1024 threads a block, 48 KiB shared memory a block (227 KiB
//! opted in), 228 KiB a SM, 60 MiB of L2, cooperative launch, memory pools),
//! except for `MULTIPROCESSOR_COUNT` (`MFCUDA_EMU_SMS`, 4 by default) and its
//! memory (`MFCUDA_EMU_MEMORY_MB`). [`types::attribute_value`] is the table.
//! `cuDriverGetVersion` says 13000 (CUDA 13.0).
//!
//! # State and streams
//! One process-wide state behind one mutex: cargo runs tests on many threads,
//! all sharing the primary context. The primary context is made by the first
//! `cuDevicePrimaryCtxRetain` and destroyed, with all its memory, modules,
//! streams, events and graphs, by the last `cuDevicePrimaryCtxRelease_v2`.
//! Every stream runs its work at once, in the calling thread, under the lock
//! (so the host sees it finished when the call returns), except while the
//! stream captures: then launches, copies, memsets, event records and host
//! functions are recorded; `cuStreamEndCapture` makes the graph,
//! `cuGraphInstantiateWithFlags` copies it and `cuGraphLaunch` replays it.
//! A captured host-to-device copy keeps the host *pointer*, as the driver
//! does: each replay reads the host memory as it is then. A call the driver
//! forbids during a capture (a synchronous allocation or copy,
//! `cuCtxSynchronize`, `cuStreamSynchronize` of the capturing stream) returns
//! `CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED` and invalidates the capture, and any
//! error while capturing does too: `cuStreamEndCapture` then answers
//! `CUDA_ERROR_STREAM_CAPTURE_INVALIDATED` with a null graph.
//!
//! # Events are host times
//! `cuEventRecord` stamps [`std::time::Instant::now`]. `cuEventElapsedTime_v2`
//! is therefore the host wall time the emulator spent interpreting the work
//! between two records: NOT a GPU time, and no basis for a bandwidth or a
//! speed-up. Events created with `CU_EVENT_DISABLE_TIMING` (cudarc's default)
//! give `CUDA_ERROR_INVALID_HANDLE` there, as on a card.
//!
//! # Launches and faults
//! `cuLaunchKernel` and `cuLaunchCooperativeKernel` check the launch as the
//! driver does (x dimension only: a y or z extent other than 1 is
//! `CUDA_ERROR_NOT_SUPPORTED`, with a line on stderr naming the kernel; at
//! most 1024 threads a block or the kernel's `.maxntid`; dynamic shared memory
//! within `CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES`; `extra` must be
//! null), copy the parameters (`kernelParams[i]` points at parameter i's bytes,
//! sized by the PTX `.entry`), and run [`crate::exec::run`] with the
//! [`crate::config::Config`] settings (sanitizers, counters, fuzz seed). A
//! cooperative grid larger than [`crate::exec::max_blocks_per_sm`] × SMs is
//! `CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE` (720), as on a card.
//!
//! A fault is printed to stderr prefixed `mfcuda-emu: ` (tool, kernel, grid,
//! block, thread, PTX line, detail), becomes the context's sticky error and is
//! returned by that launch and by every later call on the context, until the
//! primary context's last release (a card's context is dead after a fault, too):
//!
//! | [`crate::exec::FaultKind`] | `CUresult` |
//! |---|---|
//! | `Memcheck` (out of bounds, misaligned, use after free) | `CUDA_ERROR_ILLEGAL_ADDRESS` (700) |
//! | `Deadlock` (a barrier or spin that can never finish) | `CUDA_ERROR_LAUNCH_TIMEOUT` (702) |
//! | `Initcheck`, `Racecheck`, `Synccheck`, `Launch` | `CUDA_ERROR_LAUNCH_FAILED` (719) |
//!
//! (On a card only memcheck's kind stops a kernel; the emulator stops at the
//! first report of any sanitizer so that the bug fails the test that has it.)
//! A panic inside the emulator is `CUDA_ERROR_UNKNOWN` with a line on stderr:
//! no unwind crosses the FFI boundary.
//!
//! # Modules
//! `cuModuleLoadData` takes nvcc's PTX text (NUL-terminated, what cudarc's
//! `Ptx::from_src` passes) and [`crate::ptx::Module::load`]s it. What the
//! interpreter cannot run fails here, with the reason on stderr and
//! `CUDA_ERROR_INVALID_PTX` (218); a PTX ISA newer than 9.0 is
//! `CUDA_ERROR_UNSUPPORTED_PTX_VERSION`; a cubin is `CUDA_ERROR_INVALID_IMAGE`.
//!
//! # Memory
//! [`crate::memory::Memory`] with `MFCUDA_EMU_MEMORY_MB`. Both allocation
//! paths cudarc takes: `cuMemAlloc_v2`/`cuMemFree_v2` and, because the device
//! reports memory pools (as an H200 does, so cudarc takes this one),
//! `cuMemAllocAsync`/`cuMemFreeAsync`. An allocation of 0 bytes is refused on
//! both with `CUDA_ERROR_INVALID_VALUE` (and a line on stderr), as `cuMemAlloc`
//! documents: host code that uploads an empty slice fails here as it may on a card.
//! A host copy outside a live allocation is `CUDA_ERROR_INVALID_VALUE`.
//!
//! # Counters for the host
//! See [`stats::EmuLaunchRecord`] for the struct layout and
//! [`stats::mfcudaEmuLastLaunch`], [`stats::mfcudaEmuTotals`],
//! [`stats::mfcudaEmuKernelCount`], [`stats::mfcudaEmuKernelTotals`] and
//! [`stats::mfcudaEmuResetCounters`]. A host finds them with
//! `dlopen("libcuda.so", RTLD_NOLOAD)` and `dlsym`; their presence is also how
//! it knows it runs on the emulator. With `MFCUDA_EMU_LOG=file`, each launch
//! (graph replays included) appends one line of `key=value` pairs: launch
//! number, kernel, grid, block, shared, cooperative, graph, status, the
//! counters and wall_ms.
//!
//! # Exported functions
//! Errors: `cuGetErrorString`, `cuGetErrorName`. Init: `cuInit`,
//! `cuDriverGetVersion`. Device: `cuDeviceGetCount`, `cuDeviceGet`,
//! `cuDeviceGetName`, `cuDeviceGetAttribute`, `cuDeviceTotalMem_v2`,
//! `cuDeviceGetUuid`, `cuDeviceGetUuid_v2`, `cuDeviceGetDefaultMemPool`,
//! `cuDeviceGetMemPool`. Context: `cuDevicePrimaryCtxRetain`,
//! `cuDevicePrimaryCtxRelease_v2`, `cuDevicePrimaryCtxGetState`,
//! `cuCtxGetCurrent`, `cuCtxSetCurrent`, `cuCtxGetDevice`, `cuCtxSynchronize`,
//! `cuCtxGetStreamPriorityRange`. Memory: `cuMemAlloc_v2`, `cuMemFree_v2`,
//! `cuMemAllocAsync`, `cuMemAllocFromPoolAsync`, `cuMemFreeAsync`,
//! `cuMemGetInfo_v2`, `cuMemcpyHtoD_v2`, `cuMemcpyDtoH_v2`, `cuMemcpyDtoD_v2`,
//! `cuMemcpyHtoDAsync_v2`, `cuMemcpyDtoHAsync_v2`, `cuMemcpyDtoDAsync_v2`,
//! `cuMemcpyPeerAsync`, `cuMemsetD8_v2`, `cuMemsetD16_v2`, `cuMemsetD32_v2`,
//! `cuMemsetD8Async`, `cuMemsetD16Async`, `cuMemsetD32Async`, `cuMemHostAlloc`,
//! `cuMemFreeHost`, `cuMemAllocManaged` (not supported). Streams:
//! `cuStreamCreate`, `cuStreamCreateWithPriority`, `cuStreamDestroy_v2`,
//! `cuStreamSynchronize`, `cuStreamQuery`, `cuStreamWaitEvent`,
//! `cuStreamBeginCapture_v2`, `cuStreamEndCapture`, `cuStreamIsCapturing`,
//! `cuLaunchHostFunc`. Events: `cuEventCreate`, `cuEventRecord`,
//! `cuEventQuery`, `cuEventSynchronize`, `cuEventDestroy_v2`,
//! `cuEventElapsedTime`, `cuEventElapsedTime_v2`. Modules: `cuModuleLoadData`,
//! `cuModuleLoadDataEx`, `cuModuleLoad`, `cuModuleUnload`,
//! `cuModuleGetFunction`, `cuModuleGetGlobal_v2`. Functions:
//! `cuFuncGetAttribute`, `cuFuncSetAttribute`, `cuFuncSetCacheConfig`.
//! Launch: `cuLaunchKernel`, `cuLaunchCooperativeKernel`. Occupancy:
//! `cuOccupancyMaxActiveBlocksPerMultiprocessor`(`WithFlags`),
//! `cuOccupancyAvailableDynamicSMemPerBlock`,
//! `cuOccupancyMaxPotentialBlockSize`(`WithFlags`). Graphs:
//! `cuGraphInstantiateWithFlags`, `cuGraphLaunch`, `cuGraphUpload`,
//! `cuGraphExecDestroy`, `cuGraphDestroy`. A symbol cudarc asks for beyond
//! these panics in cudarc with "Missing symbol X": add it here.

#![allow(non_snake_case)]
#![deny(unsafe_op_in_unsafe_fn)]

mod api;
mod state;
pub mod stats;
pub mod types;

pub use api::*;
pub use stats::{
    mfcudaEmuKernelCount, mfcudaEmuKernelTotals, mfcudaEmuLastLaunch, mfcudaEmuResetCounters,
    mfcudaEmuTotals, EmuLaunchRecord,
};
pub use types::{
    CUcontext, CUdevice, CUdeviceptr, CUevent, CUfunction, CUgraph, CUgraphExec, CUhostFn, CUmemoryPool,
    CUmodule, CUoccupancyB2DSize, CUresult, CUstream, CUuuid,
};
