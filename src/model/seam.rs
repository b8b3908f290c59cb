//! The ops seam: the one interface a model's forward and backward are
//! written against, so that each model's math is written once.
//!
//! A model file calls [`Ops`] methods, which carry the names and arguments
//! of the CPU functions in [`crate::ops`] and of their kernels in
//! `kernels/*.cu`, with handles in place of slices:
//!
//! - [`Act`]: one of the batch's activations or their gradients (the
//!   [`Workspace`]'s tensors, a row a rating);
//! - [`Param`]: one of the model's parameter tensors, by its index in
//!   [`ModelSpec::tensors`], and as an output its gradient;
//! - [`Rows`]: the batch's user or item indices.
//!
//! Two backends implement it: [`HostOps`] here, over host slices, and the
//! CUDA backend's `DeviceOps` (`backend/cuda/seam.rs`), which enqueues the
//! same op's kernel on the device. A new model is a new file against this
//! trait; neither backend changes.

use std::mem::take;

use crate::model::{ModelSpec, Workspace};
use crate::ops::{self, DropoutLayer};

/// One of a batch's activations (or their gradients), a row per rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// Gathered user rows (B,F).
    U,
    /// Gathered item rows (B,F).
    M,
    /// The pre-activation (B): the dot product plus biases, or lin2's output.
    X,
    /// Predictions (B).
    Pred,
    /// dL/dpred (B).
    DPred,
    /// dL/dx (B).
    Dx,
    /// dL/du (B,F).
    Du,
    /// dL/dm (B,F).
    Dm,
    /// Net: concatenated embeddings after dropout (B,2F).
    Cat,
    /// Net: hidden activations after ReLU, before dropout (B,H).
    H,
    /// Net: hidden activations after dropout (B,H).
    HDrop,
    /// Net: dL/dh (B,H).
    Dh,
    /// Net: dL/d(lin1's output) (B,H).
    DhPre,
    /// Net: dL/dcat (B,2F).
    Dcat,
}

impl Act {
    /// Every activation, in the order of this enum (the device workspace's buffer order).
    pub const ALL: [Act; 14] = [
        Act::U,
        Act::M,
        Act::X,
        Act::Pred,
        Act::DPred,
        Act::Dx,
        Act::Du,
        Act::Dm,
        Act::Cat,
        Act::H,
        Act::HDrop,
        Act::Dh,
        Act::DhPre,
        Act::Dcat,
    ];

    /// Its values per batch row for `spec`: F, 1, 2F or H; 0 for the net's
    /// tensors in a model without a hidden layer.
    pub fn width(self, spec: &ModelSpec) -> usize {
        let hidden_layer = spec.kind.has_hidden_layer();
        match self {
            Act::U | Act::M | Act::Du | Act::Dm => spec.factors,
            Act::X | Act::Pred | Act::DPred | Act::Dx => 1,
            Act::Cat | Act::Dcat if hidden_layer => 2 * spec.factors,
            Act::H | Act::HDrop | Act::Dh | Act::DhPre if hidden_layer => spec.hidden,
            _ => 0,
        }
    }
}

/// A parameter tensor by its index in [`ModelSpec::tensors`]; where an op
/// writes to one, it accumulates into that tensor's gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param(pub usize);

/// The batch's index vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    /// The batch's user indices (B).
    Users,
    /// The batch's item indices (B).
    Items,
}

/// The ops a model is written in. Each method is the op of the same name in
/// [`crate::ops`] (see there for the math), with handles for its tensors;
/// the batch size is the backend's. Outputs come first, as in `ops`.
pub trait Ops {
    /// What a failed op returns: nothing on the host, a device error on the GPU.
    type Err;

    /// `out[b] = table[idx[b]]`, rows of width `f`.
    fn embedding_gather(&mut self, out: Act, table: Param, idx: Rows, f: usize) -> Result<(), Self::Err>;
    /// `out[b] = a[b]·b[b]`, rows of width `f`.
    fn dot_forward(&mut self, out: Act, a: Act, b: Act, f: usize) -> Result<(), Self::Err>;
    /// `x[b] += bias[idx[b]]`.
    fn bias_add(&mut self, x: Act, bias: Param, idx: Rows) -> Result<(), Self::Err>;
    /// `x[b] += c[0]`.
    fn scalar_add(&mut self, x: Act, c: Param) -> Result<(), Self::Err>;
    /// `dst = src`.
    fn copy(&mut self, dst: Act, src: Act) -> Result<(), Self::Err>;
    /// `out = sigmoid(x)·(hi − lo) + lo`.
    fn sigmoid_range_forward(&mut self, out: Act, x: Act, lo: f32, hi: f32) -> Result<(), Self::Err>;
    /// `out[b] = [utable[uidx[b]], itable[iidx[b]]]`, each of width `f`.
    fn concat_gather(
        &mut self,
        out: Act,
        utable: Param,
        uidx: Rows,
        itable: Param,
        iidx: Rows,
        f: usize,
    ) -> Result<(), Self::Err>;
    /// Inverted dropout of `x` in place, from Philox keyed by (seed, step, layer).
    fn dropout_forward(
        &mut self,
        x: Act,
        p: f32,
        seed: u64,
        step: u64,
        layer: DropoutLayer,
    ) -> Result<(), Self::Err>;
    /// `out = x·wᵀ + bias`, `x` of width `in_dim`.
    fn linear_forward(
        &mut self,
        out: Act,
        x: Act,
        w: Param,
        bias: Param,
        in_dim: usize,
    ) -> Result<(), Self::Err>;
    /// `x = max(x, 0)` in place.
    fn relu_forward(&mut self, x: Act) -> Result<(), Self::Err>;

    /// `dx = dout·(hi − lo)·s(x)·(1 − s(x))`.
    fn sigmoid_range_backward(
        &mut self,
        dx: Act,
        dout: Act,
        x: Act,
        lo: f32,
        hi: f32,
    ) -> Result<(), Self::Err>;
    /// `grad[idx[b]] += drows[b]`, rows of width `f`.
    fn embedding_scatter_add(
        &mut self,
        grad: Param,
        drows: Act,
        idx: Rows,
        f: usize,
    ) -> Result<(), Self::Err>;
    /// `da[b] = dout[b]·b[b]`, `db[b] = dout[b]·a[b]`.
    fn dot_backward(
        &mut self,
        da: Act,
        db: Act,
        dout: Act,
        a: Act,
        b: Act,
        f: usize,
    ) -> Result<(), Self::Err>;
    /// `dw += doutᵀ·x`.
    fn linear_backward_weight(
        &mut self,
        dw: Param,
        dout: Act,
        x: Act,
        in_dim: usize,
    ) -> Result<(), Self::Err>;
    /// `dbias += Σ_b dout[b]`.
    fn linear_backward_bias(&mut self, dbias: Param, dout: Act) -> Result<(), Self::Err>;
    /// `dx = dout·w`.
    fn linear_backward_input(&mut self, dx: Act, dout: Act, w: Param, in_dim: usize)
        -> Result<(), Self::Err>;
    /// Dropout's backward: the forward's mask and scale applied to `dout` in place.
    fn dropout_backward(
        &mut self,
        dout: Act,
        p: f32,
        seed: u64,
        step: u64,
        layer: DropoutLayer,
    ) -> Result<(), Self::Err>;
    /// `dx = dout` where `out > 0`, else 0.
    fn relu_backward(&mut self, dx: Act, dout: Act, out: Act) -> Result<(), Self::Err>;
    /// `ugrad[uidx[b]] += dx[b, ..f]`, `igrad[iidx[b]] += dx[b, f..]`.
    fn concat_scatter_add(
        &mut self,
        ugrad: Param,
        igrad: Param,
        dx: Act,
        uidx: Rows,
        iidx: Rows,
        f: usize,
    ) -> Result<(), Self::Err>;
}

/// [`Ops`] over host slices: each op calls its function in [`crate::ops`]
/// on the [`Workspace`]'s tensors and the flat parameter and gradient
/// buffers. It cannot fail.
pub struct HostOps<'a> {
    params: &'a [f32],
    grads: &'a mut [f32],
    ranges: Vec<std::ops::Range<usize>>,
    /// Users, then items.
    idx: [&'a [u32]; 2],
    ws: &'a mut Workspace,
}

impl<'a> HostOps<'a> {
    /// Ops on a batch of (users, items) with `spec`'s `params`, accumulating
    /// into `grads` (empty for a forward pass alone).
    pub fn new(
        spec: &ModelSpec,
        params: &'a [f32],
        grads: &'a mut [f32],
        users: &'a [u32],
        items: &'a [u32],
        ws: &'a mut Workspace,
    ) -> Self {
        HostOps {
            params,
            grads,
            ranges: spec.tensors().iter().map(|t| t.range()).collect(),
            idx: [users, items],
            ws,
        }
    }

    fn param(&self, p: Param) -> &[f32] {
        &self.params[self.ranges[p.0].clone()]
    }

    /// Runs `op` with `out` taken out of the workspace, so that it can read
    /// the other tensors; `out` must not be one of them.
    fn with_out<R>(&mut self, out: Act, ins: &[Act], op: impl FnOnce(&mut [f32], &Self) -> R) -> R {
        assert!(!ins.contains(&out), "{out:?} is both an input and the output");
        let mut o = take(self.ws.act_mut(out));
        let r = op(&mut o, self);
        *self.ws.act_mut(out) = o;
        r
    }
}

impl Ops for HostOps<'_> {
    type Err = std::convert::Infallible;

    fn embedding_gather(&mut self, out: Act, table: Param, idx: Rows, f: usize) -> Result<(), Self::Err> {
        self.with_out(out, &[], |o, s| {
            ops::embedding_gather(o, s.param(table), s.idx[idx as usize], f)
        });
        Ok(())
    }

    fn dot_forward(&mut self, out: Act, a: Act, b: Act, f: usize) -> Result<(), Self::Err> {
        self.with_out(out, &[a, b], |o, s| {
            ops::dot_forward(o, s.ws.act(a), s.ws.act(b), f)
        });
        Ok(())
    }

    fn bias_add(&mut self, x: Act, bias: Param, idx: Rows) -> Result<(), Self::Err> {
        self.with_out(x, &[], |o, s| {
            ops::bias_add(o, s.param(bias), s.idx[idx as usize])
        });
        Ok(())
    }

    fn scalar_add(&mut self, x: Act, c: Param) -> Result<(), Self::Err> {
        self.with_out(x, &[], |o, s| ops::scalar_add(o, s.param(c)));
        Ok(())
    }

    fn copy(&mut self, dst: Act, src: Act) -> Result<(), Self::Err> {
        self.with_out(dst, &[src], |o, s| o.copy_from_slice(s.ws.act(src)));
        Ok(())
    }

    fn sigmoid_range_forward(&mut self, out: Act, x: Act, lo: f32, hi: f32) -> Result<(), Self::Err> {
        self.with_out(out, &[x], |o, s| {
            ops::sigmoid_range_forward(o, s.ws.act(x), lo, hi)
        });
        Ok(())
    }

    fn concat_gather(
        &mut self,
        out: Act,
        utable: Param,
        uidx: Rows,
        itable: Param,
        iidx: Rows,
        f: usize,
    ) -> Result<(), Self::Err> {
        self.with_out(out, &[], |o, s| {
            let (ui, ii) = (s.idx[uidx as usize], s.idx[iidx as usize]);
            ops::concat_gather(o, s.param(utable), ui, s.param(itable), ii, f)
        });
        Ok(())
    }

    fn dropout_forward(
        &mut self,
        x: Act,
        p: f32,
        seed: u64,
        step: u64,
        layer: DropoutLayer,
    ) -> Result<(), Self::Err> {
        ops::dropout_forward(self.ws.act_mut(x), p, seed, step, layer);
        Ok(())
    }

    fn linear_forward(
        &mut self,
        out: Act,
        x: Act,
        w: Param,
        bias: Param,
        in_dim: usize,
    ) -> Result<(), Self::Err> {
        self.with_out(out, &[x], |o, s| {
            ops::linear_forward(o, s.ws.act(x), s.param(w), s.param(bias), in_dim)
        });
        Ok(())
    }

    fn relu_forward(&mut self, x: Act) -> Result<(), Self::Err> {
        ops::relu_forward(self.ws.act_mut(x));
        Ok(())
    }

    fn sigmoid_range_backward(
        &mut self,
        dx: Act,
        dout: Act,
        x: Act,
        lo: f32,
        hi: f32,
    ) -> Result<(), Self::Err> {
        self.with_out(dx, &[dout, x], |o, s| {
            ops::sigmoid_range_backward(o, s.ws.act(dout), s.ws.act(x), lo, hi)
        });
        Ok(())
    }

    fn embedding_scatter_add(
        &mut self,
        grad: Param,
        drows: Act,
        idx: Rows,
        f: usize,
    ) -> Result<(), Self::Err> {
        let g = &mut self.grads[self.ranges[grad.0].clone()];
        ops::embedding_scatter_add(g, self.ws.act(drows), self.idx[idx as usize], f);
        Ok(())
    }

    fn dot_backward(
        &mut self,
        da: Act,
        db: Act,
        dout: Act,
        a: Act,
        b: Act,
        f: usize,
    ) -> Result<(), Self::Err> {
        let ins = [dout, a, b];
        assert!(
            da != db && !ins.contains(&da) && !ins.contains(&db),
            "{da:?}, {db:?} alias"
        );
        let (mut oa, mut ob) = (take(self.ws.act_mut(da)), take(self.ws.act_mut(db)));
        ops::dot_backward(
            &mut oa,
            &mut ob,
            self.ws.act(dout),
            self.ws.act(a),
            self.ws.act(b),
            f,
        );
        (*self.ws.act_mut(da), *self.ws.act_mut(db)) = (oa, ob);
        Ok(())
    }

    fn linear_backward_weight(
        &mut self,
        dw: Param,
        dout: Act,
        x: Act,
        in_dim: usize,
    ) -> Result<(), Self::Err> {
        let g = &mut self.grads[self.ranges[dw.0].clone()];
        ops::linear_backward_weight(g, self.ws.act(dout), self.ws.act(x), in_dim);
        Ok(())
    }

    fn linear_backward_bias(&mut self, dbias: Param, dout: Act) -> Result<(), Self::Err> {
        let g = &mut self.grads[self.ranges[dbias.0].clone()];
        ops::linear_backward_bias(g, self.ws.act(dout));
        Ok(())
    }

    fn linear_backward_input(
        &mut self,
        dx: Act,
        dout: Act,
        w: Param,
        in_dim: usize,
    ) -> Result<(), Self::Err> {
        self.with_out(dx, &[dout], |o, s| {
            ops::linear_backward_input(o, s.ws.act(dout), s.param(w), in_dim)
        });
        Ok(())
    }

    fn dropout_backward(
        &mut self,
        dout: Act,
        p: f32,
        seed: u64,
        step: u64,
        layer: DropoutLayer,
    ) -> Result<(), Self::Err> {
        ops::dropout_backward(self.ws.act_mut(dout), p, seed, step, layer);
        Ok(())
    }

    fn relu_backward(&mut self, dx: Act, dout: Act, out: Act) -> Result<(), Self::Err> {
        self.with_out(dx, &[dout, out], |o, s| {
            ops::relu_backward(o, s.ws.act(dout), s.ws.act(out))
        });
        Ok(())
    }

    fn concat_scatter_add(
        &mut self,
        ugrad: Param,
        igrad: Param,
        dx: Act,
        uidx: Rows,
        iidx: Rows,
        f: usize,
    ) -> Result<(), Self::Err> {
        let (ru, ri) = (self.ranges[ugrad.0].clone(), self.ranges[igrad.0].clone());
        let [gu, gi] = self
            .grads
            .get_disjoint_mut([ru, ri])
            .unwrap_or_else(|e| panic!("the gradients of {ugrad:?} and {igrad:?} overlap: {e}"));
        let (ui, ii) = (self.idx[uidx as usize], self.idx[iidx as usize]);
        ops::concat_scatter_add(gu, gi, self.ws.act(dx), ui, ii, f);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ModelConfig, ModelKind};

    fn spec(kind: ModelKind) -> ModelSpec {
        ModelSpec {
            config: ModelConfig {
                kind,
                factors: 3,
                hidden: 5,
                emb_init: (-0.1, 0.1),
                dropout: (0.1, 0.2),
            },
            n_users: 4,
            n_items: 6,
            y_range: (0.5, 5.0),
        }
    }

    #[test]
    fn act_all_is_in_discriminant_order() {
        // The device workspace indexes its buffers by `a as usize`.
        for (i, a) in Act::ALL.into_iter().enumerate() {
            assert_eq!(a as usize, i, "{a:?}");
        }
    }

    #[test]
    fn widths_follow_the_model() {
        let (dot, net) = (spec(ModelKind::Dot), spec(ModelKind::Net));
        assert_eq!(
            (Act::U.width(&dot), Act::Pred.width(&dot), Act::Cat.width(&dot)),
            (3, 1, 0)
        );
        assert_eq!(
            (Act::Cat.width(&net), Act::HDrop.width(&net), Act::Dm.width(&net)),
            (6, 5, 3)
        );
    }

    #[test]
    #[should_panic(expected = "both an input and the output")]
    fn host_ops_refuse_an_output_that_is_an_input() {
        let s = spec(ModelKind::Dot);
        let params = s.init_params(&mut crate::rng::Mt19937::new(1));
        let mut ws = Workspace::default();
        let (users, items) = ([0u32, 1], [2u32, 3]);
        s.forward(&params, &users, &items, &mut ws, None);
        let mut o = HostOps::new(&s, &params, &mut [], &users, &items, &mut ws);
        let _ = o.dot_forward(Act::U, Act::U, Act::M, 3);
    }

    /// Every op of the seam is a function of `ops` and a kernel of
    /// `kernels/` by the same name: all but `copy` (a memcpy on the device)
    /// and `scalar_add` (svd's alone, which the GPU trains by sparse SGD).
    #[test]
    fn every_op_has_its_cpu_twin_and_its_kernel() {
        let root = env!("CARGO_MANIFEST_DIR");
        let read = |p: &str| std::fs::read_to_string(format!("{root}/{p}")).unwrap();
        let seam = read("src/model/seam.rs");
        let trait_body =
            &seam[seam.find("pub trait Ops {").unwrap()..seam.find("pub struct HostOps").unwrap()];
        let ops = read("src/ops.rs");
        let mut kernels = String::new();
        for e in std::fs::read_dir(format!("{root}/kernels")).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_some_and(|x| x == "cu") {
                kernels += &std::fs::read_to_string(path).unwrap();
            }
        }
        let names: Vec<&str> = trait_body
            .split("fn ")
            .skip(1)
            .map(|t| t.split('(').next().unwrap())
            .filter(|&n| n != "copy")
            .collect();
        assert_eq!(names.len(), 18, "{names:?}");
        for n in names {
            assert!(ops.contains(&format!("pub fn {n}(")), "ops.rs has no {n}");
            let kernel = n == "scalar_add"
                || kernels
                    .lines()
                    .any(|l| l.contains("__global__") && l.contains(&format!(" {n}(")));
            assert!(kernel, "kernels/*.cu has no kernel {n}");
        }
    }
}
