//! `mfcuda tune`: random or grid search on an inner split of the training
//! rows; the winner is scored once on the validation rows and written as a
//! recipe file.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use mfcuda::data::split::{NOTEBOOK_SPLIT_SEED, NOTEBOOK_VAL_PCT};
use mfcuda::eval::tune::{choose_ensemble, tune, Axis, Space, Trial, TuneOptions};
use mfcuda::recipe::{Overrides, RecipeFile};

use super::{emit, say, CliResult, DataArgs, DeviceArgs};

/// The arguments of `mfcuda tune`.
#[derive(Args)]
pub struct TuneArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    device: DeviceArgs,
    /// The recipe to tune (see `mfcuda recipes`).
    #[arg(long, default_value = "sparse")]
    recipe: String,
    /// Start from a recipe file instead (its overrides are the starting point).
    #[arg(long, value_name = "FILE", conflicts_with = "recipe")]
    recipe_file: Option<PathBuf>,
    /// Learning rates to try: `a,b,c`, or `lo:hi` drawn log-uniformly.
    #[arg(long, value_name = "LIST|LO:HI")]
    lr: Option<Axis>,
    /// Weight decays to try.
    #[arg(long, value_name = "LIST|LO:HI")]
    wd: Option<Axis>,
    /// Embedding widths to try.
    #[arg(long, value_name = "LIST|LO:HI")]
    factors: Option<Axis>,
    /// Epochs (in all) to try.
    #[arg(long, value_name = "LIST|LO:HI")]
    epochs: Option<Axis>,
    /// The net's hidden-layer dropouts to try.
    #[arg(long, value_name = "LIST|LO:HI")]
    dropout: Option<Axis>,
    /// Random search with this many trials; without it, every combination of the lists.
    #[arg(long)]
    trials: Option<usize>,
    /// Seeds the inner split and the random draws.
    #[arg(long, default_value_t = 1)]
    seed: u32,
    /// Share of the training rows held out to judge the trials.
    #[arg(long, default_value_t = 0.2)]
    inner_pct: f64,
    /// Seeds each trial's training.
    #[arg(long, default_value_t = 42)]
    train_seed: u32,
    /// Instead of a search, choose among these recipe files and the averages of every subset
    /// of them (an ensemble), on the same inner split.
    #[arg(long, value_name = "FILE,FILE", value_delimiter = ',',
          conflicts_with_all = ["recipe_file", "lr", "wd", "factors", "epochs", "dropout", "trials"])]
    members: Vec<PathBuf>,
    /// Write the winner here as a recipe file (TOML), for `train --recipe-file`.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Print one JSON object as the last line of stdout; the table goes to stderr.
    #[arg(long)]
    json: bool,
}

fn options(a: &TuneArgs) -> TuneOptions {
    TuneOptions {
        trials: a.trials,
        seed: a.seed,
        inner_pct: a.inner_pct,
        val_pct: NOTEBOOK_VAL_PCT,
        split_seed: NOTEBOOK_SPLIT_SEED,
        train_seed: a.train_seed,
        device: a.device.device,
        gpu: a.device.gpu(),
    }
}

/// Writes the winner to `--out`, if given, saying where it came from.
fn write_winner(a: &TuneArgs, winner: &RecipeFile, about: String) -> CliResult {
    if let Some(path) = &a.out {
        let text = RecipeFile {
            about,
            ..winner.clone()
        }
        .to_toml()?;
        mfcuda::files::write_atomic(path, |f| f.write_all(text.as_bytes()))?;
        say(
            a.json,
            &format!("wrote    {} (train --recipe-file {0})", path.display()),
        );
    }
    Ok(())
}

fn show(v: Option<impl std::fmt::Display>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

fn trial_line(k: usize, t: &Trial) -> String {
    let o = &t.overrides;
    format!(
        "{:>5} {:>10} {:>10} {:>7} {:>6} {:>7} {:>10.4} {:>8.1}",
        k + 1,
        show(o.lr.map(|v| format!("{v:.5}"))),
        show(o.wd.map(|v| format!("{v:.5}"))),
        show(o.factors),
        show(o.epochs),
        show(o.dropout.map(|v| format!("{v:.3}"))),
        t.inner_rmse,
        t.seconds
    )
}

/// Chooses among the member files and their averages on the inner split.
fn run_members(a: &TuneArgs, opts: &TuneOptions) -> CliResult {
    let files = a
        .members
        .iter()
        .map(|p| RecipeFile::load(p))
        .collect::<mfcuda::Result<Vec<_>>>()?;
    if let Some(path) = &a.out {
        mfcuda::files::check_writable(path)?;
    }
    let data = a.data.load()?;
    let json = a.json;
    say(
        json,
        &format!(
            "tune     the averages of every subset of {} recipe files, judged on the inner split \
             ({}% of the training rows); the validation rows are set aside",
            files.len(),
            (a.inner_pct * 100.0).round()
        ),
    );
    say(json, &format!("{:>10}  candidate", "inner_rmse"));
    let choice = choose_ensemble(&data, &files, opts, |c| {
        say(json, &format!("{:>10.4}  {}", c.inner_rmse, c.name))
    })?;
    let best = &choice.candidates[choice.best];
    say(
        json,
        &format!(
            "best     {} (inner RMSE {:.4}); trained on all the training rows and scored once: \
             validation RMSE {:.4} (MSE {:.4})",
            best.name,
            best.inner_rmse,
            choice.val_rmse,
            choice.val_rmse * choice.val_rmse
        ),
    );
    let about = format!(
        "chosen by mfcuda tune --members among {} candidates on an inner split (inner RMSE {:.4}); \
         validation RMSE {:.4}, scored once",
        choice.candidates.len(),
        best.inner_rmse,
        choice.val_rmse
    );
    write_winner(a, &choice.file, about)?;
    if json {
        let line = serde_json::to_string(&choice).map_err(|e| e.to_string())?;
        emit(&format!("{line}\n"))?;
    }
    Ok(())
}

/// Runs the search, printing each trial, then the winner's one score.
pub fn run(a: &TuneArgs) -> CliResult {
    if !a.members.is_empty() {
        return run_members(a, &options(a));
    }
    let (base, start) = match &a.recipe_file {
        Some(path) => {
            let f = RecipeFile::load(path)?;
            (f.base, f.overrides)
        }
        None => (a.recipe.clone(), Overrides::default()),
    };
    // Refuse a bad base, or an unwritable --out, before any training.
    mfcuda::recipe::find(&base)?.with_overrides(&start)?;
    if let Some(path) = &a.out {
        mfcuda::files::check_writable(path)?;
    }
    let space = Space {
        lr: a.lr.clone(),
        wd: a.wd.clone(),
        factors: a.factors.clone(),
        epochs: a.epochs.clone(),
        dropout: a.dropout.clone(),
    };
    let opts = options(a);
    let data = a.data.load()?;
    let json = a.json;
    say(
        json,
        &format!(
            "tune     {base} on {} ({}): the validation rows ({} of them) are set aside; \
             trials train on {}% of the rest and are judged on the other {}%",
            data.source,
            mfcuda::text::count(data.len() as u64, "row"),
            (NOTEBOOK_VAL_PCT * data.len() as f64) as usize,
            ((1.0 - a.inner_pct) * 100.0).round(),
            (a.inner_pct * 100.0).round()
        ),
    );
    say(
        json,
        &format!(
            "{:>5} {:>10} {:>10} {:>7} {:>6} {:>7} {:>10} {:>8}",
            "trial", "lr", "wd", "factors", "epochs", "dropout", "inner_rmse", "seconds"
        ),
    );
    let report = tune(&data, &base, &start, &space, &opts, |k, _, t| {
        say(json, &trial_line(k, t))
    })?;
    let best = &report.trials[report.best];
    say(
        json,
        &format!(
            "best     trial {} (inner RMSE {:.4}); trained on all the training rows and scored once: \
             validation RMSE {:.4} (MSE {:.4})",
            report.best + 1,
            best.inner_rmse,
            report.val_rmse,
            report.val_rmse * report.val_rmse
        ),
    );
    let about = format!(
        "chosen by mfcuda tune from {} trials on an inner split (inner RMSE {:.4}); validation RMSE {:.4}, scored once",
        report.trials.len(),
        best.inner_rmse,
        report.val_rmse
    );
    write_winner(a, &report.file, about)?;
    if json {
        let line = serde_json::to_string(&report).map_err(|e| e.to_string())?;
        emit(&format!("{line}\n"))?;
    }
    Ok(())
}
