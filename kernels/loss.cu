// The loss and its gradient, and the validation reduction. CPU twins: src/ops.rs.
#include "common.cuh"

// dpred[b] = 2 * (pred[b] - target[b]) / B, and loss[0] = mean of the
// squared differences. Launch with ONE block of a power-of-two size (256):
// thread t handles rows t, t + blockDim.x, ..., and the block reduces the
// loss, which is written to device memory so that an epoch's losses are
// read back once, not once per step.
//
// dpred (B), loss (1), pred (B), target (B)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) mse_loss_grad(float* dpred, float* loss, const float* pred, const float* target,
                                         int batch) {
    __shared__ float partial[1024];
    float n = (float)batch;
    float sum = 0.0f;
    for (int i = threadIdx.x; i < batch; i += blockDim.x) {
        float diff = pred[i] - target[i];
        sum += diff * diff;
        dpred[i] = 2.0f * diff / n;
    }
    sum = block_sum(sum, partial);
    if (threadIdx.x == 0) loss[0] = sum / n;
}

// out[0] += sum_b (pred[b] - target[b])^2, accumulated in double. Any grid;
// blocks of a power-of-two size (256). One thread per element (grid-stride);
// each block reduces its threads' sums and adds them to out with one atomic.
// `out` must be zeroed first.
//
// out (1), pred (B), target (B)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) mse_sum(double* out, const float* pred, const float* target, int n) {
    __shared__ double partial[1024];
    double sum = 0.0;
    GRID_STRIDE(i, n) {
        double d = (double)pred[i] - (double)target[i];
        sum += d * d;
    }
    sum = block_sum(sum, partial);
    if (threadIdx.x == 0) atomicAdd(out, sum);
}
