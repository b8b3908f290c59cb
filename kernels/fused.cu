// The fast path for dot and dotbias: a whole training step in two kernels,
// so that an epoch (1,261 steps at batch 64) can be captured in one CUDA
// graph and replayed with no host work per step.
//
//   mf_step_fused     gather → dot → biases → sigmoid range → MSE gradient →
//                     backward → scatter-add, one warp per batch row
//
// The optimizer's update that follows each step, its scalars read from a
// device schedule, is in optim.cu (sgd_update_sched, adam_update_sched) and
// in each optimizer's own kernel file.
//
// CPU twin of mf_step_fused: the dot / dotbias model's forward and backward
// (src/model/, dot and dotbias: the unfused ops in sequence) followed by
// ops::mse_loss_grad. Its sums run in another order (a warp's tree for the
// dot product, atomics for the loss), so it matches to rounding, not to the
// bit.
#include "common.cuh"

// Step `step` of an epoch whose rows, already in the epoch's order, are
// users/items/ratings (n). The step's batch is rows [step*bs, min(n, (step+1)*bs)).
// Adds the batch's gradient into grads and its mean loss into losses[step]
// (zeroed before the epoch). One warp per batch row: the lanes split the F
// factors (k = lane, lane + 32, ...), warp_sum gives every lane the dot
// product, and lane 0 adds the loss and the bias gradients.
//
// grads, params (P) laid out u (Nu,F) | m (Ni,F) | [ub (Nu) | mb (Ni) when with_bias]
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) mf_step_fused(float* grads, float* losses, const float* params,
                                         const unsigned int* users, const unsigned int* items,
                                         const float* ratings, int n, int bs, int step, int n_users,
                                         int n_items, int f, int with_bias, float lo, float hi) {
    const int lane = threadIdx.x % 32;
    const long long start = (long long)step * bs;
    const int batch = (int)min((long long)bs, n - start);
    const float* U = params;
    const float* M = params + (long long)n_users * f;
    const float* UB = M + (long long)n_items * f;
    const float* MB = UB + n_users;
    float* gU = grads;
    float* gM = grads + (long long)n_users * f;
    float* gUB = gM + (long long)n_items * f;
    float* gMB = gUB + n_users;
    WARP_STRIDE(int, row, batch) {
        const long long u = users[start + row], i = items[start + row];
        float acc = 0.0f;
        for (int k = lane; k < f; k += 32) acc += U[u * f + k] * M[i * f + k];
        acc = warp_sum(acc);
        float x = acc, pred = acc, s = 0.0f;
        if (with_bias) {
            x += UB[u];
            x += MB[i];
            s = sigmoidf(x);
            pred = s * (hi - lo) + lo;
        }
        float diff = pred - ratings[start + row];
        float dpred = 2.0f * diff / (float)batch;
        float dx = with_bias ? dpred * (hi - lo) * s * (1.0f - s) : dpred;
        if (lane == 0) {
            atomicAdd(&losses[step], diff * diff / (float)batch);
            if (with_bias) {
                atomicAdd(&gUB[u], dx);
                atomicAdd(&gMB[i], dx);
            }
        }
        for (int k = lane; k < f; k += 32) {
            atomicAdd(&gU[u * f + k], dx * M[i * f + k]);
            atomicAdd(&gM[i * f + k], dx * U[u * f + k]);
        }
    }
}


// Validation for dot and dotbias in one kernel: out[0] = Σ_r (pred[r] − ratings[r])²,
// summed in double (CPU twin: ModelSpec::mse, which is the model's forward pass
// then ops::mse_sum). One warp per row computes pred as mf_step_fused does; each
// block reduces its rows and writes partial[blockIdx.x]; the last block to finish
// adds the partials in block order, so the sum is the same on every run, and
// resets *done for the next call.
//
// out (1), partial (gridDim.x), done (1, zero before the first call),
// params (P, as mf_step_fused), users, items, ratings (n)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS)
    mf_validate(double* out, double* partial, unsigned int* done, const float* params, const unsigned int* users,
                const unsigned int* items, const float* ratings, int n, int n_users, int n_items, int f,
                int with_bias, float lo, float hi) {
    __shared__ double shared[BLOCK_THREADS];
    __shared__ bool last;
    const int lane = threadIdx.x % 32;
    const float* U = params;
    const float* M = params + (long long)n_users * f;
    const float* UB = M + (long long)n_items * f;
    const float* MB = UB + n_users;
    double sum = 0.0;  // lane 0's rows, in order
    WARP_STRIDE(int, row, n) {
        const long long u = users[row], i = items[row];
        float acc = 0.0f;
        for (int k = lane; k < f; k += 32) acc += U[u * f + k] * M[i * f + k];
        acc = warp_sum(acc);
        float pred = acc;
        if (with_bias) {
            float x = acc;
            x += UB[u];
            x += MB[i];
            pred = sigmoidf(x) * (hi - lo) + lo;
        }
        const double d = (double)pred - (double)ratings[row];
        if (lane == 0) sum += d * d;
    }
    sum = block_sum(sum, shared);
    if (threadIdx.x == 0) {
        partial[blockIdx.x] = sum;
        __threadfence();
        last = atomicAdd(done, 1u) == gridDim.x - 1;
    }
    __syncthreads();
    if (last) {
        __threadfence();  // acquire: the other blocks' partials, which they fenced before counting
        double total = 0.0;
        for (int b = threadIdx.x; b < gridDim.x; b += blockDim.x) total += __ldcg(&partial[b]);
        total = block_sum(total, shared);
        if (threadIdx.x == 0) {
            out[0] = total;
            *done = 0;
        }
    }
}
