// A whole Adam epoch of dot or dotbias in ONE cooperative kernel launch.
//
// Adam with L2 weight decay moves every parameter at every step (an untouched
// row still has the gradient wd·p), and that has no closed form, so the dense
// update stays. What goes is everything around it: the launches, and the wait
// between a step's update and the next step's forward pass. One block, the
// leader, runs the batch; every other block runs the dense update; and they
// overlap by one step:
//
//   iteration s:  leader:  Adam step s-1 on batch s's rows (it owns them now),
//                          then batch s's forward and backward: gradient g_s
//                 others:  Adam step s-1 on every row batch s does not claim
//                 grid barrier
//   iteration steps: the others take the last step, on every row.
//
// Every parameter gets every Adam step in order, with the same arithmetic as
// adam_update (optim.cuh's adam_value), so this is the dense epoch, rescheduled.
// The CPU twin is the dense CPU epoch (CpuBackend::train_epoch under Adam);
// the loss gradients match it to rounding (warp sums), as mf_step_fused's do.
//
// Per-row stamps (Nu + Ni, zeroed before each epoch), each "step + 1" so that
// zero never matches:
//   claim[2][rows]  claim[s & 1][r] == s + 1: row r is in batch s; the leader
//                   writes it one iteration ahead, double-buffered so that
//                   the next claims never race the reads of these
//   touch[rows]     touch[r] == s + 1: row r is in batch s, and its loss
//                   gradient for step s is in gbuf[s & 1]
// gbuf (2·P) holds each step's loss gradient for the batch's rows only; the
// stamps say which entries are current, so it is never cleared.
// sched (2·steps): step_size and sqrt(1 - beta2^t) per step, as fused.cu's.
// barrier (2 uints): the grid barrier's arrival count and generation.
#include "adam_epoch.cuh"

// losses (steps); users, items, ratings (n: the epoch's rows in order);
// params, m, v (P); gbuf (2·P); claim (2·rows); touch (rows)
extern "C" __global__ void __launch_bounds__(EPOCH_THREADS)
    mf_epoch_adam(float* params, float* m, float* v, float* gbuf, int* claim, int* touch, unsigned int* barrier,
                  float* losses, const float* __restrict__ sched, const unsigned int* __restrict__ users,
                  const unsigned int* __restrict__ items, const float* __restrict__ ratings, int n, int bs,
                  int n_users, int n_items, int f, int with_bias, float lo, float hi, float beta1, float beta2,
                  float one_minus_beta1, float one_minus_beta2, float eps, float wd) {
    extern __shared__ float smem[];
    const int W = f + with_bias;
    const int slots = 2 * bs * W;
    const int tid = threadIdx.x;
    const int rows = n_users + n_items;
    const long long P = (long long)rows * W;
    const int steps = (n + bs - 1) / bs;
    StepRows sr = step_rows(smem, bs, W);
    const bool leader = blockIdx.x == 0;

    if (leader && tid < 2 * bs) store_step(sr, prefetch_step(users, items, ratings, n, bs, 0, tid), bs, 0, tid);
    __syncthreads();

    for (int s = 0; s <= steps; s++) {
        // Adam's scalars for step s - 1.
        const AdamScalars a = adam_scalars_at(sched, s, beta1, beta2, one_minus_beta1, one_minus_beta2, eps, wd);
        const float* gprev = gbuf + ((s + 1) & 1) * P;  // step s - 1's gradients
        if (leader && s < steps) {
            const int batch = (int)min((long long)bs, n - (long long)s * bs);
            const int* sid = sr.id + (s & 1) * 2 * bs;

            // 1. Owner slots and duplicates; the next batch read ahead, and claimed.
            const Prefetch ahead = leader_plan(sr, sid, claim, users, items, ratings, n, bs, batch, s, n_users, rows);
            __syncthreads();

            // 2. Adam step s - 1 on the batch's rows, which no other block touches now.
            for (int e = tid; e < slots; e += blockDim.x) {
                const int side = e / (bs * W), o = (e / W) % bs, c = e % W;
                if (o < batch && sr.first[side * bs + o] == o) {
                    const int r = sid[side * bs + o];
                    const long long off = row_offset(side, r, c, n_users, n_items, f);
                    sr.rows[e] = adam_owned(params, m, v, gprev, touch, side ? n_users + r : r, off, s, a);
                }
            }
            __syncthreads();

            // 3. Forward and loss gradient.
            forward_rows(sr, sr.rating + (s & 1) * bs, bs, batch, W, f, with_bias, lo, hi);
            __syncthreads();

            // 4. The batch's gradients, summed over duplicates in batch order, into gbuf[s & 1].
            float* gnow = gbuf + (s & 1) * P;
            for (int e = tid; e < slots; e += blockDim.x) {
                const int side = e / (bs * W), o = (e / W) % bs, c = e % W;
                if (o < batch && sr.first[side * bs + o] == o) {
                    const int r = sid[side * bs + o];
                    gnow[row_offset(side, r, c, n_users, n_items, f)] = grad_over_duplicates(sr, side, o, c, bs, W, f);
                    if (c == 0) touch[side ? n_users + r : r] = s + 1;
                }
            }
            batch_loss(sr, &losses[s], batch);
            if (tid < 2 * bs) store_step(sr, ahead, bs, s + 1, tid);
        } else if (!leader && s > 0) {
            // Adam step s - 1 on every row batch s does not claim (all of them after the last batch).
            adam_unclaimed(params, m, v, gprev, claim + (s & 1) * rows, touch, s, P, n_users, n_items, f, a);
        }
        if (s < steps) grid_barrier(barrier, barrier + 1);
    }
}
