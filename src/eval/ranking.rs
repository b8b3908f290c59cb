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
//! [`full_ranking`] ranks on every core of the CPU; [`full_ranking_on`]
//! ranks an MF model on a GPU (`kernels/ranking.cu`, whose twin is
//! [`crate::ops::score_topk`]).

use std::collections::HashSet;
use std::time::Instant;

use serde::Serialize;

use crate::backend::cuda::ranking::RankTables;
use crate::backend::select::{choose, Needs};
use crate::backend::Device;
use crate::data::{Examples, Ratings};
use crate::error::Result;
use crate::model::{ModelSpec, Workspace};
use crate::ops;
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    /// Where it ran.
    pub device: String,
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

/// The tables an MF model ranks by: `u`, `m` and, where it has them, `ub`
/// and `mb` (empty otherwise); `None` for the net, which ranks through its
/// forward pass.
pub fn mf_tables<'a>(spec: &ModelSpec, params: &'a [f32]) -> Option<[&'a [f32]; 4]> {
    if !spec.kind.scores_by_tables() {
        return None;
    }
    let tensors = spec.tensors();
    let get = |name: &str| {
        tensors
            .iter()
            .find(|t| t.name == name)
            .map_or(&[][..], |t| &params[t.range()])
    };
    Some([get("u"), get("m"), get("ub"), get("mb")])
}

/// Who is ranked: every user with a held-out rating ≥ the threshold, the
/// items each rated in training (CSR, sorted), and the relevant items.
struct Ranked {
    users: Vec<u32>,
    seen_ptr: Vec<u32>,
    seen: Vec<u32>,
    rel: Vec<Vec<u32>>,
    validation_users: usize,
}

fn ranked(spec: &ModelSpec, train: &Examples, valid: &Examples, threshold: f32) -> Ranked {
    let by_user = items_by_user(train, spec.n_users, |_| true);
    let (all, rel) = relevant_items(valid, spec.n_users, threshold);
    let users: Vec<u32> = all
        .iter()
        .copied()
        .filter(|&u| !rel[u as usize].is_empty())
        .collect();
    let (mut seen_ptr, mut seen) = (vec![0u32], Vec::new());
    for &u in &users {
        seen.extend_from_slice(&by_user[u as usize]);
        seen_ptr.push(seen.len() as u32);
    }
    Ranked {
        users,
        seen_ptr,
        seen,
        rel,
        validation_users: all.len(),
    }
}

/// Full-ranking metrics of the model `spec`, `params`, trained on `train`
/// and judged on `valid`, on every core of the CPU. MF models rank by the
/// raw score `u·m + ub + mb` ([`crate::ops::score_topk`]; the sigmoid range
/// is monotone, so it keeps the order); the net by its prediction.
pub fn full_ranking(
    spec: &ModelSpec,
    params: &[f32],
    train: &Examples,
    valid: &Examples,
    opts: RankingOptions,
) -> RankingMetrics {
    let t0 = Instant::now();
    let r = ranked(spec, train, valid, opts.threshold);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = r.users.len().div_ceil(threads).max(1);
    let lists: Vec<(u32, Vec<u32>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..r.users.len())
            .step_by(per)
            .map(|start| {
                let end = (start + per).min(r.users.len());
                let r = &r;
                s.spawn(move || top_lists(spec, params, r, start, end, opts.k))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a ranking thread panicked"))
            .collect()
    });
    let device = format!("cpu ({threads} threads)");
    summarise(
        &lists,
        &r.rel,
        r.validation_users,
        spec.n_items,
        opts,
        t0.elapsed().as_secs_f64(),
        device,
    )
}

/// The top lists of users `start..end` of `r`, on this thread.
fn top_lists(
    spec: &ModelSpec,
    params: &[f32],
    r: &Ranked,
    start: usize,
    end: usize,
    k: usize,
) -> Vec<(u32, Vec<u32>)> {
    let users = &r.users[start..end];
    match mf_tables(spec, params) {
        Some([u, m, ub, mb]) => {
            let (mut items, mut scores) = (vec![0u32; users.len() * k], vec![0f32; users.len() * k]);
            ops::score_topk(
                &mut items,
                &mut scores,
                u,
                m,
                ub,
                mb,
                users,
                &r.seen_ptr[start..=end],
                &r.seen,
                spec.factors,
                k,
            );
            lists_of(users, &items, k)
        }
        None => {
            let all: Vec<u32> = (0..spec.n_items as u32).collect();
            let mut ws = Workspace::default();
            users
                .iter()
                .enumerate()
                .map(|(j, &u)| {
                    spec.forward(params, &vec![u; all.len()], &all, &mut ws, None);
                    let seen = &r.seen[r.seen_ptr[start + j] as usize..r.seen_ptr[start + j + 1] as usize];
                    (u, top_k(&ws.pred, seen, k))
                })
                .collect()
        }
    }
}

/// (user, its list without the padding) from (B, k) items.
fn lists_of(users: &[u32], items: &[u32], k: usize) -> Vec<(u32, Vec<u32>)> {
    users
        .iter()
        .zip(items.chunks(k.max(1)))
        .map(|(&u, top)| (u, top.iter().copied().filter(|&i| i != ops::NO_ITEM).collect()))
        .collect()
}

/// [`full_ranking`] on the device the rule picks for `device`: an MF model
/// is scored and ranked on a GPU by `kernels/ranking.cu` (in batches of
/// 65,536 users); the net always ranks on the CPU, as [`full_ranking`].
pub fn full_ranking_on(
    device: Device,
    spec: &ModelSpec,
    params: &[f32],
    train: &Examples,
    valid: &Examples,
    opts: RankingOptions,
) -> Result<RankingMetrics> {
    // The net ranks through its forward pass, on the CPU, whatever the device.
    if !spec.kind.scores_by_tables() {
        return Ok(full_ranking(spec, params, train, valid, opts));
    }
    let Some(gpu) = choose(device, &Needs::default())?.into_gpu() else {
        return Ok(full_ranking(spec, params, train, valid, opts));
    };
    let t0 = Instant::now();
    let r = ranked(spec, train, valid, opts.threshold);
    let [u, m, ub, mb] = mf_tables(spec, params).expect("not the net");
    let (u_dev, m_dev) = (gpu.upload(u)?, gpu.upload(m)?);
    let (ub_dev, mb_dev) = (gpu.upload(ub)?, gpu.upload(mb)?);
    let tables = RankTables {
        u: u_dev.slice(..),
        m: m_dev.slice(..),
        ub: (!ub.is_empty()).then(|| ub_dev.slice(..)),
        mb: (!mb.is_empty()).then(|| mb_dev.slice(..)),
        n_items: spec.n_items,
        f: spec.factors,
    };
    let (items, _) = gpu.rank_all(&tables, &r.users, &r.seen_ptr, &r.seen, opts.k, 1 << 16)?;
    let lists = lists_of(&r.users, &items, opts.k);
    let seconds = t0.elapsed().as_secs_f64();
    Ok(summarise(
        &lists,
        &r.rel,
        r.validation_users,
        spec.n_items,
        opts,
        seconds,
        gpu.description.clone(),
    ))
}

/// Full-ranking metrics of a saved model on its own validation rows, on
/// `device` ([`full_ranking_on`]); `data` must be the data it was trained on.
pub fn model_metrics(
    model: &SavedModel,
    data: &Ratings,
    opts: RankingOptions,
    device: Device,
) -> Result<RankingMetrics> {
    let split = model_split(model, data)?;
    let (train, valid) = (
        Examples::select(data, &split.train),
        Examples::select(data, &split.valid),
    );
    full_ranking_on(device, &model.spec, &model.params, &train, &valid, opts)
}

impl RankingMetrics {
    /// One line: the metrics, the users they average over, and the time.
    pub fn line(&self) -> String {
        let k = self.k;
        format!(
            "p@{k} {:.4}  r@{k} {:.4}  ndcg@{k} {:.4}  map@{k} {:.4}  coverage {:.4}  ({} users with a held-out rating ≥ {}, {} without; full ranking in {:.2} s on {})",
            self.precision, self.recall, self.ndcg, self.map, self.coverage, self.users, self.threshold, self.skipped, self.seconds, self.device
        )
    }
}

/// The means over `lists` (user, top list), with coverage over `n_items`;
/// `seconds` and `device` say how long it took and where.
pub fn summarise(
    lists: &[(u32, Vec<u32>)],
    rel: &[Vec<u32>],
    validation_users: usize,
    n_items: usize,
    opts: RankingOptions,
    seconds: f64,
    device: String,
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
        device,
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
