//! The optimizer updates (`kernels/optim.cu`, `kernels/adagrad.cu`): each
//! optimizer's plain update as a case for `check` and `bench`, and its
//! scheduled update, which reads its scalars from a device schedule, against
//! the plain CPU step.

use cudarc::driver::CudaSlice;

use super::{compare_device, uniform, KernelCase, PARAM_COUNTS};
use crate::backend::cuda::optim::{update, Step};
use crate::backend::cuda::Gpu;
use crate::compare::Comparison;
use crate::error::Result;
use crate::optim::Optimizer;
use crate::rng::Mt19937;

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

/// Each optimizer's scheduled update against its CPU step.
pub(crate) fn scheduled_checks(
    gpu: &Gpu,
    rng: &mut Mt19937,
    push: &mut impl FnMut(&str, String, Comparison),
) -> Result<()> {
    // Each optimizer's scheduled update, step 3 of an epoch whose schedule
    // holds the scalars of optimizer step 17, against its CPU step there.
    for &n in &PARAM_COUNTS {
        let p = uniform(rng, n, -0.05, 0.05);
        let g = uniform(rng, n, -1e-2, 1e-2);
        // State values of either sign would be fine for momentum, not for
        // second moments and sums: all are drawn non-negative.
        let state0: Vec<f32> = uniform(rng, n, -1e-2, 1e-2).iter().map(|x| x.abs()).collect();
        let state1 = uniform(rng, n, 0.0, 1e-4);
        let (step, t, lr, wd) = (3, 17, 1e-2, 2e-4);
        for optimizer in Optimizer::examples() {
            let o = optimizer.get();
            let mut sched = vec![0f32; 2 * (step + 1)];
            sched[2 * step..].copy_from_slice(&o.step_scalars(lr, t));
            let dsched = gpu.upload(&sched)?;
            let mut state: Vec<Vec<f32>> = [&state0, &state1][..o.state_buffers()]
                .iter()
                .map(|s| s.to_vec())
                .collect();
            let mut dstate = state.iter().map(|s| gpu.upload(s)).collect::<Result<Vec<_>>>()?;
            let (mut dp, mut dg) = (gpu.upload(&p)?, gpu.upload(&g)?);
            let (mut wp, mut wg) = (p.clone(), g.clone());
            o.step(&mut wp, &mut wg, &mut state, lr, t, wd);
            let step = Step::Scheduled {
                sched: &dsched.as_view(),
                s: step,
            };
            update(gpu, optimizer, wd, &mut dp, &mut dg, &mut dstate, step)?;
            let mut pairs = vec![(&dp, &wp[..]), (&dg, &wg[..])];
            pairs.extend(dstate.iter().zip(&state).map(|(d, h)| (d, &h[..])));
            let cmp = compare_device(gpu, &pairs, 0.0, 0.0)?;
            push(o.kernels().scheduled, format!("P={n} t={t}"), cmp);
        }
    }
    Ok(())
}
