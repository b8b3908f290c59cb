//! Build script. For now it only watches `kernels/`; compiling the `.cu`
//! files to PTX arrives with the CUDA backend.

fn main() {
    println!("cargo:rerun-if-changed=kernels");
    println!("cargo:rerun-if-changed=build.rs");
}
