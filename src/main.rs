//! The `mfcuda` command line: a thin layer over the library.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use std::sync::Arc;

use mfcuda::backend::Device;
use mfcuda::bench::{self, BenchOptions, BenchRow};
use mfcuda::cuda::{self, Gpu};
use mfcuda::data::{Columns, Ratings, Source};
use mfcuda::gpu_check::{self, CheckRow};
use mfcuda::recipe::{self, Overrides};
use mfcuda::split::validation_indices;
use mfcuda::stats::Stats;
use mfcuda::train::{train, EpochRecord, TrainConfig};

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
    /// List the recipes.
    Recipes,
}

#[derive(Args)]
struct BenchArgs {
    #[command(flatten)]
    data: DataArgs,
    /// `cpu` times the CPU only; `auto` adds the GPU when there is one; `cuda` requires it.
    #[arg(long, value_enum, default_value_t = Device::Auto)]
    device: Device,
    /// Smaller large sizes and fewer repetitions.
    #[arg(long)]
    quick: bool,
    /// Print one JSON object as the last line of stdout; the table goes to stderr.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct CheckArgs {
    /// The GPU to check; `cpu` has nothing to compare.
    #[arg(long, value_enum, default_value_t = Device::Auto)]
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
}

impl DataArgs {
    fn load(&self) -> mfcuda::Result<Ratings> {
        let cols = Columns {
            user: self.user_col.clone(),
            item: self.item_col.clone(),
            rating: self.rating_col.clone(),
        };
        Ratings::load(&Source::from_option(self.data.as_deref()), &cols)
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
    #[arg(long, value_enum, default_value_t = Device::Auto)]
    device: Device,
    /// Seeds initialisation, shuffling and dropout.
    #[arg(long, default_value_t = 42)]
    seed: u32,
    /// Seeds the train/validation split (the notebook's is 42).
    #[arg(long, default_value_t = 42)]
    split_seed: u32,
    /// Fraction of rows held out for validation.
    #[arg(long, default_value_t = 0.2)]
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

fn run_train(a: &TrainArgs) -> CliResult {
    let overrides = Overrides {
        epochs: a.epochs,
        lr: a.lr,
        wd: a.wd,
        factors: a.factors,
        batch_size: a.batch_size,
    };
    let recipe = recipe::find(&a.recipe)?.with_overrides(&overrides)?;
    let data = a.data.load()?;
    let cfg = TrainConfig {
        recipe: recipe.clone(),
        seed: a.seed,
        split_seed: a.split_seed,
        val_pct: a.val_pct,
        device: a.device,
        fused: a.fused,
    };
    // Human-readable lines go to stdout, or to stderr when stdout carries JSON.
    let json = a.json;
    let say = |line: &str| {
        if json {
            eprintln!("{line}");
        } else {
            let _ = emit(&format!("{line}\n"));
        }
    };
    say(&format!("recipe   {}: {}", recipe.name, recipe.about));
    say(&format!("data     {} ({} ratings)", data.source, data.len()));
    let on_start = |why: &str| {
        say(why);
        say(&format!(
            "{:>5} {:>5} {:>10} {:>10} {:>9}",
            "epoch", "stage", "trn_loss", "val_loss", "seconds"
        ));
    };
    let on_epoch = |r: &EpochRecord| {
        say(&format!(
            "{:>5} {:>5} {:>10.6} {:>10.6} {:>9.2}",
            r.epoch, r.stage, r.trn_loss, r.val_loss, r.seconds
        ))
    };
    let report = train(&data, &cfg, on_start, on_epoch)?;
    say(&format!(
        "model    {} ({} parameters)",
        report.model, report.n_params
    ));
    say(&format!(
        "final    val_mse {:.4}  val_rmse {:.4}  (notebook {:.4})  in {:.1} s, {:.2} s per epoch",
        report.val_mse,
        report.val_rmse,
        report.notebook_mse,
        report.seconds,
        report.history.iter().map(|r| r.train_seconds).sum::<f64>() / report.epochs as f64
    ));
    if json {
        let line = serde_json::to_string(&report).map_err(|e| e.to_string())?;
        emit(&format!("{line}\n"))?;
    }
    Ok(())
}

fn run_check(a: &CheckArgs) -> CliResult {
    if a.device == Device::Cpu {
        return Err(
            "check compares the CUDA kernels with their CPU twins: it needs --device cuda (or auto)"
                .to_string()
                .into(),
        );
    }
    let gpu = Gpu::open().map_err(|why| format!("mfcuda check needs a usable GPU: {why}"))?;
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
    gpu_check::kernel_checks(&gpu, &mut show)?;
    let data = Ratings::load(&Source::Bundled, &Columns::default())?;
    let parity = [
        ("dotbias", false),
        ("learner", false),
        ("net", false),
        ("dotbias", true),
        ("learner", true),
    ];
    for (name, fused) in parity {
        show(&gpu_check::step_parity(
            &gpu,
            &data,
            &recipe::find(name)?,
            42,
            fused,
        )?);
    }
    if failed > 0 {
        return Err(format!("{failed} check rows failed").into());
    }
    emit("all checks passed\n")?;
    Ok(())
}

fn run_bench(a: &BenchArgs) -> CliResult {
    let data = a.data.load()?;
    let json = a.json;
    let say = |line: &str| {
        if json {
            eprintln!("{line}");
        } else {
            let _ = emit(&format!("{line}\n"));
        }
    };
    say(&BenchRow::header());
    let opts = BenchOptions {
        device: a.device,
        quick: a.quick,
    };
    let report = bench::run(&data, opts, |row| say(&row.line()))?;
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
            let data = a.data.load()?;
            Ok(emit(&Stats::new(&data, a.top).render(&data.source))?)
        }
        Command::Check(a) => run_check(&a),
        Command::Bench(a) => run_bench(&a),
        Command::Recipes => {
            let mut text = String::new();
            for r in recipe::all() {
                text.push_str(&format!(
                    "{:<8} {} epochs, notebook MSE {:.4}: {}\n",
                    r.name,
                    r.epochs(),
                    r.notebook_mse,
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
