//! `mfcuda tune`: random or grid search on an inner split of the training
//! rows; the winner is scored once on the validation rows and written as a
//! recipe file.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use mfcuda::data::split::{NOTEBOOK_SPLIT_SEED, NOTEBOOK_VAL_PCT};
use mfcuda::eval::tune::{choose_ensemble, tune, Axis, Settings, Space, Trial, TuneOptions};
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

fn trial_line(k: usize, t: &Trial) -> String {
    let v = &t.settings;
    format!(
        "{:>5} {:>10.5} {:>10.5} {:>7} {:>6} {:>7} {:>10.4} {:>8}{}",
        k,
        v.lr,
        v.wd,
        v.factors,
        v.epochs,
        v.dropout.map_or("-".into(), |p| format!("{p:.3}")),
        t.inner_rmse,
        super::cv::secs(t.seconds),
        if k == 0 { "  (the recipe as given)" } else { "" }
    )
}

/// A trial's settings in words: `lr 0.01000, wd 0.05000, 100 factors, 20 epochs`.
fn settings_words(v: &Settings) -> String {
    let mut s = format!(
        "lr {:.5}, wd {:.5}, {} factors, {} epochs",
        v.lr, v.wd, v.factors, v.epochs
    );
    if let Some(p) = v.dropout {
        s.push_str(&format!(", dropout {p:.3}"));
    }
    s
}

/// The members' names in the candidates: their file names, or the paths as
/// given where two share a file name.
fn member_names(paths: &[PathBuf]) -> Vec<String> {
    let file_name = |p: &PathBuf| {
        p.file_name()
            .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
    };
    let short: Vec<String> = paths.iter().map(file_name).collect();
    paths
        .iter()
        .zip(&short)
        .map(|(p, n)| {
            if short.iter().filter(|m| *m == n).count() > 1 {
                p.display().to_string()
            } else {
                n.clone()
            }
        })
        .collect()
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
    let names = member_names(&a.members);
    let choice = choose_ensemble(&data, &files, &names, opts, |c| {
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
             trials train on {}% of the rest and are judged on the other {}%; trial 0 is the \
             recipe as given",
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
    let recipe_rmse = report.trials[0].inner_rmse;
    match report.best_tuned {
        None => say(
            json,
            "note     no axis to tune (give --lr, --wd, --factors, --epochs or --dropout): \
             the winner is the recipe as given",
        ),
        Some(t) if !report.beat_recipe => say(
            json,
            &format!(
                "note     the best tuned trial, trial {t} (inner RMSE {:.4}), is {} on the inner split \
                 than the recipe it started from (trial 0, inner RMSE {recipe_rmse:.4}): \
                 keeping the recipe's own settings",
                report.trials[t].inner_rmse,
                if report.trials[t].inner_rmse > recipe_rmse {
                    "worse"
                } else {
                    "no better"
                }
            ),
        ),
        Some(_) => {}
    }
    let against = if report.beat_recipe {
        format!(
            ", {:.4} below the recipe's own {recipe_rmse:.4}",
            recipe_rmse - best.inner_rmse
        )
    } else {
        ", the recipe as given".to_string()
    };
    say(
        json,
        &format!(
            "best     trial {}: {} (inner RMSE {:.4}{against}); trained on all the training rows \
             and scored once: validation RMSE {:.4} (MSE {:.4})",
            report.best,
            settings_words(&best.settings),
            best.inner_rmse,
            report.val_rmse,
            report.val_rmse * report.val_rmse
        ),
    );
    let about = format!(
        "chosen by mfcuda tune from {} trials on an inner split (inner RMSE {:.4}{}); validation RMSE {:.4}, scored once",
        report.trials.len(),
        best.inner_rmse,
        if report.beat_recipe {
            ""
        } else {
            "; no tuned trial beat the recipe as given"
        },
        report.val_rmse
    );
    write_winner(a, &report.file, about)?;
    if json {
        let line = serde_json::to_string(&report).map_err(|e| e.to_string())?;
        emit(&format!("{line}\n"))?;
    }
    Ok(())
}
