//! `mfcuda summary`: a saved model printed the way PyTorch prints it, with its size.

use super::{emit, CliResult, ModelArgs};

/// Prints the model's summary.
pub fn run(a: &ModelArgs) -> CliResult {
    Ok(emit(&format!("{}\n", a.load()?.summary()))?)
}
