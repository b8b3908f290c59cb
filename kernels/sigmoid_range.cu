// Squashing a score into the rating range. CPU twins: src/ops.rs.
#include "common.cuh"

// out[b] = sigmoid(x[b]) * (hi - lo) + lo. One thread per row b.
//
// out (B), x (B)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) sigmoid_range_forward(float* out, const float* x, float lo, float hi, int batch) {
    GRID_STRIDE(row, batch) { out[row] = sigmoidf(x[row]) * (hi - lo) + lo; }
}

// dx[b] = dout[b] * (hi - lo) * s * (1 - s), with s = sigmoid(x[b]). One
// thread per row b.
//
// dx (B), dout (B), x (B)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) sigmoid_range_backward(float* dx, const float* dout, const float* x, float lo,
                                                  float hi, int batch) {
    GRID_STRIDE(row, batch) {
        float s = sigmoidf(x[row]);
        dx[row] = dout[row] * (hi - lo) * s * (1.0f - s);
    }
}
