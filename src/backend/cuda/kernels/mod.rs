//! One [`Gpu`] method per kernel of the dense models and the fused step,
//! a file per `kernels/*.cu` file (the optimizer updates are in
//! [`super::optim`]). Each takes the arguments of its CPU
//! twin in [`crate::ops`] with device views in place of slices, only
//! enqueues its launch on the GPU's stream, and names under `SAFETY` the C
//! signature its arguments match.

mod dot;
mod embedding;
mod fused;
mod loss;
mod net;
mod sigmoid_range;
