//! The interpreter on small kernels (emu/kernels/tests.cu) with known answers.

mod ptx_util;

use mfcuda_emu::exec::{Launch, RunOptions};
use mfcuda_emu::memory::Memory;
use mfcuda_emu::ptx::Module;
use ptx_util::{download, launch, opts, upload};

fn module() -> Option<Module> {
    let ptx = ptx_util::compile(&ptx_util::root().join("emu/kernels/tests.cu"))?;
    Some(Module::load(&ptx).expect("tests.cu loads"))
}

fn p64(v: &u64) -> &[u8] {
    bytemuck(v)
}
fn bytemuck<T>(v: &T) -> &[u8] {
    unsafe { std::slice::from_raw_parts(v as *const T as *const u8, std::mem::size_of::<T>()) }
}

#[test]
fn integer_ops_match_rust() {
    let Some(m) = module() else { return };
    let a: Vec<i32> = vec![7, -7, i32::MIN, 123_456_789, -1, 0, 1 << 30, -100, 5, 99];
    let b: Vec<i32> = vec![2, 2, -1, -98_765, 7, 3, 1 << 29, 0, -5, 1];
    // Division by zero (a[7] / 0) is the emulator's deterministic choice: -1, remainder a.
    let n = a.len();
    let mut mem = Memory::new(1 << 20);
    let (da, db) = (upload(&mut mem, &a), upload(&mut mem, &b));
    let out = mem.alloc((12 * n * 4) as u64).unwrap();
    let nn = n as i32;
    ptx_util::run(
        &m,
        "int_ops",
        launch(1, 32),
        &[bytemuck(&out), bytemuck(&da), bytemuck(&db), bytemuck(&nn)],
        &mut mem,
        opts(0),
    )
    .unwrap();
    let got: Vec<i32> = download(&mem, out, 12 * n);
    for i in 0..n {
        let (x, y) = (a[i], b[i]);
        let (ux, uy) = (x as u32, y as u32);
        let want = [
            x.wrapping_add(y),
            x.wrapping_mul(y),
            if y == 0 { -1 } else { x.wrapping_div(y) },
            if y == 0 { x } else { x.wrapping_rem(y) },
            x >> 3,
            (ux >> 3) as i32,
            ((ux as u64 * uy as u64) >> 32) as i32,
            x.min(y),
            ux.max(uy) as i32,
            ux.checked_div(uy).map_or(-1, |q| q as i32),
            x ^ (y.wrapping_shl(5)),
            ((x as i64 * y as i64) >> 32) as i32,
        ];
        assert_eq!(&got[12 * i..12 * i + 12], &want, "element {i}: {x}, {y}");
    }
}

#[test]
fn warp_shuffle_reduction() {
    let Some(m) = module() else { return };
    let input: Vec<f32> = (0..256).map(|i| (i % 7) as f32 * 0.5).collect();
    let mut mem = Memory::new(1 << 20);
    let din = upload(&mut mem, &input);
    let out = mem.alloc(8 * 4).unwrap();
    for seed in [0, 1, 2] {
        let c = ptx_util::run(
            &m,
            "warp_reduce",
            launch(2, 128),
            &[p64(&out), p64(&din)],
            &mut mem,
            opts(seed),
        )
        .unwrap();
        let got: Vec<f32> = download(&mem, out, 8);
        for w in 0..8 {
            let want: f32 = input[32 * w..32 * w + 32].iter().sum();
            assert_eq!(got[w], want, "warp {w}");
        }
        assert!(c.thread_instructions > 0 && c.warp_instructions * 32 >= c.thread_instructions);
    }
}

#[test]
fn block_reduction_with_barriers() {
    let Some(m) = module() else { return };
    let n = 1000;
    let input: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let mut mem = Memory::new(1 << 20);
    let din = upload(&mut mem, &input);
    let out = mem.alloc(4 * 4).unwrap();
    let nn = n as i32;
    for seed in [0, 7] {
        ptx_util::run(
            &m,
            "block_reduce",
            launch(4, 256),
            &[p64(&out), p64(&din), bytemuck(&nn)],
            &mut mem,
            opts(seed),
        )
        .unwrap();
        let got: Vec<f32> = download(&mem, out, 4);
        for (b, &g) in got.iter().enumerate() {
            let want: f64 = (256 * b..(256 * b + 256).min(n)).map(|i| i as f64).sum();
            assert_eq!(g as f64, want, "block {b}");
        }
    }
}

#[test]
fn atomics_accumulate() {
    let Some(m) = module() else { return };
    let n = 1000usize;
    let input = vec![0.25f32; n];
    let mut mem = Memory::new(1 << 20);
    let din = upload(&mut mem, &input);
    let total = upload(&mut mem, &[0f32]);
    let count = upload(&mut mem, &[0u32]);
    let maxv = upload(&mut mem, &[i32::MIN]);
    let nn = n as i32;
    ptx_util::run(
        &m,
        "atomic_sum",
        launch(4, 256),
        &[p64(&total), p64(&count), p64(&maxv), p64(&din), bytemuck(&nn)],
        &mut mem,
        opts(3),
    )
    .unwrap();
    assert_eq!(download::<f32>(&mem, total, 1)[0], 250.0);
    assert_eq!(download::<u32>(&mem, count, 1)[0], n as u32);
    assert_eq!(download::<i32>(&mem, maxv, 1)[0], n as i32 - 1);
}

#[test]
fn cooperative_grid_barrier() {
    let Some(m) = module() else { return };
    let grid = 5u32;
    let rounds = 3i32;
    // A normal launch works too: when the resident blocks only spin, the next
    // block is admitted beside them, as a GPU with room would run it.
    for (seed, cooperative) in [(0, true), (1, true), (2, true), (3, true), (0, false), (4, false)] {
        let mut mem = Memory::new(1 << 20);
        let bar = upload(&mut mem, &[0u32, 0]);
        let data = mem.alloc(grid as u64 * 4).unwrap();
        let out = mem.alloc((grid * rounds as u32) as u64 * 4).unwrap();
        let l = Launch {
            grid,
            block: 64,
            dynamic_shared: 0,
            cooperative,
        };
        ptx_util::run(
            &m,
            "grid_exchange",
            l,
            &[p64(&bar), p64(&data), p64(&out), bytemuck(&rounds)],
            &mut mem,
            opts(seed),
        )
        .unwrap_or_else(|f| panic!("seed {seed}: {f}"));
        let got: Vec<i32> = download(&mem, out, (grid * rounds as u32) as usize);
        for r in 0..rounds as u32 {
            for b in 0..grid {
                assert_eq!(
                    got[(r * grid + b) as usize],
                    (((b + 1) % grid) * 10 + r) as i32,
                    "seed {seed}"
                );
            }
        }
        assert_eq!(download::<u32>(&mem, bar, 2), vec![0, 2 * rounds as u32]);
    }
}

#[test]
fn widths_vectors_and_local_memory() {
    let Some(m) = module() else { return };
    let n = 32usize;
    let b: Vec<u8> = (0..n).map(|i| (i * 9) as u8).collect();
    let h: Vec<i16> = (0..n).map(|i| -(i as i16) * 100).collect();
    let d: Vec<f64> = (0..n).map(|i| i as f64 * 0.5).collect();
    let v: Vec<f32> = (0..4 * n).map(|i| i as f32).collect();
    let mut mem = Memory::new(1 << 20);
    let (db, dh, dd, dv) = (
        upload(&mut mem, &b),
        upload(&mut mem, &h),
        upload(&mut mem, &d),
        upload(&mut mem, &v),
    );
    let out = mem.alloc((5 * n * 4) as u64).unwrap();
    ptx_util::run(
        &m,
        "widths",
        launch(1, n as u32),
        &[p64(&db), p64(&dh), p64(&dd), p64(&dv), p64(&out)],
        &mut mem,
        opts(0),
    )
    .unwrap();
    let got: Vec<f32> = download(&mem, out, 5 * n);
    for i in 0..n {
        assert_eq!(got[5 * i], b[i] as f32 + h[i] as f32);
        assert_eq!(got[5 * i + 1], (d[i] * 2.0) as f32);
        assert_eq!(got[5 * i + 2], v[4 * i..4 * i + 4].iter().sum::<f32>());
        assert_eq!(got[5 * i + 3], (i * (i % 8)) as f32);
        assert_eq!(got[5 * i + 4], b[i] as i8 as f32);
    }
}

/// Same seed, same order; different seeds, different block orders.
#[test]
fn schedule_fuzz_is_deterministic_and_varies_block_order() {
    let Some(m) = module() else { return };
    let grid = 16u32;
    let tickets = |seed: u64| -> Vec<u32> {
        let mut mem = Memory::new(1 << 20);
        let counter = upload(&mut mem, &[0u32]);
        let t = mem.alloc(grid as u64 * 4).unwrap();
        ptx_util::run(
            &m,
            "ticket",
            launch(grid, 64),
            &[p64(&counter), p64(&t)],
            &mut mem,
            opts(seed),
        )
        .unwrap();
        download(&mem, t, grid as usize)
    };
    assert_eq!(
        tickets(0),
        (0..grid).collect::<Vec<_>>(),
        "seed 0 is the plain order"
    );
    assert_eq!(tickets(5), tickets(5));
    let orders: std::collections::HashSet<Vec<u32>> = (1..6).map(tickets).collect();
    assert!(
        orders.len() >= 4,
        "seeds should give different block orders: {orders:?}"
    );
}

/// Counters: a coalesced load touches 4 sectors per warp; the warp shuffle
/// kernel has no divergence; a strided shared access has bank conflicts.
#[test]
fn counters_show_coalescing() {
    let Some(m) = module() else { return };
    let input: Vec<f32> = vec![1.0; 256];
    let mut mem = Memory::new(1 << 20);
    let din = upload(&mut mem, &input);
    let out = mem.alloc(8 * 4).unwrap();
    let c = ptx_util::run(
        &m,
        "warp_reduce",
        launch(2, 128),
        &[p64(&out), p64(&din)],
        &mut mem,
        opts(0),
    )
    .unwrap();
    assert_eq!(c.global_load_requests, 8);
    assert_eq!(c.global_load_sectors, 32, "{c:?}");
    assert_eq!(c.global_store_requests, 8);
    assert_eq!(c.global_store_sectors, 8);
    assert_eq!(c.shared_requests, 0);
    // block_reduce: every warp's shared accesses are unit-stride: no conflicts.
    let nn = 256i32;
    let out2 = mem.alloc(4).unwrap();
    let c = ptx_util::run(
        &m,
        "block_reduce",
        launch(1, 256),
        &[p64(&out2), p64(&din), bytemuck(&nn)],
        &mut mem,
        opts(0),
    )
    .unwrap();
    assert!(c.shared_requests > 0);
    assert_eq!(c.bank_conflicts, 0, "{c:?}");
    assert!(
        c.divergent_branches > 0,
        "the k < 32 steps of the tree diverge: {c:?}"
    );
}

/// Speed of the interpreter with sanitizers and counters off (printed; run
/// with `--release --nocapture` to read it).
#[test]
fn interpreter_speed() {
    let Some(m) = module() else { return };
    let mut mem = Memory::new(1 << 20);
    let out = mem.alloc(64 * 256 * 4).unwrap();
    let iters: i32 = if cfg!(debug_assertions) { 20 } else { 2000 };
    let o = RunOptions {
        sanitize: false,
        counters: false,
        seed: 0,
    };
    let t = std::time::Instant::now();
    let c = ptx_util::run(
        &m,
        "spin_math",
        launch(64, 256),
        &[p64(&out), bytemuck(&iters)],
        &mut mem,
        o,
    )
    .unwrap();
    let s = t.elapsed().as_secs_f64();
    let on = RunOptions {
        sanitize: true,
        counters: true,
        seed: 0,
    };
    let t2 = std::time::Instant::now();
    let c2 = ptx_util::run(
        &m,
        "spin_math",
        launch(64, 256),
        &[p64(&out), bytemuck(&iters)],
        &mut mem,
        on,
    )
    .unwrap();
    let s2 = t2.elapsed().as_secs_f64();
    // counters are collected only when asked for
    assert_eq!(c.thread_instructions, c2.thread_instructions);
    eprintln!(
        "interpreter: {} thread-instructions in {s:.3} s = {:.1} M/s (sanitize+counters: {:.1} M/s)",
        c2.thread_instructions,
        c2.thread_instructions as f64 / s / 1e6,
        c2.thread_instructions as f64 / s2 / 1e6
    );
}
