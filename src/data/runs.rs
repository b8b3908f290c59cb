//! Sparse SGD's order of work: each user's ratings together, in chunks
//! ("runs") of at most [`RUN_CHUNK`], and the chunks in a fresh
//! pseudo-random order each epoch.
//!
//! A run keeps its user's row in registers (the GPU) or in L1 (the CPU)
//! across its ratings, so memory sees the user row once a run instead of once
//! a rating; only the item rows stream. Long runs are cut into chunks, so a
//! heavy user neither makes one straggler nor takes all its steps at once.
//! The ratings are grouped once, when a backend is made; an epoch then only
//! draws a [`Feistel`] key, and each worker computes which chunk is its next:
//! no per-epoch shuffle, no upload.
//!
//! Both sparse backends make their runs with [`Runs::block`] and take their
//! order from [`Runs::epoch_order`]: the CPU for each of its four stratified
//! blocks (block 0 alone on one thread), the GPU for its single set of runs
//! (block 0). So the CPU's one thread and the GPU walk the same runs in the
//! same order for one key, which `mfcuda check`'s runs v1 parity needs. The
//! GPU's sparse recipes take the same grouped rows in per-user tasks
//! instead ([`crate::data::tasks`]), so that no two warps hold one user.

use crate::data::Examples;
use crate::rng::Feistel;

/// The most ratings in one run.
pub const RUN_CHUNK: usize = 64;

/// Ratings grouped into runs of one user each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Runs {
    /// The ratings, each user's together, in a shuffled order within the user.
    pub rows: Examples,
    /// Run c is `rows[starts[c]..starts[c + 1]]`; `starts` has one more entry
    /// than there are runs.
    pub starts: Vec<u32>,
    /// Which block of a stratified epoch these runs are ([`Runs::block`]):
    /// it salts [`Runs::epoch_order`]'s key, so that blocks run in orders
    /// of their own.
    pub block: u64,
}

/// The salt a block adds to its epoch's key, per block: the golden-ratio
/// increment, so that the blocks' [`Feistel`] keys are far apart.
const BLOCK_SALT: u64 = 0x9E37_79B9_7F4A_7C15;

impl Runs {
    /// The runs of block `block` of a stratified epoch (the GPU's one set
    /// and a one-thread CPU's are block 0): `rows` grouped by user in runs
    /// of at most [`RUN_CHUNK`], each user's ratings shuffled by the block's
    /// own seed (`block + 1`), and [`Runs::epoch_order`] salted by the block.
    /// The one place either sparse backend makes its runs.
    pub fn block(rows: &Examples, n_users: usize, block: u64) -> Runs {
        Runs {
            block,
            ..Runs::by_user(rows, n_users, RUN_CHUNK, block.wrapping_add(1))
        }
    }

    /// Groups `rows` (user indices below `n_users`) by user, each user's
    /// ratings shuffled by `seed`, and cuts each user's into runs of at most
    /// `chunk`, as even as can be. The runs are block 0; the backends make
    /// theirs with [`Runs::block`].
    pub fn by_user(rows: &Examples, n_users: usize, chunk: usize, seed: u64) -> Runs {
        let n = rows.len();
        let chunk = chunk.max(1);
        // A counting sort by user, then each user's ratings shuffled in place
        // (small, cache-friendly shuffles rather than one over all rows).
        let mut counts = vec![0u32; n_users + 1];
        for &u in &rows.users {
            counts[u as usize + 1] += 1;
        }
        for k in 1..counts.len() {
            counts[k] += counts[k - 1];
        }
        let user_start = counts.clone();
        let mut at = counts;
        let mut order = vec![0u32; n];
        for (r, &u) in rows.users.iter().enumerate() {
            order[at[u as usize] as usize] = r as u32;
            at[u as usize] += 1;
        }
        let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        for u in 0..n_users {
            let seg = &mut order[user_start[u] as usize..user_start[u + 1] as usize];
            for i in (1..seg.len()).rev() {
                let j = (rng.next() % (i as u64 + 1)) as usize;
                seg.swap(i, j);
            }
        }
        let grouped = Examples {
            users: order.iter().map(|&r| rows.users[r as usize]).collect(),
            items: order.iter().map(|&r| rows.items[r as usize]).collect(),
            ratings: order.iter().map(|&r| rows.ratings[r as usize]).collect(),
        };
        let mut starts = Vec::with_capacity(n / chunk + n_users + 1);
        for u in 0..n_users {
            let (lo, hi) = (user_start[u] as usize, user_start[u + 1] as usize);
            let pieces = (hi - lo).div_ceil(chunk);
            for p in 0..pieces {
                starts.push((lo + p * (hi - lo) / pieces) as u32);
            }
        }
        starts.push(n as u32);
        Runs {
            rows: grouped,
            starts,
            block: 0,
        }
    }

    /// How many runs.
    pub fn len(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The order of the runs in the epoch keyed by `key`: a [`Feistel`]
    /// permutation keyed by `key` plus the block's salt (none for block 0).
    pub fn epoch_order(&self, key: u64) -> Feistel {
        Feistel::new(
            self.len() as u32,
            key.wrapping_add(self.block.wrapping_mul(BLOCK_SALT)),
        )
    }
}

/// xorshift64*: a fast generator for the one-time shuffle inside users (it
/// need not match numpy: no notebook result depends on it).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Block k's runs are grouped with seed k + 1 and ordered by the key
    /// plus k golden-ratio increments: what the CPU's two threads always
    /// drew, so their figures stay as they were; block 0 is the plain key.
    #[test]
    fn each_block_groups_and_orders_by_its_own_seed() {
        let rows = Examples {
            users: (0..500u32).map(|i| i % 7).collect(),
            items: (0..500u32).map(|i| i % 11).collect(),
            ratings: (0..500u32).map(|i| i as f32).collect(),
        };
        let key = 0xDEAD_BEEF_u64;
        for k in 0..4u64 {
            let b = Runs::block(&rows, 7, k);
            let plain = Runs::by_user(&rows, 7, RUN_CHUNK, k + 1);
            assert_eq!((&b.rows, &b.starts), (&plain.rows, &plain.starts), "block {k}");
            let want = Feistel::new(
                b.len() as u32,
                key.wrapping_add(k.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            );
            let got = b.epoch_order(key);
            assert!(
                (0..b.len() as u32).all(|i| got.get(i) == want.get(i)),
                "block {k}"
            );
        }
        let (b0, b3) = (Runs::block(&rows, 7, 0), Runs::block(&rows, 7, 3));
        assert_ne!(b0.rows, b3.rows, "blocks shuffle inside users by their own seeds");
    }

    #[test]
    fn runs_hold_every_rating_once_one_user_each_and_at_most_a_chunk() {
        // A skewed set: user 0 has 1,000 ratings, the others a few each.
        let mut rows = Examples::default();
        for i in 0..1000u32 {
            rows.users.push(0);
            rows.items.push(i % 37);
            rows.ratings.push(i as f32);
        }
        for u in 1..50u32 {
            for k in 0..u % 5 {
                rows.users.push(u);
                rows.items.push(k);
                rows.ratings.push(-(u as f32) - k as f32 / 10.0);
            }
        }
        let runs = Runs::by_user(&rows, 50, 64, 7);
        assert_eq!(runs.rows.len(), rows.len());
        let mut seen: Vec<(u32, u32, u32)> = Vec::new();
        for c in 0..runs.len() {
            let (lo, hi) = (runs.starts[c] as usize, runs.starts[c + 1] as usize);
            assert!(hi > lo && hi - lo <= 64, "run {c}: {} ratings", hi - lo);
            let u = runs.rows.users[lo];
            assert!(
                runs.rows.users[lo..hi].iter().all(|&x| x == u),
                "run {c} mixes users"
            );
            for r in lo..hi {
                seen.push((
                    runs.rows.users[r],
                    runs.rows.items[r],
                    runs.rows.ratings[r].to_bits(),
                ));
            }
        }
        let mut want: Vec<_> = (0..rows.len())
            .map(|r| (rows.users[r], rows.items[r], rows.ratings[r].to_bits()))
            .collect();
        seen.sort_unstable();
        want.sort_unstable();
        assert_eq!(seen, want, "the runs must hold exactly the ratings");
        // The heavy user's 1,000 ratings: 16 runs of 62 or 63, shuffled inside.
        let heavy: Vec<usize> = (0..runs.len())
            .filter(|&c| runs.rows.users[runs.starts[c] as usize] == 0)
            .map(|c| (runs.starts[c + 1] - runs.starts[c]) as usize)
            .collect();
        assert_eq!(heavy.len(), 16);
        assert!(heavy.iter().all(|&l| l == 62 || l == 63), "{heavy:?}");
        assert_ne!(
            &runs.rows.ratings[..10],
            &rows.ratings[..10],
            "not shuffled inside the user"
        );
    }
}
