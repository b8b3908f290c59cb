//! Sparse SGD on the CPU for the `svd` model: each rating moves only its own
//! user and movie rows (`ops::mf_sgd_sparse`), the way Surprise and
//! cuMF_SGD train, instead of the notebook's dense update of every row.
//!
//! Both cores work at once without locks and without races, by stratifying
//! (DSGD, Gemulla et al. 2011): users and movies are each cut in two halves,
//! which cuts the ratings into four blocks. Blocks (0,0) and (1,1) share no
//! row, so two threads run them side by side; then (0,1) and (1,0). Each
//! thread gets `&mut` slices of its own halves, so Rust checks that no two
//! threads write the same row. The result depends only on the data, the
//! order and the seed, not on thread timing: runs repeat to the bit.
//!
//! The factor tables are stored as f32 or as bf16 ([`Storage`]), with the
//! arithmetic in f32 either way, as on the GPU.

use std::ops::ControlFlow;

use crate::backend::{Backend, BackendInit};
use crate::data::runs::Runs;
use crate::data::Examples;
use crate::error::{Error, Result};
use crate::model::ModelSpec;
use crate::ops::Storage;
use crate::ops::{group_mean, mf_predict, mf_sgd_sparse, mf_sgd_sparse_runs, mse_sum, Factor};

/// The threads the CPU sparse backend runs on: the cores, at most 2 (its
/// stratification cuts the data in two).
pub fn cpu_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(2)
}

/// The CPU sparse backend for `init`, storing the factors in `storage`, on
/// `threads` threads (1 or 2).
pub fn cpu_backend<'a>(
    init: BackendInit<'a>,
    storage: Storage,
    threads: usize,
) -> Result<Box<dyn Backend + 'a>> {
    Ok(match storage {
        Storage::F32 => Box::new(CpuSparseBackend::<f32>::new(init, threads)?),
        Storage::Bf16 => Box::new(CpuSparseBackend::<half::bf16>::new(init, threads)?),
    })
}

pub use crate::model::svd::SparseParams;

/// The svd model trained by stratified sparse SGD on the CPU, factors
/// stored as `S`.
pub struct CpuSparseBackend<'a, S: Factor> {
    spec: ModelSpec,
    params: SparseParams<S>,
    reg: f32,
    threads: usize,
    /// Where the user and movie rows are cut: each half holds about half
    /// of the training ratings, so that the two threads get equal work.
    halves: (usize, usize),
    train: &'a Examples,
    valid: &'a Examples,
    /// The four blocks' ratings as per-user runs, made on the first epoch in runs.
    runs: Option<[RunBlock; 4]>,
}

/// One block's ratings as runs, rows renumbered from the start of their
/// halves, and each rating's squared error.
#[derive(Default)]
struct RunBlock {
    runs: Runs,
    sq_err: Vec<f32>,
}

/// One block's ratings, with rows renumbered from the start of their halves.
#[derive(Default)]
struct Block {
    users: Vec<u32>,
    items: Vec<u32>,
    ratings: Vec<f32>,
    sq_err: Vec<f32>,
}

impl<'a, S: Factor> CpuSparseBackend<'a, S> {
    /// A backend for `init`, on `threads` threads (1 or 2).
    pub fn new(init: BackendInit<'a>, threads: usize) -> Result<Self> {
        let params = SparseParams::from_flat(init.spec, &init.params)?;
        let halves = (
            balanced_cut(&init.train.users, init.spec.n_users),
            balanced_cut(&init.train.items, init.spec.n_items),
        );
        Ok(CpuSparseBackend {
            halves,
            spec: init.spec.clone(),
            params,
            reg: init.wd,
            threads: threads.clamp(1, 2),
            train: init.train,
            valid: init.valid,
            runs: None,
        })
    }

    /// Where this epoch cuts the users and the movies: at the halves on two
    /// threads; past the last row on one, so that every rating is in block
    /// (0,0), block 0 of [`Runs::block`], as on the GPU
    /// ([`crate::backend::cuda::sparse::staged_runs`]): one thread walks the
    /// GPU's runs in the GPU's order.
    fn cut(&self) -> (usize, usize) {
        if self.threads > 1 {
            self.halves
        } else {
            (self.spec.n_users, self.spec.n_items)
        }
    }

    /// The training ratings cut into the four blocks (user half × movie
    /// half, rows renumbered inside their halves), each grouped into runs.
    fn run_blocks(&self) -> [RunBlock; 4] {
        let (hu, hi) = self.cut();
        let mut blocks: [Examples; 4] = Default::default();
        let t = self.train;
        for r in 0..t.len() {
            let (uu, ii) = (t.users[r] as usize, t.items[r] as usize);
            let (bu, bi) = ((uu >= hu) as usize, (ii >= hi) as usize);
            let b = &mut blocks[2 * bu + bi];
            b.users.push((uu - bu * hu) as u32);
            b.items.push((ii - bi * hi) as u32);
            b.ratings.push(t.ratings[r]);
        }
        let users = [hu, hu, self.spec.n_users - hu, self.spec.n_users - hu];
        std::array::from_fn(|k| {
            let runs = Runs::block(&blocks[k], users[k], k as u64);
            RunBlock {
                sq_err: vec![0.0; runs.rows.len()],
                runs,
            }
        })
    }
}

/// The row `h` such that rows `0..h` hold about half of `idx`'s entries.
fn balanced_cut(idx: &[u32], rows: usize) -> usize {
    let mut counts = vec![0usize; rows];
    for &i in idx {
        counts[i as usize] += 1;
    }
    let mut seen = 0;
    for (h, c) in counts.iter().enumerate() {
        if 2 * seen >= idx.len() {
            return h;
        }
        seen += c;
    }
    rows
}

impl<S: Factor> Backend for CpuSparseBackend<'_, S> {
    fn device(&self) -> String {
        format!(
            "cpu (sparse SGD, {} thread{}{})",
            self.threads,
            if self.threads > 1 { "s" } else { "" },
            match S::STORAGE {
                Storage::F32 => "",
                Storage::Bf16 => ", bf16 factors",
            }
        )
    }

    /// One pass over `order` at the epoch's rate `lrs[0]` (sparse SGD steps
    /// once per rating; `batch_size` only groups the reported losses).
    fn train_epoch(
        &mut self,
        order: &[u32],
        batch_size: usize,
        lrs: &[f32],
        _first_step: u64,
        progress: &mut dyn FnMut(usize, f32) -> ControlFlow<()>,
    ) -> Result<Vec<f32>> {
        let steps = crate::backend::epoch_steps(order.len(), batch_size, lrs)?;
        if order.is_empty() {
            return Ok(Vec::new());
        }
        let (lr, reg, f) = (lrs[0], self.reg, self.spec.factors);
        let (hu, hi) = self.cut();
        let SparseParams { u, m, ub, mb, mu } = &mut self.params;
        let mu = *mu;
        // blocks[2·bu + bi]: the ratings of user half bu and movie half bi, in `order`.
        let mut blocks: [Block; 4] = Default::default();
        for &row in order {
            let r = row as usize;
            let (uu, ii) = (self.train.users[r] as usize, self.train.items[r] as usize);
            let (bu, bi) = ((uu >= hu) as usize, (ii >= hi) as usize);
            let b = &mut blocks[2 * bu + bi];
            b.users.push((uu - bu * hu) as u32);
            b.items.push((ii - bi * hi) as u32);
            b.ratings.push(self.train.ratings[r]);
        }
        for b in blocks.iter_mut() {
            b.sq_err.resize(b.ratings.len(), 0.0);
        }
        let (u0, u1) = u.split_at_mut(hu * f);
        let (m0, m1) = m.split_at_mut(hi * f);
        let (ub0, ub1) = ub.split_at_mut(hu);
        let (mb0, mb1) = mb.split_at_mut(hi);
        let [b00, b01, b10, b11] = &mut blocks;
        let run = |b: &mut Block, u: &mut [S], m: &mut [S], ub: &mut [f32], mb: &mut [f32]| {
            mf_sgd_sparse(
                u,
                m,
                ub,
                mb,
                mu,
                &b.users,
                &b.items,
                &b.ratings,
                &mut b.sq_err,
                f,
                lr,
                reg,
            )
        };
        // Phase 1: the diagonal blocks share no row; phase 2: the off-diagonal ones.
        std::thread::scope(|s| {
            s.spawn(|| run(b11, u1, m1, ub1, mb1));
            run(b00, u0, m0, ub0, mb0);
        });
        // The epoch's two parallel phases run whole: a stop waits for its end.
        let _ = progress(
            b00.ratings.len().max(1).div_ceil(batch_size).min(steps),
            b00.sq_err.last().copied().unwrap_or(0.0),
        );
        std::thread::scope(|s| {
            s.spawn(|| run(b10, u1, m0, ub1, mb0));
            run(b01, u0, m1, ub0, mb1);
        });
        // The batch losses: mean squared errors of groups of `batch_size` ratings.
        // In the order the blocks ran: the diagonal ones, then the others.
        let errs: Vec<f32> = [0, 3, 1, 2]
            .iter()
            .flat_map(|&k| blocks[k].sq_err.iter().copied())
            .collect();
        let mut losses = vec![0f32; steps];
        group_mean(&mut losses, &errs, batch_size);
        let _ = progress(steps, losses.last().copied().unwrap_or(f32::NAN));
        Ok(losses)
    }

    /// The four blocks' runs, two at a time as in [`Backend::train_epoch`]:
    /// (0,0) beside (1,1), then (0,1) beside (1,0), each block's runs in the
    /// order `key` draws for it. The losses group the ratings in the blocks'
    /// order and, within a block, in the runs' storage order.
    fn train_epoch_runs(
        &mut self,
        key: u64,
        batch_size: usize,
        lrs: &[f32],
        progress: &mut dyn FnMut(usize, f32) -> ControlFlow<()>,
    ) -> Result<Vec<f32>> {
        let steps = crate::backend::epoch_steps(self.train.len(), batch_size, lrs)?;
        if self.train.is_empty() {
            return Ok(Vec::new());
        }
        if self.runs.is_none() {
            self.runs = Some(self.run_blocks());
        }
        let (lr, reg, f) = (lrs[0], self.reg, self.spec.factors);
        let (hu, hi) = self.cut();
        let SparseParams { u, m, ub, mb, mu } = &mut self.params;
        let mu = *mu;
        let Some(blocks) = self.runs.as_mut() else {
            return Err(Error::invalid("runs", "the run blocks were not made"));
        };
        let (u0, u1) = u.split_at_mut(hu * f);
        let (m0, m1) = m.split_at_mut(hi * f);
        let (ub0, ub1) = ub.split_at_mut(hu);
        let (mb0, mb1) = mb.split_at_mut(hi);
        let [b00, b01, b10, b11] = blocks;
        let run = |b: &mut RunBlock, u: &mut [S], m: &mut [S], ub: &mut [f32], mb: &mut [f32]| {
            let perm = b.runs.epoch_order(key);
            let rows = &b.runs.rows;
            let mut row = vec![0f32; f];
            mf_sgd_sparse_runs(
                u,
                m,
                ub,
                mb,
                mu,
                (&rows.users, &rows.items, &rows.ratings),
                &b.runs.starts,
                &perm,
                &mut b.sq_err,
                f,
                lr,
                reg,
                &mut row,
            )
        };
        std::thread::scope(|s| {
            s.spawn(|| run(b11, u1, m1, ub1, mb1));
            run(b00, u0, m0, ub0, mb0);
        });
        std::thread::scope(|s| {
            s.spawn(|| run(b10, u1, m0, ub1, mb0));
            run(b01, u0, m1, ub0, mb1);
        });
        let errs: Vec<f32> = [&*b00, &*b11, &*b01, &*b10]
            .iter()
            .flat_map(|b| b.sq_err.iter().copied())
            .collect();
        let mut losses = vec![0f32; steps];
        group_mean(&mut losses, &errs, batch_size);
        let _ = progress(steps, losses.last().copied().unwrap_or(f32::NAN));
        Ok(losses)
    }

    /// `ops::mf_predict` then `ops::mse_sum`, in chunks of 4096 rows: the
    /// same sums as `ModelSpec::mse`, read straight from the stored factors.
    /// The chunks' sums are computed on the backend's threads, each taking
    /// every `threads`-th chunk, and added in chunk order, so the result does
    /// not depend on the threads.
    fn validate(&mut self) -> Result<f64> {
        const CHUNK: usize = 4096;
        let (v, p, f) = (self.valid, &self.params, self.spec.factors);
        let chunks = v.len().div_ceil(CHUNK);
        let threads = self.threads.clamp(1, chunks.max(1));
        let chunk_sum = |c: usize, pred: &mut Vec<f32>| {
            let (start, end) = (c * CHUNK, ((c + 1) * CHUNK).min(v.len()));
            pred.resize(end - start, 0.0);
            mf_predict(
                pred,
                &p.u,
                &p.m,
                &p.ub,
                &p.mb,
                p.mu,
                &v.users[start..end],
                &v.items[start..end],
                f,
            );
            mse_sum(pred, &v.ratings[start..end])
        };
        let mut sums = vec![0.0f64; chunks];
        std::thread::scope(|s| {
            let mut parts: Vec<Vec<(usize, &mut f64)>> = (0..threads).map(|_| Vec::new()).collect();
            for (c, slot) in sums.iter_mut().enumerate() {
                parts[c % threads].push((c, slot));
            }
            for part in parts {
                s.spawn(move || {
                    let mut pred = Vec::with_capacity(CHUNK);
                    for (c, slot) in part {
                        *slot = chunk_sum(c, &mut pred);
                    }
                });
            }
        });
        let sum: f64 = sums.iter().fold(0.0, |acc, &x| acc + x);
        Ok(sum / v.len() as f64)
    }

    fn params(&mut self) -> Result<Vec<f32>> {
        Ok(self.params.to_flat())
    }
}
