//! `mfcuda similar`: the movies nearest to one movie by cosine similarity of
//! their embeddings.

use std::path::PathBuf;

use clap::Args;
use mfcuda::data::Id;
use mfcuda::trained::explore;

use super::{data_movies, emit, CliResult, DataArgs, ModelArgs};

/// The arguments of `mfcuda similar`.
#[derive(Args)]
pub struct SimilarArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    data: DataArgs,
    /// Raw movie id.
    #[arg(long)]
    movie: Id,
    /// How many movies.
    #[arg(short = 'n', long = "top", default_value_t = 10)]
    n: usize,
    /// movies.csv for titles [default: the bundled one]
    #[arg(long, value_name = "FILE")]
    movies: Option<PathBuf>,
    /// Only movies with at least this many ratings, the asked one included:
    /// a rarely rated movie's embedding is mostly its initial noise.
    #[arg(long, default_value_t = 20)]
    min_ratings: usize,
}

/// Prints the nearest movies with their scores.
pub fn run(a: &SimilarArgs) -> CliResult {
    // An ensemble is refused before its data is looked for.
    let model = &a.model.load_one("--model")?;
    let (data, movies) = data_movies(model, &a.data, a.movies.as_deref())?;
    let rows = explore::similar(model, &data, &movies, &a.movie, a.n, a.min_ratings)?;
    let mut out = format!(
        "movies nearest to {} {} (cosine of embeddings; movies with at least {} ratings)\n",
        a.movie,
        movies.title(&a.movie),
        a.min_ratings
    );
    out.push_str(&format!(
        "{:>8} {:>7} {:>8}  title\n",
        "movieId", "cosine", "ratings"
    ));
    for r in rows {
        let count = r.count.map(|c| c.to_string()).unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{:>8} {:>7.3} {:>8}  {}\n",
            r.movie, r.score, count, r.title
        ));
    }
    Ok(emit(&out)?)
}
