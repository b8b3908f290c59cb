//! Every production module (kernels/*.cu, compiled as build.rs compiles them) loads,
//! and every kernel fits on an SM at the block sizes the host launches.

mod ptx_util;

use mfcuda_emu::exec::max_blocks_per_sm;
use mfcuda_emu::ptx::Module;

#[test]
fn every_production_module_loads() {
    let dir = ptx_util::root().join("kernels");
    let mut cus: Vec<_> = std::fs::read_dir(&dir)
        .expect("kernels/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "cu"))
        .collect();
    cus.sort();
    assert!(!cus.is_empty());
    let mut kernels = 0;
    for cu in cus {
        let Some(ptx) = ptx_util::compile(&cu) else { return };
        let m = Module::load(&ptx).unwrap_or_else(|e| panic!("{}: {e}", cu.display()));
        for k in &m.kernels {
            let threads = k.max_threads.unwrap_or(256).min(1024);
            // The host launches at the declared bound (256, 128 or 1024 threads).
            let occ = max_blocks_per_sm(k, threads, 0);
            assert!(occ >= 1, "{} at {threads} threads: occupancy {occ}", k.name);
            if threads > 256 {
                // The fused epochs also get dynamic shared memory.
                assert!(max_blocks_per_sm(k, threads, 48 * 1024) >= 1, "{}", k.name);
            }
        }
        kernels += m.kernels.len();
    }
    assert!(kernels >= 40, "{kernels} kernels");
}

/// An instruction the interpreter does not implement fails the load, naming
/// the instruction, its PTX line and its kernel.
#[test]
fn an_unsupported_instruction_fails_the_load() {
    let Some(ptx) = ptx_util::compile(&ptx_util::root().join("emu/kernels/unsupported.cu")) else {
        return;
    };
    let e = Module::load(&ptx).unwrap_err().0;
    let line = ptx
        .lines()
        .position(|l| l.contains("sin.approx"))
        .expect("nvcc wrote sin.approx")
        + 1;
    assert!(e.contains(&format!("PTX line {line}")), "{e}");
    assert!(
        e.contains("kernel uses_sinf") && e.contains("sin.approx.ftz.f32"),
        "{e}"
    );
}
