//! [`DeviceOps`]: the ops seam ([`crate::model::Ops`]) over device buffers,
//! so that the op-by-op path runs each model's one forward and backward
//! (`src/model/`), a kernel an op; and [`DeviceWorkspace`], the batch's
//! activations on the device that its [`Act`] handles name.

use std::ops::Range;

use cudarc::driver::{CudaSlice, CudaView, CudaViewMut};

use crate::backend::cuda::{cuda_err, Gpu};
use crate::error::{Error, Result};
use crate::model::{Act, DropoutKey, ModelSpec, Ops, Param, Rows};
use crate::ops::DropoutLayer;

/// The dense backend does not train the svd model: that is the sparse one's job.
pub(crate) fn no_svd() -> Error {
    Error::Device {
        device: "cuda".into(),
        msg:
            "the svd model trains by sparse SGD (crate::backend::cuda::sparse), not in the dense CUDA backend"
                .into(),
    }
}

/// Per-batch activations on the device, one buffer per [`Act`] (in
/// [`Act::ALL`]'s order), each sized for `cap` rows of its width; the net's
/// buffers are empty for the other models.
pub(crate) struct DeviceWorkspace {
    /// Rows each buffer holds.
    pub cap: usize,
    bufs: Vec<CudaSlice<f32>>,
}

impl DeviceWorkspace {
    /// Buffers for `cap` rows of `spec`'s activations.
    pub fn new(gpu: &Gpu, cap: usize, spec: &ModelSpec) -> Result<Self> {
        let bufs = Act::ALL
            .iter()
            .map(|a| gpu.zeros(cap * a.width(spec)))
            .collect::<Result<_>>()?;
        Ok(DeviceWorkspace { cap, bufs })
    }

    /// The buffer `a` names (all `cap` rows of it).
    pub fn buf(&self, a: Act) -> &CudaSlice<f32> {
        &self.bufs[a as usize]
    }

    /// The buffers `acts` name, to write; they must differ.
    fn bufs<const N: usize>(&mut self, acts: [Act; N]) -> Result<[&mut CudaSlice<f32>; N]> {
        self.bufs
            .get_disjoint_mut(acts.map(|a| a as usize))
            .map_err(|e| Error::invalid("ops", format!("the activations {acts:?} alias: {e}")))
    }

    /// `out`, to write, beside `input`: the loss's (dpred, pred) pair.
    pub fn pair(&mut self, out: Act, input: Act) -> Result<(&mut CudaSlice<f32>, &CudaSlice<f32>)> {
        let [o, i] = self.bufs([out, input])?;
        Ok((o, i))
    }
}

/// The batch's shape: its rows, and each activation's width ([`Act::width`]).
#[derive(Clone, Copy)]
struct Shape {
    batch: usize,
    widths: [usize; Act::ALL.len()],
}

impl Shape {
    /// The values of `a` this batch uses: its first `batch` rows.
    fn len(self, a: Act) -> usize {
        self.batch * self.widths[a as usize]
    }
}

/// [`Ops`] on the device: each op launches its kernel (the wrapper of the
/// same name on [`Gpu`]) on the first `batch` rows of the workspace, the
/// parameters and, in a backward pass, the gradients.
struct DeviceOps<'a> {
    gpu: &'a Gpu,
    params: &'a CudaSlice<f32>,
    /// `None` in a forward pass alone.
    grads: Option<&'a mut CudaSlice<f32>>,
    /// Each tensor's range in `params` and `grads` (`spec.tensors()` order).
    ranges: &'a [Range<usize>],
    ws: &'a mut DeviceWorkspace,
    /// Users, then items.
    idx: [&'a CudaView<'a, u32>; 2],
    shape: Shape,
    /// Scatter the gradients in the CPU's order, without atomics (`--deterministic`).
    det: bool,
}

/// The op-by-op path's state: the batch's activations, each tensor's range
/// in the flat parameters, and how gradients are scattered. Its forward and
/// backward run the model's own passes ([`crate::model::ModelKind::forward`])
/// through [`DeviceOps`].
pub(crate) struct OpByOp {
    /// The batch's activations.
    pub ws: DeviceWorkspace,
    ranges: Vec<Range<usize>>,
    /// Scatter in the CPU's order, without atomics (`--deterministic`).
    det: bool,
}

impl OpByOp {
    /// The state for batches of up to `cap` rows of `spec`.
    pub fn new(gpu: &Gpu, spec: &ModelSpec, cap: usize, det: bool) -> Result<Self> {
        if !spec.kind.batched() {
            return Err(no_svd());
        }
        Ok(OpByOp {
            ws: DeviceWorkspace::new(gpu, cap, spec)?,
            ranges: spec.tensors().iter().map(|t| t.range()).collect(),
            det,
        })
    }

    /// Grows the workspace to hold `batch` rows.
    pub fn fit(&mut self, gpu: &Gpu, spec: &ModelSpec, batch: usize) -> Result<()> {
        if batch > self.ws.cap {
            self.ws = DeviceWorkspace::new(gpu, batch, spec)?;
        }
        Ok(())
    }

    /// The model's forward pass on (users, items); the predictions land in
    /// [`Act::Pred`]. `dropout` is `Some` in training mode (the net only).
    pub fn forward(
        &mut self,
        gpu: &Gpu,
        spec: &ModelSpec,
        params: &CudaSlice<f32>,
        rows: (&CudaView<'_, u32>, &CudaView<'_, u32>),
        dropout: Option<DropoutKey>,
    ) -> Result<()> {
        let mut o = self.ops(gpu, spec, params, None, rows)?;
        spec.kind.forward(spec, &mut o, dropout)
    }

    /// The MSE loss of the last forward pass against `targets` (B): its
    /// gradient into [`Act::DPred`], the batch's mean loss into `loss[0]`.
    pub fn mse_loss_grad(
        &mut self,
        gpu: &Gpu,
        loss: &mut CudaViewMut<'_, f32>,
        targets: &CudaView<'_, f32>,
    ) -> Result<()> {
        let b = targets.len();
        let (dpred, pred) = self.ws.pair(Act::DPred, Act::Pred)?;
        gpu.mse_loss_grad(&mut dpred.slice_mut(..b), loss, &pred.slice(..b), targets)
    }

    /// The model's backward pass from [`Act::DPred`], after the forward
    /// pass on the same rows; accumulates into `grads`.
    pub fn backward(
        &mut self,
        gpu: &Gpu,
        spec: &ModelSpec,
        (params, grads): (&CudaSlice<f32>, &mut CudaSlice<f32>),
        rows: (&CudaView<'_, u32>, &CudaView<'_, u32>),
        dropout: Option<DropoutKey>,
    ) -> Result<()> {
        let mut o = self.ops(gpu, spec, params, Some(grads), rows)?;
        spec.kind.backward(spec, &mut o, dropout)
    }

    /// The ops on a batch of (users, items); `grads` is `None` for a
    /// forward pass alone.
    fn ops<'a>(
        &'a mut self,
        gpu: &'a Gpu,
        spec: &ModelSpec,
        params: &'a CudaSlice<f32>,
        grads: Option<&'a mut CudaSlice<f32>>,
        (users, items): (&'a CudaView<'a, u32>, &'a CudaView<'a, u32>),
    ) -> Result<DeviceOps<'a>> {
        let batch = users.len();
        if items.len() != batch || batch > self.ws.cap {
            return Err(Error::invalid(
                "batch",
                format!(
                    "{batch} users and {} items for a workspace of {}",
                    items.len(),
                    self.ws.cap
                ),
            ));
        }
        Ok(DeviceOps {
            gpu,
            params,
            grads,
            ranges: &self.ranges,
            ws: &mut self.ws,
            idx: [users, items],
            shape: Shape {
                batch,
                widths: Act::ALL.map(|a| a.width(spec)),
            },
            det: self.det,
        })
    }
}

impl<'a> DeviceOps<'a> {
    fn param(&self, p: Param) -> CudaView<'a, f32> {
        self.params.slice(self.ranges[p.0].clone())
    }
}

/// The gradient at `r`, to accumulate into; an error in a forward pass.
fn grad_view<'g>(
    grads: &'g mut Option<&mut CudaSlice<f32>>,
    r: Range<usize>,
) -> Result<CudaViewMut<'g, f32>> {
    let g = grads
        .as_deref_mut()
        .ok_or_else(|| Error::invalid("ops", "a backward op in a forward pass: no gradients"))?;
    Ok(g.slice_mut(r))
}

impl Ops for DeviceOps<'_> {
    type Err = Error;

    fn embedding_gather(&mut self, out: Act, table: Param, idx: Rows, f: usize) -> Result<()> {
        let (n, table) = (self.shape.len(out), self.param(table));
        let [o] = self.ws.bufs([out])?;
        self.gpu
            .embedding_gather(&mut o.slice_mut(..n), &table, self.idx[idx as usize], f)
    }

    fn dot_forward(&mut self, out: Act, a: Act, b: Act, f: usize) -> Result<()> {
        let s = self.shape;
        let [o, a_, b_] = self.ws.bufs([out, a, b])?;
        let (a_, b_) = (a_.slice(..s.len(a)), b_.slice(..s.len(b)));
        self.gpu
            .dot_forward(&mut o.slice_mut(..s.len(out)), &a_, &b_, s.batch, f)
    }

    fn bias_add(&mut self, x: Act, bias: Param, idx: Rows) -> Result<()> {
        let (n, bias) = (self.shape.len(x), self.param(bias));
        let [x] = self.ws.bufs([x])?;
        self.gpu
            .bias_add(&mut x.slice_mut(..n), &bias, self.idx[idx as usize])
    }

    fn scalar_add(&mut self, _x: Act, _c: Param) -> Result<()> {
        // Only the svd model adds a scalar, and it trains on the sparse path.
        Err(no_svd())
    }

    fn copy(&mut self, dst: Act, src: Act) -> Result<()> {
        let n = self.shape.len(dst);
        let [d, s] = self.ws.bufs([dst, src])?;
        self.gpu
            .stream
            .memcpy_dtod(&s.slice(..n), &mut d.slice_mut(..n))
            .map_err(|e| cuda_err("copy", e))
    }

    fn sigmoid_range_forward(&mut self, out: Act, x: Act, lo: f32, hi: f32) -> Result<()> {
        let s = self.shape;
        let [o, x_] = self.ws.bufs([out, x])?;
        self.gpu.sigmoid_range_forward(
            &mut o.slice_mut(..s.len(out)),
            &x_.slice(..s.len(x)),
            lo,
            hi,
            s.batch,
        )
    }

    fn concat_gather(
        &mut self,
        out: Act,
        utable: Param,
        uidx: Rows,
        itable: Param,
        iidx: Rows,
        f: usize,
    ) -> Result<()> {
        let (n, ut, it) = (self.shape.len(out), self.param(utable), self.param(itable));
        let [o] = self.ws.bufs([out])?;
        let (ui, ii) = (self.idx[uidx as usize], self.idx[iidx as usize]);
        self.gpu.concat_gather(&mut o.slice_mut(..n), &ut, ui, &it, ii, f)
    }

    fn dropout_forward(&mut self, x: Act, p: f32, seed: u64, step: u64, layer: DropoutLayer) -> Result<()> {
        let n = self.shape.len(x);
        let [x] = self.ws.bufs([x])?;
        self.gpu
            .dropout_forward(&mut x.slice_mut(..n), p, seed, step, layer)
    }

    fn linear_forward(&mut self, out: Act, x: Act, w: Param, bias: Param, in_dim: usize) -> Result<()> {
        let (s, w, bias) = (self.shape, self.param(w), self.param(bias));
        let [o, x_] = self.ws.bufs([out, x])?;
        let x_ = x_.slice(..s.len(x));
        self.gpu
            .linear_forward(&mut o.slice_mut(..s.len(out)), &x_, &w, &bias, s.batch, in_dim)
    }

    fn relu_forward(&mut self, x: Act) -> Result<()> {
        let n = self.shape.len(x);
        let [x] = self.ws.bufs([x])?;
        self.gpu.relu_forward(&mut x.slice_mut(..n))
    }

    fn sigmoid_range_backward(&mut self, dx: Act, dout: Act, x: Act, lo: f32, hi: f32) -> Result<()> {
        let s = self.shape;
        let [d, g, x_] = self.ws.bufs([dx, dout, x])?;
        let (g, x_) = (g.slice(..s.len(dout)), x_.slice(..s.len(x)));
        self.gpu
            .sigmoid_range_backward(&mut d.slice_mut(..s.len(dx)), &g, &x_, lo, hi, s.batch)
    }

    fn embedding_scatter_add(&mut self, grad: Param, drows: Act, idx: Rows, f: usize) -> Result<()> {
        let (n, det, gpu, rows) = (self.shape.len(drows), self.det, self.gpu, self.idx[idx as usize]);
        let drows = self.ws.buf(drows).slice(..n);
        let mut g = grad_view(&mut self.grads, self.ranges[grad.0].clone())?;
        // Atomics, or (with --deterministic) the CPU's order without them.
        match det {
            true => gpu.embedding_scatter_add_det(&mut g, &drows, rows, f, f, 0),
            false => gpu.embedding_scatter_add(&mut g, &drows, rows, f),
        }
    }

    fn dot_backward(&mut self, da: Act, db: Act, dout: Act, a: Act, b: Act, f: usize) -> Result<()> {
        let s = self.shape;
        let [da_, db_, g, a_, b_] = self.ws.bufs([da, db, dout, a, b])?;
        let (g, a_, b_) = (g.slice(..s.len(dout)), a_.slice(..s.len(a)), b_.slice(..s.len(b)));
        let (mut da_, mut db_) = (da_.slice_mut(..s.len(da)), db_.slice_mut(..s.len(db)));
        self.gpu
            .dot_backward(&mut da_, &mut db_, &g, &a_, &b_, s.batch, f)
    }

    fn linear_backward_weight(&mut self, dw: Param, dout: Act, x: Act, in_dim: usize) -> Result<()> {
        let (s, gpu) = (self.shape, self.gpu);
        let (g, x_) = (
            self.ws.buf(dout).slice(..s.len(dout)),
            self.ws.buf(x).slice(..s.len(x)),
        );
        let mut dw = grad_view(&mut self.grads, self.ranges[dw.0].clone())?;
        gpu.linear_backward_weight(&mut dw, &g, &x_, s.batch, in_dim)
    }

    fn linear_backward_bias(&mut self, dbias: Param, dout: Act) -> Result<()> {
        let (s, gpu) = (self.shape, self.gpu);
        let g = self.ws.buf(dout).slice(..s.len(dout));
        let mut db = grad_view(&mut self.grads, self.ranges[dbias.0].clone())?;
        gpu.linear_backward_bias(&mut db, &g, s.batch)
    }

    fn linear_backward_input(&mut self, dx: Act, dout: Act, w: Param, in_dim: usize) -> Result<()> {
        let (s, w) = (self.shape, self.param(w));
        let [d, g] = self.ws.bufs([dx, dout])?;
        let g = g.slice(..s.len(dout));
        self.gpu
            .linear_backward_input(&mut d.slice_mut(..s.len(dx)), &g, &w, s.batch, in_dim)
    }

    fn dropout_backward(
        &mut self,
        dout: Act,
        p: f32,
        seed: u64,
        step: u64,
        layer: DropoutLayer,
    ) -> Result<()> {
        let n = self.shape.len(dout);
        let [d] = self.ws.bufs([dout])?;
        self.gpu
            .dropout_backward(&mut d.slice_mut(..n), p, seed, step, layer)
    }

    fn relu_backward(&mut self, dx: Act, dout: Act, out: Act) -> Result<()> {
        let s = self.shape;
        let [d, g, o] = self.ws.bufs([dx, dout, out])?;
        let (g, o) = (g.slice(..s.len(dout)), o.slice(..s.len(out)));
        self.gpu.relu_backward(&mut d.slice_mut(..s.len(dx)), &g, &o)
    }

    fn concat_scatter_add(
        &mut self,
        ugrad: Param,
        igrad: Param,
        dx: Act,
        uidx: Rows,
        iidx: Rows,
        f: usize,
    ) -> Result<()> {
        let (n, det, gpu) = (self.shape.len(dx), self.det, self.gpu);
        let (ui, ii) = (self.idx[uidx as usize], self.idx[iidx as usize]);
        let (ru, ri) = (self.ranges[ugrad.0].clone(), self.ranges[igrad.0].clone());
        let d = self.ws.buf(dx).slice(..n);
        if ru.end > ri.start {
            return Err(Error::invalid(
                "ops",
                "concat_scatter_add: the user table must come first",
            ));
        }
        let mut g = grad_view(&mut self.grads, ru.start..ri.end)?;
        let (mut lo, mut hi) = g.split_at_mut(ri.start - ru.start);
        let (mut gu, mut gi) = (lo.slice_mut(..ru.len()), hi.slice_mut(..ri.len()));
        if det {
            // The CPU's order: each half of a row through the deterministic scatter.
            gpu.embedding_scatter_add_det(&mut gu, &d, ui, f, 2 * f, 0)?;
            gpu.embedding_scatter_add_det(&mut gi, &d, ii, f, 2 * f, f)
        } else {
            gpu.concat_scatter_add(&mut gu, &mut gi, &d, ui, ii, f)
        }
    }
}
