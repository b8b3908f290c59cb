//! The inner loops of [`super::score_topk`]: the item table packed into
//! tiles of 8 items, and the micro-kernel that scores 4 users × 16 items
//! (two tiles) at once, in a portable copy and an AVX2 copy that give the
//! same bits.
//!
//! # The layout
//!
//! The item table `m (N, F)` is row-major: item i's factors are contiguous.
//! [`PackedItems`] stores it *item-major by tile* instead: tile t holds
//! items 8t..8t+8, and factor j of those 8 items is one aligned 32-byte
//! [`Lanes`]:
//!
//! ```text
//! tiles[t·F + j] = [m[8t, j], m[8t+1, j], …, m[8t+7, j]]      tiles (T, F) of Lanes
//! mb[t]          = [mb[8t], …, mb[8t+7]]                       mb (T) of Lanes, or none
//! ```
//!
//! with T rounded up to an even number (the kernel takes tiles in pairs)
//! and the items past N zero (their lanes are masked off after scoring).
//!
//! # Why the bits are the reference's
//!
//! The reference ([`super::mf_score`]) computes, for one (user, item),
//! `acc = 0; for j in 0..F { acc = acc + u[j]·m[j] }`, then `+ ub` and
//! `+ mb` where present, each `*` and `+` rounded once. The kernel keeps
//! one accumulator *lane* per (user, item): lane l of `acc[r][h]` is user
//! r's sum for item 16p + 8h + l, and step j does `acc = acc + u_r[j]·m[j]`
//! on all 8 lanes with a separate `_mm256_mul_ps` and `_mm256_add_ps` (no
//! FMA: it rounds once for both). Each lane therefore performs exactly the
//! reference's operations in the reference's order; vectorising across
//! items, never across factors, is what keeps the sum order. The biases
//! are added after the loop, in the same order, and only where present
//! (adding a zero would turn −0 into +0).
//!
//! # Why it is fast
//!
//! Per factor j the kernel loads 2 item vectors and broadcasts 4 user
//! factors, then does 8 multiplies and 8 adds into 8 accumulators held in
//! registers: 64 (user, item) pairs advance for 6 loads. The caller walks
//! the tiles in the outer loop and a group of users in the inner one, so
//! a pair of tiles (2·F·32 bytes) and the group's user rows stay in L1
//! while every user of the group uses them.

/// Factor j of 8 consecutive items (or their 8 biases), aligned for one
/// 32-byte load.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C, align(32))]
pub(super) struct Lanes(pub(super) [f32; 8]);

/// Items per tile pair: the width the kernel scores at once.
pub(super) const PAIR: usize = 16;

/// The item table and its biases packed into tiles of 8 items (see the
/// module's comment); pack once, rank many users with
/// [`super::score_topk_packed`].
#[derive(Debug, Clone)]
pub struct PackedItems {
    /// Factors per item, F.
    pub(super) f: usize,
    /// Items, N.
    pub(super) n_items: usize,
    /// (T, F): `tiles[t·F + j]` is factor j of items 8t..8t+8; T even.
    pub(super) tiles: Vec<Lanes>,
    /// (T): the item biases by tile, or `None` when there are none.
    pub(super) mb: Option<Vec<Lanes>>,
}

impl PackedItems {
    /// Packs `m (n_items, f)` and `mb (n_items)` (or empty: no item bias).
    ///
    /// # Panics
    /// If `mb` is neither empty nor `n_items` long (`n_items` is
    /// `m.len() / f`).
    pub fn new(m: &[f32], mb: &[f32], f: usize) -> PackedItems {
        let n_items = m.len() / f.max(1);
        assert!(
            mb.is_empty() || mb.len() == n_items,
            "mb holds {} biases for {n_items} items",
            mb.len()
        );
        let n_tiles = n_items.div_ceil(PAIR) * 2;
        let mut tiles = vec![Lanes([0.0; 8]); n_tiles * f];
        for (i, row) in m.chunks_exact(f.max(1)).take(n_items).enumerate() {
            let (t, l) = (i / 8, i % 8);
            for (j, &x) in row.iter().enumerate().take(f) {
                tiles[t * f + j].0[l] = x;
            }
        }
        let mb = (!mb.is_empty()).then(|| {
            let mut v = vec![Lanes([0.0; 8]); n_tiles];
            for (i, &b) in mb.iter().enumerate() {
                v[i / 8].0[i % 8] = b;
            }
            v
        });
        PackedItems {
            f,
            n_items,
            tiles,
            mb,
        }
    }

    /// Items, N.
    pub fn n_items(&self) -> usize {
        self.n_items
    }

    /// Factors per item, F.
    pub fn factors(&self) -> usize {
        self.f
    }

    /// Tile pairs, ⌈N / 16⌉.
    pub(super) fn pairs(&self) -> usize {
        self.n_items.div_ceil(PAIR)
    }
}

/// What the kernel needs of one group of 4 users: their rows (4, F)
/// contiguous, their biases, and the score each must reach to be looked
/// at (its list's last score).
pub(super) struct Quad<'a> {
    /// (4, F)
    pub rows: &'a [f32],
    /// Each user's bias, `None` where it has none.
    pub ub: [Option<f32>; 4],
    /// A score below `thr[r]` cannot enter user r's list.
    pub thr: [f32; 4],
}

/// Scores users `q` × items 16p..16p+16 of `items` into `out[r][c]` (item
/// 16p + c) and returns, per user, the mask of the columns whose score is
/// ≥ its threshold (NaN never is). Portable: the same operations as
/// [`quad_pair_avx2`], lane by lane.
#[inline(always)]
pub(super) fn quad_pair_portable(
    q: &Quad,
    items: &PackedItems,
    p: usize,
    out: &mut [[f32; PAIR]; 4],
) -> [u32; 4] {
    let f = items.f;
    let tiles = &items.tiles[2 * p * f..(2 * p + 2) * f];
    let mut acc = [[0f32; PAIR]; 4];
    for j in 0..f {
        let (m0, m1) = (&tiles[j].0, &tiles[f + j].0);
        for (r, a) in acc.iter_mut().enumerate() {
            let x = q.rows[r * f + j];
            // One rounding for the product, one for the sum: Rust never
            // fuses them.
            for l in 0..8 {
                a[l] += x * m0[l];
                a[8 + l] += x * m1[l];
            }
        }
    }
    let mut masks = [0u32; 4];
    for r in 0..4 {
        for c in 0..PAIR {
            let mut s = acc[r][c];
            if let Some(b) = q.ub[r] {
                s += b;
            }
            if let Some(mb) = &items.mb {
                s += mb[2 * p + c / 8].0[c % 8];
            }
            out[r][c] = s;
            masks[r] |= u32::from(s >= q.thr[r]) << c;
        }
    }
    masks
}

/// [`quad_pair_portable`] with AVX2 intrinsics: the 8 accumulators
/// `acc[r][h]` live in registers.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub(super) unsafe fn quad_pair_avx2(
    q: &Quad,
    items: &PackedItems,
    p: usize,
    out: &mut [[f32; PAIR]; 4],
) -> [u32; 4] {
    use std::arch::x86_64::*;
    let f = items.f;
    let tiles = &items.tiles[2 * p * f..(2 * p + 2) * f];
    let rows = &q.rows[..4 * f];
    let (t0, t1) = (tiles.as_ptr(), tiles[f..].as_ptr());
    let u = rows.as_ptr();
    let mut acc = [[_mm256_setzero_ps(); 2]; 4];
    for j in 0..f {
        // SAFETY: j < F, so tiles[j], tiles[F + j] and rows[r·F + j] (r < 4)
        // are inside the slices sliced above; Lanes is 32-byte aligned.
        unsafe {
            let m0 = _mm256_load_ps(t0.add(j).cast());
            let m1 = _mm256_load_ps(t1.add(j).cast());
            for (r, a) in acc.iter_mut().enumerate() {
                let x = _mm256_broadcast_ss(&*u.add(r * f + j));
                a[0] = _mm256_add_ps(a[0], _mm256_mul_ps(x, m0));
                a[1] = _mm256_add_ps(a[1], _mm256_mul_ps(x, m1));
            }
        }
    }
    let mb = items.mb.as_ref().map(|mb| {
        // SAFETY: tiles 2p and 2p + 1 exist (T = 2·pairs) and are aligned.
        unsafe {
            [
                _mm256_load_ps(mb[2 * p].0.as_ptr()),
                _mm256_load_ps(mb[2 * p + 1].0.as_ptr()),
            ]
        }
    });
    let mut masks = [0u32; 4];
    for (r, a) in acc.iter_mut().enumerate() {
        if let Some(b) = q.ub[r] {
            let b = _mm256_set1_ps(b);
            a[0] = _mm256_add_ps(a[0], b);
            a[1] = _mm256_add_ps(a[1], b);
        }
        if let Some(mb) = mb {
            a[0] = _mm256_add_ps(a[0], mb[0]);
            a[1] = _mm256_add_ps(a[1], mb[1]);
        }
        let thr = _mm256_set1_ps(q.thr[r]);
        // Ordered ≥: false when either side is NaN, as the scalar `>=`.
        let lo = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(a[0], thr)) as u32;
        let hi = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(a[1], thr)) as u32;
        masks[r] = lo | hi << 8;
        // SAFETY: out[r] holds 16 floats; unaligned stores.
        unsafe {
            _mm256_storeu_ps(out[r].as_mut_ptr(), a[0]);
            _mm256_storeu_ps(out[r].as_mut_ptr().add(8), a[1]);
        }
    }
    masks
}
