//! How a run updates its parameters ([`Training`]): a dense optimizer with
//! PyTorch's semantics, or sparse SGD one rating at a time; and fastai's
//! learning-rate [`schedule`].
//!
//! A dense optimizer is one file ([`sgd`], [`adam`], [`adagrad`]) that
//! implements [`DenseOptimizer`]: its state, its CPU step, the kernels that
//! run the same step on the GPU (declared by name and argument list, so that
//! one launcher in the CUDA backend runs any of them), its memory and its
//! parity tolerance. [`Optimizer`] lists them; adding one is its file, its
//! kernel file, a line in that list and its test.
//!
//! Under a dense optimizer the embeddings are ordinary dense parameters, so
//! every row decays and moves at every step, whether or not it is in the
//! batch.

pub mod adagrad;
pub mod adam;
pub mod lazy_sgd;
pub mod schedule;
pub mod sgd;

use serde::{Deserialize, Serialize};

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

/// The kernels that run a dense optimizer's step on the GPU, by file stem
/// (`kernels/<file>.cu`) and name. Their arguments follow one convention,
/// which the CUDA backend checks against the PTX when it loads them:
///
/// - plain: `(float* params, float* grads, float* state_0, …, float*
///   state_{k−1}, <`[`DenseOptimizer::scalars`]`>, float wd, int n)`;
/// - scheduled: `(float* params, float* grads, float* state_0, …, const
///   float* sched, int step, <`[`DenseOptimizer::constants`]`>, float wd,
///   int n)`, reading step `step`'s [`DenseOptimizer::step_scalars`] from
///   `sched[2·step]` and `sched[2·step + 1]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateKernels {
    /// The `.cu` file's stem.
    pub file: &'static str,
    /// The kernel whose scalars are arguments.
    pub plain: &'static str,
    /// The kernel that reads its per-step scalars from a device schedule
    /// (the captured epochs).
    pub scheduled: &'static str,
}

/// The kind of one kernel parameter, as PTX declares it: a pointer
/// (`.u64`), a float (`.f32`) or an int (`.u32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelParam {
    /// A device pointer.
    Ptr,
    /// An `f32`.
    F32,
    /// An `i32`.
    Int,
}

/// One step's gradient, as the parity tolerance needs it: the CPU's
/// gradient and, for each parameter, the total size of the terms summed
/// into it.
#[derive(Debug, Clone, Copy)]
pub struct StepTerms<'a> {
    /// The gradient.
    pub grad: &'a [f32],
    /// Σ |term| for each parameter.
    pub abs_terms: &'a [f64],
}

/// A dense optimizer: everything about it, in its own file.
pub trait DenseOptimizer {
    /// Its name in recipes and messages (`sgd`).
    fn name(&self) -> &'static str;

    /// Buffers of state, each as long as the parameters.
    fn state_buffers(&self) -> usize;

    /// The value every state buffer starts at.
    fn initial_state(&self) -> f32 {
        0.0
    }

    /// Step `t` (1-based) at learning rate `lr` with coupled weight decay
    /// `wd`, on the CPU: the twin of its kernels. Zeroes `grads`.
    fn step(&self, params: &mut [f32], grads: &mut [f32], state: &mut [Vec<f32>], lr: f32, t: u64, wd: f32);

    /// Its kernels.
    fn kernels(&self) -> UpdateKernels;

    /// The plain kernel's scalars for step `t` at `lr`, in argument order.
    fn scalars(&self, lr: f32, t: u64) -> Vec<f32>;

    /// The two per-step scalars a scheduled kernel reads for step `t` at `lr`.
    fn step_scalars(&self, lr: f32, t: u64) -> [f32; 2];

    /// The scheduled kernel's scalars that do not change from step to step.
    fn constants(&self) -> Vec<f32>;

    /// Bytes of state for `params` parameters.
    fn state_bytes(&self, params: u64) -> u64 {
        self.state_buffers() as u64 * 4 * params
    }

    /// How far the GPU's parameters may end from the CPU's after `steps`
    /// at rates `lrs`, when each gradient may differ by up to `kappa` times
    /// its term size (sums in another order): one slack a parameter (see
    /// `tools/check/parity.rs`).
    fn parity_slack(&self, lrs: &[f32], steps: &[StepTerms<'_>], kappa: f64) -> Vec<f64>;

    /// What its first step does, in words, for `mfcuda trace`.
    fn first_step(&self) -> String;

    /// The steps its kernel check runs at (the scalars depend on them).
    fn check_steps(&self) -> &'static [u64] {
        &[1]
    }

    /// The parameters of its plain (or, with `scheduled`, its scheduled)
    /// kernel under [`UpdateKernels`]' convention: what the CUDA backend
    /// checks the PTX against before it launches either.
    fn kernel_params(&self, scheduled: bool) -> Vec<KernelParam> {
        let mut p = vec![KernelParam::Ptr; 2 + self.state_buffers()];
        let scalars = if scheduled {
            p.extend([KernelParam::Ptr, KernelParam::Int]);
            self.constants().len()
        } else {
            self.scalars(1.0, 1).len()
        };
        p.extend(std::iter::repeat_n(KernelParam::F32, scalars + 1));
        p.push(KernelParam::Int);
        p
    }
}

/// Lists the dense optimizers: the [`Optimizer`] enum, and its dispatch to
/// each one's [`DenseOptimizer`]. Registering one is its `mod` line above
/// and its line in the list below.
macro_rules! optimizers {
    ($($(#[$doc:meta])* $variant:ident($module:ident::$ty:ident),)*) => {
        /// A dense optimizer and its fixed hyperparameters. In JSON and
        /// recipe files: `{ kind = "adam", beta1 = 0.9, … }`.
        #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind", rename_all = "lowercase")]
        pub enum Optimizer {
            $($(#[$doc])* $variant($module::$ty),)*
        }

        impl Optimizer {
            /// The optimizer itself.
            pub fn get(&self) -> &dyn DenseOptimizer {
                match self {
                    $(Optimizer::$variant(o) => o,)*
                }
            }

            /// One of each, as its kernel check runs it.
            pub fn examples() -> Vec<Optimizer> {
                vec![$(Optimizer::$variant($module::$ty::EXAMPLE),)*]
            }
        }
    };
}

optimizers! {
    /// `optim.SGD(momentum=m)`.
    Sgd(sgd::Sgd),
    /// `optim.Adam(betas=(beta1, beta2), eps=eps)`.
    Adam(adam::Adam),
    /// `optim.Adagrad(lr_decay, eps, initial_accumulator_value)`.
    Adagrad(adagrad::Adagrad),
}

impl Optimizer {
    /// PyTorch's default Adam: β = (0.9, 0.999), ε = 1e-8.
    pub const ADAM: Optimizer = Optimizer::Adam(adam::Adam::PYTORCH);

    /// SGD with the notebook's momentum, 0.9.
    pub const SGD: Optimizer = Optimizer::Sgd(sgd::Sgd { momentum: 0.9 });

    /// See [`DenseOptimizer::state_buffers`].
    pub fn state_buffers(self) -> usize {
        self.get().state_buffers()
    }

    /// See [`DenseOptimizer::step_scalars`].
    pub fn step_scalars(self, lr: f32, t: u64) -> [f32; 2] {
        self.get().step_scalars(lr, t)
    }

    /// See [`DenseOptimizer::name`].
    pub fn name(self) -> &'static str {
        self.get().name()
    }
}

/// An optimizer's running state for a flat parameter buffer.
#[derive(Debug, Clone)]
pub struct OptimizerState {
    /// The optimizer.
    pub optimizer: Optimizer,
    /// Coupled weight decay (L2), added to the gradient.
    pub wd: f32,
    /// Its state buffers ([`DenseOptimizer::state_buffers`] of them, each
    /// as long as the parameters): SGD's momentum, Adam's two moments,
    /// Adagrad's sum of squares.
    pub state: Vec<Vec<f32>>,
    /// Steps taken so far (the next step is t + 1).
    pub t: u64,
}

impl OptimizerState {
    /// Fresh state for `n` parameters.
    pub fn new(optimizer: Optimizer, wd: f32, n: usize) -> Self {
        let o = optimizer.get();
        OptimizerState {
            optimizer,
            wd,
            state: vec![vec![o.initial_state(); n]; o.state_buffers()],
            t: 0,
        }
    }

    /// One dense update at learning rate `lr`; zeroes `grads`.
    pub fn step(&mut self, params: &mut [f32], grads: &mut [f32], lr: f32) {
        self.t += 1;
        self.optimizer
            .get()
            .step(params, grads, &mut self.state, lr, self.t, self.wd);
    }
}
