//! GPU tests: every kernel against its CPU twin, one-step parity of whole
//! models, and the recipes on the GPU against the CPU and the notebook.
//! Where no usable GPU is present, each test says why and skips.
//!
//! On the emulated device (`scripts/emulate.sh cargo test --release --test gpu`,
//! emu/) the kernels run in an interpreter, about a thousand times slower than a
//! card, so the tests that train whole recipes run at an *emulation size*: the
//! first [`EMU_USERS`] users of the bundled set and at most [`EMU_EPOCHS`] epochs (a
//! sparse epoch, one launch, keeps the recipe's count),
//! and say so. A check that only holds at full size (a recipe within 0.01 of the
//! notebook) becomes, at emulation size, the GPU against the CPU on the same
//! small data, with the tolerance it has at full size. On a card every test runs
//! at its full size.

mod common;

use std::io::Write;
use std::sync::Arc;

use common::{bits, bundled, notebook_config};
use mfcuda::backend::cuda::Gpu;
use mfcuda::backend::{Device, GpuOptions};
use mfcuda::data::{Columns, Ratings};
use mfcuda::recipe::{self, Overrides};
use mfcuda::tools::check::{kernel_checks, lazy_parity, sparse_parity, step_parity, CheckRow};
use mfcuda::train::{train, Silent, TrainConfig, TrainReport};

/// The GPU, or `None` after telling the terminal why the test skips. Writes
/// to the stderr handle directly, which the test harness does not capture.
/// Under `scripts/emulate.sh` (which sets `MFCUDA_EMULATED`) a GPU must open:
/// there a refused module load or a missing driver fails the test.
fn gpu_or_skip(test: &str) -> Option<Arc<Gpu>> {
    match Gpu::open(0) {
        Ok(gpu) => Some(Arc::new(gpu)),
        Err(why) if std::env::var_os("MFCUDA_EMULATED").is_some() => {
            panic!("{test}: scripts/emulate.sh is in force, but the emulated GPU did not open: {why}")
        }
        Err(why) => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: {why} (to run it on the emulated device: \
                 scripts/emulate.sh cargo test --release --test gpu)"
            );
            None
        }
    }
}

/// Users of the bundled set kept at emulation size: the first 20 (3,219
/// ratings of 1,859 movies).
const EMU_USERS: u32 = 20;
/// The most epochs a recipe trains at emulation size.
const EMU_EPOCHS: usize = 2;

/// The size a test trains at: the full shape on a card, the emulation size on
/// the emulated device.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Size {
    Full,
    Emulated,
}

impl Size {
    /// The size for `gpu`, said on the terminal when it is the emulation size.
    fn of(gpu: &Gpu, test: &str) -> Size {
        if gpu.is_emulated() {
            let _ = writeln!(
                std::io::stderr(),
                "{test}: emulation size ({EMU_USERS} users of the bundled set, at most {EMU_EPOCHS} epochs) \
                 on {}",
                gpu.description
            );
            Size::Emulated
        } else {
            Size::Full
        }
    }

    /// The ratings a test trains on: the bundled set, or its first
    /// [`EMU_USERS`] users.
    fn data(self) -> Ratings {
        match self {
            Size::Full => bundled(),
            Size::Emulated => {
                let csv = std::fs::read_to_string("data/ml-latest-small/ratings.csv").unwrap();
                let mut lines = csv.lines();
                let mut keep = String::from(lines.next().unwrap());
                keep.push('\n');
                for line in lines {
                    let user: u32 = line.split(',').next().unwrap().parse().unwrap();
                    if user <= EMU_USERS {
                        keep.push_str(line);
                        keep.push('\n');
                    }
                }
                let name = format!("the bundled set's first {EMU_USERS} users");
                Ratings::from_reader(keep.as_bytes(), &name, &Columns::default()).unwrap()
            }
        }
    }

    /// `epochs` at this size: unchanged on a card, at most [`EMU_EPOCHS`] on the emulator.
    fn epochs(self, epochs: Option<usize>, recipe_epochs: usize) -> Option<usize> {
        match self {
            Size::Full => epochs,
            Size::Emulated => Some(epochs.unwrap_or(recipe_epochs).min(EMU_EPOCHS)),
        }
    }
}

/// Mean training seconds per epoch of a run.
fn secs_per_epoch(r: &TrainReport) -> f64 {
    r.history.iter().map(|e| e.train_seconds).sum::<f64>() / r.epochs as f64
}

fn assert_rows(rows: &[CheckRow]) {
    let failed: Vec<String> = rows
        .iter()
        .filter(|r| !r.cmp.ok())
        .map(|r| format!("{}\n{}", r.line(), r.cmp.report(&r.kernel)))
        .collect();
    assert!(
        failed.is_empty(),
        "{} rows failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

#[test]
fn every_kernel_matches_its_cpu_twin() {
    let Some(gpu) = gpu_or_skip("every_kernel_matches_its_cpu_twin") else {
        return;
    };
    let rows = kernel_checks(&gpu, |_| {}).unwrap();
    assert!(rows.len() > 100, "only {} rows", rows.len());
    assert_rows(&rows);
}

#[test]
fn one_step_parity_sgd_adam_net_fused_and_sparse() {
    let Some(gpu) = gpu_or_skip("one_step_parity_sgd_adam_net_fused_and_sparse") else {
        return;
    };
    let data = bundled();
    let mut rows: Vec<CheckRow> = Vec::new();
    for name in ["dot", "dotbias", "learner", "net"] {
        let recipe = recipe::find(name).unwrap();
        rows.push(step_parity(&gpu, &data, &recipe, 7, GpuOptions::default()).unwrap());
        rows.push(step_parity(&gpu, &data, &recipe, 7, GpuOptions::new(false, true)).unwrap());
        if name != "net" {
            // The fused graph (the net has none).
            let graph = GpuOptions {
                one_kernel: false,
                ..GpuOptions::new(false, false)
            };
            rows.push(step_parity(&gpu, &data, &recipe, 7, graph).unwrap());
        }
        // The default: one kernel an epoch.
        rows.push(step_parity(&gpu, &data, &recipe, 7, GpuOptions::new(false, false)).unwrap());
        if name == "dot" || name == "dotbias" {
            rows.push(lazy_parity(&gpu, &data, &recipe, 7).unwrap());
        }
    }
    rows.push(sparse_parity::<f32>(&gpu, &data, &recipe::find("sparse").unwrap(), 7).unwrap());
    rows.push(sparse_parity::<half::bf16>(&gpu, &data, &recipe::find("sparse-bf16").unwrap(), 7).unwrap());
    assert_rows(&rows);
}

#[test]
fn recipes_on_gpu_match_cpu_and_notebook() {
    let Some(gpu) = gpu_or_skip("recipes_on_gpu_match_cpu_and_notebook") else {
        return;
    };
    let size = Size::of(&gpu, "recipes_on_gpu_match_cpu_and_notebook");
    drop(gpu);
    let data = size.data();
    // The net's GPU run may drift further: its scatter-adds reorder sums
    // inside a model that is more sensitive to them.
    for (name, tol) in [
        ("learner", 0.002),
        ("dot", 0.002),
        ("dotbias", 0.002),
        ("net", 0.003),
    ] {
        let run = |device, gpu: GpuOptions| {
            let recipe = recipe::find(name).unwrap();
            let epochs = size.epochs(None, recipe.epochs());
            let recipe = recipe
                .with_overrides(&Overrides {
                    epochs,
                    ..Default::default()
                })
                .unwrap();
            let cfg = TrainConfig {
                device,
                gpu,
                ..notebook_config(recipe)
            };
            train(&data, &cfg, &mut Silent).unwrap()
        };
        let op_by_op = GpuOptions::new(true, false);
        let (cpu, gpu) = (run(Device::Cpu, op_by_op), run(Device::Cuda(0), op_by_op));
        assert!(gpu.device.starts_with("cuda"), "{}", gpu.device);
        assert!(
            gpu.device.ends_with("(path op-by-op (asked for (--op-by-op)))"),
            "{}",
            gpu.device
        );
        let _ = writeln!(
            std::io::stderr(),
            "{name}: gpu val_mse {:.5} ({:.3} s/epoch), cpu {:.5} ({:.3} s/epoch)",
            gpu.val_mse,
            secs_per_epoch(&gpu),
            cpu.val_mse,
            secs_per_epoch(&cpu),
        );
        assert!(
            (gpu.val_mse - cpu.val_mse).abs() <= tol,
            "{name}: gpu {} cpu {}",
            gpu.val_mse,
            cpu.val_mse
        );
        // The notebook's figure holds only at full size; the emulation size
        // keeps the GPU-against-CPU check above.
        if size == Size::Full {
            assert!(
                (gpu.val_mse - gpu.notebook_mse.unwrap()).abs() <= 0.01,
                "{name}: gpu {} notebook {}",
                gpu.val_mse,
                gpu.notebook_mse.unwrap()
            );
        }
        {
            // The fused graph (not for the net), and the default: one kernel an epoch.
            let graph = GpuOptions {
                one_kernel: false,
                ..GpuOptions::new(false, false)
            };
            let paths = [("fused", graph), ("default", GpuOptions::new(false, false))];
            for (path, opts) in paths
                .into_iter()
                .filter(|(p, _)| name != "net" || *p == "default")
            {
                let fused = run(Device::Cuda(0), opts);
                // The graph when asked for; by default the model's one-kernel epoch
                // for its optimizer (lazy SGD for dot and dotbias, the Adam epoch for
                // learner and the net).
                let want = match (path, name) {
                    ("fused", _) => "graph",
                    (_, "dot" | "dotbias") => "lazy-sgd",
                    _ => "adam-epoch",
                };
                assert!(
                    fused.device.contains(&format!("(path {want} (")),
                    "{}",
                    fused.device
                );
                let names: Vec<&str> = fused.paths.iter().map(|p| p.name).collect();
                assert_eq!(names, [want], "{}", fused.device);
                let _ = writeln!(
                    std::io::stderr(),
                    "{name}: {path} val_mse {:.5} ({:.4} s/epoch; {})",
                    fused.val_mse,
                    secs_per_epoch(&fused),
                    fused.device
                );
                assert!(
                    (fused.val_mse - gpu.val_mse).abs() <= 0.002,
                    "{name}: {path} {} op by op {}",
                    fused.val_mse,
                    gpu.val_mse
                );
            }
        }
    }
}

#[test]
fn deterministic_gpu_runs_repeat_to_the_bit() {
    let Some(gpu) = gpu_or_skip("deterministic_gpu_runs_repeat_to_the_bit") else {
        return;
    };
    let size = Size::of(&gpu, "deterministic_gpu_runs_repeat_to_the_bit");
    drop(gpu);
    let data = size.data();
    for name in ["dotbias", "net"] {
        let run = |deterministic| {
            let recipe = recipe::find(name)
                .unwrap()
                .with_overrides(&Overrides {
                    epochs: Some(1),
                    ..Default::default()
                })
                .unwrap();
            let cfg = TrainConfig {
                device: Device::Cuda(0),
                gpu: GpuOptions::new(true, deterministic),
                ..notebook_config(recipe)
            };
            train(&data, &cfg, &mut Silent).unwrap()
        };
        let (a, b, plain) = (run(true), run(true), run(false));
        assert!(
            bits(&a.params) == bits(&b.params),
            "{name}: deterministic runs differ"
        );
        for (x, y) in a.history.iter().zip(&b.history) {
            assert_eq!(
                (x.trn_loss.to_bits(), x.val_loss.to_bits()),
                (y.trn_loss.to_bits(), y.val_loss.to_bits())
            );
        }
        let _ = writeln!(
            std::io::stderr(),
            "{name}: deterministic {:.4} s/epoch (val {:.6}), atomics {:.4} s/epoch (val {:.6})",
            secs_per_epoch(&a),
            a.val_mse,
            secs_per_epoch(&plain),
            plain.val_mse
        );
    }
}

#[test]
fn sparse_recipes_on_gpu_reach_the_cpus_rmse() {
    let Some(gpu) = gpu_or_skip("sparse_recipes_on_gpu_reach_the_cpus_rmse") else {
        return;
    };
    let size = Size::of(&gpu, "sparse_recipes_on_gpu_reach_the_cpus_rmse");
    drop(gpu);
    let data = size.data();
    // A sparse epoch is one launch over the ratings, cheap even on the
    // emulator, so the emulation size keeps every epoch and shrinks only the data.
    for name in ["sparse", "sparse-bf16"] {
        let run = |device| {
            let cfg = TrainConfig {
                device,
                ..notebook_config(recipe::find(name).unwrap())
            };
            train(&data, &cfg, &mut Silent).unwrap()
        };
        let (cpu, gpu) = (run(Device::Cpu), run(Device::Cuda(0)));
        assert!(
            gpu.device.contains(mfcuda::backend::cuda::sparse::RUNS_PATH),
            "{}",
            gpu.device
        );
        let _ = writeln!(
            std::io::stderr(),
            "{name}: gpu val_rmse {:.4} ({:.5} s/epoch), cpu {:.4} ({:.5} s/epoch)",
            gpu.val_rmse,
            secs_per_epoch(&gpu),
            cpu.val_rmse,
            secs_per_epoch(&cpu)
        );
        // Hogwild on the GPU and stratified threads on the CPU visit the
        // ratings in different orders, so they land near, not on, each other.
        if size == Size::Full {
            assert!(gpu.val_rmse <= 0.870, "{name}: gpu val_rmse {}", gpu.val_rmse);
        }
        assert!(
            (gpu.val_rmse - cpu.val_rmse).abs() <= 0.005,
            "{name}: gpu {} cpu {}",
            gpu.val_rmse,
            cpu.val_rmse
        );
    }
}

#[test]
fn every_kernel_version_matches_its_cpu_twin() {
    use mfcuda::tools::versions::{self, Family};
    let Some(gpu) = gpu_or_skip("every_kernel_version_matches_its_cpu_twin") else {
        return;
    };
    // On the emulated device the jobs are smaller (`tools::versions`), the rows
    // say `emu`, and they carry no bandwidth: its times are the host's.
    let size = Size::of(&gpu, "every_kernel_version_matches_its_cpu_twin");
    drop(gpu);
    let dev = if size == Size::Emulated { "emu" } else { "cuda" };
    for family in [Family::Dot, Family::Sparse] {
        let report = versions::run(family, Device::Cuda(0), true, |_| {}).unwrap();
        let gpu_rows: Vec<_> = report.rows.iter().filter(|r| r.device == dev).collect();
        assert_eq!(gpu_rows.len(), if family == Family::Dot { 4 } else { 5 });
        for r in gpu_rows {
            let check = r
                .check
                .as_ref()
                .unwrap_or_else(|| panic!("{} did not run", r.kernel));
            assert!(check.ok, "{}", r.line());
            assert!(r.ms.unwrap() > 0.0, "{}", r.line());
            assert_eq!(r.pct_of_copy.is_some(), size == Size::Full, "{}", r.line());
        }
    }
}

/// An empty host slice uploads to a buffer of length 0 that still has an
/// allocation behind it (the driver refuses 0 bytes), and a dot model, which
/// has no biases and so uploads two empty tables, ranks on the GPU as on the
/// CPU.
#[test]
fn empty_uploads_allocate_and_keep_length_zero() {
    use mfcuda::eval::ranking::{full_ranking, full_ranking_on, RankingOptions};
    let Some(gpu) = gpu_or_skip("empty_uploads_allocate_and_keep_length_zero") else {
        return;
    };
    let empty = gpu.upload::<f32>(&[]).unwrap();
    assert_eq!(empty.len(), 0);
    assert!(gpu.download(&empty.as_view()).unwrap().is_empty());
    let zeros = gpu.zeros::<u32>(0).unwrap();
    assert_eq!(zeros.len(), mfcuda::backend::cuda::alloc_len(0));
    let data = Size::of(&gpu, "empty_uploads_allocate_and_keep_length_zero").data();
    drop(gpu);
    let setup = mfcuda::train::Setup::notebook(&data, &recipe::find("dot").unwrap(), 7).unwrap();
    let (spec, params) = (&setup.spec, &setup.params);
    let opts = RankingOptions::default();
    let on_gpu = full_ranking_on(Device::Cuda(0), spec, params, &setup.train, &setup.valid, opts).unwrap();
    let on_cpu = full_ranking(spec, params, &setup.train, &setup.valid, opts);
    assert_eq!(on_gpu.users, on_cpu.users);
    assert!(
        (on_gpu.precision - on_cpu.precision).abs() <= 0.01,
        "gpu {} cpu {}",
        on_gpu.precision,
        on_cpu.precision
    );
}

/// A cooperative launch the driver refuses for its size (here a grid one
/// block past what the GPU holds at once, as MPS limits or a shared card
/// would make it) does not end the run: the epoch falls back before anything
/// moves (learner, a dotbias model, to the fused graph; the net op by op),
/// the device line says which path and why, and the run ends where a run on
/// that path from the start ends. Two short epochs (emulation size): the
/// first falls back, the second starts on the fallback.
#[test]
fn a_refused_cooperative_launch_falls_back_and_says_why() {
    use mfcuda::backend::cuda::{CoopRefusal, CudaBackend};
    use mfcuda::backend::{no_progress, Backend};
    use mfcuda::optim::Training;
    use mfcuda::train::Setup;
    let Some(gpu) = gpu_or_skip("a_refused_cooperative_launch_falls_back_and_says_why") else {
        return;
    };
    let data = Size::of(&gpu, "a_refused_cooperative_launch_falls_back_and_says_why").data();
    for (name, below) in [("learner", "graph"), ("net", "op-by-op")] {
        let recipe = recipe::find(name).unwrap();
        let setup = Setup::notebook(&data, &recipe, 7).unwrap();
        let Training::Dense { optimizer } = setup.training else {
            panic!("{name} trains a dense model");
        };
        let bs = recipe.batch_size;
        let order: Vec<u32> = setup.rng.clone().permutation(setup.train.len())[..4 * bs + 29].to_vec();
        let lrs = vec![recipe.stages[0].lr(); order.len().div_ceil(bs)];
        let run = |refused: bool| {
            let opts = GpuOptions {
                one_kernel: refused,
                ..GpuOptions::new(false, false)
            };
            let mut be = CudaBackend::new(gpu.clone(), setup.init(), optimizer, opts).unwrap();
            if refused {
                be.oversize_cooperative_grid(1);
            }
            let mut losses = Vec::new();
            for e in 0..2 {
                let first = (e * lrs.len()) as u64;
                losses.extend(be.train_epoch(&order, bs, &lrs, first, &mut no_progress).unwrap());
            }
            (be.device(), losses, be.params().unwrap(), be.validate().unwrap())
        };
        let (device, losses, params, val) = run(true);
        let (from_start, want_losses, want_params, want_val) = run(false);
        let _ = writeln!(
            std::io::stderr(),
            "{name}: {device}\n{name}: from the start: {from_start}"
        );
        assert!(
            device.contains(&CoopRefusal::Refused.reason()),
            "{name}: {device}"
        );
        assert!(
            device.contains(&format!("(path {below} (the one-kernel Adam epoch ")),
            "{name}: {device}"
        );
        assert!(!from_start.contains("refused"), "{name}: {from_start}");
        // The same path from the same state: only the atomics' order differs.
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 + 1e-4 * b.abs();
        assert_eq!(losses.len(), want_losses.len());
        for (i, (a, b)) in losses.iter().zip(&want_losses).enumerate() {
            assert!(close(*a as f64, *b as f64), "{name}: loss {i}: {a} vs {b}");
        }
        let worst = params
            .iter()
            .zip(&want_params)
            .position(|(a, b)| !close(*a as f64, *b as f64));
        assert!(
            worst.is_none(),
            "{name}: parameter {worst:?} differs from the fallback run from the start"
        );
        assert!(close(val, want_val), "{name}: val {val} vs {want_val}");
    }
}

/// `train --trace`'s GPU column: one op-by-op step of dot and dotbias, by
/// the training path's own forward and backward, read back, against the
/// CPU's tensors of the same step (sums in another order: to rounding).
#[test]
fn the_traced_gpu_step_matches_the_cpus_tensors() {
    use mfcuda::backend::cuda::step_tensors;
    use mfcuda::compare::compare_f32;
    use mfcuda::model::Workspace;
    use mfcuda::train::Setup;
    let Some(gpu) = gpu_or_skip("the_traced_gpu_step_matches_the_cpus_tensors") else {
        return;
    };
    let data = Size::of(&gpu, "the_traced_gpu_step_matches_the_cpus_tensors").data();
    for name in ["dot", "dotbias"] {
        let setup = Setup::notebook(&data, &recipe::find(name).unwrap(), 7).unwrap();
        let (spec, params) = (&setup.spec, setup.init().params);
        let e = &setup.train;
        let rows = 0..e.len().min(65);
        let (users, items, targets) = (&e.users[rows.clone()], &e.items[rows.clone()], &e.ratings[rows]);
        let mut ws = Workspace::default();
        let mut grads = vec![0.0f32; params.len()];
        let loss = spec.loss_and_grad(&params, &mut grads, users, items, targets, &mut ws, None);
        let g = step_tensors(&gpu, spec, &params, users, items, targets).unwrap();
        let pairs: [(&str, &[f32], &[f32]); 6] = [
            ("u", &g.u, &ws.u),
            ("m", &g.m, &ws.m),
            ("pred", &g.pred, &ws.pred),
            ("dpred", &g.dpred, &ws.dpred),
            ("du", &g.du, &ws.du),
            ("dm", &g.dm, &ws.dm),
        ];
        for (what, got, want) in pairs {
            let c = compare_f32(got, &want[..got.len()], 1e-7, 1e-5);
            assert!(c.ok(), "{name} {what}: {}", c.report(what));
        }
        assert!(
            (g.loss - loss).abs() <= 1e-6 + 1e-5 * loss.abs(),
            "{name}: loss {} vs {loss}",
            g.loss
        );
    }
}
