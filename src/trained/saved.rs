//! Trained models on disk, in the safetensors format.
//!
//! A file holds every parameter tensor under its PyTorch-style name (`u`,
//! `m`, `ub`, `mb`, `lin1.weight`, ...; all `F32`) and the raw-id maps as
//! `user_ids` and `movie_ids` (`I64`; row `r` of `u` is user `user_ids[r]`).
//! A column of text ids (version 2) is stored instead as `user_ids.text`
//! (`U8`, the ids' UTF-8 bytes end to end) and `user_ids.offsets` (`I64`,
//! `n + 1` of them: id `r` is `text[offsets[r]..offsets[r + 1]]`); a model
//! with integer ids is written as version 1, which earlier builds read.
//! The header's metadata says what is needed to use it again: the model
//! kind, factors, hidden width, rating range, dropout, the recipe, the
//! split, the global mean rating and the training history; `data`, the
//! file it was trained on (an absolute path, or `bundled`), the flags that
//! read it and a fingerprint of its rows ([`DataOrigin`]); and `checksum`,
//! the CRC-32 of every tensor's bytes, checked on load. In Python:
//!
//! ```text
//! from safetensors.numpy import load_file
//! t = load_file("model.safetensors")   # t["u"].shape == (610, 50), t["movie_ids"][0] == 1
//! ```
//!
//! Writes are atomic: the bytes go to a temporary file in the same folder,
//! are synced, and the file is renamed over the target. A crash leaves
//! either the old file or the new one, never half of one.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::data::format::Separator;
use crate::data::ids::{pack_text, unpack_text};
use crate::data::split::SplitKind;
use crate::data::{Columns, IdList, IdMap, Ratings, Source};
use crate::error::{Error, Result};
use crate::files::write_atomic;
use crate::model::{ModelConfig, ModelKind, ModelSpec};
use crate::train::EpochRecord;

/// The `format` metadata value of every mfcuda model file.
pub const FORMAT: &str = "mfcuda-model";
/// The layout version of a model with integer ids.
pub const VERSION: &str = "1";
/// The layout version of a model with text ids; this build reads both.
pub const VERSION_TEXT_IDS: &str = "2";
/// The `format` metadata value of an ensemble's file ([`crate::trained::ensemble`]).
pub const ENSEMBLE_FORMAT: &str = "mfcuda-ensemble";

/// One tensor to write: its name, type, shape and little-endian bytes.
pub(crate) type Buffer = (String, Dtype, Vec<usize>, Vec<u8>);
/// A file's metadata as written: (key, value) pairs.
pub(crate) type Meta = Vec<(String, String)>;

/// A trained model with everything needed to use it.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedModel {
    /// Shapes and arithmetic.
    pub spec: ModelSpec,
    /// All parameters, laid out as `spec.tensors()` says.
    pub params: Vec<f32>,
    /// Raw user id of each user row, and the row of each id.
    pub user_ids: IdMap,
    /// Raw movie id of each item row, and the row of each id.
    pub item_ids: IdMap,
    /// The recipe it was trained with.
    pub recipe: String,
    /// Training seed.
    pub seed: u32,
    /// The split it was validated on.
    pub split_seed: u32,
    /// Which rows that split held out.
    pub split: SplitKind,
    /// Fraction held out.
    pub val_pct: f64,
    /// Mean training rating: the fallback prediction for unknown ids.
    pub global_mean: f64,
    /// Rows of the data it was trained on (train and validation together).
    pub rows: usize,
    /// Final validation MSE.
    pub val_mse: f64,
    /// Per-epoch losses.
    pub history: Vec<EpochRecord>,
    /// True when training was stopped early (Ctrl-C): the model is that of
    /// the last epoch that finished.
    pub interrupted: bool,
    /// The data it was trained on; `None` in files saved before it was recorded.
    pub data: Option<DataOrigin>,
    /// Whether the file's tensors were checked against a stored checksum on
    /// load (true for a model not read from a file); false for files saved
    /// before checksums were written.
    pub checked: bool,
}

/// Where a model's training data came from, so that the commands that use
/// the model reopen it by themselves and know it when they see it again.
#[derive(Debug, Clone, PartialEq)]
pub struct DataOrigin {
    /// The bundled set, or the file by its absolute path.
    pub source: Source,
    /// The flags that read it: columns, separator, header.
    pub columns: Columns,
    /// [`Ratings::fingerprint`] of the data as loaded.
    pub fingerprint: u32,
}

impl DataOrigin {
    /// The origin of `data`, read from `source` with `columns`; a file is
    /// recorded by its absolute path.
    pub fn of(data: &Ratings, source: &Source, columns: &Columns) -> DataOrigin {
        let source = match source {
            Source::Bundled => Source::Bundled,
            Source::File(p) => Source::File(
                std::fs::canonicalize(p)
                    .unwrap_or_else(|_| std::path::absolute(p).unwrap_or_else(|_| p.clone())),
            ),
        };
        DataOrigin {
            source,
            columns: columns.clone(),
            fingerprint: data.fingerprint(),
        }
    }

    /// Its name in messages: the absolute path, or the bundled set's name.
    pub fn name(&self) -> String {
        self.source.display_name()
    }

    /// The metadata value: JSON, readable from Python.
    fn to_json(&self) -> String {
        let sep = self.columns.sep.map(|s| match s {
            Separator::Byte(b'\t') => "tab".to_string(),
            Separator::DoubleColon => "::".to_string(),
            Separator::Byte(b) => (b as char).to_string(),
        });
        serde_json::json!({
            "file": match &self.source {
                Source::Bundled => "bundled".to_string(),
                Source::File(p) => p.display().to_string(),
            },
            "user_col": self.columns.user,
            "item_col": self.columns.item,
            "rating_col": self.columns.rating,
            "sep": sep,
            "header": self.columns.header,
            "skip_bad_rows": self.columns.skip_bad_rows,
            "fingerprint": format!("crc32:{:08x}", self.fingerprint),
        })
        .to_string()
    }

    /// Parses [`DataOrigin::to_json`]'s value.
    fn from_json(text: &str) -> std::result::Result<DataOrigin, String> {
        #[derive(serde::Deserialize)]
        struct Raw {
            file: String,
            user_col: String,
            item_col: String,
            rating_col: String,
            sep: Option<String>,
            header: Option<bool>,
            #[serde(default)]
            skip_bad_rows: bool,
            fingerprint: String,
        }
        let raw: Raw = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let fingerprint = raw
            .fingerprint
            .strip_prefix("crc32:")
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| format!("fingerprint '{}' is not crc32:XXXXXXXX", raw.fingerprint))?;
        let sep = raw.sep.map(|s| s.parse::<Separator>()).transpose()?;
        Ok(DataOrigin {
            source: if raw.file == "bundled" {
                Source::Bundled
            } else {
                Source::File(raw.file.into())
            },
            columns: Columns {
                user: raw.user_col,
                item: raw.item_col,
                rating: raw.rating_col,
                sep,
                header: raw.header,
                skip_bad_rows: raw.skip_bad_rows,
            },
            fingerprint,
        })
    }
}

/// The CRC-32 of a model file's tensors: each tensor's name, then its
/// bytes, in name order. Written as `crc32:XXXXXXXX` under `checksum`.
fn tensor_checksum<'a>(tensors: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> u32 {
    let mut sorted: Vec<(&str, &[u8])> = tensors.into_iter().collect();
    sorted.sort_by_key(|t| t.0);
    let mut h = crc32fast::Hasher::new();
    for (name, bytes) in sorted {
        h.update(name.as_bytes());
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    h.finalize()
}

/// Why `bytes` cannot be a safetensors file, looked at before parsing: a
/// safetensors file is an 8-byte little-endian header length, then a JSON
/// header of that length starting with `{`.
fn not_safetensors(bytes: &[u8]) -> Option<String> {
    let n = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
    let fits = n.is_some_and(|n| n >= 2 && n <= (bytes.len() - 8) as u64);
    if fits && bytes[8] == b'{' {
        return None;
    }
    let start: String = String::from_utf8_lossy(&bytes[..bytes.len().min(24)])
        .chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .collect();
    Some(if bytes.is_empty() {
        "is empty: not a safetensors model".to_string()
    } else if n.is_some_and(|n| n >= 2 && n > (bytes.len() - 8) as u64) && bytes.get(8) == Some(&b'{') {
        format!(
            "is cut short: its header alone is {} bytes long, and the file holds {}; is it truncated?",
            n.unwrap_or(0) + 8,
            bytes.len()
        )
    } else {
        format!(
            "is not a safetensors model (it starts with \"{start}\"; a model file starts with an \
             8-byte header length and a JSON header); give a file saved with `train --save`"
        )
    })
}

fn bytes_f32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn bytes_i64(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The tensors holding one column's ids: `key` (`I64`), or `key.text` and
/// `key.offsets` for text ids.
fn id_tensors(key: &str, ids: &IdList) -> Vec<Buffer> {
    match ids {
        IdList::Int(v) => vec![(key.into(), Dtype::I64, vec![v.len()], bytes_i64(v))],
        IdList::Text(v) => {
            let (offsets, text) = pack_text(v);
            let offsets: Vec<i64> = offsets.into_iter().map(|o| o as i64).collect();
            vec![
                (format!("{key}.text"), Dtype::U8, vec![text.len()], text),
                (
                    format!("{key}.offsets"),
                    Dtype::I64,
                    vec![offsets.len()],
                    bytes_i64(&offsets),
                ),
            ]
        }
    }
}

/// A file's bytes: `buffers`, and `meta` with `format` and the tensors'
/// `checksum` added.
pub(crate) fn write_file(format: &str, buffers: Vec<Buffer>, meta: Meta) -> Result<Vec<u8>> {
    let bad = |e: safetensors::SafeTensorError| Error::invalid("model", format!("cannot serialise: {e}"));
    let views = buffers
        .iter()
        .map(|(name, dtype, shape, data)| {
            Ok((
                name.clone(),
                TensorView::new(*dtype, shape.clone(), data).map_err(bad)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let checksum = tensor_checksum(buffers.iter().map(|(n, _, _, d)| (n.as_str(), d.as_slice())));
    let meta: HashMap<String, String> = meta
        .into_iter()
        .chain([
            ("format".to_string(), format.to_string()),
            ("checksum".to_string(), format!("crc32:{checksum:08x}")),
        ])
        .collect();
    safetensors::serialize(views, &Some(meta)).map_err(bad)
}

/// A model or ensemble file, parsed, with its checksum checked: nothing is
/// read from tensors that are damaged.
pub(crate) struct OpenFile<'a> {
    /// The tensors.
    pub st: SafeTensors<'a>,
    /// The header's metadata.
    pub meta: HashMap<String, String>,
    /// Its name in messages.
    pub name: String,
    /// Its length in bytes, which bounds the sizes its metadata may give.
    pub len: usize,
    /// Whether it carried a checksum (files of older builds do not).
    pub checked: bool,
}

impl<'a> OpenFile<'a> {
    /// Parses `bytes` (named `name` in messages) and checks its checksum.
    pub fn open(bytes: &'a [u8], name: &str) -> Result<OpenFile<'a>> {
        let bad = |msg: String| Error::File {
            file: name.to_string(),
            msg,
        };
        if let Some(why) = not_safetensors(bytes) {
            return Err(bad(why));
        }
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| bad(format!("not a readable safetensors file ({e}); is it truncated?")))?;
        let (_, header) =
            SafeTensors::read_metadata(bytes).map_err(|e| bad(format!("bad safetensors header: {e}")))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let checked = match meta.get("checksum") {
            Some(want) => {
                let views = st.tensors();
                let got = tensor_checksum(views.iter().map(|(n, v)| (n.as_str(), v.data())));
                if *want != format!("crc32:{got:08x}") {
                    return Err(bad(format!(
                        "is corrupt: its tensors' checksum is crc32:{got:08x}, and the file says {want}; \
                         the bytes changed after it was saved (restore it, or train it again)"
                    )));
                }
                true
            }
            None => false,
        };
        Ok(OpenFile {
            st,
            meta,
            name: name.to_string(),
            len: bytes.len(),
            checked,
        })
    }

    /// An error about this file.
    pub fn bad(&self, msg: String) -> Error {
        Error::File {
            file: self.name.clone(),
            msg,
        }
    }

    /// Its `format` value: [`FORMAT`] or [`ENSEMBLE_FORMAT`] for files of this build.
    pub fn format(&self) -> Result<&str> {
        self.meta
            .get("format")
            .map(|s| s.as_str())
            .ok_or_else(|| self.bad("no 'format' in the metadata: not an mfcuda model file".into()))
    }
}

impl SavedModel {
    /// The model a training run produced on `data`, which came from `origin`.
    pub fn from_report(
        report: &crate::train::TrainReport,
        data: &Ratings,
        origin: Option<DataOrigin>,
    ) -> SavedModel {
        SavedModel {
            spec: report.spec.clone(),
            params: report.params.clone(),
            user_ids: data.user_ids.clone(),
            item_ids: data.item_ids.clone(),
            recipe: report.recipe.clone(),
            seed: report.seed,
            split_seed: report.split_seed,
            split: report.split,
            val_pct: report.val_pct,
            global_mean: report.global_mean,
            rows: data.len(),
            val_mse: report.val_mse,
            history: report.history.clone(),
            interrupted: report.interrupted,
            data: origin,
            checked: true,
        }
    }

    /// The model's tensors and metadata, each name behind `prefix` (empty
    /// for a model file; `members.K.` inside an ensemble file). `format` and
    /// `checksum` belong to the file, and [`write_file`] adds them.
    pub(crate) fn entries(&self, prefix: &str) -> Result<(Vec<Buffer>, Meta)> {
        let tensors = self.spec.tensors();
        let mut buffers: Vec<Buffer> = tensors
            .iter()
            .map(|t| {
                (
                    t.name.to_string(),
                    Dtype::F32,
                    t.shape.clone(),
                    bytes_f32(&self.params[t.range()]),
                )
            })
            .collect();
        buffers.extend(id_tensors("user_ids", self.user_ids.list()));
        buffers.extend(id_tensors("movie_ids", self.item_ids.list()));
        for b in &mut buffers {
            b.0.insert_str(0, prefix);
        }
        let text_ids = [&self.user_ids, &self.item_ids]
            .iter()
            .any(|m| matches!(m.list(), IdList::Text(_)));
        let s = &self.spec;
        let history =
            serde_json::to_string(&self.history).map_err(|e| Error::invalid("model", e.to_string()))?;
        let meta = [
            (
                "version",
                if text_ids { VERSION_TEXT_IDS } else { VERSION }.to_string(),
            ),
            ("kind", s.kind.name().to_string()),
            ("factors", s.factors.to_string()),
            ("hidden", s.hidden.to_string()),
            ("y_min", s.y_range.0.to_string()),
            ("y_max", s.y_range.1.to_string()),
            ("dropout1", s.dropout.0.to_string()),
            ("dropout2", s.dropout.1.to_string()),
            ("emb_init_lo", s.emb_init.0.to_string()),
            ("emb_init_hi", s.emb_init.1.to_string()),
            ("recipe", self.recipe.clone()),
            ("seed", self.seed.to_string()),
            ("split_seed", self.split_seed.to_string()),
            ("split", self.split.to_string()),
            ("val_pct", self.val_pct.to_string()),
            ("global_mean", self.global_mean.to_string()),
            ("rows", self.rows.to_string()),
            ("val_mse", self.val_mse.to_string()),
            ("history", history),
            ("interrupted", self.interrupted.to_string()),
        ]
        .into_iter()
        .chain(self.data.as_ref().map(|d| ("data", d.to_json())))
        .map(|(k, v)| (format!("{prefix}{k}"), v))
        .collect();
        Ok((buffers, meta))
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let (buffers, meta) = self.entries("")?;
        write_file(FORMAT, buffers, meta)
    }

    /// Writes the model to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes()?;
        write_atomic(path, |f| f.write_all(&bytes))
    }

    /// Reads a model written by [`SavedModel::save`].
    pub fn load(path: &Path) -> Result<SavedModel> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| Error::Io {
            file: name.clone(),
            source: e,
        })?;
        Self::from_bytes(&bytes, &name)
    }

    /// Parses a model file's bytes; `name` is used in messages. An
    /// ensemble's file is refused by name: it holds several models.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<SavedModel> {
        let file = OpenFile::open(bytes, name)?;
        match file.format()? {
            FORMAT => SavedModel::read(&file, ""),
            ENSEMBLE_FORMAT => Err(file.bad(format!(
                "is an ensemble of {} models, not one model: predict, recommend and summary read it, \
                 and this needs one model's factors; train one member's recipe on its own",
                file.meta.get("members").map_or("?", |s| s.as_str())
            ))),
            other => Err(file.bad(format!("format is '{other}', not '{FORMAT}'"))),
        }
    }

    /// Reads the model whose tensors and metadata are named behind `prefix`
    /// in `file` (whose checksum [`OpenFile::open`] has checked).
    pub(crate) fn read(file: &OpenFile<'_>, prefix: &str) -> Result<SavedModel> {
        let bad = |msg: String| file.bad(msg);
        let (st, meta, bytes_len) = (&file.st, &file.meta, file.len);
        let key = |k: &str| format!("{prefix}{k}");
        let get = |k: &str| -> Result<&String> {
            let k = key(k);
            meta.get(&k)
                .ok_or_else(|| bad(format!("no '{k}' in the metadata: not an mfcuda model file")))
        };
        if get("version")? != VERSION && get("version")? != VERSION_TEXT_IDS {
            return Err(bad(format!(
                "model file version {} cannot be read by this mfcuda, which reads versions {VERSION} and \
                 {VERSION_TEXT_IDS}",
                get("version")?
            )));
        }
        fn num<T: std::str::FromStr>(v: &str, key: &str, bad: &dyn Fn(String) -> Error) -> Result<T> {
            v.parse()
                .map_err(|_| bad(format!("metadata '{key}' = '{v}' is not a number")))
        }
        let n = |k: &str| -> Result<f64> { num(get(k)?, &key(k), &bad) };
        let kind_name = get("kind")?;
        let kind = ModelKind::from_name(kind_name)
            .ok_or_else(|| bad(format!("unknown model kind '{kind_name}'")))?;
        let tensor = |name: &str, dtype: Dtype| -> Result<&[u8]> {
            let t = st.tensor(name).map_err(|_| bad(format!("no '{name}' tensor")))?;
            if t.dtype() != dtype || t.shape().len() != 1 {
                return Err(bad(format!("'{name}' must be a 1-D {dtype:?} tensor")));
            }
            Ok(t.data())
        };
        let i64s = |b: &[u8]| -> Vec<i64> {
            b.chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect()
        };
        let names: Vec<String> = st.names().into_iter().cloned().collect();
        let ids = |k: &str| -> Result<IdMap> {
            let k = key(k);
            let list = if names.iter().any(|n| *n == format!("{k}.text")) {
                let offsets: Vec<u64> = i64s(tensor(&format!("{k}.offsets"), Dtype::I64)?)
                    .into_iter()
                    .map(|o| o as u64)
                    .collect();
                let text = tensor(&format!("{k}.text"), Dtype::U8)?;
                IdList::Text(
                    unpack_text(&offsets, text)
                        .ok_or_else(|| bad(format!("'{k}.offsets' does not fit '{k}.text'")))?,
                )
            } else {
                IdList::Int(i64s(tensor(&k, Dtype::I64)?))
            };
            IdMap::from_list(list).ok_or_else(|| bad(format!("'{k}' holds an id twice")))
        };
        let (user_ids, item_ids) = (ids("user_ids")?, ids("movie_ids")?);
        let spec = ModelSpec {
            config: ModelConfig {
                kind,
                factors: num(get("factors")?, &key("factors"), &bad)?,
                hidden: num(get("hidden")?, &key("hidden"), &bad)?,
                emb_init: (n("emb_init_lo")? as f32, n("emb_init_hi")? as f32),
                dropout: (n("dropout1")? as f32, n("dropout2")? as f32),
            },
            n_users: user_ids.len(),
            n_items: item_ids.len(),
            y_range: (n("y_min")? as f32, n("y_max")? as f32),
        };
        // Sizes come from the file, so they are checked before anything is allocated.
        let (f, h) = (spec.factors, spec.hidden);
        if f == 0 || (kind.has_hidden_layer() && h == 0) {
            return Err(bad(format!(
                "metadata gives factors {f} and hidden {h}; both must be at least 1"
            )));
        }
        let (lo, hi) = spec.y_range;
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            return Err(bad(format!(
                "metadata gives the rating range {lo} .. {hi}; it must be finite and ordered"
            )));
        }
        let (d1, d2) = spec.dropout;
        if !((0.0..1.0).contains(&d1) && (0.0..1.0).contains(&d2)) {
            return Err(bad(format!(
                "metadata gives dropout {d1}, {d2}; each must be in [0, 1)"
            )));
        }
        let embedding_floats = (spec.n_users + spec.n_items)
            .checked_mul(f)
            .filter(|&n| n <= bytes_len / 4);
        if embedding_floats.is_none() || h > bytes_len / 4 {
            return Err(bad(format!(
                "metadata gives factors {f} and hidden {h}, more than the file holds"
            )));
        }
        let mut params = vec![0f32; spec.n_params()];
        for t in spec.tensors() {
            let name = key(t.name);
            let view = st
                .tensor(&name)
                .map_err(|_| bad(format!("no '{name}' tensor for a {kind:?} model")))?;
            if view.dtype() != Dtype::F32 || view.shape() != t.shape.as_slice() {
                return Err(bad(format!(
                    "tensor '{name}' is {:?} {:?}, expected F32 {:?}",
                    view.dtype(),
                    view.shape(),
                    t.shape
                )));
            }
            for (p, c) in params[t.range()].iter_mut().zip(view.data().chunks_exact(4)) {
                *p = f32::from_le_bytes(c.try_into().expect("4 bytes"));
            }
        }
        let history: Vec<EpochRecord> = serde_json::from_str(get("history")?)
            .map_err(|e| bad(format!("metadata '{}' is not valid: {e}", key("history"))))?;
        Ok(SavedModel {
            spec,
            params,
            user_ids,
            item_ids,
            recipe: get("recipe")?.clone(),
            seed: num(get("seed")?, &key("seed"), &bad)?,
            split_seed: num(get("split_seed")?, &key("split_seed"), &bad)?,
            // Files from before the key was written used the random split.
            split: match meta.get(&key("split")) {
                Some(v) => v
                    .parse()
                    .map_err(|e| bad(format!("metadata '{}' = {e}", key("split"))))?,
                None => SplitKind::Random,
            },
            val_pct: n("val_pct")?,
            global_mean: n("global_mean")?,
            rows: num(get("rows")?, &key("rows"), &bad)?,
            val_mse: n("val_mse")?,
            history,
            // Files from before the key was written were never interrupted.
            interrupted: meta.get(&key("interrupted")).is_some_and(|v| v == "true"),
            data: match meta.get(&key("data")) {
                Some(v) => Some(
                    DataOrigin::from_json(v)
                        .map_err(|e| bad(format!("metadata '{}' is not valid: {e}", key("data"))))?,
                ),
                None => None,
            },
            checked: file.checked,
        })
    }

    /// A prediction clipped to the training data's rating range: what
    /// `predict` and `recommend` print unless asked for raw scores (the
    /// losses in training stay unclipped, as the notebook's are).
    pub fn clip(&self, p: f32) -> f32 {
        let (lo, hi) = self.spec.y_range;
        p.clamp(lo, hi)
    }

    /// The rating range predictions are clipped to, as text: "0.5 .. 5".
    pub fn range_text(&self) -> String {
        let (lo, hi) = self.spec.y_range;
        format!("{lo} .. {hi}")
    }

    /// Predictions for (user row, item row) pairs, in eval mode on the CPU.
    pub fn predict(&self, users: &[u32], items: &[u32]) -> Vec<f32> {
        self.spec.predict(&self.params, users, items)
    }

    /// The model as PyTorch prints it, then its size, one tensor a line.
    pub fn summary(&self) -> String {
        let mut s = model_summary(&self.spec);
        s.push_str(&format!(
            "\ntrained  recipe {}, seed {}, {}, validation MSE {:.4} (RMSE {:.4}, raw scores){}",
            self.recipe,
            self.seed,
            crate::text::count(self.history.len() as u64, "epoch"),
            self.val_mse,
            self.val_mse.sqrt(),
            if self.interrupted { ", interrupted" } else { "" }
        ));
        s.push_str(&format!(
            "\nratings  {} (predictions are clipped to it unless --no-clip)",
            self.range_text()
        ));
        s.push_str(&match &self.data {
            Some(d) => format!(
                "\ndata     {}, {} (fingerprint crc32:{:08x})",
                d.name(),
                crate::text::count(self.rows as u64, "row"),
                d.fingerprint
            ),
            None => format!(
                "\ndata     {} (not recorded: saved by an older mfcuda)",
                crate::text::count(self.rows as u64, "row")
            ),
        });
        if !self.checked {
            s.push_str("\nchecksum none (saved by an older mfcuda): the tensors were not checked");
        }
        s
    }

    /// The parameters of tensor `name`, if the model has it.
    pub fn tensor(&self, name: &str) -> Option<&[f32]> {
        self.spec
            .tensors()
            .into_iter()
            .find(|t| t.name == name)
            .map(|t| &self.params[t.range()])
    }
}

/// `spec` as PyTorch prints it, its parameter count and memory, and its tensors.
pub fn model_summary(spec: &ModelSpec) -> String {
    let n = spec.n_params();
    let training = if spec.kind.batched() {
        "training adds the gradient and 1 or 2 optimizer buffers of the same size"
    } else {
        "sparse SGD needs no more"
    };
    let mut s = format!(
        "{}\n{} parameters, {:.2} MiB as f32 ({training})",
        spec.describe(),
        n,
        (n * 4) as f64 / (1 << 20) as f64
    );
    for t in spec.tensors() {
        s.push_str(&format!("\n  {:<12} {:?}", t.name, t.shape));
    }
    s
}
