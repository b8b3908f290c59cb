//! The graph path ([`GraphPath`]) for dot and dotbias: two kernels per step
//! (`kernels/fused.cu`), the epoch's per-step optimizer scalars uploaded as
//! one schedule, and the whole epoch captured as a CUDA graph on first use
//! and replayed after.

use cudarc::driver::DriverError;

use cudarc::driver::CudaGraph;

use crate::backend::cuda::cuda_err;
use crate::backend::cuda::kernels::optim::{update, Step};
use crate::backend::cuda::shared::{Epoch, EpochPath, Shared};
use crate::error::Result;

/// The graph path's state: the captured epoch, with the (rows, batch size)
/// it was captured for and the [`Shared::moved`] count of the buffers it
/// holds the addresses of.
#[derive(Default)]
pub(super) struct GraphPath {
    graph: Option<(CudaGraph, usize, usize, u64)>,
}

impl EpochPath for GraphPath {
    fn train_epoch(&mut self, s: &mut Shared, e: Epoch<'_>) -> Result<Option<Vec<f32>>> {
        self.train_epoch_fused(s, e.order, e.bs, e.lrs).map(Some)
    }
}

impl GraphPath {
    /// The fused epoch: upload the order and the per-step optimizer
    /// scalars, replay the captured graph (capturing it on first use), read
    /// the losses back. Same arithmetic as the op-by-op path up to the order
    /// of sums.
    fn train_epoch_fused(
        &mut self,
        s: &mut Shared,
        order: &[u32],
        bs: usize,
        lrs: &[f32],
    ) -> Result<Vec<f32>> {
        let (n, steps) = (order.len(), lrs.len());
        s.upload_schedule(lrs)?;
        // The order goes up here; the graph permutes the rows itself.
        let stream = s.gpu.stream.clone();
        stream
            .memcpy_htod(order, &mut s.order)
            .map_err(|e| cuda_err("upload order", e))?;
        let moved = s.moved;
        if !matches!(self.graph, Some((_, gn, gbs, gm)) if gn == n && gbs == bs && gm == moved) {
            self.graph = None;
            stream
                .begin_capture(cudarc::driver::sys::CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)
                .map_err(|e| cuda_err("begin graph capture", e))?;
            let recorded = record_epoch(s, n, bs, steps);
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
            self.graph = Some((graph, n, bs, moved));
        }
        if let Some((graph, ..)) = &self.graph {
            graph.launch().map_err(|e| cuda_err("epoch graph", e))?;
        }
        s.gpu.download(&s.losses.slice(..steps))
    }
}

/// Records one fused epoch on the (capturing) stream: permute the rows,
/// zero the losses, then per step the fused forward/backward and the
/// scheduled optimizer update.
fn record_epoch(sh: &mut Shared, n: usize, bs: usize, steps: usize) -> Result<()> {
    let gpu = &sh.gpu;
    sh.epoch.gather(gpu, &sh.train, &sh.order.slice(..n))?;
    gpu.stream
        .memset_zeros(&mut sh.losses)
        .map_err(|e| cuda_err("zero losses", e))?;
    let p = sh.params.len();
    for s in 0..steps {
        let rows = (
            &sh.epoch.users.slice(..n),
            &sh.epoch.items.slice(..n),
            &sh.epoch.ratings.slice(..n),
        );
        gpu.mf_step_fused(
            &mut sh.grads.slice_mut(..p),
            &mut sh.losses.slice_mut(..),
            &sh.params.slice(..p),
            rows,
            bs,
            s,
            &sh.spec,
        )?;
        let step = Step::Scheduled {
            sched: &sh.sched.as_view(),
            s,
        };
        let (p, g) = (&mut sh.params, &mut sh.grads);
        update(gpu, sh.optimizer, sh.wd, p, g, &mut sh.state, step)?;
    }
    Ok(())
}
