//! `mfcuda bench --scale`: sparse SGD at the sizes of ml-25m and the Netflix
//! prize data, on synthetic ratings of the same shape (users × items ×
//! ratings) drawn by [`crate::data::synth`] from a planted model with known noise;
//! ml-25m twice, with uniform users and with ml-25m's heavy-tailed ones
//! ([`synth::ML25M_SKEW`]: a heaviest user near 32,000 ratings, as there).
//!
//! Each variant trains the svd model (k = 128) for a few epochs and reports
//! the time of one epoch's pass, rating updates per second, the bytes a
//! pass implies over the device-to-device copy bandwidth measured in the
//! same run, and the validation RMSE reached, next to the planted noise that
//! bounds it. On the GPU an epoch is timed with CUDA events around the
//! kernel alone (the ratings are staged once: synthetic rows are drawn in
//! random order already); on the CPU, by wall clock around the epoch.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::backend::cpu_sparse::CpuSparseBackend;
use crate::backend::cuda::sparse::{CudaSparseBackend, UserOrder};
use crate::backend::cuda::{DeviceFactor, Gpu};
use crate::backend::select::{choose, Needs};
use crate::backend::{Backend, BackendInit, Device};
use crate::data::runs::RUN_CHUNK;
use crate::data::synth::{self, SkewedSpec, SynthSpec, ML25M_SHAPE};
use crate::data::Examples;
use crate::error::{Error, Result};
use crate::model::{ModelConfig, ModelKind, ModelSpec};
use crate::ops::Storage;
use crate::rng::Mt19937;
use crate::tools::timing::{copy_bandwidth, time_gpu};

/// A dataset shape: (name, users, items, ratings, user skew), the skew as
/// `mfcuda synth --user-skew` takes it (0: uniform users).
pub type Shape = (&'static str, usize, usize, usize, f64);

/// ml-25m with uniform users, ml-25m with ml-25m-like heavy-tailed users,
/// and the Netflix prize training set.
pub const SHAPES: [Shape; 3] = [
    ("ml-25m", ML25M_SHAPE.0, ML25M_SHAPE.1, ML25M_SHAPE.2, 0.0),
    (
        "ml-25m-skew",
        ML25M_SHAPE.0,
        ML25M_SHAPE.1,
        ML25M_SHAPE.2,
        synth::ML25M_SKEW,
    ),
    ("netflix", 480_189, 17_770, 100_480_507, 0.0),
];

/// The shapes `bench --scale` runs: [`SHAPES`], or with `quick` each a
/// tenth of the size (users, items and ratings alike; the same skew).
pub fn shapes(quick: bool) -> Vec<Shape> {
    SHAPES
        .iter()
        .map(|&(name, u, i, r, skew)| {
            if quick {
                (name, u / 10, i / 10, r / 10, skew)
            } else {
                (name, u, i, r, skew)
            }
        })
        .collect()
}

/// Embedding width of every run.
pub const FACTORS: usize = 128;
/// Rank and noise of the planted model.
pub const PLANTED: (usize, f64) = (32, 0.5);
/// Learning rate and L2 of every run, found on the CPU at a tenth of the size.
pub const LR_REG: (f32, f32) = (0.01, 0.02);

/// How much of the scale bench to run.
#[derive(Debug, Clone)]
pub struct ScaleOptions {
    /// `Cpu`: the CPU only. `Cuda`: the GPU (an error without one). `Auto`: the GPU if there is one, else the CPU.
    pub device: Device,
    /// The shapes to run ([`SHAPES`] for the real thing).
    pub shapes: Vec<Shape>,
    /// A smaller copy for the bandwidth yardstick.
    pub quick: bool,
    /// Epochs of training per variant.
    pub epochs: usize,
}

impl ScaleOptions {
    /// The bench as `mfcuda bench --scale` runs it: [`shapes`]`(quick)`,
    /// `epochs` per variant, on `device`.
    pub fn new(device: Device, quick: bool, epochs: usize) -> ScaleOptions {
        ScaleOptions {
            device,
            shapes: shapes(quick),
            quick,
            epochs,
        }
    }

    /// Keeps only the shape named `name` (`--shape`): so that a card's
    /// session can run one shape a step.
    pub fn only(&mut self, name: &str) -> Result<()> {
        if !self.shapes.iter().any(|s| s.0 == name) {
            let names: Vec<&str> = self.shapes.iter().map(|s| s.0).collect();
            return Err(Error::invalid(
                "--shape",
                format!("{name:?}: the shapes are {}", names.join(", ")),
            ));
        }
        self.shapes.retain(|s| s.0 == name);
        Ok(())
    }
}

/// One measured line of the scale table.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleRow {
    /// `cpu` or `cuda`.
    pub device: String,
    /// The shape's name.
    pub shape: String,
    /// users × items, ratings.
    pub size: String,
    /// Storage and rating order.
    pub variant: String,
    /// Median milliseconds of one epoch's pass, after the first.
    pub ms: f64,
    /// Rating updates per second.
    pub updates_per_s: f64,
    /// Bytes a pass implies, per second, in GB/s (see [`bytes_per_update`]).
    pub gb_per_s: f64,
    /// `gb_per_s` over the measured copy bandwidth, in percent (GPU only).
    pub pct_of_copy: Option<f64>,
    /// Validation RMSE after the last epoch.
    pub rmse: f64,
    /// The planted noise: the RMSE a perfect model would reach, a little less after clipping.
    pub noise: f64,
}

impl ScaleRow {
    /// The line that introduces a shape's rows: its name and size.
    pub fn size_line(&self) -> String {
        format!("{}: {}", self.shape, self.size)
    }

    /// The table's header line.
    pub fn header() -> String {
        format!(
            "{:<4} {:<11} {:<30} {:>9} {:>9} {:>7} {:>6} {:>7} {:>5}",
            "dev", "shape", "variant", "epoch", "updates/s", "GB/s", "%copy", "rmse", "noise"
        )
    }

    /// The row as a table line (at most 100 columns; the shape's size is
    /// [`ScaleRow::size_line`], printed once above its rows).
    pub fn line(&self) -> String {
        let rate = if self.updates_per_s >= 1e9 {
            format!("{:.2}G", self.updates_per_s / 1e9)
        } else {
            format!("{:.1}M", self.updates_per_s / 1e6)
        };
        format!(
            "{:<4} {:<11} {:<30} {:>9} {:>9} {:>7.1} {:>6} {:>7.4} {:>5.2}",
            self.device,
            self.shape,
            self.variant,
            if self.ms >= 1000.0 {
                format!("{:.2} s", self.ms / 1e3)
            } else {
                format!("{:.2} ms", self.ms)
            },
            rate,
            self.gb_per_s,
            self.pct_of_copy
                .map(|p| format!("{p:.1}"))
                .unwrap_or_else(|| "-".into()),
            self.rmse,
            self.noise
        )
    }
}

/// Everything one scale run measured.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleReport {
    /// The GPU, when one ran.
    pub gpu: Option<String>,
    /// Device-to-device copy bandwidth (read + write), GB/s.
    pub copy_gb_per_s: Option<f64>,
    /// The rows, in the order measured.
    pub rows: Vec<ScaleRow>,
}

/// Bytes one rating update moves at `factors` stored in `storage`: both
/// rows read and written, both biases read and written, the rating's
/// (user, item, rating) read and its squared error written.
pub fn bytes_per_update(factors: usize, storage: Storage) -> usize {
    4 * factors * storage.bytes() + 4 * 4 + 12 + 4
}

/// [`bytes_per_update`] when updates go in per-user runs of `avg_run`
/// ratings on average: the user's row and bias move once a run, so each
/// update carries 1/`avg_run` of them.
pub fn bytes_per_update_in_runs(factors: usize, storage: Storage, avg_run: f64) -> f64 {
    let row = (factors * storage.bytes() + 4) as f64;
    2.0 * row + 12.0 + 4.0 + 2.0 * row / avg_run.max(1.0)
}

/// [`bytes_per_update`] when updates go in per-user tasks
/// ([`crate::data::tasks`]) that read and write a user row `moves` times an
/// epoch of `n` updates: once an exclusive task, once a rating of a share.
pub fn bytes_per_update_in_tasks(factors: usize, storage: Storage, moves: usize, n: usize) -> f64 {
    let row = (factors * storage.bytes() + 4) as f64;
    2.0 * row + 12.0 + 4.0 + 2.0 * row * moves as f64 / n.max(1) as f64
}

/// What the progress callback is told.
#[derive(Debug, Clone)]
pub enum Stage {
    /// Drawing `total` synthetic ratings for `shape`; `done` so far.
    Generating {
        /// The shape's name.
        shape: &'static str,
        /// Ratings drawn.
        done: usize,
        /// Ratings to draw.
        total: usize,
    },
    /// Training a variant; `epoch` of `epochs` done.
    Training {
        /// The variant.
        variant: String,
        /// Epochs done.
        epoch: usize,
        /// Epochs in all.
        epochs: usize,
    },
}

/// Runs the scale bench, calling `on_row` as each row is measured and
/// `progress` as work advances.
pub fn run(
    opts: ScaleOptions,
    mut on_row: impl FnMut(&ScaleRow),
    mut progress: impl FnMut(Stage),
) -> Result<ScaleReport> {
    if opts.epochs == 0 || opts.epochs > crate::recipe::MAX_EPOCHS {
        return Err(Error::invalid(
            "--epochs",
            format!("{}: from 1 to {}", opts.epochs, crate::recipe::MAX_EPOCHS),
        ));
    }
    let gpu = choose(opts.device, &Needs::default())?.into_gpu();
    if let Some(g) = &gpu {
        g.refuse_card_sized(
            &opts.device.to_string(),
            "--scale trains at ml-25m and Netflix sizes",
        )?;
    }
    let mut report = ScaleReport {
        gpu: gpu.as_ref().map(|g| g.description.clone()),
        copy_gb_per_s: None,
        rows: Vec::new(),
    };
    if let Some(gpu) = &gpu {
        report.copy_gb_per_s = Some(copy_bandwidth(gpu, opts.quick)?);
    }
    for &(name, users, items, ratings, user_skew) in &opts.shapes {
        if ratings < 100 {
            return Err(Error::invalid(
                "bench --scale",
                format!("{name}: {ratings} ratings; at least 100, so that 1% can validate"),
            ));
        }
        let spec = SkewedSpec {
            spec: SynthSpec {
                users,
                items,
                ratings,
                rank: PLANTED.0,
                noise: PLANTED.1,
                seed: 42,
            },
            user_skew,
        };
        let mut all = synth::examples(&spec, |done| {
            progress(Stage::Generating {
                shape: name,
                done,
                total: ratings,
            })
        })?;
        // Rows are independent draws (with skew, but for each user's one
        // rating at a random row), so the last 1% is a random sample.
        let n_valid = ratings / 100;
        let n_train = ratings - n_valid;
        let valid = Examples {
            users: all.users.split_off(n_train),
            items: all.items.split_off(n_train),
            ratings: all.ratings.split_off(n_train),
        };
        let train = all;
        let model = ModelSpec {
            config: ModelConfig {
                kind: ModelKind::Svd,
                factors: FACTORS,
                hidden: 1,
                emb_init: (-0.05, 0.05),
                dropout: (0.0, 0.0),
            },
            n_users: users,
            n_items: items,
            y_range: (0.5, 5.0),
        };
        let (params, _) = crate::train::initial_params(&model, &mut Mt19937::new(7), &train);
        let size = if user_skew > 0.0 {
            format!("{users} users (skew {user_skew}) × {items} items, {ratings} ratings (k = {FACTORS})")
        } else {
            format!("{users} users × {items} items, {ratings} ratings (k = {FACTORS})")
        };
        let ctx = Ctx {
            name,
            size: &size,
            model: &model,
            params: &params,
            train: &train,
            valid: &valid,
            epochs: opts.epochs,
            copy: report.copy_gb_per_s,
        };
        let mut rows = Vec::new();
        match &gpu {
            Some(gpu) => {
                // The default (tiled, warps capped by hogwild_warps); all the
                // warps the GPU holds, to show what the cap costs or saves;
                // the drawn order, to show what tiling buys; bf16.
                rows.push(gpu_variant::<f32>(gpu, &ctx, true, false, &mut progress)?);
                rows.push(gpu_variant::<f32>(gpu, &ctx, true, true, &mut progress)?);
                rows.push(gpu_variant::<f32>(gpu, &ctx, false, false, &mut progress)?);
                rows.push(gpu_variant::<half::bf16>(gpu, &ctx, true, false, &mut progress)?);
                // Per-user tasks off a queue (the sparse recipes' order), f32
                // and bf16; then version 1's runs, capped and on every warp,
                // side by side with what replaced them.
                let (tasks, v1) = (UserOrder::Tasks, UserOrder::RunsV1);
                rows.push(gpu_user_variant::<f32>(gpu, &ctx, tasks, false, &mut progress)?);
                rows.push(gpu_user_variant::<half::bf16>(
                    gpu,
                    &ctx,
                    tasks,
                    false,
                    &mut progress,
                )?);
                rows.push(gpu_user_variant::<f32>(gpu, &ctx, v1, false, &mut progress)?);
                rows.push(gpu_user_variant::<f32>(gpu, &ctx, v1, true, &mut progress)?);
            }
            None => {
                // The drawn order, then per-user runs (the sparse recipes' order).
                for runs in [false, true] {
                    rows.push(cpu_variant::<f32>(&ctx, runs, &mut progress)?);
                    rows.push(cpu_variant::<half::bf16>(&ctx, runs, &mut progress)?);
                }
            }
        }
        for row in rows {
            on_row(&row);
            report.rows.push(row);
        }
    }
    Ok(report)
}

/// One shape's data and model, shared by its variants.
struct Ctx<'a> {
    name: &'static str,
    size: &'a str,
    model: &'a ModelSpec,
    params: &'a [f32],
    train: &'a Examples,
    valid: &'a Examples,
    epochs: usize,
    copy: Option<f64>,
}

impl Ctx<'_> {
    fn init(&self) -> BackendInit<'_> {
        BackendInit {
            spec: self.model,
            params: self.params.to_vec(),
            wd: LR_REG.1,
            train: self.train,
            valid: self.valid,
            seed: 42,
        }
    }

    /// The average run of the training rows in per-user runs of at most
    /// `RUN_CHUNK` (as the GPU cuts them; the CPU's four blocks cut a
    /// little shorter).
    fn avg_run(&self) -> f64 {
        let mut counts = vec![0usize; self.model.n_users];
        for &u in &self.train.users {
            counts[u as usize] += 1;
        }
        let runs: usize = counts.iter().map(|c| c.div_ceil(RUN_CHUNK)).sum();
        self.train.len() as f64 / runs.max(1) as f64
    }

    fn row(&self, device: &str, variant: String, times: &mut [f64], bytes: f64, mse: f64) -> ScaleRow {
        // The first epoch warms up: launch, caches, page faults.
        let times = if times.len() > 1 { &mut times[1..] } else { times };
        times.sort_by(|a, b| a.total_cmp(b));
        let ms = times[times.len() / 2];
        let n = self.train.len() as f64;
        let updates_per_s = n / (ms / 1e3);
        let gb_per_s = updates_per_s * bytes / 1e9;
        ScaleRow {
            device: device.into(),
            shape: self.name.into(),
            size: self.size.into(),
            variant,
            ms,
            updates_per_s,
            gb_per_s,
            pct_of_copy: self.copy.map(|c| 100.0 * gb_per_s / c),
            rmse: mse.sqrt(),
            noise: PLANTED.1,
        }
    }
}

fn gpu_variant<S: DeviceFactor>(
    gpu: &Arc<Gpu>,
    ctx: &Ctx<'_>,
    tiled: bool,
    all_warps: bool,
    progress: &mut impl FnMut(Stage),
) -> Result<ScaleRow> {
    let mut be = CudaSparseBackend::<S>::new(Arc::clone(gpu), ctx.init(), tiled)?;
    if all_warps {
        be.set_max_warps(usize::MAX);
    }
    let order: Vec<u32> = (0..ctx.train.len() as u32).collect();
    be.stage_epoch(&order)?;
    drop(order);
    let variant = format!(
        "{}, {}, {}",
        S::STORAGE.name(),
        if tiled {
            format!("{} tiles", be.tiling().tiles)
        } else {
            "drawn order".into()
        },
        if all_warps {
            "all warps".to_string()
        } else {
            format!("≤{} warps", be.max_warps())
        }
    );
    let mut times = Vec::new();
    for epoch in 0..ctx.epochs {
        times.push(time_gpu(gpu, 0, 1, &mut || {
            be.sgd_pass(ctx.train.len(), LR_REG.0)
        })?);
        progress(Stage::Training {
            variant: variant.clone(),
            epoch: epoch + 1,
            epochs: ctx.epochs,
        });
    }
    let mse = be.validate()?;
    Ok(ctx.row(
        "cuda",
        variant,
        &mut times,
        per_rating_bytes(ctx, S::STORAGE),
        mse,
    ))
}

/// The modelled bytes of one update, one warp a rating.
fn per_rating_bytes(ctx: &Ctx<'_>, storage: Storage) -> f64 {
    bytes_per_update(ctx.model.factors, storage) as f64
}

/// One GPU variant in per-user order, staged once, each epoch a fresh order
/// (no upload): tasks off a queue (the sparse recipes' epoch, every warp
/// the GPU holds), or version 1's runs (capped by `hogwild_run_warps`, or
/// with `all_warps` every warp), which lose a run's user-row updates when
/// two warps hold runs of one user.
fn gpu_user_variant<S: DeviceFactor>(
    gpu: &Arc<Gpu>,
    ctx: &Ctx<'_>,
    order: UserOrder,
    all_warps: bool,
    progress: &mut impl FnMut(Stage),
) -> Result<ScaleRow> {
    let mut be = CudaSparseBackend::<S>::new(Arc::clone(gpu), ctx.init(), false)?;
    if all_warps {
        be.set_max_warps(usize::MAX);
    }
    be.set_user_order(order);
    let f = ctx.model.factors;
    let (variant, bytes) = match order {
        UserOrder::Tasks => {
            be.stage_tasks()?;
            let Some((tasks, warps)) = be.staged_tasks() else {
                return Err(Error::invalid("bench --scale", "the tasks were not staged"));
            };
            let shared = tasks.shared.iter().filter(|&&x| x != 0).count();
            (
                format!(
                    "{}, {} tasks ({shared} shares ≤{}), {warps} warps",
                    S::STORAGE.name(),
                    tasks.len(),
                    tasks.share
                ),
                bytes_per_update_in_tasks(f, S::STORAGE, tasks.user_row_moves(), ctx.train.len()),
            )
        }
        UserOrder::RunsV1 => {
            be.stage_runs()?;
            let runs = be.runs_shape().map_or(0, |r| r.0);
            let warps = if all_warps {
                "all warps".to_string()
            } else {
                format!("≤{} warps", be.run_warps())
            };
            (
                format!("{}, v1: {runs} runs, {warps}", S::STORAGE.name()),
                bytes_per_update_in_runs(f, S::STORAGE, ctx.avg_run()),
            )
        }
    };
    let mut times = Vec::new();
    for epoch in 0..ctx.epochs {
        let key = epoch as u64;
        times.push(time_gpu(gpu, 0, 1, &mut || match order {
            UserOrder::Tasks => be.tasks_pass(key, LR_REG.0),
            UserOrder::RunsV1 => be.runs_pass(key, LR_REG.0),
        })?);
        progress(Stage::Training {
            variant: variant.clone(),
            epoch: epoch + 1,
            epochs: ctx.epochs,
        });
    }
    let mse = be.validate()?;
    Ok(ctx.row("cuda", variant, &mut times, bytes, mse))
}

fn cpu_variant<S: DeviceFactor>(
    ctx: &Ctx<'_>,
    runs: bool,
    progress: &mut impl FnMut(Stage),
) -> Result<ScaleRow> {
    let threads = crate::backend::cpu_sparse::cpu_threads();
    let mut be = CpuSparseBackend::<S>::new(ctx.init(), threads)?;
    let order: Vec<u32> = (0..ctx.train.len() as u32).collect();
    let variant = format!(
        "{}, {}, {threads} threads",
        S::STORAGE.name(),
        if runs { "user runs" } else { "drawn order" }
    );
    // Losses grouped by a million ratings: the backend reports them, the bench does not.
    let group = 1 << 20;
    let lrs = vec![LR_REG.0; order.len().div_ceil(group)];
    let mut times = Vec::new();
    for epoch in 0..ctx.epochs {
        let t0 = Instant::now();
        if runs {
            be.train_epoch_runs(epoch as u64, group, &lrs, &mut crate::backend::no_progress)?;
        } else {
            be.train_epoch(&order, group, &lrs, 0, &mut crate::backend::no_progress)?;
        }
        times.push(t0.elapsed().as_secs_f64() * 1e3);
        progress(Stage::Training {
            variant: variant.clone(),
            epoch: epoch + 1,
            epochs: ctx.epochs,
        });
    }
    let mse = be.validate()?;
    let bytes = if runs {
        bytes_per_update_in_runs(ctx.model.factors, S::STORAGE, ctx.avg_run())
    } else {
        per_rating_bytes(ctx, S::STORAGE)
    };
    Ok(ctx.row("cpu", variant, &mut times, bytes, mse))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_shape_trains_to_near_the_planted_noise_on_the_cpu() {
        let opts = ScaleOptions {
            device: Device::Cpu,
            shapes: vec![("tiny", 2_000, 500, 300_000, 0.0)],
            quick: true,
            epochs: 8,
        };
        let (mut rows, mut stages) = (0, 0);
        let report = run(opts, |_| rows += 1, |_| stages += 1).unwrap();
        assert_eq!(
            (rows, report.rows.len()),
            (4, 4),
            "f32 and bf16, drawn order and user runs"
        );
        assert!(stages >= 4 * 8, "{stages} progress calls");
        for r in &report.rows {
            assert_eq!((r.device.as_str(), r.shape.as_str()), ("cpu", "tiny"));
            assert!(
                r.ms > 0.0 && r.updates_per_s > 0.0 && r.pct_of_copy.is_none(),
                "{r:?}"
            );
            let implied = r.updates_per_s * bytes_per_update(FACTORS, Storage::F32) as f64 / 1e9;
            if r.variant.starts_with("f32, drawn") {
                assert!((r.gb_per_s - implied).abs() < 1e-9 * implied.max(1.0), "{r:?}");
            }
            if r.variant.starts_with("f32, user runs") {
                // The user row moves once a run, not once a rating.
                assert!(r.gb_per_s < 0.8 * implied, "{r:?}");
            }
            // 150 ratings a user: enough to come within 10% of the noise.
            assert!(r.rmse < 1.10 * PLANTED.1, "{}: rmse {}", r.variant, r.rmse);
        }
    }

    #[test]
    fn refuses_shapes_too_small_to_validate_and_zero_epochs() {
        let opts = |ratings, epochs| ScaleOptions {
            device: Device::Cpu,
            shapes: vec![("x", 10, 10, ratings, 0.0)],
            quick: true,
            epochs,
        };
        assert!(run(opts(99, 1), |_| {}, |_| {}).is_err());
        assert!(run(opts(1000, 0), |_| {}, |_| {}).is_err());
        assert!(run(opts(1000, usize::MAX), |_| {}, |_| {}).is_err());
    }

    #[test]
    fn the_shapes_are_ml25m_uniform_and_skewed_and_netflix() {
        let names: Vec<&str> = SHAPES.iter().map(|s| s.0).collect();
        assert_eq!(names, ["ml-25m", "ml-25m-skew", "netflix"]);
        let (uniform, skewed) = (SHAPES[0], SHAPES[1]);
        assert_eq!(
            (uniform.1, uniform.2, uniform.3, uniform.4),
            (162_541, 59_047, 25_000_095, 0.0)
        );
        assert_eq!((skewed.1, skewed.2, skewed.3), (uniform.1, uniform.2, uniform.3));
        assert_eq!(skewed.4, synth::ML25M_SKEW);
        assert_eq!(SHAPES[2].4, 0.0);
        assert_eq!(shapes(false), SHAPES.to_vec());
        let quick = shapes(true);
        assert_eq!(
            quick[1],
            ("ml-25m-skew", 16_254, 5_904, 2_500_009, synth::ML25M_SKEW)
        );
        // The skewed shape's heaviest user is ml-25m's (32,202) within 10%.
        let counts = synth::expected_user_counts(skewed.1, skewed.3, skewed.4);
        let heaviest = counts.iter().cloned().fold(0.0, f64::max);
        assert!((heaviest - 32_202.0).abs() < 3_220.0, "{heaviest}");
    }

    #[test]
    fn a_skewed_shape_runs_and_its_lines_fit_100_columns() {
        let opts = ScaleOptions {
            device: Device::Cpu,
            shapes: vec![("ml-25m-skew", 1_000, 200, 20_000, synth::ML25M_SKEW)],
            quick: true,
            epochs: 1,
        };
        let report = run(opts, |_| {}, |_| {}).unwrap();
        assert_eq!(report.rows.len(), 4);
        for r in &report.rows {
            assert_eq!(r.shape, "ml-25m-skew");
            assert!(r.size.contains("(skew 0.75)"), "{}", r.size);
            assert!(r.line().chars().count() <= 100, "{}", r.line());
            assert!(r.rmse.is_finite(), "{r:?}");
        }
        assert!(ScaleRow::header().chars().count() <= 100);
    }

    #[test]
    fn only_keeps_one_named_shape_and_names_the_others_when_unknown() {
        let mut o = ScaleOptions::new(Device::Cpu, true, 1);
        o.only("ml-25m-skew").expect("a shape");
        assert_eq!(o.shapes.len(), 1);
        assert_eq!(o.shapes[0].0, "ml-25m-skew");
        let e = ScaleOptions::new(Device::Cpu, true, 1)
            .only("ml-1b")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--shape") && e.contains("ml-1b") && e.contains("netflix"),
            "{e}"
        );
    }

    #[test]
    fn bytes_per_update_counts_rows_biases_and_the_rating() {
        // k = 128: 4 × 128 × 4 = 2048 bytes of rows, 16 of biases, 16 of rating and error.
        assert_eq!(bytes_per_update(128, Storage::F32), 2080);
        assert_eq!(bytes_per_update(128, Storage::Bf16), 1056);
    }
}
