//! 01: the notebook's first cell, `(a*b).sum(1)`, as a batched dot product.
//!
//! `a` and `b` are two batches of two rows each; the dot product of row b of
//! `a` with row b of `b` is one prediction. On the CPU this is
//! `ops::dot_forward`; on a GPU the kernel of the same name runs one thread
//! per row.
//!
//!     cargo run --example 01_dot_product

use mfcuda::backend::cuda::Gpu;
use mfcuda::ops::dot_forward;

fn main() -> mfcuda::Result<()> {
    let a = [1.0f32, 2.0, 3.0, 4.0]; // (B=2, F=2): [[1, 2], [3, 4]]
    let b = [2.0f32, 2.0, 10.0, 10.0]; // [[2, 2], [10, 10]]
    let mut out = [0.0f32; 2];
    dot_forward(&mut out, &a, &b, 2);
    println!("cpu: (a*b).sum(1) = {out:?}");
    assert_eq!(out, [6.0, 70.0], "the notebook prints tensor([ 6., 70.])");

    match Gpu::open(0) {
        Ok(gpu) => {
            let (da, db) = (gpu.upload(&a)?, gpu.upload(&b)?);
            let mut dout = gpu.zeros::<f32>(2)?;
            gpu.dot_forward(&mut dout.as_view_mut(), &da.as_view(), &db.as_view(), 2, 2)?;
            let got = gpu.download(&dout.as_view())?;
            println!("gpu: (a*b).sum(1) = {got:?} on {}", gpu.description);
            assert_eq!(got, vec![6.0, 70.0]);
        }
        Err(why) => println!("gpu: skipped ({why})"),
    }
    Ok(())
}
