//! The emulated device (`emu/`, run through `scripts/emulate.sh`): knowing
//! that the open GPU is the emulator, and reading the emulator's counters.
//!
//! The emulated driver names its device with the word "emulated" (for
//! example "mfcuda emulated GPU (PTX interpreter on the CPU; not a card)"),
//! so [`is_emulated`] and [`Gpu::is_emulated`] tell from the name alone.
//! Times measured there are the host's time interpreting PTX, not a card's,
//! so `mfcuda bench` prints no GB/s for them.
//!
//! The emulator also counts, per launch, what a card's profiler would:
//! instructions, global-memory sectors (32 B) per warp request, shared-memory
//! bank conflicts and divergent branches. It exports C functions
//! (`mfcudaEmuLastLaunch`, `mfcudaEmuTotals`, in `emu/src/driver/stats.rs`)
//! that fill an [`EmuLaunchRecord`]. [`last_launch`] and [`totals`] look those
//! functions up in the driver the process has already loaded (opened with
//! `RTLD_NOLOAD`, so nothing new is ever loaded) and return `None` on a real
//! driver, which has no such symbol, or where no driver is loaded yet.

use std::ffi::{c_char, c_int};

use serde::Serialize;

use crate::backend::cuda::Gpu;

/// The word the emulated driver puts in its device name.
pub const EMULATED_WORD: &str = "emulated";

/// Whether a device name or [`Gpu::description`] is the emulated device's:
/// it contains the word "emulated" (in any case).
pub fn is_emulated(description_or_name: &str) -> bool {
    description_or_name.to_ascii_lowercase().contains(EMULATED_WORD)
}

impl Gpu {
    /// Whether this GPU is the emulated device (its name says so), whose
    /// times are not a card's.
    pub fn is_emulated(&self) -> bool {
        is_emulated(&self.description)
    }

    /// Refuses, on the emulated device, a job sized for a card (`what`: which,
    /// and at what size), which would take hours in an interpreter and time
    /// nothing a card does; Ok on a card. `device` is what the user asked for.
    pub fn refuse_card_sized(&self, device: &str, what: &str) -> crate::error::Result<()> {
        if !self.is_emulated() {
            return Ok(());
        }
        Err(crate::error::Error::Device {
            device: device.to_string(),
            msg: format!(
                "{} is the emulated device: {what}, hours on an interpreter, and its times would \
                 not be a card's; run it on a card (scripts/gpu-run.sh), or use --device cpu",
                self.description
            ),
        })
    }
}

/// Bytes of [`EmuLaunchRecord::kernel`].
pub const KERNEL_NAME_BYTES: usize = 128;

/// A mirror of the emulator's `EmuLaunchRecord` (`emu/src/driver/stats.rs`):
/// one launch, or a sum of launches, as the `mfcudaEmu*` functions fill it.
///
/// `#[repr(C)]`, 248 bytes, 8-byte aligned: `size` at 0, `status` at 4, the
/// kernel's NUL-terminated name at 8 (128 bytes), `grid`, `block`,
/// `dynamic_shared` and `cooperative` (u32) from 136, then `launches`,
/// `sequence`, `wall_ns` and the nine counters (u64) from 152. The reader
/// checks `size` against `size_of::<EmuLaunchRecord>()` and refuses a record
/// of any other size.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmuLaunchRecord {
    /// `size_of` the emulator's record (248), to check this mirror.
    pub size: u32,
    /// The launch's `CUresult` (0: it ran to completion).
    pub status: u32,
    /// The kernel's name, NUL-terminated (empty in totals).
    pub kernel: [c_char; KERNEL_NAME_BYTES],
    /// Blocks in the grid (of the last launch summed).
    pub grid: u32,
    /// Threads in a block.
    pub block: u32,
    /// Bytes of dynamic shared memory.
    pub dynamic_shared: u32,
    /// 1 for a cooperative launch.
    pub cooperative: u32,
    /// Launches summed in this record (1 for one launch).
    pub launches: u64,
    /// The process-wide number of the last launch summed (1-based).
    pub sequence: u64,
    /// Host wall time spent interpreting, in nanoseconds (not GPU time).
    pub wall_ns: u64,
    /// Instructions executed, counted once per active thread.
    pub thread_instructions: u64,
    /// Instructions executed, counted once per warp.
    pub warp_instructions: u64,
    /// Warp-level global load requests.
    pub global_load_requests: u64,
    /// 32-byte sectors those loads touched.
    pub global_load_sectors: u64,
    /// Warp-level global store (and atomic) requests.
    pub global_store_requests: u64,
    /// 32-byte sectors those stores touched.
    pub global_store_sectors: u64,
    /// Warp-level shared-memory requests.
    pub shared_requests: u64,
    /// Extra shared-memory wavefronts caused by bank conflicts.
    pub bank_conflicts: u64,
    /// Branches where the lanes of a warp went different ways.
    pub divergent_branches: u64,
}

// The layout the emulator documents; a change there must show up here.
const _: () = assert!(std::mem::size_of::<EmuLaunchRecord>() == 248);

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
    /// The kernel's name (up to its NUL), invalid UTF-8 replaced.
    pub fn kernel_name(&self) -> String {
        let bytes: Vec<u8> = self
            .kernel
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// The emulator's counters for some launches, in a form to print and
/// serialize: a sum, a difference of two sums, or a mean per call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LaunchCounters {
    /// Kernel launches counted.
    pub launches: u64,
    /// Instructions executed, once per active thread.
    pub thread_instructions: u64,
    /// Instructions executed, once per warp.
    pub warp_instructions: u64,
    /// Warp-level global load requests.
    pub global_load_requests: u64,
    /// 32-byte sectors read by those requests (4 per request when a warp
    /// reads 32 consecutive floats).
    pub global_load_sectors: u64,
    /// Warp-level global store and atomic requests.
    pub global_store_requests: u64,
    /// 32-byte sectors written by those requests.
    pub global_store_sectors: u64,
    /// Warp-level shared-memory requests.
    pub shared_requests: u64,
    /// Shared-memory bank conflicts (extra wavefronts).
    pub bank_conflicts: u64,
    /// Divergent branches.
    pub divergent_branches: u64,
    /// The emulator's host time interpreting these launches, ms (not GPU time).
    pub host_ms: f64,
}

impl LaunchCounters {
    /// The counters of one record.
    pub fn of(r: &EmuLaunchRecord) -> LaunchCounters {
        LaunchCounters {
            launches: r.launches,
            thread_instructions: r.thread_instructions,
            warp_instructions: r.warp_instructions,
            global_load_requests: r.global_load_requests,
            global_load_sectors: r.global_load_sectors,
            global_store_requests: r.global_store_requests,
            global_store_sectors: r.global_store_sectors,
            shared_requests: r.shared_requests,
            bank_conflicts: r.bank_conflicts,
            divergent_branches: r.divergent_branches,
            host_ms: r.wall_ns as f64 / 1e6,
        }
    }

    /// What the launches between two totals added (`later − earlier`), or
    /// `None` when the totals went backwards (someone reset them between).
    pub fn between(earlier: &EmuLaunchRecord, later: &EmuLaunchRecord) -> Option<LaunchCounters> {
        let (a, b) = (LaunchCounters::of(earlier), LaunchCounters::of(later));
        let d = |x: u64, y: u64| y.checked_sub(x);
        Some(LaunchCounters {
            launches: d(a.launches, b.launches)?,
            thread_instructions: d(a.thread_instructions, b.thread_instructions)?,
            warp_instructions: d(a.warp_instructions, b.warp_instructions)?,
            global_load_requests: d(a.global_load_requests, b.global_load_requests)?,
            global_load_sectors: d(a.global_load_sectors, b.global_load_sectors)?,
            global_store_requests: d(a.global_store_requests, b.global_store_requests)?,
            global_store_sectors: d(a.global_store_sectors, b.global_store_sectors)?,
            shared_requests: d(a.shared_requests, b.shared_requests)?,
            bank_conflicts: d(a.bank_conflicts, b.bank_conflicts)?,
            divergent_branches: d(a.divergent_branches, b.divergent_branches)?,
            host_ms: (b.host_ms - a.host_ms).max(0.0),
        })
    }

    /// The mean over `calls` calls (each count rounded to the nearest whole
    /// number); `calls` of 0 is taken as 1.
    pub fn per_call(&self, calls: u64) -> LaunchCounters {
        let c = calls.max(1);
        let m = |x: u64| (x + c / 2) / c;
        LaunchCounters {
            launches: m(self.launches),
            thread_instructions: m(self.thread_instructions),
            warp_instructions: m(self.warp_instructions),
            global_load_requests: m(self.global_load_requests),
            global_load_sectors: m(self.global_load_sectors),
            global_store_requests: m(self.global_store_requests),
            global_store_sectors: m(self.global_store_sectors),
            shared_requests: m(self.shared_requests),
            bank_conflicts: m(self.bank_conflicts),
            divergent_branches: m(self.divergent_branches),
            host_ms: self.host_ms / c as f64,
        }
    }

    /// Bytes the global sectors imply: (load + store sectors) × 32.
    pub fn sector_bytes(&self) -> u64 {
        (self.global_load_sectors + self.global_store_sectors) * 32
    }

    /// Sectors a load request touched, on average (4 is a warp reading 32
    /// consecutive floats; 32 is every lane in a sector of its own).
    pub fn sectors_per_load(&self) -> Option<f64> {
        (self.global_load_requests > 0)
            .then(|| self.global_load_sectors as f64 / self.global_load_requests as f64)
    }

    /// Sectors a store request touched, on average.
    pub fn sectors_per_store(&self) -> Option<f64> {
        (self.global_store_requests > 0)
            .then(|| self.global_store_sectors as f64 / self.global_store_requests as f64)
    }
}

/// `RTLD_NOLOAD`: dlopen only returns a library already loaded. libloading
/// does not export it; the value is glibc's and musl's on Linux.
#[cfg(target_os = "linux")]
const RTLD_NOLOAD: c_int = 0x4;

/// The signature of `mfcudaEmuLastLaunch` and `mfcudaEmuTotals`.
type RecordFn = unsafe extern "C" fn(*mut EmuLaunchRecord) -> i32;

/// Room for the record the emulator writes: larger than the mirror, so that
/// a newer emulator with a longer record writes inside it, and the size
/// check then refuses it instead of memory past the mirror being overwritten.
#[repr(C, align(8))]
struct Scratch([u8; 4096]);

/// Calls the emulator's `symbol` (a NUL-terminated name of a [`RecordFn`])
/// in the already-loaded driver. `None` where no driver is loaded, the
/// driver is a real one (no such symbol), the call fails (a negative
/// answer), it answers `1` ("no launch yet"), or its record is not the size
/// of this mirror.
#[cfg(target_os = "linux")]
fn call_record_fn(symbol: &[u8]) -> Option<EmuLaunchRecord> {
    use libloading::os::unix::{Library, RTLD_LAZY};
    // The names cudarc loads the driver by that the emulator answers to
    // (scripts/emulate.sh links both to one file).
    for name in ["libcuda.so", "libcuda.so.1"] {
        // SAFETY: with RTLD_NOLOAD, dlopen loads nothing: it returns a handle
        // to a library this process has already loaded (cudarc's driver),
        // whose initialisers have already run, or fails. Dropping the handle
        // only drops the reference it added.
        let Ok(lib) = (unsafe { Library::open(Some(name), RTLD_LAZY | RTLD_NOLOAD) }) else {
            continue;
        };
        // SAFETY: the emulator defines `symbol` as a `RecordFn` (stats.rs);
        // a real driver has no `mfcudaEmu*` symbol, so the lookup fails there.
        let Ok(f) = (unsafe { lib.get::<RecordFn>(symbol) }) else {
            return None;
        };
        let mut scratch = Scratch([0; 4096]);
        let size = std::mem::size_of::<EmuLaunchRecord>() as u32;
        scratch.0[..4].copy_from_slice(&size.to_ne_bytes());
        let out = scratch.0.as_mut_ptr().cast::<EmuLaunchRecord>();
        // SAFETY: `out` points to 4096 writable bytes aligned to 8, more than
        // any record the emulator writes (248 bytes today); `lib` keeps the
        // function's library loaded for the call.
        let rc = unsafe { f(out) };
        if rc != 0 {
            return None;
        }
        let mut written = [0u8; 4];
        written.copy_from_slice(&scratch.0[..4]);
        if u32::from_ne_bytes(written) != size {
            return None;
        }
        // SAFETY: the emulator wrote a record of exactly this mirror's size
        // at `out`, aligned to 8; every bit pattern is a valid
        // `EmuLaunchRecord` (integers and `c_char`s only).
        return Some(unsafe { out.read() });
    }
    None
}

/// Not on Linux: the emulator builds for Linux only.
#[cfg(not(target_os = "linux"))]
fn call_record_fn(_symbol: &[u8]) -> Option<EmuLaunchRecord> {
    None
}

/// The last launch's record on the emulated device, or `None` on a real
/// driver, before the driver is loaded, or before any launch.
pub fn last_launch() -> Option<EmuLaunchRecord> {
    call_record_fn(b"mfcudaEmuLastLaunch\0")
}

/// The sums over every launch since the process started (or since the
/// emulator's counters were last reset), or `None` on a real driver or
/// before the driver is loaded.
pub fn totals() -> Option<EmuLaunchRecord> {
    call_record_fn(b"mfcudaEmuTotals\0")
}

/// Runs `f` and returns what the emulator counted while it ran (the totals'
/// difference), or `None` beside `f`'s result off the emulator.
pub fn counting<T>(f: impl FnOnce() -> T) -> (T, Option<LaunchCounters>) {
    let before = totals();
    let out = f();
    let counted = match (before, totals()) {
        (Some(a), Some(b)) => LaunchCounters::between(&a, &b),
        _ => None,
    };
    (out, counted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emulators_name_is_emulated_and_a_cards_is_not() {
        assert!(is_emulated(
            "mfcuda emulated GPU (PTX interpreter on the CPU; not a card) (sm_80, driver CUDA 13.0)"
        ));
        assert!(is_emulated("EMULATED device"));
        assert!(!is_emulated("NVIDIA H200 (sm_90, driver CUDA 12.8)"));
        assert!(!is_emulated(""));
    }

    #[test]
    fn the_mirror_has_the_documented_layout() {
        use std::mem::offset_of;
        assert_eq!(std::mem::size_of::<EmuLaunchRecord>(), 248);
        assert_eq!(std::mem::align_of::<EmuLaunchRecord>(), 8);
        assert_eq!(offset_of!(EmuLaunchRecord, status), 4);
        assert_eq!(offset_of!(EmuLaunchRecord, kernel), 8);
        assert_eq!(offset_of!(EmuLaunchRecord, grid), 136);
        assert_eq!(offset_of!(EmuLaunchRecord, cooperative), 148);
        assert_eq!(offset_of!(EmuLaunchRecord, launches), 152);
        assert_eq!(offset_of!(EmuLaunchRecord, wall_ns), 168);
        assert_eq!(offset_of!(EmuLaunchRecord, thread_instructions), 176);
        assert_eq!(offset_of!(EmuLaunchRecord, divergent_branches), 240);
        assert_eq!(EmuLaunchRecord::default().size, 248);
    }

    #[test]
    fn the_kernel_name_stops_at_its_nul() {
        let mut r = EmuLaunchRecord::default();
        for (d, b) in r.kernel.iter_mut().zip(b"dot_forward\0junk") {
            *d = *b as c_char;
        }
        assert_eq!(r.kernel_name(), "dot_forward");
        assert_eq!(EmuLaunchRecord::default().kernel_name(), "");
    }

    #[test]
    fn differences_and_means_of_totals() {
        let a = EmuLaunchRecord {
            launches: 2,
            global_load_sectors: 100,
            global_load_requests: 25,
            wall_ns: 1_000_000,
            ..EmuLaunchRecord::default()
        };
        let b = EmuLaunchRecord {
            launches: 5,
            global_load_sectors: 400,
            global_load_requests: 100,
            global_store_sectors: 31,
            wall_ns: 4_000_000,
            ..EmuLaunchRecord::default()
        };
        let d = LaunchCounters::between(&a, &b).unwrap();
        assert_eq!(
            (d.launches, d.global_load_sectors, d.global_store_sectors),
            (3, 300, 31)
        );
        assert!((d.host_ms - 3.0).abs() < 1e-12);
        assert_eq!(d.sectors_per_load(), Some(4.0));
        assert_eq!(d.sectors_per_store(), None);
        let m = d.per_call(3);
        assert_eq!(
            (m.launches, m.global_load_sectors, m.global_store_sectors),
            (1, 100, 10)
        );
        assert_eq!(m.sector_bytes(), 110 * 32);
        // Totals that went backwards (a reset between) give no difference.
        assert_eq!(LaunchCounters::between(&b, &a), None);
        assert_eq!(d.per_call(0), d);
    }

    #[test]
    fn reading_the_counters_never_panics() {
        // Off the emulator (no driver loaded, or a real one) they are None;
        // under scripts/emulate.sh another test may have loaded it.
        if let Some(t) = totals() {
            assert_eq!(t.size, 248);
        }
        let _ = last_launch();
        let (x, _) = counting(|| 7);
        assert_eq!(x, 7);
    }
}
