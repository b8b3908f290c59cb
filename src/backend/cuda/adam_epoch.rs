//! [`CudaBackend`]'s Adam epoch for dot and dotbias: one cooperative launch
//! an epoch (`kernels/adam_epoch.cu`). Block 0 runs each batch; the others
//! run the dense Adam update one step behind it; a grid barrier ends each
//! step. The arithmetic is the dense epoch's, rescheduled: its CPU twin is
//! [`crate::backend::cpu::CpuBackend`]'s dense epoch under Adam.

use cudarc::driver::{CudaSlice, CudaView, CudaViewMut, LaunchConfig, PushKernelArg};

use crate::backend::cuda::device::{epoch_fits, epoch_row_width, epoch_shared_bytes, int, EPOCH_BLOCK};
use crate::backend::cuda::{cuda_err, CudaBackend, Gpu};
use crate::error::{Error, Result};
use crate::model::ModelSpec;
use crate::ops::AdamStep;
use crate::optim::{adam, Optimizer};

/// What the Adam epoch keeps on the device besides the parameters and
/// moments (see `kernels/adam_epoch.cu`).
pub struct AdamEpochBuffers {
    /// Two steps' loss gradients, P each: only the batch's rows are written.
    gbuf: CudaSlice<f32>,
    /// Per row, twice: the step + 1 whose batch claims it.
    claim: CudaSlice<i32>,
    /// Per row: the step + 1 whose gradient it last got.
    touch: CudaSlice<i32>,
    /// The grid barrier's count and generation.
    barrier: CudaSlice<u32>,
    /// Blocks of the cooperative grid: all resident at once.
    blocks: u32,
}

impl AdamEpochBuffers {
    /// Buffers for `spec`, and the grid: as many blocks as the GPU holds at
    /// once with the step's shared memory. `None` when that is fewer than
    /// two (one leads, the rest update).
    pub fn new(gpu: &Gpu, spec: &ModelSpec, bs: usize) -> Result<Option<AdamEpochBuffers>> {
        let Some(w) = epoch_row_width(spec) else {
            return Ok(None);
        };
        let per_sm = gpu
            .k
            .mf_epoch_adam
            .occupancy_max_active_blocks_per_multiprocessor(EPOCH_BLOCK, epoch_shared_bytes(bs, w), None)
            .map_err(|e| cuda_err("occupancy of mf_epoch_adam", e))?;
        let blocks = per_sm as usize * gpu.sm_count;
        if blocks < 2 {
            return Ok(None);
        }
        let rows = spec.n_users + spec.n_items;
        Ok(Some(AdamEpochBuffers {
            gbuf: gpu.zeros(2 * spec.n_params())?,
            claim: gpu.zeros(2 * rows)?,
            touch: gpu.zeros(rows)?,
            barrier: gpu.zeros(2)?,
            blocks: blocks.min(u32::MAX as usize) as u32,
        }))
    }
}

impl Gpu {
    /// A whole Adam epoch of dot or dotbias (see `kernels/adam_epoch.cu`):
    /// the epoch's rows `rows` (in order) in batches of `bs`, step s at
    /// `sched[2s]` (step size) and `sched[2s + 1]` (√(1 − β2ᵗ)). `bufs`'
    /// stamps must be zero. Writes each step's loss to `losses`.
    #[allow(clippy::too_many_arguments)]
    pub fn mf_epoch_adam(
        &self,
        params: &mut CudaViewMut<'_, f32>,
        moments: (&mut CudaViewMut<'_, f32>, &mut CudaViewMut<'_, f32>),
        bufs: &mut AdamEpochBuffers,
        losses: &mut CudaViewMut<'_, f32>,
        sched: &CudaView<'_, f32>,
        rows: (&CudaView<'_, u32>, &CudaView<'_, u32>, &CudaView<'_, f32>),
        bs: usize,
        spec: &ModelSpec,
        adam: AdamStep,
        wd: f32,
    ) -> Result<()> {
        let what = "mf_epoch_adam";
        let (users, items, ratings) = rows;
        let (m, v) = moments;
        let n = users.len();
        let steps = n.div_ceil(bs);
        let p = spec.n_params();
        let Some(w) = epoch_row_width(spec).filter(|&w| epoch_fits(bs, w)) else {
            return Err(Error::invalid(
                what,
                "this model and batch size do not fit one block",
            ));
        };
        assert!(items.len() == n && ratings.len() == n && losses.len() >= steps && sched.len() >= 2 * steps);
        assert!(params.len() == p && m.len() == p && v.len() == p && bufs.gbuf.len() >= 2 * p);
        let dims = [
            int(what, n)?,
            int(what, bs)?,
            int(what, spec.n_users)?,
            int(what, spec.n_items)?,
            int(what, spec.factors)?,
            int(what, w - spec.factors)?,
        ];
        // The kernel indexes 2·P gradients in 64 bits but rows in 32.
        int(what, p)?;
        let (lo, hi) = spec.y_range;
        let mut l = self.stream.launch_builder(&self.k.mf_epoch_adam);
        l.arg(params).arg(m).arg(v);
        l.arg(&mut bufs.gbuf)
            .arg(&mut bufs.claim)
            .arg(&mut bufs.touch)
            .arg(&mut bufs.barrier);
        l.arg(losses).arg(sched).arg(users).arg(items).arg(ratings);
        for d in &dims {
            l.arg(d);
        }
        l.arg(&lo).arg(&hi);
        l.arg(&adam.beta1)
            .arg(&adam.beta2)
            .arg(&adam.one_minus_beta1)
            .arg(&adam.one_minus_beta2)
            .arg(&adam.eps)
            .arg(&wd);
        let cfg = LaunchConfig {
            grid_dim: (bufs.blocks, 1, 1),
            block_dim: (EPOCH_BLOCK, 1, 1),
            shared_mem_bytes: epoch_shared_bytes(bs, w) as u32,
        };
        // SAFETY: matches mf_epoch_adam(float* x4, int* x2, uint*, float*, const float*,
        // const uint*, const uint*, const float*, int x6, float x8); params, m, v hold the
        // model's tensors in ModelSpec::tensors order, gbuf 2·P floats, claim 2·rows and
        // touch rows ints, barrier 2 uints; epoch_fits bounds the shared memory, sized by
        // the kernel's own formula. The launch is cooperative, so the driver refuses a
        // grid that cannot be resident at once, which the grid barrier needs; `blocks`
        // comes from the occupancy calculator for this block and shared memory.
        unsafe { l.launch_cooperative(cfg) }.map_err(|e| cuda_err(what, e))?;
        Ok(())
    }
}

impl CudaBackend {
    /// Whether this epoch runs as the one-kernel Adam epoch: the path is on,
    /// the optimizer is Adam, and the model and batch fit one block.
    pub(super) fn adam_epoch(&self, bs: usize) -> bool {
        self.one_kernel
            && matches!(self.optimizer, Optimizer::Adam { .. })
            && epoch_row_width(&self.spec).is_some_and(|w| epoch_fits(bs, w))
    }

    /// The Adam epoch: upload the order and the per-step scalars, zero the
    /// stamps, one cooperative launch, read the losses back. Falls back to
    /// the fused graph on a GPU too small for a grid of two blocks.
    pub(super) fn train_epoch_adam(&mut self, order: &[u32], bs: usize, lrs: &[f32]) -> Result<Vec<f32>> {
        let Optimizer::Adam { beta1, beta2, eps } = self.optimizer else {
            return Err(Error::invalid("adam epoch", "the optimizer is not Adam"));
        };
        if self.adam_epoch.is_none() {
            match AdamEpochBuffers::new(&self.gpu, &self.spec, bs)? {
                Some(b) => self.adam_epoch = Some(b),
                None => {
                    self.one_kernel = false;
                    return self.train_epoch_fused(order, bs, lrs);
                }
            }
        }
        let (n, steps) = (order.len(), lrs.len());
        let mut sched = vec![0f32; 2 * steps];
        for (s, &lr) in lrs.iter().enumerate() {
            let t = self.t + s as u64 + 1;
            sched[2 * s..2 * s + 2].copy_from_slice(&self.optimizer.step_scalars(lr, t));
        }
        self.t += steps as u64;
        let gpu = self.gpu.clone();
        if self.sched.len() < 2 * steps || self.losses.len() < steps {
            self.graph = None;
            self.sched = gpu.zeros(2 * steps)?;
            self.losses = gpu.zeros(steps)?;
        }
        let stream = gpu.stream.clone();
        stream
            .memcpy_htod(order, &mut self.order)
            .map_err(|e| cuda_err("upload order", e))?;
        stream
            .memcpy_htod(&sched[..], &mut self.sched)
            .map_err(|e| cuda_err("upload schedule", e))?;
        let Some(bufs) = self.adam_epoch.as_mut() else {
            return Err(Error::invalid("adam epoch", "no buffers on the device"));
        };
        for stamps in [&mut bufs.claim, &mut bufs.touch] {
            stream
                .memset_zeros(stamps)
                .map_err(|e| cuda_err("zero stamps", e))?;
        }
        stream
            .memset_zeros(&mut bufs.barrier)
            .map_err(|e| cuda_err("zero barrier", e))?;
        let (t, e) = (&self.train, &mut self.epoch);
        gpu.gather_rows(
            &mut e.users.slice_mut(..n),
            &mut e.items.slice_mut(..n),
            &mut e.ratings.slice_mut(..n),
            &t.users.as_view(),
            &t.items.as_view(),
            &t.ratings.as_view(),
            &self.order.slice(..n),
        )?;
        let p = self.params.len();
        gpu.mf_epoch_adam(
            &mut self.params.as_view_mut(),
            (&mut self.m.slice_mut(..p), &mut self.v.slice_mut(..p)),
            bufs,
            &mut self.losses.as_view_mut(),
            &self.sched.as_view(),
            (
                &self.epoch.users.slice(..n),
                &self.epoch.items.slice(..n),
                &self.epoch.ratings.slice(..n),
            ),
            bs,
            &self.spec,
            adam::constants(beta1, beta2, eps),
            self.wd,
        )?;
        gpu.download(&self.losses.slice(..steps))
    }
}
