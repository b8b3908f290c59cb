//! PNG plots with `plotters`: the notebook's joint plot of predicted against
//! actual ratings, and the loss curves of a run. Text is drawn with the
//! bundled DejaVu Sans (see `assets/fonts/`), so no system font is needed.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::error::{Error, Result};
use crate::train::EpochRecord;

const FONT: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/fonts/DejaVuSans.ttf"
));
const FAMILY: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is compiled in and known to parse; a failure here is a build defect.
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT)
            .unwrap_or_else(|_| panic!("the bundled DejaVuSans.ttf does not parse"));
    });
}

fn plot_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::File {
        file: path.display().to_string(),
        msg: format!("cannot draw the plot: {e}"),
    }
}

/// White through light blue to dark blue, for `t` in [0, 1].
fn shade(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(lerp(235.0, 8.0), lerp(242.0, 48.0), lerp(250.0, 107.0))
}

/// Counts of `values` in `bins` equal bins over [lo, hi); values outside are clamped.
fn histogram(values: &[f32], lo: f32, hi: f32, bins: usize) -> Vec<usize> {
    let mut counts = vec![0usize; bins];
    for &v in values {
        let b = (((v - lo) / (hi - lo)) * bins as f32).floor();
        counts[(b.max(0.0) as usize).min(bins - 1)] += 1;
    }
    counts
}

/// The notebook's `sns.jointplot(preds, y, kind='hex')`: a 2-D histogram of
/// predicted (y) against actual (x) ratings, shaded by the square root of the
/// count (so that both the bulk and the tails show), with the
/// marginal histograms above and to the right. `lo..hi` is the rating range.
pub fn joint_plot(
    path: &Path,
    actual: &[f32],
    predicted: &[f32],
    lo: f32,
    hi: f32,
    title: &str,
) -> Result<()> {
    register_font();
    let e = |err: &dyn std::fmt::Display| plot_err(path, err);
    let root = BitMapBackend::new(path, (900, 900)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let root = root.titled(title, (FAMILY, 26)).map_err(|x| e(&x))?;
    // The marginals share the main chart's scales, so the three areas are cut on one grid.
    let (top_row, rest) = root.split_vertically(170);
    let (top, _corner) = top_row.split_horizontally(730);
    let (main, right) = rest.split_horizontally(730);

    // Actual ratings come in steps of 0.5: one column per step. Predictions are continuous.
    let (x_lo, x_hi) = (lo - 0.25, hi + 0.25);
    // One column per half star, for at most 100 columns: wider ranges get wider columns.
    let x_bins = (((hi - lo) / 0.5).round() as usize + 1).clamp(1, 100);
    let (y_lo, y_hi, y_bins) = (lo - 0.25, hi + 0.25, 50usize);
    let mut grid = vec![vec![0usize; y_bins]; x_bins];
    for (&a, &p) in actual.iter().zip(predicted) {
        let xb = (((a - x_lo) / (x_hi - x_lo)) * x_bins as f32)
            .floor()
            .clamp(0.0, (x_bins - 1) as f32) as usize;
        let yb = (((p - y_lo) / (y_hi - y_lo)) * y_bins as f32)
            .floor()
            .clamp(0.0, (y_bins - 1) as f32) as usize;
        grid[xb][yb] += 1;
    }
    let max = grid.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;

    let mut chart = ChartBuilder::on(&main)
        .margin(12)
        .x_label_area_size(55)
        .y_label_area_size(65)
        .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("actual rating")
        .y_desc("predicted rating")
        .label_style((FAMILY, 18))
        .axis_desc_style((FAMILY, 20))
        .draw()
        .map_err(|x| e(&x))?;
    let (xw, yw) = ((x_hi - x_lo) / x_bins as f32, (y_hi - y_lo) / y_bins as f32);
    chart
        .draw_series(grid.iter().enumerate().flat_map(|(xb, col)| {
            col.iter()
                .enumerate()
                .filter(|(_, &c)| c > 0)
                .map(move |(yb, &c)| {
                    let x0 = x_lo + xb as f32 * xw;
                    let y0 = y_lo + yb as f32 * yw;
                    let t = (c as f64 / max).sqrt();
                    Rectangle::new(
                        [(x0, y0), (x0 + xw * 0.92, y0 + yw)],
                        shade(0.15 + 0.85 * t).filled(),
                    )
                })
        }))
        .map_err(|x| e(&x))?;
    // The diagonal a perfect model would lie on.
    chart
        .draw_series(LineSeries::new([(lo, lo), (hi, hi)], RED.stroke_width(2)))
        .map_err(|x| e(&x))?
        .label("predicted = actual")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FAMILY, 18))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|x| e(&x))?;

    // Marginals: actual above, predicted to the right, on the same scales.
    let hx = histogram(actual, x_lo, x_hi, x_bins);
    let mut top_chart = ChartBuilder::on(&top)
        .margin(12)
        .margin_left(12 + 65)
        .margin_bottom(0)
        .y_label_area_size(0)
        .build_cartesian_2d(x_lo..x_hi, 0f32..(*hx.iter().max().unwrap_or(&1) as f32 * 1.1))
        .map_err(|x| e(&x))?;
    top_chart
        .draw_series(hx.iter().enumerate().map(|(b, &c)| {
            let x0 = x_lo + b as f32 * xw;
            Rectangle::new([(x0, 0.0), (x0 + xw * 0.92, c as f32)], shade(0.6).filled())
        }))
        .map_err(|x| e(&x))?;
    let hy = histogram(predicted, y_lo, y_hi, y_bins);
    let mut right_chart = ChartBuilder::on(&right)
        .margin(12)
        .margin_bottom(12 + 55)
        .margin_left(0)
        .build_cartesian_2d(0f32..(*hy.iter().max().unwrap_or(&1) as f32 * 1.1), y_lo..y_hi)
        .map_err(|x| e(&x))?;
    right_chart
        .draw_series(hy.iter().enumerate().map(|(b, &c)| {
            let y0 = y_lo + b as f32 * yw;
            Rectangle::new([(0.0, y0), (c as f32, y0 + yw * 0.9)], shade(0.6).filled())
        }))
        .map_err(|x| e(&x))?;
    root.present().map_err(|x| e(&x))?;
    Ok(())
}

/// Training (fastai's smoothed loss) and validation MSE by epoch.
pub fn loss_plot(path: &Path, history: &[EpochRecord], title: &str) -> Result<()> {
    register_font();
    let e = |err: &dyn std::fmt::Display| plot_err(path, err);
    if history.is_empty() {
        return Err(e(&"the model has no training history"));
    }
    let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let losses = history.iter().flat_map(|r| [r.trn_loss, r.val_loss]);
    let (min, max) = losses.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let pad = ((max - min) * 0.1).max(0.01);
    let last = history.len().saturating_sub(1).max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FAMILY, 26))
        .margin(16)
        .x_label_area_size(55)
        .y_label_area_size(75)
        .build_cartesian_2d(-0.2..last + 0.2, (min - pad)..(max + pad))
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("MSE")
        .x_labels(history.len() + 1)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.3}"))
        .label_style((FAMILY, 18))
        .axis_desc_style((FAMILY, 20))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|x| e(&x))?;
    type Series = (&'static str, RGBColor, fn(&EpochRecord) -> f64);
    let series: [Series; 2] = [
        ("training loss (smoothed)", RGBColor(31, 119, 180), |r| r.trn_loss),
        ("validation loss", RGBColor(214, 39, 40), |r| r.val_loss),
    ];
    for (label, color, get) in series {
        let pts: Vec<(f64, f64)> = history.iter().map(|r| (r.epoch as f64, get(r))).collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(3)))
            .map_err(|x| e(&x))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], color.stroke_width(3)));
        chart
            .draw_series(pts.into_iter().map(|p| Circle::new(p, 5, color.filled())))
            .map_err(|x| e(&x))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FAMILY, 18))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|x| e(&x))?;
    root.present().map_err(|x| e(&x))?;
    Ok(())
}

/// One measured kernel on a roofline: its label, the bytes one launch moves,
/// the GB/s it reached, and whether it ran on the GPU.
#[derive(Debug, Clone)]
pub struct RooflinePoint {
    /// What ran (`sgd_update P=527034`).
    pub label: String,
    /// Bytes one launch moves.
    pub bytes: f64,
    /// GB/s reached.
    pub gb_per_s: f64,
    /// On the GPU (red) or the CPU (blue).
    pub gpu: bool,
}

/// The kernels against their roofline, log-log: bytes a launch (x) against
/// GB/s (y). Two measured ceilings bound every GPU point: the
/// device-to-device copy (`copy`, flat), and a launch that does nothing but
/// take the time of the fastest launch measured (`bytes / t_min`, a
/// diagonal). Without a GPU neither ceiling is known, and only the points
/// are drawn.
pub fn roofline_plot(path: &Path, points: &[RooflinePoint], copy: Option<f64>, title: &str) -> Result<()> {
    register_font();
    let e = |err: &dyn std::fmt::Display| plot_err(path, err);
    let points: Vec<&RooflinePoint> = points
        .iter()
        .filter(|p| p.bytes > 0.0 && p.gb_per_s > 0.0)
        .collect();
    if points.is_empty() {
        return Err(e(&"no kernel row with bytes and GB/s to draw"));
    }
    let (mut x0, mut x1) = (f64::INFINITY, 0.0f64);
    let mut y1 = copy.unwrap_or(0.0);
    for p in &points {
        (x0, x1, y1) = (x0.min(p.bytes), x1.max(p.bytes), y1.max(p.gb_per_s));
    }
    let y0 = points.iter().map(|p| p.gb_per_s).fold(f64::INFINITY, f64::min);
    let (x0, x1, y0, y1) = (x0 / 3.0, x1 * 3.0, y0 / 3.0, y1 * 3.0);
    // The fastest launch measured on the GPU, in seconds: t = bytes / (GB/s · 1e9).
    let t_min = points
        .iter()
        .filter(|p| p.gpu)
        .map(|p| p.bytes / (p.gb_per_s * 1e9))
        .fold(f64::INFINITY, f64::min);
    let root = BitMapBackend::new(path, (1100, 720)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FAMILY, 24))
        .margin(16)
        .x_label_area_size(55)
        .y_label_area_size(80)
        .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .x_desc("bytes moved by one launch")
        .y_desc("GB/s")
        .x_label_formatter(&|x| format!("{x:.0e}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style((FAMILY, 16))
        .axis_desc_style((FAMILY, 18))
        .draw()
        .map_err(|x| e(&x))?;
    let grey = RGBColor(90, 90, 90);
    if let Some(c) = copy {
        let line = LineSeries::new([(x0, c), (x1, c)], grey.stroke_width(2));
        chart
            .draw_series(line)
            .map_err(|x| e(&x))?
            .label(format!("device-to-device copy, {c:.0} GB/s"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], grey.stroke_width(2)));
    }
    if t_min.is_finite() {
        // GB/s = bytes / t_min, up to the copy: the launch floor.
        let top = copy.unwrap_or(y1).min(y1);
        let xs = [x0.max(y0 * 1e9 * t_min), x1.min(top * 1e9 * t_min)];
        let dash = RGBColor(150, 150, 150);
        chart
            .draw_series(LineSeries::new(
                xs.iter().map(|&x| (x, x / (1e9 * t_min))),
                dash.stroke_width(2),
            ))
            .map_err(|x| e(&x))?
            .label(format!("the fastest launch, {:.2} µs", t_min * 1e6))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], dash.stroke_width(2)));
    }
    for gpu in [true, false] {
        let color = if gpu {
            RGBColor(214, 39, 40)
        } else {
            RGBColor(31, 119, 180)
        };
        let these: Vec<&&RooflinePoint> = points.iter().filter(|p| p.gpu == gpu).collect();
        if these.is_empty() {
            continue;
        }
        chart
            .draw_series(
                these
                    .iter()
                    .map(|p| Circle::new((p.bytes, p.gb_per_s), 5, color.filled())),
            )
            .map_err(|x| e(&x))?
            .label(if gpu { "GPU kernels" } else { "CPU twins" })
            .legend(move |(x, y)| Circle::new((x + 12, y), 5, color.filled()));
        chart
            .draw_series(these.iter().map(|p| {
                Text::new(
                    p.label.clone(),
                    (p.bytes * 1.15, p.gb_per_s),
                    (FAMILY, 13).into_font(),
                )
            }))
            .map_err(|x| e(&x))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FAMILY, 16))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|x| e(&x))?;
    root.present().map_err(|x| e(&x))?;
    Ok(())
}
