//! The wrappers of `kernels/dot.cu`: the batched dot product, its backward,
//! and the bias add; and the earlier versions of `dot_forward`, kept side by
//! side the way llm.c's `dev/cuda` keeps each step of an optimisation
//! runnable ([`DotVersion`], checked and timed by `mfcuda bench --versions`).
//! Each takes the arguments of its CPU twin in [`crate::ops`], with device
//! views in place of slices.

use cudarc::driver::{CudaView, CudaViewMut, PushKernelArg};

use crate::backend::cuda::device::{grid, int};
use crate::backend::cuda::{cuda_err, Gpu};
use crate::error::{Error, Result};

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

impl Gpu {
    /// See [`crate::ops::dot_forward`]; `batch` rows.
    pub fn dot_forward(
        &self,
        out: &mut CudaViewMut<'_, f32>,
        a: &CudaView<'_, f32>,
        b: &CudaView<'_, f32>,
        batch: usize,
        f: usize,
    ) -> Result<()> {
        assert!(out.len() >= batch && a.len() >= batch * f && b.len() >= batch * f);
        let (n, f_arg) = (int("dot_forward", batch)?, int("dot_forward", f)?);
        // SAFETY: matches dot_forward(float*, const float*, const float*, int, int);
        // sizes asserted above.
        unsafe { launch!(self, dot_forward, grid(batch); out, a, b, &n, &f_arg) }
    }

    /// See [`crate::ops::dot_backward`]; `batch` rows.
    #[allow(clippy::too_many_arguments)]
    pub fn dot_backward(
        &self,
        da: &mut CudaViewMut<'_, f32>,
        db: &mut CudaViewMut<'_, f32>,
        dout: &CudaView<'_, f32>,
        a: &CudaView<'_, f32>,
        b: &CudaView<'_, f32>,
        batch: usize,
        f: usize,
    ) -> Result<()> {
        let n = batch * f;
        assert!(da.len() >= n && db.len() >= n && dout.len() >= batch && a.len() >= n && b.len() >= n);
        let (b_arg, f_arg) = (int("dot_backward", batch)?, int("dot_backward", f)?);
        // SAFETY: matches dot_backward(float*, float*, const float*, const float*,
        // const float*, int, int); sizes asserted above.
        unsafe { launch!(self, dot_backward, grid(n); da, db, dout, a, b, &b_arg, &f_arg) }
    }

    /// See [`crate::ops::bias_add`].
    pub fn bias_add(
        &self,
        x: &mut CudaViewMut<'_, f32>,
        bias: &CudaView<'_, f32>,
        idx: &CudaView<'_, u32>,
    ) -> Result<()> {
        let batch = idx.len();
        assert!(x.len() >= batch);
        let b = int("bias_add", batch)?;
        // SAFETY: matches bias_add(float*, const float*, const uint*, int); every idx
        // is an entry of bias.
        unsafe { launch!(self, bias_add, grid(batch); x, bias, idx, &b) }
    }

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
}
