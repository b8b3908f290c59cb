//! The dot kernels (`kernels/dot.cu`): the batched dot product, its
//! backward and the bias add, as cases for `check` and `bench`; and the
//! versions of `dot_forward`, checked and timed by `mfcuda bench --versions
//! dot` (`version`).

use cudarc::driver::CudaSlice;

use super::{compare_device, indices, uniform, KernelCase, Speed, VersionCheck, VersionRow};
use crate::backend::cuda::{DotVersion, Gpu};
use crate::compare::{compare_f32, Comparison};
use crate::error::Result;
use crate::ops::{self};
use crate::rng::Mt19937;
use crate::tools::timing::time_gpu;

pub(super) struct DotForward {
    f: usize,
    a: Vec<f32>,
    b: Vec<f32>,
    want: Vec<f32>,
    d_a: CudaSlice<f32>,
    d_b: CudaSlice<f32>,
    got: CudaSlice<f32>,
}

impl DotForward {
    pub(super) fn new(gpu: &Gpu, rng: &mut Mt19937, batch: usize, f: usize) -> Result<Self> {
        let (a, b) = (
            uniform(rng, batch * f, -1.0, 1.0),
            uniform(rng, batch * f, -1.0, 1.0),
        );
        Ok(DotForward {
            f,
            d_a: gpu.upload(&a)?,
            d_b: gpu.upload(&b)?,
            got: gpu.zeros(batch)?,
            want: vec![0.0; batch],
            a,
            b,
        })
    }
}

impl KernelCase for DotForward {
    fn bytes(&self) -> usize {
        self.want.len() * (self.f * 8 + 4)
    }
    fn run_cpu(&mut self) {
        ops::dot_forward(&mut self.want, &self.a, &self.b, self.f);
    }
    fn run_gpu(&mut self, gpu: &Gpu) -> Result<()> {
        let batch = self.want.len();
        gpu.dot_forward(
            &mut self.got.as_view_mut(),
            &self.d_a.as_view(),
            &self.d_b.as_view(),
            batch,
            self.f,
        )
    }
    fn compare(&self, gpu: &Gpu) -> Result<Comparison> {
        // Same summation order and no fused multiply-add: bit-exact.
        compare_device(gpu, &[(&self.got, &self.want[..])], 0.0, 0.0)
    }
}

pub(super) struct DotBackward {
    f: usize,
    a: Vec<f32>,
    b: Vec<f32>,
    g: Vec<f32>,
    want: (Vec<f32>, Vec<f32>),
    d_a: CudaSlice<f32>,
    d_b: CudaSlice<f32>,
    d_g: CudaSlice<f32>,
    got: (CudaSlice<f32>, CudaSlice<f32>),
}

impl DotBackward {
    pub(super) fn new(gpu: &Gpu, rng: &mut Mt19937, batch: usize, f: usize) -> Result<Self> {
        let (a, b) = (
            uniform(rng, batch * f, -1.0, 1.0),
            uniform(rng, batch * f, -1.0, 1.0),
        );
        let g = uniform(rng, batch, -1.0, 1.0);
        Ok(DotBackward {
            f,
            d_a: gpu.upload(&a)?,
            d_b: gpu.upload(&b)?,
            d_g: gpu.upload(&g)?,
            got: (gpu.zeros(batch * f)?, gpu.zeros(batch * f)?),
            want: (vec![0.0; batch * f], vec![0.0; batch * f]),
            a,
            b,
            g,
        })
    }
}

impl KernelCase for DotBackward {
    fn bytes(&self) -> usize {
        self.g.len() * (self.f * 16 + 4)
    }
    fn run_cpu(&mut self) {
        ops::dot_backward(
            &mut self.want.0,
            &mut self.want.1,
            &self.g,
            &self.a,
            &self.b,
            self.f,
        );
    }
    fn run_gpu(&mut self, gpu: &Gpu) -> Result<()> {
        let (ga, gb) = &mut self.got;
        gpu.dot_backward(
            &mut ga.as_view_mut(),
            &mut gb.as_view_mut(),
            &self.d_g.as_view(),
            &self.d_a.as_view(),
            &self.d_b.as_view(),
            self.g.len(),
            self.f,
        )
    }
    fn compare(&self, gpu: &Gpu) -> Result<Comparison> {
        // One product each: exact.
        compare_device(
            gpu,
            &[(&self.got.0, &self.want.0[..]), (&self.got.1, &self.want.1[..])],
            0.0,
            0.0,
        )
    }
}

pub(super) struct BiasAdd {
    bias: Vec<f32>,
    idx: Vec<u32>,
    want: Vec<f32>,
    d_bias: CudaSlice<f32>,
    d_idx: CudaSlice<u32>,
    got: CudaSlice<f32>,
}

impl BiasAdd {
    pub(super) fn new(gpu: &Gpu, rng: &mut Mt19937, b: usize) -> Result<Self> {
        let rows = (b / 8).max(1);
        let (bias, idx) = (uniform(rng, rows, -1.0, 1.0), indices(rng, b, rows));
        let x = uniform(rng, b, -1.0, 1.0);
        Ok(BiasAdd {
            d_bias: gpu.upload(&bias)?,
            d_idx: gpu.upload(&idx)?,
            got: gpu.upload(&x)?,
            want: x,
            bias,
            idx,
        })
    }
}

impl KernelCase for BiasAdd {
    fn bytes(&self) -> usize {
        // The index and the bias read, x read and written.
        16 * self.idx.len()
    }
    fn run_cpu(&mut self) {
        ops::bias_add(&mut self.want, &self.bias, &self.idx);
    }
    fn run_gpu(&mut self, gpu: &Gpu) -> Result<()> {
        gpu.bias_add(
            &mut self.got.as_view_mut(),
            &self.d_bias.as_view(),
            &self.d_idx.as_view(),
        )
    }
    fn compare(&self, gpu: &Gpu) -> Result<Comparison> {
        compare_device(gpu, &[(&self.got, &self.want[..])], 0.0, 0.0)
    }
}

/// One dot version: its output on the timed inputs against the twin's
/// (`atol 1e-5 + rtol 1e-5`: the versions sum in other orders), then on an
/// odd batch of 63 rows (a half-warp with no row), which must leave row 63
/// unwritten; and its time.
#[allow(clippy::too_many_arguments)]
pub(crate) fn version(
    gpu: &Gpu,
    v: DotVersion,
    x: &[f32],
    y: &[f32],
    want: &[f32],
    f: usize,
    quick: bool,
    speed: &Speed<'_>,
) -> Result<VersionRow> {
    let b = want.len();
    let (dx, dy) = (gpu.upload(x)?, gpu.upload(y)?);
    let mut out = gpu.zeros::<f32>(b)?;
    let launch = |out: &mut cudarc::driver::CudaSlice<f32>| {
        gpu.dot_forward_version(v, &mut out.as_view_mut(), &dx.as_view(), &dy.as_view(), b, f)
    };
    launch(&mut out)?;
    let mut got = gpu.download(&out.as_view())?;
    // The odd batch, into a buffer of NaNs: row 63 must stay NaN.
    let odd = 63.min(b - 1);
    let mut small = gpu.upload(&vec![f32::NAN; odd + 1])?;
    gpu.dot_forward_version(v, &mut small.as_view_mut(), &dx.as_view(), &dy.as_view(), odd, f)?;
    let tail = gpu.download(&small.as_view())?;
    let mut all_want = want.to_vec();
    got.extend_from_slice(&tail[..odd]);
    all_want.extend_from_slice(&want[..odd]);
    let mut c = compare_f32(&got, &all_want, 1e-5, 1e-5);
    if !tail[odd].is_nan() {
        c.mismatches += 1;
        c.first.push((got.len(), tail[odd] as f64, f64::NAN));
    }
    let check = VersionCheck::of(&c, v.kernel());
    let (warm, reps) = match (gpu.is_emulated(), quick) {
        (true, _) => (1, 2),
        (false, true) => (3, 20),
        (false, false) => (3, 100),
    };
    let ms = time_gpu(gpu, warm, reps, &mut || launch(&mut out))?;
    Ok(speed(
        "cuda",
        v.about(),
        v.kernel(),
        ms,
        (b * (f * 8 + 4)) as f64,
        b as f64,
        Some(check),
    ))
}
