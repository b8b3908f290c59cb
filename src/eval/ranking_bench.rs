//! `mfcuda bench --ranking`: full-ranking NDCG@10 at ml-25m's size, on a
//! synthetic set scored with `synth`'s planted factors (no training), on
//! the GPU and on a sample of users on the CPU.
//!
//! The shape is ml-25m's: 162,541 users, 59,047 items, 25,000,095 ratings;
//! `quick` takes a tenth of each. The planted model has rank 32 (the
//! tables the kernel reads are `p`, `q` and the two biases). 20% of the
//! ratings are held out at random; the metrics are
//! [`crate::eval::ranking`]'s.

use std::time::Instant;

use serde::Serialize;

use crate::backend::select::{choose, Needs};
use crate::backend::Device;
use crate::data::split::Split;
use crate::data::synth::{Generator, SynthSpec};
use crate::data::Examples;
use crate::error::Result;
use crate::eval::ranking::{full_ranking, full_ranking_on, RankingMetrics, RankingOptions};
use crate::model::{ModelConfig, ModelKind, ModelSpec};

/// Users the CPU ranks in the bench (it would take minutes to rank all).
pub const CPU_SAMPLE_USERS: usize = 2000;

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
    Ok(RankingBench {
        shape: (spec.users, spec.items, spec.ratings),
        draw_seconds,
        full,
        cpu_sample,
    })
}
