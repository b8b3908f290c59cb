//! `mfcuda synth`: MovieLens-format ratings from a planted low-rank model plus noise.

use std::io::{self, IsTerminal};
use std::path::PathBuf;

use clap::Args;
use indicatif::ProgressBar;
use mfcuda::data::synth::{self, SynthSpec};
use mfcuda::text::count;

use super::CliResult;

/// The arguments of `mfcuda synth`.
#[derive(Args)]
pub struct SynthArgs {
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

/// Writes the ratings to stdout, or atomically to `--out` with a progress
/// bar for large files on a terminal.
pub fn run(a: &SynthArgs) -> CliResult {
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
            eprintln!(
                "wrote {} to {}",
                count(a.ratings as u64, "rating"),
                path.display()
            );
            Ok(())
        }
    }
}
