//! `mfcuda bench` and `cargo bench`: kernel throughput and epoch times, on
//! the GPU against the device's own copy bandwidth, and on the CPU for
//! contrast.
//!
//! GPU figures are timed with CUDA events after warm-up runs. Bytes moved
//! count each array read or written once per element, the way a roofline
//! counts them: atomics count a read and a write. "% copy" is the kernel's
//! GB/s over the device-to-device copy bandwidth measured at the start of
//! the same run, so it needs no datasheet number.
//!
//! On the emulated device (`scripts/emulate.sh`, [`crate::backend::cuda::emulated`])
//! times are the host's, interpreting PTX: its rows are labelled `emu` and
//! carry no GB/s and no % copy. They run the kernel table at small sizes
//! instead, and carry the emulator's counters for a call ([`EmuCounters`]):
//! instructions, global sectors read and written, shared-memory bank
//! conflicts and divergent branches, beside the roofline model's bytes. The
//! copy yardstick and the epochs are not run there, and the report says why.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::backend::cpu::CpuBackend;
use crate::backend::cuda::{self, CudaBackend, Gpu};
use crate::backend::select::{choose, Choice, Needs};
use crate::backend::{cpu_sparse, Backend, BackendInit, Device, GpuOptions};
use crate::data::split::{Split, NOTEBOOK_SPLIT_SEED, NOTEBOOK_VAL_PCT};
use crate::data::Ratings;
use crate::error::{Error, Result};
use crate::optim::{Optimizer, OptimizerState, Training};
use crate::recipe::{self, EpochOrder};
use crate::rng::Mt19937;
use crate::tools::bench_emu::emu_bench;
pub use crate::tools::bench_emu::{EmuCounters, EMU_DEVICE, EMU_TIME_NOTE};
use crate::tools::kernels::{self, Sizes};
use crate::tools::timing::{copy_bandwidth, copy_floats, median_ms, time_gpu};
use crate::train::Setup as TrainSetup;

/// One measured line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    /// `cpu`, `cuda`, or `emu` (the emulated device: host time, no GB/s).
    pub device: String,
    /// What ran: a kernel, or an epoch of a recipe.
    pub what: String,
    /// The sizes it ran at.
    pub size: String,
    /// Milliseconds per call (per epoch for epochs).
    pub ms: f64,
    /// Bytes moved per second, in GB/s (kernels only).
    pub gb_per_s: Option<f64>,
    /// GB/s as a percentage of the measured device-to-device copy bandwidth.
    pub pct_of_copy: Option<f64>,
    /// Training (or validation) ratings per second (epochs only).
    pub ratings_per_s: Option<f64>,
    /// The emulator's counters for one call (`emu` rows only).
    pub emu: Option<EmuCounters>,
}

impl BenchRow {
    /// The table's header line.
    pub fn header() -> String {
        format!(
            "{:<5} {:<30} {:<24} {:>11} {:>9} {:>7} {:>12}",
            "dev", "what", "size", "time", "GB/s", "% copy", "ratings/s"
        )
    }

    /// The note to print under the header before this row's kind of rows
    /// ([`EMU_TIME_NOTE`] for `emu` rows).
    pub fn note(&self) -> Option<&'static str> {
        (self.device == EMU_DEVICE).then_some(EMU_TIME_NOTE)
    }

    /// The row's line of the counter table, for rows with counters.
    pub fn counters_line(&self) -> Option<String> {
        let e = self.emu.as_ref()?;
        let c = &e.per_call;
        let per = |sectors: u64, per: Option<f64>| match per {
            Some(p) => format!("{sectors} ({p:.1})"),
            None => format!("{sectors} (-)"),
        };
        let instr = if c.thread_instructions >= 10_000_000 {
            format!("{:.1}M", c.thread_instructions as f64 / 1e6)
        } else {
            c.thread_instructions.to_string()
        };
        Some(format!(
            "{:<5} {:<26} {:<20} {:>9} {:>16} {:>16} {:>11} {:>11} {:>6} {:>8} {:>9} {:>9}",
            self.device,
            self.what,
            self.size,
            instr,
            per(c.global_load_sectors, c.sectors_per_load()),
            per(c.global_store_sectors, c.sectors_per_store()),
            e.sector_bytes,
            e.model_bytes,
            e.sector_ratio
                .map(|r| format!("{r:.2}"))
                .unwrap_or_else(|| "-".into()),
            c.shared_requests,
            c.bank_conflicts,
            c.divergent_branches
        ))
    }

    /// The row as a table line.
    pub fn line(&self) -> String {
        let time = if self.ms >= 100.0 {
            format!("{:.3} s", self.ms / 1e3)
        } else if self.ms >= 0.1 {
            format!("{:.3} ms", self.ms)
        } else {
            format!("{:.2} µs", self.ms * 1e3)
        };
        let opt =
            |v: Option<f64>, digits: usize| v.map(|x| format!("{x:.digits$}")).unwrap_or_else(|| "-".into());
        let rate = match self.ratings_per_s {
            Some(r) if r >= 1e6 => format!("{:.1}M", r / 1e6),
            Some(r) => format!("{:.0}k", r / 1e3),
            None => "-".into(),
        };
        format!(
            "{:<5} {:<30} {:<24} {:>11} {:>9} {:>7} {:>12}",
            self.device,
            self.what,
            self.size,
            time,
            opt(self.gb_per_s, 1),
            opt(self.pct_of_copy, 1),
            rate
        )
    }
}

/// Everything one bench run measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// The GPU, when one ran.
    pub gpu: Option<String>,
    /// Why the GPU part did not run, when it did not.
    pub gpu_skipped: Option<String>,
    /// Device-to-device copy bandwidth (read + write), GB/s.
    pub copy_gb_per_s: Option<f64>,
    /// The rows, in the order measured.
    pub rows: Vec<BenchRow>,
    /// Whether the GPU was the emulated device.
    pub emulated: bool,
    /// What was not measured and why (on the emulated device: the copy
    /// yardstick and the epochs).
    pub notes: Vec<String>,
}

impl BenchReport {
    /// The counter table of the rows that carry the emulator's counters:
    /// its header, a line a row and the legend; empty when none does.
    pub fn counters_table(&self) -> Vec<String> {
        let lines: Vec<String> = self.rows.iter().filter_map(BenchRow::counters_line).collect();
        if lines.is_empty() {
            return lines;
        }
        let mut out = vec![
            "emulator counters, per call, beside the roofline byte model:".to_string(),
            EmuCounters::header(),
        ];
        out.extend(lines);
        out.push(EmuCounters::LEGEND.to_string());
        out
    }
}

/// How much to measure.
#[derive(Debug, Clone, Copy)]
pub struct BenchOptions {
    /// Which devices: `Cpu` only the CPU; `Cuda` the GPU (error without one)
    /// and the CPU; `Auto` the GPU if there is one, and the CPU.
    pub device: Device,
    /// Run smaller large sizes and fewer repetitions.
    pub quick: bool,
}

/// Runs the benchmark on `data`, calling `on_row` as each row is measured.
pub fn run(data: &Ratings, opts: BenchOptions, mut on_row: impl FnMut(&BenchRow)) -> Result<BenchReport> {
    // Refuse data too small to split before spending time on the kernels.
    check_splits(data)?;
    let mut report = BenchReport {
        gpu: None,
        gpu_skipped: None,
        copy_gb_per_s: None,
        rows: Vec::new(),
        emulated: false,
        notes: Vec::new(),
    };
    let mut push = |row: BenchRow, report: &mut BenchReport| {
        on_row(&row);
        report.rows.push(row);
    };
    match choose(opts.device, &Needs::default())? {
        Choice::Gpu { gpu, .. } => {
            report.gpu = Some(gpu.description.clone());
            report.emulated = gpu.is_emulated();
            if report.emulated {
                emu_bench(&gpu, opts, &mut report, &mut push)?;
            } else {
                gpu_bench(&gpu, data, opts, &mut report, &mut push)?;
            }
        }
        Choice::Cpu(no_gpu) => report.gpu_skipped = no_gpu,
    }
    cpu_bench(data, opts, &mut report, &mut push)?;
    Ok(report)
}

/// Refuses data too small for the notebook's split, before any time is
/// spent on the kernels.
fn check_splits(data: &Ratings) -> Result<()> {
    // bench always holds out the notebook's 20%; it has no --val-pct to change.
    Split::new(data.len(), NOTEBOOK_VAL_PCT, NOTEBOOK_SPLIT_SEED)
        .map(|_| ())
        .map_err(|_| {
            Error::invalid(
                "bench",
                format!(
                    "{} ratings are too few: the epochs hold out 20% for validation, \
                 and both parts must be non-empty",
                    data.len()
                ),
            )
        })
}

/// How a dense epoch runs on the GPU: each kernel launched by the host,
/// two fused kernels a step replayed as a CUDA graph, or the whole epoch one
/// kernel (lazy momentum under SGD, the cooperative epoch under Adam).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    OpByOp,
    Graph,
    OneKernel,
}

/// Where the epochs of the table run.
enum Which<'g> {
    Cpu,
    Cuda(&'g Arc<Gpu>),
}

impl Which<'_> {
    fn name(&self) -> &'static str {
        match self {
            Which::Cpu => "cpu",
            Which::Cuda(_) => "cuda",
        }
    }

    /// The backend that trains `init` by `training` on `path`, or `None`
    /// where that path does not exist (the CPU and sparse SGD have one path,
    /// the net no graph).
    fn backend<'a>(
        &self,
        init: BackendInit<'a>,
        training: Training,
        path: Path,
    ) -> Result<Option<(Box<dyn Backend + 'a>, &'static str)>> {
        let net = !init.spec.kind.gpu_kernels().fused_step;
        Ok(match (self, training) {
            (Which::Cpu, _) if path != Path::OpByOp => None,
            (Which::Cpu, Training::Dense { optimizer }) => {
                Some((Box::new(CpuBackend::new(init, optimizer)), ""))
            }
            (Which::Cpu, Training::Sparse { storage }) => {
                let threads = cpu_sparse::cpu_threads();
                Some((cpu_sparse::cpu_backend(init, storage, threads)?, ""))
            }
            (Which::Cuda(_), Training::Sparse { .. }) if path != Path::OpByOp => None,
            (Which::Cuda(gpu), Training::Sparse { storage }) => {
                Some((cuda::sparse::cuda_backend(Arc::clone(gpu), init, storage)?, ""))
            }
            (Which::Cuda(_), Training::Dense { .. }) if path == Path::Graph && net => None,
            (Which::Cuda(gpu), Training::Dense { optimizer }) => {
                let (label, opts) = match path {
                    Path::OpByOp => ("op by op", GpuOptions::new(true, false)),
                    Path::Graph => (
                        "fused, graph",
                        GpuOptions {
                            one_kernel: false,
                            ..GpuOptions::new(false, false)
                        },
                    ),
                    Path::OneKernel => ("one kernel", GpuOptions::new(false, false)),
                };
                Some((
                    Box::new(CudaBackend::new(Arc::clone(gpu), init, optimizer, opts)?),
                    label,
                ))
            }
        })
    }

    /// Milliseconds of one call of `f`: wall time on the CPU; on the GPU,
    /// CUDA events around it (the call itself ends with a read-back).
    fn time_once(&self, f: &mut dyn FnMut() -> Result<()>) -> Result<f64> {
        match self {
            Which::Cpu => {
                let t0 = Instant::now();
                f()?;
                Ok(t0.elapsed().as_secs_f64() * 1e3)
            }
            Which::Cuda(gpu) => time_gpu(gpu, 0, 1, f),
        }
    }
}

/// One epoch of every recipe (after a warm-up epoch) on every path it has
/// (op by op, fused graph, one kernel), and each recipe's validation pass.
fn epoch_rows(data: &Ratings, which: &Which<'_>, push: &mut dyn FnMut(BenchRow)) -> Result<()> {
    for r in recipe::all() {
        for path in [Path::OpByOp, Path::Graph, Path::OneKernel] {
            let setup = TrainSetup::notebook(data, &r, 42)?;
            let mut rng = setup.rng.clone();
            let Some((mut be, label)) = which.backend(setup.init(), setup.training, path)? else {
                continue;
            };
            let steps = setup.train.len().div_ceil(r.batch_size);
            let lrs = r.stages[0].lrs(steps);
            let lrs = &lrs[..steps];
            let mut first_step = 0u64;
            // Each recipe in its own order, as `train` runs it.
            let mut epoch = || -> Result<()> {
                match r.order {
                    EpochOrder::Shuffle => {
                        let order = rng.permutation(setup.train.len());
                        be.train_epoch(
                            &order,
                            r.batch_size,
                            lrs,
                            first_step,
                            &mut crate::backend::no_progress,
                        )?;
                    }
                    EpochOrder::UserRuns => {
                        be.train_epoch_runs(first_step, r.batch_size, lrs, &mut crate::backend::no_progress)?;
                    }
                }
                first_step += steps as u64;
                Ok(())
            };
            epoch()?; // warm-up: first launches, graph capture, caches
            let ms = which.time_once(&mut epoch)?;
            let what = if label.is_empty() {
                format!("epoch {}", r.name)
            } else {
                format!("epoch {} ({label})", r.name)
            };
            push(BenchRow {
                device: which.name().into(),
                what,
                // Sparse SGD has no batch: it updates one rating at a time.
                size: if r.model.kind.batched() {
                    format!("{} rows, B={}", setup.train.len(), r.batch_size)
                } else {
                    format!("{} rows, one at a time", setup.train.len())
                },
                ms,
                gb_per_s: None,
                pct_of_copy: None,
                ratings_per_s: Some(setup.train.len() as f64 / (ms / 1e3)),
                emu: None,
            });
            // Validation op by op, and in one kernel where the fused path has it (dot, dotbias).
            if path == Path::OpByOp || (path == Path::OneKernel && r.model.kind.gpu_kernels().fused_step) {
                let mut validate = || be.validate().map(|_| ());
                validate()?;
                let ms = which.time_once(&mut validate)?;
                push(BenchRow {
                    device: which.name().into(),
                    what: if path == Path::OpByOp {
                        format!("validation {}", r.name)
                    } else {
                        format!("validation {} (one kernel)", r.name)
                    },
                    size: format!("{} rows", setup.valid.len()),
                    ms,
                    gb_per_s: None,
                    pct_of_copy: None,
                    ratings_per_s: Some(setup.valid.len() as f64 / (ms / 1e3)),
                    emu: None,
                });
            }
        }
    }
    Ok(())
}

fn cpu_bench(
    data: &Ratings,
    opts: BenchOptions,
    report: &mut BenchReport,
    push: &mut impl FnMut(BenchRow, &mut BenchReport),
) -> Result<()> {
    let mut out = Vec::new();
    let mut add = |row: BenchRow| out.push(row);
    // The fused optimizer updates, at the notebook's size and one past every cache.
    let large = if opts.quick { 2_000_000 } else { 16_000_000 };
    for n in [527_034usize, large] {
        let mut p: Vec<f32> = (0..n).map(|i| ((i % 97) as f32 - 48.0) * 1e-3).collect();
        let mut g = vec![1e-3f32; n];
        let reps = if n < 1_000_000 { 50 } else { 5 };
        // Each dense optimizer's step (which zeroes the gradient; its work
        // does not depend on the values): it reads and writes the
        // parameters, the gradient and each state buffer.
        for optimizer in Optimizer::examples() {
            let o = optimizer.get();
            let mut state = OptimizerState::new(optimizer, 1e-4, n).state;
            let ms = median_ms(reps, || o.step(&mut p, &mut g, &mut state, 1e-3, 10, 1e-4));
            let bytes = 8 * (2 + o.state_buffers()) * n;
            add(kernel_row(
                "cpu",
                o.kernels().plain,
                format!("P={n}"),
                ms,
                bytes,
                None,
            ));
        }
    }
    epoch_rows(data, &Which::Cpu, &mut add)?;
    for row in out {
        push(row, report);
    }
    Ok(())
}

fn kernel_row(device: &str, what: &str, size: String, ms: f64, bytes: usize, copy: Option<f64>) -> BenchRow {
    let gbps = bytes as f64 / (ms / 1e3) / 1e9;
    BenchRow {
        device: device.into(),
        what: what.into(),
        size,
        ms,
        gb_per_s: Some(gbps),
        pct_of_copy: copy.map(|c| 100.0 * gbps / c),
        ratings_per_s: None,
        emu: None,
    }
}

fn gpu_bench(
    gpu: &Arc<Gpu>,
    data: &Ratings,
    opts: BenchOptions,
    report: &mut BenchReport,
    push: &mut impl FnMut(BenchRow, &mut BenchReport),
) -> Result<()> {
    let time = |reps: usize, f: &mut dyn FnMut() -> Result<()>| time_gpu(gpu, 3, reps, f);
    let mut rows = Vec::new();

    // The yardstick: a device-to-device copy, counted as read + write.
    let copy_n = copy_floats(opts.quick);
    let copy = copy_bandwidth(gpu, opts.quick)?;
    report.copy_gb_per_s = Some(copy);
    let ms = 2.0 * (copy_n * 4) as f64 / copy / 1e6;
    rows.push(kernel_row(
        "cuda",
        "device-to-device copy",
        format!("{} MB", (copy_n * 4) >> 20),
        ms,
        2 * copy_n * 4,
        Some(copy),
    ));

    // The kernels: the same table of cases that `mfcuda check` compares,
    // at the notebook's sizes and at sizes that measure bandwidth.
    let mut rng = Mt19937::new(7);
    let reps = if opts.quick { 20 } else { 200 };
    for case in kernels::table(&Sizes::bench(opts.quick)) {
        let mut k = case.build(gpu, &mut rng)?;
        let bytes = k.bytes();
        let reps = if bytes > 400_000_000 { 20 } else { reps };
        let ms = time(reps, &mut || k.run_gpu(gpu))?;
        rows.push(kernel_row(
            "cuda",
            case.kernel(),
            case.shape(),
            ms,
            bytes,
            Some(copy),
        ));
    }
    for row in rows.drain(..) {
        push(row, report);
    }

    // Whole epochs, op by op and fused, and the validation pass.
    let mut add = |row: BenchRow| rows.push(row);
    epoch_rows(data, &Which::Cuda(gpu), &mut add)?;
    for row in rows {
        push(row, report);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cuda::emulated::LaunchCounters;
    use crate::tools::bench_emu::{emu_row, emulated_sizes};

    fn counters() -> LaunchCounters {
        LaunchCounters {
            launches: 1,
            thread_instructions: 315_392,
            warp_instructions: 9_856,
            global_load_requests: 128,
            global_load_sectors: 512,
            global_store_requests: 128,
            global_store_sectors: 512,
            shared_requests: 0,
            bank_conflicts: 0,
            divergent_branches: 0,
            host_ms: 7.0,
        }
    }

    #[test]
    fn an_emu_row_has_no_gb_per_s_and_says_whose_time_it_is() {
        let row = emu_row(
            "sigmoid_range_forward",
            "B=4096".into(),
            7.094,
            32_768,
            Some(counters()),
        );
        assert_eq!(row.device, EMU_DEVICE);
        assert_eq!(
            (row.gb_per_s, row.pct_of_copy, row.ratings_per_s),
            (None, None, None)
        );
        assert_eq!(row.note(), Some(EMU_TIME_NOTE));
        assert!(EMU_TIME_NOTE.contains("not GPU time"));
        let line = row.line();
        assert!(line.starts_with("emu   sigmoid_range_forward"), "{line}");
        let cols: Vec<&str> = line.split_whitespace().collect();
        // time (2 words), GB/s, % copy, ratings/s: all dashes but the time.
        assert_eq!(&cols[cols.len() - 5..], &["7.094", "ms", "-", "-", "-"], "{line}");
    }

    #[test]
    fn the_counter_line_sets_sectors_beside_the_model() {
        let row = emu_row(
            "sigmoid_range_forward",
            "B=4096".into(),
            7.0,
            32_768,
            Some(counters()),
        );
        let e = row.emu.as_ref().unwrap();
        assert_eq!(e.sector_bytes, 32_768);
        assert_eq!(e.sector_ratio, Some(1.0));
        let line = row.counters_line().unwrap();
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            cols,
            [
                "emu",
                "sigmoid_range_forward",
                "B=4096",
                "315392",
                "512",
                "(4.0)",
                "512",
                "(4.0)",
                "32768",
                "32768",
                "1.00",
                "0",
                "0",
                "0"
            ]
        );
        let header = EmuCounters::header();
        for title in [
            "instr",
            "ld sect (/req)",
            "st sect (/req)",
            "sector B",
            "model B",
            "ratio",
        ] {
            assert!(header.contains(title), "{header}");
        }
        // The header's columns are as wide as the line's.
        assert_eq!(header.chars().count(), line.chars().count(), "{header}\n{line}");
    }

    #[test]
    fn rows_without_counters_make_no_counter_table() {
        let cpu = kernel_row("cpu", "sgd_update", "P=1".into(), 1.0, 24, None);
        assert_eq!(cpu.note(), None);
        assert_eq!(cpu.counters_line(), None);
        let mut report = BenchReport {
            gpu: None,
            gpu_skipped: None,
            copy_gb_per_s: None,
            rows: vec![cpu.clone()],
            emulated: false,
            notes: Vec::new(),
        };
        assert!(report.counters_table().is_empty());
        report
            .rows
            .push(emu_row("bias_add", "B=64".into(), 1.0, 1024, Some(counters())));
        report
            .rows
            .push(emu_row("bias_add", "B=65".into(), 1.0, 1024, None));
        let table = report.counters_table();
        // Title, header, the one row with counters, legend.
        assert_eq!(table.len(), 4, "{table:#?}");
        assert!(table[2].contains("B=64"));
    }

    #[test]
    fn the_json_carries_the_counters_flat() {
        let row = emu_row(
            "sigmoid_range_forward",
            "B=4096".into(),
            7.0,
            32_768,
            Some(counters()),
        );
        let v: serde_json::Value = serde_json::to_value(&row).unwrap();
        assert_eq!(v["device"], "emu");
        assert!(v["gb_per_s"].is_null());
        assert_eq!(v["emu"]["global_load_sectors"], 512);
        assert_eq!(v["emu"]["model_bytes"], 32_768);
        assert_eq!(v["emu"]["sector_ratio"], 1.0);
        let cpu = kernel_row("cpu", "sgd_update", "P=1".into(), 1.0, 24, None);
        assert!(serde_json::to_value(&cpu).unwrap()["emu"].is_null());
    }

    #[test]
    fn emulated_sizes_are_small_and_leave_the_det_scatter_small() {
        for quick in [true, false] {
            let s = emulated_sizes(quick);
            for case in kernels::table(&s) {
                if let kernels::Case::EmbeddingScatterAddDet { batch, .. } = case {
                    assert!(batch <= 256, "{case:?}");
                }
            }
            assert!(s.params.iter().all(|&p| p <= 527_034));
            assert!(s.batches.iter().chain(&s.reductions).all(|&n| n <= 1 << 18));
        }
    }
}
