//! The wrappers of `kernels/sparse.cu` (sparse SGD, prediction, group
//! means), generic over how the factors are stored on the device:
//! [`DeviceFactor`], f32 or bf16; and the earlier versions of the update
//! ([`SparseVersion`]), kept side by side for `mfcuda bench --versions`.

use cudarc::driver::{
    CudaFunction, CudaView, CudaViewMut, DeviceRepr, LaunchConfig, PushKernelArg, ValidAsZeroBits,
};

use crate::backend::cuda::device::{grid, int, BLOCK, MAX_BLOCKS};
use crate::backend::cuda::{cuda_err, Gpu};
use crate::error::{Error, Result};
use crate::ops::{Factor, Storage};

/// A factor storage type ([`Factor`]) and its bits on the device: f32 as
/// f32, bf16 as the u16 that holds its bits (the kernels' `struct bf16`).
pub trait DeviceFactor: Factor {
    /// The element type of the device buffer.
    type Dev: DeviceRepr + ValidAsZeroBits + Copy + Unpin + Default + std::fmt::Debug + 'static;
    /// The device representation.
    fn to_dev(self) -> Self::Dev;
    /// Back from the device representation.
    fn from_dev(d: Self::Dev) -> Self;
}

impl DeviceFactor for f32 {
    type Dev = f32;
    fn to_dev(self) -> f32 {
        self
    }
    fn from_dev(d: f32) -> f32 {
        d
    }
}

impl DeviceFactor for half::bf16 {
    type Dev = u16;
    fn to_dev(self) -> u16 {
        self.to_bits()
    }
    fn from_dev(d: u16) -> half::bf16 {
        half::bf16::from_bits(d)
    }
}

/// The widest embedding the sparse kernels take: each lane holds at most
/// four chunks of its row in registers, four factors a chunk when `f` is a
/// multiple of 4 and one otherwise (see `kernels/sparse.cu`).
pub fn sparse_max_factors(f: usize) -> usize {
    if f.is_multiple_of(4) {
        512
    } else {
        128
    }
}

impl Gpu {
    // ------------------------------------------------------------ sparse SGD

    /// The launch of a sparse SGD kernel that runs one warp per unit of
    /// `work` (a rating, or a run): with `max_warps` 1, a single warp, which
    /// takes the work in the CPU's order; otherwise at most `max_warps` warps
    /// and at most as many blocks as the GPU holds at once. The resident warps
    /// then sweep the work once, side by side, so that a tile's rows meet in
    /// L2; a larger grid would start later waves at the far end of the order,
    /// and every wave would reload every tile.
    pub(in crate::backend::cuda) fn hogwild_grid(
        &self,
        func: &CudaFunction,
        what: &str,
        max_warps: usize,
        work: usize,
    ) -> Result<LaunchConfig> {
        if max_warps <= 1 {
            return Ok(LaunchConfig {
                grid_dim: (1, 1, 1),
                block_dim: (32, 1, 1),
                shared_mem_bytes: 0,
            });
        }
        let per_sm = func
            .occupancy_max_active_blocks_per_multiprocessor(BLOCK, 0, None)
            .map_err(|e| cuda_err(what, e))?;
        let resident = (per_sm.max(1) as usize * self.sm_count).max(1);
        let wanted = max_warps
            .min(work.max(1))
            .saturating_mul(32)
            .div_ceil(BLOCK as usize);
        Ok(LaunchConfig {
            grid_dim: (wanted.clamp(1, resident).min(MAX_BLOCKS) as u32, 1, 1),
            block_dim: (BLOCK, 1, 1),
            shared_mem_bytes: 0,
        })
    }

    /// See [`crate::ops::mf_sgd_sparse`]: one warp per rating (Hogwild), at
    /// most `max_warps` at once and never more than the GPU holds; with
    /// `max_warps` 1, a single warp that takes the ratings in order, as the
    /// CPU does. `rows` are (users, items, ratings); `sq_err` gets each
    /// rating's squared error before its update.
    #[allow(clippy::too_many_arguments)]
    pub fn mf_sgd_sparse<S: DeviceFactor>(
        &self,
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
        let what = "mf_sgd_sparse";
        if f == 0 || f > sparse_max_factors(f) {
            return Err(Error::invalid(
                what,
                format!("{f} factors; the sparse kernels take 1 to 128, or up to 512 in multiples of 4"),
            ));
        }
        // One chunk a lane fits F ≤ 128 (multiples of 4) or F ≤ 32: fewer registers, more warps.
        let narrow = f <= if f.is_multiple_of(4) { 128 } else { 32 };
        let func = match (S::STORAGE, narrow) {
            (Storage::F32, false) => &self.k.mf_sgd_sparse_f32,
            (Storage::Bf16, false) => &self.k.mf_sgd_sparse_bf16,
            (Storage::F32, true) => &self.k.mf_sgd_sparse_f32_narrow,
            (Storage::Bf16, true) => &self.k.mf_sgd_sparse_bf16_narrow,
        };
        let cfg = self.hogwild_grid(func, what, max_warps, rows.0.len())?;
        self.launch_sgd_sparse::<S>(func, what, cfg, u, m, ub, mb, mu, rows, sq_err, f, lr, reg)
    }

    /// Launches `func`, a sparse SGD kernel of the signature every one of
    /// them shares (`mf_sgd_sparse_*` and their versions in
    /// [`SparseVersion`]), with `cfg`. The caller has checked that `f` is
    /// within `func`'s limit and that `S` is its storage.
    #[allow(clippy::too_many_arguments)]
    pub(in crate::backend::cuda) fn launch_sgd_sparse<S: DeviceFactor>(
        &self,
        func: &CudaFunction,
        what: &str,
        cfg: LaunchConfig,
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
    ) -> Result<()> {
        let (users, items, ratings) = rows;
        let n = users.len();
        assert!(items.len() == n && ratings.len() == n && sq_err.len() >= n);
        assert!(u.len() == ub.len() * f && m.len() == mb.len() * f);
        let (n_arg, f_arg) = (int(what, n)?, int(what, f)?);
        let mut l = self.stream.launch_builder(func);
        l.arg(u).arg(m).arg(ub).arg(mb).arg(&mu);
        l.arg(users).arg(items).arg(ratings).arg(sq_err);
        l.arg(&n_arg).arg(&f_arg).arg(&lr).arg(&reg);
        // SAFETY: every sparse SGD kernel is (S*, S*, float*, float*, float, const uint* x2,
        // const float*, float*, int, int, float, float) with S the device type of
        // S::Dev (float, or the 2-byte struct bf16), which the caller matched to func;
        // u and m hold (rows × f) factors (asserted above), the indices are below their
        // rows (the caller's), sq_err holds n floats, and f is within func's limit (the
        // caller checked).
        unsafe { l.launch(cfg) }.map_err(|e| cuda_err(what, e))?;
        Ok(())
    }

    /// The widest embedding [`Gpu::mf_sgd_sparse_runs`] takes: one chunk a
    /// lane, F ≤ 128 in multiples of 4, or F ≤ 32.
    pub fn sparse_runs_fit(f: usize) -> bool {
        f >= 1 && f <= if f.is_multiple_of(4) { 128 } else { 32 }
    }

    /// See [`crate::ops::mf_sgd_sparse_runs`]: one warp per run, warp w
    /// taking runs `perm.get(w)`, `perm.get(w + warps)`, …, at most
    /// `max_warps` at once (with 1, the CPU's order). `rows` are the ratings
    /// grouped into runs, `starts` the runs' bounds; `sq_err` gets each
    /// rating's squared error, by its place in `rows`.
    #[allow(clippy::too_many_arguments)]
    pub fn mf_sgd_sparse_runs<S: DeviceFactor>(
        &self,
        u: &mut CudaViewMut<'_, S::Dev>,
        m: &mut CudaViewMut<'_, S::Dev>,
        ub: &mut CudaViewMut<'_, f32>,
        mb: &mut CudaViewMut<'_, f32>,
        mu: f32,
        rows: (&CudaView<'_, u32>, &CudaView<'_, u32>, &CudaView<'_, f32>),
        starts: &CudaView<'_, u32>,
        perm: &crate::rng::Feistel,
        sq_err: &mut CudaViewMut<'_, f32>,
        f: usize,
        lr: f32,
        reg: f32,
        max_warps: usize,
    ) -> Result<()> {
        let what = "mf_sgd_sparse_runs";
        let (users, items, ratings) = rows;
        let n = users.len();
        let runs = perm.len() as usize;
        assert!(items.len() == n && ratings.len() == n && sq_err.len() >= n && starts.len() == runs + 1);
        assert!(u.len() == ub.len() * f && m.len() == mb.len() * f);
        if !Self::sparse_runs_fit(f) {
            return Err(Error::invalid(
                what,
                format!("{f} factors; the run kernel takes up to 128 in multiples of 4, or up to 32"),
            ));
        }
        let func = match S::STORAGE {
            Storage::F32 => &self.k.mf_sgd_sparse_runs_f32,
            Storage::Bf16 => &self.k.mf_sgd_sparse_runs_bf16,
        };
        let dims = [int(what, runs)?, int(what, f)?];
        let (half, keys) = (perm.half_bits(), perm.keys);
        let mut l = self.stream.launch_builder(func);
        l.arg(u).arg(m).arg(ub).arg(mb).arg(&mu);
        l.arg(users).arg(items).arg(ratings).arg(starts).arg(sq_err);
        l.arg(&dims[0]).arg(&dims[1]).arg(&lr).arg(&reg);
        l.arg(&half)
            .arg(&keys[0])
            .arg(&keys[1])
            .arg(&keys[2])
            .arg(&keys[3]);
        let cfg = self.hogwild_grid(func, what, max_warps, runs)?;
        // SAFETY: matches mf_sgd_sparse_runs_{f32,bf16}(S*, S*, float*, float*, float, const uint* x2,
        // const float*, const uint*, float*, int, int, float, float, uint x5) with S the device
        // type of S::Dev; u and m hold (rows × f) factors, the indices are below their rows,
        // starts holds runs + 1 bounds within the n ratings, sq_err n floats; f fits one chunk a
        // lane (checked above).
        unsafe { l.launch(cfg) }.map_err(|e| cuda_err(what, e))?;
        Ok(())
    }

    /// How many warps [`Gpu::mf_sgd_sparse_tasks`] launches for at most
    /// `max_warps` and `work` tasks: what [`crate::data::tasks::share_cap`]
    /// sizes the shares for.
    pub fn sparse_tasks_warps(&self, storage: Storage, max_warps: usize, work: usize) -> Result<usize> {
        let cfg = self.hogwild_grid(self.tasks_kernel(storage), "mf_sgd_sparse_tasks", max_warps, work)?;
        Ok(cfg.grid_dim.0 as usize * cfg.block_dim.0 as usize / 32)
    }

    fn tasks_kernel(&self, storage: Storage) -> &CudaFunction {
        match storage {
            Storage::F32 => &self.k.mf_sgd_sparse_tasks_f32,
            Storage::Bf16 => &self.k.mf_sgd_sparse_tasks_bf16,
        }
    }

    /// See [`crate::ops::mf_sgd_sparse_tasks`]: one warp a task, each warp
    /// taking the next task of the queue (`order`) when it finishes one,
    /// [`Gpu::sparse_tasks_warps`] warps. `rows` are the ratings grouped by
    /// user, `tasks` the tasks' bounds in them and whether each is shared;
    /// `next` is the queue's head, zeroed here before the launch; `sq_err`
    /// gets each rating's squared error, by its place in `rows`.
    #[allow(clippy::too_many_arguments)]
    pub fn mf_sgd_sparse_tasks<S: DeviceFactor>(
        &self,
        u: &mut CudaViewMut<'_, S::Dev>,
        m: &mut CudaViewMut<'_, S::Dev>,
        ub: &mut CudaViewMut<'_, f32>,
        mb: &mut CudaViewMut<'_, f32>,
        mu: f32,
        rows: (&CudaView<'_, u32>, &CudaView<'_, u32>, &CudaView<'_, f32>),
        tasks: (&CudaView<'_, u32>, &CudaView<'_, u32>, &CudaView<'_, u32>),
        blocks: &CudaView<'_, u32>,
        next: &mut CudaViewMut<'_, u32>,
        order: &crate::rng::Blocked,
        sq_err: &mut CudaViewMut<'_, f32>,
        hyper: (usize, f32, f32, usize),
        max_warps: usize,
    ) -> Result<()> {
        let what = "mf_sgd_sparse_tasks";
        let (users, items, ratings) = rows;
        let (starts, ends, shared) = tasks;
        let (f, lr, reg, merge_every) = hyper;
        let n = users.len();
        let count = order.len() as usize;
        assert!(items.len() == n && ratings.len() == n && sq_err.len() >= n);
        assert!(starts.len() == count && ends.len() == count && shared.len() == count);
        assert!(!blocks.is_empty() && !next.is_empty());
        assert!(u.len() == ub.len() * f && m.len() == mb.len() * f);
        if !Self::sparse_runs_fit(f) {
            return Err(Error::invalid(
                what,
                format!("{f} factors; the task kernel takes up to 128 in multiples of 4, or up to 32"),
            ));
        }
        let func = self.tasks_kernel(S::STORAGE);
        let dims = [
            int(what, count)?,
            int(what, f)?,
            int(what, merge_every.max(1))?,
            int(what, blocks.len() - 1)?,
        ];
        let keys = order.keys();
        self.stream.memset_zeros(next).map_err(|e| cuda_err(what, e))?;
        let mut l = self.stream.launch_builder(func);
        l.arg(u).arg(m).arg(ub).arg(mb).arg(&mu);
        l.arg(users).arg(items).arg(ratings);
        l.arg(starts).arg(ends).arg(shared).arg(blocks).arg(&dims[3]);
        l.arg(next).arg(sq_err);
        l.arg(&dims[0]).arg(&dims[1]).arg(&lr).arg(&reg).arg(&dims[2]);
        l.arg(&keys[0]).arg(&keys[1]).arg(&keys[2]).arg(&keys[3]);
        let cfg = self.hogwild_grid(func, what, max_warps, count)?;
        // SAFETY: matches mf_sgd_sparse_tasks_{f32,bf16}(S*, S*, float*, float*, float, const uint* x2,
        // const float*, const uint* x4, int, uint*, float*, int, int, float, float, int, uint x4) with
        // S the device type of S::Dev; u and m hold (rows × f) factors, the indices are below their
        // rows, starts and ends bound each task within the n ratings, shared flags each, blocks
        // holds n_blocks + 1 ascending bounds from 0 to the tasks (the order's), next one counter
        // (zeroed above), sq_err n floats; f fits one chunk a lane (checked above).
        unsafe { l.launch(cfg) }.map_err(|e| cuda_err(what, e))?;
        Ok(())
    }

    /// See [`crate::ops::mf_predict`]: one warp per row.
    #[allow(clippy::too_many_arguments)]
    pub fn mf_predict<S: DeviceFactor>(
        &self,
        pred: &mut CudaViewMut<'_, f32>,
        u: &CudaView<'_, S::Dev>,
        m: &CudaView<'_, S::Dev>,
        ub: &CudaView<'_, f32>,
        mb: &CudaView<'_, f32>,
        mu: f32,
        users: &CudaView<'_, u32>,
        items: &CudaView<'_, u32>,
        f: usize,
    ) -> Result<()> {
        let what = "mf_predict";
        let n = users.len();
        assert!(items.len() == n && pred.len() >= n);
        assert!(u.len() == ub.len() * f && m.len() == mb.len() * f);
        if f == 0 || f > sparse_max_factors(f) {
            return Err(Error::invalid(
                what,
                format!("{f} factors is outside the sparse kernels' range"),
            ));
        }
        let func = match S::STORAGE {
            Storage::F32 => &self.k.mf_predict_f32,
            Storage::Bf16 => &self.k.mf_predict_bf16,
        };
        let (n_arg, f_arg) = (int(what, n)?, int(what, f)?);
        let mut l = self.stream.launch_builder(func);
        l.arg(pred).arg(u).arg(m).arg(ub).arg(mb).arg(&mu);
        l.arg(users).arg(items).arg(&n_arg).arg(&f_arg);
        // SAFETY: matches mf_predict_{f32,bf16}(float*, const S* x2, const float* x2, float,
        // const uint* x2, int, int); pred holds n floats, the indices are in range.
        unsafe { l.launch(grid(n.saturating_mul(32))) }.map_err(|e| cuda_err(what, e))?;
        Ok(())
    }

    /// See [`crate::ops::group_mean`].
    pub fn group_mean(
        &self,
        out: &mut CudaViewMut<'_, f32>,
        x: &CudaView<'_, f32>,
        group: usize,
    ) -> Result<()> {
        let n = x.len();
        let groups = n.div_ceil(group.max(1));
        assert!(group > 0 && out.len() >= groups);
        let (n_arg, g_arg) = (int("group_mean", n)?, int("group_mean", group)?);
        // SAFETY: matches group_mean(float*, const float*, int, int); out holds
        // ceil(n / group) floats.
        unsafe { launch!(self, group_mean, grid(groups); out, x, &n_arg, &g_arg) }
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
