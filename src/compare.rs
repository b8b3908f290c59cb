//! Tolerance checks shared by the tests and, later, the GPU checks.
//!
//! A value passes when |got − want| ≤ atol + rtol·|want| (llm.c's rule).
//! A failure reports the first mismatches and the largest error, so that a
//! broken kernel says where it breaks.

use approx::AbsDiffEq;

/// The outcome of comparing two tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Elements compared.
    pub len: usize,
    /// Elements outside tolerance.
    pub mismatches: usize,
    /// Largest |got − want|.
    pub max_abs_err: f64,
    /// Largest |got − want| / |want| over elements where want ≠ 0.
    pub max_rel_err: f64,
    /// Where the largest error is.
    pub max_at: usize,
    /// The first few mismatches: (index, got, want).
    pub first: Vec<(usize, f64, f64)>,
}

impl Comparison {
    /// True when every element is within tolerance.
    pub fn ok(&self) -> bool {
        self.mismatches == 0
    }

    /// A readable summary naming the tensor.
    pub fn report(&self, name: &str) -> String {
        let mut s = format!(
            "{name}: {} of {} outside tolerance, max |err| {:.3e} at [{}]",
            self.mismatches, self.len, self.max_abs_err, self.max_at
        );
        for (i, g, w) in &self.first {
            s.push_str(&format!("\n  [{i}] got {g:.8e} want {w:.8e}"));
        }
        s
    }
}

/// Compares `got` against the reference `want` elementwise. Lengths must
/// match; a NaN anywhere is a mismatch.
pub fn compare(got: &[f64], want: &[f64], atol: f64, rtol: f64) -> Comparison {
    compare_tol(got, want, |_, w| atol + rtol * w.abs())
}

/// [`compare`] with a tolerance per element: element `i` passes when
/// |got − want| ≤ `tol(i, want)`.
pub fn compare_tol(got: &[f64], want: &[f64], tol: impl Fn(usize, f64) -> f64) -> Comparison {
    assert_eq!(got.len(), want.len(), "compared tensors differ in length");
    let mut c = Comparison {
        len: got.len(),
        mismatches: 0,
        max_abs_err: 0.0,
        max_rel_err: 0.0,
        max_at: 0,
        first: Vec::new(),
    };
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        if err > c.max_abs_err || err.is_nan() {
            c.max_abs_err = if err.is_nan() { f64::INFINITY } else { err };
            c.max_at = i;
        }
        if w != 0.0 {
            c.max_rel_err = c.max_rel_err.max(if err.is_nan() {
                f64::INFINITY
            } else {
                err / w.abs()
            });
        }
        if !g.abs_diff_eq(&w, tol(i, w)) {
            c.mismatches += 1;
            if c.first.len() < 5 {
                c.first.push((i, g, w));
            }
        }
    }
    c
}

/// [`compare`] for f32 tensors.
pub fn compare_f32(got: &[f32], want: &[f32], atol: f64, rtol: f64) -> Comparison {
    let widen = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    compare(&widen(got), &widen(want), atol, rtol)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_is_atol_plus_rtol_times_ref() {
        assert!(compare(&[1.105], &[1.0], 0.01, 0.1).mismatches == 0);
        let c = compare(&[1.0, 2.5, f64::NAN], &[1.0, 2.0, 3.0], 0.01, 0.1);
        assert_eq!(c.mismatches, 2);
        assert_eq!(c.first[0].0, 1);
        assert!(
            c.report("t").contains("2 of 3 outside tolerance"),
            "{}",
            c.report("t")
        );
    }
}
