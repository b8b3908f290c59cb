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
// Parameters are laid out as ModelSpec::tensors says:
//   u (Nu,F) | m (Ni,F) | [ub (Nu) | mb (Ni) when with_bias]
// and the momentum buffers `bufs` alike. `last` (Nu + Ni: users, then items)
// holds, per row, the step after the one that last updated it; it is zeroed
// before each epoch (every row is up to date when an epoch starts).
// `powers` (4·(steps+1) doubles) is M^k row-major for k = 0..steps, at the
// epoch's one learning rate (optim::lazy_sgd::LazyMomentum).
#include "common.cuh"

// Threads of the one block (src/backend/cuda/device.rs's LAZY_BLOCK).
#define LAZY_THREADS 1024
// Elements of the step's rows each thread keeps in registers: the host
// takes this path only when 2·bs·W <= LAZY_THREADS · LAZY_PER_THREAD.
#define LAZY_PER_THREAD 8

// The offset in params (and bufs) of column c of row r on side 0 (users) or
// 1 (items); column f is the bias.
__device__ __forceinline__ long long lazy_offset(int side, long long r, int c, int n_users, int n_items, int f) {
    if (c < f) return (side ? (long long)n_users * f : 0) + r * f + c;
    return (long long)(n_users + n_items) * f + (side ? n_users : 0) + r;
}

// (p, buf) <- M^k (p, buf) in double, rounded once: ops::sgd_catch_up.
__device__ __forceinline__ void lazy_catch_up(float& p, float& b, const double* __restrict__ powers, int k) {
    const double m0 = __ldg(&powers[4 * k]), m1 = __ldg(&powers[4 * k + 1]);
    const double m2 = __ldg(&powers[4 * k + 2]), m3 = __ldg(&powers[4 * k + 3]);
    const double p0 = (double)p, b0 = (double)b;
    p = (float)(m0 * p0 + m1 * b0);
    b = (float)(m2 * p0 + m3 * b0);
}

// Shared memory, for a batch of bs and a row width W = F (+1 with the bias);
// the host sizes it with the same formula (lazy_shared_bytes):
//   rows   float [2][bs][W]  each slot's row, brought up to date (owner slots only)
//   dx     float [bs]        dL/dx per batch row
//   sq     float [bs]        squared error per batch row
//   rating float [2][bs]     this step's and the next step's, double-buffered
//   id     int   [2][2][bs]  users | items, double-buffered
//   first  int   [2][bs]     the first batch position with the same id: the row's owner slot
//   next   int   [2][bs]     the next position with the same id, or -1
//   age    int   [2][bs]     steps since the row was last brought up to date
//
// A step:
//   1. each position reads its row's `last` and finds its owner slot and the
//      next duplicate; each element loads its p and buf (registers)
//   2. owner slots catch their rows up (p, buf <- M^age (p, buf)) into `rows`
//   3. forward and loss gradient, one warp per batch row: dx
//   4. each owner element sums dx·(other side's row) over its duplicates, in
//      batch order (the CPU's scatter-add order), and takes the SGD step:
//      ops::sgd_update. The step's loss is a warp's sum. The next step's ids,
//      prefetched in 1, go to the other buffer.
//
// losses (steps), users, items, ratings (n: the epoch's rows in order)
extern "C" __global__ void __launch_bounds__(LAZY_THREADS)
    mf_epoch_lazy_sgd(float* params, float* bufs, int* last, float* losses, const double* __restrict__ powers,
                      const unsigned int* __restrict__ users, const unsigned int* __restrict__ items,
                      const float* __restrict__ ratings, int n, int bs, int n_users, int n_items, int f,
                      int with_bias, float lo, float hi, float lr, float momentum, float wd) {
    extern __shared__ float smem[];
    const int W = f + with_bias;
    const int slots = 2 * bs * W;
    const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32, warps = blockDim.x / 32;
    float* rows = smem;
    float* dx = rows + slots;
    float* sq = dx + bs;
    float* rating = sq + bs;
    int* id = (int*)(rating + 2 * bs);
    int* first = id + 4 * bs;
    int* next = first + 2 * bs;
    int* age = next + 2 * bs;
    const int steps = (n + bs - 1) / bs;

    // Step 0's ids and ratings into buffer 0.
    for (int j = tid; j < 2 * bs; j += blockDim.x) {
        const int side = j / bs, pos = j % bs;
        if (pos < n) {
            id[j] = (int)(side ? items[pos] : users[pos]);
            if (side == 0) rating[pos] = ratings[pos];
        }
    }
    __syncthreads();

    float p[LAZY_PER_THREAD], b[LAZY_PER_THREAD];
    for (int s = 0; s < steps; s++) {
        const int buf = s & 1;
        const long long start = (long long)s * bs;
        const int batch = (int)min((long long)bs, n - start);
        const int* sid = id + buf * 2 * bs;

        // 1. Per position: age, owner slot, next duplicate, and the next step's ids.
        int pre_id = 0;
        float pre_rating = 0.0f;
        if (tid < 2 * bs) {
            const int side = tid / bs, pos = tid % bs;
            const long long nj = start + bs + pos;
            if (nj < n) {
                pre_id = (int)(side ? items[nj] : users[nj]);
                if (side == 0) pre_rating = ratings[nj];
            }
            if (pos < batch) {
                const int me = sid[tid];
                age[tid] = s - last[side ? n_users + me : me];
                int fst = pos, nxt = -1;
                for (int q = pos - 1; q >= 0; q--)
                    if (sid[side * bs + q] == me) fst = q;
                for (int q = batch - 1; q > pos; q--)
                    if (sid[side * bs + q] == me) nxt = q;
                first[tid] = fst;
                next[tid] = nxt;
            }
        }
#pragma unroll
        for (int i = 0; i < LAZY_PER_THREAD; i++) {
            const int e = tid + i * LAZY_THREADS;
            const int side = e / (bs * W), o = (e / W) % bs, c = e % W;
            if (e < slots && o < batch) {
                const long long off = lazy_offset(side, sid[side * bs + o], c, n_users, n_items, f);
                p[i] = params[off];
                b[i] = bufs[off];
            }
        }
        __syncthreads();

        // 2. Owner slots bring their rows up to date.
#pragma unroll
        for (int i = 0; i < LAZY_PER_THREAD; i++) {
            const int e = tid + i * LAZY_THREADS;
            const int side = e / (bs * W), o = (e / W) % bs;
            if (e < slots && o < batch && first[side * bs + o] == o) {
                const int k = age[side * bs + o];
                if (k > 0) lazy_catch_up(p[i], b[i], powers, k);
                rows[e] = p[i];
            }
        }
        __syncthreads();

        // 3. Forward and loss gradient, one warp per batch row (as mf_step_fused).
        for (int j = warp; j < batch; j += warps) {
            const float* U = rows + first[j] * W;
            const float* M = rows + bs * W + first[bs + j] * W;
            float acc = 0.0f;
            for (int k = lane; k < f; k += 32) acc += U[k] * M[k];
            acc = warp_sum(acc);
            float x = acc, pred = acc, sg = 0.0f;
            if (with_bias) {
                x += U[f];
                x += M[f];
                sg = sigmoidf(x);
                pred = sg * (hi - lo) + lo;
            }
            const float diff = pred - rating[buf * bs + j];
            const float dpred = 2.0f * diff / (float)batch;
            if (lane == 0) {
                dx[j] = with_bias ? dpred * (hi - lo) * sg * (1.0f - sg) : dpred;
                sq[j] = diff * diff;
            }
        }
        __syncthreads();

        // 4. Gradients over duplicates, in batch order, and the SGD step.
#pragma unroll
        for (int i = 0; i < LAZY_PER_THREAD; i++) {
            const int e = tid + i * LAZY_THREADS;
            const int side = e / (bs * W), o = (e / W) % bs, c = e % W;
            if (e < slots && o < batch && first[side * bs + o] == o) {
                const int other = 1 - side;
                float g = 0.0f;
                for (int j = o; j >= 0; j = next[side * bs + j]) {
                    const float x = c < f ? rows[(other * bs + first[other * bs + j]) * W + c] : 1.0f;
                    g += c < f ? dx[j] * x : dx[j];
                }
                const int r = sid[side * bs + o];
                const long long off = lazy_offset(side, r, c, n_users, n_items, f);
                const float d = g + wd * p[i];
                const float bn = momentum * b[i] + d;
                bufs[off] = bn;
                params[off] = p[i] - lr * bn;
                if (c == 0) last[side ? n_users + r : r] = s + 1;
            }
        }
        if (warp == 0) {
            float sum = 0.0f;
            for (int j = lane; j < batch; j += 32) sum += sq[j];
            sum = warp_sum(sum);
            if (lane == 0) losses[s] = sum / (float)batch;
        }
        if (tid < 2 * bs) {
            id[(buf ^ 1) * 2 * bs + tid] = pre_id;
            if (tid < bs) rating[(buf ^ 1) * bs + tid] = pre_rating;
        }
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
    const long long table = (long long)(n_users + n_items) * f;
    const long long total = table + (with_bias ? n_users + n_items : 0);
    GRID_STRIDE(i, total) {
        // The row's index into `last`: users first, then items, in both the tables and the biases.
        const long long row = i < table ? i / f : i - table;
        const int k = steps - last[row];
        if (k > 0) {
            float p = params[i], b = bufs[i];
            lazy_catch_up(p, b, powers, k);
            params[i] = p;
            bufs[i] = b;
        }
    }
}
