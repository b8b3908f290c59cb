//! The embedding kernels (`kernels/embedding.cu`): gather_rows, the gather
//! and its two scatters; their cases for `check` and `bench`.

use cudarc::driver::CudaSlice;

use super::{compare_device, indices, uniform, KernelCase};
use crate::backend::cuda::Gpu;
use crate::compare::Comparison;
use crate::error::Result;
use crate::ops::{self};
use crate::rng::Mt19937;

pub(super) struct GatherRows {
    src: [Vec<u32>; 2],
    ratings: Vec<f32>,
    order: Vec<u32>,
    want: (Vec<u32>, Vec<u32>, Vec<f32>),
    d_src: [CudaSlice<u32>; 2],
    d_ratings: CudaSlice<f32>,
    d_order: CudaSlice<u32>,
    got: (CudaSlice<u32>, CudaSlice<u32>, CudaSlice<f32>),
}

impl GatherRows {
    /// An order with repeats into 2B source rows.
    pub(super) fn new(gpu: &Gpu, rng: &mut Mt19937, b: usize) -> Result<Self> {
        let src = 2 * b;
        let (users, items) = (indices(rng, src, 1000), indices(rng, src, 1000));
        let ratings = uniform(rng, src, 0.5, 5.0);
        let order = indices(rng, b, src);
        Ok(GatherRows {
            d_src: [gpu.upload(&users)?, gpu.upload(&items)?],
            d_ratings: gpu.upload(&ratings)?,
            d_order: gpu.upload(&order)?,
            got: (gpu.zeros(b)?, gpu.zeros(b)?, gpu.zeros(b)?),
            want: (vec![0; b], vec![0; b], vec![0.0; b]),
            src: [users, items],
            ratings,
            order,
        })
    }
}

impl KernelCase for GatherRows {
    fn bytes(&self) -> usize {
        // The order, then 12 bytes read and 12 written a row.
        28 * self.order.len()
    }
    fn run_cpu(&mut self) {
        let (u, i, r) = &mut self.want;
        ops::gather_rows(u, i, r, &self.src[0], &self.src[1], &self.ratings, &self.order);
    }
    fn run_gpu(&mut self, gpu: &Gpu) -> Result<()> {
        let (u, i, r) = &mut self.got;
        gpu.gather_rows(
            &mut u.as_view_mut(),
            &mut i.as_view_mut(),
            &mut r.as_view_mut(),
            &self.d_src[0].as_view(),
            &self.d_src[1].as_view(),
            &self.d_ratings.as_view(),
            &self.d_order.as_view(),
        )
    }
    fn compare(&self, gpu: &Gpu) -> Result<Comparison> {
        let u = compare_device(
            gpu,
            &[(&self.got.0, &self.want.0[..]), (&self.got.1, &self.want.1[..])],
            0.0,
            0.0,
        )?;
        let r = compare_device(gpu, &[(&self.got.2, &self.want.2[..])], 0.0, 0.0)?;
        Ok(if u.ok() { r } else { u })
    }
}

pub(super) struct EmbeddingGather {
    f: usize,
    table: Vec<f32>,
    idx: Vec<u32>,
    want: Vec<f32>,
    d_table: CudaSlice<f32>,
    d_idx: CudaSlice<u32>,
    got: CudaSlice<f32>,
}

impl EmbeddingGather {
    pub(super) fn new(gpu: &Gpu, rng: &mut Mt19937, b: usize, f: usize, rows: usize) -> Result<Self> {
        let table = uniform(rng, rows * f, -1.0, 1.0);
        let idx = indices(rng, b, rows);
        Ok(EmbeddingGather {
            f,
            d_table: gpu.upload(&table)?,
            d_idx: gpu.upload(&idx)?,
            got: gpu.zeros(b * f)?,
            want: vec![0.0; b * f],
            table,
            idx,
        })
    }
}

impl KernelCase for EmbeddingGather {
    fn bytes(&self) -> usize {
        self.idx.len() * (self.f * 8 + 4)
    }
    fn run_cpu(&mut self) {
        ops::embedding_gather(&mut self.want, &self.table, &self.idx, self.f);
    }
    fn run_gpu(&mut self, gpu: &Gpu) -> Result<()> {
        gpu.embedding_gather(
            &mut self.got.as_view_mut(),
            &self.d_table.as_view(),
            &self.d_idx.as_view(),
            self.f,
        )
    }
    fn compare(&self, gpu: &Gpu) -> Result<Comparison> {
        // A copy: exact.
        compare_device(gpu, &[(&self.got, &self.want[..])], 0.0, 0.0)
    }
}

pub(super) struct ScatterAdd {
    f: usize,
    det: bool,
    drows: Vec<f32>,
    idx: Vec<u32>,
    want: Vec<f32>,
    d_drows: CudaSlice<f32>,
    d_idx: CudaSlice<u32>,
    got: CudaSlice<f32>,
}

impl ScatterAdd {
    /// Adds into a non-zero gradient, so that a kernel that overwrites fails.
    pub(super) fn new(
        gpu: &Gpu,
        rng: &mut Mt19937,
        b: usize,
        f: usize,
        rows: usize,
        det: bool,
    ) -> Result<Self> {
        let drows = uniform(rng, b * f, -1.0, 1.0);
        let idx = indices(rng, b, rows);
        let grad = uniform(rng, rows * f, -1.0, 1.0);
        Ok(ScatterAdd {
            f,
            det,
            d_drows: gpu.upload(&drows)?,
            d_idx: gpu.upload(&idx)?,
            got: gpu.upload(&grad)?,
            want: grad,
            drows,
            idx,
        })
    }
}

impl KernelCase for ScatterAdd {
    fn bytes(&self) -> usize {
        // Each row read, and a read-modify-write of its gradient row.
        self.idx.len() * (self.f * 12 + 4)
    }
    fn run_cpu(&mut self) {
        ops::embedding_scatter_add(&mut self.want, &self.drows, &self.idx, self.f);
    }
    fn run_gpu(&mut self, gpu: &Gpu) -> Result<()> {
        let (grad, drows, idx) = (
            &mut self.got.as_view_mut(),
            &self.d_drows.as_view(),
            &self.d_idx.as_view(),
        );
        if self.det {
            gpu.embedding_scatter_add_det(grad, drows, idx, self.f, self.f, 0)
        } else {
            gpu.embedding_scatter_add(grad, drows, idx, self.f)
        }
    }
    fn compare(&self, gpu: &Gpu) -> Result<Comparison> {
        // Atomics add in any order; the deterministic scatter adds in the CPU's, to the bit.
        let tol = if self.det { 0.0 } else { 1e-5 };
        compare_device(gpu, &[(&self.got, &self.want[..])], tol, tol)
    }
}
