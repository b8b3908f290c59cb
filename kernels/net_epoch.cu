// A whole Adam epoch of the EmbeddingNet in ONE cooperative kernel launch:
// the schedule of adam_epoch.cu (the leader runs each batch, the other
// blocks take the dense Adam step one step behind it, a grid barrier a
// step), with the net's forward and backward on the leader:
//
//   gather + concat + dropout1 → lin1 → ReLU → dropout2 → lin2 → sigmoid range
//
// and back, each sum in the CPU twin's order (src/model/net.rs over
// src/ops.rs), the dropout masks drawn from the same Philox counters, so
// that they are the CPU's bit for bit. The net's dense tensors (lin1, lin2:
// 1,021 parameters at the notebook's size) take a gradient every step, so
// the leader owns them and updates them itself; the other blocks update
// the embedding rows the next batch does not claim.
//
// Parameters, as ModelSpec::tensors says:
//   u (Nu,F) | m (Ni,F) | lin1.weight (H,2F) | lin1.bias (H) | lin2.weight (1,H) | lin2.bias (1)
// gbuf, claim, touch, barrier, sched: as adam_epoch.cu.
#include "adam_epoch.cuh"
#include "philox.cuh"

// Shared memory (the host's net_shared_bytes), floats then step_rows.cuh's
// StepRows at row width 0:
//   cat [bs][2F]  the batch's concatenated rows, after dropout1
//   h   [bs][H]   lin1 after the ReLU
//   hd  [bs][H]   h after dropout2
//   dhp [bs][H]   the gradient before the ReLU
//   wts [H·2F + 2H + 1]  lin1.weight | lin1.bias | lin2.weight | lin2.bias, this step's
//
// lo, hi: the net's output range, already widened by 0.5 each way (as the CPU's).
// seed, first_step: dropout's key and the global index of the epoch's first step.
extern "C" __global__ void __launch_bounds__(EPOCH_THREADS)
    mf_epoch_adam_net(float* params, float* m, float* v, float* gbuf, int* claim, int* touch, unsigned int* barrier,
                      float* losses, const float* __restrict__ sched, const unsigned int* __restrict__ users,
                      const unsigned int* __restrict__ items, const float* __restrict__ ratings, int n, int bs,
                      int n_users, int n_items, int f, int hidden, float lo, float hi, float p1, float p2,
                      unsigned long long seed, unsigned long long first_step, float beta1, float beta2,
                      float one_minus_beta1, float one_minus_beta2, float eps, float wd) {
    extern __shared__ float smem[];
    const int F2 = 2 * f, H = hidden, tid = threadIdx.x;
    const int rows = n_users + n_items;
    const long long table = (long long)rows * f;  // the embedding rows' parameters
    const int dense = H * F2 + 2 * H + 1;         // lin1.weight, lin1.bias, lin2.weight, lin2.bias
    const long long P = table + dense;
    const int steps = (n + bs - 1) / bs;
    float* cat = smem;
    float* h = cat + bs * F2;
    float* hd = h + bs * H;
    float* dhp = hd + bs * H;
    float* wts = dhp + bs * H;
    const float* W1 = wts;
    const float* B1 = W1 + H * F2;
    const float* W2 = B1 + H;
    const float* B2 = W2 + H;
    StepRows sr = step_rows(wts + dense, bs, 0);
    const float scale1 = 1.0f / (1.0f - p1), scale2 = 1.0f / (1.0f - p2);
    const bool leader = blockIdx.x == 0;

    if (leader && tid < 2 * bs) store_step(sr, prefetch_step(users, items, ratings, n, bs, 0, tid), bs, 0, tid);
    __syncthreads();

    for (int s = 0; s <= steps; s++) {
        const AdamScalars a = adam_scalars_at(sched, s, beta1, beta2, one_minus_beta1, one_minus_beta2, eps, wd);
        const float* gprev = gbuf + ((s + 1) & 1) * P;  // step s - 1's gradients
        if (leader && s < steps) {
            const int batch = (int)min((long long)bs, n - (long long)s * bs);
            const int* sid = sr.id + (s & 1) * 2 * bs;
            const unsigned long long step = first_step + (unsigned long long)s;

            // 1. Owner slots and duplicates; the next batch read ahead, and claimed.
            const Prefetch ahead = leader_plan(sr, sid, claim, users, items, ratings, n, bs, batch, s, n_users, rows);
            __syncthreads();

            // 2. Adam step s - 1 on the batch's rows, each into cat (after dropout1) at every
            //    position that names it; and on the dense tensors, into wts.
            for (int e = tid; e < 2 * bs * f; e += blockDim.x) {
                const int side = e / (bs * f), o = (e / f) % bs, c = e % f;
                if (o < batch && sr.first[side * bs + o] == o) {
                    const int r = sid[side * bs + o];
                    const long long off = row_offset(side, r, c, n_users, n_items, f);
                    const float p = adam_owned(params, m, v, gprev, touch, side ? n_users + r : r, off, s, a);
                    for (int j = o; j >= 0; j = sr.next[side * bs + j]) {
                        const int idx = j * F2 + side * f + c;
                        cat[idx] = dropout_keep(seed, step, 1, (unsigned int)idx, p1) ? p * scale1 : 0.0f;
                    }
                }
            }
            for (int d = tid; d < dense; d += blockDim.x) {
                float p = __ldcg(&params[table + d]);
                if (s > 0) {
                    float mi = __ldcg(&m[table + d]), vi = __ldcg(&v[table + d]);
                    adam_scalars_step(p, __ldcg(&gprev[table + d]), mi, vi, a);
                    params[table + d] = p;
                    m[table + d] = mi;
                    v[table + d] = vi;
                }
                wts[d] = p;
            }
            __syncthreads();

            // 3. h = ReLU(cat · lin1.weightᵀ + lin1.bias); hd = dropout2(h). One thread per (row, unit).
            for (int t = tid; t < batch * H; t += blockDim.x) {
                const int j = t / H, k = t % H;
                float acc = 0.0f;
                for (int i = 0; i < F2; i++) acc += cat[j * F2 + i] * W1[k * F2 + i];
                const float x = fmaxf(acc + B1[k], 0.0f);
                h[t] = x;
                hd[t] = dropout_keep(seed, step, 2, (unsigned int)t, p2) ? x * scale2 : 0.0f;
            }
            __syncthreads();

            // 4. Per row: lin2, the sigmoid range, the loss and its gradient dL/dx.
            for (int j = tid; j < batch; j += blockDim.x) {
                float acc = 0.0f;
                for (int k = 0; k < H; k++) acc += hd[j * H + k] * W2[k];
                const float x = acc + B2[0];
                const float sg = sigmoidf(x);
                const float pred = sg * (hi - lo) + lo;
                const float diff = pred - sr.rating[(s & 1) * bs + j];
                const float dpred = 2.0f * diff / (float)batch;
                sr.dx[j] = dpred * (hi - lo) * sg * (1.0f - sg);
                sr.sq[j] = diff * diff;
            }
            __syncthreads();

            // 5. lin2's gradients; the gradient back through dropout2 and the ReLU.
            float* gnow = gbuf + (s & 1) * P;
            for (int t = tid; t < batch * H; t += blockDim.x) {
                const int j = t / H, k = t % H;
                float dh = 0.0f;
                dh += sr.dx[j] * W2[k];
                dh = dropout_keep(seed, step, 2, (unsigned int)t, p2) ? dh * scale2 : 0.0f;
                dhp[t] = h[t] > 0.0f ? dh : 0.0f;
            }
            if (tid <= H) {
                // lin2.weight[k] = Σ_j dx[j]·hd[j, k] (tid < H); lin2.bias = Σ_j dx[j] (tid == H).
                float acc = 0.0f;
                for (int j = 0; j < batch; j++) acc += tid < H ? sr.dx[j] * hd[j * H + tid] : sr.dx[j];
                gnow[table + H * F2 + H + tid] = acc;
            }
            __syncthreads();

            // 6. lin1's gradients, and the rows' through dropout1, summed over duplicates in
            //    batch order (the CPU's scatter order).
            for (int t = tid; t < H * F2 + H; t += blockDim.x) {
                float acc = 0.0f;
                if (t < H * F2) {
                    const int k = t / F2, i = t % F2;
                    for (int j = 0; j < batch; j++) acc += dhp[j * H + k] * cat[j * F2 + i];
                } else {
                    for (int j = 0; j < batch; j++) acc += dhp[j * H + (t - H * F2)];
                }
                gnow[table + t] = acc;
            }
            for (int e = tid; e < 2 * bs * f; e += blockDim.x) {
                const int side = e / (bs * f), o = (e / f) % bs, c = e % f;
                if (o < batch && sr.first[side * bs + o] == o) {
                    const int r = sid[side * bs + o];
                    const int col = side * f + c;
                    float g = 0.0f;
                    for (int j = o; j >= 0; j = sr.next[side * bs + j]) {
                        float acc = 0.0f;
                        for (int k = 0; k < H; k++) acc += dhp[j * H + k] * W1[k * F2 + col];
                        const int idx = j * F2 + col;
                        g += dropout_keep(seed, step, 1, (unsigned int)idx, p1) ? acc * scale1 : 0.0f;
                    }
                    gnow[row_offset(side, r, c, n_users, n_items, f)] = g;
                    if (c == 0) touch[side ? n_users + r : r] = s + 1;
                }
            }
            batch_loss(sr, &losses[s], batch);
            if (tid < 2 * bs) store_step(sr, ahead, bs, s + 1, tid);
        } else if (leader && s > 0) {
            // After the last batch: the dense tensors' last step (the other blocks take the rows').
            for (int d = tid; d < dense; d += blockDim.x) {
                float p = __ldcg(&params[table + d]), mi = __ldcg(&m[table + d]), vi = __ldcg(&v[table + d]);
                adam_scalars_step(p, __ldcg(&gprev[table + d]), mi, vi, a);
                params[table + d] = p;
                m[table + d] = mi;
                v[table + d] = vi;
            }
        } else if (!leader && s > 0) {
            adam_unclaimed(params, m, v, gprev, claim + (s & 1) * rows, touch, s, table, n_users, n_items, f, a);
        }
        if (s < steps) grid_barrier(barrier, barrier + 1);
    }
}
