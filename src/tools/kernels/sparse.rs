//! The sparse kernels (`kernels/sparse.cu`): sparse SGD in f32 and bf16,
//! the prediction and `group_mean`, checked for `mfcuda check`; and the
//! versions of the update, checked and timed by `mfcuda bench --versions
//! sparse` (`version`).

use super::{compare_all, compare_device, indices, uniform, widen, Speed, VersionCheck, VersionRow, BATCHES};
use crate::backend::cuda::{DeviceFactor, Gpu, SparseVersion};
use crate::compare::{compare, Comparison};
use crate::error::Result;
use crate::ops::{self, Factor, Storage};
use crate::rng::Mt19937;
use crate::tools::scale::bytes_per_update;
use crate::tools::timing::time_gpu;

/// Embedding widths the sparse kernels are checked at: both load paths (four
/// factors a load when F % 4 == 0, one otherwise), in the narrow kernel (1,
/// 31, 64, 100, 128) and the wide one (50, 132, 512), up to each one's limit.
pub const SPARSE_FACTORS: [usize; 8] = [1, 31, 50, 64, 100, 128, 132, 512];

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
pub(crate) fn checks<S: DeviceFactor>(
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
pub(crate) fn group_mean_checks(
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

/// A sparse job: tables, biases and ratings, in f32.
#[derive(Clone)]
pub(crate) struct SparseJob {
    pub(crate) u: Vec<f32>,
    pub(crate) m: Vec<f32>,
    pub(crate) ub: Vec<f32>,
    pub(crate) mb: Vec<f32>,
    pub(crate) users: Vec<u32>,
    pub(crate) items: Vec<u32>,
    pub(crate) ratings: Vec<f32>,
    pub(crate) f: usize,
}

const MU: f32 = 3.5;
const LR: f32 = 0.005;
const REG: f32 = 0.02;

impl SparseJob {
    pub(crate) fn draw(rng: &mut Mt19937, users: usize, items: usize, n: usize, f: usize) -> SparseJob {
        SparseJob {
            u: uniform(rng, users * f, -0.1, 0.1),
            m: uniform(rng, items * f, -0.1, 0.1),
            ub: uniform(rng, users, -0.3, 0.3),
            mb: uniform(rng, items, -0.3, 0.3),
            users: indices(rng, n, users),
            items: indices(rng, n, items),
            ratings: uniform(rng, n, 0.5, 5.0),
            f,
        }
    }

    /// One epoch in order on the CPU, in storage `S`: the twin.
    pub(crate) fn epoch_twin<S: Factor>(
        &self,
        u: &mut [S],
        m: &mut [S],
        ub: &mut [f32],
        mb: &mut [f32],
        sq: &mut [f32],
    ) {
        ops::mf_sgd_sparse(
            u,
            m,
            ub,
            mb,
            MU,
            &self.users,
            &self.items,
            &self.ratings,
            sq,
            self.f,
            LR,
            REG,
        );
    }
}

/// One sparse version: checked with one warp (one thread for v1) on a small
/// job whose rows repeat, against the twin in the same storage (f32: within
/// 1e-5 relative; bf16: one bf16 step, 2^-7), then timed over one epoch of
/// `job` with every warp the GPU holds.
pub(crate) fn version<S: DeviceFactor>(
    gpu: &Gpu,
    v: SparseVersion,
    job: &SparseJob,
    rng: &mut Mt19937,
    quick: bool,
    speed: &Speed<'_>,
) -> Result<VersionRow> {
    let rtol = if S::STORAGE == Storage::Bf16 {
        1.0 / 128.0
    } else {
        1e-5
    };
    let to_s = |v: &[f32]| v.iter().map(|&x| S::put(x)).collect::<Vec<S>>();
    let dev = |v: &[S]| v.iter().map(|&x| x.to_dev()).collect::<Vec<S::Dev>>();
    let run = |j: &SparseJob, max_warps: usize, time: bool| -> Result<(Vec<f64>, f64)> {
        let (u, m) = (to_s(&j.u), to_s(&j.m));
        let (mut du, mut dm) = (gpu.upload(&dev(&u))?, gpu.upload(&dev(&m))?);
        let (mut dub, mut dmb) = (gpu.upload(&j.ub)?, gpu.upload(&j.mb)?);
        let (dus, dis, drs) = (
            gpu.upload(&j.users)?,
            gpu.upload(&j.items)?,
            gpu.upload(&j.ratings)?,
        );
        let mut derr = gpu.zeros::<f32>(j.ratings.len())?;
        let mut launch = || {
            gpu.mf_sgd_sparse_version::<S>(
                v,
                &mut du.as_view_mut(),
                &mut dm.as_view_mut(),
                &mut dub.as_view_mut(),
                &mut dmb.as_view_mut(),
                MU,
                (&dus.as_view(), &dis.as_view(), &drs.as_view()),
                &mut derr.as_view_mut(),
                j.f,
                LR,
                REG,
                max_warps,
            )
        };
        if time {
            let reps = if gpu.is_emulated() {
                2
            } else if quick {
                3
            } else {
                5
            };
            let ms = time_gpu(gpu, 1, reps, &mut launch)?;
            return Ok((Vec::new(), ms));
        }
        launch()?;
        let back = |d: Vec<S::Dev>| {
            d.into_iter()
                .map(|x| S::from_dev(x).get() as f64)
                .collect::<Vec<f64>>()
        };
        let mut got = back(gpu.download(&du.as_view())?);
        got.extend(back(gpu.download(&dm.as_view())?));
        got.extend(widen(&gpu.download(&dub.as_view())?));
        got.extend(widen(&gpu.download(&dmb.as_view())?));
        Ok((got, 0.0))
    };
    // The check: rows repeat, one warp keeps the CPU's order.
    let small = SparseJob::draw(rng, 37, 23, 300, job.f);
    let (got, _) = run(&small, 1, false)?;
    let (mut u, mut m, mut ub, mut mb) = (to_s(&small.u), to_s(&small.m), small.ub.clone(), small.mb.clone());
    small.epoch_twin(&mut u, &mut m, &mut ub, &mut mb, &mut vec![0.0; 300]);
    let mut want: Vec<f64> = u.iter().chain(&m).map(|x| x.get() as f64).collect();
    want.extend(widen(&ub));
    want.extend(widen(&mb));
    let check = VersionCheck::of(&compare(&got, &want, 1e-6, rtol), v.kernel());
    // The speed: one epoch of the big job, every warp at once (Hogwild).
    let (_, ms) = run(job, usize::MAX, true)?;
    let n = job.ratings.len();
    let bytes = (n * bytes_per_update(job.f, S::STORAGE)) as f64;
    Ok(speed(
        "cuda",
        v.about(),
        v.kernel(),
        ms,
        bytes,
        n as f64,
        Some(check),
    ))
}
