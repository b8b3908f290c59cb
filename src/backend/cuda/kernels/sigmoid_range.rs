//! The wrappers of `kernels/sigmoid_range.cu`: fastai's sigmoid range, forward and backward.
//! Each takes the arguments of its CPU twin in [`crate::ops`], with device
//! views in place of slices.

use cudarc::driver::{CudaView, CudaViewMut};

use crate::backend::cuda::device::{grid, int};
use crate::backend::cuda::Gpu;
use crate::error::Result;

impl Gpu {
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
}
