// A whole SGD epoch of dot or dotbias in ONE kernel launch, with exact lazy
// momentum (src/optim/lazy_sgd.rs): a step touches only the rows of its
// batch, after bringing each one up to date with M^k, and every other row
// waits. One block runs every step of the epoch in order, so there is no
// launch between steps, no graph node, and no grid-wide barrier: a step is
// four __syncthreads apart.
//
//   mf_epoch_lazy_sgd  the epoch's steps (CPU twin: CpuBackend::train_epoch_lazy's step loop)
//   sgd_catch_up_all   the epoch's end: every row brought up to date
//                      (CPU twin: the end of CpuBackend::train_epoch_lazy, ops::sgd_catch_up)
//
// Layout and the shared step helpers: step_rows.cuh. `bufs` are the momentum
// buffers, laid out as params. `last` (Nu + Ni) holds, per row, the step
// after the one that last updated it; it is zeroed before each epoch (every
// row is up to date when an epoch starts). `powers` (4·(steps+1) doubles) is
// M^k row-major for k = 0..steps, at the epoch's one learning rate
// (optim::lazy_sgd::LazyMomentum).
#include "step_rows.cuh"

// Elements of the step's rows each thread keeps in registers: the host
// takes this path only when 2·bs·W <= EPOCH_THREADS · LAZY_PER_THREAD.
#define LAZY_PER_THREAD 8

// (p, buf) <- M^k (p, buf) in double, rounded once: ops::sgd_catch_up.
__device__ __forceinline__ void lazy_catch_up(float& p, float& b, const double* __restrict__ powers, int k) {
    const double m0 = __ldg(&powers[4 * k]), m1 = __ldg(&powers[4 * k + 1]);
    const double m2 = __ldg(&powers[4 * k + 2]), m3 = __ldg(&powers[4 * k + 3]);
    const double p0 = (double)p, b0 = (double)b;
    p = (float)(m0 * p0 + m1 * b0);
    b = (float)(m2 * p0 + m3 * b0);
}

// A step:
//   1. each position reads its row's `last` (its age) and finds its owner
//      slot and next duplicate, and reads the next step's position ahead;
//      each element loads its p and buf into registers
//   2. owner slots catch their rows up (p, buf <- M^age (p, buf)) into `rows`
//   3. forward and loss gradient, one warp per batch row: dx
//   4. each owner element sums its gradient over its duplicates and takes
//      the SGD step (ops::sgd_update); warp 0 writes the step's loss; the
//      next step's positions go to the other buffer
//
// losses (steps); users, items, ratings (n: the epoch's rows in order)
extern "C" __global__ void __launch_bounds__(EPOCH_THREADS)
    mf_epoch_lazy_sgd(float* params, float* bufs, int* last, float* losses, const double* __restrict__ powers,
                      const unsigned int* __restrict__ users, const unsigned int* __restrict__ items,
                      const float* __restrict__ ratings, int n, int bs, int n_users, int n_items, int f,
                      int with_bias, float lo, float hi, float lr, float momentum, float wd) {
    extern __shared__ float smem[];
    const int W = f + with_bias;
    const int slots = 2 * bs * W;
    const int tid = threadIdx.x;
    StepRows sr = step_rows(smem, bs, W);
    const int steps = (n + bs - 1) / bs;

    if (tid < 2 * bs) store_step(sr, prefetch_step(users, items, ratings, n, bs, 0, tid), bs, 0, tid);
    __syncthreads();

    float p[LAZY_PER_THREAD], b[LAZY_PER_THREAD];
    for (int s = 0; s < steps; s++) {
        const int batch = (int)min((long long)bs, n - (long long)s * bs);
        const int* sid = sr.id + (s & 1) * 2 * bs;

        // 1. Per position: age, owner slot, next duplicate; the next step read ahead.
        Prefetch ahead = {0, 0.0f};
        if (tid < 2 * bs) {
            const int side = tid / bs, pos = tid % bs;
            ahead = prefetch_step(users, items, ratings, n, bs, s + 1, tid);
            if (pos < batch) {
                const int me = sid[tid];
                sr.age[tid] = s - last[side ? n_users + me : me];
                find_duplicates(sr, sid, side, pos, bs, batch);
            }
        }
#pragma unroll
        for (int i = 0; i < LAZY_PER_THREAD; i++) {
            const int e = tid + i * EPOCH_THREADS;
            const int side = e / (bs * W), o = (e / W) % bs, c = e % W;
            if (e < slots && o < batch) {
                const long long off = row_offset(side, sid[side * bs + o], c, n_users, n_items, f);
                p[i] = params[off];
                b[i] = bufs[off];
            }
        }
        __syncthreads();

        // 2. Owner slots bring their rows up to date. rows[e] is slot e's element.
#pragma unroll
        for (int i = 0; i < LAZY_PER_THREAD; i++) {
            const int e = tid + i * EPOCH_THREADS;
            const int side = e / (bs * W), o = (e / W) % bs;
            if (e < slots && o < batch && sr.first[side * bs + o] == o) {
                const int k = sr.age[side * bs + o];
                if (k > 0) lazy_catch_up(p[i], b[i], powers, k);
                sr.rows[e] = p[i];
            }
        }
        __syncthreads();

        // 3. Forward and loss gradient.
        forward_rows(sr, sr.rating + (s & 1) * bs, bs, batch, W, f, with_bias, lo, hi);
        __syncthreads();

        // 4. Gradients over duplicates, in batch order, and the SGD step (ops::sgd_update).
#pragma unroll
        for (int i = 0; i < LAZY_PER_THREAD; i++) {
            const int e = tid + i * EPOCH_THREADS;
            const int side = e / (bs * W), o = (e / W) % bs, c = e % W;
            if (e < slots && o < batch && sr.first[side * bs + o] == o) {
                const float g = grad_over_duplicates(sr, side, o, c, bs, W, f);
                const int r = sid[side * bs + o];
                const long long off = row_offset(side, r, c, n_users, n_items, f);
                const float d = g + wd * p[i];
                const float bn = momentum * b[i] + d;
                bufs[off] = bn;
                params[off] = p[i] - lr * bn;
                if (c == 0) last[side ? n_users + r : r] = s + 1;
            }
        }
        batch_loss(sr, &losses[s], batch);
        if (tid < 2 * bs) store_step(sr, ahead, bs, s + 1, tid);
        __syncthreads();
    }
}

// The epoch's end: every parameter of u, m (and ub, mb) whose row was last
// updated before step `steps` is brought up to date with M^(steps - last).
// One thread per parameter.
//
// params, bufs (P), last (Nu + Ni), powers (4·(steps+1))
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS)
    sgd_catch_up_all(float* params, float* bufs, const int* last, const double* __restrict__ powers, int steps,
                     int n_users, int n_items, int f, int with_bias) {
    const long long total = (long long)(n_users + n_items) * (f + with_bias);
    GRID_STRIDE(i, total) {
        const int k = steps - last[row_of(i, n_users, n_items, f)];
        if (k > 0) {
            float p = params[i], b = bufs[i];
            lazy_catch_up(p, b, powers, k);
            params[i] = p;
            bufs[i] = b;
        }
    }
}
