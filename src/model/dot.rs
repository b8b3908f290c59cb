//! `EmbeddingDot`: pred = Σ_k u[user,k]·m[item,k].

// The docs write formulas with indexing, which rustdoc would read as links.
#![allow(rustdoc::broken_intra_doc_links)]

use crate::model::{Act::*, DropoutKey, Model, ModelSpec, Ops, Param, Rows::*};

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

    fn forward<O: Ops>(
        &self,
        spec: &ModelSpec,
        o: &mut O,
        _dropout: Option<DropoutKey>,
    ) -> Result<(), O::Err> {
        let f = spec.factors;
        let (u, m) = (Param(0), Param(1));
        o.embedding_gather(U, u, Users, f)?;
        o.embedding_gather(M, m, Items, f)?;
        o.dot_forward(Pred, U, M, f)
    }

    fn backward<O: Ops>(
        &self,
        spec: &ModelSpec,
        o: &mut O,
        _dropout: Option<DropoutKey>,
    ) -> Result<(), O::Err> {
        let f = spec.factors;
        let (u, m) = (Param(0), Param(1));
        o.dot_backward(Du, Dm, DPred, U, M, f)?;
        o.embedding_scatter_add(u, Du, Users, f)?;
        o.embedding_scatter_add(m, Dm, Items, f)
    }

    fn describe(&self, spec: &ModelSpec) -> String {
        let (nu, ni, f) = (spec.n_users, spec.n_items, spec.factors);
        format!("EmbeddingDot(u: Embedding({nu}, {f}), m: Embedding({ni}, {f}))")
    }
}
