//! The one device rule: which device runs a command, and why.
//!
//! Every command that can touch a GPU (`train`, `train --trace`, `check`,
//! `bench`, `bench --scale`) asks [`choose`], so `auto`, `cpu`, `cuda` and
//! `cuda:N` mean the same everywhere and fail with the same messages:
//!
//! - `cpu`: the CPU, where the command has a CPU path; else an error.
//! - `cuda[:N]`: GPU N, or an error saying why it cannot be used.
//! - `auto`: GPU 0 when it can be used, else the CPU, saying why; a command
//!   with no CPU path fails instead.
//!
//! [`create`] then builds the training backend for the choice.

use std::sync::Arc;

use crate::backend::cpu::CpuBackend;
use crate::backend::cuda::{sparse, CudaBackend, Gpu};
use crate::backend::{cpu_sparse, Backend, BackendInit, Device, GpuOptions};
use crate::error::{Error, Result};
use crate::optim::Training;

/// What a command can run on.
#[derive(Debug, Clone, Default)]
pub struct Needs {
    /// `Some(why)` for a command with no CPU path: why it needs a GPU.
    pub gpu_only: Option<String>,
    /// `Some(why)` when this job cannot run on a GPU, known before one is
    /// opened (`auto` then takes the CPU, and `cuda` is an error).
    pub gpu_refused: Option<String>,
}

/// Where a command runs.
pub enum Choice {
    /// The CPU: `None` when it was asked for, `Some(why)` when `auto` found
    /// no usable GPU.
    Cpu(Option<String>),
    /// An open GPU, and whether `auto` picked it.
    Gpu {
        /// The device, shared by what runs on it.
        gpu: Arc<Gpu>,
        /// Picked by `auto`, not asked for.
        auto: bool,
    },
}

impl Choice {
    /// Why this device: `requested`, or what `auto` found.
    pub fn why(&self) -> String {
        match self {
            Choice::Cpu(None) | Choice::Gpu { auto: false, .. } => "requested".into(),
            Choice::Cpu(Some(why)) => format!("auto: {why}"),
            Choice::Gpu { auto: true, .. } => "auto: a usable GPU was found".into(),
        }
    }

    /// The GPU, if one was chosen.
    pub fn into_gpu(self) -> Option<Arc<Gpu>> {
        match self {
            Choice::Gpu { gpu, .. } => Some(gpu),
            Choice::Cpu(_) => None,
        }
    }
}

/// Applies the device rule to `device` for a command that `needs` what it says.
pub fn choose(device: Device, needs: &Needs) -> Result<Choice> {
    let fail = |msg: String| Error::Device {
        device: device.to_string(),
        msg,
    };
    let or_cpu = if needs.gpu_only.is_none() {
        "; use --device cpu"
    } else {
        ""
    };
    match (device, &needs.gpu_only, &needs.gpu_refused) {
        (Device::Cpu, Some(why), _) => Err(fail(format!("{why}: use --device cuda (or auto)"))),
        (Device::Cpu, None, _) => Ok(Choice::Cpu(None)),
        (_, _, Some(refused)) if device != Device::Auto || needs.gpu_only.is_some() => {
            Err(fail(format!("{refused}{or_cpu}")))
        }
        (Device::Auto, None, Some(refused)) => Ok(Choice::Cpu(Some(refused.clone()))),
        (Device::Cuda(n), _, _) => match Gpu::open(n) {
            Ok(gpu) => Ok(Choice::Gpu {
                gpu: Arc::new(gpu),
                auto: false,
            }),
            Err(why) => Err(fail(format!("{why}{or_cpu}"))),
        },
        (Device::Auto, _, _) => match (Gpu::open(0), &needs.gpu_only) {
            (Ok(gpu), _) => Ok(Choice::Gpu {
                gpu: Arc::new(gpu),
                auto: true,
            }),
            (Err(why), None) => Ok(Choice::Cpu(Some(why))),
            (Err(why), Some(need)) => Err(fail(format!("{need}, and no GPU can be used: {why}"))),
        },
    }
}

/// Builds the backend that trains `init` by `training` on `device`. Also
/// returns one line saying which device was picked and why. `gpu_opts`
/// picks how the dense CUDA backend runs.
///
/// Dense training: the CPU reference, or the dense CUDA backend. Sparse
/// SGD: two stratified threads on the CPU, or one warp per rating on the GPU.
pub fn create<'a>(
    device: Device,
    init: BackendInit<'a>,
    training: Training,
    gpu_opts: GpuOptions,
) -> Result<(Box<dyn Backend + 'a>, String)> {
    let sparse = matches!(training, Training::Sparse { .. });
    let needs = Needs {
        gpu_only: None,
        // Hogwild does not repeat to the bit; the CPU's stratified threads do.
        gpu_refused: (sparse && gpu_opts.deterministic).then(|| {
            "--deterministic: sparse SGD on the GPU is lock-free (Hogwild) and does not repeat to the bit"
                .into()
        }),
    };
    let on_cpu = |init: BackendInit<'a>, why: String| -> Result<(Box<dyn Backend + 'a>, String)> {
        match training {
            Training::Dense { optimizer } => Ok((
                Box::new(CpuBackend::new(init, optimizer)),
                format!("device: cpu ({why})"),
            )),
            Training::Sparse { storage } => {
                let threads = cpu_sparse::cpu_threads();
                Ok((
                    cpu_sparse::cpu_backend(init, storage, threads)?,
                    format!("device: cpu, {threads} threads ({why})"),
                ))
            }
        }
    };
    let choice = choose(device, &needs)?;
    let why = choice.why();
    let Choice::Gpu { gpu, auto } = choice else {
        return on_cpu(init, why);
    };
    let line = format!("device: cuda, {} ({why})", gpu.description);
    let storage = match training {
        Training::Dense { optimizer } => {
            return Ok((Box::new(CudaBackend::new(gpu, init, optimizer, gpu_opts)?), line));
        }
        Training::Sparse { storage } => storage,
    };
    match sparse::cuda_backend(gpu, init.clone(), storage) {
        Ok(be) => Ok((be, line)),
        // A GPU that `auto` picked but that cannot take a sparse run (too
        // little memory, too many factors for the kernels) leaves it to the
        // CPU, saying why.
        Err(e) if auto => on_cpu(init, format!("auto: the GPU cannot run this: {e}")),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_parse_and_print_back() {
        for (text, device) in [
            ("auto", Device::Auto),
            ("cpu", Device::Cpu),
            ("cuda", Device::Cuda(0)),
            ("cuda:3", Device::Cuda(3)),
        ] {
            assert_eq!(text.parse::<Device>(), Ok(device));
            assert_eq!(device.to_string(), text);
        }
        for bad in ["gpu", "cuda:", "cuda:-1", "cuda:x", "CPU"] {
            let err = bad.parse::<Device>().unwrap_err();
            assert!(err.contains("cuda:N"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_cpu_is_chosen_or_refused_without_touching_a_gpu() {
        let any = Needs::default();
        assert!(matches!(choose(Device::Cpu, &any), Ok(Choice::Cpu(None))));
        let check = Needs {
            gpu_only: Some("mfcuda check compares the kernels with their CPU twins".into()),
            gpu_refused: None,
        };
        let err = choose(Device::Cpu, &check)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("device cpu") && err.contains("CPU twins") && err.contains("--device cuda"),
            "{err}"
        );
        let refused = Needs {
            gpu_only: None,
            gpu_refused: Some("--deterministic: Hogwild".into()),
        };
        match choose(Device::Auto, &refused) {
            Ok(c @ Choice::Cpu(Some(_))) => assert_eq!(c.why(), "auto: --deterministic: Hogwild"),
            _ => panic!("auto with a refused GPU must take the CPU"),
        }
        let err = choose(Device::Cuda(1), &refused)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("device cuda:1") && err.contains("Hogwild; use --device cpu"),
            "{err}"
        );
    }
}
