// The batched dot product and the biases. CPU twins: src/ops.rs.
#include "common.cuh"

// out[b] = sum_k a[b,k] * b[b,k]. One thread per row, summing k = 0..F in
// order, exactly as the CPU twin does (no fused multiply-add: -fmad=false).
//
// out (B), a (B,F), b (B,F)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) dot_forward(float* out, const float* a, const float* b, int batch, int f) {
    GRID_STRIDE(row, batch) {
        float acc = 0.0f;
        for (int k = 0; k < f; k++) acc += a[row * f + k] * b[row * f + k];
        out[row] = acc;
    }
}

// da[b,k] = dout[b] * b[b,k];  db[b,k] = dout[b] * a[b,k]. One thread per
// element (b,k) of da and db.
//
// da (B,F), db (B,F), dout (B), a (B,F), b (B,F)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) dot_backward(float* da, float* db, const float* dout, const float* a,
                                        const float* b, int batch, int f) {
    GRID_STRIDE(j, (long long)batch * f) {
        float g = dout[j / f];
        da[j] = g * b[j];
        db[j] = g * a[j];
    }
}

// x[b] += bias[idx[b]]. One thread per row b.
//
// x (B), bias (N), idx (B)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) bias_add(float* x, const float* bias, const unsigned int* idx, int batch) {
    GRID_STRIDE(row, batch) { x[row] += bias[idx[row]]; }
}
