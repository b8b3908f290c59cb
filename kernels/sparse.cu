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
// written as in sgd_sparse. No two warps share a run, so only item rows (and
// a heavy user's rows, cut into several runs) meet, Hogwild-style.
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

// The kernels for one storage type S (float → _f32, bf16 → _bf16). Each
// takes V = 4 when F % 4 == 0, else V = 1, and runs one warp per rating:
//
//   mf_sgd_sparse_*          one SGD step on the rating's user and item rows
//                            (sgd_sparse above), C = 4 chunks a lane
//   mf_sgd_sparse_*_narrow   the same with C = 1
//   mf_predict_*             the rating's prediction (predict above), C = 4
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
