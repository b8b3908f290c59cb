//! Finite-difference checks of every model's hand-written backward pass.
//!
//! For each parameter θ_i, the central difference (L(θ + ε e_i) − L(θ − ε e_i)) / 2ε
//! of the batch MSE must match the analytic gradient from `loss_and_grad`,
//! at several shapes, with repeated users and items in the batch (so the
//! scatter-add must accumulate), and for the net with dropout on.

use mfcuda::compare::compare;
use mfcuda::model::{DropoutKey, ModelConfig, ModelKind, ModelSpec, Workspace};
use mfcuda::rng::Mt19937;

struct Case {
    kind: ModelKind,
    n_users: usize,
    n_items: usize,
    factors: usize,
    hidden: usize,
    batch: usize,
}

/// The batch loss in f64 from the model's f32 predictions.
fn loss(spec: &ModelSpec, p: &[f32], u: &[u32], i: &[u32], y: &[f32], key: Option<DropoutKey>) -> f64 {
    let mut ws = Workspace::default();
    spec.forward(p, u, i, &mut ws, key);
    let n = y.len() as f64;
    ws.pred
        .iter()
        .zip(y)
        .map(|(&p, &t)| (p as f64 - t as f64).powi(2))
        .sum::<f64>()
        / n
}

fn grad_check(c: &Case, seed: u32) {
    let spec = ModelSpec {
        config: ModelConfig {
            kind: c.kind,
            factors: c.factors,
            hidden: c.hidden,
            // Wide enough that every term of the gradient matters.
            emb_init: (-0.8, 0.8),
            dropout: (0.3, 0.5),
        },
        n_users: c.n_users,
        n_items: c.n_items,
        y_range: (0.5, 5.0),
    };
    let mut rng = Mt19937::new(seed);
    let mut params = spec.init_params(&mut rng);
    let users: Vec<u32> = (0..c.batch).map(|_| rng.interval(c.n_users as u32 - 1)).collect();
    let items: Vec<u32> = (0..c.batch).map(|_| rng.interval(c.n_items as u32 - 1)).collect();
    let targets: Vec<f32> = (0..c.batch)
        .map(|_| 0.5 + 4.5 * rng.random_sample() as f32)
        .collect();
    let key = (c.kind == ModelKind::Net).then_some(DropoutKey {
        seed: seed as u64,
        step: 3,
    });

    let mut grads = vec![0.0f32; params.len()];
    let mut ws = Workspace::default();
    let l = spec.loss_and_grad(&params, &mut grads, &users, &items, &targets, &mut ws, key);
    let l64 = loss(&spec, &params, &users, &items, &targets, key);
    assert!((l as f64 - l64).abs() <= 1e-5 * l64.max(1.0), "loss {l} vs {l64}");

    let eps = 1e-3f32;
    let numeric: Vec<f64> = (0..params.len())
        .map(|i| {
            let orig = params[i];
            params[i] = orig + eps;
            let plus = loss(&spec, &params, &users, &items, &targets, key);
            params[i] = orig - eps;
            let minus = loss(&spec, &params, &users, &items, &targets, key);
            params[i] = orig;
            // Divide by the step actually taken in f32.
            (plus - minus) / ((orig + eps) as f64 - (orig - eps) as f64)
        })
        .collect();
    let analytic: Vec<f64> = grads.iter().map(|&g| g as f64).collect();
    let cmp = compare(&analytic, &numeric, 1e-4, 1e-3);
    let name = format!(
        "{:?} users {} items {} F {} H {} B {}",
        c.kind, c.n_users, c.n_items, c.factors, c.hidden, c.batch
    );
    assert!(cmp.ok(), "{}", cmp.report(&name));
    // The check must have had something to check.
    let nonzero = analytic.iter().filter(|g| g.abs() > 1e-4).count();
    assert!(
        nonzero * 4 >= analytic.len().min(4 * c.batch),
        "{name}: only {nonzero} non-zero gradients"
    );
}

fn shapes(kind: ModelKind) -> Vec<Case> {
    [(1, 1, 1, 1), (4, 6, 3, 4), (7, 5, 8, 10), (3, 9, 5, 3)]
        .iter()
        .zip([1usize, 5, 17, 33])
        .map(|(&(n_users, n_items, factors, hidden), batch)| Case {
            kind,
            n_users,
            n_items,
            factors,
            hidden,
            batch,
        })
        .collect()
}

#[test]
fn dot_backward_matches_finite_differences() {
    for (k, c) in shapes(ModelKind::Dot).iter().enumerate() {
        grad_check(c, 10 + k as u32);
    }
}

#[test]
fn dotbias_backward_matches_finite_differences() {
    for (k, c) in shapes(ModelKind::DotBias).iter().enumerate() {
        grad_check(c, 20 + k as u32);
    }
}

#[test]
fn net_backward_with_dropout_matches_finite_differences() {
    for (k, c) in shapes(ModelKind::Net).iter().enumerate() {
        grad_check(c, 30 + k as u32);
    }
}

#[test]
fn svd_backward_matches_finite_differences() {
    for (k, c) in shapes(ModelKind::Svd).iter().enumerate() {
        grad_check(c, 40 + k as u32);
    }
}
