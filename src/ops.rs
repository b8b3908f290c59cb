//! The CPU twins of the CUDA kernels: one plain function per operation.
//!
//! These functions are the reference. Each has the name and the arguments
//! its kernel in `kernels/` will have, and the shapes in comments, with
//! `B` the batch size, `F` the number of factors, `N` the rows of a table,
//! `I`/`O` a linear layer's input and output widths. Tensors are row-major
//! `f32` slices. Functions that write gradients *accumulate* (`+=`) into
//! buffers that the optimizer update zeroes, exactly as PyTorch's `.grad`.

// The docs write formulas with indexing, x[b, k], which rustdoc would read as links.
#![allow(rustdoc::broken_intra_doc_links)]

use crate::rng::{philox4x32_10, u32_to_unit_f32};

// ---------------------------------------------------------------- forward

/// The training rows of one epoch in shuffled order:
/// users_out[j] = users[order[j]], and the same for items and ratings.
///
/// users_out, items_out, ratings_out (n), users, items, ratings (rows), order (n)
pub fn gather_rows(
    users_out: &mut [u32],
    items_out: &mut [u32],
    ratings_out: &mut [f32],
    users: &[u32],
    items: &[u32],
    ratings: &[f32],
    order: &[u32],
) {
    for (j, &r) in order.iter().enumerate() {
        let r = r as usize;
        users_out[j] = users[r];
        items_out[j] = items[r];
        ratings_out[j] = ratings[r];
    }
}

/// out[b, :] = table[idx[b], :]
///
/// out (B,F), table (N,F), idx (B)
pub fn embedding_gather(out: &mut [f32], table: &[f32], idx: &[u32], f: usize) {
    for (row, &i) in out.chunks_exact_mut(f).zip(idx) {
        let i = i as usize;
        row.copy_from_slice(&table[i * f..(i + 1) * f]);
    }
}

/// out[b] = Σ_k a[b,k]·b[b,k], summed in order k = 0..F.
///
/// out (B), a (B,F), b (B,F)
pub fn dot_forward(out: &mut [f32], a: &[f32], b: &[f32], f: usize) {
    for ((o, ra), rb) in out.iter_mut().zip(a.chunks_exact(f)).zip(b.chunks_exact(f)) {
        let mut acc = 0.0f32;
        for k in 0..f {
            acc += ra[k] * rb[k];
        }
        *o = acc;
    }
}

/// x[b] += bias[idx[b]]
///
/// x (B), bias (N), idx (B)
pub fn bias_add(x: &mut [f32], bias: &[f32], idx: &[u32]) {
    for (v, &i) in x.iter_mut().zip(idx) {
        *v += bias[i as usize];
    }
}

/// x[b] += c[0]: a scalar parameter (the global mean) added to every row.
///
/// x (B), c (1)
pub fn scalar_add(x: &mut [f32], c: &[f32]) {
    for v in x {
        *v += c[0];
    }
}

/// The logistic function, written as PyTorch's CPU kernel does.
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// out[b] = sigmoid(x[b])·(hi − lo) + lo
///
/// out (B), x (B)
pub fn sigmoid_range_forward(out: &mut [f32], x: &[f32], lo: f32, hi: f32) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = sigmoid(v) * (hi - lo) + lo;
    }
}

/// Mean squared error of the batch; also writes its gradient
/// dpred[b] = 2·(pred[b] − target[b]) / B. Returns the mean.
///
/// dpred (B), pred (B), target (B)
pub fn mse_loss_grad(dpred: &mut [f32], pred: &[f32], target: &[f32]) -> f32 {
    let n = pred.len() as f32;
    let mut sum = 0.0f32;
    for ((d, &p), &t) in dpred.iter_mut().zip(pred).zip(target) {
        let diff = p - t;
        sum += diff * diff;
        *d = 2.0 * diff / n;
    }
    sum / n
}

/// Σ_b (pred[b] − target[b])², accumulated in f64: the validation reduction.
///
/// pred (B), target (B)
pub fn mse_sum(pred: &[f32], target: &[f32]) -> f64 {
    pred.iter()
        .zip(target)
        .map(|(&p, &t)| {
            let d = p as f64 - t as f64;
            d * d
        })
        .sum()
}

// ---------------------------------------------------------------- backward

/// dx[b] = dout[b]·(hi − lo)·s·(1 − s), where s = sigmoid(x[b]).
///
/// dx (B), dout (B), x (B)
pub fn sigmoid_range_backward(dx: &mut [f32], dout: &[f32], x: &[f32], lo: f32, hi: f32) {
    for ((d, &g), &v) in dx.iter_mut().zip(dout).zip(x) {
        let s = sigmoid(v);
        *d = g * (hi - lo) * s * (1.0 - s);
    }
}

/// da[b,k] = dout[b]·b[b,k];  db[b,k] = dout[b]·a[b,k]
///
/// da (B,F), db (B,F), dout (B), a (B,F), b (B,F)
pub fn dot_backward(da: &mut [f32], db: &mut [f32], dout: &[f32], a: &[f32], b: &[f32], f: usize) {
    for (row, &g) in dout.iter().enumerate() {
        for k in row * f..(row + 1) * f {
            da[k] = g * b[k];
            db[k] = g * a[k];
        }
    }
}

/// grad[idx[b], :] += drows[b, :], in batch order. The CUDA twin uses
/// atomicAdd, so rows repeated in a batch may sum in another order there.
///
/// grad (N,F), drows (B,F), idx (B)
pub fn embedding_scatter_add(grad: &mut [f32], drows: &[f32], idx: &[u32], f: usize) {
    for (row, &i) in drows.chunks_exact(f).zip(idx) {
        let i = i as usize;
        for (g, &d) in grad[i * f..(i + 1) * f].iter_mut().zip(row) {
            *g += d;
        }
    }
}

// ---------------------------------------------------------------- optimizers

/// Dense SGD with momentum and coupled weight decay (PyTorch's `optim.SGD`,
/// dampening 0, no Nesterov), fused with zeroing the gradient:
///
/// g ← grad + wd·p;  buf ← momentum·buf + g;  p ← p − lr·buf;  grad ← 0
///
/// PyTorch sets buf ← g on the first step; starting from buf = 0 gives the
/// same bits, since momentum·0 + g = g.
///
/// params, grads, bufs: (P)
pub fn sgd_update(params: &mut [f32], grads: &mut [f32], bufs: &mut [f32], lr: f32, momentum: f32, wd: f32) {
    for ((p, g), b) in params.iter_mut().zip(grads.iter_mut()).zip(bufs.iter_mut()) {
        let d = *g + wd * *p;
        *b = momentum * *b + d;
        *p -= lr * *b;
        *g = 0.0;
    }
}

/// Brings rows that no batch touched for k steps up to date under SGD with
/// momentum: for each element, (p, buf) ← Mᵏ·(p, buf), with `mk` = Mᵏ
/// (row-major 2×2, see [`crate::optim::lazy_sgd`]), in f64 and rounded to
/// f32 once. `params` and `bufs` hold the same elements (rows × F).
pub fn sgd_catch_up(params: &mut [f32], bufs: &mut [f32], mk: [f64; 4]) {
    for (p, b) in params.iter_mut().zip(bufs.iter_mut()) {
        let (p0, b0) = (*p as f64, *b as f64);
        *p = (mk[0] * p0 + mk[1] * b0) as f32;
        *b = (mk[2] * p0 + mk[3] * b0) as f32;
    }
}

/// The scalars of one Adam step. Like PyTorch, which keeps its
/// hyperparameters as Python floats, they are computed in f64 and rounded
/// to f32 once, so `1 − β2` is 0.001 in f32, not 1 − 0.999f32.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamStep {
    /// β1
    pub beta1: f32,
    /// β2
    pub beta2: f32,
    /// 1 − β1
    pub one_minus_beta1: f32,
    /// 1 − β2
    pub one_minus_beta2: f32,
    /// ε
    pub eps: f32,
    /// lr / (1 − β1ᵗ)
    pub step_size: f32,
    /// sqrt(1 − β2ᵗ)
    pub bias_correction2_sqrt: f32,
}

impl AdamStep {
    /// The scalars for step `t` (1-based) at learning rate `lr`.
    pub fn new(lr: f64, beta1: f64, beta2: f64, eps: f64, t: u64) -> AdamStep {
        let t = t.min(i32::MAX as u64) as i32;
        let bc1 = 1.0 - beta1.powi(t);
        let bc2 = 1.0 - beta2.powi(t);
        AdamStep {
            beta1: beta1 as f32,
            beta2: beta2 as f32,
            one_minus_beta1: (1.0 - beta1) as f32,
            one_minus_beta2: (1.0 - beta2) as f32,
            eps: eps as f32,
            step_size: (lr / bc1) as f32,
            bias_correction2_sqrt: bc2.sqrt() as f32,
        }
    }
}

/// Dense Adam with coupled L2 (PyTorch's `optim.Adam(weight_decay=wd)`),
/// fused with zeroing the gradient:
///
/// g ← grad + wd·p;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;
/// p ← p − step_size·m / (sqrt(v)/sqrt(1−β2ᵗ) + ε);  grad ← 0
///
/// This is the current PyTorch form, with ε added after the bias
/// correction (PyTorch 0.4 added it before; the difference is below 1e-8).
///
/// params, grads, m, v: (P)
pub fn adam_update(
    params: &mut [f32],
    grads: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    s: AdamStep,
    wd: f32,
) {
    let it = params
        .iter_mut()
        .zip(grads.iter_mut())
        .zip(m.iter_mut().zip(v.iter_mut()));
    for ((p, g), (m, v)) in it {
        let d = *g + wd * *p;
        *m = s.beta1 * *m + s.one_minus_beta1 * d;
        *v = s.beta2 * *v + s.one_minus_beta2 * d * d;
        let denom = v.sqrt() / s.bias_correction2_sqrt + s.eps;
        *p -= s.step_size * *m / denom;
        *g = 0.0;
    }
}

// ---------------------------------------------------------------- the net

/// out[b, :F] = utable[uidx[b], :];  out[b, F:] = itable[iidx[b], :]
///
/// out (B,2F), utable (Nu,F), uidx (B), itable (Ni,F), iidx (B)
pub fn concat_gather(out: &mut [f32], utable: &[f32], uidx: &[u32], itable: &[f32], iidx: &[u32], f: usize) {
    for ((row, &u), &i) in out.chunks_exact_mut(2 * f).zip(uidx).zip(iidx) {
        let (u, i) = (u as usize, i as usize);
        row[..f].copy_from_slice(&utable[u * f..(u + 1) * f]);
        row[f..].copy_from_slice(&itable[i * f..(i + 1) * f]);
    }
}

/// The inverse of [`concat_gather`] for gradients:
/// ugrad[uidx[b], :] += dx[b, :F];  igrad[iidx[b], :] += dx[b, F:]
///
/// ugrad (Nu,F), igrad (Ni,F), dx (B,2F), uidx (B), iidx (B)
pub fn concat_scatter_add(
    ugrad: &mut [f32],
    igrad: &mut [f32],
    dx: &[f32],
    uidx: &[u32],
    iidx: &[u32],
    f: usize,
) {
    for ((row, &u), &i) in dx.chunks_exact(2 * f).zip(uidx).zip(iidx) {
        let (u, i) = (u as usize, i as usize);
        for (g, &d) in ugrad[u * f..(u + 1) * f].iter_mut().zip(&row[..f]) {
            *g += d;
        }
        for (g, &d) in igrad[i * f..(i + 1) * f].iter_mut().zip(&row[f..]) {
            *g += d;
        }
    }
}

/// out[b, o] = bias[o] + Σ_i x[b, i]·w[o, i]   (PyTorch's `nn.Linear`)
///
/// out (B,O), x (B,I), w (O,I), bias (O)
pub fn linear_forward(out: &mut [f32], x: &[f32], w: &[f32], bias: &[f32], in_dim: usize) {
    let out_dim = bias.len();
    for (orow, xrow) in out.chunks_exact_mut(out_dim).zip(x.chunks_exact(in_dim)) {
        for (o, (ov, wrow)) in orow.iter_mut().zip(w.chunks_exact(in_dim)).enumerate() {
            let mut acc = 0.0f32;
            for i in 0..in_dim {
                acc += xrow[i] * wrow[i];
            }
            *ov = acc + bias[o];
        }
    }
}

/// dx[b, i] = Σ_o dout[b, o]·w[o, i]
///
/// dx (B,I), dout (B,O), w (O,I)
pub fn linear_backward_input(dx: &mut [f32], dout: &[f32], w: &[f32], in_dim: usize) {
    let out_dim = w.len() / in_dim;
    for (dxrow, drow) in dx.chunks_exact_mut(in_dim).zip(dout.chunks_exact(out_dim)) {
        for (i, d) in dxrow.iter_mut().enumerate() {
            let mut acc = 0.0f32;
            for o in 0..out_dim {
                acc += drow[o] * w[o * in_dim + i];
            }
            *d = acc;
        }
    }
}

/// dw[o, i] += Σ_b dout[b, o]·x[b, i]
///
/// dw (O,I), dout (B,O), x (B,I)
pub fn linear_backward_weight(dw: &mut [f32], dout: &[f32], x: &[f32], in_dim: usize) {
    let out_dim = dw.len() / in_dim;
    let batch = x.len() / in_dim;
    for (o, dwrow) in dw.chunks_exact_mut(in_dim).enumerate() {
        for (i, g) in dwrow.iter_mut().enumerate() {
            let mut acc = 0.0f32;
            for b in 0..batch {
                acc += dout[b * out_dim + o] * x[b * in_dim + i];
            }
            *g += acc;
        }
    }
}

/// dbias[o] += Σ_b dout[b, o]
///
/// dbias (O), dout (B,O)
pub fn linear_backward_bias(dbias: &mut [f32], dout: &[f32]) {
    let out_dim = dbias.len();
    for (o, g) in dbias.iter_mut().enumerate() {
        let mut acc = 0.0f32;
        for row in dout.chunks_exact(out_dim) {
            acc += row[o];
        }
        *g += acc;
    }
}

/// x ← max(x, 0), in place.
///
/// x (B,H)
pub fn relu_forward(x: &mut [f32]) {
    for v in x {
        *v = v.max(0.0);
    }
}

/// dx[j] = dout[j] where out[j] > 0, else 0 (PyTorch's threshold backward).
///
/// dx (B,H), dout (B,H), out (B,H)
pub fn relu_backward(dx: &mut [f32], dout: &[f32], out: &[f32]) {
    for ((d, &g), &o) in dx.iter_mut().zip(dout).zip(out) {
        *d = if o > 0.0 { g } else { 0.0 };
    }
}

/// Which dropout layer a mask belongs to; part of the Philox counter so the
/// two layers of the net draw independent masks at the same step.
pub type DropoutLayer = u32;

/// True if element `idx` survives dropout with probability `p` at training
/// step `step`: Philox4x32-10 with key (seed lo, seed hi) and counter
/// (idx, step lo, step hi, layer); the first output word, as a float in
/// [0, 1), must be ≥ p.
pub fn dropout_keep(seed: u64, step: u64, layer: DropoutLayer, idx: u32, p: f32) -> bool {
    let ctr = [idx, step as u32, (step >> 32) as u32, layer];
    let key = [seed as u32, (seed >> 32) as u32];
    u32_to_unit_f32(philox4x32_10(ctr, key)[0]) >= p
}

/// out[j] = x[j]·(1/(1 − p)) where element j is kept, else 0 (inverted
/// dropout, as PyTorch trains). In place: x is overwritten.
///
/// x (B,H)
pub fn dropout_forward(x: &mut [f32], p: f32, seed: u64, step: u64, layer: DropoutLayer) {
    let scale = 1.0 / (1.0 - p);
    for (j, v) in x.iter_mut().enumerate() {
        *v = if dropout_keep(seed, step, layer, j as u32, p) {
            *v * scale
        } else {
            0.0
        };
    }
}

/// dx[j] = dout[j]·(1/(1 − p)) where element j was kept, else 0. The mask is
/// drawn again from the same counter, not stored. In place.
///
/// dout (B,H)
pub fn dropout_backward(dout: &mut [f32], p: f32, seed: u64, step: u64, layer: DropoutLayer) {
    dropout_forward(dout, p, seed, step, layer)
}

// ---------------------------------------------------------------- sparse SGD

mod ranking;
mod ranking_kernels;
mod sparse;
pub use ranking::*;
pub use sparse::*;
