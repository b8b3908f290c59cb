//! fastai's sigmoid range (`kernels/sigmoid_range.cu`), forward and
//! backward, as cases for `check` and `bench`.

use cudarc::driver::CudaSlice;

use super::{compare_device, uniform, KernelCase};
use crate::backend::cuda::Gpu;
use crate::compare::Comparison;
use crate::error::Result;
use crate::ops;
use crate::rng::Mt19937;

pub(super) struct SigmoidRange {
    backward: bool,
    x: Vec<f32>,
    g: Vec<f32>,
    want: Vec<f32>,
    d_x: CudaSlice<f32>,
    d_g: CudaSlice<f32>,
    got: CudaSlice<f32>,
}

impl SigmoidRange {
    /// x on ±6, into the range (0.5, 5): both tails of the sigmoid.
    pub(super) fn new(gpu: &Gpu, rng: &mut Mt19937, b: usize, backward: bool) -> Result<Self> {
        let x = uniform(rng, b, -6.0, 6.0);
        let g = uniform(rng, b, -1.0, 1.0);
        Ok(SigmoidRange {
            backward,
            d_x: gpu.upload(&x)?,
            d_g: gpu.upload(&g)?,
            got: gpu.zeros(b)?,
            want: vec![0.0; b],
            x,
            g,
        })
    }
}

impl KernelCase for SigmoidRange {
    fn bytes(&self) -> usize {
        self.x.len() * if self.backward { 12 } else { 8 }
    }
    fn run_cpu(&mut self) {
        if self.backward {
            ops::sigmoid_range_backward(&mut self.want, &self.g, &self.x, 0.5, 5.0);
        } else {
            ops::sigmoid_range_forward(&mut self.want, &self.x, 0.5, 5.0);
        }
    }
    fn run_gpu(&mut self, gpu: &Gpu) -> Result<()> {
        let b = self.x.len();
        if self.backward {
            gpu.sigmoid_range_backward(
                &mut self.got.as_view_mut(),
                &self.d_g.as_view(),
                &self.d_x.as_view(),
                0.5,
                5.0,
                b,
            )
        } else {
            gpu.sigmoid_range_forward(&mut self.got.as_view_mut(), &self.d_x.as_view(), 0.5, 5.0, b)
        }
    }
    fn compare(&self, gpu: &Gpu) -> Result<Comparison> {
        // expf may differ from the host's by 2 ulp; near saturation that moves
        // the gradient by up to 2.7e-7·|dout|·(hi − lo), beyond a relative bound.
        let rtol = if self.backward { 1e-5 } else { 1e-6 };
        compare_device(gpu, &[(&self.got, &self.want[..])], 1e-6, rtol)
    }
}
