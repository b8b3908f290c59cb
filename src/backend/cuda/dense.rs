//! [`CudaBackend`]: the dense models (dot, dotbias, net) op by op, with one
//! kernel per op of the CPU's forward and backward passes and the
//! optimizer's update; and the [`Backend`] impl, which runs each epoch on the
//! path `path.rs` chooses, handing it to that path's own file (`graph.rs`,
//! `lazy.rs`, `adam_epoch.rs`) unless it is op by op.

use std::ops::ControlFlow;

use std::sync::Arc;

use cudarc::driver::CudaSlice;

use crate::backend::cuda::adam_epoch::AdamEpochPath;
use crate::backend::cuda::graph::GraphPath;
use crate::backend::cuda::kernels::adam_epoch::{adam_epoch_fits, CoopRefusal};
use crate::backend::cuda::kernels::lazy::lazy_fits;
use crate::backend::cuda::kernels::optim::{update, Step};
use crate::backend::cuda::lazy::LazyPath;
use crate::backend::cuda::memory::{MemoryPlan, EVAL_CHUNK};
use crate::backend::cuda::path::{self, DensePath, PathChoice, PathInputs};
use crate::backend::cuda::seam::{no_svd, OpByOp};
use crate::backend::cuda::shared::{DeviceExamples, Epoch, EpochPath, Shared};
use crate::backend::cuda::{cuda_err, Gpu};
use crate::backend::{Backend, BackendInit, GpuOptions, PathTaken};
use crate::error::{Error, Result};
use crate::model::{Act, DropoutKey, ModelSpec};
use crate::optim::Optimizer;

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
    let mut op = OpByOp::new(gpu, spec, b, false)?;
    let (users, items, targets) = (gpu.upload(users)?, gpu.upload(items)?, gpu.upload(targets)?);
    let (p, mut grads, mut loss) = (
        gpu.upload(params)?,
        gpu.zeros(params.len())?,
        gpu.zeros::<f32>(1)?,
    );
    let (users, items) = (users.as_view(), items.as_view());
    op.forward(gpu, spec, &p, (&users, &items), None)?;
    op.mse_loss_grad(gpu, &mut loss.as_view_mut(), &targets.as_view())?;
    op.backward(gpu, spec, (&p, &mut grads), (&users, &items), None)?;
    let dl = |a: Act, n: usize| gpu.download(&op.ws.buf(a).slice(..n));
    Ok(StepTensors {
        u: dl(Act::U, b * f)?,
        m: dl(Act::M, b * f)?,
        x: dl(Act::X, b)?,
        pred: dl(Act::Pred, b)?,
        dpred: dl(Act::DPred, b)?,
        du: dl(Act::Du, b * f)?,
        dm: dl(Act::Dm, b * f)?,
        loss: gpu
            .download(&loss.slice(..1))?
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
    /// Op by op: the batch's activations and the tensors' ranges.
    op: OpByOp,
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
            path::may_take_one_kernel(opts),
        );
        gpu.ensure_fits(&plan, "try a smaller --factors, or --device cpu")?;
        let n = init.params.len();
        Ok(CudaBackend {
            valid: DeviceExamples::upload(&gpu, init.valid)?,
            op: OpByOp::new(&gpu, init.spec, EVAL_CHUNK, opts.deterministic)?,
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
        self.op.fit(&self.s.gpu, &self.s.spec, batch_size)?;
        self.s.epoch_buffers(steps)?;
        // The epoch's order goes up once; the rows are permuted on the device.
        self.s.stage_rows(order)?;
        for (s, &lr) in lrs.iter().enumerate() {
            let rows = s * batch_size..((s + 1) * batch_size).min(n);
            let (users, items) = (
                self.s.epoch.users.slice(rows.clone()),
                self.s.epoch.items.slice(rows.clone()),
            );
            let dropout = self.s.spec.kind.has_dropout().then_some(DropoutKey {
                seed: self.s.seed,
                step: first_step + s as u64,
            });
            let (gpu, spec, rows_uv) = (&self.s.gpu, &self.s.spec, (&users, &items));
            self.op.forward(gpu, spec, &self.s.params, rows_uv, dropout)?;
            let (loss, targets) = (
                &mut self.s.losses.slice_mut(s..s + 1),
                &self.s.epoch.ratings.slice(rows),
            );
            self.op.mse_loss_grad(gpu, loss, targets)?;
            let tensors = (&self.s.params, &mut self.s.grads);
            self.op.backward(gpu, spec, tensors, rows_uv, dropout)?;
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
        if path::fused_validation(self.s.spec.kind.gpu_kernels(), self.opts) {
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
            for start in (0..v.len).step_by(self.op.ws.cap) {
                let rows = start..(start + self.op.ws.cap).min(v.len);
                let batch = rows.len();
                let (users, items) = (v.users.slice(rows.clone()), v.items.slice(rows.clone()));
                let gpu = &self.s.gpu;
                self.op
                    .forward(gpu, &self.s.spec, &self.s.params, (&users, &items), None)?;
                gpu.mse_sum(
                    &mut self.mse.slice_mut(..),
                    &self.op.ws.buf(Act::Pred).slice(..batch),
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
