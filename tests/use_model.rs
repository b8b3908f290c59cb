//! Saved models and everything that uses them, through the CLI on the
//! bundled data: save and load, summary, predict, plot, recommend, similar,
//! biases, and the atomic write.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{bundled, mfcuda, stderr, stdout};
use mfcuda::data::Id;
use mfcuda::files::write_atomic;
use mfcuda::trained::saved::SavedModel;

/// Runs the binary, which must succeed without panicking; returns stdout.
fn ok(args: &[&str]) -> String {
    let o = mfcuda(args);
    let err = stderr(&o);
    assert!(o.status.success(), "{args:?} failed: {err}");
    assert!(!err.contains("panicked"), "{err}");
    String::from_utf8(o.stdout).unwrap()
}

/// A learner model (one SGDR cycle) trained once for the whole file, under
/// cargo's scratch folder for integration tests.
fn model() -> &'static Path {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("use_model");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("learner.safetensors");
        let p = path.to_str().unwrap();
        ok(&[
            "train", "--recipe", "learner", "--epochs", "1", "--device", "cpu", "--save", p, "--quiet",
        ]);
        path
    })
}

#[test]
fn a_saved_model_loads_back_and_predicts_the_same() {
    let m = SavedModel::load(model()).unwrap();
    assert_eq!((m.spec.n_users, m.spec.n_items, m.spec.factors), (610, 9724, 50));
    assert_eq!(m.recipe, "learner");
    assert_eq!(m.history.len(), 1);
    // Bytes → model → bytes → model: identical parameters, ids and predictions.
    let again = SavedModel::from_bytes(&m.to_bytes().unwrap(), "again").unwrap();
    assert_eq!(again, m);
    let data = bundled();
    let (u, i) = (&data.users[..5000], &data.items[..5000]);
    let (a, b) = (m.predict(u, i), again.predict(u, i));
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    // And the predictions are those of the validation MSE it recorded.
    let preds = mfcuda::trained::explore::predict_validation(&m, &data).unwrap();
    let mse = mfcuda::trained::explore::rmse(&preds).unwrap().powi(2);
    assert!((mse - m.val_mse).abs() < 1e-9, "{mse} vs {}", m.val_mse);
}

#[test]
fn summary_prints_the_model_like_pytorch() {
    let out = ok(&["summary", "--model", model().to_str().unwrap()]);
    assert!(out.starts_with(
        "EmbeddingDotBias(u: Embedding(610, 50), m: Embedding(9724, 50), ub: Embedding(610, 1), mb: Embedding(9724, 1))\n527034 parameters, 2.01 MiB"
    ), "{out}");
}

#[test]
fn predict_writes_the_validation_split_and_its_rmse() {
    let o = mfcuda(&["predict", "--model", model().to_str().unwrap()]);
    assert!(o.status.success());
    let out = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "userId,movieId,rating,prediction");
    assert_eq!(lines.len(), 1 + 20_167);
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(
        err.starts_with("rmse 0.") && err.contains("over 20167 rated rows"),
        "{err}"
    );
}

/// The predictions in `predict`'s CSV output.
fn predictions(out: &str) -> Vec<f32> {
    out.lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn predictions_are_clipped_to_the_rating_range_unless_asked_for_raw_scores() {
    // A dot model, whose raw scores leave 0.5–5 (the issue saw 5.78).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dot.safetensors");
    let p = path.to_str().unwrap();
    ok(&[
        "train", "--recipe", "dot", "--epochs", "1", "--device", "cpu", "--save", p, "--quiet",
    ]);
    let raw = predictions(&ok(&["predict", "--model", p, "--no-clip"]));
    let clipped = predictions(&ok(&["predict", "--model", p]));
    assert!(
        raw.iter().any(|&x| !(0.5..=5.0).contains(&x)),
        "no raw score left the range"
    );
    assert!(clipped.iter().all(|&x| (0.5..=5.0).contains(&x)));
    for (r, c) in raw.iter().zip(&clipped) {
        assert_eq!(*c, r.clamp(0.5, 5.0));
    }
    let top = ok(&["recommend", "--model", p, "--user", "1", "-n", "3"]);
    let raw_top = ok(&["recommend", "--model", p, "--user", "1", "-n", "3", "--no-clip"]);
    let score = |out: &str| -> Vec<f32> {
        out.lines()
            .skip(2)
            .map(|l| l.split_whitespace().nth(2).unwrap().parse().unwrap())
            .collect()
    };
    assert!(score(&top).iter().all(|&x| x <= 5.0), "{top}");
    assert!(score(&raw_top).iter().any(|&x| x > 5.0), "{raw_top}");
}

#[test]
fn predict_pairs_handles_unknown_ids_as_asked() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = dir.path().join("pairs.csv");
    std::fs::write(&pairs, "userId,movieId,rating\n414,1,4\n999999,1,3\n414,2,\n").unwrap();
    let (m, p) = (model().to_str().unwrap(), pairs.to_str().unwrap());
    let o = mfcuda(&["predict", "--model", m, "--pairs", p]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("{p}: line 3: user 999999 is not in the model")),
        "{err}"
    );
    let out = ok(&["predict", "--model", m, "--pairs", p, "--unknown", "mean"]);
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(rows.len(), 3);
    assert!(
        rows[2].starts_with("414,2,,"),
        "a blank rating is no rating: {}",
        rows[2]
    );
    assert!(rows[0].starts_with("414,1,4,"));
    let mean = SavedModel::load(model()).unwrap().global_mean;
    assert_eq!(rows[1], format!("999999,1,3,{mean:.4}"));
}

/// Width and height of a PNG, after decoding every pixel.
fn decode_png(path: &Path) -> (u32, u32) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    // Not a blank canvas: more than one colour.
    assert!(
        buf.chunks(3).any(|px| px != &buf[..3]),
        "{} is blank",
        path.display()
    );
    (info.width, info.height)
}

#[test]
fn plot_writes_readable_pngs() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&[
        "plot",
        "--model",
        model().to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.lines().count(), 2);
    assert_eq!(decode_png(&dir.path().join("pred_vs_actual.png")), (900, 900));
    assert_eq!(decode_png(&dir.path().join("loss.png")), (900, 560));
}

#[test]
fn recommend_lists_titles_of_unseen_movies() {
    let out = ok(&[
        "recommend",
        "--model",
        model().to_str().unwrap(),
        "--user",
        "414",
        "-n",
        "10",
    ]);
    let data = bundled();
    let user = data.user_ids.find(&Id::Int(414)).unwrap();
    let seen: std::collections::HashSet<Id> = (0..data.len())
        .filter(|&r| data.users[r] == user)
        .map(|r| data.item_ids.get(data.items[r] as usize))
        .collect();
    assert_eq!(seen.len(), 2698);
    let rows: Vec<&str> = out.lines().skip(2).collect();
    assert_eq!(rows.len(), 10, "{out}");
    let mut last = f32::INFINITY;
    for row in rows {
        let f: Vec<&str> = row.split_whitespace().collect();
        let (movie, predicted): (Id, f32) = (f[1].parse().unwrap(), f[2].parse().unwrap());
        assert!(
            !seen.contains(&movie),
            "recommended movie {movie}, which user 414 rated"
        );
        assert!(predicted <= last && (0.5..=5.0).contains(&predicted), "{row}");
        last = predicted;
        assert!(f.len() > 4 && row.contains('('), "no title in {row}"); // titles end in "(year)"
    }
    let o = mfcuda(&[
        "recommend",
        "--model",
        model().to_str().unwrap(),
        "--user",
        "123456",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("user 123456 is not in the model"));
}

#[test]
fn similar_and_biases_rank_movies() {
    let m = model().to_str().unwrap();
    let out = ok(&["similar", "--model", m, "--movie", "1", "-n", "5"]);
    assert!(out.starts_with("movies nearest to 1 Toy Story (1995)"), "{out}");
    assert_eq!(
        out.lines()
            .nth(1)
            .map(str::split_whitespace)
            .map(|w| w.collect::<Vec<_>>()),
        Some(vec!["movieId", "cosine", "ratings", "title"])
    );
    let rows: Vec<(f32, usize)> = out
        .lines()
        .skip(2)
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w[1].parse().unwrap(), w[2].parse().unwrap())
        })
        .collect();
    assert_eq!(rows.len(), 5);
    assert!(rows.windows(2).all(|w| w[0].0 >= w[1].0) && rows[0].0 <= 1.0);
    assert!(rows.iter().all(|&(_, n)| n >= 20), "{out}");
    // A movie rated once is refused, and says how to see its neighbours anyway.
    let data = bundled();
    let mut counts = vec![0; data.n_items()];
    for &i in &data.items {
        counts[i as usize] += 1;
    }
    let once = data
        .item_ids
        .get(counts.iter().position(|&n| n == 1).unwrap())
        .to_string();
    let o = mfcuda(&["similar", "--model", m, "--movie", &once]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("has 1 rating in the data, fewer than 20"),
        "{}",
        stderr(&o)
    );
    let out = ok(&[
        "similar",
        "--model",
        m,
        "--movie",
        &once,
        "--min-ratings",
        "1",
        "-n",
        "2",
    ]);
    assert_eq!(out.lines().count(), 4, "{out}");

    let out = ok(&["biases", "--model", m, "-n", "3"]);
    assert!(
        out.contains("highest movie bias among the 1000 most-rated movies"),
        "{out}"
    );
    let biases: Vec<f32> = out
        .lines()
        .filter(|l| l.trim_start().chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(biases.len(), 6);
    assert!(biases[..3].iter().all(|&b| b > biases[5]), "{biases:?}");
}

#[test]
fn an_interrupted_save_leaves_the_previous_model_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    std::fs::copy(model(), &path).unwrap();
    let before = std::fs::read(&path).unwrap();
    // The writer dies half way through the new file.
    let err = write_atomic(&path, |f| {
        use std::io::Write;
        f.write_all(&before[..before.len() / 2])?;
        Err(std::io::Error::other("simulated crash"))
    })
    .unwrap_err();
    assert!(err.to_string().contains("simulated crash"), "{err}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the previous model changed"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "temporary files left behind: {leftovers:?}");
    SavedModel::load(&path).unwrap();
}

#[test]
fn bad_model_files_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(model()).unwrap();
    let truncated = dir.path().join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let garbage = dir.path().join("garbage.safetensors");
    std::fs::write(&garbage, b"userId,movieId\n").unwrap();
    for (path, want) in [
        (&truncated, "is it truncated?"),
        (
            &garbage,
            "is not a safetensors model (it starts with \"userId,movieId.",
        ),
    ] {
        let p = path.to_str().unwrap();
        let o = mfcuda(&["summary", "--model", p]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains(p) && err.contains(want) && !err.contains("panicked"),
            "{err}"
        );
    }
    // --save into a folder that does not exist fails before any training.
    let o = mfcuda(&[
        "train",
        "--save",
        "/nonexistent/dir/m.safetensors",
        "--device",
        "cpu",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("folder /nonexistent/dir does not exist"), "{err}");
    assert!(o.stdout.is_empty(), "training started: {}", stdout(&o));
}

/// `bytes` with the first `from` replaced by `to` (same length, so the header stays valid).
fn patched(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = bytes
        .windows(from.len())
        .position(|w| w == from.as_bytes())
        .expect("text in the header");
    let mut out = bytes.to_vec();
    out[at..at + to.len()].copy_from_slice(to.as_bytes());
    out
}

#[test]
fn predict_refuses_models_of_another_version_or_kind() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(model()).unwrap();
    let cases = [
        (
            "version.safetensors",
            patched(&bytes, "\"version\":\"1\"", "\"version\":\"7\""),
            "model file version 7 cannot be read by this mfcuda, which reads versions 1 and 2",
        ),
        (
            "kind.safetensors",
            patched(&bytes, "\"kind\":\"dotbias\"", "\"kind\":\"svdplus\""),
            "unknown model kind 'svdplus'",
        ),
        (
            "format.safetensors",
            patched(&bytes, "mfcuda-model", "other-models"),
            "format is 'other-models', not 'mfcuda-model'",
        ),
        (
            "factors.safetensors",
            patched(&bytes, "\"factors\":\"50\"", "\"factors\":\"00\""),
            "metadata gives factors 0 and hidden 10; both must be at least 1",
        ),
        (
            "range.safetensors",
            patched(&bytes, "\"y_min\":\"0.5\"", "\"y_min\":\"NaN\""),
            "metadata gives the rating range NaN .. 5",
        ),
    ];
    for (name, content, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let p = path.to_str().unwrap();
        let o = mfcuda(&["predict", "--model", p]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(&format!("{p}: {want}")), "{name}: {err}");
        assert!(!err.contains("panicked") && o.stdout.is_empty(), "{name}: {err}");
    }
}

#[test]
fn a_diverged_run_keeps_the_last_good_model() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    std::fs::copy(model(), &path).unwrap();
    let before = std::fs::read(&path).unwrap();
    let p = path.to_str().unwrap();
    let o = mfcuda(&[
        "train", "--recipe", "dot", "--lr", "1e3", "--epochs", "1", "--device", "cpu", "--save", p,
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: training diverged in epoch 0, step "),
        "{err}"
    );
    assert!(
        err.contains("Try a smaller --lr (this step's was 1000; 100 is a start)"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the saved model was touched"
    );
}

#[test]
fn other_data_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("other.csv");
    std::fs::write(&csv, "userId,movieId,rating\n414,1,4\n414,2,3\n").unwrap();
    let o = mfcuda(&[
        "recommend",
        "--model",
        model().to_str().unwrap(),
        "--user",
        "414",
        "--data",
        csv.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "is not the data the model was trained on, data/ml-latest-small/ratings.csv (bundled): \
             2 rows against the model's 100836, 1 user against the model's 610, 2 movies against the model's 9724"
        ) && err.contains("leave out --data to reopen that file"),
        "{err}"
    );
    // biases and similar refuse it too, and plot's message names only flags plot has.
    let csv = csv.to_str().unwrap();
    for cmd in ["biases", "similar", "plot"] {
        let mut args = vec![cmd, "--model", model().to_str().unwrap(), "--data", csv];
        if cmd == "similar" {
            args.extend(["--movie", "1"]);
        }
        if cmd == "plot" {
            args.extend(["--out", "/tmp/mfcuda-plot-refused"]);
        }
        let o = mfcuda(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{cmd}: {err}");
        assert!(
            err.contains("is not the data the model was trained on") && !err.contains("--pairs"),
            "{cmd}: {err}"
        );
    }
}
