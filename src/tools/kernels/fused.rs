//! The fused kernels (`kernels/fused.cu`): the whole dot/dotbias step and
//! the one-kernel validation, checked for `mfcuda check`.

use cudarc::driver::CudaSlice;

use super::{compare_all, indices, uniform, widen, BATCHES, FACTORS};
use crate::backend::cuda::Gpu;
use crate::compare::Comparison;
use crate::error::Result;
use crate::model::{ModelConfig, ModelKind, ModelSpec};
use crate::rng::Mt19937;

/// The whole dot/dotbias step against the CPU's `loss_and_grad` (on a last,
/// partial batch), and `mf_validate` against the CPU's MSE.
pub(crate) fn checks(
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
    Ok(())
}
