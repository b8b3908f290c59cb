//! Train/validation splits: the notebook's, and the ones practitioners use.
//!
//! - [`Split::new`], the default: fastai 0.7's `get_cv_idxs(n, val_pct=0.2,
//!   seed=42)`, which is
//!   `np.random.seed(seed); np.random.permutation(n)[:int(val_pct * n)]`.
//! - [`Split::kfold`]: fold `i` of `k` over one seeded permutation, the
//!   folds of `mfcuda cv`.
//! - [`Split::temporal`]: the latest fraction of the rows by timestamp.
//! - [`Split::last_per_user`]: each user's latest `k` ratings
//!   (leave-last-k-out).

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

impl Split {
    /// Fold `fold` (0-based) of `k`: the rows at positions
    /// `fold·n/k .. (fold+1)·n/k` of numpy's permutation under `seed` are
    /// held out. The k folds partition the rows.
    pub fn kfold(n: usize, k: usize, fold: usize, seed: u32) -> Result<Split> {
        if k < 2 || k > n || fold >= k {
            return Err(Error::invalid(
                "--folds",
                format!("{k} folds of {n} rows: need 2 ≤ folds ≤ rows (and fold {fold} < {k})"),
            ));
        }
        let perm = Mt19937::new(seed).permutation(n);
        let (a, b) = (fold * n / k, (fold + 1) * n / k);
        let mut is_val = vec![false; n];
        for &i in &perm[a..b] {
            is_val[i as usize] = true;
        }
        Ok(Split::from_mask(&is_val))
    }

    /// The latest `val_pct` of the rows by timestamp are held out (ties by
    /// file order, the later row held out first).
    pub fn temporal(timestamps: &[i64], val_pct: f64) -> Result<Split> {
        let n = timestamps.len();
        if n == 0 {
            return Err(Error::invalid(
                "--split",
                "a temporal split needs a timestamp column",
            ));
        }
        validation_indices(n, val_pct, 0)?; // the same check on the fraction
        let n_val = (val_pct * n as f64) as usize;
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.sort_by_key(|&r| (timestamps[r as usize], r));
        let mut is_val = vec![false; n];
        for &r in &order[n - n_val..] {
            is_val[r as usize] = true;
        }
        Split::from_mask(&is_val).non_empty(&format!("the latest {val_pct} of {n} rows"))
    }

    /// Each user's latest `k` ratings by timestamp are held out (ties by
    /// file order), leaving users with `k` or fewer ratings one in
    /// training, so that every validation user is known.
    pub fn last_per_user(users: &[u32], timestamps: &[i64], k: usize) -> Result<Split> {
        let n = users.len();
        if timestamps.len() != n {
            return Err(Error::invalid(
                "--split",
                "leave-last-k-out needs a timestamp column",
            ));
        }
        if k == 0 {
            return Err(Error::invalid("--split", "last-k needs k ≥ 1"));
        }
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.sort_by_key(|&r| (users[r as usize], timestamps[r as usize], r));
        let mut is_val = vec![false; n];
        for run in order.chunk_by(|&a, &b| users[a as usize] == users[b as usize]) {
            let held = k.min(run.len() - 1);
            for &r in &run[run.len() - held..] {
                is_val[r as usize] = true;
            }
        }
        Split::from_mask(&is_val).non_empty(&format!("the last {k} ratings of each user"))
    }

    fn from_mask(is_val: &[bool]) -> Split {
        let (valid, train): (Vec<u32>, Vec<u32>) =
            (0..is_val.len() as u32).partition(|&i| is_val[i as usize]);
        Split { train, valid }
    }

    fn non_empty(self, what: &str) -> Result<Split> {
        if self.train.is_empty() || self.valid.is_empty() {
            return Err(Error::invalid(
                "--split",
                format!(
                    "holding out {what} leaves {} training and {} validation rows; both must be non-empty",
                    self.train.len(),
                    self.valid.len()
                ),
            ));
        }
        Ok(self)
    }
}

/// Which rows a run holds out: `--split random|temporal|last[-K]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SplitKind {
    /// The notebook's: `val_pct` of the rows at random (numpy, `split_seed`).
    #[default]
    Random,
    /// The latest `val_pct` of the rows by timestamp.
    Temporal,
    /// Each user's latest `k` ratings.
    LastPerUser(usize),
}

impl std::fmt::Display for SplitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SplitKind::Random => f.write_str("random"),
            SplitKind::Temporal => f.write_str("temporal"),
            SplitKind::LastPerUser(k) => write!(f, "last-{k}"),
        }
    }
}

/// As its name (`"temporal"`), in reports.
impl serde::Serialize for SplitKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::str::FromStr for SplitKind {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<SplitKind, String> {
        match s {
            "random" => Ok(SplitKind::Random),
            "temporal" => Ok(SplitKind::Temporal),
            "last" => Ok(SplitKind::LastPerUser(1)),
            _ => match s.strip_prefix("last-").map(str::parse::<usize>) {
                Some(Ok(k)) if k > 0 => Ok(SplitKind::LastPerUser(k)),
                _ => Err(format!(
                    "'{s}': expected random, temporal, last or last-K (K ≥ 1)"
                )),
            },
        }
    }
}

impl SplitKind {
    /// The rows of `users` (and `timestamps`, for the time-based kinds)
    /// this kind holds out.
    pub fn split(self, users: &[u32], timestamps: &[i64], val_pct: f64, seed: u32) -> Result<Split> {
        match self {
            SplitKind::Random => Split::new(users.len(), val_pct, seed),
            SplitKind::Temporal => Split::temporal(timestamps, val_pct),
            SplitKind::LastPerUser(k) => Split::last_per_user(users, timestamps, k),
        }
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
    // Outside (0, 1) the split refuses it; a warning first would only repeat it.
    if !(val_pct > 0.0 && val_pct < 1.0) {
        return None;
    }
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
    fn kfolds_partition_the_rows() {
        let n = 103;
        let mut seen = vec![0; n];
        for f in 0..5 {
            let s = Split::kfold(n, 5, f, 7).unwrap();
            assert_eq!(s.train.len() + s.valid.len(), n);
            assert!((20..=21).contains(&s.valid.len()), "{}", s.valid.len());
            for &r in &s.valid {
                seen[r as usize] += 1;
            }
        }
        assert!(seen.iter().all(|&c| c == 1), "each row in exactly one fold");
        // Fold 0 of 5 is the notebook's split wherever int(0.2·n) = n/5.
        let (fold, notebook) = (
            Split::kfold(100_836, 5, 0, 42).unwrap(),
            Split::new(100_836, 0.2, 42).unwrap(),
        );
        assert_eq!(fold.valid, notebook.valid);
        assert!(Split::kfold(10, 1, 0, 7).is_err());
        assert!(Split::kfold(10, 5, 5, 7).is_err());
    }

    #[test]
    fn temporal_and_last_k_hold_out_the_latest() {
        let ts = [50, 10, 40, 20, 30, 60];
        let s = Split::temporal(&ts, 0.34).unwrap(); // int(2.04) = 2 rows: times 60 and 50
        assert_eq!(s.valid, vec![0, 5]);
        let users = [0, 0, 1, 1, 1, 2];
        let s = Split::last_per_user(&users, &ts, 1).unwrap();
        // User 0's latest is row 0 (50), user 1's row 2 (40); user 2 has one rating and keeps it.
        assert_eq!(s.valid, vec![0, 2]);
        let s = Split::last_per_user(&users, &ts, 5).unwrap();
        assert_eq!(s.valid, vec![0, 2, 4], "every user keeps one training rating");
        assert!(Split::temporal(&[], 0.2).is_err());
        assert!(Split::last_per_user(&users, &ts[..2], 1).is_err());
    }

    #[test]
    fn split_kinds_read_and_print_back() {
        for s in ["random", "temporal", "last-1", "last-3"] {
            assert_eq!(s.parse::<SplitKind>().unwrap().to_string(), s);
        }
        assert_eq!("last".parse::<SplitKind>().unwrap(), SplitKind::LastPerUser(1));
        for bad in ["last-0", "last-x", "time", ""] {
            assert!(bad.parse::<SplitKind>().is_err(), "{bad}");
        }
    }

    #[test]
    fn rejects_bad_fractions() {
        for p in [0.0, 1.0, -0.5, 2.0, f64::NAN] {
            assert!(validation_indices(10, p, 42).is_err(), "{p}");
        }
        assert!(Split::new(3, 0.2, 42).is_err()); // int(0.6) = 0 validation rows
    }
}
