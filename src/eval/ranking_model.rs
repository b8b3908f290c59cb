//! The cost model of the two full-ranking kernels (`kernels/ranking.cu`):
//! FLOPs, bytes, load requests with the lines and sectors each touches, and
//! the time each unit of an H200 would take for them. `mfcuda bench
//! --ranking` prints it on every device, a model and not a measurement;
//! `tests/ranking_emulated.rs` checks its requests and sectors against the
//! emulated device's counters.

use serde::Serialize;

use crate::backend::cuda::ranking::{RankKernel, RANK_CHUNK, RANK_THREADS, RANK_USERS};

/// The H200 SXM figures the ranking model uses, each with its source: the
/// one place for them.
pub struct H200;

impl H200 {
    /// Streaming multiprocessors: 132 (the H200 is NVIDIA's GH100 as in the
    /// H100 SXM5: Hopper architecture whitepaper).
    pub const SMS: f64 = 132.0;
    /// Boost clock: 1,980 MHz (the H100 SXM5's maximum boost, Hopper
    /// whitepaper; the H200 datasheet's 67 TFLOPS FP32 = 132 · 128 · 2 ·
    /// 1.98 GHz).
    pub const CLOCK_HZ: f64 = 1.98e9;
    /// FP32 lanes an SM: 128 (Hopper whitepaper). The kernels' sums are
    /// `__fmul_rn` then `__fadd_rn`, two instructions, no FMA.
    pub const FP32_LANES: f64 = 128.0;
    /// Warp-instructions an SM issues a clock: 4 (four schedulers, one
    /// each; Hopper whitepaper).
    pub const ISSUE_PER_CLOCK: f64 = 4.0;
    /// Distinct 128-byte lines (4 sectors each) the L1/tex pipeline's tag
    /// stage looks up a clock an SM: 1. The usual model, not a datasheet
    /// figure.
    pub const L1_LINES_PER_CLOCK: f64 = 1.0;
    /// Shared-memory wavefronts an SM serves a clock: 1 (32 banks of 4 bytes
    /// a clock, CUDA C++ Programming Guide: one conflict-free warp request).
    pub const SHARED_WAVEFRONTS_PER_CLOCK: f64 = 1.0;
    /// L2 → SM bandwidth, bytes a second: 5.5 TB/s. AN ESTIMATE: NVIDIA
    /// does not document it; microbenchmarks of Hopper give about 5.5–7
    /// TB/s, and this is the low end.
    pub const L2_BYTES_PER_S: f64 = 5.5e12;
    /// HBM3e bandwidth, bytes a second: 4.8 TB/s (H200 datasheet).
    pub const DRAM_BYTES_PER_S: f64 = 4.8e12;

    /// The figures in one line.
    pub fn describe() -> String {
        format!(
            "H200: {} SMs at {:.2} GHz; {} FP32 lanes and {} warp-instructions a clock an SM; L1 {} line (4 sectors) \
             a clock an SM (model); shared {} wavefront a clock an SM; L2→SM {:.1} TB/s (an estimate: NVIDIA \
             does not document it); HBM3e {:.1} TB/s",
            H200::SMS,
            H200::CLOCK_HZ / 1e9,
            H200::FP32_LANES,
            H200::ISSUE_PER_CLOCK,
            H200::L1_LINES_PER_CLOCK,
            H200::SHARED_WAVEFRONTS_PER_CLOCK,
            H200::L2_BYTES_PER_S / 1e12,
            H200::DRAM_BYTES_PER_S / 1e12
        )
    }
}

/// The shape the model prices: `users` ranked against `items` at `f`
/// factors, the best `k` kept; `seen` training ratings among them (each
/// user's seen list), and whether the model has both biases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RankShape {
    /// Users ranked (B).
    pub users: usize,
    /// Items in the catalogue.
    pub items: usize,
    /// Factors.
    pub f: usize,
    /// The cut-off.
    pub k: usize,
    /// Seen (training) items over all ranked users.
    pub seen: usize,
    /// Both biases (ub and mb) are added.
    pub biases: bool,
}

impl RankShape {
    /// `users` × `items` at `f` factors, top `k`, no seen items, with both
    /// biases (the planted model's).
    pub fn new(users: usize, items: usize, f: usize, k: usize) -> RankShape {
        RankShape {
            users,
            items,
            f,
            k,
            seen: 0,
            biases: true,
        }
    }

    /// ml-25m's shape as the bench ranks it: 155,412 users with a relevant
    /// held-out rating (of 162,541), 59,047 items, f = 32, k = 10, about
    /// 20M seen ratings (80% of 25,000,095).
    pub fn ml25m() -> RankShape {
        RankShape {
            seen: 20_000_076,
            ..RankShape::new(155_412, 59_047, 32, 10)
        }
    }
}

/// One kind of global access of a kernel, summed over its grid.
#[derive(Debug, Clone, Serialize)]
pub struct Stream {
    /// What it reads or writes.
    pub what: &'static str,
    /// A store (else a load).
    pub store: bool,
    /// Warp-level requests.
    pub requests: f64,
    /// Distinct 128-byte lines, summed over the requests.
    pub lines: f64,
    /// Distinct 32-byte sectors, summed over the requests.
    pub sectors: f64,
    /// Sectors that come from L2: each distinct sector once a block where
    /// L1 holds what the block re-reads (a warp's 32 rows, 4 KB), else every
    /// sector of every request.
    pub l2_sectors: f64,
    /// A bound, not a count (the seen lists' walk depends on the data).
    pub bound: bool,
}

impl Stream {
    fn new(what: &'static str, requests: f64, lines: f64, sectors: f64) -> Stream {
        Stream {
            what,
            store: false,
            requests,
            lines,
            sectors,
            l2_sectors: sectors,
            bound: false,
        }
    }

    /// Lines a request touches, on average.
    pub fn lines_per_request(&self) -> f64 {
        self.lines / self.requests.max(1.0)
    }

    /// Sectors a request touches, on average.
    pub fn sectors_per_request(&self) -> f64 {
        self.sectors / self.requests.max(1.0)
    }
}

/// A kernel's cost on an H200 at a [`RankShape`], by unit: the time is the
/// slowest unit's (a roofline over six units; latency, occupancy and the
/// overlap between units are left out, so each is a floor).
#[derive(Debug, Clone, Serialize)]
pub struct RankModel {
    /// Which version.
    pub kernel: &'static str,
    /// The version in a few words.
    pub about: &'static str,
    /// The shape priced.
    pub shape: RankShape,
    /// Blocks in the grid.
    pub blocks: f64,
    /// Floating-point operations: f multiplies and f adds a (user, item),
    /// and the two bias adds.
    pub flops: f64,
    /// FP32 instructions (one per flop: no FMA).
    pub fp32_instructions: f64,
    /// Shared-memory wavefronts of the scoring loop (requests plus bank
    /// conflicts; the candidates' inserts and v1's merges are left out).
    pub shared_wavefronts: f64,
    /// Warp-instructions: the FP32, shared and global ones, and
    /// [`TEST_INSTRUCTIONS`] a score (an estimate, low: loop counters,
    /// barriers and the inserts are left out).
    pub warp_instructions: f64,
    /// Every global load and store.
    pub streams: Vec<Stream>,
    /// DRAM bytes: each table, list and output once (the 7.6 MB item
    /// table at ml-25m's shape stays in L2).
    pub dram_bytes: f64,
    /// Seconds each unit needs: `fp32`, `issue`, `shared`, `l1`, `l2`, `dram`.
    pub units: Vec<(&'static str, f64)>,
    /// The slowest unit's seconds.
    pub seconds: f64,
    /// The slowest unit.
    pub limit: &'static str,
}

impl RankModel {
    /// Global load requests.
    pub fn load_requests(&self) -> f64 {
        self.streams.iter().filter(|s| !s.store).map(|s| s.requests).sum()
    }

    /// Global load sectors.
    pub fn load_sectors(&self) -> f64 {
        self.streams.iter().filter(|s| !s.store).map(|s| s.sectors).sum()
    }

    /// Global store requests.
    pub fn store_requests(&self) -> f64 {
        self.streams.iter().filter(|s| s.store).map(|s| s.requests).sum()
    }

    /// Global store sectors.
    pub fn store_sectors(&self) -> f64 {
        self.streams.iter().filter(|s| s.store).map(|s| s.sectors).sum()
    }

    /// Bytes between L2 and the SMs.
    pub fn l2_bytes(&self) -> f64 {
        32.0 * self.streams.iter().map(|s| s.l2_sectors).sum::<f64>()
    }

    /// The stream named `what`.
    pub fn stream(&self, what: &str) -> Option<&Stream> {
        self.streams.iter().find(|s| s.what == what)
    }

    /// The model in a few lines, for `bench --ranking`.
    pub fn lines(&self) -> Vec<String> {
        let sh = &self.shape;
        let mut out = vec![format!(
            "{} ({}), {} users × {} items, f = {}, k = {}: {:.3} TFLOP, {:.0} blocks; L2→SM {:.1} GB, DRAM {:.1} MB; \
             shared {:.2e} wavefronts",
            self.kernel,
            self.about,
            sh.users,
            sh.items,
            sh.f,
            sh.k,
            self.flops / 1e12,
            self.blocks,
            self.l2_bytes() / 1e9,
            self.dram_bytes / 1e6,
            self.shared_wavefronts
        )];
        for s in &self.streams {
            out.push(format!(
                "  {:<5} {:<40} {:>10.3e} requests, {:>5.2} lines and {:>5.2} sectors a request{}",
                if s.store { "store" } else { "load" },
                s.what,
                s.requests,
                s.lines_per_request(),
                s.sectors_per_request(),
                if s.bound { " (bound)" } else { "" }
            ));
        }
        let lines: f64 = self.streams.iter().map(|s| s.lines).sum();
        out.push(format!(
            "  all loads {:.3e} requests, {:.3e} lines, {:.3e} sectors; stores {:.3e} requests; \
             {:.3e} FP32 instructions, {:.3e} warp-instructions in all",
            self.load_requests(),
            lines,
            self.load_sectors(),
            self.store_requests(),
            self.fp32_instructions,
            self.warp_instructions
        ));
        let units: Vec<String> = self
            .units
            .iter()
            .map(|(u, t)| format!("{u} {}", secs(*t)))
            .collect();
        out.push(format!(
            "  H200 time (model, not measured): {}  ->  {} ({}-bound)",
            units.join(", "),
            secs(self.seconds),
            self.limit
        ));
        out
    }
}

/// Seconds in a readable unit.
fn secs(t: f64) -> String {
    if t >= 1.0 {
        format!("{t:.2} s")
    } else if t >= 1e-3 {
        format!("{:.1} ms", t * 1e3)
    } else {
        format!("{:.1} µs", t * 1e6)
    }
}

/// Sectors (32 B) a run of `words` 4-byte words from word `start` touches.
fn sectors_of(start: usize, words: usize) -> f64 {
    if words == 0 {
        return 0.0;
    }
    ((start + words - 1) / 8 - start / 8 + 1) as f64
}

/// The cost model of `kernel` at `shape` on an H200: every global load and
/// store the kernel's code makes (counted from `kernels/ranking.cu`, with
/// its lines and sectors), the FP32 and shared-memory work, and the time
/// each unit of [`H200`] needs. Exact for the global requests and sectors
/// when f is a multiple of 32, blocks take consecutive users and no user has
/// seen items (the emulator's counters are checked against it so:
/// `tests/ranking_emulated.rs`); the seen lists' walk is otherwise a bound.
pub fn model(kernel: RankKernel, shape: RankShape) -> RankModel {
    let RankShape {
        users,
        items,
        f,
        k,
        seen,
        biases,
    } = shape;
    let (u, i, ff, kf) = (users as f64, items as f64, f as f64, k as f64);
    let warps_a_row = items.div_ceil(32) as f64; // 32-item chunks of the catalogue
    let bias = biases as usize as f64;
    let mut st = Vec::new();
    let blocks;
    let shared;
    match kernel {
        RankKernel::PerUser => {
            // One block (4 warps) a user. Per block: users[b] and seen_ptr[b], seen_ptr[b + 1] by
            // every warp; the user's row by ceil(f / 32) warps; ub[user] by every warp.
            blocks = u;
            let w = (RANK_THREADS / 32) as f64;
            st.push(Stream::new("user ids users[b]", u * w, u * w, u * w));
            st.push(Stream::new(
                "user row u[user, :]",
                u * f.div_ceil(32) as f64,
                u * (f * 4).div_ceil(128) as f64,
                u * f.div_ceil(8) as f64,
            ));
            st.push(Stream::new(
                "seen offsets seen_ptr[b], [b+1]",
                2.0 * u * w,
                2.0 * u * w,
                2.0 * u * w,
            ));
            if seen > 0 {
                // Coalesced: thread t reads seen[ptr + t], ...; a block's partial warps are the bound.
                let r = seen as f64 / 32.0 + u * w;
                st.push(Stream {
                    bound: true,
                    ..Stream::new("seen lists seen[..]", r, r, seen as f64 / 8.0 + u * w)
                });
            }
            if biases {
                st.push(Stream::new("user bias ub[user]", u * w, u * w, u * w));
            }
            // Warp-iteration c takes items 32c .. 32c + 31, lane l item 32c + l: f loads of m[i, j],
            // each lane its own row (f·4 bytes apart: its own sector and line when f ≥ 32).
            let req = u * warps_a_row * ff;
            let lanes_a_sector = (8 / f.max(1)).max(1) as f64; // rows sharing a 32-byte sector
            let lanes_a_line = (32 / f.max(1)).max(1) as f64; // rows sharing a 128-byte line
            let unseen = u * i - seen as f64;
            st.push(Stream {
                // L1 holds the warp's 32 rows (4 KB at f = 32) while it walks j: each sector comes
                // from L2 once a block.
                l2_sectors: u * (items * f).div_ceil(8) as f64,
                ..Stream::new(
                    "item rows m[i, j], a row a lane",
                    req,
                    unseen * ff / lanes_a_line,
                    unseen * ff / lanes_a_sector,
                )
            });
            if biases {
                st.push(Stream::new(
                    "item bias mb[i]",
                    u * warps_a_row,
                    u * warps_a_row,
                    u * items.div_ceil(8) as f64,
                ));
            }
            // Thread 0 writes the list: k items and k scores, one store each.
            st.push(Stream {
                store: true,
                ..Stream::new(
                    "top_items, top_scores (thread 0)",
                    2.0 * u * kf,
                    2.0 * u * kf,
                    2.0 * u * kf,
                )
            });
            // Each warp-iteration: the seen bit, f broadcasts of the user's row, the list's last
            // entry (score, item; lanes k words apart: gcd(k, 32)-way conflicts).
            let conflict = gcd(k.max(1), 32) as f64;
            shared = u * warps_a_row * (1.0 + ff + 2.0 * conflict);
        }
        RankKernel::Tiled => {
            // RANK_USERS users a block; tiles of RANK_THREADS items, RANK_CHUNK factors at a time.
            let ub = RANK_USERS;
            blocks = users.div_ceil(ub) as f64;
            let full = users / ub;
            let last = users % ub;
            // Per block of nu users (q0 = its first): warp w reads users[q0 + q] (one lane's word
            // as a broadcast) and the row of user q, for q = w, w + 4, ...; thread q < nu reads
            // users[q0 + q] and ub[that] (a warp request each), and seen_ptr[q0 + q], [q0 + q + 1].
            // Blocks of nu users take consecutive users here (q0 = b·RANK_USERS, a multiple of 8
            // words): the test's users are 0, 1, ...; the bench's are sorted, and differ by a few
            // sectors a block.
            let mut small = [0.0f64; 8]; // (requests, sectors) of: ids, rows, ub's ids + ub, seen_ptr
            for (n, nu) in [(full as f64, ub), (f64::from(u8::from(last > 0)), last)] {
                small[0] += n * nu as f64;
                small[1] += n * nu as f64;
                small[2] += n * (nu * f.div_ceil(32)) as f64;
                small[3] += n * (nu * f.div_ceil(8)) as f64;
                if biases {
                    small[4] += n * 2.0;
                    small[5] += n * 2.0 * sectors_of(0, nu);
                }
                small[6] += n * 2.0;
                small[7] += n * (sectors_of(0, nu) + sectors_of(1, nu));
            }
            st.push(Stream::new(
                "user ids users[q0 + q]",
                small[0],
                small[0],
                small[1],
            ));
            st.push(Stream::new("user rows u[user, :]", small[2], small[2], small[3]));
            if biases {
                st.push(Stream::new(
                    "user ids, biases ub[user] (q < nu)",
                    small[4],
                    small[4],
                    small[5],
                ));
            }
            st.push(Stream::new(
                "seen offsets seen_ptr[q0 + q], [+1]",
                small[6],
                small[6],
                small[7],
            ));
            let tiles = items.div_ceil(RANK_THREADS) as f64;
            if seen > 0 {
                // Thread q walks user q's run: a load a seen item, and one a tile that stops
                // it, each its own line; warp 0's lanes share requests. A bound: every user
                // walking every tile.
                let lane_loads = seen as f64 + u * tiles;
                st.push(Stream {
                    bound: true,
                    ..Stream::new(
                        "seen lists seen[cur] (thread q)",
                        blocks * tiles + seen as f64 / ub as f64,
                        lane_loads,
                        lane_loads,
                    )
                });
            }
            // A tile row a warp request: lane c reads m[i, j0 + c], 128 contiguous bytes.
            let chunks = f.div_ceil(RANK_CHUNK);
            let row_sectors: usize = (0..chunks)
                .map(|c| (RANK_CHUNK.min(f - c * RANK_CHUNK) * 4).div_ceil(32))
                .sum();
            let row_lines: usize = (0..chunks)
                .map(|c| (RANK_CHUNK.min(f - c * RANK_CHUNK) * 4).div_ceil(128))
                .sum();
            st.push(Stream::new(
                "tile rows m[i, j0..j0+32], a row a warp",
                blocks * i * chunks as f64,
                blocks * i * row_lines as f64,
                blocks * i * row_sectors as f64,
            ));
            if biases {
                st.push(Stream::new(
                    "item bias mb[i]",
                    blocks * warps_a_row,
                    blocks * warps_a_row,
                    blocks * items.div_ceil(8) as f64,
                ));
            }
            // The lists: nu·k contiguous items, then scores, a warp's 32 words a request.
            let (mut req, mut sec) = (0.0, 0.0);
            for (nb, nu) in [(full, ub), (usize::from(last > 0), last)] {
                let n = nu * k;
                let passes = n.div_ceil(32);
                let words: f64 = (0..passes)
                    .map(|p| sectors_of(p * 32, (n - p * 32).min(32)))
                    .sum();
                req += 2.0 * nb as f64 * passes as f64;
                sec += 2.0 * nb as f64 * words;
            }
            st.push(Stream {
                store: true,
                ..Stream::new("top_items, top_scores (coalesced)", req, sec / 4.0, sec)
            });
            // Per warp a tile: the tile's rows stored (one a row), then per factor one read of
            // the tile and RANK_USERS / 4 float4 broadcasts of urows; per user the seen bit,
            // the list's last (score, item) and the user bias.
            let per_warp_tile = (RANK_THREADS / 4) as f64 * chunks as f64
                + ff * (1.0 + (ub / 4) as f64)
                + ub as f64 * (3.0 + bias);
            shared = blocks * tiles * (RANK_THREADS / 32) as f64 * per_warp_tile;
        }
    }
    let flops = u * i * (2.0 * ff + 2.0 * bias);
    let global: f64 = st.iter().map(|s| s.requests).sum();
    let warp_instructions = (flops + TEST_INSTRUCTIONS * u * i) / 32.0 + shared + global;
    let dram_bytes = 4.0 * (i * (ff + bias) + u * (ff + bias + 1.0) + seen as f64 + u + 1.0) + 8.0 * u * kf;
    let lines: f64 = st.iter().map(|s| s.lines).sum();
    let l2: f64 = 32.0 * st.iter().map(|s| s.l2_sectors).sum::<f64>();
    let per_sm = H200::SMS * H200::CLOCK_HZ;
    let units = vec![
        ("fp32", flops / (H200::FP32_LANES * per_sm)),
        ("issue", warp_instructions / (H200::ISSUE_PER_CLOCK * per_sm)),
        ("shared", shared / (H200::SHARED_WAVEFRONTS_PER_CLOCK * per_sm)),
        ("L1", lines / (H200::L1_LINES_PER_CLOCK * per_sm)),
        ("L2", l2 / H200::L2_BYTES_PER_S),
        ("DRAM", dram_bytes / H200::DRAM_BYTES_PER_S),
    ];
    let (limit, seconds) = units
        .iter()
        .copied()
        .fold(("none", 0.0), |best, u| if u.1 > best.1 { u } else { best });
    RankModel {
        kernel: kernel.kernel(),
        about: kernel.about(),
        shape,
        blocks,
        flops,
        fp32_instructions: flops,
        shared_wavefronts: shared,
        warp_instructions,
        streams: st,
        dram_bytes,
        units,
        seconds,
        limit,
    }
}

/// Integer and predicate instructions a (user, item) score costs in either
/// kernel's candidate test, beside its FP32 and shared-memory ones (the seen
/// bit's shift and mask, the compare with the k-th, the branches): about
/// 15, counted in the PTX of `score_topk_tiled`'s unrolled test.
pub const TEST_INSTRUCTIONS: f64 = 15.0;

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// v1 and v2 at the emulator test's shape, counted by hand from
    /// `kernels/ranking.cu` (`tests/ranking_emulated.rs` checks the same
    /// figures against the emulator's counters).
    #[test]
    fn the_small_shape_by_hand() {
        let shape = RankShape::new(64, 1000, 32, 10);
        let v1 = model(RankKernel::PerUser, shape);
        // Per user (a block of 4 warps): users[b], seen_ptr twice and ub[user] by each warp; the
        // row by one warp (4 sectors); 32 chunks of 32 items, each 32 row loads (a sector a
        // lane; the last chunk's 8 lanes) and one mb load (4 sectors; the last 1).
        assert_eq!(v1.load_requests(), 64.0 * (4.0 + 1.0 + 8.0 + 4.0 + 32.0 * 33.0));
        assert_eq!(
            v1.load_sectors(),
            64.0 * (4.0 + 4.0 + 8.0 + 4.0 + 1000.0 * 32.0 + 125.0)
        );
        assert_eq!((v1.store_requests(), v1.store_sectors()), (1280.0, 1280.0));
        let rows = v1.stream("item rows m[i, j], a row a lane").unwrap();
        assert_eq!(rows.requests, 64.0 * 32.0 * 32.0);
        assert_eq!(rows.lines, rows.sectors);
        // 4 blocks of 16 users: ids (16), rows (16 × 4 sectors), ub's ids and ub (2 × 2
        // sectors), seen_ptr (2 + 3 sectors); 1,000 tile rows (4 sectors each), 32 mb loads (125
        // sectors); 160 contiguous (item, score) pairs a block out, 5 requests of 4 sectors each.
        let v2 = model(RankKernel::Tiled, shape);
        assert_eq!(v2.blocks, 4.0);
        assert_eq!(
            v2.load_requests(),
            4.0 * (16.0 + 16.0 + 2.0 + 2.0 + 1000.0 + 32.0)
        );
        assert_eq!(
            v2.load_sectors(),
            4.0 * (16.0 + 64.0 + 4.0 + 5.0 + 4000.0 + 125.0)
        );
        assert_eq!((v2.store_requests(), v2.store_sectors()), (40.0, 160.0));
        let tile = v2.stream("tile rows m[i, j0..j0+32], a row a warp").unwrap();
        assert_eq!((tile.lines_per_request(), tile.sectors_per_request()), (1.0, 4.0));
        // A last block of 5 users: 50 pairs out, 2 requests (32 + 18 words: 4 + 3 sectors).
        let part = model(RankKernel::Tiled, RankShape::new(5, 1000, 32, 10));
        assert_eq!((part.store_requests(), part.store_sectors()), (4.0, 14.0));
        assert_eq!(sectors_of(1, 16), 3.0);
        assert_eq!(sectors_of(0, 0), 0.0);
    }

    /// ml-25m's shape: v1 reads 1.2 TB of item rows from L2 but the L1 tag
    /// stage's 2.9e11 line look-ups (32 a request) are its limit, about 1.1
    /// s; v2 reads the table once a 16 users, a line a request, and is
    /// FP32-bound or issue-bound in tens of milliseconds.
    #[test]
    fn the_full_shape_by_unit() {
        let shape = RankShape::ml25m();
        let (u, i, f) = (155_412.0, 59_047.0, 32.0);
        let v1 = model(RankKernel::PerUser, shape);
        assert_eq!(v1.flops, u * i * (2.0 * f + 2.0));
        let rows = v1.stream("item rows m[i, j], a row a lane").unwrap();
        assert_eq!(rows.requests, u * 1846.0 * 32.0);
        // 32 lines a request but in the last, part chunk (7 items) and where an item was seen.
        assert!(rows.lines_per_request() > 31.8, "{}", rows.lines_per_request());
        // From L2: the table once a user (7.56 MB), not the 32 sectors of every request.
        assert!((rows.l2_sectors * 32.0 / u - 7.558e6).abs() < 1e4);
        assert_eq!(v1.limit, "L1");
        assert!(v1.seconds > 1.0 && v1.seconds < 1.3, "{}", v1.seconds);
        let v2 = model(RankKernel::Tiled, shape);
        let tile = v2.stream("tile rows m[i, j0..j0+32], a row a warp").unwrap();
        assert_eq!(v2.blocks, 9714.0); // ceil(155,412 / 16)
        assert_eq!(tile.requests, 9714.0 * i);
        assert_eq!(tile.lines_per_request(), 1.0);
        assert!(v2.l2_bytes() < v1.l2_bytes() / 10.0);
        assert!(v2.limit == "issue" || v2.limit == "fp32", "{}", v2.limit);
        assert!(v2.seconds < v1.seconds / 20.0, "{} vs {}", v2.seconds, v1.seconds);
        // The model is printed with its H200 figures, the L2 one as an estimate.
        assert!(H200::describe().contains("an estimate"));
        let text = v1.lines().join("\n");
        assert!(
            text.contains("model, not measured") && text.contains("L1-bound"),
            "{text}"
        );
        // The default on the GPU is the faster by the model.
        assert_eq!(RankKernel::default_for(59_047, 32, 10), RankKernel::Tiled);
    }
}
