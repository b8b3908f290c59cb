//! [`CudaBackend`]: the dense models (dot, dotbias, net) op by op, with one
//! kernel per op of the CPU's forward and backward passes and the
//! optimizer's update; and the [`Backend`] impl, which runs each epoch on the
//! path `path.rs` chooses, handing it to that path's own file (`graph.rs`,
//! `lazy.rs`, `adam_epoch.rs`) unless it is op by op.

use std::ops::ControlFlow;

use std::sync::Arc;

use cudarc::driver::{CudaSlice, CudaView, CudaViewMut};

use crate::backend::cuda::adam_epoch::{adam_epoch_fits, AdamEpochPath, CoopRefusal};
use crate::backend::cuda::graph::GraphPath;
use crate::backend::cuda::lazy::{lazy_fits, LazyPath};
use crate::backend::cuda::memory::{MemoryPlan, EVAL_CHUNK};
use crate::backend::cuda::optim::{update, Step};
use crate::backend::cuda::path::{self, DensePath, PathChoice, PathInputs};
use crate::backend::cuda::shared::{DeviceExamples, Epoch, EpochPath, Shared};
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

/// The device's tensors of one op-by-op step, read back (what `mfcuda
/// train --trace` shows beside the CPU's): the gathered rows, the score
/// before the output, the prediction, the loss gradient and the rows'
/// gradients, a row a rating; and the batch's mean loss.
pub struct StepTensors {
    /// User rows (B,F).
    pub u: Vec<f32>,
    /// Movie rows (B,F).
    pub m: Vec<f32>,
    /// The score before the sigmoid range (B); zeros for dot.
    pub x: Vec<f32>,
    /// Predictions (B).
    pub pred: Vec<f32>,
    /// dL/dpred (B).
    pub dpred: Vec<f32>,
    /// dL/du (B,F).
    pub du: Vec<f32>,
    /// dL/dm (B,F).
    pub dm: Vec<f32>,
    /// The batch's mean loss.
    pub loss: f32,
}

/// One step of `spec` on (users, items, targets), without dropout, by the
/// same forward and backward as op-by-op training, its tensors read back;
/// nothing moves. For dot and dotbias, whose rows these are.
pub fn step_tensors(
    gpu: &Gpu,
    spec: &ModelSpec,
    params: &[f32],
    users: &[u32],
    items: &[u32],
    targets: &[f32],
) -> Result<StepTensors> {
    let (b, f) = (users.len(), spec.factors);
    let mut ws = DeviceWorkspace::new(gpu, b, spec)?;
    let (users, items, targets) = (gpu.upload(users)?, gpu.upload(items)?, gpu.upload(targets)?);
    let (p, mut grads, mut loss) = (
        gpu.upload(params)?,
        gpu.zeros(params.len())?,
        gpu.zeros::<f32>(1)?,
    );
    let (users, items) = (users.as_view(), items.as_view());
    forward(gpu, spec, &p, &mut ws, &users, &items, None)?;
    gpu.mse_loss_grad(
        &mut ws.dpred.slice_mut(..b),
        &mut loss.as_view_mut(),
        &ws.pred.slice(..b),
        &targets.as_view(),
    )?;
    backward(gpu, spec, &p, &mut grads, &mut ws, &users, &items, None, false)?;
    let dl = |d: &CudaSlice<f32>, n: usize| gpu.download(&d.slice(..n));
    Ok(StepTensors {
        u: dl(&ws.u, b * f)?,
        m: dl(&ws.m, b * f)?,
        x: dl(&ws.x, b)?,
        pred: dl(&ws.pred, b)?,
        dpred: dl(&ws.dpred, b)?,
        du: dl(&ws.du, b * f)?,
        dm: dl(&ws.dm, b * f)?,
        loss: dl(&loss, 1)?
            .first()
            .copied()
            .ok_or_else(|| Error::invalid("trace", "no loss read back"))?,
    })
}

/// Trains on an NVIDIA GPU. Data, parameters and optimizer state live on the
/// device for the whole run (`shared.rs`); each epoch runs on the path
/// [`path::choose`] picks: op by op here, or one of the paths with their
/// own state (the graph, lazy SGD, the Adam epoch).
pub struct CudaBackend {
    s: Shared,
    valid: DeviceExamples,
    /// Op by op: the per-batch activations.
    ws: DeviceWorkspace,
    mse: CudaSlice<f64>,
    /// The run's options, as given.
    opts: GpuOptions,
    graph: GraphPath,
    lazy: LazyPath,
    adam: AdamEpochPath,
    /// The paths the epochs took, each (with its reason) once, in the order first taken.
    paths: Vec<PathChoice>,
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
        Ok(CudaBackend {
            valid: DeviceExamples::upload(&gpu, init.valid)?,
            ws: DeviceWorkspace::new(&gpu, EVAL_CHUNK, init.spec)?,
            mse: gpu.zeros(1)?,
            opts,
            graph: GraphPath::default(),
            lazy: LazyPath::default(),
            adam: AdamEpochPath::default(),
            paths: Vec::new(),
            val_partial: gpu.zeros(1)?,
            val_done: gpu.zeros(1)?,
            s: Shared {
                spec: init.spec.clone(),
                optimizer,
                wd: init.wd,
                t: 0,
                seed: init.seed,
                train: DeviceExamples::upload(&gpu, init.train)?,
                epoch: DeviceExamples::zeros(&gpu, init.train.len())?,
                order: gpu.zeros(init.train.len())?,
                params: gpu.upload(&init.params)?,
                grads: gpu.zeros(n)?,
                state: gpu.optimizer_state(optimizer, n)?,
                losses: gpu.zeros(1)?,
                sched: gpu.zeros(1)?,
                moved: 0,
                gpu,
            },
        })
    }

    /// Launches the Adam epoch's cooperative grid with `extra` blocks more
    /// than the GPU holds at once, which the driver must refuse: how
    /// `tests/gpu.rs` checks the fallback. Takes effect at the next epoch's
    /// grid (the first, when called before training).
    pub fn oversize_cooperative_grid(&mut self, extra: u32) {
        self.adam.oversize(extra);
    }

    /// The path an epoch at batch `bs` and rates `lrs` takes ([`path::choose`]).
    fn choose_path(&self, bs: usize, lrs: &[f32]) -> PathChoice {
        let spec = &self.s.spec;
        path::choose(&PathInputs {
            model: spec.kind.class_name(),
            kernels: spec.kind.gpu_kernels(),
            optimizer: self.s.optimizer,
            opts: self.opts,
            batch: bs,
            constant_lr: crate::optim::lazy_sgd::constant_lr(lrs).is_some(),
            lazy_fits: lazy_fits(spec, bs),
            adam_fits: adam_epoch_fits(spec, bs),
            adam_refused: self.adam.refused().map(CoopRefusal::reason),
        })
    }

    /// One optimizer step over all parameters at learning rate `lr`.
    fn optimizer_step(&mut self, lr: f32) -> Result<()> {
        let s = &mut self.s;
        s.t += 1;
        let step = Step::Plain { lr, t: s.t };
        update(
            &s.gpu,
            s.optimizer,
            s.wd,
            &mut s.params,
            &mut s.grads,
            &mut s.state,
            step,
        )
    }
}

impl Backend for CudaBackend {
    fn device(&self) -> String {
        format!(
            "cuda: {} ({})",
            self.s.gpu.description,
            path::describe(&self.paths)
        )
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
        if n > self.s.train.len {
            return Err(Error::invalid(
                "order",
                format!("{n} rows ordered, {} training rows", self.s.train.len),
            ));
        }
        let steps = crate::backend::epoch_steps(n, batch_size, lrs)?;
        // The path, decided in path.rs; the Adam epoch may be refused by the
        // driver at its first launch, and then the choice is made again.
        let mut choice = self.choose_path(batch_size, lrs);
        let mut fused = None;
        for _ in 0..2 {
            let path: &mut dyn EpochPath = match choice.path {
                DensePath::LazySgd => &mut self.lazy,
                DensePath::AdamEpoch => &mut self.adam,
                DensePath::Graph => &mut self.graph,
                DensePath::OpByOp => break,
            };
            let e = Epoch {
                order,
                bs: batch_size,
                lrs,
                first_step,
            };
            fused = path.train_epoch(&mut self.s, e)?;
            if fused.is_some() {
                break;
            }
            // The path could not run after all (the driver refused the Adam
            // epoch): nothing moved, and the choice is made again, once.
            choice = self.choose_path(batch_size, lrs);
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
            self.ws = DeviceWorkspace::new(&self.s.gpu, batch_size, &self.s.spec)?;
        }
        self.s.epoch_buffers(steps)?;
        // The epoch's order goes up once; the rows are permuted on the device.
        self.s.stage_rows(order)?;
        for (s, &lr) in lrs.iter().enumerate() {
            let rows = s * batch_size..((s + 1) * batch_size).min(n);
            let batch = rows.len();
            let (users, items) = (
                self.s.epoch.users.slice(rows.clone()),
                self.s.epoch.items.slice(rows.clone()),
            );
            let dropout = self.s.spec.kind.has_dropout().then_some(DropoutKey {
                seed: self.s.seed,
                step: first_step + s as u64,
            });
            forward(
                &self.s.gpu,
                &self.s.spec,
                &self.s.params,
                &mut self.ws,
                &users,
                &items,
                dropout,
            )?;
            self.s.gpu.mse_loss_grad(
                &mut self.ws.dpred.slice_mut(..batch),
                &mut self.s.losses.slice_mut(s..s + 1),
                &self.ws.pred.slice(..batch),
                &self.s.epoch.ratings.slice(rows),
            )?;
            backward(
                &self.s.gpu,
                &self.s.spec,
                &self.s.params,
                &mut self.s.grads,
                &mut self.ws,
                &users,
                &items,
                dropout,
                self.opts.deterministic,
            )?;
            self.optimizer_step(lr)?;
        }
        // The one read-back of the epoch.
        let losses = self.s.gpu.download(&self.s.losses.slice(..steps))?;
        let _ = progress(steps, losses.last().copied().unwrap_or(f32::NAN));
        Ok(losses)
    }

    fn validate(&mut self) -> Result<f64> {
        self.s
            .gpu
            .stream
            .memset_zeros(&mut self.mse)
            .map_err(|e| cuda_err("memset", e))?;
        let v = &self.valid;
        if self.opts.fused && !self.opts.deterministic && self.s.spec.kind.gpu_kernels().fused_step {
            // One kernel and a device-side reduction (kernels/fused.cu).
            if self.val_partial.len() < Gpu::VALIDATE_BLOCKS {
                self.val_partial = self.s.gpu.zeros(Gpu::VALIDATE_BLOCKS)?;
            }
            self.s.gpu.mf_validate(
                &mut self.mse.as_view_mut(),
                &mut self.val_partial.as_view_mut(),
                &mut self.val_done.as_view_mut(),
                &self.s.params.as_view(),
                (&v.users.as_view(), &v.items.as_view(), &v.ratings.as_view()),
                &self.s.spec,
            )?;
        } else {
            for start in (0..v.len).step_by(self.ws.cap) {
                let rows = start..(start + self.ws.cap).min(v.len);
                let batch = rows.len();
                forward(
                    &self.s.gpu,
                    &self.s.spec,
                    &self.s.params,
                    &mut self.ws,
                    &v.users.slice(rows.clone()),
                    &v.items.slice(rows.clone()),
                    None,
                )?;
                self.s.gpu.mse_sum(
                    &mut self.mse.slice_mut(..),
                    &self.ws.pred.slice(..batch),
                    &v.ratings.slice(rows),
                    self.opts.deterministic,
                )?;
            }
        }
        let sum = self.s.gpu.download(&self.mse.slice(..1))?;
        Ok(sum[0] / v.len as f64)
    }

    fn params(&mut self) -> Result<Vec<f32>> {
        self.s.gpu.download(&self.s.params.as_view())
    }
}
