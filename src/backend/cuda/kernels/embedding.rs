//! The wrappers of `kernels/embedding.cu`: gathering and scatter-adding
//! embedding rows, and staging an epoch's rows.
//! Each takes the arguments of its CPU twin in [`crate::ops`], with device
//! views in place of slices.

use cudarc::driver::{CudaView, CudaViewMut};

use crate::backend::cuda::device::{grid, int};
use crate::backend::cuda::Gpu;
use crate::error::Result;

impl Gpu {
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
}
