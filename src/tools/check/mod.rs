//! `mfcuda check`: every CUDA kernel against its CPU twin, then one training
//! step of a whole model on both backends.
//!
//! Inputs are random, at awkward sizes (batch 1, 63, 64, 65, 1000; factors
//! 1, 31, 50, 64, 129), with tables small enough that rows are hit many
//! times within a batch. Kernels whose arithmetic is the CPU's, operation for
//! operation, are expected to agree to the bit; the tolerances leave room
//! only where the order of a sum differs (atomics, tree reductions) or where
//! CUDA's `expf` may differ from the host's in the last place.

use std::sync::Arc;

use crate::backend::cpu::CpuBackend;
use crate::backend::cuda::{CudaBackend, DeviceFactor, Gpu};
use crate::backend::{Backend, GpuOptions};
use crate::compare::Comparison;
use crate::data::Ratings;
use crate::error::{Error, Result};
use crate::ops::Storage;
use crate::optim::Training;
use crate::recipe::Recipe;
use crate::rng::Mt19937;
use crate::tools::cases::{self, compare_all, widen, Sizes};
pub use crate::tools::cases::{BATCHES, FACTORS, PARAM_COUNTS};
use crate::train::Setup;

mod fused;
mod net;
mod sparse;

/// Embedding widths the sparse kernels are checked at: both load paths (four
/// factors a load when F % 4 == 0, one otherwise), in the narrow kernel (1,
/// 31, 64, 100, 128) and the wide one (50, 132, 512), up to each one's limit.
pub const SPARSE_FACTORS: [usize; 8] = [1, 31, 50, 64, 100, 128, 132, 512];
/// Batch sizes the net's kernels are checked at.
pub const NET_BATCHES: [usize; 3] = [1, 65, 1000];
/// Hidden widths the net's kernels are checked at.
pub const HIDDEN: [usize; 3] = [1, 10, 33];

/// One row of the check table.
#[derive(Debug, Clone)]
pub struct CheckRow {
    /// The kernel or check.
    pub kernel: String,
    /// The sizes it ran at.
    pub shape: String,
    /// The comparison against the CPU.
    pub cmp: Comparison,
}

impl CheckRow {
    /// The table line.
    pub fn line(&self) -> String {
        format!(
            "{:<24} {:<22} {:>12.3e} {:>12.3e}  {}",
            self.kernel,
            self.shape,
            self.cmp.max_abs_err,
            self.cmp.max_rel_err,
            if self.cmp.ok() { "ok" } else { "FAIL" }
        )
    }

    /// The table's header line.
    pub fn header() -> String {
        format!(
            "{:<24} {:<22} {:>12} {:>12}  ok",
            "kernel", "shape", "max abs err", "max rel err"
        )
    }
}

/// Runs every kernel check, calling `on_row` as each row is measured: the
/// shared table of [`cases`] at [`Sizes::check`], then the net's, the fused
/// and the sparse kernels, whose inputs only make sense together.
pub fn kernel_checks(gpu: &Gpu, mut on_row: impl FnMut(&CheckRow)) -> Result<Vec<CheckRow>> {
    let mut rows = Vec::new();
    let mut push = |kernel: &str, shape: String, cmp: Comparison| {
        let row = CheckRow {
            kernel: kernel.to_string(),
            shape,
            cmp,
        };
        on_row(&row);
        rows.push(row);
    };
    let mut rng = Mt19937::new(2024);
    for case in cases::table(&Sizes::check()) {
        let mut k = case.build(gpu, &mut rng)?;
        k.run_cpu();
        k.run_gpu(gpu)?;
        push(case.kernel(), case.shape(), k.compare(gpu)?);
    }
    net::checks(gpu, &mut rng, &mut push)?;
    fused::checks(gpu, &mut rng, &mut push)?;
    sparse::checks::<f32>(gpu, &mut rng, &mut push)?;
    sparse::checks::<half::bf16>(gpu, &mut rng, &mut push)?;
    sparse::group_mean_checks(gpu, &mut rng, &mut push)?;
    Ok(rows)
}

/// Two training steps of `recipe`'s model on `data` (a full batch, then a
/// partial one), on the CPU and on the GPU (op by op, or `fused`) from the
/// same initial parameters and the same batches. Every parameter after the
/// steps must agree within 1e-5 relative (plus 1e-8 absolute, for parameters
/// that land near zero), and so must the batch losses and the validation MSE.
pub fn step_parity(
    gpu: &Arc<Gpu>,
    data: &Ratings,
    recipe: &Recipe,
    seed: u32,
    opts: GpuOptions,
) -> Result<CheckRow> {
    let setup = Setup::notebook(data, recipe, seed)?;
    let mut rng = setup.rng.clone();
    let bs = recipe.batch_size;
    // A full batch, then a partial one of 29 rows (as an epoch ends), at
    // global steps 2^32 − 1 and 2^32 so that dropout's counter carries into
    // its high word; at the stage's peak rate, so that the steps are large.
    let order: Vec<u32> = rng.permutation(setup.train.len())[..bs + 29].to_vec();
    let lr = [recipe.stages[0].lr(); 2];
    let first_step = (1u64 << 32) - 1;
    let Training::Dense { optimizer } = setup.training else {
        return Err(Error::invalid(
            "check",
            format!(
                "step parity runs dense recipes; {} trains by sparse SGD",
                recipe.name
            ),
        ));
    };
    let init = setup.init();
    let mut cpu = CpuBackend::new(init.clone(), optimizer);
    let mut cuda = CudaBackend::new(gpu.clone(), init, optimizer, opts)?;
    let cpu_loss = cpu.train_epoch(&order, bs, &lr, first_step, &mut |_, _| {})?;
    let gpu_loss = cuda.train_epoch(&order, bs, &lr, first_step, &mut |_, _| {})?;
    // Validation runs in eval mode (no dropout) over all 20,167 rows.
    let (cpu_val, gpu_val) = (cpu.validate()?, cuda.validate()?);
    let cmp = compare_all(
        &[
            (widen(&cuda.params()?), widen(&cpu.params()?)),
            (widen(&gpu_loss), widen(&cpu_loss)),
            (vec![gpu_val], vec![cpu_val]),
        ],
        1e-8,
        1e-5,
    );
    Ok(CheckRow {
        kernel: format!(
            "step parity {}{}{}",
            recipe.name,
            if opts.fused { " fused" } else { "" },
            if opts.deterministic { " det" } else { "" }
        ),
        shape: format!("B={bs}+29 P={}", setup.spec.n_params()),
        cmp,
    })
}

/// The whole sparse backend, end to end, against the CPU's: 2,000 ratings of
/// `recipe` (a sparse one) on `data`'s split, through upload, staging, the
/// kernel, the per-step losses, validation and the parameter download. The
/// GPU runs one warp over the loop's order, untiled; the CPU one thread: the
/// same sequence of updates, so every parameter, loss and the validation MSE
/// must agree within the kernel check's tolerances.
pub fn sparse_parity<S: DeviceFactor>(
    gpu: &Arc<Gpu>,
    data: &Ratings,
    recipe: &Recipe,
    seed: u32,
) -> Result<CheckRow> {
    let setup = Setup::notebook(data, recipe, seed)?;
    let mut rng = setup.rng.clone();
    let bs = recipe.batch_size;
    let order: Vec<u32> = rng.permutation(setup.train.len())[..2000.min(setup.train.len())].to_vec();
    let lrs = vec![recipe.stages[0].lr(); order.len().div_ceil(bs)];
    let init = setup.init();
    let mut cpu = crate::backend::cpu_sparse::CpuSparseBackend::<S>::new(init.clone(), 1)?;
    let mut cuda = crate::backend::cuda::sparse::CudaSparseBackend::<S>::new(gpu.clone(), init, false)?;
    cuda.set_max_warps(1);
    let cpu_loss = cpu.train_epoch(&order, bs, &lrs, 0, &mut |_, _| {})?;
    let gpu_loss = cuda.train_epoch(&order, bs, &lrs, 0, &mut |_, _| {})?;
    let (cpu_val, gpu_val) = (cpu.validate()?, cuda.validate()?);
    let rtol = match S::STORAGE {
        Storage::F32 => 1e-5,
        Storage::Bf16 => 1.0 / 128.0,
    };
    let cmp = compare_all(
        &[
            (widen(&cuda.params()?), widen(&cpu.params()?)),
            (widen(&gpu_loss), widen(&cpu_loss)),
            (vec![gpu_val], vec![cpu_val]),
        ],
        1e-5,
        rtol,
    );
    Ok(CheckRow {
        kernel: format!("sparse parity {}", recipe.name),
        shape: format!("R={} F={}", order.len(), setup.spec.factors),
        cmp,
    })
}

/// The dense recipes whose training step [`run_all`] compares, each with how
/// the GPU runs it: op by op, fused, and deterministic (the net has no fused
/// path).
pub const STEP_PARITY: [(&str, GpuOptions); 7] = {
    const PLAIN: GpuOptions = GpuOptions {
        fused: false,
        deterministic: false,
    };
    const FUSED: GpuOptions = GpuOptions {
        fused: true,
        deterministic: false,
    };
    const DET: GpuOptions = GpuOptions {
        fused: false,
        deterministic: true,
    };
    [
        ("dotbias", PLAIN),
        ("learner", PLAIN),
        ("net", PLAIN),
        ("dotbias", FUSED),
        ("learner", FUSED),
        ("dotbias", DET),
        ("net", DET),
    ]
};

/// The whole of `mfcuda check` on `gpu`: every kernel check, then
/// [`step_parity`] for each of [`STEP_PARITY`] and [`sparse_parity`] for the
/// `sparse` (f32) and `sparse-bf16` recipes, all on `data` (the bundled
/// ratings) with seed 42. Calls `on_row` as each row is measured, and returns
/// how many rows failed.
pub fn run_all(gpu: &Arc<Gpu>, data: &Ratings, mut on_row: impl FnMut(&CheckRow)) -> Result<usize> {
    let mut failed = 0;
    let mut show = |row: &CheckRow| {
        if !row.cmp.ok() {
            failed += 1;
        }
        on_row(row);
    };
    kernel_checks(gpu, &mut show)?;
    for (name, opts) in STEP_PARITY {
        show(&step_parity(gpu, data, &crate::recipe::find(name)?, 42, opts)?);
    }
    show(&sparse_parity::<f32>(
        gpu,
        data,
        &crate::recipe::find("sparse")?,
        42,
    )?);
    show(&sparse_parity::<half::bf16>(
        gpu,
        data,
        &crate::recipe::find("sparse-bf16")?,
        42,
    )?);
    Ok(failed)
}
