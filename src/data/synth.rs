//! `mfcuda synth`: MovieLens-format ratings from a planted low-rank model,
//! for testing and benchmarking at any size.
//!
//! rating = 3.5 + b_u + b_i + p_u·q_i + noise·ε, clipped to [0.5, 5], with
//! p, q ~ N(0, 0.6/√rank) per factor (so p·q has standard deviation about
//! 0.36), biases ~ N(0, 0.3) and ε ~ N(0, 1). Pairs are drawn uniformly, so
//! a few repeat at large sizes; the loader keeps repeats as ratings. A model
//! that recovers the planted one reaches an RMSE near `noise` (a little
//! less, where clipping cuts the tails).

use std::io::Write;

use crate::data::Examples;
use crate::error::{Error, Result};
use crate::rng::Mt19937;

/// The largest planted model `synth` builds, in f32 values (4 GB).
pub const MAX_PLANTED_FLOATS: usize = 1 << 30;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SynthSpec {
    /// Distinct users (ids 1..=users).
    pub users: usize,
    /// Distinct items (ids 1..=items).
    pub items: usize,
    /// Rating rows.
    pub ratings: usize,
    /// Rank of the planted model.
    pub rank: usize,
    /// Standard deviation of the noise.
    pub noise: f64,
    /// Seed.
    pub seed: u32,
}

/// A standard normal draw (Box–Muller on numpy's 53-bit doubles).
fn normal(rng: &mut Mt19937) -> f64 {
    let u1 = 1.0 - rng.random_sample(); // (0, 1]
    let u2 = rng.random_sample();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// The planted model, and the stream of ratings drawn from it.
pub struct Generator {
    spec: SynthSpec,
    rng: Mt19937,
    p: Vec<f32>,
    q: Vec<f32>,
    bu: Vec<f32>,
    bi: Vec<f32>,
}

impl Generator {
    /// Checks `spec` and draws the planted model.
    pub fn new(spec: &SynthSpec) -> Result<Generator> {
        if spec.users == 0 || spec.items == 0 || spec.ratings == 0 || spec.rank == 0 {
            return Err(Error::invalid(
                "synth",
                "users, items, ratings and rank must all be at least 1",
            ));
        }
        if !(spec.noise.is_finite() && spec.noise >= 0.0) {
            return Err(Error::invalid(
                "--noise",
                format!("{} is not a number >= 0", spec.noise),
            ));
        }
        if spec.users > u32::MAX as usize || spec.items > u32::MAX as usize {
            return Err(Error::invalid("synth", "at most 2^32 - 1 users and items"));
        }
        // The planted factors live in memory: refuse sizes that cannot.
        let floats = spec
            .users
            .checked_add(spec.items)
            .and_then(|n| n.checked_mul(spec.rank + 1));
        match floats {
            Some(n) if n <= MAX_PLANTED_FLOATS => {}
            _ => {
                return Err(Error::invalid(
                    "synth",
                    format!(
                        "(users + items) x (rank + 1) = {} floats for the planted model; at most {MAX_PLANTED_FLOATS} (4 GB)",
                        floats.map(|n| n.to_string()).unwrap_or_else(|| "more than 2^64".into())
                    ),
                ))
            }
        }
        let mut rng = Mt19937::new(spec.seed);
        let scale = 0.6 / (spec.rank as f64).sqrt();
        let k = spec.rank;
        let p: Vec<f32> = (0..spec.users * k)
            .map(|_| (normal(&mut rng) * scale) as f32)
            .collect();
        let q: Vec<f32> = (0..spec.items * k)
            .map(|_| (normal(&mut rng) * scale) as f32)
            .collect();
        let bu: Vec<f32> = (0..spec.users).map(|_| (normal(&mut rng) * 0.3) as f32).collect();
        let bi: Vec<f32> = (0..spec.items).map(|_| (normal(&mut rng) * 0.3) as f32).collect();
        Ok(Generator {
            spec: *spec,
            rng,
            p,
            q,
            bu,
            bi,
        })
    }

    /// The next rating: (user index from 0, item index from 0, rating).
    pub fn next_rating(&mut self) -> (u32, u32, f64) {
        let (spec, k) = (&self.spec, self.spec.rank);
        let u = self.rng.interval(spec.users as u32 - 1) as usize;
        let i = self.rng.interval(spec.items as u32 - 1) as usize;
        let dot: f64 = (0..k)
            .map(|j| self.p[u * k + j] as f64 * self.q[i * k + j] as f64)
            .sum();
        let noise = spec.noise * normal(&mut self.rng);
        let r = (3.5 + self.bu[u] as f64 + self.bi[i] as f64 + dot + noise).clamp(0.5, 5.0);
        (u as u32, i as u32, r)
    }
}

/// Writes the CSV to `out`, calling `progress(rows_written)` now and then.
pub fn write_csv(spec: &SynthSpec, out: &mut dyn Write, mut progress: impl FnMut(usize)) -> Result<()> {
    let mut generator = Generator::new(spec)?;
    let w = |e: std::io::Error| Error::Write {
        file: "synth output".into(),
        source: e,
    };
    out.write_all(b"userId,movieId,rating\n").map_err(w)?;
    let mut line = String::with_capacity(64);
    for row in 0..spec.ratings {
        let (u, i, r) = generator.next_rating();
        line.clear();
        use std::fmt::Write as _;
        let _ = writeln!(line, "{},{},{:.3}", u + 1, i + 1, r);
        out.write_all(line.as_bytes()).map_err(w)?;
        if row % (1 << 20) == 0 {
            progress(row);
        }
    }
    progress(spec.ratings);
    out.flush().map_err(w)
}

/// The same ratings as [`write_csv`] writes, in memory, with user `u` at
/// index `u − 1` and item `i` at `i − 1`, and ratings rounded to f32 rather
/// than to three decimals. For benchmarks at sizes where a CSV would only
/// cost time.
pub fn examples(spec: &SynthSpec, progress: impl FnMut(usize)) -> Result<Examples> {
    Ok(Generator::new(spec)?.draw_all(progress))
}

impl Generator {
    /// The planted model: `p (users, rank)`, `q (items, rank)`, the user
    /// biases and the item biases.
    pub fn planted(&self) -> [&[f32]; 4] {
        [&self.p, &self.q, &self.bu, &self.bi]
    }

    /// Draws every rating of the spec (what [`examples`] returns), calling
    /// `progress(rows)` now and then.
    pub fn draw_all(&mut self, mut progress: impl FnMut(usize)) -> Examples {
        let n = self.spec.ratings;
        let mut out = Examples {
            users: Vec::with_capacity(n),
            items: Vec::with_capacity(n),
            ratings: Vec::with_capacity(n),
        };
        for row in 0..n {
            let (u, i, r) = self.next_rating();
            out.users.push(u);
            out.items.push(i);
            out.ratings.push(r as f32);
            if row % (1 << 20) == 0 {
                progress(row);
            }
        }
        progress(n);
        out
    }
}
