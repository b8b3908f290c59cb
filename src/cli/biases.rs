//! `mfcuda biases`: the movies with the highest and the lowest learned bias.

use std::path::PathBuf;

use clap::Args;
use mfcuda::trained::explore;

use super::{data_movies, emit, CliResult, DataArgs, ModelArgs};

/// The arguments of `mfcuda biases`.
#[derive(Args)]
pub struct BiasesArgs {
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

/// Prints the two ends of the bias ranking.
pub fn run(a: &BiasesArgs) -> CliResult {
    // An ensemble is refused before its data is looked for.
    let model = &a.model.load_one("--model")?;
    let (data, movies) = data_movies(model, &a.data, a.movies.as_deref())?;
    let (top, bottom) = explore::biases(model, &data, &movies, a.n, a.popular)?;
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
