//! [`CudaBackend`] op by op: the dense models (dot, dotbias, net) with one
//! kernel per op of the CPU's forward and backward passes, the optimizer
//! step, and the [`Backend`] impl, which hands dot and dotbias to the fused
//! epoch (`fused.rs`) when that is on.

use std::ops::ControlFlow;

use std::sync::Arc;

use cudarc::driver::{CudaGraph, CudaSlice, CudaView, CudaViewMut};

use crate::backend::cuda::adam_epoch::{adam_epoch_fits, AdamEpochBuffers, CoopRefusal};
use crate::backend::cuda::lazy::{lazy_fits, DevicePowers};
use crate::backend::cuda::memory::{MemoryPlan, EVAL_CHUNK};
use crate::backend::cuda::optim::{update, Step};
use crate::backend::cuda::path::{self, DensePath, PathChoice, PathInputs};
use crate::backend::cuda::{cuda_err, Gpu};
use crate::backend::{Backend, BackendInit, GpuOptions, PathTaken};
use crate::error::{Error, Result};
use crate::model::{DropoutKey, ModelKind, ModelSpec};
use crate::optim::Optimizer;

/// The dense backend does not train the svd model: that is the sparse one's job.
pub(crate) fn no_svd() -> Error {
    Error::Device {
        device: "cuda".into(),
        msg:
            "the svd model trains by sparse SGD (crate::backend::cuda::sparse), not in the dense CUDA backend"
                .into(),
    }
}

/// Per-batch activations on the device, sized for `cap` rows; the net's
/// buffers only for the net.
struct DeviceWorkspace {
    cap: usize,
    u: CudaSlice<f32>,
    m: CudaSlice<f32>,
    x: CudaSlice<f32>,
    pred: CudaSlice<f32>,
    dpred: CudaSlice<f32>,
    dx: CudaSlice<f32>,
    du: CudaSlice<f32>,
    dm: CudaSlice<f32>,
    cat: CudaSlice<f32>,
    h: CudaSlice<f32>,
    h_drop: CudaSlice<f32>,
    dh: CudaSlice<f32>,
    dh_pre: CudaSlice<f32>,
    dcat: CudaSlice<f32>,
}

impl DeviceWorkspace {
    fn new(gpu: &Gpu, cap: usize, spec: &ModelSpec) -> Result<Self> {
        let f = spec.factors;
        let (cat, h) = match spec.kind.has_hidden_layer() {
            true => (cap * 2 * f, cap * spec.hidden),
            false => (0, 0),
        };
        Ok(DeviceWorkspace {
            cap,
            u: gpu.zeros(cap * f)?,
            m: gpu.zeros(cap * f)?,
            x: gpu.zeros(cap)?,
            pred: gpu.zeros(cap)?,
            dpred: gpu.zeros(cap)?,
            dx: gpu.zeros(cap)?,
            du: gpu.zeros(cap * f)?,
            dm: gpu.zeros(cap * f)?,
            cat: gpu.zeros(cat)?,
            h: gpu.zeros(h)?,
            h_drop: gpu.zeros(h)?,
            dh: gpu.zeros(h)?,
            dh_pre: gpu.zeros(h)?,
            dcat: gpu.zeros(cat)?,
        })
    }
}

/// The model's forward pass on the device, mirroring
/// [`ModelSpec::forward`] op for op; predictions land in `ws.pred[..B]`.
/// `dropout` is `Some` in training mode (the net only).
fn forward(
    gpu: &Gpu,
    spec: &ModelSpec,
    params: &CudaSlice<f32>,
    ws: &mut DeviceWorkspace,
    users: &CudaView<'_, u32>,
    items: &CudaView<'_, u32>,
    dropout: Option<DropoutKey>,
) -> Result<()> {
    let (batch, f) = (users.len(), spec.factors);
    let (lo, hi) = spec.y_range;
    let t = spec.tensors();
    let p = |k: usize| params.slice(t[k].range());
    match spec.kind {
        ModelKind::Dot => {
            gpu.embedding_gather(&mut ws.u.slice_mut(..batch * f), &p(0), users, f)?;
            gpu.embedding_gather(&mut ws.m.slice_mut(..batch * f), &p(1), items, f)?;
            gpu.dot_forward(
                &mut ws.pred.slice_mut(..),
                &ws.u.as_view(),
                &ws.m.as_view(),
                batch,
                f,
            )
        }
        ModelKind::DotBias => {
            gpu.embedding_gather(&mut ws.u.slice_mut(..batch * f), &p(0), users, f)?;
            gpu.embedding_gather(&mut ws.m.slice_mut(..batch * f), &p(1), items, f)?;
            gpu.dot_forward(
                &mut ws.x.slice_mut(..),
                &ws.u.as_view(),
                &ws.m.as_view(),
                batch,
                f,
            )?;
            gpu.bias_add(&mut ws.x.slice_mut(..), &p(2), users)?;
            gpu.bias_add(&mut ws.x.slice_mut(..), &p(3), items)?;
            gpu.sigmoid_range_forward(&mut ws.pred.slice_mut(..), &ws.x.as_view(), lo, hi, batch)
        }
        ModelKind::Svd => Err(no_svd()),
        ModelKind::Net => {
            let (nc, nh) = (batch * 2 * f, batch * spec.hidden);
            gpu.concat_gather(&mut ws.cat.slice_mut(..nc), &p(0), users, &p(1), items, f)?;
            if let Some(k) = dropout {
                let drop1 = ModelSpec::DROP1;
                gpu.dropout_forward(&mut ws.cat.slice_mut(..nc), spec.dropout.0, k.seed, k.step, drop1)?;
            }
            gpu.linear_forward(
                &mut ws.h.slice_mut(..nh),
                &ws.cat.slice(..nc),
                &p(2),
                &p(3),
                batch,
                2 * f,
            )?;
            gpu.relu_forward(&mut ws.h.slice_mut(..nh))?;
            gpu.stream
                .memcpy_dtod(&ws.h.slice(..nh), &mut ws.h_drop.slice_mut(..nh))
                .map_err(|e| cuda_err("copy h", e))?;
            if let Some(k) = dropout {
                let drop2 = ModelSpec::DROP2;
                gpu.dropout_forward(
                    &mut ws.h_drop.slice_mut(..nh),
                    spec.dropout.1,
                    k.seed,
                    k.step,
                    drop2,
                )?;
            }
            gpu.linear_forward(
                &mut ws.x.slice_mut(..batch),
                &ws.h_drop.slice(..nh),
                &p(4),
                &p(5),
                batch,
                spec.hidden,
            )?;
            gpu.sigmoid_range_forward(
                &mut ws.pred.slice_mut(..),
                &ws.x.as_view(),
                lo - 0.5,
                hi + 0.5,
                batch,
            )
        }
    }
}

/// The model's backward pass on the device, mirroring
/// [`ModelSpec::backward`]; accumulates into `grads`.
#[allow(clippy::too_many_arguments)]
fn backward(
    gpu: &Gpu,
    spec: &ModelSpec,
    params: &CudaSlice<f32>,
    grads: &mut CudaSlice<f32>,
    ws: &mut DeviceWorkspace,
    users: &CudaView<'_, u32>,
    items: &CudaView<'_, u32>,
    dropout: Option<DropoutKey>,
    det: bool,
) -> Result<()> {
    let (batch, f) = (users.len(), spec.factors);
    let (lo, hi) = spec.y_range;
    let t = spec.tensors();
    // Atomics, or (with --deterministic) the CPU's order without them.
    let scatter =
        |grad: &mut CudaViewMut<'_, f32>, drows: &CudaView<'_, f32>, idx: &CudaView<'_, u32>, f: usize| {
            if det {
                gpu.embedding_scatter_add_det(grad, drows, idx, f, f, 0)
            } else {
                gpu.embedding_scatter_add(grad, drows, idx, f)
            }
        };
    let mut g = grads.as_view_mut();
    let (mut gu, mut rest) = g.split_at_mut(t[0].len());
    let (mut gm, mut rest) = rest.split_at_mut(t[1].len());
    match spec.kind {
        ModelKind::Dot | ModelKind::DotBias => {
            // dout is what flows into the dot product: dpred for dot, dx for dotbias.
            let dout = if spec.kind == ModelKind::Dot {
                &ws.dpred
            } else {
                let (mut gub, mut gmb) = rest.split_at_mut(t[2].len());
                gpu.sigmoid_range_backward(
                    &mut ws.dx.slice_mut(..),
                    &ws.dpred.as_view(),
                    &ws.x.as_view(),
                    lo,
                    hi,
                    batch,
                )?;
                scatter(&mut gub, &ws.dx.as_view(), users, 1)?;
                scatter(&mut gmb, &ws.dx.as_view(), items, 1)?;
                &ws.dx
            };
            gpu.dot_backward(
                &mut ws.du.slice_mut(..),
                &mut ws.dm.slice_mut(..),
                &dout.as_view(),
                &ws.u.as_view(),
                &ws.m.as_view(),
                batch,
                f,
            )?;
            scatter(&mut gu, &ws.du.as_view(), users, f)?;
            scatter(&mut gm, &ws.dm.as_view(), items, f)?;
        }
        ModelKind::Svd => return Err(no_svd()),
        ModelKind::Net => {
            let (h, nc, nh) = (spec.hidden, batch * 2 * f, batch * spec.hidden);
            let (mut gw1, mut rest) = rest.split_at_mut(t[2].len());
            let (mut gb1, mut rest) = rest.split_at_mut(t[3].len());
            let (mut gw2, mut gb2) = rest.split_at_mut(t[4].len());
            let (w1, w2) = (params.slice(t[2].range()), params.slice(t[4].range()));
            gpu.sigmoid_range_backward(
                &mut ws.dx.slice_mut(..),
                &ws.dpred.as_view(),
                &ws.x.as_view(),
                lo - 0.5,
                hi + 0.5,
                batch,
            )?;
            gpu.linear_backward_weight(&mut gw2, &ws.dx.slice(..batch), &ws.h_drop.slice(..nh), batch, h)?;
            gpu.linear_backward_bias(&mut gb2, &ws.dx.slice(..batch), batch)?;
            gpu.linear_backward_input(&mut ws.dh.slice_mut(..nh), &ws.dx.slice(..batch), &w2, batch, h)?;
            if let Some(k) = dropout {
                gpu.dropout_backward(
                    &mut ws.dh.slice_mut(..nh),
                    spec.dropout.1,
                    k.seed,
                    k.step,
                    ModelSpec::DROP2,
                )?;
            }
            gpu.relu_backward(
                &mut ws.dh_pre.slice_mut(..nh),
                &ws.dh.slice(..nh),
                &ws.h.slice(..nh),
            )?;
            gpu.linear_backward_weight(
                &mut gw1,
                &ws.dh_pre.slice(..nh),
                &ws.cat.slice(..nc),
                batch,
                2 * f,
            )?;
            gpu.linear_backward_bias(&mut gb1, &ws.dh_pre.slice(..nh), batch)?;
            gpu.linear_backward_input(
                &mut ws.dcat.slice_mut(..nc),
                &ws.dh_pre.slice(..nh),
                &w1,
                batch,
                2 * f,
            )?;
            if let Some(k) = dropout {
                gpu.dropout_backward(
                    &mut ws.dcat.slice_mut(..nc),
                    spec.dropout.0,
                    k.seed,
                    k.step,
                    ModelSpec::DROP1,
                )?;
            }
            if det {
                gpu.embedding_scatter_add_det(&mut gu, &ws.dcat.slice(..nc), users, f, 2 * f, 0)?;
                gpu.embedding_scatter_add_det(&mut gm, &ws.dcat.slice(..nc), items, f, 2 * f, f)?;
            } else {
                gpu.concat_scatter_add(&mut gu, &mut gm, &ws.dcat.slice(..nc), users, items, f)?;
            }
        }
    }
    Ok(())
}

/// Rows of a ratings table on the device.
pub(crate) struct DeviceExamples {
    pub(crate) users: CudaSlice<u32>,
    pub(crate) items: CudaSlice<u32>,
    pub(crate) ratings: CudaSlice<f32>,
    pub(crate) len: usize,
}

impl DeviceExamples {
    pub(crate) fn upload(gpu: &Gpu, e: &crate::data::Examples) -> Result<Self> {
        Ok(DeviceExamples {
            users: gpu.upload(&e.users)?,
            items: gpu.upload(&e.items)?,
            ratings: gpu.upload(&e.ratings)?,
            len: e.len(),
        })
    }

    /// Rows `order` of `from`, in that order, into the first `order.len()`
    /// rows of `self`: the order uploaded into `order_buf`, the rows gathered
    /// on the device.
    pub(crate) fn stage(
        &mut self,
        gpu: &Gpu,
        from: &DeviceExamples,
        order: &[u32],
        order_buf: &mut CudaSlice<u32>,
    ) -> Result<()> {
        let n = order.len();
        gpu.stream
            .memcpy_htod(order, &mut order_buf.slice_mut(..n))
            .map_err(|e| cuda_err("upload order", e))?;
        gpu.gather_rows(
            &mut self.users.slice_mut(..n),
            &mut self.items.slice_mut(..n),
            &mut self.ratings.slice_mut(..n),
            &from.users.as_view(),
            &from.items.as_view(),
            &from.ratings.as_view(),
            &order_buf.slice(..n),
        )
    }

    pub(crate) fn zeros(gpu: &Gpu, len: usize) -> Result<Self> {
        Ok(DeviceExamples {
            users: gpu.zeros(len)?,
            items: gpu.zeros(len)?,
            ratings: gpu.zeros(len)?,
            len,
        })
    }
}

/// Trains on an NVIDIA GPU. Data, parameters and optimizer state live on the
/// device for the whole run.
pub struct CudaBackend {
    pub(super) gpu: Arc<Gpu>,
    pub(super) spec: ModelSpec,
    pub(super) optimizer: Optimizer,
    pub(super) wd: f32,
    /// Optimizer steps taken (Adam's t).
    pub(super) t: u64,
    /// Keys the dropout masks.
    pub(super) seed: u64,
    pub(super) train: DeviceExamples,
    /// The training rows in this epoch's order.
    pub(super) epoch: DeviceExamples,
    pub(super) order: CudaSlice<u32>,
    valid: DeviceExamples,
    pub(super) params: CudaSlice<f32>,
    pub(super) grads: CudaSlice<f32>,
    /// The optimizer's state buffers (SGD's momentum, Adam's moments, …).
    pub(super) state: Vec<CudaSlice<f32>>,
    ws: DeviceWorkspace,
    pub(super) losses: CudaSlice<f32>,
    mse: CudaSlice<f64>,
    /// Fused path: two kernels per step, the epoch replayed as a CUDA graph.
    fused: bool,
    /// No atomics anywhere: the same bits on every run.
    deterministic: bool,
    /// Fused path: the epoch's per-step optimizer scalars (see `kernels/fused.cu`).
    pub(super) sched: CudaSlice<f32>,
    /// Fused path: the captured epoch, with the (rows, batch size) it was captured for.
    pub(super) graph: Option<(CudaGraph, usize, usize)>,
    /// Lazy path (with `fused`): SGD epochs at a constant rate as one kernel.
    pub(super) one_kernel: bool,
    /// Lazy path: per user, then per item, the step after the row's last update.
    pub(super) last: CudaSlice<i32>,
    /// Lazy path: the powers of M for the epoch's rate and steps.
    pub(super) powers: Option<DevicePowers>,
    /// The Adam epoch's buffers, made on its first use.
    pub(super) adam_epoch: Option<AdamEpochBuffers>,
    /// Why the one-kernel Adam epoch was turned off, once it was.
    pub(super) coop_refusal: Option<CoopRefusal>,
    /// The paths the epochs took, each (with its reason) once, in the order first taken.
    paths: Vec<PathChoice>,
    /// The run's options, as given.
    opts: GpuOptions,
    /// Blocks the Adam epoch's grid takes past what the GPU holds at once:
    /// 0, but in the test of the fallback.
    pub(super) coop_extra_blocks: u32,
    /// One-kernel validation: a partial sum per block, and the blocks-done counter.
    val_partial: CudaSlice<f64>,
    val_done: CudaSlice<u32>,
}

impl CudaBackend {
    /// Uploads everything `init` holds to `gpu`. With `opts.fused`, dot and
    /// dotbias train through the fused kernels replayed as one CUDA graph per
    /// epoch, and with `opts.one_kernel` (and the net too) one kernel an
    /// epoch where the batch fits one block; any run with
    /// `opts.deterministic` goes op by op.
    pub fn new(gpu: Arc<Gpu>, init: BackendInit<'_>, optimizer: Optimizer, opts: GpuOptions) -> Result<Self> {
        if !init.spec.kind.batched() {
            return Err(no_svd());
        }
        let plan = MemoryPlan::dense(
            init.spec,
            optimizer,
            init.train.len(),
            init.valid.len(),
            EVAL_CHUNK,
            opts.fused && opts.one_kernel && !opts.deterministic,
        );
        gpu.ensure_fits(&plan, "try a smaller --factors, or --device cpu")?;
        let n = init.params.len();
        let cap = EVAL_CHUNK;
        Ok(CudaBackend {
            spec: init.spec.clone(),
            optimizer,
            wd: init.wd,
            t: 0,
            seed: init.seed,
            train: DeviceExamples::upload(&gpu, init.train)?,
            epoch: DeviceExamples::zeros(&gpu, init.train.len())?,
            order: gpu.zeros(init.train.len())?,
            valid: DeviceExamples::upload(&gpu, init.valid)?,
            params: gpu.upload(&init.params)?,
            grads: gpu.zeros(n)?,
            state: gpu.optimizer_state(optimizer, n)?,
            ws: DeviceWorkspace::new(&gpu, cap, init.spec)?,
            losses: gpu.zeros(1)?,
            mse: gpu.zeros(1)?,
            fused: opts.fused && !opts.deterministic,
            deterministic: opts.deterministic,
            sched: gpu.zeros(1)?,
            graph: None,
            one_kernel: opts.one_kernel,
            last: gpu.zeros(1)?,
            powers: None,
            adam_epoch: None,
            coop_refusal: None,
            paths: Vec::new(),
            opts,
            coop_extra_blocks: 0,
            val_partial: gpu.zeros(1)?,
            val_done: gpu.zeros(1)?,
            gpu,
        })
    }

    /// The per-step schedule and loss buffers sized for an epoch of `steps`
    /// steps. Growing them moves them, so a captured epoch graph, which
    /// holds their old addresses, is dropped: every path that resizes them
    /// goes through here.
    pub(super) fn epoch_buffers(&mut self, steps: usize) -> Result<()> {
        if self.sched.len() < 2 * steps || self.losses.len() < steps {
            self.graph = None;
            self.sched = self.gpu.zeros(2 * steps)?;
            self.losses = self.gpu.zeros(steps)?;
        }
        Ok(())
    }

    /// The per-step optimizer scalars of an epoch at rates `lrs` (two a
    /// step, see [`crate::optim::UpdateKernels`]), uploaded to `sched` (sized by
    /// [`CudaBackend::epoch_buffers`] first); advances Adam's `t` by the
    /// epoch's steps.
    pub(super) fn upload_schedule(&mut self, lrs: &[f32]) -> Result<()> {
        let steps = lrs.len();
        let mut sched = vec![0f32; 2 * steps];
        for (s, &lr) in lrs.iter().enumerate() {
            let t = self.t + s as u64 + 1;
            sched[2 * s..2 * s + 2].copy_from_slice(&self.optimizer.step_scalars(lr, t));
        }
        self.t += steps as u64;
        self.epoch_buffers(steps)?;
        self.gpu
            .stream
            .memcpy_htod(&sched[..], &mut self.sched)
            .map_err(|e| cuda_err("upload schedule", e))
    }

    /// Uploads the epoch's order (once) and permutes the training rows into
    /// `epoch` on the device.
    pub(super) fn stage_rows(&mut self, order: &[u32]) -> Result<()> {
        self.epoch.stage(&self.gpu, &self.train, order, &mut self.order)
    }

    /// The path an epoch at batch `bs` and rates `lrs` takes ([`path::choose`]).
    fn choose_path(&self, bs: usize, lrs: &[f32]) -> PathChoice {
        path::choose(&PathInputs {
            model: self.spec.kind.class_name(),
            kernels: self.spec.kind.gpu_kernels(),
            optimizer: self.optimizer,
            opts: self.opts,
            batch: bs,
            constant_lr: crate::optim::lazy_sgd::constant_lr(lrs).is_some(),
            lazy_fits: lazy_fits(&self.spec, bs),
            adam_fits: adam_epoch_fits(&self.spec, bs),
            adam_refused: self.coop_refusal.map(CoopRefusal::reason),
        })
    }

    /// One optimizer step over all parameters at learning rate `lr`.
    fn optimizer_step(&mut self, lr: f32) -> Result<()> {
        self.t += 1;
        let step = Step::Plain { lr, t: self.t };
        let (p, g) = (&mut self.params, &mut self.grads);
        update(&self.gpu, self.optimizer, self.wd, p, g, &mut self.state, step)
    }
}

impl Backend for CudaBackend {
    fn device(&self) -> String {
        format!("cuda: {} ({})", self.gpu.description, path::describe(&self.paths))
    }

    fn paths(&self) -> Vec<PathTaken> {
        self.paths
            .iter()
            .map(|p| PathTaken {
                name: p.path.name(),
                reason: p.reason.clone(),
            })
            .collect()
    }

    fn train_epoch(
        &mut self,
        order: &[u32],
        batch_size: usize,
        lrs: &[f32],
        first_step: u64,
        progress: &mut dyn FnMut(usize, f32) -> ControlFlow<()>,
    ) -> Result<Vec<f32>> {
        let n = order.len();
        if n > self.train.len {
            return Err(Error::invalid(
                "order",
                format!("{n} rows ordered, {} training rows", self.train.len),
            ));
        }
        let steps = crate::backend::epoch_steps(n, batch_size, lrs)?;
        // The path, decided in path.rs; the Adam epoch may be refused by the
        // driver at its first launch, and then the choice is made again.
        let mut choice = self.choose_path(batch_size, lrs);
        let mut fused = None;
        if choice.path == DensePath::LazySgd {
            let (lr, momentum) = self.lazy_epoch(lrs)?;
            fused = Some(self.train_epoch_lazy(order, batch_size, lr, momentum)?);
        } else if choice.path == DensePath::AdamEpoch {
            fused = self.train_epoch_adam(order, batch_size, lrs, first_step)?;
            if fused.is_none() {
                choice = self.choose_path(batch_size, lrs);
            }
        }
        if choice.path == DensePath::Graph {
            fused = Some(self.train_epoch_fused(order, batch_size, lrs)?);
        }
        if !self.paths.contains(&choice) {
            self.paths.push(choice);
        }
        if let Some(losses) = fused {
            let _ = progress(losses.len(), losses.last().copied().unwrap_or(f32::NAN));
            return Ok(losses);
        }
        // A batch larger than the data is the data: size the workspace for that.
        let batch_size = batch_size.min(n.max(1));
        if batch_size > self.ws.cap {
            self.ws = DeviceWorkspace::new(&self.gpu, batch_size, &self.spec)?;
        }
        self.epoch_buffers(steps)?;
        // The epoch's order goes up once; the rows are permuted on the device.
        self.stage_rows(order)?;
        for (s, &lr) in lrs.iter().enumerate() {
            let rows = s * batch_size..((s + 1) * batch_size).min(n);
            let batch = rows.len();
            let (users, items) = (
                self.epoch.users.slice(rows.clone()),
                self.epoch.items.slice(rows.clone()),
            );
            let dropout = self.spec.kind.has_dropout().then_some(DropoutKey {
                seed: self.seed,
                step: first_step + s as u64,
            });
            forward(
                &self.gpu,
                &self.spec,
                &self.params,
                &mut self.ws,
                &users,
                &items,
                dropout,
            )?;
            self.gpu.mse_loss_grad(
                &mut self.ws.dpred.slice_mut(..batch),
                &mut self.losses.slice_mut(s..s + 1),
                &self.ws.pred.slice(..batch),
                &self.epoch.ratings.slice(rows),
            )?;
            backward(
                &self.gpu,
                &self.spec,
                &self.params,
                &mut self.grads,
                &mut self.ws,
                &users,
                &items,
                dropout,
                self.deterministic,
            )?;
            self.optimizer_step(lr)?;
        }
        // The one read-back of the epoch.
        let losses = self.gpu.download(&self.losses.slice(..steps))?;
        let _ = progress(steps, losses.last().copied().unwrap_or(f32::NAN));
        Ok(losses)
    }

    fn validate(&mut self) -> Result<f64> {
        self.gpu
            .stream
            .memset_zeros(&mut self.mse)
            .map_err(|e| cuda_err("memset", e))?;
        let v = &self.valid;
        if self.fused && self.spec.kind.gpu_kernels().fused_step {
            // One kernel and a device-side reduction (kernels/fused.cu).
            if self.val_partial.len() < Gpu::VALIDATE_BLOCKS {
                self.val_partial = self.gpu.zeros(Gpu::VALIDATE_BLOCKS)?;
            }
            self.gpu.mf_validate(
                &mut self.mse.as_view_mut(),
                &mut self.val_partial.as_view_mut(),
                &mut self.val_done.as_view_mut(),
                &self.params.as_view(),
                (&v.users.as_view(), &v.items.as_view(), &v.ratings.as_view()),
                &self.spec,
            )?;
        } else {
            for start in (0..v.len).step_by(self.ws.cap) {
                let rows = start..(start + self.ws.cap).min(v.len);
                let batch = rows.len();
                forward(
                    &self.gpu,
                    &self.spec,
                    &self.params,
                    &mut self.ws,
                    &v.users.slice(rows.clone()),
                    &v.items.slice(rows.clone()),
                    None,
                )?;
                self.gpu.mse_sum(
                    &mut self.mse.slice_mut(..),
                    &self.ws.pred.slice(..batch),
                    &v.ratings.slice(rows),
                    self.deterministic,
                )?;
            }
        }
        let sum = self.gpu.download(&self.mse.slice(..1))?;
        Ok(sum[0] / v.len as f64)
    }

    fn params(&mut self) -> Result<Vec<f32>> {
        self.gpu.download(&self.params.as_view())
    }
}
