// Helpers shared by the kernels. Every kernel is launched as a 1-D grid and
// walks its elements with a grid-stride loop, so any grid size is correct.
#pragma once

// for (i = this thread's first element; i < n; i += all threads in the grid)
#define GRID_STRIDE(i, n)                                                        \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)gridDim.x * blockDim.x)

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
