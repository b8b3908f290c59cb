//! The lazy epoch (`LazyPath`) for dot and dotbias under SGD at a constant
//! rate: exact lazy momentum ([`crate::optim::lazy_sgd`]), the whole epoch
//! in one launch of one block (`kernels/lazy.cu`, wrapped in
//! `backend/cuda/kernels/lazy.rs`), then one kernel that
//! brings every row up to date. The CPU twin is
//! [`crate::backend::cpu::CpuBackend::train_epoch_lazy`].

use cudarc::driver::CudaSlice;

use crate::backend::cuda::cuda_err;
use crate::backend::cuda::shared::{Epoch, EpochPath, Shared};
use crate::error::{Error, Result};
use crate::optim::lazy_sgd::{self, LazyMomentum};
use crate::optim::sgd::Sgd;
use crate::optim::Optimizer;

/// The powers of M uploaded for one (learning rate, steps), kept while
/// epochs repeat them.
struct DevicePowers {
    key: (u32, usize),
    powers: CudaSlice<f64>,
}

/// The lazy path's state: per user, then per item, the step after the
/// row's last update; and the powers of M for the epoch's rate and steps.
#[derive(Default)]
pub(super) struct LazyPath {
    last: Option<CudaSlice<i32>>,
    powers: Option<DevicePowers>,
}

impl EpochPath for LazyPath {
    /// For an epoch that `path::choose` sent here: SGD at one rate.
    fn train_epoch(&mut self, s: &mut Shared, e: Epoch<'_>) -> Result<Option<Vec<f32>>> {
        let (Optimizer::Sgd(Sgd { momentum }), Some(lr)) = (s.optimizer, lazy_sgd::constant_lr(e.lrs)) else {
            return Err(Error::invalid("lazy epoch", "it runs SGD at one rate"));
        };
        self.train_epoch_lazy(s, e.order, e.bs, lr, momentum).map(Some)
    }
}

impl LazyPath {
    /// The lazy epoch: upload the order (and the powers of M when the rate
    /// or the step count changed), zero `last`, run the epoch's kernel and
    /// the catch-up, read the losses back.
    fn train_epoch_lazy(
        &mut self,
        s: &mut Shared,
        order: &[u32],
        bs: usize,
        lr: f32,
        momentum: f32,
    ) -> Result<Vec<f32>> {
        let n = order.len();
        let steps = n.div_ceil(bs);
        let gpu = s.gpu.clone();
        let key = (lr.to_bits(), steps);
        if self.powers.as_ref().is_none_or(|p| p.key != key) {
            let lazy = LazyMomentum::new(lr, momentum, s.wd, steps);
            let flat: Vec<f64> = (0..=steps).flat_map(|k| lazy.power(k)).collect();
            self.powers = Some(DevicePowers {
                key,
                powers: gpu.upload(&flat)?,
            });
        }
        s.epoch_buffers(steps)?;
        let last_len = s.spec.n_users + s.spec.n_items;
        if self.last.as_ref().is_none_or(|l| l.len() < last_len) {
            self.last = Some(gpu.zeros(last_len)?);
        }
        let Some(last) = self.last.as_mut() else {
            return Err(Error::invalid("lazy epoch", "no stamps on the device"));
        };
        gpu.stream
            .memset_zeros(last)
            .map_err(|e| cuda_err("zero last", e))?;
        s.stage_rows(order)?;
        let Some(DevicePowers { powers, .. }) = &self.powers else {
            return Err(Error::invalid("lazy epoch", "no powers of M on the device"));
        };
        let powers = powers.as_view();
        let p = s.params.len();
        gpu.mf_epoch_lazy_sgd(
            &mut s.params.as_view_mut(),
            &mut s.state[0].slice_mut(..p),
            &mut last.as_view_mut(),
            &mut s.losses.as_view_mut(),
            &powers,
            (
                &s.epoch.users.slice(..n),
                &s.epoch.items.slice(..n),
                &s.epoch.ratings.slice(..n),
            ),
            bs,
            &s.spec,
            (lr, momentum, s.wd),
        )?;
        gpu.sgd_catch_up_all(
            &mut s.params.as_view_mut(),
            &mut s.state[0].slice_mut(..p),
            &last.as_view(),
            &powers,
            steps,
            &s.spec,
        )?;
        s.t += steps as u64;
        gpu.download(&s.losses.slice(..steps))
    }
}
