//! The seam between the training loop and the hardware.
//!
//! The loop in [`crate::train`] owns the schedule, the shuffles and the
//! reporting; a [`Backend`] owns the parameters and optimizer state and runs
//! whole epochs. An epoch is the unit so that a GPU backend can keep every
//! step on the device and read back once per epoch.

pub mod cpu;
pub mod cpu_sparse;
pub mod cuda;
pub mod select;

use std::ops::ControlFlow;

use crate::data::Examples;
use crate::error::{Error, Result};
use crate::model::ModelSpec;

/// What a backend starts from.
#[derive(Debug, Clone)]
pub struct BackendInit<'a> {
    /// The model.
    pub spec: &'a ModelSpec,
    /// Initial parameters, laid out as `spec.tensors()` says.
    pub params: Vec<f32>,
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

/// A `progress` callback that hears nothing and never stops the epoch.
pub fn no_progress(_steps: usize, _loss: f32) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

/// A way a backend ran its epochs, and why it took it (the CUDA backend's
/// paths: `backend::cuda::path`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PathTaken {
    /// The path's name (`graph`).
    pub name: &'static str,
    /// Why it was taken.
    pub reason: String,
}

/// A place where training runs.
pub trait Backend {
    /// A short description of the device, for the report.
    fn device(&self) -> String;

    /// The ways its epochs ran so far, each once, in the order first taken;
    /// empty for a backend with one way.
    fn paths(&self) -> Vec<PathTaken> {
        Vec::new()
    }

    /// Runs one epoch: the training rows in the order `order` (indices into
    /// the training set), in batches of `batch_size` with the last batch
    /// partial, step `s` at learning rate `lrs[s]`. `first_step` is the
    /// global index of the epoch's first step (it keys dropout). Returns
    /// each step's mean batch loss. `progress(steps_done, loss)` is called as
    /// steps finish, as often as the backend knows (the GPU: at the end).
    /// When it answers `Break`, a backend that reports every step stops
    /// after that step and returns the losses so far, fewer than `lrs`.
    fn train_epoch(
        &mut self,
        order: &[u32],
        batch_size: usize,
        lrs: &[f32],
        first_step: u64,
        progress: &mut dyn FnMut(usize, f32) -> ControlFlow<()>,
    ) -> Result<Vec<f32>>;

    /// One epoch in the backend's own order: the training rows grouped into
    /// per-user runs ([`crate::data::runs`]), the runs in the order keyed by
    /// `key`; otherwise as [`Backend::train_epoch`] (`lrs` one a step of
    /// `batch_size` rows, which only group the reported losses). It is sparse
    /// SGD's order; backends that train in a given row order refuse it.
    fn train_epoch_runs(
        &mut self,
        key: u64,
        batch_size: usize,
        lrs: &[f32],
        progress: &mut dyn FnMut(usize, f32) -> ControlFlow<()>,
    ) -> Result<Vec<f32>> {
        let _ = (key, batch_size, lrs, progress);
        Err(Error::invalid(
            "order",
            format!("{} trains in a given row order, not in user runs", self.device()),
        ))
    }

    /// The exact mean squared error over all validation rows, in eval mode.
    fn validate(&mut self) -> Result<f64>;

    /// A copy of the current parameters.
    fn params(&mut self) -> Result<Vec<f32>>;
}

/// How the CUDA backend runs; the CPU has one way. `Default` is op by op;
/// [`GpuOptions::new`] is what a run gets unless it asks otherwise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GpuOptions {
    /// dot and dotbias: two fused kernels a step, each epoch one CUDA graph.
    pub fused: bool,
    /// With `fused`: an epoch of dot or dotbias is one kernel launch where
    /// the batch fits one block: under SGD at a constant rate by exact lazy
    /// momentum (`backend::cuda::lazy`), under Adam by a cooperative kernel
    /// with a grid barrier a step (`backend::cuda::adam_epoch`).
    pub one_kernel: bool,
    /// No atomics: scatter-adds in the CPU's order and one-block reductions,
    /// so that two runs give the same bits (and the fused path is off).
    pub deterministic: bool,
}

impl GpuOptions {
    /// The default for a run: fused and one kernel an epoch (dot, dotbias and
    /// learner; it gives the op-by-op path's val_mse), unless the run asks
    /// for the op-by-op path, the teaching one, or for `deterministic`, which
    /// has no fused path.
    pub fn new(op_by_op: bool, deterministic: bool) -> GpuOptions {
        let fused = !op_by_op && !deterministic;
        GpuOptions {
            fused,
            one_kernel: fused,
            deterministic,
        }
    }
}

/// Which device the user asked for: `auto`, `cpu`, `cuda` or `cuda:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// The first GPU when one can be used, else the CPU.
    Auto,
    /// The CPU reference.
    Cpu,
    /// The NVIDIA GPU of this index (`cuda` is `cuda:0`).
    Cuda(usize),
}

impl std::str::FromStr for Device {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Device, String> {
        match s {
            "auto" => Ok(Device::Auto),
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda(0)),
            _ => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(n)) => Ok(Device::Cuda(n)),
                _ => Err(format!(
                    "'{s}': expected auto, cpu, cuda or cuda:N (N a GPU index from 0)"
                )),
            },
        }
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Auto => f.write_str("auto"),
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(0) => f.write_str("cuda"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}
