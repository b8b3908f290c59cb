//! `mfcuda check`: the sparse SGD kernels in f32 and bf16, and `group_mean`.

use super::{BATCHES, SPARSE_FACTORS};
use crate::backend::cuda::DeviceFactor;
use crate::backend::cuda::Gpu;
use crate::compare::Comparison;
use crate::error::Result;
use crate::ops;
use crate::ops::Storage;
use crate::rng::Mt19937;
use crate::tools::cases::{compare_all, compare_device, indices, uniform, widen};

/// The sparse SGD kernel against `ops::mf_sgd_sparse` and the prediction
/// kernel against `ops::mf_predict`, with factors stored as `S`.
///
/// - One warp over 300 ratings on 37 users and 23 items, so that rows are
///   hit again and again: the warp takes the ratings in the CPU's order, so
///   the tables must agree within 1e-5 (f32). In bf16, where a last-bit
///   difference in the dot product can round a factor the other way, within
///   one bf16 step (2^-7 relative).
/// - All warps at once over ratings that share no row: no race can happen,
///   so the parallel launch must agree just as well.
pub(super) fn checks<S: DeviceFactor>(
    gpu: &Gpu,
    rng: &mut Mt19937,
    push: &mut impl FnMut(&str, String, Comparison),
) -> Result<()> {
    let (name, rtol) = match S::STORAGE {
        Storage::F32 => ("f32", 1e-5),
        Storage::Bf16 => ("bf16", 1.0 / 128.0),
    };
    let to_s = |v: &[f32]| v.iter().map(|&x| S::put(x)).collect::<Vec<S>>();
    let dev = |v: &[S]| v.iter().map(|&x| x.to_dev()).collect::<Vec<S::Dev>>();
    let wide = |v: &[S]| v.iter().map(|x| x.get() as f64).collect::<Vec<f64>>();
    let back = |d: Vec<S::Dev>| d.into_iter().map(S::from_dev).collect::<Vec<S>>();
    for &f in &SPARSE_FACTORS {
        for (mode, n_users, n_items, n) in [
            ("one warp", 37, 23, 300),
            ("all warps, distinct rows", 4096, 4096, 4096),
        ] {
            let one_warp = mode == "one warp";
            let (users, items) = if one_warp {
                (indices(rng, n, n_users), indices(rng, n, n_items))
            } else {
                (
                    rng.permutation(n_users)[..n].to_vec(),
                    rng.permutation(n_items)[..n].to_vec(),
                )
            };
            let ratings = uniform(rng, n, 0.5, 5.0);
            let (mut u, mut m) = (
                to_s(&uniform(rng, n_users * f, -0.1, 0.1)),
                to_s(&uniform(rng, n_items * f, -0.1, 0.1)),
            );
            let (mut ub, mut mb) = (uniform(rng, n_users, -0.3, 0.3), uniform(rng, n_items, -0.3, 0.3));
            let (mu, lr, reg) = (3.5f32, 0.01f32, 0.05f32);
            let (mut du, mut dm) = (gpu.upload(&dev(&u))?, gpu.upload(&dev(&m))?);
            let (mut dub, mut dmb) = (gpu.upload(&ub)?, gpu.upload(&mb)?);
            let (dus, dis, drs) = (gpu.upload(&users)?, gpu.upload(&items)?, gpu.upload(&ratings)?);
            let mut derr = gpu.zeros::<f32>(n)?;
            let mut err = vec![0f32; n];
            ops::mf_sgd_sparse(
                &mut u, &mut m, &mut ub, &mut mb, mu, &users, &items, &ratings, &mut err, f, lr, reg,
            );
            gpu.mf_sgd_sparse::<S>(
                &mut du.as_view_mut(),
                &mut dm.as_view_mut(),
                &mut dub.as_view_mut(),
                &mut dmb.as_view_mut(),
                mu,
                (&dus.as_view(), &dis.as_view(), &drs.as_view()),
                &mut derr.as_view_mut(),
                f,
                lr,
                reg,
                if one_warp { 1 } else { usize::MAX },
            )?;
            let cmp = compare_all(
                &[
                    (wide(&back(gpu.download(&du.as_view())?)), wide(&u)),
                    (wide(&back(gpu.download(&dm.as_view())?)), wide(&m)),
                    (widen(&gpu.download(&dub.as_view())?), widen(&ub)),
                    (widen(&gpu.download(&dmb.as_view())?), widen(&mb)),
                    (widen(&gpu.download(&derr.as_view())?), widen(&err)),
                ],
                1e-5,
                rtol,
            );
            push(
                &format!("mf_sgd_sparse {name}"),
                format!("{mode} R={n} F={f}"),
                cmp,
            );
        }
        // Predictions for 1000 rows from the same kind of tables (small
        // factors, as trained ones are, keep |pred| well away from 0, where
        // the two summation orders would dominate the relative tolerance).
        let (n_users, n_items, n) = (37, 23, 1000);
        let (u, m) = (
            to_s(&uniform(rng, n_users * f, -0.1, 0.1)),
            to_s(&uniform(rng, n_items * f, -0.1, 0.1)),
        );
        let (ub, mb) = (uniform(rng, n_users, -0.3, 0.3), uniform(rng, n_items, -0.3, 0.3));
        let (users, items) = (indices(rng, n, n_users), indices(rng, n, n_items));
        let mut want = vec![0f32; n];
        ops::mf_predict(&mut want, &u, &m, &ub, &mb, 3.5, &users, &items, f);
        let mut got = gpu.zeros::<f32>(n)?;
        gpu.mf_predict::<S>(
            &mut got.as_view_mut(),
            &gpu.upload(&dev(&u))?.as_view(),
            &gpu.upload(&dev(&m))?.as_view(),
            &gpu.upload(&ub)?.as_view(),
            &gpu.upload(&mb)?.as_view(),
            3.5,
            &gpu.upload(&users)?.as_view(),
            &gpu.upload(&items)?.as_view(),
            f,
        )?;
        let cmp = compare_device(gpu, &[(&got, &want)], 1e-6, 1e-5)?;
        push(&format!("mf_predict {name}"), format!("R={n} F={f}"), cmp);
    }
    Ok(())
}

/// `group_mean` against `ops::group_mean`: both sum in f64 in order, so to the bit.
pub(super) fn group_mean_checks(
    gpu: &Gpu,
    rng: &mut Mt19937,
    push: &mut impl FnMut(&str, String, Comparison),
) -> Result<()> {
    for &n in &BATCHES {
        for group in [1usize, 7, 64] {
            let x = uniform(rng, n, 0.0, 4.0);
            let groups = n.div_ceil(group);
            let mut want = vec![0f32; groups];
            ops::group_mean(&mut want, &x, group);
            let mut got = gpu.zeros::<f32>(groups)?;
            gpu.group_mean(&mut got.as_view_mut(), &gpu.upload(&x)?.as_view(), group)?;
            let cmp = compare_device(gpu, &[(&got, &want)], 0.0, 0.0)?;
            push("group_mean", format!("n={n} group={group}"), cmp);
        }
    }
    Ok(())
}
