//! 09: a dropout mask recomputed from (seed, step, layer, index).
//!
//! mfcuda's dropout draws no random state. Element j of layer l at step s is
//! kept when the first word of Philox4x32-10 at counter (j, s_lo, s_hi, l)
//! and key (seed_lo, seed_hi), taken as a 24-bit uniform, is ≥ p. Any thread,
//! on any device, in any order, can recompute any element's decision, so
//! the CPU and the GPU (`dropout_forward` in `kernels/net.cu`) drop the same
//! elements, and the backward pass needs no stored mask.
//!
//!     cargo run --example 09_philox_dropout_mask

use mfcuda::ops::{dropout_forward, dropout_keep};
use mfcuda::rng::{philox4x32_10, u32_to_unit_f32};

fn main() {
    let (seed, step, layer, p) = (42u64, 7u64, 2u32, 0.5f32);
    // The library's masked forward pass over 16 ones.
    let mut x = vec![1.0f32; 16];
    dropout_forward(&mut x, p, seed, step, layer);
    // Each element's decision, recomputed from its coordinates alone, in reverse order.
    let mut kept = 0;
    for j in (0..16u32).rev() {
        let word = philox4x32_10(
            [j, step as u32, (step >> 32) as u32, layer],
            [seed as u32, (seed >> 32) as u32],
        )[0];
        let u = u32_to_unit_f32(word);
        let keep = u >= p;
        assert_eq!(keep, dropout_keep(seed, step, layer, j, p));
        // Kept elements are scaled by 1/(1 − p) (inverted dropout), dropped ones are 0.
        assert_eq!(
            x[j as usize],
            if keep { 1.0 / (1.0 - p) } else { 0.0 },
            "element {j}"
        );
        kept += keep as usize;
        println!(
            "element {j:>2}: philox word {word:#010x} -> u = {u:.6} -> {}",
            if keep { "kept (x2)" } else { "dropped" }
        );
    }
    // Another step, or another layer, gives another mask; the same coordinates give the same one.
    let mut again = vec![1.0f32; 16];
    dropout_forward(&mut again, p, seed, step, layer);
    assert_eq!(again, x, "same (seed, step, layer): same mask");
    let mut next = vec![1.0f32; 16];
    dropout_forward(&mut next, p, seed, step + 1, layer);
    assert_ne!(next, x, "the next step draws a new mask");
    println!("ok: {kept} of 16 kept at p = {p}; every decision recomputed from (seed, step, layer, index)");
}
