//! `optim.Adam(betas=(β1, β2), eps=ε, weight_decay=wd)` with coupled L2,
//! dense over every parameter.
//!
//! The arithmetic is [`crate::ops::adam_update`], the CPU twin of
//! `kernels/optim.cu`'s `adam_update` (and of `adam_update_sched` beside
//! it). Its per-step scalars, bias corrections included,
//! are worked out once on the host by [`Adam::scalars_at`].

use serde::{Deserialize, Serialize};

use crate::ops::{adam_update, AdamStep};
use crate::optim::{DenseOptimizer, StepTerms, UpdateKernels};

/// Adam (in a recipe file, a field left out keeps PyTorch's default).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Adam {
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Added to the denominator.
    pub eps: f64,
}

impl Adam {
    /// PyTorch's defaults: β = (0.9, 0.999), ε = 1e-8.
    pub const PYTORCH: Adam = Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    };
    /// As the kernel check runs it.
    pub const EXAMPLE: Adam = Adam::PYTORCH;

    /// The scalars of step `t` (1-based) at learning rate `lr`, as PyTorch
    /// computes them (bias corrections in f64, then rounded to f32).
    pub fn scalars_at(&self, lr: f32, t: u64) -> AdamStep {
        AdamStep::new(lr as f64, self.beta1, self.beta2, self.eps, t)
    }

    /// The scalars that do not change from step to step (the betas and ε);
    /// its step-dependent fields are those of step 1 at lr 0, and unused.
    pub fn constant_scalars(&self) -> AdamStep {
        self.scalars_at(0.0, 1)
    }
}

impl Default for Adam {
    fn default() -> Self {
        Adam::PYTORCH
    }
}

impl DenseOptimizer for Adam {
    fn name(&self) -> &'static str {
        "adam"
    }

    /// The two moments.
    fn state_buffers(&self) -> usize {
        2
    }

    fn step(&self, params: &mut [f32], grads: &mut [f32], state: &mut [Vec<f32>], lr: f32, t: u64, wd: f32) {
        let [m, v] = state else {
            panic!("Adam keeps two state buffers, not {}", state.len());
        };
        adam_update(params, grads, m, v, self.scalars_at(lr, t), wd);
    }

    fn kernels(&self) -> UpdateKernels {
        UpdateKernels {
            file: "optim",
            plain: "adam_update",
            scheduled: "adam_update_sched",
        }
    }

    /// β1, β2, 1 − β1, 1 − β2, ε, step size, √(1 − β2ᵗ).
    fn scalars(&self, lr: f32, t: u64) -> Vec<f32> {
        let s = self.scalars_at(lr, t);
        vec![
            s.beta1,
            s.beta2,
            s.one_minus_beta1,
            s.one_minus_beta2,
            s.eps,
            s.step_size,
            s.bias_correction2_sqrt,
        ]
    }

    /// The step size and √(1 − β2ᵗ).
    fn step_scalars(&self, lr: f32, t: u64) -> [f32; 2] {
        let s = self.scalars_at(lr, t);
        [s.step_size, s.bias_correction2_sqrt]
    }

    /// β1, β2, 1 − β1, 1 − β2, ε.
    fn constants(&self) -> Vec<f32> {
        let s = self.constant_scalars();
        vec![s.beta1, s.beta2, s.one_minus_beta1, s.one_minus_beta2, s.eps]
    }

    /// Adam moves p by lr·m̂/(√v̂ + ε). The δs enter m̂ as the gradients do
    /// (δm̂ = the same moving average of δ), and move the step by up to
    /// lr·2·δm̂/(√v̂ + ε), and at most by 2·lr (a sign flip). The slack is
    /// Σ_s lr_s·min(2, 2·δm̂_s/(√v̂_s + ε)), with v̂ the CPU's own second
    /// moment. So a parameter whose gradients have been rounding noise
    /// (√v̂ ≲ δ) may move by a whole lr on one device and not on the other,
    /// and one with a real gradient may not: this is why Adam, which
    /// divides by √v̂ + ε, needs more than a relative tolerance.
    fn parity_slack(&self, lrs: &[f32], steps: &[StepTerms<'_>], kappa: f64) -> Vec<f64> {
        let n = steps.first().map_or(0, |g| g.grad.len());
        let Adam { beta1, beta2, eps } = *self;
        let mut slack = vec![0.0f64; n];
        for (i, x) in slack.iter_mut().enumerate() {
            // Adam's moments as the CPU ran them, and how much rounding the first one carries.
            let (mut dm, mut v) = (0.0f64, 0.0f64);
            for (s, g) in steps.iter().enumerate() {
                let t = s as i32 + 1;
                dm = beta1 * dm + (1.0 - beta1) * kappa * g.abs_terms[i];
                v = beta2 * v + (1.0 - beta2) * (g.grad[i] as f64).powi(2);
                let (dm_hat, v_hat) = (dm / (1.0 - beta1.powi(t)), v / (1.0 - beta2.powi(t)));
                *x += lrs[s] as f64 * (2.0f64).min(2.0 * dm_hat / (v_hat.sqrt() + eps));
            }
        }
        slack
    }

    fn first_step(&self) -> String {
        "Adam, step 1 (m̂ = d, v̂ = d², so p −= lr·d/(|d| + eps): about lr)".into()
    }

    /// Step 1, and step 10, where the bias corrections have moved.
    fn check_steps(&self) -> &'static [u64] {
        &[1, 10]
    }
}
