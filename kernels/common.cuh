// Helpers shared by the kernels. Every kernel is launched as a 1-D grid and
// walks its work with a grid-stride loop (one thread per element) or a
// warp-stride loop (one warp per row), so any grid size is correct.
#pragma once

// Threads per block of every launch (src/backend/cuda/device.rs's BLOCK): each
// kernel declares it with __launch_bounds__, so the compiler never plans for
// more. The sparse checks also launch one warp, which the bound allows.
#define BLOCK_THREADS 256

// Sizes: every count and size a kernel takes (n, batch, F, steps, ...) is an
// int, and the host's wrappers pass i32s made by device::int, which refuses a
// size past 2^31 - 1 with a message. Products that can pass 2^31 (a row times
// a width, an offset into a table) are formed in long long inside the kernel.
// The only 64-bit arguments are values, not sizes: dropout's seed and step.

// for (i = this thread's first element; i < n; i += all threads in the grid)
#define GRID_STRIDE(i, n)                                                        \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)gridDim.x * blockDim.x)

// for (w = this thread's warp; w < n; w += all warps in the grid), with w of
// type T (long long, or int where n is an int). The index arithmetic is done
// in T's width when T is 64-bit, and in unsigned int (blockIdx/blockDim's
// type) when T is int. blockDim.x must be a multiple of 32, so that all 32
// lanes of a warp take the same w. The warp count, w##_warps, is computed
// once, before the first index.
#define WARP_STRIDE(T, w, n)                                                    \
    for (T w##_warps = ((T)gridDim.x * blockDim.x) / 32,                         \
           w = ((T)blockIdx.x * blockDim.x + threadIdx.x) / 32;                  \
         w < (n); w += w##_warps)

// The sum of v over the warp, in every lane: a butterfly of xor-shuffles at
// distances 16, 8, 4, 2, 1. All 32 lanes must call it.
__device__ __forceinline__ float warp_sum(float v) {
    for (int off = 16; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
    return v;
}

// The logistic function, as ops::sigmoid computes it.
__device__ __forceinline__ float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

// Sum of v over the block, returned to every thread. blockDim.x must
// be a power of two, at most 1024. `shared` holds blockDim.x values.
template <typename T>
__device__ T block_sum(T v, T* shared) {
    shared[threadIdx.x] = v;
    __syncthreads();
    for (unsigned int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) shared[threadIdx.x] += shared[threadIdx.x + s];
        __syncthreads();
    }
    T total = shared[0];
    __syncthreads();  // so that a second call cannot overwrite shared[0] early
    return total;
}
