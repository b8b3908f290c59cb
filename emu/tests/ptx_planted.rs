//! Planted bugs (emu/kernels/planted.cu): each is reported with the right
//! kind, and each correct twin runs clean.

mod ptx_util;

use mfcuda_emu::exec::{FaultKind, Launch};
use mfcuda_emu::memory::Memory;
use mfcuda_emu::ptx::Module;
use ptx_util::{download, launch, opts, upload};

fn module() -> Option<Module> {
    let ptx = ptx_util::compile(&ptx_util::root().join("emu/kernels/planted.cu"))?;
    Some(Module::load(&ptx).expect("planted.cu loads"))
}

fn b<T>(v: &T) -> &[u8] {
    unsafe { std::slice::from_raw_parts(v as *const T as *const u8, std::mem::size_of::<T>()) }
}

#[test]
fn removed_syncthreads_is_a_race() {
    let Some(m) = module() else { return };
    let mut mem = Memory::new(1 << 20);
    let din = upload(&mut mem, &vec![1.0f32; 512]);
    let out = mem.alloc(8).unwrap();
    let f = ptx_util::run(
        &m,
        "reduce_nosync",
        launch(2, 256),
        &[b(&out), b(&din)],
        &mut mem,
        opts(0),
    )
    .unwrap_err();
    eprintln!("{f}");
    assert_eq!(f.kind, FaultKind::Racecheck, "{f}");
    assert!(
        f.block.is_some() && f.thread.is_some() && f.ptx_line.is_some(),
        "{f}"
    );
    for seed in [0, 1, 2] {
        ptx_util::run(
            &m,
            "reduce_ok",
            launch(2, 256),
            &[b(&out), b(&din)],
            &mut mem,
            opts(seed),
        )
        .unwrap();
        assert_eq!(download::<f32>(&mem, out, 2), vec![256.0, 256.0]);
    }
}

#[test]
fn store_one_past_the_end_is_memcheck() {
    let Some(m) = module() else { return };
    let mut mem = Memory::new(1 << 20);
    let n = 100i32;
    let out = mem.alloc(n as u64 * 4).unwrap();
    let f = ptx_util::run(
        &m,
        "store_past_end",
        launch(1, 128),
        &[b(&out), b(&n)],
        &mut mem,
        opts(0),
    )
    .unwrap_err();
    eprintln!("{f}");
    assert_eq!(f.kind, FaultKind::Memcheck, "{f}");
    assert_eq!(f.thread, Some(100), "{f}");
    assert!(f.message.contains("past the end"), "{f}");
    // Bounds are checked with the sanitizers off too.
    let off = mfcuda_emu::exec::RunOptions {
        sanitize: false,
        counters: false,
        seed: 0,
    };
    let f = ptx_util::run(
        &m,
        "store_past_end",
        launch(1, 128),
        &[b(&out), b(&n)],
        &mut mem,
        off,
    )
    .unwrap_err();
    eprintln!("{f}");
    assert_eq!(f.kind, FaultKind::Memcheck);
    ptx_util::run(
        &m,
        "store_ok",
        launch(1, 128),
        &[b(&out), b(&n)],
        &mut mem,
        opts(0),
    )
    .unwrap();
}

#[test]
fn uninitialized_read_is_initcheck() {
    let Some(m) = module() else { return };
    let mut mem = Memory::new(1 << 20);
    let n = 64i32;
    let out = mem.alloc(n as u64 * 4).unwrap();
    let input = mem.alloc(n as u64 * 4).unwrap();
    mem.write(input, &[0u8; 128]).unwrap(); // only the first half
    let f = ptx_util::run(
        &m,
        "copy",
        launch(1, 64),
        &[b(&out), b(&input), b(&n)],
        &mut mem,
        opts(0),
    )
    .unwrap_err();
    eprintln!("{f}");
    assert_eq!(f.kind, FaultKind::Initcheck, "{f}");
    assert!(f.thread.is_some_and(|t| t >= 32), "{f}");
    mem.memset(input, 0, 4, n as u64).unwrap();
    ptx_util::run(
        &m,
        "copy",
        launch(1, 64),
        &[b(&out), b(&input), b(&n)],
        &mut mem,
        opts(0),
    )
    .unwrap();
}

#[test]
fn two_writers_of_one_shared_word_race() {
    let Some(m) = module() else { return };
    let mut mem = Memory::new(1 << 20);
    let out = mem.alloc(64 * 4).unwrap();
    let f = ptx_util::run(&m, "shared_race", launch(1, 64), &[b(&out)], &mut mem, opts(0)).unwrap_err();
    eprintln!("{f}");
    assert_eq!(f.kind, FaultKind::Racecheck, "{f}");
    ptx_util::run(&m, "shared_ok", launch(1, 64), &[b(&out)], &mut mem, opts(0)).unwrap();
    assert!(download::<i32>(&mem, out, 64).iter().all(|&v| v == 7));
}

#[test]
fn a_grid_barrier_one_block_skips_deadlocks() {
    let Some(m) = module() else { return };
    let l = Launch {
        grid: 4,
        block: 64,
        dynamic_shared: 0,
        cooperative: true,
    };
    for seed in [0, 9] {
        let mut mem = Memory::new(1 << 20);
        let bar = upload(&mut mem, &[0u32, 0]);
        let out = upload(&mut mem, &[0i32; 4]);
        let t = std::time::Instant::now();
        let f = ptx_util::run(
            &m,
            "barrier_skipped",
            l,
            &[b(&bar), b(&out)],
            &mut mem,
            opts(seed),
        )
        .unwrap_err();
        eprintln!("{f}");
        assert_eq!(f.kind, FaultKind::Deadlock, "{f}");
        assert!(
            f.message.contains("block 0:") && f.message.contains("spinning at ld.volatile"),
            "{f}"
        );
        assert!(f.ptx_line.is_some());
        assert!(t.elapsed().as_secs() < 10, "reported without hanging");
        let bar = upload(&mut mem, &[0u32, 0]);
        ptx_util::run(&m, "barrier_ok", l, &[b(&bar), b(&out)], &mut mem, opts(seed)).unwrap();
        assert_eq!(download::<i32>(&mem, out, 4), vec![1; 4]);
    }
}

#[test]
fn partial_syncthreads_is_synccheck() {
    let Some(m) = module() else { return };
    let mut mem = Memory::new(1 << 20);
    let din = upload(&mut mem, &vec![2.0f32; 256]);
    let out = mem.alloc(256 * 4).unwrap();
    let n = 100i32;
    let f = ptx_util::run(
        &m,
        "partial_sync",
        launch(1, 256),
        &[b(&out), b(&din), b(&n)],
        &mut mem,
        opts(0),
    )
    .unwrap_err();
    eprintln!("{f}");
    assert_eq!(f.kind, FaultKind::Synccheck, "{f}");
    assert!(f.message.contains("exited"), "{f}");
    ptx_util::run(
        &m,
        "partial_sync_ok",
        launch(1, 256),
        &[b(&out), b(&din), b(&n)],
        &mut mem,
        opts(0),
    )
    .unwrap();
    // With every thread inside n, the buggy kernel is fine too.
    let n = 256i32;
    ptx_util::run(
        &m,
        "partial_sync",
        launch(1, 256),
        &[b(&out), b(&din), b(&n)],
        &mut mem,
        opts(0),
    )
    .unwrap();
}

#[test]
fn shuffle_with_exited_lanes_is_synccheck() {
    let Some(m) = module() else { return };
    let mut mem = Memory::new(1 << 20);
    let din = upload(&mut mem, &vec![2.0f32; 64]);
    let out = mem.alloc(64 * 4).unwrap();
    let f = ptx_util::run(
        &m,
        "shfl_exited",
        launch(1, 64),
        &[b(&out), b(&din)],
        &mut mem,
        opts(0),
    )
    .unwrap_err();
    eprintln!("{f}");
    assert_eq!(f.kind, FaultKind::Synccheck, "{f}");
}
