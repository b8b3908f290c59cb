//! Per-launch counters: requests, sectors, bank conflicts, divergence.
//!
//! - A global request is one warp-wide load (or store, or atomic) instruction
//!   instance; its sectors are the distinct 32-byte sectors its lanes touch.
//! - A shared request is one instance of a shared access; its bank conflicts
//!   are the extra wavefronts: the most distinct 4-byte words any one of the
//!   32 banks holds among the lanes' words, minus one.
//! - A divergent branch is a conditional-branch instance some lanes took and
//!   others did not.
//! - Warp-instructions: for each warp and instruction, the most times any lane
//!   ran it.
//!
//! Lanes run one at a time, so a warp's "request" is rebuilt afterwards: each
//! memory access and conditional branch a lane makes is logged with its
//! instruction and how many times that lane had executed the instruction
//! ([`Rec::key`]). The accesses with the same pair form one warp-wide request,
//! whatever the divergence or the loop trip counts.

use super::{Counters, Engine};
use crate::ptx::{Inst, Op, Space};

/// One logged access or branch of one lane: `key` is the instruction's
/// index (high 32 bits) and how many times the lane had executed it (low 32);
/// `addr` is the address accessed, or 1 for a branch taken and 0 for one not.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rec {
    pub key: u64,
    pub addr: u64,
}

/// Warp-instructions from per-thread, per-instruction execution counts
/// (`cnt[t * ni + pc]`): for each warp and instruction, the most times one of
/// its lanes executed it (the issues a SIMT warp would need).
pub fn warp_instructions(cnt: &[u32], threads: usize, ni: usize) -> u64 {
    let mut total = 0u64;
    let mut base = 0;
    while base < threads {
        let end = (base + 32).min(threads);
        let mut best = vec![0u32; ni];
        for t in base..end {
            for (b, &c) in best.iter_mut().zip(&cnt[t * ni..(t + 1) * ni]) {
                *b = (*b).max(c);
            }
        }
        total += best.iter().map(|&b| b as u64).sum::<u64>();
        base = end;
    }
    total
}

/// Adds one warp's grouped events to `c`. `scratch` is reused space.
pub(crate) fn tally(log: &mut [Rec], code: &[Inst], c: &mut Counters, scratch: &mut Vec<u64>) {
    log.sort_unstable_by_key(|r| r.key);
    let mut i = 0;
    while i < log.len() {
        let key = log[i].key;
        let mut j = i + 1;
        while j < log.len() && log[j].key == key {
            j += 1;
        }
        let g = &log[i..j];
        i = j;
        let Some(ins) = code.get((key >> 32) as usize) else {
            continue;
        };
        let (space, size) = match ins.op {
            Op::Ld { space, size, vec, .. } | Op::St { space, size, vec, .. } => {
                (space, size as u64 * vec as u64)
            }
            Op::Atom { space, ty, .. } => (space, ty.bytes() as u64),
            Op::BraIf { .. } => {
                if g.iter().any(|r| r.addr != g[0].addr) {
                    c.divergent_branches += 1;
                }
                continue;
            }
            _ => continue,
        };
        // Distinct 32-byte sectors (global) or 4-byte words (shared).
        let unit = if space == Space::Shared { 4 } else { 32 };
        scratch.clear();
        for r in g {
            scratch.extend(r.addr / unit..=(r.addr + size.max(1) - 1) / unit);
        }
        scratch.sort_unstable();
        scratch.dedup();
        match (space, ins.op) {
            (Space::Shared, _) => {
                let mut banks = [0u32; 32];
                for &w in scratch.iter() {
                    banks[(w % 32) as usize] += 1;
                }
                let worst = banks.iter().copied().max().unwrap_or(0) as u64;
                c.shared_requests += 1;
                c.bank_conflicts += worst.saturating_sub(1);
            }
            (Space::Global, Op::Ld { .. }) => {
                c.global_load_requests += 1;
                c.global_load_sectors += scratch.len() as u64;
            }
            (Space::Global, _) => {
                c.global_store_requests += 1;
                c.global_store_sectors += scratch.len() as u64;
            }
            (Space::Local, _) => {}
        }
    }
}

impl Engine<'_> {
    /// Groups and counts a warp's logged events, and empties the log.
    pub(super) fn flush_log(&mut self, log: &mut Vec<Rec>) {
        tally(log, &self.k.code, &mut self.counters, &mut self.scratch);
        log.clear();
    }
}
