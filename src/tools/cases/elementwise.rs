//! Cases for the element-wise kernels and reductions: sigmoid_range, the
//! loss, mse_sum and the optimizer updates.

use cudarc::driver::CudaSlice;

use super::{compare_device, uniform, KernelCase};
use crate::backend::cuda::Gpu;
use crate::compare::Comparison;
use crate::error::Result;
use crate::ops::{self, AdamStep};
use crate::optim::adam;
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

/// SGD (`adam: None`) or Adam at step `t`: parameters, state, and the
/// gradient, which the update zeroes.
pub(super) struct Update {
    adam: Option<AdamStep>,
    host: [Vec<f32>; 4],
    dev: [CudaSlice<f32>; 4],
}

impl Update {
    pub(super) fn new(gpu: &Gpu, rng: &mut Mt19937, n: usize, t: Option<u64>) -> Result<Self> {
        let p = uniform(rng, n, -0.05, 0.05);
        let g = uniform(rng, n, -1e-2, 1e-2);
        let m = uniform(rng, n, -1e-2, 1e-2);
        let v = uniform(rng, n, 0.0, 1e-4);
        let adam = t.map(|t| adam::scalars(1e-2, 0.9, 0.999, 1e-8, t));
        Ok(Update {
            adam,
            dev: [gpu.upload(&p)?, gpu.upload(&g)?, gpu.upload(&m)?, gpu.upload(&v)?],
            host: [p, g, m, v],
        })
    }
}

impl KernelCase for Update {
    fn bytes(&self) -> usize {
        // SGD reads p, g, buf and writes them; Adam adds v.
        self.host[0].len() * if self.adam.is_some() { 32 } else { 24 }
    }
    fn run_cpu(&mut self) {
        let [p, g, m, v] = &mut self.host;
        match self.adam {
            None => ops::sgd_update(p, g, m, 0.1, 0.9, 2e-4),
            Some(s) => ops::adam_update(p, g, m, v, s, 2e-4),
        }
    }
    fn run_gpu(&mut self, gpu: &Gpu) -> Result<()> {
        let [p, g, m, v] = &mut self.dev;
        let (p, g, m) = (&mut p.as_view_mut(), &mut g.as_view_mut(), &mut m.as_view_mut());
        match self.adam {
            None => gpu.sgd_update(p, g, m, 0.1, 0.9, 2e-4),
            Some(s) => gpu.adam_update(p, g, m, &mut v.as_view_mut(), s, 2e-4),
        }
    }
    fn compare(&self, gpu: &Gpu) -> Result<Comparison> {
        // Element-wise, no fused multiply-add: exact, state and zeroed gradient included.
        let k = if self.adam.is_some() { 4 } else { 3 };
        let pairs: Vec<(&CudaSlice<f32>, &[f32])> =
            (0..k).map(|i| (&self.dev[i], &self.host[i][..])).collect();
        compare_device(gpu, &pairs, 0.0, 0.0)
    }
}
