//! The `mfcuda` command line: a thin layer over the library.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use std::sync::Arc;

use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use mfcuda::backend::cuda;
use mfcuda::backend::select::{choose, Choice, Needs};
use mfcuda::backend::{Device, GpuOptions};
use mfcuda::data::cache::{self, LoadReport};
use mfcuda::data::split::validation_indices;
use mfcuda::data::stats::Stats;
use mfcuda::data::synth::{self, SynthSpec};
use mfcuda::data::{self, Columns, Ratings, Source};
use mfcuda::recipe::{self, Overrides};
use mfcuda::tools::bench::{self, BenchOptions, BenchRow};
use mfcuda::tools::check::{self, CheckRow};
use mfcuda::train::{train, EpochRecord, Observer, Progress, TrainConfig};
use mfcuda::trained::explore::{self, Movies, Prediction, Unknown};
use mfcuda::trained::plot;
use mfcuda::trained::saved::{self, SavedModel};

type CliResult = Result<(), cli_error::Error>;

/// Matrix factorization on MovieLens: the fastai notebook, reproduced from first principles.
#[derive(Parser)]
#[command(name = "mfcuda", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train one of the notebook's experiments and report validation MSE.
    Train(TrainArgs),
    /// Print the validation row indices, as fastai's get_cv_idxs gives them.
    Split(SplitArgs),
    /// Print dataset statistics, top users and movies, and their crosstab.
    Stats(StatsArgs),
    /// Check every CUDA kernel against its CPU twin, then one training step per optimizer.
    Check(CheckArgs),
    /// Time kernels and epochs: the GPU against its copy bandwidth, and the CPU.
    Bench(BenchArgs),
    /// Print a saved model the way PyTorch prints it, with its size.
    Summary(ModelArgs),
    /// Predict the validation split (CSV on stdout, RMSE on stderr), or a CSV of pairs.
    Predict(PredictArgs),
    /// Draw predicted-against-actual and loss-curve PNGs for a saved model.
    Plot(PlotArgs),
    /// A user's top unseen movies, with titles, predicted ratings and biases.
    Recommend(RecommendArgs),
    /// The movies nearest to one movie by cosine similarity of their embeddings.
    Similar(SimilarArgs),
    /// The movies with the highest and the lowest learned bias.
    Biases(BiasesArgs),
    /// Write MovieLens-format ratings from a planted low-rank model plus noise.
    Synth(SynthArgs),
    /// List the recipes.
    Recipes,
}

#[derive(Args)]
struct SynthArgs {
    /// Distinct users.
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// Distinct movies.
    #[arg(long, default_value_t = 2000)]
    items: usize,
    /// Rating rows.
    #[arg(long, default_value_t = 100_000)]
    ratings: usize,
    /// Rank of the planted model.
    #[arg(long, default_value_t = 10)]
    rank: usize,
    /// Standard deviation of the noise added to each rating.
    #[arg(long, default_value_t = 0.5, allow_negative_numbers = true)]
    noise: f64,
    /// Seed.
    #[arg(long, default_value_t = 42)]
    seed: u32,
    /// Output CSV (written atomically) [default: stdout]
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct BenchArgs {
    #[command(flatten)]
    data: DataArgs,
    /// `cpu` times the CPU only; `auto` adds the GPU when there is one; `cuda` requires it.
    #[arg(long, default_value = "auto", value_name = "auto|cpu|cuda|cuda:N")]
    device: Device,
    /// Smaller large sizes and fewer repetitions (with --scale: shapes a tenth of the size).
    #[arg(long)]
    quick: bool,
    /// Print one JSON object as the last line of stdout; the table goes to stderr.
    #[arg(long)]
    json: bool,
    /// Sparse SGD at ml-25m and Netflix sizes on synthetic data, instead of the kernel table.
    #[arg(long)]
    scale: bool,
    /// With --scale: training epochs per variant.
    #[arg(long, default_value_t = 10, requires = "scale")]
    epochs: usize,
}

#[derive(Args)]
struct ModelArgs {
    /// A model saved with `train --save`.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
}

impl ModelArgs {
    fn load(&self) -> mfcuda::Result<SavedModel> {
        SavedModel::load(&self.model)
    }
}

#[derive(Args)]
struct PredictArgs {
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
}

#[derive(Args)]
struct PlotArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    data: DataArgs,
    /// Folder for pred_vs_actual.png and loss.png.
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
}

#[derive(Args)]
struct RecommendArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    data: DataArgs,
    /// Raw user id (as in the ratings file).
    #[arg(long)]
    user: i64,
    /// How many movies.
    #[arg(short = 'n', long = "top", default_value_t = 10)]
    n: usize,
    /// movies.csv for titles [default: the bundled one]
    #[arg(long, value_name = "FILE")]
    movies: Option<PathBuf>,
}

#[derive(Args)]
struct SimilarArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Raw movie id.
    #[arg(long)]
    movie: i64,
    /// How many movies.
    #[arg(short = 'n', long = "top", default_value_t = 10)]
    n: usize,
    /// movies.csv for titles [default: the bundled one]
    #[arg(long, value_name = "FILE")]
    movies: Option<PathBuf>,
}

#[derive(Args)]
struct BiasesArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    data: DataArgs,
    /// How many movies at each end.
    #[arg(short = 'n', long = "top", default_value_t = 15)]
    n: usize,
    /// Rank only this many of the most-rated movies (0: all), as the fastai lesson does.
    #[arg(long, default_value_t = 1000)]
    popular: usize,
    /// movies.csv for titles [default: the bundled one]
    #[arg(long, value_name = "FILE")]
    movies: Option<PathBuf>,
}

#[derive(Args)]
struct CheckArgs {
    /// The GPU to check; `cpu` has nothing to compare.
    #[arg(long, default_value = "auto", value_name = "auto|cpu|cuda|cuda:N")]
    device: Device,
}

/// Where the ratings come from.
#[derive(Args)]
struct DataArgs {
    /// Ratings CSV [default: the bundled ml-latest-small ratings.csv]
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// Header name of the user id column.
    #[arg(long, default_value = "userId")]
    user_col: String,
    /// Header name of the item id column.
    #[arg(long, default_value = "movieId")]
    item_col: String,
    /// Header name of the rating column.
    #[arg(long, default_value = "rating")]
    rating_col: String,
    /// Keep a binary copy of the parsed --data file beside it (FILE.mfcache) and reuse it while the file is unchanged.
    #[arg(long)]
    cache: bool,
}

impl DataArgs {
    fn columns(&self) -> Columns {
        Columns {
            user: self.user_col.clone(),
            item: self.item_col.clone(),
            rating: self.rating_col.clone(),
        }
    }

    fn load(&self) -> mfcuda::Result<Ratings> {
        Ok(self.load_reported()?.0)
    }

    /// The data, and how long it took and how much memory.
    fn load_reported(&self) -> mfcuda::Result<(Ratings, LoadReport)> {
        cache::load(
            &Source::from_option(self.data.as_deref()),
            &self.columns(),
            self.cache,
        )
    }
}

#[derive(Args)]
struct TrainArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Which experiment (see `mfcuda recipes`).
    #[arg(long, default_value = "learner")]
    recipe: String,
    /// Where to compute.
    #[arg(long, default_value = "auto", value_name = "auto|cpu|cuda|cuda:N")]
    device: Device,
    /// Seeds initialisation, shuffling and dropout.
    #[arg(long, default_value_t = 42)]
    seed: u32,
    /// Seeds the train/validation split (the notebook's is 42).
    #[arg(long, default_value_t = 42)]
    split_seed: u32,
    /// Fraction of rows held out for validation.
    #[arg(long, default_value_t = 0.2, allow_negative_numbers = true)]
    val_pct: f64,
    /// Epochs of each constant-lr stage, or cycles of an SGDR stage.
    #[arg(long)]
    epochs: Option<usize>,
    /// Learning rate of the first stage; later stages keep their ratio to it.
    #[arg(long, allow_negative_numbers = true)]
    lr: Option<f32>,
    /// Weight decay (coupled L2).
    #[arg(long, allow_negative_numbers = true)]
    wd: Option<f32>,
    /// Embedding width.
    #[arg(long)]
    factors: Option<usize>,
    /// Rows per batch.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Print one JSON object as the last line of stdout; the table goes to stderr.
    #[arg(long)]
    json: bool,
    /// On the GPU, run dot and dotbias steps as two fused kernels, each epoch one CUDA graph.
    #[arg(long)]
    fused: bool,
    /// On the GPU, no atomics: two runs give the same bits (slower; turns --fused off).
    #[arg(long)]
    deterministic: bool,
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

#[derive(Args)]
struct SplitArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Fraction of rows held out for validation.
    #[arg(long, default_value_t = 0.2, allow_negative_numbers = true)]
    val_pct: f64,
    /// numpy seed of the permutation.
    #[arg(long, default_value_t = 42)]
    seed: u32,
}

#[derive(Args)]
struct StatsArgs {
    #[command(flatten)]
    data: DataArgs,
    /// How many top users and movies to show.
    #[arg(long, default_value_t = 15)]
    top: usize,
}

/// Writes to stdout; a closed pipe (`mfcuda split | head`) ends quietly.
fn emit(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Where the human-readable lines of `train` go: stdout, or stderr when
/// stdout carries JSON, or nowhere with --quiet. On a terminal each epoch
/// also gets a progress bar, as fastai draws one.
struct Console {
    json: bool,
    quiet: bool,
    bars: bool,
    bar: Option<ProgressBar>,
}

impl Console {
    fn new(json: bool, quiet: bool) -> Console {
        let bars = !json && !quiet && io::stdout().is_terminal() && io::stderr().is_terminal();
        Console {
            json,
            quiet,
            bars,
            bar: None,
        }
    }

    fn say(&self, line: &str) {
        if self.quiet {
        } else if self.json {
            eprintln!("{line}");
        } else {
            let _ = emit(&format!("{line}\n"));
        }
    }
}

impl Observer for Console {
    fn start(&mut self, device_line: &str) {
        self.say(device_line);
        self.say(&format!(
            "{:>5} {:>5} {:>10} {:>10} {:>9}",
            "epoch", "stage", "trn_loss", "val_loss", "seconds"
        ));
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
        if p.step % 16 == 0 || p.step == p.steps {
            bar.set_position(p.step as u64);
            bar.set_message(format!("{:.4}", p.loss));
        }
    }

    fn epoch(&mut self, r: &EpochRecord) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        self.say(&format!(
            "{:>5} {:>5} {:>10.6} {:>10.6} {:>9.2}",
            r.epoch, r.stage, r.trn_loss, r.val_loss, r.seconds
        ));
    }
}

fn run_train(a: &TrainArgs) -> CliResult {
    let overrides = Overrides {
        epochs: a.epochs,
        lr: a.lr,
        wd: a.wd,
        factors: a.factors,
        batch_size: a.batch_size,
    };
    let recipe = recipe::find(&a.recipe)?.with_overrides(&overrides)?;
    // Refuse an unwritable --save before spending the training time.
    if let Some(path) = &a.save {
        mfcuda::files::check_writable(path)?;
    }
    let (data, loaded) = a.data.load_reported()?;
    if a.trace {
        return run_trace(a, &recipe, &data);
    }
    let cfg = TrainConfig {
        recipe: recipe.clone(),
        seed: a.seed,
        split_seed: a.split_seed,
        val_pct: a.val_pct,
        device: a.device,
        gpu: GpuOptions {
            fused: a.fused,
            deterministic: a.deterministic,
        },
    };
    let mut console = Console::new(a.json, a.quiet);
    if overrides == Overrides::default() {
        console.say(&format!("recipe   {}: {}", recipe.name, recipe.about));
    } else {
        console.say(&format!(
            "recipe   {}, with overrides (its defaults: {})",
            recipe.name, recipe.about
        ));
    }
    let stages: Vec<String> = recipe.stages.iter().map(|s| s.to_string()).collect();
    console.say(&format!(
        "schedule {} (batch {}, wd {})",
        stages.join(", then "),
        recipe.batch_size,
        recipe.wd
    ));
    console.say(&format!(
        "data     {} ({} ratings; {})",
        data.source,
        data.len(),
        loaded.line()
    ));
    let dups = data.duplicate_pairs();
    if dups > 0 {
        console.say(&format!(
            "note     {dups} rows repeat an earlier (user, movie) pair; each is trained on as its own rating"
        ));
    }
    let mut report = train(&data, &cfg, &mut console)?;
    console.say(&format!("model    {}", saved::model_summary(&report.spec)));
    let model = SavedModel::from_report(&report, &data);
    if let Some(path) = &a.save {
        model.save(path)?;
        console.say(&format!("saved    {}", path.display()));
    }
    if let Some(dir) = &a.plot {
        for path in write_plots(&model, &data, dir)? {
            console.say(&format!("plot     {}", path.display()));
        }
    }
    // The notebook's figure applies to the notebook's setup only.
    let notebook_setup =
        a.data.data.is_none() && overrides == Overrides::default() && a.val_pct == 0.2 && a.split_seed == 42;
    if !notebook_setup {
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

/// `train --trace`: one step on the first 4 rows of the first epoch's order,
/// drawn exactly as training draws them.
fn run_trace(a: &TrainArgs, recipe: &recipe::Recipe, data: &Ratings) -> CliResult {
    let setup = mfcuda::train::Setup::new(data, recipe, a.seed, a.val_pct, a.split_seed)?;
    let order = setup.rng.clone().permutation(setup.train.len());
    let mut batch = mfcuda::data::Examples::default();
    setup.train.gather_into(&order[..4.min(order.len())], &mut batch);
    let gpu = match choose(a.device, &Needs::default())? {
        Choice::Gpu { gpu, .. } => Some(gpu),
        Choice::Cpu(Some(why)) => {
            eprintln!("gpu: skipped ({why})");
            None
        }
        Choice::Cpu(None) => None,
    };
    let lr = recipe.stages[0].lr();
    let text = mfcuda::tools::trace::trace_step(
        &setup.spec,
        &setup.params,
        &batch.users,
        &batch.items,
        &batch.ratings,
        lr,
        recipe.wd,
        gpu.as_ref(),
    )?;
    Ok(emit(&text)?)
}

/// Writes pred_vs_actual.png (the validation split) and loss.png into `dir`.
fn write_plots(model: &SavedModel, data: &Ratings, dir: &Path) -> mfcuda::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| mfcuda::Error::Write {
        file: dir.display().to_string(),
        source: e,
    })?;
    let preds = explore::predict_validation(model, data)?;
    let joint = dir.join("pred_vs_actual.png");
    write_joint_plot(model, &preds, &joint)?;
    let loss = dir.join("loss.png");
    let title = format!("{}: training and validation loss", model.recipe);
    plot::loss_plot(&loss, &model.history, &title)?;
    Ok(vec![joint, loss])
}

fn write_joint_plot(model: &SavedModel, preds: &[Prediction], path: &Path) -> mfcuda::Result<()> {
    let (actual, predicted): (Vec<f32>, Vec<f32>) = preds
        .iter()
        .filter_map(|p| p.rating.map(|r| (r, p.predicted)))
        .unzip();
    let rmse = explore::rmse(preds).unwrap_or(f64::NAN);
    let title = format!("{}: {} ratings, RMSE {:.3}", model.recipe, actual.len(), rmse);
    let (lo, hi) = model.spec.y_range;
    plot::joint_plot(path, &actual, &predicted, lo, hi, &title)
}

fn run_predict(a: &PredictArgs) -> CliResult {
    let model = a.model.load()?;
    let preds = match &a.pairs {
        Some(path) => {
            let reader = data::open(&Source::File(path.clone()), b"")?;
            let cols = a.data.columns();
            explore::predict_pairs(&model, reader, &path.display().to_string(), &cols, a.unknown)?
        }
        None => explore::predict_validation(&model, &a.data.load()?)?,
    };
    let mut out = String::from("userId,movieId,rating,prediction\n");
    for p in &preds {
        let rating = p.rating.map(|r| r.to_string()).unwrap_or_default();
        out.push_str(&format!("{},{},{},{:.4}\n", p.user, p.movie, rating, p.predicted));
    }
    emit(&out)?;
    let unknown = preds.iter().filter(|p| !p.known).count();
    match explore::rmse(&preds) {
        Some(r) => eprintln!(
            "rmse {r:.4} over {} rated rows",
            preds.iter().filter(|p| p.rating.is_some()).count()
        ),
        None => eprintln!("{} predictions (no ratings to compare with)", preds.len()),
    }
    if unknown > 0 {
        eprintln!(
            "{unknown} rows had unknown ids and got the mean rating {:.3}",
            model.global_mean
        );
    }
    if let Some(dir) = &a.plot {
        std::fs::create_dir_all(dir).map_err(|e| mfcuda::Error::Write {
            file: dir.display().to_string(),
            source: e,
        })?;
        let path = dir.join("pred_vs_actual.png");
        write_joint_plot(&model, &preds, &path)?;
        eprintln!("plot {}", path.display());
    }
    Ok(())
}

/// The model, the ratings and the titles that `recommend` and `biases`
/// read, with a warning when the ratings are not the model's own.
fn model_data_movies(
    model: &ModelArgs,
    data: &DataArgs,
    movies: Option<&Path>,
) -> mfcuda::Result<(SavedModel, Ratings, Movies)> {
    let (model, data, movies) = (model.load()?, data.load()?, Movies::load(movies)?);
    if let Some(w) = explore::data_mismatch(&model, &data) {
        eprintln!("{w}");
    }
    Ok((model, data, movies))
}

fn run_recommend(a: &RecommendArgs) -> CliResult {
    let (model, data, movies) = model_data_movies(&a.model, &a.data, a.movies.as_deref())?;
    let recs = explore::recommend(&model, &data, &movies, a.user, a.n)?;
    let mut out = format!(
        "top {} unseen movies for user {} ({} model)\n",
        recs.len(),
        a.user,
        model.recipe
    );
    out.push_str(&format!(
        "{:>4} {:>8} {:>9} {:>7}  title\n",
        "rank", "movieId", "predicted", "bias"
    ));
    for (k, r) in recs.iter().enumerate() {
        let bias = r.bias.map(|b| format!("{b:+.3}")).unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{:>4} {:>8} {:>9.3} {:>7}  {}\n",
            k + 1,
            r.movie,
            r.predicted,
            bias,
            r.title
        ));
    }
    Ok(emit(&out)?)
}

fn run_similar(a: &SimilarArgs) -> CliResult {
    let model = a.model.load()?;
    let movies = Movies::load(a.movies.as_deref())?;
    let rows = explore::similar(&model, &movies, a.movie, a.n)?;
    let mut out = format!(
        "movies nearest to {} {} (cosine of embeddings)\n",
        a.movie,
        movies.title(a.movie)
    );
    for r in rows {
        out.push_str(&format!("{:>8} {:>7.3}  {}\n", r.movie, r.score, r.title));
    }
    Ok(emit(&out)?)
}

fn run_biases(a: &BiasesArgs) -> CliResult {
    let (model, data, movies) = model_data_movies(&a.model, &a.data, a.movies.as_deref())?;
    let (top, bottom) = explore::biases(&model, &data, &movies, a.n, a.popular)?;
    let pool = if a.popular > 0 && a.popular < model.item_ids.len() {
        format!("the {} most-rated movies", a.popular)
    } else {
        "all movies".into()
    };
    let mut out = String::new();
    for (title, rows) in [("highest", top), ("lowest", bottom)] {
        out.push_str(&format!(
            "{title} movie bias among {pool}\n{:>8} {:>7} {:>7}  title\n",
            "movieId", "bias", "ratings"
        ));
        for r in rows {
            let count = r.count.map(|c| c.to_string()).unwrap_or_else(|| "-".into());
            out.push_str(&format!(
                "{:>8} {:>+7.3} {:>7}  {}\n",
                r.movie, r.score, count, r.title
            ));
        }
        out.push('\n');
    }
    Ok(emit(&out)?)
}

fn run_plot(a: &PlotArgs) -> CliResult {
    let model = a.model.load()?;
    for path in write_plots(&model, &a.data.load()?, &a.out)? {
        emit(&format!("{}\n", path.display()))?;
    }
    Ok(())
}

fn run_check(a: &CheckArgs) -> CliResult {
    let needs = Needs {
        gpu_only: Some("mfcuda check compares the CUDA kernels with their CPU twins".into()),
        gpu_refused: None,
    };
    let Some(gpu) = choose(a.device, &needs)?.into_gpu() else {
        return Err("mfcuda check: no GPU was chosen".to_string().into());
    };
    let gpu = Arc::new(gpu);
    emit(&format!(
        "device   {}\nkernels  {}\n\n{}\n",
        gpu.description,
        cuda::BUILD_NOTE,
        CheckRow::header()
    ))?;
    let mut failed = 0;
    let mut show = |row: &CheckRow| {
        if !row.cmp.ok() {
            failed += 1;
        }
        let _ = emit(&format!("{}\n", row.line()));
    };
    check::kernel_checks(&gpu, &mut show)?;
    let data = Ratings::load(&Source::Bundled, &Columns::default())?;
    // Op by op, fused, and deterministic; the net has no fused path.
    let (plain, fused, det) = (
        GpuOptions::default(),
        GpuOptions {
            fused: true,
            deterministic: false,
        },
        GpuOptions {
            fused: false,
            deterministic: true,
        },
    );
    let parity = [
        ("dotbias", plain),
        ("learner", plain),
        ("net", plain),
        ("dotbias", fused),
        ("learner", fused),
        ("dotbias", det),
        ("net", det),
    ];
    for (name, opts) in parity {
        show(&check::step_parity(&gpu, &data, &recipe::find(name)?, 42, opts)?);
    }
    show(&check::sparse_parity::<f32>(
        &gpu,
        &data,
        &recipe::find("sparse")?,
        42,
    )?);
    show(&check::sparse_parity::<half::bf16>(
        &gpu,
        &data,
        &recipe::find("sparse-bf16")?,
        42,
    )?);
    if failed > 0 {
        return Err(format!("{failed} check rows failed").into());
    }
    emit("all checks passed\n")?;
    Ok(())
}

fn run_bench(a: &BenchArgs) -> CliResult {
    if a.scale {
        return run_bench_scale(a);
    }
    let data = a.data.load()?;
    let json = a.json;
    let say = |line: &str| {
        if json {
            eprintln!("{line}");
        } else {
            let _ = emit(&format!("{line}\n"));
        }
    };
    let opts = BenchOptions {
        device: a.device,
        quick: a.quick,
    };
    let mut header_said = false;
    let report = bench::run(&data, opts, |row| {
        if !header_said {
            say(&BenchRow::header());
            header_said = true;
        }
        say(&row.line())
    })?;
    match (&report.gpu, &report.gpu_skipped, report.copy_gb_per_s) {
        (Some(gpu), _, Some(copy)) => say(&format!("gpu: {gpu}; device-to-device copy {copy:.0} GB/s")),
        (_, Some(why), _) => say(&format!("gpu: not measured ({why})")),
        _ => {}
    }
    if json {
        let line = serde_json::to_string(&report).map_err(|e| e.to_string())?;
        emit(&format!("{line}\n"))?;
    }
    Ok(())
}

fn run_bench_scale(a: &BenchArgs) -> CliResult {
    use mfcuda::tools::scale::{self, ScaleOptions, ScaleRow, Stage};
    let json = a.json;
    let say = |line: &str| {
        if json {
            eprintln!("{line}");
        } else {
            let _ = emit(&format!("{line}\n"));
        }
    };
    let shapes = scale::SHAPES
        .iter()
        .map(|&(name, u, i, r)| {
            if a.quick {
                (name, u / 10, i / 10, r / 10)
            } else {
                (name, u, i, r)
            }
        })
        .collect();
    let opts = ScaleOptions {
        device: a.device,
        shapes,
        quick: a.quick,
        epochs: a.epochs,
    };
    // One bar at a time on stderr: drawing a shape's ratings, then each
    // variant's epochs. Rows clear it before they print.
    let show = io::stderr().is_terminal();
    let bar: std::cell::RefCell<Option<(String, ProgressBar)>> = Default::default();
    let clear = || {
        if let Some((_, b)) = bar.borrow_mut().take() {
            b.finish_and_clear();
        }
    };
    let on_stage = |stage: Stage| {
        if !show {
            return;
        }
        let (key, msg, done, total) = match stage {
            Stage::Generating { shape, done, total } => (
                format!("gen {shape}"),
                format!("drawing {shape} ratings"),
                done,
                total,
            ),
            Stage::Training {
                variant,
                epoch,
                epochs,
            } => (
                format!("train {variant}"),
                format!("training {variant}: epoch"),
                epoch,
                epochs,
            ),
        };
        let mut bar = bar.borrow_mut();
        if bar.as_ref().map(|b| &b.0) != Some(&key) {
            if let Some((_, old)) = bar.take() {
                old.finish_and_clear();
            }
            let b = ProgressBar::new(total as u64).with_message(msg);
            b.set_style(
                ProgressStyle::with_template("{msg} {pos}/{len} [{bar:30}] {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            *bar = Some((key, b));
        }
        if let Some((_, b)) = bar.as_ref() {
            b.set_position(done as u64);
        }
    };
    let mut header_said = false;
    let report = scale::run(
        opts,
        |row| {
            clear();
            if !header_said {
                say(&ScaleRow::header());
                header_said = true;
            }
            say(&row.line());
        },
        on_stage,
    )?;
    clear();
    match (&report.gpu, report.copy_gb_per_s) {
        (Some(gpu), Some(copy)) => say(&format!("gpu: {gpu}; device-to-device copy {copy:.0} GB/s")),
        _ => say("gpu: none used; the rows above are the CPU's"),
    }
    if json {
        let line = serde_json::to_string(&report).map_err(|e| e.to_string())?;
        emit(&format!("{line}\n"))?;
    }
    Ok(())
}

fn run_synth(a: &SynthArgs) -> CliResult {
    let spec = SynthSpec {
        users: a.users,
        items: a.items,
        ratings: a.ratings,
        rank: a.rank,
        noise: a.noise,
        seed: a.seed,
    };
    match &a.out {
        None => {
            let mut out = io::BufWriter::new(io::stdout().lock());
            match synth::write_csv(&spec, &mut out, |_| {}) {
                Err(mfcuda::Error::Write { source, .. }) if source.kind() == io::ErrorKind::BrokenPipe => {
                    Ok(())
                }
                other => Ok(other?),
            }
        }
        Some(path) => {
            let bar = (a.ratings >= 1 << 22 && io::stderr().is_terminal())
                .then(|| ProgressBar::new(a.ratings as u64));
            mfcuda::files::write_atomic(path, |f| {
                let mut out = io::BufWriter::with_capacity(1 << 20, f);
                synth::write_csv(&spec, &mut out, |n| {
                    if let Some(b) = &bar {
                        b.set_position(n as u64);
                    }
                })
                .map_err(|e| io::Error::other(e.to_string()))
            })?;
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            eprintln!("wrote {} ratings to {}", a.ratings, path.display());
            Ok(())
        }
    }
}

fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Train(a) => run_train(&a),
        Command::Split(a) => {
            let data = a.data.load()?;
            let idx = validation_indices(data.len(), a.val_pct, a.seed)?;
            let mut text = String::with_capacity(idx.len() * 7);
            for i in idx {
                text.push_str(&i.to_string());
                text.push('\n');
            }
            Ok(emit(&text)?)
        }
        Command::Stats(a) => {
            let (data, loaded) = a.data.load_reported()?;
            emit(&format!(
                "{}load      {}\n",
                Stats::new(&data, a.top).render(&data.source),
                loaded.line()
            ))?;
            Ok(())
        }
        Command::Check(a) => run_check(&a),
        Command::Summary(a) => Ok(emit(&format!("{}\n", a.load()?.summary()))?),
        Command::Predict(a) => run_predict(&a),
        Command::Plot(a) => run_plot(&a),
        Command::Recommend(a) => run_recommend(&a),
        Command::Similar(a) => run_similar(&a),
        Command::Biases(a) => run_biases(&a),
        Command::Bench(a) => run_bench(&a),
        Command::Synth(a) => run_synth(&a),
        Command::Recipes => {
            let mut text = String::new();
            let all = recipe::all();
            let width = all.iter().map(|r| r.name.len()).max().unwrap_or(0);
            for r in all {
                let notebook = r
                    .notebook_mse
                    .map(|m| format!("notebook MSE {m:.4}"))
                    .unwrap_or("not in the notebook".into());
                text.push_str(&format!(
                    "{:<width$} {} epochs, {notebook}: {}\n",
                    r.name,
                    r.epochs(),
                    r.about
                ));
            }
            Ok(emit(&text)?)
        }
    }
}

/// A minimal error funnel for the binary: library errors and I/O errors
/// become one message line.
mod cli_error {
    /// One message line for the user; a closed stdout pipe is not an error.
    pub struct Error {
        pub msg: String,
        pub broken_pipe: bool,
    }
    impl From<mfcuda::Error> for Error {
        fn from(e: mfcuda::Error) -> Self {
            Error {
                msg: e.to_string(),
                broken_pipe: false,
            }
        }
    }
    impl From<std::io::Error> for Error {
        fn from(e: std::io::Error) -> Self {
            Error {
                broken_pipe: e.kind() == std::io::ErrorKind::BrokenPipe,
                msg: format!("cannot write output: {e}"),
            }
        }
    }
    impl From<String> for Error {
        fn from(msg: String) -> Self {
            Error {
                msg,
                broken_pipe: false,
            }
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.broken_pipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.msg);
            ExitCode::FAILURE
        }
    }
}
