//! The net's kernels (`kernels/net.cu`), layer by layer, checked for
//! `mfcuda check`.

use cudarc::driver::CudaSlice;

use super::{compare_all, indices, uniform, widen, FACTORS};
use crate::backend::cuda::Gpu;
use crate::compare::{compare, Comparison};
use crate::error::Result;
use crate::model::ModelSpec;
use crate::ops;
use crate::rng::Mt19937;

/// Batch sizes the net's kernels are checked at.
pub const NET_BATCHES: [usize; 3] = [1, 65, 1000];
/// Hidden widths the net's kernels are checked at.
pub const HIDDEN: [usize; 3] = [1, 10, 33];

/// The net's kernels: the concatenating gather and its scatter, both linear
/// layers forward and backward, ReLU and dropout. All but the scatter sum in
/// the CPU's order, so they are compared exactly.
pub(crate) fn checks(
    gpu: &Gpu,
    rng: &mut Mt19937,
    push: &mut impl FnMut(&str, String, Comparison),
) -> Result<()> {
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
