//! A trained ensemble: several models, trained alone on the same data and
//! the same split, whose raw predictions are averaged (`--recipe best`).
//! It predicts and recommends as one model does; what only one model has
//! (one set of factors, one history) is asked of a member.
//!
//! On disk it is one safetensors file, written atomically as a model is.
//! Member `K`'s tensors and metadata keys are those of its own model file
//! behind the prefix `members.K.` (`members.0.u`, `members.1.kind`, ...);
//! the file's own metadata is `format` (`mfcuda-ensemble`), `version`,
//! `name`, `members` (their number), `val_mse` (of the average) and one
//! `checksum` over every tensor. In Python:
//!
//! ```text
//! from safetensors.numpy import load_file
//! t = load_file("best.safetensors")   # t["members.0.u"].shape == (610, 200)
//! ```

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::files::write_atomic;
use crate::trained::saved::{write_file, OpenFile, SavedModel, ENSEMBLE_FORMAT, FORMAT};

/// The layout version of an ensemble file.
pub const ENSEMBLE_VERSION: &str = "1";

/// Several models and the validation MSE of their average.
#[derive(Debug, Clone, PartialEq)]
pub struct Ensemble {
    /// What named it: the recipe (`best`) or the recipe file.
    pub name: String,
    /// The members, in their file's order; they share their ids, data and
    /// split, and there is at least one ([`Ensemble::new`] checks both).
    members: Vec<SavedModel>,
    /// Validation MSE of the averaged raw predictions.
    pub val_mse: f64,
}

/// The mean of several members' predictions of the same rows, summed in
/// f64 in member order.
pub fn average(predictions: &[&[f32]]) -> Vec<f64> {
    let n = predictions.len().max(1) as f64;
    let rows = predictions.first().map_or(0, |p| p.len());
    (0..rows)
        .map(|r| predictions.iter().map(|p| p[r] as f64).sum::<f64>() / n)
        .collect()
}

/// The refusal of ranking metrics (`what`) for the ensemble `name` of the
/// recipes `members`: ranking ranks one model's scores, and ranking an
/// average of models is not built. `train`, `cv`, `predict` and Python's
/// `ranking_metrics` all give it.
pub fn ranking_refused(what: &str, name: &str, members: &[&str]) -> Error {
    refusal(what, name, members, NO_RANKING)
}

/// Why ranking metrics refuse an ensemble (see [`refusal`]).
const NO_RANKING: &str = "and ranking an average of models is not built yet; rank";
/// Why what needs factors refuses an ensemble (see [`refusal`]).
const NO_FACTORS: &str = "which has no one set of factors; train";

/// "best is an ensemble of 2 models (sparse + learner), {reason} one
/// member's recipe on its own (sparse or learner)".
fn refusal(what: &str, name: &str, members: &[&str], reason: &str) -> Error {
    Error::invalid(
        what,
        format!(
            "{name} is an ensemble of {} models ({}), {reason} one member's recipe on its own ({})",
            members.len(),
            members.join(" + "),
            members.join(" or ")
        ),
    )
}

impl Ensemble {
    /// The ensemble of `members`, which must have been trained on the same
    /// data and validated on the same split (so that their average means
    /// something, and the ids of one are the ids of all).
    pub fn new(name: &str, members: Vec<SavedModel>, val_mse: f64) -> Result<Ensemble> {
        let bad = |msg: String| Error::invalid("ensemble", msg);
        let Some(first) = members.first() else {
            return Err(bad(format!("{name} has no members")));
        };
        for (k, m) in members.iter().enumerate().skip(1) {
            let differs = [
                (m.user_ids != first.user_ids, "user ids"),
                (m.item_ids != first.item_ids, "movie ids"),
                (m.rows != first.rows, "number of rows"),
                (
                    m.data.as_ref().map(|d| d.fingerprint) != first.data.as_ref().map(|d| d.fingerprint),
                    "data",
                ),
                (
                    (m.split, m.split_seed, m.val_pct.to_bits())
                        != (first.split, first.split_seed, first.val_pct.to_bits()),
                    "validation split",
                ),
                (m.spec.y_range != first.spec.y_range, "rating range"),
                (
                    m.global_mean.to_bits() != first.global_mean.to_bits(),
                    "mean rating",
                ),
            ];
            if let Some((_, what)) = differs.iter().find(|d| d.0) {
                return Err(bad(format!(
                    "member {k} ({}) differs from member 0 ({}) in its {what}: the members of an \
                     ensemble are trained on the same data and split",
                    m.recipe, first.recipe
                )));
            }
        }
        Ok(Ensemble {
            name: name.to_string(),
            members,
            val_mse,
        })
    }

    /// The members, in their file's order.
    pub fn members(&self) -> &[SavedModel] {
        &self.members
    }

    /// The first member, whose ids, data, split, rating range and mean
    /// rating every member shares.
    pub fn first(&self) -> &SavedModel {
        &self.members[0]
    }

    /// Why `what` is refused for this ensemble: `reason` ends with the verb
    /// ("…; train") that takes one member's recipe on its own.
    fn refuse(&self, what: &str, reason: &str) -> Error {
        let names: Vec<&str> = self.members.iter().map(|m| m.recipe.as_str()).collect();
        refusal(what, &self.name, &names, reason)
    }

    /// The members' recipes: "sparse + learner".
    pub fn recipes(&self) -> String {
        let names: Vec<&str> = self.members.iter().map(|m| m.recipe.as_str()).collect();
        names.join(" + ")
    }

    /// The mean of the members' raw predictions for (user row, item row) pairs.
    pub fn predict(&self, users: &[u32], items: &[u32]) -> Vec<f32> {
        let each: Vec<Vec<f32>> = self.members.iter().map(|m| m.predict(users, items)).collect();
        let each: Vec<&[f32]> = each.iter().map(|p| p.as_slice()).collect();
        average(&each).into_iter().map(|p| p as f32).collect()
    }

    /// Each member's summary line, then the average's.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "ensemble {}: the average of {} models' raw predictions ({})",
            self.name,
            self.members.len(),
            self.recipes()
        );
        for (k, m) in self.members.iter().enumerate() {
            s.push_str(&format!(
                "\nmember {k} {}: {} with {} factors, {} parameters, {}, validation MSE {:.4} (RMSE {:.4})",
                m.recipe,
                m.spec.kind.name(),
                m.spec.factors,
                m.spec.n_params(),
                crate::text::count(m.history.len() as u64, "epoch"),
                m.val_mse,
                m.val_mse.sqrt()
            ));
        }
        let f = self.first();
        s.push_str(&format!(
            "\ntrained  validation MSE {:.4} (RMSE {:.4}, raw scores) of the average",
            self.val_mse,
            self.val_mse.sqrt()
        ));
        s.push_str(&format!(
            "\nratings  {} (predictions are clipped to it unless --no-clip)",
            f.range_text()
        ));
        if let Some(d) = &f.data {
            s.push_str(&format!(
                "\ndata     {}, {} (fingerprint crc32:{:08x})",
                d.name(),
                crate::text::count(f.rows as u64, "row"),
                d.fingerprint
            ));
        }
        s
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut buffers = Vec::new();
        let mut meta = vec![
            ("version".to_string(), ENSEMBLE_VERSION.to_string()),
            ("name".to_string(), self.name.clone()),
            ("members".to_string(), self.members.len().to_string()),
            ("val_mse".to_string(), self.val_mse.to_string()),
        ];
        for (k, m) in self.members.iter().enumerate() {
            let (b, md) = m.entries(&format!("members.{k}."))?;
            buffers.extend(b);
            meta.extend(md);
        }
        write_file(ENSEMBLE_FORMAT, buffers, meta)
    }

    /// Writes the ensemble to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes()?;
        write_atomic(path, |f| f.write_all(&bytes))
    }

    /// Reads the members of an ensemble file that [`OpenFile::open`] parsed.
    fn read(file: &OpenFile<'_>) -> Result<Ensemble> {
        let get = |key: &str| -> Result<&String> {
            file.meta
                .get(key)
                .ok_or_else(|| file.bad(format!("no '{key}' in the metadata of an ensemble file")))
        };
        if get("version")? != ENSEMBLE_VERSION {
            return Err(file.bad(format!(
                "ensemble file version {} cannot be read by this mfcuda, which reads version {ENSEMBLE_VERSION}",
                get("version")?
            )));
        }
        let count: usize = get("members")?
            .parse()
            .ok()
            .filter(|&n| n >= 1 && n <= file.st.len())
            .ok_or_else(|| {
                file.bad(format!(
                    "metadata 'members' = '{}' is not a count of members this file holds",
                    file.meta["members"]
                ))
            })?;
        // Every tensor is one of the `count` members': a count edited down
        // (the checksum covers tensors, not metadata) is refused, not half read.
        for name in file.st.names() {
            let k = name
                .strip_prefix("members.")
                .and_then(|rest| rest.split_once('.'))
                .and_then(|(k, _)| k.parse::<usize>().ok().filter(|n| n.to_string() == k));
            if k.is_none_or(|k| k >= count) {
                return Err(file.bad(format!(
                    "tensor '{name}' is not one of the {count} members' (members.0. to members.{}.)",
                    count - 1
                )));
            }
        }
        let val_mse: f64 = get("val_mse")?.parse().map_err(|_| {
            file.bad(format!(
                "metadata 'val_mse' = '{}' is not a number",
                file.meta["val_mse"]
            ))
        })?;
        let members = (0..count)
            .map(|k| SavedModel::read(file, &format!("members.{k}.")))
            .collect::<Result<Vec<_>>>()?;
        Ensemble::new(get("name")?, members, val_mse).map_err(|e| file.bad(e.to_string()))
    }
}

/// What a model file holds: one model, or an ensemble of them. `predict`,
/// `recommend` and `summary` take either.
#[derive(Debug, Clone, PartialEq)]
pub enum Trained {
    /// One model (`mfcuda-model`), boxed so that the enum stays small.
    One(Box<SavedModel>),
    /// Several, averaged (`mfcuda-ensemble`).
    Ensemble(Ensemble),
}

impl Trained {
    /// Reads a file written by [`SavedModel::save`] or [`Ensemble::save`].
    pub fn load(path: &Path) -> Result<Trained> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| Error::Io {
            file: name.clone(),
            source: e,
        })?;
        Trained::from_bytes(&bytes, &name)
    }

    /// Parses a model or ensemble file's bytes; `name` is used in messages.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Trained> {
        let file = OpenFile::open(bytes, name)?;
        match file.format()? {
            FORMAT => Ok(Trained::One(Box::new(SavedModel::read(&file, "")?))),
            ENSEMBLE_FORMAT => Ok(Trained::Ensemble(Ensemble::read(&file)?)),
            other => Err(file.bad(format!(
                "format is '{other}', not '{FORMAT}' or '{ENSEMBLE_FORMAT}'"
            ))),
        }
    }

    /// Writes it to `path` atomically, in its own format.
    pub fn save(&self, path: &Path) -> Result<()> {
        match self {
            Trained::One(m) => m.save(path),
            Trained::Ensemble(e) => e.save(path),
        }
    }

    /// The model whose ids, data, split, rating range and mean rating are
    /// the whole's: the model itself, or an ensemble's first member.
    pub fn common(&self) -> &SavedModel {
        match self {
            Trained::One(m) => m,
            Trained::Ensemble(e) => e.first(),
        }
    }

    /// The one model, or, for an ensemble, an error saying that `what`
    /// needs one model's factors.
    pub fn one(&self, what: &str) -> Result<&SavedModel> {
        match self {
            Trained::One(m) => Ok(m),
            Trained::Ensemble(e) => Err(e.refuse(what, NO_FACTORS)),
        }
    }

    /// The one model whose scores ranking metrics (`what`) rank, or, for an
    /// ensemble, [`ranking_refused`].
    pub fn for_ranking(&self, what: &str) -> Result<&SavedModel> {
        match self {
            Trained::One(m) => Ok(m),
            Trained::Ensemble(e) => Err(e.refuse(what, NO_RANKING)),
        }
    }

    /// [`Trained::one`], owned.
    pub fn into_one(self, what: &str) -> Result<SavedModel> {
        match self {
            Trained::One(m) => Ok(*m),
            Trained::Ensemble(e) => Err(e.refuse(what, NO_FACTORS)),
        }
    }

    /// Raw predictions for (user row, item row) pairs: the model's, or the
    /// mean of the members'.
    pub fn predict(&self, users: &[u32], items: &[u32]) -> Vec<f32> {
        match self {
            Trained::One(m) => m.predict(users, items),
            Trained::Ensemble(e) => e.predict(users, items),
        }
    }

    /// The validation MSE: the model's, or that of the members' average.
    pub fn val_mse(&self) -> f64 {
        match self {
            Trained::One(m) => m.val_mse,
            Trained::Ensemble(e) => e.val_mse,
        }
    }

    /// The recipe: the model's, or the name of the ensemble.
    pub fn recipe(&self) -> &str {
        match self {
            Trained::One(m) => &m.recipe,
            Trained::Ensemble(e) => &e.name,
        }
    }

    /// Its summary ([`SavedModel::summary`], [`Ensemble::summary`]).
    pub fn summary(&self) -> String {
        match self {
            Trained::One(m) => m.summary(),
            Trained::Ensemble(e) => e.summary(),
        }
    }
}

/// What predicting asks of a trained model, one or an ensemble: the
/// functions of [`crate::trained::explore`] that predict take either.
pub trait Predictor {
    /// The model whose ids, data, split, rating range and mean rating are
    /// the whole's ([`Trained::common`]).
    fn common(&self) -> &SavedModel;
    /// The one model, or `None` for an ensemble, which has no one set of
    /// factors or biases.
    fn single(&self) -> Option<&SavedModel>;
    /// Raw predictions for (user row, item row) pairs.
    fn scores(&self, users: &[u32], items: &[u32]) -> Vec<f32>;
}

impl Predictor for SavedModel {
    fn common(&self) -> &SavedModel {
        self
    }
    fn single(&self) -> Option<&SavedModel> {
        Some(self)
    }
    fn scores(&self, users: &[u32], items: &[u32]) -> Vec<f32> {
        self.predict(users, items)
    }
}

impl Predictor for Trained {
    fn common(&self) -> &SavedModel {
        Trained::common(self)
    }
    fn single(&self) -> Option<&SavedModel> {
        match self {
            Trained::One(m) => Some(m),
            Trained::Ensemble(_) => None,
        }
    }
    fn scores(&self, users: &[u32], items: &[u32]) -> Vec<f32> {
        self.predict(users, items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_average_is_taken_in_member_order_in_f64() {
        let (a, b) = ([3.0f32, 5.0], [4.0f32, 2.0]);
        assert_eq!(average(&[&a, &b]), vec![3.5, 3.5]);
        assert_eq!(average(&[&a]), vec![3.0, 5.0]);
        // 0.1 + 0.2 in f32 then widened is not the f64 sum of the widened values.
        let (x, y) = ([0.1f32], [0.2f32]);
        assert_eq!(average(&[&x, &y])[0], (0.1f32 as f64 + 0.2f32 as f64) / 2.0);
    }
}
