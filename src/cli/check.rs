//! `mfcuda check`: every CUDA kernel against its CPU twin, then one training
//! step per optimizer; the plan is [`mfcuda::tools::check::run_all`].

use clap::Args;
use mfcuda::backend::cuda;
use mfcuda::backend::select::{choose, Needs};
use mfcuda::backend::Device;
use mfcuda::data::{Columns, Ratings, Source};
use mfcuda::tools::check::{self, CheckRow};

use super::{emit, CliResult};

/// The arguments of `mfcuda check`.
#[derive(Args)]
pub struct CheckArgs {
    /// The GPU to check: `auto` or `cuda` (GPU 0), or `cuda:N`
    #[arg(long, default_value = "auto", value_name = "auto|cuda|cuda:N")]
    device: Device,
}

/// Opens the GPU, prints the header and every row as it is measured; fails
/// when a row does.
pub fn run(a: &CheckArgs) -> CliResult {
    if a.device == Device::Cpu {
        return Err(
            "mfcuda check compares the CUDA kernels with their CPU twins, so --device cpu has nothing \
                    to check; `cargo test` exercises the CPU reference"
                .to_string()
                .into(),
        );
    }
    let needs = Needs {
        gpu_only: Some(
            "mfcuda check compares the CUDA kernels with their CPU twins, so it needs a GPU \
             (`cargo test` exercises the CPU reference without one)"
                .into(),
        ),
        gpu_refused: None,
    };
    let Some(gpu) = choose(a.device, &needs)?.into_gpu() else {
        return Err("mfcuda check: no GPU was chosen".to_string().into());
    };
    emit(&format!(
        "device   {}\nkernels  {}\n\n{}\n",
        gpu.description,
        cuda::BUILD_NOTE,
        CheckRow::header()
    ))?;
    let data = Ratings::load(&Source::Bundled, &Columns::default())?;
    let failed = check::run_all(&gpu, &data, |row| {
        let _ = emit(&format!("{}\n", row.line()));
    })?;
    if failed > 0 {
        return Err(format!("{failed} check rows failed").into());
    }
    emit("all checks passed\n")?;
    Ok(())
}
