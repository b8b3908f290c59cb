//! The wrappers of `kernels/fused.cu`: the fused training step of dot and
//! dotbias, and their one-kernel validation.
//! Each takes the arguments of its CPU twin in [`crate::ops`], with device
//! views in place of slices.

use cudarc::driver::{CudaView, CudaViewMut};

use crate::backend::cuda::device::{grid, int};
use crate::backend::cuda::Gpu;
use crate::error::{Error, Result};
use crate::model::ModelSpec;

impl Gpu {
    /// One whole training step of dot or dotbias (see `kernels/fused.cu`):
    /// the batch is rows `[step·bs, min(n, (step+1)·bs))` of the epoch's
    /// ordered rows. Adds the gradient into `grads` and the batch's mean loss
    /// into `losses[step]`. Its CPU twin is [`ModelSpec::loss_and_grad`].
    #[allow(clippy::too_many_arguments)]
    pub fn mf_step_fused(
        &self,
        grads: &mut CudaViewMut<'_, f32>,
        losses: &mut CudaViewMut<'_, f32>,
        params: &CudaView<'_, f32>,
        rows: (&CudaView<'_, u32>, &CudaView<'_, u32>, &CudaView<'_, f32>),
        bs: usize,
        step: usize,
        spec: &ModelSpec,
    ) -> Result<()> {
        let what = "mf_step_fused";
        let (users, items, ratings) = rows;
        let n = users.len();
        if !spec.kind.gpu_kernels().fused_step {
            return Err(Error::invalid(what, "only dot and dotbias have a fused step"));
        }
        let with_bias = i32::from(spec.kind.has_biases());
        assert!(items.len() == n && ratings.len() == n && step * bs < n && losses.len() > step);
        assert!(grads.len() == spec.n_params() && params.len() == spec.n_params());
        let batch = bs.min(n - step * bs);
        let args = [int(what, n)?, int(what, bs)?, int(what, step)?];
        let dims = [
            int(what, spec.n_users)?,
            int(what, spec.n_items)?,
            int(what, spec.factors)?,
        ];
        let (lo, hi) = spec.y_range;
        // SAFETY: matches mf_step_fused(float*, float*, const float*, const uint*, const uint*,
        // const float*, int x7, float, float); params and grads hold the model's tensors in
        // ModelSpec::tensors order; the step's rows lie inside the n rows; one warp per row.
        unsafe {
            launch!(self, mf_step_fused, grid(batch * 32);
                grads, losses, params, users, items, ratings,
                &args[0], &args[1], &args[2], &dims[0], &dims[1], &dims[2],
                &with_bias, &lo, &hi)
        }
    }

    /// Blocks of [`Gpu::mf_validate`]: about what an H100 or H200 holds at
    /// once; a warp-stride loop covers any number of rows.
    pub const VALIDATE_BLOCKS: usize = 1024;

    /// Σ (pred − rating)² over the rows `rows` of dot or dotbias, in one
    /// kernel (see `kernels/fused.cu`), into `out[0]`. `partial` holds
    /// [`Gpu::VALIDATE_BLOCKS`] doubles; `done` is a zeroed counter that the
    /// kernel leaves zeroed. Its CPU twin is [`ModelSpec::mse`] times the
    /// rows.
    pub fn mf_validate(
        &self,
        out: &mut CudaViewMut<'_, f64>,
        partial: &mut CudaViewMut<'_, f64>,
        done: &mut CudaViewMut<'_, u32>,
        params: &CudaView<'_, f32>,
        rows: (&CudaView<'_, u32>, &CudaView<'_, u32>, &CudaView<'_, f32>),
        spec: &ModelSpec,
    ) -> Result<()> {
        let what = "mf_validate";
        let (users, items, ratings) = rows;
        let n = users.len();
        if !spec.kind.gpu_kernels().fused_step {
            return Err(Error::invalid(
                what,
                "only dot and dotbias validate in one kernel",
            ));
        }
        let with_bias = i32::from(spec.kind.has_biases());
        assert!(items.len() == n && ratings.len() == n && !out.is_empty() && !done.is_empty());
        assert!(params.len() == spec.n_params() && partial.len() >= Self::VALIDATE_BLOCKS);
        let dims = [
            int(what, n)?,
            int(what, spec.n_users)?,
            int(what, spec.n_items)?,
            int(what, spec.factors)?,
            with_bias,
        ];
        let (lo, hi) = spec.y_range;
        let mut cfg = grid(n * 32);
        cfg.grid_dim.0 = cfg.grid_dim.0.min(Self::VALIDATE_BLOCKS as u32);
        // SAFETY: matches mf_validate(double*, double*, uint*, const float*, const uint* x2,
        // const float*, int x5, float, float); partial holds a double per block (at most
        // VALIDATE_BLOCKS), params the model's tensors in ModelSpec::tensors order; one
        // warp per row.
        unsafe {
            launch!(self, mf_validate, cfg;
                out, partial, done, params, users, items, ratings,
                &dims[0], &dims[1], &dims[2], &dims[3], &dims[4], &lo, &hi)
        }
    }
}
