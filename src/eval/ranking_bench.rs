//! `mfcuda bench --ranking`: full-ranking NDCG@10 at ml-25m's size, on a
//! synthetic set scored with `synth`'s planted factors (no training), on
//! the GPU and on a sample of users on the CPU.
//!
//! The shape is ml-25m's: 162,541 users, 59,047 items, 25,000,095 ratings;
//! `quick` takes a tenth of each. The planted model has rank 32 (the
//! tables the kernel reads are `p`, `q` and the two biases). 20% of the
//! ratings are held out at random; the metrics are
//! [`crate::eval::ranking`]'s.
//!
//! It also prints the cost model of both GPU kernels at the bench's shape
//! ([`model`], on the [`H200`](crate::eval::ranking_model::H200)'s figures), on any device: on the CPU it is
//! the model, not a measurement. On a card both versions are then timed over
//! every ranked user and checked against each other and, on the first
//! [`CPU_CHECK_USERS`] users, against [`ops::score_topk`] to the bit.

use std::time::Instant;

use serde::Serialize;

use crate::backend::cuda::ranking::{RankKernel, RankTables};
use crate::backend::cuda::Gpu;
use crate::backend::select::{choose, Needs};
use crate::backend::Device;
use crate::data::split::Split;
use crate::data::synth::{Generator, SynthSpec};
use crate::data::Examples;
use crate::error::Result;
use crate::eval::ranking::{full_ranking, full_ranking_on, RankingMetrics, RankingOptions};
use crate::model::{ModelConfig, ModelKind, ModelSpec};
use crate::ops;

use crate::eval::ranking_model::{model, RankModel, RankShape};

/// Users the CPU ranks in the bench (it would take minutes to rank all).
pub const CPU_SAMPLE_USERS: usize = 2000;
/// Users whose lists from each GPU version are compared with
/// [`ops::score_topk`]'s, to the bit, on a card.
pub const CPU_CHECK_USERS: usize = 256;

/// What the bench measured.
#[derive(Debug, Clone, Serialize)]
pub struct RankingBench {
    /// Users, items and ratings of the synthetic set.
    pub shape: (usize, usize, usize),
    /// Seconds to draw the ratings.
    pub draw_seconds: f64,
    /// All evaluated users, on the device the rule picked.
    pub full: RankingMetrics,
    /// The first [`CPU_SAMPLE_USERS`] users with a held-out rating, on the
    /// CPU (`None` when `full` ran on the CPU already).
    pub cpu_sample: Option<RankingMetrics>,
    /// Each GPU version's cost model at this shape, on an H200 (printed on
    /// every device; not a measurement).
    pub model: Vec<RankModel>,
    /// Each GPU version timed over every ranked user, on a card (empty on
    /// the CPU).
    pub versions: Vec<VersionRun>,
}

/// One GPU version timed over every ranked user on a card.
#[derive(Debug, Clone, Serialize)]
pub struct VersionRun {
    /// The kernel (`score_topk`, `score_topk_tiled`).
    pub kernel: &'static str,
    /// The version in a few words.
    pub about: &'static str,
    /// Users ranked.
    pub users: usize,
    /// Seconds of the launches (every batch, then a synchronize).
    pub seconds: f64,
    /// What the model says for the same launches.
    pub model_seconds: f64,
    /// Its lists equal [`RankKernel::default_for`]'s on every user, and
    /// [`ops::score_topk`]'s on the first [`CPU_CHECK_USERS`], to the bit.
    pub same_bits: bool,
    /// Why it did not run, where it did not.
    pub skipped: Option<String>,
}

/// The planted model as a biased MF model's spec and parameters.
fn planted_model(g: &Generator, spec: &SynthSpec) -> (ModelSpec, Vec<f32>) {
    let model = ModelSpec {
        config: ModelConfig {
            kind: ModelKind::Svd,
            factors: spec.rank,
            hidden: 1,
            emb_init: (0.0, 0.0),
            dropout: (0.0, 0.0),
        },
        n_users: spec.users,
        n_items: spec.items,
        y_range: (0.5, 5.0),
    };
    let [p, q, bu, bi] = g.planted();
    let mut params = vec![0f32; model.n_params()];
    for t in model.tensors() {
        let src: &[f32] = match t.name {
            "u" => p,
            "m" => q,
            "ub" => bu,
            "mb" => bi,
            _ => &[3.5],
        };
        params[t.range()].copy_from_slice(src);
    }
    (model, params)
}

/// Runs the bench on `device`, calling `progress(rows drawn, rows)`.
pub fn run(device: Device, quick: bool, mut progress: impl FnMut(usize, usize)) -> Result<RankingBench> {
    if device != Device::Cpu {
        if let Some(gpu) = choose(device, &Needs::default())?.into_gpu() {
            gpu.refuse_card_sized(
                &device.to_string(),
                "--ranking ranks every item for ml-25m's users",
            )?;
        }
    }
    let div = if quick { 10 } else { 1 };
    let spec = SynthSpec {
        users: 162_541 / div,
        items: 59_047 / div,
        ratings: 25_000_095 / div,
        rank: 32,
        noise: 0.5,
        seed: 7,
    };
    let t0 = Instant::now();
    let mut g = Generator::new(&spec)?;
    let rows = g.draw_all(|r| progress(r, spec.ratings));
    let draw_seconds = t0.elapsed().as_secs_f64();
    let (model, params) = planted_model(&g, &spec);
    let split = Split::new(rows.len(), 0.2, 42)?;
    let pick = |idx: &[u32]| {
        let mut e = Examples::default();
        rows.gather_into(idx, &mut e);
        e
    };
    let (train, valid) = (pick(&split.train), pick(&split.valid));
    let opts = RankingOptions::default();
    let full = full_ranking_on(device, &model, &params, &train, &valid, opts)?;
    let cpu_sample = if full.device.starts_with("cpu") {
        None
    } else {
        // The held-out rows of the first users only: the same metrics over fewer users.
        let mut users: Vec<u32> = valid.users.clone();
        users.sort_unstable();
        users.dedup();
        let cut = users.get(CPU_SAMPLE_USERS).copied().unwrap_or(u32::MAX);
        let keep: Vec<u32> = (0..valid.len() as u32)
            .filter(|&r| valid.users[r as usize] < cut)
            .collect();
        let mut sample = Examples::default();
        valid.gather_into(&keep, &mut sample);
        Some(full_ranking(&model, &params, &train, &sample, opts))
    };
    // The users the GPU ranks (a relevant held-out rating) and what each has seen.
    let ranked = Ranked::of(&train, &valid, spec.users, opts.threshold);
    let shape = RankShape {
        seen: ranked.seen.len(),
        ..RankShape::new(ranked.users.len(), spec.items, spec.rank, opts.k)
    };
    let models: Vec<RankModel> = RankKernel::ALL.iter().map(|&v| self::model(v, shape)).collect();
    let mut versions = Vec::new();
    if !full.device.starts_with("cpu") {
        if let Some(gpu) = choose(device, &Needs::default())?.into_gpu() {
            let [p, q, bu, bi] = g.planted();
            versions = time_versions(&gpu, [p, q, bu, bi], spec.rank, &ranked, opts.k, &models)?;
        }
    }
    Ok(RankingBench {
        shape: (spec.users, spec.items, spec.ratings),
        draw_seconds,
        full,
        cpu_sample,
        model: models,
        versions,
    })
}

/// The ranked users (sorted) and their seen lists, as the ranking builds
/// them: users with a held-out rating at least `threshold`, each with the
/// sorted, distinct items it rated in `train`.
struct Ranked {
    users: Vec<u32>,
    seen_ptr: Vec<u32>,
    seen: Vec<u32>,
}

impl Ranked {
    fn of(train: &Examples, valid: &Examples, n_users: usize, threshold: f32) -> Ranked {
        let mut relevant = vec![false; n_users];
        for r in 0..valid.len() {
            if valid.ratings[r] >= threshold {
                relevant[valid.users[r] as usize] = true;
            }
        }
        let mut by_user: Vec<Vec<u32>> = vec![Vec::new(); n_users];
        for r in 0..train.len() {
            let user = train.users[r] as usize;
            if relevant[user] {
                by_user[user].push(train.items[r]);
            }
        }
        let (mut users, mut seen_ptr, mut seen) = (Vec::new(), vec![0u32], Vec::new());
        for (user, items) in by_user.iter_mut().enumerate() {
            if relevant[user] {
                items.sort_unstable();
                items.dedup();
                users.push(user as u32);
                seen.extend_from_slice(items);
                seen_ptr.push(seen.len() as u32);
            }
        }
        Ranked {
            users,
            seen_ptr,
            seen,
        }
    }
}

/// Each version over every ranked user on `gpu` (a card): the launches timed
/// (batches of 65,536 users, after a warm-up batch), the lists compared with
/// the default version's and, on the first [`CPU_CHECK_USERS`], with
/// [`ops::score_topk`]'s, to the bit.
fn time_versions(
    gpu: &Gpu,
    [p, q, bu, bi]: [&[f32]; 4],
    f: usize,
    r: &Ranked,
    k: usize,
    models: &[RankModel],
) -> Result<Vec<VersionRun>> {
    use crate::backend::cuda::cuda_err;
    let n_items = q.len() / f.max(1);
    let b = r.users.len();
    let (u_dev, m_dev, ub_dev, mb_dev) = (gpu.upload(p)?, gpu.upload(q)?, gpu.upload(bu)?, gpu.upload(bi)?);
    let tables = RankTables {
        u: u_dev.slice(..),
        m: m_dev.slice(..),
        ub: Some(ub_dev.slice(..)),
        mb: Some(mb_dev.slice(..)),
        n_items,
        f,
    };
    let (users_dev, ptr_dev) = (gpu.upload(&r.users)?, gpu.upload(&r.seen_ptr)?);
    let seen_dev = gpu.upload(if r.seen.is_empty() { &[0u32][..] } else { &r.seen })?;
    // The CPU's lists for the first users.
    let n_check = b.min(CPU_CHECK_USERS);
    let (mut want_i, mut want_s) = (vec![0u32; n_check * k], vec![0f32; n_check * k]);
    ops::score_topk(
        &mut want_i,
        &mut want_s,
        p,
        q,
        bu,
        bi,
        &r.users[..n_check],
        &r.seen_ptr[..=n_check],
        &r.seen,
        f,
        k,
    );
    let batch = 1 << 16;
    let mut outs: Vec<(Vec<u32>, Vec<u32>)> = Vec::new();
    let mut rows = Vec::new();
    for (v, m) in RankKernel::ALL.iter().zip(models) {
        if !v.fits(n_items, f, k) || b == 0 {
            rows.push(VersionRun {
                kernel: v.kernel(),
                about: v.about(),
                users: b,
                seconds: 0.0,
                model_seconds: m.seconds,
                same_bits: false,
                skipped: Some(format!("does not take {n_items} items, f = {f}, k = {k}")),
            });
            continue;
        }
        let (mut items_dev, mut scores_dev) = (gpu.zeros::<u32>(b * k)?, gpu.zeros::<f32>(b * k)?);
        let mut launch = |start: usize, end: usize| -> Result<()> {
            gpu.score_topk_with(
                *v,
                &mut items_dev.slice_mut(start * k..end * k),
                &mut scores_dev.slice_mut(start * k..end * k),
                &tables,
                &users_dev.slice(start..end),
                &ptr_dev.slice(start..end + 1),
                &seen_dev.slice(..),
                k,
            )
        };
        launch(0, b.min(1024))?; // warm-up
        gpu.stream.synchronize().map_err(|e| cuda_err(v.kernel(), e))?;
        let t0 = Instant::now();
        for start in (0..b).step_by(batch) {
            launch(start, (start + batch).min(b))?;
        }
        gpu.stream.synchronize().map_err(|e| cuda_err(v.kernel(), e))?;
        let seconds = t0.elapsed().as_secs_f64();
        let items = gpu.download(&items_dev.slice(..))?;
        let scores: Vec<u32> = gpu
            .download(&scores_dev.slice(..))?
            .iter()
            .map(|x| x.to_bits())
            .collect();
        let cpu_same = items[..n_check * k] == want_i[..]
            && scores[..n_check * k]
                .iter()
                .zip(&want_s)
                .all(|(g, w)| *g == w.to_bits());
        outs.push((items, scores));
        rows.push(VersionRun {
            kernel: v.kernel(),
            about: v.about(),
            users: b,
            seconds,
            model_seconds: m.seconds,
            same_bits: cpu_same,
            skipped: None,
        });
    }
    // Every version that ran against the first that ran, on every user.
    if let Some((first, rest)) = outs.split_first() {
        let agree: Vec<bool> = rest.iter().map(|o| o == first).collect();
        let mut a = agree.into_iter();
        for row in rows.iter_mut().filter(|r| r.skipped.is_none()).skip(1) {
            row.same_bits &= a.next().unwrap_or(false);
        }
    }
    Ok(rows)
}
