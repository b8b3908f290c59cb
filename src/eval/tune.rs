//! `mfcuda tune`: random or grid search over a recipe's lr, wd, factors,
//! epochs and (for the net) dropout, judged on an **inner** split of the training rows only.
//!
//! The protocol keeps the validation rows unseen until the end:
//! 1. the outer split (the notebook's, by default) sets the validation rows
//!    aside;
//! 2. the training rows are split again (`inner_pct` of them, numpy's
//!    permutation under the tune seed): every trial trains on the inner
//!    training rows and is scored on the inner validation rows;
//! 3. trial 0 is the recipe as given (its own settings, untouched); the
//!    trial with the lowest inner RMSE wins, so tuning never does worse on
//!    the inner split than the recipe it started from, and only then is the
//!    winner trained on all the training rows and scored, once, on the
//!    validation rows.
//!
//! Choosing between model families works the same way: tune each, and
//! compare their inner RMSEs, never their validation RMSEs.

use std::time::Instant;

use serde::Serialize;

use crate::backend::{Device, GpuOptions};
use crate::data::split::Split;
use crate::data::Ratings;
use crate::error::{Error, Result};
use crate::eval::ensemble;
use crate::recipe::{Overrides, Recipe, RecipeFile};
use crate::rng::Mt19937;
use crate::train::{train, Silent, TrainConfig};

/// The values one hyperparameter may take.
#[derive(Debug, Clone, PartialEq)]
pub enum Axis {
    /// These values (grid search tries each; random search picks one).
    List(Vec<f64>),
    /// Anywhere from `lo` to `hi`, drawn log-uniformly (random search only).
    Range(f64, f64),
}

impl std::str::FromStr for Axis {
    type Err = String;

    /// `a,b,c` is a list; `lo:hi` a range.
    fn from_str(s: &str) -> std::result::Result<Axis, String> {
        let num = |t: &str| -> std::result::Result<f64, String> {
            match t.trim().parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
                _ => Err(format!("'{t}' is not a positive number")),
            }
        };
        if let Some((lo, hi)) = s.split_once(':') {
            let (lo, hi) = (num(lo)?, num(hi)?);
            if lo > hi {
                return Err(format!("range {lo}:{hi} runs backwards"));
            }
            return Ok(Axis::Range(lo, hi));
        }
        Ok(Axis::List(
            s.split(',').map(num).collect::<std::result::Result<_, _>>()?,
        ))
    }
}

/// What to search: an axis per hyperparameter; `None` keeps the base's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Space {
    /// Learning rate (of the first stage; later stages keep their ratio).
    pub lr: Option<Axis>,
    /// Weight decay.
    pub wd: Option<Axis>,
    /// Embedding width (rounded to an integer).
    pub factors: Option<Axis>,
    /// Epochs in all (rounded to an integer).
    pub epochs: Option<Axis>,
    /// The net's hidden-layer dropout.
    pub dropout: Option<Axis>,
}

/// How to search.
#[derive(Debug, Clone)]
pub struct TuneOptions {
    /// Random search with this many trials; `None`: the full grid.
    pub trials: Option<usize>,
    /// Seeds the inner split and the random draws.
    pub seed: u32,
    /// The share of the training rows held out as the inner validation set.
    pub inner_pct: f64,
    /// The outer split (the validation rows set aside): fraction and seed.
    pub val_pct: f64,
    /// See `val_pct`.
    pub split_seed: u32,
    /// Seeds every trial's training.
    pub train_seed: u32,
    /// Where to train.
    pub device: Device,
    /// How the GPU runs.
    pub gpu: GpuOptions,
}

/// The values a trial trained with, tuned or the recipe's own.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Settings {
    /// The first stage's learning rate.
    pub lr: f32,
    /// Weight decay.
    pub wd: f32,
    /// Embedding width.
    pub factors: usize,
    /// Epochs in all.
    pub epochs: usize,
    /// The net's hidden-layer dropout; `None` for a model without one.
    pub dropout: Option<f32>,
}

impl Settings {
    /// The settings `recipe` trains with.
    pub fn of(recipe: &Recipe) -> Settings {
        Settings {
            lr: recipe.stages.first().map_or(0.0, |s| s.lr()),
            wd: recipe.wd,
            factors: recipe.model.factors,
            epochs: recipe.epochs(),
            dropout: recipe.model.kind.has_dropout().then_some(recipe.model.dropout.1),
        }
    }
}

/// One configuration tried.
#[derive(Debug, Clone, Serialize)]
pub struct Trial {
    /// The overrides it tried, laid over the base's.
    pub overrides: Overrides,
    /// Every value it trained with: the tuned ones and the recipe's own.
    pub settings: Settings,
    /// RMSE on the inner validation rows.
    pub inner_rmse: f64,
    /// Wall seconds of its training.
    pub seconds: f64,
}

/// The trials, the winner and its one validation score.
#[derive(Debug, Clone, Serialize)]
pub struct TuneReport {
    /// The recipe tuned.
    pub base: String,
    /// Inner training and validation rows.
    pub inner_rows: (usize, usize),
    /// Every trial, in the order run; trial 0 is the recipe as given.
    pub trials: Vec<Trial>,
    /// Index of the winner in `trials` (0 when no tuned trial beat the
    /// recipe on the inner split).
    pub best: usize,
    /// Index of the best tuned trial (the best from 1 on), if any ran.
    pub best_tuned: Option<usize>,
    /// Whether the best tuned trial beat trial 0, the recipe as given, on
    /// the inner split.
    pub beat_recipe: bool,
    /// The winner trained on all the training rows, scored once on the
    /// validation rows.
    pub val_rmse: f64,
    /// The winner as a recipe file.
    #[serde(skip)]
    pub file: RecipeFile,
}

/// The configurations to try: every combination of the listed values
/// (grid), or `trials` draws (random; ranges log-uniform).
pub fn configurations(
    space: &Space,
    base: &Overrides,
    trials: Option<usize>,
    seed: u32,
) -> Result<Vec<Overrides>> {
    let axes: [(&str, &Option<Axis>); 5] = [
        ("lr", &space.lr),
        ("wd", &space.wd),
        ("factors", &space.factors),
        ("epochs", &space.epochs),
        ("dropout", &space.dropout),
    ];
    let set = |o: &mut Overrides, name: &str, v: f64| match name {
        "lr" => o.lr = Some(v as f32),
        "wd" => o.wd = Some(v as f32),
        "factors" => o.factors = Some(v.round().max(1.0) as usize),
        "dropout" => o.dropout = Some(v as f32),
        _ => {
            o.epochs = Some(v.round().max(1.0) as usize);
            o.cycles = None;
        }
    };
    let mut out = vec![base.clone()];
    match trials {
        None => {
            for (name, axis) in axes {
                match axis {
                    None => {}
                    Some(Axis::Range(..)) => {
                        return Err(Error::invalid(
                            &format!("--{name}"),
                            "a range (lo:hi) is drawn from in a random search: give --trials N, \
                             or a list of values (a,b,c) for a grid",
                        ))
                    }
                    Some(Axis::List(values)) => {
                        out = out
                            .iter()
                            .flat_map(|o| {
                                values.iter().map(move |&v| {
                                    let mut o = o.clone();
                                    set(&mut o, name, v);
                                    o
                                })
                            })
                            .collect();
                    }
                }
            }
        }
        Some(n) => {
            let mut rng = Mt19937::new(seed ^ 0x5EED);
            let mut uniform = || rng.next_u32() as f64 / 4_294_967_296.0;
            out = (0..n)
                .map(|_| {
                    let mut o = base.clone();
                    for (name, axis) in axes {
                        match axis {
                            None => {}
                            Some(Axis::List(values)) => {
                                let k = ((uniform() * values.len() as f64) as usize).min(values.len() - 1);
                                set(&mut o, name, values[k]);
                            }
                            Some(Axis::Range(lo, hi)) => {
                                set(&mut o, name, (lo.ln() + uniform() * (hi.ln() - lo.ln())).exp())
                            }
                        }
                    }
                    o
                })
                .collect();
        }
    }
    Ok(out)
}

/// The inner split: `inner_pct` of `outer.train`, drawn by numpy's
/// permutation under `seed`, held out; rows are `data` rows.
pub fn inner_split(outer: &Split, inner_pct: f64, seed: u32) -> Result<Split> {
    let inner = Split::new(outer.train.len(), inner_pct, seed)?;
    let rows = |idx: &[u32]| idx.iter().map(|&i| outer.train[i as usize]).collect::<Vec<u32>>();
    Ok(Split {
        train: rows(&inner.train),
        valid: rows(&inner.valid),
    })
}

/// Tunes the recipe `base` (a built-in name, with `base_overrides` already
/// chosen) over `space`, calling `on_trial` as each trial ends. Trial 0 is
/// `base_overrides` themselves, the recipe as given; the tuned trials follow
/// (none when `space` has no axis), so the winner is never worse on the
/// inner split than the recipe it started from.
pub fn tune(
    data: &Ratings,
    base: &str,
    base_overrides: &Overrides,
    space: &Space,
    opts: &TuneOptions,
    mut on_trial: impl FnMut(usize, usize, &Trial),
) -> Result<TuneReport> {
    let outer = Split::new(data.len(), opts.val_pct, opts.split_seed)?;
    let inner = inner_split(&outer, opts.inner_pct, opts.seed)?;
    if opts.trials == Some(0) {
        return Err(Error::invalid("--trials", "must be at least 1"));
    }
    let mut configs = vec![base_overrides.clone()];
    if *space != Space::default() {
        configs.extend(configurations(space, base_overrides, opts.trials, opts.seed)?);
    }
    let file = |o: &Overrides| RecipeFile {
        base: base.to_string(),
        about: String::new(),
        overrides: o.clone(),
        members: Vec::new(),
    };
    let recipe = |o: &Overrides| -> Result<Recipe> { Ok(file(o).recipe(&Overrides::default())?.0) };
    let config = |recipe: Recipe, rows: &Split| {
        TrainConfig::on_rows(
            recipe,
            opts.train_seed,
            rows.clone(),
            data.len(),
            opts.device,
            opts.gpu,
        )
    };
    // Every configuration is checked before any training.
    let recipes = configs.iter().map(recipe).collect::<Result<Vec<Recipe>>>()?;
    let mut trials = Vec::with_capacity(configs.len());
    for (k, (o, r)) in configs.iter().zip(recipes).enumerate() {
        let settings = Settings::of(&r);
        let t0 = Instant::now();
        let report = train(data, &config(r, &inner), &mut Silent)?;
        let trial = Trial {
            overrides: o.clone(),
            settings,
            inner_rmse: report.val_rmse,
            seconds: t0.elapsed().as_secs_f64(),
        };
        on_trial(k, configs.len(), &trial);
        trials.push(trial);
    }
    let lowest = |from: usize| {
        (from..trials.len()).min_by(|&a, &b| trials[a].inner_rmse.total_cmp(&trials[b].inner_rmse))
    };
    let best_tuned = lowest(1);
    // A tie keeps the recipe as given.
    let best = lowest(0).unwrap_or(0);
    // Only now are the validation rows used: once, for the winner.
    let last = train(
        data,
        &config(recipe(&trials[best].overrides)?, &outer),
        &mut Silent,
    )?;
    Ok(TuneReport {
        base: base.to_string(),
        inner_rows: (inner.train.len(), inner.valid.len()),
        file: file(&trials[best].overrides),
        val_rmse: last.val_rmse,
        best,
        best_tuned,
        beat_recipe: best != 0,
        trials,
    })
}

/// One candidate of an ensemble choice: some of the members, averaged.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// The members' names (as given to [`choose_ensemble`]), joined by " + ".
    pub name: String,
    /// Indices of the members it averages.
    pub members: Vec<usize>,
    /// RMSE of their averaged predictions on the inner validation rows.
    pub inner_rmse: f64,
}

/// Every candidate, the winner and its one validation score.
#[derive(Debug, Clone, Serialize)]
pub struct EnsembleChoice {
    /// Every non-empty subset of the members, in order of size.
    pub candidates: Vec<Candidate>,
    /// Index of the winner in `candidates`.
    pub best: usize,
    /// The winner trained on all the training rows, scored once on the
    /// validation rows.
    pub val_rmse: f64,
    /// The winner as a recipe file.
    #[serde(skip)]
    pub file: RecipeFile,
}

/// Chooses among `files` (each a single recipe) and the averages of every
/// subset of them, by RMSE on the inner split; the winner alone is then
/// trained on all the training rows and scored once on the validation rows.
/// `names` name the files in the candidates (their file names, say: two
/// files of one base would otherwise read the same).
pub fn choose_ensemble(
    data: &Ratings,
    files: &[RecipeFile],
    names: &[String],
    opts: &TuneOptions,
    mut on_candidate: impl FnMut(&Candidate),
) -> Result<EnsembleChoice> {
    if files.is_empty() || files.len() > 6 {
        return Err(Error::invalid(
            "--members",
            format!("{} members: give 1 to 6", files.len()),
        ));
    }
    if names.len() != files.len() {
        return Err(Error::invalid(
            "--members",
            format!("{} names for {} members", names.len(), files.len()),
        ));
    }
    let recipes = files
        .iter()
        .map(|f| f.recipe(&Overrides::default()).map(|r| r.0))
        .collect::<Result<Vec<_>>>()?;
    let outer = Split::new(data.len(), opts.val_pct, opts.split_seed)?;
    let inner = inner_split(&outer, opts.inner_pct, opts.seed)?;
    let run = |r, split: &Split| {
        ensemble::member(
            data,
            r,
            split,
            opts.train_seed,
            opts.device,
            opts.gpu,
            &mut Silent,
        )
    };
    let members = recipes
        .iter()
        .map(|r| run(r, &inner))
        .collect::<Result<Vec<_>>>()?;
    let inner_ratings: Vec<f32> = inner.valid.iter().map(|&r| data.ratings[r as usize]).collect();
    let mut subsets: Vec<Vec<usize>> = (1..1u32 << files.len())
        .map(|mask| (0..files.len()).filter(|&i| mask >> i & 1 == 1).collect())
        .collect();
    subsets.sort_by_key(|s: &Vec<usize>| s.len());
    let candidates: Vec<Candidate> = subsets
        .into_iter()
        .map(|idx| {
            let picked: Vec<&ensemble::MemberResult> = idx.iter().map(|&i| &members[i]).collect();
            let c = Candidate {
                name: idx
                    .iter()
                    .map(|&i| names[i].as_str())
                    .collect::<Vec<_>>()
                    .join(" + "),
                inner_rmse: ensemble::average_mse(&picked, &inner_ratings).sqrt(),
                members: idx,
            };
            on_candidate(&c);
            c
        })
        .collect();
    let best = (0..candidates.len())
        .min_by(|&a, &b| candidates[a].inner_rmse.total_cmp(&candidates[b].inner_rmse))
        .unwrap_or(0);
    // Only now are the validation rows used: once, for the winner.
    let chosen: Vec<Recipe> = candidates[best]
        .members
        .iter()
        .map(|&i| recipes[i].clone())
        .collect();
    let last = ensemble::train_ensemble(
        data,
        &chosen,
        &outer,
        opts.train_seed,
        opts.device,
        opts.gpu,
        &mut Silent,
        |_| {},
    )?;
    let file = match candidates[best].members.as_slice() {
        [one] => files[*one].clone(),
        many => RecipeFile {
            members: many.iter().map(|&i| files[i].clone()).collect(),
            ..Default::default()
        },
    };
    Ok(EnsembleChoice {
        candidates,
        best,
        val_rmse: last.val_rmse,
        file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_parse_and_grids_multiply() {
        assert_eq!("0.01,0.02".parse::<Axis>().unwrap(), Axis::List(vec![0.01, 0.02]));
        assert_eq!("0.001:0.1".parse::<Axis>().unwrap(), Axis::Range(0.001, 0.1));
        for bad in ["", "a", "0.1:0.01", "-1", "1:x"] {
            assert!(bad.parse::<Axis>().is_err(), "{bad}");
        }
        let space = Space {
            lr: Some(Axis::List(vec![0.01, 0.02, 0.03])),
            epochs: Some(Axis::List(vec![10.0, 20.0])),
            ..Default::default()
        };
        let grid = configurations(&space, &Overrides::default(), None, 1).unwrap();
        assert_eq!(grid.len(), 6);
        assert_eq!((grid[5].lr, grid[5].epochs), (Some(0.03), Some(20)));
        let ranged = Space {
            wd: Some(Axis::Range(0.01, 0.1)),
            ..Default::default()
        };
        assert!(configurations(&ranged, &Overrides::default(), None, 1).is_err());
        let draws = configurations(&ranged, &Overrides::default(), Some(50), 1).unwrap();
        assert_eq!(draws.len(), 50);
        assert!(draws.iter().all(|o| (0.01..=0.1).contains(&o.wd.unwrap())));
        assert_eq!(
            draws,
            configurations(&ranged, &Overrides::default(), Some(50), 1).unwrap(),
            "seeded"
        );
    }

    #[test]
    fn settings_read_every_value_a_recipe_trains_with() {
        let sparse = crate::recipe::find("sparse").unwrap();
        let s = Settings::of(&sparse);
        assert_eq!(
            (s.lr, s.wd, s.factors, s.epochs, s.dropout),
            (0.02, 0.06, 100, 20, None)
        );
        let o = Overrides {
            epochs: Some(4),
            lr: Some(0.01),
            ..Default::default()
        };
        let s = Settings::of(&sparse.with_overrides(&o).unwrap());
        assert_eq!((s.lr, s.epochs, s.factors), (0.01, 4, 100));
        let net = Settings::of(&crate::recipe::find("net").unwrap());
        assert_eq!(net.dropout, Some(0.5));
    }

    #[test]
    fn the_inner_split_never_touches_the_validation_rows() {
        let outer = Split::new(1000, 0.2, 42).unwrap();
        let inner = inner_split(&outer, 0.2, 7).unwrap();
        assert_eq!(inner.train.len() + inner.valid.len(), outer.train.len());
        let valid: std::collections::HashSet<u32> = outer.valid.iter().copied().collect();
        assert!(inner.train.iter().chain(&inner.valid).all(|r| !valid.contains(r)));
    }
}
