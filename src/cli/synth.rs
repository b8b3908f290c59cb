//! `mfcuda synth`: MovieLens-format ratings from a planted low-rank model plus noise.
//!
//! ml-25m's shape with ml-25m-like heavy-tailed users (mean 154 ratings a
//! user, median near 73, heaviest near 32,000; see
//! [`mfcuda::data::synth::ML25M_SKEW`]):
//!
//! ```text
//! mfcuda synth --users 162541 --items 59047 --ratings 25000095 --user-skew 0.75 --out ml25m-skew.csv
//! ```

use std::io::{self, IsTerminal};
use std::path::PathBuf;

use clap::Args;
use indicatif::ProgressBar;
use mfcuda::data::synth::{self, SkewedSpec, SynthSpec};
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
    /// Heavy-tailed users: the user of rank r weighs 1/(r + 24)^S, and each
    /// user gets one rating first. 0: uniform users. 0.75 with ml-25m's
    /// users, items and ratings gives ml-25m's heaviest user (~32,000; ml-25m:
    /// 32,202) and a median of ~73 (ml-25m: 71)
    #[arg(long, value_name = "S", default_value_t = 0.0, allow_negative_numbers = true)]
    user_skew: f64,
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
    let spec = SkewedSpec {
        spec: SynthSpec {
            users: a.users,
            items: a.items,
            ratings: a.ratings,
            rank: a.rank,
            noise: a.noise,
            seed: a.seed,
        },
        user_skew: a.user_skew,
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
