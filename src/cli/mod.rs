//! The subcommands of `mfcuda`, one file each: the arguments, and a `run`
//! that parses them, calls the library and prints. What they share lives
//! here: writing to stdout, the error funnel, and the `--data` and `--model`
//! arguments.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use mfcuda::backend::{Device, GpuOptions};
use mfcuda::data::cache::{self, LoadReport};
use mfcuda::data::format::Separator;
use mfcuda::data::{Columns, Ratings, Source};
use mfcuda::eval::ranking::RankingOptions;
use mfcuda::recipe::{self, Overrides, Recipe, Request};
use mfcuda::trained::ensemble::Trained;
use mfcuda::trained::explore::{self, Movies};
use mfcuda::trained::saved::SavedModel;

pub mod bench;
pub mod biases;
pub mod check;
pub mod cv;
pub mod plot;
pub mod predict;
pub mod recipes;
pub mod recommend;
pub mod similar;
pub mod split;
pub mod stats;
pub mod summary;
pub mod synth;
pub mod train;
pub mod tune;

/// What every subcommand's `run` returns.
pub type CliResult = Result<(), Error>;

/// One message line for the user; a closed stdout pipe is not an error.
/// Library errors, I/O errors and plain messages all become one.
pub struct Error {
    /// The line printed after `error: `.
    pub msg: String,
    /// The error was a closed stdout pipe (`mfcuda split | head`): exit quietly.
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

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error {
            broken_pipe: e.kind() == io::ErrorKind::BrokenPipe,
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

/// Writes to stdout; a closed pipe (`mfcuda split | head`) ends quietly.
pub fn emit(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Prints a line of a table: to stdout, or to stderr when stdout carries
/// JSON (`--json`).
pub fn say(json: bool, line: &str) {
    if json {
        eprintln!("{line}");
    } else {
        let _ = emit(&format!("{line}\n"));
    }
}

/// Where the ratings come from.
#[derive(Args)]
pub struct DataArgs {
    /// Ratings CSV [default: the bundled ml-latest-small ratings.csv]
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// The user id column: its header name, or in a file without a header its position from 1
    #[arg(long, default_value = "userId")]
    pub user_col: String,
    /// The item id column: its header name, or its position from 1
    #[arg(long, default_value = "movieId")]
    pub item_col: String,
    /// The rating column: its header name, or its position from 1
    #[arg(long, default_value = "rating")]
    pub rating_col: String,
    /// Field separator: ',', ';', '|', 'tab' or '::' [default: detected from the first line]
    #[arg(long, value_name = "SEP")]
    pub sep: Option<Separator>,
    /// The first line is data, not a header [default: detected: a first line of numbers is data]
    #[arg(long)]
    pub no_header: bool,
    /// Skip rows that cannot be read (a missing field, a rating that is not a number), counting them and showing
    /// the first; the file is still refused when more than 1% of its rows are bad.
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// Keep a binary copy of the parsed --data file beside it (FILE.mfcache) and reuse it while the file is unchanged.
    #[arg(long)]
    pub cache: bool,
}

impl DataArgs {
    /// The column names.
    pub fn columns(&self) -> Columns {
        Columns {
            user: self.user_col.clone(),
            item: self.item_col.clone(),
            rating: self.rating_col.clone(),
            sep: self.sep,
            header: self.no_header.then_some(false),
            skip_bad_rows: self.skip_bad_rows,
        }
    }

    /// The data.
    pub fn load(&self) -> mfcuda::Result<Ratings> {
        Ok(self.load_reported()?.0)
    }

    /// The data to use `model` with: `--data` when given, else the file the
    /// model was trained on, reopened with the flags it was read with
    /// ([`explore::model_data`]).
    pub fn load_for(&self, model: &SavedModel) -> mfcuda::Result<Ratings> {
        let columns = self.columns();
        if self.data.is_none() && columns != Columns::default() {
            return Err(mfcuda::Error::invalid(
                "--user-col, --item-col, --rating-col, --sep and --no-header",
                "they describe a --data file; without --data the model's own file is reopened as it was read in training",
            ));
        }
        explore::model_data(model, self.data.as_deref().map(|p| (p, &columns)), self.cache)
    }

    /// The data, and how long it took and how much memory.
    pub fn load_reported(&self) -> mfcuda::Result<(Ratings, LoadReport)> {
        cache::load(
            &Source::from_option(self.data.as_deref()),
            &self.columns(),
            self.cache,
        )
    }
}

/// Which saved model.
#[derive(Args)]
pub struct ModelArgs {
    /// A model saved with `train --save`.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
}

impl ModelArgs {
    /// The one model that `what` needs; an ensemble's file is refused by
    /// name (see [`Trained::one`]).
    pub fn load_one(&self, what: &str) -> mfcuda::Result<SavedModel> {
        self.load_trained()?.into_one(what)
    }

    /// The model or ensemble (what `predict`, `recommend` and `summary` read).
    pub fn load_trained(&self) -> mfcuda::Result<Trained> {
        let trained = Trained::load(&self.model)?;
        self.note_unchecked(trained.common());
        Ok(trained)
    }

    fn note_unchecked(&self, model: &SavedModel) {
        if !model.checked {
            eprintln!(
                "note: {} was saved before models carried a checksum, so its tensors cannot be checked",
                self.model.display()
            );
        }
    }
}

/// The recipe and the flags that change it, shared by `train`, `cv` and
/// `tune`.
#[derive(Args)]
pub struct RecipeArgs {
    /// Which experiment (see `mfcuda recipes`).
    #[arg(long, default_value = "learner")]
    pub recipe: String,
    /// A recipe file (TOML: a base recipe and its overrides, as `mfcuda tune` writes); flags
    /// given beside it win.
    #[arg(long, value_name = "FILE", conflicts_with = "recipe")]
    pub recipe_file: Option<PathBuf>,
    /// Epochs in all, split across the recipe's stages in its proportions
    /// (an SGDR stage keeps its cycle lengths; a last cycle that does not fit
    /// is cut short).
    /// (Signed here, so that `-1` reaches the check that says what it must be.)
    #[arg(long, allow_negative_numbers = true)]
    pub epochs: Option<i64>,
    /// Whole SGDR cycles, for the learner recipe (1 + 2 + 4 ... epochs).
    #[arg(long, conflicts_with = "epochs", allow_negative_numbers = true)]
    pub cycles: Option<i64>,
    /// Learning rate of the first stage; later stages keep their ratio to it.
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f32>,
    /// Weight decay (coupled L2).
    #[arg(long, allow_negative_numbers = true)]
    pub wd: Option<f32>,
    /// Embedding width.
    #[arg(long)]
    pub factors: Option<usize>,
    /// Rows per batch.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// The net's hidden-layer dropout (the notebook's 0.5).
    #[arg(long)]
    pub dropout: Option<f32>,
}

impl RecipeArgs {
    /// The overrides the flags give.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            epochs: self.epochs.map(|n| n.max(0) as usize),
            cycles: self.cycles.map(|n| n.max(0) as usize),
            lr: self.lr,
            wd: self.wd,
            factors: self.factors,
            batch_size: self.batch_size,
            dropout: self.dropout,
            optimizer: None,
        }
    }

    /// The run's request: the recipe or file named, and the overrides.
    pub fn request(&self) -> mfcuda::Result<Request> {
        Ok(Request {
            name: self.recipe.clone(),
            file: self.recipe_file.clone(),
            overrides: Overrides {
                epochs: recipe::count("--epochs", self.epochs)?,
                cycles: recipe::count("--cycles", self.cycles)?,
                ..self.overrides()
            },
        })
    }

    /// The members, when `--recipe` names an ensemble ([`Request::ensemble`]).
    pub fn ensemble(&self, more: &str, more_given: bool) -> Result<Option<Vec<Recipe>>, Error> {
        Ok(self.request()?.ensemble(more, more_given)?)
    }

    /// The recipe and overrides the flags name ([`Request::resolve`]).
    pub fn resolve(&self) -> mfcuda::Result<(Recipe, Overrides)> {
        self.request()?.resolve()
    }
}

#[derive(Args)]
pub struct MetricsArgs {
    /// Also report full-ranking precision, recall, NDCG and MAP at this k, and coverage
    /// (every item a validation user did not rate in training is ranked).
    #[arg(long, value_name = "K")]
    pub metrics: Option<usize>,
    /// A held-out rating at least this high is relevant (with --metrics).
    #[arg(long, default_value_t = 4.0)]
    pub threshold: f32,
}

impl MetricsArgs {
    /// The ranking options, when asked for; k must be at least 1.
    pub fn options(&self) -> mfcuda::Result<Option<RankingOptions>> {
        match self.metrics {
            Some(0) => Err(mfcuda::Error::invalid("--metrics", "k must be at least 1")),
            Some(k) => Ok(Some(RankingOptions {
                k,
                threshold: self.threshold,
            })),
            None => Ok(None),
        }
    }
}

/// Where to train, and how on a GPU, shared by `train`, `cv` and `tune`.
#[derive(Args)]
pub struct DeviceArgs {
    /// Where to compute: `auto` (the first GPU when one can be used, else the CPU), `cpu`, `cuda` (GPU 0) or `cuda:N`.
    #[arg(long, default_value = "auto", value_name = "auto|cpu|cuda|cuda:N")]
    pub device: Device,
    /// On the GPU, one kernel per op, launched one by one (the teaching path), instead of the
    /// default: dot, dotbias and learner as two fused kernels a step, each epoch one CUDA graph.
    #[arg(long)]
    pub op_by_op: bool,
    /// The fused path, which is now the default on the GPU; kept so that older scripts run.
    #[arg(long, hide = true, conflicts_with = "op_by_op")]
    pub fused: bool,
    /// On the GPU, no atomics: two runs give the same bits (slower; op by op).
    #[arg(long)]
    pub deterministic: bool,
}

impl DeviceArgs {
    /// How the GPU runs.
    pub fn gpu(&self) -> GpuOptions {
        GpuOptions::new(self.op_by_op, self.deterministic)
    }
}

/// The model (or ensemble), the ratings and the titles that `recommend`,
/// `similar` and `biases` read (each refuses ratings that are not the
/// model's own; `similar` and `biases` need one model, [`Trained::one`]).
pub fn model_data_movies(
    model: &ModelArgs,
    data: &DataArgs,
    movies: Option<&Path>,
) -> mfcuda::Result<(Trained, Ratings, Movies)> {
    let model = model.load_trained()?;
    let (ratings, movies) = data_movies(model.common(), data, movies)?;
    Ok((model, ratings, movies))
}

/// The data the model was trained on (or `--data`) and the movie titles
/// beside it (or `movies`).
pub fn data_movies(
    model: &SavedModel,
    data: &DataArgs,
    movies: Option<&Path>,
) -> mfcuda::Result<(Ratings, Movies)> {
    let ratings = data.load_for(model)?;
    let columns = data.columns();
    let (source, _) = explore::model_source(model, data.data.as_deref().map(|p| (p, &columns)));
    let movies = Movies::for_data(movies, &source)?;
    Ok((ratings, movies))
}
