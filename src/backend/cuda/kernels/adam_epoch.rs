//! The wrappers of `kernels/adam_epoch.cu` (dot, dotbias) and
//! `kernels/net_epoch.cu` (the net): the whole Adam epoch in one cooperative
//! launch, one launcher for both kernels, which share their arguments but
//! the model's own; with what the launch needs (its buffers, its block's
//! limits, the cooperative grid and the driver's refusal). The path that
//! runs it is `backend/cuda/adam_epoch.rs`.

use cudarc::driver::sys::CUresult;
use cudarc::driver::{
    CudaFunction, CudaSlice, CudaView, CudaViewMut, DriverError, LaunchConfig, PushKernelArg,
};

use crate::backend::cuda::device::{
    epoch_fits, epoch_row_width, epoch_shared_bytes, int, EPOCH_BLOCK, SHARED_LIMIT,
};
use crate::backend::cuda::{cuda_err, Gpu};
use crate::error::{Error, Result};
use crate::model::{DropoutKey, ModelSpec};
use crate::ops::AdamStep;

/// The shared memory of the net's block (`kernels/net_epoch.cu`): the
/// batch's concatenated rows, three (batch × hidden) activations, the dense
/// tensors, and the step's ids at row width 0.
pub fn net_shared_bytes(bs: usize, f: usize, hidden: usize) -> usize {
    4 * (bs * 2 * f + 3 * bs * hidden + hidden * 2 * f + 2 * hidden + 1) + epoch_shared_bytes(bs, 0)
}

/// The Adam epoch's kernel for `spec` at batch `bs`, and its block's shared
/// memory, or `None` when the model or the batch does not fit one block.
fn adam_kernel<'g>(gpu: &'g Gpu, spec: &ModelSpec, bs: usize) -> Option<(&'g CudaFunction, usize)> {
    if !adam_epoch_fits(spec, bs) {
        return None;
    }
    match spec.kind.has_hidden_layer() {
        true => Some((
            &gpu.k.mf_epoch_adam_net,
            net_shared_bytes(bs, spec.factors, spec.hidden),
        )),
        false => Some((
            &gpu.k.mf_epoch_adam,
            epoch_shared_bytes(bs, epoch_row_width(spec)?),
        )),
    }
}

/// Whether `spec` at batch `bs` fits the Adam epoch's one block: a thread
/// per position, shared memory, and (the net) a thread per hidden unit.
pub fn adam_epoch_fits(spec: &ModelSpec, bs: usize) -> bool {
    if !spec.kind.gpu_kernels().adam_epoch {
        return false;
    }
    match spec.kind.has_hidden_layer() {
        false => epoch_row_width(spec).is_some_and(|w| epoch_fits(bs, w)),
        true => {
            epoch_fits(bs, 0)
                && spec.hidden < EPOCH_BLOCK as usize
                && net_shared_bytes(bs, spec.factors, spec.hidden) <= SHARED_LIMIT
        }
    }
}

/// Why an Adam epoch does not run as one cooperative kernel. The epoch then
/// takes the path below it (dot and dotbias the fused graph, the net op by
/// op), and the device line says which and why ([`CoopRefusal::reason`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoopRefusal {
    /// The GPU cannot launch a cooperative grid at all.
    Unsupported,
    /// Only this many blocks of the epoch's kernel fit on the GPU at once;
    /// the epoch needs two (one leads, the others update).
    TooFewBlocks(usize),
    /// The driver refused the launch (`CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE`):
    /// fewer blocks fit at once than the occupancy calculator said, as under
    /// MPS limits or on a card shared with other work.
    Refused,
}

impl CoopRefusal {
    /// What happened to the one-kernel Adam epoch, in words for the device
    /// line: "the one-kernel Adam epoch {reason}".
    pub fn reason(self) -> String {
        match self {
            CoopRefusal::Unsupported => "is off: this GPU cannot launch a cooperative grid".into(),
            CoopRefusal::TooFewBlocks(n) => format!(
                "is off: {n} block{} of its kernel fit on this GPU at once, and it needs 2",
                if n == 1 { "" } else { "s" }
            ),
            CoopRefusal::Refused => "was refused by the driver (CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE: \
                 its grid does not fit at once, as under MPS limits or on a shared card)"
                .into(),
        }
    }
}

/// The cooperative grid of an Adam epoch, from what the GPU says: whether
/// it launches cooperative grids, and how many of the kernel's blocks fit on
/// it at once. Two or more: that many blocks; otherwise why not.
pub fn coop_grid(cooperative: bool, resident_blocks: usize) -> std::result::Result<u32, CoopRefusal> {
    if !cooperative {
        return Err(CoopRefusal::Unsupported);
    }
    if resident_blocks < 2 {
        return Err(CoopRefusal::TooFewBlocks(resident_blocks));
    }
    Ok(resident_blocks.min(u32::MAX as usize) as u32)
}

/// A cooperative launch's answer: launched, or refused for its size (the
/// epoch falls back, nothing has run), or the driver's error, which ends
/// the run.
pub fn launch_outcome(
    answer: std::result::Result<(), DriverError>,
) -> std::result::Result<std::result::Result<(), CoopRefusal>, DriverError> {
    match answer {
        Ok(()) => Ok(Ok(())),
        Err(DriverError(CUresult::CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE)) => Ok(Err(CoopRefusal::Refused)),
        Err(e) => Err(e),
    }
}

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
    /// The batch size the grid was sized for (its shared memory).
    bs: usize,
}

impl AdamEpochBuffers {
    /// Buffers for `spec`, and the grid: as many blocks as the GPU holds at
    /// once with the step's shared memory ([`coop_grid`]), plus `extra`
    /// (0 but in the test that makes the driver refuse the grid). Why not,
    /// when the GPU cannot launch a cooperative grid of two blocks.
    pub fn new(
        gpu: &Gpu,
        spec: &ModelSpec,
        bs: usize,
        extra: u32,
    ) -> Result<std::result::Result<AdamEpochBuffers, CoopRefusal>> {
        let Some((kernel, shared)) = adam_kernel(gpu, spec, bs) else {
            return Err(Error::invalid(
                "adam epoch",
                "this model and batch size do not fit one block",
            ));
        };
        // The grid barrier needs every block resident: a cooperative launch.
        let cooperative = gpu
            .ctx
            .attribute(cudarc::driver::sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH)
            .map_err(|e| cuda_err("cooperative launch attribute", e))?;
        let per_sm = if cooperative == 0 {
            0
        } else {
            kernel
                .occupancy_max_active_blocks_per_multiprocessor(EPOCH_BLOCK, shared, None)
                .map_err(|e| cuda_err("occupancy of the Adam epoch", e))?
        };
        let blocks = match coop_grid(cooperative != 0, per_sm as usize * gpu.sm_count) {
            Ok(b) => b.saturating_add(extra),
            Err(why) => return Ok(Err(why)),
        };
        let rows = spec.n_users + spec.n_items;
        Ok(Ok(AdamEpochBuffers {
            gbuf: gpu.zeros(2 * spec.n_params())?,
            claim: gpu.zeros(2 * rows)?,
            touch: gpu.zeros(rows)?,
            barrier: gpu.zeros(2)?,
            blocks,
            bs,
        }))
    }
}

impl Gpu {
    /// A whole Adam epoch of dot, dotbias or the net (see
    /// `kernels/adam_epoch.cu`, `kernels/net_epoch.cu`): the epoch's rows
    /// `rows` (in order) in batches of `bs`, step s at `sched[2s]` (step
    /// size) and `sched[2s + 1]` (√(1 − β2ᵗ)); `dropout` keys the net's masks
    /// (its step is the epoch's first). `bufs`' stamps must be zero. Writes
    /// each step's loss to `losses`. When the driver refuses the grid as too
    /// large ([`launch_outcome`]), nothing ran: it says so instead.
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
        dropout: DropoutKey,
    ) -> Result<std::result::Result<(), CoopRefusal>> {
        let what = "mf_epoch_adam";
        let (users, items, ratings) = rows;
        let (m, v) = moments;
        let n = users.len();
        let steps = n.div_ceil(bs);
        let p = spec.n_params();
        let Some((kernel, shared)) = adam_kernel(self, spec, bs) else {
            return Err(Error::invalid(
                what,
                "this model and batch size do not fit one block",
            ));
        };
        assert!(items.len() == n && ratings.len() == n && losses.len() >= steps && sched.len() >= 2 * steps);
        assert!(params.len() == p && m.len() == p && v.len() == p && bufs.gbuf.len() >= 2 * p);
        // The kernels index 2·P gradients in 64 bits, but parameters and the two claim tables in 32.
        int(what, p)?;
        int(what, 2 * (spec.n_users + spec.n_items))?;
        let (lo, hi) = spec.y_range;
        let mut l = self.stream.launch_builder(kernel);
        l.arg(params).arg(m).arg(v);
        l.arg(&mut bufs.gbuf)
            .arg(&mut bufs.claim)
            .arg(&mut bufs.touch)
            .arg(&mut bufs.barrier);
        l.arg(losses).arg(sched).arg(users).arg(items).arg(ratings);
        let dims = [
            int(what, n)?,
            int(what, bs)?,
            int(what, spec.n_users)?,
            int(what, spec.n_items)?,
            int(what, spec.factors)?,
        ];
        for d in &dims {
            l.arg(d);
        }
        // The net's extra arguments: its hidden width, its widened range, dropout.
        let net = spec.kind.has_hidden_layer();
        let hidden = int(what, spec.hidden)?;
        let with_bias = i32::from(spec.kind.has_biases());
        let (net_lo, net_hi) = (lo - 0.5, hi + 0.5);
        let (p1, p2) = spec.dropout;
        if net {
            l.arg(&hidden).arg(&net_lo).arg(&net_hi).arg(&p1).arg(&p2);
            l.arg(&dropout.seed).arg(&dropout.step);
        } else {
            l.arg(&with_bias).arg(&lo).arg(&hi);
        }
        l.arg(&adam.beta1)
            .arg(&adam.beta2)
            .arg(&adam.one_minus_beta1)
            .arg(&adam.one_minus_beta2)
            .arg(&adam.eps)
            .arg(&wd);
        let cfg = LaunchConfig {
            grid_dim: (bufs.blocks, 1, 1),
            block_dim: (EPOCH_BLOCK, 1, 1),
            shared_mem_bytes: shared as u32,
        };
        // SAFETY: matches mf_epoch_adam(float* x4, int* x2, uint*, float*, const float*,
        // const uint* x2, const float*, int x6, float x8) for dot and dotbias, and
        // mf_epoch_adam_net(float* x4, int* x2, uint*, float*, const float*, const uint* x2,
        // const float*, int x6, float x4, unsigned long long x2, float x6) for the net; params,
        // m, v hold the model's tensors in ModelSpec::tensors order, gbuf 2·P floats, claim
        // 2·rows and touch rows ints, barrier 2 uints; adam_kernel bounds the shared memory,
        // sized by the kernel's own layout. The launch is cooperative, so the driver refuses
        // a grid that cannot be resident at once, which the grid barrier needs (`blocks`
        // comes from the occupancy calculator for this kernel, block and shared memory, and
        // a grid past it is refused, not run).
        let answer = unsafe { l.launch_cooperative(cfg) }.map(|_| ());
        launch_outcome(answer).map_err(|e| cuda_err(what, e))
    }
}

impl AdamEpochBuffers {
    /// The batch size the grid was sized for.
    pub fn batch(&self) -> usize {
        self.bs
    }

    /// Zeroes the stamps and the grid barrier, as each epoch must start.
    pub fn zero_stamps(&mut self, gpu: &Gpu) -> Result<()> {
        for stamps in [&mut self.claim, &mut self.touch] {
            gpu.stream
                .memset_zeros(stamps)
                .map_err(|e| cuda_err("zero stamps", e))?;
        }
        gpu.stream
            .memset_zeros(&mut self.barrier)
            .map_err(|e| cuda_err("zero barrier", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cuda::kernels::lazy::lazy_fits;
    use crate::model::{ModelConfig, ModelKind};

    fn spec(kind: ModelKind, factors: usize, hidden: usize) -> ModelSpec {
        ModelSpec {
            config: ModelConfig {
                kind,
                factors,
                hidden,
                emb_init: (-0.01, 0.01),
                dropout: (0.05, 0.5),
            },
            n_users: 610,
            n_items: 9724,
            y_range: (0.5, 5.0),
        }
    }

    /// The grid, or why not, from what the GPU says; and a refusal of the
    /// launch for its size falls back while any other failure ends the run.
    #[test]
    fn a_gpu_that_cannot_hold_the_grid_falls_back_and_says_why() {
        assert_eq!(coop_grid(true, 132), Ok(132));
        assert_eq!(coop_grid(true, 2), Ok(2));
        assert_eq!(coop_grid(false, 132), Err(CoopRefusal::Unsupported));
        assert_eq!(coop_grid(true, 1), Err(CoopRefusal::TooFewBlocks(1)));
        assert_eq!(coop_grid(true, 0), Err(CoopRefusal::TooFewBlocks(0)));
        assert!(matches!(launch_outcome(Ok(())), Ok(Ok(()))));
        let too_large = DriverError(CUresult::CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE);
        assert!(matches!(
            launch_outcome(Err(too_large)),
            Ok(Err(CoopRefusal::Refused))
        ));
        let oom = DriverError(CUresult::CUDA_ERROR_OUT_OF_MEMORY);
        assert!(matches!(launch_outcome(Err(oom)), Err(e) if e.0 == CUresult::CUDA_ERROR_OUT_OF_MEMORY));
        assert!(CoopRefusal::Refused
            .reason()
            .contains("CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE"));
        assert!(CoopRefusal::Unsupported
            .reason()
            .contains("cannot launch a cooperative grid"));
        assert!(CoopRefusal::TooFewBlocks(1).reason().contains("1 block of"));
    }

    /// Every notebook recipe's model at batch 64 takes a one-kernel epoch,
    /// and sizes past one block fall back instead of failing.
    #[test]
    fn the_notebooks_shapes_fit_one_block_and_bigger_ones_fall_back() {
        for kind in [ModelKind::Dot, ModelKind::DotBias] {
            assert!(lazy_fits(&spec(kind, 50, 10), 64), "{kind:?} lazy");
            assert!(adam_epoch_fits(&spec(kind, 50, 10), 64), "{kind:?} Adam");
            assert!(!lazy_fits(&spec(kind, 50, 10), 513), "{kind:?}: 1,026 positions");
            assert!(
                !adam_epoch_fits(&spec(kind, 400, 10), 64),
                "{kind:?}: 205 KB of rows"
            );
        }
        let net = spec(ModelKind::Net, 50, 10);
        assert!(adam_epoch_fits(&net, 64));
        assert!(!lazy_fits(&net, 64), "the net trains by Adam");
        // 64 × 100 concatenated floats, three 64 × 10 activations, lin1 and lin2, the ids.
        assert_eq!(
            net_shared_bytes(64, 50, 10),
            4 * (6400 + 1920 + 1021) + 4 * 14 * 64
        );
        assert!(!adam_epoch_fits(&spec(ModelKind::Net, 200, 10), 64));
        assert!(!adam_epoch_fits(&spec(ModelKind::Svd, 50, 10), 64));
    }
}
