// Planted bugs, one a kernel, each beside its correct twin; the sanitizers
// must report each bug and pass each twin (emu/tests/ptx_planted.rs).
#include "grid_sync.cuh"

// (1) A block reduction with its __syncthreads removed from the loop -> racecheck.
extern "C" __global__ void reduce_nosync(float* out, const float* in) {
    __shared__ float s[256];
    s[threadIdx.x] = in[blockIdx.x * blockDim.x + threadIdx.x];
    __syncthreads();
    for (unsigned int k = blockDim.x / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) s[threadIdx.x] += s[threadIdx.x + k];
    }
    if (threadIdx.x == 0) out[blockIdx.x] = s[0];
}
extern "C" __global__ void reduce_ok(float* out, const float* in) {
    __shared__ float s[256];
    s[threadIdx.x] = in[blockIdx.x * blockDim.x + threadIdx.x];
    __syncthreads();
    for (unsigned int k = blockDim.x / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) s[threadIdx.x] += s[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[blockIdx.x] = s[0];
}

// (2) A store one past the allocation (<= instead of <) -> memcheck.
extern "C" __global__ void store_past_end(float* out, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= n) out[i] = 1.0f;
}
extern "C" __global__ void store_ok(float* out, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = 1.0f;
}

// (3) Reads `in`; the test leaves it unwritten (bug) or writes it (twin) -> initcheck.
extern "C" __global__ void copy(float* out, const float* in, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = in[i];
}

// (4) Two threads write one shared word with no barrier between -> racecheck.
extern "C" __global__ void shared_race(int* out) {
    __shared__ int flag;
    if (threadIdx.x < 2) flag = threadIdx.x;
    __syncthreads();
    out[threadIdx.x] = flag;
}
extern "C" __global__ void shared_ok(int* out) {
    __shared__ int flag;
    if (threadIdx.x == 0) flag = 7;
    __syncthreads();
    out[threadIdx.x] = flag;
}

// (5) A grid barrier the last block never reaches (cooperative launch) -> deadlock.
extern "C" __global__ void barrier_skipped(unsigned int* bar, int* out) {
    if (blockIdx.x != gridDim.x - 1) grid_sync(bar);
    if (threadIdx.x == 0) out[blockIdx.x] = 1;
}
extern "C" __global__ void barrier_ok(unsigned int* bar, int* out) {
    grid_sync(bar);
    if (threadIdx.x == 0) out[blockIdx.x] = 1;
}

// (6) Threads past n return before a __syncthreads the others reach -> synccheck.
extern "C" __global__ void partial_sync(float* out, const float* in, int n) {
    __shared__ float s[256];
    const int i = threadIdx.x;
    if (i >= n) return;
    s[i] = in[i];
    __syncthreads();
    out[i] = s[(i + 1) % n];
}
extern "C" __global__ void partial_sync_ok(float* out, const float* in, int n) {
    __shared__ float s[256];
    const int i = threadIdx.x;
    if (i < n) s[i] = in[i];
    __syncthreads();
    if (i < n) out[i] = s[(i + 1) % n];
}

// (7) A shuffle whose mask names lanes that have exited -> synccheck.
extern "C" __global__ void shfl_exited(float* out, const float* in) {
    if (threadIdx.x % 32 >= 16) return;
    float v = in[threadIdx.x];
    v += __shfl_xor_sync(0xffffffffu, v, 1);
    out[threadIdx.x] = v;
}
