//! racecheck (and initcheck) for shared memory.
//!
//! Each byte of a block's shared window has a [`Cell`] that remembers its last
//! writer and its readers since then, with the time of each access in two
//! clocks: the block's barrier epoch (how many `bar.sync`s it has released) and
//! the accessing warp's sync epoch (how many full-warp `shfl.sync` /
//! `bar.warp.sync` it has completed). Two accesses by different threads are
//! ordered when a barrier lies between them (the epoch moved on), or, for two
//! lanes of one warp, when a full-warp sync lies between them. A write that is
//! not ordered after another thread's write or read, or a read not ordered after
//! another thread's write, is a race. Atomics do not race with atomics.

use super::FaultKind;

/// A cell's reader-warp field when its readers span warps.
const MIXED: u32 = u32::MAX;

/// The shadow of one shared byte.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cell {
    /// The last writer's thread + 1 (0: never written).
    w: u32,
    w_be: u32,
    w_we: u32,
    w_atom: bool,
    /// The first reader's thread + 1 since the barrier epoch `r_be` (0: none).
    r: u32,
    /// Another reader's thread + 1 in that epoch (0: none).
    r2: u32,
    r_warp: u32,
    r_be: u32,
    /// The latest warp epoch of those reads.
    r_we: u32,
}

/// What an access does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
    Atomic,
}

/// Checks and records thread `t`'s access of `[off, off + len)` of the shared
/// window, at barrier epoch `be` with warp epochs `we`.
pub(crate) fn shared_access(
    cells: &mut [Cell],
    off: usize,
    len: usize,
    t: u32,
    be: u32,
    we: &[u32],
    kind: Access,
) -> Result<(), (FaultKind, String)> {
    let warp = t / 32;
    let me = t + 1;
    let now = we[warp as usize];
    let what = match kind {
        Access::Read => "a read",
        Access::Write => "a write",
        Access::Atomic => "an atomic",
    };
    for (i, c) in cells[off..off + len].iter_mut().enumerate() {
        let byte = off + i;
        if c.w == 0 && kind != Access::Write {
            return Err((
                FaultKind::Initcheck,
                format!("{what} of shared byte {byte:#x} by thread {t}, which no thread of this block has written"),
            ));
        }
        let writer_ordered = c.w == 0 || c.w_be != be || ((c.w - 1) / 32 == warp && c.w_we < now);
        if c.w != 0 && c.w != me && !writer_ordered && !(kind == Access::Atomic && c.w_atom) {
            return Err((
                FaultKind::Racecheck,
                format!(
                    "{what} of shared byte {byte:#x} by thread {t} races with the {} by thread {} \
                     (no barrier between them)",
                    if c.w_atom { "atomic" } else { "write" },
                    c.w - 1
                ),
            ));
        }
        match kind {
            Access::Read => {
                if c.r == 0 || c.r_be != be {
                    c.r = me;
                    c.r2 = 0;
                    c.r_warp = warp;
                    c.r_be = be;
                    c.r_we = now;
                } else {
                    if c.r != me {
                        c.r2 = me;
                    }
                    if c.r_warp != warp {
                        c.r_warp = MIXED;
                    }
                    c.r_we = c.r_we.max(now);
                }
            }
            Access::Write | Access::Atomic => {
                let readers_ordered = c.r_be != be || (c.r_warp == warp && c.r_we < now);
                let other = if c.r != me { c.r } else { c.r2 };
                if other != 0 && !readers_ordered {
                    let who = format!("thread {}", other - 1);
                    return Err((
                        FaultKind::Racecheck,
                        format!(
                            "{what} of shared byte {byte:#x} by thread {t} races with a read by {who} \
                             (no barrier between them)"
                        ),
                    ));
                }
                c.w = me;
                c.w_be = be;
                c.w_we = now;
                c.w_atom = kind == Access::Atomic;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn races_and_orders() {
        let mut c = vec![Cell::default(); 64];
        let we = vec![0u32; 4];
        // Thread 0 writes, thread 40 reads in the same epoch: a race.
        shared_access(&mut c, 0, 4, 0, 0, &we, Access::Write).unwrap();
        let e = shared_access(&mut c, 0, 4, 40, 0, &we, Access::Read).unwrap_err();
        assert_eq!(e.0, FaultKind::Racecheck);
        // After a barrier: fine.
        shared_access(&mut c, 0, 4, 40, 1, &we, Access::Read).unwrap();
        // Thread 1 writes what 40 read in epoch 1: a race.
        assert_eq!(
            shared_access(&mut c, 0, 4, 1, 1, &we, Access::Write)
                .unwrap_err()
                .0,
            FaultKind::Racecheck
        );
        // Two atomics don't race.
        shared_access(&mut c, 8, 4, 0, 0, &we, Access::Write).unwrap();
        shared_access(&mut c, 8, 4, 2, 1, &we, Access::Atomic).unwrap();
        shared_access(&mut c, 8, 4, 3, 1, &we, Access::Atomic).unwrap();
        // Lanes of one warp, ordered by a warp sync.
        let mut we2 = vec![0u32; 4];
        shared_access(&mut c, 16, 4, 5, 0, &we2, Access::Write).unwrap();
        we2[0] = 1;
        shared_access(&mut c, 16, 4, 6, 0, &we2, Access::Read).unwrap();
        // Never written.
        assert_eq!(
            shared_access(&mut c, 32, 4, 0, 0, &we, Access::Read)
                .unwrap_err()
                .0,
            FaultKind::Initcheck
        );
    }
}
