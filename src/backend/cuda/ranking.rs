//! Full ranking on the GPU: `kernels/ranking.cu`'s `score_topk`, and the
//! batched driver that ranks every evaluated user. The CPU twin is
//! [`crate::ops::score_topk`].

use cudarc::driver::{CudaView, CudaViewMut, LaunchConfig, PushKernelArg};

use crate::backend::cuda::device::int;
use crate::backend::cuda::{cuda_err, Gpu};
use crate::error::{Error, Result};

/// Threads a block of `score_topk` (its `RANK_THREADS`).
pub const RANK_THREADS: usize = 128;
/// The largest `k` the kernel keeps (its `TOPK_MAX`).
pub const TOPK_MAX: usize = 32;

/// Shared memory a `score_topk` block needs: the user's row, each
/// thread's list and one bit an item.
pub fn rank_shared_bytes(n_items: usize, f: usize, k: usize) -> usize {
    4 * (f + 2 * RANK_THREADS * k + n_items.div_ceil(32))
}

/// The most shared memory a block may use without opting in.
const SHARED_LIMIT: usize = 48 * 1024;

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
        assert!(t.ub.as_ref().map_or(true, |v| v.len() * t.f >= t.u.len()));
        assert!(t.mb.as_ref().map_or(true, |v| v.len() >= t.n_items));
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

    /// Ranks every user of `users` (host arrays: `seen_ptr` (B + 1) offsets
    /// into `seen`) against the tables, in batches of `batch` users: the
    /// best `k` items and their scores, (B, k) each.
    pub fn rank_all(
        &self,
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
            && seen_ptr.last().is_some_and(|&e| e as usize <= seen.len());
        if !offsets_ok
            || users.iter().any(|&u| u as usize >= n_users)
            || seen.iter().any(|&i| i as usize >= t.n_items)
        {
            return Err(Error::invalid(
                "ranking",
                format!(
                    "{} users, {} offsets and {} seen items do not fit tables of {n_users} users and {} items",
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
            self.score_topk(
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
