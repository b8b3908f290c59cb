//! One [`Gpu`] method per kernel, a file per `kernels/*.cu` file
//! (`adam_epoch.rs` wraps `net_epoch.cu` too, whose kernel takes the same
//! launch; [`optim`] wraps `optim.cu` and `adagrad.cu` by one launcher for
//! every optimizer's update kernels, as each optimizer declares them). Each takes the arguments of its CPU
//! twin in [`crate::ops`] with device views in place of slices, only
//! enqueues its launch on the GPU's stream, and names under `SAFETY` the C
//! signature its arguments match.

pub mod adam_epoch;
pub mod dot;
mod embedding;
mod fused;
pub mod lazy;
mod loss;
mod net;
pub mod optim;
pub mod ranking;
mod sigmoid_range;
pub mod sparse;
