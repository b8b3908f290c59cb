//! The wrappers of `kernels/loss.cu`: the MSE loss gradient and the validation sum.
//! Each takes the arguments of its CPU twin in [`crate::ops`], with device
//! views in place of slices.

use cudarc::driver::{CudaView, CudaViewMut};

use crate::backend::cuda::device::{grid, int, one_block};
use crate::backend::cuda::Gpu;
use crate::error::Result;

impl Gpu {
    /// See [`crate::ops::mse_loss_grad`]: the CPU twin returns the loss,
    /// the kernel writes it to `loss[0]` on the device.
    pub fn mse_loss_grad(
        &self,
        dpred: &mut CudaViewMut<'_, f32>,
        loss: &mut CudaViewMut<'_, f32>,
        pred: &CudaView<'_, f32>,
        target: &CudaView<'_, f32>,
    ) -> Result<()> {
        let batch = target.len();
        assert!(dpred.len() >= batch && pred.len() >= batch && !loss.is_empty());
        let b = int("mse_loss_grad", batch)?;
        // SAFETY: matches mse_loss_grad(float*, float*, const float*, const float*, int),
        // launched as the single block the kernel requires.
        unsafe { launch!(self, mse_loss_grad, one_block(); dpred, loss, pred, target, &b) }
    }

    /// See [`crate::ops::mse_sum`]: adds Σ (pred − target)² to `out[0]`,
    /// which the caller zeroes first. `deterministic` runs one block, whose
    /// sum has the same order on every run.
    pub fn mse_sum(
        &self,
        out: &mut CudaViewMut<'_, f64>,
        pred: &CudaView<'_, f32>,
        target: &CudaView<'_, f32>,
        deterministic: bool,
    ) -> Result<()> {
        let n = target.len();
        assert!(pred.len() >= n && !out.is_empty());
        let n_arg = int("mse_sum", n)?;
        // One block sums in a fixed order; many blocks meet in a double atomicAdd.
        let cfg = if deterministic { one_block() } else { grid(n) };
        // SAFETY: matches mse_sum(double*, const float*, const float*, int).
        unsafe { launch!(self, mse_sum, cfg; out, pred, target, &n_arg) }
    }
}
