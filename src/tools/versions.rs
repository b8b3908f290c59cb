//! `mfcuda bench --versions dot|sparse`: each version of a kernel
//! ([`crate::backend::cuda::DotVersion`], [`crate::backend::cuda::SparseVersion`]) checked against its CPU twin and
//! timed, side by side, as llm.c's `dev/cuda` runs each step of an
//! optimisation. The CPU twin is timed too, so the command runs and says
//! something true without a GPU.
//!
//! - `dot`: `out[b] = a[b]·b[b]` at B = 2^20 rows (2^18 with `quick`),
//!   F = 64. Each version's output is compared with `ops::dot_forward` on the
//!   very inputs it was timed on.
//! - `sparse`: one epoch of sparse SGD (`ops::mf_sgd_sparse`) at F = 128,
//!   4M ratings over 100,000 users and 20,000 items (a quarter with
//!   `quick`), all warps at once. The check runs each version with one warp
//!   (one thread for v1) over 300 ratings on 37 × 23 rows, so that rows
//!   repeat and the ratings run in the CPU's order.
//!
//! On the emulated device the jobs are smaller (dot: B = 2^14; sparse: 8,000
//! ratings over 1,000 × 200 rows), each version is timed over two calls
//! after one warm-up, and its rows are labelled `emu` with no GB/s, % copy or
//! rate: the time is the interpreter's on the host, not a card's.

use std::time::Instant;

use serde::Serialize;

use crate::backend::cuda::{DotVersion, SparseVersion};
use crate::backend::select::{choose, Choice, Needs};
use crate::backend::Device;

use crate::error::Result;
use crate::ops::{self, Storage};
use crate::rng::Mt19937;
use crate::tools::bench::EMU_DEVICE;
use crate::tools::kernels::sparse::SparseJob;
use crate::tools::kernels::uniform;
use crate::tools::kernels::{dot, sparse};
pub use crate::tools::kernels::{VersionCheck, VersionRow};
use crate::tools::scale::bytes_per_update;
use crate::tools::timing::{copy_bandwidth, median_ms};

/// Which kernel's versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// `dot_forward`'s four versions.
    Dot,
    /// The sparse update's five versions.
    Sparse,
}

/// What `run` measured.
#[derive(Debug, Clone, Serialize)]
pub struct VersionsReport {
    /// Which kernel.
    pub family: Family,
    /// The job's size, in words.
    pub shape: String,
    /// Bytes the job moves per row (dot) or per update (sparse, f32).
    pub bytes_per_item: usize,
    /// The GPU, when one ran.
    pub gpu: Option<String>,
    /// Whether that GPU is the emulated device (smaller jobs, no GB/s).
    pub emulated: bool,
    /// Why the GPU versions did not run, when they did not.
    pub gpu_skipped: Option<String>,
    /// Device-to-device copy bandwidth (read + write), GB/s.
    pub copy_gb_per_s: Option<f64>,
    /// The twin first, then each version in order.
    pub rows: Vec<VersionRow>,
}

/// The table's header line for `family`.
pub fn header(family: Family) -> String {
    let unit = if family == Family::Dot {
        "rows/s"
    } else {
        "updates/s"
    };
    format!(
        "{:<5} {:<33} {:<18} {:>11} {:>9} {:>7} {:>10}",
        "dev", "version", "check (max err)", "time", "GB/s", "% copy", unit
    )
}

/// Sizes of `family`'s job.
struct Job {
    /// dot: rows; sparse: ratings.
    n: usize,
    /// Factors.
    f: usize,
    /// sparse: users and items.
    tables: (usize, usize),
}

impl Job {
    fn of(family: Family, quick: bool, emulated: bool) -> Job {
        match (family, quick) {
            (Family::Dot, _) if emulated => Job {
                n: 1 << 14,
                f: 64,
                tables: (0, 0),
            },
            (Family::Sparse, _) if emulated => Job {
                n: 8_000,
                f: 128,
                tables: (1_000, 200),
            },
            (Family::Dot, _) => Job {
                n: if quick { 1 << 18 } else { 1 << 20 },
                f: 64,
                tables: (0, 0),
            },
            (Family::Sparse, true) => Job {
                n: 1_000_000,
                f: 128,
                tables: (25_000, 5_000),
            },
            (Family::Sparse, false) => Job {
                n: 4_000_000,
                f: 128,
                tables: (100_000, 20_000),
            },
        }
    }
}

/// `family`'s job on a card in words, and the bytes it moves a row (dot) or
/// an update (sparse, f32).
pub fn job(family: Family, quick: bool) -> (String, usize) {
    job_on(family, quick, false)
}

/// [`job`] on a card (`emulated` false) or on the emulated device.
pub fn job_on(family: Family, quick: bool, emulated: bool) -> (String, usize) {
    let j = Job::of(family, quick, emulated);
    match family {
        Family::Dot => (format!("B={} F={}", j.n, j.f), j.f * 8 + 4),
        Family::Sparse => (
            format!("{}×{}, {} ratings, F={}", j.tables.0, j.tables.1, j.n, j.f),
            bytes_per_update(j.f, Storage::F32),
        ),
    }
}

impl VersionsReport {
    /// True when every version that ran passed its check.
    pub fn all_ok(&self) -> bool {
        !self.rows.iter().any(|r| r.check.as_ref().is_some_and(|c| !c.ok))
    }
}

/// Checks and times every version of `family` on `device` (`cpu`: the twin
/// only, each version listed as not run), calling `on_row` as rows finish.
pub fn run(
    family: Family,
    device: Device,
    quick: bool,
    on_row: impl FnMut(&VersionRow),
) -> Result<VersionsReport> {
    run_with(family, device, quick, |_| {}, on_row)
}

/// [`run`], calling `on_start` once the device and the job are known (the
/// report has its shape, GPU and `emulated`, and no rows yet), before the
/// first row.
pub fn run_with(
    family: Family,
    device: Device,
    quick: bool,
    on_start: impl FnOnce(&VersionsReport),
    mut on_row: impl FnMut(&VersionRow),
) -> Result<VersionsReport> {
    let (gpu, gpu_skipped) = match choose(device, &Needs::default())? {
        Choice::Gpu { gpu, .. } => (Some(gpu), None),
        Choice::Cpu(why) => (None, Some(why.unwrap_or_else(|| "--device cpu".into()))),
    };
    let emulated = gpu.as_ref().is_some_and(|g| g.is_emulated());
    // No yardstick on the emulated device: a host memcpy is not a card's copy.
    let copy = match &gpu {
        Some(g) if !emulated => Some(copy_bandwidth(g, quick)?),
        _ => None,
    };
    let mut report = VersionsReport {
        family,
        shape: String::new(),
        bytes_per_item: 0,
        gpu: gpu.as_ref().map(|g| g.description.clone()),
        emulated,
        gpu_skipped: gpu_skipped.clone(),
        copy_gb_per_s: copy,
        rows: Vec::new(),
    };
    let mut push = |row: VersionRow, report: &mut VersionsReport| {
        on_row(&row);
        report.rows.push(row);
    };
    let not_run = |version: &str, kernel: &str| VersionRow {
        device: "cuda".into(),
        version: version.into(),
        kernel: kernel.into(),
        check: None,
        ms: None,
        gb_per_s: None,
        pct_of_copy: None,
        per_s: None,
        skipped: gpu_skipped.clone(),
    };
    let speed = |device: &str, version: &str, kernel: &str, ms: f64, bytes: f64, items: f64, check| {
        let gbps = bytes / (ms / 1e3) / 1e9;
        // The emulator's time is the host's: no rate is a card's figure.
        let emu = emulated && device == "cuda";
        VersionRow {
            device: if emu { EMU_DEVICE.into() } else { device.into() },
            version: version.into(),
            kernel: kernel.into(),
            check,
            ms: Some(ms),
            gb_per_s: (!emu).then_some(gbps),
            pct_of_copy: copy
                .filter(|_| device == "cuda" && !emu)
                .map(|c| 100.0 * gbps / c),
            per_s: (!emu).then(|| items / (ms / 1e3)),
            skipped: None,
        }
    };
    let mut rng = Mt19937::new(11);
    let j = Job::of(family, quick, emulated);
    (report.shape, report.bytes_per_item) = job_on(family, quick, emulated);
    on_start(&report);
    match family {
        Family::Dot => {
            let (b, f) = (j.n, j.f);
            let bytes = (b * report.bytes_per_item) as f64;
            let (x, y) = (
                uniform(&mut rng, b * f, -1.0, 1.0),
                uniform(&mut rng, b * f, -1.0, 1.0),
            );
            let mut want = vec![0.0f32; b];
            let ms = median_ms(if quick { 3 } else { 5 }, || {
                ops::dot_forward(&mut want, &x, &y, f)
            });
            push(
                speed(
                    "cpu",
                    "twin: ops::dot_forward",
                    "ops::dot_forward",
                    ms,
                    bytes,
                    b as f64,
                    None,
                ),
                &mut report,
            );
            for v in DotVersion::ALL {
                let row = match &gpu {
                    Some(gpu) => dot::version(gpu, v, &x, &y, &want, f, quick, &speed)?,
                    None => not_run(v.about(), v.kernel()),
                };
                push(row, &mut report);
            }
        }
        Family::Sparse => {
            let (f, n) = (j.f, j.n);
            let job = SparseJob::draw(&mut rng, j.tables.0, j.tables.1, n, f);
            let (mut t, mut sq) = (job.clone(), vec![0.0f32; n]);
            let t0 = Instant::now();
            job.epoch_twin(&mut t.u, &mut t.m, &mut t.ub, &mut t.mb, &mut sq);
            let ms = t0.elapsed().as_secs_f64() * 1e3;
            let bytes = (n * report.bytes_per_item) as f64;
            let twin_row = speed(
                "cpu",
                "twin: ops::mf_sgd_sparse",
                "ops::mf_sgd_sparse",
                ms,
                bytes,
                n as f64,
                None,
            );
            push(twin_row, &mut report);
            for v in SparseVersion::ALL {
                let row = match (&gpu, v.storage()) {
                    (Some(gpu), Storage::F32) => {
                        sparse::version::<f32>(gpu, v, &job, &mut rng, quick, &speed)?
                    }
                    (Some(gpu), Storage::Bf16) => {
                        sparse::version::<half::bf16>(gpu, v, &job, &mut rng, quick, &speed)?
                    }
                    (None, _) => not_run(v.about(), v.kernel()),
                };
                push(row, &mut report);
            }
        }
    }
    Ok(report)
}
