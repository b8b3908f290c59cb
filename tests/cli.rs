//! The command line, run as a user runs it: split and stats figures from the
//! notebook, and every bad-input case with its exit code and message.

mod common;

use std::io::Write;

use common::{mfcuda, mfcuda_in, stderr, stdout};

#[test]
fn split_matches_numpy_on_bundled_data() {
    let o = mfcuda(&["split"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<&str> = std::str::from_utf8(&o.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), 20_167);
    assert_eq!(&lines[..3], &["67037", "42175", "93850"]);
    assert_eq!(&lines[lines.len() - 3..], &["67290", "33423", "98552"]);
}

#[test]
fn split_works_from_another_directory() {
    let dir = tempfile::tempdir().unwrap();
    let o = mfcuda_in(dir.path(), &["split", "--val-pct", "0.1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 10_083);
}

#[test]
fn stats_prints_the_notebook_figures() {
    let o = mfcuda(&["stats"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for needle in [
        "ratings   100836",
        "users     610",
        "movies    9724",
        "range     0.5 .. 5",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    // Top users and top movies, in the notebook's order.
    let rows = |after: &str| -> Vec<(i64, usize)> {
        text.split(after)
            .nth(1)
            .unwrap()
            .lines()
            .skip(2)
            .take(15)
            .map(|l| {
                let mut f = l.split_whitespace().map(|x| x.parse::<i64>().unwrap());
                (f.next().unwrap(), f.next().unwrap() as usize)
            })
            .collect()
    };
    let users = rows("top users");
    assert_eq!(users[0], (414, 2698));
    assert_eq!(users[1], (599, 2478));
    assert_eq!(users[14], (603, 943));
    let movies = rows("top movies");
    assert_eq!(movies[0], (356, 329));
    assert_eq!(movies[1], (318, 317));
    assert_eq!(movies[14], (2858, 204));
}

#[test]
fn bad_input_gets_one_clear_line_and_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let missing = dir.path().join("nope.csv").to_str().unwrap().to_string();
    let cases: Vec<(String, Vec<&str>, String)> = vec![
        (
            missing.clone(),
            vec![],
            format!("error: {missing}: cannot read: No such file or directory"),
        ),
        (write("empty.csv", ""), vec![], "file is empty".into()),
        (
            write("header.csv", "userId,movieId,rating\r\n"),
            vec![],
            "line 1: header has no data rows".into(),
        ),
        (
            write("col.csv", "user,movieId,rating\n1,2,3\n"),
            vec![],
            "line 1: column 'userId' not found in the header (columns are: user, movieId, rating); name the columns with --user-col".into(),
        ),
        (
            write("renamed.csv", "userId,movieId,rating\n1,2,3\n"),
            vec!["--rating-col", "stars"],
            "line 1: column 'stars' not found".into(),
        ),
        (
            write("short.csv", "userId,movieId,rating,timestamp\n1,2,3,4\n1,2\n"),
            vec![],
            "line 3: expected 4 fields as in the header, found 2".into(),
        ),
        (
            write("text.csv", "userId,movieId,rating\n1,2,3\n\"1\",2,good\n"),
            vec![],
            "line 3: rating 'good' is not a number".into(),
        ),
        (
            write("nan.csv", "userId,movieId,rating\n1,2,nan\n"),
            vec![],
            "line 2: rating 'nan' is not a finite number".into(),
        ),
        (
            write("inf.csv", "userId,movieId,rating\n1,2,3\n1,3,-inf\n"),
            vec![],
            "line 3: rating '-inf' is not a finite number".into(),
        ),
        (
            write("id.csv", "userId,movieId,rating\n1,,3\n"),
            vec![],
            "line 2: movieId is empty".into(),
        ),
    ];
    for (file, extra, want) in &cases {
        for cmd in ["split", "stats", "train"] {
            let mut args = vec![cmd, "--data", file.as_str()];
            args.extend(extra);
            let o = mfcuda(&args);
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(1), "{cmd} {file}: {err}");
            assert!(!err.contains("panicked"), "{cmd} {file}: {err}");
            assert_eq!(
                err.lines().count(),
                1,
                "{cmd} {file}: one line expected, got\n{err}"
            );
            assert!(
                err.starts_with("error: ") && err.contains(file.as_str()),
                "{cmd}: {err}"
            );
            assert!(
                err.contains(want.as_str()),
                "{cmd} {file}: want {want:?}, got {err}"
            );
            assert!(
                o.stdout.is_empty() || cmd == "train",
                "{cmd} {file} printed to stdout"
            );
        }
    }
}

#[test]
fn bad_arguments_are_rejected() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["train", "--recipe", "nope"],
            "no recipe 'nope' (choose one of: learner, dot, dotbias, sparse, sparse-bf16, adagrad, net, best)",
        ),
        (
            &["train", "--epochs", "0"],
            "invalid --epochs: 0: must be from 1 to 10000",
        ),
        (
            &["cv", "--recipe", "best", "--metrics", "10"],
            "invalid --metrics: best is an ensemble of 2 models (sparse + learner), and ranking an average of models is not built yet",
        ),
        (
            &["cv", "--recipe", "best", "--epochs", "3"],
            "an ensemble trains its members as its file says",
        ),
        (
            &["train", "--recipe", "best", "--metrics", "10"],
            "invalid --metrics: best is an ensemble of 2 models (sparse + learner), and ranking an average of models is not built yet",
        ),
        (
            &["tune", "--lr", "0.01:0.03"],
            "invalid --lr: a range (lo:hi) is drawn from in a random search: give --trials N",
        ),
        (
            &["train", "--epochs", "-1"],
            "invalid --epochs: -1: must be a whole number of 1 or more",
        ),
        (
            &["train", "--recipe", "learner", "--cycles", "-2"],
            "invalid --cycles: -2: must be a whole number of 1 or more",
        ),
        (&["train", "--batch-size", "0"], "invalid --batch-size"),
        (&["train", "--lr", "-1"], "invalid --lr"),
        (&["train", "--wd", "-0.1"], "invalid --wd"),
        (
            &["train", "--val-pct", "1.5", "--epochs", "1"],
            "invalid --val-pct",
        ),
        (
            &["split", "--val-pct", "0"],
            "invalid --val-pct: 0 is not strictly between 0 and 1",
        ),
        (&["train", "--device", "cuda"], "device cuda:"),
        (
            &[
                "train", "--recipe", "dot", "--lr", "1000", "--epochs", "1", "--device", "cpu",
            ],
            "error: training diverged in epoch 0, step ",
        ),
    ];
    for (args, want) in cases {
        let o = mfcuda(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: want {want:?}, got {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn check_without_a_gpu_fails_clearly() {
    if mfcuda::backend::cuda::Gpu::open(0).is_ok() {
        return; // with a GPU, `check` runs for real: tests/gpu.rs covers it
    }
    let o = mfcuda(&["check"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: device auto: mfcuda check compares the CUDA kernels with their CPU twins, so it needs a GPU")
            && err.contains("`cargo test` exercises the CPU reference")
            && err.contains("no GPU can be used: "),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // --device cpu is not a way to check anything, and says so.
    let o = mfcuda(&["check", "--device", "cpu"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--device cpu has nothing to check") && err.contains("cargo test"),
        "{err}"
    );
}

#[test]
fn train_json_ends_with_one_object() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.csv");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "userId,movieId,rating,timestamp").unwrap();
    for u in 0..30 {
        for m in 0..20 {
            if (u * 7 + m * 3) % 4 != 0 {
                writeln!(f, "{u},{},{}.5,0", m + 100, 1 + (u + m) % 4).unwrap();
            }
        }
    }
    drop(f);
    let p = path.to_str().unwrap();
    let o = mfcuda(&[
        "train", "--data", p, "--recipe", "dotbias", "--epochs", "2", "--device", "cpu", "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(
        out.lines().count(),
        1,
        "only the JSON object goes to stdout with --json:\n{out}"
    );
    let v: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    for key in ["recipe", "device", "val_mse", "val_rmse", "epochs", "seconds"] {
        assert!(v.get(key).is_some(), "missing {key} in {v}");
    }
    assert_eq!(v["recipe"], "dotbias");
    assert_eq!(v["device"], "cpu");
    assert_eq!(v["epochs"], 2, "--epochs counts epochs in all");
    let mse = v["val_mse"].as_f64().unwrap();
    assert!(mse > 0.0 && (v["val_rmse"].as_f64().unwrap() - mse.sqrt()).abs() < 1e-12);
    // The human-readable table went to stderr.
    assert!(stderr(&o).contains("trn_loss"), "{}", stderr(&o));
}

#[test]
fn bench_on_the_cpu_reports_measured_rows() {
    let o = mfcuda(&["bench", "--device", "cpu", "--quick", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let v: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let rows = v["rows"].as_array().unwrap();
    let whats: Vec<&str> = rows.iter().map(|r| r["what"].as_str().unwrap()).collect();
    for want in [
        "sgd_update",
        "adam_update",
        "epoch learner",
        "epoch dot",
        "epoch dotbias",
        "epoch net",
        "validation net",
    ] {
        assert!(whats.contains(&want), "no {want} row in {whats:?}");
    }
    for r in rows {
        assert_eq!(r["device"], "cpu");
        assert!(r["ms"].as_f64().unwrap() > 0.0, "{r}");
    }
    // An epoch's ratings/s is the training rows over its measured time.
    let epoch = rows.iter().find(|r| r["what"] == "epoch dotbias").unwrap();
    let rate = epoch["ratings_per_s"].as_f64().unwrap();
    assert!(
        (rate * epoch["ms"].as_f64().unwrap() / 1e3 - 80_669.0).abs() < 1.0,
        "{epoch}"
    );
    assert!(v["gpu"].is_null() && v["copy_gb_per_s"].is_null());
}

#[test]
fn bench_versions_on_the_cpu_times_the_twin_and_lists_every_version_unrun() {
    let dir = tempfile::tempdir().unwrap();
    let plot = dir.path().join("plots");
    let o = mfcuda(&[
        "bench",
        "--versions",
        "dot",
        "--device",
        "cpu",
        "--quick",
        "--json",
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).lines().last().unwrap()).unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 5, "{v}");
    // The twin ran: its rate is the rows over its measured time.
    let twin = &rows[0];
    assert_eq!(twin["kernel"], "ops::dot_forward");
    let (ms, rate) = (twin["ms"].as_f64().unwrap(), twin["per_s"].as_f64().unwrap());
    assert!((rate * ms / 1e3 - 262_144.0).abs() < 1.0, "{twin}");
    // Every GPU version is listed, unrun, with the reason; none claims a figure.
    let kernels: Vec<&str> = rows[1..].iter().map(|r| r["kernel"].as_str().unwrap()).collect();
    assert_eq!(
        kernels,
        [
            "dot_forward",
            "dot_forward_warp",
            "dot_forward_warp4",
            "dot_forward_halfwarp4"
        ]
    );
    for r in &rows[1..] {
        assert!(r["ms"].is_null() && r["check"].is_null(), "{r}");
        assert_eq!(r["skipped"], "--device cpu");
    }
    let table = stderr(&o);
    assert!(
        table.contains("versions of dot_forward: B=262144 F=64, 516 bytes a row"),
        "{table}"
    );
    assert!(
        table.contains("gpu: the versions did not run (--device cpu)"),
        "{table}"
    );
    let png = std::fs::read(plot.join("versions-dot.png")).unwrap();
    let info = png::Decoder::new(&png[..]).read_info().unwrap();
    assert_eq!((info.info().width, info.info().height), (1100, 720));
}

#[test]
fn trace_prints_one_step_of_every_tensor() {
    for (recipe, class) in [
        ("dotbias", "EmbeddingDotBias"),
        ("net", "EmbeddingNet"),
        ("dot", "EmbeddingDot"),
    ] {
        let o = mfcuda(&["train", "--recipe", recipe, "--trace", "--device", "cpu"]);
        let out = stdout(&o);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            out.starts_with(&format!("one step of {class} on 4 ratings")),
            "{out}"
        );
        assert_eq!(out.matches("\nrating ").count(), 4, "{out}");
        assert!(
            out.contains("  pred     cpu [")
                && out.contains("  dpred    cpu [")
                && out.contains("batch loss: cpu "),
            "{out}"
        );
        let optimizer = if recipe == "net" { "Adam" } else { "SGD" };
        assert!(out.contains(&format!("after one step of {optimizer}")), "{out}");
        // A row outside the batch moves under the dense update, by weight
        // decay alone: lr·wd·p under SGD (tiny), about lr under Adam's first step.
        let moved = number_after(&out, "its first factor moved by ");
        if recipe == "net" {
            assert!((1e-4..=1e-3).contains(&moved.abs()), "{moved}\n{out}");
        } else {
            assert!(moved != 0.0 && moved.abs() < 1e-6, "{moved}\n{out}");
        }
        if recipe == "dotbias" {
            // One hand check: the bias gradient of rating 0's user is its dx
            // (the user appears once in the batch).
            let dx = number_after(&out, "  dx       cpu [");
            let ub = number_after(&out, "bias gradients (dx scattered): ub[410] ");
            assert_eq!(dx, ub, "{out}");
            assert!(dx != 0.0);
        }
    }
}

/// The number that follows the first `prefix` in `text`.
fn number_after(text: &str, prefix: &str) -> f64 {
    let at = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix:?} in\n{text}"))
        + prefix.len();
    let num: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || "+-.e".contains(*c))
        .collect();
    num.parse()
        .unwrap_or_else(|_| panic!("{num:?} after {prefix:?} is not a number"))
}

#[test]
fn sparse_trace_shows_each_ratings_error_and_update_by_hand() {
    let o = mfcuda(&["train", "--recipe", "sparse", "--trace", "--device", "cpu"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    // No dense batch gradient: sparse SGD never uses one.
    assert!(!out.contains("dpred") && !out.contains("  du "), "{out}");
    // rating 0: e = r − pred, and its user bias moves from 0 by lr·e (lr 0.02).
    let line = out
        .lines()
        .find(|l| l.starts_with("rating 0: e = "))
        .expect("rating 0's error");
    let nums: Vec<f64> = line["rating 0: e = ".len()..]
        .split(&['−', '='][..])
        .map(|x| x.trim().parse().unwrap())
        .collect();
    let (r, pred, e) = (nums[0], nums[1], nums[2]);
    assert!((r - pred - e).abs() < 2e-5, "{line}");
    let bias = number_after(&out, "ub[48] +0.00000 -> ");
    assert!((bias - 0.02 * e).abs() < 1e-5, "{bias} vs lr·e = {}", 0.02 * e);
    // A row no rating names does not move.
    assert_eq!(number_after(&out, "its first factor moved by "), 0.0, "{out}");
}

#[test]
fn sparse_deterministic_stays_off_the_hogwild_gpu() {
    // Asked for the GPU outright: refused before any GPU is opened, saying why.
    let o = mfcuda(&[
        "train",
        "--recipe",
        "sparse",
        "--device",
        "cuda",
        "--deterministic",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("does not repeat to the bit; use --device cpu"),
        "{}",
        stderr(&o)
    );
    // Left to auto: the CPU, which repeats to the bit, and the report says why.
    let o = mfcuda(&[
        "train",
        "--recipe",
        "sparse-bf16",
        "--deterministic",
        "--epochs",
        "1",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("device: cpu, ")
            && stderr(&o).contains("(auto: --deterministic: sparse SGD on the GPU"),
        "{}",
        stderr(&o)
    );
    let json = stdout(&o);
    assert!(json.contains("bf16"), "{json}");
}

#[test]
fn bench_scale_refuses_absurd_epochs_before_drawing_data() {
    let o = mfcuda(&["bench", "--scale", "--device", "cpu", "--epochs", "100000"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("--epochs"), "{}", stderr(&o));
}

#[test]
fn bench_refuses_data_too_small_to_split_without_naming_a_flag_it_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.csv");
    std::fs::write(&path, "userId,movieId,rating\n1,1,4\n1,2,3\n2,1,5\n").unwrap();
    let o = mfcuda(&["bench", "--device", "cpu", "--data", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "no table before the error: {}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("3 ratings are too few") && !err.contains("--val-pct"),
        "{err}"
    );
}

#[test]
fn the_gpu_runs_fused_unless_asked_for_op_by_op() {
    // The library's default for a run: fused, except op by op or deterministic.
    use mfcuda::backend::GpuOptions;
    assert!(GpuOptions::new(false, false).fused);
    assert!(!GpuOptions::new(true, false).fused);
    let det = GpuOptions::new(false, true);
    assert!(!det.fused && det.deterministic);
    // The flags parse (the CPU has one path, so the result is the CPU's).
    let o = mfcuda(&[
        "train",
        "--recipe",
        "dot",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--op-by-op",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = mfcuda(&[
        "train",
        "--recipe",
        "dot",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--fused",
        "--op-by-op",
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "--fused and --op-by-op together: {}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("cannot be used with"), "{}", stderr(&o));
}

#[test]
fn ctrl_c_stops_mid_epoch_on_the_cpu_and_saves_the_model_as_it_stood() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("net.safetensors");
    // Wait for the first epoch's line, then send SIGINT, as Ctrl-C does.
    let p = path.to_str().unwrap();
    let (rest, out) = common::interrupt_when(
        &["train", "--recipe", "net", "--device", "cpu", "--save", p],
        |l| l.trim_start().starts_with("0     1"),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("stopping; the model as it stands is kept"), "{err}");
    // The signal lands in the second epoch (or, rarely, just before it starts).
    let mid =
        err.contains("interrupted in epoch 1 (of epochs 0 to 5), after ") && err.contains(" of 1261 steps");
    assert!(mid || err.contains("interrupted after 1 epoch of 6"), "{err}");
    assert!(err.contains("; the model as it stood was saved"), "{err}");
    assert!(
        rest.iter().any(|l| l.contains("(interrupted: the model")),
        "{rest:?}"
    );
    let m = mfcuda::trained::saved::SavedModel::load(&path).unwrap();
    assert!(m.interrupted && m.history.len() == 1, "{:?}", m.history.len());
    // Its validation MSE is that of the parameters saved, not of the last finished epoch.
    let preds = mfcuda::trained::explore::predict_validation(&m, &common::bundled()).unwrap();
    let mse = mfcuda::trained::explore::rmse(&preds).unwrap().powi(2);
    assert!((mse - m.val_mse).abs() < 1e-9, "{mse} vs {}", m.val_mse);
    if mid {
        assert_ne!(m.val_mse, m.history[0].val_loss, "the model moved after epoch 1");
    }
}

/// `--val-pct 1` is refused once, with the error alone: no warning about
/// the training rows it would leave before it.
#[test]
fn an_impossible_val_pct_gets_the_error_without_a_warning_first() {
    for pct in ["1", "0", "1.5"] {
        let o = mfcuda(&["train", "--val-pct", pct, "--epochs", "1"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{pct}: {err}");
        assert!(err.contains("invalid --val-pct"), "{pct}: {err}");
        assert!(!err.contains("warning"), "{pct}: {err}");
    }
}

/// Every flag is checked before any work: `--metrics 0` before training,
/// and a GPU that cannot be used before `cv` prints its table's header.
#[test]
fn flags_and_the_device_are_checked_before_any_work() {
    let o = mfcuda(&["train", "--metrics", "0", "--epochs", "1"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("invalid --metrics: k must be at least 1"), "{err}");
    assert!(
        !err.contains("final") && !err.contains("epoch "),
        "trained first: {err}"
    );
    let o = mfcuda(&["cv", "--device", "cuda", "--folds", "2"]);
    let err = stderr(&o);
    if o.status.success() {
        eprintln!("SKIPPED the cv half: a GPU is here, so cv --device cuda ran");
        return;
    }
    let out = stdout(&o);
    assert!(err.contains("device cuda"), "{err}");
    assert!(
        !out.contains("fold ") && !err.contains("fold "),
        "the header came before the error: {out}"
    );
}

/// One of a thing is singular: "1 row repeats", not "1 rows repeat".
#[test]
fn one_repeated_row_is_singular() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("dup.csv");
    std::fs::write(&path, "userId,movieId,rating\n1,2,3.5\n1,2,4\n2,3,4\n").expect("write");
    let o = mfcuda(&["stats", "--data", path.to_str().expect("utf-8")]);
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        out.contains("repeated  1 row repeats an earlier (user, movie) pair"),
        "{out}"
    );
}
