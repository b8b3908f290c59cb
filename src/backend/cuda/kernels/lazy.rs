//! The wrappers of `kernels/lazy.cu`: the lazy SGD epoch of dot and dotbias
//! in one block, and the catch-up that ends it; with the block's limits
//! ([`lazy_fits`]). The path that runs them is `backend/cuda/lazy.rs`.

use cudarc::driver::{CudaView, CudaViewMut, LaunchConfig, PushKernelArg};

use crate::backend::cuda::device::{epoch_fits, epoch_row_width, epoch_shared_bytes, grid, int, EPOCH_BLOCK};
use crate::backend::cuda::{cuda_err, Gpu};
use crate::error::{Error, Result};
use crate::model::ModelSpec;

/// Elements of a step's rows each thread of the lazy block keeps in
/// registers: `LAZY_PER_THREAD` in `kernels/lazy.cu`.
pub const LAZY_PER_THREAD: usize = 8;

/// Whether a model trains by the lazy kernel at batch size `bs`: dot or
/// dotbias, a batch that fits one block (threads and shared memory), and a step's rows
/// that fit the block's registers. Anything else takes the fused graph.
pub fn lazy_fits(spec: &ModelSpec, bs: usize) -> bool {
    epoch_row_width(spec)
        .is_some_and(|w| epoch_fits(bs, w) && 2 * bs * w <= EPOCH_BLOCK as usize * LAZY_PER_THREAD)
}

impl Gpu {
    /// A whole SGD epoch of dot or dotbias with exact lazy momentum (see
    /// `kernels/lazy.cu`): the epoch's rows `rows` (in order) in batches of
    /// `bs`; `last` (users, then items) zeroed; `powers` from
    /// [`crate::optim::lazy_sgd::LazyMomentum`] at `lr` for the epoch's steps. Writes each step's
    /// loss to `losses`. Rows the epoch did not touch last are left behind:
    /// [`Gpu::sgd_catch_up_all`] brings them up to date.
    #[allow(clippy::too_many_arguments)]
    pub fn mf_epoch_lazy_sgd(
        &self,
        params: &mut CudaViewMut<'_, f32>,
        bufs: &mut CudaViewMut<'_, f32>,
        last: &mut CudaViewMut<'_, i32>,
        losses: &mut CudaViewMut<'_, f32>,
        powers: &CudaView<'_, f64>,
        rows: (&CudaView<'_, u32>, &CudaView<'_, u32>, &CudaView<'_, f32>),
        bs: usize,
        spec: &ModelSpec,
        sgd: (f32, f32, f32),
    ) -> Result<()> {
        let what = "mf_epoch_lazy_sgd";
        let (users, items, ratings) = rows;
        let n = users.len();
        let steps = n.div_ceil(bs);
        if !lazy_fits(spec, bs) {
            return Err(Error::invalid(
                what,
                "this model and batch size do not fit the lazy kernel",
            ));
        }
        assert!(items.len() == n && ratings.len() == n && losses.len() >= steps);
        assert!(params.len() == spec.n_params() && bufs.len() == spec.n_params());
        assert!(last.len() >= spec.n_users + spec.n_items && powers.len() >= 4 * (steps + 1));
        let with_bias = i32::from(spec.kind.has_biases());
        let w = spec.factors + with_bias as usize;
        let dims = [
            int(what, n)?,
            int(what, bs)?,
            int(what, spec.n_users)?,
            int(what, spec.n_items)?,
            int(what, spec.factors)?,
            with_bias,
        ];
        let (lo, hi) = spec.y_range;
        let (lr, momentum, wd) = sgd;
        let mut l = self.stream.launch_builder(&self.k.mf_epoch_lazy_sgd);
        l.arg(params).arg(bufs).arg(last).arg(losses).arg(powers);
        l.arg(users).arg(items).arg(ratings);
        for d in &dims {
            l.arg(d);
        }
        l.arg(&lo).arg(&hi).arg(&lr).arg(&momentum).arg(&wd);
        let cfg = LaunchConfig {
            grid_dim: (1, 1, 1),
            block_dim: (EPOCH_BLOCK, 1, 1),
            shared_mem_bytes: epoch_shared_bytes(bs, w) as u32,
        };
        // SAFETY: matches mf_epoch_lazy_sgd(float*, float*, int*, float*, const double*,
        // const uint*, const uint*, const float*, int x6, float x5); params and bufs hold
        // the model's tensors in ModelSpec::tensors order, last one entry per user and item,
        // powers M^k for k = 0..=steps; lazy_fits bounds the block's registers and shared
        // memory, sized here by the kernel's own formula.
        unsafe { l.launch(cfg) }.map_err(|e| cuda_err(what, e))?;
        Ok(())
    }

    /// Every row whose `last` is before `steps` brought up to date with
    /// M^(steps − last): the end of a lazy epoch. The CPU twin is
    /// [`crate::ops::sgd_catch_up`], row by row.
    pub fn sgd_catch_up_all(
        &self,
        params: &mut CudaViewMut<'_, f32>,
        bufs: &mut CudaViewMut<'_, f32>,
        last: &CudaView<'_, i32>,
        powers: &CudaView<'_, f64>,
        steps: usize,
        spec: &ModelSpec,
    ) -> Result<()> {
        let what = "sgd_catch_up_all";
        if !spec.kind.gpu_kernels().lazy_sgd_epoch {
            return Err(Error::invalid(what, "only dot and dotbias train lazily"));
        }
        let with_bias = i32::from(spec.kind.has_biases());
        assert!(params.len() == spec.n_params() && bufs.len() == spec.n_params());
        assert!(last.len() >= spec.n_users + spec.n_items && powers.len() >= 4 * (steps + 1));
        // The kernel finds a parameter's row in 32-bit arithmetic.
        int(what, spec.n_params())?;
        let dims = [
            int(what, steps)?,
            int(what, spec.n_users)?,
            int(what, spec.n_items)?,
            int(what, spec.factors)?,
            with_bias,
        ];
        let mut l = self.stream.launch_builder(&self.k.sgd_catch_up_all);
        l.arg(params).arg(bufs).arg(last).arg(powers);
        for d in &dims {
            l.arg(d);
        }
        // SAFETY: matches sgd_catch_up_all(float*, float*, const int*, const double*, int x5);
        // the same layout as mf_epoch_lazy_sgd; one thread per parameter, grid-stride.
        unsafe { l.launch(grid(spec.n_params())) }.map_err(|e| cuda_err(what, e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::LAZY_PER_THREAD;

    #[test]
    fn the_kernels_registers_per_thread_are_the_hosts() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("kernels/lazy.cu");
        let text = std::fs::read_to_string(path).expect("kernels/lazy.cu");
        assert!(
            text.contains(&format!("#define LAZY_PER_THREAD {LAZY_PER_THREAD}\n")),
            "LAZY_PER_THREAD in kernels/lazy.cu must be the host's {LAZY_PER_THREAD}"
        );
    }
}
