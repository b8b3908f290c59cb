//! `optim.SGD(momentum=m, weight_decay=wd)`, dense: every parameter decays
//! and moves with its momentum at every step, in the batch or not.
//!
//! The arithmetic is [`crate::ops::sgd_update`], the CPU twin of
//! `kernels/optim.cu`'s `sgd_update` (and of `sgd_update_sched` beside
//! it, which reads its learning rate from the device).

use serde::{Deserialize, Serialize};

use crate::ops::sgd_update;
use crate::optim::{DenseOptimizer, StepTerms, UpdateKernels};

/// SGD with momentum.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sgd {
    /// Momentum factor.
    pub momentum: f32,
}

impl Sgd {
    /// As the kernel check runs it.
    pub const EXAMPLE: Sgd = Sgd { momentum: 0.9 };
}

impl DenseOptimizer for Sgd {
    fn name(&self) -> &'static str {
        "sgd"
    }

    /// The momentum.
    fn state_buffers(&self) -> usize {
        1
    }

    /// `g += wd·p; buf = momentum·buf + g; p −= lr·buf; g = 0`.
    fn step(&self, params: &mut [f32], grads: &mut [f32], state: &mut [Vec<f32>], lr: f32, _t: u64, wd: f32) {
        sgd_update(params, grads, &mut state[0], lr, self.momentum, wd);
    }

    fn kernels(&self) -> UpdateKernels {
        UpdateKernels {
            file: "optim",
            plain: "sgd_update",
            scheduled: "sgd_update_sched",
        }
    }

    /// lr, momentum.
    fn scalars(&self, lr: f32, _t: u64) -> Vec<f32> {
        vec![lr, self.momentum]
    }

    /// The learning rate, and an unused slot.
    fn step_scalars(&self, lr: f32, _t: u64) -> [f32; 2] {
        [lr, 0.0]
    }

    /// momentum.
    fn constants(&self) -> Vec<f32> {
        vec![self.momentum]
    }

    /// SGD moves p by lr·g, with momentum carrying g into later steps: the
    /// slack is Σ_s lr_s·δ_s·(1 + μ + μ² + … over the steps after s).
    fn parity_slack(&self, lrs: &[f32], steps: &[StepTerms<'_>], kappa: f64) -> Vec<f64> {
        let n = steps.first().map_or(0, |g| g.grad.len());
        let mu = self.momentum as f64;
        let mut slack = vec![0.0f64; n];
        for (s, g) in steps.iter().enumerate() {
            let carry: f64 = (s..steps.len()).map(|k| mu.powi((k - s) as i32)).sum();
            for (x, &a) in slack.iter_mut().zip(g.abs_terms) {
                *x += lrs[s] as f64 * kappa * a * carry;
            }
        }
        slack
    }

    fn first_step(&self) -> String {
        format!(
            "SGD (momentum {}; at step 1 the buffer is the gradient itself): p −= lr·(g + wd·p)",
            self.momentum
        )
    }
}
