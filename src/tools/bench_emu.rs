//! `mfcuda bench` on the emulated device (`scripts/emulate.sh`,
//! [`crate::backend::cuda::emulated`]): the kernel table at small sizes, each
//! row labelled `emu` with the host's time and no GB/s, and the emulator's
//! counters for a call ([`EmuCounters`]) beside the roofline model's bytes.
//! [`crate::tools::bench`] calls `emu_bench` in place of the card's part.

use std::sync::Arc;

use serde::Serialize;

use crate::backend::cuda::emulated::{self, LaunchCounters};
use crate::backend::cuda::{cuda_err, Gpu};
use crate::error::Result;
use crate::rng::Mt19937;
use crate::tools::bench::{BenchOptions, BenchReport, BenchRow};
use crate::tools::kernels::{self, Sizes};
use crate::tools::timing::time_gpu;

/// The device label of rows measured on the emulated device.
pub const EMU_DEVICE: &str = "emu";

/// What the time of an `emu` row is, for a note under the header.
pub const EMU_TIME_NOTE: &str = "emu rows: the emulated device (PTX interpreted on the CPU); \
     time is the emulator's host time, not GPU time, so no GB/s or % copy";

/// What the emulator counted for one call of a kernel row, beside the bytes
/// the roofline model counts for it.
#[derive(Debug, Clone, Serialize)]
pub struct EmuCounters {
    /// The counters, per call: summed over the call's launches, the mean of
    /// the timed calls.
    #[serde(flatten)]
    pub per_call: LaunchCounters,
    /// Bytes a call moves in the roofline model ([`kernels::KernelCase::bytes`]).
    pub model_bytes: usize,
    /// Bytes the global sectors imply: (load + store sectors) × 32.
    pub sector_bytes: u64,
    /// `sector_bytes / model_bytes`: 1.0 when the kernel moves what the
    /// model counts; more for uncoalesced or repeated traffic; less when
    /// lanes of a warp share sectors the model counts apart (repeated rows).
    pub sector_ratio: Option<f64>,
}

impl EmuCounters {
    /// The counters of `per_call` beside `model_bytes`.
    pub fn new(per_call: LaunchCounters, model_bytes: usize) -> EmuCounters {
        let sector_bytes = per_call.sector_bytes();
        EmuCounters {
            per_call,
            model_bytes,
            sector_bytes,
            sector_ratio: (model_bytes > 0).then(|| sector_bytes as f64 / model_bytes as f64),
        }
    }

    /// The counter table's header line.
    pub fn header() -> String {
        format!(
            "{:<5} {:<26} {:<20} {:>9} {:>16} {:>16} {:>11} {:>11} {:>6} {:>8} {:>9} {:>9}",
            "dev",
            "what",
            "size",
            "instr",
            "ld sect (/req)",
            "st sect (/req)",
            "sector B",
            "model B",
            "ratio",
            "shared",
            "conflicts",
            "divergent"
        )
    }

    /// The legend printed under the counter table.
    pub const LEGEND: &'static str = "instr: thread-instructions a call; ld/st sect: global 32-byte sectors \
         read/written (per warp request: 4 is a coalesced warp of floats, 32 one sector a lane); \
         sector B = sectors × 32; model B: the roofline model's bytes; ratio = sector B / model B \
         (1.0: moves what the model counts; more: uncoalesced or repeated traffic; sectors are \
         counted per request, before any cache a card has); shared: \
         shared-memory requests; conflicts: bank conflicts; divergent: divergent branches";
}

/// A kernel row measured on the emulated device: the host's time, no GB/s,
/// and the emulator's counters for a call.
pub(crate) fn emu_row(
    what: &str,
    size: String,
    ms: f64,
    model_bytes: usize,
    per_call: Option<LaunchCounters>,
) -> BenchRow {
    BenchRow {
        device: EMU_DEVICE.into(),
        what: what.into(),
        size,
        ms,
        gb_per_s: None,
        pct_of_copy: None,
        ratings_per_s: None,
        emu: per_call.map(|c| EmuCounters::new(c, model_bytes)),
    }
}

/// The kernel table's sizes on the emulated device, which interprets some
/// 25–90 M thread-instructions a second (the lower figure with the
/// sanitizers on): the notebook's batch (64, 50 factors, 9,724 movies) and
/// its validation length, beside a larger batch, embedding and parameter
/// count that take well under a second a call. The deterministic scatter
/// scans its batch for each row (B² work: 10 s a call at B = 1024), so the
/// larger embedding is B = 256 with `quick`, and otherwise past
/// [`kernels::MAX_DET_BATCH`], where the table leaves it out as `bench` does
/// on a card. Counters scale with size, so these show what a design moves.
pub(crate) fn emulated_sizes(quick: bool) -> Sizes {
    if quick {
        Sizes {
            batches: vec![64, 4096],
            embeddings: vec![(64, 50, 9_724), (256, 50, 256)],
            params: vec![65_537],
            reductions: vec![20_167],
        }
    } else {
        Sizes {
            batches: vec![64, 65_536],
            embeddings: vec![(64, 50, 9_724), (8_192, 50, 8_192)],
            params: vec![527_034],
            reductions: vec![20_167, 1 << 18],
        }
    }
}

/// The GPU part on the emulated device: the kernel table at
/// [`emulated_sizes`], one warm-up call and a few timed calls each, with the
/// emulator's counters over the timed calls. No copy yardstick and no
/// epochs; the report's notes say why.
pub(crate) fn emu_bench(
    gpu: &Arc<Gpu>,
    opts: BenchOptions,
    report: &mut BenchReport,
    push: &mut impl FnMut(BenchRow, &mut BenchReport),
) -> Result<()> {
    report.notes.push(
        "device-to-device copy: not measured on the emulated device (a host memcpy is no \
         yardstick for a card), so no % copy"
            .into(),
    );
    let mut rng = Mt19937::new(7);
    let reps = if opts.quick { 2 } else { 5 };
    let mut uncounted = 0;
    for case in kernels::table(&emulated_sizes(opts.quick)) {
        let mut k = case.build(gpu, &mut rng)?;
        let bytes = k.bytes();
        k.run_gpu(gpu)?; // warm-up
        gpu.stream.synchronize().map_err(|e| cuda_err("synchronize", e))?;
        let (ms, counted) = emulated::counting(|| time_gpu(gpu, 0, reps, &mut || k.run_gpu(gpu)));
        let counted = counted.map(|c| c.per_call(reps as u64));
        uncounted += usize::from(counted.is_none());
        push(emu_row(case.kernel(), case.shape(), ms?, bytes, counted), report);
    }
    if uncounted > 0 {
        report.notes.push(format!(
            "{uncounted} emu rows have no counters: the driver says it is emulated but does not \
             answer mfcudaEmuTotals (an emulator older than this binary?)"
        ));
    }
    report.notes.push(
        "epochs: not run on the emulated device (an epoch is thousands of launches over the \
         whole data set, minutes on an interpreter, and its time is not a card's); the CPU's \
         epochs follow; on a card, scripts/gpu-run.sh runs them"
            .into(),
    );
    Ok(())
}
