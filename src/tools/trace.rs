//! `mfcuda train --trace`: one training step on a tiny batch, every
//! intermediate tensor printed, CPU and GPU side by side. For reading, not
//! for speed: it shows what each op (and each kernel) does to the numbers.

use std::fmt::Write;

use crate::backend::cpu_sparse::SparseParams;
use crate::backend::cuda::{step_tensors, Gpu};
use crate::backend::select::{choose, Choice, Needs};
use crate::backend::Device;
use crate::data::{Examples, Ratings};
use crate::error::Result;
use crate::model::{ModelSpec, Workspace};
use crate::ops;
use crate::optim::{OptimizerState, Training};
use crate::recipe::Recipe;
use crate::train::Setup;

/// Factors shown per row.
const SHOW: usize = 4;

fn row(v: &[f32]) -> String {
    let shown: Vec<String> = v.iter().take(SHOW).map(|x| format!("{x:+.5}")).collect();
    let more = if v.len() > SHOW {
        format!(" … ({} more)", v.len() - SHOW)
    } else {
        String::new()
    };
    format!("[{}{more}]", shown.join(", "))
}

/// Rows in the traced batch.
pub const BATCH: usize = 4;

/// `train --trace`: one step of `recipe` on the first [`BATCH`] rows of the
/// first epoch's order, drawn exactly as training draws them (the split,
/// the initial parameters and the shuffle of [`Setup::new`] under `seed`,
/// `val_pct` and `split_seed`), printed by [`trace_step`] at the first
/// stage's learning rate. The GPU column comes from `device` under the one
/// device rule ([`choose`]); when `auto` finds no usable GPU,
/// `on_gpu_skipped` is told why before the step runs, and the CPU goes on
/// alone.
pub fn trace_run(
    data: &Ratings,
    recipe: &Recipe,
    seed: u32,
    val_pct: f64,
    split_seed: u32,
    device: Device,
    on_gpu_skipped: impl FnOnce(&str),
) -> Result<String> {
    let setup = Setup::new(data, recipe, seed, val_pct, split_seed)?;
    let order = setup.rng.clone().permutation(setup.train.len());
    let mut batch = Examples::default();
    setup
        .train
        .gather_into(&order[..BATCH.min(order.len())], &mut batch);
    let gpu = match choose(device, &Needs::default())? {
        Choice::Gpu { gpu, .. } => Some(gpu),
        Choice::Cpu(Some(why)) => {
            on_gpu_skipped(&why);
            None
        }
        Choice::Cpu(None) => None,
    };
    trace_step(
        &setup.spec,
        &setup.params,
        &batch.users,
        &batch.items,
        &batch.ratings,
        recipe.stages[0].lr(),
        recipe.wd,
        recipe.training,
        gpu.as_deref(),
    )
}

/// One step of `spec` on the batch (`users`, `items`, `targets`) under the
/// recipe's own `training` (its optimizer's first step at `lr`; or sparse
/// SGD, rating by rating), printed so that each number can be checked by
/// hand from the ones above it. The GPU column appears when `gpu` is given
/// and the model is dot or dotbias.
#[allow(clippy::too_many_arguments)]
pub fn trace_step(
    spec: &ModelSpec,
    params: &[f32],
    users: &[u32],
    items: &[u32],
    targets: &[f32],
    lr: f32,
    wd: f32,
    training: Training,
    gpu: Option<&Gpu>,
) -> Result<String> {
    let f = spec.factors;
    let mut s = String::new();
    let mut ws = Workspace::default();
    let mut grads = vec![0.0f32; params.len()];
    let loss = spec.loss_and_grad(params, &mut grads, users, items, targets, &mut ws, None);
    let t = spec.tensors();
    // The GPU side is shown for the batched factor models (dot, dotbias).
    let gpu = gpu.filter(|_| spec.kind.batched() && spec.kind.scores_by_tables());
    let g = match gpu {
        Some(gpu) => Some(step_tensors(gpu, spec, params, users, items, targets)?),
        None => None,
    };
    let side = |name: &str, cpu: &[f32], gpu: Option<&[f32]>, b: usize, w: usize, s: &mut String| {
        let _ = write!(s, "  {name:<8} cpu {}", row(&cpu[b * w..(b + 1) * w]));
        if let Some(gv) = gpu {
            let _ = write!(s, "   gpu {}", row(&gv[b * w..(b + 1) * w]));
        }
        s.push('\n');
    };
    let _ = writeln!(
        s,
        "one step of {} on {} ratings, lr {lr}, wd {wd}; the first {SHOW} factors of each row{}",
        spec.kind.class_name(),
        users.len(),
        if g.is_some() { ", CPU beside GPU" } else { "" }
    );
    for b in 0..users.len() {
        let _ = writeln!(
            s,
            "rating {b}: user row {}, movie row {}, actual {}",
            users[b], items[b], targets[b]
        );
        if spec.kind.has_hidden_layer() {
            side("cat", &ws.cat, None, b, 2 * f, &mut s);
            side("hidden", &ws.h, None, b, spec.hidden, &mut s);
        } else {
            side("u", &ws.u, g.as_ref().map(|g| &g.u[..]), b, f, &mut s);
            side("m", &ws.m, g.as_ref().map(|g| &g.m[..]), b, f, &mut s);
        }
        if spec.kind.has_biases() || spec.kind.has_hidden_layer() {
            side("score x", &ws.x, g.as_ref().map(|g| &g.x[..]), b, 1, &mut s);
        }
        side("pred", &ws.pred, g.as_ref().map(|g| &g.pred[..]), b, 1, &mut s);
        if !spec.kind.batched() {
            continue; // sparse SGD takes no batch gradient: its own step is below
        }
        side("dpred", &ws.dpred, g.as_ref().map(|g| &g.dpred[..]), b, 1, &mut s);
        if spec.kind.has_biases() {
            // dL/dx = dpred · (hi − lo)·σ(x)·(1 − σ(x)): the sigmoid range's derivative.
            side("dx", &ws.dx, None, b, 1, &mut s);
        }
        if !spec.kind.has_hidden_layer() {
            side("du", &ws.du, g.as_ref().map(|g| &g.du[..]), b, f, &mut s);
            side("dm", &ws.dm, g.as_ref().map(|g| &g.dm[..]), b, f, &mut s);
        }
    }
    let _ = writeln!(
        s,
        "batch loss: cpu {loss:.6}{}",
        g.as_ref()
            .map(|g| format!(", gpu {:.6}", g.loss))
            .unwrap_or_default()
    );
    let (u0, m0) = (users[0] as usize, items[0] as usize);
    if spec.kind.has_biases() && spec.kind.batched() {
        // The bias gradients: dx scattered into ub and mb (summed over duplicates).
        let (ub, mb) = (t[2].offset, t[3].offset);
        let _ = writeln!(
            s,
            "bias gradients (dx scattered): ub[{u0}] {:+.5}, mb[{m0}] {:+.5}",
            grads[ub + u0],
            grads[mb + m0]
        );
    }
    let urange = t[0].offset + u0 * f..t[0].offset + (u0 + 1) * f;
    let mrange = t[1].offset + m0 * f..t[1].offset + (m0 + 1) * f;
    // A user row the batch does not name (none can, for the net's tables too).
    let outside = (0..spec.n_users as u32).find(|u| !users.contains(u)).unwrap_or(0) as usize;
    let orange = t[0].offset + outside * f..t[0].offset + (outside + 1) * f;
    let p = match training {
        Training::Sparse { .. } => {
            let mut sp = SparseParams::<f32>::from_flat(spec, params)?;
            let _ = writeln!(
                s,
                "sparse SGD, one rating at a time, lr {lr}, L2 {wd}: e = r − (mu + ub + mb + u·m); \
                 ub += lr·(e − L2·ub); mb likewise; u += lr·(e·m − L2·u); m += lr·(e·u_old − L2·m)"
            );
            for b in 0..users.len() {
                let (uu, ii) = (users[b] as usize, items[b] as usize);
                let SparseParams { u, m, ub, mb, mu } = &mut sp;
                let mut pred = [0.0f32];
                ops::mf_predict(&mut pred, u, m, ub, mb, *mu, &users[b..=b], &items[b..=b], f);
                let (ub0, mb0) = (ub[uu], mb[ii]);
                let (u_old, m_old) = (u[uu * f..(uu + 1) * f].to_vec(), m[ii * f..(ii + 1) * f].to_vec());
                let mut sq = [0.0f32];
                let one = (&users[b..=b], &items[b..=b], &targets[b..=b]);
                ops::mf_sgd_sparse(u, m, ub, mb, *mu, one.0, one.1, one.2, &mut sq, f, lr, wd);
                let _ = writeln!(
                    s,
                    "rating {b}: e = {} − {:.5} = {:+.5}\n  ub[{uu}] {ub0:+.5} -> {:+.5}   mb[{ii}] {mb0:+.5} -> {:+.5}\n  \
                     u {} -> {}\n  m {} -> {}",
                    targets[b],
                    pred[0],
                    targets[b] - pred[0],
                    ub[uu],
                    mb[ii],
                    row(&u_old),
                    row(&u[uu * f..(uu + 1) * f]),
                    row(&m_old),
                    row(&m[ii * f..(ii + 1) * f]),
                );
            }
            let _ = writeln!(
                s,
                "after these {} ratings (only the rows they name move):",
                users.len()
            );
            sp.to_flat()
        }
        Training::Dense { optimizer } => {
            let mut state = OptimizerState::new(optimizer, wd, params.len());
            let (mut p, mut gr) = (params.to_vec(), grads.clone());
            state.step(&mut p, &mut gr, lr);
            let how = optimizer.get().first_step();
            let _ = writeln!(
                s,
                "after one step of {how}, lr {lr}, wd {wd}; every row moves, the update is dense:"
            );
            p
        }
    };
    let _ = writeln!(
        s,
        "  user {u0:<5} {} -> {}",
        row(&params[urange.clone()]),
        row(&p[urange])
    );
    let _ = writeln!(
        s,
        "  movie {m0:<4} {} -> {}",
        row(&params[mrange.clone()]),
        row(&p[mrange])
    );
    let o0 = orange.start;
    let _ = writeln!(
        s,
        "  user {outside:<5} {} -> {}  (not in the batch: its loss gradient is 0{}; its first factor moved by {:+.3e})",
        row(&params[orange.clone()]),
        row(&p[orange]),
        if matches!(training, Training::Sparse { .. }) {
            ", and sparse SGD leaves it"
        } else {
            ", but weight decay moves it"
        },
        p[o0] - params[o0]
    );
    Ok(s)
}
