//! `mfcuda synth`: MovieLens-format ratings from a planted low-rank model,
//! for testing and benchmarking at any size.
//!
//! rating = 3.5 + b_u + b_i + p_u·q_i + noise·ε, clipped to [0.5, 5], with
//! p, q ~ N(0, 0.6/√rank) per factor (so p·q has standard deviation about
//! 0.36), biases ~ N(0, 0.3) and ε ~ N(0, 1). Pairs are drawn uniformly, so
//! a few repeat at large sizes; the loader keeps repeats as ratings. A model
//! that recovers the planted one reaches an RMSE near `noise` (a little
//! less, where clipping cuts the tails).
//!
//! Users are uniform unless a [`SkewedSpec`] asks for heavy-tailed ones
//! (`--user-skew S`, S > 0): then the user of rank `r` (from 0) is drawn
//! with probability ∝ 1 / (r + 1 + [`SKEW_OFFSET`])^S, ranks spread over the
//! user ids by a fixed stride (see [`user_weights`]), and when there are at
//! least as many ratings as users every user gets one rating at a random row
//! first, the rest drawn from those weights (see [`expected_user_counts`]).
//! [`ML25M_SKEW`] makes ml-25m's shape:
//!
//! ```text
//! mfcuda synth --users 162541 --items 59047 --ratings 25000095 --user-skew 0.75 --out ml25m-skew.csv
//! ```
//!
//! 154 ratings a user on average (as ml-25m), a median user near 73 (ml-25m:
//! 71), the fewest near 44, and the heaviest user near 32,000 (ml-25m:
//! 32,202). `S = 0` is the uniform generator, draw for draw.

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

/// The offset of the heavy-tailed users' law: the user of rank `r` (from
/// 0) weighs 1 / (r + 1 + `SKEW_OFFSET`)^S. It flattens the head, so that
/// an exponent steep enough for a realistic median does not make the
/// heaviest user too heavy.
pub const SKEW_OFFSET: f64 = 23.0;

/// The `--user-skew` that gives ml-25m's users: with [`ML25M_SHAPE`], the
/// heaviest user expects 32,032 ratings (ml-25m's heaviest has 32,202), the
/// median user 73 (ml-25m: 71), the mean is 154.
pub const ML25M_SKEW: f64 = 0.75;

/// ml-25m's users, items and ratings.
pub const ML25M_SHAPE: (usize, usize, usize) = (162_541, 59_047, 25_000_095);

/// The probability that a drawn rating is user `u`'s, for each user index
/// `u` in `0..users`, under `--user-skew skew`: uniform for `skew == 0`,
/// else the user of rank `r` weighs ∝ 1 / (r + 1 + [`SKEW_OFFSET`])^skew,
/// where rank `r` is user index `r · stride mod users` for a fixed stride
/// near 0.618 · `users`, coprime to it (so heavy users spread evenly over
/// the ids, and user index 0 is the heaviest). The weights sum to 1.
///
/// These are the draws' weights; [`expected_user_counts`] adds the one
/// rating each user is given first. `skew` must be finite and >= 0 and
/// `users` at least 1 (else the weights are not defined; this panics).
pub fn user_weights(users: usize, skew: f64) -> Vec<f64> {
    assert!(
        users >= 1 && skew.is_finite() && skew >= 0.0,
        "user_weights({users}, {skew})"
    );
    if skew == 0.0 {
        return vec![1.0 / users as f64; users];
    }
    // In log space relative to rank 0, so that steep laws underflow to 0 in
    // the tail rather than overflow at the head.
    let law: Vec<f64> = (0..users)
        .map(|r| (-skew * ((r as f64 + 1.0 + SKEW_OFFSET) / (1.0 + SKEW_OFFSET)).ln()).exp())
        .collect();
    // From the light end, for accuracy.
    let sum: f64 = law.iter().rev().sum();
    let (stride, mut u) = (skew_stride(users), 0);
    let mut w = vec![0.0; users];
    for x in law {
        w[u] = x;
        // u = r · stride mod users, without overflow.
        u += stride;
        if u >= users {
            u -= users;
        }
    }
    for x in &mut w {
        *x /= sum;
    }
    w
}

/// The expected ratings of each user index in `0..users` in a file of
/// `ratings` rows under `--user-skew skew` ([`Generator`]'s draws): with
/// `skew == 0`, `ratings / users` each; else, when `ratings >= users`,
/// `1 + (ratings − users) · w_u` (one rating each first, the rest drawn
/// with the [`user_weights`] `w`), and `ratings · w_u` when there are fewer
/// ratings than users.
pub fn expected_user_counts(users: usize, ratings: usize, skew: f64) -> Vec<f64> {
    let w = user_weights(users, skew);
    let (first, drawn) = if skew > 0.0 && ratings >= users {
        (1.0, (ratings - users) as f64)
    } else {
        (0.0, ratings as f64)
    };
    w.into_iter().map(|x| first + drawn * x).collect()
}

/// The stride that spreads ranks over user indices: the first integer from
/// round(0.618… · users) up that is coprime to `users` (below `users`
/// for `users` > 1: `users − 1` always is).
fn skew_stride(users: usize) -> usize {
    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let mut a = ((users as f64) * 0.618_033_988_749_894_9).round() as usize;
    while gcd(a, users) != 1 {
        a += 1;
    }
    a
}

/// [`SynthSpec`] with heavy-tailed users, for [`Generator::new`],
/// [`write_csv`] and [`examples`] (which take a plain `&SynthSpec` as one
/// with `user_skew` 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SkewedSpec {
    /// Users, items, ratings, the planted model and the seed.
    pub spec: SynthSpec,
    /// The exponent of the users' law (`--user-skew`, see [`user_weights`]);
    /// 0 for uniform users, the ratings [`SynthSpec`] alone gives.
    pub user_skew: f64,
}

impl SkewedSpec {
    /// ml-25m's shape ([`ML25M_SHAPE`]) with ml-25m-like users
    /// ([`ML25M_SKEW`]), at `mfcuda synth`'s default rank (10) and noise
    /// (0.5): the file `mfcuda synth --users 162541 --items 59047 --ratings
    /// 25000095 --user-skew 0.75 --seed SEED` writes.
    pub fn ml25m(seed: u32) -> SkewedSpec {
        let (users, items, ratings) = ML25M_SHAPE;
        SkewedSpec {
            spec: SynthSpec {
                users,
                items,
                ratings,
                rank: 10,
                noise: 0.5,
                seed,
            },
            user_skew: ML25M_SKEW,
        }
    }
}

impl From<SynthSpec> for SkewedSpec {
    fn from(spec: SynthSpec) -> SkewedSpec {
        SkewedSpec { spec, user_skew: 0.0 }
    }
}

/// What [`Generator::new`], [`write_csv`] and [`examples`] take: a
/// [`SynthSpec`] (uniform users) or a [`SkewedSpec`].
pub trait ToSkewedSpec {
    /// The spec with its user skew (0 for a [`SynthSpec`]).
    fn to_skewed(&self) -> SkewedSpec;
}

impl ToSkewedSpec for SynthSpec {
    fn to_skewed(&self) -> SkewedSpec {
        SkewedSpec::from(*self)
    }
}

impl ToSkewedSpec for SkewedSpec {
    fn to_skewed(&self) -> SkewedSpec {
        *self
    }
}

/// Walker's alias table: O(1) draws from a discrete law.
struct Alias {
    /// The chance of keeping column `i` rather than taking `alias[i]`.
    keep: Vec<f64>,
    alias: Vec<u32>,
}

impl Alias {
    /// Vose's construction, from weights summing to 1.
    fn new(w: &[f64]) -> Alias {
        let n = w.len();
        let mut keep: Vec<f64> = w.iter().map(|&x| x * n as f64).collect();
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<u32>, Vec<u32>) =
            (0..n as u32).partition(|&i| keep[i as usize] < 1.0);
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            alias[s as usize] = l;
            keep[l as usize] -= 1.0 - keep[s as usize];
            if keep[l as usize] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // What is left is 1 up to rounding.
        for i in small.into_iter().chain(large) {
            keep[i as usize] = 1.0;
        }
        Alias { keep, alias }
    }

    fn draw(&self, rng: &mut Mt19937) -> usize {
        let x = rng.random_sample() * self.keep.len() as f64;
        let i = (x as usize).min(self.keep.len() - 1);
        if x - (i as f64) < self.keep[i] {
            i
        } else {
            self.alias[i] as usize
        }
    }
}

/// How a [`Generator`] draws users.
enum Users {
    /// Uniform on `0..users`, as `synth` always drew them.
    Uniform,
    /// Heavy-tailed: one row for each user in `pool`, at random rows among
    /// the `rows_left`, the other rows from `alias`.
    Skewed {
        alias: Alias,
        pool: Vec<u32>,
        rows_left: usize,
    },
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
    users: Users,
}

impl Generator {
    /// Checks `spec` (a [`SynthSpec`] or a [`SkewedSpec`]) and draws the
    /// planted model.
    pub fn new(spec: &impl ToSkewedSpec) -> Result<Generator> {
        let SkewedSpec { spec, user_skew } = spec.to_skewed();
        let spec = &spec;
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
        if !(user_skew.is_finite() && user_skew >= 0.0) {
            return Err(Error::invalid(
                "--user-skew",
                format!("{user_skew} is not a number >= 0"),
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
        let users = if user_skew == 0.0 {
            Users::Uniform
        } else {
            let cover = spec.ratings >= spec.users;
            Users::Skewed {
                alias: Alias::new(&user_weights(spec.users, user_skew)),
                pool: if cover {
                    (0..spec.users as u32).collect()
                } else {
                    Vec::new()
                },
                rows_left: spec.ratings,
            }
        };
        Ok(Generator {
            spec: *spec,
            rng,
            p,
            q,
            bu,
            bi,
            users,
        })
    }

    /// The next row's user index.
    fn next_user(&mut self) -> usize {
        match &mut self.users {
            Users::Uniform => self.rng.interval(self.spec.users as u32 - 1) as usize,
            Users::Skewed {
                alias,
                pool,
                rows_left,
            } => {
                // Selection sampling: each remaining row covers a remaining
                // user with chance pool / rows_left, so the covering rows
                // fall on a uniformly random set of rows, all before the end.
                let left = (*rows_left).max(1);
                *rows_left = rows_left.saturating_sub(1);
                if !pool.is_empty()
                    && (pool.len() >= left || self.rng.random_sample() * (left as f64) < pool.len() as f64)
                {
                    let j = self.rng.interval(pool.len() as u32 - 1) as usize;
                    pool.swap_remove(j) as usize
                } else {
                    alias.draw(&mut self.rng)
                }
            }
        }
    }

    /// The next rating: (user index from 0, item index from 0, rating).
    pub fn next_rating(&mut self) -> (u32, u32, f64) {
        let u = self.next_user();
        let (spec, k) = (&self.spec, self.spec.rank);
        let i = self.rng.interval(spec.items as u32 - 1) as usize;
        let dot: f64 = (0..k)
            .map(|j| self.p[u * k + j] as f64 * self.q[i * k + j] as f64)
            .sum();
        let noise = spec.noise * normal(&mut self.rng);
        let r = (3.5 + self.bu[u] as f64 + self.bi[i] as f64 + dot + noise).clamp(0.5, 5.0);
        (u as u32, i as u32, r)
    }
}

/// Writes the CSV of `spec` (a [`SynthSpec`] or a [`SkewedSpec`]) to
/// `out`, calling `progress(rows_written)` now and then.
pub fn write_csv(
    spec: &impl ToSkewedSpec,
    out: &mut dyn Write,
    mut progress: impl FnMut(usize),
) -> Result<()> {
    let mut generator = Generator::new(spec)?;
    let w = |e: std::io::Error| Error::Write {
        file: "synth output".into(),
        source: e,
    };
    out.write_all(b"userId,movieId,rating\n").map_err(w)?;
    let mut line = String::with_capacity(64);
    for row in 0..generator.spec.ratings {
        let (u, i, r) = generator.next_rating();
        line.clear();
        use std::fmt::Write as _;
        let _ = writeln!(line, "{},{},{:.3}", u + 1, i + 1, r);
        out.write_all(line.as_bytes()).map_err(w)?;
        if row % (1 << 20) == 0 {
            progress(row);
        }
    }
    progress(generator.spec.ratings);
    out.flush().map_err(w)
}

/// The same ratings as [`write_csv`] writes, in memory, with user `u` at
/// index `u − 1` and item `i` at `i − 1`, and ratings rounded to f32 rather
/// than to three decimals. For benchmarks at sizes where a CSV would only
/// cost time.
pub fn examples(spec: &impl ToSkewedSpec, progress: impl FnMut(usize)) -> Result<Examples> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fnv(bytes: &[u8]) -> u64 {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        })
    }

    fn csv(spec: &impl ToSkewedSpec) -> Vec<u8> {
        let mut out = Vec::new();
        write_csv(spec, &mut out, |_| {}).unwrap();
        out
    }

    fn examples_bytes(ex: &Examples) -> Vec<u8> {
        let mut b = Vec::new();
        for k in 0..ex.users.len() {
            b.extend_from_slice(&ex.users[k].to_le_bytes());
            b.extend_from_slice(&ex.items[k].to_le_bytes());
            b.extend_from_slice(&ex.ratings[k].to_bits().to_le_bytes());
        }
        b
    }

    fn spec(users: usize, items: usize, ratings: usize, rank: usize, noise: f64, seed: u32) -> SynthSpec {
        SynthSpec {
            users,
            items,
            ratings,
            rank,
            noise,
            seed,
        }
    }

    /// `synth` as it was before `--user-skew`, draw for draw.
    fn uniform_reference(spec: &SynthSpec) -> Vec<(u32, u32, f64)> {
        let mut rng = Mt19937::new(spec.seed);
        let (k, scale) = (spec.rank, 0.6 / (spec.rank as f64).sqrt());
        let mut draw =
            |n: usize, sd: f64| -> Vec<f32> { (0..n).map(|_| (normal(&mut rng) * sd) as f32).collect() };
        let (p, q) = (draw(spec.users * k, scale), draw(spec.items * k, scale));
        let (bu, bi) = (draw(spec.users, 0.3), draw(spec.items, 0.3));
        (0..spec.ratings)
            .map(|_| {
                let u = rng.interval(spec.users as u32 - 1) as usize;
                let i = rng.interval(spec.items as u32 - 1) as usize;
                let dot: f64 = (0..k).map(|j| p[u * k + j] as f64 * q[i * k + j] as f64).sum();
                let noise = spec.noise * normal(&mut rng);
                let r = (3.5 + bu[u] as f64 + bi[i] as f64 + dot + noise).clamp(0.5, 5.0);
                (u as u32, i as u32, r)
            })
            .collect()
    }

    #[test]
    fn default_output_is_bit_identical_to_before_user_skew() {
        // FNV-1a of the CSV and of `examples`, recorded before `--user-skew` existed.
        let pinned = [
            (
                spec(1000, 2000, 20_000, 10, 0.5, 42),
                286_857,
                0xa2bb_a165_36b3_5d3a_u64,
                0x7871_409c_8fff_11dc_u64,
            ),
            (
                spec(1, 37, 500, 3, 0.0, 7),
                5387,
                0xcfac_fa4f_bdcb_d0c2,
                0xeabc_c9ff_6b9e_180a,
            ),
        ];
        for (s, len, csv_hash, examples_hash) in pinned {
            for out in [
                csv(&s),
                csv(&SkewedSpec {
                    spec: s,
                    user_skew: 0.0,
                }),
            ] {
                assert_eq!((out.len(), fnv(&out)), (len, csv_hash), "{s:?}");
            }
            let ex = examples(&s, |_| {}).unwrap();
            assert_eq!(fnv(&examples_bytes(&ex)), examples_hash, "{s:?}");
            let reference = uniform_reference(&s);
            let mut g = Generator::new(&s).unwrap();
            for (row, want) in reference.into_iter().enumerate() {
                let got = g.next_rating();
                assert!(
                    got.0 == want.0 && got.1 == want.1 && got.2.to_bits() == want.2.to_bits(),
                    "row {row}"
                );
            }
        }
    }

    #[test]
    fn ml25m_skew_expects_ml25m_heaviest_mean_and_a_low_median() {
        let s = SkewedSpec::ml25m(42);
        let (users, items, ratings) = ML25M_SHAPE;
        assert_eq!(
            (s.spec.users, s.spec.items, s.spec.ratings),
            (162_541, 59_047, 25_000_095)
        );
        assert_eq!((items, s.user_skew), (59_047, ML25M_SKEW));
        let w = user_weights(users, ML25M_SKEW);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        let mut counts = expected_user_counts(users, ratings, ML25M_SKEW);
        let total: f64 = counts.iter().sum();
        assert!((total - ratings as f64).abs() < 1e-3 * ratings as f64, "{total}");
        let mean = total / users as f64;
        assert!((mean - 154.0).abs() < 0.5, "mean {mean}");
        // The heaviest is user index 0, with ml-25m's heaviest (32,202) within 10%.
        let heaviest = counts.iter().cloned().fold(0.0, f64::max);
        assert_eq!(counts[0], heaviest);
        assert!(
            (heaviest - 32_202.0).abs() < 0.1 * 32_202.0,
            "heaviest {heaviest}"
        );
        assert!(
            (heaviest - 32_032.0).abs() < 1.0,
            "heaviest {heaviest}, as documented"
        );
        counts.sort_by(|a, b| a.total_cmp(b));
        let median = counts[users / 2];
        // ml-25m's median user has 71 ratings.
        assert!((60.0..85.0).contains(&median), "median {median}");
        assert!(counts[0] >= 20.0, "lightest {}", counts[0]);
    }

    #[test]
    fn user_weights_are_the_ranks_law_spread_over_the_ids() {
        for users in [1, 2, 3, 10, 1000, 162_541] {
            for skew in [0.0, 0.5, ML25M_SKEW, 3.0, 500.0] {
                let w = user_weights(users, skew);
                assert_eq!(w.len(), users);
                assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{users} {skew}");
                let mut sorted = w.clone();
                sorted.sort_by(|a, b| b.total_cmp(a));
                let law: Vec<f64> = (0..users)
                    .map(|r| ((r as f64 + 1.0 + SKEW_OFFSET) / (1.0 + SKEW_OFFSET)).powf(-skew))
                    .collect();
                let sum: f64 = law.iter().sum();
                for (r, (&got, want)) in sorted.iter().zip(law).enumerate() {
                    assert!(
                        (got - want / sum).abs() <= 1e-12 + 1e-9 * got,
                        "{users} {skew} rank {r}"
                    );
                }
                if skew > 0.0 && users > 1 {
                    assert_eq!(w[0], sorted[0], "user index 0 is the heaviest");
                }
            }
        }
        // The heavy ranks land all over the ids, not in the first few.
        let w = user_weights(1000, ML25M_SKEW);
        let mut by_weight: Vec<usize> = (0..1000).collect();
        by_weight.sort_by(|&a, &b| w[b].total_cmp(&w[a]));
        let halves = by_weight[..100].iter().filter(|&&u| u < 500).count();
        assert!(
            (40..=60).contains(&halves),
            "{halves} of the heaviest 100 in the first half"
        );
    }

    #[test]
    fn a_small_skewed_file_has_its_rows_valid_ids_and_every_user() {
        let s = SkewedSpec {
            spec: spec(500, 300, 40_000, 4, 0.3, 5),
            user_skew: ML25M_SKEW,
        };
        let out = String::from_utf8(csv(&s)).unwrap();
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("userId,movieId,rating"));
        let mut counts = vec![0usize; 500];
        let mut rows = 0;
        for line in lines {
            let f: Vec<&str> = line.split(',').collect();
            let (u, i, r): (usize, usize, f64) = (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            );
            assert!(
                (1..=500).contains(&u) && (1..=300).contains(&i) && (0.5..=5.0).contains(&r),
                "{line}"
            );
            counts[u - 1] += 1;
            rows += 1;
        }
        assert_eq!(rows, 40_000);
        assert!(counts.iter().all(|&c| c >= 1), "every user has a rating");
        // Each count is 1 + Binomial(39,500, w_u): within 5 sd of its mean.
        let w = user_weights(500, ML25M_SKEW);
        let expected = expected_user_counts(500, 40_000, ML25M_SKEW);
        for u in 0..500 {
            let sd = (39_500.0 * w[u] * (1.0 - w[u])).sqrt();
            assert!(
                (counts[u] as f64 - expected[u]).abs() < 5.0 * sd + 1.0,
                "user {u}: {} ratings, expected {:.1}",
                counts[u],
                expected[u]
            );
        }
        assert_eq!(counts.iter().max(), Some(&counts[0]));
        // The same ratings in memory, and the same again from the same seed.
        let ex = examples(&s, |_| {}).unwrap();
        assert_eq!(ex.len(), 40_000);
        let mut again = vec![0usize; 500];
        for &u in &ex.users {
            again[u as usize] += 1;
        }
        assert_eq!(again, counts);
        // The covering rows are spread over the file, not bunched at the start.
        let last_users: std::collections::HashSet<u32> = ex.users[36_000..].iter().copied().collect();
        assert!(
            last_users.len() > 100,
            "{} users in the last 10%",
            last_users.len()
        );
    }

    #[test]
    fn fewer_ratings_than_users_draws_from_the_weights_alone() {
        let s = SkewedSpec {
            spec: spec(2000, 50, 300, 2, 0.1, 3),
            user_skew: 1.0,
        };
        let ex = examples(&s, |_| {}).unwrap();
        assert_eq!(ex.len(), 300);
        assert!(ex.users.iter().all(|&u| u < 2000) && ex.items.iter().all(|&i| i < 50));
        let expected = expected_user_counts(2000, 300, 1.0);
        assert!((expected.iter().sum::<f64>() - 300.0).abs() < 1e-6);
        // One user: every rating is theirs.
        let one = examples(
            &SkewedSpec {
                spec: spec(1, 5, 50, 2, 0.1, 3),
                user_skew: 2.0,
            },
            |_| {},
        )
        .unwrap();
        assert!(one.users.iter().all(|&u| u == 0) && one.len() == 50);
    }

    #[test]
    fn the_alias_table_draws_its_weights() {
        let w = [0.5, 0.0, 0.25, 0.125, 0.125];
        let alias = Alias::new(&w);
        let mut rng = Mt19937::new(9);
        let mut seen = [0usize; 5];
        for _ in 0..80_000 {
            seen[alias.draw(&mut rng)] += 1;
        }
        for (k, &p) in w.iter().enumerate() {
            let sd = (80_000.0 * p * (1.0 - p)).sqrt();
            assert!((seen[k] as f64 - 80_000.0 * p).abs() <= 5.0 * sd, "{seen:?}");
        }
    }

    #[test]
    fn bad_user_skew_is_refused_naming_the_flag() {
        for bad in [-0.5, -1e-300, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let s = SkewedSpec {
                spec: spec(10, 10, 100, 2, 0.5, 1),
                user_skew: bad,
            };
            let err = Generator::new(&s).err().expect("refused").to_string();
            assert!(err.contains("--user-skew"), "{bad}: {err}");
            assert!(write_csv(&s, &mut Vec::new(), |_| {}).is_err());
        }
    }
}
