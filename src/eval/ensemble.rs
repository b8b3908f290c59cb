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
use crate::data::split::Split;
use crate::data::{Examples, Ratings};
use crate::error::Result;
use crate::recipe::Recipe;
use crate::train::{train, Silent, TrainConfig};

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
}

/// Trains `recipe` on `split.train` and predicts `split.valid` (raw scores).
pub fn member(
    data: &Ratings,
    recipe: &Recipe,
    split: &Split,
    seed: u32,
    device: Device,
    gpu: GpuOptions,
) -> Result<MemberResult> {
    let t0 = Instant::now();
    let cfg = TrainConfig::on_rows(recipe.clone(), seed, split.clone(), data.len(), device, gpu);
    let report = train(data, &cfg, &mut Silent)?;
    let valid = Examples::select(data, &split.valid);
    let predictions = report.spec.predict(&report.params, &valid.users, &valid.items);
    Ok(MemberResult {
        recipe: recipe.name.to_string(),
        val_mse: report.val_mse,
        seconds: t0.elapsed().as_secs_f64(),
        predictions,
    })
}

/// MSE of the mean of `members`' predictions against `ratings`.
pub fn average_mse(members: &[&MemberResult], ratings: &[f32]) -> f64 {
    let n = members.len().max(1) as f64;
    let sq: f64 = (0..ratings.len())
        .map(|r| {
            let p = members.iter().map(|m| m.predictions[r] as f64).sum::<f64>() / n;
            (p - ratings[r] as f64).powi(2)
        })
        .sum();
    sq / ratings.len().max(1) as f64
}

/// Trains every member on `split` and scores their average on `split.valid`.
pub fn train_ensemble(
    data: &Ratings,
    recipes: &[Recipe],
    split: &Split,
    seed: u32,
    device: Device,
    gpu: GpuOptions,
    mut on_member: impl FnMut(&MemberResult),
) -> Result<EnsembleReport> {
    let mut members = Vec::with_capacity(recipes.len());
    for r in recipes {
        let m = member(data, r, split, seed, device, gpu)?;
        on_member(&m);
        members.push(m);
    }
    let ratings: Vec<f32> = split.valid.iter().map(|&r| data.ratings[r as usize]).collect();
    let val_mse = average_mse(&members.iter().collect::<Vec<_>>(), &ratings);
    Ok(EnsembleReport {
        members,
        val_mse,
        val_rmse: val_mse.sqrt(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_average_is_scored_by_hand() {
        let m = |p: Vec<f32>| MemberResult {
            recipe: "x".into(),
            val_mse: 0.0,
            seconds: 0.0,
            predictions: p,
        };
        let (a, b) = (m(vec![3.0, 5.0]), m(vec![4.0, 2.0]));
        // Means 3.5 and 3.5 against 4 and 3: errors 0.5 and 0.5.
        assert_eq!(average_mse(&[&a, &b], &[4.0, 3.0]), 0.25);
        assert_eq!(average_mse(&[&a], &[4.0, 3.0]), 2.5);
    }
}
