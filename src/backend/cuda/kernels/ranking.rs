//! Full ranking on the GPU: `kernels/ranking.cu`'s two versions of the
//! scoring and top-k kernel, and the batched driver that ranks every
//! evaluated user. The CPU twin of both is [`crate::ops::score_topk`]; they
//! agree with it to the bit.
//!
//! - v1, `score_topk` ([`Gpu::score_topk`]): one block a user; every block
//!   reads the whole item table, each lane its own row (uncoalesced).
//! - v2, `score_topk_tiled` ([`Gpu::score_topk_tiled`]): [`RANK_USERS`] users
//!   a block, the items tiled through shared memory with coalesced loads; the
//!   default wherever it fits ([`RankKernel::default_for`]).
//!
//! `mfcuda bench --ranking` prints both versions' cost model on an H200
//! ([`crate::eval::ranking_model::model`]) and times both on a card.

use cudarc::driver::{CudaView, CudaViewMut, LaunchConfig, PushKernelArg};

use crate::backend::cuda::device::int;
use crate::backend::cuda::{cuda_err, Gpu};
use crate::error::{Error, Result};

/// Threads a block of either version (`RANK_THREADS`); also the items a
/// tile of `score_topk_tiled` holds (one a thread).
pub const RANK_THREADS: usize = 128;
/// The largest `k` the kernels keep (`TOPK_MAX`).
pub const TOPK_MAX: usize = 32;
/// Users a block of `score_topk_tiled` (`RANK_USERS`).
pub const RANK_USERS: usize = 16;
/// Factors a tile of `score_topk_tiled` holds at once (`RANK_CHUNK`).
pub const RANK_CHUNK: usize = 32;
/// Floats between two rows of that tile in shared memory (`RANK_STRIDE`,
/// odd, so that thread t reading row t hits no bank twice).
pub const RANK_STRIDE: usize = RANK_CHUNK + 1;

/// Shared memory a `score_topk` block needs: the user's row, each
/// thread's list and one bit an item.
pub fn rank_shared_bytes(n_items: usize, f: usize, k: usize) -> usize {
    4 * (f + 2 * RANK_THREADS * k + n_items.div_ceil(32))
}

/// Shared memory a `score_topk_tiled` block needs, whatever the catalogue:
/// the users' rows (f, RANK_USERS), the tile (RANK_THREADS, RANK_STRIDE),
/// the lists (RANK_USERS, k | 1) and candidates (RANK_USERS,
/// RANK_THREADS + 1) of (score, item) (odd rows: no bank conflicts between
/// the users' inserting threads), a tile's seen bits, the counts and the
/// user biases.
pub fn tiled_shared_bytes(f: usize, k: usize) -> usize {
    let (ks, cstride) = (k | 1, RANK_THREADS + 1);
    4 * (RANK_USERS * (f + 2 * ks + 2 * cstride + RANK_THREADS / 32 + 2) + RANK_THREADS * RANK_STRIDE)
}

/// The most shared memory a block may use without opting in.
const SHARED_LIMIT: usize = 48 * 1024;

/// A version of the ranking kernel. Both agree with
/// [`crate::ops::score_topk`] to the bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum RankKernel {
    /// v1, `score_topk`: one block a user, each lane reading its own row.
    PerUser,
    /// v2, `score_topk_tiled`: [`RANK_USERS`] users a block, items tiled
    /// through shared memory.
    Tiled,
}

impl RankKernel {
    /// Both versions, in the order they were written.
    pub const ALL: [RankKernel; 2] = [RankKernel::PerUser, RankKernel::Tiled];

    /// The kernel's name in `kernels/ranking.cu`.
    pub fn kernel(self) -> &'static str {
        match self {
            RankKernel::PerUser => "score_topk",
            RankKernel::Tiled => "score_topk_tiled",
        }
    }

    /// The version in a few words.
    pub fn about(self) -> &'static str {
        match self {
            RankKernel::PerUser => "v1 one block a user, row a lane",
            RankKernel::Tiled => "v2 16 users a block, item tiles",
        }
    }

    /// Users one block ranks.
    pub fn users_per_block(self) -> usize {
        match self {
            RankKernel::PerUser => 1,
            RankKernel::Tiled => RANK_USERS,
        }
    }

    /// Shared memory a block needs at this shape.
    pub fn shared_bytes(self, n_items: usize, f: usize, k: usize) -> usize {
        match self {
            RankKernel::PerUser => rank_shared_bytes(n_items, f, k),
            RankKernel::Tiled => tiled_shared_bytes(f, k),
        }
    }

    /// Whether this version takes the shape: k from 1 to [`TOPK_MAX`], the
    /// block's shared memory within 48 KiB (and, for v2, f ≥ 1).
    pub fn fits(self, n_items: usize, f: usize, k: usize) -> bool {
        (1..=TOPK_MAX).contains(&k)
            && self.shared_bytes(n_items, f, k) <= SHARED_LIMIT
            && (self == RankKernel::PerUser || f >= 1)
    }

    /// The version [`Gpu::rank_all`] runs: v2, the faster by the model
    /// (`bench --ranking`), where it fits; else v1.
    pub fn default_for(n_items: usize, f: usize, k: usize) -> RankKernel {
        if RankKernel::Tiled.fits(n_items, f, k) {
            RankKernel::Tiled
        } else {
            RankKernel::PerUser
        }
    }
}

/// The model tables the kernel reads, already on the device.
pub struct RankTables<'a> {
    /// User embeddings (n_users, f).
    pub u: CudaView<'a, f32>,
    /// Item embeddings (n_items, f).
    pub m: CudaView<'a, f32>,
    /// User biases (n_users), if the model has them.
    pub ub: Option<CudaView<'a, f32>>,
    /// Item biases (n_items), if the model has them.
    pub mb: Option<CudaView<'a, f32>>,
    /// Items.
    pub n_items: usize,
    /// Factors.
    pub f: usize,
}

impl Gpu {
    /// See [`crate::ops::score_topk`]: one block a user of `users` (B),
    /// `seen_ptr` (B + 1) offsets into `seen`; `top_items` and `top_scores`
    /// (B, k).
    #[allow(clippy::too_many_arguments)]
    pub fn score_topk(
        &self,
        top_items: &mut CudaViewMut<'_, u32>,
        top_scores: &mut CudaViewMut<'_, f32>,
        t: &RankTables<'_>,
        users: &CudaView<'_, u32>,
        seen_ptr: &CudaView<'_, u32>,
        seen: &CudaView<'_, u32>,
        k: usize,
    ) -> Result<()> {
        let b = users.len();
        assert!(top_items.len() >= b * k && top_scores.len() >= b * k && seen_ptr.len() > b);
        assert!(t.u.len() % t.f.max(1) == 0 && t.m.len() >= t.n_items * t.f);
        assert!(t.ub.as_ref().is_none_or(|v| v.len() * t.f >= t.u.len()));
        assert!(t.mb.as_ref().is_none_or(|v| v.len() >= t.n_items));
        let shared = rank_shared_bytes(t.n_items, t.f, k);
        if k == 0 || k > TOPK_MAX || shared > SHARED_LIMIT {
            return Err(Error::invalid(
                "--metrics",
                format!(
                    "the GPU ranks k from 1 to {TOPK_MAX} over a catalogue whose bitmap, lists and row fit \
                     48 KiB of shared memory: k = {k}, {} items and {} factors need {shared} bytes; use --device cpu",
                    t.n_items, t.f
                ),
            ));
        }
        let name = "score_topk";
        let (n_items, f, k_arg) = (int(name, t.n_items)?, int(name, t.f)?, int(name, k)?);
        let (has_ub, has_mb) = (t.ub.is_some() as i32, t.mb.is_some() as i32);
        // A one-element stand-in where a bias is absent: the kernel never reads it.
        let dummy = self.zeros::<f32>(1)?;
        let dummy = dummy.slice(..);
        let ub = t.ub.as_ref().unwrap_or(&dummy);
        let mb = t.mb.as_ref().unwrap_or(&dummy);
        let mut l = self.stream.launch_builder(&self.k.score_topk);
        l.arg(top_items)
            .arg(top_scores)
            .arg(&t.u)
            .arg(&t.m)
            .arg(ub)
            .arg(mb)
            .arg(users)
            .arg(seen_ptr)
            .arg(seen)
            .arg(&n_items)
            .arg(&f)
            .arg(&k_arg)
            .arg(&has_ub)
            .arg(&has_mb);
        let cfg = LaunchConfig {
            grid_dim: (int(name, b)? as u32, 1, 1),
            block_dim: (RANK_THREADS as u32, 1, 1),
            shared_mem_bytes: shared as u32,
        };
        // SAFETY: matches score_topk(unsigned int*, float*, const float*, const float*,
        // const float*, const float*, const unsigned int*, const unsigned int*,
        // const unsigned int*, int, int, int, int, int); sizes asserted above, and
        // every seen_ptr offset is at most seen.len() (the caller builds them).
        unsafe { l.launch(cfg) }.map_err(|e| cuda_err(name, e))?;
        Ok(())
    }

    /// See [`crate::ops::score_topk`]: v2, `score_topk_tiled`, with
    /// [`RANK_USERS`] users a block; the same arguments and results as
    /// [`Gpu::score_topk`]. Each user's run of `seen` must be sorted.
    #[allow(clippy::too_many_arguments)]
    pub fn score_topk_tiled(
        &self,
        top_items: &mut CudaViewMut<'_, u32>,
        top_scores: &mut CudaViewMut<'_, f32>,
        t: &RankTables<'_>,
        users: &CudaView<'_, u32>,
        seen_ptr: &CudaView<'_, u32>,
        seen: &CudaView<'_, u32>,
        k: usize,
    ) -> Result<()> {
        let b = users.len();
        assert!(top_items.len() >= b * k && top_scores.len() >= b * k && seen_ptr.len() > b);
        assert!(t.u.len() % t.f.max(1) == 0 && t.m.len() >= t.n_items * t.f);
        assert!(t.ub.as_ref().is_none_or(|v| v.len() * t.f >= t.u.len()));
        assert!(t.mb.as_ref().is_none_or(|v| v.len() >= t.n_items));
        let shared = tiled_shared_bytes(t.f, k);
        if !RankKernel::Tiled.fits(t.n_items, t.f, k) {
            return Err(Error::invalid(
                "--metrics",
                format!(
                    "score_topk_tiled ranks k from 1 to {TOPK_MAX} with 1 factor or more and its tile, rows \
                     and lists in 48 KiB of shared memory: k = {k} and {} factors need {shared} bytes",
                    t.f
                ),
            ));
        }
        if b == 0 {
            return Ok(());
        }
        let name = "score_topk_tiled";
        let (batch, n_items, f, k_arg) = (
            int(name, b)?,
            int(name, t.n_items)?,
            int(name, t.f)?,
            int(name, k)?,
        );
        let (has_ub, has_mb) = (t.ub.is_some() as i32, t.mb.is_some() as i32);
        let dummy = self.zeros::<f32>(1)?;
        let dummy = dummy.slice(..);
        let ub = t.ub.as_ref().unwrap_or(&dummy);
        let mb = t.mb.as_ref().unwrap_or(&dummy);
        let mut l = self.stream.launch_builder(&self.k.score_topk_tiled);
        l.arg(top_items)
            .arg(top_scores)
            .arg(&t.u)
            .arg(&t.m)
            .arg(ub)
            .arg(mb)
            .arg(users)
            .arg(seen_ptr)
            .arg(seen)
            .arg(&batch)
            .arg(&n_items)
            .arg(&f)
            .arg(&k_arg)
            .arg(&has_ub)
            .arg(&has_mb);
        let cfg = LaunchConfig {
            grid_dim: (int(name, b.div_ceil(RANK_USERS))? as u32, 1, 1),
            block_dim: (RANK_THREADS as u32, 1, 1),
            shared_mem_bytes: shared as u32,
        };
        // SAFETY: matches score_topk_tiled(unsigned int*, float*, const float*, const float*,
        // const float*, const float*, const unsigned int*, const unsigned int*,
        // const unsigned int*, int, int, int, int, int, int); sizes asserted above; every
        // seen_ptr offset is at most seen.len() and each user's run is sorted (the caller
        // builds them: rank_all checks).
        unsafe { l.launch(cfg) }.map_err(|e| cuda_err(name, e))?;
        Ok(())
    }

    /// [`Gpu::score_topk`] or [`Gpu::score_topk_tiled`], as `kernel` says.
    #[allow(clippy::too_many_arguments)]
    pub fn score_topk_with(
        &self,
        kernel: RankKernel,
        top_items: &mut CudaViewMut<'_, u32>,
        top_scores: &mut CudaViewMut<'_, f32>,
        t: &RankTables<'_>,
        users: &CudaView<'_, u32>,
        seen_ptr: &CudaView<'_, u32>,
        seen: &CudaView<'_, u32>,
        k: usize,
    ) -> Result<()> {
        match kernel {
            RankKernel::PerUser => self.score_topk(top_items, top_scores, t, users, seen_ptr, seen, k),
            RankKernel::Tiled => self.score_topk_tiled(top_items, top_scores, t, users, seen_ptr, seen, k),
        }
    }

    /// Ranks every user of `users` (host arrays: `seen_ptr` (B + 1) offsets
    /// into `seen`, each user's run sorted) against the tables, in batches of
    /// `batch` users: the best `k` items and their scores, (B, k) each. It
    /// runs [`RankKernel::default_for`] the shape.
    pub fn rank_all(
        &self,
        t: &RankTables<'_>,
        users: &[u32],
        seen_ptr: &[u32],
        seen: &[u32],
        k: usize,
        batch: usize,
    ) -> Result<(Vec<u32>, Vec<f32>)> {
        let kernel = RankKernel::default_for(t.n_items, t.f, k);
        self.rank_all_with(kernel, t, users, seen_ptr, seen, k, batch)
    }

    /// [`Gpu::rank_all`] with the version `kernel`.
    #[allow(clippy::too_many_arguments)]
    pub fn rank_all_with(
        &self,
        kernel: RankKernel,
        t: &RankTables<'_>,
        users: &[u32],
        seen_ptr: &[u32],
        seen: &[u32],
        k: usize,
        batch: usize,
    ) -> Result<(Vec<u32>, Vec<f32>)> {
        // The kernel trusts its indices: check them here, once.
        let n_users = t.u.len() / t.f.max(1);
        let offsets_ok = seen_ptr.len() == users.len() + 1
            && seen_ptr.windows(2).all(|w| w[0] <= w[1])
            && seen_ptr.last().is_some_and(|&e| e as usize <= seen.len())
            // Sorted runs: ops::score_topk searches them, and v2 walks them.
            && seen_ptr
                .windows(2)
                .all(|w| seen[w[0] as usize..w[1] as usize].windows(2).all(|p| p[0] <= p[1]));
        if !offsets_ok
            || users.iter().any(|&u| u as usize >= n_users)
            || seen.iter().any(|&i| i as usize >= t.n_items)
        {
            return Err(Error::invalid(
                "ranking",
                format!(
                    "{} users, {} offsets and {} seen items (sorted a user) do not fit tables of {n_users} users \
                     and {} items",
                    users.len(),
                    seen_ptr.len(),
                    seen.len(),
                    t.n_items
                ),
            ));
        }
        let seen_dev = self.upload(if seen.is_empty() { &[0u32][..] } else { seen })?;
        let batch = batch.max(1);
        let (mut items_dev, mut scores_dev) = (self.zeros::<u32>(batch * k)?, self.zeros::<f32>(batch * k)?);
        let (mut items, mut scores) = (
            Vec::with_capacity(users.len() * k),
            Vec::with_capacity(users.len() * k),
        );
        for start in (0..users.len()).step_by(batch) {
            let end = (start + batch).min(users.len());
            let (u_dev, p_dev) = (
                self.upload(&users[start..end])?,
                self.upload(&seen_ptr[start..=end])?,
            );
            let n = (end - start) * k;
            self.score_topk_with(
                kernel,
                &mut items_dev.slice_mut(..n),
                &mut scores_dev.slice_mut(..n),
                t,
                &u_dev.slice(..),
                &p_dev.slice(..),
                &seen_dev.slice(..),
                k,
            )?;
            items.extend(self.download(&items_dev.slice(..n))?);
            scores.extend(self.download(&scores_dev.slice(..n))?);
        }
        Ok((items, scores))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernels_constants_are_the_hosts() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("kernels/ranking.cu");
        let text = std::fs::read_to_string(path).expect("kernels/ranking.cu");
        for (name, host) in [
            ("RANK_THREADS", RANK_THREADS),
            ("TOPK_MAX", TOPK_MAX),
            ("RANK_USERS", RANK_USERS),
            ("RANK_CHUNK", RANK_CHUNK),
            ("RANK_STRIDE", RANK_STRIDE),
        ] {
            assert!(
                text.contains(&format!("#define {name} {host} "))
                    || text.contains(&format!("#define {name} {host}\n")),
                "{name} in kernels/ranking.cu must be the host's {host}"
            );
        }
        // float4 loads of four users' factor j; odd stride; one item a thread a tile.
        assert_eq!(RANK_USERS % 4, 0);
        assert_eq!(RANK_STRIDE % 2, 1);
        assert_eq!(RANK_CHUNK, 32);
    }

    #[test]
    fn the_tiled_version_is_the_default_where_it_fits() {
        // ml-25m's shape, k = 10: both fit; v2 runs.
        assert!(RankKernel::PerUser.fits(59_047, 32, 10));
        assert_eq!(RankKernel::default_for(59_047, 32, 10), RankKernel::Tiled);
        // v2's shared memory does not grow with the catalogue; v1's bitmap does.
        assert_eq!(tiled_shared_bytes(32, 10), 37_248);
        assert!(!RankKernel::PerUser.fits(2_000_000, 32, 10));
        assert_eq!(RankKernel::default_for(2_000_000, 32, 10), RankKernel::Tiled);
        // Wide rows: v2 holds 16 of them; past 174 factors at k = 32 it does not fit.
        assert!(RankKernel::Tiled.fits(1000, 174, 32));
        assert!(!RankKernel::Tiled.fits(1000, 175, 32));
        assert_eq!(RankKernel::default_for(1000, 175, 32), RankKernel::PerUser);
        // No factors: v1 only (v2's barriers between tile loads need a chunk).
        assert_eq!(RankKernel::default_for(1000, 0, 5), RankKernel::PerUser);
        for v in RankKernel::ALL {
            assert!(!v.fits(1000, 32, 0) && !v.fits(1000, 32, TOPK_MAX + 1));
        }
    }
}
