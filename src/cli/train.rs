//! `mfcuda train`: one recipe, trained and reported epoch by epoch; or with
//! `--trace`, one step printed tensor by tensor.

use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Args;
use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use mfcuda::data::split::{SplitKind, NOTEBOOK_SPLIT_SEED, NOTEBOOK_VAL_PCT};
use mfcuda::data::Source;
use mfcuda::eval::ensemble::train_ensemble;
use mfcuda::eval::ranking::model_metrics;
use mfcuda::recipe::{self, Overrides, Recipe};
use mfcuda::text::{count, repeats};
use mfcuda::tools::trace;
use mfcuda::train::{train, EpochRecord, Observer, Progress, TrainConfig};
use mfcuda::trained::ensemble::ranking_refused;
use mfcuda::trained::saved::{self, DataOrigin, SavedModel};

use super::plot::write_plots;
use super::{emit, CliResult, DataArgs, DeviceArgs, MetricsArgs, RecipeArgs};

/// The arguments of `mfcuda train`.
#[derive(Args)]
pub struct TrainArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    recipe: RecipeArgs,
    #[command(flatten)]
    device: DeviceArgs,
    /// Seeds initialisation, shuffling and dropout.
    #[arg(long, default_value_t = 42)]
    seed: u32,
    /// Seeds the train/validation split (the notebook's is 42).
    #[arg(long, default_value_t = NOTEBOOK_SPLIT_SEED)]
    split_seed: u32,
    /// Fraction of rows held out for validation.
    #[arg(long, default_value_t = NOTEBOOK_VAL_PCT, allow_negative_numbers = true)]
    val_pct: f64,
    /// Which rows to hold out: `random` (the notebook's), `temporal` (the latest --val-pct by
    /// timestamp) or `last-K` (each user's latest K ratings).
    #[arg(long, default_value = "random", value_name = "random|temporal|last-K")]
    split: SplitKind,
    #[command(flatten)]
    metrics: MetricsArgs,
    /// Print one JSON object as the last line of stdout; the table goes to stderr.
    #[arg(long)]
    json: bool,
    /// Save the trained model here (safetensors; written atomically).
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    /// Write pred_vs_actual.png and loss.png into this folder.
    #[arg(long, value_name = "DIR")]
    plot: Option<PathBuf>,
    /// Print only the final line.
    #[arg(long, short)]
    quiet: bool,
    /// Instead of training, print every tensor of one step on a batch of 4 (CPU and GPU side by side).
    #[arg(long)]
    trace: bool,
}

/// Where the human-readable lines of `train` go: stdout, or stderr when
/// stdout carries JSON, or nowhere with --quiet. On a terminal each epoch
/// also gets a progress bar, as fastai draws one.
struct Console {
    json: bool,
    quiet: bool,
    bars: bool,
    bar: Option<ProgressBar>,
    /// Set by the first Ctrl-C (or SIGTERM): stop after the running step on
    /// the CPU's dense epochs, else at the end of the epoch.
    stop: Arc<AtomicBool>,
}

impl Console {
    /// A console whose first Ctrl-C prints `notice` ("stopping; …").
    fn new(json: bool, quiet: bool, notice: &'static str) -> Console {
        let bars = !json && !quiet && io::stdout().is_terminal() && io::stderr().is_terminal();
        let stop = Arc::new(AtomicBool::new(false));
        // The first Ctrl-C or SIGTERM stops training (after the running step
        // of a CPU dense epoch, else at the end of the epoch) and keeps the
        // model as it stands; a second exits at once.
        let flag = Arc::clone(&stop);
        let _ = ctrlc::set_handler(move || {
            if flag.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("\n{notice} (Ctrl-C again to quit now)");
        });
        Console {
            json,
            quiet,
            bars,
            bar: None,
            stop,
        }
    }

    fn say(&self, line: &str) {
        if !self.quiet {
            super::say(self.json, line);
        }
    }
}

impl Observer for Console {
    fn stop_requested(&mut self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn start(&mut self, device_line: &str) {
        self.say(device_line);
        self.say(&EpochRecord::header());
    }

    fn step(&mut self, p: &Progress) {
        if !self.bars {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::new(p.steps as u64);
            let style = ProgressStyle::with_template(
                "epoch {prefix} {percent:>3}% [{bar:30}] {pos}/{len} [{elapsed}<{eta}, {rate}, loss={msg}]",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0} it/s", s.per_sec());
            })
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(format!("{}/{}", p.epoch + 1, p.epochs));
            bar
        });
        // Redrawing is rate-limited by indicatif; updating every 16 steps keeps the cost invisible.
        if p.step.is_multiple_of(16) || p.step == p.steps {
            bar.set_position(p.step as u64);
            bar.set_message(format!("{:.4}", p.loss));
        }
    }

    fn epoch(&mut self, r: &EpochRecord) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        self.say(&r.line());
    }
}

/// Trains the recipe (or traces one step of it) and prints the report.
pub fn run(a: &TrainArgs) -> CliResult {
    let more_given = a.plot.is_some() || a.trace;
    if let Some(members) = a.recipe.ensemble(", --plot and --trace", more_given)? {
        return run_ensemble(a, &members);
    }
    let (recipe, overrides) = a.recipe.resolve()?;
    // Every flag is checked before any work: --metrics 0 as well.
    a.metrics.options()?;
    // Refuse an unwritable --save before spending the training time.
    if let Some(path) = &a.save {
        mfcuda::files::check_writable(path)?;
    }
    let (data, loaded) = a.data.load_reported()?;
    if a.trace {
        let text = trace::trace_run(
            &data,
            &recipe,
            a.seed,
            a.val_pct,
            a.split_seed,
            a.device.device,
            |why| eprintln!("gpu: skipped ({why})"),
        )?;
        return Ok(emit(&text)?);
    }
    let cfg = TrainConfig {
        recipe: recipe.clone(),
        seed: a.seed,
        split_seed: a.split_seed,
        val_pct: a.val_pct,
        split: a.split,
        rows: None,
        device: a.device.device,
        gpu: a.device.gpu(),
    };
    let mut console = Console::new(a.json, a.quiet, "stopping; the model as it stands is kept");
    say_setup(&console, &recipe, &overrides);
    console.say(&format!(
        "data     {} ({}; {})",
        data.source,
        count(data.len() as u64, "rating"),
        loaded.line()
    ));
    if let Some(w) = (a.split == SplitKind::Random)
        .then(|| mfcuda::data::split::thin_training_warning(data.len(), a.val_pct))
        .flatten()
    {
        console.say(&format!("warning  {w}"));
    }
    if let Some(note) = data.skipped.note() {
        console.say(&format!("note     {note}"));
    }
    let dups = data.duplicate_pairs();
    if dups > 0 {
        console.say(&format!(
            "note     {} an earlier (user, movie) pair; each is trained on as its own rating",
            repeats(dups as u64)
        ));
    }
    for (column, ids) in [("user", &data.user_ids), ("movie", &data.item_ids)] {
        if let Some((ints, texts, first)) = ids.list().mixed() {
            console.say(&format!(
                "note     the {column} ids mix kinds: {} written as integers and {} as text (the first: {first:?}); \
                 each is its own id, so check the column if that is not meant",
                count(ints as u64, "id"),
                count(texts as u64, "id")
            ));
        }
    }
    let mut report = train(&data, &cfg, &mut console)?;
    // Where an interrupted run stopped, in words, numbering epochs from 0 as the table does.
    let stopped = match report.stopped_mid_epoch {
        Some((done, steps)) => format!(
            "in epoch {} (of epochs 0 to {}), after {done} of {steps} steps",
            report.history.len(),
            recipe.epochs().saturating_sub(1)
        ),
        None => format!(
            "after {} of {}",
            mfcuda::text::count(report.history.len() as u64, "epoch"),
            recipe.epochs()
        ),
    };
    // No finished epoch, no model: a file already at --save is left as it was.
    if report.interrupted && report.history.is_empty() {
        return Err(format!(
            "interrupted {stopped}, before the first epoch finished: nothing was saved{}",
            match &a.save {
                Some(path) if path.exists() => format!(" ({} is left as it was)", path.display()),
                _ => String::new(),
            }
        )
        .into());
    }
    console.say(&format!("model    {}", saved::model_summary(&report.spec)));
    let origin = DataOrigin::of(
        &data,
        &Source::from_option(a.data.data.as_deref()),
        &a.data.columns(),
    );
    let model = SavedModel::from_report(&report, &data, Some(origin));
    if let Some(path) = &a.save {
        model.save(path)?;
        console.say(&format!(
            "saved    {}{}",
            path.display(),
            match (report.interrupted, report.stopped_mid_epoch) {
                (false, _) => String::new(),
                (true, None) => format!(" (interrupted: the model of epoch {})", report.history.len()),
                (true, Some(_)) => format!(
                    " (interrupted: the model as it stood {stopped}, validation MSE {:.4})",
                    report.val_mse
                ),
            }
        ));
    }
    if report.interrupted {
        return Err(format!(
            "interrupted {stopped}{}",
            if a.save.is_some() {
                "; the model as it stood was saved"
            } else {
                ""
            }
        )
        .into());
    }
    if let Some(dir) = &a.plot {
        for path in write_plots(&model, &data, dir)? {
            console.say(&format!("plot     {}", path.display()));
        }
    }
    // The notebook's figure applies to the notebook's setup only.
    if a.split != SplitKind::Random
        || !recipe::is_notebook_setup(a.data.data.is_none(), &overrides, a.val_pct, a.split_seed)
    {
        report.notebook_mse = None;
    }
    let notebook = report
        .notebook_mse
        .map(|m| format!("  (notebook {m:.4})"))
        .unwrap_or_default();
    let last = format!(
        "final    val_mse {:.4}  val_rmse {:.4}{notebook}  in {:.1} s, {:.2} s of training per epoch",
        report.val_mse,
        report.val_rmse,
        report.seconds,
        report.history.iter().map(|r| r.train_seconds).sum::<f64>() / report.epochs as f64
    );
    console.say(&format!(
        "baseline val_mse {:.4}  (predicting the training mean, {:.3}, for every rating)",
        report.baseline_mse, report.global_mean
    ));
    if a.quiet && !a.json {
        emit(&format!("{last}\n"))?;
    } else {
        console.say(&last);
    }
    if let Some(w) = &report.warning {
        eprintln!("warning: {w}");
    }
    let ranking = a
        .metrics
        .options()?
        .map(|o| model_metrics(&model, &data, o, a.device.device))
        .transpose()?;
    if let Some(r) = &ranking {
        console.say(&format!("ranking  {}", r.line()));
    }
    if a.json {
        let mut v = serde_json::to_value(&report).map_err(|e| e.to_string())?;
        if let (Some(r), Some(obj)) = (&ranking, v.as_object_mut()) {
            obj.insert(
                "ranking".into(),
                serde_json::to_value(r).map_err(|e| e.to_string())?,
            );
        }
        emit(&format!("{v}\n"))?;
    }
    Ok(())
}

/// Trains an ensemble's members on the run's split, reporting each
/// member's epochs and result, then their average; `--save` writes the
/// ensemble as one file (it is not one model, so it cannot be plotted or
/// traced).
fn run_ensemble(a: &TrainArgs, members: &[Recipe]) -> CliResult {
    let (name, _) = a.recipe.request()?.members()?;
    if a.metrics.metrics.is_some() {
        let names: Vec<&str> = members.iter().map(|m| m.name).collect();
        return Err(ranking_refused("--metrics", &name, &names).into());
    }
    if let Some(path) = &a.save {
        mfcuda::files::check_writable(path)?;
    }
    let data = a.data.load()?;
    let split = a
        .split
        .split(&data.users, &data.timestamps, a.val_pct, a.split_seed)?;
    let mut console = Console::new(
        a.json,
        a.quiet,
        "stopping; an ensemble is kept whole or not at all, so nothing will be saved",
    );
    console.say(&format!(
        "recipe   an ensemble of {}: their predictions averaged",
        members.iter().map(|r| r.name).collect::<Vec<_>>().join(" + ")
    ));
    // The member lines go out as the console's do; the console itself hears the epochs.
    let (json, quiet) = (a.json, a.quiet);
    let report = train_ensemble(
        &data,
        members,
        &split,
        a.seed,
        a.device.device,
        a.device.gpu(),
        &mut console,
        |m| {
            if !quiet {
                super::say(json, &m.line())
            }
        },
    )?;
    if report.interrupted {
        return Err(format!(
            "interrupted in member {} of {} ({}): an ensemble is kept whole or not at all, so nothing was saved{}",
            report.members.len(),
            members.len(),
            report.members.last().map_or("", |m| m.recipe.as_str()),
            match &a.save {
                Some(path) if path.exists() => format!(" ({} is left as it was)", path.display()),
                _ => String::new(),
            }
        )
        .into());
    }
    if let Some(path) = &a.save {
        let origin = DataOrigin::of(
            &data,
            &Source::from_option(a.data.data.as_deref()),
            &a.data.columns(),
        );
        report
            .ensemble(&name, &data, Some(origin), (a.split, a.split_seed, a.val_pct))?
            .save(path)?;
        console.say(&format!(
            "saved    {} (an ensemble of {} models)",
            path.display(),
            report.members.len()
        ));
    }
    let last = format!(
        "final    val_mse {:.4}  val_rmse {:.4}  (the average of {} members)",
        report.val_mse,
        report.val_rmse,
        report.members.len()
    );
    if a.quiet && !a.json {
        emit(&format!("{last}\n"))?;
    } else {
        console.say(&last);
    }
    if a.json {
        let line = serde_json::to_string(&report).map_err(|e| e.to_string())?;
        emit(&format!("{line}\n"))?;
    }
    Ok(())
}

/// The recipe and schedule lines that open the report.
fn say_setup(console: &Console, recipe: &Recipe, overrides: &Overrides) {
    if *overrides == Overrides::default() {
        console.say(&format!("recipe   {}: {}", recipe.name, recipe.about));
    } else {
        console.say(&format!(
            "recipe   {}, with overrides (its defaults: {})",
            recipe.name, recipe.about
        ));
    }
    let stages: Vec<String> = recipe.stages.iter().map(|s| s.to_string()).collect();
    let total = if recipe.stages.len() > 1 {
        format!(
            "; {} in all",
            mfcuda::text::count(recipe.epochs() as u64, "epoch")
        )
    } else {
        String::new()
    };
    console.say(&format!(
        "schedule {}{total} (batch {}, wd {})",
        stages.join(", then "),
        recipe.batch_size,
        recipe.wd
    ));
}
