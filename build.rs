//! Compiles every `kernels/*.cu` to PTX with nvcc and embeds it in the crate.
//!
//! nvcc is looked for in this order: `$NVCC`, `$CUDA_HOME/bin`, `$CUDA_PATH/bin`,
//! `$PATH`, `/usr/local/cuda/bin`, and the project-local install that
//! `scripts/install-nvcc.sh` makes in `.cuda/`. The target is the virtual
//! architecture `compute_80` (runs on sm_80 and newer, JIT-compiled by the
//! driver); `CUDA_ARCH=compute_90` (or `90`) overrides it.
//!
//! Without nvcc the crate builds CPU-only and says so in a cargo warning.
//! With `MFCUDA_REQUIRE_NVCC=1`, a missing nvcc or any nvcc error fails the
//! build and shows nvcc's own output.
//!
//! The generated `$OUT_DIR/kernels.rs` holds `PTX: &[(&str, &str)]`, the
//! (file stem, PTX text) of each kernel file, and `BUILD_NOTE`, one line on
//! how the kernels were built or why they were not.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Flags that make the kernels' float arithmetic match the CPU reference:
/// subnormals flushed (as the CPU backend does), IEEE division and square
/// root, and no contraction of a*b+c into one fused multiply-add.
const NVCC_FLAGS: &[&str] = &[
    "-O3",
    "-ftz=true",
    "-prec-div=true",
    "-prec-sqrt=true",
    "-fmad=false",
];

/// The stamp `scripts/install-nvcc.sh` writes in `.cuda/`, relative to the package root.
const NVCC_STAMP: &str = ".cuda/installed";

fn main() {
    for var in [
        "NVCC",
        "CUDA_HOME",
        "CUDA_PATH",
        "PATH",
        "CUDA_ARCH",
        "MFCUDA_REQUIRE_NVCC",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=kernels");
    println!("cargo:rerun-if-changed=build.rs");

    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    // scripts/install-nvcc.sh rewrites this stamp when it installs (or finds)
    // nvcc in .cuda/, so that the next build compiles the kernels. A watched
    // path must exist, or Cargo reruns the script on every build, so an empty
    // stamp is made first where the folder can be written.
    let stamp = root.join(NVCC_STAMP);
    if !stamp.exists() {
        let _ = fs::create_dir_all(root.join(".cuda")).and_then(|()| fs::write(&stamp, ""));
    }
    if stamp.exists() {
        println!("cargo:rerun-if-changed={}", stamp.display());
    }
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let require = env::var("MFCUDA_REQUIRE_NVCC").map(|v| v == "1").unwrap_or(false);

    let mut sources: Vec<PathBuf> = fs::read_dir(root.join("kernels"))
        .map(|dir| dir.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    sources.retain(|p| p.extension().is_some_and(|e| e == "cu"));
    sources.sort();
    for entry in fs::read_dir(root.join("kernels")).into_iter().flatten().flatten() {
        println!("cargo:rerun-if-changed={}", entry.path().display());
    }

    let result = match find_nvcc(&root) {
        None => Err(
            "no nvcc found (looked at $NVCC, $CUDA_HOME, $CUDA_PATH, $PATH, /usr/local/cuda, .cuda/); \
                     run scripts/install-nvcc.sh to get one"
                .to_string(),
        ),
        Some(nvcc) => compile_all(&nvcc, &sources, &root, &out),
    };
    let (ptx, note) = match result {
        Ok((ptx, note)) => (ptx, note),
        Err(msg) if require => panic!("MFCUDA_REQUIRE_NVCC=1: {msg}"),
        Err(msg) => {
            println!(
                "cargo:warning=mfcuda builds without CUDA kernels: {}",
                msg.lines().next().unwrap_or("")
            );
            (
                Vec::new(),
                format!("built without CUDA kernels: {}", msg.lines().next().unwrap_or("")),
            )
        }
    };
    let mut rs = String::from("/// (file stem, PTX text) of every kernel file, empty without nvcc.\n");
    rs.push_str("pub const PTX: &[(&str, &str)] = &[\n");
    for (stem, path) in &ptx {
        rs.push_str(&format!(
            "    ({stem:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    rs.push_str("];\n/// How the kernels were built, or why they were not.\n");
    rs.push_str(&format!("pub const BUILD_NOTE: &str = {note:?};\n"));
    fs::write(out.join("kernels.rs"), rs).expect("OUT_DIR is writable");
}

/// The first nvcc in the documented search order.
fn find_nvcc(root: &Path) -> Option<PathBuf> {
    let exe = if cfg!(windows) { "nvcc.exe" } else { "nvcc" };
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = env::var_os("NVCC") {
        candidates.push(PathBuf::from(p));
    }
    for var in ["CUDA_HOME", "CUDA_PATH"] {
        if let Some(p) = env::var_os(var) {
            candidates.push(PathBuf::from(p).join("bin").join(exe));
        }
    }
    if let Some(path) = env::var_os("PATH") {
        candidates.extend(env::split_paths(&path).map(|d| d.join(exe)));
    }
    candidates.push(PathBuf::from("/usr/local/cuda/bin").join(exe));
    candidates.push(root.join(".cuda/nvidia/cu13/bin").join(exe));
    candidates.into_iter().find(|p| p.is_file())
}

/// The virtual architecture to target.
fn arch() -> String {
    match env::var("CUDA_ARCH") {
        Ok(a) if a.chars().all(|c| c.is_ascii_digit()) && !a.is_empty() => format!("compute_{a}"),
        Ok(a) if !a.trim().is_empty() => a.trim().replace("sm_", "compute_"),
        _ => "compute_80".to_string(),
    }
}

type Compiled = (Vec<(String, PathBuf)>, String);

fn compile_all(nvcc: &Path, sources: &[PathBuf], root: &Path, out: &Path) -> Result<Compiled, String> {
    let arch = arch();
    let version = Command::new(nvcc)
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", nvcc.display()))?;
    let version = String::from_utf8_lossy(&version.stdout)
        .lines()
        .find(|l| l.contains("release"))
        .unwrap_or("unknown version")
        .trim()
        .to_string();
    let mut ptx = Vec::new();
    for src in sources {
        let stem = src
            .file_stem()
            .expect("a .cu file has a stem")
            .to_string_lossy()
            .to_string();
        let dst = out.join(format!("{stem}.ptx"));
        let result = Command::new(nvcc)
            .arg("-ptx")
            .arg(format!("-arch={arch}"))
            .args(NVCC_FLAGS)
            .arg("-I")
            .arg(root.join("kernels"))
            .arg("-o")
            .arg(&dst)
            .arg(src)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", nvcc.display()))?;
        if !result.status.success() {
            return Err(format!(
                "nvcc failed on {} ({}):\n{}{}",
                src.display(),
                result.status,
                String::from_utf8_lossy(&result.stdout),
                String::from_utf8_lossy(&result.stderr)
            ));
        }
        ptx.push((stem, dst));
    }
    println!(
        "cargo:warning=mfcuda: nvcc compiled {} kernel files to PTX for {arch}",
        ptx.len()
    );
    let note = format!(
        "{} kernel files compiled for {arch} by {} ({version})",
        ptx.len(),
        nvcc.display()
    );
    Ok((ptx, note))
}
