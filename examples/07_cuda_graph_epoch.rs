//! 07: why launches, not arithmetic, limit a batch-64 epoch on a GPU, and
//! how a CUDA graph removes them.
//!
//! One step of dotbias op by op is 14 kernel launches; an epoch is 1,261
//! steps, so about 17,700 launches. At the 5.4 µs an eager cudarc launch
//! took on an H200 (measured on 2026-11-28, at commit 07491a1), that is near
//! 95 ms of launching for microseconds of work a step. The fused path does a
//! step in 2 kernels and captures the whole epoch once as a graph, which
//! the same H200 replayed at about 1.5 µs a node. On that card the op-by-op
//! epoch took 63.0 ms and the fused graph 8.57 ms (`mfcuda bench`). Under SGD
//! at one rate, the GPU's default goes further: exact lazy momentum lets one
//! block run the whole epoch in a single launch (`kernels/lazy.cu`; not yet
//! timed on a card). This example trains one epoch each way when a GPU is
//! present and checks that they agree; on the CPU it prints the arithmetic
//! above.
//!
//!     cargo run --release --example 07_cuda_graph_epoch

use std::sync::Arc;

use mfcuda::backend::cuda::{CudaBackend, Gpu};
use mfcuda::backend::{Backend, GpuOptions};
use mfcuda::data::{Columns, Ratings, Source};
use mfcuda::optim::Training;
use mfcuda::recipe;
use mfcuda::train::Setup;

fn main() -> mfcuda::Result<()> {
    let data = Ratings::load(&Source::Bundled, &Columns::default())?;
    let r = recipe::find("dotbias")?;
    let setup = Setup::notebook(&data, &r, 42)?;
    let steps = setup.train.len().div_ceil(64);
    let (launches_op, launches_fused) = (14 * steps, 2 * steps);
    println!("dotbias, batch 64: {steps} steps an epoch");
    // The per-launch costs were measured on an H200 (2026-11-28, commit 07491a1), not here.
    println!(
        "op by op: {launches_op} launches; at 5.4 µs an eager launch (H200, measured 2026-11-28): ~{:.0} ms of launching",
        launches_op as f64 * 5.4e-3
    );
    println!(
        "fused: {launches_fused} graph nodes; at 1.5 µs a replayed node (H200, measured 2026-11-28): ~{:.1} ms",
        launches_fused as f64 * 1.5e-3
    );
    assert_eq!(steps, 1261);

    let gpu = match Gpu::open(0) {
        Ok(g) => Arc::new(g),
        Err(why) => {
            println!("gpu: skipped ({why})");
            return Ok(());
        }
    };
    let Training::Dense { optimizer } = setup.training else {
        return Err(mfcuda::Error::invalid(
            "recipe",
            "dotbias trains with a dense optimizer",
        ));
    };
    let graph = GpuOptions {
        one_kernel: false,
        ..GpuOptions::new(false, false)
    };
    let paths = [
        ("op by op", GpuOptions::new(true, false)),
        ("fused graph", graph),
        ("one kernel (lazy momentum)", GpuOptions::new(false, false)),
    ];
    let mut results = Vec::new();
    for (path, opts) in paths {
        let mut rng = setup.rng.clone();
        let mut be = CudaBackend::new(gpu.clone(), setup.init(), optimizer, opts)?;
        let order = rng.permutation(setup.train.len());
        let t0 = std::time::Instant::now();
        be.train_epoch(
            &order,
            64,
            &vec![0.1; steps],
            0,
            &mut mfcuda::backend::no_progress,
        )?;
        let secs = t0.elapsed().as_secs_f64();
        let mse = be.validate()?;
        println!(
            "gpu {path}: epoch {:.1} ms (first run, graph capture included), val MSE {mse:.5}",
            secs * 1e3
        );
        results.push(mse);
    }
    assert!(
        results.iter().all(|r| (r - results[0]).abs() < 2e-3),
        "the paths disagree: {results:?}"
    );
    Ok(())
}
