//! What is done with a trained model: [`saved`] writes and reads it
//! (safetensors, PyTorch's names), [`ensemble`] does the same for several
//! models averaged, [`explore`] predicts, recommends, finds similar movies
//! and ranks biases, and [`plot`] draws it.

pub mod ensemble;
pub mod explore;
pub mod plot;
pub mod saved;
