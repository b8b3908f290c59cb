//! `mfcuda similar`: the movies nearest to one movie by cosine similarity of
//! their embeddings.

use std::path::PathBuf;

use clap::Args;
use mfcuda::trained::explore::{self, Movies};

use super::{emit, CliResult, ModelArgs};

/// The arguments of `mfcuda similar`.
#[derive(Args)]
pub struct SimilarArgs {
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

/// Prints the nearest movies with their scores.
pub fn run(a: &SimilarArgs) -> CliResult {
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
