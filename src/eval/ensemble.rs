//! Ensembles: several recipes trained alone on the same rows, their
//! predictions averaged. An ensemble is data (a recipe file with
//! `[[members]]`), and its members reuse every kernel and the one training
//! loop; only the averaging is new.
//!
//! The average is of raw (unclipped) predictions, and its validation MSE is
//! unclipped, as every recipe's is.

use std::time::Instant;

use serde::Serialize;

use crate::backend::{Device, GpuOptions};
use crate::data::split::{Split, SplitKind};
use crate::data::{Examples, Ratings};
use crate::error::Result;
use crate::recipe::Recipe;
use crate::train::{train, Observer, TrainConfig, TrainReport};
use crate::trained::ensemble::{average, Ensemble};
use crate::trained::saved::{DataOrigin, SavedModel};

/// One member's run.
#[derive(Debug, Clone, Serialize)]
pub struct MemberResult {
    /// Its recipe's name.
    pub recipe: String,
    /// Its own validation MSE.
    pub val_mse: f64,
    /// Wall seconds of its training.
    pub seconds: f64,
    /// Its predictions of the validation rows (not serialised).
    #[serde(skip)]
    pub predictions: Vec<f32>,
    /// Its run, with its parameters (not serialised).
    #[serde(skip)]
    pub report: TrainReport,
}

impl MemberResult {
    /// The line the CLI prints (and Python's progress) as the member ends.
    pub fn line(&self) -> String {
        format!(
            "member   {:<8} val_mse {:.4}  val_rmse {:.4}  in {:.1} s",
            self.recipe,
            self.val_mse,
            self.val_mse.sqrt(),
            self.seconds
        )
    }
}

/// The members and their average.
#[derive(Debug, Clone, Serialize)]
pub struct EnsembleReport {
    /// Each member, in order.
    pub members: Vec<MemberResult>,
    /// Validation MSE of the averaged predictions.
    pub val_mse: f64,
    /// Its square root.
    pub val_rmse: f64,
    /// True when a member's run was stopped ([`Observer::stop_requested`]):
    /// `members` holds those that ran, the last of them cut short, and the
    /// figures are theirs.
    pub interrupted: bool,
}

impl EnsembleReport {
    /// The trained ensemble, named `name`, of the members' models on
    /// `data`, which came from `origin` (what `train --save` writes). The
    /// members ran on given rows, so the split that chose them is recorded
    /// here: `split` with `split_seed` and `val_pct`, as `train` takes them.
    pub fn ensemble(
        &self,
        name: &str,
        data: &Ratings,
        origin: Option<DataOrigin>,
        (split, split_seed, val_pct): (SplitKind, u32, f64),
    ) -> Result<Ensemble> {
        let members = self
            .members
            .iter()
            .map(|m| SavedModel {
                split,
                split_seed,
                val_pct,
                ..SavedModel::from_report(&m.report, data, origin.clone())
            })
            .collect();
        Ensemble::new(name, members, self.val_mse)
    }

    /// The members' device lines, each once: one line when they ran alike,
    /// else `recipe: line` for each, joined by `; `.
    pub fn device(&self) -> String {
        let lines: Vec<&str> = self.members.iter().map(|m| m.report.device.as_str()).collect();
        if lines.windows(2).all(|w| w[0] == w[1]) {
            return lines.first().copied().unwrap_or_default().to_string();
        }
        let each: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("{}: {}", m.recipe, m.report.device))
            .collect();
        each.join("; ")
    }
}

/// Trains `recipe` on `split.train` and predicts `split.valid` (raw
/// scores), telling `obs` of its epochs.
#[allow(clippy::too_many_arguments)] // the run's settings, as train_ensemble passes them
pub fn member(
    data: &Ratings,
    recipe: &Recipe,
    split: &Split,
    seed: u32,
    device: Device,
    gpu: GpuOptions,
    obs: &mut dyn Observer,
) -> Result<MemberResult> {
    let t0 = Instant::now();
    let cfg = TrainConfig::on_rows(recipe.clone(), seed, split.clone(), data.len(), device, gpu);
    let report = train(data, &cfg, obs)?;
    let valid = Examples::select(data, &split.valid);
    let predictions = report.spec.predict(&report.params, &valid.users, &valid.items);
    Ok(MemberResult {
        recipe: recipe.name.to_string(),
        val_mse: report.val_mse,
        seconds: t0.elapsed().as_secs_f64(),
        predictions,
        report,
    })
}

/// MSE of the mean of `members`' predictions against `ratings`.
pub fn average_mse(members: &[&MemberResult], ratings: &[f32]) -> f64 {
    let each: Vec<&[f32]> = members.iter().map(|m| m.predictions.as_slice()).collect();
    mean_mse(&each, ratings)
}

/// MSE of the mean of `predictions` ([`average`]) against `ratings`.
fn mean_mse(predictions: &[&[f32]], ratings: &[f32]) -> f64 {
    let mean = average(predictions);
    let sq: f64 = (0..ratings.len())
        .map(|r| (mean[r] - ratings[r] as f64).powi(2))
        .sum();
    sq / ratings.len().max(1) as f64
}

/// Trains every member on `split` and scores their average on
/// `split.valid`. `obs` hears each member's epochs, and `on_member` each
/// member's result; a stop `obs` asks for ends the run after the member
/// it stopped (or, asked for between members, before the next one), and
/// the report says it was interrupted.
#[allow(clippy::too_many_arguments)] // the run's settings and its two listeners
pub fn train_ensemble(
    data: &Ratings,
    recipes: &[Recipe],
    split: &Split,
    seed: u32,
    device: Device,
    gpu: GpuOptions,
    obs: &mut dyn Observer,
    mut on_member: impl FnMut(&MemberResult),
) -> Result<EnsembleReport> {
    let mut members = Vec::with_capacity(recipes.len());
    let mut interrupted = false;
    for (k, r) in recipes.iter().enumerate() {
        let m = member(data, r, split, seed, device, gpu, obs)?;
        on_member(&m);
        // A stop asked for after the member ran (while `on_member` heard it)
        // ends the run before the next member starts; after the last, the
        // ensemble is whole.
        let more = k + 1 < recipes.len();
        interrupted = m.report.interrupted || (more && obs.stop_requested());
        members.push(m);
        if interrupted {
            break;
        }
    }
    let ratings: Vec<f32> = split.valid.iter().map(|&r| data.ratings[r as usize]).collect();
    let val_mse = average_mse(&members.iter().collect::<Vec<_>>(), &ratings);
    Ok(EnsembleReport {
        members,
        val_mse,
        val_rmse: val_mse.sqrt(),
        interrupted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_average_is_scored_by_hand() {
        let (a, b) = ([3.0f32, 5.0], [4.0f32, 2.0]);
        // Means 3.5 and 3.5 against 4 and 3: errors 0.5 and 0.5.
        assert_eq!(mean_mse(&[&a, &b], &[4.0, 3.0]), 0.25);
        assert_eq!(mean_mse(&[&a], &[4.0, 3.0]), 2.5);
    }
}
