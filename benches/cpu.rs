//! CPU reference throughput: the fused dense optimizer updates, and one
//! epoch of each recipe. Run with `cargo bench --bench cpu`.
//!
//! Each figure is the median of several timed runs after a warm-up run.
//! Bytes moved count every array read and written once per parameter.

use std::time::Instant;

use mfcuda::backend::Device;
use mfcuda::data::{Columns, Ratings, Source};
use mfcuda::ops::{adam_update, sgd_update, AdamStep};
use mfcuda::recipe::{self, Overrides};
use mfcuda::train::{train, TrainConfig};

/// Median seconds of `runs` calls of `f`, after one warm-up call.
fn median_secs(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(|a, b| a.total_cmp(b));
    t[runs / 2]
}

fn main() {
    println!(
        "{:<34} {:>12} {:>10} {:>12}",
        "what", "time", "GB/s", "per second"
    );
    // 527,034 is EmbeddingDotBias on ml-latest-small; 16M is past every cache.
    for n in [527_034usize, 16_000_000] {
        let mut p: Vec<f32> = (0..n).map(|i| ((i % 97) as f32 - 48.0) * 1e-3).collect();
        let mut g: Vec<f32> = vec![1e-3; n];
        let (mut m, mut v) = (vec![0.0f32; n], vec![0.0f32; n]);
        let reps = if n < 1_000_000 { 200 } else { 10 };
        // The update zeroes the gradient; the work does not depend on its values.
        let s = median_secs(reps, || sgd_update(&mut p, &mut g, &mut m, 0.01, 0.9, 1e-4));
        println!(
            "{:<34} {:>9.1} µs {:>10.1} {:>9.0} M/s",
            format!("sgd_update n={n}"),
            s * 1e6,
            (n * 4 * 6) as f64 / s / 1e9,
            n as f64 / s / 1e6
        );
        let step = AdamStep::new(1e-3, 0.9, 0.999, 1e-8, 10);
        let s = median_secs(reps, || adam_update(&mut p, &mut g, &mut m, &mut v, step, 1e-5));
        println!(
            "{:<34} {:>9.1} µs {:>10.1} {:>9.0} M/s",
            format!("adam_update n={n}"),
            s * 1e6,
            (n * 4 * 8) as f64 / s / 1e9,
            n as f64 / s / 1e6
        );
    }
    let data = Ratings::load(&Source::Bundled, &Columns::default()).expect("bundled data loads");
    for r in recipe::all() {
        let cfg = TrainConfig {
            recipe: r
                .with_overrides(&Overrides {
                    epochs: Some(1),
                    ..Default::default()
                })
                .expect("valid"),
            seed: 42,
            split_seed: 42,
            val_pct: 0.2,
            device: Device::Cpu,
            fused: false,
        };
        let report = train(&data, &cfg, |_| {}, |_| {}).expect("training runs");
        let e = &report.history[0];
        println!(
            "{:<34} {:>10.3} s {:>10} {:>9.0} k ratings/s",
            format!("{} epoch 1 (train steps)", cfg.recipe.name),
            e.train_seconds,
            "-",
            report.train_rows as f64 / e.train_seconds / 1e3
        );
    }
}
