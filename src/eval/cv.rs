//! k-fold cross-validation in Surprise's protocol, so that the numbers can
//! be set beside Surprise's headline table: the rows are dealt into `k`
//! folds by one seeded permutation ([`Split::kfold`]); for each fold the
//! recipe trains on the other folds and is tested on it; RMSE and MAE are
//! over the fold's predictions clipped to the rating range (Surprise's
//! `predict(..., clip=True)`), and the summary is their mean and standard
//! deviation (numpy's, ddof = 0), as are the fit and test times (Surprise's
//! `fit_time` and `test_time`) and, when asked for, the ranking metrics.

use std::time::Instant;

use serde::Serialize;

use crate::backend::{Device, GpuOptions};
use crate::data::split::Split;
use crate::data::{Examples, Ratings};
use crate::error::Result;
use crate::eval::ranking::{full_ranking_on, RankingMetrics, RankingOptions};
use crate::model::ModelSpec;
use crate::recipe::Recipe;
use crate::train::{train, Silent, TrainConfig};
use crate::trained::ensemble::ranking_refused;

/// How to cross-validate.
#[derive(Debug, Clone)]
pub struct CvOptions {
    /// Number of folds.
    pub folds: usize,
    /// Seeds the permutation that deals the folds.
    pub fold_seed: u32,
    /// Seeds each fold's training (the same for every fold).
    pub seed: u32,
    /// Where to train.
    pub device: Device,
    /// How the GPU runs.
    pub gpu: GpuOptions,
    /// Ranking metrics too, at this cut-off and threshold.
    pub ranking: Option<RankingOptions>,
}

impl CvOptions {
    /// Ok when these options apply to `members` (named `name`): ranking
    /// metrics rank one model's scores, so an ensemble refuses `--metrics`.
    pub fn check(&self, name: &str, members: &[Recipe]) -> Result<()> {
        if members.len() > 1 && self.ranking.is_some() {
            let names: Vec<&str> = members.iter().map(|m| m.name).collect();
            return Err(ranking_refused("--metrics", name, &names));
        }
        Ok(())
    }
}

/// One fold's figures.
#[derive(Debug, Clone, Serialize)]
pub struct FoldResult {
    /// 0-based fold.
    pub fold: usize,
    /// Rows trained on and tested on.
    pub train_rows: usize,
    /// Rows tested on.
    pub test_rows: usize,
    /// RMSE of the clipped predictions.
    pub rmse: f64,
    /// MAE of the clipped predictions.
    pub mae: f64,
    /// Wall seconds of training.
    pub fit_seconds: f64,
    /// Wall seconds of the test phase: gathering the test rows, predicting
    /// each and scoring the predictions (Surprise's `test_time`; the full
    /// ranking is timed apart, in `ranking.seconds`).
    pub test_seconds: f64,
    /// The device that trained it.
    pub device: String,
    /// Full-ranking metrics, when asked for.
    pub ranking: Option<RankingMetrics>,
}

/// Every fold, and the summary.
#[derive(Debug, Clone, Serialize)]
pub struct CvReport {
    /// Recipe name.
    pub recipe: String,
    /// The folds, in order.
    pub folds: Vec<FoldResult>,
    /// Mean and standard deviation of the folds' RMSE.
    pub rmse: (f64, f64),
    /// Mean and standard deviation of the folds' MAE.
    pub mae: (f64, f64),
    /// Mean wall seconds a fold (training and testing).
    pub seconds_per_fold: f64,
    /// Mean and standard deviation of the folds' fit seconds.
    pub fit_seconds: (f64, f64),
    /// Mean and standard deviation of the folds' test seconds.
    pub test_seconds: (f64, f64),
    /// Mean and standard deviation of each ranking metric, when asked for.
    pub ranking: Option<RankingSummary>,
}

/// The folds' ranking metrics: each a mean and a standard deviation
/// (ddof = 0).
#[derive(Debug, Clone, Serialize)]
pub struct RankingSummary {
    /// The cut-off.
    pub k: usize,
    /// The relevance threshold.
    pub threshold: f32,
    /// Precision@k.
    pub precision: (f64, f64),
    /// Recall@k.
    pub recall: (f64, f64),
    /// NDCG@k.
    pub ndcg: (f64, f64),
    /// MAP@k.
    pub map: (f64, f64),
    /// Catalogue coverage.
    pub coverage: (f64, f64),
    /// Wall seconds of the ranking.
    pub seconds: (f64, f64),
}

impl RankingSummary {
    /// The summary of `folds`' ranking metrics; `None` when a fold has none.
    pub fn of(folds: &[FoldResult]) -> Option<RankingSummary> {
        let all = folds
            .iter()
            .map(|f| f.ranking.as_ref())
            .collect::<Option<Vec<&RankingMetrics>>>()?;
        let first = all.first()?;
        let pick = |f: fn(&RankingMetrics) -> f64| mean_std(&all.iter().map(|r| f(r)).collect::<Vec<f64>>());
        Some(RankingSummary {
            k: first.k,
            threshold: first.threshold,
            precision: pick(|r| r.precision),
            recall: pick(|r| r.recall),
            ndcg: pick(|r| r.ndcg),
            map: pick(|r| r.map),
            coverage: pick(|r| r.coverage),
            seconds: pick(|r| r.seconds),
        })
    }
}

/// Mean and standard deviation (ddof = 0, as numpy and Surprise).
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// RMSE and MAE of the model's predictions of `rows`, each clipped to the
/// model's rating range.
pub fn rmse_mae(spec: &ModelSpec, params: &[f32], rows: &Examples) -> (f64, f64) {
    let preds = spec.predict(params, &rows.users, &rows.items);
    clipped_rmse_mae(&preds, &rows.ratings, spec.y_range)
}

/// RMSE and MAE of `preds` against `ratings`, each prediction clipped to `range`.
pub fn clipped_rmse_mae(preds: &[f32], ratings: &[f32], (lo, hi): (f32, f32)) -> (f64, f64) {
    let (mut sq, mut abs) = (0.0f64, 0.0f64);
    for (p, &y) in preds.iter().zip(ratings) {
        let e = p.clamp(lo, hi) as f64 - y as f64;
        sq += e * e;
        abs += e.abs();
    }
    let n = ratings.len().max(1) as f64;
    ((sq / n).sqrt(), abs / n)
}

/// Cross-validates `recipe` on `data`, calling `on_fold` as each fold ends.
pub fn cross_validate(
    data: &Ratings,
    recipe: &Recipe,
    opts: &CvOptions,
    on_fold: impl FnMut(&FoldResult),
) -> Result<CvReport> {
    cross_validate_members(data, recipe.name, std::slice::from_ref(recipe), opts, on_fold)
}

/// Cross-validates the average of `members` (an ensemble named `name`, or
/// one recipe): on each fold every member trains on the other folds, and
/// the mean of their raw predictions, clipped to the rating range, is
/// scored. The fit time is all the members' training; the test time their
/// predicting, averaging and scoring. Ranking metrics rank one model's
/// scores, so an ensemble is refused with `--metrics`.
pub fn cross_validate_members(
    data: &Ratings,
    name: &str,
    members: &[Recipe],
    opts: &CvOptions,
    mut on_fold: impl FnMut(&FoldResult),
) -> Result<CvReport> {
    opts.check(name, members)?;
    let mut folds = Vec::with_capacity(opts.folds);
    for fold in 0..opts.folds {
        let split = Split::kfold(data.len(), opts.folds, fold, opts.fold_seed)?;
        let t0 = Instant::now();
        let mut reports = Vec::with_capacity(members.len());
        for recipe in members {
            let cfg = TrainConfig::on_rows(
                recipe.clone(),
                opts.seed,
                split.clone(),
                data.len(),
                opts.device,
                opts.gpu,
            );
            reports.push(train(data, &cfg, &mut Silent)?);
        }
        let fit_seconds = t0.elapsed().as_secs_f64();
        // The test phase, timed alone: the rows gathered, predicted, averaged, scored.
        let t1 = Instant::now();
        let test = Examples::select(data, &split.valid);
        let (rmse, mae) = match reports.as_slice() {
            [one] => rmse_mae(&one.spec, &one.params, &test),
            many => {
                let preds: Vec<Vec<f32>> = many
                    .iter()
                    .map(|r| r.spec.predict(&r.params, &test.users, &test.items))
                    .collect();
                let mean: Vec<f32> = (0..test.len())
                    .map(|k| (preds.iter().map(|p| p[k] as f64).sum::<f64>() / preds.len() as f64) as f32)
                    .collect();
                clipped_rmse_mae(&mean, &test.ratings, many[0].spec.y_range)
            }
        };
        let test_seconds = t1.elapsed().as_secs_f64();
        let report = &reports[0];
        let ranking = match opts.ranking {
            Some(r) => {
                let train_rows = Examples::select(data, &split.train);
                Some(full_ranking_on(
                    opts.device,
                    &report.spec,
                    &report.params,
                    &train_rows,
                    &test,
                    r,
                )?)
            }
            None => None,
        };
        let result = FoldResult {
            fold,
            train_rows: split.train.len(),
            test_rows: split.valid.len(),
            rmse,
            mae,
            fit_seconds,
            test_seconds,
            device: report.device.clone(),
            ranking,
        };
        on_fold(&result);
        folds.push(result);
    }
    let pick = |f: fn(&FoldResult) -> f64| folds.iter().map(f).collect::<Vec<f64>>();
    Ok(CvReport {
        recipe: name.to_string(),
        rmse: mean_std(&pick(|f| f.rmse)),
        mae: mean_std(&pick(|f| f.mae)),
        seconds_per_fold: mean_std(&pick(|f| f.fit_seconds + f.test_seconds)).0,
        fit_seconds: mean_std(&pick(|f| f.fit_seconds)),
        test_seconds: mean_std(&pick(|f| f.test_seconds)),
        ranking: RankingSummary::of(&folds),
        folds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_std_as_numpy() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m, 2.5);
        assert!((s - 1.118033988749895).abs() < 1e-15, "{s}");
    }

    fn fold(fold: usize, precision: f64, ranked: bool) -> FoldResult {
        FoldResult {
            fold,
            train_rows: 80,
            test_rows: 20,
            rmse: 0.9,
            mae: 0.7,
            fit_seconds: 1.0,
            test_seconds: 0.001,
            device: "cpu".into(),
            ranking: ranked.then(|| RankingMetrics {
                k: 10,
                threshold: 4.0,
                users: 5,
                skipped: 0,
                precision,
                recall: 2.0 * precision,
                ndcg: 0.5,
                map: 0.25,
                coverage: 0.1,
                seconds: 0.5,
                device: "cpu".into(),
            }),
        }
    }

    #[test]
    fn the_ranking_columns_get_a_mean_and_std() {
        let folds = [fold(0, 0.1, true), fold(1, 0.3, true)];
        let s = RankingSummary::of(&folds).unwrap();
        assert_eq!(s.k, 10);
        assert!((s.precision.0 - 0.2).abs() < 1e-12 && (s.precision.1 - 0.1).abs() < 1e-12);
        assert!((s.recall.0 - 0.4).abs() < 1e-12 && (s.recall.1 - 0.2).abs() < 1e-12);
        assert_eq!(
            (s.ndcg, s.map, s.coverage, s.seconds),
            ((0.5, 0.0), (0.25, 0.0), (0.1, 0.0), (0.5, 0.0))
        );
        assert!(RankingSummary::of(&[fold(0, 0.1, true), fold(1, 0.3, false)]).is_none());
        assert!(RankingSummary::of(&[]).is_none());
    }
}
