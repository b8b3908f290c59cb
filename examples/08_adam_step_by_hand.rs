//! 08: one Adam step, by hand, beside `ops::adam_update`.
//!
//! PyTorch's Adam with coupled weight decay, as the `learner` and `net`
//! recipes train: for a parameter p with gradient g at step t,
//!
//!     d = g + wd·p
//!     m = β1·m + (1 − β1)·d              first moment
//!     v = β2·v + (1 − β2)·d²             second moment
//!     p = p − lr/(1 − β1ᵗ) · m / (√v/√(1 − β2ᵗ) + ε)
//!
//! The bias corrections undo the zero start of m and v: on step 1 the
//! update is lr·d/|d|, a step of exactly lr in the gradient's sign, whatever
//! the gradient's size. This example computes one step in f64 from those
//! lines and checks the library's f32 kernel twin against it.
//!
//!     cargo run --example 08_adam_step_by_hand

use mfcuda::ops::{adam_update, AdamStep};

fn main() {
    let (lr, beta1, beta2, eps, wd) = (1e-2f64, 0.9f64, 0.999f64, 1e-8f64, 2e-4f64);
    let p0 = [0.05f32, -0.02, 0.3];
    let g0 = [0.8f32, -1e-4, 0.0];
    let (mut p, mut g) = (p0.to_vec(), g0.to_vec());
    let (mut m, mut v) = (vec![0f32; 3], vec![0f32; 3]);
    // Two steps: the second shows the moments carrying over.
    for t in 1..=2u64 {
        let (p_before, g_now) = (p.clone(), g.clone());
        let (m_before, v_before) = (m.clone(), v.clone());
        adam_update(
            &mut p,
            &mut g,
            &mut m,
            &mut v,
            AdamStep::new(lr, beta1, beta2, eps, t),
            wd as f32,
        );
        println!("step {t}:");
        for j in 0..3 {
            // By hand, in f64.
            let d = g_now[j] as f64 + wd * p_before[j] as f64;
            let mh = beta1 * m_before[j] as f64 + (1.0 - beta1) * d;
            let vh = beta2 * v_before[j] as f64 + (1.0 - beta2) * d * d;
            let step = lr / (1.0 - beta1.powi(t as i32)) * mh
                / (vh.sqrt() / (1.0 - beta2.powi(t as i32)).sqrt() + eps);
            let want = p_before[j] as f64 - step;
            println!(
                "  p[{j}]: {:+.6} -> {:+.8} (by hand {want:+.8}); g {:+.1e}, m {:+.3e}, v {:.3e}",
                p_before[j], p[j], g_now[j], m[j], v[j]
            );
            assert!((p[j] as f64 - want).abs() <= 1e-7 + 1e-6 * want.abs(), "p[{j}]");
            assert!((m[j] as f64 - mh).abs() <= 1e-9 + 1e-6 * mh.abs(), "m[{j}]");
        }
        if t == 1 {
            // Step 1 moves p[0] and p[1] by lr, whatever their gradients' sizes (8000x apart).
            for j in 0..2 {
                let moved = (p_before[j] - p[j]).abs() as f64;
                assert!((moved - lr).abs() < 1e-6, "step 1 moves by lr: {moved}");
            }
        }
        // The kernel zeroes the gradient it used; give the same gradient again.
        g.copy_from_slice(&g0);
    }
    println!("ok: ops::adam_update is the formula above (the GPU's adam_update kernel is checked against it by mfcuda check)");
}
