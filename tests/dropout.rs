//! Dropout's masks come from Philox keyed by (seed, step, layer, element), so
//! the CPU and a CUDA kernel draw them identically. These tests check the
//! masks' statistics and the forward/backward contract on the CPU.

use mfcuda::ops::{dropout_backward, dropout_forward, dropout_keep};

const N: usize = 1_000_000;

#[test]
fn keep_rate_is_one_minus_p_within_half_a_percent() {
    for p in [0.05f32, 0.5, 0.9] {
        let kept = (0..N as u32).filter(|&j| dropout_keep(42, 1234, 1, j, p)).count();
        let rate = kept as f64 / N as f64;
        let want = 1.0 - p as f64;
        assert!(
            (rate - want).abs() <= 0.005 * want,
            "p {p}: kept {rate}, want {want}"
        );
    }
}

#[test]
fn kept_elements_are_scaled_and_backward_uses_the_same_mask() {
    let p = 0.5f32;
    let x: Vec<f32> = (0..10_000).map(|j| 1.0 + j as f32 * 1e-3).collect();
    let mut fwd = x.clone();
    dropout_forward(&mut fwd, p, 7, 3, 2);
    let mut bwd = vec![1.0f32; x.len()];
    dropout_backward(&mut bwd, p, 7, 3, 2);
    let mut dropped = 0;
    for j in 0..x.len() {
        if fwd[j] == 0.0 {
            dropped += 1;
            assert_eq!(bwd[j], 0.0, "element {j}: dropped forward but not backward");
        } else {
            assert_eq!(fwd[j], x[j] * (1.0 / (1.0 - p)));
            assert_eq!(bwd[j], 1.0 / (1.0 - p));
        }
    }
    assert!(
        dropped > 4_000 && dropped < 6_000,
        "{dropped} of 10000 dropped at p = 0.5"
    );
}

#[test]
fn masks_depend_on_seed_step_and_layer_only() {
    let mask = |seed, step, layer| -> Vec<bool> {
        (0..4096)
            .map(|j| dropout_keep(seed, step, layer, j, 0.5))
            .collect()
    };
    let base = mask(1, 10, 1);
    assert_eq!(base, mask(1, 10, 1), "the same key must give the same mask");
    for other in [
        mask(2, 10, 1),
        mask(1, 11, 1),
        mask(1, 10, 2),
        mask(1, 10 + (1 << 32), 1),
    ] {
        let same = base.iter().zip(&other).filter(|(a, b)| a == b).count();
        // Independent masks at p = 0.5 agree on about half the elements.
        assert!((1700..2400).contains(&same), "masks agree on {same} of 4096");
    }
}
