//! `mfcuda bench`: kernels and epochs timed, the GPU against its copy
//! bandwidth and the CPU; with `--scale`, sparse SGD at ml-25m and Netflix
//! sizes.

use std::cell::RefCell;
use std::io::{self, IsTerminal};

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use mfcuda::backend::Device;
use mfcuda::tools::bench::{self, BenchOptions, BenchRow};
use mfcuda::tools::scale::{self, ScaleOptions, ScaleRow, Stage};
use mfcuda::tools::versions::{self, Family};
use mfcuda::trained::plot::{roofline_plot, RooflinePoint};

use super::{emit, say, CliResult, DataArgs};

/// The arguments of `mfcuda bench`.
#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    data: DataArgs,
    /// `cpu` times the CPU only; `auto` adds the first GPU when there is one; `cuda` (GPU 0) or `cuda:N` requires it.
    #[arg(long, default_value = "auto", value_name = "auto|cpu|cuda|cuda:N")]
    device: Device,
    /// Smaller large sizes and fewer repetitions (with --scale: shapes a tenth of the size).
    #[arg(long)]
    quick: bool,
    /// Print one JSON object as the last line of stdout; the table goes to stderr.
    #[arg(long)]
    json: bool,
    /// Sparse SGD at ml-25m and Netflix sizes on synthetic data, instead of the kernel table.
    #[arg(long)]
    scale: bool,
    /// Full-ranking NDCG@10 at ml-25m's size (planted factors, no training), instead of the
    /// kernel table: all users on the GPU, and a sample on the CPU.
    #[arg(long, conflicts_with = "scale")]
    ranking: bool,
    /// Each version of one kernel side by side, each checked against its CPU twin and timed:
    /// `dot` (dot_forward's four) or `sparse` (the sparse update's five). Without a GPU, the CPU
    /// twin alone.
    #[arg(long, value_name = "dot|sparse", conflicts_with_all = ["scale", "ranking"])]
    versions: Option<VersionsArg>,
    /// Also draw the kernels against the measured roofline (copy bandwidth, fastest launch) as
    /// DIR/roofline.png (DIR/versions-dot.png or DIR/versions-sparse.png with --versions).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["scale", "ranking"])]
    plot: Option<PathBuf>,
    /// With --scale: training epochs per variant.
    #[arg(long, default_value_t = 10, requires = "scale")]
    epochs: usize,
    /// With --scale: only this shape (ml-25m, ml-25m-skew or netflix).
    #[arg(long, value_name = "NAME", requires = "scale")]
    shape: Option<String>,
}

/// Runs the kernel table (or, with `--scale`, the scale bench) and prints its rows.
pub fn run(a: &BenchArgs) -> CliResult {
    if a.scale {
        return run_scale(a);
    }
    if a.ranking {
        return run_ranking(a);
    }
    if let Some(v) = a.versions {
        return run_versions(a, v);
    }
    let data = a.data.load()?;
    let json = a.json;
    let opts = BenchOptions {
        device: a.device,
        quick: a.quick,
    };
    let mut header_said = false;
    let mut noted = Vec::new();
    let report = bench::run(&data, opts, |row| {
        if !header_said {
            say(json, &BenchRow::header());
            header_said = true;
        }
        if let Some(note) = row.note().filter(|n| !noted.contains(n)) {
            say(json, note);
            noted.push(note);
        }
        say(json, &row.line())
    })?;
    for line in report.counters_table() {
        say(json, &line);
    }
    match (&report.gpu, &report.gpu_skipped, report.copy_gb_per_s) {
        (Some(gpu), _, Some(copy)) => say(json, &format!("gpu: {gpu}; device-to-device copy {copy:.0} GB/s")),
        (Some(gpu), _, None) => say(json, &format!("gpu: {gpu}")),
        (_, Some(why), _) => say(json, &format!("gpu: not measured ({why})")),
        _ => {}
    }
    for note in &report.notes {
        say(json, &format!("note: {note}"));
    }
    if let Some(dir) = &a.plot {
        let points: Vec<RooflinePoint> = report
            .rows
            .iter()
            .filter_map(|r| {
                point(
                    &r.device,
                    &format!("{} {}", r.what, r.size),
                    Some(r.ms),
                    r.gb_per_s,
                )
            })
            .collect();
        let title = match &report.gpu {
            Some(gpu) => format!("mfcuda bench on {gpu}"),
            None => "mfcuda bench, CPU only (no GPU, so no measured ceiling)".into(),
        };
        draw(dir, "roofline.png", &points, report.copy_gb_per_s, &title, json)?;
    }
    if json {
        let line = serde_json::to_string(&report).map_err(|e| e.to_string())?;
        emit(&format!("{line}\n"))?;
    }
    Ok(())
}

/// The kernel for `--versions`.
#[derive(Clone, Copy, ValueEnum)]
enum VersionsArg {
    Dot,
    Sparse,
}

/// A table row as a roofline point: bytes a launch = GB/s × time.
fn point(device: &str, label: &str, ms: Option<f64>, gb_per_s: Option<f64>) -> Option<RooflinePoint> {
    let (ms, gbps) = (ms?, gb_per_s?);
    Some(RooflinePoint {
        label: label.to_string(),
        bytes: gbps * 1e9 * ms / 1e3,
        gb_per_s: gbps,
        gpu: device == "cuda",
    })
}

/// Writes the roofline plot `dir/name` and says where.
fn draw(
    dir: &Path,
    name: &str,
    points: &[RooflinePoint],
    copy: Option<f64>,
    title: &str,
    json: bool,
) -> CliResult {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(name);
    roofline_plot(&path, points, copy, title)?;
    say(json, &format!("plot: {}", path.display()));
    Ok(())
}

/// `bench --versions`: each version's check and speed, the twin first.
fn run_versions(a: &BenchArgs, which: VersionsArg) -> CliResult {
    let json = a.json;
    let family = match which {
        VersionsArg::Dot => Family::Dot,
        VersionsArg::Sparse => Family::Sparse,
    };
    let (kernel, unit) = match family {
        Family::Dot => ("dot_forward", "a row"),
        Family::Sparse => ("the sparse SGD update", "an update (f32)"),
    };
    let on_start = |r: &versions::VersionsReport| {
        say(
            json,
            &format!(
                "versions of {kernel}: {}, {} bytes {unit}",
                r.shape, r.bytes_per_item
            ),
        );
        say(json, &versions::header(family));
        if r.emulated {
            say(json, bench::EMU_TIME_NOTE);
        }
    };
    let report = versions::run_with(family, a.device, a.quick, on_start, |row| say(json, &row.line()))?;
    match (&report.gpu, &report.gpu_skipped, report.copy_gb_per_s) {
        (Some(gpu), _, Some(copy)) => say(json, &format!("gpu: {gpu}; device-to-device copy {copy:.0} GB/s")),
        (Some(gpu), _, None) => say(json, &format!("gpu: {gpu}")),
        (_, Some(why), _) => say(json, &format!("gpu: the versions did not run ({why})")),
        _ => {}
    }
    if let Some(dir) = &a.plot {
        let points: Vec<RooflinePoint> = report
            .rows
            .iter()
            .filter_map(|r| point(&r.device, &r.version, r.ms, r.gb_per_s))
            .collect();
        let name = match family {
            Family::Dot => "versions-dot.png",
            Family::Sparse => "versions-sparse.png",
        };
        let title = format!("versions of {kernel} ({})", report.shape);
        draw(dir, name, &points, report.copy_gb_per_s, &title, json)?;
    }
    if json {
        let line = serde_json::to_string(&report).map_err(|e| e.to_string())?;
        emit(&format!("{line}\n"))?;
    }
    if !report.all_ok() {
        return Err(String::from("a version failed its check against the CPU twin (above)").into());
    }
    Ok(())
}

/// `bench --ranking`: the full ranking's time and metrics, on the device and
/// on a sample on the CPU.
fn run_ranking(a: &BenchArgs) -> CliResult {
    let json = a.json;
    // A bar on a terminal; elsewhere (a log, CI) a line only when drawing
    // has gone on for 10 s since the last one, so that quick runs print none.
    let mut last = std::time::Instant::now();
    let mut bar: Option<ProgressBar> = None;
    let report = mfcuda::eval::ranking_bench::run(a.device, a.quick, |done, total| {
        if io::stderr().is_terminal() {
            let b = bar.get_or_insert_with(|| {
                let b = ProgressBar::new(total as u64);
                b.set_message("drawing ratings");
                b
            });
            b.set_position(done as u64);
            if done >= total {
                b.finish_and_clear();
            }
        } else if last.elapsed().as_secs() >= 10 {
            eprintln!("progress  drawing ratings {done}/{total}");
            last = std::time::Instant::now();
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let (users, items, ratings) = report.shape;
    say(
        json,
        &format!(
            "ranking  {ratings} synthetic ratings ({users} users × {items} items, drawn in {:.1} s), \
             20% held out; planted rank-32 factors score every unrated item",
            report.draw_seconds
        ),
    );
    say(json, &format!("all      {}", report.full.line()));
    // The kernels' cost model at this shape: printed on every device, a model, not a measurement.
    let cpu = report.full.device.starts_with("cpu");
    say(
        json,
        &format!(
            "model    {}{}",
            mfcuda::eval::ranking_model::H200::describe(),
            if cpu {
                " (model, not measured: this run used the CPU)"
            } else {
                " (model, not measured)"
            }
        ),
    );
    for m in &report.model {
        for line in m.lines() {
            say(json, &format!("model    {line}"));
        }
    }
    for v in &report.versions {
        let line = match &v.skipped {
            Some(why) => format!("{} ({}): not run: {why}", v.kernel, v.about),
            None => format!(
                "{:<17} {:<32} {} users in {:.1} ms (model {:.1} ms, {:.2}x); lists {} the default version's and \
                 the CPU's (first {} users) to the bit",
                v.kernel,
                v.about,
                v.users,
                v.seconds * 1e3,
                v.model_seconds * 1e3,
                v.seconds / v.model_seconds.max(1e-12),
                if v.same_bits { "equal" } else { "DIFFER from" },
                mfcuda::eval::ranking_bench::CPU_CHECK_USERS
            ),
        };
        say(json, &format!("version  {line}"));
    }
    if let Some(s) = &report.cpu_sample {
        say(json, &format!("sample   {}", s.line()));
        let full_rate = report.full.users as f64 / report.full.seconds.max(1e-9);
        let cpu_rate = s.users as f64 / s.seconds.max(1e-9);
        say(
            json,
            &format!(
                "rate     {full_rate:.0} users/s on {}, {cpu_rate:.0} users/s on the CPU (the sample)",
                report.full.device
            ),
        );
    }
    if json {
        let line = serde_json::to_string(&report).map_err(|e| e.to_string())?;
        emit(&format!("{line}\n"))?;
    }
    if report
        .versions
        .iter()
        .any(|v| v.skipped.is_none() && !v.same_bits)
    {
        return Err(String::from(
            "a ranking kernel's lists differ from the CPU's or the default version's (above)",
        )
        .into());
    }
    Ok(())
}

/// `bench --scale`: the rows, with one progress bar at a time on a terminal.
fn run_scale(a: &BenchArgs) -> CliResult {
    let json = a.json;
    let mut opts = ScaleOptions::new(a.device, a.quick, a.epochs);
    if let Some(name) = &a.shape {
        opts.only(name)?;
    }
    // One bar at a time on stderr: drawing a shape's ratings, then each
    // variant's epochs. Rows clear it before they print. When stderr is not
    // a terminal (a log file, CI), plain lines instead: one as each stage
    // starts, and one every 10 seconds while it lasts.
    let show = io::stderr().is_terminal();
    let bar: RefCell<Option<(String, ProgressBar)>> = Default::default();
    let plain: RefCell<(String, std::time::Instant)> =
        RefCell::new((String::new(), std::time::Instant::now()));
    let clear = || {
        if let Some((_, b)) = bar.borrow_mut().take() {
            b.finish_and_clear();
        }
    };
    let on_stage = |stage: Stage| {
        let (key, msg, done, total) = match stage {
            Stage::Generating { shape, done, total } => (
                format!("gen {shape}"),
                format!("drawing {shape} ratings"),
                done,
                total,
            ),
            Stage::Training {
                variant,
                epoch,
                epochs,
            } => (
                format!("train {variant}"),
                format!("training {variant}: epoch"),
                epoch,
                epochs,
            ),
        };
        if !show {
            let mut last = plain.borrow_mut();
            if last.0 != key || last.1.elapsed().as_secs() >= 10 {
                eprintln!("progress  {msg} {done}/{total}");
                *last = (key, std::time::Instant::now());
            }
            return;
        }
        let mut bar = bar.borrow_mut();
        if bar.as_ref().map(|b| &b.0) != Some(&key) {
            if let Some((_, old)) = bar.take() {
                old.finish_and_clear();
            }
            let b = ProgressBar::new(total as u64).with_message(msg);
            b.set_style(
                ProgressStyle::with_template("{msg} {pos}/{len} [{bar:30}] {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            *bar = Some((key, b));
        }
        if let Some((_, b)) = bar.as_ref() {
            b.set_position(done as u64);
        }
    };
    let mut header_said = false;
    let mut shape = String::new();
    let report = scale::run(
        opts,
        |row| {
            clear();
            if !header_said {
                say(json, &ScaleRow::header());
                header_said = true;
            }
            if row.shape != shape {
                say(json, &row.size_line());
                shape = row.shape.clone();
            }
            say(json, &row.line());
        },
        on_stage,
    )?;
    clear();
    match (&report.gpu, report.copy_gb_per_s) {
        (Some(gpu), Some(copy)) => say(json, &format!("gpu: {gpu}; device-to-device copy {copy:.0} GB/s")),
        _ => say(json, "gpu: none used; the rows above are the CPU's"),
    }
    if json {
        let line = serde_json::to_string(&report).map_err(|e| e.to_string())?;
        emit(&format!("{line}\n"))?;
    }
    Ok(())
}
