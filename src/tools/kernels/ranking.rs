//! The ranking kernels (`kernels/ranking.cu`): both versions (`score_topk`,
//! `score_topk_tiled`) against `ops::score_topk`, to the bit, for `mfcuda
//! check`.

use super::{compare_all, uniform, widen};
use crate::backend::cuda::ranking::{RankKernel, RankTables};
use crate::backend::cuda::Gpu;
use crate::compare::Comparison;
use crate::error::Result;
use crate::ops;
use crate::rng::Mt19937;

/// Users with random seen lists (some empty, one holding all but three
/// items, so that its list is padded), at several widths and cut-offs,
/// with and without biases; items 1 to 4 copy item 0's row (ties, broken by
/// the smaller item) and item 7's row is NaN (it never ranks). 40 users: the
/// tiled version's last block holds 8 of its 16. Each version must agree
/// with the CPU exactly: both sum in factor order with one rounding per
/// operation, and the order of (score, item) is total.
pub(crate) fn checks(
    gpu: &Gpu,
    rng: &mut Mt19937,
    push: &mut impl FnMut(&str, String, Comparison),
) -> Result<()> {
    let (n_users, n_items) = (40usize, 3000usize);
    for (f, k, biases) in [(1, 1, false), (10, 10, true), (50, 32, true), (64, 7, false)] {
        let (u, mut m) = (
            uniform(rng, n_users * f, -1.0, 1.0),
            uniform(rng, n_items * f, -1.0, 1.0),
        );
        for i in 1..5 {
            m.copy_within(0..f, i * f);
        }
        m[7 * f..8 * f].fill(f32::NAN);
        let (ub, mb) = if biases {
            (uniform(rng, n_users, -0.5, 0.5), uniform(rng, n_items, -0.5, 0.5))
        } else {
            (Vec::new(), Vec::new())
        };
        let users: Vec<u32> = (0..n_users as u32).rev().collect();
        let (mut seen_ptr, mut seen) = (vec![0u32], Vec::new());
        for b in 0..n_users {
            let mut s: Vec<u32> = match b {
                0 => Vec::new(),
                1 => (3..n_items as u32).collect(),
                _ => (0..rng.interval(200) as usize)
                    .map(|_| rng.interval(n_items as u32 - 1))
                    .collect(),
            };
            s.sort_unstable();
            s.dedup();
            seen.extend(s);
            seen_ptr.push(seen.len() as u32);
        }
        let (mut want_i, mut want_s) = (vec![0u32; n_users * k], vec![0f32; n_users * k]);
        ops::score_topk(
            &mut want_i,
            &mut want_s,
            &u,
            &m,
            &ub,
            &mb,
            &users,
            &seen_ptr,
            &seen,
            f,
            k,
        );
        let (u_dev, m_dev) = (gpu.upload(&u)?, gpu.upload(&m)?);
        let (ub_dev, mb_dev) = (gpu.upload(&ub)?, gpu.upload(&mb)?);
        let tables = RankTables {
            u: u_dev.slice(..),
            m: m_dev.slice(..),
            ub: biases.then(|| ub_dev.slice(..)),
            mb: biases.then(|| mb_dev.slice(..)),
            n_items,
            f,
        };
        let finite = |v: &[f32]| -> Vec<f64> { widen(v).into_iter().map(|x| x.max(-1e30)).collect() };
        let bias = if biases { "+bias" } else { "" };
        for v in RankKernel::ALL {
            if !v.fits(n_items, f, k) {
                continue;
            }
            // Batches of 24 users, so that the batching (and a part block) is checked too.
            let (got_i, got_s) = gpu.rank_all_with(v, &tables, &users, &seen_ptr, &seen, k, 24)?;
            let cmp = compare_all(
                &[(widen(&got_i), widen(&want_i)), (finite(&got_s), finite(&want_s))],
                0.0,
                0.0,
            );
            push(
                v.kernel(),
                format!("U={n_users} I={n_items} F={f} k={k}{bias}"),
                cmp,
            );
        }
    }
    Ok(())
}
