//! `mfcuda bench`: kernels and epochs timed, the GPU against its copy
//! bandwidth and the CPU; with `--scale`, sparse SGD at ml-25m and Netflix
//! sizes.

use std::cell::RefCell;
use std::io::{self, IsTerminal};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mfcuda::backend::Device;
use mfcuda::tools::bench::{self, BenchOptions, BenchRow};
use mfcuda::tools::scale::{self, ScaleOptions, ScaleRow, Stage};

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
    /// With --scale: training epochs per variant.
    #[arg(long, default_value_t = 10, requires = "scale")]
    epochs: usize,
}

/// Runs the kernel table (or, with `--scale`, the scale bench) and prints its rows.
pub fn run(a: &BenchArgs) -> CliResult {
    if a.scale {
        return run_scale(a);
    }
    if a.ranking {
        return run_ranking(a);
    }
    let data = a.data.load()?;
    let json = a.json;
    let opts = BenchOptions {
        device: a.device,
        quick: a.quick,
    };
    let mut header_said = false;
    let report = bench::run(&data, opts, |row| {
        if !header_said {
            say(json, &BenchRow::header());
            header_said = true;
        }
        say(json, &row.line())
    })?;
    match (&report.gpu, &report.gpu_skipped, report.copy_gb_per_s) {
        (Some(gpu), _, Some(copy)) => say(json, &format!("gpu: {gpu}; device-to-device copy {copy:.0} GB/s")),
        (_, Some(why), _) => say(json, &format!("gpu: not measured ({why})")),
        _ => {}
    }
    if json {
        let line = serde_json::to_string(&report).map_err(|e| e.to_string())?;
        emit(&format!("{line}\n"))?;
    }
    Ok(())
}

/// `bench --ranking`: the full ranking's time and metrics, on the device and
/// on a sample on the CPU.
fn run_ranking(a: &BenchArgs) -> CliResult {
    let json = a.json;
    let mut last = std::time::Instant::now();
    let report = mfcuda::eval::ranking_bench::run(a.device, a.quick, |done, total| {
        if last.elapsed().as_secs() >= 10 || done == 0 {
            eprintln!("progress  drawing ratings {done}/{total}");
            last = std::time::Instant::now();
        }
    })?;
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
    Ok(())
}

/// `bench --scale`: the rows, with one progress bar at a time on a terminal.
fn run_scale(a: &BenchArgs) -> CliResult {
    let json = a.json;
    let opts = ScaleOptions::new(a.device, a.quick, a.epochs);
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
