//! Cases for the element-wise kernels and reductions: sigmoid_range, the
//! loss, mse_sum and the optimizer updates.

use cudarc::driver::CudaSlice;

use super::{compare_device, uniform, KernelCase};
use crate::backend::cuda::optim::{update, Step};
use crate::backend::cuda::Gpu;
use crate::compare::Comparison;
use crate::error::Result;
use crate::ops;
use crate::optim::Optimizer;
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

/// A dense optimizer's update at step `t`: parameters, gradient (which the
/// update zeroes) and state, on the host and on the device.
pub(super) struct Update {
    optimizer: Optimizer,
    t: u64,
    host: Vec<Vec<f32>>,
    dev: Vec<CudaSlice<f32>>,
}

impl Update {
    pub(super) fn new(gpu: &Gpu, rng: &mut Mt19937, optimizer: Optimizer, n: usize, t: u64) -> Result<Self> {
        let mut host = vec![uniform(rng, n, -0.05, 0.05), uniform(rng, n, -1e-2, 1e-2)];
        // Non-negative state: second moments and sums must be, momentum may be.
        for _ in 0..optimizer.state_buffers() {
            host.push(uniform(rng, n, 0.0, 1e-4));
        }
        Ok(Update {
            optimizer,
            t,
            dev: host.iter().map(|h| gpu.upload(h)).collect::<Result<_>>()?,
            host,
        })
    }
}

impl KernelCase for Update {
    fn bytes(&self) -> usize {
        // Reads and writes the parameters, the gradient and each state buffer.
        self.host[0].len() * 8 * self.host.len()
    }
    fn run_cpu(&mut self) {
        let (pg, state) = self.host.split_at_mut(2);
        let (p, g) = pg.split_at_mut(1);
        self.optimizer
            .get()
            .step(&mut p[0], &mut g[0], state, 1e-2, self.t, 2e-4);
    }
    fn run_gpu(&mut self, gpu: &Gpu) -> Result<()> {
        let (pg, state) = self.dev.split_at_mut(2);
        let (p, g) = pg.split_at_mut(1);
        let step = Step::Plain { lr: 1e-2, t: self.t };
        update(gpu, self.optimizer, 2e-4, &mut p[0], &mut g[0], state, step)
    }
    fn compare(&self, gpu: &Gpu) -> Result<Comparison> {
        // Element-wise, no fused multiply-add: exact, state and zeroed gradient included.
        let pairs: Vec<(&CudaSlice<f32>, &[f32])> = self
            .dev
            .iter()
            .zip(&self.host)
            .map(|(d, h)| (d, &h[..]))
            .collect();
        compare_device(gpu, &pairs, 0.0, 0.0)
    }
}
