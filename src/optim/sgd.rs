//! `optim.SGD(momentum=m, weight_decay=wd)`, dense: every parameter decays
//! and moves with its momentum at every step, in the batch or not.
//!
//! The arithmetic is [`crate::ops::sgd_update`], the CPU twin of
//! `kernels/optim.cu`'s `sgd_update` (and of `sgd_update_sched` in
//! `kernels/fused.cu`, which reads its learning rate from the device).

use crate::ops::sgd_update;

/// Buffers of state, each as long as the parameters: the momentum.
pub const STATE_BUFFERS: usize = 1;

/// One step: `g += wd·p; buf = momentum·buf + g; p −= lr·buf; g = 0`.
pub fn step(
    params: &mut [f32],
    grads: &mut [f32],
    momentum_buf: &mut [f32],
    lr: f32,
    momentum: f32,
    wd: f32,
) {
    sgd_update(params, grads, momentum_buf, lr, momentum, wd);
}

/// The scheduled kernel's per-step scalars: the learning rate, and an unused slot.
pub fn step_scalars(lr: f32) -> [f32; 2] {
    [lr, 0.0]
}
