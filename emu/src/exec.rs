//! The interpreter: runs one launch of a [`Kernel`] over [`Memory`].
//!
//! CONTRACT (the driver layer codes against these signatures; the interpreter
//! owns the implementation and may add to it, not change it).

use crate::memory::Memory;
use crate::ptx::Kernel;

/// One launch's shape (x only: the kernels use no y or z).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Launch {
    /// Blocks in the grid.
    pub grid: u32,
    /// Threads in a block.
    pub block: u32,
    /// Bytes of dynamic shared memory (`extern .shared`).
    pub dynamic_shared: u32,
    /// A cooperative launch: every block resident at once, so blocks interleave
    /// and may wait on each other (a grid barrier).
    pub cooperative: bool,
}

/// What the scheduler and the sanitizers do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    /// memcheck on shared and local too, initcheck, racecheck, barrier checks.
    pub sanitize: bool,
    /// Collect [`Counters`].
    pub counters: bool,
    /// Schedule-fuzz seed; 0 is the plain order.
    pub seed: u64,
}

/// Per-launch counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Thread-instructions executed (one per thread per instruction).
    pub thread_instructions: u64,
    /// Warp-instructions executed (one per warp per instruction issued).
    pub warp_instructions: u64,
    /// Global load requests (one per warp per load instruction) and the 32-byte sectors they touched.
    pub global_load_requests: u64,
    /// 32-byte sectors read by global loads.
    pub global_load_sectors: u64,
    /// Global store requests (atomics included).
    pub global_store_requests: u64,
    /// 32-byte sectors written by global stores (atomics included).
    pub global_store_sectors: u64,
    /// Shared-memory requests (one per warp per instruction).
    pub shared_requests: u64,
    /// Extra shared-memory wavefronts caused by bank conflicts (0 when conflict-free).
    pub bank_conflicts: u64,
    /// Conditional branches where the lanes of one warp went different ways.
    pub divergent_branches: u64,
}

/// The kind of a [`Fault`], as compute-sanitizer names its tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// An access outside every live allocation (global, shared or local), or misaligned.
    Memcheck,
    /// A load of device memory never written.
    Initcheck,
    /// Two threads touched one shared address, at least one writing, with no barrier between.
    Racecheck,
    /// A barrier only part of the block reached, or a shuffle whose mask's lanes did not all arrive.
    Synccheck,
    /// Nothing can make progress (a grid barrier that never releases, a spin on a flag no one sets).
    Deadlock,
    /// A `trap`, a bad launch shape or parameter block, or anything else the kernel cannot run.
    Launch,
}

/// A sanitizer's report: what, where (kernel, block, thread, PTX line) and the detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Which check fired.
    pub kind: FaultKind,
    /// The kernel's name.
    pub kernel: String,
    /// blockIdx.x and threadIdx.x of the faulting thread, where one thread is to blame.
    pub block: Option<u32>,
    /// threadIdx.x.
    pub thread: Option<u32>,
    /// 1-based line in the module's PTX text.
    pub ptx_line: Option<usize>,
    /// The rest, in words (for a deadlock: each block's state and PC).
    pub message: String,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {} in kernel {}", self.kind, self.message, self.kernel)?;
        if let Some(b) = self.block {
            write!(f, ", block {b}")?;
        }
        if let Some(t) = self.thread {
            write!(f, ", thread {t}")?;
        }
        if let Some(l) = self.ptx_line {
            write!(f, ", PTX line {l}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Fault {}

/// Runs one launch to completion. `params` holds each parameter's bytes, in
/// order, exactly as the `.entry` declares them (sizes checked). Memory is
/// left as the kernel left it, even on a fault.
pub fn run(kernel: &Kernel, launch: Launch, params: &[&[u8]], mem: &mut Memory, opts: RunOptions) -> Result<Counters, Fault> {
    let _ = (kernel, launch, params, mem, opts);
    todo!()
}

/// The most blocks of `kernel` one SM holds at `block` threads and `dynamic_shared`
/// bytes (the occupancy the driver reports; a cooperative launch may have at most
/// this times the SM count). A model of an sm_90 SM: 2048 threads, 32 blocks,
/// 228 KiB of shared memory, and registers as nvcc declares them.
pub fn max_blocks_per_sm(kernel: &Kernel, block: u32, dynamic_shared: u32) -> u32 {
    let _ = (kernel, block, dynamic_shared);
    todo!()
}
