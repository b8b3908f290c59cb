//! `optim.Adam(betas=(β1, β2), eps=ε, weight_decay=wd)` with coupled L2,
//! dense over every parameter.
//!
//! The arithmetic is [`crate::ops::adam_update`], the CPU twin of
//! `kernels/optim.cu`'s `adam_update` (and of `adam_update_sched` in
//! `kernels/fused.cu`). Its per-step scalars, bias corrections included,
//! are worked out once on the host by [`scalars`].

use crate::ops::{adam_update, AdamStep};

/// Buffers of state, each as long as the parameters: the two moments.
pub const STATE_BUFFERS: usize = 2;

/// The scalars of step `t` (1-based) at learning rate `lr`, as PyTorch
/// computes them (bias corrections in f64, then rounded to f32).
pub fn scalars(lr: f32, beta1: f64, beta2: f64, eps: f64, t: u64) -> AdamStep {
    AdamStep::new(lr as f64, beta1, beta2, eps, t)
}

/// One step at the scalars `s`; zeroes `grads`.
pub fn step(params: &mut [f32], grads: &mut [f32], m: &mut [f32], v: &mut [f32], s: AdamStep, wd: f32) {
    adam_update(params, grads, m, v, s, wd);
}

/// The scheduled kernel's per-step scalars for step `t` at `lr`: the step
/// size and √(1 − β2ᵗ); the rest are [`constants`].
pub fn step_scalars(lr: f32, beta1: f64, beta2: f64, eps: f64, t: u64) -> [f32; 2] {
    let s = scalars(lr, beta1, beta2, eps, t);
    [s.step_size, s.bias_correction2_sqrt]
}

/// The scalars that do not change from step to step (the betas and ε), for
/// the scheduled kernel, which reads the others from [`step_scalars`]; its
/// step-dependent fields are those of step 1 at lr 0, and unused.
pub fn constants(beta1: f64, beta2: f64, eps: f64) -> AdamStep {
    scalars(0.0, beta1, beta2, eps, 1)
}
