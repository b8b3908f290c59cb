// Small kernels the interpreter's tests run (emu/tests/ptx_exec.rs).
#include "grid_sync.cuh"

// Integer forms with known answers: 12 results per element.
extern "C" __global__ void int_ops(int* out, const int* a, const int* b, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const int x = a[i], y = b[i];
    const unsigned int ux = (unsigned int)x, uy = (unsigned int)y;
    int* o = out + 12 * i;
    o[0] = x + y;
    o[1] = x * y;
    o[2] = x / y;
    o[3] = x % y;
    o[4] = x >> 3;
    o[5] = (int)(ux >> 3);
    o[6] = (int)__umulhi(ux, uy);
    o[7] = min(x, y);
    o[8] = (int)max(ux, uy);
    o[9] = (int)(ux / uy);
    o[10] = x ^ (y << 5);
    o[11] = (int)(((long long)x * (long long)y) >> 32);
}

// The sum of each warp's 32 values, by xor-shuffles.
extern "C" __global__ void warp_reduce(float* out, const float* in) {
    float v = in[blockIdx.x * blockDim.x + threadIdx.x];
    for (int off = 16; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
    if (threadIdx.x % 32 == 0) out[(blockIdx.x * blockDim.x + threadIdx.x) / 32] = v;
}

// One sum a block, a shared-memory tree (blockDim.x a power of two, at most 256).
extern "C" __global__ void block_reduce(float* out, const float* in, int n) {
    __shared__ float s[256];
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    s[threadIdx.x] = i < n ? in[i] : 0.0f;
    __syncthreads();
    for (unsigned int k = blockDim.x / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) s[threadIdx.x] += s[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[blockIdx.x] = s[0];
}

// Atomics: a float total, an integer count, a max by CAS-free atomicMax.
extern "C" __global__ void atomic_sum(float* total, unsigned int* count, int* maxv, const float* in, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    atomicAdd(total, in[i]);
    atomicAdd(count, 1u);
    atomicMax(maxv, i);
}

// Each block takes a ticket: the order blocks ran in.
extern "C" __global__ void ticket(unsigned int* counter, unsigned int* tickets) {
    if (threadIdx.x == 0) tickets[blockIdx.x] = atomicAdd(counter, 1u);
}

// Phase 1 writes one value a block; after the grid barrier each block reads its neighbour's.
extern "C" __global__ void grid_exchange(unsigned int* bar, int* data, int* out, int rounds) {
    for (int r = 0; r < rounds; r++) {
        if (threadIdx.x == 0) data[blockIdx.x] = (int)blockIdx.x * 10 + r;
        grid_sync(bar);
        if (threadIdx.x == 0) out[r * gridDim.x + blockIdx.x] = data[(blockIdx.x + 1) % gridDim.x];
        grid_sync(bar);
    }
}

// Loads and stores of several widths, vector loads, local memory.
extern "C" __global__ void widths(unsigned char* b, short* h, double* d, float4* v, float* out) {
    const int i = threadIdx.x;
    float loc[8];
    for (int k = 0; k < 8; k++) loc[k] = (float)(i * k);
    const float4 q = v[i];
    out[5 * i] = (float)b[i] + (float)h[i];
    out[5 * i + 1] = (float)(d[i] * 2.0);
    out[5 * i + 2] = q.x + q.y + q.z + q.w;
    out[5 * i + 3] = loc[i % 8];
    out[5 * i + 4] = (float)(signed char)b[i];
}

// Arithmetic for the speed measurement: a long dependent loop per thread.
extern "C" __global__ void spin_math(float* out, int iters) {
    float x = threadIdx.x * 1e-3f, y = 1.0f;
    int k = threadIdx.x;
    for (int it = 0; it < iters; it++) {
        x = x * 0.999f + 0.001f;
        y = y + x * x;
        k = (k * 1103515245 + 12345) & 0x7fffffff;
    }
    out[blockIdx.x * blockDim.x + threadIdx.x] = x + y + (float)(k & 1);
}
