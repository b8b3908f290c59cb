//! `EmbeddingNet`: pred = sigmoid(lin2(drop2(relu(lin1(drop1([u, m]))))))·(max−min+1) + min−0.5.

// The docs write formulas with indexing, which rustdoc would read as links.
#![allow(rustdoc::broken_intra_doc_links)]

use crate::model::{split, split_mut, DropoutKey, Model, ModelSpec, Workspace};
use crate::ops::{
    concat_gather, concat_scatter_add, dropout_backward, dropout_forward, linear_backward_bias,
    linear_backward_input, linear_backward_weight, linear_forward, relu_backward, relu_forward,
    sigmoid_range_backward, sigmoid_range_forward,
};

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

    fn forward(
        &self,
        spec: &ModelSpec,
        params: &[f32],
        users: &[u32],
        items: &[u32],
        ws: &mut Workspace,
        dropout: Option<DropoutKey>,
    ) {
        let f = spec.factors;
        let (lo, hi) = spec.y_range;
        let [u, m, w1, b1, w2, b2] = split(params, spec.lens());
        concat_gather(&mut ws.cat, u, users, m, items, f);
        if let Some(k) = dropout {
            dropout_forward(&mut ws.cat, spec.dropout.0, k.seed, k.step, ModelSpec::DROP1);
        }
        linear_forward(&mut ws.h, &ws.cat, w1, b1, 2 * f);
        relu_forward(&mut ws.h);
        ws.h_drop.copy_from_slice(&ws.h);
        if let Some(k) = dropout {
            dropout_forward(&mut ws.h_drop, spec.dropout.1, k.seed, k.step, ModelSpec::DROP2);
        }
        linear_forward(&mut ws.x, &ws.h_drop, w2, b2, spec.hidden);
        sigmoid_range_forward(&mut ws.pred, &ws.x, lo - 0.5, hi + 0.5);
    }

    fn backward(
        &self,
        spec: &ModelSpec,
        params: &[f32],
        grads: &mut [f32],
        users: &[u32],
        items: &[u32],
        ws: &mut Workspace,
        dropout: Option<DropoutKey>,
    ) {
        let (f, h) = (spec.factors, spec.hidden);
        let (lo, hi) = spec.y_range;
        let [_, _, w1, _, w2, _] = split(params, spec.lens());
        let [gu, gm, gw1, gb1, gw2, gb2] = split_mut(grads, spec.lens());
        sigmoid_range_backward(&mut ws.dx, &ws.dpred, &ws.x, lo - 0.5, hi + 0.5);
        linear_backward_weight(gw2, &ws.dx, &ws.h_drop, h);
        linear_backward_bias(gb2, &ws.dx);
        linear_backward_input(&mut ws.dh, &ws.dx, w2, h);
        if let Some(k) = dropout {
            dropout_backward(&mut ws.dh, spec.dropout.1, k.seed, k.step, ModelSpec::DROP2);
        }
        relu_backward(&mut ws.dh_pre, &ws.dh, &ws.h);
        linear_backward_weight(gw1, &ws.dh_pre, &ws.cat, 2 * f);
        linear_backward_bias(gb1, &ws.dh_pre);
        linear_backward_input(&mut ws.dcat, &ws.dh_pre, w1, 2 * f);
        if let Some(k) = dropout {
            dropout_backward(&mut ws.dcat, spec.dropout.0, k.seed, k.step, ModelSpec::DROP1);
        }
        concat_scatter_add(gu, gm, &ws.dcat, users, items, f);
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
