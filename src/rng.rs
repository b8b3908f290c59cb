//! Random numbers, written out so that results can be reproduced elsewhere.
//!
//! * [`Mt19937`] is the Mersenne Twister exactly as numpy's legacy
//!   `np.random.RandomState` runs it. With [`Mt19937::permutation`] it
//!   reproduces `np.random.seed(s); np.random.permutation(n)`, which is how
//!   fastai 0.7's `get_cv_idxs` chose the notebook's validation rows.
//!   [`Mt19937::random_sample`] is numpy's 53-bit double, used for parameter
//!   initialisation and per-epoch shuffles.
//! * [`philox4x32_10`] is the counter-based generator of Salmon et al. (2011,
//!   "Parallel random numbers: as easy as 1, 2, 3"). Dropout keys it by
//!   (seed, step, element), so any device can draw any element's mask with
//!   no shared stream: a CUDA kernel draws the same bits as the CPU.
//! * [`Feistel`] is a pseudo-random permutation of `0..n`, computed index by
//!   index with no table: the order in which sparse SGD takes its user runs
//!   each epoch, the same on the CPU and on the GPU (`kernels/permute.cuh`).

/// Numpy's legacy Mersenne Twister (MT19937) state.
#[derive(Clone)]
pub struct Mt19937 {
    state: [u32; 624],
    pos: usize,
}

impl Mt19937 {
    /// Seeds like `init_genrand(seed)`, which is what `np.random.seed(int)`
    /// does for seeds below 2^32.
    pub fn new(seed: u32) -> Self {
        let mut state = [0u32; 624];
        state[0] = seed;
        for i in 1..624 {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { state, pos: 624 }
    }

    /// Regenerates all 624 words of state (the "twist").
    fn twist(&mut self) {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7fff_ffff;
        for i in 0..624 {
            let y = (self.state[i] & UPPER) | (self.state[(i + 1) % 624] & LOWER);
            let mut next = self.state[(i + 397) % 624] ^ (y >> 1);
            if y & 1 == 1 {
                next ^= 0x9908_b0df;
            }
            self.state[i] = next;
        }
        self.pos = 0;
    }

    /// The next 32-bit output (`genrand_int32`).
    pub fn next_u32(&mut self) -> u32 {
        if self.pos >= 624 {
            self.twist();
        }
        let mut y = self.state[self.pos];
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    /// A double uniform on [0, 1) with 53 random bits, as numpy's
    /// `random_sample()` builds it from two 32-bit outputs.
    pub fn random_sample(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// An integer uniform on `[0, max]`, by numpy's legacy masked rejection
    /// sampling (`random_interval`): mask the output down to the smallest
    /// all-ones value covering `max`, and redraw while it exceeds `max`.
    pub fn interval(&mut self, max: u32) -> u32 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        mask |= mask >> 1;
        mask |= mask >> 2;
        mask |= mask >> 4;
        mask |= mask >> 8;
        mask |= mask >> 16;
        loop {
            let value = self.next_u32() & mask;
            if value <= max {
                return value;
            }
        }
    }

    /// Shuffles in place like numpy's legacy `shuffle`: for `i` from `n-1`
    /// down to 1, swap element `i` with a uniform draw from `[0, i]`.
    pub fn shuffle<T>(&mut self, xs: &mut [T]) {
        assert!(
            xs.len() <= u32::MAX as usize + 1,
            "shuffle supports at most 2^32 elements"
        );
        for i in (1..xs.len()).rev() {
            let j = self.interval(i as u32) as usize;
            xs.swap(i, j);
        }
    }

    /// `np.random.permutation(n)`: `0..n`, shuffled.
    pub fn permutation(&mut self, n: usize) -> Vec<u32> {
        let mut xs: Vec<u32> = (0..n as u32).collect();
        self.shuffle(&mut xs);
        xs
    }
}

const PHILOX_M0: u32 = 0xD251_1F53;
const PHILOX_M1: u32 = 0xCD9E_8D57;
const PHILOX_W0: u32 = 0x9E37_79B9;
const PHILOX_W1: u32 = 0xBB67_AE85;

/// One Philox round: two 32x32→64 multiplies, then a swap and xor with the key.
fn philox_round(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let p0 = PHILOX_M0 as u64 * ctr[0] as u64;
    let p1 = PHILOX_M1 as u64 * ctr[2] as u64;
    let (hi0, lo0) = ((p0 >> 32) as u32, p0 as u32);
    let (hi1, lo1) = ((p1 >> 32) as u32, p1 as u32);
    [hi1 ^ ctr[1] ^ key[0], lo1, hi0 ^ ctr[3] ^ key[1], lo0]
}

/// Philox4x32 with 10 rounds: maps a 128-bit counter and a 64-bit key to
/// 128 random bits. Mirrored by `philox4x32_10` in the CUDA kernels.
pub fn philox4x32_10(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut ctr = ctr;
    let mut key = key;
    for round in 0..10 {
        if round > 0 {
            key = [key[0].wrapping_add(PHILOX_W0), key[1].wrapping_add(PHILOX_W1)];
        }
        ctr = philox_round(ctr, key);
    }
    ctr
}

/// A float uniform on [0, 1) from the top 24 bits of `x`; exact in f32.
pub fn u32_to_unit_f32(x: u32) -> f32 {
    (x >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// A pseudo-random permutation of `0..n`, keyed: a 4-round Feistel network
/// on the smallest even number of bits that covers `n`, walking the cycle
/// past `n` until it lands inside. Any index's image costs a few multiplies
/// and no memory, so a GPU warp can find its own work (`kernels/permute.cuh`
/// computes the same bits) and no order is drawn or uploaded per epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feistel {
    n: u32,
    half_bits: u32,
    /// The round keys.
    pub keys: [u32; 4],
}

impl Feistel {
    /// The permutation of `0..n` keyed by `seed`.
    pub fn new(n: u32, seed: u64) -> Feistel {
        let mut state = seed;
        let mut next = || {
            // splitmix64
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) as u32
        };
        Feistel::with_keys(n, [next(), next(), next(), next()])
    }

    /// The permutation of `0..n` with these round keys (the network's width
    /// follows from `n`): how [`Blocked`] permutes each block with one key.
    pub fn with_keys(n: u32, keys: [u32; 4]) -> Feistel {
        let bits = 32 - n.saturating_sub(1).leading_zeros();
        Feistel {
            n,
            half_bits: bits.div_ceil(2).max(1),
            keys,
        }
    }

    /// How many elements it permutes.
    pub fn len(&self) -> u32 {
        self.n
    }

    /// Whether it permutes nothing.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The bits of each half of the network (`kernels/permute.cuh` takes it).
    pub fn half_bits(&self) -> u32 {
        self.half_bits
    }

    /// The image of `i` (< n).
    pub fn get(&self, i: u32) -> u32 {
        let mut x = i;
        loop {
            x = feistel_round4(x, self.half_bits, &self.keys);
            if x < self.n {
                return x;
            }
        }
    }
}

/// A permutation of `0..n` that keeps consecutive blocks in place and
/// permutes inside each: block b is `starts[b]..starts[b + 1]`, and its
/// elements go in the [`Feistel`] order of its length with the shared round
/// keys. The sparse tasks' queue order: blocks of tasks from the largest to
/// the smallest, each block in a fresh order an epoch
/// (`kernels/permute.cuh`'s `blocked_get` computes the same bits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    starts: Vec<u32>,
    keys: [u32; 4],
}

impl Blocked {
    /// The permutation with blocks `starts` (ascending, from 0 to n) and
    /// the round keys of `Feistel::new(n, seed)`.
    pub fn new(starts: &[u32], seed: u64) -> Blocked {
        let n = starts.last().copied().unwrap_or(0);
        Blocked {
            starts: starts.to_vec(),
            keys: Feistel::new(n, seed).keys,
        }
    }

    /// How many elements it permutes.
    pub fn len(&self) -> u32 {
        self.starts.last().copied().unwrap_or(0)
    }

    /// Whether it permutes nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The round keys (the kernel takes them).
    pub fn keys(&self) -> [u32; 4] {
        self.keys
    }

    /// The image of `i` (< n): its block's start plus the block's
    /// [`Feistel`] image of its place in the block.
    pub fn get(&self, i: u32) -> u32 {
        // The last block that starts at or before i (blocks may be empty).
        let b = self.starts.partition_point(|&s| s <= i) - 1;
        let (lo, hi) = (self.starts[b], self.starts[b + 1]);
        lo + Feistel::with_keys(hi - lo, self.keys).get(i - lo)
    }
}

/// One pass of the 4-round network over `2·half` bits: (L, R) → (R, L ^ F(R, k)).
fn feistel_round4(x: u32, half: u32, keys: &[u32; 4]) -> u32 {
    let mask = (1u32 << half) - 1;
    let (mut l, mut r) = ((x >> half) & mask, x & mask);
    for &k in keys {
        let mut h = (r ^ k).wrapping_mul(0x9E37_79B1);
        h ^= h >> 15;
        h = h.wrapping_mul(0x85EB_CA6B);
        h ^= h >> 13;
        (l, r) = (r, l ^ (h & mask));
    }
    (l << half) | r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_permutes_inside_each_block_only() {
        let starts = [0, 5, 5, 6, 100, 1000];
        let p = Blocked::new(&starts, 9);
        assert_eq!(p.len(), 1000);
        let mut seen = vec![false; 1000];
        for i in 0..1000u32 {
            let x = p.get(i);
            let b = starts.partition_point(|&s| s <= i) - 1;
            assert!(
                (starts[b]..starts[b + 1]).contains(&x),
                "{i} -> {x} left its block"
            );
            assert!(!seen[x as usize], "{x} twice");
            seen[x as usize] = true;
        }
        // Inside a block, the block's own Feistel order with the shared keys.
        let f = Feistel::with_keys(900, p.keys());
        assert!((0..900).all(|i| p.get(100 + i) == 100 + f.get(i)));
        assert_ne!((0..5).map(|i| p.get(i)).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
    }

    #[test]
    fn mt19937_reference_output() {
        // The reference implementation's default seed, 5489, starts with 3499211612.
        let mut mt = Mt19937::new(5489);
        assert_eq!(mt.next_u32(), 3_499_211_612);
        // Its 10000th output is 4123659995 (C++11 [rand.predef] requires this of mt19937).
        let mut mt = Mt19937::new(5489);
        let x = (0..10_000).map(|_| mt.next_u32()).last();
        assert_eq!(x, Some(4_123_659_995));
    }

    #[test]
    fn numpy_permutation_seed_42() {
        // np.random.seed(42); np.random.permutation(10)
        let mut mt = Mt19937::new(42);
        assert_eq!(mt.permutation(10), vec![8, 1, 5, 0, 7, 2, 9, 4, 3, 6]);
    }

    #[test]
    fn numpy_random_sample_seed_42() {
        // np.random.seed(42); np.random.random_sample(3)
        let mut mt = Mt19937::new(42);
        let got: Vec<f64> = (0..3).map(|_| mt.random_sample()).collect();
        assert_eq!(
            got,
            vec![0.3745401188473625, 0.9507143064099162, 0.7319939418114051]
        );
    }

    #[test]
    fn interval_stays_in_range_and_covers_it() {
        let mut mt = Mt19937::new(1);
        let mut seen = [0usize; 6];
        for _ in 0..6000 {
            let v = mt.interval(5);
            assert!(v <= 5);
            seen[v as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 800), "{seen:?}");
        assert_eq!(mt.interval(0), 0);
    }

    #[test]
    fn philox_known_answers() {
        // Random123's kat_vectors, the three philox4x32 10 lines.
        let cases = [
            (
                [0, 0, 0, 0],
                [0, 0],
                [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
            ),
            (
                [u32::MAX; 4],
                [u32::MAX; 2],
                [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
            ),
            (
                [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
                [0xa4093822, 0x299f31d0],
                [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
            ),
        ];
        for (ctr, key, want) in cases {
            assert_eq!(philox4x32_10(ctr, key), want, "ctr {ctr:08x?} key {key:08x?}");
        }
    }

    #[test]
    fn unit_float_bounds() {
        assert_eq!(u32_to_unit_f32(0), 0.0);
        assert!(u32_to_unit_f32(u32::MAX) < 1.0);
        assert_eq!(u32_to_unit_f32(0x8000_0000), 0.5);
    }

    #[test]
    fn feistel_is_a_permutation_that_depends_on_its_key() {
        for n in [0u32, 1, 2, 3, 7, 64, 1000, 4097, 65_536] {
            let p = Feistel::new(n, 42);
            let mut seen = vec![false; n as usize];
            for i in 0..n {
                let j = p.get(i);
                assert!(
                    j < n && !seen[j as usize],
                    "n={n}: {i} -> {j} twice or out of range"
                );
                seen[j as usize] = true;
            }
        }
        let (a, b) = (Feistel::new(1000, 1), Feistel::new(1000, 2));
        let moved = (0..1000).filter(|&i| a.get(i) != b.get(i)).count();
        assert!(moved > 900, "two keys agree on {} of 1000", 1000 - moved);
        // Not the identity, and not a rotation: neighbours land far apart.
        let near = (0..999).filter(|&i| a.get(i).abs_diff(a.get(i + 1)) < 10).count();
        assert!(near < 50, "{near} of 999 neighbours stay within 10");
    }
}
