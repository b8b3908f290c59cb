"""mfcuda from Python: load ratings, train the notebook's models, predict.

The library (Rust, with hand-written CUDA kernels) decides everything; this
package only converts: numpy arrays and pandas frames in, numpy arrays and
pandas frames out. The figures are the command line's: the same recipe, seed
and data give the same validation MSE from ``mfcuda.train`` as from
``mfcuda train --json``.

    import mfcuda
    data = mfcuda.load_ratings()             # the bundled ml-latest-small
    model = mfcuda.train(data, recipe="learner")
    print(model.val_rmse)
    model.predict([1, 1], [31, 1029])        # raw ids in, ratings out
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from typing import Any, Iterable, Optional

import numpy as np

from . import _native

__all__ = [
    "KERNELS_BUILT",
    "Model",
    "Ratings",
    "cv",
    "load",
    "load_ratings",
    "ranking_metrics",
    "recipes",
    "train",
]

KERNELS_BUILT, BUILD_NOTE = _native.kernels_built()
"""Whether the CUDA kernels were compiled into this build, and the build's note on them."""

if not KERNELS_BUILT:
    warnings.warn(
        f"mfcuda was built without its CUDA kernels ({BUILD_NOTE}): it trains on the CPU",
        RuntimeWarning,
        stacklevel=2,
    )


def _pandas():
    try:
        import pandas

        return pandas
    except ImportError:
        return None


def _as_list(values: Any, what: str) -> list:
    """A column as a plain list (numpy and pandas values become Python scalars)."""
    if isinstance(values, (str, bytes)):
        raise ValueError(f"{what}: expected a sequence of values, got a single {type(values).__name__}")
    if hasattr(values, "tolist"):
        return values.tolist()
    return list(values)


def _ratings_list(values: Any, name: str) -> list:
    """Ratings as floats; a value that is not a number is an error naming its row."""
    out = []
    for row, v in enumerate(_as_list(values, "ratings")):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            try:
                v = float(v)
            except (TypeError, ValueError):
                raise ValueError(f"{name}: row {row}: rating {v!r} is not a number") from None
        out.append(float(v))
    return out


class Ratings:
    """A ratings table: one (user, item, rating) a row, ids as you know them.

    Make one with :func:`load_ratings` (a file, or the bundled set), with
    :meth:`from_pandas` or with :meth:`from_arrays`.
    """

    def __init__(self, native: "_native.Ratings"):
        self._native = native

    @classmethod
    def from_pandas(
        cls,
        df,
        user: str = "userId",
        item: str = "movieId",
        rating: str = "rating",
        timestamp: Optional[str] = "timestamp",
        name: str = "DataFrame",
    ) -> "Ratings":
        """Ratings from a DataFrame's columns. Ids may be ints or strings;
        ``timestamp`` is used where the frame has that column (the temporal
        split needs it)."""
        for col in (user, item, rating):
            if col not in df.columns:
                raise ValueError(f"{name}: no column {col!r} (it has {', '.join(map(str, df.columns))})")
        times = _as_list(df[timestamp], "timestamps") if timestamp is not None and timestamp in df.columns else []
        return cls.from_arrays(df[user], df[item], df[rating], [int(t) for t in times], name=name)

    @classmethod
    def from_arrays(cls, users, items, ratings, timestamps=(), name: str = "arrays") -> "Ratings":
        """Ratings from three sequences of equal length (numpy arrays, lists, Series)."""
        native = _native.Ratings.from_rows(
            name,
            _as_list(users, "users"),
            _as_list(items, "items"),
            _ratings_list(ratings, name),
            [int(t) for t in _as_list(timestamps, "timestamps")],
        )
        return cls(native)

    def __len__(self) -> int:
        return len(self._native)

    @property
    def n_users(self) -> int:
        """Distinct users."""
        return self._native.n_users

    @property
    def n_items(self) -> int:
        """Distinct items."""
        return self._native.n_items

    @property
    def source(self) -> str:
        """Where the data came from."""
        return self._native.source

    def to_pandas(self):
        """The table as a DataFrame (userId, movieId, rating, and timestamp where known)."""
        pd = _pandas()
        if pd is None:
            raise ImportError("to_pandas needs pandas: pip install pandas")
        users, items, ratings, times = self._native.columns()
        frame = {"userId": users, "movieId": items, "rating": np.asarray(ratings, dtype=np.float32)}
        if times:
            frame["timestamp"] = np.asarray(times, dtype=np.int64)
        return pd.DataFrame(frame)

    def __repr__(self) -> str:
        return repr(self._native)


def load_ratings(
    path=None,
    user: str = "userId",
    item: str = "movieId",
    rating: str = "rating",
    sep: Optional[str] = None,
    header: Optional[bool] = None,
    skip_bad_rows: bool = False,
) -> Ratings:
    """Loads a ratings file as ``--data`` does: the same formats, separator and
    header detection and compressions. ``path=None`` is the bundled
    ml-latest-small."""
    native = _native.Ratings.load(
        None if path is None else str(path), user, item, rating, sep, header, skip_bad_rows
    )
    return Ratings(native)


class Model:
    """A trained model: its figures, predictions, factors and id maps.
    ``save`` writes the file ``mfcuda train --save`` writes; :func:`load`
    reads either.

    An ensemble (``recipe="best"``) is a model too: it predicts, recommends,
    validates and saves as one, averaging its members' raw predictions.
    What only one model has (its factors, biases and tensors, ``similar``,
    ``ranking_metrics``) raises ``ValueError``; ask one of its ``members``.
    """

    def __init__(self, native: "_native.Model"):
        self._native = native

    @property
    def val_mse(self) -> float:
        """Validation MSE at the end of training (raw scores, as the notebook's)."""
        return self._native.val_mse

    @property
    def val_rmse(self) -> float:
        """Its square root."""
        return math.sqrt(self._native.val_mse)

    @property
    def device(self) -> Optional[str]:
        """The device line of the run that trained it, with the path its epochs took."""
        return self._native.device

    @property
    def recipe(self) -> str:
        """The recipe that trained it, or the ensemble's name."""
        return self._native.recipe

    @property
    def is_ensemble(self) -> bool:
        """Whether it is an ensemble of models whose predictions are averaged."""
        return self._native.is_ensemble

    @property
    def members(self) -> list:
        """An ensemble's members, each a Model on the same data and split
        (for one model, a list of one: itself)."""
        return [Model(m) for m in self._native.members()]

    @property
    def interrupted(self) -> bool:
        """Whether training stopped early (Ctrl-C)."""
        return self._native.interrupted

    @property
    def history(self):
        """The epoch table: a DataFrame (or, without pandas, a list of dicts);
        an ensemble's members' tables one after the other, with a ``member``
        column."""
        rows = json.loads(self._native.history_json())
        pd = _pandas()
        return pd.DataFrame(rows) if pd is not None else rows

    @property
    def report(self) -> Optional[dict]:
        """The run's report, as ``mfcuda train --json`` prints it; None for a loaded model."""
        text = self._native.report_json()
        return None if text is None else json.loads(text)

    @property
    def rating_range(self) -> tuple:
        """The rating range predictions are clipped to."""
        return self._native.rating_range

    def predict(self, users, items, clip: bool = True) -> np.ndarray:
        """Predictions for pairs of raw ids, clipped to the rating range as
        ``mfcuda predict`` clips (``clip=False``: raw scores)."""
        p = self._native.predict(_as_list(users, "users"), _as_list(items, "items"), clip)
        return np.asarray(p, dtype=np.float32)

    def _tensor(self, name: str) -> np.ndarray:
        values, shape = self._native.tensor(name)
        return np.asarray(values, dtype=np.float32).reshape(shape)

    def tensor(self, name: str) -> np.ndarray:
        """Any tensor by its name in the file (``u``, ``lin1.weight``, ...), a copy."""
        return self._tensor(name)

    @property
    def tensor_names(self) -> list:
        """The tensors' names, in the file's order."""
        return self._native.tensor_names()

    @property
    def user_factors(self) -> np.ndarray:
        """User embeddings (n_users, factors), row k for ``user_ids[k]``; a copy."""
        self._native.require_one("user_factors")
        return self._tensor("u")

    @property
    def item_factors(self) -> np.ndarray:
        """Item embeddings (n_items, factors), row k for ``item_ids[k]``; a copy."""
        self._native.require_one("item_factors")
        return self._tensor("m")

    def _bias(self, name: str, what: str) -> np.ndarray:
        self._native.require_one(what)
        if name not in self.tensor_names:
            raise ValueError(f"the {self.recipe} model has no biases (its tensors: {', '.join(self.tensor_names)})")
        return self._tensor(name).reshape(-1)

    @property
    def user_bias(self) -> np.ndarray:
        """User biases (n_users,), for the models that have them."""
        return self._bias("ub", "user_bias")

    @property
    def item_bias(self) -> np.ndarray:
        """Item biases (n_items,)."""
        return self._bias("mb", "item_bias")

    @property
    def user_ids(self) -> list:
        """User ids in index order."""
        return self._native.user_ids()

    @property
    def item_ids(self) -> list:
        """Item ids in index order."""
        return self._native.item_ids()

    @property
    def user_index(self) -> dict:
        """Each user id's row in the user factors."""
        return {u: k for k, u in enumerate(self.user_ids)}

    @property
    def item_index(self) -> dict:
        """Each item id's row in the item factors."""
        return {i: k for k, i in enumerate(self.item_ids)}

    def validation(self, clip: bool = False, data=None):
        """The model's predictions on its own validation split, raw (as the
        notebook's ``learn.predict()``) unless ``clip``, and the ratings:
        two float32 arrays, (predicted, actual)."""
        p, y = self._native.validation(clip, _native_data(data))
        return np.asarray(p, dtype=np.float32), np.asarray(y, dtype=np.float32)

    def recommend(self, user, k: int = 10, exclude_seen: bool = True, clip: bool = True, movies=None, data=None):
        """The ``k`` movies with the highest predicted rating for ``user``
        (unseen ones only, unless ``exclude_seen=False``), as ``mfcuda
        recommend``: a DataFrame of movieId, title, predicted, bias."""
        rows = self._native.recommend(user, k, exclude_seen, clip, _path(movies), _native_data(data))
        return _frame(rows, ["movieId", "title", "predicted", "bias"])

    def similar(self, item, k: int = 10, min_ratings: int = 20, movies=None, data=None):
        """The ``k`` movies closest to ``item`` by the cosine of their
        embeddings, among those with ``min_ratings`` ratings or more, as
        ``mfcuda similar``: a DataFrame of movieId, title, similarity, ratings."""
        rows = self._native.similar(item, k, min_ratings, _path(movies), _native_data(data))
        return _frame(rows, ["movieId", "title", "similarity", "ratings"])

    def save(self, path) -> None:
        """Writes the model (safetensors, atomically), as ``mfcuda train --save``."""
        self._native.save(str(path))

    def summary(self) -> str:
        """The model as PyTorch prints it, then its size and data."""
        return self._native.summary()

    def __repr__(self) -> str:
        if self.is_ensemble:
            names = " + ".join(m.recipe for m in self.members)
            return f"<mfcuda.Model {self.recipe}, an ensemble of {names}: val_mse {self.val_mse:.4f}>"
        return f"<mfcuda.Model {self.recipe}: val_mse {self.val_mse:.4f}>"


def _path(p):
    return None if p is None else str(p)


def _native_data(data):
    if data is None:
        return None
    if not isinstance(data, Ratings):
        raise ValueError(f"data must be mfcuda.Ratings, not {type(data).__name__}")
    return data._native


def _frame(rows, columns):
    """Rows as a DataFrame, or as a list of dicts without pandas."""
    pd = _pandas()
    if pd is None:
        return [dict(zip(columns, r)) for r in rows]
    return pd.DataFrame(rows, columns=columns)


def ranking_metrics(model: Model, k: int = 10, threshold: float = 4.0, device: str = "auto", data=None) -> dict:
    """Full-ranking metrics of ``model`` on its validation split, as ``mfcuda
    train --metrics K`` reports them (precision, recall, NDCG, MAP at k, and
    more): a dict."""
    return json.loads(model._native.ranking_metrics(k, threshold, device, _native_data(data)))


def cv(data: Optional[Ratings] = None, recipe: str = "learner", folds: int = 5, fold_seed: int = 42, seed: int = 42,
       device: str = "auto", metrics: Optional[int] = None, recipe_file=None, threshold: float = 4.0,
       op_by_op: bool = False, deterministic: bool = False):
    """K-fold cross-validation as ``mfcuda cv`` runs it, Surprise's protocol:
    its table as a DataFrame (RMSE and MAE of the test sets, fit and test
    times; a column a fold, then Mean and Std), with the whole report as
    its ``attrs["report"]``. Without pandas, the report (a dict)."""
    if data is None:
        data = load_ratings()
    text = _native.cv(_native_data(data), recipe=recipe, recipe_file=_path(recipe_file), folds=folds,
                      fold_seed=fold_seed, seed=seed, device=device, metrics=metrics, threshold=threshold,
                      op_by_op=op_by_op, deterministic=deterministic)
    report = json.loads(text)
    pd = _pandas()
    if pd is None:
        return report
    fs = report["folds"]
    rows = {
        "RMSE (testset)": [f["rmse"] for f in fs] + list(report["rmse"]),
        "MAE (testset)": [f["mae"] for f in fs] + list(report["mae"]),
        "Fit time": [f["fit_seconds"] for f in fs] + list(report["fit_seconds"]),
        "Test time": [f["test_seconds"] for f in fs] + list(report["test_seconds"]),
    }
    columns = [f"Fold {f['fold'] + 1}" for f in fs] + ["Mean", "Std"]
    table = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    table.attrs["report"] = report
    return table


def load(path) -> Model:
    """Loads a model or ensemble file written by ``mfcuda train --save`` or ``Model.save``."""
    return Model(_native.Model.load(str(path)))


def recipes() -> list:
    """The recipes ``train`` knows, by name."""
    return _native.recipes()


_TRAIN_OPTIONS = (
    "recipe_file",
    "split_seed",
    "val_pct",
    "split",
    "cycles",
    "lr",
    "wd",
    "factors",
    "batch_size",
    "dropout",
    "op_by_op",
    "deterministic",
)


class _Progress:
    """A bar an epoch (tqdm's, which draws in a terminal and in Jupyter) or,
    without tqdm, one line an epoch on stderr, as the CLI prints them."""

    def __init__(self):
        try:
            from tqdm.auto import tqdm
        except ImportError:
            tqdm = None
        self._tqdm = tqdm
        self._bar = None

    def step(self, epoch, epochs, step, steps, loss):
        if self._tqdm is None:
            return
        if self._bar is None:
            self._bar = self._tqdm(total=steps, desc=f"epoch {epoch + 1}/{epochs}", leave=False)
        self._bar.n = step
        self._bar.set_postfix(loss=f"{loss:.4f}", refresh=True)

    def epoch(self, epoch, stage, trn_loss, val_loss, train_seconds, seconds, line):
        self.line(line)

    def line(self, line):
        """An epoch's row, or an ensemble member's result, as the CLI prints it."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        print(line, file=sys.stderr)


def train(
    data: Optional[Ratings] = None,
    recipe: str = "learner",
    device: str = "auto",
    epochs: Optional[int] = None,
    seed: int = 42,
    quiet: bool = False,
    **options,
) -> Model:
    """Trains ``recipe`` on ``data`` (default: the bundled set) as
    ``mfcuda train`` does, and returns the model. The CLI's overrides are
    keyword arguments: ``lr``, ``wd``, ``factors``, ``batch_size``,
    ``dropout``, ``cycles``, and ``split``, ``val_pct``, ``split_seed``,
    ``recipe_file``, ``op_by_op``, ``deterministic``.

    An ensemble recipe (``best``) trains each member on the one split and
    returns their average as one Model (see :class:`Model`); as in the CLI,
    it takes no overrides (``epochs``, ``lr``, ...).

    Ctrl-C stops where the CLI stops and raises ``KeyboardInterrupt``; its
    ``model`` attribute holds the model as it stood (``None`` for an
    ensemble, which is kept whole or not at all).
    """
    unknown = sorted(set(options) - set(_TRAIN_OPTIONS))
    if unknown:
        raise ValueError(
            f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
            f"(train takes: data, recipe, device, epochs, seed, quiet, {', '.join(_TRAIN_OPTIONS)})"
        )
    if data is None:
        data = load_ratings()
    if not isinstance(data, Ratings):
        raise ValueError(f"data must be mfcuda.Ratings (from load_ratings or Ratings.from_pandas), not {type(data).__name__}")
    progress = None if quiet else _Progress()
    try:
        native = _native.train(
            data._native,
            recipe=recipe,
            device=device,
            seed=seed,
            epochs=epochs,
            on_step=None if progress is None else progress.step,
            on_epoch=None if progress is None else progress.epoch,
            on_member=None if progress is None else progress.line,
            **options,
        )
    except KeyboardInterrupt as e:
        kept = getattr(e, "model", None)
        if kept is not None:
            e.model = Model(kept)
        raise
    return Model(native)
