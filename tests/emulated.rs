//! `mfcuda bench` on the emulated device (`emu/`, `scripts/emulate.sh`): its
//! rows say they are emulated, print no GB/s, and carry the emulator's
//! counters beside the roofline model's bytes.
//!
//! These run only on the emulated device:
//! `scripts/emulate.sh cargo test --release --test emulated`. Without a GPU
//! they skip, saying so; on a card they skip too (a card's bench is
//! `scripts/gpu-run.sh`'s).

use std::io::Write;

use mfcuda::backend::cuda::emulated;
use mfcuda::backend::cuda::Gpu;
use serde_json::Value;

mod common;

/// The one way to run these tests.
const HOW: &str =
    "run `scripts/emulate.sh cargo test --release --test emulated` to run it on the emulated device";

/// True on the emulated device; otherwise says why the test skips.
fn emulated_or_skip(test: &str) -> bool {
    let why = match Gpu::open(0) {
        Ok(gpu) if gpu.is_emulated() => return true,
        Ok(gpu) => format!("{} is a card, not the emulated device", gpu.description),
        Err(why) => why,
    };
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}; {HOW}");
    false
}

/// The counter `key` of `row`'s emulator counters, as a number.
fn counter(row: &Value, key: &str) -> f64 {
    row["emu"][key]
        .as_f64()
        .unwrap_or_else(|| panic!("no emu.{key} in {row}"))
}

#[test]
fn bench_on_the_emulated_device_labels_its_rows_and_counts_sectors() {
    if !emulated_or_skip("bench_on_the_emulated_device_labels_its_rows_and_counts_sectors") {
        return;
    }
    let out = common::mfcuda(&["bench", "--device", "cuda", "--quick", "--json"]);
    let (stdout, stderr) = (common::stdout(&out), common::stderr(&out));
    assert!(out.status.success(), "bench failed:\n{stderr}");
    let last = stdout.lines().last().expect("a JSON line");
    let report: Value = serde_json::from_str(last).expect("the last line is JSON");

    // Named as emulated, everywhere a user reads it.
    assert_eq!(report["emulated"], true);
    assert!(
        emulated::is_emulated(report["gpu"].as_str().unwrap_or("")),
        "{}",
        report["gpu"]
    );
    assert!(report["copy_gb_per_s"].is_null());
    assert!(stderr.contains("not GPU time"), "{stderr}");
    let rows = report["rows"].as_array().expect("rows");
    assert!(!rows.iter().any(|r| r["device"] == "cuda"), "a row labelled cuda");
    let emu: Vec<&Value> = rows.iter().filter(|r| r["device"] == "emu").collect();
    assert!(emu.len() >= 20, "{} emu rows", emu.len());
    for r in &emu {
        assert!(r["gb_per_s"].is_null() && r["pct_of_copy"].is_null(), "{r}");
        assert!(r["emu"].is_object(), "no counters: {r}");
        assert!(counter(r, "launches") >= 1.0, "{r}");
        assert!(counter(r, "thread_instructions") > 0.0, "{r}");
    }
    // The table's emu lines print no GB/s: its GB/s and % copy columns are dashes.
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("emu ")).collect();
    assert!(
        lines.iter().any(|l| l.contains("ld sect") || l.contains('(')),
        "no counter table:\n{stderr}"
    );
    for l in lines.iter().filter(|l| !l.contains('(')) {
        let cols: Vec<&str> = l.split_whitespace().collect();
        assert_eq!(&cols[cols.len() - 3..], &["-", "-", "-"], "{l}");
    }
    assert!(stderr.contains("beside the roofline byte model"), "{stderr}");
    assert!(
        stderr.contains("epochs: not run on the emulated device"),
        "{stderr}"
    );

    // A coalesced elementwise kernel moves what the model counts: n floats
    // read and n written, 4 sectors a warp request.
    let sig = emu
        .iter()
        .find(|r| r["what"] == "sigmoid_range_forward" && r["size"] == "B=4096")
        .expect("a sigmoid_range_forward B=4096 row");
    let n = 4096.0;
    let sectors = n * 4.0 / 32.0;
    assert!(
        (counter(sig, "global_load_sectors") - sectors).abs() <= 0.02 * sectors,
        "{sig}"
    );
    assert!(
        (counter(sig, "global_store_sectors") - sectors).abs() <= 0.02 * sectors,
        "{sig}"
    );
    let per_request = counter(sig, "global_load_sectors") / counter(sig, "global_load_requests");
    assert!((per_request - 4.0).abs() < 0.1, "{sig}");
    assert!((counter(sig, "sector_ratio") - 1.0).abs() < 0.05, "{sig}");
    assert_eq!(counter(sig, "model_bytes"), 8.0 * n);
    assert_eq!(counter(sig, "bank_conflicts"), 0.0, "{sig}");
    // A thread-instruction or more a thread.
    assert!(counter(sig, "thread_instructions") >= n, "{sig}");

    // A gather by a random order touches more sectors than the model counts.
    let gather = emu
        .iter()
        .find(|r| r["what"] == "gather_rows" && r["size"] == "n=4096")
        .expect("a gather_rows n=4096 row");
    assert!(counter(gather, "sector_ratio") > 1.5, "{gather}");
}

/// The card-sized benches (`--scale`, `--ranking`) refuse on the emulated
/// device before drawing their data, and name the card's script.
#[test]
fn card_sized_benches_on_the_emulated_device_refuse_and_name_the_card_script() {
    if !emulated_or_skip("card_sized_benches_on_the_emulated_device_refuse_and_name_the_card_script") {
        return;
    }
    for flag in ["--scale", "--ranking"] {
        let out = common::mfcuda(&["bench", flag, "--device", "cuda", "--quick"]);
        let stderr = common::stderr(&out);
        assert!(!out.status.success(), "{flag} ran on the emulated device");
        assert!(
            stderr.contains("emulated") && stderr.contains("scripts/gpu-run.sh"),
            "{flag}: {stderr}"
        );
    }
}
