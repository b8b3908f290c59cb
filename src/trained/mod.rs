//! What is done with a trained model: [`saved`] writes and reads it
//! (safetensors, PyTorch's names), [`explore`] predicts, recommends, finds
//! similar movies and ranks biases, and [`plot`] draws it.

pub mod explore;
pub mod plot;
pub mod saved;
