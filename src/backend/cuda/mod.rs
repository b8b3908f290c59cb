//! The CUDA side: opening a GPU, a Rust wrapper per kernel, and the CUDA
//! training backends.
//!
//! Every wrapper has the name and the arguments of its CPU twin in
//! [`crate::ops`], with device views in place of slices, and launches the
//! kernel of the same name in `kernels/`. The wrappers only enqueue work on
//! the GPU's stream: nothing here waits for the GPU except the explicit
//! read-backs ([`CudaBackend::train_epoch`] reads the epoch's losses once,
//! [`CudaBackend::validate`] one number).
//!
//! cudarc loads libcuda at run time. [`Gpu::open`] probes in an order that
//! never panics: kernels built in, libcuda present, a device visible, a
//! context, then the PTX loaded by the driver.
//!
//! The files, bottom up; other code names their items through this module
//! (`backend::cuda::Gpu`, not `backend::cuda::device::Gpu`):
//!
//! - `device.rs`: the PTX built into the binary ([`PTX`], [`BUILD_NOTE`]),
//!   the kernel table, [`Gpu`] (open, upload, download, memory checks) and
//!   the launch helpers every wrapper shares.
//! - `kernels/`: one [`Gpu`] method per kernel, a file per `kernels/*.cu`
//!   file (`embedding.rs` for `embedding.cu`, and so on), each with its
//!   kernels' limits and earlier versions ([`DotVersion`], [`SparseVersion`]):
//!   `sparse.rs` generic over the factor storage ([`DeviceFactor`],
//!   [`sparse_max_factors`]), [`ranking`] with its batched driver, and
//!   [`optim`] with [`Gpu::optimizer_update`], the one launcher of every
//!   dense optimizer's update kernels, plain or scheduled (each optimizer
//!   declares them in `src/optim/`).
//! - [`memory`]: what a run will allocate, checked before any upload.
//! - [`path`]: which way a dense epoch runs (op by op, graph, lazy SGD,
//!   the Adam epoch), chosen in one place and named in the device line.
//! - `shared.rs`: what every dense path shares (the device, the model,
//!   the rows, the parameters, the optimizer state, the epoch's schedule and
//!   losses) and `EpochPath`, the trait each path below implements over it.
//! - `graph.rs`: the graph path for dot and dotbias, its epoch recorded
//!   once as a CUDA graph and replayed; it holds the graph.
//! - `lazy.rs`: the lazy path for dot and dotbias under SGD at a constant
//!   rate: exact lazy momentum, the whole epoch one kernel of one block; it
//!   holds its stamps and powers of M.
//! - `adam_epoch.rs`: the Adam epoch for dot, dotbias and the net: one
//!   cooperative kernel, the batch on one block and the dense update on the
//!   others, a grid barrier a step; it holds its buffers and why it is off.
//! - `seam.rs`: `DeviceOps`, the models' ops seam ([`crate::model::Ops`])
//!   over device buffers, a kernel an op, and the device workspace it reads.
//! - `dense.rs`: [`CudaBackend`]: op by op (each model's one forward and
//!   backward through `DeviceOps`, then the optimizer step), and the
//!   `Backend` impl, which runs each epoch on its chosen path.
//! - [`sparse`]: sparse SGD for the svd model.

/// Enqueues the kernel `k.$kernel` on `$gpu`'s stream with launch
/// configuration `$cfg` and the arguments in the order of its C signature;
/// an error names the kernel. It replaces the builder, one `.arg` a
/// parameter, and the `map_err` of every plain launch. Launching is unsafe
/// (nothing checks the arguments against the kernel's parameters), so each
/// use stands in an `unsafe` block under the `SAFETY` comment that names the
/// C signature.
macro_rules! launch {
    ($gpu:expr, $kernel:ident, $cfg:expr; $($arg:expr),+ $(,)?) => {{
        let mut builder = $gpu.stream.launch_builder(&$gpu.k.$kernel);
        $( cudarc::driver::PushKernelArg::arg(&mut builder, $arg); )+
        builder
            .launch($cfg)
            .map(|_| ())
            .map_err(|e| $crate::backend::cuda::cuda_err(stringify!($kernel), e))
    }};
}

pub mod memory;
pub mod sparse;

// In scope for the doc links to `CudaBackend`'s `Backend` methods above.
#[cfg(doc)]
use crate::backend::Backend;

mod adam_epoch;
mod dense;
mod device;
pub mod emulated;
mod graph;
mod kernels;
mod lazy;
pub mod path;
mod seam;
mod shared;

pub use dense::{step_tensors, CudaBackend, StepTensors};
pub(crate) use device::cuda_err;
pub use device::{alloc_len, Gpu, BUILD_NOTE, PTX};
pub use kernels::adam_epoch::{coop_grid, launch_outcome, CoopRefusal};
pub use kernels::dot::DotVersion;
pub use kernels::sparse::SparseVersion;
pub use kernels::sparse::{sparse_max_factors, DeviceFactor};
pub use kernels::{optim, ranking};
pub(crate) use shared::DeviceExamples;
