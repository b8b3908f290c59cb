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

use crate::backend::cuda::{DeviceFactor, Gpu};
use crate::backend::cuda::{DotVersion, SparseVersion};
use crate::backend::select::{choose, Choice, Needs};
use crate::backend::Device;
use crate::compare::{compare, compare_f32, Comparison};
use crate::error::Result;
use crate::ops::{self, Factor, Storage};
use crate::rng::Mt19937;
use crate::tools::bench::{copy_bandwidth, median_ms, time_gpu, EMU_DEVICE};
use crate::tools::cases::{indices, uniform, widen};
use crate::tools::scale::bytes_per_update;

/// Which kernel's versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// `dot_forward`'s four versions.
    Dot,
    /// The sparse update's five versions.
    Sparse,
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
    pub check: Option<Check>,
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
pub struct Check {
    /// Every element within `atol + rtol·|want|`.
    pub ok: bool,
    /// The largest |got − want|.
    pub max_abs_err: f64,
    /// The comparison's report (the first mismatches), when it failed.
    pub report: Option<String>,
}

impl Check {
    fn of(c: &Comparison, name: &str) -> Check {
        Check {
            ok: c.ok(),
            max_abs_err: c.max_abs_err,
            report: (!c.ok()).then(|| c.report(name)),
        }
    }
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
                    Some(gpu) => dot_version(gpu, v, &x, &y, &want, f, quick, &speed)?,
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
                        sparse_version::<f32>(gpu, v, &job, &mut rng, quick, &speed)?
                    }
                    (Some(gpu), Storage::Bf16) => {
                        sparse_version::<half::bf16>(gpu, v, &job, &mut rng, quick, &speed)?
                    }
                    (None, _) => not_run(v.about(), v.kernel()),
                };
                push(row, &mut report);
            }
        }
    }
    Ok(report)
}

type Speed<'a> = dyn Fn(&str, &str, &str, f64, f64, f64, Option<Check>) -> VersionRow + 'a;

/// One dot version: its output on the timed inputs against the twin's
/// (`atol 1e-5 + rtol 1e-5`: the versions sum in other orders), then on an
/// odd batch of 63 rows (a half-warp with no row), which must leave row 63
/// unwritten; and its time.
#[allow(clippy::too_many_arguments)]
fn dot_version(
    gpu: &Gpu,
    v: DotVersion,
    x: &[f32],
    y: &[f32],
    want: &[f32],
    f: usize,
    quick: bool,
    speed: &Speed<'_>,
) -> Result<VersionRow> {
    let b = want.len();
    let (dx, dy) = (gpu.upload(x)?, gpu.upload(y)?);
    let mut out = gpu.zeros::<f32>(b)?;
    let launch = |out: &mut cudarc::driver::CudaSlice<f32>| {
        gpu.dot_forward_version(v, &mut out.as_view_mut(), &dx.as_view(), &dy.as_view(), b, f)
    };
    launch(&mut out)?;
    let mut got = gpu.download(&out.as_view())?;
    // The odd batch, into a buffer of NaNs: row 63 must stay NaN.
    let odd = 63.min(b - 1);
    let mut small = gpu.upload(&vec![f32::NAN; odd + 1])?;
    gpu.dot_forward_version(v, &mut small.as_view_mut(), &dx.as_view(), &dy.as_view(), odd, f)?;
    let tail = gpu.download(&small.as_view())?;
    let mut all_want = want.to_vec();
    got.extend_from_slice(&tail[..odd]);
    all_want.extend_from_slice(&want[..odd]);
    let mut c = compare_f32(&got, &all_want, 1e-5, 1e-5);
    if !tail[odd].is_nan() {
        c.mismatches += 1;
        c.first.push((got.len(), tail[odd] as f64, f64::NAN));
    }
    let check = Check::of(&c, v.kernel());
    let (warm, reps) = match (gpu.is_emulated(), quick) {
        (true, _) => (1, 2),
        (false, true) => (3, 20),
        (false, false) => (3, 100),
    };
    let ms = time_gpu(gpu, warm, reps, &mut || launch(&mut out))?;
    Ok(speed(
        "cuda",
        v.about(),
        v.kernel(),
        ms,
        (b * (f * 8 + 4)) as f64,
        b as f64,
        Some(check),
    ))
}

/// A sparse job: tables, biases and ratings, in f32.
#[derive(Clone)]
struct SparseJob {
    u: Vec<f32>,
    m: Vec<f32>,
    ub: Vec<f32>,
    mb: Vec<f32>,
    users: Vec<u32>,
    items: Vec<u32>,
    ratings: Vec<f32>,
    f: usize,
}

const MU: f32 = 3.5;
const LR: f32 = 0.005;
const REG: f32 = 0.02;

impl SparseJob {
    fn draw(rng: &mut Mt19937, users: usize, items: usize, n: usize, f: usize) -> SparseJob {
        SparseJob {
            u: uniform(rng, users * f, -0.1, 0.1),
            m: uniform(rng, items * f, -0.1, 0.1),
            ub: uniform(rng, users, -0.3, 0.3),
            mb: uniform(rng, items, -0.3, 0.3),
            users: indices(rng, n, users),
            items: indices(rng, n, items),
            ratings: uniform(rng, n, 0.5, 5.0),
            f,
        }
    }

    /// One epoch in order on the CPU, in storage `S`: the twin.
    fn epoch_twin<S: Factor>(
        &self,
        u: &mut [S],
        m: &mut [S],
        ub: &mut [f32],
        mb: &mut [f32],
        sq: &mut [f32],
    ) {
        ops::mf_sgd_sparse(
            u,
            m,
            ub,
            mb,
            MU,
            &self.users,
            &self.items,
            &self.ratings,
            sq,
            self.f,
            LR,
            REG,
        );
    }
}

/// One sparse version: checked with one warp (one thread for v1) on a small
/// job whose rows repeat, against the twin in the same storage (f32: within
/// 1e-5 relative; bf16: one bf16 step, 2^-7), then timed over one epoch of
/// `job` with every warp the GPU holds.
fn sparse_version<S: DeviceFactor>(
    gpu: &Gpu,
    v: SparseVersion,
    job: &SparseJob,
    rng: &mut Mt19937,
    quick: bool,
    speed: &Speed<'_>,
) -> Result<VersionRow> {
    let rtol = if S::STORAGE == Storage::Bf16 {
        1.0 / 128.0
    } else {
        1e-5
    };
    let to_s = |v: &[f32]| v.iter().map(|&x| S::put(x)).collect::<Vec<S>>();
    let dev = |v: &[S]| v.iter().map(|&x| x.to_dev()).collect::<Vec<S::Dev>>();
    let run = |j: &SparseJob, max_warps: usize, time: bool| -> Result<(Vec<f64>, f64)> {
        let (u, m) = (to_s(&j.u), to_s(&j.m));
        let (mut du, mut dm) = (gpu.upload(&dev(&u))?, gpu.upload(&dev(&m))?);
        let (mut dub, mut dmb) = (gpu.upload(&j.ub)?, gpu.upload(&j.mb)?);
        let (dus, dis, drs) = (
            gpu.upload(&j.users)?,
            gpu.upload(&j.items)?,
            gpu.upload(&j.ratings)?,
        );
        let mut derr = gpu.zeros::<f32>(j.ratings.len())?;
        let mut launch = || {
            gpu.mf_sgd_sparse_version::<S>(
                v,
                &mut du.as_view_mut(),
                &mut dm.as_view_mut(),
                &mut dub.as_view_mut(),
                &mut dmb.as_view_mut(),
                MU,
                (&dus.as_view(), &dis.as_view(), &drs.as_view()),
                &mut derr.as_view_mut(),
                j.f,
                LR,
                REG,
                max_warps,
            )
        };
        if time {
            let reps = if gpu.is_emulated() {
                2
            } else if quick {
                3
            } else {
                5
            };
            let ms = time_gpu(gpu, 1, reps, &mut launch)?;
            return Ok((Vec::new(), ms));
        }
        launch()?;
        let back = |d: Vec<S::Dev>| {
            d.into_iter()
                .map(|x| S::from_dev(x).get() as f64)
                .collect::<Vec<f64>>()
        };
        let mut got = back(gpu.download(&du.as_view())?);
        got.extend(back(gpu.download(&dm.as_view())?));
        got.extend(widen(&gpu.download(&dub.as_view())?));
        got.extend(widen(&gpu.download(&dmb.as_view())?));
        Ok((got, 0.0))
    };
    // The check: rows repeat, one warp keeps the CPU's order.
    let small = SparseJob::draw(rng, 37, 23, 300, job.f);
    let (got, _) = run(&small, 1, false)?;
    let (mut u, mut m, mut ub, mut mb) = (to_s(&small.u), to_s(&small.m), small.ub.clone(), small.mb.clone());
    small.epoch_twin(&mut u, &mut m, &mut ub, &mut mb, &mut vec![0.0; 300]);
    let mut want: Vec<f64> = u.iter().chain(&m).map(|x| x.get() as f64).collect();
    want.extend(widen(&ub));
    want.extend(widen(&mb));
    let check = Check::of(&compare(&got, &want, 1e-6, rtol), v.kernel());
    // The speed: one epoch of the big job, every warp at once (Hogwild).
    let (_, ms) = run(job, usize::MAX, true)?;
    let n = job.ratings.len();
    let bytes = (n * bytes_per_update(job.f, S::STORAGE)) as f64;
    Ok(speed(
        "cuda",
        v.about(),
        v.kernel(),
        ms,
        bytes,
        n as f64,
        Some(check),
    ))
}
