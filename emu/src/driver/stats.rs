//! Per-launch counters, their totals, the launch log, and the `mfcudaEmu*`
//! functions a host reads them through.

use std::collections::BTreeMap;
use std::ffi::c_char;
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::config::Config;
use crate::exec::{Counters, Launch};

use super::types::CUresult;

/// Bytes of [`EmuLaunchRecord::kernel`].
pub const KERNEL_NAME_BYTES: usize = 128;

/// One launch (or a sum of launches) as the `mfcudaEmu*` functions report it.
///
/// Layout (`#[repr(C)]`, 248 bytes, 8-byte aligned; offsets in bytes), for a
/// host that mirrors it:
///
/// | offset | field | type |
/// |---|---|---|
/// | 0 | `size` | u32: `size_of::<EmuLaunchRecord>()` (248), to check the mirror |
/// | 4 | `status` | u32: the launch's `CUresult` (0: it ran to completion) |
/// | 8 | `kernel` | `[c_char; 128]`: the kernel's name, NUL-terminated (cut to 127 bytes) |
/// | 136 | `grid` | u32: blocks |
/// | 140 | `block` | u32: threads a block |
/// | 144 | `dynamic_shared` | u32: bytes of dynamic shared memory |
/// | 148 | `cooperative` | u32: 1 for `cuLaunchCooperativeKernel` |
/// | 152 | `launches` | u64: launches summed (1 for one launch) |
/// | 160 | `sequence` | u64: the last launch's number in this process (1-based) |
/// | 168 | `wall_ns` | u64: host wall time spent interpreting |
/// | 176 | `thread_instructions` .. `divergent_branches` | 9 × u64, [`Counters`]' fields in their order |
///
/// In totals, `kernel` is empty (or the kernel's name, per kernel), `grid`,
/// `block`, `dynamic_shared`, `cooperative` and `status` are those of the
/// last launch summed.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmuLaunchRecord {
    /// `size_of::<EmuLaunchRecord>()`.
    pub size: u32,
    /// The launch's `CUresult` (0: success).
    pub status: u32,
    /// The kernel's name, NUL-terminated.
    pub kernel: [c_char; KERNEL_NAME_BYTES],
    /// Blocks in the grid.
    pub grid: u32,
    /// Threads in a block.
    pub block: u32,
    /// Dynamic shared memory bytes.
    pub dynamic_shared: u32,
    /// 1 for a cooperative launch.
    pub cooperative: u32,
    /// Launches summed in this record.
    pub launches: u64,
    /// The process-wide number of the last launch summed (1-based).
    pub sequence: u64,
    /// Host wall time of the interpretation, in nanoseconds (not GPU time).
    pub wall_ns: u64,
    /// [`Counters::thread_instructions`].
    pub thread_instructions: u64,
    /// [`Counters::warp_instructions`].
    pub warp_instructions: u64,
    /// [`Counters::global_load_requests`].
    pub global_load_requests: u64,
    /// [`Counters::global_load_sectors`].
    pub global_load_sectors: u64,
    /// [`Counters::global_store_requests`].
    pub global_store_requests: u64,
    /// [`Counters::global_store_sectors`].
    pub global_store_sectors: u64,
    /// [`Counters::shared_requests`].
    pub shared_requests: u64,
    /// [`Counters::bank_conflicts`].
    pub bank_conflicts: u64,
    /// [`Counters::divergent_branches`].
    pub divergent_branches: u64,
}

impl Default for EmuLaunchRecord {
    fn default() -> Self {
        EmuLaunchRecord {
            size: std::mem::size_of::<EmuLaunchRecord>() as u32,
            status: 0,
            kernel: [0; KERNEL_NAME_BYTES],
            grid: 0,
            block: 0,
            dynamic_shared: 0,
            cooperative: 0,
            launches: 0,
            sequence: 0,
            wall_ns: 0,
            thread_instructions: 0,
            warp_instructions: 0,
            global_load_requests: 0,
            global_load_sectors: 0,
            global_store_requests: 0,
            global_store_sectors: 0,
            shared_requests: 0,
            bank_conflicts: 0,
            divergent_branches: 0,
        }
    }
}

impl EmuLaunchRecord {
    /// The kernel's name as a Rust string.
    pub fn kernel_name(&self) -> String {
        let bytes: Vec<u8> = self
            .kernel
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The counters as [`Counters`].
    pub fn counters(&self) -> Counters {
        Counters {
            thread_instructions: self.thread_instructions,
            warp_instructions: self.warp_instructions,
            global_load_requests: self.global_load_requests,
            global_load_sectors: self.global_load_sectors,
            global_store_requests: self.global_store_requests,
            global_store_sectors: self.global_store_sectors,
            shared_requests: self.shared_requests,
            bank_conflicts: self.bank_conflicts,
            divergent_branches: self.divergent_branches,
        }
    }

    fn set_name(&mut self, name: &str) {
        self.kernel = [0; KERNEL_NAME_BYTES];
        for (d, &b) in self
            .kernel
            .iter_mut()
            .zip(name.as_bytes().iter().take(KERNEL_NAME_BYTES - 1))
        {
            *d = b as c_char;
        }
    }

    /// Adds `other` (one launch or a sum) into this sum; the shape fields take `other`'s.
    fn add(&mut self, other: &EmuLaunchRecord) {
        self.status = other.status;
        self.grid = other.grid;
        self.block = other.block;
        self.dynamic_shared = other.dynamic_shared;
        self.cooperative = other.cooperative;
        self.launches += other.launches;
        self.sequence = other.sequence;
        self.wall_ns += other.wall_ns;
        self.thread_instructions += other.thread_instructions;
        self.warp_instructions += other.warp_instructions;
        self.global_load_requests += other.global_load_requests;
        self.global_load_sectors += other.global_load_sectors;
        self.global_store_requests += other.global_store_requests;
        self.global_store_sectors += other.global_store_sectors;
        self.shared_requests += other.shared_requests;
        self.bank_conflicts += other.bank_conflicts;
        self.divergent_branches += other.divergent_branches;
    }
}

#[derive(Default)]
struct Stats {
    sequence: u64,
    last: Option<EmuLaunchRecord>,
    totals: EmuLaunchRecord,
    per_kernel: BTreeMap<String, EmuLaunchRecord>,
    log_failed: bool,
}

fn stats() -> std::sync::MutexGuard<'static, Stats> {
    static STATS: OnceLock<Mutex<Stats>> = OnceLock::new();
    let m = STATS.get_or_init(|| Mutex::new(Stats::default()));
    m.lock().unwrap_or_else(|p| {
        m.clear_poison();
        p.into_inner()
    })
}

/// What one launch did, for the counters and the log.
pub(crate) struct LaunchReport<'a> {
    pub kernel: &'a str,
    pub launch: Launch,
    pub from_graph: bool,
    pub status: CUresult,
    pub counters: Counters,
    pub wall: Duration,
}

/// Records one launch: the last-launch record, the totals, the per-kernel
/// sums, and a line of the launch log when `MFCUDA_EMU_LOG` names one.
pub(crate) fn record(r: &LaunchReport<'_>) {
    let mut s = stats();
    s.sequence += 1;
    let c = r.counters;
    let mut rec = EmuLaunchRecord {
        status: r.status.0,
        grid: r.launch.grid,
        block: r.launch.block,
        dynamic_shared: r.launch.dynamic_shared,
        cooperative: r.launch.cooperative as u32,
        launches: 1,
        sequence: s.sequence,
        wall_ns: r.wall.as_nanos().min(u64::MAX as u128) as u64,
        thread_instructions: c.thread_instructions,
        warp_instructions: c.warp_instructions,
        global_load_requests: c.global_load_requests,
        global_load_sectors: c.global_load_sectors,
        global_store_requests: c.global_store_requests,
        global_store_sectors: c.global_store_sectors,
        shared_requests: c.shared_requests,
        bank_conflicts: c.bank_conflicts,
        divergent_branches: c.divergent_branches,
        ..EmuLaunchRecord::default()
    };
    rec.set_name(r.kernel);
    s.totals.add(&rec);
    let entry = s.per_kernel.entry(r.kernel.to_string()).or_insert_with(|| {
        let mut e = EmuLaunchRecord::default();
        e.set_name(r.kernel);
        e
    });
    entry.add(&rec);
    s.last = Some(rec);
    if let Some(path) = &Config::get().log {
        let line = format!(
            "launch={} kernel={} grid={} block={} shared={} cooperative={} graph={} status={} \
             thread_instructions={} warp_instructions={} global_load_requests={} global_load_sectors={} \
             global_store_requests={} global_store_sectors={} shared_requests={} bank_conflicts={} \
             divergent_branches={} wall_ms={:.3}\n",
            s.sequence,
            r.kernel,
            r.launch.grid,
            r.launch.block,
            r.launch.dynamic_shared,
            r.launch.cooperative as u8,
            r.from_graph as u8,
            r.status.0,
            c.thread_instructions,
            c.warp_instructions,
            c.global_load_requests,
            c.global_load_sectors,
            c.global_store_requests,
            c.global_store_sectors,
            c.shared_requests,
            c.bank_conflicts,
            c.divergent_branches,
            r.wall.as_secs_f64() * 1e3,
        );
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = written {
            if !s.log_failed {
                s.log_failed = true;
                eprintln!(
                    "mfcuda-emu: cannot append to the launch log {}: {e}",
                    path.display()
                );
            }
        }
    }
}

/// Copies the last launch's record to `*out`. Returns 0, or 1 when no launch
/// has run yet (then `*out` is a zeroed record with only `size` set), or -1
/// when `out` is null.
///
/// # Safety
/// `out` is null or points to writable memory for one [`EmuLaunchRecord`].
#[no_mangle]
pub unsafe extern "C" fn mfcudaEmuLastLaunch(out: *mut EmuLaunchRecord) -> i32 {
    if out.is_null() {
        return -1;
    }
    let (rec, rc) = match std::panic::catch_unwind(|| stats().last) {
        Ok(Some(r)) => (r, 0),
        Ok(None) => (EmuLaunchRecord::default(), 1),
        Err(_) => return -1,
    };
    // SAFETY: out is non-null and, by the caller's contract, valid for one write.
    unsafe { out.write(rec) };
    rc
}

/// Copies the sums over every launch since the process started (or since
/// [`mfcudaEmuResetCounters`]) to `*out`. Returns 0, or -1 when `out` is null.
///
/// # Safety
/// `out` is null or points to writable memory for one [`EmuLaunchRecord`].
#[no_mangle]
pub unsafe extern "C" fn mfcudaEmuTotals(out: *mut EmuLaunchRecord) -> i32 {
    if out.is_null() {
        return -1;
    }
    let Ok(rec) = std::panic::catch_unwind(|| stats().totals) else {
        return -1;
    };
    // SAFETY: out is non-null and, by the caller's contract, valid for one write.
    unsafe { out.write(rec) };
    0
}

/// How many kernels have launched at least once (the range of
/// [`mfcudaEmuKernelTotals`]' index).
#[no_mangle]
pub extern "C" fn mfcudaEmuKernelCount() -> u32 {
    std::panic::catch_unwind(|| stats().per_kernel.len() as u32).unwrap_or(0)
}

/// Copies the sums for the `index`-th kernel (in name order) to `*out`.
/// Returns 0, 1 when `index` is out of range, or -1 when `out` is null.
///
/// # Safety
/// `out` is null or points to writable memory for one [`EmuLaunchRecord`].
#[no_mangle]
pub unsafe extern "C" fn mfcudaEmuKernelTotals(index: u32, out: *mut EmuLaunchRecord) -> i32 {
    if out.is_null() {
        return -1;
    }
    let Ok(rec) = std::panic::catch_unwind(|| stats().per_kernel.values().nth(index as usize).copied())
    else {
        return -1;
    };
    match rec {
        Some(r) => {
            // SAFETY: out is non-null and, by the caller's contract, valid for one write.
            unsafe { out.write(r) };
            0
        }
        None => 1,
    }
}

/// Zeroes the totals and the per-kernel sums (the last-launch record and the
/// sequence numbers are kept).
#[no_mangle]
pub extern "C" fn mfcudaEmuResetCounters() {
    let _ = std::panic::catch_unwind(|| {
        let mut s = stats();
        s.totals = EmuLaunchRecord::default();
        s.per_kernel.clear();
    });
}
