//! The dense optimizers on the GPU: one [`Gpu`] method per update kernel
//! (`kernels/optim.cu`, and the scheduled twins in `kernels/fused.cu` that
//! read their learning rate from the device), and [`update`], the one place
//! where an [`Optimizer`] picks its kernel. The dense and the fused paths both
//! step through it.

use cudarc::driver::{CudaSlice, CudaView, CudaViewMut, PushKernelArg};

use crate::backend::cuda::device::{grid, int};
use crate::backend::cuda::{cuda_err, Gpu};
use crate::error::Result;
use crate::ops::AdamStep;
use crate::optim::{adam, Optimizer};

/// Where an update takes its per-step scalars from.
#[derive(Clone, Copy)]
pub enum Step<'a> {
    /// Step `t` (1-based, Adam's bias corrections need it) at learning rate
    /// `lr`: the scalars are worked out on the host.
    Plain {
        /// Learning rate.
        lr: f32,
        /// Optimizer steps so far, this one included.
        t: u64,
    },
    /// Step `s` of a captured epoch: its scalars are `sched[2s]` and
    /// `sched[2s + 1]` on the device ([`Optimizer::step_scalars`]).
    Scheduled {
        /// The epoch's per-step scalars.
        sched: &'a CudaView<'a, f32>,
        /// The step within the epoch.
        s: usize,
    },
}

/// One update of every parameter by `optimizer` with coupled weight decay
/// `wd`: `m` is SGD's momentum or Adam's first moment, `v` Adam's second
/// moment (unused by SGD). Zeroes `grads`.
#[allow(clippy::too_many_arguments)]
pub fn update(
    gpu: &Gpu,
    optimizer: Optimizer,
    wd: f32,
    params: &mut CudaSlice<f32>,
    grads: &mut CudaSlice<f32>,
    m: &mut CudaSlice<f32>,
    v: &mut CudaSlice<f32>,
    step: Step<'_>,
) -> Result<()> {
    let (p, g, m) = (
        &mut params.as_view_mut(),
        &mut grads.as_view_mut(),
        &mut m.as_view_mut(),
    );
    match (optimizer, step) {
        (Optimizer::Sgd { momentum }, Step::Plain { lr, .. }) => gpu.sgd_update(p, g, m, lr, momentum, wd),
        (Optimizer::Sgd { momentum }, Step::Scheduled { sched, s }) => {
            gpu.sgd_update_sched(p, g, m, sched, s, momentum, wd)
        }
        (Optimizer::Adam { beta1, beta2, eps }, Step::Plain { lr, t }) => {
            let scalars = adam::scalars(lr, beta1, beta2, eps, t);
            gpu.adam_update(p, g, m, &mut v.as_view_mut(), scalars, wd)
        }
        (Optimizer::Adam { beta1, beta2, eps }, Step::Scheduled { sched, s }) => {
            let constants = adam::constants(beta1, beta2, eps);
            gpu.adam_update_sched(p, g, m, &mut v.as_view_mut(), sched, s, constants, wd)
        }
    }
}

impl Gpu {
    /// See [`crate::ops::sgd_update`].
    pub fn sgd_update(
        &self,
        params: &mut CudaViewMut<'_, f32>,
        grads: &mut CudaViewMut<'_, f32>,
        bufs: &mut CudaViewMut<'_, f32>,
        lr: f32,
        momentum: f32,
        wd: f32,
    ) -> Result<()> {
        let n = params.len();
        assert!(grads.len() >= n && bufs.len() >= n);
        let n_arg = int("sgd_update", n)?;
        // SAFETY: matches sgd_update(float*, float*, float*, float, float, float, int);
        // all three buffers hold n floats.
        unsafe { launch!(self, sgd_update, grid(n); params, grads, bufs, &lr, &momentum, &wd, &n_arg) }
    }

    /// See [`crate::ops::adam_update`].
    pub fn adam_update(
        &self,
        params: &mut CudaViewMut<'_, f32>,
        grads: &mut CudaViewMut<'_, f32>,
        m: &mut CudaViewMut<'_, f32>,
        v: &mut CudaViewMut<'_, f32>,
        s: AdamStep,
        wd: f32,
    ) -> Result<()> {
        let n = params.len();
        assert!(grads.len() >= n && m.len() >= n && v.len() >= n);
        let n_arg = int("adam_update", n)?;
        let mut l = self.stream.launch_builder(&self.k.adam_update);
        l.arg(params).arg(grads).arg(m).arg(v);
        l.arg(&s.beta1)
            .arg(&s.beta2)
            .arg(&s.one_minus_beta1)
            .arg(&s.one_minus_beta2)
            .arg(&s.eps);
        l.arg(&s.step_size)
            .arg(&s.bias_correction2_sqrt)
            .arg(&wd)
            .arg(&n_arg);
        // SAFETY: matches adam_update(float*, float*, float*, float*, 8 floats, int);
        // all four buffers hold n floats.
        unsafe { l.launch(grid(n)) }.map_err(|e| cuda_err("adam_update", e))?;
        Ok(())
    }

    /// [`Gpu::sgd_update`] with lr = `sched[2·step]`, read on the device.
    #[allow(clippy::too_many_arguments)]
    pub fn sgd_update_sched(
        &self,
        params: &mut CudaViewMut<'_, f32>,
        grads: &mut CudaViewMut<'_, f32>,
        bufs: &mut CudaViewMut<'_, f32>,
        sched: &CudaView<'_, f32>,
        step: usize,
        momentum: f32,
        wd: f32,
    ) -> Result<()> {
        let n = params.len();
        assert!(grads.len() >= n && bufs.len() >= n && sched.len() > 2 * step);
        let (s, n_arg) = (int("sgd_update_sched", step)?, int("sgd_update_sched", n)?);
        // SAFETY: matches sgd_update_sched(float*, float*, float*, const float*, int, float,
        // float, int); buffers hold n floats, sched at least 2·step + 1.
        unsafe {
            launch!(self, sgd_update_sched, grid(n); params, grads, bufs, sched, &s, &momentum, &wd, &n_arg)
        }
    }

    /// [`Gpu::adam_update`] with step_size = `sched[2·step]` and
    /// sqrt(1 − β2ᵗ) = `sched[2·step + 1]`, read on the device; the other
    /// scalars come from `s`.
    #[allow(clippy::too_many_arguments)]
    pub fn adam_update_sched(
        &self,
        params: &mut CudaViewMut<'_, f32>,
        grads: &mut CudaViewMut<'_, f32>,
        m: &mut CudaViewMut<'_, f32>,
        v: &mut CudaViewMut<'_, f32>,
        sched: &CudaView<'_, f32>,
        step: usize,
        s: AdamStep,
        wd: f32,
    ) -> Result<()> {
        let n = params.len();
        assert!(grads.len() >= n && m.len() >= n && v.len() >= n && sched.len() > 2 * step + 1);
        let (st, n_arg) = (int("adam_update_sched", step)?, int("adam_update_sched", n)?);
        let mut l = self.stream.launch_builder(&self.k.adam_update_sched);
        l.arg(params).arg(grads).arg(m).arg(v).arg(sched).arg(&st);
        l.arg(&s.beta1)
            .arg(&s.beta2)
            .arg(&s.one_minus_beta1)
            .arg(&s.one_minus_beta2)
            .arg(&s.eps);
        l.arg(&wd).arg(&n_arg);
        // SAFETY: matches adam_update_sched(float* x4, const float*, int, 6 floats, int);
        // buffers hold n floats, sched at least 2·step + 2.
        unsafe { l.launch(grid(n)) }.map_err(|e| cuda_err("adam_update_sched", e))?;
        Ok(())
    }
}
