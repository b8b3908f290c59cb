//! `train` knows the baseline (predicting the training mean) and warns when
//! a run ends well above it, naming the likely cause and a value to try;
//! the notebook's recipes at their defaults never trip it.

mod common;

use common::{mfcuda, stderr, stdout};

fn json_of(out: &str) -> serde_json::Value {
    let last = out.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {last}"))
}

#[test]
fn a_run_far_above_the_baseline_warns_with_the_cause_and_a_value_to_try() {
    // The command: dotbias at --lr 1000 ends at MSE 5.51 with no NaN.
    let o = mfcuda(&[
        "train", "--recipe", "dotbias", "--lr", "1000", "--device", "cpu", "--json",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("baseline val_mse 1.1001"), "{err}");
    assert!(
        err.contains("warning: the model ended at validation MSE")
            && err.contains("worse than predicting the training mean")
            && err.contains("the learning rate 1000 is 10000x the recipe's: try --lr 0.1"),
        "{err}"
    );
    let v = json_of(&stdout(&o));
    assert!(
        (v["baseline_mse"].as_f64().unwrap_or(0.0) - 1.1001).abs() < 1e-4,
        "{v}"
    );
    assert!(
        v["warning"].as_str().is_some_and(|w| w.contains("--lr 0.1")),
        "{v}"
    );
}

#[test]
fn the_notebooks_dot_at_its_defaults_ends_above_the_baseline_without_a_warning() {
    // dot ends near 1.1355, 3% above the baseline of 1.1001: not divergence.
    let o = mfcuda(&["train", "--recipe", "dot", "--device", "cpu", "--json"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let v = json_of(&stdout(&o));
    let (mse, base) = (
        v["val_mse"].as_f64().unwrap_or(0.0),
        v["baseline_mse"].as_f64().unwrap_or(0.0),
    );
    assert!(
        mse > base && mse < 1.25 * base,
        "val {mse} against baseline {base}"
    );
    assert!(v["warning"].is_null(), "{v}");
    assert!(!err.contains("warning:"), "{err}");
}

#[test]
fn the_divergence_hint_prints_a_short_learning_rate() {
    // NaN at --lr 0.02 would have said "0.0019999999 is a start".
    let o = mfcuda(&[
        "train", "--recipe", "dot", "--lr", "1e30", "--epochs", "1", "--device", "cpu",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("this step's was 1.00e30; 1.00e29 is a start"),
        "{err}"
    );
}
