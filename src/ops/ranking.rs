//! Full ranking for MF models: every item scored for a user, the best `k`
//! kept. The CPU twin of `kernels/ranking.cu`.

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
