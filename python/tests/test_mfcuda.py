"""The Python package against the command line: the same figures to the bit
on the CPU, the same files both ways, and clear errors for bad input.

The CLI is `target/release/mfcuda` of this checkout (built by `cargo build
--release`), or the binary named by $MFCUDA_BIN.
"""

import _thread
import json
import math
import os
import pathlib
import subprocess

import numpy as np
import pytest

import mfcuda
from mfcuda import _native

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "data" / "ml-latest-small" / "ratings.csv"


def cli(*args):
    """Runs the mfcuda binary; its stdout, or the test fails with its stderr."""
    binary = os.environ.get("MFCUDA_BIN", str(ROOT / "target" / "release" / "mfcuda"))
    assert os.path.exists(binary), f"{binary} is missing: run `cargo build --release` first (or set MFCUDA_BIN)"
    out = subprocess.run([binary, *args], capture_output=True, text=True)
    assert out.returncode == 0, f"mfcuda {' '.join(args)} failed:\n{out.stderr}"
    return out.stdout


def cli_json(*args):
    return json.loads(cli("train", "--json", "--quiet", *args).strip().splitlines()[-1])


@pytest.fixture(scope="module")
def bundled():
    return mfcuda.load_ratings()


@pytest.fixture(scope="module")
def dotbias(bundled):
    return mfcuda.train(bundled, recipe="dotbias", epochs=1, device="cpu", quiet=True)


# --- the figures are the CLI's -------------------------------------------

SINGLE_RECIPES = [r for r in mfcuda.recipes() if r != "best"]


def test_every_recipe_is_covered():
    assert set(SINGLE_RECIPES) >= {"learner", "dot", "dotbias", "net", "sparse", "sparse-bf16", "adagrad"}


@pytest.mark.parametrize("recipe", SINGLE_RECIPES)
def test_one_epoch_matches_the_cli_to_the_bit(bundled, recipe):
    py = mfcuda.train(bundled, recipe=recipe, epochs=1, device="cpu", quiet=True)
    want = cli_json("--recipe", recipe, "--epochs", "1", "--device", "cpu")
    assert py.val_mse == want["val_mse"], (recipe, py.val_mse, want["val_mse"])
    assert py.report["val_mse"] == want["val_mse"]
    assert len(py.history) == 1


def test_learner_in_full_matches_the_cli_to_the_bit(bundled):
    py = mfcuda.train(bundled, recipe="learner", device="cpu", quiet=True)
    want = cli_json("--recipe", "learner", "--device", "cpu")
    assert py.val_mse == want["val_mse"]
    assert [r["val_loss"] for r in py.report["history"]] == [r["val_loss"] for r in want["history"]]
    # And near the notebook's figure, as the CLI's is.
    assert abs(py.val_mse - want["notebook_mse"]) <= 0.01


def test_best_is_an_ensemble_that_matches_the_cli_and_its_files_go_both_ways(bundled, tmp_path):
    py = mfcuda.train(bundled, recipe="best", device="cpu", quiet=True)
    cli_file = tmp_path / "cli-best.safetensors"
    want = cli_json("--recipe", "best", "--device", "cpu", "--save", str(cli_file))
    # The figures are the CLI's, to the bit: the average and each member.
    assert py.val_mse == want["val_mse"], (py.val_mse, want["val_mse"])
    assert py.is_ensemble and py.recipe == "best"
    assert [(m.recipe, m.val_mse) for m in py.members] == [(m["recipe"], m["val_mse"]) for m in want["members"]]
    assert py.report["val_mse"] == want["val_mse"]
    assert repr(py).startswith("<mfcuda.Model best, an ensemble of sparse + learner: val_mse ")
    # It predicts as the mean of its members' raw predictions, and is scored on the split they share.
    users, items = [1, 1, 610], [31, 1029, 1]
    each = np.mean([m.predict(users, items, clip=False).astype(np.float64) for m in py.members], axis=0)
    np.testing.assert_allclose(py.predict(users, items, clip=False), each, rtol=1e-6)
    lo, hi = py.rating_range
    assert np.all((py.predict(users, items) >= lo) & (py.predict(users, items) <= hi))
    p, y = py.validation()
    assert math.sqrt(np.mean((p.astype(np.float64) - y) ** 2)) == pytest.approx(py.val_rmse, rel=1e-5)
    assert py.val_rmse < min(math.sqrt(m.val_mse) for m in py.members)
    # Its history is its members', one after the other.
    h = py.history
    members = list(h["member"]) if hasattr(h, "columns") else [r["member"] for r in h]
    assert members[0] == "sparse" and members[-1] == "learner"
    assert len(members) == sum(len(m.history) for m in py.members)
    recs = py.recommend(1, k=5)
    assert len(recs) == 5 and recs["bias"].isna().all()
    # What needs one set of factors raises with the library's message.
    for what, call in [
        ("user_factors", lambda: py.user_factors),
        ("item_bias", lambda: py.item_bias),
        ("tensor", lambda: py.tensor("u")),
        ("similar", lambda: py.similar(1)),
    ]:
        with pytest.raises(ValueError, match=f"invalid {what}: best is an ensemble of 2 models \\(sparse \\+ learner\\), "
                           "which has no one set of factors; train one member's recipe on its own"):
            call()
    # Ranking it is refused with the CLI's words.
    with pytest.raises(ValueError, match="invalid ranking_metrics: best is an ensemble of 2 models \\(sparse \\+ learner\\), "
                       "and ranking an average of models is not built yet"):
        mfcuda.ranking_metrics(py)
    assert py.members[1].user_factors.shape[0] == 610
    # A Python-saved ensemble loads in the CLI, and the CLI's in Python, with the same figures.
    py_file = tmp_path / "py-best.safetensors"
    py.save(py_file)
    summary = cli("summary", "--model", str(py_file))
    assert "ensemble best: the average of 2 models' raw predictions (sparse + learner)" in summary
    assert f"validation MSE {py.val_mse:.4f}" in summary
    from_cli = mfcuda.load(cli_file)
    assert from_cli.is_ensemble and from_cli.val_mse == py.val_mse
    np.testing.assert_array_equal(from_cli.predict(users, items, clip=False), py.predict(users, items, clip=False))
    reloaded = mfcuda.load(py_file)
    np.testing.assert_array_equal(reloaded.validation()[0], p)


def test_ctrl_c_in_an_ensemble_keeps_no_model(bundled):
    with pytest.raises(KeyboardInterrupt, match="in member 1 of 2 \\(sparse\\).*kept whole or not at all") as e:
        _native.train(bundled._native, recipe="best", device="cpu", on_epoch=lambda *a: _thread.interrupt_main())
    assert e.value.model is None


def test_an_error_in_on_member_stops_the_ensemble_before_its_next_member(bundled):
    heard = []

    def fail(line):
        heard.append(line)
        raise RuntimeError("the callback broke")

    with pytest.raises(RuntimeError, match="the callback broke"):
        _native.train(bundled._native, recipe="best", device="cpu", on_member=fail,
                      on_epoch=lambda *a: heard.append("epoch"))
    # The first member's epochs and line came, and no epoch of a second member after it.
    assert heard[0] == "epoch" and heard[-1].split()[:2] == ["member", "sparse"], heard
    assert sum(not h.startswith("epoch") for h in heard) == 1, heard
    # A Ctrl-C in on_member interrupts the ensemble as one anywhere else does.
    with pytest.raises(KeyboardInterrupt, match="in member 1 of 2 \\(sparse\\).*kept whole or not at all") as e:
        _native.train(bundled._native, recipe="best", device="cpu", on_member=lambda line: _thread.interrupt_main())
    assert e.value.model is None


# The GPU's own tolerances against the CPU (tests/gpu.rs): the same here, Python against the CLI.
GPU_TOLERANCE = {"learner": 0.002, "dot": 0.002, "dotbias": 0.002, "net": 0.003}


@pytest.mark.parametrize("recipe", sorted(GPU_TOLERANCE))
def test_on_a_gpu_the_figures_are_the_clis_gpu_runs(bundled, recipe):
    usable, what = _native.gpu()
    if not usable:
        pytest.skip(f"no GPU: {what}")
    py = mfcuda.train(bundled, recipe=recipe, epochs=1, device="cuda", quiet=True)
    want = cli_json("--recipe", recipe, "--epochs", "1", "--device", "cuda")
    assert py.device.startswith("cuda") and want["device"].startswith("cuda")
    assert abs(py.val_mse - want["val_mse"]) <= GPU_TOLERANCE[recipe], (py.val_mse, want["val_mse"])


def test_overrides_are_the_clis(bundled):
    py = mfcuda.train(bundled, recipe="dotbias", epochs=2, lr=0.02, wd=1e-4, factors=20, batch_size=128, seed=7,
                      device="cpu", quiet=True)
    want = cli_json("--recipe", "dotbias", "--epochs", "2", "--lr", "0.02", "--wd", "0.0001", "--factors", "20",
                    "--batch-size", "128", "--seed", "7", "--device", "cpu")
    assert py.val_mse == want["val_mse"]
    assert py.user_factors.shape == (610, 20)


def test_a_dataframe_trains_as_its_file_does(bundled):
    pd = pytest.importorskip("pandas")
    df = pd.read_csv(BUNDLED)
    from_df = mfcuda.Ratings.from_pandas(df)
    assert (len(from_df), from_df.n_users, from_df.n_items) == (100836, 610, 9724)
    a = mfcuda.train(from_df, recipe="dot", epochs=1, device="cpu", quiet=True)
    b = mfcuda.train(bundled, recipe="dot", epochs=1, device="cpu", quiet=True)
    assert a.val_mse == b.val_mse
    # A temporal split reads the frame's timestamps.
    t = mfcuda.train(from_df, recipe="dot", epochs=1, split="temporal", device="cpu", quiet=True)
    assert t.val_mse == cli_json("--recipe", "dot", "--epochs", "1", "--split", "temporal", "--device", "cpu")["val_mse"]
    # And back out.
    back = from_df.to_pandas()
    assert list(back.columns) == ["userId", "movieId", "rating", "timestamp"]
    assert back["rating"].sum() == pytest.approx(df["rating"].sum())


def test_string_ids_and_numpy_arrays():
    users = np.array(["u1", "u2", "u1", "u3", "u2", "u3"] * 20)
    items = np.array([10, 20, 30, 10, 30, 20] * 20)
    ratings = np.linspace(1.0, 5.0, len(users))
    data = mfcuda.Ratings.from_arrays(users, items, ratings)
    assert (data.n_users, data.n_items) == (3, 3)
    model = mfcuda.train(data, recipe="dotbias", epochs=1, device="cpu", quiet=True, val_pct=0.2)
    assert model.user_ids == ["u1", "u2", "u3"] and model.item_ids == [10, 20, 30]
    p = model.predict(["u1", "u3"], [20, 30])
    assert p.dtype == np.float32 and p.shape == (2,)
    assert model.user_index == {"u1": 0, "u2": 1, "u3": 2}


# --- the model's results ---------------------------------------------------

def test_progress_prints_the_clis_epoch_lines(bundled, capfd):
    mfcuda.train(bundled, recipe="dot", epochs=2, device="cpu")
    mine = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    table = cli("train", "--recipe", "dot", "--epochs", "2", "--device", "cpu").splitlines()
    start = table.index(next(line for line in table if line.split()[:2] == ["epoch", "stage"]))
    theirs = table[start + 1 : start + 3]
    # The same rows but the timings (the last column).
    assert [line.rsplit(maxsplit=1)[0] for line in mine[-2:]] == [line.rsplit(maxsplit=1)[0] for line in theirs]


def test_results_history_and_device(dotbias):
    assert dotbias.val_rmse == math.sqrt(dotbias.val_mse)
    assert dotbias.device.startswith("cpu")
    h = dotbias.history
    names = list(h.columns) if hasattr(h, "columns") else list(h[0])
    assert names == ["epoch", "stage", "trn_loss", "val_loss", "train_seconds", "seconds"]


def test_without_pandas_tables_are_lists_of_dicts(dotbias, monkeypatch):
    monkeypatch.setattr(mfcuda, "_pandas", lambda: None)
    assert dotbias.history == json.loads(dotbias._native.history_json())
    assert dotbias.history[0]["epoch"] == 0
    recs = dotbias.recommend(1, k=3)
    assert [set(r) for r in recs] == [{"movieId", "title", "predicted", "bias"}] * 3
    with pytest.raises(ImportError, match="pip install pandas"):
        mfcuda.load_ratings().to_pandas()


def test_predictions_clip_as_the_cli_clips(dotbias, tmp_path):
    raw = dotbias.predict([1, 1, 610], [31, 1029, 1], clip=False)
    clipped = dotbias.predict([1, 1, 610], [31, 1029, 1])
    lo, hi = dotbias.rating_range
    assert np.array_equal(clipped, np.clip(raw, lo, hi))
    # The same numbers `mfcuda predict --pairs` prints for a saved copy.
    path = tmp_path / "m.safetensors"
    dotbias.save(path)
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("userId,movieId\n1,31\n1,1029\n610,1\n")
    out = cli("predict", "--model", str(path), "--pairs", str(pairs))
    got = [float(line.split(",")[-1]) for line in out.strip().splitlines()[1:]]
    assert got == pytest.approx(clipped.tolist(), abs=5e-5)


def test_validation_predictions_give_the_models_figure(dotbias):
    preds, y = dotbias.validation()
    assert preds.shape == y.shape == (20167,)
    mse = float(np.mean((preds.astype(np.float64) - y) ** 2))
    assert mse == pytest.approx(dotbias.val_mse, rel=1e-6)
    clipped, _ = dotbias.validation(clip=True)
    lo, hi = dotbias.rating_range
    assert np.array_equal(clipped, np.clip(preds, lo, hi))


def test_factors_biases_and_id_maps(dotbias):
    u, m = dotbias.user_factors, dotbias.item_factors
    assert u.shape == (610, 50) and m.shape == (9724, 50) and u.dtype == np.float32
    assert dotbias.user_bias.shape == (610,) and dotbias.item_bias.shape == (9724,)
    # The factors are copies: changing one changes nothing in the model.
    u[:] = 0
    assert dotbias.user_factors.any()
    # Row k is id k of the map, and the prediction is the model's arithmetic on those rows.
    k, j = dotbias.user_index[1], dotbias.item_index[31]
    x = float(dotbias.user_factors[k] @ dotbias.item_factors[j] + dotbias.user_bias[k] + dotbias.item_bias[j])
    lo, hi = dotbias.rating_range
    want = 1 / (1 + math.exp(-x)) * (hi - lo) + lo
    assert dotbias.predict([1], [31], clip=False)[0] == pytest.approx(want, rel=1e-5)
    dot = mfcuda.train(recipe="dot", epochs=1, device="cpu", quiet=True)
    with pytest.raises(ValueError, match="has no biases"):
        dot.user_bias


def test_models_go_both_ways_between_python_and_the_cli(dotbias, tmp_path):
    mine = tmp_path / "py.safetensors"
    dotbias.save(mine)
    summary = cli("summary", "--model", str(mine))
    assert f"validation MSE {dotbias.val_mse:.4f}" in summary
    theirs = tmp_path / "cli.safetensors"
    cli("train", "--recipe", "dotbias", "--epochs", "1", "--device", "cpu", "--quiet", "--save", str(theirs))
    loaded = mfcuda.load(theirs)
    assert loaded.val_mse == dotbias.val_mse
    assert np.array_equal(loaded.user_factors, dotbias.user_factors)
    assert loaded.device is None and loaded.report is None


def test_recommend_and_similar_are_the_clis(dotbias, tmp_path):
    path = tmp_path / "m.safetensors"
    dotbias.save(path)
    recs = dotbias.recommend(1, k=5)
    lines = cli("recommend", "--model", str(path), "--user", "1", "-n", "5").strip().splitlines()[2:]
    assert [int(r) for r in recs["movieId"]] == [int(line.split()[1]) for line in lines]
    assert list(recs.columns) == ["movieId", "title", "predicted", "bias"]
    assert recs["title"][0] in lines[0]
    # Seen movies come back with exclude_seen=False: user 1 rated movie 1 and others.
    seen = dotbias.recommend(1, k=9724, exclude_seen=False)
    assert len(seen) == 9724 and 1 in set(seen["movieId"])
    assert len(dotbias.recommend(1, k=9724)) < 9724
    near = dotbias.similar(1, k=5)
    lines = cli("similar", "--model", str(path), "--movie", "1", "-n", "5").strip().splitlines()[2:]
    assert [int(r) for r in near["movieId"]] == [int(line.split()[0]) for line in lines]
    assert near["similarity"].tolist() == pytest.approx([float(line.split()[1]) for line in lines], abs=5e-4)
    # A loaded model reopens its own data (the bundled set) for the same answer.
    assert mfcuda.load(path).recommend(1, k=5)["movieId"].tolist() == recs["movieId"].tolist()
    with pytest.raises(ValueError, match="user 999999 is not in the model"):
        dotbias.recommend(999999)


def test_ranking_metrics_are_the_clis(dotbias):
    mine = mfcuda.ranking_metrics(dotbias, k=10, device="cpu")
    theirs = cli_json("--recipe", "dotbias", "--epochs", "1", "--device", "cpu", "--metrics", "10")["ranking"]
    for key in ("precision", "recall", "ndcg", "map", "coverage", "users", "skipped"):
        assert mine[key] == theirs[key], key
    with pytest.raises(ValueError, match="k must be at least 1"):
        mfcuda.ranking_metrics(dotbias, k=0)


def test_cv_is_the_clis_table(bundled):
    pd = pytest.importorskip("pandas")
    table = mfcuda.cv(bundled, recipe="sparse", folds=3, device="cpu")
    out = cli("cv", "--recipe", "sparse", "--folds", "3", "--device", "cpu", "--json")
    theirs = json.loads(out.strip().splitlines()[-1])
    assert list(table.columns) == ["Fold 1", "Fold 2", "Fold 3", "Mean", "Std"]
    assert list(table.index) == ["RMSE (testset)", "MAE (testset)", "Fit time", "Test time"]
    assert table.loc["RMSE (testset)"].tolist()[:3] == [f["rmse"] for f in theirs["folds"]]
    assert (table.loc["RMSE (testset)", "Mean"], table.loc["RMSE (testset)", "Std"]) == tuple(theirs["rmse"])
    assert table.loc["MAE (testset)", "Mean"] == theirs["mae"][0]
    assert isinstance(table, pd.DataFrame) and table.attrs["report"]["recipe"] == "sparse"


def test_ctrl_c_stops_at_the_epochs_end_and_keeps_the_model(bundled):
    # Ctrl-C (simulated) as the first epoch ends: the run stops there, as the CLI's does.
    with pytest.raises(KeyboardInterrupt) as e:
        _native.train(bundled._native, recipe="dot", device="cpu", on_epoch=lambda *a: _thread.interrupt_main())
    kept = e.value.model
    assert kept is not None and kept.interrupted
    assert json.loads(kept.history_json())[0]["epoch"] == 0 and len(json.loads(kept.history_json())) == 1


# --- bad input: clear exceptions, never a crash ----------------------------

def test_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        mfcuda.load_ratings(tmp_path / "nope.csv")


def test_a_wrong_column(tmp_path):
    with pytest.raises(ValueError, match="stars"):
        mfcuda.load_ratings(BUNDLED, rating="stars")
    pd = pytest.importorskip("pandas")
    with pytest.raises(ValueError, match="no column 'stars'"):
        mfcuda.Ratings.from_pandas(pd.DataFrame({"userId": [1], "movieId": [2], "rating": [3.0]}), rating="stars")


def test_a_rating_that_is_not_a_number(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("userId,movieId,rating\n1,2,4.0\n1,3,four\n")
    with pytest.raises(ValueError, match="line 3.*'four' is not a number"):
        mfcuda.load_ratings(f)
    with pytest.raises(ValueError, match="row 1: rating 'four' is not a number"):
        mfcuda.Ratings.from_arrays([1, 1], [2, 3], [4.0, "four"])
    with pytest.raises(ValueError, match="row 1: rating nan is not a finite number|row 1: rating NaN"):
        mfcuda.Ratings.from_arrays([1, 1], [2, 3], [4.0, float("nan")])


def test_a_model_file_that_is_not_a_model(tmp_path):
    f = tmp_path / "not-a-model.safetensors"
    f.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="not-a-model.safetensors"):
        mfcuda.load(f)


def test_bad_arguments_name_themselves(bundled):
    with pytest.raises(ValueError, match="unknown option lerning_rate"):
        mfcuda.train(bundled, lerning_rate=0.1)
    with pytest.raises(ValueError, match="no recipe 'dott'"):
        mfcuda.train(bundled, recipe="dott")
    with pytest.raises(ValueError, match="--epochs: -1"):
        mfcuda.train(bundled, recipe="dot", epochs=-1)
    with pytest.raises(ValueError, match="--epochs: 0"):
        mfcuda.train(bundled, recipe="dot", epochs=0)
    with pytest.raises(ValueError, match="--device"):
        mfcuda.train(bundled, recipe="dot", device="tpu")
    with pytest.raises(ValueError, match="an ensemble trains its members as its file says: --epochs"):
        mfcuda.train(bundled, recipe="best", epochs=1)
    with pytest.raises(ValueError, match="an ensemble trains its members as its file says"):
        mfcuda.train(bundled, recipe="best", lr=0.01)
    with pytest.raises(ValueError, match="mfcuda.Ratings"):
        mfcuda.train("ratings.csv")
    with pytest.raises(ValueError, match="2 users, 1 items, 1 ratings"):
        mfcuda.Ratings.from_arrays([1, 2], [3], [4.0])


def test_a_data_set_that_is_not_the_models(dotbias):
    other = mfcuda.Ratings.from_arrays([1, 2, 3] * 10, [31, 1029, 1] * 10, [4.0] * 30)
    with pytest.raises(ValueError, match="arrays: is not the data the model was trained on.*30 rows"):
        dotbias.recommend(1, data=other)
    with pytest.raises(ValueError, match="is not the data the model was trained on"):
        mfcuda.ranking_metrics(dotbias, data=other)


def test_unknown_ids_in_predict(dotbias):
    with pytest.raises(ValueError, match="no user 999999"):
        dotbias.predict([999999], [31])
    with pytest.raises(ValueError, match="2 users and 1 items"):
        dotbias.predict([1, 1], [31])


def test_the_build_says_whether_it_has_kernels():
    built, note = _native.kernels_built()
    assert isinstance(built, bool) and note
    assert mfcuda.KERNELS_BUILT == built
