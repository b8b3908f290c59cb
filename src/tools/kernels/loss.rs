//! The loss kernels (`kernels/loss.cu`): the MSE gradient with the batch's
//! mean loss, and the f64 sum of squared errors, as cases for `check` and
//! `bench`.

use cudarc::driver::CudaSlice;

use super::{compare_device, uniform, KernelCase};
use crate::backend::cuda::Gpu;
use crate::compare::Comparison;
use crate::error::Result;
use crate::ops;
use crate::rng::Mt19937;

pub(super) struct MseLossGrad {
    pred: Vec<f32>,
    target: Vec<f32>,
    want: (Vec<f32>, f32),
    d_pred: CudaSlice<f32>,
    d_target: CudaSlice<f32>,
    got: (CudaSlice<f32>, CudaSlice<f32>),
}

impl MseLossGrad {
    pub(super) fn new(gpu: &Gpu, rng: &mut Mt19937, b: usize) -> Result<Self> {
        let (pred, target) = (uniform(rng, b, 0.5, 5.0), uniform(rng, b, 0.5, 5.0));
        Ok(MseLossGrad {
            d_pred: gpu.upload(&pred)?,
            d_target: gpu.upload(&target)?,
            got: (gpu.zeros(b)?, gpu.zeros(1)?),
            want: (vec![0.0; b], 0.0),
            pred,
            target,
        })
    }
}

impl KernelCase for MseLossGrad {
    fn bytes(&self) -> usize {
        12 * self.pred.len() + 4
    }
    fn run_cpu(&mut self) {
        self.want.1 = ops::mse_loss_grad(&mut self.want.0, &self.pred, &self.target);
    }
    fn run_gpu(&mut self, gpu: &Gpu) -> Result<()> {
        let (grad, loss) = &mut self.got;
        gpu.mse_loss_grad(
            &mut grad.as_view_mut(),
            &mut loss.as_view_mut(),
            &self.d_pred.as_view(),
            &self.d_target.as_view(),
        )
    }
    fn compare(&self, gpu: &Gpu) -> Result<Comparison> {
        // The loss is a tree reduction on the device.
        compare_device(
            gpu,
            &[(&self.got.0, &self.want.0[..]), (&self.got.1, &[self.want.1][..])],
            1e-7,
            1e-5,
        )
    }
}

pub(super) struct MseSum {
    pred: Vec<f32>,
    target: Vec<f32>,
    want: f64,
    d_pred: CudaSlice<f32>,
    d_target: CudaSlice<f32>,
    got: CudaSlice<f64>,
}

impl MseSum {
    pub(super) fn new(gpu: &Gpu, rng: &mut Mt19937, n: usize) -> Result<Self> {
        let (pred, target) = (uniform(rng, n, 0.5, 5.0), uniform(rng, n, 0.5, 5.0));
        Ok(MseSum {
            d_pred: gpu.upload(&pred)?,
            d_target: gpu.upload(&target)?,
            got: gpu.zeros(1)?,
            want: 0.0,
            pred,
            target,
        })
    }
}

impl KernelCase for MseSum {
    fn bytes(&self) -> usize {
        8 * self.pred.len()
    }
    fn run_cpu(&mut self) {
        self.want = ops::mse_sum(&self.pred, &self.target);
    }
    fn run_gpu(&mut self, gpu: &Gpu) -> Result<()> {
        gpu.mse_sum(
            &mut self.got.as_view_mut(),
            &self.d_pred.as_view(),
            &self.d_target.as_view(),
            false,
        )
    }
    fn compare(&self, gpu: &Gpu) -> Result<Comparison> {
        // f64 partial sums, added in another order.
        compare_device(gpu, &[(&self.got, &[self.want][..])], 0.0, 1e-9)
    }
}
