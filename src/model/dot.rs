//! `EmbeddingDot`: pred = Σ_k u[user,k]·m[item,k].

// The docs write formulas with indexing, which rustdoc would read as links.
#![allow(rustdoc::broken_intra_doc_links)]

use crate::model::{split, split_mut, DropoutKey, Model, ModelSpec, Workspace};
use crate::ops::{dot_backward, dot_forward, embedding_gather, embedding_scatter_add};

/// A plain dot product of user and movie embeddings.
pub struct Dot;

impl Model for Dot {
    fn class_name(&self) -> &'static str {
        "EmbeddingDot"
    }

    fn tensors(&self, spec: &ModelSpec) -> Vec<(&'static str, Vec<usize>, (f32, f32))> {
        let (e, f) = (spec.emb_init, spec.factors);
        vec![("u", vec![spec.n_users, f], e), ("m", vec![spec.n_items, f], e)]
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
        let [u, m] = split(params, spec.lens());
        embedding_gather(&mut ws.u, u, users, f);
        embedding_gather(&mut ws.m, m, items, f);
        dot_forward(&mut ws.pred, &ws.u, &ws.m, f);
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
        let [gu, gm] = split_mut(grads, spec.lens());
        dot_backward(&mut ws.du, &mut ws.dm, &ws.dpred, &ws.u, &ws.m, f);
        embedding_scatter_add(gu, &ws.du, users, f);
        embedding_scatter_add(gm, &ws.dm, items, f);
    }

    fn describe(&self, spec: &ModelSpec) -> String {
        let (nu, ni, f) = (spec.n_users, spec.n_items, spec.factors);
        format!("EmbeddingDot(u: Embedding({nu}, {f}), m: Embedding({ni}, {f}))")
    }
}
