//! The training loop, written once over a [`Backend`](crate::backend::Backend).
//!
//! It does what fastai 0.7's `fit` does: for each stage, for each epoch,
//! shuffle the training rows, run the batches, track the debiased moving
//! average of the batch loss (β = 0.98, reset at each `fit` call), and
//! compute the exact validation MSE.

use std::ops::ControlFlow;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::backend::select::create;
use crate::backend::{BackendInit, Device, GpuOptions};
use crate::data::split::{Split, SplitKind, NOTEBOOK_SPLIT_SEED, NOTEBOOK_VAL_PCT};
use crate::data::Examples;
use crate::data::Ratings;
use crate::error::{Error, Result};
use crate::model::ModelSpec;
use crate::optim::Training;
use crate::recipe::{EpochOrder, Recipe};
use crate::rng::Mt19937;

/// fastai's smoothing factor for the reported training loss.
pub const AVG_MOM: f64 = 0.98;

/// How to run a recipe.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// The recipe, overrides applied.
    pub recipe: Recipe,
    /// Seeds the initial parameters, the shuffles and the dropout masks.
    pub seed: u32,
    /// Seeds the train/validation split (the notebook's is 42).
    pub split_seed: u32,
    /// Fraction of rows held out for validation.
    pub val_pct: f64,
    /// Which rows to hold out: the notebook's random split, or by time.
    pub split: SplitKind,
    /// Rows given outright (a cross-validation fold), instead of `split`.
    pub rows: Option<Split>,
    /// Where to run.
    pub device: Device,
    /// How the GPU runs (ignored on the CPU).
    pub gpu: GpuOptions,
}

impl TrainConfig {
    /// `recipe` trained on `rows.train` and validated on `rows.valid` (a
    /// fold, an inner split), with `seed`; `val_pct` records the share held
    /// out, of `n` rows.
    pub fn on_rows(
        recipe: Recipe,
        seed: u32,
        rows: Split,
        n: usize,
        device: Device,
        gpu: GpuOptions,
    ) -> TrainConfig {
        TrainConfig {
            recipe,
            seed,
            split_seed: 0,
            val_pct: rows.valid.len() as f64 / n.max(1) as f64,
            split: SplitKind::Random,
            rows: Some(rows),
            device,
            gpu,
        }
    }
}

/// One row of the epoch table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch over the whole run, 0-based as fastai's table counts.
    pub epoch: usize,
    /// 1-based stage (`fit` call).
    pub stage: usize,
    /// Debiased moving average of the batch loss at the epoch's end.
    pub trn_loss: f64,
    /// Exact validation MSE.
    pub val_loss: f64,
    /// Wall time of the epoch's training steps.
    pub train_seconds: f64,
    /// Wall time of the epoch including validation.
    pub seconds: f64,
}

impl EpochRecord {
    /// The epoch table's header, as fastai prints it.
    pub fn header() -> String {
        format!(
            "{:>5} {:>5} {:>10} {:>10} {:>9}",
            "epoch", "stage", "trn_loss", "val_loss", "seconds"
        )
    }

    /// The record as a row of that table.
    pub fn line(&self) -> String {
        format!(
            "{:>5} {:>5} {:>10.6} {:>10.6} {:>9.2}",
            self.epoch, self.stage, self.trn_loss, self.val_loss, self.seconds
        )
    }
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    /// Recipe name.
    pub recipe: String,
    /// The device that ran it (on the GPU, with the path its epochs took and why).
    pub device: String,
    /// The ways its epochs ran, each with its reason, in the order first
    /// taken (the CUDA backend's paths; empty on the CPU).
    pub paths: Vec<crate::backend::PathTaken>,
    /// The training seed.
    pub seed: u32,
    /// The model as PyTorch prints it.
    pub model: String,
    /// Number of parameters.
    pub n_params: usize,
    /// Training rows.
    pub train_rows: usize,
    /// Validation rows.
    pub valid_rows: usize,
    /// Batches per epoch.
    pub steps_per_epoch: usize,
    /// Epochs run.
    pub epochs: usize,
    /// Per-epoch figures.
    pub history: Vec<EpochRecord>,
    /// Final validation MSE.
    pub val_mse: f64,
    /// Its square root.
    pub val_rmse: f64,
    /// The notebook's figure for this recipe.
    pub notebook_mse: Option<f64>,
    /// Total wall time of training and validation.
    pub seconds: f64,
    /// True when the run was stopped early ([`Observer::stop_requested`]):
    /// `history` holds the epochs that finished. The parameters are the last
    /// finished epoch's, or, when a CPU epoch was stopped between two steps
    /// (`stopped_mid_epoch`), the model as it stood; `val_mse` is theirs.
    pub interrupted: bool,
    /// Steps done and steps in the epoch that was stopped part way.
    pub stopped_mid_epoch: Option<(usize, usize)>,
    /// The split's seed.
    pub split_seed: u32,
    /// Which rows were held out.
    pub split: SplitKind,
    /// The fraction held out.
    pub val_pct: f64,
    /// Mean rating of the training rows.
    pub global_mean: f64,
    /// The baseline: the validation MSE of predicting `global_mean` for
    /// every row (1.1001 on the notebook's split).
    pub baseline_mse: f64,
    /// Set when the run ended worse than the baseline by more than
    /// [`BASELINE_MARGIN`]: what it did, the likely cause and a value to try.
    pub warning: Option<String>,
    /// The model's shapes (not serialised).
    #[serde(skip)]
    pub spec: ModelSpec,
    /// The trained parameters (not serialised).
    #[serde(skip)]
    pub params: Vec<f32>,
}

/// Everything a run starts from, prepared in one place: the split, the
/// training and validation rows, the model spec and the initial parameters.
/// [`train`], `train --trace`, `mfcuda check`, `mfcuda bench` and the tests
/// all prepare their runs through [`Setup::new`].
#[derive(Clone)]
pub struct Setup {
    /// The training rows, in file order.
    pub train: Examples,
    /// The validation rows, in the split's order.
    pub valid: Examples,
    /// The recipe's model on this data.
    pub spec: ModelSpec,
    /// Initial parameters: drawn by `spec.init_params`, then, for the svd
    /// model, `mu` set to the training mean, as in Surprise.
    pub params: Vec<f32>,
    /// The mean training rating.
    pub global_mean: f64,
    /// The recipe's training: dense optimizer or sparse SGD.
    pub training: Training,
    /// The recipe's weight decay.
    pub wd: f32,
    /// The training seed.
    pub seed: u32,
    /// The run's generator after the parameters were drawn: the epochs'
    /// shuffles continue from it.
    pub rng: Mt19937,
}

impl Setup {
    /// `recipe` on `data`, holding out `val_pct` of the rows (numpy's
    /// permutation under `split_seed`), with parameters drawn from `seed`.
    pub fn new(data: &Ratings, recipe: &Recipe, seed: u32, val_pct: f64, split_seed: u32) -> Result<Setup> {
        Setup::with_split(data, recipe, seed, &Split::new(data.len(), val_pct, split_seed)?)
    }

    /// `recipe` on `data`, trained on `split.train` and validated on
    /// `split.valid`, with parameters drawn from `seed`.
    pub fn with_split(data: &Ratings, recipe: &Recipe, seed: u32, split: &Split) -> Result<Setup> {
        let train = Examples::select(data, &split.train);
        let valid = Examples::select(data, &split.valid);
        let spec = model_spec(recipe, data);
        ensure_host_memory(&spec, available_memory())?;
        let mut rng = Mt19937::new(seed);
        let (params, global_mean) = initial_params(&spec, &mut rng, &train);
        Ok(Setup {
            train,
            valid,
            spec,
            params,
            global_mean,
            training: recipe.training,
            wd: recipe.wd,
            seed,
            rng,
        })
    }

    /// The notebook's setup: 20% held out under seed 42.
    pub fn notebook(data: &Ratings, recipe: &Recipe, seed: u32) -> Result<Setup> {
        Setup::new(data, recipe, seed, NOTEBOOK_VAL_PCT, NOTEBOOK_SPLIT_SEED)
    }

    /// What a backend starts from (the parameters copied).
    pub fn init(&self) -> BackendInit<'_> {
        BackendInit {
            spec: &self.spec,
            params: self.params.clone(),
            wd: self.wd,
            train: &self.train,
            valid: &self.valid,
            seed: self.seed as u64,
        }
    }
}

/// The parameters a run starts from: drawn by `spec.init_params`, then,
/// for the svd model, `mu` set to the training mean, as in Surprise. Also
/// returns that mean. [`Setup::new`] uses it, and so does `bench --scale`,
/// whose synthetic rows are never a [`Ratings`].
pub fn initial_params(spec: &ModelSpec, rng: &mut Mt19937, train: &Examples) -> (Vec<f32>, f64) {
    let mut params = spec.init_params(rng);
    let mean = train.ratings.iter().map(|&r| r as f64).sum::<f64>() / train.len().max(1) as f64;
    if let Some(mu) = spec.tensors().iter().find(|t| t.name == "mu") {
        params[mu.range()].fill(mean as f32);
    }
    (params, mean)
}

/// The model spec a recipe gives on `data`.
/// Copies of the parameters a run may hold in host memory at once: the
/// setup's, the backend's, its gradients and two optimizer buffers (Adam),
/// and the report's.
pub const HOST_COPIES: u64 = 6;

/// Refuses, before anything is allocated, a model whose parameters cannot
/// fit in `available` bytes of host memory (`None`: not known, no check):
/// what the model needs, what the machine has, and what to try.
pub fn ensure_host_memory(spec: &ModelSpec, available: Option<u64>) -> Result<()> {
    let params = spec.n_params() as u64;
    let need = params.saturating_mul(4 * HOST_COPIES);
    match available {
        Some(avail) if need > avail => {
            let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
            Err(Error::invalid(
                "--factors",
                format!(
                    "{}: the model has {params} parameters, and training holds up to {HOST_COPIES} copies of them ({:.1} GiB); this machine has {:.1} GiB of memory available. Try a smaller --factors",
                    spec.factors,
                    gib(need),
                    gib(avail)
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// The memory the system says is available to a new allocation (Linux's
/// `MemAvailable`), or `None` where it does not say.
pub fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn model_spec(recipe: &Recipe, data: &Ratings) -> ModelSpec {
    ModelSpec {
        config: recipe.model,
        n_users: data.n_users(),
        n_items: data.n_items(),
        y_range: data.rating_range(),
    }
}

/// Where a run is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// 0-based epoch over the whole run.
    pub epoch: usize,
    /// Total epochs of the run.
    pub epochs: usize,
    /// Steps of this epoch done.
    pub step: usize,
    /// Steps in this epoch.
    pub steps: usize,
    /// fastai's debiased moving average of the batch loss so far in the stage.
    pub loss: f64,
}

/// What a caller hears during [`train`].
pub trait Observer {
    /// Once, with the line saying which device runs and why.
    fn start(&mut self, _device_line: &str) {}
    /// As steps finish (per step on the CPU; per epoch on the GPU).
    fn step(&mut self, _p: &Progress) {}
    /// After each epoch, with its measured figures.
    fn epoch(&mut self, _record: &EpochRecord) {}
    /// Asked before each epoch and after each reported step: true stops the
    /// run there, cleanly (Ctrl-C in the CLI). The CPU's dense epochs stop
    /// at the next step; the others at the end of the epoch. The report then
    /// says it was interrupted.
    fn stop_requested(&mut self) -> bool {
        false
    }
}

/// An observer that hears nothing.
pub struct Silent;
impl Observer for Silent {}

/// Runs `cfg` on `data`, telling `obs` what happens as it happens.
pub fn train(data: &Ratings, cfg: &TrainConfig, obs: &mut dyn Observer) -> Result<TrainReport> {
    let recipe = &cfg.recipe;
    let setup = match &cfg.rows {
        Some(split) => Setup::with_split(data, recipe, cfg.seed, split)?,
        None => {
            let split = cfg
                .split
                .split(&data.users, &data.timestamps, cfg.val_pct, cfg.split_seed)?;
            Setup::with_split(data, recipe, cfg.seed, &split)?
        }
    };
    let init = setup.init();
    let (mut be, why) = create(cfg.device, init, setup.training, cfg.gpu)?;
    obs.start(&why);

    let (train_set, valid_set, spec) = (&setup.train, &setup.valid, &setup.spec);
    let mut rng = setup.rng.clone();
    let bs = recipe.batch_size;
    let steps_per_epoch = train_set.len().div_ceil(bs);
    let start = Instant::now();
    let mut history = Vec::new();
    let mut global_step = 0u64;
    let mut interrupted = false;
    let mut stopped_mid_epoch = None;
    let mut val_mse = f64::NAN;
    'stages: for (stage_no, stage) in recipe.stages.iter().enumerate() {
        let (mut avg_loss, mut batch_num) = (0.0f64, 0i32);
        for e in 0..stage.epochs() {
            if obs.stop_requested() {
                interrupted = true;
                break 'stages;
            }
            let lrs: Vec<f32> = (e * steps_per_epoch..(e + 1) * steps_per_epoch)
                .map(|it| stage.lr_at(it, steps_per_epoch))
                .collect();
            let lrs = &lrs[..];
            let t0 = Instant::now();
            let epoch = history.len();
            let epochs = recipe.epochs();
            // The bar's running loss: the same smoothing as the table's, continued per step.
            let (mut run_avg, mut run_num) = (avg_loss, batch_num);
            let mut progress = |step: usize, loss: f32| {
                run_num += 1;
                run_avg = run_avg * AVG_MOM + loss as f64 * (1.0 - AVG_MOM);
                let loss = run_avg / (1.0 - AVG_MOM.powi(run_num));
                obs.step(&Progress {
                    epoch,
                    epochs,
                    step,
                    steps: lrs.len(),
                    loss,
                });
                if obs.stop_requested() {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            };
            let losses = match recipe.order {
                EpochOrder::Shuffle => {
                    let order = rng.permutation(train_set.len());
                    be.train_epoch(&order, bs, lrs, global_step, &mut progress)?
                }
                EpochOrder::UserRuns => {
                    let key = (u64::from(rng.next_u32()) << 32) | u64::from(rng.next_u32());
                    be.train_epoch_runs(key, bs, lrs, &mut progress)?
                }
            };
            // The divergence guard rides on the epoch's one read-back of losses.
            if let Some(s) = losses.iter().position(|l| !l.is_finite()) {
                return Err(Error::Diverged {
                    epoch,
                    where_: format!("step {} of {}", s + 1, losses.len()),
                    loss: losses[s] as f64,
                    lr: crate::text::short(lrs[s] as f64),
                    lr_hint: crate::text::short(lrs[s] as f64 / 10.0),
                });
            }
            let train_seconds = t0.elapsed().as_secs_f64();
            global_step += losses.len() as u64;
            if losses.len() < lrs.len() {
                // Stopped between two steps: the model as it stands, validated.
                interrupted = true;
                stopped_mid_epoch = Some((losses.len(), lrs.len()));
                val_mse = be.validate()?;
                break 'stages;
            }
            for &loss in &losses {
                batch_num += 1;
                avg_loss = avg_loss * AVG_MOM + loss as f64 * (1.0 - AVG_MOM);
            }
            let trn_loss = avg_loss / (1.0 - AVG_MOM.powi(batch_num));
            let val_loss = be.validate()?;
            if !val_loss.is_finite() {
                let lr = lrs[lrs.len() - 1];
                let where_ = "in validation".to_string();
                return Err(Error::Diverged {
                    epoch,
                    where_,
                    loss: val_loss,
                    lr: crate::text::short(lr as f64),
                    lr_hint: crate::text::short(lr as f64 / 10.0),
                });
            }
            let rec = EpochRecord {
                epoch,
                stage: stage_no + 1,
                trn_loss,
                val_loss,
                train_seconds,
                seconds: t0.elapsed().as_secs_f64(),
            };
            obs.epoch(&rec);
            val_mse = rec.val_loss;
            history.push(rec);
        }
    }
    let baseline_mse = valid_set
        .ratings
        .iter()
        .map(|&r| (r as f64 - setup.global_mean).powi(2))
        .sum::<f64>()
        / valid_set.len().max(1) as f64;
    let warning = match interrupted {
        true => None,
        false => baseline_warning(recipe, val_mse, baseline_mse, spec.y_range),
    };
    Ok(TrainReport {
        recipe: recipe.name.to_string(),
        device: be.device(),
        paths: be.paths(),
        seed: cfg.seed,
        model: spec.describe(),
        n_params: spec.n_params(),
        train_rows: train_set.len(),
        valid_rows: valid_set.len(),
        steps_per_epoch,
        epochs: history.len(),
        val_mse,
        val_rmse: val_mse.sqrt(),
        notebook_mse: recipe.notebook_mse,
        seconds: start.elapsed().as_secs_f64(),
        interrupted,
        stopped_mid_epoch,
        split: cfg.split,
        split_seed: cfg.split_seed,
        val_pct: cfg.val_pct,
        global_mean: setup.global_mean,
        baseline_mse,
        warning,
        params: be.params()?,
        spec: spec.clone(),
        history,
    })
}

/// How far above the baseline (predicting the training mean) a run may end
/// before `train` warns: 25%. The notebook's `dot` at its defaults ends 3%
/// above it (1.1355 against 1.1001), legitimately: it has no biases and few
/// epochs. A run that diverged ends several times above it (`dotbias --lr
/// 1000`: 5.51).
pub const BASELINE_MARGIN: f64 = 1.25;

/// The ratings' span the recipes' learning rates were set for: MovieLens's
/// 0.5 to 5.
const MOVIELENS_SPAN: f64 = 4.5;

/// The warning for a run of `recipe` that ended at `val_mse` against the
/// baseline `baseline_mse`, on ratings spanning `y_range`: `None` within
/// [`BASELINE_MARGIN`]. It names the likely cause and a value to try: a
/// learning rate above the built-in recipe's, ratings on a wider scale than
/// MovieLens's (the rates were set for 0.5 to 5), or else too little
/// training or too high a rate.
pub fn baseline_warning(
    recipe: &Recipe,
    val_mse: f64,
    baseline_mse: f64,
    y_range: (f32, f32),
) -> Option<String> {
    // NaN compares false, so it never warns here (Diverged catches it).
    let worse = val_mse > BASELINE_MARGIN * baseline_mse;
    if !worse {
        return None;
    }
    let lr = recipe.stages.first().map_or(0.0, |s| s.lr()) as f64;
    let built_in = crate::recipe::find(recipe.name)
        .ok()
        .and_then(|r| r.stages.first().map(|s| s.lr() as f64));
    let span = (y_range.1 - y_range.0) as f64;
    let short = crate::text::short;
    let cause = match built_in {
        Some(d) if lr > 2.0 * d => format!(
            "the learning rate {} is {}x the recipe's: try --lr {}",
            short(lr),
            short(lr / d),
            short(d)
        ),
        _ if span > 2.0 * MOVIELENS_SPAN => format!(
            "the ratings run from {} to {}, {}x the span of MovieLens's 0.5 to 5 that the \
             learning rates were set for: rescale them, or try --lr {}",
            short(y_range.0 as f64),
            short(y_range.1 as f64),
            short(span / MOVIELENS_SPAN),
            short(lr * MOVIELENS_SPAN / span)
        ),
        _ => format!(
            "too high a learning rate or too little training: try --lr {} or more --epochs",
            short(lr / 10.0)
        ),
    };
    Some(format!(
        "the model ended at validation MSE {:.4}, worse than predicting the training mean for \
         every rating ({:.4}, {}x); likely cause: {cause}",
        val_mse,
        baseline_mse,
        short(val_mse / baseline_mse)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ModelConfig, ModelKind};

    #[test]
    fn the_baseline_warning_separates_a_small_excess_from_divergence() {
        let r = |name: &str| crate::recipe::find(name).expect("a built-in recipe");
        let ml = (0.5, 5.0);
        // The notebook's dot at its defaults: 3% above the baseline, no warning.
        assert_eq!(baseline_warning(&r("dot"), 1.1355, 1.1001, ml), None);
        // dotbias at --lr 1000: the rate is named, and the recipe's offered.
        let mut hot = r("dotbias");
        hot.stages = hot.stages.iter().map(|s| s.with_lr(1000.0)).collect();
        let w = baseline_warning(&hot, 5.51, 1.1001, ml).expect("a warning");
        assert!(
            w.contains("5.51") && w.contains("1.1001") && w.contains("--lr 0.1"),
            "{w}"
        );
        // Ratings of -3 to 500 at the recipe's own rate: the scale is named.
        let w = baseline_warning(&r("learner"), 61_568.0, 9_000.0, (-3.0, 500.0)).expect("a warning");
        assert!(w.contains("-3 to 500") && w.contains("rescale"), "{w}");
        // NaN is caught elsewhere (Diverged), never here.
        assert_eq!(baseline_warning(&r("dot"), f64::NAN, 1.1, ml), None);
    }

    fn spec(factors: usize) -> ModelSpec {
        ModelSpec {
            config: ModelConfig {
                kind: ModelKind::DotBias,
                factors,
                hidden: 10,
                emb_init: (-0.01, 0.01),
                dropout: (0.0, 0.0),
            },
            n_users: 610,
            n_items: 9724,
            y_range: (0.5, 5.0),
        }
    }

    #[test]
    fn a_model_past_the_machines_memory_is_refused_before_allocating() {
        // --factors 100000000 on ml-latest-small: 1.03e12 parameters, 24 TiB of copies.
        let e = ensure_host_memory(&spec(100_000_000), Some(24 << 30))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--factors") && e.contains("GiB") && e.contains("24.0 GiB"),
            "{e}"
        );
        // The notebook's model fits easily; unknown memory is not a reason to refuse.
        assert!(ensure_host_memory(&spec(50), Some(24 << 30)).is_ok());
        assert!(ensure_host_memory(&spec(100_000_000), None).is_ok());
        // The boundary: six copies of the parameters, to the byte.
        let s = spec(50);
        let need = s.n_params() as u64 * 4 * HOST_COPIES;
        assert!(ensure_host_memory(&s, Some(need)).is_ok());
        assert!(ensure_host_memory(&s, Some(need - 1)).is_err());
    }
}
