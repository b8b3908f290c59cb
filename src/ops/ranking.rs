//! Full ranking for MF models: every item scored for a user, the best `k`
//! kept. The CPU twin of `kernels/ranking.cu`.
//!
//! [`score_topk`] is defined by a plain loop (kept as
//! `score_topk_reference`) and computed by a blocked one: the item table
//! packed into tiles of 8 items, 4 users × 16 items scored per kernel call
//! with AVX2 where the CPU has it, and a cheap compare against each user's
//! k-th score before a candidate is looked at. The layout and why the bits
//! do not change are in `ranking_kernels.rs`.

#[cfg(target_arch = "x86_64")]
use super::ranking_kernels::quad_pair_avx2;
pub use super::ranking_kernels::PackedItems;
use super::ranking_kernels::{quad_pair_portable, Quad, PAIR};

/// A missing entry of a top-k list (fewer than `k` candidates).
pub const NO_ITEM: u32 = u32::MAX;

/// `a` ranks above `b`: a higher score, or an equal one and a smaller
/// item. NaN ranks nowhere (it is never better).
#[inline]
pub fn ranks_above(a: (f32, u32), b: (f32, u32)) -> bool {
    a.0 > b.0 || (a.0 == b.0 && a.1 < b.1)
}

/// The raw score `(u_row·m_row + ub) + mb`, summed in factor order with
/// one rounding per product and per sum (the kernel uses `__fmul_rn` and
/// `__fadd_rn`, so the two agree to the bit). `None` biases are zero and
/// not added.
#[inline]
pub fn mf_score(u_row: &[f32], m_row: &[f32], ub: Option<f32>, mb: Option<f32>) -> f32 {
    let mut acc = 0f32;
    for (a, b) in u_row.iter().zip(m_row) {
        acc += a * b;
    }
    let acc = ub.map_or(acc, |b| acc + b);
    mb.map_or(acc, |b| acc + b)
}

/// For each `users[b]`: the `k` items of the highest raw score
/// ([`mf_score`]) among those not in `seen[seen_ptr[b]..seen_ptr[b + 1]]`
/// (sorted), best first ([`ranks_above`]), into `top_items[b·k..]` and
/// `top_scores[b·k..]`; a list with fewer candidates ends in
/// ([`NO_ITEM`], −∞).
///
/// Packs `m` and `mb` ([`PackedItems`]) and ranks with
/// [`score_topk_packed`]; the result is the plain loop's to the bit (see
/// `ranking_kernels.rs` for why). To rank many batches against one table,
/// pack it once and call [`score_topk_packed`].
///
/// Shapes: `u (n_users, f)`, `m (n_items, f)`, `ub (n_users)` and
/// `mb (n_items)` or empty, `users (B)`, `seen_ptr (B + 1)`,
/// `top_items (B, k)`, `top_scores (B, k)`.
#[allow(clippy::too_many_arguments)]
pub fn score_topk(
    top_items: &mut [u32],
    top_scores: &mut [f32],
    u: &[f32],
    m: &[f32],
    ub: &[f32],
    mb: &[f32],
    users: &[u32],
    seen_ptr: &[u32],
    seen: &[u32],
    f: usize,
    k: usize,
) {
    let n_items = m.len() / f.max(1);
    if !mb.is_empty() && mb.len() < n_items {
        // Biases for only some items: no caller does this; keep its meaning.
        return score_topk_reference(top_items, top_scores, u, m, ub, mb, users, seen_ptr, seen, f, k);
    }
    let items = PackedItems::new(m, &mb[..mb.len().min(n_items)], f);
    score_topk_packed(top_items, top_scores, u, ub, &items, users, seen_ptr, seen, k);
}

/// [`score_topk`] against an item table packed once with
/// [`PackedItems::new`]: the same lists, to the bit.
///
/// Shapes: `u (n_users, F)`, `ub (n_users)` or empty, `users (B)`,
/// `seen_ptr (B + 1)`, `top_items (B, k)`, `top_scores (B, k)`.
#[allow(clippy::too_many_arguments)]
pub fn score_topk_packed(
    top_items: &mut [u32],
    top_scores: &mut [f32],
    u: &[f32],
    ub: &[f32],
    items: &PackedItems,
    users: &[u32],
    seen_ptr: &[u32],
    seen: &[u32],
    k: usize,
) {
    if k == 0 || users.is_empty() {
        return;
    }
    let t = Tables {
        u,
        ub,
        items,
        users,
        seen_ptr,
        seen,
        k,
    };
    // The same driver compiled for AVX2 where the CPU has it; the kernel
    // copies give the same bits, so only the speed depends on the CPU.
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { rank_avx2(top_items, top_scores, &t) };
        return;
    }
    rank_body::<false>(top_items, top_scores, &t);
}

/// The inputs of [`score_topk_packed`], bundled.
struct Tables<'a> {
    u: &'a [f32],
    ub: &'a [f32],
    items: &'a PackedItems,
    users: &'a [u32],
    seen_ptr: &'a [u32],
    seen: &'a [u32],
    k: usize,
}

/// [`rank_body`] compiled with AVX2 enabled.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn rank_avx2(top_items: &mut [u32], top_scores: &mut [f32], t: &Tables) {
    rank_body::<true>(top_items, top_scores, t);
}

/// User rows a group keeps in L1 (floats): a group is about this many
/// floats of `u`, 4 to 64 users.
const GROUP_FLOATS: usize = 4096;

/// The driver. Users go in groups (rows copied contiguous, padded to a
/// multiple of 4); for each group, the outer loop walks the item tile
/// pairs and the inner loop the group's quads of users, so one pair of
/// tiles is read from memory once and used by the whole group from L1.
/// Each quad × pair is scored by the kernel, which also compares every
/// score with its user's current k-th; only the few that reach it go
/// through [`offer`]. `AVX2` says which kernel copy to call.
#[inline(always)]
fn rank_body<const AVX2: bool>(top_items: &mut [u32], top_scores: &mut [f32], t: &Tables) {
    let (items, k) = (t.items, t.k);
    let (f, n_items) = (items.f, items.n_items);
    let group = (GROUP_FLOATS / f.max(1)).clamp(4, 64) / 4 * 4;
    let mut rows = vec![0f32; group * f]; // (group, F)
    let mut lists = vec![(f32::NEG_INFINITY, NO_ITEM); group * k]; // (group, k)
    let mut cursor = vec![0usize; group]; // next seen item to pass, per user
    let mut ubs = vec![[None; 4]; group / 4]; // (group / 4, 4)
                                              // Each user's list's last score, the bar a score must reach to be
                                              // offered; +∞ for the padding slots of the last quad.
    let mut thr = vec![[f32::INFINITY; 4]; group / 4]; // (group / 4, 4)
    let mut out = [[0f32; PAIR]; 4];
    for g0 in (0..t.users.len()).step_by(group) {
        let g = (t.users.len() - g0).min(group);
        let quads = g.div_ceil(4);
        for s in 0..quads * 4 {
            let (ub, bar) = (&mut ubs[s / 4][s % 4], &mut thr[s / 4][s % 4]);
            if s < g {
                let user = t.users[g0 + s] as usize;
                rows[s * f..(s + 1) * f].copy_from_slice(&t.u[user * f..(user + 1) * f]);
                *ub = t.ub.get(user).copied();
                *bar = f32::NEG_INFINITY;
                cursor[s] = t.seen_ptr[g0 + s] as usize;
            } else {
                // A padding slot: scored (a stale row), never offered.
                (*ub, *bar) = (None, f32::INFINITY);
            }
        }
        lists[..g * k].fill((f32::NEG_INFINITY, NO_ITEM));
        for p in 0..items.pairs() {
            let valid = if (p + 1) * PAIR <= n_items {
                u32::MAX
            } else {
                (1u32 << (n_items - p * PAIR)) - 1
            };
            for qd in 0..quads {
                let q = Quad {
                    rows: &rows[qd * 4 * f..(qd + 1) * 4 * f],
                    ub: ubs[qd],
                    thr: thr[qd],
                };
                let masks = match AVX2 {
                    // SAFETY: AVX2 is true only in the copy compiled for it, which runs where the CPU has it.
                    #[cfg(target_arch = "x86_64")]
                    true => unsafe { quad_pair_avx2(&q, items, p, &mut out) },
                    _ => quad_pair_portable(&q, items, p, &mut out),
                };
                // Almost always: no score of the 64 reaches its user's bar.
                if (masks[0] | masks[1] | masks[2] | masks[3]) & valid == 0 {
                    continue;
                }
                for (r, &mask) in masks.iter().enumerate() {
                    let s = qd * 4 + r;
                    let mut bits = mask & valid;
                    // (A padding slot's +∞ bar is reached by a +∞ score.)
                    if bits == 0 || s >= g {
                        continue;
                    }
                    let list = &mut lists[s * k..(s + 1) * k];
                    let seen = &t.seen[..t.seen_ptr[g0 + s + 1] as usize];
                    while bits != 0 {
                        let c = bits.trailing_zeros() as usize;
                        bits &= bits - 1;
                        offer(list, seen, &mut cursor[s], (out[r][c], (p * PAIR + c) as u32));
                    }
                    thr[qd][r] = list[k - 1].0;
                }
            }
        }
        for s in 0..g {
            let b = g0 + s;
            for (j, &(sc, i)) in lists[s * k..(s + 1) * k].iter().enumerate() {
                top_scores[b * k + j] = sc;
                top_items[b * k + j] = i;
            }
        }
    }
}

/// Offers `cand` to a sorted `list`: it enters if it ranks above the last
/// entry and is not seen. Items are offered in increasing order, so the
/// seen test is a merge walk: `cursor` only moves forward through `seen`.
#[inline]
fn offer(list: &mut [(f32, u32)], seen: &[u32], cursor: &mut usize, cand: (f32, u32)) {
    let k = list.len();
    if !ranks_above(cand, list[k - 1]) {
        return;
    }
    while *cursor < seen.len() && seen[*cursor] < cand.1 {
        *cursor += 1;
    }
    if seen.get(*cursor) == Some(&cand.1) {
        return;
    }
    // Insertion into the sorted list, as each kernel thread does.
    let mut p = k - 1;
    while p > 0 && ranks_above(cand, list[p - 1]) {
        list[p] = list[p - 1];
        p -= 1;
    }
    list[p] = cand;
}

/// The plain loop [`score_topk`] was, kept as its definition: every item
/// scored with [`mf_score`], the seen list binary-searched, the best `k`
/// kept by insertion. The tests hold the fast path to it, bit for bit.
#[allow(clippy::too_many_arguments)]
fn score_topk_reference(
    top_items: &mut [u32],
    top_scores: &mut [f32],
    u: &[f32],
    m: &[f32],
    ub: &[f32],
    mb: &[f32],
    users: &[u32],
    seen_ptr: &[u32],
    seen: &[u32],
    f: usize,
    k: usize,
) {
    let n_items = m.len() / f.max(1);
    let mut list: Vec<(f32, u32)> = Vec::with_capacity(k + 1);
    for (b, &user) in users.iter().enumerate() {
        let user = user as usize;
        let u_row = &u[user * f..(user + 1) * f];
        let seen = &seen[seen_ptr[b] as usize..seen_ptr[b + 1] as usize];
        list.clear();
        list.resize(k, (f32::NEG_INFINITY, NO_ITEM));
        for i in 0..n_items {
            if seen.binary_search(&(i as u32)).is_ok() {
                continue;
            }
            let s = mf_score(
                u_row,
                &m[i * f..(i + 1) * f],
                ub.get(user).copied(),
                mb.get(i).copied(),
            );
            let cand = (s, i as u32);
            if k == 0 || !ranks_above(cand, list[k - 1]) {
                continue;
            }
            // Insertion into the sorted list, as each kernel thread does.
            let mut p = k - 1;
            while p > 0 && ranks_above(cand, list[p - 1]) {
                list[p] = list[p - 1];
                p -= 1;
            }
            list[p] = cand;
        }
        for (j, &(s, i)) in list.iter().enumerate() {
            top_scores[b * k + j] = s;
            top_items[b * k + j] = i;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small xorshift, so the tests need nothing else.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
        /// Mostly multiples of 1/8 in [−1, 1] (so that sums tie), now and
        /// then a NaN, ±∞, ±0 or a subnormal.
        fn value(&mut self) -> f32 {
            match self.below(200) {
                0 => f32::NAN,
                1 => f32::INFINITY,
                2 => f32::NEG_INFINITY,
                3 => -0.0,
                4 => f32::MIN_POSITIVE / 8.0,
                5..=99 => (self.below(17) as f32 - 8.0) / 8.0,
                _ => (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0,
            }
        }
        fn values(&mut self, n: usize) -> Vec<f32> {
            (0..n).map(|_| self.value()).collect()
        }
    }

    /// One random case: tables, users (some repeated), seen lists.
    struct Case {
        u: Vec<f32>,
        m: Vec<f32>,
        ub: Vec<f32>,
        mb: Vec<f32>,
        users: Vec<u32>,
        seen_ptr: Vec<u32>,
        seen: Vec<u32>,
    }

    fn case(rng: &mut Rng, n_users: usize, n_items: usize, f: usize, biases: bool) -> Case {
        let u = rng.values(n_users * f);
        let mut m = rng.values(n_items * f);
        // Duplicate item rows: exact ties, broken by the smaller item.
        for _ in 0..n_items / 4 {
            let (a, b) = (rng.below(n_items), rng.below(n_items));
            let row = m[a * f..(a + 1) * f].to_vec();
            m[b * f..(b + 1) * f].copy_from_slice(&row);
        }
        let (ub, mb) = if biases {
            (rng.values(n_users), rng.values(n_items))
        } else {
            (Vec::new(), Vec::new())
        };
        let users: Vec<u32> = (0..n_users + 3).map(|_| rng.below(n_users) as u32).collect();
        let (mut seen_ptr, mut seen) = (vec![0u32], Vec::new());
        for b in 0..users.len() {
            let mut s: Vec<u32> = match b % 5 {
                0 => Vec::new(),
                // All but a few: the list is padded.
                1 => (0..n_items as u32).filter(|_| rng.below(50) != 0).collect(),
                _ => (0..rng.below(n_items / 2 + 1))
                    .map(|_| rng.below(n_items) as u32)
                    .collect(),
            };
            s.sort_unstable();
            s.dedup();
            seen.extend(s);
            seen_ptr.push(seen.len() as u32);
        }
        Case {
            u,
            m,
            ub,
            mb,
            users,
            seen_ptr,
            seen,
        }
    }

    /// The reference's lists for `c`, and `run`'s; panics at the first
    /// difference in an item or a score's bits.
    fn assert_same(c: &Case, f: usize, k: usize, what: &str, run: impl FnOnce(&mut [u32], &mut [f32])) {
        let n = c.users.len() * k;
        let (mut want_i, mut want_s) = (vec![7u32; n], vec![7f32; n]);
        score_topk_reference(
            &mut want_i,
            &mut want_s,
            &c.u,
            &c.m,
            &c.ub,
            &c.mb,
            &c.users,
            &c.seen_ptr,
            &c.seen,
            f,
            k,
        );
        let (mut got_i, mut got_s) = (vec![7u32; n], vec![7f32; n]);
        run(&mut got_i, &mut got_s);
        for j in 0..n {
            if got_i[j] != want_i[j] || got_s[j].to_bits() != want_s[j].to_bits() {
                panic!(
                    "{what}: user slot {} rank {}: got ({}, {:?} = {:#x}), want ({}, {:?} = {:#x})",
                    j / k,
                    j % k,
                    got_i[j],
                    got_s[j],
                    got_s[j].to_bits(),
                    want_i[j],
                    want_s[j],
                    want_s[j].to_bits()
                );
            }
        }
    }

    #[test]
    fn the_fast_path_is_the_reference_to_the_bit() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for f in [1, 3, 8, 32, 33, 100] {
            for n_items in [1, 7, 61, 1000] {
                for biases in [false, true] {
                    // More users than one group holds for small F, so groups
                    // and the padded last quad are both exercised.
                    let n_users = if f <= 8 { 70 } else { 13 };
                    let c = case(&mut rng, n_users, n_items, f, biases);
                    for k in [0, 1, 10, 32] {
                        let what = format!("F={f} N={n_items} k={k} biases={biases}");
                        assert_same(&c, f, k, &format!("{what} score_topk"), |i, s| {
                            score_topk(
                                i,
                                s,
                                &c.u,
                                &c.m,
                                &c.ub,
                                &c.mb,
                                &c.users,
                                &c.seen_ptr,
                                &c.seen,
                                f,
                                k,
                            )
                        });
                        // The portable kernel, which only non-AVX2 CPUs run.
                        let items = PackedItems::new(&c.m, &c.mb, f);
                        assert_same(&c, f, k, &format!("{what} portable"), |i, s| {
                            let t = Tables {
                                u: &c.u,
                                ub: &c.ub,
                                items: &items,
                                users: &c.users,
                                seen_ptr: &c.seen_ptr,
                                seen: &c.seen,
                                k,
                            };
                            if k > 0 {
                                rank_body::<false>(i, s, &t);
                            }
                        });
                    }
                }
            }
        }
    }

    #[test]
    fn batches_against_one_packed_table_are_one_call() {
        let mut rng = Rng(12345);
        let (f, n_items, k) = (32, 333, 10);
        let c = case(&mut rng, 50, n_items, f, true);
        let items = PackedItems::new(&c.m, &c.mb, f);
        assert_eq!((items.n_items(), items.factors()), (n_items, f));
        assert_same(&c, f, k, "batches of 7", |top_i, top_s| {
            for start in (0..c.users.len()).step_by(7) {
                let end = (start + 7).min(c.users.len());
                score_topk_packed(
                    &mut top_i[start * k..end * k],
                    &mut top_s[start * k..end * k],
                    &c.u,
                    &c.ub,
                    &items,
                    &c.users[start..end],
                    &c.seen_ptr[start..=end],
                    &c.seen,
                    k,
                );
            }
        });
    }

    #[test]
    fn the_best_unseen_items_by_hand() {
        // Two users, four items, F = 1: scores are u·m + ub + mb.
        let (u, m) = ([1.0, -1.0], [0.5, 2.0, 1.0, 2.0]);
        let (ub, mb) = ([0.0, 0.0], [0.0, 0.0, 1.0, 0.0]);
        // User 0 saw item 1; user 1 saw nothing. k = 3.
        let (users, seen_ptr, seen) = ([0, 1], [0, 1, 1], [1]);
        let (mut items, mut scores) = ([0u32; 6], [0f32; 6]);
        score_topk(
            &mut items,
            &mut scores,
            &u,
            &m,
            &ub,
            &mb,
            &users,
            &seen_ptr,
            &seen,
            1,
            3,
        );
        // User 0: item 2 scores 2, item 3 scores 2 (tie: smaller first... 2 < 3), item 0 0.5.
        assert_eq!(&items[..3], &[2, 3, 0]);
        assert_eq!(&scores[..3], &[2.0, 2.0, 0.5]);
        // User 1: -0.5, -2, 0, -2: item 2 (0), item 0 (-0.5), then item 1 (-2) before 3.
        assert_eq!(&items[3..], &[2, 0, 1]);
        // Fewer candidates than k: the list is padded.
        let (mut items, mut scores) = ([0u32; 4], [0f32; 4]);
        score_topk(
            &mut items,
            &mut scores,
            &u,
            &m,
            &[],
            &[],
            &[0],
            &[0, 3],
            &[0, 1, 2],
            1,
            4,
        );
        assert_eq!(items, [3, NO_ITEM, NO_ITEM, NO_ITEM]);
        assert_eq!(scores[1], f32::NEG_INFINITY);
    }
}
