//! The lazy SGD epoch's kernels (`kernels/lazy.cu`): its end,
//! `sgd_catch_up_all`, checked for `mfcuda check`. (The epoch itself is
//! checked whole, against the CPU's lazy epoch: `check::lazy_parity`.)

use super::{compare_device, uniform};
use crate::backend::cuda::Gpu;
use crate::compare::Comparison;
use crate::error::Result;
use crate::model::{ModelConfig, ModelKind, ModelSpec};
use crate::ops;
use crate::optim::lazy_sgd::LazyMomentum;
use crate::rng::Mt19937;

/// `sgd_catch_up_all` for dot and dotbias.
pub(crate) fn checks(
    gpu: &Gpu,
    rng: &mut Mt19937,
    push: &mut impl FnMut(&str, String, Comparison),
) -> Result<()> {
    for kind in [ModelKind::Dot, ModelKind::DotBias] {
        catch_up_check(gpu, rng, kind, push)?;
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
