//! `mfcuda cv`: k-fold cross-validation in Surprise's protocol, with
//! full-ranking metrics on request.

use clap::Args;
use mfcuda::eval::cv::{cross_validate_members, mean_std, CvOptions, CvReport, FoldResult};
use mfcuda::eval::ranking::RankingMetrics;

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

/// Seconds to three significant digits (at least two decimals), so that a
/// few milliseconds of real work never read as 0.00.
pub(super) fn secs(x: f64) -> String {
    if !(x.is_finite() && x > 0.0) {
        return "0.00".into();
    }
    let d = (2 - x.log10().floor() as i32).clamp(2, 9) as usize;
    format!("{x:.d$}")
}

/// One fold's line, printed as the fold ends.
fn fold_line(f: &FoldResult, folds: usize) -> String {
    let mut s = format!(
        "fold     {} of {folds}: rmse {:.4}  mae {:.4}  fit {} s  test {} s",
        f.fold + 1,
        f.rmse,
        f.mae,
        secs(f.fit_seconds),
        secs(f.test_seconds)
    );
    if let Some(r) = &f.ranking {
        s.push_str(&format!(
            "  ndcg@{} {:.4}  rank {} s",
            r.k,
            r.ndcg,
            secs(r.seconds)
        ));
    }
    s
}

/// A row of the table: its label, a cell a fold, then the mean and std.
struct Row {
    label: String,
    cells: Vec<String>,
}

impl Row {
    /// A measure printed by `fmt`, with its folds' mean and std.
    fn of(label: impl Into<String>, values: &[f64], fmt: impl Fn(f64) -> String) -> Row {
        let (mean, std) = mean_std(values);
        let mut cells: Vec<String> = values.iter().map(|&v| fmt(v)).collect();
        cells.push(fmt(mean));
        cells.push(fmt(std));
        Row {
            label: label.into(),
            cells,
        }
    }
}

/// The summary in Surprise's layout: a row a measure, a column a fold, then
/// the folds' mean and standard deviation (ddof = 0, numpy's and Surprise's).
fn table(report: &CvReport) -> String {
    let folds = &report.folds;
    let pick = |f: &dyn Fn(&FoldResult) -> f64| folds.iter().map(f).collect::<Vec<f64>>();
    let acc = |x: f64| format!("{x:.4}");
    let mut rows = vec![
        Row::of("RMSE (testset)", &pick(&|f| f.rmse), acc),
        Row::of("MAE (testset)", &pick(&|f| f.mae), acc),
    ];
    let mut measures = vec!["RMSE".to_string(), "MAE".to_string()];
    if let Some(k) = report.ranking.as_ref().map(|r| r.k) {
        let rank = |f: &FoldResult, m: fn(&RankingMetrics) -> f64| f.ranking.as_ref().map_or(f64::NAN, m);
        for (name, m) in [
            ("P", (|r| r.precision) as fn(&RankingMetrics) -> f64),
            ("R", |r| r.recall),
            ("NDCG", |r| r.ndcg),
            ("MAP", |r| r.map),
            ("Coverage", |r| r.coverage),
        ] {
            let label = format!("{name}@{k}");
            rows.push(Row::of(format!("{label} (testset)"), &pick(&|f| rank(f, m)), acc));
            measures.push(label.to_uppercase());
        }
    }
    rows.push(Row::of("Fit time (s)", &pick(&|f| f.fit_seconds), secs));
    rows.push(Row::of("Test time (s)", &pick(&|f| f.test_seconds), secs));
    if report.ranking.is_some() {
        rows.push(Row::of(
            "Rank time (s)",
            &pick(&|f| f.ranking.as_ref().map_or(f64::NAN, |r| r.seconds)),
            secs,
        ));
    }
    let count = |x: f64| {
        if x.fract() == 0.0 {
            format!("{x:.0}")
        } else {
            format!("{x:.1}")
        }
    };
    rows.push(Row::of("Train rows", &pick(&|f| f.train_rows as f64), count));
    rows.push(Row::of("Test rows", &pick(&|f| f.test_rows as f64), count));

    let mut head: Vec<String> = (1..=folds.len()).map(|i| format!("Fold {i}")).collect();
    head.push("Mean".into());
    head.push("Std".into());
    let label_w = rows
        .iter()
        .map(|r| r.label.chars().count() + 2)
        .max()
        .unwrap_or(0)
        .max(18);
    let widths: Vec<usize> = (0..head.len())
        .map(|c| {
            rows.iter()
                .map(|r| r.cells[c].len())
                .chain([head[c].len()])
                .max()
                .unwrap_or(0)
                .max(6)
                + 2
        })
        .collect();
    let line = |label: &str, cells: &[String]| {
        let mut s = format!("{label:<label_w$}");
        for (cell, w) in cells.iter().zip(&widths) {
            s.push_str(&format!("{cell:<w$}"));
        }
        s.trim_end().to_string()
    };
    let mut out = format!(
        "Evaluating {} of recipe {} on {} split(s).\n\n",
        measures.join(", "),
        report.recipe,
        folds.len()
    );
    out.push_str(&line("", &head));
    for r in &rows {
        out.push('\n');
        out.push_str(&line(&r.label, &r.cells));
    }
    out
}

/// Runs the folds, printing each as it ends, then the summary.
pub fn run(a: &CvArgs) -> CliResult {
    // An ensemble (`--recipe best`, or a file with members) is cross-validated as a whole.
    let (name, members) = a.recipe.request()?.members()?;
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
    opts.check(&name, &members)?;
    let json = a.json;
    say(
        json,
        &format!(
            "cv       {} folds of {} ({}), recipe {name}: {}",
            a.folds,
            data.len(),
            data.source,
            match members.as_slice() {
                [one] => one
                    .stages
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", then "),
                many => format!(
                    "an ensemble of {}, their predictions averaged",
                    many.iter().map(|r| r.name).collect::<Vec<_>>().join(" + ")
                ),
            }
        ),
    );
    let report = cross_validate_members(&data, &name, &members, &opts, |f| {
        say(json, &fold_line(f, a.folds))
    })?;
    say(json, "");
    say(json, &table(&report));
    say(json, "");
    say(
        json,
        &format!(
            "mean     rmse {:.4} ± {:.4}  mae {:.4} ± {:.4}  ({} s a fold on {}; ± is the std, ddof = 0)",
            report.rmse.0,
            report.rmse.1,
            report.mae.0,
            report.mae.1,
            secs(report.seconds_per_fold),
            report.folds.first().map_or("", |f| f.device.as_str())
        ),
    );
    if json {
        let line = serde_json::to_string(&report).map_err(|e| e.to_string())?;
        emit(&format!("{line}\n"))?;
    }
    Ok(())
}
