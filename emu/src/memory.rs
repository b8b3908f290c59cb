//! Device memory: tracked host allocations at fake device addresses.
//!
//! CONTRACT (the driver layer codes against these signatures; the interpreter
//! owns the implementation and may add to it, not change it):
//! - Addresses are never 0, are 256-byte aligned, and allocations are separated
//!   by an unmapped gap (a redzone) so that a store one past the end faults.
//! - Every byte has an "initialised" shadow bit: set by `write`, `memset`,
//!   `copy` (copying the source's bits) and kernel stores; initcheck reports a
//!   kernel load of a byte whose bit is clear.
//! - A freed address is never reused within a process, so a use after free faults.

/// A fault from a host-side memory call, in words the driver turns into a
/// `CUresult` and prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemError(pub String);

impl std::fmt::Display for MemError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MemError {}

/// All of the device's global memory.
#[derive(Debug, Default)]
pub struct Memory {
    // implementation: the interpreter's
}

impl Memory {
    /// A memory that allows at most `capacity` bytes live at once.
    pub fn new(capacity: u64) -> Memory {
        let _ = capacity;
        todo!()
    }
    /// A new allocation of `bytes` (0 is refused, as `cuMemAlloc` refuses it);
    /// its bytes are uninitialised.
    pub fn alloc(&mut self, bytes: u64) -> Result<u64, MemError> {
        let _ = bytes;
        todo!()
    }
    /// Frees the allocation that starts at `addr`.
    pub fn free(&mut self, addr: u64) -> Result<(), MemError> {
        let _ = addr;
        todo!()
    }
    /// Host to device: `data` lands at `dst`, which must lie inside one live allocation.
    pub fn write(&mut self, dst: u64, data: &[u8]) -> Result<(), MemError> {
        let _ = (dst, data);
        todo!()
    }
    /// Device to host.
    pub fn read(&self, src: u64, out: &mut [u8]) -> Result<(), MemError> {
        let _ = (src, out);
        todo!()
    }
    /// Device to device (the ranges may not overlap).
    pub fn copy(&mut self, dst: u64, src: u64, bytes: u64) -> Result<(), MemError> {
        let _ = (dst, src, bytes);
        todo!()
    }
    /// `cuMemsetD8`/`D16`/`D32`: `count` elements of `elem` bytes (1, 2 or 4), each `value`'s low bytes.
    pub fn memset(&mut self, dst: u64, value: u32, elem: usize, count: u64) -> Result<(), MemError> {
        let _ = (dst, value, elem, count);
        todo!()
    }
    /// (free, total) bytes.
    pub fn info(&self) -> (u64, u64) {
        todo!()
    }
}
