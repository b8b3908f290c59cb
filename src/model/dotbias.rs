//! `EmbeddingDotBias`: pred = sigmoid(Σ u·m + ub[user] + mb[item])·(max−min) + min.

// The docs write formulas with indexing, which rustdoc would read as links.
#![allow(rustdoc::broken_intra_doc_links)]

use crate::model::{split, split_mut, DropoutKey, Model, ModelSpec, Workspace};
use crate::ops::{
    bias_add, dot_backward, dot_forward, embedding_gather, embedding_scatter_add, sigmoid_range_backward,
    sigmoid_range_forward,
};

/// The dot product plus a bias per user and per movie, squashed into the rating range.
pub struct DotBias;

impl Model for DotBias {
    fn class_name(&self) -> &'static str {
        "EmbeddingDotBias"
    }

    fn tensors(&self, spec: &ModelSpec) -> Vec<(&'static str, Vec<usize>, (f32, f32))> {
        let (e, f, nu, ni) = (spec.emb_init, spec.factors, spec.n_users, spec.n_items);
        vec![
            ("u", vec![nu, f], e),
            ("m", vec![ni, f], e),
            ("ub", vec![nu, 1], e),
            ("mb", vec![ni, 1], e),
        ]
    }

    fn forward(
        &self,
        spec: &ModelSpec,
        params: &[f32],
        users: &[u32],
        items: &[u32],
        ws: &mut Workspace,
        _dropout: Option<DropoutKey>,
    ) {
        let f = spec.factors;
        let (lo, hi) = spec.y_range;
        let [u, m, ub, mb] = split(params, spec.lens());
        embedding_gather(&mut ws.u, u, users, f);
        embedding_gather(&mut ws.m, m, items, f);
        dot_forward(&mut ws.x, &ws.u, &ws.m, f);
        bias_add(&mut ws.x, ub, users);
        bias_add(&mut ws.x, mb, items);
        sigmoid_range_forward(&mut ws.pred, &ws.x, lo, hi);
    }

    fn backward(
        &self,
        spec: &ModelSpec,
        _params: &[f32],
        grads: &mut [f32],
        users: &[u32],
        items: &[u32],
        ws: &mut Workspace,
        _dropout: Option<DropoutKey>,
    ) {
        let f = spec.factors;
        let (lo, hi) = spec.y_range;
        let [gu, gm, gub, gmb] = split_mut(grads, spec.lens());
        sigmoid_range_backward(&mut ws.dx, &ws.dpred, &ws.x, lo, hi);
        embedding_scatter_add(gub, &ws.dx, users, 1);
        embedding_scatter_add(gmb, &ws.dx, items, 1);
        dot_backward(&mut ws.du, &mut ws.dm, &ws.dx, &ws.u, &ws.m, f);
        embedding_scatter_add(gu, &ws.du, users, f);
        embedding_scatter_add(gm, &ws.dm, items, f);
    }

    fn describe(&self, spec: &ModelSpec) -> String {
        let (nu, ni, f) = (spec.n_users, spec.n_items, spec.factors);
        format!(
            "EmbeddingDotBias(u: Embedding({nu}, {f}), m: Embedding({ni}, {f}), ub: Embedding({nu}, 1), mb: Embedding({ni}, 1))"
        )
    }
}
