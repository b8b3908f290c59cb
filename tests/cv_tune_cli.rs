//! `mfcuda cv` and `mfcuda tune` as a user runs them (walls 9
//! and 11): cv's table in Surprise's layout (a column a fold, then Mean and
//! Std), with fit and test times measured and the ranking columns summed up;
//! tune's member file names, the recipe's own values for the axes not tuned,
//! and trial 0, the recipe as given, which a worse search never replaces.
//!
//! Every run is short: the sparse recipe on the CPU, one or two epochs, two
//! or three folds of the bundled ratings.

mod common;

use common::{mfcuda, stderr, stdout};

/// The last line of stdout, as JSON (the `--json` object).
fn json_of(o: &std::process::Output) -> serde_json::Value {
    let out = stdout(o);
    let line = out
        .lines()
        .last()
        .unwrap_or_else(|| panic!("no stdout; stderr:\n{}", stderr(o)));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

/// The cells of the table row labelled `label` (the label is followed by two
/// spaces or more), parsed as numbers.
fn row(text: &str, label: &str) -> Vec<f64> {
    let line = text
        .lines()
        .find(|l| l.starts_with(label) && l[label.len()..].starts_with("  "))
        .unwrap_or_else(|| panic!("no row {label:?} in\n{text}"));
    line[label.len()..]
        .split_whitespace()
        .map(|c| {
            c.parse::<f64>()
                .unwrap_or_else(|e| panic!("{c:?} in {line:?}: {e}"))
        })
        .collect()
}

/// numpy's mean and std (ddof = 0).
fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    (m, (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt())
}

#[test]
fn cv_prints_surprises_table_with_folds_as_columns_and_real_times() {
    let o = mfcuda(&[
        "cv", "--recipe", "sparse", "--device", "cpu", "--folds", "3", "--epochs", "2",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("Evaluating RMSE, MAE of recipe sparse on 3 split(s)."),
        "{text}"
    );
    let head = text
        .lines()
        .find(|l| l.trim_start().starts_with("Fold 1"))
        .unwrap_or_else(|| panic!("no header in\n{text}"));
    let words: Vec<&str> = head.split_whitespace().collect();
    assert_eq!(
        words,
        ["Fold", "1", "Fold", "2", "Fold", "3", "Mean", "Std"],
        "{head}"
    );
    for label in ["RMSE (testset)", "MAE (testset)"] {
        let cells = row(&text, label);
        assert_eq!(cells.len(), 5, "{label}: 3 folds, Mean, Std");
        let (m, s) = mean_std(&cells[..3]);
        // The cells are printed to 4 decimals.
        assert!((cells[3] - m).abs() < 1.5e-4, "{label} mean {cells:?}");
        assert!((cells[4] - s).abs() < 1.5e-4, "{label} std {cells:?}");
        assert!(
            cells[..3].iter().all(|&v| v > 0.5 && v < 1.2),
            "{label} {cells:?}"
        );
    }
    for label in ["Fit time (s)", "Test time (s)"] {
        let cells = row(&text, label);
        assert_eq!(cells.len(), 5, "{label}");
        assert!(
            cells[..4].iter().all(|&v| v > 0.0),
            "{label} reads 0: {cells:?}\n{text}"
        );
    }
    // Scoring a third of the ratings takes milliseconds: printed with three
    // significant digits, never as 0.00.
    let test_line = text.lines().find(|l| l.starts_with("Test time (s)")).unwrap();
    assert!(!test_line.split_whitespace().any(|c| c == "0.00"), "{test_line}");
    assert_eq!(row(&text, "Test rows")[..3].iter().sum::<f64>(), 100_836.0);
    // No ranking rows without --metrics.
    assert!(!text.contains("NDCG@"), "{text}");
}

#[test]
fn cv_json_carries_the_times_and_the_ranking_columns_get_mean_and_std() {
    let o = mfcuda(&[
        "cv",
        "--recipe",
        "sparse",
        "--device",
        "cpu",
        "--folds",
        "2",
        "--epochs",
        "1",
        "--metrics",
        "10",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json_of(&o);
    let table = stderr(&o);
    let folds = v["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 2);
    // The fields benches/surprise_cv.py reads are still there.
    for f in folds {
        for key in ["fold", "rmse", "mae", "fit_seconds", "test_seconds"] {
            assert!(f[key].is_number(), "{key} in {f}");
        }
        assert!(f["test_seconds"].as_f64().unwrap() > 0.0, "{f}");
    }
    let of = |f: &serde_json::Value, path: &[&str]| -> f64 {
        path.iter()
            .fold(f, |v, k| &v[*k])
            .as_f64()
            .unwrap_or_else(|| panic!("{path:?} in {f}"))
    };
    for (key, label) in [("fit_seconds", "Fit time (s)"), ("test_seconds", "Test time (s)")] {
        let vals: Vec<f64> = folds.iter().map(|f| of(f, &[key])).collect();
        let (m, s) = mean_std(&vals);
        assert!((v[key][0].as_f64().unwrap() - m).abs() < 1e-12, "{key} mean");
        assert!((v[key][1].as_f64().unwrap() - s).abs() < 1e-12, "{key} std");
        // The table prints the same figures to three significant digits.
        let cells = row(&table, label);
        for (cell, want) in cells.iter().zip(vals.iter().chain([&m])) {
            assert!((cell - want).abs() <= 0.006 * want, "{label}: {cell} vs {want}");
        }
    }
    assert!(v["rmse"][0].is_number() && v["mae"][1].is_number() && v["seconds_per_fold"].is_number());
    let r = &v["ranking"];
    assert_eq!(r["k"], 10, "{v}");
    for (key, label) in [
        ("precision", "P@10 (testset)"),
        ("recall", "R@10 (testset)"),
        ("ndcg", "NDCG@10 (testset)"),
        ("map", "MAP@10 (testset)"),
        ("coverage", "Coverage@10 (testset)"),
    ] {
        let vals: Vec<f64> = folds.iter().map(|f| of(f, &["ranking", key])).collect();
        let (m, s) = mean_std(&vals);
        assert!((r[key][0].as_f64().unwrap() - m).abs() < 1e-12, "{key} mean {r}");
        assert!((r[key][1].as_f64().unwrap() - s).abs() < 1e-12, "{key} std {r}");
        let cells = row(&table, label);
        assert_eq!(cells.len(), 4, "{label}: 2 folds, Mean, Std");
        for (cell, want) in cells.iter().zip(vals.iter().chain([&m, &s])) {
            assert!((cell - want).abs() < 6e-5, "{label}: {cell} vs {want}");
        }
    }
    assert!(
        table.contains("P@10, R@10, NDCG@10, MAP@10, COVERAGE@10"),
        "{table}"
    );
    assert_eq!(row(&table, "Rank time (s)").len(), 4, "{table}");
}

/// A recipe file over `sparse` with these overrides.
fn recipe_file(path: &std::path::Path, overrides: &str) {
    std::fs::write(path, format!("base = \"sparse\"\n\n[overrides]\n{overrides}\n")).unwrap();
}

#[test]
fn tune_members_names_the_candidates_by_their_files() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("short.toml"), dir.path().join("long.toml"));
    recipe_file(&a, "epochs = 1");
    recipe_file(&b, "epochs = 2\nlr = 0.01");
    let members = format!("{},{}", a.display(), b.display());
    let o = mfcuda(&["tune", "--members", &members, "--device", "cpu"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let (num, name) = l.split_once("  ")?;
            num.parse::<f64>().ok().map(|_| name.trim())
        })
        .collect();
    assert_eq!(
        names,
        ["short.toml", "long.toml", "short.toml + long.toml"],
        "{text}"
    );
    assert!(!text.contains("sparse + sparse"), "{text}");
    assert!(
        text.contains("best     short.toml") || text.contains("best     long.toml"),
        "{text}"
    );

    // Two files of one name, in two folders: their paths tell them apart.
    let (d1, d2) = (dir.path().join("one"), dir.path().join("two"));
    std::fs::create_dir_all(&d1).unwrap();
    std::fs::create_dir_all(&d2).unwrap();
    recipe_file(&d1.join("m.toml"), "epochs = 1");
    recipe_file(&d2.join("m.toml"), "epochs = 1\nwd = 0.1");
    let members = format!("{},{}", d1.join("m.toml").display(), d2.join("m.toml").display());
    let o = mfcuda(&["tune", "--members", &members, "--device", "cpu", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json_of(&o);
    let names: Vec<&str> = v["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{v}");
    assert_eq!(names[0], d1.join("m.toml").display().to_string());
    assert_eq!(names[1], d2.join("m.toml").display().to_string());
}

/// The trial rows of tune's table: each split on whitespace.
fn trial_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.len() >= 8 && w[0].parse::<usize>().is_ok()
        })
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

#[test]
fn tune_prints_the_recipes_own_values_for_the_axes_not_tuned() {
    let o = mfcuda(&[
        "tune",
        "--recipe",
        "sparse",
        "--device",
        "cpu",
        "--lr",
        "0.01,0.03",
        "--epochs",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    let rows = trial_rows(&text);
    assert_eq!(rows.len(), 3, "trial 0 and a grid of 2 × 1:\n{text}");
    // trial  lr  wd  factors  epochs  dropout  inner_rmse  seconds
    let cols = |r: &Vec<String>| r[..6].to_vec();
    assert_eq!(
        cols(&rows[0]),
        ["0", "0.02000", "0.06000", "100", "20", "-"],
        "{text}"
    );
    assert!(rows[0].join(" ").ends_with("(the recipe as given)"), "{text}");
    assert_eq!(
        cols(&rows[1]),
        ["1", "0.01000", "0.06000", "100", "1", "-"],
        "{text}"
    );
    assert_eq!(
        cols(&rows[2]),
        ["2", "0.03000", "0.06000", "100", "1", "-"],
        "{text}"
    );
    // The net has a dropout: not tuned, it prints the recipe's (started from
    // a file of one epoch, to keep the run short).
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().join("net.toml");
    std::fs::write(&net, "base = \"net\"\n\n[overrides]\nepochs = 1\n").unwrap();
    let o = mfcuda(&[
        "tune",
        "--recipe-file",
        net.to_str().unwrap(),
        "--device",
        "cpu",
        "--wd",
        "0.01",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = trial_rows(&stdout(&o));
    assert_eq!(rows.len(), 2, "{}", stdout(&o));
    assert_eq!(
        cols(&rows[0])[1..],
        ["0.00100", "0.00001", "50", "1", "0.500"],
        "{}",
        stdout(&o)
    );
    assert_eq!(
        cols(&rows[1])[1..],
        ["0.00100", "0.01000", "50", "1", "0.500"],
        "{}",
        stdout(&o)
    );
}

#[test]
fn tune_keeps_the_recipe_as_trial_0_and_says_when_the_search_did_worse() {
    // No trial at all is refused, not taken for "keep the recipe".
    let o = mfcuda(&["tune", "--device", "cpu", "--lr", "0.01:0.02", "--trials", "0"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("invalid --trials: must be at least 1"),
        "{}",
        stderr(&o)
    );
    // Random search over hopeless settings: one epoch at a tiny lr cannot beat
    // sparse's own 20 epochs.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("won.toml");
    let o = mfcuda(&[
        "tune",
        "--recipe",
        "sparse",
        "--device",
        "cpu",
        "--lr",
        "0.0001:0.0003",
        "--epochs",
        "1",
        "--trials",
        "2",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (v, text) = (json_of(&o), stderr(&o));
    let trials = v["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 3, "trial 0 and 2 draws");
    assert_eq!(
        trials[0]["overrides"]["lr"],
        serde_json::Value::Null,
        "trial 0 is the recipe"
    );
    assert_eq!(trials[0]["settings"]["epochs"], 20);
    let inner: Vec<f64> = trials.iter().map(|t| t["inner_rmse"].as_f64().unwrap()).collect();
    assert!(inner[1] > inner[0] && inner[2] > inner[0], "{inner:?}");
    assert_eq!(v["best"], 0);
    assert_eq!(v["beat_recipe"], false);
    let t = v["best_tuned"].as_u64().unwrap() as usize;
    assert!(
        text.contains(&format!(
            "note     the best tuned trial, trial {t} (inner RMSE {:.4}), is worse on the inner split \
             than the recipe it started from (trial 0, inner RMSE {:.4}): keeping the recipe's own settings",
            inner[t], inner[0]
        )),
        "{text}"
    );
    assert!(
        text.contains("best     trial 0: lr 0.02000, wd 0.06000, 100 factors, 20 epochs"),
        "{text}"
    );
    assert!(text.contains(", the recipe as given); trained on all"), "{text}");
    let file = std::fs::read_to_string(&out).unwrap();
    assert!(
        file.contains("base = \"sparse\"") && !file.contains("[overrides]"),
        "{file}"
    );
    assert!(file.contains("no tuned trial beat the recipe as given"), "{file}");

    // Started from a poor recipe file (one epoch), a search that does better wins,
    // and says by how much.
    let start = dir.path().join("start.toml");
    recipe_file(&start, "epochs = 1");
    let o = mfcuda(&[
        "tune",
        "--recipe-file",
        start.to_str().unwrap(),
        "--device",
        "cpu",
        "--epochs",
        "10",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (v, text) = (json_of(&o), stderr(&o));
    let inner: Vec<f64> = v["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["inner_rmse"].as_f64().unwrap())
        .collect();
    assert_eq!(inner.len(), 2);
    assert_eq!(
        v["trials"][0]["settings"]["epochs"], 1,
        "trial 0 is the file's recipe"
    );
    assert!(inner[1] < inner[0], "{inner:?}");
    assert_eq!(
        (v["best"].as_u64(), v["beat_recipe"].as_bool()),
        (Some(1), Some(true))
    );
    assert!(!text.contains("note     "), "{text}");
    assert!(
        text.contains(&format!(
            "best     trial 1: lr 0.02000, wd 0.06000, 100 factors, 10 epochs (inner RMSE {:.4}, {:.4} below \
             the recipe's own {:.4})",
            inner[1],
            inner[0] - inner[1],
            inner[0]
        )),
        "{text}"
    );
}
