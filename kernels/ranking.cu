// Full ranking for MF models: score every item for a user and keep the best
// k. The CPU twin of both versions is ops::score_topk, to the bit: each score
// is summed in factor order with __fmul_rn and __fadd_rn (no fused
// multiply-add), then + ub, then + mb; ties go to the smaller item, as
// ops::ranks_above says, and a NaN score never ranks.
//
//   score_topk         ops::score_topk   v1: one block a user
//   score_topk_tiled   ops::score_topk   v2: RANK_USERS users a block, items
//                                        tiled through shared memory (the
//                                        default where it fits)
//
// Shapes: u (n_users, f), m (n_items, f), ub (n_users), mb (n_items), users
// (B), seen_ptr (B + 1) offsets into seen (nnz; each user's run sorted),
// top_items and top_scores (B, k).
//
// v1, score_topk. Block b (RANK_THREADS threads) takes user users[b]:
//   1. its embedding row goes to shared memory, and the items it rated in
//      training (seen[seen_ptr[b] .. seen_ptr[b+1]]) become a bitmap there;
//   2. thread t scores items t, t + RANK_THREADS, ... and keeps its own best
//      k in a sorted list in shared memory (insertion, as the CPU twin);
//   3. the RANK_THREADS lists are merged pairwise in log2(RANK_THREADS)
//      rounds, each keeping the best k, and thread 0 writes list 0.
// Shared memory: f floats, RANK_THREADS·k (score, item) pairs and one bit an
// item; the host checks that it fits. Every block reads the whole item table,
// and lane l of a warp reads row i + l factor by factor (m[i·f + j]): a warp's
// load touches 32 lines, one a lane (bench --ranking prints the model).
//
// v2, score_topk_tiled: v1's loads are the limit, so the items go through
// shared memory once for RANK_USERS users, as an SGEMM tiles its operands.
// Block b takes users users[b·RANK_USERS ..] (nu of them, RANK_USERS but in the
// last block), and walks the catalogue in tiles of RANK_THREADS items:
//   0. the users' rows go to shared memory as urows (f, RANK_USERS), so that
//      one float4 load gives factor j of four users; each user's list of the
//      best k so far (ls, li: (RANK_USERS, k | 1), sorted) starts empty;
//   for each tile of items i0 .. i0 + RANK_THREADS - 1:
//   1. thread q < nu marks the items of the tile that user q has seen
//      (bits: (RANK_USERS, RANK_THREADS / 32)), walking its sorted seen run
//      from where the last tile stopped;
//   2. the tile's rows come in, RANK_CHUNK factors at a time, into tile
//      (RANK_THREADS, RANK_STRIDE): warp w loads rows w, w + 4, ..., lane c
//      factor j0 + c, so a warp's load is one row's 128 contiguous bytes
//      (one line, 4 sectors) instead of 32 rows' one float each;
//   3. thread t scores item i0 + t for every user of the block, acc[q] in
//      registers, factors in order (tile reads conflict-free: RANK_STRIDE is
//      odd; urows reads are broadcasts);
//   4. a score that ranks above user q's current k-th (and is not seen) is a
//      candidate: appended to cs, ci (RANK_USERS, RANK_THREADS + 1) through
//      an atomic count nc[q];
//   5. thread q inserts user q's candidates into its list, as the CPU twin
//      inserts (top k under ranks_above's total order does not depend on the
//      order the candidates arrive in: the items are distinct).
// At the end the lists go out, nu·k contiguous (score, item) pairs, coalesced.
// Shared memory: RANK_USERS·(f + 2(k | 1) + 2(RANK_THREADS + 1) + RANK_THREADS/32
// + 2) + RANK_THREADS·RANK_STRIDE words, whatever the catalogue's size (37 KB
// at f = 32, k = 10). The per-user rows of lists and candidates are an odd
// number of words apart, so that the inserting threads do not share a bank.
#include "common.cuh"

#define RANK_THREADS 128
#define TOPK_MAX 32
#define NO_ITEM 0xFFFFFFFFu
#define RANK_USERS 16   // users a block of score_topk_tiled (a multiple of 4)
#define RANK_CHUNK 32   // factors a tile holds at once (a warp's lanes)
#define RANK_STRIDE 33  // floats between two rows of the tile (odd: no bank conflicts)

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

// v2: see the header. batch is B (users has B entries); the grid is
// ceil(B / RANK_USERS) blocks of RANK_THREADS threads.
extern "C" __global__ void __launch_bounds__(RANK_THREADS)
score_topk_tiled(unsigned int* top_items, float* top_scores, const float* u, const float* m, const float* ub,
                 const float* mb, const unsigned int* users, const unsigned int* seen_ptr,
                 const unsigned int* seen, int batch, int n_items, int f, int k, int has_ub, int has_mb) {
    extern __shared__ float4 smem4[];
    float* urows = (float*)smem4;                                 // (f, RANK_USERS)
    float* tile = urows + f * RANK_USERS;                         // (RANK_THREADS, RANK_STRIDE)
    // Rows of the lists and candidates are an odd number of words apart, so
    // that threads 0 .. nu - 1 inserting at once hit different banks.
    const int ks = k | 1, cstride = RANK_THREADS + 1;
    float* ls = tile + RANK_THREADS * RANK_STRIDE;                // (RANK_USERS, ks) scores
    unsigned int* li = (unsigned int*)(ls + RANK_USERS * ks);     // (RANK_USERS, ks) items
    float* cs = (float*)(li + RANK_USERS * ks);                   // (RANK_USERS, cstride) candidates
    unsigned int* ci = (unsigned int*)(cs + RANK_USERS * cstride);
    unsigned int* bits = ci + RANK_USERS * cstride;               // (RANK_USERS, RANK_THREADS / 32)
    int* nc = (int*)(bits + RANK_USERS * (RANK_THREADS / 32));    // (RANK_USERS)
    float* bus = (float*)(nc + RANK_USERS);                       // (RANK_USERS) user biases
    const int t = threadIdx.x, lane = t & 31, warp = t >> 5;
    const int q0 = blockIdx.x * RANK_USERS;
    const int nu = min(RANK_USERS, batch - q0);
    const int words = RANK_THREADS / 32;

    // 0. The users' rows (warp w: users w, w + 4, ...; zeros past nu), their
    // biases, the empty lists, and thread q's cursor into user q's seen run.
    for (int q = warp; q < RANK_USERS; q += RANK_THREADS / 32) {
        const float* row = q < nu ? u + (size_t)users[q0 + q] * f : nullptr;
        for (int j = lane; j < f; j += 32) urows[j * RANK_USERS + q] = row ? row[j] : 0.0f;
    }
    unsigned int cur = 0, end = 0;
    if (t < RANK_USERS) {
        bus[t] = (t < nu && has_ub) ? ub[users[q0 + t]] : 0.0f;
        if (t < nu) {
            cur = seen_ptr[q0 + t];
            end = seen_ptr[q0 + t + 1];
        }
    }
    for (int e = t; e < RANK_USERS * ks; e += RANK_THREADS) {
        ls[e] = -INFINITY;
        li[e] = NO_ITEM;
    }

    for (int i0 = 0; i0 < n_items; i0 += RANK_THREADS) {
        const int i = i0 + t, rows = min(RANK_THREADS, n_items - i0);
        __syncthreads();  // the last tile's merge (5) is done; step 0's writes are seen
        // 1. This tile's seen bits and candidate counts.
        if (t < RANK_USERS) {
            unsigned int* mine = bits + t * words;
            for (int w = 0; w < words; w++) mine[w] = 0u;
            nc[t] = 0;
            for (; cur < end; cur++) {
                const unsigned int s = seen[cur] - (unsigned int)i0;
                if (s >= (unsigned int)RANK_THREADS) break;
                mine[s >> 5] |= 1u << (s & 31);
            }
        }
        const float bi = (has_mb && i < n_items) ? mb[i] : 0.0f;
        float acc[RANK_USERS];
#pragma unroll
        for (int q = 0; q < RANK_USERS; q++) acc[q] = 0.0f;
        for (int j0 = 0; j0 < f; j0 += RANK_CHUNK) {
            const int fc = min(RANK_CHUNK, f - j0);
            if (j0 > 0) __syncthreads();  // the last chunk's reads of tile are done
            // 2. Rows i0 + r of the tile, factors j0 .. j0 + fc - 1: a row a warp request.
            if (lane < fc)
                for (int r = warp; r < rows; r += RANK_THREADS / 32)
                    tile[r * RANK_STRIDE + lane] = m[(size_t)(i0 + r) * f + j0 + lane];
            __syncthreads();
            // 3. Item i for every user, factors in order.
            if (i < n_items) {
                const float* mrow = tile + t * RANK_STRIDE;
                for (int j = 0; j < fc; j++) {
                    const float mj = mrow[j];
                    const float4* u4 = (const float4*)(urows + (j0 + j) * RANK_USERS);
#pragma unroll
                    for (int g = 0; g < RANK_USERS / 4; g++) {
                        const float4 v = u4[g];
                        acc[4 * g + 0] = __fadd_rn(acc[4 * g + 0], __fmul_rn(v.x, mj));
                        acc[4 * g + 1] = __fadd_rn(acc[4 * g + 1], __fmul_rn(v.y, mj));
                        acc[4 * g + 2] = __fadd_rn(acc[4 * g + 2], __fmul_rn(v.z, mj));
                        acc[4 * g + 3] = __fadd_rn(acc[4 * g + 3], __fmul_rn(v.w, mj));
                    }
                }
            }
        }
        // 4. Candidates: unseen, and above the user's k-th so far.
        if (i < n_items) {
#pragma unroll
            for (int q = 0; q < RANK_USERS; q++) {
                if (q >= nu) break;
                float s = acc[q];
                if (has_ub) s = __fadd_rn(s, bus[q]);
                if (has_mb) s = __fadd_rn(s, bi);
                const bool seen_q = (bits[q * words + (t >> 5)] >> (t & 31)) & 1u;
                if (!seen_q && ranks_above(s, (unsigned int)i, ls[q * ks + k - 1], li[q * ks + k - 1])) {
                    const int c = atomicAdd(&nc[q], 1);
                    cs[q * cstride + c] = s;
                    ci[q * cstride + c] = (unsigned int)i;
                }
            }
        }
        __syncthreads();
        // 5. Thread q inserts user q's candidates, as the CPU twin inserts.
        if (t < nu) {
            float* my_s = ls + t * ks;
            unsigned int* my_i = li + t * ks;
            for (int c = 0; c < nc[t]; c++) {
                const float s = cs[t * cstride + c];
                const unsigned int it = ci[t * cstride + c];
                if (!ranks_above(s, it, my_s[k - 1], my_i[k - 1])) continue;
                int p = k - 1;
                while (p > 0 && ranks_above(s, it, my_s[p - 1], my_i[p - 1])) {
                    my_s[p] = my_s[p - 1];
                    my_i[p] = my_i[p - 1];
                    p--;
                }
                my_s[p] = s;
                my_i[p] = it;
            }
        }
    }
    __syncthreads();
    // The nu lists, contiguous in the output: (q0 + q)·k + j.
    for (int e = t; e < nu * k; e += RANK_THREADS) {
        const int q = e / k, j = e - q * k;
        top_items[(size_t)q0 * k + e] = li[q * ks + j];
        top_scores[(size_t)q0 * k + e] = ls[q * ks + j];
    }
}
