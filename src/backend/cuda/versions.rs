//! The versions of two kernels, kept side by side the way llm.c's `dev/cuda`
//! keeps each step of an optimisation runnable: the batched dot product
//! (`kernels/dot.cu`, four versions) and the sparse SGD update
//! (`kernels/sparse.cu`, five). `mfcuda bench --versions` checks each one
//! against its CPU twin and times it ([`crate::tools::versions`]); the
//! walkthrough narrates the sequence.

use cudarc::driver::{CudaView, CudaViewMut, LaunchConfig, PushKernelArg};

use crate::backend::cuda::device::{grid, int};
use crate::backend::cuda::{cuda_err, DeviceFactor, Gpu};
use crate::error::{Error, Result};
use crate::ops::Storage;

/// A version of `dot_forward`: `out[b] = Σ_k a[b,k]·b[b,k]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DotVersion {
    /// v1, `dot_forward`: a thread per row, k in order (the CPU's sum).
    ThreadPerRow,
    /// v2, `dot_forward_warp`: a warp per row, coalesced, `warp_sum`.
    WarpPerRow,
    /// v3, `dot_forward_warp4`: a warp per row, float4 loads.
    WarpFloat4,
    /// v4, `dot_forward_halfwarp4`: half a warp per row, float4 loads.
    HalfWarpFloat4,
}

impl DotVersion {
    /// Every version, in the order they were written.
    pub const ALL: [DotVersion; 4] = [
        DotVersion::ThreadPerRow,
        DotVersion::WarpPerRow,
        DotVersion::WarpFloat4,
        DotVersion::HalfWarpFloat4,
    ];

    /// The kernel's name in `kernels/dot.cu`.
    pub fn kernel(self) -> &'static str {
        match self {
            DotVersion::ThreadPerRow => "dot_forward",
            DotVersion::WarpPerRow => "dot_forward_warp",
            DotVersion::WarpFloat4 => "dot_forward_warp4",
            DotVersion::HalfWarpFloat4 => "dot_forward_halfwarp4",
        }
    }

    /// What changed in this version, in a few words.
    pub fn about(self) -> &'static str {
        match self {
            DotVersion::ThreadPerRow => "v1 thread per row (uncoalesced)",
            DotVersion::WarpPerRow => "v2 warp per row, shuffle sum",
            DotVersion::WarpFloat4 => "v3 warp per row, float4 loads",
            DotVersion::HalfWarpFloat4 => "v4 half-warp per row, float4",
        }
    }

    /// Whether it takes `f` factors: the float4 versions need `f % 4 == 0`.
    pub fn takes(self, f: usize) -> bool {
        match self {
            DotVersion::ThreadPerRow | DotVersion::WarpPerRow => true,
            DotVersion::WarpFloat4 | DotVersion::HalfWarpFloat4 => f.is_multiple_of(4),
        }
    }
}

/// A version of the sparse SGD update (`ops::mf_sgd_sparse`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SparseVersion {
    /// v1, `mf_sgd_sparse_thread`: a thread per rating, f32.
    ThreadPerRating,
    /// v2, `mf_sgd_sparse_f32_scalar`: a warp per rating, a factor a load.
    WarpScalar,
    /// v3, `mf_sgd_sparse_f32`: a warp per rating, float4 loads, room for four chunks a lane.
    WarpFloat4,
    /// v4, `mf_sgd_sparse_f32_narrow`: one chunk a lane, fewer registers.
    Narrow,
    /// v5, `mf_sgd_sparse_bf16_narrow`: v4 with bf16 storage, half the bytes.
    NarrowBf16,
}

impl SparseVersion {
    /// Every version, in the order they were written.
    pub const ALL: [SparseVersion; 5] = [
        SparseVersion::ThreadPerRating,
        SparseVersion::WarpScalar,
        SparseVersion::WarpFloat4,
        SparseVersion::Narrow,
        SparseVersion::NarrowBf16,
    ];

    /// The kernel's name in `kernels/sparse.cu`.
    pub fn kernel(self) -> &'static str {
        match self {
            SparseVersion::ThreadPerRating => "mf_sgd_sparse_thread",
            SparseVersion::WarpScalar => "mf_sgd_sparse_f32_scalar",
            SparseVersion::WarpFloat4 => "mf_sgd_sparse_f32",
            SparseVersion::Narrow => "mf_sgd_sparse_f32_narrow",
            SparseVersion::NarrowBf16 => "mf_sgd_sparse_bf16_narrow",
        }
    }

    /// What changed in this version, in a few words.
    pub fn about(self) -> &'static str {
        match self {
            SparseVersion::ThreadPerRating => "v1 thread per rating",
            SparseVersion::WarpScalar => "v2 warp per rating, scalar",
            SparseVersion::WarpFloat4 => "v3 warp per rating, float4",
            SparseVersion::Narrow => "v4 float4, one chunk a lane",
            SparseVersion::NarrowBf16 => "v5 v4 with bf16 storage",
        }
    }

    /// How it stores the factor tables.
    pub fn storage(self) -> Storage {
        match self {
            SparseVersion::NarrowBf16 => Storage::Bf16,
            _ => Storage::F32,
        }
    }

    /// Whether it takes `f` factors. Every version here is timed at
    /// F = 128; the float4 ones need `f % 4 == 0`, the scalar and narrow
    /// ones `f ≤ 128`.
    pub fn takes(self, f: usize) -> bool {
        f > 0
            && match self {
                SparseVersion::ThreadPerRating => true,
                SparseVersion::WarpScalar => f <= 128,
                SparseVersion::WarpFloat4 => f.is_multiple_of(4) && f <= 512,
                SparseVersion::Narrow | SparseVersion::NarrowBf16 => f.is_multiple_of(4) && f <= 128,
            }
    }
}

impl Gpu {
    /// [`Gpu::dot_forward`] as version `v`: see [`crate::ops::dot_forward`].
    ///
    /// out (B), a (B,F), b (B,F)
    pub fn dot_forward_version(
        &self,
        v: DotVersion,
        out: &mut CudaViewMut<'_, f32>,
        a: &CudaView<'_, f32>,
        b: &CudaView<'_, f32>,
        batch: usize,
        f: usize,
    ) -> Result<()> {
        let what = v.kernel();
        assert!(out.len() >= batch && a.len() >= batch * f && b.len() >= batch * f);
        if !v.takes(f) {
            return Err(Error::invalid(
                what,
                format!("{f} factors; it needs a multiple of 4"),
            ));
        }
        let func = match v {
            DotVersion::ThreadPerRow => &self.k.dot_forward,
            DotVersion::WarpPerRow => &self.k.dot_forward_warp,
            DotVersion::WarpFloat4 => &self.k.dot_forward_warp4,
            DotVersion::HalfWarpFloat4 => &self.k.dot_forward_halfwarp4,
        };
        // Threads: one a row, 32 a row, or 32 for two rows.
        let threads = match v {
            DotVersion::ThreadPerRow => batch,
            DotVersion::WarpPerRow | DotVersion::WarpFloat4 => batch.saturating_mul(32),
            DotVersion::HalfWarpFloat4 => batch.div_ceil(2).saturating_mul(32),
        };
        let (n, f_arg) = (int(what, batch)?, int(what, f)?);
        let mut l = self.stream.launch_builder(func);
        l.arg(out).arg(a).arg(b).arg(&n).arg(&f_arg);
        // SAFETY: every version is (float*, const float*, const float*, int, int);
        // sizes asserted above, and the float4 versions get f % 4 == 0, so every
        // row of a and b starts 16-byte aligned (cudarc's buffers are 256-aligned).
        unsafe { l.launch(grid(threads)) }.map_err(|e| cuda_err(what, e))?;
        Ok(())
    }

    /// [`Gpu::mf_sgd_sparse`] as version `v`: see [`crate::ops::mf_sgd_sparse`].
    /// `S` must be `v`'s storage. With `max_warps` 1 the ratings run in
    /// order (one warp; v1, one thread), as the CPU twin runs them.
    ///
    /// u (Nu,F), m (Ni,F), ub (Nu), mb (Ni), rows (n each), sq_err (n)
    #[allow(clippy::too_many_arguments)]
    pub fn mf_sgd_sparse_version<S: DeviceFactor>(
        &self,
        v: SparseVersion,
        u: &mut CudaViewMut<'_, S::Dev>,
        m: &mut CudaViewMut<'_, S::Dev>,
        ub: &mut CudaViewMut<'_, f32>,
        mb: &mut CudaViewMut<'_, f32>,
        mu: f32,
        rows: (&CudaView<'_, u32>, &CudaView<'_, u32>, &CudaView<'_, f32>),
        sq_err: &mut CudaViewMut<'_, f32>,
        f: usize,
        lr: f32,
        reg: f32,
        max_warps: usize,
    ) -> Result<()> {
        let what = v.kernel();
        if S::STORAGE != v.storage() || !v.takes(f) {
            return Err(Error::invalid(
                what,
                format!(
                    "{} storage and {f} factors; it takes {} storage",
                    S::STORAGE.name(),
                    v.storage().name()
                ),
            ));
        }
        let func = match v {
            SparseVersion::ThreadPerRating => &self.k.mf_sgd_sparse_thread,
            SparseVersion::WarpScalar => &self.k.mf_sgd_sparse_f32_scalar,
            SparseVersion::WarpFloat4 => &self.k.mf_sgd_sparse_f32,
            SparseVersion::Narrow => &self.k.mf_sgd_sparse_f32_narrow,
            SparseVersion::NarrowBf16 => &self.k.mf_sgd_sparse_bf16_narrow,
        };
        let n = rows.0.len();
        let cfg = match (v, max_warps) {
            (SparseVersion::ThreadPerRating, 0 | 1) => LaunchConfig {
                grid_dim: (1, 1, 1),
                block_dim: (1, 1, 1),
                shared_mem_bytes: 0,
            },
            // A thread a rating: a warp holds 32 ratings.
            (SparseVersion::ThreadPerRating, _) => {
                self.hogwild_grid(func, what, max_warps, n.div_ceil(32))?
            }
            _ => self.hogwild_grid(func, what, max_warps, n)?,
        };
        self.launch_sgd_sparse::<S>(func, what, cfg, u, m, ub, mb, mu, rows, sq_err, f, lr, reg)
    }
}
