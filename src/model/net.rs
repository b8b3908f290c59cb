//! `EmbeddingNet`: pred = sigmoid(lin2(drop2(relu(lin1(drop1([u, m]))))))·(max−min+1) + min−0.5.

// The docs write formulas with indexing, which rustdoc would read as links.
#![allow(rustdoc::broken_intra_doc_links)]

use crate::model::{Act::*, DropoutKey, Model, ModelSpec, Ops, Param, Rows::*};

/// Concatenated embeddings through a small MLP with dropout.
pub struct Net;

impl Model for Net {
    fn class_name(&self) -> &'static str {
        "EmbeddingNet"
    }

    fn tensors(&self, spec: &ModelSpec) -> Vec<(&'static str, Vec<usize>, (f32, f32))> {
        let (e, f, h, nu, ni) = (
            spec.emb_init,
            spec.factors,
            spec.hidden,
            spec.n_users,
            spec.n_items,
        );
        // PyTorch's nn.Linear default: uniform on ±1/√fan_in, weight and bias alike.
        let lin = |fan_in: usize| {
            let b = 1.0 / (fan_in as f32).sqrt();
            (-b, b)
        };
        vec![
            ("u", vec![nu, f], e),
            ("m", vec![ni, f], e),
            ("lin1.weight", vec![h, 2 * f], lin(2 * f)),
            ("lin1.bias", vec![h], lin(2 * f)),
            ("lin2.weight", vec![1, h], lin(h)),
            ("lin2.bias", vec![1], lin(h)),
        ]
    }

    fn forward<O: Ops>(
        &self,
        spec: &ModelSpec,
        o: &mut O,
        dropout: Option<DropoutKey>,
    ) -> Result<(), O::Err> {
        let f = spec.factors;
        let (lo, hi) = spec.y_range;
        let [u, m, w1, b1, w2, b2] = [0, 1, 2, 3, 4, 5].map(Param);
        o.concat_gather(Cat, u, Users, m, Items, f)?;
        if let Some(k) = dropout {
            o.dropout_forward(Cat, spec.dropout.0, k.seed, k.step, ModelSpec::DROP1)?;
        }
        o.linear_forward(H, Cat, w1, b1, 2 * f)?;
        o.relu_forward(H)?;
        o.copy(HDrop, H)?;
        if let Some(k) = dropout {
            o.dropout_forward(HDrop, spec.dropout.1, k.seed, k.step, ModelSpec::DROP2)?;
        }
        o.linear_forward(X, HDrop, w2, b2, spec.hidden)?;
        o.sigmoid_range_forward(Pred, X, lo - 0.5, hi + 0.5)
    }

    fn backward<O: Ops>(
        &self,
        spec: &ModelSpec,
        o: &mut O,
        dropout: Option<DropoutKey>,
    ) -> Result<(), O::Err> {
        let (f, h) = (spec.factors, spec.hidden);
        let (lo, hi) = spec.y_range;
        let [u, m, w1, b1, w2, b2] = [0, 1, 2, 3, 4, 5].map(Param);
        o.sigmoid_range_backward(Dx, DPred, X, lo - 0.5, hi + 0.5)?;
        o.linear_backward_weight(w2, Dx, HDrop, h)?;
        o.linear_backward_bias(b2, Dx)?;
        o.linear_backward_input(Dh, Dx, w2, h)?;
        if let Some(k) = dropout {
            o.dropout_backward(Dh, spec.dropout.1, k.seed, k.step, ModelSpec::DROP2)?;
        }
        o.relu_backward(DhPre, Dh, H)?;
        o.linear_backward_weight(w1, DhPre, Cat, 2 * f)?;
        o.linear_backward_bias(b1, DhPre)?;
        o.linear_backward_input(Dcat, DhPre, w1, 2 * f)?;
        if let Some(k) = dropout {
            o.dropout_backward(Dcat, spec.dropout.0, k.seed, k.step, ModelSpec::DROP1)?;
        }
        o.concat_scatter_add(u, m, Dcat, Users, Items, f)
    }

    fn describe(&self, spec: &ModelSpec) -> String {
        let (nu, ni, f, h) = (spec.n_users, spec.n_items, spec.factors, spec.hidden);
        format!(
            "EmbeddingNet(u: Embedding({nu}, {f}), m: Embedding({ni}, {f}), lin1: Linear({}, {h}), lin2: Linear({h}, 1), drop1: Dropout({}), drop2: Dropout({}))",
            2 * f,
            spec.dropout.0,
            spec.dropout.1
        )
    }
}
