//! `mfcuda cv`: k-fold cross-validation in Surprise's protocol, with
//! full-ranking metrics on request.

use clap::Args;
use mfcuda::eval::cv::{cross_validate, CvOptions, FoldResult};

use super::{emit, say, CliResult, DataArgs, DeviceArgs, MetricsArgs, RecipeArgs};

/// The arguments of `mfcuda cv`.
#[derive(Args)]
pub struct CvArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    recipe: RecipeArgs,
    #[command(flatten)]
    device: DeviceArgs,
    /// Number of folds.
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Seeds the permutation that deals the rows into folds.
    #[arg(long, default_value_t = 42)]
    fold_seed: u32,
    /// Seeds each fold's training.
    #[arg(long, default_value_t = 42)]
    seed: u32,
    #[command(flatten)]
    metrics: MetricsArgs,
    /// Print one JSON object as the last line of stdout; the table goes to stderr.
    #[arg(long)]
    json: bool,
}

fn fold_line(f: &FoldResult) -> String {
    let mut s = format!(
        "{:>4} {:>9} {:>8} {:>8.4} {:>8.4} {:>8.2} {:>8.2}",
        f.fold + 1,
        f.train_rows,
        f.test_rows,
        f.rmse,
        f.mae,
        f.fit_seconds,
        f.test_seconds
    );
    if let Some(r) = &f.ranking {
        s.push_str(&format!(
            " {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>7.2}",
            r.precision, r.recall, r.ndcg, r.map, r.coverage, r.seconds
        ));
    }
    s
}

/// Runs the folds, printing each as it ends, then the summary.
pub fn run(a: &CvArgs) -> CliResult {
    let (recipe, _) = a.recipe.resolve()?;
    let data = a.data.load()?;
    let ranking = a.metrics.options()?;
    // A device that cannot be used is refused before the table's header.
    if a.device.device != mfcuda::backend::Device::Cpu {
        mfcuda::backend::select::choose(a.device.device, &mfcuda::backend::select::Needs::default())?;
    }
    let opts = CvOptions {
        folds: a.folds,
        fold_seed: a.fold_seed,
        seed: a.seed,
        device: a.device.device,
        gpu: a.device.gpu(),
        ranking,
    };
    let json = a.json;
    say(
        json,
        &format!(
            "cv       {} folds of {} ({}), recipe {}: {}",
            a.folds,
            data.len(),
            data.source,
            recipe.name,
            recipe
                .stages
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", then ")
        ),
    );
    let mut head = format!(
        "{:>4} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "fold", "train", "test", "rmse", "mae", "fit_s", "test_s"
    );
    if let Some(r) = ranking {
        let k = r.k;
        head.push_str(&format!(
            " {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}",
            format!("p@{k}"),
            format!("r@{k}"),
            format!("ndcg@{k}"),
            format!("map@{k}"),
            "cover",
            "rank_s"
        ));
    }
    say(json, &head);
    let report = cross_validate(&data, &recipe, &opts, |f| say(json, &fold_line(f)))?;
    say(
        json,
        &format!(
            "mean     rmse {:.4} ± {:.4}  mae {:.4} ± {:.4}  ({:.2} s a fold on {})",
            report.rmse.0,
            report.rmse.1,
            report.mae.0,
            report.mae.1,
            report.seconds_per_fold,
            report.folds.first().map_or("", |f| f.device.as_str())
        ),
    );
    if json {
        let line = serde_json::to_string(&report).map_err(|e| e.to_string())?;
        emit(&format!("{line}\n"))?;
    }
    Ok(())
}
