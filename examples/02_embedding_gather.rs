//! 02: an embedding lookup is a gather: row `idx[b]` of a table, copied.
//!
//! `nn.Embedding(n, f)(idx)` in PyTorch is `ops::embedding_gather`: out[b, :]
//! = table[idx[b], :]. The kernel gives each output element its own thread;
//! a batch that names a row twice simply reads it twice.
//!
//!     cargo run --example 02_embedding_gather

use mfcuda::backend::cuda::Gpu;
use mfcuda::ops::embedding_gather;

fn main() -> mfcuda::Result<()> {
    // A table of 4 users with 3 factors each: row r holds r·10 + (0, 1, 2).
    let f = 3;
    let table: Vec<f32> = (0..4)
        .flat_map(|r| (0..f).map(move |k| (r * 10 + k) as f32))
        .collect();
    let idx = [2u32, 0, 2]; // user 2 appears twice in the batch
    let mut out = vec![0.0f32; idx.len() * f];
    embedding_gather(&mut out, &table, &idx, f);
    println!("cpu: rows {idx:?} = {out:?}");
    assert_eq!(out, vec![20.0, 21.0, 22.0, 0.0, 1.0, 2.0, 20.0, 21.0, 22.0]);

    match Gpu::open(0) {
        Ok(gpu) => {
            let (dt, di) = (gpu.upload(&table)?, gpu.upload(&idx)?);
            let mut dout = gpu.zeros::<f32>(out.len())?;
            gpu.embedding_gather(&mut dout.as_view_mut(), &dt.as_view(), &di.as_view(), f)?;
            let got = gpu.download(&dout.as_view())?;
            println!("gpu: rows {idx:?} = {got:?}");
            assert_eq!(got, out);
        }
        Err(why) => println!("gpu: skipped ({why})"),
    }
    Ok(())
}
