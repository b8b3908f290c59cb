//! How much GPU memory a training run needs, worked out before anything is
//! allocated, so that a run that cannot fit stops at once with the numbers
//! instead of failing halfway with an out-of-memory error.
//!
//! The plan counts the CUDA backends' buffers by what they hold. The
//! per-step losses (4 bytes a step) are left to the headroom, and the CUDA
//! context's own memory is not in it: it is already taken when the free
//! memory is measured.

use crate::error::{Error, Result};
use crate::model::{Act, ModelSpec};
use crate::ops::Storage;
use crate::optim::Optimizer;

/// Memory kept free beyond the plan: per-step losses, allocation
/// granularity, the CUDA graph, and the driver's own small allocations.
pub const HEADROOM: u64 = 64 << 20;

/// Validation rows per forward pass on the GPU (the workspace's rows).
pub const EVAL_CHUNK: usize = 65_536;

/// The device buffers of one run, in bytes, by what they hold.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryPlan {
    /// (what, bytes), in the order the backend allocates them.
    pub parts: Vec<(&'static str, u64)>,
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

impl MemoryPlan {
    /// The dense CUDA backend (dot, dotbias, net): parameters, gradients and
    /// optimizer state; the training rows twice (as loaded and in the
    /// epoch's order) plus the order; the validation rows; the per-batch
    /// workspace for `batch` rows (at least [`EVAL_CHUNK`]); and, with
    /// `one_kernel`, the one-kernel epochs' buffers (under Adam two steps'
    /// gradients and three stamps a row; under SGD a stamp a row and a power
    /// of M a step, at most one step a rating).
    pub fn dense(
        spec: &ModelSpec,
        optimizer: Optimizer,
        n_train: usize,
        n_valid: usize,
        batch: usize,
        one_kernel: bool,
    ) -> Self {
        let p = spec.n_params() as u64;
        let (n, nv) = (n_train as u64, n_valid as u64);
        let state = optimizer.get().state_bytes(p);
        let cap = EVAL_CHUNK.max(batch) as u64;
        // One buffer an activation, cap rows of its width (backend/cuda/seam.rs).
        let workspace = 4 * cap * Act::ALL.iter().map(|a| a.width(spec) as u64).sum::<u64>();
        let rows = (spec.n_users + spec.n_items) as u64;
        let epoch = match optimizer {
            _ if !one_kernel => 0,
            Optimizer::Adam(_) => 2 * 4 * p + 3 * 4 * rows,
            Optimizer::Sgd(_) => 4 * rows + 32 * (n + 1),
            // The one-kernel epochs run these two; any other optimizer's
            // epochs are the graph or op by op.
            _ => 0,
        };
        MemoryPlan {
            parts: vec![
                ("parameters and gradients", 2 * 4 * p),
                ("optimizer state", state),
                ("training ratings", 2 * 12 * n + 4 * n),
                ("validation ratings", 12 * nv),
                ("workspace", workspace),
                ("one-kernel epoch", epoch),
            ],
        }
    }

    /// The sparse CUDA backend (svd): the factor tables in `storage` and
    /// the f32 biases; the training rows twice plus the order and each
    /// rating's squared error; the validation rows and their predictions.
    pub fn sparse(spec: &ModelSpec, storage: Storage, n_train: usize, n_valid: usize) -> Self {
        let rows = (spec.n_users + spec.n_items) as u64;
        let (n, nv) = (n_train as u64, n_valid as u64);
        MemoryPlan {
            parts: vec![
                (
                    "factor tables",
                    rows * spec.factors as u64 * storage.bytes() as u64,
                ),
                ("biases", 4 * rows),
                ("training ratings", 2 * 12 * n + 4 * n + 4 * n),
                ("validation ratings", 12 * nv + 4 * nv.min(EVAL_CHUNK as u64)),
            ],
        }
    }

    /// Bytes in all.
    pub fn total(&self) -> u64 {
        self.parts.iter().map(|p| p.1).sum()
    }

    /// Ok when the plan plus [`HEADROOM`] fits in `free` bytes; otherwise
    /// an error that gives the plan, the free and total memory of `device`,
    /// and `advice` (what to try instead).
    pub fn check(&self, free: u64, total: u64, device: &str, advice: &str) -> Result<()> {
        let need = self.total();
        if need.saturating_add(HEADROOM) <= free {
            return Ok(());
        }
        let parts: Vec<String> = self
            .parts
            .iter()
            .filter(|p| p.1 > 0)
            .map(|(what, b)| format!("{what} {:.0} MiB", mib(*b)))
            .collect();
        Err(Error::Device {
            device: "cuda".into(),
            msg: format!(
                "out of GPU memory: this run needs {:.0} MiB ({}), plus {:.0} MiB of headroom, \
                 but only {:.0} MiB of {:.0} MiB are free on {device}; {advice}",
                mib(need),
                parts.join(", "),
                mib(HEADROOM),
                mib(free),
                mib(total),
            ),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{ModelConfig, ModelKind};

    /// The svd model at the given sizes, for tests.
    pub(crate) fn svd(users: usize, items: usize, factors: usize) -> ModelSpec {
        ModelSpec {
            config: ModelConfig {
                kind: ModelKind::Svd,
                factors,
                hidden: 1,
                emb_init: (-0.1, 0.1),
                dropout: (0.0, 0.0),
            },
            n_users: users,
            n_items: items,
            y_range: (0.5, 5.0),
        }
    }

    #[test]
    fn netflix_sparse_plan_counts_every_buffer() {
        // Netflix at k = 128: (480,189 + 17,770) rows × 128 × 4 B = 255 MB of factors.
        let spec = svd(480_189, 17_770, 128);
        let plan = MemoryPlan::sparse(&spec, Storage::F32, 99_000_000, 1_000_000);
        let rows = 480_189u64 + 17_770;
        assert_eq!(plan.parts[0], ("factor tables", rows * 128 * 4));
        assert_eq!(plan.parts[1], ("biases", rows * 4));
        assert_eq!(plan.parts[2].1, 99_000_000 * 32);
        let bf16 = MemoryPlan::sparse(&spec, Storage::Bf16, 99_000_000, 1_000_000);
        assert_eq!(plan.total() - bf16.total(), rows * 128 * 2);
        // 3278 MiB in all: it fits an 80 GB card, not 2 GB of free memory.
        assert!(plan.check(80 << 30, 80 << 30, "H100", "").is_ok());
        let err = plan
            .check(2 << 30, 4 << 30, "a small GPU", "try --device cpu")
            .unwrap_err();
        let msg = err.to_string();
        for want in [
            "needs 3278 MiB",
            "factor tables 243 MiB",
            "training ratings 3021 MiB",
            "2048 MiB of 4096 MiB are free on a small GPU",
            "try --device cpu",
        ] {
            assert!(msg.contains(want), "{want:?} missing from: {msg}");
        }
    }

    #[test]
    fn dense_plan_counts_adam_state_twice_and_the_net_workspace() {
        let mut spec = svd(610, 9724, 50);
        spec.config.kind = ModelKind::DotBias;
        let p = spec.n_params() as u64;
        let sgd = MemoryPlan::dense(&spec, Optimizer::SGD, 80_669, 20_167, 64, false);
        let adam = MemoryPlan::dense(&spec, Optimizer::ADAM, 80_669, 20_167, 64, false);
        assert_eq!(adam.total() - sgd.total(), 4 * p);
        // The Adam epoch's own buffers: two steps' gradients and three stamps a row.
        let one = MemoryPlan::dense(&spec, Optimizer::ADAM, 80_669, 20_167, 64, true);
        assert_eq!(one.total() - adam.total(), 8 * p + 12 * (610 + 9724));
        spec.config.kind = ModelKind::Net;
        spec.config.hidden = 10;
        let net = MemoryPlan::dense(&spec, Optimizer::ADAM, 80_669, 20_167, 64, false);
        let ws = |p: &MemoryPlan| p.parts.iter().find(|x| x.0 == "workspace").unwrap().1;
        assert_eq!(ws(&net) - ws(&adam), 4 * 65_536 * (2 * 100 + 4 * 10));
        // The exact boundary: the plan plus the headroom fits, one byte less does not.
        let need = sgd.total() + HEADROOM;
        assert!(sgd.check(need, need, "gpu", "").is_ok());
        assert!(sgd.check(need - 1, need, "gpu", "").is_err());
    }
}
