//! `mfcuda recommend`: a user's top unseen movies, with titles, predicted
//! ratings and biases.

use std::path::PathBuf;

use clap::Args;
use mfcuda::data::Id;
use mfcuda::trained::explore;

use super::{emit, model_data_movies, CliResult, DataArgs, ModelArgs};

/// The arguments of `mfcuda recommend`.
#[derive(Args)]
pub struct RecommendArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    data: DataArgs,
    /// Raw user id (as in the ratings file).
    #[arg(long)]
    user: Id,
    /// How many movies.
    #[arg(short = 'n', long = "top", default_value_t = 10)]
    n: usize,
    /// movies.csv for titles [default: the bundled one]
    #[arg(long, value_name = "FILE")]
    movies: Option<PathBuf>,
    /// Print raw scores instead of predictions clipped to the rating range.
    #[arg(long)]
    no_clip: bool,
}

/// Prints the user's recommendations as a table.
pub fn run(a: &RecommendArgs) -> CliResult {
    let (model, data, movies) = model_data_movies(&a.model, &a.data, a.movies.as_deref())?;
    let recs = explore::recommend(&model, &data, &movies, &a.user, a.n, !a.no_clip, true)?;
    let mut out = format!(
        "top {} unseen movies for user {} ({} model)\n",
        recs.len(),
        a.user,
        model.recipe()
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
