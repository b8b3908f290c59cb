// What the one-kernel epochs (lazy.cu, adam_epoch.cu) share: one block of
// EPOCH_THREADS runs each step of dot or dotbias over the rows its batch
// touches, with no atomics: duplicate ids in a batch are found, each row is
// handled once by its owner slot (the first position with that id), and a
// row's gradient is summed over its duplicates in batch order, which is the
// CPU's scatter-add order.
//
// Parameters are laid out as ModelSpec::tensors says:
//   u (Nu,F) | m (Ni,F) | [ub (Nu) | mb (Ni) when with_bias]
// A row is a user's or an item's F factors, plus its bias: W = F (+1) columns.
// Rows are numbered users first, then items (Nu + Ni): the index of the
// per-row arrays (last, claim, touch).
#pragma once
#include "common.cuh"

// Threads of a one-kernel epoch's block (src/backend/cuda/device.rs's EPOCH_BLOCK).
#define EPOCH_THREADS 1024

// The offset in params (and in every per-parameter buffer) of column c of
// row r on side 0 (users) or 1 (items); column F is the bias.
__device__ __forceinline__ long long row_offset(int side, long long r, int c, int n_users, int n_items, int f) {
    if (c < f) return (side ? (long long)n_users * f : 0) + r * f + c;
    return (long long)(n_users + n_items) * f + (side ? n_users : 0) + r;
}

// The per-row index (users, then items) of parameter i, in 32-bit
// arithmetic (a 64-bit division costs several times more): the host keeps
// the parameter count below 2^31.
__device__ __forceinline__ unsigned int row_of(long long i, int n_users, int n_items, int f) {
    const unsigned int table = (unsigned int)(n_users + n_items) * (unsigned int)f;
    const unsigned int j = (unsigned int)i;
    return j < table ? j / (unsigned int)f : j - table;
}

// A step's working set in shared memory, for a batch of bs and rows of W
// columns. The host sizes it with the same formula (epoch_shared_bytes):
// 2·bs·W + 4·bs floats and 10·bs ints.
//   rows   float [2][bs][W]  each owner slot's row, as the forward pass reads it
//   dx     float [bs]        dL/dx per batch row
//   sq     float [bs]        squared error per batch row
//   rating float [2][bs]     this step's and the next step's, double-buffered
//   id     int   [2][2][bs]  users | items, double-buffered
//   first  int   [2][bs]     the first batch position with the same id: the owner slot
//   next   int   [2][bs]     the next position with the same id, or -1
//   age    int   [2][bs]     (lazy.cu) steps since the row was last brought up to date
struct StepRows {
    float* rows;
    float* dx;
    float* sq;
    float* rating;
    int* id;
    int* first;
    int* next;
    int* age;
};

__device__ __forceinline__ StepRows step_rows(float* smem, int bs, int w) {
    StepRows s;
    s.rows = smem;
    s.dx = s.rows + 2 * bs * w;
    s.sq = s.dx + bs;
    s.rating = s.sq + bs;
    s.id = (int*)(s.rating + 2 * bs);
    s.first = s.id + 4 * bs;
    s.next = s.first + 2 * bs;
    s.age = s.next + 2 * bs;
    return s;
}

// One position of a step's batch, read ahead of its step: thread j < 2·bs
// reads side j / bs (users, items), position j % bs.
struct Prefetch {
    int id;
    float rating;
};

// Thread j's position of step `step` (id 0 past the epoch's rows).
__device__ __forceinline__ Prefetch prefetch_step(const unsigned int* users, const unsigned int* items,
                                                  const float* ratings, int n, int bs, int step, int j) {
    Prefetch p = {0, 0.0f};
    const int side = j / bs;
    const long long row = (long long)step * bs + j % bs;
    if (row < n) {
        p.id = (int)(side ? items[row] : users[row]);
        if (side == 0) p.rating = ratings[row];
    }
    return p;
}

// Thread j's prefetched position into step `step`'s buffer (step & 1).
__device__ __forceinline__ void store_step(StepRows& sr, Prefetch p, int bs, int step, int j) {
    const int buf = step & 1;
    sr.id[buf * 2 * bs + j] = p.id;
    if (j < bs) sr.rating[buf * bs + j] = p.rating;
}

// Thread tid < 2·bs, position pos of side `side` in a batch of `batch`:
// its owner slot and next duplicate, from the step's ids `sid`.
__device__ __forceinline__ void find_duplicates(StepRows& sr, const int* sid, int side, int pos, int bs, int batch) {
    const int me = sid[side * bs + pos];
    int fst = pos, nxt = -1;
    for (int q = pos - 1; q >= 0; q--)
        if (sid[side * bs + q] == me) fst = q;
    for (int q = batch - 1; q > pos; q--)
        if (sid[side * bs + q] == me) nxt = q;
    sr.first[side * bs + pos] = fst;
    sr.next[side * bs + pos] = nxt;
}

// Forward pass and loss gradient over the owner slots' rows, one warp per
// batch row, as mf_step_fused computes them: dx[j] = dL/dx, sq[j] = diff².
__device__ __forceinline__ void forward_rows(StepRows& sr, const float* rating, int bs, int batch, int w, int f,
                                             int with_bias, float lo, float hi) {
    const int lane = threadIdx.x % 32, warps = blockDim.x / 32;
    for (int j = threadIdx.x / 32; j < batch; j += warps) {
        const float* U = sr.rows + sr.first[j] * w;
        const float* M = sr.rows + bs * w + sr.first[bs + j] * w;
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
        const float diff = pred - rating[j];
        const float dpred = 2.0f * diff / (float)batch;
        if (lane == 0) {
            sr.dx[j] = with_bias ? dpred * (hi - lo) * sg * (1.0f - sg) : dpred;
            sr.sq[j] = diff * diff;
        }
    }
}

// The loss gradient of column c of owner slot o's row on `side`: dx times
// the other side's row, summed over the row's duplicates in batch order
// (column F, the bias: dx alone).
__device__ __forceinline__ float grad_over_duplicates(const StepRows& sr, int side, int o, int c, int bs, int w,
                                                      int f) {
    const int other = 1 - side;
    float g = 0.0f;
    for (int j = o; j >= 0; j = sr.next[side * bs + j]) {
        if (c < f)
            g += sr.dx[j] * sr.rows[(other * bs + sr.first[other * bs + j]) * w + c];
        else
            g += sr.dx[j];
    }
    return g;
}

// The batch's mean loss, Σ diff² / batch, into *loss: warp 0 only.
__device__ __forceinline__ void batch_loss(const StepRows& sr, float* loss, int batch) {
    if (threadIdx.x >= 32) return;
    float sum = 0.0f;
    for (int j = threadIdx.x; j < batch; j += 32) sum += sr.sq[j];
    sum = warp_sum(sum);
    if (threadIdx.x == 0) *loss = sum / (float)batch;
}
