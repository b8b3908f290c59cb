//! One [`Gpu`] method per kernel of the dense models and the fused step,
//! in the order of `kernels/README.md` (the optimizer updates are in
//! [`super::optim`]). Each takes the arguments of its CPU
//! twin in [`crate::ops`] with device views in place of slices, only
//! enqueues its launch on the GPU's stream, and names under `SAFETY` the C
//! signature its arguments match.

use cudarc::driver::{CudaFunction, CudaView, CudaViewMut, PushKernelArg};

use crate::backend::cuda::device::{grid, int, one_block};
use crate::backend::cuda::{cuda_err, Gpu};
use crate::error::{Error, Result};
use crate::model::ModelSpec;
use crate::ops::DropoutLayer;

impl Gpu {
    // ------------------------------------------------------------ kernels
    // Each wrapper mirrors the CPU twin of the same name in crate::ops.

    /// See [`crate::ops::dot_forward`]; `batch` rows.
    pub fn dot_forward(
        &self,
        out: &mut CudaViewMut<'_, f32>,
        a: &CudaView<'_, f32>,
        b: &CudaView<'_, f32>,
        batch: usize,
        f: usize,
    ) -> Result<()> {
        assert!(out.len() >= batch && a.len() >= batch * f && b.len() >= batch * f);
        let (n, f_arg) = (int("dot_forward", batch)?, int("dot_forward", f)?);
        // SAFETY: matches dot_forward(float*, const float*, const float*, int, int);
        // sizes asserted above.
        unsafe { launch!(self, dot_forward, grid(batch); out, a, b, &n, &f_arg) }
    }

    /// See [`crate::ops::dot_backward`]; `batch` rows.
    #[allow(clippy::too_many_arguments)]
    pub fn dot_backward(
        &self,
        da: &mut CudaViewMut<'_, f32>,
        db: &mut CudaViewMut<'_, f32>,
        dout: &CudaView<'_, f32>,
        a: &CudaView<'_, f32>,
        b: &CudaView<'_, f32>,
        batch: usize,
        f: usize,
    ) -> Result<()> {
        let n = batch * f;
        assert!(da.len() >= n && db.len() >= n && dout.len() >= batch && a.len() >= n && b.len() >= n);
        let (b_arg, f_arg) = (int("dot_backward", batch)?, int("dot_backward", f)?);
        // SAFETY: matches dot_backward(float*, float*, const float*, const float*,
        // const float*, int, int); sizes asserted above.
        unsafe { launch!(self, dot_backward, grid(n); da, db, dout, a, b, &b_arg, &f_arg) }
    }

    /// See [`crate::ops::bias_add`].
    pub fn bias_add(
        &self,
        x: &mut CudaViewMut<'_, f32>,
        bias: &CudaView<'_, f32>,
        idx: &CudaView<'_, u32>,
    ) -> Result<()> {
        let batch = idx.len();
        assert!(x.len() >= batch);
        let b = int("bias_add", batch)?;
        // SAFETY: matches bias_add(float*, const float*, const uint*, int); every idx
        // is an entry of bias.
        unsafe { launch!(self, bias_add, grid(batch); x, bias, idx, &b) }
    }

    /// See [`crate::ops::gather_rows`].
    #[allow(clippy::too_many_arguments)]
    pub fn gather_rows(
        &self,
        users_out: &mut CudaViewMut<'_, u32>,
        items_out: &mut CudaViewMut<'_, u32>,
        ratings_out: &mut CudaViewMut<'_, f32>,
        users: &CudaView<'_, u32>,
        items: &CudaView<'_, u32>,
        ratings: &CudaView<'_, f32>,
        order: &CudaView<'_, u32>,
    ) -> Result<()> {
        let n = order.len();
        assert!(users_out.len() >= n && items_out.len() >= n && ratings_out.len() >= n);
        let n_arg = int("gather_rows", n)?;
        // SAFETY: matches gather_rows(uint*, uint*, float*, const uint*, const uint*,
        // const float*, const uint*, int); outputs hold n elements and order's
        // entries index the source rows.
        unsafe {
            launch!(self, gather_rows, grid(n); users_out, items_out, ratings_out, users, items, ratings, order, &n_arg)
        }
    }

    /// See [`crate::ops::embedding_gather`].
    pub fn embedding_gather(
        &self,
        out: &mut CudaViewMut<'_, f32>,
        table: &CudaView<'_, f32>,
        idx: &CudaView<'_, u32>,
        f: usize,
    ) -> Result<()> {
        let batch = idx.len();
        assert!(out.len() >= batch * f);
        let (b, f_arg) = (int("embedding_gather", batch)?, int("embedding_gather", f)?);
        // SAFETY: matches embedding_gather(float*, const float*, const uint*, int, int);
        // out holds batch*f floats and every idx is a row of table.
        unsafe { launch!(self, embedding_gather, grid(batch * f); out, table, idx, &b, &f_arg) }
    }

    /// See [`crate::ops::embedding_scatter_add`].
    pub fn embedding_scatter_add(
        &self,
        grad: &mut CudaViewMut<'_, f32>,
        drows: &CudaView<'_, f32>,
        idx: &CudaView<'_, u32>,
        f: usize,
    ) -> Result<()> {
        let batch = idx.len();
        assert!(drows.len() >= batch * f);
        let (b, f_arg) = (
            int("embedding_scatter_add", batch)?,
            int("embedding_scatter_add", f)?,
        );
        // SAFETY: matches embedding_scatter_add(float*, const float*, const uint*, int, int);
        // drows holds batch*f floats and every idx is a row of grad.
        unsafe { launch!(self, embedding_scatter_add, grid(batch * f); grad, drows, idx, &b, &f_arg) }
    }

    /// [`crate::ops::embedding_scatter_add`] without atomics, in the CPU's
    /// order: bit-identical to the CPU twin on every run. `drows` rows are
    /// `row_stride` apart and start at column `col_offset`, so that the two
    /// halves of the net's (B,2F) gradient can be scattered without a copy.
    pub fn embedding_scatter_add_det(
        &self,
        grad: &mut CudaViewMut<'_, f32>,
        drows: &CudaView<'_, f32>,
        idx: &CudaView<'_, u32>,
        f: usize,
        row_stride: usize,
        col_offset: usize,
    ) -> Result<()> {
        let what = "embedding_scatter_add_det";
        let batch = idx.len();
        assert!(col_offset + f <= row_stride && drows.len() >= batch * row_stride);
        let args = [
            int(what, batch)?,
            int(what, f)?,
            int(what, row_stride)?,
            int(what, col_offset)?,
        ];
        // SAFETY: matches embedding_scatter_add_det(float*, const float*, const uint*, int, int,
        // int, int); drows holds batch rows of row_stride floats; every idx is a row of grad.
        unsafe {
            launch!(self, embedding_scatter_add_det, grid(batch * f); grad, drows, idx, &args[0], &args[1], &args[2], &args[3])
        }
    }

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

    /// See [`crate::ops::sigmoid_range_forward`]; `batch` rows.
    pub fn sigmoid_range_forward(
        &self,
        out: &mut CudaViewMut<'_, f32>,
        x: &CudaView<'_, f32>,
        lo: f32,
        hi: f32,
        batch: usize,
    ) -> Result<()> {
        assert!(out.len() >= batch && x.len() >= batch);
        let b = int("sigmoid_range_forward", batch)?;
        // SAFETY: matches sigmoid_range_forward(float*, const float*, float, float, int).
        unsafe { launch!(self, sigmoid_range_forward, grid(batch); out, x, &lo, &hi, &b) }
    }

    /// See [`crate::ops::sigmoid_range_backward`]; `batch` rows.
    pub fn sigmoid_range_backward(
        &self,
        dx: &mut CudaViewMut<'_, f32>,
        dout: &CudaView<'_, f32>,
        x: &CudaView<'_, f32>,
        lo: f32,
        hi: f32,
        batch: usize,
    ) -> Result<()> {
        assert!(dx.len() >= batch && dout.len() >= batch && x.len() >= batch);
        let b = int("sigmoid_range_backward", batch)?;
        // SAFETY: matches sigmoid_range_backward(float*, const float*, const float*,
        // float, float, int).
        unsafe { launch!(self, sigmoid_range_backward, grid(batch); dx, dout, x, &lo, &hi, &b) }
    }

    // ------------------------------------------------------------ the net

    /// See [`crate::ops::concat_gather`].
    pub fn concat_gather(
        &self,
        out: &mut CudaViewMut<'_, f32>,
        utable: &CudaView<'_, f32>,
        uidx: &CudaView<'_, u32>,
        itable: &CudaView<'_, f32>,
        iidx: &CudaView<'_, u32>,
        f: usize,
    ) -> Result<()> {
        let batch = uidx.len();
        assert!(iidx.len() == batch && out.len() >= batch * 2 * f);
        let (b, f_arg) = (int("concat_gather", batch)?, int("concat_gather", f)?);
        // SAFETY: matches concat_gather(float*, const float*, const uint*, const float*,
        // const uint*, int, int); out holds batch*2f floats; indices are table rows.
        unsafe {
            launch!(self, concat_gather, grid(batch * 2 * f); out, utable, uidx, itable, iidx, &b, &f_arg)
        }
    }

    /// See [`crate::ops::concat_scatter_add`].
    #[allow(clippy::too_many_arguments)]
    pub fn concat_scatter_add(
        &self,
        ugrad: &mut CudaViewMut<'_, f32>,
        igrad: &mut CudaViewMut<'_, f32>,
        dx: &CudaView<'_, f32>,
        uidx: &CudaView<'_, u32>,
        iidx: &CudaView<'_, u32>,
        f: usize,
    ) -> Result<()> {
        let batch = uidx.len();
        assert!(iidx.len() == batch && dx.len() >= batch * 2 * f);
        let (b, f_arg) = (int("concat_scatter_add", batch)?, int("concat_scatter_add", f)?);
        // SAFETY: matches concat_scatter_add(float*, float*, const float*, const uint*,
        // const uint*, int, int); dx holds batch*2f floats; indices are table rows.
        unsafe {
            launch!(self, concat_scatter_add, grid(batch * 2 * f); ugrad, igrad, dx, uidx, iidx, &b, &f_arg)
        }
    }

    /// See [`crate::ops::linear_forward`]; `batch` rows, `out_dim` = bias length.
    pub fn linear_forward(
        &self,
        out: &mut CudaViewMut<'_, f32>,
        x: &CudaView<'_, f32>,
        w: &CudaView<'_, f32>,
        bias: &CudaView<'_, f32>,
        batch: usize,
        in_dim: usize,
    ) -> Result<()> {
        let out_dim = bias.len();
        assert!(out.len() >= batch * out_dim && x.len() >= batch * in_dim && w.len() == out_dim * in_dim);
        let what = "linear_forward";
        let (b, i, o) = (int(what, batch)?, int(what, in_dim)?, int(what, out_dim)?);
        // SAFETY: matches linear_forward(float*, const float*, const float*, const float*,
        // int, int, int); sizes asserted above.
        unsafe { launch!(self, linear_forward, grid(batch * out_dim); out, x, w, bias, &b, &i, &o) }
    }

    /// See [`crate::ops::linear_backward_input`]; `batch` rows.
    pub fn linear_backward_input(
        &self,
        dx: &mut CudaViewMut<'_, f32>,
        dout: &CudaView<'_, f32>,
        w: &CudaView<'_, f32>,
        batch: usize,
        in_dim: usize,
    ) -> Result<()> {
        let out_dim = w.len() / in_dim.max(1);
        assert!(in_dim > 0 && w.len() == out_dim * in_dim);
        assert!(dx.len() >= batch * in_dim && dout.len() >= batch * out_dim);
        let what = "linear_backward_input";
        let (b, i, o) = (int(what, batch)?, int(what, in_dim)?, int(what, out_dim)?);
        // SAFETY: matches linear_backward_input(float*, const float*, const float*, int,
        // int, int); sizes asserted above.
        unsafe { launch!(self, linear_backward_input, grid(batch * in_dim); dx, dout, w, &b, &i, &o) }
    }

    /// See [`crate::ops::linear_backward_weight`]; `batch` rows.
    pub fn linear_backward_weight(
        &self,
        dw: &mut CudaViewMut<'_, f32>,
        dout: &CudaView<'_, f32>,
        x: &CudaView<'_, f32>,
        batch: usize,
        in_dim: usize,
    ) -> Result<()> {
        let out_dim = dw.len() / in_dim.max(1);
        assert!(in_dim > 0 && dw.len() == out_dim * in_dim);
        assert!(dout.len() >= batch * out_dim && x.len() >= batch * in_dim);
        let what = "linear_backward_weight";
        let (b, i, o) = (int(what, batch)?, int(what, in_dim)?, int(what, out_dim)?);
        // SAFETY: matches linear_backward_weight(float*, const float*, const float*, int,
        // int, int); dw holds out_dim*in_dim floats, the inputs batch rows.
        unsafe { launch!(self, linear_backward_weight, grid(out_dim * in_dim); dw, dout, x, &b, &i, &o) }
    }

    /// See [`crate::ops::linear_backward_bias`]; `batch` rows.
    pub fn linear_backward_bias(
        &self,
        dbias: &mut CudaViewMut<'_, f32>,
        dout: &CudaView<'_, f32>,
        batch: usize,
    ) -> Result<()> {
        let out_dim = dbias.len();
        assert!(dout.len() >= batch * out_dim);
        let what = "linear_backward_bias";
        let (b, o) = (int(what, batch)?, int(what, out_dim)?);
        // SAFETY: matches linear_backward_bias(float*, const float*, int, int).
        unsafe { launch!(self, linear_backward_bias, grid(out_dim); dbias, dout, &b, &o) }
    }

    /// See [`crate::ops::relu_forward`]: in place over all of `x`.
    pub fn relu_forward(&self, x: &mut CudaViewMut<'_, f32>) -> Result<()> {
        let n = x.len();
        let n_arg = int("relu_forward", n)?;
        // SAFETY: matches relu_forward(float*, int); x holds n floats.
        unsafe { launch!(self, relu_forward, grid(n); x, &n_arg) }
    }

    /// See [`crate::ops::relu_backward`]: over all of `dx`.
    pub fn relu_backward(
        &self,
        dx: &mut CudaViewMut<'_, f32>,
        dout: &CudaView<'_, f32>,
        out: &CudaView<'_, f32>,
    ) -> Result<()> {
        let n = dx.len();
        assert!(dout.len() >= n && out.len() >= n);
        let n_arg = int("relu_backward", n)?;
        // SAFETY: matches relu_backward(float*, const float*, const float*, int).
        unsafe { launch!(self, relu_backward, grid(n); dx, dout, out, &n_arg) }
    }

    /// See [`crate::ops::dropout_forward`]: in place over all of `x`.
    pub fn dropout_forward(
        &self,
        x: &mut CudaViewMut<'_, f32>,
        p: f32,
        seed: u64,
        step: u64,
        layer: DropoutLayer,
    ) -> Result<()> {
        self.dropout(
            &self.k.dropout_forward,
            "dropout_forward",
            x,
            p,
            seed,
            step,
            layer,
        )
    }

    /// See [`crate::ops::dropout_backward`]: in place over all of `dout`.
    pub fn dropout_backward(
        &self,
        dout: &mut CudaViewMut<'_, f32>,
        p: f32,
        seed: u64,
        step: u64,
        layer: DropoutLayer,
    ) -> Result<()> {
        self.dropout(
            &self.k.dropout_backward,
            "dropout_backward",
            dout,
            p,
            seed,
            step,
            layer,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn dropout(
        &self,
        kernel: &CudaFunction,
        what: &str,
        x: &mut CudaViewMut<'_, f32>,
        p: f32,
        seed: u64,
        step: u64,
        layer: DropoutLayer,
    ) -> Result<()> {
        let n = x.len();
        let n_arg = int(what, n)?;
        let mut l = self.stream.launch_builder(kernel);
        l.arg(x).arg(&p).arg(&seed).arg(&step).arg(&layer).arg(&n_arg);
        // SAFETY: matches dropout_*(float*, float, unsigned long long, unsigned long long,
        // unsigned int, int); x holds n floats.
        unsafe { l.launch(grid(n)) }.map_err(|e| cuda_err(what, e))?;
        Ok(())
    }

    // ------------------------------------------------------------ fused path

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
