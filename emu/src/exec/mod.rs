//! The interpreter: runs one launch of a [`Kernel`] over [`Memory`].
//!
//! CONTRACT (the driver layer codes against these signatures; the interpreter
//! owns the implementation and may add to it, not change it).
//!
//! # The execution model
//!
//! Each thread has its own registers and program counter, as on a GPU with
//! independent thread scheduling (sm_70 and later). The interpreter runs one
//! thread at a time (`interp.rs`) until it reaches a point where it must wait
//! for others:
//! - `bar.sync`: released when every thread of the block that has not exited
//!   waits at a `bar.sync`;
//! - `shfl.sync` / `bar.warp.sync`: completed when every lane of the member
//!   mask waits at one;
//! - `ld.volatile`: a thread that polls memory yields after the load, so that
//!   the thread it waits for (maybe in another block) can run;
//! - `exit` / `ret`.
//!
//! A block runs warp by warp, lane by lane, until every thread waits; then its
//! barrier or shuffles resolve and it goes on. A normal launch runs its blocks
//! one after another; a cooperative launch keeps every block resident and
//! interleaves them round by round, so that a grid barrier (blocks spinning
//! on `ld.volatile` for a counter the last one bumps) works. If a normal
//! launch's resident blocks all spin with nothing changing, the next block is
//! admitted beside them, as a GPU with room would run it.
//!
//! The interpreter is sequentially consistent: every store and atomic lands
//! in [`Memory`] at once, so `membar`/`fence` do nothing and a missing
//! `__threadfence` is not caught.
//!
//! # Integer corner cases (PTX leaves them undefined; these are the emulator's choice)
//! - `div` by zero gives all ones (-1 signed, the maximum unsigned); `rem` by
//!   zero gives the dividend. `MIN / -1` wraps to `MIN`, `MIN % -1` is 0.
//! - Shifts clamp as PTX says: `shl`/`shr.u` by the width or more give 0,
//!   `shr.s` gives all sign bits.
//! - A shuffle's source lane outside the member mask reads the calling lane's own value.
//!
//! # Sanitizers ([`RunOptions::sanitize`])
//! Bounds and alignment of every access are checked always. With `sanitize`:
//! initcheck (global bytes never written, shared bytes this block never
//! wrote), racecheck on shared memory (`sanitize.rs`), and synccheck: a
//! `bar.sync` released while some thread of the block has exited (so only
//! part of the block reached it). A shuffle or warp sync whose mask names an
//! exited lane, and a block whose threads wait at barriers that can never
//! release, are reported whether or not `sanitize` is on, as is a deadlock.
//!
//! Barrier rules, chosen so that legal sm_70+ code passes: every `bar.sync 0`
//! counts towards the block's one barrier whatever its PTX line (nvcc may
//! duplicate a `__syncthreads` into both arms of a branch); a shuffle or warp
//! sync completes when every lane of its member mask waits at one, whatever
//! its line; lanes past the end of a partial last warp are dropped from masks.
//! Racecheck orders lanes of a warp only by full-warp syncs (a partial-mask
//! `__syncwarp` does not order shared accesses here, so code relying on one
//! would be reported).
//!
//! A deadlock is found without a timeout: when a whole round of every
//! resident block passes with no store, atomic, barrier, shuffle or exit, and
//! the registers and pcs of the threads polling memory are the same as the
//! round before, nothing will ever change. A step watchdog
//! ([`WATCHDOG_INSTRUCTIONS`]) catches loops that never touch memory.
//!
//! # Schedule fuzzing ([`RunOptions::seed`])
//! Seed 0 runs blocks in order, warps in order, lanes in order, each thread
//! until it must wait. Any other seed (splitmix64, so a seed always gives the
//! same run) shuffles the order blocks start in, the order resident blocks
//! take turns and how many rounds each runs per turn (so which block of a
//! cooperative launch runs ahead), the warp order of each round, the lane
//! order of each block, and preempts every thread after 1 to 400 instructions.
//!
//! # Counters ([`RunOptions::counters`])
//! See the `counters` module: thread- and warp-instructions, global requests and the
//! distinct 32-byte sectors each touches, shared requests and bank conflicts,
//! divergent branches. Off, they cost one predictable branch an instruction.

mod counters;
mod interp;
mod sanitize;

use std::collections::VecDeque;

use crate::memory::Memory;
use crate::ptx::{slot, Kernel, Op};

pub use counters::warp_instructions;

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

/// A launch stops with a [`FaultKind::Deadlock`] "watchdog" fault after this
/// many thread-instructions (about 3 to 6 minutes of interpretation).
pub const WATCHDOG_INSTRUCTIONS: u64 = 1 << 34;

/// The most shared memory one block may have (sm_90: 227 KiB).
pub const MAX_SHARED_PER_BLOCK: usize = 227 * 1024;

/// Runs one launch to completion. `params` holds each parameter's bytes, in
/// order, exactly as the `.entry` declares them (sizes checked). Memory is
/// left as the kernel left it, even on a fault.
pub fn run(
    kernel: &Kernel,
    launch: Launch,
    params: &[&[u8]],
    mem: &mut Memory,
    opts: RunOptions,
) -> Result<Counters, Fault> {
    let launch_fault = |message: String| Fault {
        kind: FaultKind::Launch,
        kernel: kernel.name.clone(),
        block: None,
        thread: None,
        ptx_line: None,
        message,
    };
    if launch.grid == 0 || launch.block == 0 {
        return Err(launch_fault(format!(
            "an empty launch: grid {} x block {}",
            launch.grid, launch.block
        )));
    }
    let limit = kernel.max_threads.unwrap_or(1024).min(1024);
    if launch.block > limit {
        return Err(launch_fault(format!(
            "a block of {} threads; the kernel allows at most {limit}",
            launch.block
        )));
    }
    let window = kernel.dyn_shared_offset + launch.dynamic_shared as usize;
    let dynamic = launch.dynamic_shared as usize;
    if kernel.static_shared + dynamic > MAX_SHARED_PER_BLOCK {
        return Err(launch_fault(format!(
            "{} bytes of shared memory ({} static + {dynamic} dynamic); a block may have {MAX_SHARED_PER_BLOCK}",
            kernel.static_shared + dynamic,
            kernel.static_shared
        )));
    }
    if params.len() != kernel.params.len() {
        return Err(launch_fault(format!(
            "{} parameters given; the kernel takes {}",
            params.len(),
            kernel.params.len()
        )));
    }
    let mut buf = vec![0u8; kernel.param_bytes];
    for (i, (p, decl)) in params.iter().zip(&kernel.params).enumerate() {
        if p.len() != decl.size {
            return Err(launch_fault(format!(
                "parameter {i} ({}) has {} bytes; the kernel declares {}",
                decl.name,
                p.len(),
                decl.size
            )));
        }
        let o = kernel.param_offsets[i];
        buf[o..o + p.len()].copy_from_slice(p);
    }
    let mut e = Engine::new(kernel, launch, opts, mem, buf, window);
    e.run_grid()?;
    Ok(e.counters)
}

/// The most blocks of `kernel` one SM holds at `block` threads and `dynamic_shared`
/// bytes (the occupancy the driver reports; a cooperative launch may have at most
/// this times the SM count). A model of an sm_90 SM: 2048 threads, 32 blocks,
/// 228 KiB of shared memory, and registers as nvcc declares them.
///
/// The model: threads in whole warps (2048 a SM); at most 32 blocks; shared
/// memory of 228 KiB with 1 KiB reserved per block; 64K registers allocated
/// per warp in units of 256, each thread taking [`Kernel::regs_per_thread`]
/// (the declared registers, at most 255, and at most what `.maxntid` leaves,
/// as ptxas would allocate). 0 when the block cannot run at all.
pub fn max_blocks_per_sm(kernel: &Kernel, block: u32, dynamic_shared: u32) -> u32 {
    let limit = kernel.max_threads.unwrap_or(1024).min(1024);
    if block == 0 || block > limit {
        return 0;
    }
    let smem = kernel.static_shared + dynamic_shared as usize;
    if smem > MAX_SHARED_PER_BLOCK {
        return 0;
    }
    let warps = block.div_ceil(32);
    let by_threads = 2048 / (warps * 32);
    let by_smem = (228 * 1024 / (smem + 1024)) as u32;
    let regs = kernel.regs_per_thread().div_ceil(8) * 8;
    let per_warp = (regs * 32).div_ceil(256) * 256;
    let by_regs = (65536 / per_warp) / warps;
    by_threads.min(32).min(by_smem).min(by_regs)
}

// ---------------------------------------------------------------------------
// The machine
// ---------------------------------------------------------------------------

/// Where a thread is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TState {
    /// Can run.
    Ready,
    /// Waits at `bar.sync` (its pc is the barrier).
    Bar,
    /// Waits at `shfl.sync` (its pc is the shuffle).
    Shfl,
    /// Waits at `bar.warp.sync`.
    WarpSync,
    /// Yielded after an `ld.volatile` (polling memory); runs again next round.
    Yield,
    /// Has exited.
    Exited,
}

/// Why [`Engine::run_thread`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    Bar,
    Shfl,
    WarpSync,
    Yield,
    /// Its instruction budget ran out; it can go on.
    Preempt,
    Exit,
    /// [`Engine::fault`] holds the report.
    Fault,
}

/// One resident block.
pub(crate) struct Block {
    pub id: u32,
    /// Threads.
    pub n: usize,
    /// `n * nregs` register slots.
    pub regs: Vec<u64>,
    pub pc: Vec<u32>,
    pub st: Vec<TState>,
    /// The shared window.
    pub shared: Vec<u8>,
    /// `n * local_bytes`.
    pub local: Vec<u8>,
    /// Barrier epoch: how many `bar.sync`s this block has released.
    pub be: u32,
    /// Per warp: how many full-warp shuffles and warp syncs it has completed.
    pub we: Vec<u32>,
    /// The racecheck shadow of `shared` (sanitize only).
    pub shadow: Vec<sanitize::Cell>,
    /// Per thread and instruction: times executed (counters only).
    pub cnt: Vec<u32>,
    /// Per warp: the memory and branch events not yet grouped into requests.
    pub log: Vec<Vec<counters::Rec>>,
    /// Threads not exited.
    pub live: usize,
    /// The first thread to exit and where.
    pub first_exit: Option<(u32, u32)>,
    /// Lane order within each warp.
    pub lanes: [u8; 32],
}

/// A small deterministic generator (splitmix64).
pub(crate) struct Rng(u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

/// Instructions a thread runs before the scheduler looks at the watchdog (seed 0).
const CHUNK: u64 = 1 << 22;

/// One launch in progress.
pub(crate) struct Engine<'a> {
    pub k: &'a Kernel,
    pub launch: Launch,
    pub opts: RunOptions,
    pub mem: &'a mut Memory,
    pub params: Vec<u8>,
    /// Bytes of a block's shared window.
    pub window: usize,
    /// The last allocation a global access hit: [start, end) and its index.
    pub c_start: u64,
    pub c_end: u64,
    pub c_idx: usize,
    pub counters: Counters,
    /// Bumped by every event that changes what other threads can see or do.
    pub progress: u64,
    /// Thread-instructions so far.
    pub total: u64,
    pub fault: Option<Fault>,
    pub rng: Rng,
    /// Scratch space for counters.
    pub scratch: Vec<u64>,
}

/// How a block's turn ended.
enum Turn {
    Done,
    /// Some threads can still run (the turn's length ran out).
    Preempted,
    /// Every live thread waits on memory (yielded) or on a barrier.
    Waiting,
}

impl<'a> Engine<'a> {
    fn new(
        k: &'a Kernel,
        launch: Launch,
        opts: RunOptions,
        mem: &'a mut Memory,
        params: Vec<u8>,
        window: usize,
    ) -> Self {
        Engine {
            k,
            launch,
            opts,
            mem,
            params,
            window,
            c_start: 1,
            c_end: 0,
            c_idx: 0,
            counters: Counters::default(),
            progress: 0,
            total: 0,
            fault: None,
            rng: Rng(opts.seed),
            scratch: Vec::new(),
        }
    }

    /// A fault at thread `t` of block `b`, instruction `pc`.
    pub fn fault_at(&mut self, kind: FaultKind, block: u32, t: usize, pc: usize, message: String) -> Stop {
        let text = self.k.text.get(pc).map(String::as_str).unwrap_or("");
        self.fault = Some(Fault {
            kind,
            kernel: self.k.name.clone(),
            block: Some(block),
            thread: Some(t as u32),
            ptx_line: self.k.lines.get(pc).map(|&l| l as usize),
            message: format!("{message} (`{text}`)"),
        });
        Stop::Fault
    }

    fn take_fault(&mut self) -> Fault {
        self.fault.take().unwrap_or_else(|| Fault {
            kind: FaultKind::Launch,
            kernel: self.k.name.clone(),
            block: None,
            thread: None,
            ptx_line: None,
            message: "an internal error: a fault without a report".into(),
        })
    }

    fn new_block(&mut self, id: u32) -> Block {
        let k = self.k;
        let n = self.launch.block as usize;
        let nr = k.nregs;
        let mut regs = Vec::with_capacity(n * nr);
        for t in 0..n {
            let s = regs.len();
            regs.extend_from_slice(&k.init);
            let r = &mut regs[s..s + nr];
            r[slot::TID as usize] = t as u64;
            r[slot::NTID as usize] = n as u64;
            r[slot::CTAID as usize] = id as u64;
            r[slot::NCTAID as usize] = self.launch.grid as u64;
            r[slot::LANEID as usize] = (t % 32) as u64;
            r[slot::WARPID as usize] = (t / 32) as u64;
            r[slot::NWARPID as usize] = n.div_ceil(32) as u64;
        }
        let warps = n.div_ceil(32);
        let mut lanes = [0u8; 32];
        for (i, l) in lanes.iter_mut().enumerate() {
            *l = i as u8;
        }
        if self.opts.seed != 0 {
            self.rng.shuffle(&mut lanes);
        }
        Block {
            id,
            n,
            regs,
            pc: vec![0; n],
            st: vec![TState::Ready; n],
            shared: vec![0; self.window],
            local: vec![0; n * k.local_bytes],
            be: 0,
            we: vec![0; warps],
            shadow: if self.opts.sanitize {
                vec![sanitize::Cell::default(); self.window]
            } else {
                Vec::new()
            },
            cnt: if self.opts.counters {
                vec![0; n * k.code.len()]
            } else {
                Vec::new()
            },
            log: if self.opts.counters {
                (0..warps).map(|_| Vec::new()).collect()
            } else {
                Vec::new()
            },
            live: n,
            first_exit: None,
            lanes,
        }
    }

    /// Runs every block of the grid to completion.
    fn run_grid(&mut self) -> Result<(), Fault> {
        let grid = self.launch.grid;
        let mut order: Vec<u32> = (0..grid).collect();
        let fuzz = self.opts.seed != 0;
        if fuzz {
            self.rng.shuffle(&mut order);
        }
        let mut pending: VecDeque<u32> = order.into();
        let mut resident: Vec<Block> = Vec::new();
        if self.launch.cooperative {
            while let Some(id) = pending.pop_front() {
                let b = self.new_block(id);
                resident.push(b);
            }
        }
        let mut finished: Vec<u32> = Vec::new();
        let mut last_hash: Option<u64> = None;
        let mut idx: Vec<usize> = Vec::new();
        loop {
            if resident.is_empty() {
                match pending.pop_front() {
                    Some(id) => {
                        let b = self.new_block(id);
                        resident.push(b);
                    }
                    None => break,
                }
            }
            let progress0 = self.progress;
            let mut any_done = false;
            let mut any_preempted = false;
            idx.clear();
            idx.extend(0..resident.len());
            if fuzz {
                self.rng.shuffle(&mut idx);
            }
            for &i in &idx {
                // Under a seed, a block among others runs a random number of
                // rounds before the next one gets its turn.
                let rounds = if fuzz && resident.len() > 1 {
                    1 + self.rng.below(4) as u32
                } else {
                    u32::MAX
                };
                match self.run_turn(&mut resident[i], rounds)? {
                    Turn::Done => any_done = true,
                    Turn::Preempted => any_preempted = true,
                    Turn::Waiting => {}
                }
            }
            if any_done {
                let mut i = 0;
                while i < resident.len() {
                    if resident[i].live == 0 {
                        let b = resident.swap_remove(i);
                        finished.push(b.id);
                        self.finish_block(b);
                    } else {
                        i += 1;
                    }
                }
                last_hash = None;
                continue;
            }
            if any_preempted || self.progress != progress0 {
                last_hash = None;
                continue;
            }
            // Nothing visible changed this round: every live thread waits, and the
            // ones that poll memory saw what they saw before. Twice in a row with
            // the same state means no one will ever change it.
            let h = state_hash(&resident, self.k.nregs);
            if last_hash != Some(h) {
                last_hash = Some(h);
                continue;
            }
            last_hash = None;
            if let Some(id) = pending.pop_front() {
                let b = self.new_block(id);
                resident.push(b);
                continue;
            }
            let mut f = self.deadlock(&resident, &pending, "no thread can make progress");
            if !finished.is_empty() {
                finished.sort_unstable();
                f.message = format!("{}; blocks {} finished", f.message, list(&finished));
            }
            return Err(f);
        }
        self.counters.thread_instructions = self.total;
        Ok(())
    }

    fn finish_block(&mut self, mut b: Block) {
        if self.opts.counters {
            for w in 0..b.log.len() {
                let mut log = std::mem::take(&mut b.log[w]);
                self.flush_log(&mut log);
            }
            self.counters.warp_instructions += warp_instructions(&b.cnt, b.n, self.k.code.len());
        }
    }

    /// A deadlock report: each block's threads by state and PTX line.
    fn deadlock(&self, resident: &[Block], pending: &VecDeque<u32>, why: &str) -> Fault {
        let mut blocks: Vec<&Block> = resident.iter().collect();
        blocks.sort_by_key(|b| b.id);
        let mut parts = Vec::new();
        let mut first_line = None;
        for b in blocks {
            let (desc, line) = self.describe(b);
            first_line = first_line.or(line);
            parts.push(format!("block {}: {desc}", b.id));
        }
        if !pending.is_empty() {
            let mut p: Vec<u32> = pending.iter().copied().collect();
            p.sort_unstable();
            parts.push(format!("{} blocks not started ({})", p.len(), list(&p)));
        }
        Fault {
            kind: FaultKind::Deadlock,
            kernel: self.k.name.clone(),
            block: None,
            thread: None,
            ptx_line: first_line,
            message: format!("deadlock: {why}; {}", parts.join("; ")),
        }
    }

    /// The threads of `b` grouped by what they wait at, and the PTX line of the first.
    fn describe(&self, b: &Block) -> (String, Option<usize>) {
        let mut groups: Vec<(TState, usize, Vec<u32>)> = Vec::new();
        for t in 0..b.n {
            let st = b.st[t];
            let mut pc = b.pc[t] as usize;
            if st == TState::Yield {
                pc = pc.saturating_sub(1);
            }
            match groups.iter_mut().find(|g| g.0 == st && g.1 == pc) {
                Some(g) => g.2.push(t as u32),
                None => groups.push((st, pc, vec![t as u32])),
            }
        }
        let mut out = Vec::new();
        let mut first = None;
        for (st, pc, ts) in &groups {
            let line = self.k.lines.get(*pc).copied().unwrap_or(0) as usize;
            let what = match st {
                TState::Ready => "runnable",
                TState::Bar => "waiting at bar.sync",
                TState::Shfl => "waiting at shfl.sync",
                TState::WarpSync => "waiting at bar.warp.sync",
                TState::Yield => "spinning at ld.volatile",
                TState::Exited => "exited",
            };
            if *st != TState::Exited {
                first = first.or(Some(line));
            }
            out.push(format!("threads {} {what} (PTX line {line})", list(ts)));
        }
        (out.join(", "), first)
    }

    /// One turn of a block: runs its threads until all of them wait (or
    /// `rounds` rounds have passed), resolving shuffles and barriers as they fill.
    fn run_turn(&mut self, b: &mut Block, rounds: u32) -> Result<Turn, Fault> {
        for s in b.st.iter_mut() {
            if *s == TState::Yield {
                *s = TState::Ready;
            }
        }
        let fuzz = self.opts.seed != 0;
        let warps = b.n.div_ceil(32);
        let mut order: Vec<u32> = (0..warps as u32).collect();
        let mut round = 0u32;
        loop {
            if fuzz {
                self.rng.shuffle(&mut order);
            }
            for &w in &order {
                let w = w as usize;
                loop {
                    for li in 0..32 {
                        let t = w * 32 + b.lanes[li] as usize;
                        if t >= b.n || b.st[t] != TState::Ready {
                            continue;
                        }
                        let budget = if fuzz { 1 + self.rng.below(400) } else { CHUNK };
                        let stop = self.run_thread(b, t, budget);
                        b.st[t] = match stop {
                            Stop::Bar => TState::Bar,
                            Stop::Shfl => TState::Shfl,
                            Stop::WarpSync => TState::WarpSync,
                            Stop::Yield => TState::Yield,
                            Stop::Preempt => TState::Ready,
                            Stop::Exit => {
                                b.live -= 1;
                                self.progress += 1;
                                if b.first_exit.is_none() {
                                    b.first_exit = Some((t as u32, b.pc[t]));
                                }
                                TState::Exited
                            }
                            Stop::Fault => return Err(self.take_fault()),
                        };
                        if self.total > WATCHDOG_INSTRUCTIONS {
                            let mut f = self.deadlock(
                                std::slice::from_ref(b),
                                &VecDeque::new(),
                                "the watchdog fired",
                            );
                            f.message = format!(
                                "{} ({WATCHDOG_INSTRUCTIONS} thread-instructions without finishing; an endless loop?)",
                                f.message
                            );
                            return Err(f);
                        }
                    }
                    if !self.resolve_warp(b, w)? {
                        break;
                    }
                }
                if self.opts.counters && b.log[w].len() > 1 << 14 {
                    let mut log = std::mem::take(&mut b.log[w]);
                    self.flush_log(&mut log);
                    b.log[w] = log;
                }
            }
            if b.live == 0 {
                return Ok(Turn::Done);
            }
            let mut ready = 0usize;
            let mut at_bar = 0usize;
            let mut yielded = 0usize;
            for s in &b.st {
                match s {
                    TState::Ready => ready += 1,
                    TState::Bar => at_bar += 1,
                    TState::Yield => yielded += 1,
                    _ => {}
                }
            }
            if ready > 0 {
                round += 1;
                if round >= rounds {
                    return Ok(Turn::Preempted);
                }
                continue;
            }
            if at_bar == b.live {
                self.release_barrier(b)?;
                continue;
            }
            if yielded > 0 {
                return Ok(Turn::Waiting);
            }
            // Every live thread waits, and no barrier or shuffle can complete.
            let (desc, line) = self.describe(b);
            return Err(Fault {
                kind: FaultKind::Synccheck,
                kernel: self.k.name.clone(),
                block: Some(b.id),
                thread: None,
                ptx_line: line,
                message: format!(
                    "the threads of a block wait at barriers that can never all release: {desc}"
                ),
            });
        }
    }

    /// Every live thread waits at a `bar.sync`: releases them.
    fn release_barrier(&mut self, b: &mut Block) -> Result<(), Fault> {
        let first = b.st.iter().position(|&s| s == TState::Bar).unwrap_or(0);
        if self.opts.sanitize && b.live < b.n {
            let (t, pc) = b.first_exit.unwrap_or((0, 0));
            let line = self.k.lines.get(pc as usize).copied().unwrap_or(0);
            let mut f = self.fault_fields(FaultKind::Synccheck, b.id, first, b.pc[first] as usize);
            f.message = format!(
                "bar.sync reached by {} of the block's {} threads: thread {t} (and {} more) exited at PTX line {line} \
                 without reaching it",
                b.live,
                b.n,
                b.n - b.live - 1
            );
            return Err(f);
        }
        for t in 0..b.n {
            if b.st[t] == TState::Bar {
                b.st[t] = TState::Ready;
                b.pc[t] += 1;
            }
        }
        b.be += 1;
        self.progress += 1;
        Ok(())
    }

    fn fault_fields(&self, kind: FaultKind, block: u32, t: usize, pc: usize) -> Fault {
        Fault {
            kind,
            kernel: self.k.name.clone(),
            block: Some(block),
            thread: Some(t as u32),
            ptx_line: self.k.lines.get(pc).map(|&l| l as usize),
            message: String::new(),
        }
    }

    /// Completes the shuffles and warp syncs of warp `w` whose every mask lane
    /// has arrived. Returns whether any completed.
    fn resolve_warp(&mut self, b: &mut Block, w: usize) -> Result<bool, Fault> {
        let base = w * 32;
        let nl = (b.n - base).min(32);
        let exist: u32 = if nl == 32 { u32::MAX } else { (1u32 << nl) - 1 };
        let mut waiting = 0u32;
        for l in 0..nl {
            if matches!(b.st[base + l], TState::Shfl | TState::WarpSync) {
                waiting |= 1 << l;
            }
        }
        if waiting == 0 {
            return Ok(false);
        }
        let nr = self.k.nregs;
        let mut done = 0u32;
        for l in 0..nl {
            if waiting & !done & (1 << l) == 0 {
                continue;
            }
            let t = base + l;
            let pc = b.pc[t] as usize;
            let (mask_reg, kind) = match self.k.code[pc].op {
                Op::Shfl { mask, .. } => (mask, TState::Shfl),
                Op::WarpSync { mask } => (mask, TState::WarpSync),
                _ => (crate::ptx::slot::ZERO, TState::Shfl),
            };
            let m = (b.regs[t * nr + mask_reg as usize] as u32) & exist;
            let what = if kind == TState::Shfl {
                "shfl.sync"
            } else {
                "bar.warp.sync"
            };
            if m & (1 << l) == 0 {
                let mut f = self.fault_fields(FaultKind::Synccheck, b.id, t, pc);
                f.message =
                    format!("{what} with member mask {m:#010x}, which does not name the calling lane {l}");
                return Err(f);
            }
            for j in 0..nl {
                if m & (1 << j) != 0 && b.st[base + j] == TState::Exited {
                    let mut f = self.fault_fields(FaultKind::Synccheck, b.id, t, pc);
                    f.message = format!(
                        "{what} with member mask {m:#010x}: lane {j} (thread {}) has exited and can never arrive",
                        base + j
                    );
                    return Err(f);
                }
            }
            if m & !waiting != 0 {
                continue;
            }
            for j in 0..nl {
                if m & (1 << j) != 0 && b.st[base + j] != kind {
                    let pj = b.pc[base + j] as usize;
                    let mut f = self.fault_fields(FaultKind::Synccheck, b.id, t, pc);
                    f.message = format!(
                        "lanes of one member mask {m:#010x} wait at different warp-level syncs: lane {l} at {what}, \
                         lane {j} at PTX line {}",
                        self.k.lines.get(pj).copied().unwrap_or(0)
                    );
                    return Err(f);
                }
            }
            if kind == TState::Shfl {
                self.complete_shuffle(b, base, m);
            }
            for j in 0..nl {
                if m & (1 << j) != 0 {
                    b.st[base + j] = TState::Ready;
                    b.pc[base + j] += 1;
                }
            }
            if m == exist {
                b.we[w] += 1;
            }
            done |= m;
            self.progress += 1;
        }
        Ok(done != 0)
    }

    /// Every lane of `m` (in the warp starting at thread `base`) waits at a shuffle: exchanges the values.
    fn complete_shuffle(&mut self, b: &mut Block, base: usize, m: u32) {
        let nr = self.k.nregs;
        let mut src = [0u64; 32];
        let mut sh = [(crate::ptx::ShflMode::Bfly, 0u32, 0u32, 0u32, 0u32); 32];
        for (l, s) in sh.iter_mut().enumerate() {
            if m & (1 << l) == 0 {
                continue;
            }
            let t = base + l;
            if let Op::Shfl {
                mode,
                d,
                p,
                a,
                b: bb,
                c,
                ..
            } = self.k.code[b.pc[t] as usize].op
            {
                let r = &b.regs[t * nr..(t + 1) * nr];
                src[l] = r[a as usize] & 0xFFFF_FFFF;
                *s = (mode, d, p, r[bb as usize] as u32, r[c as usize] as u32);
            }
        }
        let mut out = [(0u64, false); 32];
        for (l, o) in out.iter_mut().enumerate() {
            if m & (1 << l) == 0 {
                continue;
            }
            let (mode, _, _, bval, cval) = sh[l];
            *o = shuffle_source(mode, l as u32, bval, cval, m, &src);
        }
        for (l, &(v, pv)) in out.iter().enumerate() {
            if m & (1 << l) == 0 {
                continue;
            }
            let t = base + l;
            let (_, d, p, _, _) = sh[l];
            let r = &mut b.regs[t * nr..(t + 1) * nr];
            r[d as usize] = v;
            if p != crate::ptx::NONE {
                r[p as usize] = pv as u64;
            }
        }
    }
}

/// `shfl.sync`'s choice of source lane, as the PTX ISA defines it: the value
/// lane `lane` receives and the predicate (whether the source lane was in range).
pub(crate) fn shuffle_source(
    mode: crate::ptx::ShflMode,
    lane: u32,
    bval: u32,
    cval: u32,
    members: u32,
    src: &[u64; 32],
) -> (u64, bool) {
    use crate::ptx::ShflMode;
    let bval = bval & 31;
    let clamp = cval & 31;
    let segmask = (cval >> 8) & 31;
    let max_lane = ((lane & segmask) | (clamp & !segmask)) as i64;
    let min_lane = (lane & segmask) as i64;
    let l = lane as i64;
    let (j, pval) = match mode {
        ShflMode::Up => {
            let j = l - bval as i64;
            (j, j >= max_lane)
        }
        ShflMode::Down => {
            let j = l + bval as i64;
            (j, j <= max_lane)
        }
        ShflMode::Bfly => {
            let j = l ^ bval as i64;
            (j, j <= max_lane)
        }
        ShflMode::Idx => {
            let j = min_lane | (bval & !segmask) as i64;
            (j, j <= max_lane)
        }
    };
    let j = if pval && (0..32).contains(&j) && members & (1 << j) != 0 {
        j as usize
    } else {
        lane as usize
    };
    (src[j], pval)
}

/// A hash of every polling thread's pc and registers (the state a spin loop would change).
fn state_hash(blocks: &[Block], nregs: usize) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut mix = |v: u64| {
        h ^= v;
        h = h.wrapping_mul(0x0000_0100_0000_01b3).rotate_left(17);
    };
    for b in blocks {
        mix(b.id as u64);
        mix(b.be as u64);
        for t in 0..b.n {
            mix(b.st[t] as u64);
            if b.st[t] == TState::Yield {
                mix(t as u64);
                mix(b.pc[t] as u64);
                for &r in &b.regs[t * nregs..(t + 1) * nregs] {
                    mix(r);
                }
            }
        }
    }
    h
}

/// "0-3, 7, 9-12"
fn list(v: &[u32]) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        out.push(if j == i {
            format!("{}", v[i])
        } else {
            format!("{}-{}", v[i], v[j])
        });
        i = j + 1;
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ptx::{Module, ShflMode};

    /// out[tid] = tid + 100 * ctaid for tid < n; then a full-warp xor-shuffle sum into out2[gtid].
    const PTX: &str = r#"
.version 9.0
.target sm_80
.address_size 64

.visible .entry k(
	.param .u64 k_param_0,
	.param .u64 k_param_1,
	.param .u32 k_param_2
)
.maxntid 256, 1, 1
{
	.reg .pred 	%p<3>;
	.reg .b32 	%r<12>;
	.reg .b64 	%rd<8>;

	ld.param.u64 	%rd1, [k_param_0];
	ld.param.u64 	%rd2, [k_param_1];
	ld.param.u32 	%r1, [k_param_2];
	mov.u32 	%r2, %tid.x;
	mov.u32 	%r3, %ctaid.x;
	mov.u32 	%r4, %ntid.x;
	mad.lo.s32 	%r5, %r3, %r4, %r2;
	mul.wide.u32 	%rd3, %r5, 4;
	cvta.to.global.u64 	%rd4, %rd1;
	add.s64 	%rd5, %rd4, %rd3;
	setp.ge.u32 	%p1, %r5, %r1;
	@%p1 bra 	$L__BB0_2;
	mad.lo.s32 	%r6, %r3, 100, %r2;
	st.global.u32 	[%rd5], %r6;
$L__BB0_2:
	shfl.sync.bfly.b32 	%r7|%p2, %r2, 16, 31, -1;
	add.s32 	%r8, %r2, %r7;
	shfl.sync.bfly.b32 	%r9|%p2, %r8, 8, 31, -1;
	add.s32 	%r8, %r8, %r9;
	shfl.sync.down.b32 	%r10|%p2, %r8, 1, 31, -1;
	selp.b32 	%r11, %r10, 7, %p2;
	cvta.to.global.u64 	%rd6, %rd2;
	add.s64 	%rd7, %rd6, %rd3;
	st.global.u32 	[%rd7], %r11;
	ret;
}
"#;

    fn le(v: u64) -> [u8; 8] {
        v.to_le_bytes()
    }

    #[test]
    fn runs_inline_ptx() {
        let m = Module::load(PTX).unwrap();
        let k = m.kernel("k").unwrap();
        let mut mem = Memory::new(1 << 20);
        let out = mem.alloc(64 * 4).unwrap();
        let out2 = mem.alloc(64 * 4).unwrap();
        mem.memset(out, 0xFFFF_FFFF, 4, 64).unwrap();
        let n = 40u32.to_le_bytes();
        let l = Launch {
            grid: 2,
            block: 32,
            dynamic_shared: 0,
            cooperative: false,
        };
        for seed in [0, 3] {
            let o = RunOptions {
                sanitize: true,
                counters: true,
                seed,
            };
            let c = run(&k, l, &[&le(out), &le(out2), &n], &mut mem, o).unwrap();
            assert_eq!(c.thread_instructions, 64 * 24 - 24 * 2);
            let mut b = vec![0u8; 64 * 4];
            mem.read(out, &mut b).unwrap();
            let v: Vec<u32> = b
                .chunks(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            for (i, &x) in v.iter().enumerate() {
                let want = if i < 40 {
                    (i % 32 + 100 * (i / 32)) as u32
                } else {
                    u32::MAX
                };
                assert_eq!(x, want, "out[{i}]");
            }
            mem.read(out2, &mut b).unwrap();
            let v: Vec<u32> = b
                .chunks(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            for (i, &x) in v.iter().enumerate() {
                let lane = (i % 32) as u32;
                // After two butterflies each lane holds the sum over its coset of {0, 8, 16, 24}.
                let s = |l: u32| (0..4).map(|q| (l % 8) + 8 * q).sum::<u32>();
                let want = if lane == 31 { 7 } else { s(lane + 1) };
                assert_eq!(x, want, "out2[{i}]");
            }
        }
    }

    #[test]
    fn launch_shapes_and_parameters_are_checked() {
        let m = Module::load(PTX).unwrap();
        let k = m.kernel("k").unwrap();
        let mut mem = Memory::new(1 << 20);
        let o = RunOptions {
            sanitize: true,
            counters: false,
            seed: 0,
        };
        let l = Launch {
            grid: 1,
            block: 512,
            dynamic_shared: 0,
            cooperative: false,
        };
        let n = 1u32.to_le_bytes();
        let e = run(&k, l, &[&le(0), &le(0), &n], &mut mem, o).unwrap_err();
        assert_eq!(e.kind, FaultKind::Launch);
        let l = Launch { block: 32, ..l };
        let e = run(&k, l, &[&le(0), &n, &n], &mut mem, o).unwrap_err();
        assert!(
            e.kind == FaultKind::Launch && e.message.contains("parameter 1"),
            "{e}"
        );
        let e = run(&k, l, &[&le(0)], &mut mem, o).unwrap_err();
        assert_eq!(e.kind, FaultKind::Launch);
        // A null pointer is outside every allocation.
        let e = run(&k, l, &[&le(0), &le(0), &n], &mut mem, o).unwrap_err();
        assert!(e.kind == FaultKind::Memcheck && e.ptx_line == Some(30), "{e}");
    }

    #[test]
    fn shuffle_modes_follow_the_isa() {
        let src: [u64; 32] = std::array::from_fn(|i| i as u64 * 10);
        let all = u32::MAX;
        assert_eq!(shuffle_source(ShflMode::Bfly, 5, 1, 31, all, &src), (40, true));
        assert_eq!(shuffle_source(ShflMode::Down, 30, 4, 31, all, &src), (300, false));
        assert_eq!(shuffle_source(ShflMode::Down, 3, 4, 31, all, &src), (70, true));
        assert_eq!(shuffle_source(ShflMode::Up, 2, 4, 0, all, &src), (20, false));
        assert_eq!(shuffle_source(ShflMode::Up, 9, 4, 0, all, &src), (50, true));
        assert_eq!(shuffle_source(ShflMode::Idx, 9, 3, 31, all, &src), (30, true));
        // width 8: c = ((32 - 8) << 8) | 31; segments of 8 lanes.
        let c = (24 << 8) | 31;
        assert_eq!(shuffle_source(ShflMode::Idx, 13, 2, c, all, &src), (100, true));
        assert_eq!(shuffle_source(ShflMode::Down, 14, 2, c, all, &src), (140, false));
        assert_eq!(
            shuffle_source(ShflMode::Up, 9, 2, 24 << 8, all, &src),
            (90, false)
        );
        assert_eq!(
            shuffle_source(ShflMode::Up, 11, 2, 24 << 8, all, &src),
            (90, true)
        );
    }

    #[test]
    fn occupancy_model() {
        let m = Module::load(PTX).unwrap();
        let k = m.kernel("k").unwrap();
        // Few registers: limited by threads (2048 / 256) and the 32-block cap.
        assert_eq!(max_blocks_per_sm(&k, 256, 0), 8);
        assert_eq!(max_blocks_per_sm(&k, 32, 0), 32);
        // Shared memory: 228 KiB / (100 KiB + 1 KiB) = 2.
        assert_eq!(max_blocks_per_sm(&k, 32, 100 * 1024), 2);
        assert_eq!(max_blocks_per_sm(&k, 32, 228 * 1024), 0);
        assert_eq!(max_blocks_per_sm(&k, 512, 0), 0, "past .maxntid");
        assert_eq!(max_blocks_per_sm(&k, 0, 0), 0);
    }

    #[test]
    fn rng_is_deterministic() {
        let (mut a, mut b) = (Rng(5), Rng(5));
        assert_eq!(
            (0..10).map(|_| a.next()).collect::<Vec<_>>(),
            (0..10).map(|_| b.next()).collect::<Vec<_>>()
        );
        let mut v: Vec<u32> = (0..10).collect();
        Rng(1).shuffle(&mut v);
        let mut s = v.clone();
        s.sort_unstable();
        assert_eq!(s, (0..10).collect::<Vec<_>>());
        assert_ne!(v, s);
    }
}
