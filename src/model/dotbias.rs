//! `EmbeddingDotBias`: pred = sigmoid(Σ u·m + ub[user] + mb[item])·(max−min) + min.

// The docs write formulas with indexing, which rustdoc would read as links.
#![allow(rustdoc::broken_intra_doc_links)]

use crate::model::{Act::*, DropoutKey, Model, ModelSpec, Ops, Param, Rows::*};

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

    fn forward<O: Ops>(
        &self,
        spec: &ModelSpec,
        o: &mut O,
        _dropout: Option<DropoutKey>,
    ) -> Result<(), O::Err> {
        let f = spec.factors;
        let (lo, hi) = spec.y_range;
        let [u, m, ub, mb] = [0, 1, 2, 3].map(Param);
        o.embedding_gather(U, u, Users, f)?;
        o.embedding_gather(M, m, Items, f)?;
        o.dot_forward(X, U, M, f)?;
        o.bias_add(X, ub, Users)?;
        o.bias_add(X, mb, Items)?;
        o.sigmoid_range_forward(Pred, X, lo, hi)
    }

    fn backward<O: Ops>(
        &self,
        spec: &ModelSpec,
        o: &mut O,
        _dropout: Option<DropoutKey>,
    ) -> Result<(), O::Err> {
        let f = spec.factors;
        let (lo, hi) = spec.y_range;
        let [u, m, ub, mb] = [0, 1, 2, 3].map(Param);
        o.sigmoid_range_backward(Dx, DPred, X, lo, hi)?;
        o.embedding_scatter_add(ub, Dx, Users, 1)?;
        o.embedding_scatter_add(mb, Dx, Items, 1)?;
        o.dot_backward(Du, Dm, Dx, U, M, f)?;
        o.embedding_scatter_add(u, Du, Users, f)?;
        o.embedding_scatter_add(m, Dm, Items, f)
    }

    fn describe(&self, spec: &ModelSpec) -> String {
        let (nu, ni, f) = (spec.n_users, spec.n_items, spec.factors);
        format!(
            "EmbeddingDotBias(u: Embedding({nu}, {f}), m: Embedding({ni}, {f}), ub: Embedding({nu}, 1), mb: Embedding({ni}, 1))"
        )
    }
}
