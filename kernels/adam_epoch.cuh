// What the cooperative Adam epochs (adam_epoch.cu for dot and dotbias,
// net_epoch.cu for the net) share: the grid barrier, the leader's Adam step
// on a row it owns, and the other blocks' Adam step on every row the next
// batch does not claim. See adam_epoch.cu for the schedule and the stamps.
#pragma once
#include "optim.cuh"
#include "step_rows.cuh"

// Elements each thread of an updating block loads before it computes: four
// independent loads of p, m and v in flight per thread.
#define ADAM_UNROLL 4

// Adam's scalars: the constant ones, and step s − 1's from the schedule.
struct AdamScalars {
    float beta1, beta2, one_minus_beta1, one_minus_beta2, eps, wd, step_size, bc2;
};

// The scalars of Adam step s - 1 (step_size and sqrt(1 - beta2^t) from the
// epoch's schedule; at s = 0 there is no step, and placeholders).
__device__ __forceinline__ AdamScalars adam_scalars_at(const float* sched, int s, float beta1, float beta2,
                                                       float one_minus_beta1, float one_minus_beta2, float eps,
                                                       float wd) {
    const AdamScalars a = {beta1, beta2, one_minus_beta1, one_minus_beta2, eps, wd,
                           s > 0 ? sched[2 * (s - 1)] : 0.0f, s > 0 ? sched[2 * (s - 1) + 1] : 1.0f};
    return a;
}

// adam_value with these scalars.
__device__ __forceinline__ void adam_scalars_step(float& p, float g, float& m, float& v, const AdamScalars& a) {
    adam_value(p, g, m, v, a.beta1, a.beta2, a.one_minus_beta1, a.one_minus_beta2, a.eps, a.step_size, a.bc2, a.wd);
}

// Every block of the grid waits here until all have arrived; what each wrote
// before is visible to all after. The grid must be co-resident (a
// cooperative launch guarantees it).
__device__ __forceinline__ void grid_barrier(unsigned int* count, unsigned int* generation) {
    __syncthreads();
    if (threadIdx.x == 0) {
        volatile unsigned int* gen = generation;
        const unsigned int g = *gen;
        __threadfence();
        if (atomicAdd(count, 1u) == gridDim.x - 1) {
            atomicExch(count, 0u);
            __threadfence();
            atomicAdd(generation, 1u);
        } else {
            while (*gen == g) {
            }
        }
        __threadfence();
    }
    __syncthreads();
}

// The leader's Adam step s − 1 on parameter `off` of row `ri` (which it owns
// at step s), with step s − 1's loss gradient where the row had one (touch);
// returns the new value. At s = 0 there is no step: the value as it is.
__device__ __forceinline__ float adam_owned(float* params, float* m, float* v, const float* gprev,
                                            const int* touch, long long ri, long long off, int s,
                                            const AdamScalars& a) {
    float p = __ldcg(&params[off]);
    if (s > 0) {
        const float g = __ldcg(&touch[ri]) == s ? __ldcg(&gprev[off]) : 0.0f;
        float mi = __ldcg(&m[off]), vi = __ldcg(&v[off]);
        adam_scalars_step(p, g, mi, vi, a);
        params[off] = p;
        m[off] = mi;
        v[off] = vi;
    }
    return p;
}

// Blocks 1.. of the grid: Adam step s − 1 on parameters [0, total) of the
// row tables, skipping the rows batch s claims (claim[row] == s + 1), with
// step s − 1's loss gradient (gprev) where touch[row] == s and 0 elsewhere.
__device__ __forceinline__ void adam_unclaimed(float* params, float* m, float* v, const float* gprev,
                                               const int* claimed, const int* touch, int s, long long total,
                                               int n_users, int n_items, int f, const AdamScalars& a) {
    const long long stride = (long long)(gridDim.x - 1) * blockDim.x;
    for (long long base = (long long)(blockIdx.x - 1) * blockDim.x + threadIdx.x; base < total;
         base += ADAM_UNROLL * stride) {
        float p[ADAM_UNROLL], mi[ADAM_UNROLL], vi[ADAM_UNROLL], g[ADAM_UNROLL];
        bool mine[ADAM_UNROLL];
#pragma unroll
        for (int u = 0; u < ADAM_UNROLL; u++) {
            const long long i = base + u * stride;
            mine[u] = false;
            if (i < total) {
                const unsigned int r = row_of(i, n_users, n_items, f);
                mine[u] = __ldcg(&claimed[r]) != s + 1;
                g[u] = __ldcg(&touch[r]) == s ? __ldcg(&gprev[i]) : 0.0f;
                p[u] = __ldcg(&params[i]);
                mi[u] = __ldcg(&m[i]);
                vi[u] = __ldcg(&v[i]);
            }
        }
#pragma unroll
        for (int u = 0; u < ADAM_UNROLL; u++) {
            const long long i = base + u * stride;
            if (mine[u]) {
                adam_scalars_step(p[u], g[u], mi[u], vi[u], a);
                params[i] = p[u];
                m[i] = mi[u];
                v[i] = vi[u];
            }
        }
    }
}

// The leader's first phase of step s (threads 0..2*bs; the caller syncs
// after): each position's owner slot and next duplicate in the step's ids
// `sid` (batch of `batch`), and the next step's position read ahead and its
// row claimed for step s + 1 (claim[(s + 1) & 1][row] = s + 2, where rows
// are users, then items, `rows` in all). Returns the position read ahead,
// for store_step.
__device__ __forceinline__ Prefetch leader_plan(StepRows& sr, const int* sid, int* claim,
                                                const unsigned int* users, const unsigned int* items,
                                                const float* ratings, int n, int bs, int batch, int s,
                                                int n_users, int rows) {
    Prefetch ahead = {0, 0.0f};
    const int tid = threadIdx.x;
    if (tid < 2 * bs) {
        const int side = tid / bs, pos = tid % bs;
        ahead = prefetch_step(users, items, ratings, n, bs, s + 1, tid);
        if ((long long)(s + 1) * bs + pos < n)
            claim[((s + 1) & 1) * rows + (side ? n_users + ahead.id : ahead.id)] = s + 2;
        if (pos < batch) find_duplicates(sr, sid, side, pos, bs, batch);
    }
    return ahead;
}
