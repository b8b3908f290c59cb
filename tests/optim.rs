//! One SGD step and one Adam step against values computed by hand.

use mfcuda::compare::{compare, compare_f32};

/// f32 state against f64 hand-computed values.
fn close(got: &[f32], want: &[f64], atol: f64, rtol: f64) -> bool {
    let got: Vec<f64> = got.iter().map(|&x| x as f64).collect();
    let c = compare(&got, want, atol, rtol);
    if !c.ok() {
        eprintln!("{}", c.report("adam"));
    }
    c.ok()
}
use mfcuda::optim::{Optimizer, OptimizerState};

#[test]
fn sgd_momentum_weight_decay_two_steps() {
    // lr 0.1, momentum 0.9, wd 0.01. Step 1, element 0:
    //   g = 0.5 + 0.01·1 = 0.51; buf = 0.51; p = 1 − 0.1·0.51 = 0.949
    // Step 2: g = 0.5 + 0.01·0.949 = 0.50949; buf = 0.9·0.51 + 0.50949 = 0.96849;
    //   p = 0.949 − 0.096849 = 0.852151
    // Element 1 (p = −2, grad 0.25): 0.23 → p = −2.023; then 0.22977, buf 0.43677 → −2.066677
    let mut opt = OptimizerState::new(Optimizer::SGD, 0.01, 2);
    let mut p = vec![1.0f32, -2.0];
    let mut g = vec![0.5f32, 0.25];
    opt.step(&mut p, &mut g, 0.1);
    assert_eq!(g, vec![0.0, 0.0], "the fused update zeroes the gradient");
    let c = compare_f32(&p, &[0.949, -2.023], 1e-7, 1e-6);
    assert!(c.ok(), "{}", c.report("sgd step 1"));
    let c = compare_f32(&opt.state[0], &[0.51, 0.23], 1e-7, 1e-6);
    assert!(c.ok(), "{}", c.report("sgd momentum buffer"));
    g.copy_from_slice(&[0.5, 0.25]);
    opt.step(&mut p, &mut g, 0.1);
    let c = compare_f32(&p, &[0.852151, -2.066677], 1e-7, 1e-6);
    assert!(c.ok(), "{}", c.report("sgd step 2"));
}

#[test]
fn sgd_moves_rows_without_gradient() {
    // A dense optimizer decays every row, gradient or not: g = wd·p.
    let mut opt = OptimizerState::new(Optimizer::SGD, 0.5, 1);
    let (mut p, mut g) = (vec![2.0f32], vec![0.0f32]);
    opt.step(&mut p, &mut g, 0.1);
    assert_eq!(p, vec![2.0 - 0.1 * 0.5 * 2.0]);
}

#[test]
fn adam_coupled_l2_two_steps() {
    // lr 0.1, wd 0.1, β = (0.9, 0.999), ε = 1e-8, p = 1.
    // Step 1, grad 0.5: g = 0.6; m = 0.06; v = 0.00036; m̂ = 0.6, v̂ = 0.36;
    //   p = 1 − 0.1·0.6/(0.6 + 1e-8) = 0.90000000167
    // Step 2, grad −0.5: g = −0.5 + 0.09 = −0.41; m = 0.054 − 0.041 = 0.013;
    //   v = 0.999·0.00036 + 0.001·0.1681 = 0.00052774;
    //   p = 0.9 − (0.1/0.19)·0.013/(sqrt(0.00052774)/sqrt(0.001999) + 1e-8) = 0.88668362
    let mut opt = OptimizerState::new(Optimizer::ADAM, 0.1, 1);
    let (mut p, mut g) = (vec![1.0f32], vec![0.5f32]);
    opt.step(&mut p, &mut g, 0.1);
    assert_eq!(g, vec![0.0]);
    assert!(close(&p, &[0.9000000016666666], 1e-7, 1e-6), "{p:?}");
    assert!(
        compare_f32(&opt.state[0], &[0.06], 1e-9, 1e-6).ok(),
        "{:?}",
        opt.state[0]
    );
    assert!(
        compare_f32(&opt.state[1], &[0.00036], 1e-12, 1e-6).ok(),
        "{:?}",
        opt.state[1]
    );
    g[0] = -0.5;
    opt.step(&mut p, &mut g, 0.1);
    assert!(close(&p, &[0.8866836230649792], 1e-7, 1e-6), "{p:?}");
    assert!(
        close(&opt.state[1], &[0.0005277399998633338], 1e-12, 1e-5),
        "{:?}",
        opt.state[1]
    );
}

#[test]
fn optimizers_serialize_as_before_and_recipe_files_name_them() {
    use mfcuda::recipe::{find, RecipeFile};
    // The JSON form is the one recipes and reports have always had.
    let sgd = serde_json::to_string(&Optimizer::SGD).unwrap();
    assert_eq!(sgd, r#"{"kind":"sgd","momentum":0.9}"#);
    let adam = serde_json::to_string(&Optimizer::ADAM).unwrap();
    assert_eq!(adam, r#"{"kind":"adam","beta1":0.9,"beta2":0.999,"eps":1e-8}"#);
    // A recipe file swaps a dense recipe's optimizer, keeping the rest.
    let file = RecipeFile::parse(
        "base = \"dotbias\"\n[overrides.optimizer]\nkind = \"adam\"\neps = 1e-6\n",
        "t.toml",
    )
    .unwrap();
    let (r, _) = file.recipe(&Default::default()).unwrap();
    let want = find("dotbias").unwrap();
    assert_eq!((r.stages.clone(), r.wd), (want.stages.clone(), want.wd));
    let mfcuda::optim::Training::Dense { optimizer } = r.training else {
        panic!("{:?}", r.training)
    };
    assert_eq!(
        serde_json::to_string(&optimizer).unwrap(),
        r#"{"kind":"adam","beta1":0.9,"beta2":0.999,"eps":1e-6}"#
    );
    // A sparse recipe has no dense optimizer to swap; an unknown kind is refused by name.
    let sparse = RecipeFile::parse(
        "base = \"sparse\"\n[overrides.optimizer]\nkind = \"adagrad\"\n",
        "s.toml",
    )
    .unwrap();
    let err = sparse.recipe(&Default::default()).unwrap_err().to_string();
    assert!(err.contains("sparse SGD") && err.contains("adagrad"), "{err}");
    let err = RecipeFile::parse(
        "base = \"dot\"\n[overrides.optimizer]\nkind = \"lion\"\n",
        "l.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("l.toml") && err.contains("lion"), "{err}");
}
