//! `mfcuda stats`: dataset statistics, top users and movies, and their crosstab.

use clap::Args;
use mfcuda::data::stats::Stats;

use super::{emit, CliResult, DataArgs};

/// The arguments of `mfcuda stats`.
#[derive(Args)]
pub struct StatsArgs {
    #[command(flatten)]
    data: DataArgs,
    /// How many top users and movies to show.
    #[arg(long, default_value_t = 15)]
    top: usize,
}

/// Prints the statistics, then how the data was loaded.
pub fn run(a: &StatsArgs) -> CliResult {
    let (data, loaded) = a.data.load_reported()?;
    let skipped = data
        .skipped
        .note()
        .map(|n| format!("note      {n}\n"))
        .unwrap_or_default();
    emit(&format!(
        "{}{skipped}load      {}\n",
        Stats::new(&data, a.top).render(&data.source),
        loaded.line()
    ))?;
    Ok(())
}
