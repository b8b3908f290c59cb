//! LibMF beside mfcuda's CPU sparse SGD, in one run: the same synthetic
//! ratings (`synth`'s planted model, rank 32, noise 0.5), the same split (the
//! last 1% validates), the same k = 128 and the same two threads.
//!
//! ```sh
//! cargo bench --bench libmf              # a tenth of the Netflix shape: 48,018 × 1,777, 10M ratings
//! cargo bench --bench libmf -- --quick   # a tenth of the ml-25m shape: 16,254 × 5,904, 2.5M ratings
//! ```
//!
//! LibMF (through the `libmf` crate, which builds its C++ with SSE) trains
//! with its own defaults (lr 0.1, L2 0.1 on both factors, no biases);
//! mfcuda with the `sparse` recipe's first stage (lr 0.02, L2 0.06, biases),
//! in per-user runs, as `train --recipe sparse` does. LibMF's epoch is
//! (time of 5 iterations − time of 1) / 4, which leaves out its setup;
//! mfcuda's is the median of its epochs after the first (which groups the
//! runs), each epoch followed by a validation pass, as in `train`.

use std::time::Instant;

use mfcuda::backend::cpu_sparse::CpuSparseBackend;
use mfcuda::backend::{Backend, BackendInit};
use mfcuda::data::synth::{self, SynthSpec};
use mfcuda::data::Examples;
use mfcuda::model::{ModelConfig, ModelKind, ModelSpec};
use mfcuda::recipe;
use mfcuda::rng::Mt19937;
use mfcuda::tools::scale::{FACTORS, PLANTED};

const EPOCHS: usize = 5;
const THREADS: usize = 2;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::args().any(|a| a == "--quick");
    let (name, users, items, ratings) = if quick {
        ("ml-25m / 10", 16_254, 5_904, 2_500_009)
    } else {
        ("netflix / 10", 48_018, 1_777, 10_048_050)
    };
    let spec = SynthSpec {
        users,
        items,
        ratings,
        rank: PLANTED.0,
        noise: PLANTED.1,
        seed: 42,
    };
    eprintln!("drawing {ratings} ratings ({name}, {users} × {items})...");
    let mut all = synth::examples(&spec, |_| {})?;
    let n_valid = ratings / 100;
    let n_train = ratings - n_valid;
    let valid = Examples {
        users: all.users.split_off(n_train),
        items: all.items.split_off(n_train),
        ratings: all.ratings.split_off(n_train),
    };
    let train = all;

    // LibMF.
    let mut data = libmf::Matrix::with_capacity(n_train);
    for r in 0..n_train {
        data.push(train.users[r] as i32, train.items[r] as i32, train.ratings[r]);
    }
    let mut eval = libmf::Matrix::with_capacity(n_valid);
    for r in 0..n_valid {
        eval.push(valid.users[r] as i32, valid.items[r] as i32, valid.ratings[r]);
    }
    let fit = |iterations: usize| -> Result<(f64, libmf::Model), libmf::Error> {
        let t0 = Instant::now();
        let model = libmf::Model::params()
            .factors(FACTORS as i32)
            .threads(THREADS as i32)
            .iterations(iterations as i32)
            .quiet(true)
            .fit(&data)?;
        Ok((t0.elapsed().as_secs_f64() * 1e3, model))
    };
    eprintln!("LibMF: 1 iteration, then {EPOCHS}...");
    let (t1, _) = fit(1)?;
    let (tn, model) = fit(EPOCHS)?;
    let libmf_epoch = (tn - t1) / (EPOCHS - 1) as f64;
    let libmf_rmse = model.rmse(&eval)?;

    // mfcuda: the sparse recipe's first stage, in user runs, on the CPU.
    let sparse = recipe::find("sparse")?;
    let model_spec = ModelSpec {
        config: ModelConfig {
            kind: ModelKind::Svd,
            factors: FACTORS,
            ..sparse.model
        },
        n_users: users,
        n_items: items,
        y_range: (0.5, 5.0),
    };
    let (params, _) = mfcuda::train::initial_params(&model_spec, &mut Mt19937::new(7), &train);
    let init = BackendInit {
        spec: &model_spec,
        params,
        wd: sparse.wd,
        train: &train,
        valid: &valid,
        seed: 42,
    };
    let mut be = CpuSparseBackend::<f32>::new(init, THREADS)?;
    let group = 1 << 20;
    let lrs = vec![sparse.stages[0].lr(); n_train.div_ceil(group)];
    let mut times = Vec::new();
    let mut mse = f64::NAN;
    eprintln!("mfcuda: {EPOCHS} epochs...");
    for epoch in 0..EPOCHS {
        let t0 = Instant::now();
        be.train_epoch_runs(epoch as u64, group, &lrs, &mut mfcuda::backend::no_progress)?;
        mse = be.validate()?;
        times.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    let first = times[0];
    let mut later = times[1..].to_vec();
    later.sort_by(f64::total_cmp);
    let mf_epoch = later[later.len() / 2];

    println!("{name}: {users} × {items}, {n_train} training ratings, {n_valid} validating; k = {FACTORS}, {THREADS} threads, {EPOCHS} epochs");
    println!("{:<34} {:>12} {:>12}", "", "per epoch", "val RMSE");
    println!(
        "{:<34} {:>9.0} ms {:>12.4}",
        "LibMF (SSE; its defaults)", libmf_epoch, libmf_rmse
    );
    println!(
        "{:<34} {:>9.0} ms {:>12.4}",
        "mfcuda cpu (sparse recipe, runs)",
        mf_epoch,
        mse.sqrt()
    );
    println!(
        "mfcuda's first epoch, which groups the runs: {first:.0} ms; LibMF's setup: {:.0} ms",
        t1 - libmf_epoch
    );
    println!(
        "LibMF time / mfcuda time: {:.2}x ({}); planted noise {}",
        libmf_epoch / mf_epoch,
        if mf_epoch <= libmf_epoch && mse.sqrt() <= libmf_rmse {
            "mfcuda at least as fast, RMSE no worse"
        } else {
            "target missed"
        },
        PLANTED.1
    );
    Ok(())
}
