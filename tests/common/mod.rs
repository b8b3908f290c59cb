//! Helpers shared by the integration tests: running the built binary and
//! reading its output, loading the bundled data, and training a recipe with
//! the notebook's seeds and split on the CPU.
//!
//! A test file uses them with `mod common;` and `use common::...`. Cargo does
//! not build files under tests/common/ as test binaries of their own.

// Every test binary compiles this module separately and uses only part of it;
// the helpers a binary does not call would warn there as dead code.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use mfcuda::backend::Device;
use mfcuda::data::{Columns, Ratings, Source};
use mfcuda::recipe::Recipe;
use mfcuda::train::{train, Silent, TrainConfig, TrainReport};

/// Runs the built `mfcuda` binary with `args`, from the test's working
/// directory (the package root).
pub fn mfcuda(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mfcuda"))
        .args(args)
        .output()
        .expect("the mfcuda binary runs")
}

/// Runs the built `mfcuda` binary with `args` from `dir`, for what must not
/// depend on being started in the package root.
pub fn mfcuda_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mfcuda"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the mfcuda binary runs")
}

/// The run's stdout as text (invalid UTF-8 replaced).
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The run's stderr as text (invalid UTF-8 replaced).
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The bundled MovieLens ratings, with the default columns.
pub fn bundled() -> Ratings {
    Ratings::load(&Source::Bundled, &Columns::default()).unwrap()
}

/// The notebook's run of `recipe` on the CPU: seed 42, and the split of seed
/// 42 that holds out 20% for validation. Other devices or seeds override
/// fields with `TrainConfig { device, ..notebook_config(recipe) }`.
pub fn notebook_config(recipe: Recipe) -> TrainConfig {
    TrainConfig {
        recipe,
        seed: 42,
        split_seed: 42,
        val_pct: 0.2,
        split: Default::default(),
        rows: None,
        device: Device::Cpu,
        gpu: Default::default(),
    }
}

/// Trains `recipe` on `data` with [`notebook_config`], silently.
pub fn train_on_cpu(data: &Ratings, recipe: Recipe) -> TrainReport {
    train(data, &notebook_config(recipe), &mut Silent).unwrap()
}

/// The bit patterns of `v`, to compare floats to the bit.
pub fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Runs the built `mfcuda` binary with `args`, sends it SIGINT (as Ctrl-C
/// does) as soon as a stdout line satisfies `ready`, and waits for it to
/// end. Returns the stdout lines after that one, and the run's output
/// (whose stdout is then empty: the lines are in the first value).
pub fn interrupt_when(args: &[&str], ready: impl Fn(&str) -> bool) -> (Vec<String>, Output) {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_mfcuda"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the mfcuda binary runs");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    for line in lines.by_ref() {
        if ready(&line.expect("stdout is text")) {
            break;
        }
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    let rest: Vec<String> = lines.map(|l| l.expect("stdout is text")).collect();
    (rest, child.wait_with_output().expect("the run ends"))
}
