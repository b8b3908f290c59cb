//! Learning-rate schedules: the notebook's constant stages (`set_lrs`) and
//! fastai 0.7's SGDR (`fit(lr, n_cycle, cycle_len, cycle_mult)`).

use serde::Serialize;

use crate::text::count;

/// One stage of training: a call of fastai's `fit`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Schedule {
    /// `fit(model, data, epochs, opt)` at a fixed learning rate.
    Constant {
        /// Learning rate.
        lr: f32,
        /// Number of epochs.
        epochs: usize,
    },
    /// `learn.fit(lr, n_cycle, cycle_len=.., cycle_mult=..)`: cosine
    /// annealing with restarts, after an lr/100 warm-up. Cycles of
    /// `cycle_len`, `cycle_len·cycle_mult`, ... epochs run back to back
    /// until `epochs`; a last cycle that does not fit is cut to what
    /// remains and anneals over that. fastai's `n_cycle` cycles are
    /// [`Schedule::sgdr_cycles`].
    Sgdr {
        /// Peak learning rate.
        lr: f32,
        /// Epochs of the whole stage.
        epochs: usize,
        /// Epochs in the first cycle.
        cycle_len: usize,
        /// Each cycle is this many times longer than the one before.
        cycle_mult: usize,
    },
}

impl Schedule {
    /// fastai's `fit(lr, n_cycle, cycle_len, cycle_mult)`: `n_cycle` whole
    /// cycles (saturating, for absurd counts; the caller bounds the epochs).
    pub fn sgdr_cycles(lr: f32, n_cycle: usize, cycle_len: usize, cycle_mult: usize) -> Schedule {
        let epochs = (0..n_cycle)
            .map(|c| cycle_len.saturating_mul(cycle_mult.saturating_pow(c.min(64) as u32)))
            .fold(0usize, usize::saturating_add);
        Schedule::Sgdr {
            lr,
            epochs,
            cycle_len,
            cycle_mult,
        }
    }

    /// Total epochs of the stage.
    pub fn epochs(&self) -> usize {
        match *self {
            Schedule::Constant { epochs, .. } | Schedule::Sgdr { epochs, .. } => epochs,
        }
    }

    /// The same stage over `epochs` epochs; for SGDR, the cycles that fit
    /// and a last one cut to what remains.
    pub fn with_epochs(self, epochs: usize) -> Schedule {
        match self {
            Schedule::Constant { lr, .. } => Schedule::Constant { lr, epochs },
            Schedule::Sgdr {
                lr,
                cycle_len,
                cycle_mult,
                ..
            } => Schedule::Sgdr {
                lr,
                epochs,
                cycle_len,
                cycle_mult,
            },
        }
    }

    /// The length in epochs of each cycle of an SGDR stage (the last one
    /// possibly cut short); one entry, the stage, for a constant stage.
    pub fn cycle_lengths(&self) -> Vec<usize> {
        match *self {
            Schedule::Constant { epochs, .. } => vec![epochs],
            Schedule::Sgdr {
                epochs,
                cycle_len,
                cycle_mult,
                ..
            } => {
                let (mut out, mut start, mut len) = (Vec::new(), 0usize, cycle_len.max(1));
                while start < epochs {
                    out.push(len.min(epochs - start));
                    start += len;
                    len = len.saturating_mul(cycle_mult.max(1));
                }
                out
            }
        }
    }

    /// The peak (or only) learning rate.
    pub fn lr(&self) -> f32 {
        match *self {
            Schedule::Constant { lr, .. } | Schedule::Sgdr { lr, .. } => lr,
        }
    }

    /// The same stage with learning rate `lr`.
    pub fn with_lr(self, new: f32) -> Schedule {
        match self {
            Schedule::Constant { epochs, .. } => Schedule::Constant { lr: new, epochs },
            Schedule::Sgdr {
                epochs,
                cycle_len,
                cycle_mult,
                ..
            } => Schedule::Sgdr {
                lr: new,
                epochs,
                cycle_len,
                cycle_mult,
            },
        }
    }

    /// The learning rate of every step of the stage, given the number of
    /// steps (batches) per epoch.
    ///
    /// SGDR follows fastai 0.7's `CosAnneal.calc_lr`, called once before
    /// each batch: while the global iteration is below nb/20 it returns
    /// lr/100 (and the cycle counter still advances); otherwise
    /// lr/2·(cos(π·cycle_iter/nb) + 1). When cycle_iter reaches nb it
    /// restarts at 0 and nb grows by `cycle_mult`. nb starts as
    /// steps_per_epoch·cycle_len. A last cycle cut short by the stage's
    /// end anneals over the steps that remain.
    pub fn lrs(&self, steps_per_epoch: usize) -> Vec<f32> {
        let total = self.epochs().saturating_mul(steps_per_epoch);
        (0..total).map(|it| self.lr_at(it, steps_per_epoch)).collect()
    }

    /// The learning rate at iteration `it` (0-based, counted over the stage),
    /// in closed form, so that a long run never holds all its rates at once.
    /// Equal to replaying fastai's `calc_lr` up to `it`.
    pub fn lr_at(&self, it: usize, steps_per_epoch: usize) -> f32 {
        match *self {
            Schedule::Constant { lr, .. } => lr,
            Schedule::Sgdr {
                lr,
                epochs,
                cycle_len,
                cycle_mult,
            } => {
                let (lr, it) = (lr as f64, it as f64);
                // Find the cycle holding `it`: its start and its length nb.
                let (mut start, mut nb) = (0.0f64, (steps_per_epoch * cycle_len) as f64);
                while it >= start + nb && nb > 0.0 {
                    start += nb;
                    nb *= cycle_mult.max(1) as f64;
                }
                // The stage's last cycle ends with the stage.
                let nb = nb.min((epochs * steps_per_epoch) as f64 - start);
                if it < nb / 20.0 {
                    return (lr / 100.0) as f32;
                }
                (lr / 2.0 * ((std::f64::consts::PI * (it - start) / nb).cos() + 1.0)) as f32
            }
        }
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Schedule::Constant { lr, epochs } => write!(f, "lr {lr} for {}", count(epochs as u64, "epoch")),
            Schedule::Sgdr { lr, epochs, .. } => {
                let lengths: Vec<String> = self.cycle_lengths().iter().map(usize::to_string).collect();
                write!(
                    f,
                    "SGDR from lr {lr}, {} of {} {}: {}",
                    count(lengths.len() as u64, "cycle"),
                    lengths.join(" + "),
                    if lengths == ["1"] { "epoch" } else { "epochs" },
                    count(epochs as u64, "epoch")
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sgdr_matches_fastai_cos_anneal() {
        // learn.fit(1e-2, 2, cycle_len=1, cycle_mult=2) with 1261 batches per epoch.
        let s = Schedule::sgdr_cycles(1e-2, 2, 1, 2);
        assert_eq!(s.epochs(), 3);
        assert_eq!(
            s.to_string(),
            "SGDR from lr 0.01, 2 cycles of 1 + 2 epochs: 3 epochs"
        );
        let lrs = s.lrs(1261);
        assert_eq!(lrs.len(), 3 * 1261);
        // Values from fastai's formula lr/2·(cos(π·cycle_iter/nb) + 1), evaluated in numpy.
        let close = |got: f32, want: f64| ((got as f64 - want) / want).abs() < 1e-6;
        // Warm-up while iteration < 1261/20 = 63.05, so iterations 0..=63.
        assert_eq!(lrs[0], 1e-4);
        assert_eq!(lrs[63], 1e-4);
        // The cycle counter advanced during warm-up: iteration 64 is at cycle_iter 64.
        assert!(close(lrs[64], 0.00993657641892364), "{}", lrs[64]);
        assert!(close(lrs[630], 0.00500622826209319), "{}", lrs[630]);
        assert!(close(lrs[1260], 1.5517056682457374e-08), "{}", lrs[1260]);
        // Second cycle: restarts at the top with nb = 2522, and no second warm-up.
        assert_eq!(lrs[1261], 1e-2);
        assert!(close(lrs[1261 + 1261], 0.004999999888241291), "{}", lrs[2522]);
        assert!(close(lrs[3 * 1261 - 1], 3.879265675244064e-09), "{}", lrs[3782]);
    }

    #[test]
    fn constant_and_epoch_counts() {
        let s = Schedule::Constant { lr: 0.1, epochs: 3 };
        assert_eq!(s.lrs(5), vec![0.1; 15]);
        let s = Schedule::sgdr_cycles(1.0, 3, 2, 2);
        assert_eq!(s.epochs(), 2 + 4 + 8);
        assert_eq!(s.cycle_lengths(), vec![2, 4, 8]);
    }

    #[test]
    fn a_cut_last_cycle_anneals_over_what_remains() {
        // 1 + 2 + 4 epochs would be 7; 5 epochs cut the third cycle to 2.
        let full = Schedule::sgdr_cycles(1e-2, 3, 1, 2);
        let cut = full.with_epochs(5);
        assert_eq!(cut.cycle_lengths(), vec![1, 2, 2]);
        let (a, b) = (full.lrs(100), cut.lrs(100));
        assert_eq!(b.len(), 500);
        assert_eq!(a[..300], b[..300], "the whole cycles are the same");
        // The third cycle restarts at the top and anneals over 200 steps, not 400.
        assert_eq!(b[300], 1e-2);
        let want = 1e-2 / 2.0 * ((std::f64::consts::PI * 100.0 / 200.0).cos() + 1.0);
        assert!((b[400] as f64 - want).abs() < 1e-9, "{} vs {want}", b[400]);
        assert!(b[499] < 1e-5, "it ends annealed: {}", b[499]);
        assert_eq!(
            Schedule::sgdr_cycles(1e-2, 2, 1, 2)
                .with_epochs(1)
                .cycle_lengths(),
            vec![1]
        );
    }
}
