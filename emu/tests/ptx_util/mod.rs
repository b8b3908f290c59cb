//! Helpers for the interpreter's integration tests: compiling .cu files with
//! the repository's nvcc, and running kernels on a fresh memory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use mfcuda_emu::exec::{self, Counters, Fault, Launch, RunOptions};
use mfcuda_emu::memory::Memory;
use mfcuda_emu::ptx::Module;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("emu/ has a parent")
        .to_path_buf()
}

/// The local nvcc, if there is one.
pub fn nvcc() -> Option<PathBuf> {
    let p = root().join(".cuda/nvidia/cu13/bin/nvcc");
    p.exists().then_some(p)
}

/// Compiles `cu` to PTX the way build.rs does (compute_80, -O3, ftz, IEEE div
/// and sqrt, no contraction); None (with the reason printed) without nvcc.
pub fn compile(cu: &Path) -> Option<String> {
    let Some(nvcc) = nvcc() else {
        eprintln!(
            "skipping: no nvcc at .cuda/nvidia/cu13/bin/nvcc (needed to compile {})",
            cu.display()
        );
        return None;
    };
    let dir = std::env::temp_dir().join(format!("mfcuda-emu-ptx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // A file of its own for each call: tests compile the same .cu concurrently.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let stem = cu.file_stem().and_then(|s| s.to_str()).unwrap_or("k");
    let out = dir.join(format!("{stem}-{call}.ptx"));
    let status = Command::new(nvcc)
        .args([
            "-ptx",
            "-arch=compute_80",
            "-O3",
            "-ftz=true",
            "-prec-div=true",
            "-prec-sqrt=true",
            "-fmad=false",
        ])
        .arg("-I")
        .arg(root().join("kernels"))
        .arg("-o")
        .arg(&out)
        .arg(cu)
        .status()
        .expect("nvcc runs");
    assert!(status.success(), "nvcc failed on {}", cu.display());
    let ptx = std::fs::read_to_string(&out).expect("ptx written");
    let _ = std::fs::remove_file(&out);
    Some(ptx)
}

/// Options: sanitizers on, counters on, the given seed.
pub fn opts(seed: u64) -> RunOptions {
    RunOptions {
        sanitize: true,
        counters: true,
        seed,
    }
}

/// A plain launch.
pub fn launch(grid: u32, block: u32) -> Launch {
    Launch {
        grid,
        block,
        dynamic_shared: 0,
        cooperative: false,
    }
}

/// An allocation holding `v`'s bytes.
pub fn upload<T: Copy>(mem: &mut Memory, v: &[T]) -> u64 {
    let bytes = unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, std::mem::size_of_val(v)) };
    let a = mem.alloc(bytes.len().max(1) as u64).expect("alloc");
    mem.write(a, bytes).expect("write");
    a
}

/// `n` values of T read back from `addr`.
pub fn download<T: Copy + Default>(mem: &Memory, addr: u64, n: usize) -> Vec<T> {
    let mut v = vec![T::default(); n];
    let bytes =
        unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut u8, std::mem::size_of_val(&v[..])) };
    mem.read(addr, bytes).expect("read");
    v
}

/// Runs kernel `name` of `m`.
pub fn run(
    m: &Module,
    name: &str,
    l: Launch,
    params: &[&[u8]],
    mem: &mut Memory,
    o: RunOptions,
) -> Result<Counters, Fault> {
    let k = m.kernel(name).unwrap_or_else(|| panic!("no kernel {name}"));
    exec::run(&k, l, params, mem, o)
}
