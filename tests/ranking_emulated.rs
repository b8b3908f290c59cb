//! The ranking kernels (`kernels/ranking.cu`: v1 `score_topk`, v2
//! `score_topk_tiled`) on a GPU: each version's lists equal
//! `ops::score_topk`'s to the bit, and, on the emulated device, each launch's
//! global-memory counters equal the cost model's
//! (`mfcuda::eval::ranking_model::model`) at a small shape: v1's item-row
//! loads touch 32 sectors a request (a lane a row: uncoalesced), v2's tile
//! loads 4 (a row a warp: coalesced).
//!
//! `scripts/emulate.sh cargo test --release --test ranking_emulated` (the
//! sanitizers are on there: racecheck covers v2's shared tile, lists and
//! candidates). Without a GPU these skip; under `scripts/emulate.sh`
//! (`MFCUDA_EMULATED`) a GPU that does not open fails them. On a card the
//! parity test runs and the counter test skips (a card has no counters to
//! read).

use std::io::Write;
use std::sync::Mutex;

use mfcuda::backend::cuda::emulated::{self, EmuLaunchRecord};
use mfcuda::backend::cuda::ranking::{RankKernel, RankTables};
use mfcuda::backend::cuda::Gpu;
use mfcuda::eval::ranking_model::{model, RankModel, RankShape};
use mfcuda::ops;

/// The GPU, or `None` after saying why the test skips.
fn gpu_or_skip(test: &str) -> Option<Gpu> {
    match Gpu::open(0) {
        Ok(gpu) => Some(gpu),
        Err(why) if std::env::var_os("MFCUDA_EMULATED").is_some() => {
            panic!("{test}: scripts/emulate.sh is in force, but the emulated GPU did not open: {why}")
        }
        Err(why) => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: {why} (to run it on the emulated device: \
                 scripts/emulate.sh cargo test --release --test ranking_emulated)"
            );
            None
        }
    }
}

/// Held from a launch to the read of its counters: the emulator's last
/// launch is the process's, and the tests run in parallel.
static LAUNCH: Mutex<()> = Mutex::new(());

/// A small deterministic generator (xorshift64*), uniform in [lo, hi).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn uniform(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n)
            .map(|_| lo + (hi - lo) * (self.next() >> 40) as f32 / (1u64 << 24) as f32)
            .collect()
    }
}

/// One ranking problem: tables, users and their seen lists.
struct Case {
    u: Vec<f32>,
    m: Vec<f32>,
    ub: Vec<f32>,
    mb: Vec<f32>,
    users: Vec<u32>,
    seen_ptr: Vec<u32>,
    seen: Vec<u32>,
    n_items: usize,
    f: usize,
    k: usize,
}

impl Case {
    /// `users` (in this order) of `n_users`, `n_items` items, no seen items.
    fn new(
        rng: &mut Rng,
        n_users: usize,
        users: Vec<u32>,
        n_items: usize,
        f: usize,
        k: usize,
        biases: bool,
    ) -> Case {
        let (ub, mb) = if biases {
            (rng.uniform(n_users, -0.5, 0.5), rng.uniform(n_items, -0.5, 0.5))
        } else {
            (Vec::new(), Vec::new())
        };
        Case {
            u: rng.uniform(n_users * f, -1.0, 1.0),
            m: rng.uniform(n_items * f, -1.0, 1.0),
            ub,
            mb,
            seen_ptr: vec![0; users.len() + 1],
            users,
            seen: Vec::new(),
            n_items,
            f,
            k,
        }
    }

    /// `ops::score_topk`'s lists: items and score bits, (B, k) each.
    fn cpu(&self) -> (Vec<u32>, Vec<u32>) {
        let n = self.users.len() * self.k;
        let (mut items, mut scores) = (vec![0u32; n], vec![0f32; n]);
        ops::score_topk(
            &mut items,
            &mut scores,
            &self.u,
            &self.m,
            &self.ub,
            &self.mb,
            &self.users,
            &self.seen_ptr,
            &self.seen,
            self.f,
            self.k,
        );
        (items, scores.iter().map(|s| s.to_bits()).collect())
    }

    /// One launch of `v` over every user on `gpu`: its lists (items and
    /// score bits) and, on the emulated device, the launch's counters.
    fn gpu(&self, gpu: &Gpu, v: RankKernel) -> (Vec<u32>, Vec<u32>, Option<EmuLaunchRecord>) {
        let b = self.users.len();
        let up = |x: &[f32]| gpu.upload(x).unwrap();
        let (u, m, ub, mb) = (up(&self.u), up(&self.m), up(&self.ub), up(&self.mb));
        let tables = RankTables {
            u: u.slice(..),
            m: m.slice(..),
            ub: (!self.ub.is_empty()).then(|| ub.slice(..)),
            mb: (!self.mb.is_empty()).then(|| mb.slice(..)),
            n_items: self.n_items,
            f: self.f,
        };
        let users = gpu.upload(&self.users).unwrap();
        let ptr = gpu.upload(&self.seen_ptr).unwrap();
        let seen = gpu
            .upload(if self.seen.is_empty() {
                &[0u32][..]
            } else {
                &self.seen
            })
            .unwrap();
        let (mut items, mut scores) = (
            gpu.zeros::<u32>(b * self.k).unwrap(),
            gpu.zeros::<f32>(b * self.k).unwrap(),
        );
        let _one_at_a_time = LAUNCH.lock().unwrap_or_else(|e| e.into_inner());
        gpu.score_topk_with(
            v,
            &mut items.slice_mut(..),
            &mut scores.slice_mut(..),
            &tables,
            &users.slice(..),
            &ptr.slice(..),
            &seen.slice(..),
            self.k,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", v.kernel()));
        let got_i = gpu.download(&items.slice(..)).unwrap();
        let got_s = gpu.download(&scores.slice(..)).unwrap();
        let record = emulated::last_launch();
        (got_i, got_s.iter().map(|s| s.to_bits()).collect(), record)
    }
}

/// The counters of `v`'s launch at `case`'s shape, against the model's.
fn counters_of(gpu: &Gpu, case: &Case, v: RankKernel) -> (EmuLaunchRecord, RankModel) {
    let (items, scores, record) = case.gpu(gpu, v);
    assert_eq!(
        (items, scores),
        case.cpu(),
        "{}: lists differ from ops::score_topk",
        v.kernel()
    );
    let record = record.expect("the emulated device's counters");
    assert_eq!(record.kernel_name(), v.kernel());
    assert_eq!(record.status, 0, "{}: the launch failed", v.kernel());
    let shape = RankShape {
        biases: !case.mb.is_empty(),
        ..RankShape::new(case.users.len(), case.n_items, case.f, case.k)
    };
    (record, model(v, shape))
}

/// On the emulated device, at 64 users × 1,000 items, f = 32, k = 10, both
/// biases and no seen items (users 0..63 in order, as the model's blocks
/// take them): every launch's global load and store requests and sectors
/// are the model's, exactly. Then the item-row stream alone, as the
/// difference of two launches 128 items apart (no biases): v1 reads 32
/// sectors a request, one a lane (rows 128 bytes apart, so 32 lines too:
/// uncoalesced); v2 reads 4, a warp's 128 contiguous bytes (one line).
/// Exact in the emulator's plain order (seed 0); see below for a fuzzed one.
#[test]
fn the_emulators_counters_are_the_models_at_a_small_shape() {
    let test = "the_emulators_counters_are_the_models_at_a_small_shape";
    let Some(gpu) = gpu_or_skip(test) else { return };
    if !gpu.is_emulated() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: {} has no emulator counters",
            gpu.description
        );
        return;
    }
    // The counters are exact in the plain order only: under a schedule-fuzz seed the
    // emulator tallies a warp's log while its lanes stand at different points (every
    // 16,384 accesses), so one warp request can count as two. There the lists are still
    // checked, and the counters only from below.
    let seed = std::env::var("MFCUDA_EMU_SEED").unwrap_or_default();
    let plain = matches!(seed.trim(), "" | "0");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (n_users, f, k) = (64usize, 32usize, 10usize);
    let users: Vec<u32> = (0..n_users as u32).collect();
    let case = Case::new(&mut rng, n_users, users.clone(), 1000, f, k, true);
    let mut err = std::io::stderr();
    for v in RankKernel::ALL {
        let (r, m) = counters_of(&gpu, &case, v);
        let _ = writeln!(
            err,
            "{:<17} loads {} requests / {} sectors (model {} / {}); stores {} / {} (model {} / {}); \
             shared {} requests, {} bank conflicts (model ~{} wavefronts); {} warp-instructions (model {})",
            v.kernel(),
            r.global_load_requests,
            r.global_load_sectors,
            m.load_requests(),
            m.load_sectors(),
            r.global_store_requests,
            r.global_store_sectors,
            m.store_requests(),
            m.store_sectors(),
            r.shared_requests,
            r.bank_conflicts,
            m.shared_wavefronts,
            r.warp_instructions,
            m.warp_instructions
        );
        if !plain {
            assert!(
                r.global_load_requests as f64 >= m.load_requests(),
                "{}",
                v.kernel()
            );
            assert!(r.global_load_sectors as f64 >= m.load_sectors(), "{}", v.kernel());
            continue;
        }
        assert_eq!(
            r.global_load_requests as f64,
            m.load_requests(),
            "{}: load requests",
            v.kernel()
        );
        assert_eq!(
            r.global_load_sectors as f64,
            m.load_sectors(),
            "{}: load sectors",
            v.kernel()
        );
        assert_eq!(
            r.global_store_requests as f64,
            m.store_requests(),
            "{}: store requests",
            v.kernel()
        );
        assert_eq!(
            r.global_store_sectors as f64,
            m.store_sectors(),
            "{}: store sectors",
            v.kernel()
        );
        // The model's instruction count leaves work out: it is below the compiled code's.
        assert!(
            r.warp_instructions as f64 >= m.warp_instructions,
            "{}",
            v.kernel()
        );
    }

    if !plain {
        let _ = writeln!(
            err,
            "{test}: schedule-fuzz seed {seed}: the lists were checked; the counters' exact figures \
             hold in the plain order only (seed 0)"
        );
        return;
    }

    // The item rows alone: two launches 128 items apart, no biases.
    let (a, b) = (
        Case::new(&mut rng, n_users, users.clone(), 1000, f, k, false),
        Case::new(&mut rng, n_users, users, 1128, f, k, false),
    );
    for (v, rows, sectors_a_request) in [
        (RankKernel::PerUser, "item rows m[i, j], a row a lane", 32.0),
        (RankKernel::Tiled, "tile rows m[i, j0..j0+32], a row a warp", 4.0),
    ] {
        let ((ra, ma), (rb, mb)) = (counters_of(&gpu, &a, v), counters_of(&gpu, &b, v));
        let requests = (rb.global_load_requests - ra.global_load_requests) as f64;
        let sectors = (rb.global_load_sectors - ra.global_load_sectors) as f64;
        let (sa, sb) = (ma.stream(rows).expect(rows), mb.stream(rows).expect(rows));
        let _ = writeln!(
            err,
            "{:<17} 128 more items: {requests} more load requests, {sectors} more sectors: {:.2} sectors a request \
             (model {:.2}, {:.2} lines)",
            v.kernel(),
            sectors / requests,
            sb.sectors_per_request(),
            sb.lines_per_request()
        );
        assert_eq!(requests, sb.requests - sa.requests, "{}", v.kernel());
        assert_eq!(sectors, sb.sectors - sa.sectors, "{}", v.kernel());
        assert_eq!(sectors / requests, sectors_a_request, "{}", v.kernel());
        assert_eq!(sb.sectors_per_request(), sb.sectors / sb.requests);
        // At the full shape: 32 lines a request for v1 (but in part chunks and seen items), 1 for v2.
        let full = model(v, RankShape::ml25m());
        let s = full.stream(rows).expect(rows);
        let lines = if v == RankKernel::PerUser { 32.0 } else { 1.0 };
        assert!(
            (s.lines_per_request() - lines).abs() < 0.2,
            "{}",
            s.lines_per_request()
        );
    }

    // The model's issue figure (FP32, shared and global instructions, and the candidate test's):
    // v2's compiled code (PTX, as the emulator counts it) at 32 tiles is within 1.4x of it.
    let c = Case::new(&mut rng, 16, (0..16).collect(), 4096, f, k, true);
    let (r, m) = counters_of(&gpu, &c, RankKernel::Tiled);
    let ratio = r.warp_instructions as f64 / m.warp_instructions;
    let _ = writeln!(
        err,
        "score_topk_tiled  16 users × 4,096 items: {} warp-instructions, the model's {}: {ratio:.2}x; shared {} \
         requests + {} conflicts, the model's scoring loop {}",
        r.warp_instructions, m.warp_instructions, r.shared_requests, r.bank_conflicts, m.shared_wavefronts
    );
    assert!((1.0..1.4).contains(&ratio), "{ratio}");
}

/// Both versions against `ops::score_topk`, to the bit: random user order
/// with repeats, 37 users (v2's last block part full), sorted seen lists
/// (empty, a few, all items but three, every item), tied rows (items 1 to 4
/// copy item 0), a NaN row (it never ranks) and a row of infinities, at
/// several widths (1, 8, 32, 33, 64: v2 loads 64 in two chunks) and
/// cut-offs (1, 10, 32), with and without biases.
#[test]
fn both_versions_equal_the_cpu_to_the_bit() {
    let Some(gpu) = gpu_or_skip("both_versions_equal_the_cpu_to_the_bit") else {
        return;
    };
    let mut rng = Rng(7);
    let (n_users, n_items) = (50usize, 700usize);
    for (f, k, biases) in [
        (1, 1, false),
        (8, 10, true),
        (32, 10, true),
        (33, 32, true),
        (64, 7, false),
    ] {
        let users: Vec<u32> = (0..37).map(|_| rng.below(n_users as u64) as u32).collect();
        let mut case = Case::new(&mut rng, n_users, users, n_items, f, k, biases);
        for i in 1..5 {
            case.m.copy_within(0..f, i * f);
        }
        case.m[7 * f..8 * f].fill(f32::NAN);
        case.m[9 * f..10 * f].fill(f32::INFINITY);
        let (mut seen_ptr, mut seen) = (vec![0u32], Vec::new());
        for b in 0..case.users.len() {
            let mut s: Vec<u32> = match b {
                0 => Vec::new(),
                1 => (3..n_items as u32).collect(),
                2 => (0..n_items as u32).collect(),
                _ => (0..rng.below(60))
                    .map(|_| rng.below(n_items as u64) as u32)
                    .collect(),
            };
            s.sort_unstable();
            s.dedup();
            seen.extend(s);
            seen_ptr.push(seen.len() as u32);
        }
        (case.seen_ptr, case.seen) = (seen_ptr, seen);
        let want = case.cpu();
        // The fully seen user's list is all padding; the NaN item is in nobody's.
        assert!(want.0[2 * k..3 * k].iter().all(|&i| i == ops::NO_ITEM));
        assert!(!want.0.contains(&7));
        for v in RankKernel::ALL {
            if !v.fits(n_items, f, k) {
                continue;
            }
            let (items, scores, record) = case.gpu(&gpu, v);
            if let Some(r) = record {
                assert_eq!(r.kernel_name(), v.kernel());
            }
            assert_eq!(items, want.0, "{} f={f} k={k}: items", v.kernel());
            assert_eq!(scores, want.1, "{} f={f} k={k}: score bits", v.kernel());
        }
    }
}
