//! `mfcuda split`: the validation row indices, as fastai's `get_cv_idxs` gives them.

use clap::Args;
use mfcuda::data::split::{validation_indices, NOTEBOOK_SPLIT_SEED, NOTEBOOK_VAL_PCT};

use super::{emit, CliResult, DataArgs};

/// The arguments of `mfcuda split`.
#[derive(Args)]
pub struct SplitArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Fraction of rows held out for validation.
    #[arg(long, default_value_t = NOTEBOOK_VAL_PCT, allow_negative_numbers = true)]
    val_pct: f64,
    /// numpy seed of the permutation.
    #[arg(long, default_value_t = NOTEBOOK_SPLIT_SEED)]
    seed: u32,
}

/// Prints the validation indices, one a line.
pub fn run(a: &SplitArgs) -> CliResult {
    let data = a.data.load()?;
    let idx = validation_indices(data.len(), a.val_pct, a.seed)?;
    let mut text = String::with_capacity(idx.len() * 7);
    for i in idx {
        text.push_str(&i.to_string());
        text.push('\n');
    }
    Ok(emit(&text)?)
}
