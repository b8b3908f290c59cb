//! `mfcuda predict`: the validation split, or a CSV of pairs, predicted by a
//! saved model (CSV on stdout, RMSE on stderr).

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use mfcuda::data::{self, Source};
use mfcuda::eval::ranking::model_metrics;
use mfcuda::text::count;
use mfcuda::trained::explore;

use super::plot::{create_dir, write_joint_plot};
use super::{emit, CliResult, DataArgs, MetricsArgs, ModelArgs};

/// What to do with an id the model has never seen: the command line's
/// spelling of [`explore::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Unknown {
    /// Stop with an error naming the row.
    Error,
    /// Predict the mean training rating.
    Mean,
}

impl From<Unknown> for explore::Unknown {
    fn from(u: Unknown) -> Self {
        match u {
            Unknown::Error => explore::Unknown::Error,
            Unknown::Mean => explore::Unknown::Mean,
        }
    }
}

/// The arguments of `mfcuda predict`.
#[derive(Args)]
pub struct PredictArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    data: DataArgs,
    /// A CSV of user,movie pairs (by --user-col/--item-col; a rating column is optional).
    #[arg(long, value_name = "FILE")]
    pairs: Option<PathBuf>,
    /// What to do with ids the model has not seen.
    #[arg(long, value_enum, default_value_t = Unknown::Error)]
    unknown: Unknown,
    /// Also write pred_vs_actual.png into this folder.
    #[arg(long, value_name = "DIR")]
    plot: Option<PathBuf>,
    /// Print raw scores instead of predictions clipped to the rating range.
    #[arg(long)]
    no_clip: bool,
    /// Ranking metrics of the validation split (not with --pairs).
    #[command(flatten)]
    metrics: MetricsArgs,
}

/// Prints the predictions as CSV (clipped to the rating range unless
/// `--no-clip`), then their RMSE (and any unknown ids) on stderr.
pub fn run(a: &PredictArgs) -> CliResult {
    let trained = a.model.load_trained()?;
    // What every member of an ensemble shares: ids, data, split, range and mean.
    let model = trained.common();
    let ranking = a.metrics.options()?;
    // Ranking metrics rank one model's scores.
    if ranking.is_some() {
        trained.for_ranking("--metrics")?;
    }
    if ranking.is_some() && a.pairs.is_some() {
        return Err(
            "--metrics ranks the model's validation split; it does not apply to --pairs"
                .to_string()
                .into(),
        );
    }
    let mut preds = match &a.pairs {
        Some(path) => {
            let reader = data::open(&Source::File(path.clone()), b"")?;
            let cols = a.data.columns();
            let name = path.display().to_string();
            explore::predict_pairs(&trained, reader, &name, &cols, a.unknown.into())?
        }
        None => explore::predict_validation(&trained, &a.data.load_for(model)?)?,
    };
    // The raw RMSE is train's and summary's figure; the clipped one is that of what is printed.
    let raw_rmse = explore::rmse(&preds);
    if !a.no_clip {
        explore::clip_predictions(&trained, &mut preds);
    }
    // Through the csv writer, which quotes a text id holding a comma or a quote.
    let mut csv = csv::Writer::from_writer(Vec::new());
    let mut row = |fields: [String; 4]| csv.write_record(&fields).map_err(std::io::Error::other);
    row(["userId", "movieId", "rating", "prediction"].map(String::from))?;
    for p in &preds {
        let rating = p.rating.map(|r| r.to_string()).unwrap_or_default();
        row([
            p.user.to_string(),
            p.movie.to_string(),
            rating,
            format!("{:.4}", p.predicted),
        ])?;
    }
    let out = csv
        .into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    emit(&String::from_utf8_lossy(&out))?;
    let unknown = preds.iter().filter(|p| !p.known).count();
    let rated = count(
        preds.iter().filter(|p| p.rating.is_some()).count() as u64,
        "rated row",
    );
    match (explore::rmse(&preds), raw_rmse) {
        (Some(r), Some(raw)) if !a.no_clip => eprintln!(
            "rmse {r:.4} clipped to the rating range {} (raw {raw:.4}, the figure train and summary give) over {rated}",
            model.range_text()
        ),
        (Some(r), _) => eprintln!("rmse {r:.4} raw (not clipped) over {rated}"),
        _ => eprintln!("{} (no ratings to compare with)", count(preds.len() as u64, "prediction")),
    }
    if let Some(opts) = ranking {
        let device = mfcuda::backend::Device::Cpu;
        eprintln!(
            "ranking {}",
            model_metrics(trained.one("--metrics")?, &a.data.load_for(model)?, opts, device)?.line()
        );
    }
    if unknown > 0 {
        eprintln!(
            "{} unknown ids and got the mean rating {:.3}",
            match unknown {
                1 => "1 row had".to_string(),
                n => format!("{n} rows had"),
            },
            model.global_mean
        );
    }
    if let Some(dir) = &a.plot {
        create_dir(dir)?;
        let path = dir.join("pred_vs_actual.png");
        write_joint_plot(trained.recipe(), model.spec.y_range, &preds, &path)?;
        eprintln!("plot {}", path.display());
    }
    Ok(())
}
