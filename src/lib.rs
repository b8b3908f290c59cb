//! # mfcuda
//!
//! Matrix-factorization recommenders on MovieLens, reproducing a fastai 0.7
//! notebook from first principles: a readable CPU reference in plain Rust,
//! and (next) hand-written CUDA kernels that are checked against it.
//!
//! A tour, in the order data flows:
//!
//! 1. [`data`] loads a ratings CSV and maps raw ids to contiguous indices.
//! 2. [`split`] picks the notebook's validation rows with numpy's legacy
//!    Mersenne Twister ([`rng`]).
//! 3. [`ops`] holds one plain function per kernel: gather, dot product,
//!    sigmoid range, their backward passes, scatter-add, fused optimizer
//!    updates. These are the CPU twins of `kernels/*.cu`.
//! 4. [`model`] composes the ops into the notebook's three models, forward
//!    and backward by hand.
//! 5. [`optim`] and [`schedule`] give PyTorch's SGD and Adam and fastai's
//!    SGDR.
//! 6. [`recipe`] lists each notebook experiment as data, and [`train`] runs
//!    any of them over a [`backend::Backend`] ([`cpu`] for now).
//! 7. [`stats`] reproduces the notebook's exploration of the data.

pub mod backend;
pub mod bench;
pub mod cache;
pub mod check;
pub mod cpu;
pub mod cuda;
pub mod data;
pub mod error;
pub mod explore;
pub mod gpu_check;
pub mod model;
pub mod ops;
pub mod optim;
pub mod plot;
pub mod recipe;
pub mod rng;
pub mod saved;
pub mod schedule;
pub mod sparse;
pub mod split;
pub mod stats;
pub mod synth;
pub mod trace;
pub mod train;

pub use error::{Error, Result};
