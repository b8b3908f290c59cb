//! Evaluation: full-ranking metrics against a brute-force ranking written
//! the plain way, and `mfcuda cv`'s folds and summary.

mod common;

use std::collections::HashSet;

use common::{bundled, mfcuda, stderr, stdout};
use mfcuda::data::split::Split;
use mfcuda::data::Examples;
use mfcuda::eval::ranking::{full_ranking, RankingOptions};
use mfcuda::recipe::{self, Overrides};

#[test]
fn full_ranking_matches_a_brute_force_ranking_on_ml_latest_small() {
    let data = bundled();
    let recipe = recipe::find("dotbias")
        .unwrap()
        .with_overrides(&Overrides {
            epochs: Some(1),
            ..Default::default()
        })
        .unwrap();
    let report = common::train_on_cpu(&data, recipe);
    let split = Split::new(data.len(), 0.2, 42).unwrap();
    let (train, valid) = (
        Examples::select(&data, &split.train),
        Examples::select(&data, &split.valid),
    );
    let opts = RankingOptions {
        k: 10,
        threshold: 4.0,
    };
    let got = full_ranking(&report.spec, &report.params, &train, &valid, opts);

    // Brute force: every score from the formula, a full sort, sets for everything.
    let (f, nu, ni) = (report.spec.factors, data.n_users(), data.n_items());
    let p = &report.params;
    let (u, m) = (&p[..nu * f], &p[nu * f..(nu + ni) * f]);
    let (ub, mb) = (&p[(nu + ni) * f..(nu + ni) * f + nu], &p[(nu + ni) * f + nu..]);
    // MF models rank by the raw score (the sigmoid range keeps its order).
    let score = |a: usize, i: usize| (0..f).map(|k| u[a * f + k] * m[i * f + k]).sum::<f32>() + ub[a] + mb[i];
    let (mut sums, mut users, mut skipped, mut shown) = ([0.0f64; 4], 0, 0, HashSet::new());
    for a in 0..nu {
        let held: Vec<usize> = (0..valid.len())
            .filter(|&r| valid.users[r] as usize == a)
            .collect();
        if held.is_empty() {
            continue;
        }
        let rel: HashSet<u32> = held
            .iter()
            .filter(|&&r| valid.ratings[r] >= 4.0)
            .map(|&r| valid.items[r])
            .collect();
        if rel.is_empty() {
            skipped += 1;
            continue;
        }
        users += 1;
        let seen: HashSet<u32> = (0..train.len())
            .filter(|&r| train.users[r] as usize == a)
            .map(|r| train.items[r])
            .collect();
        let mut ranked: Vec<(f32, u32)> = (0..ni as u32)
            .filter(|i| !seen.contains(i))
            .map(|i| (score(a, i as usize), i))
            .collect();
        ranked.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
        let top: Vec<u32> = ranked.iter().take(10).map(|x| x.1).collect();
        shown.extend(top.iter().copied());
        let hits: Vec<bool> = top.iter().map(|i| rel.contains(i)).collect();
        let n_hits = hits.iter().filter(|&&h| h).count() as f64;
        let dcg: f64 = hits
            .iter()
            .enumerate()
            .filter(|x| *x.1)
            .map(|(i, _)| 1.0 / (i as f64 + 2.0).log2())
            .sum();
        let ideal = rel.len().min(10);
        let idcg: f64 = (0..ideal).map(|i| 1.0 / (i as f64 + 2.0).log2()).sum();
        let mut ap = 0.0;
        let mut so_far = 0.0;
        for (i, &h) in hits.iter().enumerate() {
            if h {
                so_far += 1.0;
                ap += so_far / (i + 1) as f64;
            }
        }
        for (s, v) in sums.iter_mut().zip([
            n_hits / 10.0,
            n_hits / rel.len() as f64,
            dcg / idcg,
            ap / ideal as f64,
        ]) {
            *s += v;
        }
    }
    let n = users as f64;
    assert_eq!((got.users, got.skipped), (users, skipped));
    for (name, g, w) in [
        ("precision", got.precision, sums[0] / n),
        ("recall", got.recall, sums[1] / n),
        ("ndcg", got.ndcg, sums[2] / n),
        ("map", got.map, sums[3] / n),
        ("coverage", got.coverage, shown.len() as f64 / ni as f64),
    ] {
        assert!((g - w).abs() < 1e-9, "{name}: {g} vs brute force {w}");
    }
    assert!(got.ndcg > 0.0 && got.users > 300, "{got:?}");
}

#[test]
fn cv_reports_each_fold_and_their_mean() {
    let o = mfcuda(&[
        "cv", "--recipe", "sparse", "--device", "cpu", "--folds", "3", "--epochs", "4", "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let v: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let folds = v["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 3);
    let (mut rmse, mut tested) = (Vec::new(), 0);
    for f in folds {
        assert_eq!(
            f["train_rows"].as_u64().unwrap() + f["test_rows"].as_u64().unwrap(),
            100_836
        );
        tested += f["test_rows"].as_u64().unwrap();
        let (r, m) = (f["rmse"].as_f64().unwrap(), f["mae"].as_f64().unwrap());
        assert!(m < r && r > 0.8 && r < 1.0, "{f}");
        rmse.push(r);
    }
    assert_eq!(tested, 100_836, "the folds partition the rows");
    let mean = rmse.iter().sum::<f64>() / 3.0;
    let std = (rmse.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / 3.0).sqrt();
    assert!((v["rmse"][0].as_f64().unwrap() - mean).abs() < 1e-12);
    assert!((v["rmse"][1].as_f64().unwrap() - std).abs() < 1e-12);
    assert!(stderr(&o).contains("mean     rmse"), "{}", stderr(&o));
}

#[test]
fn a_temporal_split_is_kept_by_the_saved_model_and_ranked_the_same_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.safetensors");
    let p = path.to_str().unwrap();
    let o = mfcuda(&[
        "train",
        "--recipe",
        "sparse",
        "--device",
        "cpu",
        "--epochs",
        "4",
        "--split",
        "temporal",
        "--metrics",
        "10",
        "--save",
        p,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let line = |text: &str| -> String {
        let l = text
            .lines()
            .find(|l| l.starts_with("ranking"))
            .unwrap_or_else(|| panic!("{text}"));
        l.trim_start_matches("ranking")
            .split(" (")
            .next()
            .unwrap()
            .trim()
            .to_string()
    };
    let trained = line(&stdout(&o));
    let m = mfcuda::trained::saved::SavedModel::load(&path).unwrap();
    assert_eq!(m.split.to_string(), "temporal");
    // The held-out rows are the latest fifth by timestamp.
    let data = bundled();
    let split = mfcuda::trained::explore::model_split(&m, &data).unwrap();
    let newest_train = split
        .train
        .iter()
        .map(|&r| data.timestamps[r as usize])
        .max()
        .unwrap();
    let oldest_valid = split
        .valid
        .iter()
        .map(|&r| data.timestamps[r as usize])
        .min()
        .unwrap();
    assert!(newest_train <= oldest_valid && split.valid.len() == 20_167);
    let o = mfcuda(&["predict", "--model", p, "--metrics", "10"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        line(&stderr(&o)),
        trained,
        "the same ranking from the saved model"
    );
    let rmse = stderr(&o)
        .lines()
        .find(|l| l.starts_with("rmse"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<f64>()
        .unwrap();
    assert!(
        (rmse - m.val_mse.sqrt()).abs() < 5e-4,
        "{rmse} vs {}",
        m.val_mse.sqrt()
    );
}

#[test]
fn tune_scores_the_winner_once_and_its_file_trains_to_that_score() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tuned.toml");
    let o = mfcuda(&[
        "tune",
        "--recipe",
        "sparse",
        "--device",
        "cpu",
        "--lr",
        "0.01,0.03",
        "--epochs",
        "4",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).lines().last().unwrap()).unwrap();
    let trials = v["trials"].as_array().unwrap();
    assert_eq!(
        trials.len(),
        3,
        "trial 0 (the recipe as given) and a grid of 2 × 1"
    );
    let inner: Vec<f64> = trials.iter().map(|t| t["inner_rmse"].as_f64().unwrap()).collect();
    let best = v["best"].as_u64().unwrap() as usize;
    assert!(inner.iter().all(|&r| r >= inner[best]));
    assert_eq!(
        v["inner_rows"][0].as_u64().unwrap() + v["inner_rows"][1].as_u64().unwrap(),
        80_669
    );
    // The written file trains, on the notebook's split, to the score tune printed.
    let o = mfcuda(&[
        "train",
        "--device",
        "cpu",
        "--recipe-file",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let t: serde_json::Value = serde_json::from_str(stdout(&o).lines().last().unwrap()).unwrap();
    assert_eq!(t["val_rmse"].as_f64(), v["val_rmse"].as_f64());
    assert_eq!(t["epochs"], trials[best]["settings"]["epochs"]);
}

#[test]
fn the_best_recipe_beats_learner_on_the_notebooks_split() {
    let o = mfcuda(&["train", "--recipe", "best", "--device", "cpu", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).lines().last().unwrap()).unwrap();
    let (rmse, members) = (v["val_rmse"].as_f64().unwrap(), v["members"].as_array().unwrap());
    assert_eq!(members.len(), 2);
    // Each member alone does worse than the average, and the average beats learner's 0.858.
    for m in members {
        assert!(m["val_mse"].as_f64().unwrap().sqrt() > rmse, "{m}");
    }
    assert!(rmse <= 0.845, "best: validation RMSE {rmse}");
    // Saved, it is one file that summary, predict and recommend read, and
    // that reproduces the average's figure on the validation split.
    let dir = std::env::temp_dir().join(format!("mfcuda-best-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("best.safetensors");
    let file = path.to_str().unwrap();
    let o = mfcuda(&[
        "train", "--recipe", "best", "--device", "cpu", "-q", "--save", file,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = mfcuda(&["summary", "--model", file]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("ensemble best: the average of 2 models' raw predictions (sparse + learner)"),
        "{text}"
    );
    assert!(text.contains(&format!("rmse     {rmse:.4} raw")), "{text}");
    let o = mfcuda(&["predict", "--model", file, "--no-clip"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("rmse {rmse:.4} raw")),
        "{}",
        stderr(&o)
    );
    let o = mfcuda(&["recommend", "--model", file, "--user", "1", "-n", "3"]);
    assert!(
        o.status.success() && stdout(&o).contains("(best model)"),
        "{}",
        stderr(&o)
    );
    // What needs one model's factors says so.
    let o = mfcuda(&["similar", "--model", file, "--movie", "1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("is an ensemble of 2 models (sparse + learner), which has no one set of factors"),
        "{}",
        stderr(&o)
    );
    // plot, similar and biases refuse it alike, before they look for its data.
    let refusal = "is an ensemble of 2 models (sparse + learner), which has no one set of factors; \
                   train one member's recipe on its own (sparse or learner)";
    for args in [
        vec!["plot", "--model", file, "--out", dir.to_str().unwrap()],
        vec![
            "similar",
            "--model",
            file,
            "--movie",
            "1",
            "--data",
            "no-such.csv",
        ],
        vec!["biases", "--model", file, "--data", "no-such.csv"],
    ] {
        let o = mfcuda(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(stderr(&o).contains(refusal), "{args:?}: {}", stderr(&o));
    }
    // Ranking it is refused with train's and cv's words.
    let ranking = "invalid --metrics: best is an ensemble of 2 models (sparse + learner), and ranking an \
                   average of models is not built yet";
    for args in [
        vec!["predict", "--model", file, "--metrics", "10"],
        vec!["train", "--recipe", "best", "--metrics", "10"],
        vec!["cv", "--recipe", "best", "--metrics", "10"],
    ] {
        let o = mfcuda(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(stderr(&o).contains(ranking), "{args:?}: {}", stderr(&o));
    }
    // A member count edited down (the checksum covers the tensors, not the
    // metadata) is refused, not read as a smaller ensemble.
    let bytes = std::fs::read(&path).unwrap();
    let header = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let text = String::from_utf8(bytes[8..header].to_vec()).unwrap();
    assert!(text.contains("\"members\":\"2\""), "{text}");
    let edited = [
        &bytes[..8],
        text.replace("\"members\":\"2\"", "\"members\":\"1\"").as_bytes(),
        &bytes[header..],
    ]
    .concat();
    let cut = dir.join("cut.safetensors");
    std::fs::write(&cut, edited).unwrap();
    let o = mfcuda(&["summary", "--model", cut.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("is not one of the 1 members' (members.0. to members.0.)"),
        "{}",
        stderr(&o)
    );
    // Overrides still do not apply to an ensemble.
    let o = mfcuda(&["train", "--recipe", "best", "--device", "cpu", "--epochs", "2"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("an ensemble trains its members as its file says"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn ctrl_c_in_an_ensemble_says_at_once_that_nothing_will_be_saved() {
    let dir = std::env::temp_dir().join(format!("mfcuda-ensemble-stop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("best.safetensors");
    let p = path.to_str().unwrap();
    // The first member's table header comes just before its first epoch.
    let (_, out) = common::interrupt_when(
        &["train", "--recipe", "best", "--device", "cpu", "--save", p],
        |l| l.starts_with("epoch "),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("stopping; an ensemble is kept whole or not at all, so nothing will be saved")
            && !err.contains("the model as it stands is kept")
            && err.contains("interrupted in member 1 of 2 (sparse)")
            && err.contains("nothing was saved"),
        "{err}"
    );
    assert!(!path.exists(), "an interrupted ensemble was saved");
    std::fs::remove_dir_all(&dir).ok();
}
