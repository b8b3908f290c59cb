//! 05: the backward pass of a gather is a scatter-add.
//!
//! Each batch row's gradient goes back to the table row it was read from.
//! When a batch names the same row twice, both gradients must add up: on
//! the CPU that is a loop in batch order; on the GPU, threads for the two
//! rows meet at the same address, so the kernel uses `atomicAdd` (and the
//! order of the two additions, hence the last bits, can vary;
//! `--deterministic` uses a kernel that keeps the CPU's order).
//!
//!     cargo run --example 05_backward_scatter_add

use mfcuda::backend::cuda::Gpu;
use mfcuda::ops::embedding_scatter_add;

fn main() -> mfcuda::Result<()> {
    let f = 2;
    let idx = [1u32, 0, 1]; // row 1 twice
    let drows = [1.0f32, 2.0, 10.0, 20.0, 100.0, 200.0]; // (B=3, F=2)
    let mut grad = vec![0.0f32; 3 * f]; // a table of 3 rows
    embedding_scatter_add(&mut grad, &drows, &idx, f);
    println!("cpu: grad = {grad:?}");
    assert_eq!(grad, vec![10.0, 20.0, 101.0, 202.0, 0.0, 0.0]);

    match Gpu::open(0) {
        Ok(gpu) => {
            let mut dg = gpu.zeros::<f32>(grad.len())?;
            let (dd, di) = (gpu.upload(&drows)?, gpu.upload(&idx)?);
            gpu.embedding_scatter_add(&mut dg.as_view_mut(), &dd.as_view(), &di.as_view(), f)?;
            let got = gpu.download(&dg.as_view())?;
            println!("gpu (atomicAdd): grad = {got:?}");
            assert_eq!(got, grad); // small integers add exactly in any order
        }
        Err(why) => println!("gpu: skipped ({why})"),
    }
    Ok(())
}
