//! `optim.Adagrad(lr, lr_decay, weight_decay, initial_accumulator_value,
//! eps)`, dense, with PyTorch's semantics (`torch/optim/adagrad.py`):
//!
//! clr = lr / (1 + (t − 1)·lr_decay);  d = g + wd·p;  sum += d²;
//! p −= clr·(d / (√sum + ε));  g = 0
//!
//! with `sum` starting at `initial_accumulator_value`. [`adagrad_update`]
//! is the CPU twin of `kernels/adagrad.cu`'s `adagrad_update` and
//! `adagrad_update_sched`. This file is the whole of Adagrad: its
//! hyperparameters, its state, its CPU step, its kernels' arguments, its
//! parity tolerance, and its tests.

use serde::{Deserialize, Serialize};

use crate::optim::{DenseOptimizer, StepTerms, UpdateKernels};

/// Adagrad.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Adagrad {
    /// The learning rate of step t is lr / (1 + (t − 1)·lr_decay).
    pub lr_decay: f64,
    /// Added to the denominator.
    pub eps: f64,
    /// Where each parameter's sum of squared gradients starts.
    pub initial_accumulator_value: f32,
}

impl Default for Adagrad {
    /// PyTorch's defaults: no decay, ε = 1e-10, the sums starting at 0.
    fn default() -> Self {
        Adagrad {
            lr_decay: 0.0,
            eps: 1e-10,
            initial_accumulator_value: 0.0,
        }
    }
}

impl Adagrad {
    /// As the kernel check runs it: every hyperparameter away from 0.
    pub const EXAMPLE: Adagrad = Adagrad {
        lr_decay: 0.01,
        eps: 1e-10,
        initial_accumulator_value: 0.1,
    };

    /// The learning rate of step `t` (1-based): computed in f64, as PyTorch
    /// does with Python floats, then rounded to f32 once.
    pub fn clr(&self, lr: f32, t: u64) -> f32 {
        (lr as f64 / (1.0 + (t.saturating_sub(1)) as f64 * self.lr_decay)) as f32
    }
}

/// One Adagrad step at the step's learning rate `clr`, fused with zeroing
/// the gradient.
///
/// params, grads, sums: (P)
pub fn adagrad_update(params: &mut [f32], grads: &mut [f32], sums: &mut [f32], clr: f32, eps: f32, wd: f32) {
    let it = params.iter_mut().zip(grads.iter_mut()).zip(sums.iter_mut());
    for ((p, g), s) in it {
        let d = *g + wd * *p;
        *s += d * d;
        *p -= clr * (d / (s.sqrt() + eps));
        *g = 0.0;
    }
}

impl DenseOptimizer for Adagrad {
    fn name(&self) -> &'static str {
        "adagrad"
    }

    /// The sums of squared gradients.
    fn state_buffers(&self) -> usize {
        1
    }

    fn initial_state(&self) -> f32 {
        self.initial_accumulator_value
    }

    fn step(&self, params: &mut [f32], grads: &mut [f32], state: &mut [Vec<f32>], lr: f32, t: u64, wd: f32) {
        adagrad_update(params, grads, &mut state[0], self.clr(lr, t), self.eps as f32, wd);
    }

    fn kernels(&self) -> UpdateKernels {
        UpdateKernels {
            file: "adagrad",
            plain: "adagrad_update",
            scheduled: "adagrad_update_sched",
        }
    }

    /// clr, ε.
    fn scalars(&self, lr: f32, t: u64) -> Vec<f32> {
        vec![self.clr(lr, t), self.eps as f32]
    }

    /// clr, and an unused slot.
    fn step_scalars(&self, lr: f32, t: u64) -> [f32; 2] {
        [self.clr(lr, t), 0.0]
    }

    /// ε.
    fn constants(&self) -> Vec<f32> {
        vec![self.eps as f32]
    }

    /// Adagrad moves p by clr·d/(√S + ε), at most clr (S ≥ d²). A rounding
    /// δ in d moves that step by up to clr·2δ/(√S + ε), and at most by
    /// 2·clr (a sign flip); it also moves S, by up to 2|d|δ + δ², which
    /// moves every later step by up to clr·ΔS/(2S). The slack sums both,
    /// with S the CPU's own sums.
    fn parity_slack(&self, lrs: &[f32], steps: &[StepTerms<'_>], kappa: f64) -> Vec<f64> {
        let n = steps.first().map_or(0, |g| g.grad.len());
        let eps = self.eps;
        let mut slack = vec![0.0f64; n];
        for (i, x) in slack.iter_mut().enumerate() {
            let (mut sum, mut dsum) = (self.initial_accumulator_value as f64, 0.0f64);
            for (s, g) in steps.iter().enumerate() {
                let clr = self.clr(lrs[s], s as u64 + 1) as f64;
                let (d, delta) = (g.grad[i] as f64, kappa * g.abs_terms[i]);
                sum += d * d;
                dsum += 2.0 * d.abs() * delta + delta * delta;
                let root = sum.sqrt() + eps;
                let later = if sum > 0.0 { dsum / (2.0 * sum) } else { 0.0 };
                *x += clr * (2.0f64).min(2.0 * delta / root + later);
            }
        }
        slack
    }

    fn first_step(&self) -> String {
        format!(
            "Adagrad, step 1 (sum = {} + d², so p −= lr·d/√sum: at most lr)",
            self.initial_accumulator_value
        )
    }

    /// Step 1, and step 10, where lr_decay has cut the rate.
    fn check_steps(&self) -> &'static [u64] {
        &[1, 10]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::compare;
    use crate::optim::{Optimizer, OptimizerState};

    /// Two steps against PyTorch's algorithm worked by hand in f64: lr 0.1,
    /// lr_decay 0.5, wd 0.1, ε 1e-10, the sum starting at 0.1, p = 1.
    /// Step 1, grad 0.5: clr 0.1, d = 0.6, sum = 0.46, p = 1 − 0.1·0.6/√0.46.
    /// Step 2, grad −0.5: clr = 0.1/1.5, d = −0.5 + 0.1·p, sum += d².
    #[test]
    fn two_steps_match_pytorchs_algorithm() {
        let adagrad = Adagrad {
            lr_decay: 0.5,
            eps: 1e-10,
            initial_accumulator_value: 0.1,
        };
        let mut opt = OptimizerState::new(Optimizer::Adagrad(adagrad), 0.1, 1);
        assert_eq!(
            opt.state,
            vec![vec![0.1f32]],
            "the sums start at initial_accumulator_value"
        );
        let (mut p, mut g) = (vec![1.0f32], vec![0.5f32]);
        opt.step(&mut p, &mut g, 0.1);
        assert_eq!(g, vec![0.0], "the fused update zeroes the gradient");
        let want = |got: f32, want: f64, what: &str| {
            let c = compare(&[got as f64], &[want], 1e-7, 1e-6);
            assert!(c.ok(), "{}", c.report(what));
        };
        want(p[0], 0.9115348263201052, "step 1");
        want(opt.state[0][0], 0.46, "sum after step 1");
        g[0] = -0.5;
        opt.step(&mut p, &mut g, 0.1);
        want(p[0], 0.9459524938218843, "step 2");
        want(opt.state[0][0], 0.6271554747639336, "sum after step 2");
    }

    #[test]
    fn the_rate_decays_as_pytorchs_and_the_defaults_are_pytorchs() {
        let a = Adagrad {
            lr_decay: 0.01,
            ..Adagrad::default()
        };
        assert_eq!(a.clr(0.1, 1), 0.1);
        assert_eq!(a.clr(0.1, 11), (0.1f64 / 1.1) as f32);
        assert_eq!(Adagrad::default().eps, 1e-10);
        assert_eq!(Adagrad::default().initial_accumulator_value, 0.0);
        // The scheduled kernel reads the same rate the plain one is given.
        assert_eq!(a.step_scalars(0.1, 11)[0], a.scalars(0.1, 11)[0]);
    }

    #[test]
    fn a_recipe_file_names_it_by_kind_with_pytorchs_defaults() {
        let o: Optimizer = toml::from_str("kind = \"adagrad\"\nlr_decay = 0.001").expect("parses");
        assert_eq!(
            o,
            Optimizer::Adagrad(Adagrad {
                lr_decay: 0.001,
                ..Adagrad::default()
            })
        );
        let bad = toml::from_str::<Optimizer>("kind = \"adagrad\"\nlr_dacay = 0.001");
        assert!(bad.is_err(), "a misspelt field is refused");
    }

    /// The slack grows with the rounding and stays within 2·lr a step.
    #[test]
    fn the_parity_slack_is_bounded_by_two_rates_a_step() {
        let a = Adagrad::EXAMPLE;
        let grad = [0.5f32, 0.0];
        let terms = [0.5f64, 1e-3];
        let steps = vec![
            StepTerms {
                grad: &grad,
                abs_terms: &terms,
            };
            3
        ];
        let small = a.parity_slack(&[0.1; 3], &steps, 1e-7);
        let large = a.parity_slack(&[0.1; 3], &steps, 1e-3);
        assert!(small[0] > 0.0 && small[0] < large[0], "{small:?} {large:?}");
        assert!(large.iter().all(|&x| x <= 3.0 * 2.0 * 0.1 + 1e-12), "{large:?}");
    }
}
