//! 04: EmbeddingDotBias: add a bias per user and per movie, then squash the
//! score into the rating range with a sigmoid: sigmoid(x)·(max − min) + min.
//!
//! Biases let the model learn that some movies are liked by everyone; the
//! sigmoid range keeps predictions between 0.5 and 5 stars whatever the
//! score. Each step is one op (and one kernel) of its own.
//!
//!     cargo run --example 04_bias_and_sigmoid_range

use mfcuda::backend::cuda::Gpu;
use mfcuda::ops::{bias_add, sigmoid_range_forward};

fn main() -> mfcuda::Result<()> {
    let dots = [0.0f32, 2.0, -3.0]; // three users' dot products
    let (ub, mb) = ([0.5f32, -0.5], [1.0f32]); // 2 user biases, 1 movie bias
    let (users, items) = ([0u32, 1, 1], [0u32, 0, 0]);
    let mut x = dots;
    bias_add(&mut x, &ub, &users);
    bias_add(&mut x, &mb, &items);
    assert_eq!(x, [1.5, 2.5, -2.5]);
    let mut pred = [0.0f32; 3];
    sigmoid_range_forward(&mut pred, &x, 0.5, 5.0);
    println!("cpu: scores {x:?} -> ratings {pred:?}");
    for (&p, &s) in pred.iter().zip(&x) {
        let want = 1.0 / (1.0 + (-s as f64).exp()) * 4.5 + 0.5;
        assert!((p as f64 - want).abs() < 1e-6 && (0.5..=5.0).contains(&p));
    }

    match Gpu::open(0) {
        Ok(gpu) => {
            let mut dx = gpu.upload(&dots)?;
            let (dub, dmb, du, di) = (
                gpu.upload(&ub)?,
                gpu.upload(&mb)?,
                gpu.upload(&users)?,
                gpu.upload(&items)?,
            );
            gpu.bias_add(&mut dx.as_view_mut(), &dub.as_view(), &du.as_view())?;
            gpu.bias_add(&mut dx.as_view_mut(), &dmb.as_view(), &di.as_view())?;
            let mut dp = gpu.zeros::<f32>(3)?;
            gpu.sigmoid_range_forward(&mut dp.as_view_mut(), &dx.as_view(), 0.5, 5.0, 3)?;
            let got = gpu.download(&dp.as_view())?;
            println!("gpu: ratings {got:?}");
            assert!(got.iter().zip(&pred).all(|(a, b)| (a - b).abs() < 1e-6));
        }
        Err(why) => println!("gpu: skipped ({why})"),
    }
    Ok(())
}
