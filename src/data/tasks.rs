//! The GPU's sparse SGD schedule: per-user tasks off a queue, so that no
//! two warps ever overwrite each other's updates of a user row.
//!
//! [`crate::data::runs`] keeps each user's ratings together. A task is a
//! stretch of one user's ratings that one warp takes whole: it holds the
//! user's row in registers from the first rating to the last. The epoch's
//! tasks sit in a queue in a fresh [`Feistel`] order; each warp takes the
//! next task when it finishes one (`kernels/sparse.cu`'s
//! `mf_sgd_sparse_tasks`, whose CPU twin is
//! [`crate::ops::mf_sgd_sparse_tasks`]).
//!
//! - **A user whose ratings fit in one share is one task, exclusive**: no
//!   other task names its row, so the warp simply stores the row at the end.
//! - **A heavier user is cut into shares**, each a task of at most
//!   [`Tasks::share`] ratings, which different warps may hold at once. A
//!   shared task never stores its row: after every rating ([`MERGE_EVERY`]),
//!   it adds what it changed (the row now minus the row when it
//!   last merged) to the row with an atomic add, and carries on from the
//!   sum, which holds whatever the user's other shares merged meanwhile. So
//!   no update is ever lost; what a share costs is its user row's bytes on
//!   every rating, and staleness: the steps the user's other shares in
//!   flight take meanwhile, which [`crate::tools::hogwild`] measures.
//!
//! Why shares: one warp a user would let the heaviest user set the epoch's
//! length (ml-25m's heaviest has about 32,000 ratings, against a mean share
//! of about 3,000 on 8,448 warps). With a dynamic queue of tasks of at most
//! `s` ratings on `W` equal-speed warps, the last warp to finish started its
//! last task while all were busy, so the epoch takes at most `n / W + s`
//! (Graham's bound for list scheduling); [`share_cap`] sets `s` to half the
//! mean share, so no warp works more than 1.5 times the mean.
//! [`Tasks::balance`] is that model of the schedule, computed on the host.

use crate::data::runs::Runs;
use crate::rng::Feistel;

/// The fewest ratings a share of a split user holds: shares cost staleness,
/// so users are split only as far as balance needs, and on small data not
/// at all (ml-latest-small's heaviest user, 2,698 ratings, makes 3).
pub const SHARE_FLOOR: usize = 1024;

/// How often a shared task merges its row: every this many ratings, and at
/// its end. The staleness a share adds to its user's row is at most this
/// many of its ratings, per share in flight. Every rating, because `k`
/// shares of one user in flight that each merge every `m` ratings move the
/// row like a batch of `k·m` steps: in the lockstep simulation on
/// ml-latest-small at 1,024 warps with shares of 256 (9 of the heaviest
/// user's in flight), merging every 16 ratings diverged, and every 1 or 4
/// reached RMSE 0.8614; with shares of 64 (34 in flight), every 4 gave
/// 0.8647 and every 1 gave 0.8611 (`tests/hogwild.rs`). A share's rating then
/// costs the user row's bytes as the per-rating kernel's does; an exclusive
/// task's rating costs only the item row's.
pub const MERGE_EVERY: usize = 1;

/// The largest share for `n` ratings on `warps` warps: half the mean warp's
/// share, and at least [`SHARE_FLOOR`].
pub fn share_cap(n: usize, warps: usize) -> usize {
    n.div_ceil(2 * warps.max(1)).max(SHARE_FLOOR)
}

/// The epoch's tasks over runs' rows (each user's ratings together).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tasks {
    /// Task t is `rows[starts[t]..starts[t + 1]]` of the runs' rows, all of
    /// one user; `starts` has one more entry than there are tasks.
    pub starts: Vec<u32>,
    /// 1 where task t is a share of a user cut into several (it merges),
    /// 0 where it is the user's only task (it stores).
    pub shared: Vec<u32>,
    /// The most ratings in one task of a split user.
    pub share: usize,
}

impl Tasks {
    /// The tasks of `runs`' rows with shares of at most `share` ratings: a
    /// user of at most `share` ratings is one exclusive task, a heavier one
    /// `ceil(count / share)` shares as even as can be, in order.
    pub fn new(runs: &Runs, share: usize) -> Tasks {
        let share = share.max(1);
        let users = &runs.rows.users;
        let (mut starts, mut shared) = (Vec::new(), Vec::new());
        let mut lo = 0;
        while lo < users.len() {
            let mut hi = lo + 1;
            while hi < users.len() && users[hi] == users[lo] {
                hi += 1;
            }
            let pieces = (hi - lo).div_ceil(share);
            for p in 0..pieces {
                starts.push((lo + p * (hi - lo) / pieces) as u32);
                shared.push(u32::from(pieces > 1));
            }
            lo = hi;
        }
        starts.push(users.len() as u32);
        Tasks {
            starts,
            shared,
            share,
        }
    }

    /// The tasks for `warps` warps: shares of at most [`share_cap`].
    pub fn for_warps(runs: &Runs, warps: usize) -> Tasks {
        Tasks::new(runs, share_cap(runs.rows.len(), warps))
    }

    /// How many tasks.
    pub fn len(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Task t's ratings, as a range of the runs' rows.
    pub fn range(&self, t: usize) -> std::ops::Range<usize> {
        self.starts[t] as usize..self.starts[t + 1] as usize
    }

    /// The order of the tasks in the queue of the epoch keyed by `key`.
    pub fn epoch_order(&self, key: u64) -> Feistel {
        Feistel::new(self.len() as u32, key)
    }

    /// The schedule's balance on `warps` equal-speed warps taking tasks off
    /// the queue in `order` (a task costs its ratings): see [`Balance`].
    pub fn balance(&self, order: &Feistel, warps: usize) -> Balance {
        let sizes = (0..self.len() as u32).map(|k| self.range(order.get(k) as usize).len());
        Balance::list_schedule(sizes, warps)
    }
}

/// The work each warp does in a host model of a dynamic queue: `warps`
/// equal-speed warps, each taking the next task when it is free.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Balance {
    /// The busiest warp's ratings: the epoch's length in rating steps.
    pub worst: usize,
    /// The mean warp's ratings.
    pub mean: f64,
}

impl Balance {
    /// Greedy list scheduling: each task of `sizes`, in order, goes to the
    /// warp that is free first (the least loaded; ties to the lowest warp).
    pub fn list_schedule(sizes: impl IntoIterator<Item = usize>, warps: usize) -> Balance {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let warps = warps.max(1);
        let mut free: BinaryHeap<Reverse<(usize, usize)>> = (0..warps).map(|w| Reverse((0, w))).collect();
        let mut total = 0;
        for s in sizes {
            let Some(Reverse((load, w))) = free.pop() else {
                break;
            };
            total += s;
            free.push(Reverse((load + s, w)));
        }
        Balance {
            worst: free.iter().map(|Reverse((l, _))| *l).max().unwrap_or(0),
            mean: total as f64 / warps as f64,
        }
    }

    /// The busiest warp's work over the mean's.
    pub fn ratio(&self) -> f64 {
        self.worst as f64 / self.mean.max(f64::MIN_POSITIVE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Examples;

    /// Users 0..n with the given rating counts, as runs.
    fn runs_of(counts: &[usize]) -> Runs {
        let mut rows = Examples::default();
        for (u, &c) in counts.iter().enumerate() {
            for k in 0..c {
                rows.users.push(u as u32);
                rows.items.push(k as u32);
                rows.ratings.push(1.0);
            }
        }
        Runs::block(&rows, counts.len(), 0)
    }

    #[test]
    fn light_users_are_one_exclusive_task_and_heavy_ones_even_shares() {
        let runs = runs_of(&[5, 0, 1000, 3, 2500]);
        let t = Tasks::new(&runs, 1000);
        let sizes: Vec<usize> = (0..t.len()).map(|k| t.range(k).len()).collect();
        assert_eq!(sizes, [5, 1000, 3, 833, 833, 834]);
        assert_eq!(t.shared, [0, 0, 0, 1, 1, 1]);
        // Every task is one user, and the tasks tile the rows.
        for k in 0..t.len() {
            let r = t.range(k);
            let u = runs.rows.users[r.start];
            assert!(runs.rows.users[r].iter().all(|&x| x == u), "task {k}");
        }
        assert_eq!(t.starts.first(), Some(&0));
        assert_eq!(t.starts.last(), Some(&(runs.rows.len() as u32)));
        assert!(Tasks::new(&runs_of(&[]), 10).is_empty());
    }

    #[test]
    fn the_share_cap_is_half_the_mean_share_and_at_least_the_floor() {
        // ml-25m's 25,000,095 ratings on 8,448 warps: a mean share of 2,960.
        assert_eq!(share_cap(25_000_095, 8_448), 1_480);
        // ml-latest-small's training rows on one warp or many: the floor.
        assert_eq!(share_cap(80_668, 1), 40_334);
        assert_eq!(share_cap(80_668, 196), SHARE_FLOOR);
        assert_eq!(share_cap(0, 0), SHARE_FLOOR);
    }

    #[test]
    fn list_scheduling_gives_each_task_to_the_first_free_warp() {
        // Two warps: 4 → w0, 3 → w1, 2 → w1 (3 < 4), 2 → w0 (4 < 5).
        let b = Balance::list_schedule([4, 3, 2, 2], 2);
        assert_eq!(b.worst, 6);
        assert_eq!(b.mean, 5.5);
        // One giant task sets the length, however many warps.
        let b = Balance::list_schedule([100, 1, 1, 1], 4);
        assert_eq!((b.worst, b.ratio()), (100, 100.0 / 25.75));
    }
}
