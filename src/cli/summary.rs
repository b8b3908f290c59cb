//! `mfcuda summary`: a saved model printed the way PyTorch prints it, with
//! its size, what it was trained on, and its validation RMSE raw and clipped.

use mfcuda::trained::explore;

use super::{emit, CliResult, ModelArgs};

/// Prints the model's summary. Where the model's own data can be reopened,
/// the validation RMSE is given both ways: raw scores (train's figure) and
/// clipped to the rating range (predict's).
pub fn run(a: &ModelArgs) -> CliResult {
    let model = a.load_trained()?;
    let mut out = model.summary();
    let rmse = explore::model_data(model.common(), None, false)
        .and_then(|data| explore::validation_rmse(&model, &data));
    out.push_str(&match rmse {
        Ok((raw, clipped)) => format!(
            "\nrmse     {raw:.4} raw, {clipped:.4} clipped to {} (on the validation split)",
            model.common().range_text()
        ),
        Err(e) => format!(
            "\nrmse     {:.4} raw; the clipped figure needs the model's data: {e}",
            model.val_mse().sqrt()
        ),
    });
    Ok(emit(&format!("{out}\n"))?)
}
