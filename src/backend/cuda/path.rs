//! Which way a dense epoch runs on the GPU, decided in one place
//! ([`choose`]) from the run's options, the model's own kernels
//! ([`crate::model::ModelKind::gpu_kernels`]), the optimizer and the batch.
//! The backend runs what it returns, and names it, with the reason, in its
//! device line and in `--json` (`paths`).

use serde::Serialize;

use crate::backend::GpuOptions;
use crate::model::GpuKernels;
use crate::optim::Optimizer;

/// A way to run a dense epoch on the GPU, fastest last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DensePath {
    /// One kernel per op of the CPU's forward and backward, then the
    /// optimizer's update kernel (`dense.rs`, through `seam.rs`): the teaching path.
    OpByOp,
    /// Two kernels a step (the fused step and the scheduled update), the
    /// epoch captured once as a CUDA graph and replayed (`graph.rs`).
    Graph,
    /// SGD at one rate through the epoch: the whole epoch one kernel of one
    /// block, by exact lazy momentum (`lazy.rs`).
    LazySgd,
    /// Adam: the whole epoch one cooperative kernel, the batch on one block
    /// and the dense update on the others (`adam_epoch.rs`).
    AdamEpoch,
}

impl DensePath {
    /// Its name in the device line and in `--json`.
    pub fn name(self) -> &'static str {
        match self {
            DensePath::OpByOp => "op-by-op",
            DensePath::Graph => "graph",
            DensePath::LazySgd => "lazy-sgd",
            DensePath::AdamEpoch => "adam-epoch",
        }
    }
}

/// A path and why it was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathChoice {
    /// The path.
    pub path: DensePath,
    /// Why, in words.
    pub reason: String,
}

/// Everything [`choose`] decides from, for one epoch.
#[derive(Debug, Clone)]
pub struct PathInputs<'a> {
    /// The model's name, for the reason.
    pub model: &'a str,
    /// The model's own GPU kernels.
    pub kernels: GpuKernels,
    /// The optimizer.
    pub optimizer: Optimizer,
    /// The run's options.
    pub opts: GpuOptions,
    /// The batch size.
    pub batch: usize,
    /// Whether every step of the epoch has the same learning rate.
    pub constant_lr: bool,
    /// Whether a batch fits the lazy SGD epoch's block.
    pub lazy_fits: bool,
    /// Whether a batch fits the Adam epoch's block.
    pub adam_fits: bool,
    /// Why the Adam epoch is off on this GPU, once it is known to be.
    pub adam_refused: Option<String>,
}

/// The path an epoch takes: the one-kernel epochs where the model has one
/// for the optimizer and the batch fits, then the CUDA graph of fused steps
/// where the model has a fused step, else op by op.
pub fn choose(i: &PathInputs<'_>) -> PathChoice {
    let take = |path, reason: String| PathChoice { path, reason };
    if i.opts.deterministic {
        return take(
            DensePath::OpByOp,
            "deterministic: no atomics, sums in the CPU's order".into(),
        );
    }
    if !i.opts.fused {
        return take(DensePath::OpByOp, "asked for (--op-by-op)".into());
    }
    let (bs, model, opt) = (i.batch, i.model, i.optimizer.name());
    // Why the one-kernel epoch is not taken, if it is not.
    let no_one_kernel = if !i.opts.one_kernel {
        "the one-kernel epochs are off for this run".to_string()
    } else {
        match i.optimizer {
            Optimizer::Sgd(_) if !i.kernels.lazy_sgd_epoch => format!("{model} has no one-kernel SGD epoch"),
            Optimizer::Sgd(_) if !i.constant_lr => {
                "the learning rate changes within the epoch, and the lazy SGD epoch needs one rate".into()
            }
            Optimizer::Sgd(_) if !i.lazy_fits => {
                format!("a batch of {bs} does not fit the lazy SGD epoch's one block")
            }
            Optimizer::Sgd(_) => {
                return take(
                    DensePath::LazySgd,
                    format!("SGD at one rate through the epoch, and a batch of {bs} fits one block"),
                )
            }
            Optimizer::Adam(_) if !i.kernels.adam_epoch => format!("{model} has no one-kernel Adam epoch"),
            Optimizer::Adam(_) if !i.adam_fits => {
                format!("a batch of {bs} does not fit the Adam epoch's block")
            }
            Optimizer::Adam(_) => match &i.adam_refused {
                Some(why) => format!("the one-kernel Adam epoch {why}"),
                None => {
                    return take(
                        DensePath::AdamEpoch,
                        format!("Adam, and a batch of {bs} fits one block"),
                    )
                }
            },
            _ => format!("there is no one-kernel epoch for {opt}"),
        }
    };
    if i.kernels.fused_step {
        take(DensePath::Graph, no_one_kernel)
    } else {
        take(
            DensePath::OpByOp,
            format!("{no_one_kernel}, and {model} has no fused step for a CUDA graph"),
        )
    }
}

/// Whether validation runs as the one fused kernel (`mf_validate`, with its
/// device-side sum): wherever the model has a fused step and the run may
/// take it.
pub fn fused_validation(kernels: GpuKernels, opts: GpuOptions) -> bool {
    kernels.fused_step && opts.fused && !opts.deterministic
}

/// Whether the run may take a one-kernel epoch, for its memory plan.
pub fn may_take_one_kernel(opts: GpuOptions) -> bool {
    opts.fused && opts.one_kernel && !opts.deterministic
}

/// The device line's words for the paths a run's epochs took, in the order
/// first taken: `path graph (why)`, or `paths lazy-sgd (why), then graph (why)`.
pub fn describe(paths: &[PathChoice]) -> String {
    let each: Vec<String> = paths
        .iter()
        .map(|p| format!("{} ({})", p.path.name(), p.reason))
        .collect();
    match each.len() {
        0 => "no epoch run yet".into(),
        1 => format!("path {}", each[0]),
        _ => format!("paths {}", each.join(", then ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// dot and dotbias have all three of their own kernels; the net only the Adam epoch.
    const DOTBIAS: GpuKernels = GpuKernels {
        fused_step: true,
        lazy_sgd_epoch: true,
        adam_epoch: true,
    };
    const NET: GpuKernels = GpuKernels {
        fused_step: false,
        lazy_sgd_epoch: false,
        adam_epoch: true,
    };

    fn inputs(kernels: GpuKernels, optimizer: Optimizer) -> PathInputs<'static> {
        PathInputs {
            model: "dotbias",
            kernels,
            optimizer,
            opts: GpuOptions::new(false, false),
            batch: 64,
            constant_lr: true,
            lazy_fits: true,
            adam_fits: true,
            adam_refused: None,
        }
    }

    /// Every path is reached, each by the rule that picks it, and the
    /// reason says which rule.
    #[test]
    fn each_path_is_chosen_by_its_rule_and_says_why() {
        use crate::optim::adagrad::Adagrad;
        let (dotbias, net) = (DOTBIAS, NET);
        let sgd = inputs(dotbias, Optimizer::SGD);
        assert_eq!(choose(&sgd).path, DensePath::LazySgd);
        assert!(choose(&sgd).reason.contains("one rate"), "{:?}", choose(&sgd));
        let sgdr = PathInputs {
            constant_lr: false,
            ..sgd.clone()
        };
        let c = choose(&sgdr);
        assert_eq!(c.path, DensePath::Graph);
        assert!(c.reason.contains("rate changes"), "{c:?}");
        let big = PathInputs {
            lazy_fits: false,
            batch: 5000,
            ..sgd
        };
        assert!(
            choose(&big).reason.contains("batch of 5000"),
            "{:?}",
            choose(&big)
        );
        let adam = inputs(dotbias, Optimizer::ADAM);
        assert_eq!(choose(&adam).path, DensePath::AdamEpoch);
        let refused = PathInputs {
            adam_refused: Some("was refused by the driver".into()),
            ..adam.clone()
        };
        let c = choose(&refused);
        assert_eq!(c.path, DensePath::Graph);
        assert!(c.reason.contains("refused by the driver"), "{c:?}");
        // The net has the Adam epoch and no fused step.
        let net_adam = PathInputs {
            model: "net",
            ..inputs(net, Optimizer::ADAM)
        };
        assert_eq!(choose(&net_adam).path, DensePath::AdamEpoch);
        let net_refused = PathInputs {
            adam_refused: Some("was refused by the driver".into()),
            ..net_adam.clone()
        };
        let c = choose(&net_refused);
        assert_eq!(c.path, DensePath::OpByOp);
        assert!(
            c.reason.contains("refused") && c.reason.contains("no fused step"),
            "{c:?}"
        );
        // An optimizer with no one-kernel epoch takes the graph, and says so.
        let ada = inputs(dotbias, Optimizer::Adagrad(Adagrad::default()));
        let c = choose(&ada);
        assert_eq!(c.path, DensePath::Graph);
        assert!(c.reason.contains("no one-kernel epoch for adagrad"), "{c:?}");
        // The flags win over everything.
        let det = PathInputs {
            opts: GpuOptions::new(false, true),
            ..adam.clone()
        };
        assert_eq!(choose(&det).path, DensePath::OpByOp);
        assert!(choose(&det).reason.starts_with("deterministic"));
        let plain = PathInputs {
            opts: GpuOptions::new(true, false),
            ..adam
        };
        assert_eq!(choose(&plain).reason, "asked for (--op-by-op)");
    }

    #[test]
    fn the_device_line_names_each_path_taken_with_its_reason() {
        let lazy = PathChoice {
            path: DensePath::LazySgd,
            reason: "one rate".into(),
        };
        let graph = PathChoice {
            path: DensePath::Graph,
            reason: "rates change".into(),
        };
        assert_eq!(describe(&[]), "no epoch run yet");
        assert_eq!(describe(std::slice::from_ref(&lazy)), "path lazy-sgd (one rate)");
        assert_eq!(
            describe(&[lazy, graph]),
            "paths lazy-sgd (one rate), then graph (rates change)"
        );
    }
}
