//! `mfcuda plot`: predicted-against-actual and loss-curve PNGs for a saved
//! model; also the plot writers that `train --plot` and `predict --plot` use.

use std::path::{Path, PathBuf};

use clap::Args;
use mfcuda::data::Ratings;
use mfcuda::text::count;
use mfcuda::trained::explore::{self, Prediction};
use mfcuda::trained::plot;
use mfcuda::trained::saved::SavedModel;

use super::{emit, CliResult, DataArgs, ModelArgs};

/// The arguments of `mfcuda plot`.
#[derive(Args)]
pub struct PlotArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    data: DataArgs,
    /// Folder for pred_vs_actual.png and loss.png.
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
}

/// Writes both plots and prints their paths.
pub fn run(a: &PlotArgs) -> CliResult {
    let model = a.model.load_one("--model")?;
    for path in write_plots(&model, &a.data.load_for(&model)?, &a.out)? {
        emit(&format!("{}\n", path.display()))?;
    }
    Ok(())
}

/// Creates `dir` (and its parents) for plots.
pub fn create_dir(dir: &Path) -> mfcuda::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| mfcuda::Error::Write {
        file: dir.display().to_string(),
        source: e,
    })
}

/// Writes pred_vs_actual.png (the validation split) and loss.png into `dir`.
pub fn write_plots(model: &SavedModel, data: &Ratings, dir: &Path) -> mfcuda::Result<Vec<PathBuf>> {
    create_dir(dir)?;
    let preds = explore::predict_validation(model, data)?;
    let joint = dir.join("pred_vs_actual.png");
    write_joint_plot(&model.recipe, model.spec.y_range, &preds, &joint)?;
    let loss = dir.join("loss.png");
    let title = format!("{}: training and validation loss", model.recipe);
    plot::loss_plot(&loss, &model.history, &title)?;
    Ok(vec![joint, loss])
}

/// Writes the predicted-against-actual plot of the rated `preds` of the
/// model (or ensemble) `name`, whose ratings lie in `y_range`, to `path`.
pub fn write_joint_plot(
    name: &str,
    y_range: (f32, f32),
    preds: &[Prediction],
    path: &Path,
) -> mfcuda::Result<()> {
    let (actual, predicted): (Vec<f32>, Vec<f32>) = preds
        .iter()
        .filter_map(|p| p.rating.map(|r| (r, p.predicted)))
        .unzip();
    let rmse = explore::rmse(preds).unwrap_or(f64::NAN);
    let title = format!(
        "{name}: {}, RMSE {:.3}",
        count(actual.len() as u64, "rating"),
        rmse
    );
    let (lo, hi) = y_range;
    plot::joint_plot(path, &actual, &predicted, lo, hi, &title)
}
