//! Sparse SGD for the svd model: the update against hand-computed values,
//! the two-thread stratified epoch against itself and against one thread,
//! and the recipe's accuracy on the notebook's split.

mod common;

use common::{bits, bundled, train_on_cpu};
use mfcuda::backend::cpu_sparse::CpuSparseBackend;
use mfcuda::backend::{Backend, BackendInit};
use mfcuda::data::split::Split;
use mfcuda::data::{Examples, Ratings};
use mfcuda::model::{ModelConfig, ModelKind, ModelSpec};
use mfcuda::ops::mf_sgd_sparse;
use mfcuda::recipe;
use mfcuda::rng::Mt19937;

#[test]
fn one_update_by_hand() {
    // f = 1: p = 0.5, q = 0.2, biases 0.1 and -0.2, mu 3, rating 4, lr 0.1, reg 0.5.
    // e = 4 − (3 + 0.1 − 0.2 + 0.1) = 1.0
    // ub = 0.1 + 0.1·(1 − 0.05) = 0.195;  mb = −0.2 + 0.1·(1 + 0.1) = −0.09
    // p = 0.5 + 0.1·(1·0.2 − 0.25) = 0.495;  q = 0.2 + 0.1·(1·0.5 − 0.1) = 0.24
    let (mut u, mut m, mut ub, mut mb, mut err) = (
        vec![0.5f32],
        vec![0.2f32],
        vec![0.1f32],
        vec![-0.2f32],
        vec![0f32],
    );
    mf_sgd_sparse(
        &mut u,
        &mut m,
        &mut ub,
        &mut mb,
        3.0,
        &[0],
        &[0],
        &[4.0],
        &mut err,
        1,
        0.1,
        0.5,
    );
    let close = |a: f32, b: f32| (a - b).abs() < 1e-6;
    assert!(close(err[0], 1.0), "{err:?}");
    assert!(close(ub[0], 0.195) && close(mb[0], -0.09), "{ub:?} {mb:?}");
    assert!(close(u[0], 0.495) && close(m[0], 0.24), "{u:?} {m:?}");
}

#[test]
fn only_the_ratings_rows_move() {
    let f = 6;
    let mut rng = Mt19937::new(3);
    let mut u: Vec<f32> = (0..4 * f).map(|_| rng.random_sample() as f32).collect();
    let mut m: Vec<f32> = (0..5 * f).map(|_| rng.random_sample() as f32).collect();
    let (u0, m0) = (u.clone(), m.clone());
    let (mut ub, mut mb, mut err) = (vec![0f32; 4], vec![0f32; 5], vec![0f32; 1]);
    mf_sgd_sparse(
        &mut u,
        &mut m,
        &mut ub,
        &mut mb,
        3.5,
        &[2],
        &[4],
        &[5.0],
        &mut err,
        f,
        0.05,
        0.02,
    );
    for r in 0..4 {
        assert_eq!(
            u[r * f..(r + 1) * f] == u0[r * f..(r + 1) * f],
            r != 2,
            "user row {r}"
        );
    }
    for r in 0..5 {
        assert_eq!(
            m[r * f..(r + 1) * f] == m0[r * f..(r + 1) * f],
            r != 4,
            "movie row {r}"
        );
    }
    assert_eq!(ub.iter().filter(|&&b| b != 0.0).count(), 1);
}

fn setup() -> (Ratings, Examples, Examples) {
    let data = bundled();
    let split = Split::new(data.len(), 0.2, 42).unwrap();
    let (t, v) = (
        Examples::select(&data, &split.train),
        Examples::select(&data, &split.valid),
    );
    (data, t, v)
}

fn epoch(threads: usize, train: &Examples, valid: &Examples, spec: &ModelSpec) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Mt19937::new(9);
    let mut params = spec.init_params(&mut rng);
    let mu = spec.tensors().into_iter().find(|t| t.name == "mu").unwrap();
    params[mu.range()].fill(3.5);
    let init = BackendInit {
        spec,
        params,
        wd: 0.06,
        train,
        valid,
        seed: 9,
    };
    let mut be = CpuSparseBackend::<f32>::new(init, threads).unwrap();
    let order = rng.permutation(train.len());
    let steps = train.len().div_ceil(64);
    let losses = be
        .train_epoch(
            &order,
            64,
            &vec![0.02; steps],
            0,
            &mut mfcuda::backend::no_progress,
        )
        .unwrap();
    (losses, be.params().unwrap())
}

#[test]
fn stratified_epochs_repeat_to_the_bit_and_track_one_thread() {
    let (data, train, valid) = setup();
    let spec = ModelSpec {
        config: ModelConfig {
            kind: ModelKind::Svd,
            factors: 32,
            hidden: 1,
            emb_init: (-0.1, 0.1),
            dropout: (0.0, 0.0),
        },
        n_users: data.n_users(),
        n_items: data.n_items(),
        y_range: (0.5, 5.0),
    };
    let (l2a, p2a) = epoch(2, &train, &valid, &spec);
    let (l2b, p2b) = epoch(2, &train, &valid, &spec);
    assert_eq!(bits(&p2a), bits(&p2b), "two-thread epochs differ between runs");
    assert_eq!(bits(&l2a), bits(&l2b));
    // One thread visits the ratings in another order, so it ends elsewhere,
    // but an epoch of SGD from the same start lands close by.
    let (l1, p1) = epoch(1, &train, &valid, &spec);
    let mean = |l: &[f32]| l.iter().map(|&x| x as f64).sum::<f64>() / l.len() as f64;
    assert!(
        (mean(&l1) - mean(&l2a)).abs() < 0.02,
        "{} vs {}",
        mean(&l1),
        mean(&l2a)
    );
    let diff: f64 = p1
        .iter()
        .zip(&p2a)
        .map(|(a, b)| (a - b).abs() as f64)
        .sum::<f64>()
        / p1.len() as f64;
    assert!(diff < 0.02, "mean parameter difference {diff}");
}

#[test]
fn sparse_recipe_beats_0_870_rmse_on_the_notebook_split() {
    let r = train_on_cpu(&bundled(), recipe::find("sparse").unwrap());
    assert!(r.device.starts_with("cpu (sparse SGD"), "{}", r.device);
    assert_eq!(r.epochs, 20);
    assert!(
        r.val_rmse <= 0.870,
        "sparse recipe validation RMSE {}",
        r.val_rmse
    );
}

#[test]
fn bf16_storage_rounds_to_nearest_even_like_cuda() {
    use half::bf16;
    use mfcuda::ops::Factor;
    // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even mantissa, 1.
    assert_eq!(<bf16 as Factor>::put(1.0 + 1.0 / 256.0).get(), 1.0);
    // 1 + 3·2^-8 lies halfway between 1 + 2^-7 and 1 + 2^-6: the even one is 1 + 2^-6.
    assert_eq!(<bf16 as Factor>::put(1.0 + 3.0 / 256.0).get(), 1.0 + 1.0 / 64.0);
    // Just above halfway rounds up.
    assert_eq!(
        <bf16 as Factor>::put(1.0 + 1.0 / 256.0 + 1e-6).get(),
        1.0 + 1.0 / 128.0
    );
    // Widening is exact.
    let x = bf16::from_bits(0x3e4d);
    assert_eq!(<bf16 as Factor>::put(x.get()).to_bits(), 0x3e4d);
}

#[test]
fn bf16_update_is_the_f32_update_rounded_per_factor() {
    // Values that bf16 holds exactly, so both paths start equal; after one
    // update each bf16 factor is the f32 result rounded to 8 mantissa bits.
    let f = 8;
    let u32s: Vec<f32> = (0..2 * f).map(|k| (k as f32 - 7.0) / 16.0).collect();
    let m32s: Vec<f32> = (0..3 * f).map(|k| (11.0 - k as f32) / 32.0).collect();
    let (mut u, mut m) = (u32s.clone(), m32s.clone());
    let (mut ub, mut mb, mut err) = (vec![0.25f32; 2], vec![-0.5f32; 3], vec![0f32; 2]);
    let to16 = |v: &[f32]| v.iter().map(|&x| half::bf16::from_f32(x)).collect::<Vec<_>>();
    let (mut u16s, mut m16s) = (to16(&u), to16(&m));
    let (mut ub2, mut mb2, mut err2) = (ub.clone(), mb.clone(), err.clone());
    let (users, items, ratings) = ([1u32], [2u32], [4.5f32]);
    mf_sgd_sparse(
        &mut u, &mut m, &mut ub, &mut mb, 3.0, &users, &items, &ratings, &mut err, f, 0.05, 0.1,
    );
    mf_sgd_sparse(
        &mut u16s, &mut m16s, &mut ub2, &mut mb2, 3.0, &users, &items, &ratings, &mut err2, f, 0.05, 0.1,
    );
    assert_eq!(
        err[0], err2[0],
        "the error is measured before the update, from equal values"
    );
    assert_eq!((ub, mb), (ub2, mb2), "biases are f32 in both");
    assert_eq!(to16(&u), u16s);
    assert_eq!(to16(&m), m16s);
    assert_ne!(u, u32s, "the rating's rows moved");
}

#[test]
fn group_mean_averages_each_group_and_the_partial_last() {
    let mut out = [0f32; 3];
    mfcuda::ops::group_mean(&mut out, &[1.0, 3.0, 5.0, 7.0, 10.0], 2);
    assert_eq!(out, [2.0, 6.0, 10.0]);
}

#[test]
fn tile_order_is_a_stable_permutation_sorted_by_tile() {
    let mut rng = Mt19937::new(5);
    let n = 5000;
    let users: Vec<u32> = (0..n).map(|_| rng.interval(99)).collect();
    let items: Vec<u32> = (0..n).map(|_| rng.interval(39)).collect();
    let order = rng.permutation(n);
    let (tu, ti) = (25, 10); // 4 × 4 tiles
    let mut out = vec![0u32; n];
    mfcuda::ops::tile_order(&mut out, &order, &users, &items, tu, ti, 4);
    let tile = |r: u32| users[r as usize] as usize / tu * 4 + items[r as usize] as usize / ti;
    let mut sorted = out.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..n as u32).collect::<Vec<_>>(), "not a permutation");
    assert!(
        out.windows(2).all(|w| tile(w[0]) <= tile(w[1])),
        "tiles out of order"
    );
    // Stable: within a tile, the rows keep their order in `order`.
    let pos: std::collections::HashMap<u32, usize> = order.iter().enumerate().map(|(i, &r)| (r, i)).collect();
    for w in out.windows(2) {
        if tile(w[0]) == tile(w[1]) {
            assert!(pos[&w[0]] < pos[&w[1]], "tile {} reordered", tile(w[0]));
        }
    }
}

#[test]
fn sparse_bf16_recipe_stays_within_0_005_of_f32() {
    let data = bundled();
    let run = |name: &str| train_on_cpu(&data, recipe::find(name).unwrap());
    let (f32r, bf16r) = (run("sparse"), run("sparse-bf16"));
    assert!(bf16r.device.contains("bf16"), "{}", bf16r.device);
    assert!(
        (f32r.val_rmse - bf16r.val_rmse).abs() < 0.005 && bf16r.val_rmse <= 0.870,
        "f32 {} bf16 {}",
        f32r.val_rmse,
        bf16r.val_rmse
    );
}

#[test]
fn sparse_validation_is_the_models_mse_to_the_bit() {
    let data = bundled();
    let setup = mfcuda::train::Setup::notebook(&data, &recipe::find("sparse").unwrap(), 4).unwrap();
    let (spec, train, valid) = (&setup.spec, &setup.train, &setup.valid);
    let mut be = CpuSparseBackend::<f32>::new(setup.init(), 2).unwrap();
    let order = setup.rng.clone().permutation(train.len());
    let steps = train.len().div_ceil(64);
    be.train_epoch(
        &order,
        64,
        &vec![0.02; steps],
        0,
        &mut mfcuda::backend::no_progress,
    )
    .unwrap();
    let want = spec.mse(&be.params().unwrap(), valid, &mut Default::default());
    assert_eq!(be.validate().unwrap().to_bits(), want.to_bits());
}

/// `mfcuda check`'s runs parity replays the GPU's order through the CPU twin
/// on one thread, so the two must walk the same runs in the same order for
/// one key: here the runs the GPU stages ([`staged_runs`]) and the order it
/// walks them in ([`Runs::epoch_order`]), replayed by the CPU's run kernel,
/// against the one-thread backend's epoch in runs, to the bit.
///
/// [`staged_runs`]: mfcuda::backend::cuda::sparse::staged_runs
/// [`Runs::epoch_order`]: mfcuda::data::runs::Runs::epoch_order
#[test]
fn one_thread_walks_the_runs_the_gpu_stages_in_the_gpus_order() {
    use mfcuda::backend::cpu_sparse::SparseParams;
    use mfcuda::backend::cuda::sparse::staged_runs;
    use mfcuda::ops::{group_mean, mf_sgd_sparse_runs};
    let data = bundled();
    let setup = mfcuda::train::Setup::notebook(&data, &recipe::find("sparse").unwrap(), 4).unwrap();
    let (spec, train) = (&setup.spec, &setup.train);
    let (key, bs, lr) = (42u64, 64, 0.02f32);
    let steps = train.len().div_ceil(bs);
    let mut be = CpuSparseBackend::<f32>::new(setup.init(), 1).unwrap();
    let losses = be
        .train_epoch_runs(key, bs, &vec![lr; steps], &mut mfcuda::backend::no_progress)
        .unwrap();

    let runs = staged_runs(train, spec.n_users);
    let mut p = SparseParams::<f32>::from_flat(spec, &setup.init().params).unwrap();
    let mut sq_err = vec![0f32; runs.rows.len()];
    let mut row = vec![0f32; spec.factors];
    let r = &runs.rows;
    mf_sgd_sparse_runs(
        &mut p.u,
        &mut p.m,
        &mut p.ub,
        &mut p.mb,
        p.mu,
        (&r.users, &r.items, &r.ratings),
        &runs.starts,
        &runs.epoch_order(key),
        &mut sq_err,
        spec.factors,
        lr,
        setup.init().wd,
        &mut row,
    );
    let mut want = vec![0f32; steps];
    group_mean(&mut want, &sq_err, bs);
    assert_eq!(
        bits(&be.params().unwrap()),
        bits(&p.to_flat()),
        "one thread and the GPU's staged runs end apart"
    );
    assert_eq!(bits(&losses), bits(&want));
}
