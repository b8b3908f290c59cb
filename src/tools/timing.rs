//! Timing, shared by every tool that times: a GPU call between two CUDA
//! events after a warm-up, a CPU call by its median, and the device's own
//! copy bandwidth, the yardstick of every "% copy" figure.

use std::time::Instant;

use crate::backend::cuda::{cuda_err, Gpu};
use crate::error::Result;

/// Milliseconds per call of `f` on `gpu`, over `reps` calls between two
/// CUDA events, after `warm` calls.
pub fn time_gpu(gpu: &Gpu, warm: usize, reps: usize, f: &mut dyn FnMut() -> Result<()>) -> Result<f64> {
    use cudarc::driver::sys::CUevent_flags;
    for _ in 0..warm {
        f()?;
    }
    let event = || {
        gpu.stream
            .record_event(Some(CUevent_flags::CU_EVENT_DEFAULT))
            .map_err(|e| cuda_err("event", e))
    };
    let start = event()?;
    for _ in 0..reps {
        f()?;
    }
    let end = event()?;
    end.synchronize().map_err(|e| cuda_err("event", e))?;
    Ok(start.elapsed_ms(&end).map_err(|e| cuda_err("event", e))? as f64 / reps as f64)
}

/// The median of `reps` timed calls of `f` after one untimed call, in ms.
pub fn median_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(|a, b| a.total_cmp(b));
    t[reps / 2]
}

/// Floats in the copy that measures bandwidth: 256 MB, or 64 MB with `quick`.
pub fn copy_floats(quick: bool) -> usize {
    if quick {
        16 << 20
    } else {
        64 << 20
    }
}

/// The device-to-device copy bandwidth in GB/s, counting the read and the
/// write: the yardstick of every "% copy" figure. The mean of 20 copies
/// between two events, after 3 warm-up copies.
pub fn copy_bandwidth(gpu: &Gpu, quick: bool) -> Result<f64> {
    let copy_n = copy_floats(quick);
    let src = gpu.zeros::<f32>(copy_n)?;
    let mut dst = gpu.zeros::<f32>(copy_n)?;
    let ms = time_gpu(gpu, 3, 20, &mut || {
        gpu.stream
            .memcpy_dtod(&src, &mut dst)
            .map_err(|e| cuda_err("copy", e))
    })?;
    Ok(2.0 * (copy_n * 4) as f64 / (ms / 1e3) / 1e9)
}
