//! `cargo bench`: the same table as `mfcuda bench`. The GPU part runs
//! wherever a GPU is usable and says why not otherwise; the CPU part always
//! runs. `MFCUDA_BENCH_QUICK=1` shrinks the large sizes.

use mfcuda::backend::Device;
use mfcuda::data::{Columns, Ratings, Source};
use mfcuda::tools::bench::{run, BenchOptions, BenchRow};

fn main() {
    let data = match Ratings::load(&Source::Bundled, &Columns::default()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let quick = std::env::var("MFCUDA_BENCH_QUICK").is_ok_and(|v| v == "1");
    println!("{}", BenchRow::header());
    match run(
        &data,
        BenchOptions {
            device: Device::Auto,
            quick,
        },
        |row| println!("{}", row.line()),
    ) {
        Ok(report) => {
            if let Some(why) = report.gpu_skipped {
                println!("gpu: not measured ({why})");
            }
            if let (Some(gpu), Some(copy)) = (report.gpu, report.copy_gb_per_s) {
                println!("gpu: {gpu}; device-to-device copy {copy:.0} GB/s");
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
