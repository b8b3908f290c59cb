//! Ranking metrics by full ranking: precision@k, recall@k, NDCG@k, MAP@k
//! and catalogue coverage.
//!
//! The protocol (Krichene & Rendle, KDD 2020: sampled metrics mislead, so
//! nothing is sampled):
//! - for each validation user, score **every** item the user did not rate
//!   in training, and take the `k` best (ties: the smaller item index);
//! - an item is relevant to the user when one of the user's held-out
//!   ratings of it is ≥ `threshold` (default 4.0);
//! - users with no relevant held-out item are skipped (and counted);
//! - the metrics are means over the users that remain, with binary gains:
//!   precision = hits/k, recall = hits/|rel|,
//!   NDCG = Σ_{i<k} rel_i/log2(i+2) ÷ Σ_{i<min(k,|rel|)} 1/log2(i+2),
//!   AP = Σ_{i<k} rel_i·precision@(i+1) ÷ min(k, |rel|);
//! - coverage is the share of all items that appear in at least one
//!   user's top k.
//!
//! [`full_ranking`] scores with the model's own forward pass, on the CPU,
//! on every core. It is the twin of the GPU's batched scoring and top-k.

use std::collections::HashSet;
use std::time::Instant;

use serde::Serialize;

use crate::data::{Examples, Ratings};
use crate::error::Result;
use crate::model::{ModelSpec, Workspace};
use crate::trained::explore::model_split;
use crate::trained::saved::SavedModel;

/// The cut-off and the relevance threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankingOptions {
    /// How many items each user's list holds.
    pub k: usize,
    /// A held-out rating at least this high is relevant.
    pub threshold: f32,
}

impl Default for RankingOptions {
    fn default() -> Self {
        RankingOptions {
            k: 10,
            threshold: 4.0,
        }
    }
}

/// The metrics over every evaluated user.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RankingMetrics {
    /// The cut-off.
    pub k: usize,
    /// The relevance threshold.
    pub threshold: f32,
    /// Users with at least one relevant held-out item: the ones averaged.
    pub users: usize,
    /// Validation users with none, skipped.
    pub skipped: usize,
    /// Mean precision@k.
    pub precision: f64,
    /// Mean recall@k.
    pub recall: f64,
    /// Mean NDCG@k.
    pub ndcg: f64,
    /// Mean average precision@k.
    pub map: f64,
    /// Share of the catalogue in some user's top k.
    pub coverage: f64,
    /// Wall seconds of the scoring and ranking.
    pub seconds: f64,
}

/// One user's precision, recall, NDCG and AP at `k`, given the user's top
/// list (best first, at most `k` long) and relevant items (sorted).
pub fn user_metrics(top: &[u32], relevant: &[u32], k: usize) -> (f64, f64, f64, f64) {
    let (mut hits, mut dcg, mut ap) = (0usize, 0.0f64, 0.0f64);
    for (i, item) in top.iter().take(k).enumerate() {
        if relevant.binary_search(item).is_ok() {
            hits += 1;
            dcg += 1.0 / (i as f64 + 2.0).log2();
            ap += hits as f64 / (i + 1) as f64;
        }
    }
    let ideal = k.min(relevant.len());
    let idcg: f64 = (0..ideal).map(|i| 1.0 / (i as f64 + 2.0).log2()).sum();
    (
        hits as f64 / k as f64,
        hits as f64 / relevant.len() as f64,
        dcg / idcg,
        ap / ideal as f64,
    )
}

/// Each user's items, sorted: `out[u]`.
fn items_by_user(rows: &Examples, n_users: usize, keep: impl Fn(f32) -> bool) -> Vec<Vec<u32>> {
    let mut out = vec![Vec::new(); n_users];
    for r in 0..rows.len() {
        if keep(rows.ratings[r]) {
            out[rows.users[r] as usize].push(rows.items[r]);
        }
    }
    for v in &mut out {
        v.sort_unstable();
        v.dedup();
    }
    out
}

/// The `k` best of `scores` (item index → score), skipping `seen` (sorted),
/// best first; ties go to the smaller index.
pub fn top_k(scores: &[f32], seen: &[u32], k: usize) -> Vec<u32> {
    let mut cand: Vec<u32> = (0..scores.len() as u32)
        .filter(|i| seen.binary_search(i).is_err())
        .collect();
    let better = |a: &u32, b: &u32| scores[*b as usize].total_cmp(&scores[*a as usize]).then(a.cmp(b));
    if cand.len() > k {
        cand.select_nth_unstable_by(k, better);
        cand.truncate(k);
    }
    cand.sort_unstable_by(better);
    cand
}

/// The users to evaluate and their relevant items: every user with a
/// held-out rating, and the sorted items among them rated ≥ the threshold.
pub fn relevant_items(valid: &Examples, n_users: usize, threshold: f32) -> (Vec<u32>, Vec<Vec<u32>>) {
    let any = items_by_user(valid, n_users, |_| true);
    let rel = items_by_user(valid, n_users, |r| r >= threshold);
    let users = (0..n_users as u32)
        .filter(|&u| !any[u as usize].is_empty())
        .collect();
    (users, rel)
}

/// Full-ranking metrics of the model `spec`, `params`, trained on `train`
/// and judged on `valid`, on every core of the CPU.
pub fn full_ranking(
    spec: &ModelSpec,
    params: &[f32],
    train: &Examples,
    valid: &Examples,
    opts: RankingOptions,
) -> RankingMetrics {
    let t0 = Instant::now();
    let seen = items_by_user(train, spec.n_users, |_| true);
    let (users, rel) = relevant_items(valid, spec.n_users, opts.threshold);
    let evaluated: Vec<u32> = users
        .iter()
        .copied()
        .filter(|&u| !rel[u as usize].is_empty())
        .collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(evaluated.len().max(1));
    let per = evaluated.len().div_ceil(threads.max(1)).max(1);
    let lists: Vec<(u32, Vec<u32>)> = std::thread::scope(|s| {
        let handles: Vec<_> = evaluated
            .chunks(per)
            .map(|chunk| {
                let seen = &seen;
                s.spawn(move || {
                    let items: Vec<u32> = (0..spec.n_items as u32).collect();
                    let mut ws = Workspace::default();
                    chunk
                        .iter()
                        .map(|&u| {
                            spec.forward(params, &vec![u; items.len()], &items, &mut ws, None);
                            (u, top_k(&ws.pred, &seen[u as usize], opts.k))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a ranking thread panicked"))
            .collect()
    });
    summarise(
        &lists,
        &rel,
        users.len(),
        spec.n_items,
        opts,
        t0.elapsed().as_secs_f64(),
    )
}

/// Full-ranking metrics of a saved model on its own validation rows;
/// `data` must be the data it was trained on.
pub fn model_metrics(model: &SavedModel, data: &Ratings, opts: RankingOptions) -> Result<RankingMetrics> {
    let split = model_split(model, data)?;
    let (train, valid) = (
        Examples::select(data, &split.train),
        Examples::select(data, &split.valid),
    );
    Ok(full_ranking(&model.spec, &model.params, &train, &valid, opts))
}

impl RankingMetrics {
    /// One line: the metrics, the users they average over, and the time.
    pub fn line(&self) -> String {
        let k = self.k;
        format!(
            "p@{k} {:.4}  r@{k} {:.4}  ndcg@{k} {:.4}  map@{k} {:.4}  coverage {:.4}  ({} users with a held-out rating ≥ {}, {} without; full ranking in {:.2} s)",
            self.precision, self.recall, self.ndcg, self.map, self.coverage, self.users, self.threshold, self.skipped, self.seconds
        )
    }
}

/// The means over `lists` (user, top list), with coverage over `n_items`.
pub fn summarise(
    lists: &[(u32, Vec<u32>)],
    rel: &[Vec<u32>],
    validation_users: usize,
    n_items: usize,
    opts: RankingOptions,
    seconds: f64,
) -> RankingMetrics {
    let mut sums = [0.0f64; 4];
    let mut shown: HashSet<u32> = HashSet::new();
    for (u, top) in lists {
        let (p, r, n, a) = user_metrics(top, &rel[*u as usize], opts.k);
        for (s, v) in sums.iter_mut().zip([p, r, n, a]) {
            *s += v;
        }
        shown.extend(top.iter().copied());
    }
    let n = lists.len().max(1) as f64;
    RankingMetrics {
        k: opts.k,
        threshold: opts.threshold,
        users: lists.len(),
        skipped: validation_users - lists.len(),
        precision: sums[0] / n,
        recall: sums[1] / n,
        ndcg: sums[2] / n,
        map: sums[3] / n,
        coverage: shown.len() as f64 / n_items.max(1) as f64,
        seconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_user_by_hand() {
        // Top 3: items 7 (relevant), 2, 5 (relevant); relevant: 5, 7, 9.
        let (p, r, n, a) = user_metrics(&[7, 2, 5], &[5, 7, 9], 3);
        assert!((p - 2.0 / 3.0).abs() < 1e-12);
        assert!((r - 2.0 / 3.0).abs() < 1e-12);
        // DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3) + 1/2.
        let idcg = 1.0 + 1.0 / 3f64.log2() + 0.5;
        assert!((n - 1.5 / idcg).abs() < 1e-12, "{n}");
        // AP = (1/1 + 2/3) / min(3, 3).
        assert!((a - (1.0 + 2.0 / 3.0) / 3.0).abs() < 1e-12, "{a}");
        // A perfect list scores 1 everywhere but recall when |rel| > k.
        assert_eq!(user_metrics(&[5, 7], &[5, 7, 9], 2), (1.0, 2.0 / 3.0, 1.0, 1.0));
    }

    #[test]
    fn top_k_skips_seen_items_and_breaks_ties_by_index() {
        let scores = [0.5, 0.9, 0.9, 0.1, 0.7];
        assert_eq!(top_k(&scores, &[], 3), vec![1, 2, 4]);
        assert_eq!(top_k(&scores, &[1], 3), vec![2, 4, 0]);
        assert_eq!(top_k(&scores, &[0, 1, 2, 3], 3), vec![4]);
    }
}
