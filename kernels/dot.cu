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

// ---------------------------------------------------------------------------
// dot_forward, version by version (`mfcuda bench --versions dot` checks and
// times each against ops::dot_forward). dot_forward above is version 1: a
// thread per row. Its 32 lanes read 32 rows F floats apart, so each load
// instruction touches 32 cache lines and uses 4 bytes of each.

// Version 2: a warp per row. Lane l reads factors l, l+32, ...: one load
// instruction reads 128 contiguous bytes (coalesced). The 32 partial sums
// meet in warp_sum's xor-shuffle butterfly (common.cuh).
//
// out (B), a (B,F), b (B,F)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) dot_forward_warp(float* out, const float* a, const float* b, int batch, int f) {
    const int lane = threadIdx.x % 32;
    WARP_STRIDE(long long, row, batch) {
        float acc = 0.0f;
        for (int k = lane; k < f; k += 32) acc += a[row * f + k] * b[row * f + k];
        acc = warp_sum(acc);
        if (lane == 0) out[row] = acc;
    }
}

// Version 3: a warp per row, four factors a load (float4, 16 bytes): a
// quarter of the load instructions. F % 4 == 0, so every row starts 16-byte
// aligned. At F = 64 only 16 of the 32 lanes have work.
//
// out (B), a (B,F), b (B,F)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) dot_forward_warp4(float* out, const float* a, const float* b, int batch, int f) {
    const int lane = threadIdx.x % 32;
    WARP_STRIDE(long long, row, batch) {
        const float4* a4 = reinterpret_cast<const float4*>(a + row * f);
        const float4* b4 = reinterpret_cast<const float4*>(b + row * f);
        float acc = 0.0f;
        for (int k = lane; k < f / 4; k += 32) {
            const float4 x = a4[k], y = b4[k];
            acc += x.x * y.x + x.y * y.y + x.z * y.z + x.w * y.w;
        }
        acc = warp_sum(acc);
        if (lane == 0) out[row] = acc;
    }
}

// Version 4: half a warp per row, float4 loads: at F = 64 the 16 lanes of
// each half read their row in one 256-byte pass, and no lane idles. The
// butterfly stops at distance 8, so it never mixes the two halves.
//
// out (B), a (B,F), b (B,F)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) dot_forward_halfwarp4(float* out, const float* a, const float* b, int batch, int f) {
    const int half = (threadIdx.x / 16) % 2, lane = threadIdx.x % 16;
    // Warp w takes rows 2w and 2w + 1. Both halves run the shuffles even when
    // the second row is past the end, because __shfl_xor_sync names all 32 lanes.
    WARP_STRIDE(long long, w, (batch + 1) / 2) {
        const long long row = 2 * w + half;
        float acc = 0.0f;
        if (row < batch) {
            const float4* a4 = reinterpret_cast<const float4*>(a + row * f);
            const float4* b4 = reinterpret_cast<const float4*>(b + row * f);
            for (int k = lane; k < f / 4; k += 16) {
                const float4 x = a4[k], y = b4[k];
                acc += x.x * y.x + x.y * y.y + x.z * y.z + x.w * y.w;
            }
        }
        for (int off = 8; off > 0; off /= 2) acc += __shfl_xor_sync(0xffffffffu, acc, off);
        if (lane == 0 && row < batch) out[row] = acc;
    }
}
