//! 06: why the notebook's update touches every row, and what sparse SGD does
//! instead.
//!
//! PyTorch's SGD treats the embeddings as dense parameters: a row that is
//! not in the batch has no gradient, yet weight decay (g = wd·p) and momentum
//! still move it at every step. So a dense step costs the whole model,
//! 527,034 parameters for EmbeddingDotBias, however small the batch. Sparse
//! SGD (the `sparse` recipe) moves only the rows a rating names.
//!
//!     cargo run --example 06_sgd_momentum_dense_vs_sparse

use mfcuda::ops::{mf_sgd_sparse, sgd_update};

fn main() {
    // Dense: two parameters, a gradient only for the first.
    let (mut p, mut g, mut buf) = (vec![1.0f32, 1.0], vec![0.5f32, 0.0], vec![0.0f32; 2]);
    for step in 1..=3 {
        sgd_update(&mut p, &mut g, &mut buf, 0.1, 0.9, 0.01);
        println!("dense step {step}: p = {p:?}, momentum = {buf:?}");
        g[0] = 0.5; // the batch keeps naming parameter 0 only
    }
    assert!(
        p[1] < 1.0,
        "the row with no gradient moved anyway: weight decay and momentum"
    );

    // Sparse: a table of 3 users and 3 movies; one rating touches user 1 and movie 2.
    let f = 2;
    let (mut u, mut m) = (vec![0.1f32; 3 * f], vec![0.1f32; 3 * f]);
    let (mut ub, mut mb, mut err) = (vec![0.0f32; 3], vec![0.0f32; 3], vec![0.0f32]);
    let (u0, m0) = (u.clone(), m.clone());
    mf_sgd_sparse(
        &mut u,
        &mut m,
        &mut ub,
        &mut mb,
        3.5,
        &[1],
        &[2],
        &[5.0],
        &mut err,
        f,
        0.1,
        0.02,
    );
    println!(
        "sparse: squared error {:.4}; user rows {:?}; movie rows {:?}",
        err[0], u, m
    );
    let moved = |a: &[f32], b: &[f32]| {
        (0..3)
            .filter(|r| a[r * f..(r + 1) * f] != b[r * f..(r + 1) * f])
            .collect::<Vec<_>>()
    };
    assert_eq!(moved(&u, &u0), vec![1], "only user row 1 moves");
    assert_eq!(moved(&m, &m0), vec![2], "only movie row 2 moves");
}
