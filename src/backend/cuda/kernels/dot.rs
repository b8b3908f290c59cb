//! The wrappers of `kernels/dot.cu`: the batched dot product, its backward,
//! and the bias add (its earlier versions are in `versions.rs`).
//! Each takes the arguments of its CPU twin in [`crate::ops`], with device
//! views in place of slices.

use cudarc::driver::{CudaView, CudaViewMut};

use crate::backend::cuda::device::{grid, int};
use crate::backend::cuda::Gpu;
use crate::error::Result;

impl Gpu {
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
}
