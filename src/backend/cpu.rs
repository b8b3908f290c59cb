//! The CPU reference backend: one thread, f32, the ops of [`crate::ops`]
//! called in order. Same seed, same bits.
//!
//! Training runs with subnormal floats flushed to zero (x86-64's FTZ and
//! DAZ bits), as CUDA kernels built with `-ftz=true` do. Under Adam with
//! L2, parameters of rarely seen movies decay towards zero and thousands of
//! them, and their moments, become subnormal; unflushed, each such value
//! costs the CPU a microcode assist and an Adam epoch takes 6 s instead of
//! 0.7 s. Flushing moves the final validation MSE by less than 1e-4.

use crate::backend::{Backend, BackendInit};
use crate::data::Examples;
use crate::error::Result;
use crate::model::{DropoutKey, ModelKind, ModelSpec, Workspace};
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
        let dropout = (self.spec.kind == ModelKind::Net).then_some(DropoutKey {
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
        progress: &mut dyn FnMut(usize, f32),
    ) -> Result<Vec<f32>> {
        let _ftz = FlushSubnormals::new();
        let steps = crate::backend::epoch_steps(order.len(), batch_size, lrs)?;
        let mut losses = Vec::with_capacity(steps);
        for (s, rows) in order.chunks(batch_size).enumerate() {
            self.train.gather_into(rows, &mut self.batch);
            let b = &self.batch;
            let dropout = (self.spec.kind == ModelKind::Net).then_some(DropoutKey {
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
            progress(s + 1, loss);
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
