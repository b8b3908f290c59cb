//! `mfcuda check`: every CUDA kernel against its CPU twin, then one training
//! step of a whole model on both backends.
//!
//! Inputs are random, at awkward sizes (batch 1, 63, 64, 65, 1000; factors
//! 1, 31, 50, 64, 129), with tables small enough that rows are hit many
//! times within a batch. Kernels whose arithmetic is the CPU's, operation for
//! operation, are expected to agree to the bit; the tolerances leave room
//! only where the order of a sum differs (atomics, tree reductions) or where
//! CUDA's `expf` may differ from the host's in the last place.

use std::sync::Arc;

use cudarc::driver::CudaSlice;

use crate::backend::cpu::CpuBackend;
use crate::backend::cuda::{CudaBackend, DeviceFactor, Gpu};
use crate::backend::{Backend, GpuOptions};
use crate::compare::{compare, Comparison};
use crate::data::Ratings;
use crate::error::Result;
use crate::model::{ModelKind, ModelSpec};
use crate::ops::Storage;
use crate::ops::{self, AdamStep};
use crate::recipe::Recipe;
use crate::rng::Mt19937;
use crate::train::Setup;

/// Batch sizes every batched kernel is checked at.
pub const BATCHES: [usize; 5] = [1, 63, 64, 65, 1000];
/// Embedding widths every factor-dependent kernel is checked at.
pub const FACTORS: [usize; 5] = [1, 31, 50, 64, 129];
/// Embedding widths the sparse kernels are checked at: both load paths (four
/// factors a load when F % 4 == 0, one otherwise), in the narrow kernel (1,
/// 31, 64, 100, 128) and the wide one (50, 132, 512), up to each one's limit.
pub const SPARSE_FACTORS: [usize; 8] = [1, 31, 50, 64, 100, 128, 132, 512];
/// Parameter counts the optimizer kernels are checked at (527,034 is
/// EmbeddingDotBias on ml-latest-small).
pub const PARAM_COUNTS: [usize; 4] = [1, 1000, 65_537, 527_034];
/// Batch sizes the net's kernels are checked at.
pub const NET_BATCHES: [usize; 3] = [1, 65, 1000];
/// Hidden widths the net's kernels are checked at.
pub const HIDDEN: [usize; 3] = [1, 10, 33];

/// One row of the check table.
#[derive(Debug, Clone)]
pub struct CheckRow {
    /// The kernel or check.
    pub kernel: String,
    /// The sizes it ran at.
    pub shape: String,
    /// The comparison against the CPU.
    pub cmp: Comparison,
}

impl CheckRow {
    /// The table line.
    pub fn line(&self) -> String {
        format!(
            "{:<24} {:<22} {:>12.3e} {:>12.3e}  {}",
            self.kernel,
            self.shape,
            self.cmp.max_abs_err,
            self.cmp.max_rel_err,
            if self.cmp.ok() { "ok" } else { "FAIL" }
        )
    }

    /// The table's header line.
    pub fn header() -> String {
        format!(
            "{:<24} {:<22} {:>12} {:>12}  ok",
            "kernel", "shape", "max abs err", "max rel err"
        )
    }
}

fn uniform(rng: &mut Mt19937, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n)
        .map(|_| lo + (hi - lo) * rng.random_sample() as f32)
        .collect()
}

fn indices(rng: &mut Mt19937, n: usize, rows: usize) -> Vec<u32> {
    (0..n).map(|_| rng.interval(rows as u32 - 1)).collect()
}

fn widen<T: Copy + Into<f64>>(v: &[T]) -> Vec<f64> {
    v.iter().map(|&x| x.into()).collect()
}

/// Concatenates several (got, want) pairs into one comparison.
fn compare_all(pairs: &[(Vec<f64>, Vec<f64>)], atol: f64, rtol: f64) -> Comparison {
    let got: Vec<f64> = pairs.iter().flat_map(|p| p.0.iter().copied()).collect();
    let want: Vec<f64> = pairs.iter().flat_map(|p| p.1.iter().copied()).collect();
    compare(&got, &want, atol, rtol)
}

/// Downloads each device buffer and compares it with its host twin, all as one comparison.
fn compare_device(
    gpu: &Gpu,
    pairs: &[(&CudaSlice<f32>, &[f32])],
    atol: f64,
    rtol: f64,
) -> Result<Comparison> {
    let mut both = Vec::with_capacity(pairs.len());
    for (dev, host) in pairs {
        both.push((widen(&gpu.download(&dev.as_view())?), widen(host)));
    }
    Ok(compare_all(&both, atol, rtol))
}

/// Runs every kernel check, calling `on_row` as each row is measured.
pub fn kernel_checks(gpu: &Gpu, mut on_row: impl FnMut(&CheckRow)) -> Result<Vec<CheckRow>> {
    let mut rows = Vec::new();
    let mut push = |kernel: &str, shape: String, cmp: Comparison| {
        let row = CheckRow {
            kernel: kernel.to_string(),
            shape,
            cmp,
        };
        on_row(&row);
        rows.push(row);
    };
    let mut rng = Mt19937::new(2024);
    let dl = |d: &CudaSlice<f32>| gpu.download(&d.as_view());

    for &b in &BATCHES {
        // gather_rows: a permutation-like order with repeats into 2B source rows.
        let src = 2 * b;
        let (users, items) = (indices(&mut rng, src, 1000), indices(&mut rng, src, 1000));
        let ratings = uniform(&mut rng, src, 0.5, 5.0);
        let order = indices(&mut rng, b, src);
        let (mut uo, mut io, mut ro) = (vec![0u32; b], vec![0u32; b], vec![0f32; b]);
        ops::gather_rows(&mut uo, &mut io, &mut ro, &users, &items, &ratings, &order);
        let (mut duo, mut dio, mut dro) = (gpu.zeros::<u32>(b)?, gpu.zeros::<u32>(b)?, gpu.zeros::<f32>(b)?);
        let (du, di, dr, dord) = (
            gpu.upload(&users)?,
            gpu.upload(&items)?,
            gpu.upload(&ratings)?,
            gpu.upload(&order)?,
        );
        gpu.gather_rows(
            &mut duo.as_view_mut(),
            &mut dio.as_view_mut(),
            &mut dro.as_view_mut(),
            &du.as_view(),
            &di.as_view(),
            &dr.as_view(),
            &dord.as_view(),
        )?;
        let cmp = compare_all(
            &[
                (widen(&gpu.download(&duo.as_view())?), widen(&uo)),
                (widen(&gpu.download(&dio.as_view())?), widen(&io)),
                (widen(&dl(&dro)?), widen(&ro)),
            ],
            0.0,
            0.0,
        );
        push("gather_rows", format!("n={b}"), cmp);

        for &f in &FACTORS {
            let n_rows = (b / 8).max(1);
            let shape = format!("B={b} F={f} N={n_rows}");
            let table = uniform(&mut rng, n_rows * f, -1.0, 1.0);
            let idx = indices(&mut rng, b, n_rows);
            let (dtable, didx) = (gpu.upload(&table)?, gpu.upload(&idx)?);

            // embedding_gather
            let mut want = vec![0f32; b * f];
            ops::embedding_gather(&mut want, &table, &idx, f);
            let mut dout = gpu.zeros::<f32>(b * f)?;
            gpu.embedding_gather(&mut dout.as_view_mut(), &dtable.as_view(), &didx.as_view(), f)?;
            push(
                "embedding_gather",
                shape.clone(),
                compare(&widen(&dl(&dout)?), &widen(&want), 0.0, 0.0),
            );

            // embedding_scatter_add, into a non-zero gradient
            let drows = uniform(&mut rng, b * f, -1.0, 1.0);
            let mut want = uniform(&mut rng, n_rows * f, -1.0, 1.0);
            let mut dgrad = gpu.upload(&want)?;
            ops::embedding_scatter_add(&mut want, &drows, &idx, f);
            gpu.embedding_scatter_add(
                &mut dgrad.as_view_mut(),
                &gpu.upload(&drows)?.as_view(),
                &didx.as_view(),
                f,
            )?;
            push(
                "embedding_scatter_add",
                shape.clone(),
                compare(&widen(&dl(&dgrad)?), &widen(&want), 1e-5, 1e-5),
            );

            // The deterministic scatter: no atomics, the CPU's order, so the CPU's bits.
            let mut want = uniform(&mut rng, n_rows * f, -1.0, 1.0);
            let mut dgrad = gpu.upload(&want)?;
            ops::embedding_scatter_add(&mut want, &drows, &idx, f);
            let ddrows = gpu.upload(&drows)?;
            gpu.embedding_scatter_add_det(
                &mut dgrad.as_view_mut(),
                &ddrows.as_view(),
                &didx.as_view(),
                f,
                f,
                0,
            )?;
            push(
                "embedding_scatter_add_det",
                shape.clone(),
                compare(&widen(&dl(&dgrad)?), &widen(&want), 0.0, 0.0),
            );

            // dot_forward and dot_backward
            let (a, bb) = (
                uniform(&mut rng, b * f, -1.0, 1.0),
                uniform(&mut rng, b * f, -1.0, 1.0),
            );
            let (da_dev, db_dev) = (gpu.upload(&a)?, gpu.upload(&bb)?);
            let mut want = vec![0f32; b];
            ops::dot_forward(&mut want, &a, &bb, f);
            let mut dout = gpu.zeros::<f32>(b)?;
            gpu.dot_forward(
                &mut dout.as_view_mut(),
                &da_dev.as_view(),
                &db_dev.as_view(),
                b,
                f,
            )?;
            // Same summation order and no fused multiply-add: bit-exact.
            push(
                "dot_forward",
                shape.clone(),
                compare(&widen(&dl(&dout)?), &widen(&want), 0.0, 0.0),
            );

            let g = uniform(&mut rng, b, -1.0, 1.0);
            let (mut wa, mut wb) = (vec![0f32; b * f], vec![0f32; b * f]);
            ops::dot_backward(&mut wa, &mut wb, &g, &a, &bb, f);
            let (mut ga, mut gb) = (gpu.zeros::<f32>(b * f)?, gpu.zeros::<f32>(b * f)?);
            let dg = gpu.upload(&g)?;
            gpu.dot_backward(
                &mut ga.as_view_mut(),
                &mut gb.as_view_mut(),
                &dg.as_view(),
                &da_dev.as_view(),
                &db_dev.as_view(),
                b,
                f,
            )?;
            let cmp = compare_all(
                &[(widen(&dl(&ga)?), widen(&wa)), (widen(&dl(&gb)?), widen(&wb))],
                0.0,
                0.0,
            );
            push("dot_backward", shape, cmp);
        }

        let shape = format!("B={b}");
        // bias_add
        let n_rows = (b / 8).max(1);
        let (bias, idx) = (uniform(&mut rng, n_rows, -1.0, 1.0), indices(&mut rng, b, n_rows));
        let mut want = uniform(&mut rng, b, -1.0, 1.0);
        let mut dx = gpu.upload(&want)?;
        ops::bias_add(&mut want, &bias, &idx);
        gpu.bias_add(
            &mut dx.as_view_mut(),
            &gpu.upload(&bias)?.as_view(),
            &gpu.upload(&idx)?.as_view(),
        )?;
        push(
            "bias_add",
            shape.clone(),
            compare(&widen(&dl(&dx)?), &widen(&want), 0.0, 0.0),
        );

        // sigmoid_range_forward and _backward
        let x = uniform(&mut rng, b, -6.0, 6.0);
        let dxv = gpu.upload(&x)?;
        let mut want = vec![0f32; b];
        ops::sigmoid_range_forward(&mut want, &x, 0.5, 5.0);
        let mut dout = gpu.zeros::<f32>(b)?;
        gpu.sigmoid_range_forward(&mut dout.as_view_mut(), &dxv.as_view(), 0.5, 5.0, b)?;
        push(
            "sigmoid_range_forward",
            shape.clone(),
            compare(&widen(&dl(&dout)?), &widen(&want), 1e-6, 1e-6),
        );
        let g = uniform(&mut rng, b, -1.0, 1.0);
        let mut want = vec![0f32; b];
        ops::sigmoid_range_backward(&mut want, &g, &x, 0.5, 5.0);
        gpu.sigmoid_range_backward(
            &mut dout.as_view_mut(),
            &gpu.upload(&g)?.as_view(),
            &dxv.as_view(),
            0.5,
            5.0,
            b,
        )?;
        // expf may differ from the host's by 2 ulp; near saturation that moves
        // the result by up to 2.7e-7·|dout|·(hi − lo), beyond a relative bound.
        let cmp = compare(&widen(&dl(&dout)?), &widen(&want), 1e-6, 1e-5);
        push("sigmoid_range_backward", shape.clone(), cmp);

        // mse_loss_grad: the gradient and the loss
        let (pred, target) = (uniform(&mut rng, b, 0.5, 5.0), uniform(&mut rng, b, 0.5, 5.0));
        let (dp, dt) = (gpu.upload(&pred)?, gpu.upload(&target)?);
        let mut want = vec![0f32; b];
        let want_loss = ops::mse_loss_grad(&mut want, &pred, &target);
        let (mut dgrad, mut dloss) = (gpu.zeros::<f32>(b)?, gpu.zeros::<f32>(1)?);
        gpu.mse_loss_grad(
            &mut dgrad.as_view_mut(),
            &mut dloss.as_view_mut(),
            &dp.as_view(),
            &dt.as_view(),
        )?;
        let cmp = compare_all(
            &[
                (widen(&dl(&dgrad)?), widen(&want)),
                (widen(&dl(&dloss)?), vec![want_loss as f64]),
            ],
            1e-7,
            1e-5,
        );
        push("mse_loss_grad", shape.clone(), cmp);
    }

    net_checks(gpu, &mut rng, &mut push)?;
    fused_checks(gpu, &mut rng, &mut push)?;
    sparse_checks::<f32>(gpu, &mut rng, &mut push)?;
    sparse_checks::<half::bf16>(gpu, &mut rng, &mut push)?;
    group_mean_checks(gpu, &mut rng, &mut push)?;

    // mse_sum, up to a size that needs many blocks
    for n in [1usize, 63, 64, 65, 1000, 20_167, 1_000_003] {
        let (pred, target) = (uniform(&mut rng, n, 0.5, 5.0), uniform(&mut rng, n, 0.5, 5.0));
        let want = ops::mse_sum(&pred, &target);
        let mut out = gpu.zeros::<f64>(1)?;
        gpu.mse_sum(
            &mut out.as_view_mut(),
            &gpu.upload(&pred)?.as_view(),
            &gpu.upload(&target)?.as_view(),
            false,
        )?;
        let got = gpu.download(&out.as_view())?;
        push("mse_sum", format!("n={n}"), compare(&got, &[want], 0.0, 1e-9));
    }

    // The fused optimizer updates: parameters, state, and the zeroed gradient.
    for &n in &PARAM_COUNTS {
        let p = uniform(&mut rng, n, -0.05, 0.05);
        let g = uniform(&mut rng, n, -1e-2, 1e-2);
        let buf = uniform(&mut rng, n, -1e-2, 1e-2);
        let (mut wp, mut wg, mut wb) = (p.clone(), g.clone(), buf.clone());
        ops::sgd_update(&mut wp, &mut wg, &mut wb, 0.1, 0.9, 2e-4);
        let (mut dp, mut dg, mut db) = (gpu.upload(&p)?, gpu.upload(&g)?, gpu.upload(&buf)?);
        gpu.sgd_update(
            &mut dp.as_view_mut(),
            &mut dg.as_view_mut(),
            &mut db.as_view_mut(),
            0.1,
            0.9,
            2e-4,
        )?;
        let cmp = compare_device(gpu, &[(&dp, &wp), (&db, &wb), (&dg, &wg)], 0.0, 0.0)?;
        push("sgd_update", format!("P={n}"), cmp);

        for t in [1u64, 10] {
            let v = uniform(&mut rng, n, 0.0, 1e-4);
            let s = AdamStep::new(1e-2, 0.9, 0.999, 1e-8, t);
            let (mut wp, mut wg, mut wm, mut wv) = (p.clone(), g.clone(), buf.clone(), v.clone());
            ops::adam_update(&mut wp, &mut wg, &mut wm, &mut wv, s, 2e-4);
            let (mut dp, mut dg, mut dm, mut dv) = (
                gpu.upload(&p)?,
                gpu.upload(&g)?,
                gpu.upload(&buf)?,
                gpu.upload(&v)?,
            );
            gpu.adam_update(
                &mut dp.as_view_mut(),
                &mut dg.as_view_mut(),
                &mut dm.as_view_mut(),
                &mut dv.as_view_mut(),
                s,
                2e-4,
            )?;
            let cmp = compare_device(gpu, &[(&dp, &wp), (&dm, &wm), (&dv, &wv), (&dg, &wg)], 0.0, 0.0)?;
            push("adam_update", format!("P={n} t={t}"), cmp);
        }
    }
    Ok(rows)
}

/// The net's kernels: the concatenating gather and its scatter, both linear
/// layers forward and backward, ReLU and dropout. All but the scatter sum in
/// the CPU's order, so they are compared exactly.
fn net_checks(gpu: &Gpu, rng: &mut Mt19937, push: &mut impl FnMut(&str, String, Comparison)) -> Result<()> {
    let dl = |d: &CudaSlice<f32>| gpu.download(&d.as_view());
    for &b in &NET_BATCHES {
        for &f in &FACTORS {
            let (nu, ni) = ((b / 8).max(1), (b / 5).max(1));
            let shape = format!("B={b} F={f} Nu={nu} Ni={ni}");
            let (ut, it) = (uniform(rng, nu * f, -1.0, 1.0), uniform(rng, ni * f, -1.0, 1.0));
            let (ui, ii) = (indices(rng, b, nu), indices(rng, b, ni));
            let (dut, dit, dui, dii) = (
                gpu.upload(&ut)?,
                gpu.upload(&it)?,
                gpu.upload(&ui)?,
                gpu.upload(&ii)?,
            );
            let mut want = vec![0f32; b * 2 * f];
            ops::concat_gather(&mut want, &ut, &ui, &it, &ii, f);
            let mut out = gpu.zeros::<f32>(b * 2 * f)?;
            gpu.concat_gather(
                &mut out.as_view_mut(),
                &dut.as_view(),
                &dui.as_view(),
                &dit.as_view(),
                &dii.as_view(),
                f,
            )?;
            push(
                "concat_gather",
                shape.clone(),
                compare(&widen(&dl(&out)?), &widen(&want), 0.0, 0.0),
            );

            let dx = uniform(rng, b * 2 * f, -1.0, 1.0);
            let (mut wu, mut wi) = (uniform(rng, nu * f, -1.0, 1.0), uniform(rng, ni * f, -1.0, 1.0));
            let (mut gu, mut gi) = (gpu.upload(&wu)?, gpu.upload(&wi)?);
            ops::concat_scatter_add(&mut wu, &mut wi, &dx, &ui, &ii, f);
            let ddx = gpu.upload(&dx)?;
            gpu.concat_scatter_add(
                &mut gu.as_view_mut(),
                &mut gi.as_view_mut(),
                &ddx.as_view(),
                &dui.as_view(),
                &dii.as_view(),
                f,
            )?;
            let cmp = compare_all(
                &[(widen(&dl(&gu)?), widen(&wu)), (widen(&dl(&gi)?), widen(&wi))],
                1e-5,
                1e-5,
            );
            push("concat_scatter_add", shape, cmp);
        }
        let f = 50;

        for &h in &HIDDEN {
            // Both of the net's layers: lin1 (2F → H) and lin2 (H → 1).
            for (i, o) in [(2 * f, h), (h, 1)] {
                let shape = format!("B={b} I={i} O={o}");
                let (x, w, bias) = (
                    uniform(rng, b * i, -1.0, 1.0),
                    uniform(rng, o * i, -1.0, 1.0),
                    uniform(rng, o, -1.0, 1.0),
                );
                let (dx_, dw_, db_) = (gpu.upload(&x)?, gpu.upload(&w)?, gpu.upload(&bias)?);
                let mut want = vec![0f32; b * o];
                ops::linear_forward(&mut want, &x, &w, &bias, i);
                let mut out = gpu.zeros::<f32>(b * o)?;
                gpu.linear_forward(
                    &mut out.as_view_mut(),
                    &dx_.as_view(),
                    &dw_.as_view(),
                    &db_.as_view(),
                    b,
                    i,
                )?;
                push(
                    "linear_forward",
                    shape.clone(),
                    compare(&widen(&dl(&out)?), &widen(&want), 0.0, 0.0),
                );

                let dout = uniform(rng, b * o, -1.0, 1.0);
                let ddout = gpu.upload(&dout)?;
                let mut want = vec![0f32; b * i];
                ops::linear_backward_input(&mut want, &dout, &w, i);
                let mut got = gpu.zeros::<f32>(b * i)?;
                gpu.linear_backward_input(&mut got.as_view_mut(), &ddout.as_view(), &dw_.as_view(), b, i)?;
                push(
                    "linear_backward_input",
                    shape.clone(),
                    compare(&widen(&dl(&got)?), &widen(&want), 0.0, 0.0),
                );

                let mut want = uniform(rng, o * i, -1.0, 1.0);
                let mut got = gpu.upload(&want)?;
                ops::linear_backward_weight(&mut want, &dout, &x, i);
                gpu.linear_backward_weight(&mut got.as_view_mut(), &ddout.as_view(), &dx_.as_view(), b, i)?;
                push(
                    "linear_backward_weight",
                    shape.clone(),
                    compare(&widen(&dl(&got)?), &widen(&want), 0.0, 0.0),
                );

                let mut want = uniform(rng, o, -1.0, 1.0);
                let mut got = gpu.upload(&want)?;
                ops::linear_backward_bias(&mut want, &dout);
                gpu.linear_backward_bias(&mut got.as_view_mut(), &ddout.as_view(), b)?;
                push(
                    "linear_backward_bias",
                    shape,
                    compare(&widen(&dl(&got)?), &widen(&want), 0.0, 0.0),
                );
            }

            let n = b * h;
            let shape = format!("B={b} H={h}");
            let x = uniform(rng, n, -1.0, 1.0);
            let mut want = x.clone();
            ops::relu_forward(&mut want);
            let mut got = gpu.upload(&x)?;
            gpu.relu_forward(&mut got.as_view_mut())?;
            push(
                "relu_forward",
                shape.clone(),
                compare(&widen(&dl(&got)?), &widen(&want), 0.0, 0.0),
            );
            let dout = uniform(rng, n, -1.0, 1.0);
            let mut want_dx = vec![0f32; n];
            ops::relu_backward(&mut want_dx, &dout, &want);
            let mut got_dx = gpu.zeros::<f32>(n)?;
            gpu.relu_backward(
                &mut got_dx.as_view_mut(),
                &gpu.upload(&dout)?.as_view(),
                &got.as_view(),
            )?;
            push(
                "relu_backward",
                shape,
                compare(&widen(&dl(&got_dx)?), &widen(&want_dx), 0.0, 0.0),
            );

            // Dropout as the net uses it: p2 on the hidden layer, and (once per
            // batch size) p1 on the concatenated embeddings.
            let mut layers = vec![(0.5f32, h, ModelSpec::DROP2)];
            if h == HIDDEN[0] {
                layers.push((0.05, 2 * f, ModelSpec::DROP1));
            }
            for (p, width, layer) in layers {
                let n = b * width;
                let (seed, step) = (0x1234_5678_9abc_u64, 1261 * 5 + b as u64);
                let x = uniform(rng, n, -1.0, 1.0);
                let (mut wf, mut wb) = (x.clone(), x.clone());
                ops::dropout_forward(&mut wf, p, seed, step, layer);
                ops::dropout_backward(&mut wb, p, seed, step, layer);
                let (mut gf, mut gb) = (gpu.upload(&x)?, gpu.upload(&x)?);
                gpu.dropout_forward(&mut gf.as_view_mut(), p, seed, step, layer)?;
                gpu.dropout_backward(&mut gb.as_view_mut(), p, seed, step, layer)?;
                let shape = format!("B={b} W={width} p={p}");
                push(
                    "dropout_forward",
                    shape.clone(),
                    compare(&widen(&dl(&gf)?), &widen(&wf), 0.0, 0.0),
                );
                push(
                    "dropout_backward",
                    shape,
                    compare(&widen(&dl(&gb)?), &widen(&wb), 0.0, 0.0),
                );
            }
        }
    }
    Ok(())
}

/// The fused path's kernels: the whole dot/dotbias step against the CPU's
/// `loss_and_grad` (on a last, partial batch), and the optimizer updates that
/// read their scalars from a device schedule against the plain CPU updates.
fn fused_checks(gpu: &Gpu, rng: &mut Mt19937, push: &mut impl FnMut(&str, String, Comparison)) -> Result<()> {
    let dl = |d: &CudaSlice<f32>| gpu.download(&d.as_view());
    for kind in [ModelKind::Dot, ModelKind::DotBias] {
        for &bs in &BATCHES {
            for &f in &FACTORS {
                let spec = ModelSpec {
                    kind,
                    n_users: (bs / 8).max(1),
                    n_items: (bs / 5).max(1),
                    factors: f,
                    hidden: 1,
                    y_range: (0.5, 5.0),
                    emb_init: (-0.5, 0.5),
                    dropout: (0.0, 0.0),
                };
                let params = spec.init_params(rng);
                // Step 1 of an epoch of n rows: a partial batch of n - bs rows.
                let n = bs + bs.div_ceil(2);
                let users = indices(rng, n, spec.n_users);
                let items = indices(rng, n, spec.n_items);
                let ratings = uniform(rng, n, 0.5, 5.0);
                let mut want = vec![0f32; params.len()];
                let mut ws = crate::model::Workspace::default();
                let want_loss = spec.loss_and_grad(
                    &params,
                    &mut want,
                    &users[bs..],
                    &items[bs..],
                    &ratings[bs..],
                    &mut ws,
                    None,
                );
                let (dp, du, di, dr) = (
                    gpu.upload(&params)?,
                    gpu.upload(&users)?,
                    gpu.upload(&items)?,
                    gpu.upload(&ratings)?,
                );
                let (mut grads, mut losses) = (gpu.zeros::<f32>(params.len())?, gpu.zeros::<f32>(2)?);
                gpu.mf_step_fused(
                    &mut grads.as_view_mut(),
                    &mut losses.as_view_mut(),
                    &dp.as_view(),
                    (&du.as_view(), &di.as_view(), &dr.as_view()),
                    bs,
                    1,
                    &spec,
                )?;
                let got_loss = dl(&losses)?[1];
                let cmp = compare_all(
                    &[
                        (widen(&dl(&grads)?), widen(&want)),
                        (vec![got_loss as f64], vec![want_loss as f64]),
                    ],
                    1e-6,
                    1e-5,
                );
                let name = if kind == ModelKind::Dot {
                    "mf_step_fused dot"
                } else {
                    "mf_step_fused dotbias"
                };
                push(name, format!("B={} F={f} N={}", n - bs, spec.n_users), cmp);
            }
        }
    }
    for &n in &PARAM_COUNTS {
        let p = uniform(rng, n, -0.05, 0.05);
        let g = uniform(rng, n, -1e-2, 1e-2);
        let buf = uniform(rng, n, -1e-2, 1e-2);
        let v = uniform(rng, n, 0.0, 1e-4);
        let step = 3;
        let adam = AdamStep::new(1e-2, 0.9, 0.999, 1e-8, 17);
        let mut sched = vec![0f32; 2 * (step + 1)];
        sched[2 * step] = adam.step_size;
        sched[2 * step + 1] = adam.bias_correction2_sqrt;
        let dsched = gpu.upload(&sched)?;

        let (mut wp, mut wg, mut wb) = (p.clone(), g.clone(), buf.clone());
        ops::sgd_update(&mut wp, &mut wg, &mut wb, adam.step_size, 0.9, 2e-4);
        let (mut dp, mut dg, mut db) = (gpu.upload(&p)?, gpu.upload(&g)?, gpu.upload(&buf)?);
        gpu.sgd_update_sched(
            &mut dp.as_view_mut(),
            &mut dg.as_view_mut(),
            &mut db.as_view_mut(),
            &dsched.as_view(),
            step,
            0.9,
            2e-4,
        )?;
        let cmp = compare_device(gpu, &[(&dp, &wp), (&db, &wb), (&dg, &wg)], 0.0, 0.0)?;
        push("sgd_update_sched", format!("P={n}"), cmp);

        let (mut wp, mut wg, mut wm, mut wv) = (p.clone(), g.clone(), buf.clone(), v.clone());
        ops::adam_update(&mut wp, &mut wg, &mut wm, &mut wv, adam, 2e-4);
        let (mut dp, mut dg, mut dm, mut dv) = (
            gpu.upload(&p)?,
            gpu.upload(&g)?,
            gpu.upload(&buf)?,
            gpu.upload(&v)?,
        );
        let constants = AdamStep::new(0.0, 0.9, 0.999, 1e-8, 1);
        gpu.adam_update_sched(
            &mut dp.as_view_mut(),
            &mut dg.as_view_mut(),
            &mut dm.as_view_mut(),
            &mut dv.as_view_mut(),
            &dsched.as_view(),
            step,
            constants,
            2e-4,
        )?;
        let cmp = compare_device(gpu, &[(&dp, &wp), (&dm, &wm), (&dv, &wv), (&dg, &wg)], 0.0, 0.0)?;
        push("adam_update_sched", format!("P={n} t=17"), cmp);
    }
    Ok(())
}

/// The sparse SGD kernel against `ops::mf_sgd_sparse` and the prediction
/// kernel against `ops::mf_predict`, with factors stored as `S`.
///
/// - One warp over 300 ratings on 37 users and 23 items, so that rows are
///   hit again and again: the warp takes the ratings in the CPU's order, so
///   the tables must agree within 1e-5 (f32). In bf16, where a last-bit
///   difference in the dot product can round a factor the other way, within
///   one bf16 step (2^-7 relative).
/// - All warps at once over ratings that share no row: no race can happen,
///   so the parallel launch must agree just as well.
fn sparse_checks<S: DeviceFactor>(
    gpu: &Gpu,
    rng: &mut Mt19937,
    push: &mut impl FnMut(&str, String, Comparison),
) -> Result<()> {
    let (name, rtol) = match S::STORAGE {
        Storage::F32 => ("f32", 1e-5),
        Storage::Bf16 => ("bf16", 1.0 / 128.0),
    };
    let to_s = |v: &[f32]| v.iter().map(|&x| S::put(x)).collect::<Vec<S>>();
    let dev = |v: &[S]| v.iter().map(|&x| x.to_dev()).collect::<Vec<S::Dev>>();
    let wide = |v: &[S]| v.iter().map(|x| x.get() as f64).collect::<Vec<f64>>();
    let back = |d: Vec<S::Dev>| d.into_iter().map(S::from_dev).collect::<Vec<S>>();
    for &f in &SPARSE_FACTORS {
        for (mode, n_users, n_items, n) in [
            ("one warp", 37, 23, 300),
            ("all warps, distinct rows", 4096, 4096, 4096),
        ] {
            let one_warp = mode == "one warp";
            let (users, items) = if one_warp {
                (indices(rng, n, n_users), indices(rng, n, n_items))
            } else {
                (
                    rng.permutation(n_users)[..n].to_vec(),
                    rng.permutation(n_items)[..n].to_vec(),
                )
            };
            let ratings = uniform(rng, n, 0.5, 5.0);
            let (mut u, mut m) = (
                to_s(&uniform(rng, n_users * f, -0.1, 0.1)),
                to_s(&uniform(rng, n_items * f, -0.1, 0.1)),
            );
            let (mut ub, mut mb) = (uniform(rng, n_users, -0.3, 0.3), uniform(rng, n_items, -0.3, 0.3));
            let (mu, lr, reg) = (3.5f32, 0.01f32, 0.05f32);
            let (mut du, mut dm) = (gpu.upload(&dev(&u))?, gpu.upload(&dev(&m))?);
            let (mut dub, mut dmb) = (gpu.upload(&ub)?, gpu.upload(&mb)?);
            let (dus, dis, drs) = (gpu.upload(&users)?, gpu.upload(&items)?, gpu.upload(&ratings)?);
            let mut derr = gpu.zeros::<f32>(n)?;
            let mut err = vec![0f32; n];
            ops::mf_sgd_sparse(
                &mut u, &mut m, &mut ub, &mut mb, mu, &users, &items, &ratings, &mut err, f, lr, reg,
            );
            gpu.mf_sgd_sparse::<S>(
                &mut du.as_view_mut(),
                &mut dm.as_view_mut(),
                &mut dub.as_view_mut(),
                &mut dmb.as_view_mut(),
                mu,
                (&dus.as_view(), &dis.as_view(), &drs.as_view()),
                &mut derr.as_view_mut(),
                f,
                lr,
                reg,
                if one_warp { 1 } else { usize::MAX },
            )?;
            let cmp = compare_all(
                &[
                    (wide(&back(gpu.download(&du.as_view())?)), wide(&u)),
                    (wide(&back(gpu.download(&dm.as_view())?)), wide(&m)),
                    (widen(&gpu.download(&dub.as_view())?), widen(&ub)),
                    (widen(&gpu.download(&dmb.as_view())?), widen(&mb)),
                    (widen(&gpu.download(&derr.as_view())?), widen(&err)),
                ],
                1e-5,
                rtol,
            );
            push(
                &format!("mf_sgd_sparse {name}"),
                format!("{mode} R={n} F={f}"),
                cmp,
            );
        }
        // Predictions for 1000 rows from the same kind of tables (small
        // factors, as trained ones are, keep |pred| well away from 0, where
        // the two summation orders would dominate the relative tolerance).
        let (n_users, n_items, n) = (37, 23, 1000);
        let (u, m) = (
            to_s(&uniform(rng, n_users * f, -0.1, 0.1)),
            to_s(&uniform(rng, n_items * f, -0.1, 0.1)),
        );
        let (ub, mb) = (uniform(rng, n_users, -0.3, 0.3), uniform(rng, n_items, -0.3, 0.3));
        let (users, items) = (indices(rng, n, n_users), indices(rng, n, n_items));
        let mut want = vec![0f32; n];
        ops::mf_predict(&mut want, &u, &m, &ub, &mb, 3.5, &users, &items, f);
        let mut got = gpu.zeros::<f32>(n)?;
        gpu.mf_predict::<S>(
            &mut got.as_view_mut(),
            &gpu.upload(&dev(&u))?.as_view(),
            &gpu.upload(&dev(&m))?.as_view(),
            &gpu.upload(&ub)?.as_view(),
            &gpu.upload(&mb)?.as_view(),
            3.5,
            &gpu.upload(&users)?.as_view(),
            &gpu.upload(&items)?.as_view(),
            f,
        )?;
        let cmp = compare_device(gpu, &[(&got, &want)], 1e-6, 1e-5)?;
        push(&format!("mf_predict {name}"), format!("R={n} F={f}"), cmp);
    }
    Ok(())
}

/// `group_mean` against `ops::group_mean`: both sum in f64 in order, so to the bit.
fn group_mean_checks(
    gpu: &Gpu,
    rng: &mut Mt19937,
    push: &mut impl FnMut(&str, String, Comparison),
) -> Result<()> {
    for &n in &BATCHES {
        for group in [1usize, 7, 64] {
            let x = uniform(rng, n, 0.0, 4.0);
            let groups = n.div_ceil(group);
            let mut want = vec![0f32; groups];
            ops::group_mean(&mut want, &x, group);
            let mut got = gpu.zeros::<f32>(groups)?;
            gpu.group_mean(&mut got.as_view_mut(), &gpu.upload(&x)?.as_view(), group)?;
            let cmp = compare_device(gpu, &[(&got, &want)], 0.0, 0.0)?;
            push("group_mean", format!("n={n} group={group}"), cmp);
        }
    }
    Ok(())
}

/// Two training steps of `recipe`'s model on `data` (a full batch, then a
/// partial one), on the CPU and on the GPU (op by op, or `fused`) from the
/// same initial parameters and the same batches. Every parameter after the
/// steps must agree within 1e-5 relative (plus 1e-8 absolute, for parameters
/// that land near zero), and so must the batch losses and the validation MSE.
pub fn step_parity(
    gpu: &Arc<Gpu>,
    data: &Ratings,
    recipe: &Recipe,
    seed: u32,
    opts: GpuOptions,
) -> Result<CheckRow> {
    let setup = Setup::notebook(data, recipe, seed)?;
    let mut rng = setup.rng.clone();
    let bs = recipe.batch_size;
    // A full batch, then a partial one of 29 rows (as an epoch ends), at
    // global steps 2^32 − 1 and 2^32 so that dropout's counter carries into
    // its high word; at the stage's peak rate, so that the steps are large.
    let order: Vec<u32> = rng.permutation(setup.train.len())[..bs + 29].to_vec();
    let lr = [recipe.stages[0].lr(); 2];
    let first_step = (1u64 << 32) - 1;
    let init = setup.init();
    let mut cpu = CpuBackend::new(init.clone());
    let mut cuda = CudaBackend::new(gpu.clone(), init, opts)?;
    let cpu_loss = cpu.train_epoch(&order, bs, &lr, first_step, &mut |_, _| {})?;
    let gpu_loss = cuda.train_epoch(&order, bs, &lr, first_step, &mut |_, _| {})?;
    // Validation runs in eval mode (no dropout) over all 20,167 rows.
    let (cpu_val, gpu_val) = (cpu.validate()?, cuda.validate()?);
    let cmp = compare_all(
        &[
            (widen(&cuda.params()?), widen(&cpu.params()?)),
            (widen(&gpu_loss), widen(&cpu_loss)),
            (vec![gpu_val], vec![cpu_val]),
        ],
        1e-8,
        1e-5,
    );
    Ok(CheckRow {
        kernel: format!(
            "step parity {}{}{}",
            recipe.name,
            if opts.fused { " fused" } else { "" },
            if opts.deterministic { " det" } else { "" }
        ),
        shape: format!("B={bs}+29 P={}", setup.spec.n_params()),
        cmp,
    })
}

/// The whole sparse backend, end to end, against the CPU's: 2,000 ratings of
/// `recipe` (a sparse one) on `data`'s split, through upload, staging, the
/// kernel, the per-step losses, validation and the parameter download. The
/// GPU runs one warp over the loop's order, untiled; the CPU one thread: the
/// same sequence of updates, so every parameter, loss and the validation MSE
/// must agree within the kernel check's tolerances.
pub fn sparse_parity<S: DeviceFactor>(
    gpu: &Arc<Gpu>,
    data: &Ratings,
    recipe: &Recipe,
    seed: u32,
) -> Result<CheckRow> {
    let setup = Setup::notebook(data, recipe, seed)?;
    let mut rng = setup.rng.clone();
    let bs = recipe.batch_size;
    let order: Vec<u32> = rng.permutation(setup.train.len())[..2000.min(setup.train.len())].to_vec();
    let lrs = vec![recipe.stages[0].lr(); order.len().div_ceil(bs)];
    let mut init = setup.init();
    init.optimizer = crate::optim::Optimizer::Sparse { storage: S::STORAGE };
    let mut cpu = crate::backend::cpu_sparse::CpuSparseBackend::<S>::new(init.clone(), 1)?;
    let mut cuda = crate::backend::cuda::sparse::CudaSparseBackend::<S>::new(gpu.clone(), init, false)?;
    cuda.set_max_warps(1);
    let cpu_loss = cpu.train_epoch(&order, bs, &lrs, 0, &mut |_, _| {})?;
    let gpu_loss = cuda.train_epoch(&order, bs, &lrs, 0, &mut |_, _| {})?;
    let (cpu_val, gpu_val) = (cpu.validate()?, cuda.validate()?);
    let rtol = match S::STORAGE {
        Storage::F32 => 1e-5,
        Storage::Bf16 => 1.0 / 128.0,
    };
    let cmp = compare_all(
        &[
            (widen(&cuda.params()?), widen(&cpu.params()?)),
            (widen(&gpu_loss), widen(&cpu_loss)),
            (vec![gpu_val], vec![cpu_val]),
        ],
        1e-5,
        rtol,
    );
    Ok(CheckRow {
        kernel: format!("sparse parity {}", recipe.name),
        shape: format!("R={} F={}", order.len(), setup.spec.factors),
        cmp,
    })
}
