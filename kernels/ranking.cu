// Full ranking for MF models: one block scores every item for one user and
// keeps the best k. The CPU twin is ops::score_topk, to the bit: each score
// is summed in factor order with __fmul_rn and __fadd_rn (no fused
// multiply-add), and ties go to the smaller item, as ops::ranks_above says.
//
//   score_topk   ops::score_topk
//
// Block b (RANK_THREADS threads) takes user users[b]:
//   1. its embedding row goes to shared memory, and the items it rated in
//      training (seen[seen_ptr[b] .. seen_ptr[b+1]]) become a bitmap there;
//   2. thread t scores items t, t + RANK_THREADS, ... and keeps its own best
//      k in a sorted list in shared memory (insertion, as the CPU twin);
//   3. the RANK_THREADS lists are merged pairwise in log2(RANK_THREADS)
//      rounds, each keeping the best k, and thread 0 writes list 0.
// Shared memory: f floats, RANK_THREADS·k (score, item) pairs and one bit an
// item; the host checks that it fits.
#include "common.cuh"

#define RANK_THREADS 128
#define TOPK_MAX 32
#define NO_ITEM 0xFFFFFFFFu

__device__ __forceinline__ bool ranks_above(float sa, unsigned int ia, float sb, unsigned int ib) {
    return sa > sb || (sa == sb && ia < ib);
}

// top_items, top_scores (B, k); u (n_users, f); m (n_items, f);
// ub (n_users) and mb (n_items), added where has_ub / has_mb; users (B);
// seen_ptr (B + 1) offsets into seen (nnz).
extern "C" __global__ void __launch_bounds__(RANK_THREADS)
score_topk(unsigned int* top_items, float* top_scores, const float* u, const float* m, const float* ub,
           const float* mb, const unsigned int* users, const unsigned int* seen_ptr, const unsigned int* seen,
           int n_items, int f, int k, int has_ub, int has_mb) {
    extern __shared__ float smem[];
    float* urow = smem;                                        // (f)
    float* ls = urow + f;                                      // (RANK_THREADS, k) scores
    unsigned int* li = (unsigned int*)(ls + RANK_THREADS * k); // (RANK_THREADS, k) items
    unsigned int* bits = li + RANK_THREADS * k;                // (ceil(n_items / 32))
    const int b = blockIdx.x, t = threadIdx.x;
    const unsigned int user = users[b];
    const int words = (n_items + 31) / 32;
    for (int j = t; j < f; j += RANK_THREADS) urow[j] = u[(size_t)user * f + j];
    for (int w = t; w < words; w += RANK_THREADS) bits[w] = 0u;
    __syncthreads();
    for (unsigned int s = seen_ptr[b] + t; s < seen_ptr[b + 1]; s += RANK_THREADS) {
        const unsigned int i = seen[s];
        atomicOr(&bits[i >> 5], 1u << (i & 31));
    }
    __syncthreads();

    float* my_s = ls + t * k;
    unsigned int* my_i = li + t * k;
    for (int j = 0; j < k; j++) {
        my_s[j] = -INFINITY;
        my_i[j] = NO_ITEM;
    }
    const float bu = has_ub ? ub[user] : 0.0f;
    for (int i = t; i < n_items; i += RANK_THREADS) {
        if ((bits[i >> 5] >> (i & 31)) & 1u) continue;
        const float* mi = m + (size_t)i * f;
        float acc = 0.0f;
        for (int j = 0; j < f; j++) acc = __fadd_rn(acc, __fmul_rn(urow[j], mi[j]));
        if (has_ub) acc = __fadd_rn(acc, bu);
        if (has_mb) acc = __fadd_rn(acc, mb[i]);
        if (!ranks_above(acc, (unsigned int)i, my_s[k - 1], my_i[k - 1])) continue;
        int p = k - 1;
        while (p > 0 && ranks_above(acc, (unsigned int)i, my_s[p - 1], my_i[p - 1])) {
            my_s[p] = my_s[p - 1];
            my_i[p] = my_i[p - 1];
            p--;
        }
        my_s[p] = acc;
        my_i[p] = (unsigned int)i;
    }
    __syncthreads();

    // Pairwise merges: at stride s, thread t (a multiple of 2s) merges list
    // t + s into list t, keeping the best k.
    float ms[TOPK_MAX];
    unsigned int mi_[TOPK_MAX];
    for (int s = 1; s < RANK_THREADS; s <<= 1) {
        if (t % (2 * s) == 0) {
            const float* as = ls + t * k;
            const unsigned int* ai = li + t * k;
            const float* bs = ls + (t + s) * k;
            const unsigned int* bi = li + (t + s) * k;
            int x = 0, y = 0;
            for (int j = 0; j < k; j++) {
                if (ranks_above(bs[y], bi[y], as[x], ai[x])) {
                    ms[j] = bs[y];
                    mi_[j] = bi[y];
                    y++;
                } else {
                    ms[j] = as[x];
                    mi_[j] = ai[x];
                    x++;
                }
            }
            for (int j = 0; j < k; j++) {
                ls[t * k + j] = ms[j];
                li[t * k + j] = mi_[j];
            }
        }
        __syncthreads();
    }
    if (t == 0) {
        for (int j = 0; j < k; j++) {
            top_items[(size_t)b * k + j] = li[j];
            top_scores[(size_t)b * k + j] = ls[j];
        }
    }
}
