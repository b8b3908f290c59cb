//! The CUDA side: opening a GPU, a Rust wrapper per kernel, and the CUDA
//! training backend.
//!
//! Every wrapper has the name and the arguments of its CPU twin in
//! [`crate::ops`], with device views in place of slices, and launches the
//! kernel of the same name in `kernels/`. The wrappers only enqueue work on
//! the GPU's stream: nothing here waits for the GPU except the explicit
//! read-backs ([`CudaBackend::train_epoch`] reads the epoch's losses once,
//! [`CudaBackend::validate`] one number).
//!
//! cudarc loads libcuda at run time. [`Gpu::open`] probes in an order that
//! never panics: kernels built in, libcuda present, a device visible, a
//! context, then the PTX loaded by the driver.

pub mod memory;
pub mod sparse;

use std::collections::HashMap;
use std::sync::Arc;

use cudarc::driver::{
    CudaContext, CudaFunction, CudaGraph, CudaModule, CudaSlice, CudaStream, CudaView, CudaViewMut,
    DeviceRepr, DriverError, LaunchConfig, PushKernelArg, ValidAsZeroBits,
};
use cudarc::nvrtc::Ptx;

use crate::backend::cuda::memory::{MemoryPlan, EVAL_CHUNK};
use crate::backend::{Backend, BackendInit, GpuOptions};
use crate::error::{Error, Result};
use crate::model::{DropoutKey, ModelKind, ModelSpec};
use crate::ops::Storage;
use crate::ops::{AdamStep, DropoutLayer, Factor};
use crate::optim::Optimizer;

mod ptx {
    include!(concat!(env!("OUT_DIR"), "/kernels.rs"));
}
pub use ptx::{BUILD_NOTE, PTX};

/// Threads per block for every kernel.
const BLOCK: u32 = 256;
/// Grid size cap; grid-stride loops cover the rest.
const MAX_BLOCKS: usize = 65_535;

/// One block per 256 elements, at least one block, at most [`MAX_BLOCKS`].
fn grid(n: usize) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (n.div_ceil(BLOCK as usize).clamp(1, MAX_BLOCKS) as u32, 1, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// Exactly one block: for kernels that reduce inside a block.
fn one_block() -> LaunchConfig {
    LaunchConfig {
        grid_dim: (1, 1, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    }
}

pub(crate) fn cuda_err(what: &str, e: DriverError) -> Error {
    Error::Cuda {
        what: what.to_string(),
        msg: e.to_string(),
    }
}

/// An `i32` kernel argument from a size; sizes past 2^31 are refused.
fn int(what: &str, n: usize) -> Result<i32> {
    i32::try_from(n).map_err(|_| Error::Cuda {
        what: what.to_string(),
        msg: format!("size {n} exceeds the kernels' 32-bit index range"),
    })
}

/// The driver's CUDA version as "major.minor".
fn driver_version() -> Option<String> {
    let mut v = 0i32;
    // SAFETY: libcuda is loaded (checked by the caller); cuDriverGetVersion
    // writes one int through the valid pointer.
    let r = unsafe { cudarc::driver::sys::cuDriverGetVersion(&mut v) };
    (r == cudarc::driver::sys::CUresult::CUDA_SUCCESS).then(|| format!("{}.{}", v / 1000, (v % 1000) / 10))
}

/// The PTX ISA version a module declares (`.version 9.0`).
fn ptx_isa(text: &str) -> &str {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(".version "))
        .map(str::trim)
        .unwrap_or("unknown")
}

macro_rules! kernels {
    ($($name:ident in $file:literal),* $(,)?) => {
        /// Every kernel function, loaded once.
        struct Kernels { $($name: CudaFunction,)* }

        impl Kernels {
            fn load(modules: &HashMap<&str, Arc<CudaModule>>) -> std::result::Result<Kernels, String> {
                Ok(Kernels { $($name: {
                    let module = modules.get($file).ok_or_else(|| format!("kernels/{}.cu was not built", $file))?;
                    module.load_function(stringify!($name)).map_err(|e| {
                        format!("kernel {} missing from kernels/{}.cu: {e}", stringify!($name), $file)
                    })?
                },)* })
            }
        }
    };
}

kernels! {
    gather_rows in "embedding",
    embedding_gather in "embedding",
    embedding_scatter_add in "embedding",
    embedding_scatter_add_det in "embedding",
    dot_forward in "dot",
    dot_backward in "dot",
    bias_add in "dot",
    sigmoid_range_forward in "sigmoid_range",
    sigmoid_range_backward in "sigmoid_range",
    mse_loss_grad in "loss",
    mse_sum in "loss",
    sgd_update in "optim",
    adam_update in "optim",
    concat_gather in "net",
    concat_scatter_add in "net",
    linear_forward in "net",
    linear_backward_input in "net",
    linear_backward_weight in "net",
    linear_backward_bias in "net",
    relu_forward in "net",
    relu_backward in "net",
    dropout_forward in "net",
    dropout_backward in "net",
    mf_step_fused in "fused",
    sgd_update_sched in "fused",
    adam_update_sched in "fused",
    mf_sgd_sparse_f32 in "sparse",
    mf_sgd_sparse_bf16 in "sparse",
    mf_sgd_sparse_f32_narrow in "sparse",
    mf_sgd_sparse_bf16_narrow in "sparse",
    mf_predict_f32 in "sparse",
    mf_predict_bf16 in "sparse",
    group_mean in "sparse",
}

/// A factor storage type ([`Factor`]) and its bits on the device: f32 as
/// f32, bf16 as the u16 that holds its bits (the kernels' `struct bf16`).
pub trait DeviceFactor: Factor {
    /// The element type of the device buffer.
    type Dev: DeviceRepr + ValidAsZeroBits + Copy + Unpin + Default + std::fmt::Debug + 'static;
    /// The device representation.
    fn to_dev(self) -> Self::Dev;
    /// Back from the device representation.
    fn from_dev(d: Self::Dev) -> Self;
}

impl DeviceFactor for f32 {
    type Dev = f32;
    fn to_dev(self) -> f32 {
        self
    }
    fn from_dev(d: f32) -> f32 {
        d
    }
}

impl DeviceFactor for half::bf16 {
    type Dev = u16;
    fn to_dev(self) -> u16 {
        self.to_bits()
    }
    fn from_dev(d: u16) -> half::bf16 {
        half::bf16::from_bits(d)
    }
}

/// The widest embedding the sparse kernels take: each lane holds at most
/// four chunks of its row in registers, four factors a chunk when `f` is a
/// multiple of 4 and one otherwise (see `kernels/sparse.cu`).
pub fn sparse_max_factors(f: usize) -> usize {
    if f % 4 == 0 {
        512
    } else {
        128
    }
}

/// An open GPU: context, stream and loaded kernels.
pub struct Gpu {
    /// The CUDA context on the opened device.
    pub ctx: Arc<CudaContext>,
    /// The stream every kernel runs on, in order.
    pub stream: Arc<CudaStream>,
    /// The device's name, compute capability and driver.
    pub description: String,
    /// Streaming multiprocessors.
    pub sm_count: usize,
    k: Kernels,
}

impl Gpu {
    /// Opens GPU `ordinal` (0 is the first), or says in one line why it
    /// cannot be used. Which GPU a command opens is decided by
    /// [`crate::backend::select::choose`].
    pub fn open(ordinal: usize) -> std::result::Result<Gpu, String> {
        if PTX.is_empty() {
            return Err(format!("this binary has no CUDA kernels ({BUILD_NOTE})"));
        }
        // SAFETY: only tries to dlopen libcuda; no CUDA call is made.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err("no NVIDIA driver found (libcuda.so cannot be loaded)".into());
        }
        let count =
            CudaContext::device_count().map_err(|e| format!("the NVIDIA driver did not initialise: {e}"))?;
        if count < 1 {
            return Err("the NVIDIA driver sees no GPU".into());
        }
        if ordinal >= count as usize {
            return Err(format!(
                "there is no GPU {ordinal}: the NVIDIA driver sees {count} (0 to {})",
                count - 1
            ));
        }
        let driver = driver_version().unwrap_or_else(|| "unknown".into());
        let ctx = CudaContext::new(ordinal)
            .map_err(|e| format!("cannot create a CUDA context on GPU {ordinal}: {e}"))?;
        // One stream, used in order: cudarc's per-buffer event tracking for
        // cross-stream safety would only add work to every launch.
        // SAFETY: called before any buffer exists; all work goes to `stream`.
        unsafe { ctx.disable_event_tracking() };
        let stream = ctx
            .new_stream()
            .map_err(|e| format!("cannot create a CUDA stream: {e}"))?;
        let mut modules = HashMap::new();
        for (stem, text) in PTX {
            let module = ctx.load_module(Ptx::from_src(*text)).map_err(|e| {
                let mut msg = format!("the driver cannot load kernels/{stem}.cu's PTX: {e}");
                if matches!(
                    e.0,
                    cudarc::driver::sys::CUresult::CUDA_ERROR_UNSUPPORTED_PTX_VERSION
                        | cudarc::driver::sys::CUresult::CUDA_ERROR_INVALID_PTX
                        | cudarc::driver::sys::CUresult::CUDA_ERROR_INVALID_IMAGE
                ) {
                    msg.push_str(&format!(
                        " (the PTX is ISA {}, built with {BUILD_NOTE}; the driver supports CUDA {driver}: \
                         update the driver, or rebuild with an older nvcc via NVCC=/path/to/nvcc)",
                        ptx_isa(text)
                    ));
                }
                msg
            })?;
            modules.insert(*stem, module);
        }
        let k = Kernels::load(&modules)?;
        let name = ctx.name().unwrap_or_else(|_| "unknown GPU".into());
        let (major, minor) = ctx.compute_capability().unwrap_or((0, 0));
        let description = format!("{name} (sm_{major}{minor}, driver CUDA {driver})");
        let sm_count = ctx
            .attribute(cudarc::driver::sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
            .map(|n| n.max(1) as usize)
            .unwrap_or(1);
        Ok(Gpu {
            ctx,
            stream,
            description,
            sm_count,
            k,
        })
    }

    /// Copies a host slice to a new device buffer.
    pub fn upload<T: DeviceRepr>(&self, host: &[T]) -> Result<CudaSlice<T>> {
        self.stream
            .clone_htod(host)
            .map_err(|e| self.alloc_err("upload", std::mem::size_of_val(host), e))
    }

    /// A new zeroed device buffer of `n` elements (at least one, so that
    /// empty tensors still have an address).
    pub fn zeros<T: DeviceRepr + ValidAsZeroBits>(&self, n: usize) -> Result<CudaSlice<T>> {
        let bytes = n.max(1) * std::mem::size_of::<T>();
        self.stream
            .alloc_zeros(n.max(1))
            .map_err(|e| self.alloc_err("alloc", bytes, e))
    }

    /// An allocation failure, in words a user can act on when it is the
    /// card's memory that ran out.
    fn alloc_err(&self, what: &str, bytes: usize, e: DriverError) -> Error {
        if e.0 != cudarc::driver::sys::CUresult::CUDA_ERROR_OUT_OF_MEMORY {
            return cuda_err(what, e);
        }
        let mib = |b: usize| b as f64 / (1 << 20) as f64;
        let (free, total) = self.ctx.mem_get_info().unwrap_or((0, 0));
        Error::Cuda {
            what: what.into(),
            msg: format!(
                "out of GPU memory: {:.0} MiB more were needed, {:.0} MiB of {:.0} MiB are free on {}; \
                 try a smaller --factors or --batch-size, or --device cpu",
                mib(bytes),
                mib(free),
                mib(total),
                self.description
            ),
        }
    }

    /// Ok when `plan` fits in the GPU's free memory; otherwise an error with
    /// the numbers and `advice`.
    pub fn ensure_fits(&self, plan: &MemoryPlan, advice: &str) -> Result<()> {
        let (free, total) = self.ctx.mem_get_info().map_err(|e| cuda_err("cuMemGetInfo", e))?;
        plan.check(free as u64, total as u64, &self.description, advice)
    }

    /// The GPU's L2 cache in bytes (0 where the driver does not say).
    pub fn l2_bytes(&self) -> usize {
        self.ctx
            .attribute(cudarc::driver::sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE)
            .map(|b| b.max(0) as usize)
            .unwrap_or(0)
    }

    /// Copies a device buffer back; this waits for the stream.
    pub fn download<T: DeviceRepr>(&self, dev: &CudaView<'_, T>) -> Result<Vec<T>> {
        self.stream.clone_dtoh(dev).map_err(|e| cuda_err("download", e))
    }

    // ------------------------------------------------------------ kernels
    // Each wrapper mirrors the CPU twin of the same name in crate::ops.

    /// See [`crate::ops::gather_rows`].
    #[allow(clippy::too_many_arguments)]
    pub fn gather_rows(
        &self,
        users_out: &mut CudaViewMut<'_, u32>,
        items_out: &mut CudaViewMut<'_, u32>,
        ratings_out: &mut CudaViewMut<'_, f32>,
        users: &CudaView<'_, u32>,
        items: &CudaView<'_, u32>,
        ratings: &CudaView<'_, f32>,
        order: &CudaView<'_, u32>,
    ) -> Result<()> {
        let n = order.len();
        assert!(users_out.len() >= n && items_out.len() >= n && ratings_out.len() >= n);
        let n_arg = int("gather_rows", n)?;
        let mut l = self.stream.launch_builder(&self.k.gather_rows);
        l.arg(users_out)
            .arg(items_out)
            .arg(ratings_out)
            .arg(users)
            .arg(items)
            .arg(ratings)
            .arg(order)
            .arg(&n_arg);
        // SAFETY: matches gather_rows(uint*, uint*, float*, const uint*, const uint*,
        // const float*, const uint*, int); outputs hold n elements and order's
        // entries index the source rows.
        unsafe { l.launch(grid(n)) }.map_err(|e| cuda_err("gather_rows", e))?;
        Ok(())
    }

    /// See [`crate::ops::embedding_gather`].
    pub fn embedding_gather(
        &self,
        out: &mut CudaViewMut<'_, f32>,
        table: &CudaView<'_, f32>,
        idx: &CudaView<'_, u32>,
        f: usize,
    ) -> Result<()> {
        let batch = idx.len();
        assert!(out.len() >= batch * f);
        let (b, f_arg) = (int("embedding_gather", batch)?, int("embedding_gather", f)?);
        let mut l = self.stream.launch_builder(&self.k.embedding_gather);
        l.arg(out).arg(table).arg(idx).arg(&b).arg(&f_arg);
        // SAFETY: matches embedding_gather(float*, const float*, const uint*, int, int);
        // out holds batch*f floats and every idx is a row of table.
        unsafe { l.launch(grid(batch * f)) }.map_err(|e| cuda_err("embedding_gather", e))?;
        Ok(())
    }

    /// See [`crate::ops::embedding_scatter_add`].
    pub fn embedding_scatter_add(
        &self,
        grad: &mut CudaViewMut<'_, f32>,
        drows: &CudaView<'_, f32>,
        idx: &CudaView<'_, u32>,
        f: usize,
    ) -> Result<()> {
        let batch = idx.len();
        assert!(drows.len() >= batch * f);
        let (b, f_arg) = (
            int("embedding_scatter_add", batch)?,
            int("embedding_scatter_add", f)?,
        );
        let mut l = self.stream.launch_builder(&self.k.embedding_scatter_add);
        l.arg(grad).arg(drows).arg(idx).arg(&b).arg(&f_arg);
        // SAFETY: matches embedding_scatter_add(float*, const float*, const uint*, int, int);
        // drows holds batch*f floats and every idx is a row of grad.
        unsafe { l.launch(grid(batch * f)) }.map_err(|e| cuda_err("embedding_scatter_add", e))?;
        Ok(())
    }

    /// [`crate::ops::embedding_scatter_add`] without atomics, in the CPU's
    /// order: bit-identical to the CPU twin on every run. `drows` rows are
    /// `row_stride` apart and start at column `col_offset`, so that the two
    /// halves of the net's (B,2F) gradient can be scattered without a copy.
    pub fn embedding_scatter_add_det(
        &self,
        grad: &mut CudaViewMut<'_, f32>,
        drows: &CudaView<'_, f32>,
        idx: &CudaView<'_, u32>,
        f: usize,
        row_stride: usize,
        col_offset: usize,
    ) -> Result<()> {
        let what = "embedding_scatter_add_det";
        let batch = idx.len();
        assert!(col_offset + f <= row_stride && drows.len() >= batch * row_stride);
        let args = [
            int(what, batch)?,
            int(what, f)?,
            int(what, row_stride)?,
            int(what, col_offset)?,
        ];
        let mut l = self.stream.launch_builder(&self.k.embedding_scatter_add_det);
        l.arg(grad)
            .arg(drows)
            .arg(idx)
            .arg(&args[0])
            .arg(&args[1])
            .arg(&args[2])
            .arg(&args[3]);
        // SAFETY: matches embedding_scatter_add_det(float*, const float*, const uint*, int, int,
        // int, int); drows holds batch rows of row_stride floats; every idx is a row of grad.
        unsafe { l.launch(grid(batch * f)) }.map_err(|e| cuda_err(what, e))?;
        Ok(())
    }

    /// See [`crate::ops::dot_forward`]; `batch` rows.
    pub fn dot_forward(
        &self,
        out: &mut CudaViewMut<'_, f32>,
        a: &CudaView<'_, f32>,
        b: &CudaView<'_, f32>,
        batch: usize,
        f: usize,
    ) -> Result<()> {
        assert!(out.len() >= batch && a.len() >= batch * f && b.len() >= batch * f);
        let (n, f_arg) = (int("dot_forward", batch)?, int("dot_forward", f)?);
        let mut l = self.stream.launch_builder(&self.k.dot_forward);
        l.arg(out).arg(a).arg(b).arg(&n).arg(&f_arg);
        // SAFETY: matches dot_forward(float*, const float*, const float*, int, int);
        // sizes asserted above.
        unsafe { l.launch(grid(batch)) }.map_err(|e| cuda_err("dot_forward", e))?;
        Ok(())
    }

    /// See [`crate::ops::dot_backward`]; `batch` rows.
    #[allow(clippy::too_many_arguments)]
    pub fn dot_backward(
        &self,
        da: &mut CudaViewMut<'_, f32>,
        db: &mut CudaViewMut<'_, f32>,
        dout: &CudaView<'_, f32>,
        a: &CudaView<'_, f32>,
        b: &CudaView<'_, f32>,
        batch: usize,
        f: usize,
    ) -> Result<()> {
        let n = batch * f;
        assert!(da.len() >= n && db.len() >= n && dout.len() >= batch && a.len() >= n && b.len() >= n);
        let (b_arg, f_arg) = (int("dot_backward", batch)?, int("dot_backward", f)?);
        let mut l = self.stream.launch_builder(&self.k.dot_backward);
        l.arg(da).arg(db).arg(dout).arg(a).arg(b).arg(&b_arg).arg(&f_arg);
        // SAFETY: matches dot_backward(float*, float*, const float*, const float*,
        // const float*, int, int); sizes asserted above.
        unsafe { l.launch(grid(n)) }.map_err(|e| cuda_err("dot_backward", e))?;
        Ok(())
    }

    /// See [`crate::ops::bias_add`].
    pub fn bias_add(
        &self,
        x: &mut CudaViewMut<'_, f32>,
        bias: &CudaView<'_, f32>,
        idx: &CudaView<'_, u32>,
    ) -> Result<()> {
        let batch = idx.len();
        assert!(x.len() >= batch);
        let b = int("bias_add", batch)?;
        let mut l = self.stream.launch_builder(&self.k.bias_add);
        l.arg(x).arg(bias).arg(idx).arg(&b);
        // SAFETY: matches bias_add(float*, const float*, const uint*, int); every idx
        // is an entry of bias.
        unsafe { l.launch(grid(batch)) }.map_err(|e| cuda_err("bias_add", e))?;
        Ok(())
    }

    /// See [`crate::ops::sigmoid_range_forward`]; `batch` rows.
    pub fn sigmoid_range_forward(
        &self,
        out: &mut CudaViewMut<'_, f32>,
        x: &CudaView<'_, f32>,
        lo: f32,
        hi: f32,
        batch: usize,
    ) -> Result<()> {
        assert!(out.len() >= batch && x.len() >= batch);
        let b = int("sigmoid_range_forward", batch)?;
        let mut l = self.stream.launch_builder(&self.k.sigmoid_range_forward);
        l.arg(out).arg(x).arg(&lo).arg(&hi).arg(&b);
        // SAFETY: matches sigmoid_range_forward(float*, const float*, float, float, int).
        unsafe { l.launch(grid(batch)) }.map_err(|e| cuda_err("sigmoid_range_forward", e))?;
        Ok(())
    }

    /// See [`crate::ops::sigmoid_range_backward`]; `batch` rows.
    pub fn sigmoid_range_backward(
        &self,
        dx: &mut CudaViewMut<'_, f32>,
        dout: &CudaView<'_, f32>,
        x: &CudaView<'_, f32>,
        lo: f32,
        hi: f32,
        batch: usize,
    ) -> Result<()> {
        assert!(dx.len() >= batch && dout.len() >= batch && x.len() >= batch);
        let b = int("sigmoid_range_backward", batch)?;
        let mut l = self.stream.launch_builder(&self.k.sigmoid_range_backward);
        l.arg(dx).arg(dout).arg(x).arg(&lo).arg(&hi).arg(&b);
        // SAFETY: matches sigmoid_range_backward(float*, const float*, const float*,
        // float, float, int).
        unsafe { l.launch(grid(batch)) }.map_err(|e| cuda_err("sigmoid_range_backward", e))?;
        Ok(())
    }

    /// See [`crate::ops::mse_loss_grad`]: the CPU twin returns the loss,
    /// the kernel writes it to `loss[0]` on the device.
    pub fn mse_loss_grad(
        &self,
        dpred: &mut CudaViewMut<'_, f32>,
        loss: &mut CudaViewMut<'_, f32>,
        pred: &CudaView<'_, f32>,
        target: &CudaView<'_, f32>,
    ) -> Result<()> {
        let batch = target.len();
        assert!(dpred.len() >= batch && pred.len() >= batch && !loss.is_empty());
        let b = int("mse_loss_grad", batch)?;
        let mut l = self.stream.launch_builder(&self.k.mse_loss_grad);
        l.arg(dpred).arg(loss).arg(pred).arg(target).arg(&b);
        // SAFETY: matches mse_loss_grad(float*, float*, const float*, const float*, int),
        // launched as the single block the kernel requires.
        unsafe { l.launch(one_block()) }.map_err(|e| cuda_err("mse_loss_grad", e))?;
        Ok(())
    }

    /// See [`crate::ops::mse_sum`]: adds Σ (pred − target)² to `out[0]`,
    /// which the caller zeroes first. `deterministic` runs one block, whose
    /// sum has the same order on every run.
    pub fn mse_sum(
        &self,
        out: &mut CudaViewMut<'_, f64>,
        pred: &CudaView<'_, f32>,
        target: &CudaView<'_, f32>,
        deterministic: bool,
    ) -> Result<()> {
        let n = target.len();
        assert!(pred.len() >= n && !out.is_empty());
        let n_arg = int("mse_sum", n)?;
        let mut l = self.stream.launch_builder(&self.k.mse_sum);
        l.arg(out).arg(pred).arg(target).arg(&n_arg);
        // SAFETY: matches mse_sum(double*, const float*, const float*, int).
        // One block sums in a fixed order; many blocks meet in a double atomicAdd.
        let cfg = if deterministic { one_block() } else { grid(n) };
        unsafe { l.launch(cfg) }.map_err(|e| cuda_err("mse_sum", e))?;
        Ok(())
    }

    /// See [`crate::ops::sgd_update`].
    pub fn sgd_update(
        &self,
        params: &mut CudaViewMut<'_, f32>,
        grads: &mut CudaViewMut<'_, f32>,
        bufs: &mut CudaViewMut<'_, f32>,
        lr: f32,
        momentum: f32,
        wd: f32,
    ) -> Result<()> {
        let n = params.len();
        assert!(grads.len() >= n && bufs.len() >= n);
        let n_arg = n as i64;
        let mut l = self.stream.launch_builder(&self.k.sgd_update);
        l.arg(params)
            .arg(grads)
            .arg(bufs)
            .arg(&lr)
            .arg(&momentum)
            .arg(&wd)
            .arg(&n_arg);
        // SAFETY: matches sgd_update(float*, float*, float*, float, float, float, long long);
        // all three buffers hold n floats.
        unsafe { l.launch(grid(n)) }.map_err(|e| cuda_err("sgd_update", e))?;
        Ok(())
    }

    /// See [`crate::ops::adam_update`].
    pub fn adam_update(
        &self,
        params: &mut CudaViewMut<'_, f32>,
        grads: &mut CudaViewMut<'_, f32>,
        m: &mut CudaViewMut<'_, f32>,
        v: &mut CudaViewMut<'_, f32>,
        s: AdamStep,
        wd: f32,
    ) -> Result<()> {
        let n = params.len();
        assert!(grads.len() >= n && m.len() >= n && v.len() >= n);
        let n_arg = n as i64;
        let mut l = self.stream.launch_builder(&self.k.adam_update);
        l.arg(params).arg(grads).arg(m).arg(v);
        l.arg(&s.beta1)
            .arg(&s.beta2)
            .arg(&s.one_minus_beta1)
            .arg(&s.one_minus_beta2)
            .arg(&s.eps);
        l.arg(&s.step_size)
            .arg(&s.bias_correction2_sqrt)
            .arg(&wd)
            .arg(&n_arg);
        // SAFETY: matches adam_update(float*, float*, float*, float*, 8 floats, long long);
        // all four buffers hold n floats.
        unsafe { l.launch(grid(n)) }.map_err(|e| cuda_err("adam_update", e))?;
        Ok(())
    }

    // ------------------------------------------------------------ the net

    /// See [`crate::ops::concat_gather`].
    pub fn concat_gather(
        &self,
        out: &mut CudaViewMut<'_, f32>,
        utable: &CudaView<'_, f32>,
        uidx: &CudaView<'_, u32>,
        itable: &CudaView<'_, f32>,
        iidx: &CudaView<'_, u32>,
        f: usize,
    ) -> Result<()> {
        let batch = uidx.len();
        assert!(iidx.len() == batch && out.len() >= batch * 2 * f);
        let (b, f_arg) = (int("concat_gather", batch)?, int("concat_gather", f)?);
        let mut l = self.stream.launch_builder(&self.k.concat_gather);
        l.arg(out)
            .arg(utable)
            .arg(uidx)
            .arg(itable)
            .arg(iidx)
            .arg(&b)
            .arg(&f_arg);
        // SAFETY: matches concat_gather(float*, const float*, const uint*, const float*,
        // const uint*, int, int); out holds batch*2f floats; indices are table rows.
        unsafe { l.launch(grid(batch * 2 * f)) }.map_err(|e| cuda_err("concat_gather", e))?;
        Ok(())
    }

    /// See [`crate::ops::concat_scatter_add`].
    #[allow(clippy::too_many_arguments)]
    pub fn concat_scatter_add(
        &self,
        ugrad: &mut CudaViewMut<'_, f32>,
        igrad: &mut CudaViewMut<'_, f32>,
        dx: &CudaView<'_, f32>,
        uidx: &CudaView<'_, u32>,
        iidx: &CudaView<'_, u32>,
        f: usize,
    ) -> Result<()> {
        let batch = uidx.len();
        assert!(iidx.len() == batch && dx.len() >= batch * 2 * f);
        let (b, f_arg) = (int("concat_scatter_add", batch)?, int("concat_scatter_add", f)?);
        let mut l = self.stream.launch_builder(&self.k.concat_scatter_add);
        l.arg(ugrad)
            .arg(igrad)
            .arg(dx)
            .arg(uidx)
            .arg(iidx)
            .arg(&b)
            .arg(&f_arg);
        // SAFETY: matches concat_scatter_add(float*, float*, const float*, const uint*,
        // const uint*, int, int); dx holds batch*2f floats; indices are table rows.
        unsafe { l.launch(grid(batch * 2 * f)) }.map_err(|e| cuda_err("concat_scatter_add", e))?;
        Ok(())
    }

    /// See [`crate::ops::linear_forward`]; `batch` rows, `out_dim` = bias length.
    pub fn linear_forward(
        &self,
        out: &mut CudaViewMut<'_, f32>,
        x: &CudaView<'_, f32>,
        w: &CudaView<'_, f32>,
        bias: &CudaView<'_, f32>,
        batch: usize,
        in_dim: usize,
    ) -> Result<()> {
        let out_dim = bias.len();
        assert!(out.len() >= batch * out_dim && x.len() >= batch * in_dim && w.len() == out_dim * in_dim);
        let what = "linear_forward";
        let (b, i, o) = (int(what, batch)?, int(what, in_dim)?, int(what, out_dim)?);
        let mut l = self.stream.launch_builder(&self.k.linear_forward);
        l.arg(out).arg(x).arg(w).arg(bias).arg(&b).arg(&i).arg(&o);
        // SAFETY: matches linear_forward(float*, const float*, const float*, const float*,
        // int, int, int); sizes asserted above.
        unsafe { l.launch(grid(batch * out_dim)) }.map_err(|e| cuda_err(what, e))?;
        Ok(())
    }

    /// See [`crate::ops::linear_backward_input`]; `batch` rows.
    pub fn linear_backward_input(
        &self,
        dx: &mut CudaViewMut<'_, f32>,
        dout: &CudaView<'_, f32>,
        w: &CudaView<'_, f32>,
        batch: usize,
        in_dim: usize,
    ) -> Result<()> {
        let out_dim = w.len() / in_dim.max(1);
        assert!(in_dim > 0 && w.len() == out_dim * in_dim);
        assert!(dx.len() >= batch * in_dim && dout.len() >= batch * out_dim);
        let what = "linear_backward_input";
        let (b, i, o) = (int(what, batch)?, int(what, in_dim)?, int(what, out_dim)?);
        let mut l = self.stream.launch_builder(&self.k.linear_backward_input);
        l.arg(dx).arg(dout).arg(w).arg(&b).arg(&i).arg(&o);
        // SAFETY: matches linear_backward_input(float*, const float*, const float*, int,
        // int, int); sizes asserted above.
        unsafe { l.launch(grid(batch * in_dim)) }.map_err(|e| cuda_err(what, e))?;
        Ok(())
    }

    /// See [`crate::ops::linear_backward_weight`]; `batch` rows.
    pub fn linear_backward_weight(
        &self,
        dw: &mut CudaViewMut<'_, f32>,
        dout: &CudaView<'_, f32>,
        x: &CudaView<'_, f32>,
        batch: usize,
        in_dim: usize,
    ) -> Result<()> {
        let out_dim = dw.len() / in_dim.max(1);
        assert!(in_dim > 0 && dw.len() == out_dim * in_dim);
        assert!(dout.len() >= batch * out_dim && x.len() >= batch * in_dim);
        let what = "linear_backward_weight";
        let (b, i, o) = (int(what, batch)?, int(what, in_dim)?, int(what, out_dim)?);
        let mut l = self.stream.launch_builder(&self.k.linear_backward_weight);
        l.arg(dw).arg(dout).arg(x).arg(&b).arg(&i).arg(&o);
        // SAFETY: matches linear_backward_weight(float*, const float*, const float*, int,
        // int, int); dw holds out_dim*in_dim floats, the inputs batch rows.
        unsafe { l.launch(grid(out_dim * in_dim)) }.map_err(|e| cuda_err(what, e))?;
        Ok(())
    }

    /// See [`crate::ops::linear_backward_bias`]; `batch` rows.
    pub fn linear_backward_bias(
        &self,
        dbias: &mut CudaViewMut<'_, f32>,
        dout: &CudaView<'_, f32>,
        batch: usize,
    ) -> Result<()> {
        let out_dim = dbias.len();
        assert!(dout.len() >= batch * out_dim);
        let what = "linear_backward_bias";
        let (b, o) = (int(what, batch)?, int(what, out_dim)?);
        let mut l = self.stream.launch_builder(&self.k.linear_backward_bias);
        l.arg(dbias).arg(dout).arg(&b).arg(&o);
        // SAFETY: matches linear_backward_bias(float*, const float*, int, int).
        unsafe { l.launch(grid(out_dim)) }.map_err(|e| cuda_err(what, e))?;
        Ok(())
    }

    /// See [`crate::ops::relu_forward`]: in place over all of `x`.
    pub fn relu_forward(&self, x: &mut CudaViewMut<'_, f32>) -> Result<()> {
        let n = x.len();
        let n_arg = int("relu_forward", n)?;
        let mut l = self.stream.launch_builder(&self.k.relu_forward);
        l.arg(x).arg(&n_arg);
        // SAFETY: matches relu_forward(float*, int); x holds n floats.
        unsafe { l.launch(grid(n)) }.map_err(|e| cuda_err("relu_forward", e))?;
        Ok(())
    }

    /// See [`crate::ops::relu_backward`]: over all of `dx`.
    pub fn relu_backward(
        &self,
        dx: &mut CudaViewMut<'_, f32>,
        dout: &CudaView<'_, f32>,
        out: &CudaView<'_, f32>,
    ) -> Result<()> {
        let n = dx.len();
        assert!(dout.len() >= n && out.len() >= n);
        let n_arg = int("relu_backward", n)?;
        let mut l = self.stream.launch_builder(&self.k.relu_backward);
        l.arg(dx).arg(dout).arg(out).arg(&n_arg);
        // SAFETY: matches relu_backward(float*, const float*, const float*, int).
        unsafe { l.launch(grid(n)) }.map_err(|e| cuda_err("relu_backward", e))?;
        Ok(())
    }

    /// See [`crate::ops::dropout_forward`]: in place over all of `x`.
    pub fn dropout_forward(
        &self,
        x: &mut CudaViewMut<'_, f32>,
        p: f32,
        seed: u64,
        step: u64,
        layer: DropoutLayer,
    ) -> Result<()> {
        self.dropout(
            &self.k.dropout_forward,
            "dropout_forward",
            x,
            p,
            seed,
            step,
            layer,
        )
    }

    /// See [`crate::ops::dropout_backward`]: in place over all of `dout`.
    pub fn dropout_backward(
        &self,
        dout: &mut CudaViewMut<'_, f32>,
        p: f32,
        seed: u64,
        step: u64,
        layer: DropoutLayer,
    ) -> Result<()> {
        self.dropout(
            &self.k.dropout_backward,
            "dropout_backward",
            dout,
            p,
            seed,
            step,
            layer,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn dropout(
        &self,
        kernel: &CudaFunction,
        what: &str,
        x: &mut CudaViewMut<'_, f32>,
        p: f32,
        seed: u64,
        step: u64,
        layer: DropoutLayer,
    ) -> Result<()> {
        let n = x.len();
        let n_arg = int(what, n)?;
        let mut l = self.stream.launch_builder(kernel);
        l.arg(x).arg(&p).arg(&seed).arg(&step).arg(&layer).arg(&n_arg);
        // SAFETY: matches dropout_*(float*, float, unsigned long long, unsigned long long,
        // unsigned int, int); x holds n floats.
        unsafe { l.launch(grid(n)) }.map_err(|e| cuda_err(what, e))?;
        Ok(())
    }

    // ------------------------------------------------------------ fused path

    /// One whole training step of dot or dotbias (see `kernels/fused.cu`):
    /// the batch is rows `[step·bs, min(n, (step+1)·bs))` of the epoch's
    /// ordered rows. Adds the gradient into `grads` and the batch's mean loss
    /// into `losses[step]`. Its CPU twin is [`ModelSpec::loss_and_grad`].
    #[allow(clippy::too_many_arguments)]
    pub fn mf_step_fused(
        &self,
        grads: &mut CudaViewMut<'_, f32>,
        losses: &mut CudaViewMut<'_, f32>,
        params: &CudaView<'_, f32>,
        rows: (&CudaView<'_, u32>, &CudaView<'_, u32>, &CudaView<'_, f32>),
        bs: usize,
        step: usize,
        spec: &ModelSpec,
    ) -> Result<()> {
        let what = "mf_step_fused";
        let (users, items, ratings) = rows;
        let n = users.len();
        let with_bias = match spec.kind {
            ModelKind::Dot => 0i32,
            ModelKind::DotBias => 1,
            ModelKind::Net | ModelKind::Svd => {
                return Err(Error::invalid(what, "only dot and dotbias have a fused step"))
            }
        };
        assert!(items.len() == n && ratings.len() == n && step * bs < n && losses.len() > step);
        assert!(grads.len() == spec.n_params() && params.len() == spec.n_params());
        let batch = bs.min(n - step * bs);
        let args = [int(what, n)?, int(what, bs)?, int(what, step)?];
        let dims = [
            int(what, spec.n_users)?,
            int(what, spec.n_items)?,
            int(what, spec.factors)?,
        ];
        let (lo, hi) = spec.y_range;
        let mut l = self.stream.launch_builder(&self.k.mf_step_fused);
        l.arg(grads)
            .arg(losses)
            .arg(params)
            .arg(users)
            .arg(items)
            .arg(ratings);
        l.arg(&args[0])
            .arg(&args[1])
            .arg(&args[2])
            .arg(&dims[0])
            .arg(&dims[1])
            .arg(&dims[2]);
        l.arg(&with_bias).arg(&lo).arg(&hi);
        // SAFETY: matches mf_step_fused(float*, float*, const float*, const uint*, const uint*,
        // const float*, int x7, float, float); params and grads hold the model's tensors in
        // ModelSpec::tensors order; the step's rows lie inside the n rows; one warp per row.
        unsafe { l.launch(grid(batch * 32)) }.map_err(|e| cuda_err(what, e))?;
        Ok(())
    }

    /// [`Gpu::sgd_update`] with lr = `sched[2·step]`, read on the device.
    #[allow(clippy::too_many_arguments)]
    pub fn sgd_update_sched(
        &self,
        params: &mut CudaViewMut<'_, f32>,
        grads: &mut CudaViewMut<'_, f32>,
        bufs: &mut CudaViewMut<'_, f32>,
        sched: &CudaView<'_, f32>,
        step: usize,
        momentum: f32,
        wd: f32,
    ) -> Result<()> {
        let n = params.len();
        assert!(grads.len() >= n && bufs.len() >= n && sched.len() > 2 * step);
        let (s, n_arg) = (int("sgd_update_sched", step)?, n as i64);
        let mut l = self.stream.launch_builder(&self.k.sgd_update_sched);
        l.arg(params)
            .arg(grads)
            .arg(bufs)
            .arg(sched)
            .arg(&s)
            .arg(&momentum)
            .arg(&wd)
            .arg(&n_arg);
        // SAFETY: matches sgd_update_sched(float*, float*, float*, const float*, int, float,
        // float, long long); buffers hold n floats, sched at least 2·step + 1.
        unsafe { l.launch(grid(n)) }.map_err(|e| cuda_err("sgd_update_sched", e))?;
        Ok(())
    }

    /// [`Gpu::adam_update`] with step_size = `sched[2·step]` and
    /// sqrt(1 − β2ᵗ) = `sched[2·step + 1]`, read on the device; the other
    /// scalars come from `s`.
    #[allow(clippy::too_many_arguments)]
    pub fn adam_update_sched(
        &self,
        params: &mut CudaViewMut<'_, f32>,
        grads: &mut CudaViewMut<'_, f32>,
        m: &mut CudaViewMut<'_, f32>,
        v: &mut CudaViewMut<'_, f32>,
        sched: &CudaView<'_, f32>,
        step: usize,
        s: AdamStep,
        wd: f32,
    ) -> Result<()> {
        let n = params.len();
        assert!(grads.len() >= n && m.len() >= n && v.len() >= n && sched.len() > 2 * step + 1);
        let (st, n_arg) = (int("adam_update_sched", step)?, n as i64);
        let mut l = self.stream.launch_builder(&self.k.adam_update_sched);
        l.arg(params).arg(grads).arg(m).arg(v).arg(sched).arg(&st);
        l.arg(&s.beta1)
            .arg(&s.beta2)
            .arg(&s.one_minus_beta1)
            .arg(&s.one_minus_beta2)
            .arg(&s.eps);
        l.arg(&wd).arg(&n_arg);
        // SAFETY: matches adam_update_sched(float* x4, const float*, int, 6 floats, long long);
        // buffers hold n floats, sched at least 2·step + 2.
        unsafe { l.launch(grid(n)) }.map_err(|e| cuda_err("adam_update_sched", e))?;
        Ok(())
    }
}

impl Gpu {
    // ------------------------------------------------------------ sparse SGD

    /// See [`crate::ops::mf_sgd_sparse`]: one warp per rating (Hogwild), at
    /// most `max_warps` at once and never more than the GPU holds; with
    /// `max_warps` 1, a single warp that takes the ratings in order, as the
    /// CPU does. `rows` are (users, items, ratings); `sq_err` gets each
    /// rating's squared error before its update.
    #[allow(clippy::too_many_arguments)]
    pub fn mf_sgd_sparse<S: DeviceFactor>(
        &self,
        u: &mut CudaViewMut<'_, S::Dev>,
        m: &mut CudaViewMut<'_, S::Dev>,
        ub: &mut CudaViewMut<'_, f32>,
        mb: &mut CudaViewMut<'_, f32>,
        mu: f32,
        rows: (&CudaView<'_, u32>, &CudaView<'_, u32>, &CudaView<'_, f32>),
        sq_err: &mut CudaViewMut<'_, f32>,
        f: usize,
        lr: f32,
        reg: f32,
        max_warps: usize,
    ) -> Result<()> {
        let what = "mf_sgd_sparse";
        let (users, items, ratings) = rows;
        let n = users.len();
        assert!(items.len() == n && ratings.len() == n && sq_err.len() >= n);
        assert!(u.len() == ub.len() * f && m.len() == mb.len() * f);
        if f == 0 || f > sparse_max_factors(f) {
            return Err(Error::invalid(
                what,
                format!("{f} factors; the sparse kernels take 1 to 128, or up to 512 in multiples of 4"),
            ));
        }
        // One chunk a lane fits F ≤ 128 (multiples of 4) or F ≤ 32: fewer registers, more warps.
        let narrow = f <= if f % 4 == 0 { 128 } else { 32 };
        let func = match (S::STORAGE, narrow) {
            (Storage::F32, false) => &self.k.mf_sgd_sparse_f32,
            (Storage::Bf16, false) => &self.k.mf_sgd_sparse_bf16,
            (Storage::F32, true) => &self.k.mf_sgd_sparse_f32_narrow,
            (Storage::Bf16, true) => &self.k.mf_sgd_sparse_bf16_narrow,
        };
        let (n_arg, f_arg) = (n as i64, int(what, f)?);
        let mut l = self.stream.launch_builder(func);
        l.arg(u).arg(m).arg(ub).arg(mb).arg(&mu);
        l.arg(users).arg(items).arg(ratings).arg(sq_err);
        l.arg(&n_arg).arg(&f_arg).arg(&lr).arg(&reg);
        let cfg = if max_warps <= 1 {
            LaunchConfig {
                grid_dim: (1, 1, 1),
                block_dim: (32, 1, 1),
                shared_mem_bytes: 0,
            }
        } else {
            // At most as many blocks as the GPU holds at once: the resident
            // warps then sweep the (tiled) ratings once, side by side, so that
            // a tile's rows meet in L2. A larger grid would start later waves
            // at the far end of the order, and every wave would reload every tile.
            let per_sm = func
                .occupancy_max_active_blocks_per_multiprocessor(BLOCK, 0, None)
                .map_err(|e| cuda_err(what, e))?;
            let resident = (per_sm.max(1) as usize * self.sm_count).max(1);
            let wanted = max_warps
                .min(n.max(1))
                .saturating_mul(32)
                .div_ceil(BLOCK as usize);
            LaunchConfig {
                grid_dim: (wanted.clamp(1, resident).min(MAX_BLOCKS) as u32, 1, 1),
                block_dim: (BLOCK, 1, 1),
                shared_mem_bytes: 0,
            }
        };
        // SAFETY: matches mf_sgd_sparse_{f32,bf16}[_narrow](S*, S*, float*, float*, float, const uint* x2,
        // const float*, float*, long long, int, float, float) with S the device type of
        // S::Dev (float, or the 2-byte struct bf16); u and m hold (rows × f) factors, the
        // indices are below their rows (Examples guarantee it), sq_err holds n floats, and
        // f is within the chosen kernel's limit (checked above).
        unsafe { l.launch(cfg) }.map_err(|e| cuda_err(what, e))?;
        Ok(())
    }

    /// See [`crate::ops::mf_predict`]: one warp per row.
    #[allow(clippy::too_many_arguments)]
    pub fn mf_predict<S: DeviceFactor>(
        &self,
        pred: &mut CudaViewMut<'_, f32>,
        u: &CudaView<'_, S::Dev>,
        m: &CudaView<'_, S::Dev>,
        ub: &CudaView<'_, f32>,
        mb: &CudaView<'_, f32>,
        mu: f32,
        users: &CudaView<'_, u32>,
        items: &CudaView<'_, u32>,
        f: usize,
    ) -> Result<()> {
        let what = "mf_predict";
        let n = users.len();
        assert!(items.len() == n && pred.len() >= n);
        assert!(u.len() == ub.len() * f && m.len() == mb.len() * f);
        if f == 0 || f > sparse_max_factors(f) {
            return Err(Error::invalid(
                what,
                format!("{f} factors is outside the sparse kernels' range"),
            ));
        }
        let func = match S::STORAGE {
            Storage::F32 => &self.k.mf_predict_f32,
            Storage::Bf16 => &self.k.mf_predict_bf16,
        };
        let (n_arg, f_arg) = (n as i64, int(what, f)?);
        let mut l = self.stream.launch_builder(func);
        l.arg(pred).arg(u).arg(m).arg(ub).arg(mb).arg(&mu);
        l.arg(users).arg(items).arg(&n_arg).arg(&f_arg);
        // SAFETY: matches mf_predict_{f32,bf16}(float*, const S* x2, const float* x2, float,
        // const uint* x2, long long, int); pred holds n floats, the indices are in range.
        unsafe { l.launch(grid(n.saturating_mul(32))) }.map_err(|e| cuda_err(what, e))?;
        Ok(())
    }

    /// See [`crate::ops::group_mean`].
    pub fn group_mean(
        &self,
        out: &mut CudaViewMut<'_, f32>,
        x: &CudaView<'_, f32>,
        group: usize,
    ) -> Result<()> {
        let n = x.len();
        let groups = n.div_ceil(group.max(1));
        assert!(group > 0 && out.len() >= groups);
        let (n_arg, g_arg) = (n as i64, int("group_mean", group)?);
        let mut l = self.stream.launch_builder(&self.k.group_mean);
        l.arg(out).arg(x).arg(&n_arg).arg(&g_arg);
        // SAFETY: matches group_mean(float*, const float*, long long, int); out holds
        // ceil(n / group) floats.
        unsafe { l.launch(grid(groups)) }.map_err(|e| cuda_err("group_mean", e))?;
        Ok(())
    }
}

/// The dense backend does not train the svd model: that is the sparse one's job.
pub(crate) fn no_svd() -> Error {
    Error::Device {
        device: "cuda".into(),
        msg:
            "the svd model trains by sparse SGD (crate::backend::cuda::sparse), not in the dense CUDA backend"
                .into(),
    }
}

/// Per-batch activations on the device, sized for `cap` rows; the net's
/// buffers only for the net.
struct DeviceWorkspace {
    cap: usize,
    u: CudaSlice<f32>,
    m: CudaSlice<f32>,
    x: CudaSlice<f32>,
    pred: CudaSlice<f32>,
    dpred: CudaSlice<f32>,
    dx: CudaSlice<f32>,
    du: CudaSlice<f32>,
    dm: CudaSlice<f32>,
    cat: CudaSlice<f32>,
    h: CudaSlice<f32>,
    h_drop: CudaSlice<f32>,
    dh: CudaSlice<f32>,
    dh_pre: CudaSlice<f32>,
    dcat: CudaSlice<f32>,
}

impl DeviceWorkspace {
    fn new(gpu: &Gpu, cap: usize, spec: &ModelSpec) -> Result<Self> {
        let f = spec.factors;
        let (cat, h) = match spec.kind {
            ModelKind::Net => (cap * 2 * f, cap * spec.hidden),
            _ => (0, 0),
        };
        Ok(DeviceWorkspace {
            cap,
            u: gpu.zeros(cap * f)?,
            m: gpu.zeros(cap * f)?,
            x: gpu.zeros(cap)?,
            pred: gpu.zeros(cap)?,
            dpred: gpu.zeros(cap)?,
            dx: gpu.zeros(cap)?,
            du: gpu.zeros(cap * f)?,
            dm: gpu.zeros(cap * f)?,
            cat: gpu.zeros(cat)?,
            h: gpu.zeros(h)?,
            h_drop: gpu.zeros(h)?,
            dh: gpu.zeros(h)?,
            dh_pre: gpu.zeros(h)?,
            dcat: gpu.zeros(cat)?,
        })
    }
}

/// The model's forward pass on the device, mirroring
/// [`ModelSpec::forward`] op for op; predictions land in `ws.pred[..B]`.
/// `dropout` is `Some` in training mode (the net only).
fn forward(
    gpu: &Gpu,
    spec: &ModelSpec,
    params: &CudaSlice<f32>,
    ws: &mut DeviceWorkspace,
    users: &CudaView<'_, u32>,
    items: &CudaView<'_, u32>,
    dropout: Option<DropoutKey>,
) -> Result<()> {
    let (batch, f) = (users.len(), spec.factors);
    let (lo, hi) = spec.y_range;
    let t = spec.tensors();
    let p = |k: usize| params.slice(t[k].range());
    match spec.kind {
        ModelKind::Dot => {
            gpu.embedding_gather(&mut ws.u.slice_mut(..batch * f), &p(0), users, f)?;
            gpu.embedding_gather(&mut ws.m.slice_mut(..batch * f), &p(1), items, f)?;
            gpu.dot_forward(
                &mut ws.pred.slice_mut(..),
                &ws.u.as_view(),
                &ws.m.as_view(),
                batch,
                f,
            )
        }
        ModelKind::DotBias => {
            gpu.embedding_gather(&mut ws.u.slice_mut(..batch * f), &p(0), users, f)?;
            gpu.embedding_gather(&mut ws.m.slice_mut(..batch * f), &p(1), items, f)?;
            gpu.dot_forward(
                &mut ws.x.slice_mut(..),
                &ws.u.as_view(),
                &ws.m.as_view(),
                batch,
                f,
            )?;
            gpu.bias_add(&mut ws.x.slice_mut(..), &p(2), users)?;
            gpu.bias_add(&mut ws.x.slice_mut(..), &p(3), items)?;
            gpu.sigmoid_range_forward(&mut ws.pred.slice_mut(..), &ws.x.as_view(), lo, hi, batch)
        }
        ModelKind::Svd => Err(no_svd()),
        ModelKind::Net => {
            let (nc, nh) = (batch * 2 * f, batch * spec.hidden);
            gpu.concat_gather(&mut ws.cat.slice_mut(..nc), &p(0), users, &p(1), items, f)?;
            if let Some(k) = dropout {
                let drop1 = ModelSpec::DROP1;
                gpu.dropout_forward(&mut ws.cat.slice_mut(..nc), spec.dropout.0, k.seed, k.step, drop1)?;
            }
            gpu.linear_forward(
                &mut ws.h.slice_mut(..nh),
                &ws.cat.slice(..nc),
                &p(2),
                &p(3),
                batch,
                2 * f,
            )?;
            gpu.relu_forward(&mut ws.h.slice_mut(..nh))?;
            gpu.stream
                .memcpy_dtod(&ws.h.slice(..nh), &mut ws.h_drop.slice_mut(..nh))
                .map_err(|e| cuda_err("copy h", e))?;
            if let Some(k) = dropout {
                let drop2 = ModelSpec::DROP2;
                gpu.dropout_forward(
                    &mut ws.h_drop.slice_mut(..nh),
                    spec.dropout.1,
                    k.seed,
                    k.step,
                    drop2,
                )?;
            }
            gpu.linear_forward(
                &mut ws.x.slice_mut(..batch),
                &ws.h_drop.slice(..nh),
                &p(4),
                &p(5),
                batch,
                spec.hidden,
            )?;
            gpu.sigmoid_range_forward(
                &mut ws.pred.slice_mut(..),
                &ws.x.as_view(),
                lo - 0.5,
                hi + 0.5,
                batch,
            )
        }
    }
}

/// The model's backward pass on the device, mirroring
/// [`ModelSpec::backward`]; accumulates into `grads`.
#[allow(clippy::too_many_arguments)]
fn backward(
    gpu: &Gpu,
    spec: &ModelSpec,
    params: &CudaSlice<f32>,
    grads: &mut CudaSlice<f32>,
    ws: &mut DeviceWorkspace,
    users: &CudaView<'_, u32>,
    items: &CudaView<'_, u32>,
    dropout: Option<DropoutKey>,
    det: bool,
) -> Result<()> {
    let (batch, f) = (users.len(), spec.factors);
    let (lo, hi) = spec.y_range;
    let t = spec.tensors();
    // Atomics, or (with --deterministic) the CPU's order without them.
    let scatter =
        |grad: &mut CudaViewMut<'_, f32>, drows: &CudaView<'_, f32>, idx: &CudaView<'_, u32>, f: usize| {
            if det {
                gpu.embedding_scatter_add_det(grad, drows, idx, f, f, 0)
            } else {
                gpu.embedding_scatter_add(grad, drows, idx, f)
            }
        };
    let mut g = grads.as_view_mut();
    let (mut gu, mut rest) = g.split_at_mut(t[0].len());
    let (mut gm, mut rest) = rest.split_at_mut(t[1].len());
    match spec.kind {
        ModelKind::Dot | ModelKind::DotBias => {
            // dout is what flows into the dot product: dpred for dot, dx for dotbias.
            let dout = if spec.kind == ModelKind::Dot {
                &ws.dpred
            } else {
                let (mut gub, mut gmb) = rest.split_at_mut(t[2].len());
                gpu.sigmoid_range_backward(
                    &mut ws.dx.slice_mut(..),
                    &ws.dpred.as_view(),
                    &ws.x.as_view(),
                    lo,
                    hi,
                    batch,
                )?;
                scatter(&mut gub, &ws.dx.as_view(), users, 1)?;
                scatter(&mut gmb, &ws.dx.as_view(), items, 1)?;
                &ws.dx
            };
            gpu.dot_backward(
                &mut ws.du.slice_mut(..),
                &mut ws.dm.slice_mut(..),
                &dout.as_view(),
                &ws.u.as_view(),
                &ws.m.as_view(),
                batch,
                f,
            )?;
            scatter(&mut gu, &ws.du.as_view(), users, f)?;
            scatter(&mut gm, &ws.dm.as_view(), items, f)?;
        }
        ModelKind::Svd => return Err(no_svd()),
        ModelKind::Net => {
            let (h, nc, nh) = (spec.hidden, batch * 2 * f, batch * spec.hidden);
            let (mut gw1, mut rest) = rest.split_at_mut(t[2].len());
            let (mut gb1, mut rest) = rest.split_at_mut(t[3].len());
            let (mut gw2, mut gb2) = rest.split_at_mut(t[4].len());
            let (w1, w2) = (params.slice(t[2].range()), params.slice(t[4].range()));
            gpu.sigmoid_range_backward(
                &mut ws.dx.slice_mut(..),
                &ws.dpred.as_view(),
                &ws.x.as_view(),
                lo - 0.5,
                hi + 0.5,
                batch,
            )?;
            gpu.linear_backward_weight(&mut gw2, &ws.dx.slice(..batch), &ws.h_drop.slice(..nh), batch, h)?;
            gpu.linear_backward_bias(&mut gb2, &ws.dx.slice(..batch), batch)?;
            gpu.linear_backward_input(&mut ws.dh.slice_mut(..nh), &ws.dx.slice(..batch), &w2, batch, h)?;
            if let Some(k) = dropout {
                gpu.dropout_backward(
                    &mut ws.dh.slice_mut(..nh),
                    spec.dropout.1,
                    k.seed,
                    k.step,
                    ModelSpec::DROP2,
                )?;
            }
            gpu.relu_backward(
                &mut ws.dh_pre.slice_mut(..nh),
                &ws.dh.slice(..nh),
                &ws.h.slice(..nh),
            )?;
            gpu.linear_backward_weight(
                &mut gw1,
                &ws.dh_pre.slice(..nh),
                &ws.cat.slice(..nc),
                batch,
                2 * f,
            )?;
            gpu.linear_backward_bias(&mut gb1, &ws.dh_pre.slice(..nh), batch)?;
            gpu.linear_backward_input(
                &mut ws.dcat.slice_mut(..nc),
                &ws.dh_pre.slice(..nh),
                &w1,
                batch,
                2 * f,
            )?;
            if let Some(k) = dropout {
                gpu.dropout_backward(
                    &mut ws.dcat.slice_mut(..nc),
                    spec.dropout.0,
                    k.seed,
                    k.step,
                    ModelSpec::DROP1,
                )?;
            }
            if det {
                gpu.embedding_scatter_add_det(&mut gu, &ws.dcat.slice(..nc), users, f, 2 * f, 0)?;
                gpu.embedding_scatter_add_det(&mut gm, &ws.dcat.slice(..nc), items, f, 2 * f, f)?;
            } else {
                gpu.concat_scatter_add(&mut gu, &mut gm, &ws.dcat.slice(..nc), users, items, f)?;
            }
        }
    }
    Ok(())
}

/// Rows of a ratings table on the device.
pub(crate) struct DeviceExamples {
    pub(crate) users: CudaSlice<u32>,
    pub(crate) items: CudaSlice<u32>,
    pub(crate) ratings: CudaSlice<f32>,
    pub(crate) len: usize,
}

impl DeviceExamples {
    pub(crate) fn upload(gpu: &Gpu, e: &crate::data::Examples) -> Result<Self> {
        Ok(DeviceExamples {
            users: gpu.upload(&e.users)?,
            items: gpu.upload(&e.items)?,
            ratings: gpu.upload(&e.ratings)?,
            len: e.len(),
        })
    }

    pub(crate) fn zeros(gpu: &Gpu, len: usize) -> Result<Self> {
        Ok(DeviceExamples {
            users: gpu.zeros(len)?,
            items: gpu.zeros(len)?,
            ratings: gpu.zeros(len)?,
            len,
        })
    }
}

/// Trains on an NVIDIA GPU. Data, parameters and optimizer state live on the
/// device for the whole run.
pub struct CudaBackend {
    gpu: Arc<Gpu>,
    spec: ModelSpec,
    optimizer: Optimizer,
    wd: f32,
    /// Optimizer steps taken (Adam's t).
    t: u64,
    /// Keys the dropout masks.
    seed: u64,
    train: DeviceExamples,
    /// The training rows in this epoch's order.
    epoch: DeviceExamples,
    order: CudaSlice<u32>,
    valid: DeviceExamples,
    params: CudaSlice<f32>,
    grads: CudaSlice<f32>,
    m: CudaSlice<f32>,
    v: CudaSlice<f32>,
    ws: DeviceWorkspace,
    losses: CudaSlice<f32>,
    mse: CudaSlice<f64>,
    /// Fused path: two kernels per step, the epoch replayed as a CUDA graph.
    fused: bool,
    /// No atomics anywhere: the same bits on every run.
    deterministic: bool,
    /// Fused path: the epoch's per-step optimizer scalars (see `kernels/fused.cu`).
    sched: CudaSlice<f32>,
    /// Fused path: the captured epoch, with the (rows, batch size) it was captured for.
    graph: Option<(CudaGraph, usize, usize)>,
}

impl CudaBackend {
    /// Uploads everything `init` holds to `gpu`. With `opts.fused`, dot and
    /// dotbias train through the fused kernels replayed as one CUDA graph per
    /// epoch; the net, and any run with `opts.deterministic`, go op by op.
    pub fn new(gpu: Arc<Gpu>, init: BackendInit<'_>, opts: GpuOptions) -> Result<Self> {
        if init.spec.kind == ModelKind::Svd || matches!(init.optimizer, Optimizer::Sparse { .. }) {
            return Err(no_svd());
        }
        let plan = MemoryPlan::dense(
            init.spec,
            init.optimizer,
            init.train.len(),
            init.valid.len(),
            EVAL_CHUNK,
        );
        gpu.ensure_fits(&plan, "try a smaller --factors, or --device cpu")?;
        let n = init.params.len();
        let cap = EVAL_CHUNK;
        let v_len = if matches!(init.optimizer, Optimizer::Adam { .. }) {
            n
        } else {
            1
        };
        Ok(CudaBackend {
            spec: init.spec.clone(),
            optimizer: init.optimizer,
            wd: init.wd,
            t: 0,
            seed: init.seed,
            train: DeviceExamples::upload(&gpu, init.train)?,
            epoch: DeviceExamples::zeros(&gpu, init.train.len())?,
            order: gpu.zeros(init.train.len())?,
            valid: DeviceExamples::upload(&gpu, init.valid)?,
            params: gpu.upload(&init.params)?,
            grads: gpu.zeros(n)?,
            m: gpu.zeros(n)?,
            v: gpu.zeros(v_len)?,
            ws: DeviceWorkspace::new(&gpu, cap, init.spec)?,
            losses: gpu.zeros(1)?,
            mse: gpu.zeros(1)?,
            fused: opts.fused && !opts.deterministic && init.spec.kind != ModelKind::Net,
            deterministic: opts.deterministic,
            sched: gpu.zeros(1)?,
            graph: None,
            gpu,
        })
    }

    /// One optimizer step over all parameters at learning rate `lr`.
    fn optimizer_step(&mut self, lr: f32) -> Result<()> {
        self.t += 1;
        let n = self.params.len();
        let (p, g) = (&mut self.params.slice_mut(..n), &mut self.grads.slice_mut(..n));
        match self.optimizer {
            Optimizer::Sparse { .. } => Err(no_svd()),
            Optimizer::Sgd { momentum } => {
                self.gpu
                    .sgd_update(p, g, &mut self.m.slice_mut(..n), lr, momentum, self.wd)
            }
            Optimizer::Adam { beta1, beta2, eps } => {
                let s = AdamStep::new(lr as f64, beta1, beta2, eps, self.t);
                self.gpu.adam_update(
                    p,
                    g,
                    &mut self.m.slice_mut(..n),
                    &mut self.v.slice_mut(..n),
                    s,
                    self.wd,
                )
            }
        }
    }
}

impl CudaBackend {
    /// The fused epoch: upload the order and the per-step optimizer
    /// scalars, replay the captured graph (capturing it on first use), read
    /// the losses back. Same arithmetic as the op-by-op path up to the order
    /// of sums.
    fn train_epoch_fused(&mut self, order: &[u32], bs: usize, lrs: &[f32]) -> Result<Vec<f32>> {
        let (n, steps) = (order.len(), lrs.len());
        let mut sched = vec![0f32; 2 * steps];
        for (s, &lr) in lrs.iter().enumerate() {
            match self.optimizer {
                Optimizer::Sgd { .. } | Optimizer::Sparse { .. } => sched[2 * s] = lr,
                Optimizer::Adam { beta1, beta2, eps } => {
                    let st = AdamStep::new(lr as f64, beta1, beta2, eps, self.t + s as u64 + 1);
                    sched[2 * s] = st.step_size;
                    sched[2 * s + 1] = st.bias_correction2_sqrt;
                }
            }
        }
        self.t += steps as u64;
        if self.sched.len() < 2 * steps || self.losses.len() < steps {
            // Buffers move, so a graph captured with the old ones is stale.
            self.graph = None;
            self.sched = self.gpu.zeros(2 * steps)?;
            self.losses = self.gpu.zeros(steps)?;
        }
        let stream = self.gpu.stream.clone();
        stream
            .memcpy_htod(order, &mut self.order)
            .map_err(|e| cuda_err("upload order", e))?;
        stream
            .memcpy_htod(&sched[..], &mut self.sched)
            .map_err(|e| cuda_err("upload schedule", e))?;
        if !matches!(self.graph, Some((_, gn, gbs)) if gn == n && gbs == bs) {
            self.graph = None;
            stream
                .begin_capture(cudarc::driver::sys::CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)
                .map_err(|e| cuda_err("begin graph capture", e))?;
            let recorded = self.record_epoch(n, bs, steps);
            // End the capture even when recording failed, to leave the stream usable.
            let graph = stream.end_capture(cudarc::driver::sys::CUgraphInstantiate_flags(0));
            recorded?;
            let graph = graph
                .map_err(|e| cuda_err("end graph capture", e))?
                .ok_or_else(|| {
                    cuda_err(
                        "end graph capture",
                        DriverError(cudarc::driver::sys::CUresult::CUDA_ERROR_UNKNOWN),
                    )
                })?;
            self.graph = Some((graph, n, bs));
        }
        if let Some((graph, _, _)) = &self.graph {
            graph.launch().map_err(|e| cuda_err("epoch graph", e))?;
        }
        self.gpu.download(&self.losses.slice(..steps))
    }

    /// Records one fused epoch on the (capturing) stream: permute the rows,
    /// zero the losses, then per step the fused forward/backward and the
    /// scheduled optimizer update.
    fn record_epoch(&mut self, n: usize, bs: usize, steps: usize) -> Result<()> {
        let gpu = &self.gpu;
        let (t, e) = (&self.train, &mut self.epoch);
        gpu.gather_rows(
            &mut e.users.slice_mut(..n),
            &mut e.items.slice_mut(..n),
            &mut e.ratings.slice_mut(..n),
            &t.users.as_view(),
            &t.items.as_view(),
            &t.ratings.as_view(),
            &self.order.slice(..n),
        )?;
        gpu.stream
            .memset_zeros(&mut self.losses)
            .map_err(|e| cuda_err("zero losses", e))?;
        let p = self.params.len();
        for s in 0..steps {
            let rows = (
                &self.epoch.users.slice(..n),
                &self.epoch.items.slice(..n),
                &self.epoch.ratings.slice(..n),
            );
            gpu.mf_step_fused(
                &mut self.grads.slice_mut(..p),
                &mut self.losses.slice_mut(..),
                &self.params.slice(..p),
                rows,
                bs,
                s,
                &self.spec,
            )?;
            let (params, grads, m) = (
                &mut self.params.slice_mut(..p),
                &mut self.grads.slice_mut(..p),
                &mut self.m.slice_mut(..p),
            );
            let sched = self.sched.as_view();
            match self.optimizer {
                Optimizer::Sparse { .. } => return Err(no_svd()),
                Optimizer::Sgd { momentum } => {
                    gpu.sgd_update_sched(params, grads, m, &sched, s, momentum, self.wd)?
                }
                Optimizer::Adam { beta1, beta2, eps } => {
                    // Only the constant scalars are used; the per-step ones come from `sched`.
                    let constants = AdamStep::new(0.0, beta1, beta2, eps, 1);
                    let v = &mut self.v.slice_mut(..p);
                    gpu.adam_update_sched(params, grads, m, v, &sched, s, constants, self.wd)?
                }
            }
        }
        Ok(())
    }
}

impl Backend for CudaBackend {
    fn device(&self) -> String {
        let path = match (self.fused, self.deterministic) {
            (true, _) => "fused, CUDA graph",
            (false, true) => "op by op, deterministic",
            (false, false) => "op by op",
        };
        format!("cuda: {} ({path})", self.gpu.description)
    }

    fn train_epoch(
        &mut self,
        order: &[u32],
        batch_size: usize,
        lrs: &[f32],
        first_step: u64,
        progress: &mut dyn FnMut(usize, f32),
    ) -> Result<Vec<f32>> {
        let n = order.len();
        if n > self.train.len {
            return Err(Error::invalid(
                "order",
                format!("{n} rows ordered, {} training rows", self.train.len),
            ));
        }
        let steps = crate::backend::epoch_steps(n, batch_size, lrs)?;
        if self.fused {
            let losses = self.train_epoch_fused(order, batch_size, lrs)?;
            progress(losses.len(), losses.last().copied().unwrap_or(f32::NAN));
            return Ok(losses);
        }
        // A batch larger than the data is the data: size the workspace for that.
        let batch_size = batch_size.min(n.max(1));
        if batch_size > self.ws.cap {
            self.ws = DeviceWorkspace::new(&self.gpu, batch_size, &self.spec)?;
        }
        if self.losses.len() < steps {
            self.losses = self.gpu.zeros(steps)?;
        }
        // The epoch's order goes up once; the rows are permuted on the device.
        self.gpu
            .stream
            .memcpy_htod(order, &mut self.order)
            .map_err(|e| cuda_err("upload order", e))?;
        let (t, e) = (&self.train, &mut self.epoch);
        self.gpu.gather_rows(
            &mut e.users.slice_mut(..n),
            &mut e.items.slice_mut(..n),
            &mut e.ratings.slice_mut(..n),
            &t.users.as_view(),
            &t.items.as_view(),
            &t.ratings.as_view(),
            &self.order.slice(..n),
        )?;
        for (s, &lr) in lrs.iter().enumerate() {
            let rows = s * batch_size..((s + 1) * batch_size).min(n);
            let batch = rows.len();
            let (users, items) = (
                self.epoch.users.slice(rows.clone()),
                self.epoch.items.slice(rows.clone()),
            );
            let dropout = (self.spec.kind == ModelKind::Net).then_some(DropoutKey {
                seed: self.seed,
                step: first_step + s as u64,
            });
            forward(
                &self.gpu,
                &self.spec,
                &self.params,
                &mut self.ws,
                &users,
                &items,
                dropout,
            )?;
            self.gpu.mse_loss_grad(
                &mut self.ws.dpred.slice_mut(..batch),
                &mut self.losses.slice_mut(s..s + 1),
                &self.ws.pred.slice(..batch),
                &self.epoch.ratings.slice(rows),
            )?;
            backward(
                &self.gpu,
                &self.spec,
                &self.params,
                &mut self.grads,
                &mut self.ws,
                &users,
                &items,
                dropout,
                self.deterministic,
            )?;
            self.optimizer_step(lr)?;
        }
        // The one read-back of the epoch.
        let losses = self.gpu.download(&self.losses.slice(..steps))?;
        progress(steps, losses.last().copied().unwrap_or(f32::NAN));
        Ok(losses)
    }

    fn validate(&mut self) -> Result<f64> {
        self.gpu
            .stream
            .memset_zeros(&mut self.mse)
            .map_err(|e| cuda_err("memset", e))?;
        let v = &self.valid;
        for start in (0..v.len).step_by(self.ws.cap) {
            let rows = start..(start + self.ws.cap).min(v.len);
            let batch = rows.len();
            forward(
                &self.gpu,
                &self.spec,
                &self.params,
                &mut self.ws,
                &v.users.slice(rows.clone()),
                &v.items.slice(rows.clone()),
                None,
            )?;
            self.gpu.mse_sum(
                &mut self.mse.slice_mut(..),
                &self.ws.pred.slice(..batch),
                &v.ratings.slice(rows),
                self.deterministic,
            )?;
        }
        let sum = self.gpu.download(&self.mse.slice(..1))?;
        Ok(sum[0] / v.len as f64)
    }

    fn params(&mut self) -> Result<Vec<f32>> {
        self.gpu.download(&self.params.as_view())
    }
}
