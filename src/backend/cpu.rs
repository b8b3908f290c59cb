//! The CPU reference backend: one thread, f32, the ops of [`crate::ops`]
//! called in order. Same seed, same bits.
//!
//! Training runs with subnormal floats flushed to zero (x86-64's FTZ and
//! DAZ bits), as CUDA kernels built with `-ftz=true` do. Under Adam with
//! L2, parameters of rarely seen movies decay towards zero and thousands of
//! them, and their moments, become subnormal; unflushed, each such value
//! costs the CPU a microcode assist and an Adam epoch takes 6 s instead of
//! 0.7 s. Flushing moves the final validation MSE by less than 1e-4.

use std::ops::ControlFlow;

use crate::backend::{Backend, BackendInit};
use crate::data::Examples;
use crate::error::Result;
use crate::model::{DropoutKey, ModelSpec, Workspace};
use crate::ops;
use crate::optim::lazy_sgd::{self, LazyMomentum};
use crate::optim::sgd::Sgd;
use crate::optim::{Optimizer, OptimizerState};

/// Trains on the CPU.
pub struct CpuBackend<'a> {
    spec: ModelSpec,
    params: Vec<f32>,
    grads: Vec<f32>,
    opt: OptimizerState,
    train: &'a Examples,
    valid: &'a Examples,
    seed: u64,
    ws: Workspace,
    batch: Examples,
}

impl<'a> CpuBackend<'a> {
    /// A backend holding `init`'s parameters and `optimizer`'s zeroed state.
    pub fn new(init: BackendInit<'a>, optimizer: Optimizer) -> Self {
        let n = init.params.len();
        CpuBackend {
            spec: init.spec.clone(),
            grads: vec![0.0; n],
            opt: OptimizerState::new(optimizer, init.wd, n),
            params: init.params,
            train: init.train,
            valid: init.valid,
            seed: init.seed,
            ws: Workspace::default(),
            batch: Examples::default(),
        }
    }
}

/// One step's gradient on the CPU, and how large the terms that summed to
/// it were.
#[derive(Debug, Clone, PartialEq)]
pub struct StepGradient {
    /// The loss gradient plus the coupled weight decay `wd·p`: what the
    /// optimizer sees.
    pub grad: Vec<f32>,
    /// Per parameter, Σ |term| over the products that summed to `grad`, down
    /// to the last multiply: every path from the loss back to the parameter,
    /// through every batch row and hidden unit, and the weight decay. A sum
    /// that cancels is small against its terms, and then another device's
    /// rounding (a different order of sums, `expf` in the last place) moves
    /// it by a large fraction of itself.
    pub abs_terms: Vec<f64>,
}

impl CpuBackend<'_> {
    /// The gradient the optimizer would see on the training rows `rows` at
    /// global step `step` (which keys dropout), and the size of its terms.
    /// Takes no step. `mfcuda check` reads it to explain and bound the
    /// difference between two devices' steps.
    ///
    /// The terms come from a second backward pass with every factor replaced
    /// by its absolute value: the parameters, the loss gradient and the
    /// activations the backward pass multiplies by. That pass computes
    /// Σ_paths Π |factor|, the sum of the absolute values of every product
    /// that the real pass adds up. (The activations it only tests, ReLU's
    /// sign and the sigmoid's slope, are the same for x and |x|: ReLU's
    /// outputs are never negative and s(1 − s) is even in x.)
    pub fn gradient(&mut self, rows: &[u32], step: u64) -> StepGradient {
        let _ftz = FlushSubnormals::new();
        self.train.gather_into(rows, &mut self.batch);
        let b = &self.batch;
        let dropout = self.spec.kind.has_dropout().then_some(DropoutKey {
            seed: self.seed,
            step,
        });
        let n = self.params.len();
        let mut grad = vec![0.0; n];
        self.spec.loss_and_grad(
            &self.params,
            &mut grad,
            &b.users,
            &b.items,
            &b.ratings,
            &mut self.ws,
            dropout,
        );
        let wd = self.opt.wd;
        for (g, &p) in grad.iter_mut().zip(&self.params) {
            *g += wd * p;
        }
        let ws = &mut self.ws;
        for v in [
            &mut ws.dpred,
            &mut ws.u,
            &mut ws.m,
            &mut ws.x,
            &mut ws.cat,
            &mut ws.h,
            &mut ws.h_drop,
        ] {
            v.iter_mut().for_each(|x| *x = x.abs());
        }
        let abs_params: Vec<f32> = self.params.iter().map(|p| p.abs()).collect();
        let mut abs_grad = vec![0.0; n];
        self.spec
            .backward(&abs_params, &mut abs_grad, &b.users, &b.items, ws, dropout);
        let abs_terms = abs_grad
            .iter()
            .zip(&self.params)
            .map(|(&g, &p)| g as f64 + (wd * p).abs() as f64)
            .collect();
        StepGradient { grad, abs_terms }
    }
}

impl CpuBackend<'_> {
    /// [`Backend::train_epoch`] with exact lazy momentum
    /// ([`crate::optim::lazy_sgd`]): each step updates only the embedding
    /// rows (`u`, `m`, and the biases `ub`, `mb`) its batch touches, after
    /// bringing them up to date, and every other tensor densely; at the
    /// epoch's end every row is brought up to date. The CPU twin of the GPU's
    /// lazy path, and its proof: `tests/lazy_sgd.rs` runs it against the
    /// dense epoch. Falls back to the dense epoch unless the optimizer is SGD
    /// and the epoch's learning rate is constant. Returns each step's loss,
    /// and whether the epoch ran lazily.
    pub fn train_epoch_lazy(
        &mut self,
        order: &[u32],
        batch_size: usize,
        lrs: &[f32],
        first_step: u64,
    ) -> Result<(Vec<f32>, bool)> {
        let (Optimizer::Sgd(Sgd { momentum }), Some(lr)) = (self.opt.optimizer, lazy_sgd::constant_lr(lrs))
        else {
            return Ok((
                self.train_epoch(
                    order,
                    batch_size,
                    lrs,
                    first_step,
                    &mut crate::backend::no_progress,
                )?,
                false,
            ));
        };
        let _ftz = FlushSubnormals::new();
        let steps = crate::backend::epoch_steps(order.len(), batch_size, lrs)?;
        let wd = self.opt.wd;
        let powers = LazyMomentum::new(lr, momentum, wd, steps);
        // Each embedding row's last step brought up to date, by users and by items.
        let mut last = [vec![0usize; self.spec.n_users], vec![0usize; self.spec.n_items]];
        let tensors = self.spec.tensors();
        // Which index picks a tensor's rows: 0 users, 1 items; None: dense.
        let by = |name: &str| match name {
            "u" | "ub" => Some(0),
            "m" | "mb" => Some(1),
            _ => None,
        };
        let (params, bufs, grads) = (&mut self.params, &mut self.opt.state[0], &mut self.grads);
        // Rows [start, end) of every tensor indexed by `side`, row `r`.
        let row_ranges = |side: usize, r: usize| {
            tensors
                .iter()
                .filter(move |t| by(t.name) == Some(side))
                .map(move |t| {
                    let w = t.len() / t.shape[0];
                    let start = t.offset + r * w;
                    start..start + w
                })
        };
        let mut losses = Vec::with_capacity(steps);
        let mut seen: [Vec<u32>; 2] = [Vec::new(), Vec::new()];
        for (s, rows) in order.chunks(batch_size).enumerate() {
            self.train.gather_into(rows, &mut self.batch);
            let b = &self.batch;
            for (side, ids) in [&b.users, &b.items].into_iter().enumerate() {
                seen[side].clear();
                seen[side].extend(ids);
                seen[side].sort_unstable();
                seen[side].dedup();
                for &r in &seen[side] {
                    let k = s - last[side][r as usize];
                    if k > 0 {
                        for range in row_ranges(side, r as usize) {
                            ops::sgd_catch_up(&mut params[range.clone()], &mut bufs[range], powers.power(k));
                        }
                    }
                }
            }
            let dropout = self.spec.kind.has_dropout().then_some(DropoutKey {
                seed: self.seed,
                step: first_step + s as u64,
            });
            let loss = self.spec.loss_and_grad(
                params,
                grads,
                &b.users,
                &b.items,
                &b.ratings,
                &mut self.ws,
                dropout,
            );
            // The touched rows step as the dense update would; the rest wait.
            for (side, ids) in seen.iter().enumerate() {
                for &r in ids {
                    for range in row_ranges(side, r as usize) {
                        let (p, g, v) = (
                            &mut params[range.clone()],
                            &mut grads[range.clone()],
                            &mut bufs[range],
                        );
                        ops::sgd_update(p, g, v, lr, momentum, wd);
                    }
                    last[side][r as usize] = s + 1;
                }
            }
            for t in tensors.iter().filter(|t| by(t.name).is_none()) {
                let r = t.range();
                ops::sgd_update(
                    &mut params[r.clone()],
                    &mut grads[r.clone()],
                    &mut bufs[r],
                    lr,
                    momentum,
                    wd,
                );
            }
            losses.push(loss);
        }
        // The epoch's end: every row up to date, for validation, a save or a new rate.
        for (side, last) in last.iter().enumerate() {
            for (r, &l) in last.iter().enumerate() {
                if l < steps {
                    for range in row_ranges(side, r) {
                        ops::sgd_catch_up(
                            &mut params[range.clone()],
                            &mut bufs[range],
                            powers.power(steps - l),
                        );
                    }
                }
            }
        }
        self.opt.t += steps as u64;
        Ok((losses, true))
    }
}

impl Backend for CpuBackend<'_> {
    fn device(&self) -> String {
        "cpu".into()
    }

    fn train_epoch(
        &mut self,
        order: &[u32],
        batch_size: usize,
        lrs: &[f32],
        first_step: u64,
        progress: &mut dyn FnMut(usize, f32) -> ControlFlow<()>,
    ) -> Result<Vec<f32>> {
        let _ftz = FlushSubnormals::new();
        let steps = crate::backend::epoch_steps(order.len(), batch_size, lrs)?;
        let mut losses = Vec::with_capacity(steps);
        for (s, rows) in order.chunks(batch_size).enumerate() {
            self.train.gather_into(rows, &mut self.batch);
            let b = &self.batch;
            let dropout = self.spec.kind.has_dropout().then_some(DropoutKey {
                seed: self.seed,
                step: first_step + s as u64,
            });
            let loss = self.spec.loss_and_grad(
                &self.params,
                &mut self.grads,
                &b.users,
                &b.items,
                &b.ratings,
                &mut self.ws,
                dropout,
            );
            self.opt.step(&mut self.params, &mut self.grads, lrs[s]);
            losses.push(loss);
            if progress(s + 1, loss).is_break() {
                break;
            }
        }
        Ok(losses)
    }

    fn validate(&mut self) -> Result<f64> {
        let _ftz = FlushSubnormals::new();
        Ok(self.spec.mse(&self.params, self.valid, &mut self.ws))
    }

    fn params(&mut self) -> Result<Vec<f32>> {
        Ok(self.params.clone())
    }
}

/// While alive, the current thread flushes subnormal inputs and results of
/// f32 arithmetic to zero; dropping it restores the previous mode.
struct FlushSubnormals {
    #[cfg(target_arch = "x86_64")]
    saved: u32,
}

impl FlushSubnormals {
    /// MXCSR bit 15 (flush to zero) and bit 6 (denormals are zero).
    #[cfg(target_arch = "x86_64")]
    const FTZ_DAZ: u32 = 0x8040;

    fn new() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            let saved = read_mxcsr();
            write_mxcsr(saved | Self::FTZ_DAZ);
            FlushSubnormals { saved }
        }
        #[cfg(not(target_arch = "x86_64"))]
        FlushSubnormals {}
    }
}

impl Drop for FlushSubnormals {
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        write_mxcsr(self.saved);
    }
}

#[cfg(target_arch = "x86_64")]
fn read_mxcsr() -> u32 {
    let mut csr = 0u32;
    // SAFETY: stmxcsr stores the 32-bit SSE control register into `csr`,
    // a valid, writable, 4-byte-aligned local.
    unsafe { std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack)) };
    csr
}

#[cfg(target_arch = "x86_64")]
fn write_mxcsr(csr: u32) {
    // SAFETY: ldmxcsr loads a control word read by `read_mxcsr` with only
    // the FTZ/DAZ mode bits changed; no reserved bit is set.
    unsafe { std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, readonly)) };
}
