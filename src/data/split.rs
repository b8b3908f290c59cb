//! The notebook's train/validation split.
//!
//! fastai 0.7's `get_cv_idxs(n, val_pct=0.2, seed=42)` is
//! `np.random.seed(seed); np.random.permutation(n)[:int(val_pct * n)]`.

use crate::error::{Error, Result};
use crate::rng::Mt19937;

/// The notebook's validation fraction: `get_cv_idxs`' default.
pub const NOTEBOOK_VAL_PCT: f64 = 0.2;
/// The notebook's split seed: `get_cv_idxs`' default.
pub const NOTEBOOK_SPLIT_SEED: u32 = 42;

/// Validation row positions (0-based among the data rows), in the order
/// numpy's permutation gives them.
pub fn validation_indices(n: usize, val_pct: f64, seed: u32) -> Result<Vec<u32>> {
    if !(val_pct > 0.0 && val_pct < 1.0) {
        return Err(Error::invalid(
            "--val-pct",
            format!("{val_pct} is not strictly between 0 and 1"),
        ));
    }
    if n > u32::MAX as usize {
        return Err(Error::invalid("data", format!("{n} rows is more than 2^32-1")));
    }
    // Python's int(val_pct * n): the same IEEE double product, truncated.
    let n_val = (val_pct * n as f64) as usize;
    let mut perm = Mt19937::new(seed).permutation(n);
    perm.truncate(n_val);
    Ok(perm)
}

/// Row positions of the training and validation sets, each in file order
/// (fastai's `split_by_idx` selects rows with a boolean mask).
#[derive(Debug, Clone)]
pub struct Split {
    /// Training rows, ascending.
    pub train: Vec<u32>,
    /// Validation rows, ascending.
    pub valid: Vec<u32>,
}

impl Split {
    /// Splits `n` rows as `get_cv_idxs(n, val_pct, seed)` does.
    pub fn new(n: usize, val_pct: f64, seed: u32) -> Result<Split> {
        let mut is_val = vec![false; n];
        for i in validation_indices(n, val_pct, seed)? {
            is_val[i as usize] = true;
        }
        let (valid, train): (Vec<u32>, Vec<u32>) = (0..n as u32).partition(|&i| is_val[i as usize]);
        if train.is_empty() || valid.is_empty() {
            return Err(Error::invalid(
                "--val-pct",
                format!(
                    "{val_pct} of {n} rows leaves {} training and {} validation rows; both must be non-empty",
                    train.len(),
                    valid.len()
                ),
            ));
        }
        Ok(Split { train, valid })
    }
}

/// Fewer training rows than this, or than this share of the data, make a
/// split too thin to learn from: [`thin_training_warning`] says so.
pub const MIN_TRAIN_ROWS: usize = 1000;
/// See [`MIN_TRAIN_ROWS`].
pub const MIN_TRAIN_SHARE: f64 = 0.10;

/// A warning when holding out `val_pct` of `n` rows leaves too few to train
/// on (less than [`MIN_TRAIN_SHARE`] of the data, or fewer than
/// [`MIN_TRAIN_ROWS`] when that is also under half); `None` when the split
/// is fine.
pub fn thin_training_warning(n: usize, val_pct: f64) -> Option<String> {
    let n_valid = ((val_pct * n as f64) as usize).min(n);
    let n_train = n - n_valid;
    let few = n_train < MIN_TRAIN_ROWS && 2 * n_train < n;
    let thin = few || (n_train as f64) < MIN_TRAIN_SHARE * n as f64;
    thin.then(|| {
        format!(
            "--val-pct {val_pct} leaves {} of {n} to train on: the model will learn little from so few",
            crate::text::count(n_train as u64, "row")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thin_training_set_is_warned_about() {
        let w = thin_training_warning(100_836, 0.99999).unwrap();
        assert!(w.contains("leaves 2 rows of 100836"), "{w}");
        assert!(thin_training_warning(100_836, 0.2).is_none());
        assert!(thin_training_warning(100_836, 0.95).is_some(), "5% is below 10%");
        assert!(
            thin_training_warning(500, 0.2).is_none(),
            "small data, sensible split"
        );
    }

    #[test]
    fn split_partitions_rows() {
        let s = Split::new(10, 0.3, 42).unwrap();
        assert_eq!(s.valid, vec![1, 5, 8]); // permutation starts 8, 1, 5
        assert_eq!(s.train, vec![0, 2, 3, 4, 6, 7, 9]);
    }

    #[test]
    fn rejects_bad_fractions() {
        for p in [0.0, 1.0, -0.5, 2.0, f64::NAN] {
            assert!(validation_indices(10, p, 42).is_err(), "{p}");
        }
        assert!(Split::new(3, 0.2, 42).is_err()); // int(0.6) = 0 validation rows
    }
}
