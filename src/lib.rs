//! # mfcuda
//!
//! Matrix-factorization recommenders on MovieLens, reproducing a fastai 0.7
//! notebook from first principles: a readable CPU reference in plain Rust,
//! and hand-written CUDA kernels checked against it. `docs/walkthrough.md`
//! follows the notebook down to these modules; this is the same tour, in the
//! order data flows. The folders are the layers, bottom to top, and a module
//! only uses the layers below it (`tests/layers.rs` checks this).
//!
//! 0. Base: [`error`] (one error type), [`rng`] (numpy's Mersenne Twister,
//!    and Philox for dropout), [`compare`] (the `atol + rtol·|ref|` rule),
//!    [`files`] (atomic writes).
//! 1. [`ops`] holds one plain function per kernel: gather, dot product,
//!    sigmoid range, their backward passes, scatter-add, fused optimizer
//!    updates, the net's layers, sparse SGD. These are the CPU twins of
//!    `kernels/*.cu`, and the oracle every kernel is checked against.
//! 2. [`data`] loads a ratings CSV (streamed, on two threads), maps raw ids
//!    to contiguous indices, caches, splits, and synthesises data.
//! 3. [`model`] composes the ops into the notebook's three models (and biased
//!    MF), forward and backward by hand, one file per model, written once
//!    against the ops seam that the CPU and the GPU both implement.
//! 4. [`optim`] gives PyTorch's SGD and Adam, one file each, and fastai's
//!    SGDR schedule.
//! 5. [`recipe`] lists each experiment as data.
//! 6. [`backend`] is the seam to the hardware: the [`backend::Backend`]
//!    trait, the one device rule ([`backend::select`]), the CPU reference
//!    ([`backend::cpu`]), sparse SGD on both cores ([`backend::cpu_sparse`]),
//!    and the CUDA backends ([`backend::cuda`]: the device, one wrapper per
//!    kernel, the dense, fused and sparse backends, the memory plan).
//! 7. [`train`] prepares a run ([`train::Setup`]) and runs any recipe over a
//!    backend: the one training loop.
//! 8. Above the loop, side by side: [`tools`] proves each kernel equal to its
//!    twin (`mfcuda check`), times everything (`mfcuda bench`, `--scale`) and
//!    prints one step's tensors (`train --trace`); [`trained`] saves a
//!    trained model and uses it: predictions, recommendations, similar
//!    movies, biases, plots.
//! 9. [`eval`] judges trained models as practitioners do: k-fold
//!    cross-validation (`mfcuda cv`), full-ranking metrics, and a tuner that
//!    never sees the validation rows (`mfcuda tune`).
//!
//! The command line (`src/main.rs` and `src/cli/`) parses and prints; the
//! library decides.

pub mod backend;
pub mod compare;
pub mod data;
pub mod error;
pub mod eval;
pub mod files;
pub mod model;
pub mod ops;
pub mod optim;
pub mod recipe;
pub mod rng;
pub mod text;
pub mod tools;
pub mod train;
pub mod trained;

pub use error::{Error, Result};
