//! The `mfcuda` command line: a thin layer over the library. This file
//! holds the top-level commands and the dispatch; each subcommand parses,
//! calls the library and prints in its own file under `src/cli/`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

use cli::{
    bench, biases, check, cv, plot, predict, recipes, recommend, similar, split, stats, summary, synth,
    train, tune,
};

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
    Train(train::TrainArgs),
    /// k-fold cross-validation (Surprise's protocol): RMSE and MAE per fold, mean and spread.
    Cv(cv::CvArgs),
    /// Random or grid search on an inner split of the training rows; the winner scored once.
    Tune(tune::TuneArgs),
    /// Print the validation row indices, as fastai's get_cv_idxs gives them.
    Split(split::SplitArgs),
    /// Print dataset statistics, top users and movies, and their crosstab.
    Stats(stats::StatsArgs),
    /// Check every CUDA kernel against its CPU twin, then one training step per optimizer.
    Check(check::CheckArgs),
    /// Time kernels and epochs: the GPU against its copy bandwidth, and the CPU.
    Bench(bench::BenchArgs),
    /// Print a saved model the way PyTorch prints it, with its size.
    Summary(cli::ModelArgs),
    /// Predict the validation split (CSV on stdout, RMSE on stderr), or a CSV of pairs.
    Predict(predict::PredictArgs),
    /// Draw predicted-against-actual and loss-curve PNGs for a saved model.
    Plot(plot::PlotArgs),
    /// A user's top unseen movies, with titles, predicted ratings and biases.
    Recommend(recommend::RecommendArgs),
    /// The movies nearest to one movie by cosine similarity of their embeddings.
    Similar(similar::SimilarArgs),
    /// The movies with the highest and the lowest learned bias.
    Biases(biases::BiasesArgs),
    /// Write MovieLens-format ratings from a planted low-rank model plus noise.
    Synth(synth::SynthArgs),
    /// List the recipes.
    Recipes,
}

fn run(cli: Cli) -> cli::CliResult {
    match cli.command {
        Command::Train(a) => train::run(&a),
        Command::Cv(a) => cv::run(&a),
        Command::Tune(a) => tune::run(&a),
        Command::Split(a) => split::run(&a),
        Command::Stats(a) => stats::run(&a),
        Command::Check(a) => check::run(&a),
        Command::Bench(a) => bench::run(&a),
        Command::Summary(a) => summary::run(&a),
        Command::Predict(a) => predict::run(&a),
        Command::Plot(a) => plot::run(&a),
        Command::Recommend(a) => recommend::run(&a),
        Command::Similar(a) => similar::run(&a),
        Command::Biases(a) => biases::run(&a),
        Command::Synth(a) => synth::run(&a),
        Command::Recipes => recipes::run(),
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
