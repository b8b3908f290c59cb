//! What racing warps cost the per-user sparse kernels, simulated on the CPU.
//!
//! The GPU's sparse epochs run thousands of warps without locks. This
//! module replays a schedule of `W` warps in lockstep, one rating a warp a
//! tick, with the kernels' arithmetic ([`ops::sparse_step`]) and the worst
//! timing for item rows: every warp of a tick reads its item row and bias
//! before any writes, and then the writes land one warp after another, so
//! on an item two warps share in one tick the last write wins and the
//! others' updates are lost. Which warp's write lands last on the card has
//! nothing to do with which task it holds, so the writes go in a fresh
//! pseudo-random order of the warps each tick (in warp order, the warps that
//! took the queue's last tasks, the small ones, would always win). User rows
//! follow the schedule:
//!
//! - [`Schedule::Tasks`], `kernels/sparse.cu`'s `mf_sgd_sparse_tasks`: warps
//!   take [`Tasks`] off a queue in the epoch's order, each the next when it
//!   is free; an exclusive task stores its row at its end, a shared one
//!   merges ([`ops::merge_row`], an atomic add on the card, here in warp
//!   order) every [`crate::data::tasks::MERGE_EVERY`] ratings and at its end. No user update is
//!   lost; a share only reads its row stale.
//! - [`Schedule::RunsV1`], `mf_sgd_sparse_runs`: warp w takes runs
//!   `perm(w)`, `perm(w + W)`, … and stores the user row at each run's end,
//!   so a run that loaded the row before another run of the same user stored
//!   it erases that run's updates ([`SimReport::overwritten`]).
//!
//! With one warp nothing races, and each schedule is its CPU twin's to the
//! bit ([`ops::mf_sgd_sparse_tasks`], [`ops::mf_sgd_sparse_runs`]), which the
//! tests check first: only the timing differs.

use crate::backend::cpu_sparse::SparseParams;
use crate::data::runs::Runs;
use crate::data::tasks::Tasks;
use crate::data::Examples;
use crate::ops::{self, sparse_step};
use crate::rng::Feistel;

/// Which kernel's schedule to replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Tasks off a queue, heavy users cut into shares of at most `share`
    /// ratings (`None`: [`crate::data::tasks::share_cap`] of the warps).
    Tasks {
        /// The largest share.
        share: Option<usize>,
        /// How often a share merges ([`crate::data::tasks::MERGE_EVERY`] in the kernel).
        merge_every: usize,
    },
    /// Version 1: one warp a run in a static order.
    RunsV1,
}

/// What a simulated training run did.
#[derive(Debug, Clone, PartialEq)]
pub struct SimReport {
    /// The validation RMSE at the end.
    pub val_rmse: f64,
    /// User-row write-backs in all (stores and merges).
    pub write_backs: usize,
    /// Write-backs that erased another run's updates of the same row (only
    /// [`Schedule::RunsV1`] has any).
    pub overwritten: usize,
    /// Item updates lost to a later write in the same tick.
    pub item_losses: usize,
    /// Item updates in all (one a rating).
    pub item_updates: usize,
    /// The ticks (rating steps) of the longest epoch: its length on
    /// equal-speed warps.
    pub max_epoch_ticks: usize,
}

/// The training: `(learning rate, epochs)` stages and the L2 weight.
#[derive(Debug, Clone)]
pub struct SimTraining {
    /// The stages, in order.
    pub stages: Vec<(f32, usize)>,
    /// The L2 weight (`reg`).
    pub reg: f32,
    /// Salts each epoch's order key (the key of epoch e is `key + e`).
    pub key: u64,
}

/// A warp's place in its current work.
struct Cursor {
    /// The user's row index and the work's ratings `r..hi` still to go.
    user: usize,
    r: usize,
    hi: usize,
    /// Where the work started, for the merges' interval.
    lo: usize,
    shared: bool,
    /// The tick this warp last loaded its user row (for overwrite counting).
    loaded: usize,
    /// Its user row and bias, and their values at the last load or merge.
    p: Vec<f32>,
    p0: Vec<f32>,
    bu: f32,
    bu0: f32,
}

/// Trains `params` on `train` for `training`'s stages with `warps`
/// simulated warps in `schedule`, and reports the validation RMSE on
/// `valid` and the races. `n_users` bounds the user indices; F is the
/// length of a user row (`params.u.len() / n_users`).
pub fn simulate(
    params: &mut SparseParams<f32>,
    n_users: usize,
    train: &Examples,
    valid: &Examples,
    training: &SimTraining,
    schedule: Schedule,
    warps: usize,
) -> SimReport {
    let f = params.u.len() / n_users.max(1);
    let runs = Runs::block(train, n_users, 0);
    let warps = warps.max(1);
    let merge_every = match schedule {
        Schedule::Tasks { merge_every, .. } => merge_every.max(1),
        Schedule::RunsV1 => usize::MAX,
    };
    let tasks = match schedule {
        Schedule::Tasks { share: Some(s), .. } => Tasks::new(&runs, s),
        Schedule::Tasks { share: None, .. } => Tasks::for_warps(&runs, warps),
        Schedule::RunsV1 => Tasks::default(),
    };
    let mut report = SimReport {
        val_rmse: f64::NAN,
        write_backs: 0,
        overwritten: 0,
        item_losses: 0,
        item_updates: 0,
        max_epoch_ticks: 0,
    };
    let rows = &runs.rows;
    // The tick each user row was last stored, and each item row written.
    let mut user_stored = vec![usize::MAX; n_users];
    let mut item_written = vec![usize::MAX; params.mb.len()];
    let mut tick = 0usize;
    let mut new_q = vec![0f32; warps * f];
    let mut new_bi = vec![0f32; warps];
    let mut cursors: Vec<Option<Cursor>> = (0..warps).map(|_| None).collect();
    let mut epoch = 0u64;
    for &(lr, epochs) in &training.stages {
        for _ in 0..epochs {
            let key = training.key.wrapping_add(epoch);
            epoch += 1;
            // Work still to hand out: the queue's head (tasks), or each
            // warp's next run (v1: warp w's k-th run is perm(w + k·W)).
            let (order, run_perm) = (tasks.epoch_order(key), runs.epoch_order(key));
            let mut head = 0u32;
            let mut next_run: Vec<u32> = (0..warps as u32).collect();
            let start = tick;
            loop {
                // Free warps take work: the user row is loaded now.
                for (w, c) in cursors.iter_mut().enumerate() {
                    if c.is_some() {
                        continue;
                    }
                    let work = match schedule {
                        Schedule::Tasks { .. } if head < order.len() => {
                            let t = order.get(head) as usize;
                            head += 1;
                            Some((tasks.range(t), tasks.shared[t] != 0))
                        }
                        Schedule::RunsV1 if next_run[w] < run_perm.len() => {
                            let k = run_perm.get(next_run[w]) as usize;
                            next_run[w] += warps as u32;
                            Some((runs.starts[k] as usize..runs.starts[k + 1] as usize, false))
                        }
                        _ => None,
                    };
                    if let Some((range, shared)) = work.filter(|(r, _)| !r.is_empty()) {
                        let user = rows.users[range.start] as usize;
                        let p = params.u[user * f..(user + 1) * f].to_vec();
                        *c = Some(Cursor {
                            user,
                            r: range.start,
                            hi: range.end,
                            lo: range.start,
                            shared,
                            loaded: tick,
                            p0: p.clone(),
                            p,
                            bu: params.ub[user],
                            bu0: params.ub[user],
                        });
                    }
                }
                if cursors.iter().all(Option::is_none) {
                    break;
                }
                // Every warp reads its item row before any writes.
                for (w, c) in cursors.iter_mut().enumerate() {
                    let Some(c) = c else { continue };
                    let ii = rows.items[c.r] as usize;
                    let q = &mut new_q[w * f..(w + 1) * f];
                    q.copy_from_slice(&params.m[ii * f..(ii + 1) * f]);
                    new_bi[w] = params.mb[ii];
                    sparse_step(
                        &mut c.p,
                        &mut c.bu,
                        q,
                        &mut new_bi[w],
                        rows.ratings[c.r],
                        params.mu,
                        lr,
                        training.reg,
                    );
                }
                // Then the writes, in a fresh order of the warps: the last one on an item wins.
                let writes = Feistel::new(warps as u32, tick as u64);
                for k in 0..warps as u32 {
                    let w = writes.get(k) as usize;
                    let slot = &mut cursors[w];
                    let Some(c) = slot else { continue };
                    let ii = rows.items[c.r] as usize;
                    report.item_updates += 1;
                    if item_written[ii] == tick {
                        report.item_losses += 1;
                    }
                    item_written[ii] = tick;
                    params.m[ii * f..(ii + 1) * f].copy_from_slice(&new_q[w * f..(w + 1) * f]);
                    params.mb[ii] = new_bi[w];
                    c.r += 1;
                    let done = c.r == c.hi;
                    let urow = c.user * f..(c.user + 1) * f;
                    if c.shared && ((c.r - c.lo) % merge_every == 0 || done) {
                        ops::merge_row(&mut params.u[urow], &mut c.p, &mut c.p0);
                        params.ub[c.user] += c.bu - c.bu0;
                        (c.bu, c.bu0) = (params.ub[c.user], params.ub[c.user]);
                        report.write_backs += 1;
                    } else if done && !c.shared {
                        let stored = user_stored[c.user];
                        if stored != usize::MAX && stored >= c.loaded {
                            report.overwritten += 1;
                        }
                        params.u[urow].copy_from_slice(&c.p);
                        params.ub[c.user] = c.bu;
                        user_stored[c.user] = tick;
                        report.write_backs += 1;
                    }
                    if done {
                        *slot = None;
                    }
                }
                tick += 1;
            }
            report.max_epoch_ticks = report.max_epoch_ticks.max(tick - start);
        }
    }
    let mut pred = vec![0f32; valid.len()];
    ops::mf_predict(
        &mut pred,
        &params.u,
        &params.m,
        &params.ub,
        &params.mb,
        params.mu,
        &valid.users,
        &valid.items,
        f,
    );
    report.val_rmse = (ops::mse_sum(&pred, &valid.ratings) / valid.len().max(1) as f64).sqrt();
    report
}
