//! The Adam epoch for dot, dotbias and the net ([`AdamEpochPath`]): one
//! cooperative launch an epoch (`kernels/adam_epoch.cu`,
//! `kernels/net_epoch.cu`, wrapped in `backend/cuda/kernels/adam_epoch.rs`). Block 0 runs each batch; the others run the
//! dense Adam update one step behind it; a grid barrier ends each step. The
//! arithmetic is the dense epoch's, rescheduled: its CPU twin is
//! [`crate::backend::cpu::CpuBackend`]'s dense epoch under Adam.

use crate::backend::cuda::kernels::adam_epoch::{AdamEpochBuffers, CoopRefusal};
use crate::backend::cuda::shared::{Epoch, EpochPath, Shared};
use crate::error::{Error, Result};
use crate::model::DropoutKey;
use crate::optim::Optimizer;

/// The Adam epoch's state: its buffers, made on its first use; why it was
/// turned off, once it was; and the blocks its grid takes past what the GPU
/// holds at once (0, but in the test of the fallback).
#[derive(Default)]
pub(super) struct AdamEpochPath {
    bufs: Option<AdamEpochBuffers>,
    refusal: Option<CoopRefusal>,
    extra_blocks: u32,
}

impl EpochPath for AdamEpochPath {
    fn train_epoch(&mut self, s: &mut Shared, e: Epoch<'_>) -> Result<Option<Vec<f32>>> {
        self.train_epoch_adam(s, e)
    }
}

impl AdamEpochPath {
    /// Why the one-kernel Adam epoch is off, once it is.
    pub(super) fn refused(&self) -> Option<CoopRefusal> {
        self.refusal
    }

    /// The Adam epoch: upload the order and the per-step scalars, zero the
    /// stamps, one cooperative launch, read the losses back. `first_step`
    /// keys the net's dropout. Returns `None`, turns the path off and keeps
    /// why ([`CoopRefusal`], for the device line), when the GPU cannot run a
    /// cooperative grid of two blocks or the driver refuses the launch;
    /// then nothing has moved (Adam's `t` is put back), so the path below
    /// runs the epoch as if it had been taken from the start.
    fn train_epoch_adam(&mut self, s: &mut Shared, e: Epoch<'_>) -> Result<Option<Vec<f32>>> {
        let Epoch {
            order,
            bs,
            lrs,
            first_step,
        } = e;
        let Optimizer::Adam(adam) = s.optimizer else {
            return Err(Error::invalid("adam epoch", "the optimizer is not Adam"));
        };
        if self.bufs.as_ref().is_none_or(|b| b.batch() != bs) {
            match AdamEpochBuffers::new(&s.gpu, &s.spec, bs, self.extra_blocks)? {
                Ok(b) => self.bufs = Some(b),
                Err(why) => {
                    self.leave_one_kernel(why);
                    return Ok(None);
                }
            }
        }
        let (n, steps) = (order.len(), lrs.len());
        let t0 = s.t;
        s.upload_schedule(lrs)?;
        s.stage_rows(order)?;
        let gpu = s.gpu.clone();
        let Some(bufs) = self.bufs.as_mut() else {
            return Err(Error::invalid("adam epoch", "no buffers on the device"));
        };
        bufs.zero_stamps(&gpu)?;
        let p = s.params.len();
        let [m, v] = &mut s.state[..] else {
            return Err(Error::invalid(
                "optimizer",
                "the Adam epoch runs Adam, which keeps two moments",
            ));
        };
        let launched = gpu.mf_epoch_adam(
            &mut s.params.as_view_mut(),
            (&mut m.slice_mut(..p), &mut v.slice_mut(..p)),
            bufs,
            &mut s.losses.as_view_mut(),
            &s.sched.as_view(),
            (
                &s.epoch.users.slice(..n),
                &s.epoch.items.slice(..n),
                &s.epoch.ratings.slice(..n),
            ),
            bs,
            &s.spec,
            adam.constant_scalars(),
            s.wd,
            DropoutKey {
                seed: s.seed,
                step: first_step,
            },
        )?;
        if let Err(why) = launched {
            // Nothing ran: only the schedule's upload moved Adam's step count.
            s.t = t0;
            self.leave_one_kernel(why);
            return Ok(None);
        }
        gpu.download(&s.losses.slice(..steps)).map(Some)
    }

    /// Turns the one-kernel Adam epoch off for the rest of the run, keeping
    /// why for the device line, and frees its buffers.
    fn leave_one_kernel(&mut self, why: CoopRefusal) {
        self.bufs = None;
        self.refusal = Some(why);
    }

    /// See `CudaBackend::oversize_cooperative_grid`.
    pub(super) fn oversize(&mut self, extra: u32) {
        self.extra_blocks = extra;
        self.bufs = None;
    }
}
