//! # mfcuda
//!
//! Matrix-factorization recommenders on MovieLens, reproducing a fastai 0.7
//! notebook from first principles: a readable CPU reference in plain Rust,
//! and hand-written CUDA kernels checked against it. `docs/walkthrough.md`
//! follows the notebook down to these modules; this is the same tour, in the
//! order data flows.
//!
//! 1. [`data`] loads a ratings CSV (streamed, on two threads) and maps raw
//!    ids to contiguous indices; [`cache`] keeps a binary copy; [`synth`]
//!    makes data of any size from a planted model.
//! 2. [`split`] picks the notebook's validation rows with numpy's legacy
//!    Mersenne Twister ([`rng`], which also holds Philox for dropout).
//! 3. [`ops`] holds one plain function per kernel: gather, dot product,
//!    sigmoid range, their backward passes, scatter-add, fused optimizer
//!    updates, the net's layers, sparse SGD. These are the CPU twins of
//!    `kernels/*.cu`, and the oracle every kernel is checked against.
//! 4. [`model`] composes the ops into the notebook's three models (and biased
//!    MF), forward and backward by hand.
//! 5. [`optim`] and [`schedule`] give PyTorch's SGD and Adam and fastai's
//!    SGDR; [`recipe`] lists each experiment as data.
//! 6. [`train`] runs any recipe over a [`backend::Backend`]: [`cpu`] (the
//!    reference), [`cuda`] (the kernels, launched through cudarc),
//!    [`sparse`] (sparse SGD on both cores) or [`cuda_sparse`] (sparse SGD,
//!    one warp per rating); [`memory`] checks that a GPU run fits first.
//! 7. [`gpu_check`] proves each kernel equal to its twin (`mfcuda check`);
//!    [`check`] holds the tolerance rule; [`bench`](mod@crate::bench) times everything,
//!    and [`scale`] times sparse SGD at ml-25m and Netflix sizes.
//! 8. [`saved`], [`explore`] and [`plot`] save a trained model and use it:
//!    predictions, recommendations, similar movies, biases, plots;
//!    [`trace`] prints one step's tensors; [`stats`] explores the data.

pub mod backend;
pub mod bench;
pub mod cache;
pub mod check;
pub mod cpu;
pub mod cuda;
pub mod cuda_sparse;
pub mod data;
pub mod error;
pub mod explore;
pub mod gpu_check;
pub mod memory;
pub mod model;
pub mod ops;
pub mod optim;
pub mod plot;
pub mod recipe;
pub mod rng;
pub mod saved;
pub mod scale;
pub mod schedule;
pub mod sparse;
pub mod split;
pub mod stats;
pub mod synth;
pub mod trace;
pub mod train;

pub use error::{Error, Result};
