// Sparse SGD for the svd model (biased MF, Funk's SVD), the way cuMF_SGD runs
// it: one warp per rating, and each rating moves only its own user and item
// rows. Warps do not lock: two warps that meet on a row race (Hogwild), and
// SGD tolerates that. With one warp the ratings run in order, and the result
// is ops::mf_sgd_sparse's up to the order of the dot product's sum.
//
//   mf_sgd_sparse_f32 / _bf16  ops::mf_sgd_sparse::<f32> / ::<bf16>, any F up to the limit;
//     _narrow                  the same for F ≤ 32·V (F ≤ 128 in multiples of 4, else ≤ 32):
//                              one chunk a lane, 32 registers instead of 58-60 (ptxas -v,
//                              sm_90, with __launch_bounds__), so more warps fit on an SM
//                              to hide the latency of the row loads
//   mf_predict_f32 / _bf16     ops::mf_predict::<f32> / ::<bf16>
//   group_mean                 ops::group_mean
//
// The factor tables are stored as float or as bfloat16; the arithmetic is
// float either way. A bf16 store rounds to nearest even (the sm_80
// instruction cvt.rn.bf16.f32, which __float2bfloat16_rn compiles to), as
// half::bf16::from_f32 does on the CPU. Biases are always float. cuda_bf16.h
// is not used: it needs CCCL headers that a bare nvcc install lacks.
//
// Lane l of a warp owns the factors k = (32·c + l)·V .. +V for c = 0..CHUNKS:
// with V = 4 one load brings four factors (16 bytes of float, 8 of bf16), and
// a warp reads a 128-factor row in one coalesced pass. The lane keeps its
// factors in registers between the dot product and the update, so a row is
// read once and written once. V = 4 needs F % 4 == 0; other widths take V = 1.
// Either way F ≤ 32·V·C for C chunks a lane: C = 4 (512 with V = 4, 128 with
// V = 1), or C = 1 in the narrow kernels. The host checks and picks.
#include "common.cuh"
#include "permute.cuh"

// A bfloat16: the high 16 bits of a float.
struct bf16 {
    unsigned short bits;
};

// x rounded to nearest even, as bf16 bits.
__device__ __forceinline__ unsigned int bf16_bits(float x) {
    unsigned short h;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(x));
    return h;
}
__device__ __forceinline__ void put(float* p, float x) { *p = x; }
__device__ __forceinline__ void put(bf16* p, float x) { p->bits = (unsigned short)bf16_bits(x); }

// v[0..V) = p[0..V), widened to float. p is aligned to V elements. Rows are
// read through L2 only (__ldcg, "cache global"): other SMs write them, and a
// copy kept in this SM's L1 could be stale.
template <int V>
__device__ __forceinline__ void load(const float* p, float* v) {
    if constexpr (V == 4) {
        const float4 x = __ldcg(reinterpret_cast<const float4*>(p));
        v[0] = x.x, v[1] = x.y, v[2] = x.z, v[3] = x.w;
    } else {
        v[0] = __ldcg(p);
    }
}
template <int V>
__device__ __forceinline__ void load(const bf16* p, float* v) {
    if constexpr (V == 4) {
        // Four bf16 in 8 bytes, element 0 in the low half of .x. A bf16 is the
        // high half of the float it widens to, so the widening is a shift.
        const uint2 x = __ldcg(reinterpret_cast<const uint2*>(p));
        v[0] = __uint_as_float(x.x << 16), v[1] = __uint_as_float(x.x & 0xffff0000u);
        v[2] = __uint_as_float(x.y << 16), v[3] = __uint_as_float(x.y & 0xffff0000u);
    } else {
        v[0] = __uint_as_float((unsigned int)__ldcg(&p->bits) << 16);
    }
}

// p[0..V) = v[0..V), rounded to the storage type.
template <int V>
__device__ __forceinline__ void store(float* p, const float* v) {
    if constexpr (V == 4) {
        *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
    } else {
        *p = v[0];
    }
}
template <int V>
__device__ __forceinline__ void store(bf16* p, const float* v) {
    if constexpr (V == 4) {
        const unsigned int lo = bf16_bits(v[0]) | (bf16_bits(v[1]) << 16);
        const unsigned int hi = bf16_bits(v[2]) | (bf16_bits(v[3]) << 16);
        *reinterpret_cast<uint2*>(p) = make_uint2(lo, hi);
    } else {
        put(p, v[0]);
    }
}

// u (Nu,F), m (Ni,F), ub (Nu), mb (Ni), users, items, ratings, sq_err (n)
template <typename S, int V, int CHUNKS>
__device__ void sgd_sparse(S* u, S* m, float* ub, float* mb, float mu, const unsigned int* users,
                           const unsigned int* items, const float* ratings, float* sq_err, int n, int f,
                           float lr, float reg) {
    const int lane = threadIdx.x % 32;
    WARP_STRIDE(long long, r, n) {
        const long long uu = users[r], ii = items[r];
        S* pu = u + uu * f;
        S* qi = m + ii * f;
        float p[CHUNKS][V], q[CHUNKS][V];
        float acc = 0.0f;
#pragma unroll
        for (int c = 0; c < CHUNKS; c++) {
            const int k = (32 * c + lane) * V;
            if (k < f) {
                load<V>(pu + k, p[c]);
                load<V>(qi + k, q[c]);
#pragma unroll
                for (int j = 0; j < V; j++) acc += p[c][j] * q[c][j];
            }
        }
        const float bu = __ldcg(&ub[uu]), bi = __ldcg(&mb[ii]);
        // Every lane has read the rows and biases before any lane writes them.
        __syncwarp();
        const float dot = warp_sum(acc);
        const float e = ratings[r] - (mu + bu + bi + dot);
        if (lane == 0) {
            sq_err[r] = e * e;
            ub[uu] = bu + lr * (e - reg * bu);
            mb[ii] = bi + lr * (e - reg * bi);
        }
#pragma unroll
        for (int c = 0; c < CHUNKS; c++) {
            const int k = (32 * c + lane) * V;
            if (k < f) {
                float np[V], nq[V];
#pragma unroll
                for (int j = 0; j < V; j++) {
                    np[j] = p[c][j] + lr * (e * q[c][j] - reg * p[c][j]);
                    nq[j] = q[c][j] + lr * (e * p[c][j] - reg * q[c][j]);
                }
                store<V>(pu + k, np);
                store<V>(qi + k, nq);
            }
        }
        // The next rating may name the same rows: finish these writes first.
        __syncwarp();
    }
}

// pred[r] = ((u[users[r]]·m[items[r]] + ub[users[r]]) + mb[items[r]]) + mu
//
// pred (n), u (Nu,F), m (Ni,F), ub (Nu), mb (Ni), users, items (n)
template <typename S, int V, int CHUNKS>
__device__ void predict(float* pred, const S* u, const S* m, const float* ub, const float* mb, float mu,
                        const unsigned int* users, const unsigned int* items, int n, int f) {
    const int lane = threadIdx.x % 32;
    WARP_STRIDE(long long, r, n) {
        const long long uu = users[r], ii = items[r];
        float acc = 0.0f;
#pragma unroll
        for (int c = 0; c < CHUNKS; c++) {
            const int k = (32 * c + lane) * V;
            if (k < f) {
                float p[V], q[V];
                load<V>(u + uu * f + k, p);
                load<V>(m + ii * f + k, q);
#pragma unroll
                for (int j = 0; j < V; j++) acc += p[j] * q[j];
            }
        }
        const float dot = warp_sum(acc);
        if (lane == 0) pred[r] = ((dot + ub[uu]) + mb[ii]) + mu;
    }
}

// Version 1 of the sparse update, kept for `mfcuda bench --versions sparse`:
// a thread per rating, factor by factor, in f32. Correct, and the slowest:
// the 32 lanes of a warp read 32 different rows, so every load instruction
// touches 32 cache lines and uses 4 bytes of each, and a thread holds no row
// in registers, so it reads each row twice (dot, then update). Versions 2 to
// 5 are sgd_sparse above: a warp per rating with scalar loads
// (mf_sgd_sparse_f32_scalar), float4 loads (mf_sgd_sparse_f32), one chunk a
// lane (_narrow), and bf16 storage (mf_sgd_sparse_bf16_narrow).
//
// u (Nu,F), m (Ni,F), ub (Nu), mb (Ni), users, items, ratings, sq_err (n)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) mf_sgd_sparse_thread(float* u, float* m, float* ub, float* mb, float mu,
                                                        const unsigned int* users, const unsigned int* items,
                                                        const float* ratings, float* sq_err, int n, int f,
                                                        float lr, float reg) {
    GRID_STRIDE(r, n) {
        float* pu = u + (long long)users[r] * f;
        float* qi = m + (long long)items[r] * f;
        float dot = 0.0f;
        for (int k = 0; k < f; k++) dot += pu[k] * qi[k];
        const float bu = ub[users[r]], bi = mb[items[r]];
        const float e = ratings[r] - (mu + bu + bi + dot);
        sq_err[r] = e * e;
        ub[users[r]] = bu + lr * (e - reg * bu);
        mb[items[r]] = bi + lr * (e - reg * bi);
        for (int k = 0; k < f; k++) {
            const float p = pu[k], q = qi[k];
            pu[k] = p + lr * (e * q - reg * p);
            qi[k] = q + lr * (e * p - reg * q);
        }
    }
}

// Version 2: a warp per rating, one factor a lane a load (V = 1), up to
// four chunks a lane (F <= 128). Coalesced, but four times the load
// instructions of float4.
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) mf_sgd_sparse_f32_scalar(float* u, float* m, float* ub, float* mb, float mu,
                                                            const unsigned int* users, const unsigned int* items,
                                                            const float* ratings, float* sq_err, int n, int f,
                                                            float lr, float reg) {
    sgd_sparse<float, 1, 4>(u, m, ub, mb, mu, users, items, ratings, sq_err, n, f, lr, reg);
}

// Sparse SGD over per-user runs (data::runs): warp w takes runs
// perm(w), perm(w + warps), ... in the epoch's order (permute.cuh). A run's
// user row and bias stay in registers, in float, across its ratings, and are
// stored once at its end; each rating's item row is read, updated and
// written as in sgd_sparse. No two warps share a run, but two warps may hold
// runs of one user at once, and then the later write-back erases the other
// run's updates of the user row: up to RUN_CHUNK of them. Version 1, kept
// for bench --scale; sgd_sparse_tasks below never loses them.
// CPU twin: ops::mf_sgd_sparse_runs. Its kernels ask for 8 blocks an SM
// (__launch_bounds__(BLOCK_THREADS, 8)): 32 registers a thread with no spill
// (ptxas, sm_90), so every warp slot of the SM can hold a run; at 40 the
// registers allowed three quarters of them.
//
// u (Nu,F), m (Ni,F), ub (Nu), mb (Ni), users, items, ratings, sq_err (n: the
// ratings grouped into runs), starts (runs + 1)
template <typename S, int V, int CHUNKS>
__device__ void sgd_sparse_runs(S* u, S* m, float* ub, float* mb, float mu, const unsigned int* users,
                                const unsigned int* items, const float* ratings, const unsigned int* starts,
                                float* sq_err, int runs, int f, float lr, float reg, unsigned int half,
                                unsigned int k0, unsigned int k1, unsigned int k2, unsigned int k3) {
    const int lane = threadIdx.x % 32;
    WARP_STRIDE(int, k, runs) {
        const unsigned int c = feistel_get((unsigned int)k, (unsigned int)runs, half, k0, k1, k2, k3);
        const int lo = (int)starts[c], hi = (int)starts[c + 1];
        if (lo == hi) continue;
        const long long uu = users[lo];
        S* pu = u + uu * f;
        float p[CHUNKS][V];
#pragma unroll
        for (int ch = 0; ch < CHUNKS; ch++) {
            const int kk = (32 * ch + lane) * V;
            if (kk < f) load<V>(pu + kk, p[ch]);
        }
        float bu = __ldcg(&ub[uu]);
        for (int r = lo; r < hi; r++) {
            const long long ii = items[r];
            S* qi = m + ii * f;
            float q[CHUNKS][V];
            float acc = 0.0f;
#pragma unroll
            for (int ch = 0; ch < CHUNKS; ch++) {
                const int kk = (32 * ch + lane) * V;
                if (kk < f) {
                    load<V>(qi + kk, q[ch]);
#pragma unroll
                    for (int j = 0; j < V; j++) acc += p[ch][j] * q[ch][j];
                }
            }
            const float bi = __ldcg(&mb[ii]);
            // Every lane has read the item row and bias before any lane writes them.
            __syncwarp();
            const float dot = warp_sum(acc);
            const float e = ratings[r] - (mu + bu + bi + dot);
            if (lane == 0) {
                sq_err[r] = e * e;
                mb[ii] = bi + lr * (e - reg * bi);
            }
            bu = bu + lr * (e - reg * bu);
#pragma unroll
            for (int ch = 0; ch < CHUNKS; ch++) {
                const int kk = (32 * ch + lane) * V;
                if (kk < f) {
                    float nq[V];
#pragma unroll
                    for (int j = 0; j < V; j++) {
                        const float pv = p[ch][j], qv = q[ch][j];
                        p[ch][j] = pv + lr * (e * qv - reg * pv);
                        nq[j] = qv + lr * (e * pv - reg * qv);
                    }
                    store<V>(qi + kk, nq);
                }
            }
            // The next rating may name the same item: finish these writes first.
            __syncwarp();
        }
#pragma unroll
        for (int ch = 0; ch < CHUNKS; ch++) {
            const int kk = (32 * ch + lane) * V;
            if (kk < f) store<V>(pu + kk, p[ch]);
        }
        if (lane == 0) ub[uu] = bu;
        __syncwarp();
    }
}

// A shared task's merge of its lane's V elements of a user row
// (ops::merge_row): x[i..i+V) += p - p0 atomically, and p = p0 = the sums,
// which hold whatever the user's other shares merged before. float: an
// atomic add returns the old value, and old + d is the sum it stored (one
// rounding, the same). bf16: a compare-and-swap loop on each 32-bit word
// that holds the elements (x is the table's base, 4-byte aligned; with V = 4
// the lane's elements are two whole words), other elements left as they are.
template <int V>
__device__ __forceinline__ void merge_row(float* x, long long i, float* p, float* p0) {
#pragma unroll
    for (int j = 0; j < V; j++) {
        const float d = p[j] - p0[j];
        p[j] = p0[j] = atomicAdd(x + i + j, d) + d;
    }
}
// The compare-and-swap loop on word w of a bf16 table, which holds
// elements 2w (low half) and 2w + 1 (high half): adds dl to the low half
// and dh to the high one where lo / hi say so, and returns the word it stored.
__device__ __forceinline__ unsigned int merge_word(unsigned int* w, bool lo, float dl, bool hi, float dh) {
    unsigned int seen = __ldcg(w), want, next;
    do {
        want = seen;
        const unsigned int l = lo ? bf16_bits(__uint_as_float(want << 16) + dl) : want & 0xffffu;
        const unsigned int h = hi ? bf16_bits(__uint_as_float(want & 0xffff0000u) + dh) : want >> 16;
        next = l | (h << 16);
        seen = atomicCAS(w, want, next);
    } while (seen != want);
    return next;
}
template <int V>
__device__ __forceinline__ void merge_row(bf16* x, long long i, float* p, float* p0) {
    unsigned int* words = reinterpret_cast<unsigned int*>(x);
    if constexpr (V == 4) {
        // F % 4 == 0, so i is even: the lane's four elements are two whole words.
#pragma unroll
        for (int j = 0; j < 4; j += 2) {
            const unsigned int w = merge_word(words + ((i + j) >> 1), true, p[j] - p0[j], true, p[j + 1] - p0[j + 1]);
            p[j] = p0[j] = __uint_as_float(w << 16);
            p[j + 1] = p0[j + 1] = __uint_as_float(w & 0xffff0000u);
        }
    } else {
        const bool lo = (i & 1) == 0;
        const float d = p[0] - p0[0];
        const unsigned int w = merge_word(words + (i >> 1), lo, d, !lo, d);
        p[0] = p0[0] = __uint_as_float(lo ? w << 16 : w & 0xffff0000u);
    }
}

// Sparse SGD over per-user tasks off a queue (data::tasks): each warp takes
// the next task of the epoch's order with an atomic add on `next` (zeroed by
// the host before the launch) until none is left, so a warp that drew short
// tasks takes more. The order (blocked_get, permute.cuh) takes the tasks'
// size classes from the largest, each in a fresh order an epoch, so the
// epoch ends on small tasks. A task is ratings starts[c]..ends[c] of one
// user; its user row and bias stay in registers, in float, across them.
//   - An exclusive task (shared[c] == 0) is its user's only one: no other
//     warp touches the row, so it is stored once, at the end.
//   - A shared task (its user cut into shares that other warps may hold at
//     once) merges every `merge_every` ratings and at its end: it adds what
//     it changed since its last merge (merge_add) and carries on from the
//     sum. So no update of a user row is ever lost.
// Item rows are read, updated and written per rating as in sgd_sparse, and
// two warps on one item still race (Hogwild). CPU twin:
// ops::mf_sgd_sparse_tasks. A shared task keeps the row as of its last
// merge in shared memory (p0, the lane's own slot): in registers it would
// spill at the 32 a thread that 8 blocks an SM allow.
//
// u (Nu,F), m (Ni,F), ub (Nu), mb (Ni), users, items, ratings, sq_err (n: the
// ratings grouped by user), starts, ends, shared (tasks), blocks (n_blocks + 1),
// next (1)
template <typename S, int V, int CHUNKS>
__device__ void sgd_sparse_tasks(S* u, S* m, float* ub, float* mb, float mu, const unsigned int* users,
                                 const unsigned int* items, const float* ratings, const unsigned int* starts,
                                 const unsigned int* ends, const unsigned int* shared,
                                 const unsigned int* blocks, int n_blocks, unsigned int* next, float* sq_err,
                                 int tasks, int f, float lr, float reg, int merge_every, unsigned int k0,
                                 unsigned int k1, unsigned int k2, unsigned int k3) {
    __shared__ float p0s[BLOCK_THREADS * CHUNKS * V];
    float* p0 = p0s + threadIdx.x * CHUNKS * V; // (CHUNKS, V): this lane's own
    const int lane = threadIdx.x % 32;
    for (;;) {
        unsigned int t = 0;
        if (lane == 0) t = atomicAdd(next, 1u);
        t = __shfl_sync(0xffffffffu, t, 0);
        if (t >= (unsigned int)tasks) break;
        const unsigned int c = blocked_get(t, blocks, n_blocks, k0, k1, k2, k3);
        const int lo = (int)starts[c], hi = (int)ends[c];
        if (lo == hi) continue;
        const bool is_shared = shared[c] != 0;
        const long long uu = users[lo];
        S* pu = u + uu * f;
        float p[CHUNKS][V];
#pragma unroll
        for (int ch = 0; ch < CHUNKS; ch++) {
            const int kk = (32 * ch + lane) * V;
            if (kk < f) {
                load<V>(pu + kk, p[ch]);
                if (is_shared) {
#pragma unroll
                    for (int j = 0; j < V; j++) p0[ch * V + j] = p[ch][j];
                }
            }
        }
        float bu = __ldcg(&ub[uu]), bu0 = bu;
        for (int r = lo; r < hi; r++) {
            const long long ii = items[r];
            S* qi = m + ii * f;
            float q[CHUNKS][V];
            float acc = 0.0f;
#pragma unroll
            for (int ch = 0; ch < CHUNKS; ch++) {
                const int kk = (32 * ch + lane) * V;
                if (kk < f) {
                    load<V>(qi + kk, q[ch]);
#pragma unroll
                    for (int j = 0; j < V; j++) acc += p[ch][j] * q[ch][j];
                }
            }
            const float bi = __ldcg(&mb[ii]);
            // Every lane has read the item row and bias before any lane writes them.
            __syncwarp();
            const float dot = warp_sum(acc);
            const float e = ratings[r] - (mu + bu + bi + dot);
            if (lane == 0) {
                sq_err[r] = e * e;
                mb[ii] = bi + lr * (e - reg * bi);
            }
            bu = bu + lr * (e - reg * bu);
#pragma unroll
            for (int ch = 0; ch < CHUNKS; ch++) {
                const int kk = (32 * ch + lane) * V;
                if (kk < f) {
                    float nq[V];
#pragma unroll
                    for (int j = 0; j < V; j++) {
                        const float pv = p[ch][j], qv = q[ch][j];
                        p[ch][j] = pv + lr * (e * qv - reg * pv);
                        nq[j] = qv + lr * (e * pv - reg * qv);
                    }
                    store<V>(qi + kk, nq);
                }
            }
            if (is_shared && ((r - lo + 1) % merge_every == 0 || r + 1 == hi)) {
#pragma unroll
                for (int ch = 0; ch < CHUNKS; ch++) {
                    const int kk = (32 * ch + lane) * V;
                    if (kk < f) merge_row<V>(u, uu * f + kk, p[ch], p0 + ch * V);
                }
                if (lane == 0) bu = atomicAdd(&ub[uu], bu - bu0) + (bu - bu0);
                bu = __shfl_sync(0xffffffffu, bu, 0);
                bu0 = bu;
            }
            // The next rating may name the same item: finish these writes first.
            __syncwarp();
        }
        if (!is_shared) {
#pragma unroll
            for (int ch = 0; ch < CHUNKS; ch++) {
                const int kk = (32 * ch + lane) * V;
                if (kk < f) store<V>(pu + kk, p[ch]);
            }
            if (lane == 0) ub[uu] = bu;
        }
        __syncwarp();
    }
}

// The kernels for one storage type S (float → _f32, bf16 → _bf16). Each
// takes V = 4 when F % 4 == 0, else V = 1:
//
//   mf_sgd_sparse_*          one SGD step on the rating's user and item rows
//                            (sgd_sparse above), one warp a rating, C = 4 chunks a lane
//   mf_sgd_sparse_*_narrow   the same with C = 1
//   mf_predict_*             the rating's prediction (predict above), C = 4
//   mf_sgd_sparse_runs_*     one warp a run in a static order (sgd_sparse_runs), C = 1:
//                            version 1 of the per-user order, kept for bench --scale;
//                            two warps on runs of one user lose a run's updates
//   mf_sgd_sparse_tasks_*    one warp a task off a queue (sgd_sparse_tasks), C = 1:
//                            the per-user order the sparse recipes train in
//
// u (Nu,F), m (Ni,F) of S; ub (Nu), mb (Ni) of float; users, items,
// ratings, sq_err, pred (n)
#define SPARSE_KERNELS(S, SUFFIX)                                                                          \
    extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) mf_sgd_sparse_##SUFFIX(S* u, S* m, float* ub, float* mb, float mu,          \
                                                      const unsigned int* users, const unsigned int* items, \
                                                      const float* ratings, float* sq_err, int n,          \
                                                      int f, float lr, float reg) {                        \
        if (f % 4 == 0)                                                                                    \
            sgd_sparse<S, 4, 4>(u, m, ub, mb, mu, users, items, ratings, sq_err, n, f, lr, reg);           \
        else                                                                                               \
            sgd_sparse<S, 1, 4>(u, m, ub, mb, mu, users, items, ratings, sq_err, n, f, lr, reg);           \
    }                                                                                                      \
    extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) mf_sgd_sparse_##SUFFIX##_narrow(                                            \
        S* u, S* m, float* ub, float* mb, float mu, const unsigned int* users, const unsigned int* items,   \
        const float* ratings, float* sq_err, int n, int f, float lr, float reg) {                    \
        if (f % 4 == 0)                                                                                    \
            sgd_sparse<S, 4, 1>(u, m, ub, mb, mu, users, items, ratings, sq_err, n, f, lr, reg);           \
        else                                                                                               \
            sgd_sparse<S, 1, 1>(u, m, ub, mb, mu, users, items, ratings, sq_err, n, f, lr, reg);           \
    }                                                                                                      \
    extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) mf_predict_##SUFFIX(float* pred, const S* u, const S* m, const float* ub,  \
                                                   const float* mb, float mu, const unsigned int* users,   \
                                                   const unsigned int* items, int n, int f) {        \
        if (f % 4 == 0)                                                                                    \
            predict<S, 4, 4>(pred, u, m, ub, mb, mu, users, items, n, f);                                  \
        else                                                                                               \
            predict<S, 1, 4>(pred, u, m, ub, mb, mu, users, items, n, f);                                  \
    }                                                                                                      \
    extern "C" __global__ void __launch_bounds__(BLOCK_THREADS, 8) mf_sgd_sparse_runs_##SUFFIX(                                            \
        S* u, S* m, float* ub, float* mb, float mu, const unsigned int* users, const unsigned int* items,   \
        const float* ratings, const unsigned int* starts, float* sq_err, int runs, int f, float lr,        \
        float reg, unsigned int half, unsigned int k0, unsigned int k1, unsigned int k2,                   \
        unsigned int k3) {                                                                                 \
        if (f % 4 == 0)                                                                                    \
            sgd_sparse_runs<S, 4, 1>(u, m, ub, mb, mu, users, items, ratings, starts, sq_err, runs, f, lr, \
                                     reg, half, k0, k1, k2, k3);                                           \
        else                                                                                               \
            sgd_sparse_runs<S, 1, 1>(u, m, ub, mb, mu, users, items, ratings, starts, sq_err, runs, f, lr, \
                                     reg, half, k0, k1, k2, k3);                                           \
    }                                                                                                   \
    extern "C" __global__ void __launch_bounds__(BLOCK_THREADS, 8) mf_sgd_sparse_tasks_##SUFFIX(                                           \
        S* u, S* m, float* ub, float* mb, float mu, const unsigned int* users, const unsigned int* items,   \
        const float* ratings, const unsigned int* starts, const unsigned int* ends,                        \
        const unsigned int* shared, const unsigned int* blocks, int n_blocks, unsigned int* next,          \
        float* sq_err, int tasks, int f, float lr, float reg, int merge_every, unsigned int k0,            \
        unsigned int k1, unsigned int k2, unsigned int k3) {                                               \
        if (f % 4 == 0)                                                                                    \
            sgd_sparse_tasks<S, 4, 1>(u, m, ub, mb, mu, users, items, ratings, starts, ends, shared,       \
                                      blocks, n_blocks, next, sq_err, tasks, f, lr, reg, merge_every, k0,  \
                                      k1, k2, k3);                                                         \
        else                                                                                               \
            sgd_sparse_tasks<S, 1, 1>(u, m, ub, mb, mu, users, items, ratings, starts, ends, shared,       \
                                      blocks, n_blocks, next, sq_err, tasks, f, lr, reg, merge_every, k0,  \
                                      k1, k2, k3);                                                         \
    }

SPARSE_KERNELS(float, f32)
SPARSE_KERNELS(bf16, bf16)

// out[g] = mean of x[g·group .. min(n, (g+1)·group)), summed in double in
// order: the per-step losses of a sparse epoch. One thread per group.
//
// out (ceil(n / group)), x (n)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) group_mean(float* out, const float* x, int n, int group) {
    const long long groups = ((long long)n + group - 1) / group;
    GRID_STRIDE(g, groups) {
        const long long start = g * group, end = min((long long)n, start + group);
        double sum = 0.0;
        for (long long i = start; i < end; i++) sum += (double)x[i];
        out[g] = (float)(sum / (double)(end - start));
    }
}
