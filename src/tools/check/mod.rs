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

use crate::backend::cuda::Gpu;
use crate::compare::Comparison;
use crate::data::Ratings;
use crate::error::Result;
use crate::ops::Storage;
use crate::tools::kernels;

pub mod parity;

pub use parity::{
    lazy_parity, sparse_parity, sparse_runs_parity, sparse_tasks_parity, step_parity, STEP_PARITY,
};

/// One row of the check table.
#[derive(Debug, Clone)]
pub struct CheckRow {
    /// The kernel or check.
    pub kernel: String,
    /// The sizes it ran at.
    pub shape: String,
    /// The comparison against the CPU.
    pub cmp: Comparison,
    /// A line more, where a row explains itself (the parity rows name their
    /// worst element).
    pub note: Option<String>,
}

impl CheckRow {
    /// The table line, and the note below it, indented.
    pub fn line(&self) -> String {
        let line = format!(
            "{:<24} {:<22} {:>12.3e} {:>12.3e}  {}",
            self.kernel,
            self.shape,
            self.cmp.max_abs_err,
            self.cmp.max_rel_err,
            if self.cmp.ok() { "ok" } else { "FAIL" }
        );
        match &self.note {
            Some(note) => format!("{line}\n    {note}"),
            None => line,
        }
    }

    /// The table's header line.
    pub fn header() -> String {
        format!(
            "{:<24} {:<22} {:>12} {:>12}  ok",
            "kernel", "shape", "max abs err", "max rel err"
        )
    }
}

/// Runs every kernel check ([`kernels::checks`]), calling `on_row` as each
/// row is measured.
pub fn kernel_checks(gpu: &Gpu, mut on_row: impl FnMut(&CheckRow)) -> Result<Vec<CheckRow>> {
    let mut rows = Vec::new();
    let mut push = |kernel: &str, shape: String, cmp: Comparison| {
        let row = CheckRow {
            kernel: kernel.to_string(),
            shape,
            cmp,
            note: None,
        };
        on_row(&row);
        rows.push(row);
    };
    kernels::checks(gpu, &mut push)?;
    Ok(rows)
}

/// The whole of `mfcuda check` on `gpu`: every kernel check, then
/// [`step_parity`] for each of [`STEP_PARITY`], [`lazy_parity`] for dot and
/// dotbias, and [`sparse_parity`] for the
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
    for name in ["dot", "dotbias"] {
        show(&lazy_parity(gpu, data, &crate::recipe::find(name)?, 42)?);
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
    for (name, storage) in [("sparse", Storage::F32), ("sparse-bf16", Storage::Bf16)] {
        let recipe = crate::recipe::find(name)?;
        // Whole users on one warp, then heavy users cut into shares of 24
        // (more than MERGE_EVERY, so a share merges inside and at its end).
        for share in [None, Some(24)] {
            show(&match storage {
                Storage::F32 => sparse_tasks_parity::<f32>(gpu, data, &recipe, 42, share)?,
                Storage::Bf16 => sparse_tasks_parity::<half::bf16>(gpu, data, &recipe, 42, share)?,
            });
        }
        show(&match storage {
            Storage::F32 => sparse_runs_parity::<f32>(gpu, data, &recipe, 42)?,
            Storage::Bf16 => sparse_runs_parity::<half::bf16>(gpu, data, &recipe, 42)?,
        });
    }
    Ok(failed)
}
