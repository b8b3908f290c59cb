//! [`CudaBackend`]'s fused epoch for dot and dotbias: two kernels per step
//! (`kernels/fused.cu`), the epoch's per-step optimizer scalars uploaded as
//! one schedule, and the whole epoch captured as a CUDA graph on first use
//! and replayed after.

use cudarc::driver::DriverError;

use crate::backend::cuda::optim::{update, Step};
use crate::backend::cuda::{cuda_err, CudaBackend};
use crate::error::Result;

impl CudaBackend {
    /// The fused epoch: upload the order and the per-step optimizer
    /// scalars, replay the captured graph (capturing it on first use), read
    /// the losses back. Same arithmetic as the op-by-op path up to the order
    /// of sums.
    pub(super) fn train_epoch_fused(&mut self, order: &[u32], bs: usize, lrs: &[f32]) -> Result<Vec<f32>> {
        let (n, steps) = (order.len(), lrs.len());
        self.upload_schedule(lrs)?;
        // The order goes up here; the graph permutes the rows itself.
        let stream = self.gpu.stream.clone();
        stream
            .memcpy_htod(order, &mut self.order)
            .map_err(|e| cuda_err("upload order", e))?;
        if !matches!(self.graph, Some((_, gn, gbs)) if gn == n && gbs == bs) {
            self.graph = None;
            stream
                .begin_capture(cudarc::driver::sys::CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)
                .map_err(|e| cuda_err("begin graph capture", e))?;
            let recorded = self.record_epoch(n, bs, steps);
            // End the capture even when recording failed, to leave the stream usable.
            let graph = stream.end_capture(cudarc::driver::sys::CUgraphInstantiate_flags(0));
            recorded?;
            let graph = graph
                .map_err(|e| cuda_err("end graph capture", e))?
                .ok_or_else(|| {
                    cuda_err(
                        "end graph capture",
                        DriverError(cudarc::driver::sys::CUresult::CUDA_ERROR_UNKNOWN),
                    )
                })?;
            self.graph = Some((graph, n, bs));
        }
        if let Some((graph, _, _)) = &self.graph {
            graph.launch().map_err(|e| cuda_err("epoch graph", e))?;
        }
        self.gpu.download(&self.losses.slice(..steps))
    }

    /// Records one fused epoch on the (capturing) stream: permute the rows,
    /// zero the losses, then per step the fused forward/backward and the
    /// scheduled optimizer update.
    fn record_epoch(&mut self, n: usize, bs: usize, steps: usize) -> Result<()> {
        let gpu = &self.gpu;
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
        gpu.stream
            .memset_zeros(&mut self.losses)
            .map_err(|e| cuda_err("zero losses", e))?;
        let p = self.params.len();
        for s in 0..steps {
            let rows = (
                &self.epoch.users.slice(..n),
                &self.epoch.items.slice(..n),
                &self.epoch.ratings.slice(..n),
            );
            gpu.mf_step_fused(
                &mut self.grads.slice_mut(..p),
                &mut self.losses.slice_mut(..),
                &self.params.slice(..p),
                rows,
                bs,
                s,
                &self.spec,
            )?;
            let step = Step::Scheduled {
                sched: &self.sched.as_view(),
                s,
            };
            let (p, g) = (&mut self.params, &mut self.grads);
            update(gpu, self.optimizer, self.wd, p, g, &mut self.state, step)?;
        }
        Ok(())
    }
}
