//! The notebook's three models and biased MF (`svd`), with forward and backward written out by
//! hand, once, against the ops seam ([`seam::Ops`]), which the CPU runs over host slices
//! ([`HostOps`]) and the CUDA backend over device buffers. Each model is one file ([`dot`],
//! [`dotbias`], [`net`], [`svd`]) implementing [`Model`]; this file holds what they share: the
//! flat parameter buffer's layout ([`ModelSpec`], [`TensorInfo`]), the scratch tensors
//! ([`Workspace`]) and the loss.
//!
//! All parameters live in one flat `f32` buffer, tensor after tensor, as
//! [`ModelSpec::tensors`] lays them out. The optimizer then updates the
//! whole model in one pass, which is what a fused dense update kernel does.
//!
//! | kind | forward (B = batch, F = factors, H = hidden) |
//! |---|---|
//! | `dot` | pred = Σ_k u[user,k]·m[item,k] |
//! | `dotbias` | pred = sigmoid(Σ u·m + ub[user] + mb[item])·(max−min) + min |
//! | `net` | pred = sigmoid(lin2(drop2(relu(lin1(drop1([u, m]))))))·(max−min+1) + min−0.5 |
//! | `svd` | pred = mu + ub[user] + mb[item] + Σ_k u·m (trained by sparse SGD) |

// The docs write formulas with indexing, x[b, k], which rustdoc would read as links.
#![allow(rustdoc::broken_intra_doc_links)]

pub mod dot;
pub mod dotbias;
pub mod net;
pub mod seam;
pub mod svd;

use serde::Serialize;

use crate::data::Examples;
use crate::ops::{mse_loss_grad, mse_sum, DropoutLayer};
use crate::rng::Mt19937;
pub use seam::{Act, HostOps, Ops, Param, Rows};

/// One model: its tensors, its forward and backward passes written once
/// against the ops seam ([`Ops`]), and how PyTorch prints it. A new model is
/// a new file implementing this, plus its arms in [`ModelKind`]'s methods.
pub trait Model: Sync {
    /// PyTorch's class name.
    fn class_name(&self) -> &'static str;

    /// The parameter tensors in buffer order: name, shape, and the interval
    /// their initial values are drawn from.
    fn tensors(&self, spec: &ModelSpec) -> Vec<(&'static str, Vec<usize>, (f32, f32))>;

    /// Runs the model on a batch through `o`; the predictions land in
    /// [`Act::Pred`], and the other activations keep what the backward pass
    /// needs. `dropout` is `Some` in training mode.
    fn forward<O: Ops>(&self, spec: &ModelSpec, o: &mut O, dropout: Option<DropoutKey>) -> Result<(), O::Err>
    where
        Self: Sized;

    /// Backpropagates [`Act::DPred`] through the last forward pass (same
    /// batch, same dropout), accumulating into the parameters' gradients.
    fn backward<O: Ops>(
        &self,
        spec: &ModelSpec,
        o: &mut O,
        dropout: Option<DropoutKey>,
    ) -> Result<(), O::Err>
    where
        Self: Sized;

    /// The model printed the way PyTorch prints it.
    fn describe(&self, spec: &ModelSpec) -> String;
}

/// Which of the notebook's models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// `EmbeddingDot`: a plain dot product of user and movie embeddings.
    Dot,
    /// `EmbeddingDotBias`: dot product plus biases, squashed into the rating range.
    DotBias,
    /// `EmbeddingNet`: concatenated embeddings through a small MLP with dropout.
    Net,
    /// Biased matrix factorization (Funk's SVD, as Surprise and cuMF_SGD train
    /// it): pred = mu + ub + mb + u·m, with mu the training mean. Trained by
    /// sparse SGD, one rating at a time.
    Svd,
}

impl ModelKind {
    /// The model's code: the one place a kind maps to its file.
    pub fn model(self) -> &'static dyn Model {
        match self {
            ModelKind::Dot => &dot::Dot,
            ModelKind::DotBias => &dotbias::DotBias,
            ModelKind::Net => &net::Net,
            ModelKind::Svd => &svd::Svd,
        }
    }

    /// The model's forward pass through `o` ([`Model::forward`]).
    pub fn forward<O: Ops>(
        self,
        spec: &ModelSpec,
        o: &mut O,
        dropout: Option<DropoutKey>,
    ) -> Result<(), O::Err> {
        match self {
            ModelKind::Dot => dot::Dot.forward(spec, o, dropout),
            ModelKind::DotBias => dotbias::DotBias.forward(spec, o, dropout),
            ModelKind::Net => net::Net.forward(spec, o, dropout),
            ModelKind::Svd => svd::Svd.forward(spec, o, dropout),
        }
    }

    /// The model's backward pass through `o` ([`Model::backward`]).
    pub fn backward<O: Ops>(
        self,
        spec: &ModelSpec,
        o: &mut O,
        dropout: Option<DropoutKey>,
    ) -> Result<(), O::Err> {
        match self {
            ModelKind::Dot => dot::Dot.backward(spec, o, dropout),
            ModelKind::DotBias => dotbias::DotBias.backward(spec, o, dropout),
            ModelKind::Net => net::Net.backward(spec, o, dropout),
            ModelKind::Svd => svd::Svd.backward(spec, o, dropout),
        }
    }

    /// Whether the model has a tunable hidden-layer dropout (the net's).
    pub fn has_dropout(self) -> bool {
        self == ModelKind::Net
    }

    /// Whether the model trains on minibatches; sparse SGD (`Svd`) updates
    /// one rating at a time, so it has no batch size.
    pub fn batched(self) -> bool {
        self != ModelKind::Svd
    }

    /// PyTorch's class name.
    pub fn class_name(self) -> &'static str {
        self.model().class_name()
    }

    /// Every kind, in the order of this enum.
    pub const ALL: [ModelKind; 4] = [ModelKind::Dot, ModelKind::DotBias, ModelKind::Net, ModelKind::Svd];

    /// Its name in saved models and JSON (`dotbias`).
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Dot => "dot",
            ModelKind::DotBias => "dotbias",
            ModelKind::Net => "net",
            ModelKind::Svd => "svd",
        }
    }

    /// The kind called `name` ([`ModelKind::name`]).
    pub fn from_name(name: &str) -> Option<ModelKind> {
        ModelKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether it adds a user and an item bias to the dot product (dotbias,
    /// svd); the one-kernel epochs and the fused step read them as one more
    /// column of each row.
    pub fn has_biases(self) -> bool {
        matches!(self, ModelKind::DotBias | ModelKind::Svd)
    }

    /// Whether it scores by its factor tables alone (u·m, plus biases):
    /// everything but the net, which scores through its layers.
    pub fn scores_by_tables(self) -> bool {
        self != ModelKind::Net
    }

    /// Whether it has a hidden layer (the net's `hidden` units, and the
    /// concatenated embeddings before it).
    pub fn has_hidden_layer(self) -> bool {
        self == ModelKind::Net
    }

    /// The hand-written whole-step and whole-epoch kernels the model has on
    /// the GPU: what the CUDA backend may choose from beside running its ops
    /// one by one (`backend/cuda/path.rs` chooses).
    pub fn gpu_kernels(self) -> GpuKernels {
        match self {
            ModelKind::Dot | ModelKind::DotBias => GpuKernels {
                fused_step: true,
                lazy_sgd_epoch: true,
                adam_epoch: true,
            },
            ModelKind::Net => GpuKernels {
                fused_step: false,
                lazy_sgd_epoch: false,
                adam_epoch: true,
            },
            ModelKind::Svd => GpuKernels {
                fused_step: false,
                lazy_sgd_epoch: false,
                adam_epoch: false,
            },
        }
    }
}

/// A model's own GPU kernels beyond its ops ([`ModelKind::gpu_kernels`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpuKernels {
    /// A training step in one kernel (`mf_step_fused`, with its fused
    /// validation `mf_validate`), so that an epoch can be captured as a CUDA graph.
    pub fused_step: bool,
    /// A whole SGD epoch at a constant rate in one kernel (`mf_epoch_lazy_sgd`).
    pub lazy_sgd_epoch: bool,
    /// A whole Adam epoch in one cooperative kernel (`mf_epoch_adam`,
    /// `mf_epoch_adam_net`).
    pub adam_epoch: bool,
}

/// One named tensor inside the flat parameter buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    /// PyTorch-style name, for example `u` or `lin1.weight`.
    pub name: &'static str,
    /// Shape, row-major.
    pub shape: Vec<usize>,
    /// Start in the flat buffer.
    pub offset: usize,
    /// Initial values are drawn uniformly from `[init.0, init.1)`.
    pub init: (f32, f32),
}

impl TensorInfo {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True for a tensor with no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The tensor's range in the flat buffer.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len()
    }
}

/// What a recipe fixes about its model; the data fixes the rest ([`ModelSpec`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ModelConfig {
    /// Which model.
    pub kind: ModelKind,
    /// Embedding width (the notebook's `n_factors`).
    pub factors: usize,
    /// Hidden width of the net (`nh`); unused by the other models.
    pub hidden: usize,
    /// Embeddings (and biases) start uniform on this interval.
    pub emb_init: (f32, f32),
    /// The net's dropout probabilities (p1 on the embeddings, p2 on the hidden layer).
    pub dropout: (f32, f32),
}

/// Everything that fixes a model's shape and arithmetic: the recipe's
/// [`ModelConfig`] (whose fields read through, as `spec.factors`) and what
/// the data gives.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSpec {
    /// What the recipe fixes.
    #[serde(flatten)]
    pub config: ModelConfig,
    /// Rows of the user embedding.
    pub n_users: usize,
    /// Rows of the item embedding.
    pub n_items: usize,
    /// The data's (min, max) rating, for the sigmoid range.
    pub y_range: (f32, f32),
}

impl std::ops::Deref for ModelSpec {
    type Target = ModelConfig;

    fn deref(&self) -> &ModelConfig {
        &self.config
    }
}

/// Dropout is drawn from Philox keyed by the run's seed and the global
/// training step. `None` where a forward pass runs in eval mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropoutKey {
    /// The run's seed.
    pub seed: u64,
    /// The global step (0-based, counted over the whole run).
    pub step: u64,
}

/// Scratch tensors for one batch, reused across steps.
#[derive(Debug, Default, Clone)]
pub struct Workspace {
    /// User rows (B,F).
    pub u: Vec<f32>,
    /// Item rows (B,F).
    pub m: Vec<f32>,
    /// Pre-activation (B): the dot product plus biases, or lin2's output.
    pub x: Vec<f32>,
    /// Predictions (B).
    pub pred: Vec<f32>,
    /// Loss gradient with respect to pred (B).
    pub dpred: Vec<f32>,
    /// Gradient with respect to x (B).
    pub dx: Vec<f32>,
    /// Gradients of the gathered rows (B,F) each.
    pub du: Vec<f32>,
    /// Gradients of the gathered item rows (B,F).
    pub dm: Vec<f32>,
    /// Net: concatenated embeddings after dropout (B,2F).
    pub cat: Vec<f32>,
    /// Net: hidden activations after ReLU, before dropout (B,H).
    pub h: Vec<f32>,
    /// Net: hidden activations after dropout (B,H).
    pub h_drop: Vec<f32>,
    /// Net: gradient of the hidden layer (B,H).
    pub dh: Vec<f32>,
    /// Net: gradient of the hidden pre-activation (B,H).
    pub dh_pre: Vec<f32>,
    /// Net: gradient of the concatenated embeddings (B,2F).
    pub dcat: Vec<f32>,
}

impl Workspace {
    /// Sizes every tensor for `batch` rows of `spec`'s activations ([`Act::width`]).
    fn fit(&mut self, spec: &ModelSpec, batch: usize) {
        for a in Act::ALL {
            self.act_mut(a).resize(batch * a.width(spec), 0.0);
        }
    }

    /// The tensor `a` names.
    pub fn act(&self, a: Act) -> &Vec<f32> {
        match a {
            Act::U => &self.u,
            Act::M => &self.m,
            Act::X => &self.x,
            Act::Pred => &self.pred,
            Act::DPred => &self.dpred,
            Act::Dx => &self.dx,
            Act::Du => &self.du,
            Act::Dm => &self.dm,
            Act::Cat => &self.cat,
            Act::H => &self.h,
            Act::HDrop => &self.h_drop,
            Act::Dh => &self.dh,
            Act::DhPre => &self.dh_pre,
            Act::Dcat => &self.dcat,
        }
    }

    /// The tensor `a` names, to write.
    pub fn act_mut(&mut self, a: Act) -> &mut Vec<f32> {
        match a {
            Act::U => &mut self.u,
            Act::M => &mut self.m,
            Act::X => &mut self.x,
            Act::Pred => &mut self.pred,
            Act::DPred => &mut self.dpred,
            Act::Dx => &mut self.dx,
            Act::Du => &mut self.du,
            Act::Dm => &mut self.dm,
            Act::Cat => &mut self.cat,
            Act::H => &mut self.h,
            Act::HDrop => &mut self.h_drop,
            Act::Dh => &mut self.dh,
            Act::DhPre => &mut self.dh_pre,
            Act::Dcat => &mut self.dcat,
        }
    }
}

/// Splits `buf` into consecutive pieces of the given lengths.
pub fn split<const N: usize>(mut buf: &[f32], lens: [usize; N]) -> [&[f32]; N] {
    lens.map(|n| {
        let (head, tail) = buf.split_at(n);
        buf = tail;
        head
    })
}

impl ModelSpec {
    /// The dropout layer ids used in the Philox counter.
    pub const DROP1: DropoutLayer = 1;
    /// See [`ModelSpec::DROP1`].
    pub const DROP2: DropoutLayer = 2;

    /// The parameter tensors in buffer order.
    pub fn tensors(&self) -> Vec<TensorInfo> {
        let shapes = self.kind.model().tensors(self);
        let mut offset = 0;
        shapes
            .into_iter()
            .map(|(name, shape, init)| {
                let t = TensorInfo {
                    name,
                    shape,
                    offset,
                    init,
                };
                offset += t.len();
                t
            })
            .collect()
    }

    /// Total number of parameters.
    pub fn n_params(&self) -> usize {
        self.tensors().iter().map(TensorInfo::len).sum()
    }

    /// Fresh parameters: each tensor in order, each element
    /// `lo + (hi − lo)·random_sample()` from `rng`.
    pub fn init_params(&self, rng: &mut Mt19937) -> Vec<f32> {
        let mut params = vec![0.0; self.n_params()];
        for t in self.tensors() {
            let (lo, hi) = (t.init.0 as f64, t.init.1 as f64);
            for p in &mut params[t.range()] {
                *p = (lo + (hi - lo) * rng.random_sample()) as f32;
            }
        }
        params
    }

    /// Runs the model on a batch; the predictions land in `ws.pred`.
    /// `dropout` is `Some` in training mode (the net only).
    pub fn forward(
        &self,
        params: &[f32],
        users: &[u32],
        items: &[u32],
        ws: &mut Workspace,
        dropout: Option<DropoutKey>,
    ) {
        ws.fit(self, users.len());
        let mut o = HostOps::new(self, params, &mut [], users, items, ws);
        let Ok(()) = self.kind.forward(self, &mut o, dropout);
    }

    /// Backpropagates `ws.dpred` through the last [`forward`](Self::forward)
    /// (same batch, same dropout) and accumulates into `grads`.
    pub fn backward(
        &self,
        params: &[f32],
        grads: &mut [f32],
        users: &[u32],
        items: &[u32],
        ws: &mut Workspace,
        dropout: Option<DropoutKey>,
    ) {
        let mut o = HostOps::new(self, params, grads, users, items, ws);
        let Ok(()) = self.kind.backward(self, &mut o, dropout);
    }

    /// One training step's math: forward, MSE loss, backward. Accumulates
    /// the gradient into `grads` and returns the batch's mean loss.
    #[allow(clippy::too_many_arguments)]
    pub fn loss_and_grad(
        &self,
        params: &[f32],
        grads: &mut [f32],
        users: &[u32],
        items: &[u32],
        targets: &[f32],
        ws: &mut Workspace,
        dropout: Option<DropoutKey>,
    ) -> f32 {
        self.forward(params, users, items, ws, dropout);
        let loss = mse_loss_grad(&mut ws.dpred, &ws.pred, targets);
        self.backward(params, grads, users, items, ws, dropout);
        loss
    }

    /// The exact mean squared error over `rows`, in eval mode (no dropout),
    /// in chunks of 4,096 rows.
    pub fn mse(&self, params: &[f32], rows: &Examples, ws: &mut Workspace) -> f64 {
        let mut sum = 0.0;
        for start in (0..rows.len()).step_by(4096) {
            let end = (start + 4096).min(rows.len());
            self.forward(params, &rows.users[start..end], &rows.items[start..end], ws, None);
            sum += mse_sum(&ws.pred, &rows.ratings[start..end]);
        }
        sum / rows.len() as f64
    }

    /// Eval-mode predictions for (user, item) index pairs, in chunks of
    /// 4096 rows: raw scores, unclipped.
    pub fn predict(&self, params: &[f32], users: &[u32], items: &[u32]) -> Vec<f32> {
        let mut out = Vec::with_capacity(users.len());
        let mut ws = Workspace::default();
        for (u, i) in users.chunks(4096).zip(items.chunks(4096)) {
            self.forward(params, u, i, &mut ws, None);
            out.extend_from_slice(&ws.pred);
        }
        out
    }

    /// The model printed the way PyTorch prints it.
    pub fn describe(&self) -> String {
        self.kind.model().describe(self)
    }
}
