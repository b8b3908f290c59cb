//! The CPU twins of `kernels/sparse.cu`: sparse SGD (one rating at a time,
//! and in per-user runs), the prediction, the per-step loss means and the L2
//! tile order, over factor tables stored as f32 or bf16 ([`Storage`]).

use serde::Serialize;

/// How the sparse path stores its factor tables. The arithmetic is f32 either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    /// 4 bytes a factor.
    F32,
    /// bfloat16: 2 bytes a factor, 8 bits of mantissa, rounded to nearest even.
    Bf16,
}

impl Storage {
    /// Its name on the command line and in reports: `f32` or `bf16`.
    pub fn name(self) -> &'static str {
        match self {
            Storage::F32 => "f32",
            Storage::Bf16 => "bf16",
        }
    }

    /// Bytes per stored factor.
    pub fn bytes(self) -> usize {
        match self {
            Storage::F32 => 4,
            Storage::Bf16 => 2,
        }
    }
}

/// How the sparse path stores a factor: `f32`, or bfloat16 with the
/// arithmetic in `f32`. Loads widen exactly; stores round to nearest even,
/// as CUDA's `__float2bfloat16_rn` does, so the CPU and the GPU round alike.
pub trait Factor: Copy + Default + Send + Sync + 'static {
    /// Which storage this is.
    const STORAGE: Storage;
    /// The stored value as an `f32` (exact).
    fn get(self) -> f32;
    /// `x` rounded to the storage type.
    fn put(x: f32) -> Self;
    /// The values as `f32`s when that is how they are stored.
    fn as_f32(values: &[Self]) -> Option<&[f32]>;
}

impl Factor for f32 {
    const STORAGE: Storage = Storage::F32;
    #[inline(always)]
    fn get(self) -> f32 {
        self
    }
    #[inline(always)]
    fn put(x: f32) -> f32 {
        x
    }
    #[inline(always)]
    fn as_f32(values: &[f32]) -> Option<&[f32]> {
        Some(values)
    }
}

impl Factor for half::bf16 {
    const STORAGE: Storage = Storage::Bf16;
    #[inline(always)]
    fn get(self) -> f32 {
        self.to_f32()
    }
    #[inline(always)]
    fn put(x: f32) -> half::bf16 {
        half::bf16::from_f32(x)
    }
    #[inline(always)]
    fn as_f32(_: &[half::bf16]) -> Option<&[f32]> {
        None
    }
}

/// Sparse SGD over ratings, one at a time in the given order: the update
/// of Funk's SVD as Surprise and cuMF_SGD run it. For each rating,
///
/// e = r − (mu + ub[u] + mb[i] + u[u]·m[i]);  ub[u] += lr·(e − reg·ub[u]);
/// (the dot product keeps four running sums over k mod 4, added pairwise);
/// mb[i] += lr·(e − reg·mb[i]);  u[u] += lr·(e·m[i] − reg·u[u]);
/// m[i] += lr·(e·u[u]_old − reg·m[i])
///
/// Only the rating's two rows move; weight decay applies to them alone.
/// The factors are stored as `S` (f32 or bf16) and computed in f32; the
/// biases are f32. Returns each rating's squared error, measured before its
/// update.
///
/// u (Nu,F), m (Ni,F), ub (Nu), mb (Ni), users, items, ratings, sq_err (R)
#[allow(clippy::too_many_arguments)]
pub fn mf_sgd_sparse<S: Factor>(
    u: &mut [S],
    m: &mut [S],
    ub: &mut [f32],
    mb: &mut [f32],
    mu: f32,
    users: &[u32],
    items: &[u32],
    ratings: &[f32],
    sq_err: &mut [f32],
    f: usize,
    lr: f32,
    reg: f32,
) {
    for (r, ((&uu, &ii), &y)) in users.iter().zip(items).zip(ratings).enumerate() {
        let (uu, ii) = (uu as usize, ii as usize);
        let (pu, qi) = (&mut u[uu * f..(uu + 1) * f], &mut m[ii * f..(ii + 1) * f]);
        let e = y - (mu + ub[uu] + mb[ii] + sparse_dot(pu, qi));
        sq_err[r] = e * e;
        ub[uu] += lr * (e - reg * ub[uu]);
        mb[ii] += lr * (e - reg * mb[ii]);
        for k in 0..f {
            let (p, q) = (pu[k].get(), qi[k].get());
            pu[k] = S::put(p + lr * (e * q - reg * p));
            qi[k] = S::put(q + lr * (e * p - reg * q));
        }
    }
}

/// The dot product of sparse SGD, in a fixed order: 16 running sums (four
/// SSE registers' worth, so that the CPU keeps four multiply-add chains in
/// flight), added pairwise, then the tail of F % 16 in order.
///
/// a (F), b (F)
#[inline(always)]
pub fn sparse_dot<A: Factor, B: Factor>(a: &[A], b: &[B]) -> f32 {
    // acc[0..8] and acc[8..16] as two arrays of 8, which the compiler keeps
    // in two vector registers (one array of 16 it splits into pairs).
    let (mut lo, mut hi) = ([0.0f32; 8], [0.0f32; 8]);
    let (ac, bc) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x.get() * y.get())
        .sum();
    for (x, y) in ac.zip(bc) {
        for j in 0..8 {
            lo[j] += x[j].get() * y[j].get();
        }
        for j in 0..8 {
            hi[j] += x[8 + j].get() * y[8 + j].get();
        }
    }
    let mut acc = [0.0f32; 8];
    for j in 0..8 {
        acc[j] = lo[j] + hi[j];
    }
    let mut width = 4;
    while width > 0 {
        for j in 0..width {
            acc[j] += acc[j + width];
        }
        width /= 2;
    }
    acc[0] + tail
}

/// [`sparse_dot`] on f32s with AVX2 intrinsics: the same 16 running sums
/// (two registers of 8), the same reduction and tail, so the same bits; what
/// the compiler makes of the generic loop uses half-width vectors.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sparse_dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::{
        _mm256_add_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_setzero_ps, _mm256_storeu_ps,
    };
    let n = a.len().min(b.len());
    let full = n / 16 * 16;
    let (mut lo, mut hi) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let mut k = 0;
    while k < full {
        // SAFETY: k + 16 <= full <= the length of both slices.
        let (x, y) = unsafe { (a.as_ptr().add(k), b.as_ptr().add(k)) };
        // SAFETY: each load reads 8 floats inside the slices (k + 16 <= full).
        unsafe {
            lo = _mm256_add_ps(lo, _mm256_mul_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(y)));
            hi = _mm256_add_ps(
                hi,
                _mm256_mul_ps(_mm256_loadu_ps(x.add(8)), _mm256_loadu_ps(y.add(8))),
            );
        }
        k += 16;
    }
    let (mut l, mut h) = ([0.0f32; 8], [0.0f32; 8]);
    // SAFETY: each store writes 8 floats into an array of 8.
    unsafe {
        _mm256_storeu_ps(l.as_mut_ptr(), lo);
        _mm256_storeu_ps(h.as_mut_ptr(), hi);
    }
    let tail: f32 = a[full..n].iter().zip(&b[full..n]).map(|(x, y)| x * y).sum();
    let mut acc = [0.0f32; 8];
    for j in 0..8 {
        acc[j] = l[j] + h[j];
    }
    let mut width = 4;
    while width > 0 {
        for j in 0..width {
            acc[j] += acc[j + width];
        }
        width /= 2;
    }
    acc[0] + tail
}

/// [`mf_sgd_sparse`] over runs: `starts` cuts the ratings into runs of one
/// user each (`data::runs`), and run `perm.get(k)` is the k-th to go. Within
/// a run the user's row and bias stay in f32 scratch (`row`, at least F) and
/// are stored once at the run's end; every rating's arithmetic is
/// [`mf_sgd_sparse`]'s. (With bf16 storage the user row is rounded once a
/// run instead of once a rating.) `sq_err[r]` is rating r's squared error,
/// by its place in the arrays, not by when it ran.
///
/// u (Nu,F), m (Ni,F), ub (Nu), mb (Ni), users, items, ratings, sq_err (R), starts (runs + 1)
#[allow(clippy::too_many_arguments)]
pub fn mf_sgd_sparse_runs<S: Factor>(
    u: &mut [S],
    m: &mut [S],
    ub: &mut [f32],
    mb: &mut [f32],
    mu: f32,
    rows: (&[u32], &[u32], &[f32]),
    starts: &[u32],
    perm: &crate::rng::Feistel,
    sq_err: &mut [f32],
    f: usize,
    lr: f32,
    reg: f32,
    row: &mut [f32],
) {
    // The same code compiled for AVX2 where the CPU has it: 8-wide vectors
    // instead of SSE's 4, the same operations in the same order (Rust never
    // fuses a multiply and an add), so the same bits.
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { runs_avx2(u, m, ub, mb, mu, rows, starts, perm, sq_err, f, lr, reg, row) };
        return;
    }
    runs_body::<S, false>(u, m, ub, mb, mu, rows, starts, perm, sq_err, f, lr, reg, row);
}

/// [`mf_sgd_sparse_runs`] compiled with AVX2 enabled.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn runs_avx2<S: Factor>(
    u: &mut [S],
    m: &mut [S],
    ub: &mut [f32],
    mb: &mut [f32],
    mu: f32,
    rows: (&[u32], &[u32], &[f32]),
    starts: &[u32],
    perm: &crate::rng::Feistel,
    sq_err: &mut [f32],
    f: usize,
    lr: f32,
    reg: f32,
    row: &mut [f32],
) {
    runs_body::<S, true>(u, m, ub, mb, mu, rows, starts, perm, sq_err, f, lr, reg, row);
}

/// The body of [`mf_sgd_sparse_runs`], inlined into each instruction set's
/// copy; `AVX2` says the copy may use AVX2 intrinsics.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn runs_body<S: Factor, const AVX2: bool>(
    u: &mut [S],
    m: &mut [S],
    ub: &mut [f32],
    mb: &mut [f32],
    mu: f32,
    rows: (&[u32], &[u32], &[f32]),
    starts: &[u32],
    perm: &crate::rng::Feistel,
    sq_err: &mut [f32],
    f: usize,
    lr: f32,
    reg: f32,
    row: &mut [f32],
) {
    let (users, items, ratings) = rows;
    let pu = &mut row[..f];
    for k in 0..perm.len() {
        let c = perm.get(k) as usize;
        let (lo, hi) = (starts[c] as usize, starts[c + 1] as usize);
        if lo == hi {
            continue;
        }
        let uu = users[lo] as usize;
        for (p, s) in pu.iter_mut().zip(&u[uu * f..(uu + 1) * f]) {
            *p = s.get();
        }
        let mut bu = ub[uu];
        for r in lo..hi {
            let ii = items[r] as usize;
            let qi = &mut m[ii * f..(ii + 1) * f];
            let dot = match S::as_f32(qi) {
                // SAFETY: AVX2 is true only in the copy compiled for it, which runs where the CPU has it.
                #[cfg(target_arch = "x86_64")]
                Some(q) if AVX2 => unsafe { sparse_dot_avx2(pu, q) },
                _ => sparse_dot(pu, qi),
            };
            let e = ratings[r] - (mu + bu + mb[ii] + dot);
            sq_err[r] = e * e;
            bu += lr * (e - reg * bu);
            mb[ii] += lr * (e - reg * mb[ii]);
            for (p, q) in pu.iter_mut().zip(qi.iter_mut()) {
                let (pv, qv) = (*p, q.get());
                *p = pv + lr * (e * qv - reg * pv);
                *q = S::put(qv + lr * (e * pv - reg * qv));
            }
        }
        for (s, &p) in u[uu * f..(uu + 1) * f].iter_mut().zip(pu.iter()) {
            *s = S::put(p);
        }
        ub[uu] = bu;
    }
}

/// [`mf_sgd_sparse`] over per-user tasks off a queue (`data::tasks`), with
/// one worker: task `order.get(k)` is the k-th to go, and task t is the
/// ratings `starts[t]..ends[t]`, all of one user. The user's row and
/// bias stay in f32 scratch (`row`, at least 2·F) across the task. A task
/// with `shared[t] == 0` is its user's only one and stores the row at its
/// end; a shared one (its user cut into shares) merges instead, every
/// `merge_every` ratings and at its end: [`merge_row`] adds what it changed
/// since its last merge and carries on from the sum. Each rating's
/// arithmetic is [`sparse_step`]'s. `sq_err[r]` is rating r's squared
/// error, by its place in the arrays.
///
/// u (Nu,F), m (Ni,F), ub (Nu), mb (Ni), users, items, ratings, sq_err (R),
/// starts, ends, shared (tasks)
#[allow(clippy::too_many_arguments)]
pub fn mf_sgd_sparse_tasks<S: Factor>(
    u: &mut [S],
    m: &mut [S],
    ub: &mut [f32],
    mb: &mut [f32],
    mu: f32,
    rows: (&[u32], &[u32], &[f32]),
    tasks: (&[u32], &[u32], &[u32]),
    order: &crate::rng::Blocked,
    sq_err: &mut [f32],
    f: usize,
    lr: f32,
    reg: f32,
    merge_every: usize,
    row: &mut [f32],
) {
    let (users, items, ratings) = rows;
    let (starts, ends, shared) = tasks;
    let (p, p0) = row[..2 * f].split_at_mut(f);
    let merge_every = merge_every.max(1);
    for k in 0..order.len() {
        let t = order.get(k) as usize;
        let (lo, hi) = (starts[t] as usize, ends[t] as usize);
        if lo == hi {
            continue;
        }
        let uu = users[lo] as usize;
        let urow = uu * f..(uu + 1) * f;
        for ((a, b), s) in p.iter_mut().zip(p0.iter_mut()).zip(&u[urow.clone()]) {
            (*a, *b) = (s.get(), s.get());
        }
        let (mut bu, mut bu0) = (ub[uu], ub[uu]);
        for r in lo..hi {
            let ii = items[r] as usize;
            let e = sparse_step(
                p,
                &mut bu,
                &mut m[ii * f..(ii + 1) * f],
                &mut mb[ii],
                ratings[r],
                mu,
                lr,
                reg,
            );
            sq_err[r] = e * e;
            if shared[t] != 0 && ((r - lo + 1) % merge_every == 0 || r + 1 == hi) {
                merge_row(&mut u[urow.clone()], p, p0);
                ub[uu] += bu - bu0;
                (bu, bu0) = (ub[uu], ub[uu]);
            }
        }
        if shared[t] == 0 {
            for (s, &a) in u[urow].iter_mut().zip(p.iter()) {
                *s = S::put(a);
            }
            ub[uu] = bu;
        }
    }
}

/// One rating's step of sparse SGD with the user's row `p` and bias `bu`
/// held by the caller (in f32): the error e = y − (mu + bu + bi + p·q),
/// then bu, bi, p and q move as in [`mf_sgd_sparse`] (q from the old p).
/// Returns e. The one copy of that arithmetic for the task order, which
/// the schedule simulation ([`crate::tools::hogwild`]) shares.
///
/// p (F), q (F)
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn sparse_step<S: Factor>(
    p: &mut [f32],
    bu: &mut f32,
    q: &mut [S],
    bi: &mut f32,
    y: f32,
    mu: f32,
    lr: f32,
    reg: f32,
) -> f32 {
    let e = y - (mu + *bu + *bi + sparse_dot(p, q));
    *bu += lr * (e - reg * *bu);
    *bi += lr * (e - reg * *bi);
    for (a, b) in p.iter_mut().zip(q.iter_mut()) {
        let (pv, qv) = (*a, b.get());
        *a = pv + lr * (e * qv - reg * pv);
        *b = S::put(qv + lr * (e * pv - reg * qv));
    }
    e
}

/// A shared task's merge of its user row: `urow += p − p0`, each element
/// rounded to the storage, and then `p = p0 = urow`. The kernel does the add
/// atomically (an f32 atomic add; a compare-and-swap loop for bf16), so it
/// also takes in whatever the user's other shares merged meanwhile.
///
/// urow (F), p (F), p0 (F)
#[inline(always)]
pub fn merge_row<S: Factor>(urow: &mut [S], p: &mut [f32], p0: &mut [f32]) {
    for ((s, a), b) in urow.iter_mut().zip(p.iter_mut()).zip(p0.iter_mut()) {
        *s = S::put(s.get() + (*a - *b));
        (*a, *b) = (s.get(), s.get());
    }
}

/// The svd model's prediction from factors stored as `S`:
/// pred[r] = ((u[users[r]]·m[items[r]] + ub[users[r]]) + mb[items[r]]) + mu,
/// the order of the model's forward pass (`dot_forward`, `bias_add`, `scalar_add`).
///
/// pred (R), u (Nu,F), m (Ni,F), ub (Nu), mb (Ni), users, items (R)
#[allow(clippy::too_many_arguments)]
pub fn mf_predict<S: Factor>(
    pred: &mut [f32],
    u: &[S],
    m: &[S],
    ub: &[f32],
    mb: &[f32],
    mu: f32,
    users: &[u32],
    items: &[u32],
    f: usize,
) {
    for (out, (&uu, &ii)) in pred.iter_mut().zip(users.iter().zip(items)) {
        let (uu, ii) = (uu as usize, ii as usize);
        let (pu, qi) = (&u[uu * f..(uu + 1) * f], &m[ii * f..(ii + 1) * f]);
        let mut dot = 0.0f32;
        for k in 0..f {
            dot += pu[k].get() * qi[k].get();
        }
        *out = ((dot + ub[uu]) + mb[ii]) + mu;
    }
}

/// out[g] = mean of x[g·group .. min(n, (g+1)·group)], summed in f64: the
/// per-"step" losses of a sparse epoch, whose steps are single ratings.
///
/// out (ceil(n / group)), x (n)
pub fn group_mean(out: &mut [f32], x: &[f32], group: usize) {
    for (o, c) in out.iter_mut().zip(x.chunks(group)) {
        *o = (c.iter().map(|&e| e as f64).sum::<f64>() / c.len() as f64) as f32;
    }
}

/// The ratings of `order`, regrouped by tile for cache locality: a stable
/// counting sort by tile (user / tile_users, item / tile_items), with tiles
/// in row-major order and each tile's ratings in their order in `order`.
/// The GPU's sparse epoch walks the ratings this way, so that the rows of a
/// tile stay in L2 while its warps work (cuMF_SGD's blocking).
///
/// out (n), order (n), users, items (rows of the table `order` indexes)
pub fn tile_order(
    out: &mut [u32],
    order: &[u32],
    users: &[u32],
    items: &[u32],
    tile_users: usize,
    tile_items: usize,
    tiles_per_row: usize,
) {
    // One pass with random reads (each rating's user and item), then two
    // sequential ones: count the tiles, and place each rating.
    let tiles: Vec<u32> = order
        .iter()
        .map(|&r| {
            let r = r as usize;
            (users[r] as usize / tile_users * tiles_per_row + items[r] as usize / tile_items) as u32
        })
        .collect();
    let n_tiles = tiles.iter().map(|&t| t as usize + 1).max().unwrap_or(0);
    let mut start = vec![0usize; n_tiles + 1];
    for &t in &tiles {
        start[t as usize + 1] += 1;
    }
    for t in 0..n_tiles {
        start[t + 1] += start[t];
    }
    for (&r, &t) in order.iter().zip(&tiles) {
        out[start[t as usize]] = r;
        start[t as usize] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Feistel, Mt19937};

    fn draw(rng: &mut Mt19937, n: usize, scale: f32) -> Vec<f32> {
        (0..n)
            .map(|_| (rng.random_sample() as f32 - 0.5) * scale)
            .collect()
    }

    /// The AVX2 dot product is the generic one, bit for bit, at every
    /// length (whole blocks of 16 and tails).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx2_dot_is_the_generic_one_to_the_bit() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            eprintln!("skipped: this CPU has no AVX2");
            return;
        }
        let mut rng = Mt19937::new(3);
        for n in [0, 1, 15, 16, 17, 50, 100, 128, 129, 512] {
            let (a, b) = (draw(&mut rng, n, 2.0), draw(&mut rng, n, 2.0));
            // SAFETY: AVX2 was detected above.
            let fast = unsafe { sparse_dot_avx2(&a, &b) };
            assert_eq!(fast.to_bits(), sparse_dot(&a, &b).to_bits(), "n={n}");
        }
    }

    /// Runs change the order and where the user row lives, not the
    /// arithmetic: with f32 storage, the runs in their epoch order give the
    /// bits of `mf_sgd_sparse` over the same ratings in the same order.
    #[test]
    fn runs_are_per_rating_sgd_in_the_runs_order() {
        let (nu, ni, f) = (7, 11, 37);
        let mut rng = Mt19937::new(9);
        let n = 300;
        let users: Vec<u32> = (0..n).map(|_| rng.next_u32() % nu as u32).collect();
        let items: Vec<u32> = (0..n).map(|_| rng.next_u32() % ni as u32).collect();
        let ratings = draw(&mut rng, n, 8.0);
        // Runs by hand: ratings sorted by user, cut every 5.
        let mut idx: Vec<usize> = (0..n).collect();
        idx.sort_by_key(|&r| users[r]);
        let (gu, gi, gr): (Vec<u32>, Vec<u32>, Vec<f32>) = (
            idx.iter().map(|&r| users[r]).collect(),
            idx.iter().map(|&r| items[r]).collect(),
            idx.iter().map(|&r| ratings[r]).collect(),
        );
        let mut starts = vec![0u32];
        for r in 1..n {
            if gu[r] != gu[r - 1] || r - *starts.last().unwrap() as usize == 5 {
                starts.push(r as u32);
            }
        }
        starts.push(n as u32);
        let perm = Feistel::new(starts.len() as u32 - 1, 77);
        let (u0, m0) = (draw(&mut rng, nu * f, 0.2), draw(&mut rng, ni * f, 0.2));
        let (ub0, mb0) = (draw(&mut rng, nu, 0.2), draw(&mut rng, ni, 0.2));
        let (mut u, mut m, mut ub, mut mb) = (u0.clone(), m0.clone(), ub0.clone(), mb0.clone());
        let mut sq = vec![0f32; n];
        let mut row = vec![0f32; f];
        mf_sgd_sparse_runs(
            &mut u,
            &mut m,
            &mut ub,
            &mut mb,
            3.5,
            (&gu, &gi, &gr),
            &starts,
            &perm,
            &mut sq,
            f,
            0.03,
            0.05,
            &mut row,
        );
        // The same ratings, one at a time, in the order the runs went.
        let order: Vec<usize> = (0..perm.len())
            .flat_map(|k| {
                let c = perm.get(k) as usize;
                starts[c] as usize..starts[c + 1] as usize
            })
            .collect();
        let pick = |v: &[u32]| order.iter().map(|&r| v[r]).collect::<Vec<u32>>();
        let (ou, oi) = (pick(&gu), pick(&gi));
        let or: Vec<f32> = order.iter().map(|&r| gr[r]).collect();
        let (mut u2, mut m2, mut ub2, mut mb2) = (u0, m0, ub0, mb0);
        let mut sq2 = vec![0f32; n];
        mf_sgd_sparse(
            &mut u2, &mut m2, &mut ub2, &mut mb2, 3.5, &ou, &oi, &or, &mut sq2, f, 0.03, 0.05,
        );
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
        assert_eq!(bits(&u), bits(&u2));
        assert_eq!(bits(&m), bits(&m2));
        assert_eq!(bits(&ub), bits(&ub2));
        assert_eq!(bits(&mb), bits(&mb2));
        let sq_by_run: Vec<u32> = order.iter().map(|&r| sq[r].to_bits()).collect();
        assert_eq!(sq_by_run, bits(&sq2));
    }
}
