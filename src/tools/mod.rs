//! Tools over the library, above the training loop: they prove, time and
//! show what the kernels do.
//!
//! - [`kernels`]: one file per kernel family (mirroring `kernels/*.cu`):
//!   its cases, which `check` compares and `bench` times from one table, its
//!   whole-family checks, and its versions; [`kernels::checks`] runs every
//!   kernel row of `check`.
//! - [`timing`]: CUDA-event and median timing, and the copy yardstick.
//! - [`check`]: the kernel rows, then one training step per optimizer, GPU
//!   against CPU (`mfcuda check`).
//! - [`bench`](mod@bench): kernels and epochs, with GB/s against the device's copy
//!   bandwidth (`mfcuda bench`); [`scale`]: sparse SGD at ml-25m and Netflix
//!   sizes (`mfcuda bench --scale`); [`bench_emu`]: the kernel table on the
//!   emulated device, with its counters beside the roofline byte model.
//! - [`hogwild`]: what racing warps cost the per-user sparse kernels, in a
//!   lockstep simulation of their schedules.
//! - [`trace`]: every tensor of one step, CPU beside GPU (`train --trace`).
//! - [`versions`]: the runner of `mfcuda bench --versions`: each version of
//!   `dot_forward` and of the sparse update (in `kernels/dot.rs` and
//!   `kernels/sparse.rs`), checked and timed side by side.

pub mod bench;
pub mod bench_emu;
pub mod check;
pub mod hogwild;
pub mod kernels;
pub mod scale;
pub mod timing;
pub mod trace;
pub mod versions;
