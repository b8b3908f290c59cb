//! `mfcuda._native`: the library's surface for Python, thin over it. Each
//! function converts its arguments, calls the library, and converts the
//! answer back; the library decides everything else (formats, recipes,
//! devices, messages). `python/mfcuda/__init__.py` turns these lists into
//! numpy arrays and pandas frames.
//!
//! Errors become Python exceptions with the library's message: a file that
//! cannot be read is an `OSError` (`FileNotFoundError` when it is missing),
//! a GPU error a `RuntimeError`, and anything the caller gave wrongly a
//! `ValueError`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use mfcuda::backend::select::{choose, Choice, Needs};
use mfcuda::backend::{Device, GpuOptions};
use mfcuda::data::cache;
use mfcuda::data::format::Separator;
use mfcuda::data::split::{SplitKind, NOTEBOOK_SPLIT_SEED, NOTEBOOK_VAL_PCT};
use mfcuda::data::{Columns, Id, IdMap, Ratings, Source};
use mfcuda::eval::cv::{cross_validate_members, CvOptions};
use mfcuda::eval::ensemble::train_ensemble;
use mfcuda::eval::ranking::{model_metrics, RankingOptions};
use mfcuda::recipe::{self, Overrides, Request};
use mfcuda::train::{train as train_run, EpochRecord, Observer, Progress, TrainConfig};
use mfcuda::trained::ensemble::Trained;
use mfcuda::trained::explore::{self, Movies};
use mfcuda::trained::saved::{DataOrigin, SavedModel};
use pyo3::exceptions::{PyFileNotFoundError, PyKeyboardInterrupt, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyInt, PyString};

/// The library's error as the Python exception that fits it.
fn py_err(e: mfcuda::Error) -> PyErr {
    let msg = e.to_string();
    match &e {
        mfcuda::Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            PyFileNotFoundError::new_err(msg)
        }
        mfcuda::Error::Io { .. } | mfcuda::Error::Write { .. } => PyOSError::new_err(msg),
        mfcuda::Error::Cuda { .. } | mfcuda::Error::Device { .. } => PyRuntimeError::new_err(msg),
        _ => PyValueError::new_err(msg),
    }
}

/// A ratings table, loaded from a file (or the bundled ml-latest-small) or
/// built from memory.
#[pyclass(name = "Ratings", module = "mfcuda._native", frozen)]
struct PyRatings {
    data: Ratings,
    /// Where it came from, for the models trained on it; `None` from memory.
    origin: Option<(Source, Columns)>,
}

#[pymethods]
impl PyRatings {
    /// Loads a ratings file as `--data` does (the same formats, separator
    /// and header detection, compressions); `path=None` is the bundled set.
    #[staticmethod]
    #[allow(clippy::too_many_arguments)] // Python's keyword arguments, one a parameter.
    #[pyo3(signature = (path=None, user="userId", item="movieId", rating="rating", sep=None, header=None, skip_bad_rows=false))]
    fn load(
        py: Python<'_>,
        path: Option<PathBuf>,
        user: &str,
        item: &str,
        rating: &str,
        sep: Option<&str>,
        header: Option<bool>,
        skip_bad_rows: bool,
    ) -> PyResult<PyRatings> {
        let sep = sep
            .map(|s| s.parse::<Separator>())
            .transpose()
            .map_err(|e| PyValueError::new_err(format!("invalid sep: {e}")))?;
        let columns = Columns {
            user: user.into(),
            item: item.into(),
            rating: rating.into(),
            sep,
            header,
            skip_bad_rows,
        };
        let source = Source::from_option(path.as_deref());
        let (data, _) = py
            .allow_threads(|| cache::load(&source, &columns, false))
            .map_err(py_err)?;
        Ok(PyRatings {
            data,
            origin: Some((source, columns)),
        })
    }

    /// Ratings from memory, a row per rating: ids as Python ints or strs
    /// (a str written as an integer is that integer, as in a file), and
    /// ratings as floats. `timestamps` is empty or one int a row.
    #[staticmethod]
    #[pyo3(signature = (name, users, items, ratings, timestamps=Vec::new()))]
    fn from_rows(
        name: &str,
        users: Vec<Bound<'_, PyAny>>,
        items: Vec<Bound<'_, PyAny>>,
        ratings: Vec<f64>,
        timestamps: Vec<i64>,
    ) -> PyResult<PyRatings> {
        let ids = |column: &str, v: &[Bound<'_, PyAny>]| -> PyResult<Vec<Id>> {
            v.iter()
                .enumerate()
                .map(|(row, x)| {
                    to_id(x)
                        .map_err(|why| PyValueError::new_err(format!("{name}: row {row}: {column} id {why}")))
                })
                .collect()
        };
        let (u, i) = (ids("user", &users)?, ids("item", &items)?);
        let r: Vec<f32> = ratings.iter().map(|&x| x as f32).collect();
        let data = Ratings::from_rows(name, &u, &i, &r, timestamps).map_err(py_err)?;
        Ok(PyRatings { data, origin: None })
    }

    /// Rows.
    fn __len__(&self) -> usize {
        self.data.len()
    }

    /// Distinct users.
    #[getter]
    fn n_users(&self) -> usize {
        self.data.n_users()
    }

    /// Distinct items.
    #[getter]
    fn n_items(&self) -> usize {
        self.data.n_items()
    }

    /// Where the data came from, for messages.
    #[getter]
    fn source(&self) -> String {
        self.data.source.clone()
    }

    /// The columns: (user ids, item ids, ratings, timestamps), a value a
    /// row, ids as the file writes them.
    fn columns(&self, py: Python<'_>) -> PyResult<ColumnsOut> {
        let d = &self.data;
        let ids = |map: &IdMap, idx: &[u32]| -> PyResult<Vec<PyObject>> {
            let distinct: Vec<PyObject> = (0..map.len())
                .map(|k| id_object(py, &map.get(k)))
                .collect::<PyResult<_>>()?;
            Ok(idx.iter().map(|&k| distinct[k as usize].clone_ref(py)).collect())
        };
        Ok((
            ids(&d.user_ids, &d.users)?,
            ids(&d.item_ids, &d.items)?,
            d.ratings.clone(),
            d.timestamps.clone(),
        ))
    }

    fn __repr__(&self) -> String {
        format!(
            "Ratings({}: {} ratings, {} users, {} items)",
            self.data.source,
            self.data.len(),
            self.data.n_users(),
            self.data.n_items()
        )
    }
}

/// A row of [`Model::recommend`]: movie id, title, predicted rating, bias.
type RecommendRow = (PyObject, String, f32, Option<f32>);

/// A row of [`Model::similar`]: movie id, title, cosine similarity, ratings.
type SimilarRow = (PyObject, String, f32, Option<usize>);

/// The columns of [`PyRatings::columns`]: user ids, item ids, ratings, timestamps.
type ColumnsOut = (Vec<PyObject>, Vec<PyObject>, Vec<f32>, Vec<i64>);

/// A Python int, integral float or str as an id; why not, otherwise.
fn to_id(x: &Bound<'_, PyAny>) -> Result<Id, String> {
    if x.is_instance_of::<PyInt>() {
        return x
            .extract::<i64>()
            .map(Id::Int)
            .map_err(|_| format!("{x} does not fit 64 bits"));
    }
    if x.is_instance_of::<PyString>() {
        let s: String = x.extract().map_err(|e| e.to_string())?;
        return s.parse::<Id>();
    }
    if x.is_instance_of::<PyFloat>() {
        // pandas writes an integer column with a gap as floats: 1.0 is 1.
        let v: f64 = x.extract().map_err(|e| e.to_string())?;
        if v.fract() == 0.0 && v.abs() < 9.0e15 {
            return Ok(Id::Int(v as i64));
        }
        return Err(format!("{v} is not an integer"));
    }
    // numpy integers and the like: anything that converts to an int exactly.
    match x.call_method0("__index__").and_then(|i| i.extract::<i64>()) {
        Ok(v) => Ok(Id::Int(v)),
        Err(_) => Err(format!(
            "{} is neither an int nor a str",
            x.repr().map(|r| r.to_string()).unwrap_or_default()
        )),
    }
}

/// An id as the Python value it is: an int or a str.
fn id_object(py: Python<'_>, id: &Id) -> PyResult<PyObject> {
    Ok(match id {
        Id::Int(v) => v.into_pyobject(py)?.into_any().unbind(),
        Id::Text(s) => s.into_pyobject(py)?.into_any().unbind(),
    })
}

/// The id `x` names in `map`: its index, or a `KeyError`-like `ValueError` naming it.
fn index_of(map: &IdMap, what: &str, x: &Bound<'_, PyAny>) -> PyResult<u32> {
    let id = to_id(x).map_err(|why| PyValueError::new_err(format!("{what} id {why}")))?;
    map.find(&id)
        .ok_or_else(|| PyValueError::new_err(format!("no {what} {id} in the model's data")))
}

/// A trained model, one or an ensemble: its figures, its tensors and its
/// id maps, as `mfcuda train --save` writes them.
#[pyclass(module = "mfcuda._native", frozen)]
struct Model {
    model: Trained,
    /// The device line of the run that trained it (with the path its epochs took); `None` when loaded.
    device: Option<String>,
    /// The run's report as JSON (what `train --json` prints); `None` when loaded.
    report: Option<String>,
    /// The data it was trained on, when trained here; a loaded model reopens its own.
    data: Option<Py<PyRatings>>,
}

impl Model {
    /// The model's own data: what it was trained on here, `data` when
    /// given (which must be the model's), or its recorded file reopened.
    fn with_data<T>(
        &self,
        data: Option<&Bound<'_, PyRatings>>,
        f: impl FnOnce(&Ratings) -> mfcuda::Result<T>,
    ) -> PyResult<T> {
        match (data, &self.data) {
            (Some(d), _) => f(&d.get().data).map_err(py_err),
            (None, Some(d)) => f(&d.get().data).map_err(py_err),
            (None, None) => {
                let reopened = explore::model_data(self.model.common(), None, false).map_err(py_err)?;
                f(&reopened).map_err(py_err)
            }
        }
    }

    /// The titles for the model's data: `movies` when given, else those its data holds or the bundled ones.
    fn movies(&self, movies: Option<PathBuf>) -> PyResult<Movies> {
        let source = self
            .model
            .common()
            .data
            .as_ref()
            .map_or(Source::Bundled, |d| d.source.clone());
        Movies::for_data(movies.as_deref(), &source).map_err(py_err)
    }

    /// The one model, or, for an ensemble, the library's `ValueError`
    /// saying that `what` needs one model's factors.
    fn one(&self, what: &str) -> PyResult<&SavedModel> {
        self.model.one(what).map_err(py_err)
    }
}

#[pymethods]
impl Model {
    /// Loads a model or ensemble file that `mfcuda train --save` (or `Model.save`) wrote.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Model> {
        Ok(Model {
            model: Trained::load(&path).map_err(py_err)?,
            device: None,
            report: None,
            data: None,
        })
    }

    /// Writes the model (or ensemble) as safetensors, atomically: the file `mfcuda train --save` writes.
    fn save(&self, path: PathBuf) -> PyResult<()> {
        self.model.save(&path).map_err(py_err)
    }

    /// The validation MSE at the end of training (raw scores, as the
    /// notebook's); an ensemble's is that of its members' average.
    #[getter]
    fn val_mse(&self) -> f64 {
        self.model.val_mse()
    }

    /// The recipe that trained it, or the ensemble's name.
    #[getter]
    fn recipe(&self) -> String {
        self.model.recipe().to_string()
    }

    /// Whether it is an ensemble (`recipe="best"`).
    #[getter]
    fn is_ensemble(&self) -> bool {
        matches!(self.model, Trained::Ensemble(_))
    }

    /// An ensemble's members, each a model of its own on the same data
    /// (the model itself when it is one).
    fn members(&self, py: Python<'_>) -> Vec<Model> {
        let one = |m: &SavedModel| Model {
            model: Trained::One(Box::new(m.clone())),
            device: None,
            report: None,
            data: self.data.as_ref().map(|d| d.clone_ref(py)),
        };
        match &self.model {
            Trained::One(m) => vec![one(m)],
            Trained::Ensemble(e) => e.members().iter().map(one).collect(),
        }
    }

    /// Raises the library's `ValueError` when the model is an ensemble,
    /// which has no one set of factors for `what`.
    fn require_one(&self, what: &str) -> PyResult<()> {
        self.one(what).map(|_| ())
    }

    /// The device line, with the path the epochs took; `None` for a loaded model.
    #[getter]
    fn device(&self) -> Option<String> {
        self.device.clone()
    }

    /// Whether training was interrupted before its last epoch.
    #[getter]
    fn interrupted(&self) -> bool {
        match &self.model {
            Trained::One(m) => m.interrupted,
            Trained::Ensemble(e) => e.members().iter().any(|m| m.interrupted),
        }
    }

    /// The epoch table as JSON: a list of records (epoch, stage, trn_loss,
    /// val_loss, train_seconds, seconds); an ensemble's members' tables one
    /// after the other, each record with its `member`'s recipe.
    fn history_json(&self) -> PyResult<String> {
        let json_err = |e: serde_json::Error| PyValueError::new_err(e.to_string());
        match &self.model {
            Trained::One(m) => serde_json::to_string(&m.history).map_err(json_err),
            Trained::Ensemble(e) => {
                let mut rows = Vec::new();
                for m in e.members() {
                    for r in &m.history {
                        let mut row = serde_json::to_value(r).map_err(json_err)?;
                        if let serde_json::Value::Object(fields) = &mut row {
                            fields.insert("member".into(), m.recipe.clone().into());
                        }
                        rows.push(row);
                    }
                }
                serde_json::to_string(&rows).map_err(json_err)
            }
        }
    }

    /// The training run's report as `mfcuda train --json` prints it; `None` for a loaded model.
    fn report_json(&self) -> Option<String> {
        self.report.clone()
    }

    /// The model printed as PyTorch prints it, then its size and data.
    fn summary(&self) -> String {
        self.model.summary()
    }

    /// The rating range predictions are clipped to.
    #[getter]
    fn rating_range(&self) -> (f32, f32) {
        self.model.common().spec.y_range
    }

    /// Predictions for (user, item) pairs of raw ids, clipped to the rating
    /// range as `mfcuda predict` clips, or raw scores with `clip=False`.
    #[pyo3(signature = (users, items, clip=true))]
    fn predict(
        &self,
        users: Vec<Bound<'_, PyAny>>,
        items: Vec<Bound<'_, PyAny>>,
        clip: bool,
    ) -> PyResult<Vec<f32>> {
        if users.len() != items.len() {
            return Err(PyValueError::new_err(format!(
                "{} users and {} items: give one of each a prediction",
                users.len(),
                items.len()
            )));
        }
        let m = self.model.common();
        let u = users
            .iter()
            .map(|x| index_of(&m.user_ids, "user", x))
            .collect::<PyResult<Vec<u32>>>()?;
        let i = items
            .iter()
            .map(|x| index_of(&m.item_ids, "item", x))
            .collect::<PyResult<Vec<u32>>>()?;
        let mut p = self.model.predict(&u, &i);
        if clip {
            p.iter_mut().for_each(|x| *x = m.clip(*x));
        }
        Ok(p)
    }

    /// The tensor `name` (`u`, `m`, `ub`, `mb`, `lin1.weight`, …): its
    /// values, a copy, and its shape.
    fn tensor(&self, name: &str) -> PyResult<(Vec<f32>, Vec<usize>)> {
        let m = self.one("tensor")?;
        let t = m
            .spec
            .tensors()
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = m.spec.tensors().iter().map(|t| t.name).collect();
                PyValueError::new_err(format!(
                    "the model has no tensor {name:?} (it has {})",
                    names.join(", ")
                ))
            })?;
        Ok((m.params[t.range()].to_vec(), t.shape.clone()))
    }

    /// The tensors' names, in the file's order.
    fn tensor_names(&self) -> PyResult<Vec<&'static str>> {
        Ok(self
            .one("tensor_names")?
            .spec
            .tensors()
            .iter()
            .map(|t| t.name)
            .collect())
    }

    /// The user ids, in index order (row k of the user factors is user `user_ids()[k]`).
    fn user_ids(&self, py: Python<'_>) -> PyResult<Vec<PyObject>> {
        let map = &self.model.common().user_ids;
        (0..map.len()).map(|k| id_object(py, &map.get(k))).collect()
    }

    /// The item ids, in index order.
    fn item_ids(&self, py: Python<'_>) -> PyResult<Vec<PyObject>> {
        let map = &self.model.common().item_ids;
        (0..map.len()).map(|k| id_object(py, &map.get(k))).collect()
    }

    /// The `k` movies with the highest predicted rating for `user` (unseen
    /// ones only, unless `exclude_seen=False`), as `mfcuda recommend`:
    /// (movie id, title, predicted, bias or None) each.
    #[pyo3(signature = (user, k=10, exclude_seen=true, clip=true, movies=None, data=None))]
    #[allow(clippy::too_many_arguments)] // Python's keyword arguments, one a parameter.
    fn recommend(
        &self,
        py: Python<'_>,
        user: &Bound<'_, PyAny>,
        k: usize,
        exclude_seen: bool,
        clip: bool,
        movies: Option<PathBuf>,
        data: Option<&Bound<'_, PyRatings>>,
    ) -> PyResult<Vec<RecommendRow>> {
        let user = to_id(user).map_err(|why| PyValueError::new_err(format!("user id {why}")))?;
        let movies = self.movies(movies)?;
        let recs = self.with_data(data, |d| {
            explore::recommend(&self.model, d, &movies, &user, k, clip, exclude_seen)
        })?;
        recs.into_iter()
            .map(|r| Ok((id_object(py, &r.movie)?, r.title, r.predicted, r.bias)))
            .collect()
    }

    /// The `k` movies closest to `item` by the cosine of their embeddings,
    /// among those with at least `min_ratings` ratings, as `mfcuda similar`:
    /// (movie id, title, similarity, ratings) each.
    #[pyo3(signature = (item, k=10, min_ratings=20, movies=None, data=None))]
    fn similar(
        &self,
        py: Python<'_>,
        item: &Bound<'_, PyAny>,
        k: usize,
        min_ratings: usize,
        movies: Option<PathBuf>,
        data: Option<&Bound<'_, PyRatings>>,
    ) -> PyResult<Vec<SimilarRow>> {
        let model = self.one("similar")?;
        let item = to_id(item).map_err(|why| PyValueError::new_err(format!("item id {why}")))?;
        let movies = self.movies(movies)?;
        let rows = self.with_data(data, |d| {
            explore::similar(model, d, &movies, &item, k, min_ratings)
        })?;
        rows.into_iter()
            .map(|r| Ok((id_object(py, &r.movie)?, r.title, r.score, r.count)))
            .collect()
    }

    /// The model's predictions on its own validation split, raw (as the
    /// notebook's `learn.predict()`) or clipped, beside the ratings: what
    /// `mfcuda predict` prints without `--pairs`.
    #[pyo3(signature = (clip=false, data=None))]
    fn validation(&self, clip: bool, data: Option<&Bound<'_, PyRatings>>) -> PyResult<(Vec<f32>, Vec<f32>)> {
        let mut preds = self.with_data(data, |d| explore::predict_validation(&self.model, d))?;
        if clip {
            explore::clip_predictions(&self.model, &mut preds);
        }
        Ok(preds
            .iter()
            .map(|p| (p.predicted, p.rating.unwrap_or(f32::NAN)))
            .unzip())
    }

    /// Full-ranking metrics on the model's validation split, as `mfcuda
    /// train --metrics K`: the JSON of its `ranking` object.
    #[pyo3(signature = (k=10, threshold=4.0, device="auto", data=None))]
    fn ranking_metrics(
        &self,
        k: usize,
        threshold: f32,
        device: &str,
        data: Option<&Bound<'_, PyRatings>>,
    ) -> PyResult<String> {
        if k == 0 {
            return Err(PyValueError::new_err("invalid --metrics: k must be at least 1"));
        }
        let model = self.model.for_ranking("ranking_metrics").map_err(py_err)?;
        let device = parse_device(device)?;
        let opts = RankingOptions { k, threshold };
        let m = self.with_data(data, |d| model_metrics(model, d, opts, device))?;
        serde_json::to_string(&m).map_err(|e| PyValueError::new_err(e.to_string()))
    }
}

/// What the Python callbacks raised while a run went on: a Ctrl-C is a stop
/// like any other, and any other exception stops the run and is raised
/// after it. Shared between the observer and an ensemble's `on_member`.
#[derive(Default)]
struct Heard {
    interrupted: AtomicBool,
    /// The first exception other than `KeyboardInterrupt`.
    failed: Mutex<Option<PyErr>>,
}

impl Heard {
    /// Records a callback's outcome.
    fn hear(&self, r: PyResult<PyObject>) {
        let Err(e) = r else { return };
        if Python::with_gil(|py| e.is_instance_of::<PyKeyboardInterrupt>(py)) {
            self.interrupted.store(true, Ordering::SeqCst);
        } else {
            let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
            failed.get_or_insert(e);
        }
    }

    /// Whether a callback raised an exception other than `KeyboardInterrupt`.
    fn has_failed(&self) -> bool {
        self.failed.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// The first such exception, to raise.
    fn take_failed(&self) -> Option<PyErr> {
        self.failed.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Hears the training run: calls `on_step` and `on_epoch` (Python callables,
/// for a progress bar) with the GIL, and turns a pending Ctrl-C into a stop
/// where the CLI's stops.
struct PyObserver {
    on_step: Option<PyObject>,
    on_epoch: Option<PyObject>,
    heard: Arc<Heard>,
}

impl Observer for PyObserver {
    fn step(&mut self, p: &Progress) {
        let Some(f) = &self.on_step else { return };
        if !(p.step.is_multiple_of(16) || p.step == p.steps) || self.heard.has_failed() {
            return;
        }
        let r = Python::with_gil(|py| f.call1(py, (p.epoch, p.epochs, p.step, p.steps, p.loss)));
        self.heard.hear(r);
    }

    fn epoch(&mut self, r: &EpochRecord) {
        let Some(f) = &self.on_epoch else { return };
        if self.heard.has_failed() {
            return;
        }
        let args = (
            r.epoch,
            r.stage,
            r.trn_loss,
            r.val_loss,
            r.train_seconds,
            r.seconds,
            r.line(),
        );
        let r = Python::with_gil(|py| f.call1(py, args));
        self.heard.hear(r);
    }

    fn stop_requested(&mut self) -> bool {
        if self.heard.has_failed() {
            return true;
        }
        if Python::with_gil(|py| py.check_signals()).is_err() {
            self.heard.interrupted.store(true, Ordering::SeqCst);
        }
        self.heard.interrupted.load(Ordering::SeqCst)
    }
}

/// Trains one recipe on `data`, as `mfcuda train` does with the same
/// flags, and returns the model; an ensemble (`best`) trains each member
/// on the one split and returns their average, calling `on_member` with
/// each member's line. Ctrl-C stops where the CLI stops and raises
/// `KeyboardInterrupt`, whose `model` attribute holds the model as it stood
/// (or `None` before the first epoch ended, and always for an ensemble,
/// which is kept whole or not at all).
#[pyfunction]
#[allow(clippy::too_many_arguments)] // Python's keyword arguments, one a parameter.
#[pyo3(signature = (data, recipe="learner", recipe_file=None, device="auto", seed=42, split_seed=NOTEBOOK_SPLIT_SEED, val_pct=NOTEBOOK_VAL_PCT, split="random", epochs=None, cycles=None, lr=None, wd=None, factors=None, batch_size=None, dropout=None, op_by_op=false, deterministic=false, on_step=None, on_epoch=None, on_member=None))]
fn train(
    py: Python<'_>,
    data: &Bound<'_, PyRatings>,
    recipe: &str,
    recipe_file: Option<PathBuf>,
    device: &str,
    seed: u32,
    split_seed: u32,
    val_pct: f64,
    split: &str,
    epochs: Option<i64>,
    cycles: Option<i64>,
    lr: Option<f32>,
    wd: Option<f32>,
    factors: Option<usize>,
    batch_size: Option<usize>,
    dropout: Option<f32>,
    op_by_op: bool,
    deterministic: bool,
    on_step: Option<PyObject>,
    on_epoch: Option<PyObject>,
    on_member: Option<PyObject>,
) -> PyResult<Model> {
    let request = Request {
        name: recipe.into(),
        file: recipe_file,
        overrides: Overrides {
            epochs: recipe::count("--epochs", epochs).map_err(py_err)?,
            cycles: recipe::count("--cycles", cycles).map_err(py_err)?,
            lr,
            wd,
            factors,
            batch_size,
            dropout,
            optimizer: None,
        },
    };
    let ensemble = request.ensemble("", false).map_err(py_err)?;
    let device = parse_device(device)?;
    let split: SplitKind = split
        .parse()
        .map_err(|e: String| PyValueError::new_err(format!("invalid --split: {e}")))?;
    let gpu = GpuOptions::new(op_by_op, deterministic);
    let mut obs = PyObserver {
        on_step,
        on_epoch,
        heard: Arc::default(),
    };
    let d = &data.get().data;
    let origin = data
        .get()
        .origin
        .as_ref()
        .map(|(source, columns)| DataOrigin::of(d, source, columns));
    if let Some(members) = ensemble {
        // As `mfcuda train --recipe best`: the members on one split, then their average.
        let (name, _) = request.members().map_err(py_err)?;
        let rows = split
            .split(&d.users, &d.timestamps, val_pct, split_seed)
            .map_err(py_err)?;
        // `on_member` is heard as the observer's callbacks are: an exception
        // stops the run before the next member, a Ctrl-C interrupts it.
        let heard = Arc::clone(&obs.heard);
        let report = py.allow_threads(|| {
            train_ensemble(d, &members, &rows, seed, device, gpu, &mut obs, |m| {
                if let Some(f) = on_member.as_ref().filter(|_| !heard.has_failed()) {
                    heard.hear(Python::with_gil(|py| f.call1(py, (m.line(),))));
                }
            })
        });
        if let Some(e) = obs.heard.take_failed() {
            return Err(e);
        }
        let report = report.map_err(py_err)?;
        if report.interrupted {
            let err = PyKeyboardInterrupt::new_err(format!(
                "training interrupted in member {} of {} ({}): an ensemble is kept whole or not at all, \
                 so there is no model",
                report.members.len(),
                members.len(),
                report.members.last().map_or("", |m| m.recipe.as_str()),
            ));
            err.value(py).setattr("model", py.None())?;
            return Err(err);
        }
        let trained = report
            .ensemble(&name, d, origin, (split, split_seed, val_pct))
            .map_err(py_err)?;
        return Ok(Model {
            model: Trained::Ensemble(trained),
            device: Some(report.device()),
            report: serde_json::to_string(&report).ok(),
            data: Some(data.clone().unbind()),
        });
    }
    let (recipe, _) = request.resolve().map_err(py_err)?;
    let cfg = TrainConfig {
        recipe,
        seed,
        split_seed,
        val_pct,
        split,
        rows: None,
        device,
        gpu,
    };
    let report = py.allow_threads(|| train_run(d, &cfg, &mut obs));
    if let Some(e) = obs.heard.take_failed() {
        return Err(e);
    }
    let report = report.map_err(py_err)?;
    let model = Model {
        model: Trained::One(Box::new(SavedModel::from_report(&report, d, origin))),
        device: Some(report.device.clone()),
        report: serde_json::to_string(&report).ok(),
        data: Some(data.clone().unbind()),
    };
    if report.interrupted {
        let kept = !report.history.is_empty();
        let err = PyKeyboardInterrupt::new_err(format!(
            "training interrupted after {} of {} epochs{}",
            report.history.len(),
            report.epochs,
            if kept {
                "; the model as it stood is this exception's .model"
            } else {
                ", before the first epoch finished: there is no model"
            }
        ));
        let value: PyObject = if kept {
            Py::new(py, model)?.into_any()
        } else {
            py.None()
        };
        err.value(py).setattr("model", value)?;
        return Err(err);
    }
    Ok(model)
}

/// `--device`'s value: `auto`, `cpu`, `cuda` or `cuda:N`.
fn parse_device(device: &str) -> PyResult<Device> {
    device
        .parse()
        .map_err(|e: String| PyValueError::new_err(format!("invalid --device: {e}")))
}

/// K-fold cross-validation as `mfcuda cv` runs it (Surprise's protocol):
/// the JSON report `cv --json` prints. `metrics` adds full-ranking metrics
/// at that k.
#[pyfunction]
#[allow(clippy::too_many_arguments)] // Python's keyword arguments, one a parameter.
#[pyo3(signature = (data, recipe="learner", recipe_file=None, folds=5, fold_seed=42, seed=42, device="auto", metrics=None, threshold=4.0, op_by_op=false, deterministic=false))]
fn cv(
    py: Python<'_>,
    data: &Bound<'_, PyRatings>,
    recipe: &str,
    recipe_file: Option<PathBuf>,
    folds: usize,
    fold_seed: u32,
    seed: u32,
    device: &str,
    metrics: Option<usize>,
    threshold: f32,
    op_by_op: bool,
    deterministic: bool,
) -> PyResult<String> {
    let request = Request {
        name: recipe.into(),
        file: recipe_file,
        overrides: Overrides::default(),
    };
    let (name, members) = request.members().map_err(py_err)?;
    let ranking = match metrics {
        Some(0) => return Err(PyValueError::new_err("invalid --metrics: k must be at least 1")),
        Some(k) => Some(RankingOptions { k, threshold }),
        None => None,
    };
    let opts = CvOptions {
        folds,
        fold_seed,
        seed,
        device: parse_device(device)?,
        gpu: GpuOptions::new(op_by_op, deterministic),
        ranking,
    };
    let d = &data.get().data;
    let report = py
        .allow_threads(|| cross_validate_members(d, &name, &members, &opts, |_| {}))
        .map_err(py_err)?;
    serde_json::to_string(&report).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Whether the kernels were compiled into this build (nvcc was found when
/// it was built), and the build's note on them.
#[pyfunction]
fn kernels_built() -> (bool, String) {
    (
        !mfcuda::backend::cuda::PTX.is_empty(),
        mfcuda::backend::cuda::BUILD_NOTE.to_string(),
    )
}

/// Whether a GPU can be used (by `device="cuda"`): (true, its description),
/// or (false, why not), by the rule every command uses.
#[pyfunction]
fn gpu() -> (bool, String) {
    match choose(Device::Cuda(0), &Needs::default()) {
        Ok(Choice::Gpu { gpu, .. }) => (true, gpu.description.clone()),
        Ok(Choice::Cpu(why)) => (false, why.unwrap_or_else(|| "the CPU was chosen".into())),
        Err(e) => (false, e.to_string()),
    }
}

/// The names of the built-in recipes and recipe files.
#[pyfunction]
fn recipes() -> Vec<&'static str> {
    recipe::names()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRatings>()?;
    m.add_class::<Model>()?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    m.add_function(wrap_pyfunction!(cv, m)?)?;
    m.add_function(wrap_pyfunction!(kernels_built, m)?)?;
    m.add_function(wrap_pyfunction!(gpu, m)?)?;
    m.add_function(wrap_pyfunction!(recipes, m)?)?;
    Ok(())
}
