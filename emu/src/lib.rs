//! # mfcuda-emu: an emulated CUDA driver
//!
//! A `libcuda.so` that runs the PTX nvcc writes for `kernels/*.cu` on the CPU,
//! behind the same driver API the real one exports, so that the unchanged host
//! code (cudarc and `src/backend/cuda/`) launches the same kernels with the same
//! arguments and gets their results back. `scripts/emulate.sh COMMAND` runs any
//! command against it.
//!
//! The layers, bottom up (imports only point down):
//! - [`float`]: the arithmetic of each PTX instruction form, bit for bit (rounding
//!   modes, flush-to-zero, bf16, `ex2.approx`).
//! - [`ptx`]: the PTX parser and the decoded instructions a kernel runs.
//! - [`memory`]: device memory, every access bounds-checked, with the shadow that
//!   initcheck reads.
//! - [`exec`]: the interpreter: threads, warps, blocks, barriers, shuffles, the
//!   scheduler (with its fuzz seed), the sanitizers and the per-launch counters.
//! - [`driver`]: the `extern "C"` functions cudarc calls (`cuInit`, `cuMemAlloc_v2`,
//!   `cuLaunchKernel`, ...), with streams, events and graph capture.
//!
//! What it proves: what the kernels compute, their bounds, shared-memory races,
//! barriers and deadlocks. What it cannot: speed, the hardware's weak memory
//! ordering (the emulator is sequentially consistent), true Hogwild concurrency.

pub mod config;
pub mod driver;
pub mod exec;
pub mod float;
pub mod memory;
pub mod ptx;
