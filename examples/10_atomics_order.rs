//! 10: floating-point addition is not associative, so atomics are not
//! deterministic.
//!
//! The scatter-add of the backward pass (example 05) sums every gradient row
//! that names the same table row. On the GPU each of those rows is a thread,
//! and `atomicAdd` adds them in whatever order the threads arrive. With
//! integers any order gives the same sum; with floats each addition rounds,
//! and the rounding depends on what has been added so far. This example
//! sums the same 4,096 gradients into one row in 100 random orders, which
//! is what atomics may do, and counts the different answers. Then it shows
//! the two cures mfcuda uses:
//!
//! - the CPU twin, `ops::embedding_scatter_add`, adds in batch order: one
//!   answer, every time;
//! - `embedding_scatter_add_det` (what `--deterministic` runs on the GPU)
//!   gives each table row to the thread of its first batch row, which sums
//!   every batch row naming it in batch order: the CPU's answer, bit for bit,
//!   with no atomics.
//!
//!     cargo run --example 10_atomics_order

use mfcuda::backend::cuda::Gpu;
use mfcuda::ops::embedding_scatter_add;
use mfcuda::rng::Mt19937;

fn main() -> mfcuda::Result<()> {
    // 4,096 gradient rows of width 1, all naming table row 0, of mixed sizes
    // (as real gradients are).
    let b = 4096;
    let mut rng = Mt19937::new(5);
    let drows: Vec<f32> = (0..b)
        .map(|_| (rng.random_sample() as f32 - 0.5) * 10f32.powi(rng.interval(6) as i32 - 3))
        .collect();
    let idx = vec![0u32; b];

    // The batch-order sum, twice: the same bits.
    let twin = |d: &[f32]| {
        let mut g = vec![0.0f32; 1];
        embedding_scatter_add(&mut g, d, &idx, 1);
        g[0]
    };
    let in_order = twin(&drows);
    assert_eq!(in_order.to_bits(), twin(&drows).to_bits());

    // The same numbers in 100 arrival orders, as atomics may add them.
    let exact: f64 = drows.iter().map(|&x| x as f64).sum();
    let mut sums = Vec::new();
    for _ in 0..100 {
        let perm = rng.permutation(b);
        let shuffled: Vec<f32> = perm.iter().map(|&i| drows[i as usize]).collect();
        sums.push(twin(&shuffled));
    }
    let mut distinct: Vec<u32> = sums.iter().map(|s| s.to_bits()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let spread = sums.iter().fold(f32::MIN, |a, &s| a.max(s)) - sums.iter().fold(f32::MAX, |a, &s| a.min(s));
    println!("exact sum (f64)        {exact:.9}");
    println!("batch order (f32)      {in_order:.9}  the same on every run");
    println!(
        "100 random orders      {} different f32 answers, spread {spread:.3e} ({:.1} units in the last place)",
        distinct.len(),
        spread / ulp(in_order)
    );
    assert!(distinct.len() > 1, "some orders must round differently");
    // Every order is still a correct f32 sum: within n·ε·Σ|x| of the exact one.
    let bound = b as f64 * f32::EPSILON as f64 * drows.iter().map(|&x| x.abs() as f64).sum::<f64>();
    assert!(sums.iter().all(|&s| (s as f64 - exact).abs() <= bound));

    match Gpu::open(0) {
        Ok(gpu) => {
            let (dd, di) = (gpu.upload(&drows)?, gpu.upload(&idx)?);
            let mut atomic = Vec::new();
            for _ in 0..20 {
                let mut dg = gpu.zeros::<f32>(1)?;
                gpu.embedding_scatter_add(&mut dg.as_view_mut(), &dd.as_view(), &di.as_view(), 1)?;
                atomic.push(gpu.download(&dg.as_view())?[0].to_bits());
            }
            let mut dg = gpu.zeros::<f32>(1)?;
            gpu.embedding_scatter_add_det(&mut dg.as_view_mut(), &dd.as_view(), &di.as_view(), 1, 1, 0)?;
            let det = gpu.download(&dg.as_view())?[0];
            atomic.sort_unstable();
            atomic.dedup();
            println!(
                "gpu atomicAdd          {} different answers in 20 launches",
                atomic.len()
            );
            println!("gpu deterministic      {det:.9}");
            assert_eq!(
                det.to_bits(),
                in_order.to_bits(),
                "the deterministic scatter is the CPU's sum"
            );
        }
        Err(why) => println!("gpu: skipped ({why})"),
    }
    Ok(())
}

/// The gap between `x` and the next f32 away from zero.
fn ulp(x: f32) -> f32 {
    f32::from_bits(x.abs().to_bits() + 1) - x.abs()
}
