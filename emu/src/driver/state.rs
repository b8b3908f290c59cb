//! The one emulated device's state, behind one lock: the primary context,
//! device memory, modules, streams, events and graphs, and the operations a
//! stream runs (at once, or recorded while the stream captures).

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::Instant;

use crate::config::Config;
use crate::exec::{self, Counters, Fault, FaultKind, Launch, RunOptions};
use crate::memory::{MemError, Memory};
use crate::ptx::{self, Kernel};

use super::stats::{self, LaunchReport};
use super::types::{capture_mode, CUresult, SHARED_PER_BLOCK};

/// Internal results: `Err` is the `CUresult` to return.
pub(crate) type R<T = ()> = Result<T, CUresult>;

/// Handle kinds: a handle is `kind << 40 | id`, so that a handle of one kind
/// passed where another is expected is never found.
pub(crate) mod kind {
    pub const CONTEXT: u64 = 1;
    pub const STREAM: u64 = 2;
    pub const EVENT: u64 = 3;
    pub const MODULE: u64 = 4;
    pub const FUNCTION: u64 = 5;
    pub const GRAPH: u64 = 6;
    pub const GRAPH_EXEC: u64 = 7;
    pub const POOL: u64 = 8;
}

/// The default memory pool's handle (one per device, never destroyed).
pub(crate) const DEFAULT_POOL: u64 = kind::POOL << 40 | 1;

/// A loaded module.
pub(crate) struct ModuleEntry {
    pub module: ptx::Module,
    /// Function handles already given out, by kernel name (the driver gives one handle per name).
    pub functions: HashMap<String, u64>,
}

/// A kernel function handle's target.
pub(crate) struct Function {
    pub kernel: Arc<Kernel>,
    pub module: u64,
    /// `CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES`.
    pub max_dynamic_shared: u32,
    /// `CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT`.
    pub carveout: i32,
}

/// A stream capture in progress.
pub(crate) struct Capture {
    pub mode: u32,
    pub thread: ThreadId,
    pub ops: Vec<Op>,
    pub invalidated: bool,
    /// Device allocations made on this stream during the capture.
    pub allocs: Vec<u64>,
    /// Of those, the ones freed during the capture: they live until the graph is destroyed.
    pub deferred_frees: Vec<u64>,
}

/// A created stream.
pub(crate) struct Stream {
    pub capture: Option<Capture>,
}

/// A created event.
pub(crate) struct Event {
    pub flags: u32,
    /// When it was last recorded (host time: the emulator has no GPU clock).
    pub time: Option<Instant>,
}

/// A captured graph.
pub(crate) struct Graph {
    pub ops: Vec<Op>,
    /// Allocations made and freed inside the capture; freed with the graph.
    pub owned: Vec<u64>,
}

/// One kernel launch, its parameters copied.
#[derive(Clone)]
pub(crate) struct LaunchOp {
    pub kernel: Arc<Kernel>,
    pub launch: Launch,
    pub params: Vec<Vec<u8>>,
}

/// One operation a stream runs.
#[derive(Clone)]
pub(crate) enum Op {
    Launch(LaunchOp),
    /// Host to device; the host address is read when the operation runs (in a
    /// graph: at each replay, as the driver does).
    HtoD {
        dst: u64,
        src: usize,
        bytes: usize,
    },
    /// Device to host; the host address is written when the operation runs.
    DtoH {
        dst: usize,
        src: u64,
        bytes: usize,
    },
    DtoD {
        dst: u64,
        src: u64,
        bytes: usize,
    },
    Memset {
        dst: u64,
        value: u32,
        elem: usize,
        count: u64,
    },
    EventRecord(u64),
    Free(u64),
    HostFn {
        f: unsafe extern "C" fn(*mut std::ffi::c_void),
        data: usize,
    },
}

/// The device and its primary context.
#[derive(Default)]
pub(crate) struct State {
    pub initialized: bool,
    /// Primary context retains not yet released.
    pub ctx_refs: u32,
    /// The primary context's handle while it is retained (a new one after each reset).
    pub ctx_handle: u64,
    /// The error a fault left: every later context call returns it.
    pub sticky: Option<CUresult>,
    memory: Option<Memory>,
    pub modules: HashMap<u64, ModuleEntry>,
    pub functions: HashMap<u64, Function>,
    pub streams: HashMap<u64, Stream>,
    pub events: HashMap<u64, Event>,
    pub graphs: HashMap<u64, Graph>,
    pub execs: HashMap<u64, Vec<Op>>,
    /// Pinned host allocations: address to layout.
    pub host_allocs: HashMap<usize, std::alloc::Layout>,
    next_id: u64,
}

thread_local! {
    /// The calling thread's current context handle (0: none).
    pub(crate) static CURRENT: Cell<u64> = const { Cell::new(0) };
    /// Set while this thread holds the state lock (a host callback calling the driver).
    static HOLDING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` on the state under the lock. A call made while this thread already
/// holds it (from a host function run by a stream) gets
/// `CUDA_ERROR_NOT_PERMITTED`, as a host function may not call CUDA.
pub(crate) fn with_state<T>(f: impl FnOnce(&mut State) -> R<T>) -> R<T> {
    if HOLDING.with(Cell::get) {
        return Err(CUresult::CUDA_ERROR_NOT_PERMITTED);
    }
    static STATE: OnceLock<Mutex<State>> = OnceLock::new();
    let m = STATE.get_or_init(|| Mutex::new(State::default()));
    let mut g = m.lock().unwrap_or_else(|p| {
        m.clear_poison();
        p.into_inner()
    });
    struct Release;
    impl Drop for Release {
        fn drop(&mut self) {
            HOLDING.with(|h| h.set(false));
        }
    }
    HOLDING.with(|h| h.set(true));
    let _release = Release;
    f(&mut g)
}

/// What a stream handle names.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum StreamRef {
    /// The null, legacy (`0x1`) or per-thread (`0x2`) stream.
    Default,
    /// A created stream.
    Created(u64),
}

/// The fault's `CUresult`: memcheck is an illegal address (700), a deadlock
/// a timeout (702), everything else an unspecified launch failure (719).
pub(crate) fn fault_result(f: &Fault) -> CUresult {
    match f.kind {
        FaultKind::Memcheck => CUresult::CUDA_ERROR_ILLEGAL_ADDRESS,
        FaultKind::Deadlock => CUresult::CUDA_ERROR_LAUNCH_TIMEOUT,
        FaultKind::Initcheck | FaultKind::Racecheck | FaultKind::Synccheck | FaultKind::Launch => {
            CUresult::CUDA_ERROR_LAUNCH_FAILED
        }
    }
}

fn fault_tool(k: FaultKind) -> &'static str {
    match k {
        FaultKind::Memcheck => "memcheck",
        FaultKind::Initcheck => "initcheck",
        FaultKind::Racecheck => "racecheck",
        FaultKind::Synccheck => "synccheck",
        FaultKind::Deadlock => "deadlock",
        FaultKind::Launch => "launch",
    }
}

/// A panic's message.
pub(crate) fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_string()
    }
}

fn host_mem_err(api: &str, e: MemError) -> CUresult {
    eprintln!("mfcuda-emu: {api}: {e}");
    CUresult::CUDA_ERROR_INVALID_VALUE
}

impl State {
    /// A new handle of `kind`.
    pub fn new_handle(&mut self, kind: u64) -> u64 {
        self.next_id += 1;
        kind << 40 | self.next_id
    }

    /// The device memory, made at first use.
    pub fn mem(&mut self) -> &mut Memory {
        self.memory
            .get_or_insert_with(|| Memory::new(Config::get().memory_bytes))
    }

    /// `cuInit` was called.
    pub fn need_init(&self) -> R {
        if self.initialized {
            Ok(())
        } else {
            Err(CUresult::CUDA_ERROR_NOT_INITIALIZED)
        }
    }

    /// The context is usable: initialised, retained, and not dead from a fault.
    pub fn live(&self) -> R {
        self.need_init()?;
        if let Some(e) = self.sticky {
            return Err(e);
        }
        if self.ctx_refs == 0 {
            return Err(CUresult::CUDA_ERROR_INVALID_CONTEXT);
        }
        Ok(())
    }

    /// [`State::live`], and the calling thread has the context current.
    pub fn live_current(&self) -> R {
        self.live()?;
        if CURRENT.with(Cell::get) != self.ctx_handle {
            return Err(CUresult::CUDA_ERROR_INVALID_CONTEXT);
        }
        Ok(())
    }

    /// Resolves a stream handle (the default stream needs the context current).
    pub fn stream(&self, h: u64) -> R<StreamRef> {
        if h <= 2 {
            self.live_current()?;
            return Ok(StreamRef::Default);
        }
        self.live()?;
        if self.streams.contains_key(&h) {
            Ok(StreamRef::Created(h))
        } else {
            Err(CUresult::CUDA_ERROR_INVALID_HANDLE)
        }
    }

    /// The capture in progress on `s`, if any.
    pub fn capture_mut(&mut self, s: StreamRef) -> Option<&mut Capture> {
        match s {
            StreamRef::Default => None,
            StreamRef::Created(h) => self.streams.get_mut(&h).and_then(|st| st.capture.as_mut()),
        }
    }

    /// A call that is not permitted while the calling thread captures
    /// (global mode: while any thread does): invalidates those captures and
    /// fails with `CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED`, as the driver does.
    pub fn capture_unsafe(&mut self, api: &str) -> R {
        let me = std::thread::current().id();
        let mut hit = false;
        for st in self.streams.values_mut() {
            if let Some(c) = st.capture.as_mut() {
                if c.mode == capture_mode::GLOBAL || (c.mode == capture_mode::THREAD_LOCAL && c.thread == me)
                {
                    c.invalidated = true;
                    hit = true;
                }
            }
        }
        if hit {
            eprintln!(
                "mfcuda-emu: {api} is not permitted while a stream is capturing; the capture is invalidated"
            );
            Err(CUresult::CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED)
        } else {
            Ok(())
        }
    }

    /// Submits `op` (or the error that building it gave) to stream `s`: run at
    /// once, or recorded while `s` captures (an error then invalidates the capture).
    pub fn submit(&mut self, s: StreamRef, op: R<Op>) -> R {
        if let Some(c) = self.capture_mut(s) {
            if c.invalidated {
                return Err(CUresult::CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
            }
            return match op {
                Ok(op) => {
                    c.ops.push(op);
                    Ok(())
                }
                Err(e) => {
                    c.invalidated = true;
                    Err(e)
                }
            };
        }
        let op = op?;
        self.run_op(&op, false)
    }

    /// Runs one operation now.
    pub fn run_op(&mut self, op: &Op, from_graph: bool) -> R {
        match op {
            Op::Launch(l) => self.run_launch(l, from_graph),
            &Op::HtoD { dst, src, bytes } => {
                if bytes == 0 {
                    return Ok(());
                }
                // SAFETY: the caller of cuMemcpyHtoD* (or of cuGraphLaunch, for a
                // captured copy) guarantees `src` is readable for `bytes` bytes
                // while the copy runs, as the driver API requires; it was
                // checked non-null when the copy was submitted.
                let data = unsafe { std::slice::from_raw_parts(src as *const u8, bytes) };
                self.mem()
                    .write(dst, data)
                    .map_err(|e| host_mem_err("host-to-device copy", e))
            }
            &Op::DtoH { dst, src, bytes } => {
                if bytes == 0 {
                    return Ok(());
                }
                // SAFETY: as for HtoD: `dst` is writable for `bytes` bytes while
                // the copy runs, by the driver API's contract; checked non-null.
                let out = unsafe { std::slice::from_raw_parts_mut(dst as *mut u8, bytes) };
                self.mem()
                    .read(src, out)
                    .map_err(|e| host_mem_err("device-to-host copy", e))
            }
            &Op::DtoD { dst, src, bytes } => {
                if bytes == 0 {
                    return Ok(());
                }
                self.mem()
                    .copy(dst, src, bytes as u64)
                    .map_err(|e| host_mem_err("device-to-device copy", e))
            }
            &Op::Memset {
                dst,
                value,
                elem,
                count,
            } => {
                if count == 0 {
                    return Ok(());
                }
                self.mem()
                    .memset(dst, value, elem, count)
                    .map_err(|e| host_mem_err("memset", e))
            }
            &Op::EventRecord(h) => {
                if let Some(e) = self.events.get_mut(&h) {
                    e.time = Some(Instant::now());
                }
                Ok(())
            }
            &Op::Free(p) => self.mem().free(p).map_err(|e| host_mem_err("cuMemFreeAsync", e)),
            &Op::HostFn { f, data } => {
                // SAFETY: cuLaunchHostFunc's caller supplies a function that may
                // be called with `data`; it runs on this thread as the stream
                // reaches it, and any CUDA call it makes is refused (NOT_PERMITTED).
                unsafe { f(data as *mut std::ffi::c_void) };
                Ok(())
            }
        }
    }

    /// Runs one kernel launch through the interpreter and records its counters.
    /// A fault is printed, becomes the context's sticky error and is returned.
    fn run_launch(&mut self, l: &LaunchOp, from_graph: bool) -> R {
        if let Some(e) = self.sticky {
            return Err(e);
        }
        let cfg = Config::get();
        let opts = RunOptions {
            sanitize: cfg.sanitize,
            counters: cfg.counters,
            seed: cfg.seed,
        };
        let params: Vec<&[u8]> = l.params.iter().map(Vec::as_slice).collect();
        let start = Instant::now();
        let kernel = &l.kernel;
        let launch = l.launch;
        let mem = self.mem();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            exec::run(kernel, launch, &params, mem, opts)
        }));
        let wall = start.elapsed();
        let (status, counters) = match outcome {
            Ok(Ok(c)) => (CUresult::CUDA_SUCCESS, c),
            Ok(Err(fault)) => {
                let code = fault_result(&fault);
                let mut at = Vec::new();
                if let Some(b) = fault.block {
                    at.push(format!("block {b}"));
                }
                if let Some(t) = fault.thread {
                    at.push(format!("thread {t}"));
                }
                if let Some(line) = fault.ptx_line {
                    at.push(format!("PTX line {line}"));
                }
                let at = if at.is_empty() {
                    String::new()
                } else {
                    format!(" at {}", at.join(", "))
                };
                eprintln!(
                    "mfcuda-emu: ========= {} error in kernel {} ({} blocks of {} threads{}){at}: {}",
                    fault_tool(fault.kind),
                    fault.kernel,
                    launch.grid,
                    launch.block,
                    if launch.cooperative { ", cooperative" } else { "" },
                    fault.message
                );
                eprintln!(
                    "mfcuda-emu: the context is now unusable: this and every later call returns {code:?}, as on a card"
                );
                (code, Counters::default())
            }
            Err(p) => {
                eprintln!(
                    "mfcuda-emu: internal error: the interpreter panicked in kernel {} ({}); the context is now unusable",
                    kernel.name,
                    panic_message(p.as_ref())
                );
                (CUresult::CUDA_ERROR_UNKNOWN, Counters::default())
            }
        };
        stats::record(&LaunchReport {
            kernel: &kernel.name,
            launch,
            from_graph,
            status,
            counters,
            wall,
        });
        if status != CUresult::CUDA_SUCCESS {
            self.sticky = Some(status);
            return Err(status);
        }
        Ok(())
    }

    /// Retains the primary context, making it (afresh) when it had no retains.
    pub fn retain(&mut self) -> u64 {
        if self.ctx_refs == 0 {
            self.ctx_handle = self.new_handle(kind::CONTEXT);
        }
        self.ctx_refs += 1;
        self.ctx_handle
    }

    /// Releases the primary context; the last release destroys it with
    /// everything in it (memory, modules, streams, events, graphs) and clears
    /// its sticky error, as the driver does.
    pub fn release(&mut self) -> R {
        self.need_init()?;
        if self.ctx_refs == 0 {
            return Err(CUresult::CUDA_ERROR_INVALID_CONTEXT);
        }
        self.ctx_refs -= 1;
        if self.ctx_refs == 0 {
            self.sticky = None;
            self.memory = None;
            self.modules.clear();
            self.functions.clear();
            self.streams.clear();
            self.events.clear();
            self.graphs.clear();
            self.execs.clear();
            self.ctx_handle = 0;
        }
        Ok(())
    }

    /// The function handle's target.
    pub fn function(&self, h: u64) -> R<&Function> {
        self.functions.get(&h).ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)
    }

    /// Registers (or finds) the function handle for `name` in module `m`.
    pub fn function_handle(&mut self, m: u64, name: &str) -> R<u64> {
        let entry = self.modules.get(&m).ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)?;
        if let Some(&h) = entry.functions.get(name) {
            return Ok(h);
        }
        let kernel = entry.module.kernel(name).ok_or(CUresult::CUDA_ERROR_NOT_FOUND)?;
        let h = self.new_handle(kind::FUNCTION);
        let max_dynamic_shared = SHARED_PER_BLOCK.saturating_sub(kernel.static_shared as u32);
        self.functions.insert(
            h,
            Function {
                kernel,
                module: m,
                max_dynamic_shared,
                carveout: -1,
            },
        );
        if let Some(entry) = self.modules.get_mut(&m) {
            entry.functions.insert(name.to_string(), h);
        }
        Ok(h)
    }
}
