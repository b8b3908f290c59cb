// A grid barrier as the production epoch kernels build it: every block's
// thread 0 bumps a counter; the last one resets it and advances the
// generation the others spin on with volatile loads. Needs a cooperative
// launch (every block resident). bar[0]: arrivals, bar[1]: generation.
#pragma once
__device__ __forceinline__ void grid_sync(unsigned int* bar) {
    __syncthreads();
    if (threadIdx.x == 0) {
        const unsigned int gen = *(volatile unsigned int*)&bar[1];
        __threadfence();
        if (atomicAdd(&bar[0], 1u) == gridDim.x - 1) {
            atomicExch(&bar[0], 0u);
            __threadfence();
            atomicAdd(&bar[1], 1u);
        } else {
            while (*(volatile unsigned int*)&bar[1] == gen) {
            }
        }
        __threadfence();
    }
    __syncthreads();
}
