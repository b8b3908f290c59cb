//! What every dense execution path on the GPU shares ([`Shared`]): the
//! device, the model, the training rows, the parameters, the optimizer and
//! its state, and the per-epoch schedule and losses; and [`EpochPath`], the
//! small trait each one-kernel or graph path implements over it. The paths
//! (`graph.rs`, `lazy.rs`, `adam_epoch.rs`) keep their own state; the
//! backend (`dense.rs`) holds this, the paths, and what validation needs.

use std::sync::Arc;

use cudarc::driver::{CudaSlice, CudaView};

use crate::backend::cuda::{cuda_err, Gpu};
use crate::error::Result;
use crate::model::ModelSpec;
use crate::optim::Optimizer;

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
        self.gather(gpu, from, &order_buf.slice(..n))
    }

    /// Rows `order` (already on the device) of `from`, in that order, into
    /// the first `order.len()` rows of `self`.
    pub(crate) fn gather(
        &mut self,
        gpu: &Gpu,
        from: &DeviceExamples,
        order: &CudaView<'_, u32>,
    ) -> Result<()> {
        let n = order.len();
        gpu.gather_rows(
            &mut self.users.slice_mut(..n),
            &mut self.items.slice_mut(..n),
            &mut self.ratings.slice_mut(..n),
            &from.users.as_view(),
            &from.items.as_view(),
            &from.ratings.as_view(),
            order,
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

/// What all the dense paths read and move.
pub(super) struct Shared {
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
    pub(super) params: CudaSlice<f32>,
    pub(super) grads: CudaSlice<f32>,
    /// The optimizer's state buffers (SGD's momentum, Adam's moments, …).
    pub(super) state: Vec<CudaSlice<f32>>,
    /// Each step's mean loss.
    pub(super) losses: CudaSlice<f32>,
    /// The epoch's per-step optimizer scalars.
    pub(super) sched: CudaSlice<f32>,
    /// How many times `sched` and `losses` have moved.
    pub(super) moved: u64,
}

impl Shared {
    /// The per-step schedule and loss buffers sized for an epoch of `steps`
    /// steps. Growing them moves them, which [`Shared::moved`] counts (a captured
    /// epoch graph holds their old addresses): every path that resizes them
    /// goes through here.
    pub(super) fn epoch_buffers(&mut self, steps: usize) -> Result<()> {
        if self.sched.len() < 2 * steps || self.losses.len() < steps {
            self.moved += 1;
            self.sched = self.gpu.zeros(2 * steps)?;
            self.losses = self.gpu.zeros(steps)?;
        }
        Ok(())
    }

    /// The per-step optimizer scalars of an epoch at rates `lrs` (two a
    /// step, see [`crate::optim::UpdateKernels`]), uploaded to `sched` (sized by
    /// [`Shared::epoch_buffers`] first); advances Adam's `t` by the
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
}

/// One epoch to run: the rows `order` in batches of `bs`, step `s` at rate
/// `lrs[s]`, the first step's global index `first_step` (it keys dropout).
#[derive(Clone, Copy)]
pub(super) struct Epoch<'a> {
    pub(super) order: &'a [u32],
    pub(super) bs: usize,
    pub(super) lrs: &'a [f32],
    pub(super) first_step: u64,
}

/// A way to run a whole dense epoch, with its own state.
pub(super) trait EpochPath {
    /// Runs epoch `e`; returns its losses, or `None` when the path finds it
    /// cannot run after all (and then nothing has moved).
    fn train_epoch(&mut self, s: &mut Shared, e: Epoch<'_>) -> Result<Option<Vec<f32>>>;
}
