//! The PTX parser and the decoded form that [`crate::exec`] runs.
//!
//! CONTRACT (the driver layer codes against these signatures; the interpreter
//! owns the implementation and may add to it, not change it).

use std::sync::Arc;

/// Why a module did not load: names the instruction or directive, its PTX line
/// (1-based) and the kernel it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError(pub String);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoadError {}

/// One kernel parameter as the `.entry` declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Its PTX name (`foo_param_0`).
    pub name: String,
    /// Bytes.
    pub size: usize,
}

/// One decoded `.entry`.
#[derive(Debug)]
pub struct Kernel {
    /// The kernel's name.
    pub name: String,
    /// Its parameters, in order.
    pub params: Vec<Param>,
    /// Bytes of static `.shared` memory.
    pub static_shared: usize,
    /// Bytes of `.local` memory per thread.
    pub local_bytes: usize,
    /// `.maxntid` (threads a block), if declared.
    pub max_threads: Option<u32>,
    // the instructions: the interpreter's
}

/// A loaded module: its kernels by name.
#[derive(Debug)]
pub struct Module {
    /// The kernels, in the order the PTX declares them.
    pub kernels: Vec<Arc<Kernel>>,
}

impl Module {
    /// Parses and decodes a whole PTX module. Any instruction form, directive or
    /// state space the interpreter does not implement fails here, never later.
    pub fn load(text: &str) -> Result<Module, LoadError> {
        let _ = text;
        todo!()
    }

    /// The kernel called `name`.
    pub fn kernel(&self, name: &str) -> Option<Arc<Kernel>> {
        self.kernels.iter().find(|k| k.name == name).cloned()
    }
}
