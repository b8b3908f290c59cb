//! Exact lazy momentum: dense SGD's arithmetic, without touching the rows a
//! step does not use.
//!
//! PyTorch's SGD with momentum μ and coupled weight decay wd moves every
//! parameter at every step: d = g + wd·p, buf = μ·buf + d, p −= lr·buf. An
//! embedding row that no rating in the batch touches has g = 0, and then the
//! pair (p, buf) evolves linearly:
//!
//! ```text
//! buf' = μ·buf + wd·p
//! p'   = p − lr·buf' = (1 − lr·wd)·p − lr·μ·buf
//!
//! (p', buf') = M·(p, buf),   M = | 1 − lr·wd   −lr·μ |
//!                                |     wd         μ   |
//! ```
//!
//! So a row can stay untouched in memory and catch up with Mᵏ when a batch
//! next touches it, k steps later, before that step's forward pass. (PyTorch
//! starts the buffer as a copy of the first d; with dampening 0 that is
//! μ·0 + d, so a buffer that starts at zero is the same.) This holds while
//! lr is constant, as in every SGD stage of the notebook; an epoch whose
//! rates vary falls back to the dense update ([`constant_lr`]).
//!
//! Mᵏ is computed in f64, so a catch-up rounds once where the dense loop
//! rounds k times: over a 1,261-step epoch the two agree to a few f32 ulps
//! of each parameter (`tests/lazy_sgd.rs` measures it).

/// Mᵏ for k = 0..=steps, at one learning rate.
#[derive(Debug, Clone, PartialEq)]
pub struct LazyMomentum {
    powers: Vec<[f64; 4]>,
}

impl LazyMomentum {
    /// The powers of M for `lr`, `momentum` and `wd`, up to `steps`.
    pub fn new(lr: f32, momentum: f32, wd: f32, steps: usize) -> LazyMomentum {
        let (lr, mu, wd) = (lr as f64, momentum as f64, wd as f64);
        let m = [1.0 - lr * wd, -lr * mu, wd, mu];
        let mut powers = Vec::with_capacity(steps + 1);
        let mut p = [1.0, 0.0, 0.0, 1.0];
        for _ in 0..=steps {
            powers.push(p);
            p = [
                m[0] * p[0] + m[1] * p[2],
                m[0] * p[1] + m[1] * p[3],
                m[2] * p[0] + m[3] * p[2],
                m[2] * p[1] + m[3] * p[3],
            ];
        }
        LazyMomentum { powers }
    }

    /// Mᵏ, row-major: `(p, buf) ← (m[0]·p + m[1]·buf, m[2]·p + m[3]·buf)`.
    pub fn power(&self, k: usize) -> [f64; 4] {
        self.powers[k]
    }
}

/// The one learning rate of `lrs`, or `None` when they vary (the lazy
/// update is exact only at a constant rate).
pub fn constant_lr(lrs: &[f32]) -> Option<f32> {
    let first = *lrs.first()?;
    lrs.iter().all(|&lr| lr == first).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_of_m_match_stepping_the_recurrence() {
        let (lr, mu, wd) = (0.1f32, 0.9f32, 2e-4f32);
        let lazy = LazyMomentum::new(lr, mu, wd, 1261);
        let (lr, mu, wd) = (lr as f64, mu as f64, wd as f64);
        let (mut p, mut b) = (0.03f64, -0.01f64);
        for k in 0..=1261 {
            let m = lazy.power(k);
            let (lp, lb) = (m[0] * 0.03 + m[1] * -0.01, m[2] * 0.03 + m[3] * -0.01);
            // Both in f64: they part only by f64 rounding, about 1e-16 a step.
            assert!(
                (lp - p).abs() < 1e-13 && (lb - b).abs() < 1e-13,
                "k={k}: {lp} {p} {lb} {b}"
            );
            b = mu * b + wd * p;
            p -= lr * b;
        }
    }

    #[test]
    fn only_a_constant_rate_is_lazy() {
        assert_eq!(constant_lr(&[0.1; 5]), Some(0.1));
        assert_eq!(constant_lr(&[0.1, 0.1, 0.05]), None);
        assert_eq!(constant_lr(&[]), None);
    }
}
