//! The dense optimizers on the GPU: one launcher, [`Gpu::optimizer_update`],
//! for every optimizer's kernels, plain or scheduled. Each optimizer declares
//! its kernels and their scalars in its own file (`src/optim/`), under the
//! argument convention of [`crate::optim::UpdateKernels`]; [`Gpu::open`]
//! has checked each kernel's parameters against that declaration.

use cudarc::driver::{CudaSlice, CudaView, CudaViewMut, PushKernelArg};

use crate::backend::cuda::device::{grid, int};
use crate::backend::cuda::{cuda_err, Gpu};
use crate::error::Result;
use crate::optim::Optimizer;

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
/// `wd`, its state in `state` (one buffer per
/// [`crate::optim::DenseOptimizer::state_buffers`]). Zeroes `grads`.
pub fn update(
    gpu: &Gpu,
    optimizer: Optimizer,
    wd: f32,
    params: &mut CudaSlice<f32>,
    grads: &mut CudaSlice<f32>,
    state: &mut [CudaSlice<f32>],
    step: Step<'_>,
) -> Result<()> {
    let mut state: Vec<CudaViewMut<'_, f32>> = state.iter_mut().map(|s| s.as_view_mut()).collect();
    gpu.optimizer_update(
        optimizer,
        wd,
        &mut params.as_view_mut(),
        &mut grads.as_view_mut(),
        &mut state,
        step,
    )
}

impl Gpu {
    /// The state buffers of `optimizer` for `n` parameters, each at its
    /// starting value.
    pub fn optimizer_state(&self, optimizer: Optimizer, n: usize) -> Result<Vec<CudaSlice<f32>>> {
        let o = optimizer.get();
        let start = o.initial_state();
        (0..o.state_buffers())
            .map(|_| match start {
                0.0 => self.zeros(n),
                x => self.upload(&vec![x; n]),
            })
            .collect()
    }

    /// `optimizer`'s step on the device: the twin of
    /// [`crate::optim::DenseOptimizer::step`]. Launches its plain kernel
    /// with the scalars of `Step::Plain`, or its scheduled kernel reading
    /// them from `Step::Scheduled`'s schedule.
    pub fn optimizer_update(
        &self,
        optimizer: Optimizer,
        wd: f32,
        params: &mut CudaViewMut<'_, f32>,
        grads: &mut CudaViewMut<'_, f32>,
        state: &mut [CudaViewMut<'_, f32>],
        step: Step<'_>,
    ) -> Result<()> {
        let o = optimizer.get();
        let k = o.kernels();
        let n = params.len();
        assert_eq!(
            state.len(),
            o.state_buffers(),
            "{} keeps {} state buffers",
            o.name(),
            o.state_buffers()
        );
        assert!(grads.len() >= n && state.iter().all(|s| s.len() >= n));
        let name = match step {
            Step::Plain { .. } => k.plain,
            Step::Scheduled { .. } => k.scheduled,
        };
        let n_arg = int(name, n)?;
        let f = self.updates.get(name).ok_or_else(|| {
            cuda_err(
                name,
                cudarc::driver::DriverError(cudarc::driver::sys::CUresult::CUDA_ERROR_NOT_FOUND),
            )
        })?;
        let mut l = self.stream.launch_builder(f);
        l.arg(params).arg(grads);
        for s in state.iter_mut() {
            l.arg(s);
        }
        let (scalars, s_arg) = match step {
            Step::Plain { lr, t } => (o.scalars(lr, t), None),
            Step::Scheduled { sched, s } => {
                assert!(sched.len() >= 2 * s + 2, "the schedule holds step {s}");
                l.arg(sched);
                (o.constants(), Some(int(name, s)?))
            }
        };
        if let Some(s) = &s_arg {
            l.arg(s);
        }
        for x in &scalars {
            l.arg(x);
        }
        l.arg(&wd).arg(&n_arg);
        // SAFETY: the arguments follow optim::UpdateKernels' convention (the
        // buffers, the schedule and its step when scheduled, the scalars, wd,
        // n), and Gpu::open refused any update kernel whose PTX parameters
        // differ from o.kernel_params(); every buffer holds n floats, the
        // schedule at least 2·s + 2.
        unsafe { l.launch(grid(n)) }.map_err(|e| cuda_err(name, e))?;
        Ok(())
    }
}
