//! The seam between the training loop and the hardware.
//!
//! The loop in [`crate::train`] owns the schedule, the shuffles and the
//! reporting; a [`Backend`] owns the parameters and optimizer state and runs
//! whole epochs. An epoch is the unit so that a GPU backend can keep every
//! step on the device and read back once per epoch.

pub mod cpu;
pub mod cpu_sparse;
pub mod cuda;

use serde::Serialize;

use std::sync::Arc;

use crate::backend::cpu::CpuBackend;
use crate::backend::cuda::{CudaBackend, Gpu};
use crate::data::Examples;
use crate::error::{Error, Result};
use crate::model::ModelSpec;
use crate::optim::Optimizer;

/// What a backend starts from.
#[derive(Debug, Clone)]
pub struct BackendInit<'a> {
    /// The model.
    pub spec: &'a ModelSpec,
    /// Initial parameters, laid out as `spec.tensors()` says.
    pub params: Vec<f32>,
    /// The optimizer.
    pub optimizer: Optimizer,
    /// Coupled weight decay.
    pub wd: f32,
    /// The training rows.
    pub train: &'a Examples,
    /// The validation rows.
    pub valid: &'a Examples,
    /// Keys the dropout masks.
    pub seed: u64,
}

/// The steps of an epoch of `rows` rows in batches of `batch_size` (the
/// last one partial), checked against the learning rates given for them:
/// one per step, as [`Backend::train_epoch`] takes them.
pub fn epoch_steps(rows: usize, batch_size: usize, lrs: &[f32]) -> Result<usize> {
    let steps = rows.div_ceil(batch_size);
    if lrs.len() != steps {
        return Err(Error::invalid(
            "schedule",
            format!("{} learning rates for {steps} steps", lrs.len()),
        ));
    }
    Ok(steps)
}

/// A place where training runs.
pub trait Backend {
    /// A short description of the device, for the report.
    fn device(&self) -> String;

    /// Runs one epoch: the training rows in the order `order` (indices into
    /// the training set), in batches of `batch_size` with the last batch
    /// partial, step `s` at learning rate `lrs[s]`. `first_step` is the
    /// global index of the epoch's first step (it keys dropout). Returns
    /// each step's mean batch loss. `progress(steps_done, loss)` is called as
    /// steps finish, as often as the backend knows (the GPU: at the end).
    fn train_epoch(
        &mut self,
        order: &[u32],
        batch_size: usize,
        lrs: &[f32],
        first_step: u64,
        progress: &mut dyn FnMut(usize, f32),
    ) -> Result<Vec<f32>>;

    /// The exact mean squared error over all validation rows, in eval mode.
    fn validate(&mut self) -> Result<f64>;

    /// A copy of the current parameters.
    fn params(&mut self) -> Result<Vec<f32>>;
}

/// How the CUDA backend runs; the CPU has one way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GpuOptions {
    /// dot and dotbias: two fused kernels a step, each epoch one CUDA graph.
    pub fused: bool,
    /// No atomics: scatter-adds in the CPU's order and one-block reductions,
    /// so that two runs give the same bits (and the fused path is off).
    pub deterministic: bool,
}

/// Which device the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    /// The GPU when one can be used, else the CPU.
    Auto,
    /// The CPU reference.
    Cpu,
    /// An NVIDIA GPU through CUDA.
    Cuda,
}

/// Builds the backend for `device`. Also returns one line saying which
/// device was picked and why. `gpu` picks how the CUDA backend runs.
pub fn create<'a>(
    device: Device,
    init: BackendInit<'a>,
    gpu_opts: GpuOptions,
) -> Result<(Box<dyn Backend + 'a>, String)> {
    // Sparse SGD: one warp per rating on the GPU, two stratified threads on
    // the CPU. The rest: the CPU reference, or the dense CUDA backend.
    let sparse = matches!(init.optimizer, Optimizer::Sparse { .. });
    let on_cpu = |init: BackendInit<'a>, why: String| -> Result<(Box<dyn Backend + 'a>, String)> {
        if sparse {
            let threads = crate::backend::cpu_sparse::cpu_threads();
            Ok((
                crate::backend::cpu_sparse::cpu_backend(init, threads)?,
                format!("device: cpu, {threads} threads ({why})"),
            ))
        } else {
            Ok((Box::new(CpuBackend::new(init)), format!("device: cpu ({why})")))
        }
    };
    let on_gpu = |gpu: Gpu, init: BackendInit<'a>| -> Result<Box<dyn Backend + 'a>> {
        if sparse {
            crate::backend::cuda::sparse::cuda_backend(Arc::new(gpu), init)
        } else {
            Ok(Box::new(CudaBackend::new(Arc::new(gpu), init, gpu_opts)?))
        }
    };
    // Hogwild does not repeat to the bit; the CPU's stratified threads do.
    let hogwild = "sparse SGD on the GPU is lock-free (Hogwild) and does not repeat to the bit";
    match device {
        Device::Cpu => on_cpu(init, "requested".into()),
        Device::Cuda if sparse && gpu_opts.deterministic => Err(Error::Device {
            device: "cuda".into(),
            msg: format!("--deterministic: {hogwild}; use --device cpu, which does"),
        }),
        Device::Auto if sparse && gpu_opts.deterministic => {
            on_cpu(init, format!("auto: --deterministic, and {hogwild}"))
        }
        Device::Cuda => {
            let gpu = Gpu::open().map_err(|why| Error::Device {
                device: "cuda".into(),
                msg: format!("{why}; use --device cpu"),
            })?;
            let line = format!("device: cuda, {} (requested)", gpu.description);
            Ok((on_gpu(gpu, init)?, line))
        }
        Device::Auto => match Gpu::open() {
            Ok(gpu) => {
                let line = format!("device: cuda, {} (auto: a usable GPU was found)", gpu.description);
                if !sparse {
                    return Ok((on_gpu(gpu, init)?, line));
                }
                // A GPU that cannot take a sparse run (too little memory, too
                // many factors for the kernels) leaves it to the CPU, saying why.
                match on_gpu(gpu, init.clone()) {
                    Ok(be) => Ok((be, line)),
                    Err(e) => on_cpu(init, format!("auto: the GPU cannot run this: {e}")),
                }
            }
            Err(why) => on_cpu(init, format!("auto: {why}")),
        },
    }
}
