//! `mfcuda check`: the fused step kernel and the scheduled optimizer updates.

use cudarc::driver::CudaSlice;

use super::{BATCHES, FACTORS, PARAM_COUNTS};
use crate::backend::cuda::optim::{update, Step};
use crate::backend::cuda::Gpu;
use crate::compare::Comparison;
use crate::error::Result;
use crate::model::{ModelConfig, ModelKind, ModelSpec};
use crate::ops;
use crate::optim::lazy_sgd::LazyMomentum;
use crate::optim::Optimizer;
use crate::rng::Mt19937;
use crate::tools::cases::{compare_all, compare_device, indices, uniform, widen};

/// The fused path's kernels: the whole dot/dotbias step against the CPU's
/// `loss_and_grad` (on a last, partial batch), and the optimizer updates that
/// read their scalars from a device schedule against the plain CPU updates.
pub(super) fn checks(
    gpu: &Gpu,
    rng: &mut Mt19937,
    push: &mut impl FnMut(&str, String, Comparison),
) -> Result<()> {
    let dl = |d: &CudaSlice<f32>| gpu.download(&d.as_view());
    for kind in [ModelKind::Dot, ModelKind::DotBias] {
        for &bs in &BATCHES {
            for &f in &FACTORS {
                let spec = ModelSpec {
                    config: ModelConfig {
                        kind,
                        factors: f,
                        hidden: 1,
                        emb_init: (-0.5, 0.5),
                        dropout: (0.0, 0.0),
                    },
                    n_users: (bs / 8).max(1),
                    n_items: (bs / 5).max(1),
                    y_range: (0.5, 5.0),
                };
                let params = spec.init_params(rng);
                // Step 1 of an epoch of n rows: a partial batch of n - bs rows.
                let n = bs + bs.div_ceil(2);
                let users = indices(rng, n, spec.n_users);
                let items = indices(rng, n, spec.n_items);
                let ratings = uniform(rng, n, 0.5, 5.0);
                let mut want = vec![0f32; params.len()];
                let mut ws = crate::model::Workspace::default();
                let want_loss = spec.loss_and_grad(
                    &params,
                    &mut want,
                    &users[bs..],
                    &items[bs..],
                    &ratings[bs..],
                    &mut ws,
                    None,
                );
                let (dp, du, di, dr) = (
                    gpu.upload(&params)?,
                    gpu.upload(&users)?,
                    gpu.upload(&items)?,
                    gpu.upload(&ratings)?,
                );
                let (mut grads, mut losses) = (gpu.zeros::<f32>(params.len())?, gpu.zeros::<f32>(2)?);
                gpu.mf_step_fused(
                    &mut grads.as_view_mut(),
                    &mut losses.as_view_mut(),
                    &dp.as_view(),
                    (&du.as_view(), &di.as_view(), &dr.as_view()),
                    bs,
                    1,
                    &spec,
                )?;
                let got_loss = dl(&losses)?[1];
                let cmp = compare_all(
                    &[
                        (widen(&dl(&grads)?), widen(&want)),
                        (vec![got_loss as f64], vec![want_loss as f64]),
                    ],
                    1e-6,
                    1e-5,
                );
                let name = &format!("mf_step_fused {}", kind.name());
                push(name, format!("B={} F={f} N={}", n - bs, spec.n_users), cmp);

                // Validation in one kernel over all n rows, against the model's forward pass and mse_sum.
                let rows = crate::data::Examples {
                    users: users.clone(),
                    items: items.clone(),
                    ratings: ratings.clone(),
                };
                let want = spec.mse(&params, &rows, &mut ws) * n as f64;
                let (mut out, mut partial, mut done) = (
                    gpu.zeros::<f64>(1)?,
                    gpu.zeros::<f64>(Gpu::VALIDATE_BLOCKS)?,
                    gpu.zeros::<u32>(1)?,
                );
                let mut got = [0f64; 2];
                // Twice: the kernel must leave its counter ready for the next call.
                for g in &mut got {
                    gpu.mf_validate(
                        &mut out.as_view_mut(),
                        &mut partial.as_view_mut(),
                        &mut done.as_view_mut(),
                        &dp.as_view(),
                        (&du.as_view(), &di.as_view(), &dr.as_view()),
                        &spec,
                    )?;
                    *g = gpu.download(&out.as_view())?[0];
                }
                let cmp = compare_all(&[(got.to_vec(), vec![want; 2])], 1e-9, 1e-5);
                let name = &format!("mf_validate {}", kind.name());
                push(name, format!("n={n} F={f}"), cmp);
            }
        }
    }
    for kind in [ModelKind::Dot, ModelKind::DotBias] {
        catch_up_check(gpu, rng, kind, push)?;
    }
    // Each optimizer's scheduled update, step 3 of an epoch whose schedule
    // holds the scalars of optimizer step 17, against its CPU step there.
    for &n in &PARAM_COUNTS {
        let p = uniform(rng, n, -0.05, 0.05);
        let g = uniform(rng, n, -1e-2, 1e-2);
        // State values of either sign would be fine for momentum, not for
        // second moments and sums: all are drawn non-negative.
        let state0: Vec<f32> = uniform(rng, n, -1e-2, 1e-2).iter().map(|x| x.abs()).collect();
        let state1 = uniform(rng, n, 0.0, 1e-4);
        let (step, t, lr, wd) = (3, 17, 1e-2, 2e-4);
        for optimizer in Optimizer::examples() {
            let o = optimizer.get();
            let mut sched = vec![0f32; 2 * (step + 1)];
            sched[2 * step..].copy_from_slice(&o.step_scalars(lr, t));
            let dsched = gpu.upload(&sched)?;
            let mut state: Vec<Vec<f32>> = [&state0, &state1][..o.state_buffers()]
                .iter()
                .map(|s| s.to_vec())
                .collect();
            let mut dstate = state.iter().map(|s| gpu.upload(s)).collect::<Result<Vec<_>>>()?;
            let (mut dp, mut dg) = (gpu.upload(&p)?, gpu.upload(&g)?);
            let (mut wp, mut wg) = (p.clone(), g.clone());
            o.step(&mut wp, &mut wg, &mut state, lr, t, wd);
            let step = Step::Scheduled {
                sched: &dsched.as_view(),
                s: step,
            };
            update(gpu, optimizer, wd, &mut dp, &mut dg, &mut dstate, step)?;
            let mut pairs = vec![(&dp, &wp[..]), (&dg, &wg[..])];
            pairs.extend(dstate.iter().zip(&state).map(|(d, h)| (d, &h[..])));
            let cmp = compare_device(gpu, &pairs, 0.0, 0.0)?;
            push(o.kernels().scheduled, format!("P={n} t={t}"), cmp);
        }
    }
    Ok(())
}

/// The lazy epoch's end, `sgd_catch_up_all`, against `ops::sgd_catch_up`
/// row by row: rows last updated anywhere from the epoch's first step to its
/// last (a whole epoch's wait), at the dotbias recipe's rate. The same f64
/// arithmetic rounded once, so the bits must agree.
fn catch_up_check(
    gpu: &Gpu,
    rng: &mut Mt19937,
    kind: ModelKind,
    push: &mut impl FnMut(&str, String, Comparison),
) -> Result<()> {
    let spec = ModelSpec {
        config: ModelConfig {
            kind,
            factors: 50,
            hidden: 1,
            emb_init: (-0.5, 0.5),
            dropout: (0.0, 0.0),
        },
        n_users: 61,
        n_items: 973,
        y_range: (0.5, 5.0),
    };
    let steps = 1261;
    let powers = LazyMomentum::new(0.1, 0.9, 2e-4, steps);
    let params = spec.init_params(rng);
    let bufs = uniform(rng, params.len(), -1e-2, 1e-2);
    let rows = spec.n_users + spec.n_items;
    let last: Vec<i32> = (0..rows)
        .map(|_| (rng.next_u32() as usize % (steps + 1)) as i32)
        .collect();
    let (mut want_p, mut want_b) = (params.clone(), bufs.clone());
    for t in spec.tensors() {
        // Users' tensors index `last` from 0, items' from n_users.
        let first_row = if t.name.starts_with('u') { 0 } else { spec.n_users };
        let w = t.len() / t.shape[0];
        for r in 0..t.shape[0] {
            let k = steps - last[first_row + r] as usize;
            let range = t.offset + r * w..t.offset + (r + 1) * w;
            ops::sgd_catch_up(&mut want_p[range.clone()], &mut want_b[range], powers.power(k));
        }
    }
    let flat: Vec<f64> = (0..=steps).flat_map(|k| powers.power(k)).collect();
    let (mut dp, mut db) = (gpu.upload(&params)?, gpu.upload(&bufs)?);
    let (dl, dpow) = (gpu.upload(&last)?, gpu.upload(&flat)?);
    gpu.sgd_catch_up_all(
        &mut dp.as_view_mut(),
        &mut db.as_view_mut(),
        &dl.as_view(),
        &dpow.as_view(),
        steps,
        &spec,
    )?;
    let cmp = compare_device(gpu, &[(&dp, &want_p), (&db, &want_b)], 0.0, 0.0)?;
    let name = &format!("sgd_catch_up_all {}", kind.name());
    push(name, format!("P={} k<={steps}", params.len()), cmp);
    Ok(())
}
