//! The kernels' tools, one file per kernel family, as llm.c's `dev/cuda`
//! keeps each kernel beside its check and its timing. Each file mirrors a
//! `kernels/*.cu` file (and its wrappers in `backend/cuda/kernels/`): its
//! cases for `check` and `bench`, its whole-family checks, and its versions
//! for `bench --versions`.
//!
//! | file | kernels | cases (check, bench) | family checks | versions |
//! |---|---|---|---|---|
//! | `embedding.rs` | gather_rows, embedding_gather, the scatters | yes | | |
//! | `dot.rs` | dot_forward, dot_backward, bias_add | yes | | `dot_forward` v1–v4 |
//! | `sigmoid_range.rs` | sigmoid_range forward, backward | yes | | |
//! | `loss.rs` | mse_loss_grad, mse_sum | yes | | |
//! | `optim.rs` | every optimizer's update, plain and scheduled | yes | scheduled | |
//! | `net.rs` | the net's layers | | yes | |
//! | `fused.rs` | mf_step_fused, mf_validate | | yes | |
//! | `lazy.rs` | sgd_catch_up_all | | yes | |
//! | `sparse.rs` | sparse SGD, predict, group_mean | | yes | the update v1–v5 |
//! | `ranking.rs` | score_topk, score_topk_tiled | | yes | |
//!
//! A [`Case`] names one kernel at one size. [`Case::build`] makes its inputs
//! once, on the host and on the device. Then:
//!
//! - `check` runs the CPU twin ([`KernelCase::run_cpu`]) and the kernel
//!   ([`KernelCase::run_gpu`]) once each, and compares the outputs within
//!   the case's tolerance ([`KernelCase::compare`]);
//! - `bench` launches the kernel after a warm-up between two CUDA events,
//!   and turns [`KernelCase::bytes`] into GB/s.
//!
//! [`table`] lists the cases for a set of [`Sizes`]: [`Sizes::check`] for
//! awkward sizes that catch indexing bugs, [`Sizes::bench`] for the
//! notebook's batch and sizes large enough to measure bandwidth. [`checks`]
//! is the one runner of `check`'s kernel rows: the table, then each
//! family's own checks, whose inputs only make sense together (a whole
//! layer, a whole step); `bench` times those families through whole epochs.

use cudarc::driver::CudaSlice;
use serde::Serialize;

pub mod dot;
pub mod embedding;
pub mod fused;
pub mod lazy;
pub mod loss;
pub mod net;
pub mod optim;
pub mod ranking;
pub mod sigmoid_range;
pub mod sparse;

use crate::backend::cuda::Gpu;
use crate::compare::{compare, Comparison};
use crate::error::Result;
use crate::optim::Optimizer;
use crate::rng::Mt19937;
use dot::{BiasAdd, DotBackward, DotForward};
use embedding::{EmbeddingGather, GatherRows, ScatterAdd};
use loss::{MseLossGrad, MseSum};
use optim::Update;
use sigmoid_range::SigmoidRange;

/// Batch sizes every batched kernel is checked at: around the warp (32)
/// and block (256) edges, and a batch larger than a block.
pub const BATCHES: [usize; 5] = [1, 63, 64, 65, 1000];
/// Embedding widths every factor-dependent kernel is checked at.
pub const FACTORS: [usize; 5] = [1, 31, 50, 64, 129];
/// Parameter counts the optimizer kernels are checked at (527,034 is
/// EmbeddingDotBias on ml-latest-small).
pub const PARAM_COUNTS: [usize; 4] = [1, 1000, 65_537, 527_034];

/// One kernel at one size, with its inputs built.
pub trait KernelCase {
    /// Bytes the kernel reads and writes once, for GB/s.
    fn bytes(&self) -> usize;
    /// Runs the CPU twin on the host inputs (once, for `check`).
    fn run_cpu(&mut self);
    /// Launches the kernel on the device inputs.
    fn run_gpu(&mut self, gpu: &Gpu) -> Result<()>;
    /// Compares the device's outputs with the twin's, within the case's
    /// tolerance (after one [`run_cpu`](Self::run_cpu) and one
    /// [`run_gpu`](Self::run_gpu)).
    fn compare(&self, gpu: &Gpu) -> Result<Comparison>;
}

/// The sizes a table is built for.
#[derive(Debug, Clone, PartialEq)]
pub struct Sizes {
    /// Batches for gather_rows, bias_add, sigmoid_range and mse_loss_grad.
    pub batches: Vec<usize>,
    /// (batch, factors, table rows) for the embedding and dot kernels.
    pub embeddings: Vec<(usize, usize, usize)>,
    /// Parameter counts for the optimizer updates.
    pub params: Vec<usize>,
    /// Lengths for the mse_sum reduction.
    pub reductions: Vec<usize>,
}

impl Sizes {
    /// `check`'s sizes: batches of 1, 63, 64, 65 and 1000 around the warp
    /// and block edges; factors 1, 31, 50, 64 and 129; tables of batch/8
    /// rows, so that rows repeat within a batch; reductions that need one
    /// block and many.
    pub fn check() -> Sizes {
        let embeddings = BATCHES
            .iter()
            .flat_map(|&b| FACTORS.map(|f| (b, f, (b / 8).max(1))))
            .collect();
        Sizes {
            batches: BATCHES.to_vec(),
            embeddings,
            params: PARAM_COUNTS.to_vec(),
            reductions: vec![1, 63, 64, 65, 1000, 20_167, 1_000_003],
        }
    }

    /// `bench`'s sizes: the notebook's (batch 64, 50 factors, 9,724 movies,
    /// 527,034 parameters, 20,167 validation rows) and large ones that
    /// measure bandwidth (smaller with `quick`).
    pub fn bench(quick: bool) -> Sizes {
        let big = if quick { 1 << 18 } else { 1 << 20 };
        let big_p = if quick { 10_000_000 } else { 100_000_000 };
        Sizes {
            batches: vec![64, big],
            embeddings: vec![(64, 50, 9_724), (big, 50, big)],
            params: vec![527_034, big_p],
            reductions: vec![20_167, big_p],
        }
    }
}

/// One row of the table: a kernel and its size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Case {
    /// `gather_rows`: a batch's (user, item, rating) by an order, from 2B rows.
    GatherRows {
        /// Rows gathered.
        batch: usize,
    },
    /// `embedding_gather`, and the rest of the embedding-shaped kernels below.
    EmbeddingGather {
        /// Rows gathered.
        batch: usize,
        /// Embedding width.
        factors: usize,
        /// Rows of the table.
        rows: usize,
    },
    /// `embedding_scatter_add` (atomics) into a non-zero gradient.
    EmbeddingScatterAdd {
        /// Rows scattered.
        batch: usize,
        /// Embedding width.
        factors: usize,
        /// Rows of the gradient table.
        rows: usize,
    },
    /// `embedding_scatter_add_det`: the same sum in the CPU's order.
    EmbeddingScatterAddDet {
        /// Rows scattered.
        batch: usize,
        /// Embedding width.
        factors: usize,
        /// Rows of the gradient table.
        rows: usize,
    },
    /// `dot_forward`: one dot product per row.
    DotForward {
        /// Rows.
        batch: usize,
        /// Embedding width.
        factors: usize,
    },
    /// `dot_backward`: both inputs' gradients.
    DotBackward {
        /// Rows.
        batch: usize,
        /// Embedding width.
        factors: usize,
    },
    /// `bias_add`: `x[b] += bias[idx[b]]`.
    BiasAdd {
        /// Rows.
        batch: usize,
    },
    /// `sigmoid_range_forward` on (0.5, 5).
    SigmoidRangeForward {
        /// Rows.
        batch: usize,
    },
    /// `sigmoid_range_backward` on (0.5, 5).
    SigmoidRangeBackward {
        /// Rows.
        batch: usize,
    },
    /// `mse_loss_grad`: the loss gradient and the batch's mean loss.
    MseLossGrad {
        /// Rows.
        batch: usize,
    },
    /// `mse_sum`: Σ (pred − target)², in f64.
    MseSum {
        /// Elements.
        n: usize,
    },
    /// A dense optimizer's plain update kernel (`sgd_update`,
    /// `adam_update`, …) at lr 1e-2, wd 2e-4, step `t`, the optimizer as
    /// [`Optimizer::examples`] holds it.
    Update {
        /// The optimizer.
        optimizer: Optimizer,
        /// Parameters.
        n: usize,
        /// The step (1-based): Adam's bias corrections and Adagrad's rate depend on it.
        t: u64,
    },
}

/// The largest batch the deterministic scatter is run at. Each of its
/// threads scans the batch for its row's other occurrences, so its work
/// grows as B²: fine for training batches, a second a launch at B = 262,144
/// (measured on an H200).
pub const MAX_DET_BATCH: usize = 4096;

/// Every case for `sizes`, in the order the kernels appear in a step.
pub fn table(sizes: &Sizes) -> Vec<Case> {
    let mut cases = Vec::new();
    for &batch in &sizes.batches {
        cases.push(Case::GatherRows { batch });
    }
    for &(batch, factors, rows) in &sizes.embeddings {
        cases.extend([
            Case::EmbeddingGather { batch, factors, rows },
            Case::EmbeddingScatterAdd { batch, factors, rows },
        ]);
        if batch <= MAX_DET_BATCH {
            cases.push(Case::EmbeddingScatterAddDet { batch, factors, rows });
        }
        cases.extend([
            Case::DotForward { batch, factors },
            Case::DotBackward { batch, factors },
        ]);
    }
    for &batch in &sizes.batches {
        cases.extend([
            Case::BiasAdd { batch },
            Case::SigmoidRangeForward { batch },
            Case::SigmoidRangeBackward { batch },
            Case::MseLossGrad { batch },
        ]);
    }
    for &n in &sizes.reductions {
        cases.push(Case::MseSum { n });
    }
    for &n in &sizes.params {
        for optimizer in Optimizer::examples() {
            for &t in optimizer.get().check_steps() {
                cases.push(Case::Update { optimizer, n, t });
            }
        }
    }
    cases
}

impl Case {
    /// The kernel's name, as in `kernels/` and [`crate::ops`].
    pub fn kernel(&self) -> &'static str {
        match self {
            Case::GatherRows { .. } => "gather_rows",
            Case::EmbeddingGather { .. } => "embedding_gather",
            Case::EmbeddingScatterAdd { .. } => "embedding_scatter_add",
            Case::EmbeddingScatterAddDet { .. } => "embedding_scatter_add_det",
            Case::DotForward { .. } => "dot_forward",
            Case::DotBackward { .. } => "dot_backward",
            Case::BiasAdd { .. } => "bias_add",
            Case::SigmoidRangeForward { .. } => "sigmoid_range_forward",
            Case::SigmoidRangeBackward { .. } => "sigmoid_range_backward",
            Case::MseLossGrad { .. } => "mse_loss_grad",
            Case::MseSum { .. } => "mse_sum",
            Case::Update { optimizer, .. } => optimizer.get().kernels().plain,
        }
    }

    /// Its sizes, as the tables print them.
    pub fn shape(&self) -> String {
        match *self {
            Case::GatherRows { batch } => format!("n={batch}"),
            Case::EmbeddingGather { batch, factors, rows }
            | Case::EmbeddingScatterAdd { batch, factors, rows }
            | Case::EmbeddingScatterAddDet { batch, factors, rows } => {
                format!("B={batch} F={factors} N={rows}")
            }
            Case::DotForward { batch, factors } | Case::DotBackward { batch, factors } => {
                format!("B={batch} F={factors}")
            }
            Case::BiasAdd { batch }
            | Case::SigmoidRangeForward { batch }
            | Case::SigmoidRangeBackward { batch }
            | Case::MseLossGrad { batch } => format!("B={batch}"),
            Case::MseSum { n } => format!("n={n}"),
            Case::Update { optimizer, n, t } => match optimizer.get().check_steps() {
                [_] => format!("P={n}"),
                _ => format!("P={n} t={t}"),
            },
        }
    }

    /// Makes the case's inputs from `rng`, on the host and on `gpu`.
    pub fn build(&self, gpu: &Gpu, rng: &mut Mt19937) -> Result<Box<dyn KernelCase>> {
        Ok(match *self {
            Case::GatherRows { batch } => Box::new(GatherRows::new(gpu, rng, batch)?),
            Case::EmbeddingGather { batch, factors, rows } => {
                Box::new(EmbeddingGather::new(gpu, rng, batch, factors, rows)?)
            }
            Case::EmbeddingScatterAdd { batch, factors, rows } => {
                Box::new(ScatterAdd::new(gpu, rng, batch, factors, rows, false)?)
            }
            Case::EmbeddingScatterAddDet { batch, factors, rows } => {
                Box::new(ScatterAdd::new(gpu, rng, batch, factors, rows, true)?)
            }
            Case::DotForward { batch, factors } => Box::new(DotForward::new(gpu, rng, batch, factors)?),
            Case::DotBackward { batch, factors } => Box::new(DotBackward::new(gpu, rng, batch, factors)?),
            Case::BiasAdd { batch } => Box::new(BiasAdd::new(gpu, rng, batch)?),
            Case::SigmoidRangeForward { batch } => Box::new(SigmoidRange::new(gpu, rng, batch, false)?),
            Case::SigmoidRangeBackward { batch } => Box::new(SigmoidRange::new(gpu, rng, batch, true)?),
            Case::MseLossGrad { batch } => Box::new(MseLossGrad::new(gpu, rng, batch)?),
            Case::MseSum { n } => Box::new(MseSum::new(gpu, rng, n)?),
            Case::Update { optimizer, n, t } => Box::new(Update::new(gpu, rng, optimizer, n, t)?),
        })
    }
}

/// Runs every kernel check, calling `push(kernel, shape, comparison)` as
/// each is measured: the [`table`] at [`Sizes::check`], then each family's
/// own checks, in a fixed order from one seed (2024), so that a run's
/// inputs are the same every time.
pub fn checks(gpu: &Gpu, push: &mut impl FnMut(&str, String, Comparison)) -> Result<()> {
    let mut rng = Mt19937::new(2024);
    for case in table(&Sizes::check()) {
        let mut k = case.build(gpu, &mut rng)?;
        k.run_cpu();
        k.run_gpu(gpu)?;
        push(case.kernel(), case.shape(), k.compare(gpu)?);
    }
    let rng = &mut rng;
    net::checks(gpu, rng, push)?;
    fused::checks(gpu, rng, push)?;
    lazy::checks(gpu, rng, push)?;
    optim::scheduled_checks(gpu, rng, push)?;
    sparse::checks::<f32>(gpu, rng, push)?;
    sparse::checks::<half::bf16>(gpu, rng, push)?;
    sparse::group_mean_checks(gpu, rng, push)?;
    ranking::checks(gpu, rng, push)
}

/// `n` values uniform on `[lo, hi)`. Past 2^20 the first 2^20 repeat, so
/// that bench's 100M-element inputs take no seconds to draw.
pub(crate) fn uniform(rng: &mut Mt19937, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    let drawn: Vec<f32> = (0..n.min(1 << 20))
        .map(|_| lo + (hi - lo) * rng.random_sample() as f32)
        .collect();
    drawn.iter().copied().cycle().take(n).collect()
}

/// `n` row indices below `rows`.
pub(crate) fn indices(rng: &mut Mt19937, n: usize, rows: usize) -> Vec<u32> {
    (0..n).map(|_| rng.interval(rows as u32 - 1)).collect()
}

/// Values as f64, for [`compare`].
pub(crate) fn widen<T: Copy + Into<f64>>(v: &[T]) -> Vec<f64> {
    v.iter().map(|&x| x.into()).collect()
}

/// Concatenates several (got, want) pairs into one comparison.
pub(crate) fn compare_all(pairs: &[(Vec<f64>, Vec<f64>)], atol: f64, rtol: f64) -> Comparison {
    let got: Vec<f64> = pairs.iter().flat_map(|p| p.0.iter().copied()).collect();
    let want: Vec<f64> = pairs.iter().flat_map(|p| p.1.iter().copied()).collect();
    compare(&got, &want, atol, rtol)
}

/// Downloads each device buffer and compares it with its host twin, all as one comparison.
pub(crate) fn compare_device<T: cudarc::driver::DeviceRepr + Copy + Into<f64>>(
    gpu: &Gpu,
    pairs: &[(&CudaSlice<T>, &[T])],
    atol: f64,
    rtol: f64,
) -> Result<Comparison> {
    let mut both = Vec::with_capacity(pairs.len());
    for (dev, host) in pairs {
        both.push((widen(&gpu.download(&dev.as_view())?), widen(host)));
    }
    Ok(compare_all(&both, atol, rtol))
}

/// One line: a version (or the CPU twin), its check and its speed.
#[derive(Debug, Clone, Serialize)]
pub struct VersionRow {
    /// `cpu`, `cuda`, or `emu` (the emulated device: host time, no GB/s).
    pub device: String,
    /// The version, in a few words (`v2 warp per row, shuffle sum`).
    pub version: String,
    /// The kernel (or CPU function) that ran.
    pub kernel: String,
    /// The check against the CPU twin: max |err| and whether it passed
    /// (`None` for the twin itself, and where the version did not run).
    pub check: Option<VersionCheck>,
    /// Milliseconds per launch (per epoch for `sparse`).
    pub ms: Option<f64>,
    /// Bytes the job must move over the time, GB/s.
    pub gb_per_s: Option<f64>,
    /// GB/s against the measured device-to-device copy.
    pub pct_of_copy: Option<f64>,
    /// Rows (dot) or rating updates (sparse) a second.
    pub per_s: Option<f64>,
    /// Why it did not run, when it did not.
    pub skipped: Option<String>,
}

/// A version's check against its twin.
#[derive(Debug, Clone, Serialize)]
pub struct VersionCheck {
    /// Every element within `atol + rtol·|want|`.
    pub ok: bool,
    /// The largest |got − want|.
    pub max_abs_err: f64,
    /// The comparison's report (the first mismatches), when it failed.
    pub report: Option<String>,
}

impl VersionCheck {
    /// The check `c` of the kernel `name`.
    pub fn of(c: &Comparison, name: &str) -> VersionCheck {
        VersionCheck {
            ok: c.ok(),
            max_abs_err: c.max_abs_err,
            report: (!c.ok()).then(|| c.report(name)),
        }
    }
}

impl VersionRow {
    /// The row as a table line.
    pub fn line(&self) -> String {
        let check = match (&self.check, &self.skipped) {
            (Some(c), _) => format!("{} {:.1e}", if c.ok { "ok" } else { "FAIL" }, c.max_abs_err),
            (None, Some(_)) => "not run".into(),
            (None, None) => "(the twin)".into(),
        };
        let time = match self.ms {
            Some(ms) if ms >= 100.0 => format!("{:.3} s", ms / 1e3),
            Some(ms) if ms >= 0.1 => format!("{ms:.3} ms"),
            Some(ms) => format!("{:.2} µs", ms * 1e3),
            None => "-".into(),
        };
        let opt = |v: Option<f64>, d: usize| v.map(|x| format!("{x:.d$}")).unwrap_or_else(|| "-".into());
        let rate = self
            .per_s
            .map(|r| {
                if r >= 1e9 {
                    format!("{:.2}G", r / 1e9)
                } else {
                    format!("{:.1}M", r / 1e6)
                }
            })
            .unwrap_or_else(|| "-".into());
        let mut s = format!(
            "{:<5} {:<33} {:<18} {:>11} {:>9} {:>7} {:>10}",
            self.device,
            self.version,
            check,
            time,
            opt(self.gb_per_s, 1),
            opt(self.pct_of_copy, 1),
            rate
        );
        if let Some(report) = self.check.as_ref().and_then(|c| c.report.as_ref()) {
            s.push('\n');
            s.push_str(report);
        }
        s
    }
}

/// How a version's row is made from its time: (device, version, kernel,
/// ms, bytes, items, check), the runner's rule for GB/s, % copy and rates.
pub type Speed<'a> = dyn Fn(&str, &str, &str, f64, f64, f64, Option<VersionCheck>) -> VersionRow + 'a;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_table_covers_every_size_and_the_bench_table_the_notebooks() {
        let check = table(&Sizes::check());
        // 5 gather_rows, 25 embedding shapes × 5 kernels, 5 batches × 4, 7 reductions,
        // 4 counts × the optimizers' check steps (SGD 1, Adam 2, ...).
        let updates: usize = Optimizer::examples()
            .iter()
            .map(|o| o.get().check_steps().len())
            .sum();
        assert!(updates >= 3, "{updates}");
        assert_eq!(check.len(), 5 + 25 * 5 + 5 * 4 + 7 + 4 * updates);
        let bench = table(&Sizes::bench(true));
        // The deterministic scatter is quadratic in the batch: only the notebook's is timed.
        let det: Vec<_> = bench
            .iter()
            .filter(|c| matches!(c, Case::EmbeddingScatterAddDet { .. }))
            .collect();
        assert_eq!(det.len(), 1, "{det:?}");
        assert!(bench.contains(&Case::EmbeddingGather {
            batch: 64,
            factors: 50,
            rows: 9_724
        }));
        assert!(bench.contains(&Case::Update {
            optimizer: Optimizer::ADAM,
            n: 527_034,
            t: 10
        }));
        let names: std::collections::BTreeSet<_> = check.iter().map(Case::kernel).collect();
        // 11 kernels of the models, and one update kernel an optimizer.
        assert_eq!(names.len(), 11 + Optimizer::examples().len(), "{names:?}");
        for o in Optimizer::examples() {
            assert!(names.contains(o.get().kernels().plain), "{names:?}");
        }
        assert_eq!(
            Case::DotBackward {
                batch: 64,
                factors: 50
            }
            .shape(),
            "B=64 F=50"
        );
    }

    #[test]
    fn uniform_repeats_past_a_million_values() {
        let mut rng = Mt19937::new(1);
        let v = uniform(&mut rng, (1 << 20) + 3, 0.0, 1.0);
        assert_eq!(v.len(), (1 << 20) + 3);
        assert_eq!(v[1 << 20], v[0]);
        assert!(v.iter().all(|&x| (0.0..1.0).contains(&x)));
    }
}
