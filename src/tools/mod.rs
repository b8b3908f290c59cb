//! Tools over the library, above the training loop: they prove, time and
//! show what the kernels do.
//!
//! - [`cases`]: one table of kernel cases, each building its inputs once,
//!   that `check` compares and `bench` times.
//! - [`check`]: every kernel against its CPU twin, then one training step per
//!   optimizer, GPU against CPU (`mfcuda check`).
//! - [`bench`](mod@bench): kernels and epochs, with GB/s against the device's copy
//!   bandwidth (`mfcuda bench`); [`scale`]: sparse SGD at ml-25m and Netflix
//!   sizes (`mfcuda bench --scale`); [`bench_emu`]: the kernel table on the
//!   emulated device, with its counters beside the roofline byte model.
//! - [`hogwild`]: what racing warps cost the per-user sparse kernels, in a
//!   lockstep simulation of their schedules.
//! - [`trace`]: every tensor of one step, CPU beside GPU (`train --trace`).
//! - [`versions`]: each version of `dot_forward` and of the sparse update,
//!   checked and timed side by side (`mfcuda bench --versions`).

pub mod bench;
pub mod bench_emu;
pub mod cases;
pub mod check;
pub mod hogwild;
pub mod scale;
pub mod trace;
pub mod versions;
