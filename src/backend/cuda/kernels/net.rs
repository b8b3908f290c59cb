//! The wrappers of `kernels/net.cu`: the net's concatenated gather and
//! scatter, linear layers, ReLU and dropout.
//! Each takes the arguments of its CPU twin in [`crate::ops`], with device
//! views in place of slices.

use cudarc::driver::{CudaFunction, CudaView, CudaViewMut, PushKernelArg};

use crate::backend::cuda::device::{grid, int};
use crate::backend::cuda::{cuda_err, Gpu};
use crate::error::Result;
use crate::ops::DropoutLayer;

impl Gpu {
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
}
