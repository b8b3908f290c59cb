//! How a run updates its parameters ([`Training`]): a dense optimizer with
//! PyTorch's semantics, one file each ([`sgd`], [`adam`]), or sparse SGD one
//! rating at a time; and fastai's learning-rate [`schedule`].
//!
//! Under a dense optimizer the embeddings are ordinary dense parameters, so
//! every row decays and moves with its momentum at every step, whether or
//! not it is in the batch.

pub mod adam;
pub mod lazy_sgd;
pub mod schedule;
pub mod sgd;

use serde::Serialize;

use crate::ops::Storage;

/// The training strategy: which backends can run a recipe, and what they update.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "strategy", rename_all = "lowercase")]
pub enum Training {
    /// Every parameter at every step, by a dense optimizer over the batch's
    /// mean gradient (the notebook's way).
    Dense {
        /// The optimizer.
        optimizer: Optimizer,
    },
    /// Sparse SGD (Funk SVD, as Surprise and cuMF_SGD train it): each
    /// rating updates only its own rows, one rating at a time ([`crate::ops::mf_sgd_sparse`]);
    /// the recipe's `wd` is its L2 factor.
    Sparse {
        /// How the factor tables are stored.
        storage: Storage,
    },
}

/// A dense optimizer and its fixed hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Optimizer {
    /// `optim.SGD(momentum=m)`.
    Sgd {
        /// Momentum factor.
        momentum: f32,
    },
    /// `optim.Adam(betas=(beta1, beta2), eps=eps)`.
    Adam {
        /// First-moment decay.
        beta1: f64,
        /// Second-moment decay.
        beta2: f64,
        /// Added to the denominator.
        eps: f64,
    },
}

impl Optimizer {
    /// PyTorch's default Adam: β = (0.9, 0.999), ε = 1e-8.
    pub const ADAM: Optimizer = Optimizer::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    };
}

/// An optimizer's running state for a flat parameter buffer.
#[derive(Debug, Clone)]
pub struct OptimizerState {
    /// The optimizer.
    pub optimizer: Optimizer,
    /// Coupled weight decay (L2), added to the gradient.
    pub wd: f32,
    /// SGD: momentum buffer. Adam: first moment.
    pub m: Vec<f32>,
    /// Adam: second moment. Empty for SGD.
    pub v: Vec<f32>,
    /// Steps taken so far (Adam's `t` after the step is t + 1).
    pub t: u64,
}

impl Optimizer {
    /// Buffers of state the dense update keeps, each as long as the
    /// parameters: SGD's momentum, or Adam's two moments.
    pub fn state_buffers(self) -> usize {
        match self {
            Optimizer::Sgd { .. } => sgd::STATE_BUFFERS,
            Optimizer::Adam { .. } => adam::STATE_BUFFERS,
        }
    }

    /// The two per-step scalars the scheduled update kernels read for step
    /// `t` (1-based) at learning rate `lr` (`kernels/fused.cu`).
    pub fn step_scalars(self, lr: f32, t: u64) -> [f32; 2] {
        match self {
            Optimizer::Sgd { .. } => sgd::step_scalars(lr),
            Optimizer::Adam { beta1, beta2, eps } => adam::step_scalars(lr, beta1, beta2, eps, t),
        }
    }
}

impl OptimizerState {
    /// Zeroed state for `n` parameters.
    pub fn new(optimizer: Optimizer, wd: f32, n: usize) -> Self {
        let buffers = optimizer.state_buffers();
        OptimizerState {
            optimizer,
            wd,
            m: vec![0.0; n],
            v: vec![0.0; if buffers > 1 { n } else { 0 }],
            t: 0,
        }
    }

    /// One dense update at learning rate `lr`; zeroes `grads`.
    pub fn step(&mut self, params: &mut [f32], grads: &mut [f32], lr: f32) {
        self.t += 1;
        match self.optimizer {
            Optimizer::Sgd { momentum } => sgd::step(params, grads, &mut self.m, lr, momentum, self.wd),
            Optimizer::Adam { beta1, beta2, eps } => {
                let s = adam::scalars(lr, beta1, beta2, eps, self.t);
                adam::step(params, grads, &mut self.m, &mut self.v, s, self.wd)
            }
        }
    }
}
