// The EmbeddingNet's layers. CPU twins: src/ops.rs, same names and arguments.
// Every sum runs in the CPU twin's order, one thread per output, so these
// kernels match the CPU to the bit (no atomics except in the scatter).
#include "common.cuh"
#include "philox.cuh"

// out[b, :F] = utable[uidx[b], :];  out[b, F:] = itable[iidx[b], :]. One
// thread per output element (b, c).
//
// out (B,2F), utable (Nu,F), uidx (B), itable (Ni,F), iidx (B)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) concat_gather(float* out, const float* utable, const unsigned int* uidx,
                                         const float* itable, const unsigned int* iidx, int batch, int f) {
    GRID_STRIDE(j, (long long)batch * 2 * f) {
        long long row = j / (2 * f), c = j % (2 * f);
        out[j] = c < f ? utable[(long long)uidx[row] * f + c] : itable[(long long)iidx[row] * f + (c - f)];
    }
}

// ugrad[uidx[b], :] += dx[b, :F];  igrad[iidx[b], :] += dx[b, F:]   (atomics).
// One thread per element (b, c) of dx.
//
// ugrad (Nu,F), igrad (Ni,F), dx (B,2F), uidx (B), iidx (B)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) concat_scatter_add(float* ugrad, float* igrad, const float* dx,
                                              const unsigned int* uidx, const unsigned int* iidx, int batch,
                                              int f) {
    GRID_STRIDE(j, (long long)batch * 2 * f) {
        long long row = j / (2 * f), c = j % (2 * f);
        if (c < f)
            atomicAdd(&ugrad[(long long)uidx[row] * f + c], dx[j]);
        else
            atomicAdd(&igrad[(long long)iidx[row] * f + (c - f)], dx[j]);
    }
}

// out[b, o] = bias[o] + sum_i x[b, i] * w[o, i]. One thread per (b, o).
//
// out (B,O), x (B,I), w (O,I), bias (O)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) linear_forward(float* out, const float* x, const float* w, const float* bias,
                                          int batch, int in_dim, int out_dim) {
    GRID_STRIDE(j, (long long)batch * out_dim) {
        long long b = j / out_dim, o = j % out_dim;
        float acc = 0.0f;
        for (int i = 0; i < in_dim; i++) acc += x[b * in_dim + i] * w[o * in_dim + i];
        out[j] = acc + bias[o];
    }
}

// dx[b, i] = sum_o dout[b, o] * w[o, i]. One thread per (b, i).
//
// dx (B,I), dout (B,O), w (O,I)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) linear_backward_input(float* dx, const float* dout, const float* w, int batch,
                                                 int in_dim, int out_dim) {
    GRID_STRIDE(j, (long long)batch * in_dim) {
        long long b = j / in_dim, i = j % in_dim;
        float acc = 0.0f;
        for (int o = 0; o < out_dim; o++) acc += dout[b * out_dim + o] * w[o * in_dim + i];
        dx[j] = acc;
    }
}

// dw[o, i] += sum_b dout[b, o] * x[b, i]. One thread per (o, i).
//
// dw (O,I), dout (B,O), x (B,I)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) linear_backward_weight(float* dw, const float* dout, const float* x, int batch,
                                                  int in_dim, int out_dim) {
    GRID_STRIDE(j, (long long)out_dim * in_dim) {
        long long o = j / in_dim, i = j % in_dim;
        float acc = 0.0f;
        for (int b = 0; b < batch; b++) acc += dout[(long long)b * out_dim + o] * x[(long long)b * in_dim + i];
        dw[j] += acc;
    }
}

// dbias[o] += sum_b dout[b, o]. One thread per o.
//
// dbias (O), dout (B,O)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) linear_backward_bias(float* dbias, const float* dout, int batch, int out_dim) {
    GRID_STRIDE(o, out_dim) {
        float acc = 0.0f;
        for (int b = 0; b < batch; b++) acc += dout[(long long)b * out_dim + o];
        dbias[o] += acc;
    }
}

// x = max(x, 0), in place. One thread per element.
//
// x (n)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) relu_forward(float* x, int n) {
    GRID_STRIDE(j, n) { x[j] = fmaxf(x[j], 0.0f); }
}

// dx[j] = out[j] > 0 ? dout[j] : 0. One thread per element.
//
// dx (n), dout (n), out (n)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) relu_backward(float* dx, const float* dout, const float* out, int n) {
    GRID_STRIDE(j, n) { dx[j] = out[j] > 0.0f ? dout[j] : 0.0f; }
}

// Inverted dropout in place: x[j] = keep(j) ? x[j] * (1 / (1 - p)) : 0, the mask
// drawn from Philox by (seed, step, layer, j). Backward is the same map.
// One thread per element.
//
// x (n)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) dropout_forward(float* x, float p, unsigned long long seed, unsigned long long step,
                                           unsigned int layer, int n) {
    float scale = 1.0f / (1.0f - p);
    GRID_STRIDE(j, n) { x[j] = dropout_keep(seed, step, layer, (unsigned int)j, p) ? x[j] * scale : 0.0f; }
}

// The gradient of dropout_forward: the same mask, drawn again, and the same
// scale. One thread per element.
//
// dout (n)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) dropout_backward(float* dout, float p, unsigned long long seed, unsigned long long step,
                                            unsigned int layer, int n) {
    float scale = 1.0f / (1.0f - p);
    GRID_STRIDE(j, n) { dout[j] = dropout_keep(seed, step, layer, (unsigned int)j, p) ? dout[j] * scale : 0.0f; }
}
