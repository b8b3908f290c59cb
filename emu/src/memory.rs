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
//!
//! The shadow is one byte per byte (0: never written), which keeps copies a
//! `memcpy` and checks a compare. Unwritten bytes read as 0, so even a run
//! without initcheck is deterministic. [`Memory::default`] has no capacity limit.

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

/// The first address handed out.
const BASE: u64 = 0x7_0000_0000;
/// The unmapped gap after each allocation.
const REDZONE: u64 = 4096;

/// One live allocation.
#[derive(Debug)]
pub(crate) struct Alloc {
    /// Its device address.
    pub start: u64,
    /// Its bytes.
    pub data: Vec<u8>,
    /// 1 where the byte has been written, 0 where not.
    pub init: Vec<u8>,
}

impl Alloc {
    pub(crate) fn end(&self) -> u64 {
        self.start + self.data.len() as u64
    }
}

/// All of the device's global memory.
#[derive(Debug, Default)]
pub struct Memory {
    capacity: u64,
    live: u64,
    next: u64,
    /// Live allocations, sorted by address (addresses only grow, so pushing keeps the order).
    pub(crate) allocs: Vec<Alloc>,
}

impl Memory {
    /// A memory that allows at most `capacity` bytes live at once.
    pub fn new(capacity: u64) -> Memory {
        Memory {
            capacity,
            live: 0,
            next: BASE,
            allocs: Vec::new(),
        }
    }

    /// A new allocation of `bytes` (0 is refused, as `cuMemAlloc` refuses it);
    /// its bytes are uninitialised.
    pub fn alloc(&mut self, bytes: u64) -> Result<u64, MemError> {
        if bytes == 0 {
            return Err(MemError(
                "an allocation of 0 bytes (cuMemAlloc refuses size 0)".into(),
            ));
        }
        if self.capacity != 0 && self.live.saturating_add(bytes) > self.capacity {
            return Err(MemError(format!(
                "out of device memory: {bytes} bytes asked, {} of {} free",
                self.capacity - self.live,
                self.capacity
            )));
        }
        let n = usize::try_from(bytes).map_err(|_| MemError(format!("an allocation of {bytes} bytes")))?;
        if self.next == 0 {
            self.next = BASE;
        }
        let start = self.next;
        let next = start
            .checked_add(bytes)
            .and_then(|e| e.checked_add(REDZONE + 255))
            .ok_or_else(|| MemError("the device address space is exhausted".into()))?;
        self.next = next & !255;
        self.allocs.push(Alloc {
            start,
            data: vec![0; n],
            init: vec![0; n],
        });
        self.live += bytes;
        Ok(start)
    }

    /// Frees the allocation that starts at `addr`.
    pub fn free(&mut self, addr: u64) -> Result<(), MemError> {
        match self.allocs.binary_search_by_key(&addr, |a| a.start) {
            Ok(i) => {
                let a = self.allocs.remove(i);
                self.live -= a.data.len() as u64;
                Ok(())
            }
            Err(_) => Err(MemError(format!(
                "free of {addr:#x}, which is not the start of a live allocation"
            ))),
        }
    }

    /// The live allocation holding `[addr, addr + len)` and the offset of `addr` in it.
    pub(crate) fn locate(&self, addr: u64, len: u64) -> Option<(usize, usize)> {
        let i = self.allocs.partition_point(|a| a.start <= addr).checked_sub(1)?;
        let a = &self.allocs[i];
        let end = addr.checked_add(len)?;
        if end <= a.end() {
            Some((i, (addr - a.start) as usize))
        } else {
            None
        }
    }

    fn range(&self, addr: u64, len: u64, what: &str) -> Result<(usize, usize), MemError> {
        self.locate(addr, len).ok_or_else(|| {
            MemError(format!(
                "{what} of {len} bytes at {addr:#x}: not inside one live allocation ({})",
                self.near(addr)
            ))
        })
    }

    /// Words about the allocation nearest to `addr` (for fault messages).
    pub(crate) fn near(&self, addr: u64) -> String {
        let i = self.allocs.partition_point(|a| a.start <= addr);
        let below = i.checked_sub(1).map(|j| &self.allocs[j]);
        match below {
            Some(a) if addr < a.end() => {
                format!(
                    "in the allocation at {:#x} of {} bytes, offset {}",
                    a.start,
                    a.data.len(),
                    addr - a.start
                )
            }
            Some(a) if addr == a.end() => {
                format!(
                    "just past the end of the allocation at {:#x} of {} bytes",
                    a.start,
                    a.data.len()
                )
            }
            Some(a) => format!(
                "{} bytes past the end of the allocation at {:#x} of {} bytes",
                addr - a.end(),
                a.start,
                a.data.len()
            ),
            None => "below every allocation".into(),
        }
    }

    /// Host to device: `data` lands at `dst`, which must lie inside one live allocation.
    pub fn write(&mut self, dst: u64, data: &[u8]) -> Result<(), MemError> {
        if data.is_empty() {
            return Ok(());
        }
        let (i, o) = self.range(dst, data.len() as u64, "a write")?;
        let a = &mut self.allocs[i];
        a.data[o..o + data.len()].copy_from_slice(data);
        a.init[o..o + data.len()].fill(1);
        Ok(())
    }

    /// Device to host.
    pub fn read(&self, src: u64, out: &mut [u8]) -> Result<(), MemError> {
        if out.is_empty() {
            return Ok(());
        }
        let (i, o) = self.range(src, out.len() as u64, "a read")?;
        out.copy_from_slice(&self.allocs[i].data[o..o + out.len()]);
        Ok(())
    }

    /// Device to device (the ranges may not overlap).
    pub fn copy(&mut self, dst: u64, src: u64, bytes: u64) -> Result<(), MemError> {
        if bytes == 0 {
            return Ok(());
        }
        let (si, so) = self.range(src, bytes, "a copy's source")?;
        let (di, d_o) = self.range(dst, bytes, "a copy's destination")?;
        let n = bytes as usize;
        if si == di {
            if so < d_o + n && d_o < so + n {
                return Err(MemError(format!(
                    "a copy of {bytes} bytes from {src:#x} to {dst:#x}: the ranges overlap"
                )));
            }
            let a = &mut self.allocs[si];
            a.data.copy_within(so..so + n, d_o);
            a.init.copy_within(so..so + n, d_o);
        } else {
            let (s, d) = if si < di {
                let (l, r) = self.allocs.split_at_mut(di);
                (&l[si], &mut r[0])
            } else {
                let (l, r) = self.allocs.split_at_mut(si);
                (&r[0], &mut l[di])
            };
            d.data[d_o..d_o + n].copy_from_slice(&s.data[so..so + n]);
            d.init[d_o..d_o + n].copy_from_slice(&s.init[so..so + n]);
        }
        Ok(())
    }

    /// `cuMemsetD8`/`D16`/`D32`: `count` elements of `elem` bytes (1, 2 or 4), each `value`'s low bytes.
    pub fn memset(&mut self, dst: u64, value: u32, elem: usize, count: u64) -> Result<(), MemError> {
        if !matches!(elem, 1 | 2 | 4) {
            return Err(MemError(format!("a memset of {elem}-byte elements")));
        }
        if dst % elem as u64 != 0 {
            return Err(MemError(format!(
                "a memset of {elem}-byte elements at the unaligned {dst:#x}"
            )));
        }
        let bytes = count
            .checked_mul(elem as u64)
            .ok_or_else(|| MemError("a memset too large".into()))?;
        if bytes == 0 {
            return Ok(());
        }
        let (i, o) = self.range(dst, bytes, "a memset")?;
        let a = &mut self.allocs[i];
        let n = bytes as usize;
        let v = value.to_le_bytes();
        if v[..elem].iter().all(|&x| x == v[0]) {
            a.data[o..o + n].fill(v[0]);
        } else {
            for chunk in a.data[o..o + n].chunks_exact_mut(elem) {
                chunk.copy_from_slice(&v[..elem]);
            }
        }
        a.init[o..o + n].fill(1);
        Ok(())
    }

    /// (free, total) bytes.
    pub fn info(&self) -> (u64, u64) {
        if self.capacity == 0 {
            return (u64::MAX - self.live, u64::MAX);
        }
        (self.capacity - self.live, self.capacity)
    }

    /// Whether every byte of `[addr, addr + len)` has been written (false outside every allocation).
    pub fn is_initialized(&self, addr: u64, len: u64) -> bool {
        match self.locate(addr, len) {
            Some((i, o)) => self.allocs[i].init[o..o + len as usize].iter().all(|&b| b != 0),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alloc_write_read_copy_memset() {
        let mut m = Memory::new(1 << 20);
        assert!(m.alloc(0).is_err());
        let a = m.alloc(100).unwrap();
        let b = m.alloc(100).unwrap();
        assert!(a != 0 && a % 256 == 0 && b % 256 == 0 && b >= a + 100 + REDZONE);
        m.write(a, &[1, 2, 3, 4]).unwrap();
        assert!(m.write(a + 98, &[0; 4]).is_err(), "past the end");
        assert!(m.write(a + 100, &[0]).is_err(), "one past the end");
        assert!(m.is_initialized(a, 4) && !m.is_initialized(a, 5));
        m.copy(b, a, 4).unwrap();
        let mut out = [0u8; 4];
        m.read(b, &mut out).unwrap();
        assert_eq!(out, [1, 2, 3, 4]);
        assert!(m.copy(a + 2, a, 4).is_err(), "overlap");
        m.memset(b, 0xAABB, 2, 3).unwrap();
        let mut out = [0u8; 6];
        m.read(b, &mut out).unwrap();
        assert_eq!(out, [0xBB, 0xAA, 0xBB, 0xAA, 0xBB, 0xAA]);
        assert_eq!(m.info(), ((1 << 20) - 200, 1 << 20));
        m.free(a).unwrap();
        assert!(m.free(a).is_err());
        assert!(m.read(a, &mut out).is_err(), "use after free");
        let c = m.alloc(8).unwrap();
        assert!(c > b, "never reused");
        assert!(m.alloc(1 << 21).is_err(), "capacity");
    }
}
