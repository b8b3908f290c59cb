//! Recipes: each notebook experiment as plain data (model, optimizer,
//! schedule), run by the one training loop in [`crate::train`].

use serde::{Deserialize, Serialize};

use crate::data::split::{NOTEBOOK_SPLIT_SEED, NOTEBOOK_VAL_PCT};
use crate::error::{Error, Result};
use crate::model::{ModelConfig, ModelKind};
use crate::ops::Storage;
use crate::optim::schedule::Schedule;
use crate::optim::{Optimizer, Training};

/// How an epoch orders the training rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EpochOrder {
    /// numpy's permutation of the rows, drawn each epoch from the run's
    /// generator: the notebook's order.
    Shuffle,
    /// Each user's ratings together, in runs of at most
    /// [`crate::data::runs::RUN_CHUNK`], the runs in a fresh pseudo-random
    /// order each epoch: sparse SGD's order, drawn without a shuffle.
    UserRuns,
}

/// One notebook experiment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recipe {
    /// Name used on the command line.
    pub name: &'static str,
    /// One line on what it reproduces.
    pub about: &'static str,
    /// The model: kind, widths, initialisation and dropout.
    pub model: ModelConfig,
    /// Dense optimizer or sparse SGD.
    pub training: Training,
    /// Coupled weight decay.
    pub wd: f32,
    /// Batch size.
    pub batch_size: usize,
    /// Successive `fit` calls; optimizer state carries over between them.
    pub stages: Vec<Schedule>,
    /// The order of each epoch's rows.
    pub order: EpochOrder,
    /// The notebook's final validation MSE, for the notebook's experiments.
    pub notebook_mse: Option<f64>,
}

/// Every recipe, the default (`learner`) first.
pub fn all() -> Vec<Recipe> {
    let sgd = Training::Dense {
        optimizer: Optimizer::SGD,
    };
    let adam = Training::Dense {
        optimizer: Optimizer::ADAM,
    };
    let two_stages = |lr: f32| {
        vec![
            Schedule::Constant { lr, epochs: 3 },
            Schedule::Constant {
                lr: lr / 10.0,
                epochs: 3,
            },
        ]
    };
    let base = Recipe {
        name: "learner",
        about: "fastai's collab learner: EmbeddingDotBias, Adam 1e-2, wd 2e-4, SGDR fit(1e-2, 2, cycle_len=1, cycle_mult=2)",
        model: ModelConfig {
            kind: ModelKind::DotBias,
            factors: 50,
            hidden: 10,
            emb_init: (-0.05, 0.05),
            dropout: (0.05, 0.5),
        },
        training: adam,
        wd: 2e-4,
        batch_size: 64,
        stages: vec![Schedule::sgdr_cycles(1e-2, 2, 1, 2)],
        order: EpochOrder::Shuffle,
        notebook_mse: Some(0.7342),
    };
    let sparse = Recipe {
        name: "sparse",
        about: "biased MF (Funk SVD) by sparse SGD (Hogwild on the GPU, two stratified threads on the CPU), \
                100 factors, lr 0.02 then 0.006, L2 0.06",
        model: ModelConfig {
            kind: ModelKind::Svd,
            factors: 100,
            emb_init: (-0.1, 0.1),
            ..base.model
        },
        training: Training::Sparse {
            storage: Storage::F32,
        },
        wd: 0.06,
        stages: vec![
            Schedule::Constant { lr: 0.02, epochs: 15 },
            Schedule::Constant { lr: 0.006, epochs: 5 },
        ],
        order: EpochOrder::UserRuns,
        notebook_mse: None,
        ..base.clone()
    };
    vec![
        base.clone(),
        Recipe {
            name: "dot",
            about: "EmbeddingDot, SGD 0.1 momentum 0.9 wd 1e-5 for 3 epochs, then lr 0.01 for 3",
            model: ModelConfig {
                kind: ModelKind::Dot,
                emb_init: (0.0, 0.05),
                ..base.model
            },
            training: sgd,
            wd: 1e-5,
            stages: two_stages(0.1),
            notebook_mse: Some(1.1341),
            ..base.clone()
        },
        Recipe {
            name: "dotbias",
            about: "EmbeddingDotBias, SGD 0.1 momentum 0.9 wd 2e-4 for 3 epochs, then lr 0.01 for 3",
            model: ModelConfig {
                kind: ModelKind::DotBias,
                emb_init: (-0.01, 0.01),
                ..base.model
            },
            training: sgd,
            wd: 2e-4,
            stages: two_stages(0.1),
            notebook_mse: Some(0.7794),
            ..base.clone()
        },
        sparse.clone(),
        Recipe {
            name: "sparse-bf16",
            about: "the sparse recipe with its factor tables stored as bfloat16 (f32 arithmetic): half the bytes a rating",
            training: Training::Sparse { storage: Storage::Bf16 },
            ..sparse
        },
        Recipe {
            name: "adagrad",
            about: "the learner's model and SGDR schedule under Adagrad (PyTorch's defaults) at lr 0.2",
            training: Training::Dense {
                optimizer: Optimizer::Adagrad(Default::default()),
            },
            stages: vec![Schedule::sgdr_cycles(0.2, 2, 1, 2)],
            notebook_mse: None,
            ..base.clone()
        },
        Recipe {
            name: "net",
            about: "EmbeddingNet (dropout 0.05/0.5, 10 hidden), Adam 1e-3 wd 1e-5 for 3 epochs, then 3 more",
            model: ModelConfig {
                kind: ModelKind::Net,
                emb_init: (-0.01, 0.01),
                ..base.model
            },
            training: adam,
            wd: 1e-5,
            stages: vec![
                Schedule::Constant { lr: 1e-3, epochs: 3 },
                Schedule::Constant { lr: 1e-3, epochs: 3 },
            ],
            notebook_mse: Some(0.7728),
            ..base
        },
    ]
}

/// Recipes kept as files (`recipes/*.toml`, compiled in): what `mfcuda
/// tune` chose, by name. `best` is the ensemble `mfcuda tune --members`
/// chose from a tuned `sparse` and a tuned `learner`.
pub const FILES: &[(&str, &str)] = &[("best", include_str!("../recipes/best.toml"))];

/// The recipe file called `name`, if there is one.
pub fn find_file(name: &str) -> Option<RecipeFile> {
    FILES.iter().find(|f| f.0 == name).map(|f| {
        RecipeFile::parse(f.1, &format!("recipes/{name}.toml")).expect("the compiled-in recipe files parse")
    })
}

/// Every recipe's name: the table's, then the files'.
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<&str> = all().iter().map(|r| r.name).collect();
    names.extend(FILES.iter().map(|f| f.0));
    names
}

/// The recipe called `name`.
pub fn find(name: &str) -> Result<Recipe> {
    all().into_iter().find(|r| r.name == name).ok_or_else(|| {
        Error::invalid(
            "--recipe",
            format!("no recipe '{name}' (choose one of: {})", names().join(", ")),
        )
    })
}

/// What a run asks for: a recipe by name (from the table or a compiled-in
/// file such as `best`) or a recipe file, and the overrides. `mfcuda train`
/// and `cv` build it from their flags, and the Python package from its
/// keywords, so that both resolve it by the same rules and messages.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    /// `--recipe`.
    pub name: String,
    /// `--recipe-file`, which takes the place of the name.
    pub file: Option<std::path::PathBuf>,
    /// The overrides given.
    pub overrides: Overrides,
}

impl Request {
    /// The recipe file the request names, if it names one.
    pub fn file(&self) -> Result<Option<RecipeFile>> {
        match &self.file {
            Some(path) => Ok(Some(RecipeFile::load(path)?)),
            None => Ok(find_file(&self.name)),
        }
    }

    /// The members, when the request names an ensemble (`best`). An
    /// ensemble trains its members as its file says, so no override may be
    /// given, nor any of `more` (the caller's further options, in words,
    /// given when `more_given`).
    pub fn ensemble(&self, more: &str, more_given: bool) -> Result<Option<Vec<Recipe>>> {
        let Some(members) = self.file()?.map(|f| f.ensemble()).transpose()?.flatten() else {
            return Ok(None);
        };
        if self.overrides != Overrides::default() || more_given {
            return Err(Error::invalid(
                &format!("--recipe {}", self.name),
                format!(
                    "an ensemble trains its members as its file says: --epochs, --lr and the other \
                     overrides{more} do not apply"
                ),
            ));
        }
        Ok(Some(members))
    }

    /// What the request trains, by name: an ensemble's members (named by its
    /// file, or by the recipe typed), or the one recipe it names.
    pub fn members(&self) -> Result<(String, Vec<Recipe>)> {
        match self.ensemble("", false)? {
            Some(members) => Ok((
                match (&self.file, members.as_slice()) {
                    (_, [one]) => one.name.to_string(),
                    (Some(path), _) => path.display().to_string(),
                    (None, _) => self.name.clone(),
                },
                members,
            )),
            None => {
                let one = self.resolve()?.0;
                Ok((one.name.to_string(), vec![one]))
            }
        }
    }

    /// The one recipe the request names, its overrides applied and checked.
    pub fn resolve(&self) -> Result<(Recipe, Overrides)> {
        match self.file()? {
            // A recipe kept as a file (`--recipe best`) is named by the flag typed.
            Some(file) => file.recipe(&self.overrides).map_err(|e| match e {
                Error::Invalid { name, msg } if name == "--recipe-file" && self.file.is_none() => {
                    Error::invalid("--recipe", format!("{}: {msg}", self.name))
                }
                e => e,
            }),
            None => Ok((
                find(&self.name)?.with_overrides(&self.overrides)?,
                self.overrides.clone(),
            )),
        }
    }
}

/// A count given as a signed number (`--epochs`, `--cycles`): `flag`'s
/// error for one below zero (zero is refused later, with the range).
pub fn count(flag: &str, n: Option<i64>) -> Result<Option<usize>> {
    match n {
        Some(n) if n < 0 => Err(Error::invalid(
            flag,
            format!("{n}: must be a whole number of 1 or more"),
        )),
        Some(n) => Ok(Some(n as usize)),
        None => Ok(None),
    }
}

/// The longest run a recipe may ask for, in epochs.
pub const MAX_EPOCHS: usize = 10_000;

/// Command-line changes to a recipe. `None` keeps the recipe's value. In a
/// recipe file ([`RecipeFile`]) they are the `[overrides]` table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Overrides {
    /// Epochs in all, split across the stages in the recipe's proportions.
    pub epochs: Option<usize>,
    /// Whole SGDR cycles, for a recipe with an SGDR stage (each cycle
    /// `cycle_mult` times longer than the last).
    pub cycles: Option<usize>,
    /// The first stage's learning rate; later stages keep their ratio to it.
    pub lr: Option<f32>,
    /// Weight decay.
    pub wd: Option<f32>,
    /// Embedding width.
    pub factors: Option<usize>,
    /// Batch size.
    pub batch_size: Option<usize>,
    /// The net's hidden-layer dropout (the notebook's 0.5; the embedding
    /// dropout keeps its 0.05).
    pub dropout: Option<f32>,
    /// Another dense optimizer, for a recipe file: `[overrides.optimizer]`
    /// with `kind = "adagrad"` and its hyperparameters
    /// ([`crate::optim::Optimizer`]).
    pub optimizer: Option<Optimizer>,
}

impl Recipe {
    /// Applies `o` and checks every value.
    pub fn with_overrides(mut self, o: &Overrides) -> Result<Recipe> {
        if o.epochs.is_some() && o.cycles.is_some() {
            return Err(Error::invalid(
                "--cycles",
                "give --epochs (epochs in all) or --cycles (whole SGDR cycles), not both",
            ));
        }
        if let Some(n) = o.epochs {
            if n == 0 || n > MAX_EPOCHS {
                return Err(Error::invalid(
                    "--epochs",
                    format!("{n}: must be from 1 to {MAX_EPOCHS}"),
                ));
            }
            let split = split_epochs(&self.stages.iter().map(Schedule::epochs).collect::<Vec<_>>(), n);
            self.stages = self
                .stages
                .iter()
                .zip(split)
                .filter(|&(_, e)| e > 0)
                .map(|(s, e)| s.with_epochs(e))
                .collect();
        }
        if let Some(c) = o.cycles {
            if c == 0 {
                return Err(Error::invalid("--cycles", "must be at least 1"));
            }
            let name = self.name;
            let stage = self
                .stages
                .iter_mut()
                .find(|s| matches!(s, Schedule::Sgdr { .. }))
                .ok_or_else(|| {
                    Error::invalid(
                        "--cycles",
                        format!("the {name} recipe has no SGDR stage; --epochs sets its length"),
                    )
                })?;
            if let Schedule::Sgdr {
                lr,
                cycle_len,
                cycle_mult,
                ..
            } = *stage
            {
                *stage = Schedule::sgdr_cycles(lr, c, cycle_len, cycle_mult);
            }
            if self.epochs() > MAX_EPOCHS {
                return Err(Error::invalid(
                    "--cycles",
                    format!(
                        "{c} cycles make {} epochs in all, each cycle longer than the last; at most {MAX_EPOCHS}",
                        self.epochs()
                    ),
                ));
            }
        }
        if let Some(lr) = o.lr {
            if !(lr.is_finite() && lr > 0.0) {
                return Err(Error::invalid("--lr", format!("{lr} is not a positive number")));
            }
            let first = self.stages[0].lr();
            for s in &mut self.stages {
                *s = s.with_lr(s.lr() / first * lr);
            }
        }
        if let Some(wd) = o.wd {
            if !(wd.is_finite() && wd >= 0.0) {
                return Err(Error::invalid("--wd", format!("{wd} is not a number ≥ 0")));
            }
            self.wd = wd;
        }
        if let Some(f) = o.factors {
            if f == 0 {
                return Err(Error::invalid("--factors", "must be at least 1"));
            }
            self.model.factors = f;
        }
        if let Some(p) = o.dropout {
            if self.model.kind != ModelKind::Net {
                return Err(Error::invalid(
                    "--dropout",
                    format!("the {} recipe has no dropout; only the net does", self.name),
                ));
            }
            if !(0.0..1.0).contains(&p) {
                return Err(Error::invalid("--dropout", format!("{p} is not in [0, 1)")));
            }
            self.model.dropout.1 = p;
        }
        if let Some(optimizer) = o.optimizer {
            let Training::Dense { .. } = self.training else {
                return Err(Error::invalid(
                    "optimizer",
                    format!(
                        "the {} recipe trains by sparse SGD, one rating at a time; a dense optimizer \
                         ({}) needs a dense recipe",
                        self.name,
                        optimizer.name()
                    ),
                ));
            };
            self.training = Training::Dense { optimizer };
        }
        if let Some(b) = o.batch_size {
            if !self.model.kind.batched() {
                return Err(Error::invalid(
                    "--batch-size",
                    format!(
                        "the {} recipe is sparse SGD, which updates the factors one rating at a time \
                         (as Surprise's SVD); there is no batch to size",
                        self.name
                    ),
                ));
            }
            if b == 0 {
                return Err(Error::invalid("--batch-size", "must be at least 1"));
            }
            self.batch_size = b;
        }
        Ok(self)
    }

    /// Total epochs over all stages.
    pub fn epochs(&self) -> usize {
        self.stages.iter().map(Schedule::epochs).sum()
    }
}

/// A recipe as a file: a built-in recipe and the changes to it, in TOML.
/// `mfcuda tune` writes one for its winner, and `train --recipe-file`
/// (like `cv` and `tune`) reads it back:
///
/// ```toml
/// base = "sparse"
/// about = "chosen by mfcuda tune ..."
///
/// [overrides]
/// epochs = 40
/// lr = 0.01
/// wd = 0.05
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeFile {
    /// The built-in recipe it starts from (empty for an ensemble).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub base: String,
    /// Where it came from, in words.
    #[serde(default)]
    pub about: String,
    /// What it changes.
    #[serde(default, skip_serializing_if = "is_default")]
    pub overrides: Overrides,
    /// An ensemble instead: these recipes, trained alone, their
    /// predictions averaged (`[[members]]` tables, each a base and its
    /// overrides).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<RecipeFile>,
}

fn is_default(o: &Overrides) -> bool {
    *o == Overrides::default()
}

impl RecipeFile {
    /// Reads a recipe file; errors name the file, and the line for bad TOML.
    pub fn load(path: &std::path::Path) -> Result<RecipeFile> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            file: name.clone(),
            source: e,
        })?;
        Self::parse(&text, &name)
    }

    /// Parses a recipe file's text; `name` is used in messages.
    pub fn parse(text: &str, name: &str) -> Result<RecipeFile> {
        toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| {
                text.as_bytes()[..s.start.min(text.len())]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1
            });
            let msg = e.message().to_string();
            match line {
                Some(line) => Error::Line {
                    file: name.to_string(),
                    line: line as u64,
                    msg,
                },
                None => Error::File {
                    file: name.to_string(),
                    msg,
                },
            }
        })
    }

    /// The file's text, as `mfcuda tune` writes it.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::invalid("recipe file", e.to_string()))
    }

    /// The recipes of an ensemble file, each with its overrides applied;
    /// `None` for a single recipe.
    pub fn ensemble(&self) -> Result<Option<Vec<Recipe>>> {
        if self.members.is_empty() {
            return Ok(None);
        }
        let recipes = self
            .members
            .iter()
            .map(|m| m.recipe(&Overrides::default()).map(|r| r.0))
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(recipes))
    }

    /// The built-in recipe with the file's overrides applied, and those
    /// overrides with `more` (command-line flags) laid over them.
    pub fn recipe(&self, more: &Overrides) -> Result<(Recipe, Overrides)> {
        if !self.members.is_empty() {
            return Err(Error::invalid(
                "--recipe-file",
                format!(
                    "it is an ensemble of {} recipes; train it with no other flags, or use one member",
                    self.members.len()
                ),
            ));
        }
        let o = &self.overrides;
        let merged = Overrides {
            epochs: more
                .epochs
                .or(if more.cycles.is_some() { None } else { o.epochs }),
            cycles: more
                .cycles
                .or(if more.epochs.is_some() { None } else { o.cycles }),
            lr: more.lr.or(o.lr),
            wd: more.wd.or(o.wd),
            factors: more.factors.or(o.factors),
            batch_size: more.batch_size.or(o.batch_size),
            dropout: more.dropout.or(o.dropout),
            optimizer: more.optimizer.or(o.optimizer),
        };
        Ok((find(&self.base)?.with_overrides(&merged)?, merged))
    }
}

/// `total` epochs split across stages of `stages` epochs each, in their
/// proportions: each stage gets its share rounded down, and what is left
/// goes one epoch each to the largest remainders, earlier stages first.
/// A stage may get none.
pub fn split_epochs(stages: &[usize], total: usize) -> Vec<usize> {
    let sum: usize = stages.iter().sum::<usize>().max(1);
    let mut out: Vec<usize> = stages.iter().map(|&e| total * e / sum).collect();
    let left = total - out.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..stages.len()).collect();
    order.sort_by_key(|&k| (std::cmp::Reverse(total * stages[k] % sum), k));
    for k in order.into_iter().take(left) {
        out[k] += 1;
    }
    out
}

/// Whether a run is the notebook's own setup, so that a recipe's
/// [`Recipe::notebook_mse`] is a fair yardstick for it: the bundled ratings
/// (`bundled_data`), the recipe unchanged (no `overrides`), and the
/// notebook's split, 20% held out under seed 42.
pub fn is_notebook_setup(bundled_data: bool, overrides: &Overrides, val_pct: f64, split_seed: u32) -> bool {
    bundled_data
        && *overrides == Overrides::default()
        && val_pct == NOTEBOOK_VAL_PCT
        && split_seed == NOTEBOOK_SPLIT_SEED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply_and_validate() {
        let r = find("dot").unwrap();
        let o = Overrides {
            epochs: Some(1),
            lr: Some(0.05),
            ..Default::default()
        };
        let r = r.with_overrides(&o).unwrap();
        assert_eq!(r.epochs(), 1, "--epochs counts epochs in all");
        assert_eq!(r.stages, vec![Schedule::Constant { lr: 0.05, epochs: 1 }]);
        let r = find("dot").unwrap().with_overrides(&Overrides {
            epochs: Some(4),
            lr: Some(0.05),
            ..Default::default()
        });
        let r = r.unwrap();
        assert_eq!(r.epochs(), 4);
        assert_eq!(r.stages.len(), 2);
        assert!((r.stages[1].lr() - 0.005).abs() < 1e-9);
        for bad in [
            Overrides {
                epochs: Some(0),
                ..Default::default()
            },
            Overrides {
                epochs: Some(MAX_EPOCHS + 1),
                ..Default::default()
            },
            Overrides {
                epochs: Some(3),
                cycles: Some(2),
                ..Default::default()
            },
            Overrides {
                cycles: Some(0),
                ..Default::default()
            },
            Overrides {
                cycles: Some(14),
                ..Default::default()
            },
            Overrides {
                lr: Some(-1.0),
                ..Default::default()
            },
            Overrides {
                wd: Some(f32::NAN),
                ..Default::default()
            },
            Overrides {
                batch_size: Some(0),
                ..Default::default()
            },
            Overrides {
                dropout: Some(0.3),
                ..Default::default()
            },
            Overrides {
                factors: Some(0),
                ..Default::default()
            },
        ] {
            assert!(find("learner").unwrap().with_overrides(&bad).is_err(), "{bad:?}");
        }
        assert!(find("nope").is_err());
    }

    #[test]
    fn epochs_split_in_the_recipes_proportions_and_cycles_stay_whole() {
        assert_eq!(split_epochs(&[3, 3], 1), vec![1, 0]);
        assert_eq!(split_epochs(&[3, 3], 5), vec![3, 2]);
        assert_eq!(split_epochs(&[15, 5], 10), vec![8, 2]);
        assert_eq!(split_epochs(&[15, 5], 20), vec![15, 5]);
        assert_eq!(split_epochs(&[15, 5], 3), vec![2, 1]);
        for total in 1..50 {
            assert_eq!(split_epochs(&[15, 5], total).iter().sum::<usize>(), total);
        }
        let epochs = |name: &str, o: Overrides| find(name).unwrap().with_overrides(&o).unwrap().epochs();
        for name in ["learner", "dot", "dotbias", "sparse", "net"] {
            for n in [1, 2, 7, 30] {
                let o = Overrides {
                    epochs: Some(n),
                    ..Default::default()
                };
                assert_eq!(epochs(name, o), n, "{name} --epochs {n}");
            }
        }
        let cycles = |c| Overrides {
            cycles: Some(c),
            ..Default::default()
        };
        assert_eq!(epochs("learner", cycles(1)), 1);
        assert_eq!(epochs("learner", cycles(3)), 1 + 2 + 4);
        let e = find("dot")
            .unwrap()
            .with_overrides(&cycles(2))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no SGDR stage"), "{e}");
    }

    #[test]
    fn recipe_files_read_back_and_name_the_bad_line() {
        let file = RecipeFile {
            base: "sparse".into(),
            about: "a test".into(),
            overrides: Overrides {
                epochs: Some(30),
                lr: Some(0.01),
                ..Default::default()
            },
            members: Vec::new(),
        };
        let text = file.to_toml().unwrap();
        assert_eq!(RecipeFile::parse(&text, "r.toml").unwrap(), file);
        let (r, o) = file
            .recipe(&Overrides {
                lr: Some(0.03),
                ..Default::default()
            })
            .unwrap();
        assert_eq!((r.epochs(), o.lr), (30, Some(0.03)), "flags win over the file");
        let e = RecipeFile::parse("base = \"sparse\"\n[overrides]\nlr = \"fast\"\n", "r.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("r.toml: line 3: "), "{e}");
        let e = RecipeFile::parse("base = \"sparse\"\n[overrides]\nlearning_rate = 1\n", "r.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3") && e.contains("learning_rate"), "{e}");
        let two = RecipeFile {
            about: "an ensemble".into(),
            members: vec![
                file.clone(),
                RecipeFile {
                    base: "learner".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let back = RecipeFile::parse(&two.to_toml().unwrap(), "e.toml").unwrap();
        assert_eq!(back, two);
        assert_eq!(back.ensemble().unwrap().unwrap().len(), 2);
        assert!(
            back.recipe(&Overrides::default()).is_err(),
            "an ensemble is not one recipe"
        );
        let bad_base = RecipeFile::parse("base = \"nope\"\n", "r.toml").unwrap();
        assert!(bad_base.recipe(&Overrides::default()).is_err());
    }

    #[test]
    fn the_recipe_files_parse_and_name_built_in_recipes() {
        for (name, _) in FILES {
            let f = find_file(name).unwrap();
            match f.ensemble().unwrap() {
                Some(members) => assert!(members.len() >= 2, "{name}"),
                None => {
                    f.recipe(&Overrides::default()).unwrap();
                }
            }
        }
    }

    #[test]
    fn only_the_notebooks_setup_is_compared_with_the_notebook() {
        let none = Overrides::default();
        assert!(is_notebook_setup(true, &none, 0.2, 42));
        assert!(!is_notebook_setup(false, &none, 0.2, 42));
        assert!(!is_notebook_setup(true, &none, 0.1, 42));
        assert!(!is_notebook_setup(true, &none, 0.2, 7));
        let lr = Overrides {
            lr: Some(0.05),
            ..Default::default()
        };
        assert!(!is_notebook_setup(true, &lr, 0.2, 42));
    }
}
