//! Sparse SGD for the svd model on the GPU: cuMF_SGD's scheme, one warp per
//! rating and no locks (`kernels/sparse.cu`). It is the GPU side of
//! [`crate::backend::cpu_sparse`], and its kernel's CPU twin is [`ops::mf_sgd_sparse`].
//!
//! An epoch uploads the loop's order, regroups it into tiles of user and
//! item ranges that fit in L2 ([`Tiling`], [`ops::tile_order`]), gathers the
//! rows on the device, and runs one kernel over all of them. Warps that meet
//! on a row race (Hogwild), so two runs differ in the last bits; the
//! kernel's arithmetic is checked against the CPU's with one warp, where the
//! order is the CPU's (`mfcuda check`).
//!
//! The sparse recipes' epochs go in per-user order instead
//! ([`Backend::train_epoch_runs`]): the ratings grouped by user once
//! ([`staged_runs`]), cut into tasks for the warps a launch gets
//! ([`crate::data::tasks`]), and one warp a task off a queue, the user row in
//! registers ([`CudaSparseBackend::tasks_pass`]). No user-row update is lost
//! however many warps run; item rows still race. Version 1, one warp a run
//! in a static order ([`CudaSparseBackend::runs_pass`]), stays for
//! `bench --scale` and its parity row ([`UserOrder::RunsV1`]).

use std::ops::ControlFlow;

use std::sync::Arc;

use cudarc::driver::CudaSlice;

use crate::backend::cuda::memory::{MemoryPlan, EVAL_CHUNK};
use crate::backend::cuda::{cuda_err, sparse_max_factors, DeviceExamples, DeviceFactor, Gpu};
use crate::backend::{Backend, BackendInit};
use crate::data::runs::Runs;
use crate::data::tasks::{Tasks, MERGE_EVERY};
use crate::data::Examples;
use crate::error::{Error, Result};
use crate::model::svd::SparseParams;
use crate::model::ModelSpec;
use crate::ops;
use crate::ops::Storage;
use crate::rng::Feistel;

/// How an epoch's ratings are regrouped so that each group's rows stay in
/// L2: users in ranges of `tile_users` rows, items in ranges of
/// `tile_items`, tiles taken in row-major order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiling {
    /// Users per tile.
    pub tile_users: usize,
    /// Items per tile.
    pub tile_items: usize,
    /// Tiles across the item axis.
    pub tiles_per_row: usize,
    /// Tiles in all.
    pub tiles: usize,
}

impl Tiling {
    /// Tiles whose rows (factors and bias) take at most a quarter of an L2
    /// of `l2` bytes on each axis, half of it in all, leaving the rest for
    /// the ratings streaming through. With `l2` 0, one tile: no regrouping.
    pub fn for_cache(spec: &ModelSpec, storage: Storage, l2: usize) -> Tiling {
        let row = spec.factors * storage.bytes() + 4;
        let fit = |rows: usize| match l2 {
            0 => rows.max(1),
            _ => (l2 / 4 / row).clamp(1, rows.max(1)),
        };
        let (tile_users, tile_items) = (fit(spec.n_users), fit(spec.n_items));
        let tiles_per_row = spec.n_items.max(1).div_ceil(tile_items);
        Tiling {
            tile_users,
            tile_items,
            tiles_per_row,
            tiles: spec.n_users.max(1).div_ceil(tile_users) * tiles_per_row,
        }
    }

    /// One tile: the loop's order as it is.
    pub fn none(spec: &ModelSpec) -> Tiling {
        Tiling::for_cache(spec, Storage::F32, 0)
    }
}

/// How many warps update at once, by default: a quarter of the smaller
/// table's rows, at least 8 (one block). Hogwild loses an update when two
/// warps write one row at once, and few rows with many warps make that
/// common: on ml-latest-small (610 users) all of an H200's 6,336 resident
/// warps would put about ten warps on every user row at once. The cap keeps
/// that to a few on the small set; `mfcuda check`'s sparse parity rows and the
/// recipes' validation MSE on the card are the measured check that the loss
/// stays small. At ml-25m's and Netflix's sizes the cap is the GPU's own
/// limit or near it.
pub fn hogwild_warps(spec: &ModelSpec) -> usize {
    (spec.n_users.min(spec.n_items) / 4).max(8)
}

/// How many warps update at once in version 1 of the per-user order (one
/// warp a run, [`CudaSparseBackend::runs_pass`]), by default: an eighth of
/// the runs, at least 8 (196 on ml-latest-small). Two warps that hold runs of
/// one user at once lose one run's updates of the user row, and the cap only
/// makes that less common: a lockstep simulation at 196 warps finds 38% of
/// write-backs overwrite another run ([`crate::tools::hogwild`]). The
/// sparse recipes train in tasks instead ([`CudaSparseBackend::tasks_pass`]),
/// which lose none and need no cap.
pub fn hogwild_run_warps(runs: usize) -> usize {
    (runs / 8).max(8)
}

/// How the device line names an epoch in per-user order (the sparse
/// recipes', [`crate::recipe::EpochOrder::UserRuns`]): tasks off a queue
/// ([`crate::data::tasks`]); tests match on it.
pub const RUNS_PATH: &str = "sparse SGD in per-user tasks off a queue, one warp a task";

/// How the device line names an epoch of one warp per rating (the shuffled
/// order, and embeddings wider than the run kernel takes); tests match on it.
pub const PER_RATING_PATH: &str = "sparse SGD, one warp per rating";

/// The runs the GPU stages for the training rows `train` of a model of
/// `n_users` users: all of them one block, block 0 of [`Runs::block`]. Its
/// rows, grouped by user, are what the tasks cut ([`Tasks::for_warps`]); and
/// [`Runs::epoch_order`] gives the order version 1
/// ([`CudaSparseBackend::runs_pass`]) walks, which the CPU backend's one
/// thread walks too: `mfcuda check`'s runs v1 parity relies on that.
pub fn staged_runs(train: &Examples, n_users: usize) -> Runs {
    Runs::block(train, n_users, 0)
}

/// The svd model trained by sparse SGD on the GPU, factors stored as `S`
/// (f32, or bf16 with f32 arithmetic).
pub struct CudaSparseBackend<'a, S: DeviceFactor> {
    gpu: Arc<Gpu>,
    spec: ModelSpec,
    reg: f32,
    mu: f32,
    u: CudaSlice<S::Dev>,
    m: CudaSlice<S::Dev>,
    ub: CudaSlice<f32>,
    mb: CudaSlice<f32>,
    /// The training rows on the host, for the tile order.
    host: &'a Examples,
    train: DeviceExamples,
    /// The training rows in this epoch's (tiled) order.
    epoch: DeviceExamples,
    order: CudaSlice<u32>,
    tiled_order: Vec<u32>,
    tiling: Tiling,
    max_warps: usize,
    /// Set by [`CudaSparseBackend::set_max_warps`]: the cap for runs too.
    warps_set: bool,
    sq_err: CudaSlice<f32>,
    losses: CudaSlice<f32>,
    valid: DeviceExamples,
    pred: CudaSlice<f32>,
    mse: CudaSlice<f64>,
    /// The training rows as per-user runs, made on the first epoch in runs.
    runs: Option<StagedRuns>,
    /// The runs cut into tasks for the warps that run them.
    tasks: Option<StagedTasks>,
    /// The queue's head for [`CudaSparseBackend::tasks_pass`].
    next: CudaSlice<u32>,
    /// Set by [`CudaSparseBackend::set_share`]: the largest share, instead
    /// of [`crate::data::tasks::share_cap`].
    share: Option<usize>,
    /// Which kernel an epoch in per-user order runs.
    user_order: UserOrder,
}

/// The two versions of the per-user epoch ([`Backend::train_epoch_runs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserOrder {
    /// Tasks off a queue ([`CudaSparseBackend::tasks_pass`]): the default.
    #[default]
    Tasks,
    /// Version 1, one warp a run in a static order ([`CudaSparseBackend::runs_pass`]),
    /// which loses a run's updates when two warps hold runs of one user: kept
    /// for `bench --scale` and its parity row.
    RunsV1,
}

/// The runs cut into tasks ([`Tasks`]) for `warps` warps, on the device.
struct StagedTasks {
    host: Tasks,
    warps: usize,
    starts: CudaSlice<u32>,
    ends: CudaSlice<u32>,
    shared: CudaSlice<u32>,
    blocks: CudaSlice<u32>,
}

/// The training rows as per-user runs: on the host (to stage them again
/// after a per-rating epoch used the staging buffer), and their bounds on
/// the device.
struct StagedRuns {
    host: Runs,
    starts: CudaSlice<u32>,
    /// Whether the staging buffer (`epoch`) holds these runs' rows now.
    staged: bool,
}

impl<'a, S: DeviceFactor> CudaSparseBackend<'a, S> {
    /// Checks that the run fits in the GPU's free memory, then uploads
    /// everything. With `tiled`, epochs run tile by tile (see [`Tiling`]);
    /// without, in the loop's order.
    pub fn new(gpu: Arc<Gpu>, init: BackendInit<'a>, tiled: bool) -> Result<Self> {
        let spec = init.spec.clone();
        let f = spec.factors;
        if f == 0 || f > sparse_max_factors(f) {
            return Err(Error::invalid(
                "--factors",
                format!(
                    "{f}: the GPU's sparse kernels take 1 to 128 factors, or up to 512 in multiples of 4"
                ),
            ));
        }
        let params = SparseParams::<S>::from_flat(&spec, &init.params)?;
        // The kernels index the tables with these without a bounds check.
        for (what, rows) in [("training", init.train), ("validation", init.valid)] {
            let bad_user = rows.users.iter().any(|&u| u as usize >= spec.n_users);
            let bad_item = rows.items.iter().any(|&i| i as usize >= spec.n_items);
            if bad_user || bad_item {
                return Err(Error::invalid(
                    "data",
                    format!(
                        "a {what} rating names a user or item past the model's {} users and {} items",
                        spec.n_users, spec.n_items
                    ),
                ));
            }
        }
        let plan = MemoryPlan::sparse(&spec, S::STORAGE, init.train.len(), init.valid.len());
        let advice = match S::STORAGE {
            Storage::F32 => {
                "try --recipe sparse-bf16 (half the factor memory), a smaller --factors, or --device cpu"
            }
            Storage::Bf16 => "try a smaller --factors, or --device cpu",
        };
        gpu.ensure_fits(&plan, advice)?;
        let dev = |v: &[S]| v.iter().map(|&x| x.to_dev()).collect::<Vec<S::Dev>>();
        let n = init.train.len();
        let tiling = if tiled {
            Tiling::for_cache(&spec, S::STORAGE, gpu.l2_bytes())
        } else {
            Tiling::none(&spec)
        };
        Ok(CudaSparseBackend {
            reg: init.wd,
            mu: params.mu,
            u: gpu.upload(&dev(&params.u))?,
            m: gpu.upload(&dev(&params.m))?,
            ub: gpu.upload(&params.ub)?,
            mb: gpu.upload(&params.mb)?,
            host: init.train,
            train: DeviceExamples::upload(&gpu, init.train)?,
            epoch: DeviceExamples::zeros(&gpu, n)?,
            order: gpu.zeros(n)?,
            tiled_order: Vec::new(),
            tiling,
            max_warps: hogwild_warps(&spec),
            warps_set: false,
            sq_err: gpu.zeros(n)?,
            losses: gpu.zeros(1)?,
            valid: DeviceExamples::upload(&gpu, init.valid)?,
            pred: gpu.zeros(init.valid.len().min(EVAL_CHUNK))?,
            mse: gpu.zeros(1)?,
            runs: None,
            tasks: None,
            next: gpu.zeros(1)?,
            share: None,
            user_order: UserOrder::Tasks,
            spec,
            gpu,
        })
    }

    /// The tiling the epochs use.
    pub fn tiling(&self) -> Tiling {
        self.tiling
    }

    /// The most warps that update at once ([`hogwild_warps`] unless set).
    pub fn max_warps(&self) -> usize {
        self.max_warps
    }

    /// Sets the most warps that update at once (1: one warp, the CPU's order).
    pub fn set_max_warps(&mut self, warps: usize) {
        self.warps_set = true;
        self.max_warps = warps.max(1);
    }

    /// Chooses the kernel of an epoch in per-user order.
    pub fn set_user_order(&mut self, order: UserOrder) {
        self.user_order = order;
    }

    /// Sets the largest share of a split user in tasks (the default is
    /// [`crate::data::tasks::share_cap`] of the warps): `mfcuda check` sets
    /// it small, so that one warp's run merges as the many warps' do.
    pub fn set_share(&mut self, share: usize) {
        self.share = Some(share.max(1));
        self.tasks = None;
    }

    /// Puts the training rows on the device in the order `order`, regrouped
    /// by tile: what [`CudaSparseBackend::sgd_pass`] then walks.
    pub fn stage_epoch(&mut self, order: &[u32]) -> Result<()> {
        let n = order.len();
        if n > self.train.len || order.iter().any(|&r| r as usize >= self.train.len) {
            return Err(Error::invalid(
                "order",
                format!(
                    "{n} rows ordered, {} training rows: every row must be one of them",
                    self.train.len
                ),
            ));
        }
        let order = if self.tiling.tiles > 1 {
            self.tiled_order.resize(n, 0);
            let t = self.tiling;
            ops::tile_order(
                &mut self.tiled_order,
                order,
                &self.host.users,
                &self.host.items,
                t.tile_users,
                t.tile_items,
                t.tiles_per_row,
            );
            &self.tiled_order[..]
        } else {
            order
        };
        if let Some(r) = self.runs.as_mut() {
            r.staged = false;
        }
        self.epoch.stage(&self.gpu, &self.train, order, &mut self.order)
    }

    /// One sparse SGD pass over the first `n` staged rows at rate `lr`, up
    /// to [`CudaSparseBackend::max_warps`] at once; each rating's squared
    /// error lands in the error buffer. Only enqueues work.
    pub fn sgd_pass(&mut self, n: usize, lr: f32) -> Result<()> {
        let e = &self.epoch;
        self.gpu.mf_sgd_sparse::<S>(
            &mut self.u.as_view_mut(),
            &mut self.m.as_view_mut(),
            &mut self.ub.as_view_mut(),
            &mut self.mb.as_view_mut(),
            self.mu,
            (&e.users.slice(..n), &e.items.slice(..n), &e.ratings.slice(..n)),
            &mut self.sq_err.slice_mut(..n),
            self.spec.factors,
            lr,
            self.reg,
            self.max_warps,
        )
    }
}

impl<S: DeviceFactor> CudaSparseBackend<'_, S> {
    /// Groups the training rows into per-user runs (on the first call) and
    /// puts them in the staging buffer, unless they are there already: what
    /// [`CudaSparseBackend::runs_pass`] walks.
    pub fn stage_runs(&mut self) -> Result<()> {
        let n = self.train.len;
        if self.runs.is_none() {
            let host = staged_runs(self.host, self.spec.n_users);
            let starts = self.gpu.upload(&host.starts)?;
            self.runs = Some(StagedRuns {
                host,
                starts,
                staged: false,
            });
        }
        let Some(runs) = self.runs.as_mut() else {
            return Err(Error::invalid("runs", "the runs were not made"));
        };
        if !runs.staged {
            let (h, e, stream) = (&runs.host.rows, &mut self.epoch, &self.gpu.stream);
            stream
                .memcpy_htod(&h.users, &mut e.users.slice_mut(..n))
                .map_err(|e| cuda_err("upload runs", e))?;
            stream
                .memcpy_htod(&h.items, &mut e.items.slice_mut(..n))
                .map_err(|e| cuda_err("upload runs", e))?;
            stream
                .memcpy_htod(&h.ratings, &mut e.ratings.slice_mut(..n))
                .map_err(|e| cuda_err("upload runs", e))?;
            runs.staged = true;
        }
        Ok(())
    }

    /// The epoch's reported losses: the mean squared error of each
    /// `batch_size` ratings of the `n` the pass wrote, averaged on the
    /// device and read back once.
    fn step_losses(
        &mut self,
        n: usize,
        steps: usize,
        batch_size: usize,
        progress: &mut dyn FnMut(usize, f32) -> ControlFlow<()>,
    ) -> Result<Vec<f32>> {
        if self.losses.len() < steps {
            self.losses = self.gpu.zeros(steps)?;
        }
        self.gpu.group_mean(
            &mut self.losses.slice_mut(..steps),
            &self.sq_err.slice(..n),
            batch_size,
        )?;
        let losses = self.gpu.download(&self.losses.slice(..steps))?;
        let _ = progress(steps, losses.last().copied().unwrap_or(f32::NAN));
        Ok(losses)
    }

    /// The most warps that update at once in runs: [`hogwild_run_warps`] of
    /// the staged runs, unless set.
    pub fn run_warps(&self) -> usize {
        match (&self.runs, self.warps_set) {
            (Some(r), false) => hogwild_run_warps(r.host.len()),
            _ => self.max_warps,
        }
    }

    /// The staged runs: how many, and their average length.
    pub fn runs_shape(&self) -> Option<(usize, f64)> {
        self.runs.as_ref().map(|r| {
            (
                r.host.len(),
                r.host.rows.len() as f64 / r.host.len().max(1) as f64,
            )
        })
    }

    /// The most warps that update at once in tasks: all the GPU holds,
    /// unless set. No user row is lost however many run, so there is no cap.
    fn task_max_warps(&self) -> usize {
        if self.warps_set {
            self.max_warps
        } else {
            usize::MAX
        }
    }

    /// Stages the runs ([`CudaSparseBackend::stage_runs`]) and cuts them into
    /// tasks for the warps a launch gets (on the first call, and again when
    /// that changes): what [`CudaSparseBackend::tasks_pass`] takes.
    pub fn stage_tasks(&mut self) -> Result<()> {
        self.stage_runs()?;
        let Some(runs) = self.runs.as_ref() else {
            return Err(Error::invalid("runs", "the runs were not made"));
        };
        let warps = self
            .gpu
            .sparse_tasks_warps(S::STORAGE, self.task_max_warps(), runs.host.len())?;
        if self.tasks.as_ref().is_some_and(|t| t.warps == warps) {
            return Ok(());
        }
        let host = match self.share {
            Some(share) => Tasks::new(&runs.host, share),
            None => Tasks::for_warps(&runs.host, warps),
        };
        self.tasks = Some(StagedTasks {
            starts: self.gpu.upload(&host.starts)?,
            ends: self.gpu.upload(&host.ends)?,
            shared: self.gpu.upload(&host.shared)?,
            blocks: self.gpu.upload(&host.blocks)?,
            host,
            warps,
        });
        Ok(())
    }

    /// The staged tasks, and how many warps take them.
    pub fn staged_tasks(&self) -> Option<(&Tasks, usize)> {
        self.tasks.as_ref().map(|t| (&t.host, t.warps))
    }

    /// One sparse SGD pass over the staged tasks ([`CudaSparseBackend::stage_tasks`])
    /// in the queue order `key` draws, at rate `lr`. Only enqueues work.
    pub fn tasks_pass(&mut self, key: u64, lr: f32) -> Result<()> {
        let n = self.train.len;
        let max_warps = self.task_max_warps();
        let staged = self.runs.as_ref().is_some_and(|r| r.staged);
        let Some(tasks) = self.tasks.as_ref().filter(|_| staged) else {
            return Err(Error::invalid("tasks", "stage the tasks first"));
        };
        let order = tasks.host.epoch_order(key);
        let e = &self.epoch;
        self.gpu.mf_sgd_sparse_tasks::<S>(
            &mut self.u.as_view_mut(),
            &mut self.m.as_view_mut(),
            &mut self.ub.as_view_mut(),
            &mut self.mb.as_view_mut(),
            self.mu,
            (&e.users.slice(..n), &e.items.slice(..n), &e.ratings.slice(..n)),
            (
                &tasks.starts.as_view(),
                &tasks.ends.as_view(),
                &tasks.shared.as_view(),
            ),
            &tasks.blocks.as_view(),
            &mut self.next.as_view_mut(),
            &order,
            &mut self.sq_err.slice_mut(..n),
            (self.spec.factors, lr, self.reg, MERGE_EVERY),
            max_warps,
        )
    }

    /// One pass of version 1 of the per-user order over the staged runs
    /// ([`CudaSparseBackend::stage_runs`]): one warp a run in the order `key`
    /// draws, at rate `lr`, up to [`CudaSparseBackend::run_warps`] at once.
    /// Two warps on runs of one user lose one run's updates of its row
    /// (`kernels/sparse.cu`); kept for `bench --scale` and its parity row.
    /// Only enqueues work.
    pub fn runs_pass(&mut self, key: u64, lr: f32) -> Result<()> {
        let n = self.train.len;
        let warps = self.run_warps();
        let Some(runs) = self.runs.as_ref().filter(|r| r.staged) else {
            return Err(Error::invalid("runs", "stage the runs first"));
        };
        let perm = runs.host.epoch_order(key);
        let e = &self.epoch;
        self.gpu.mf_sgd_sparse_runs::<S>(
            &mut self.u.as_view_mut(),
            &mut self.m.as_view_mut(),
            &mut self.ub.as_view_mut(),
            &mut self.mb.as_view_mut(),
            self.mu,
            (&e.users.slice(..n), &e.items.slice(..n), &e.ratings.slice(..n)),
            &runs.starts.as_view(),
            &perm,
            &mut self.sq_err.slice_mut(..n),
            self.spec.factors,
            lr,
            self.reg,
            warps,
        )
    }
}

impl<S: DeviceFactor> Backend for CudaSparseBackend<'_, S> {
    fn device(&self) -> String {
        if self.user_order == UserOrder::RunsV1 && self.runs.is_some() {
            return format!(
                "cuda: {} (version 1: sparse SGD in per-user runs, one warp a run, at most {} at once, {} factors)",
                self.gpu.description,
                self.run_warps(),
                S::STORAGE.name()
            );
        }
        if let Some(t) = &self.tasks {
            return format!(
                "cuda: {} ({RUNS_PATH}, {} warps, {} tasks, shares of at most {} ratings, {} factors)",
                self.gpu.description,
                t.warps,
                t.host.len(),
                t.host.share,
                S::STORAGE.name()
            );
        }
        format!(
            "cuda: {} ({PER_RATING_PATH}, at most {} at once, {} factors, {} tile{})",
            self.gpu.description,
            self.max_warps,
            S::STORAGE.name(),
            self.tiling.tiles,
            if self.tiling.tiles == 1 { "" } else { "s" }
        )
    }

    /// One pass at the epoch's rate `lrs[0]`; `batch_size` only groups the
    /// reported losses, in the order the ratings ran (tile by tile).
    fn train_epoch(
        &mut self,
        order: &[u32],
        batch_size: usize,
        lrs: &[f32],
        _first_step: u64,
        progress: &mut dyn FnMut(usize, f32) -> ControlFlow<()>,
    ) -> Result<Vec<f32>> {
        let n = order.len();
        let steps = crate::backend::epoch_steps(n, batch_size, lrs)?;
        if n == 0 {
            return Ok(Vec::new());
        }
        self.stage_epoch(order)?;
        self.sgd_pass(n, lrs[0])?;
        self.step_losses(n, steps, batch_size, progress)
    }

    /// One pass over the per-user tasks (one warp a task off a queue, the
    /// task's user row in registers; see `kernels/sparse.cu`), in the queue
    /// order `key` draws, at the epoch's rate `lrs[0]`. The tasks are made
    /// and uploaded on the first such epoch; later epochs send nothing but
    /// the key. Embeddings
    /// wider than the run kernel takes fall back to the per-rating kernel in
    /// a [`Feistel`] order of the rows.
    fn train_epoch_runs(
        &mut self,
        key: u64,
        batch_size: usize,
        lrs: &[f32],
        progress: &mut dyn FnMut(usize, f32) -> ControlFlow<()>,
    ) -> Result<Vec<f32>> {
        let n = self.train.len;
        let steps = crate::backend::epoch_steps(n, batch_size, lrs)?;
        if n == 0 {
            return Ok(Vec::new());
        }
        let f = self.spec.factors;
        if !Gpu::sparse_runs_fit(f) {
            let perm = Feistel::new(n as u32, key);
            let order: Vec<u32> = (0..n as u32).map(|i| perm.get(i)).collect();
            return self.train_epoch(&order, batch_size, lrs, 0, progress);
        }
        match self.user_order {
            UserOrder::Tasks => {
                self.stage_tasks()?;
                self.tasks_pass(key, lrs[0])?;
            }
            UserOrder::RunsV1 => {
                self.stage_runs()?;
                self.runs_pass(key, lrs[0])?;
            }
        }
        self.step_losses(n, steps, batch_size, progress)
    }

    fn validate(&mut self) -> Result<f64> {
        self.gpu
            .stream
            .memset_zeros(&mut self.mse)
            .map_err(|e| cuda_err("memset", e))?;
        let v = &self.valid;
        for start in (0..v.len).step_by(EVAL_CHUNK) {
            let rows = start..(start + EVAL_CHUNK).min(v.len);
            let batch = rows.len();
            self.gpu.mf_predict::<S>(
                &mut self.pred.slice_mut(..batch),
                &self.u.as_view(),
                &self.m.as_view(),
                &self.ub.as_view(),
                &self.mb.as_view(),
                self.mu,
                &v.users.slice(rows.clone()),
                &v.items.slice(rows.clone()),
                self.spec.factors,
            )?;
            self.gpu.mse_sum(
                &mut self.mse.slice_mut(..),
                &self.pred.slice(..batch),
                &v.ratings.slice(rows),
                false,
            )?;
        }
        let sum = self.gpu.download(&self.mse.slice(..1))?;
        Ok(sum[0] / v.len.max(1) as f64)
    }

    fn params(&mut self) -> Result<Vec<f32>> {
        let host = |d: Vec<S::Dev>| d.into_iter().map(|x| S::from_dev(x)).collect::<Vec<S>>();
        let params = SparseParams::<S> {
            u: host(self.gpu.download(&self.u.as_view())?),
            m: host(self.gpu.download(&self.m.as_view())?),
            ub: self.gpu.download(&self.ub.as_view())?,
            mb: self.gpu.download(&self.mb.as_view())?,
            mu: self.mu,
        };
        Ok(params.to_flat())
    }
}

/// The GPU sparse backend for `init`, storing the factors in `storage`,
/// tiled for L2.
pub fn cuda_backend<'a>(
    gpu: Arc<Gpu>,
    init: BackendInit<'a>,
    storage: Storage,
) -> Result<Box<dyn Backend + 'a>> {
    Ok(match storage {
        Storage::F32 => Box::new(CudaSparseBackend::<f32>::new(gpu, init, true)?),
        Storage::Bf16 => Box::new(CudaSparseBackend::<half::bf16>::new(gpu, init, true)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cuda::memory::tests::svd;

    #[test]
    fn tiles_fit_a_quarter_of_l2_per_axis() {
        // Netflix on an H200 (60 MiB L2), k = 128, f32: a row is 516 bytes,
        // so 15 MiB holds 30,481 rows: the 17,770 items fit in one range and
        // the 480,189 users take 16.
        let l2 = 60 << 20;
        let t = Tiling::for_cache(&svd(480_189, 17_770, 128), Storage::F32, l2);
        assert_eq!((t.tile_users, t.tile_items), (30_481, 17_770));
        assert_eq!((t.tiles_per_row, t.tiles), (1, 16));
        // bf16 rows are 260 bytes: twice the rows a tile.
        let b = Tiling::for_cache(&svd(480_189, 17_770, 128), Storage::Bf16, l2);
        assert_eq!((b.tile_users, b.tiles), (60_494, 8));
        // ml-latest-small fits whole: one tile, the loop's order untouched.
        assert_eq!(
            Tiling::for_cache(&svd(610, 9_724, 100), Storage::F32, l2).tiles,
            1
        );
        assert_eq!(Tiling::none(&svd(480_189, 17_770, 128)).tiles, 1);
    }

    #[test]
    fn run_warps_cap_small_data_and_free_large() {
        // ml-latest-small's notebook training rows in runs of at most 64: about 1,570 runs.
        assert_eq!(hogwild_run_warps(1_573), 196);
        // ml-25m's and Netflix's shapes: far past the 8,448 warps an H200 holds.
        assert!(hogwild_run_warps(500_000) > 8_448);
        assert_eq!(hogwild_run_warps(3), 8);
    }

    /// The sparse recipes train in per-user tasks on the GPU, so their device
    /// line names [`RUNS_PATH`] (which `tests/gpu.rs` checks), not
    /// [`PER_RATING_PATH`].
    #[test]
    fn the_sparse_recipes_train_in_runs_on_the_gpu() {
        use crate::recipe::{self, EpochOrder};
        for name in ["sparse", "sparse-bf16"] {
            let r = recipe::find(name).expect("a built-in recipe");
            assert_eq!(r.order, EpochOrder::UserRuns, "{name}");
            assert!(
                Gpu::sparse_runs_fit(r.model.factors),
                "{name}: {} factors",
                r.model.factors
            );
        }
        assert_ne!(RUNS_PATH, PER_RATING_PATH);
        assert!(!RUNS_PATH.contains(PER_RATING_PATH) && !PER_RATING_PATH.contains(RUNS_PATH));
    }

    #[test]
    fn hogwild_warps_scale_with_the_smaller_table() {
        assert_eq!(hogwild_warps(&svd(610, 9_724, 100)), 152);
        assert_eq!(hogwild_warps(&svd(480_189, 17_770, 128)), 4_442);
        assert_eq!(hogwild_warps(&svd(162_541, 59_047, 128)), 14_761);
        assert_eq!(hogwild_warps(&svd(3, 2, 8)), 8);
    }
}
