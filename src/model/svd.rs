//! Biased matrix factorization (Funk's SVD, as Surprise and cuMF_SGD train
//! it): pred = mu + ub[user] + mb[item] + Σ_k u·m, with mu the training mean.
//! Trained by sparse SGD, one rating at a time; this dense forward and
//! backward are its reference.

// The docs write formulas with indexing, which rustdoc would read as links.
#![allow(rustdoc::broken_intra_doc_links)]

use crate::error::Error;
use crate::model::{split, Act::*, DropoutKey, Model, ModelSpec, Ops, Param, Rows::*};
use crate::ops::Factor;

/// Biased MF: a global mean, a bias per user and per movie, and a dot product.
pub struct Svd;

impl Model for Svd {
    fn class_name(&self) -> &'static str {
        "BiasedMF"
    }

    fn tensors(&self, spec: &ModelSpec) -> Vec<(&'static str, Vec<usize>, (f32, f32))> {
        let (e, f, nu, ni) = (spec.emb_init, spec.factors, spec.n_users, spec.n_items);
        // Biases start at zero, and mu is set to the training mean (see train.rs).
        vec![
            ("u", vec![nu, f], e),
            ("m", vec![ni, f], e),
            ("ub", vec![nu, 1], (0.0, 0.0)),
            ("mb", vec![ni, 1], (0.0, 0.0)),
            ("mu", vec![1], (0.0, 0.0)),
        ]
    }

    fn forward<O: Ops>(
        &self,
        spec: &ModelSpec,
        o: &mut O,
        _dropout: Option<DropoutKey>,
    ) -> Result<(), O::Err> {
        let f = spec.factors;
        let [u, m, ub, mb, mu] = [0, 1, 2, 3, 4].map(Param);
        o.embedding_gather(U, u, Users, f)?;
        o.embedding_gather(M, m, Items, f)?;
        o.dot_forward(X, U, M, f)?;
        o.bias_add(X, ub, Users)?;
        o.bias_add(X, mb, Items)?;
        o.scalar_add(X, mu)?;
        o.copy(Pred, X)
    }

    fn backward<O: Ops>(
        &self,
        spec: &ModelSpec,
        o: &mut O,
        _dropout: Option<DropoutKey>,
    ) -> Result<(), O::Err> {
        let f = spec.factors;
        let [u, m, ub, mb, mu] = [0, 1, 2, 3, 4].map(Param);
        o.linear_backward_bias(mu, DPred)?;
        o.embedding_scatter_add(ub, DPred, Users, 1)?;
        o.embedding_scatter_add(mb, DPred, Items, 1)?;
        o.dot_backward(Du, Dm, DPred, U, M, f)?;
        o.embedding_scatter_add(u, Du, Users, f)?;
        o.embedding_scatter_add(m, Dm, Items, f)
    }

    fn describe(&self, spec: &ModelSpec) -> String {
        let (nu, ni, f) = (spec.n_users, spec.n_items, spec.factors);
        format!(
            "BiasedMF(u: Embedding({nu}, {f}), m: Embedding({ni}, {f}), ub: Embedding({nu}, 1), mb: Embedding({ni}, 1), mu: global mean)"
        )
    }
}

/// The svd model's tables as the sparse path holds them: factors as `S`.
#[derive(Debug, Clone)]
pub struct SparseParams<S> {
    /// User factors (Nu,F).
    pub u: Vec<S>,
    /// Item factors (Ni,F).
    pub m: Vec<S>,
    /// User biases (Nu).
    pub ub: Vec<f32>,
    /// Item biases (Ni).
    pub mb: Vec<f32>,
    /// The global mean.
    pub mu: f32,
}

impl<S: Factor> SparseParams<S> {
    /// Splits the svd model's flat parameters (`spec.tensors()` order),
    /// rounding the factors to `S`.
    pub fn from_flat(spec: &ModelSpec, params: &[f32]) -> crate::error::Result<Self> {
        if spec.kind.batched() {
            return Err(Error::invalid("recipe", "sparse SGD trains the svd model only"));
        }
        if params.len() != spec.n_params() {
            return Err(Error::invalid(
                "params",
                format!("{} parameters for a model of {}", params.len(), spec.n_params()),
            ));
        }
        let t = spec.tensors();
        let [u, m, ub, mb, mu] = split(params, std::array::from_fn(|k| t[k].len()));
        Ok(SparseParams {
            u: u.iter().map(|&x| S::put(x)).collect(),
            m: m.iter().map(|&x| S::put(x)).collect(),
            ub: ub.to_vec(),
            mb: mb.to_vec(),
            mu: mu[0],
        })
    }

    /// The flat parameters again, factors widened to f32 (exactly).
    pub fn to_flat(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.u.len() + self.m.len() + self.ub.len() + self.mb.len() + 1);
        out.extend(self.u.iter().map(|x| x.get()));
        out.extend(self.m.iter().map(|x| x.get()));
        out.extend_from_slice(&self.ub);
        out.extend_from_slice(&self.mb);
        out.push(self.mu);
        out
    }
}
