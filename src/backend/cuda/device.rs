//! The device: the PTX built into the binary, the table of kernels loaded
//! from it, [`Gpu`] (opening a device, buffers up and down, memory checks),
//! and what every kernel wrapper shares: launch configurations, `i32`
//! arguments and CUDA errors.

use std::collections::HashMap;
use std::sync::Arc;

use cudarc::driver::{
    CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, CudaView, DeviceRepr, DriverError,
    LaunchConfig, ValidAsZeroBits,
};
use cudarc::nvrtc::Ptx;

use crate::backend::cuda::memory::MemoryPlan;
use crate::error::{Error, Result};
use crate::optim::{KernelParam, Optimizer};

mod ptx {
    include!(concat!(env!("OUT_DIR"), "/kernels.rs"));
}
pub use ptx::{BUILD_NOTE, PTX};

/// Threads per block for every kernel: `BLOCK_THREADS` in `kernels/common.cuh`,
/// which every kernel declares with `__launch_bounds__`, must be the same.
pub(super) const BLOCK: u32 = 256;
/// Threads a block of the one-kernel epochs (`kernels/lazy.cu`,
/// `kernels/adam_epoch.cu`): `EPOCH_THREADS` in `kernels/step_rows.cuh`,
/// which those kernels declare with `__launch_bounds__`.
pub(super) const EPOCH_BLOCK: u32 = 1024;
/// Shared memory a block may use without opting in.
pub(super) const SHARED_LIMIT: usize = 48 * 1024;

/// The columns of a row of dot or dotbias in the one-kernel epochs (its
/// factors, and its bias), or `None` for the models they do not train.
pub(super) fn epoch_row_width(spec: &crate::model::ModelSpec) -> Option<usize> {
    let kind = spec.kind;
    kind.gpu_kernels()
        .fused_step
        .then_some(spec.factors + usize::from(kind.has_biases()))
}

/// The bytes of shared memory a one-kernel epoch's block needs at batch
/// `bs` and row width `w`: `kernels/step_rows.cuh`'s layout, 2·bs·w + 4·bs
/// floats and 10·bs ints.
pub(super) fn epoch_shared_bytes(bs: usize, w: usize) -> usize {
    4 * (2 * bs * w + 4 * bs + 10 * bs)
}

/// Whether a step of batch `bs` and row width `w` fits one block of a
/// one-kernel epoch: a thread per position of both sides, and shared memory.
pub(super) fn epoch_fits(bs: usize, w: usize) -> bool {
    bs >= 1 && 2 * bs <= EPOCH_BLOCK as usize && epoch_shared_bytes(bs, w) <= SHARED_LIMIT
}
/// Grid size cap; grid-stride loops cover the rest.
pub(super) const MAX_BLOCKS: usize = 65_535;

/// One block per 256 elements, at least one block, at most [`MAX_BLOCKS`].
pub(super) fn grid(n: usize) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (n.div_ceil(BLOCK as usize).clamp(1, MAX_BLOCKS) as u32, 1, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// Exactly one block: for kernels that reduce inside a block.
pub(super) fn one_block() -> LaunchConfig {
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

/// The elements a device allocation for `n` takes: at least one, since
/// `cuMemAlloc` refuses a size of 0 (and `cuMemAllocAsync`'s answer to 0 is
/// not documented). [`Gpu::zeros`] and [`Gpu::upload`] allocate this many.
pub fn alloc_len(n: usize) -> usize {
    n.max(1)
}

/// An `i32` kernel argument from a size; sizes past 2^31 are refused.
pub(super) fn int(what: &str, n: usize) -> Result<i32> {
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
        pub(super) struct Kernels { $(pub(super) $name: CudaFunction,)* }

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
    mf_validate in "fused",
    mf_epoch_lazy_sgd in "lazy",
    sgd_catch_up_all in "lazy",
    mf_epoch_adam in "adam_epoch",
    mf_epoch_adam_net in "net_epoch",
    mf_sgd_sparse_f32 in "sparse",
    mf_sgd_sparse_bf16 in "sparse",
    mf_sgd_sparse_f32_narrow in "sparse",
    mf_sgd_sparse_bf16_narrow in "sparse",
    mf_sgd_sparse_runs_f32 in "sparse",
    mf_sgd_sparse_runs_bf16 in "sparse",
    mf_sgd_sparse_tasks_f32 in "sparse",
    mf_sgd_sparse_tasks_bf16 in "sparse",
    mf_predict_f32 in "sparse",
    mf_predict_bf16 in "sparse",
    group_mean in "sparse",
    dot_forward_warp in "dot",
    dot_forward_warp4 in "dot",
    dot_forward_halfwarp4 in "dot",
    mf_sgd_sparse_thread in "sparse",
    mf_sgd_sparse_f32_scalar in "sparse",
    score_topk in "ranking",
    score_topk_tiled in "ranking",
}

/// The parameter kinds of kernel `name` as `ptx` declares them (`.param
/// .u64 …` a line, up to the closing parenthesis), or `None` if `ptx` has no
/// such entry.
pub(super) fn entry_params(ptx: &str, name: &str) -> Option<Vec<KernelParam>> {
    let head = format!(".entry {name}(");
    let mut lines = ptx
        .lines()
        .skip_while(|l| !l.trim_start().starts_with(&format!(".visible {head}")));
    lines.next()?;
    let mut params = Vec::new();
    for line in lines {
        let l = line.trim();
        let Some(rest) = l.strip_prefix(".param ") else {
            break;
        };
        params.push(match rest.split_whitespace().next() {
            Some(".u64") => KernelParam::Ptr,
            Some(".f32") => KernelParam::F32,
            Some(".u32" | ".s32") => KernelParam::Int,
            _ => return None,
        });
    }
    Some(params)
}

/// Every registered dense optimizer's update kernels ([`Optimizer::examples`]),
/// by name, each checked against the argument list its optimizer declares
/// ([`DenseOptimizer::kernel_params`]): a kernel that takes other
/// parameters is refused here, so that the one launcher of them all
/// (`optim.rs`) cannot pass a wrong list.
fn load_updates(
    modules: &HashMap<&str, Arc<CudaModule>>,
) -> std::result::Result<HashMap<&'static str, CudaFunction>, String> {
    let mut out = HashMap::new();
    for optimizer in Optimizer::examples() {
        let o = optimizer.get();
        let k = o.kernels();
        let (module, text) = modules
            .get(k.file)
            .zip(PTX.iter().find(|p| p.0 == k.file))
            .ok_or_else(|| format!("kernels/{}.cu was not built", k.file))?;
        for (name, scheduled) in [(k.plain, false), (k.scheduled, true)] {
            let want = o.kernel_params(scheduled);
            let got = entry_params(text.1, name);
            if got.as_ref() != Some(&want) {
                return Err(format!(
                    "kernel {name} in kernels/{}.cu takes {}, and the {} optimizer passes {} \
                     (the argument convention of optim::UpdateKernels)",
                    k.file,
                    got.map_or("no parameters (it is missing)".into(), |g| format!("{g:?}")),
                    o.name(),
                    format_args!("{want:?}"),
                ));
            }
            let f = module
                .load_function(name)
                .map_err(|e| format!("kernel {name} missing from kernels/{}.cu: {e}", k.file))?;
            out.insert(name, f);
        }
    }
    Ok(out)
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
    pub(super) k: Kernels,
    /// The dense optimizers' update kernels, by name ([`load_updates`]).
    pub(super) updates: HashMap<&'static str, CudaFunction>,
}

impl Gpu {
    /// Opens GPU `ordinal` (0 is the first), or says in one line why it
    /// cannot be used. Which GPU a command opens is decided by
    /// [`crate::backend::select::choose`].
    pub fn open(ordinal: usize) -> std::result::Result<Gpu, String> {
        // The driver first: without one, installing nvcc for the kernels
        // (a few hundred MB) would not help.
        // SAFETY: only tries to dlopen libcuda; no CUDA call is made.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err(match PTX.is_empty() {
                false => "no NVIDIA driver found (libcuda.so cannot be loaded)".into(),
                true => "no NVIDIA driver found (libcuda.so cannot be loaded); this binary has no \
                         CUDA kernels either, which matters only once there is a driver"
                    .into(),
            });
        }
        if PTX.is_empty() {
            return Err(format!("this binary has no CUDA kernels ({BUILD_NOTE})"));
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
        let updates = load_updates(&modules)?;
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
            updates,
        })
    }

    /// Copies a host slice to a new device buffer of the same length. An
    /// empty slice gets a buffer of length 0 that still owns one element of
    /// device memory ([`alloc_len`]): the driver is never asked for 0 bytes,
    /// and a kernel wrapper that takes its size from the buffer sees 0.
    pub fn upload<T: DeviceRepr>(&self, host: &[T]) -> Result<CudaSlice<T>> {
        if host.is_empty() {
            return self.empty();
        }
        self.stream
            .clone_htod(host)
            .map_err(|e| self.alloc_err("upload", std::mem::size_of_val(host), e))
    }

    /// A new zeroed device buffer of `n` elements (at least one, so that
    /// empty tensors still have an address: its length is [`alloc_len`]`(n)`).
    pub fn zeros<T: DeviceRepr + ValidAsZeroBits>(&self, n: usize) -> Result<CudaSlice<T>> {
        let len = alloc_len(n);
        self.stream
            .alloc_zeros(len)
            .map_err(|e| self.alloc_err("alloc", len * std::mem::size_of::<T>(), e))
    }

    /// A buffer of length 0 backed by one zeroed element, for empty uploads.
    fn empty<T: DeviceRepr>(&self) -> Result<CudaSlice<T>> {
        let bytes = alloc_len(0) * std::mem::size_of::<T>();
        // Raw bytes: a `T` of zero bits need not be valid, but nothing reads
        // this element (the buffer's length is 0).
        let one = self
            .stream
            .alloc_zeros::<u8>(bytes.max(1))
            .map_err(|e| self.alloc_err("upload", bytes, e))?;
        let ptr = one.leak();
        // SAFETY: `ptr` is a live allocation of at least one `T` on this
        // stream's context, which `leak` gave up and nothing else owns; the
        // new slice owns it and frees it on drop, as cudarc frees its own.
        // Its length, 0, is within the allocation, and cudarc's event tracking
        // is off (`Gpu::open`), so no event is made here.
        Ok(unsafe { self.stream.upgrade_device_ptr(ptr, 0) })
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
}

#[cfg(test)]
mod tests {
    use super::{entry_params, BLOCK, BUILD_NOTE, PTX};
    use crate::optim::Optimizer;

    /// No allocation asks the driver for 0 bytes: an empty buffer still
    /// takes one element.
    #[test]
    fn allocations_take_at_least_one_element() {
        assert_eq!(super::alloc_len(0), 1);
        assert_eq!(super::alloc_len(1), 1);
        assert_eq!(super::alloc_len(4096), 4096);
    }

    /// Device memory is allocated in this file only, by [`super::Gpu::zeros`]
    /// and [`super::Gpu::upload`], which never ask for 0 bytes: cudarc's
    /// allocating calls appear nowhere else in src/.
    #[test]
    fn device_memory_is_allocated_here_only() {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).expect("src/ is readable") {
                let path = entry.expect("an entry").path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        walk(&src, &mut files);
        let here = src.join("backend/cuda/device.rs");
        let allocating = [
            "clone_htod(",
            "alloc_zeros",
            ".alloc(",
            "alloc::<",
            "memcpy_stod(",
            "upgrade_device_ptr(",
        ];
        let mut bad = Vec::new();
        for file in files.iter().filter(|f| **f != here) {
            let text = std::fs::read_to_string(file).expect("a source file");
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if allocating.iter().any(|a| code.contains(a)) {
                    bad.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
        assert!(
            bad.is_empty(),
            "allocate through Gpu::zeros or Gpu::upload:\n{}",
            bad.join("\n")
        );
    }

    #[test]
    fn every_kernel_declares_the_block_size_the_host_launches() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("kernels");
        let common = std::fs::read_to_string(dir.join("common.cuh")).expect("kernels/common.cuh");
        assert!(
            common.contains(&format!("#define BLOCK_THREADS {BLOCK}\n")),
            "BLOCK_THREADS in kernels/common.cuh must be BLOCK = {BLOCK}"
        );
        let rows = std::fs::read_to_string(dir.join("step_rows.cuh")).expect("kernels/step_rows.cuh");
        assert!(
            rows.contains(&format!("#define EPOCH_THREADS {}\n", super::EPOCH_BLOCK)),
            "EPOCH_THREADS in kernels/step_rows.cuh must be EPOCH_BLOCK = {}",
            super::EPOCH_BLOCK
        );
        // The limits of the lazy epoch and the ranking kernels are checked
        // beside their wrappers (kernels/lazy.rs, kernels/ranking.rs).
        let mut kernels = 0;
        for entry in std::fs::read_dir(&dir).expect("kernels/") {
            let path = entry.expect("an entry").path();
            if path.extension().is_some_and(|e| e == "cu") {
                let text = std::fs::read_to_string(&path).expect("a kernel file");
                let global = text.matches("__global__ void").count();
                // Every kernel runs BLOCK threads, but the one-kernel epochs and the ranking.
                // (with a minimum of blocks an SM, `(BLOCK_THREADS, 8)`, where registers must fit 8)
                let bounded = text
                    .matches("__global__ void __launch_bounds__(BLOCK_THREADS")
                    .count()
                    + text
                        .matches("__global__ void __launch_bounds__(EPOCH_THREADS)")
                        .count()
                    + text
                        .matches("__global__ void __launch_bounds__(RANK_THREADS)")
                        .count();
                assert_eq!(
                    global,
                    bounded,
                    "{}: a kernel without __launch_bounds__",
                    path.display()
                );
                kernels += global;
            }
        }
        assert!(kernels >= 30, "only {kernels} kernels found");
    }

    /// One integer type for sizes (kernels/common.cuh): no kernel takes a
    /// 64-bit argument but dropout's seed and step (or first step), which
    /// are values.
    #[test]
    fn every_kernel_takes_its_sizes_as_int() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("kernels");
        let mut params = 0;
        for entry in std::fs::read_dir(&dir).expect("kernels/") {
            let path = entry.expect("an entry").path();
            if path.extension().is_none_or(|e| e != "cu") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("a kernel file");
            for sig in text.split("__global__ void").skip(1) {
                let args = sig.split(')').nth(1).expect("a parameter list");
                let args = args.split('(').nth(1).expect("a parameter list");
                for arg in args.split(',') {
                    let arg = arg.trim().trim_end_matches('\\').trim();
                    params += 1;
                    if arg.contains("long long") || arg.contains("size_t") || arg.contains("int64") {
                        let name = arg.rsplit(' ').next().unwrap_or("");
                        assert!(
                            matches!(name, "seed" | "step" | "first_step")
                                && arg.starts_with("unsigned long long"),
                            "{}: `{arg}` is a 64-bit argument; sizes are int",
                            path.display()
                        );
                    }
                }
            }
        }
        assert!(params > 200, "only {params} kernel parameters found");
    }

    /// Each registered optimizer's kernels take what it declares, as the
    /// PTX states it: the check [`Gpu::open`] makes, here without a GPU.
    #[test]
    fn every_optimizer_kernel_takes_the_parameters_its_optimizer_declares() {
        if PTX.is_empty() {
            eprintln!("skipped: this build has no PTX ({BUILD_NOTE})");
            return;
        }
        let mut modules = 0;
        for optimizer in Optimizer::examples() {
            let o = optimizer.get();
            let k = o.kernels();
            let text = PTX
                .iter()
                .find(|p| p.0 == k.file)
                .expect("the optimizer's kernel file is built");
            for (name, scheduled) in [(k.plain, false), (k.scheduled, true)] {
                assert_eq!(
                    entry_params(text.1, name),
                    Some(o.kernel_params(scheduled)),
                    "{name} in kernels/{}.cu",
                    k.file
                );
                modules += 1;
            }
        }
        assert_eq!(modules, 2 * Optimizer::examples().len());
        // A kernel that does not exist, and one with other parameters, do not pass.
        let optim = PTX.iter().find(|p| p.0 == "optim").expect("optim.cu is built");
        assert_eq!(entry_params(optim.1, "no_such_kernel"), None);
        let sgd = entry_params(optim.1, "sgd_update").expect("sgd_update");
        assert_ne!(Some(sgd), Some(Optimizer::ADAM.get().kernel_params(false)));
    }
}
