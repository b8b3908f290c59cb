// PyTorch's optim.Adagrad with coupled L2, fused with zeroing the gradient.
// CPU twin: optim::adagrad::adagrad_update (src/optim/adagrad.rs), which also
// works out each step's rate clr = lr / (1 + (t - 1) * lr_decay) on the host.
#include "common.cuh"

// d = grad + wd*p;  sum += d*d;  p -= clr * (d / (sqrt(sum) + eps));  grad = 0
__device__ __forceinline__ void adagrad_element(float* params, float* grads, float* sums, long long i, float clr,
                                                float eps, float wd) {
    float p = params[i];
    float d = grads[i] + wd * p;
    float s = sums[i] + d * d;
    sums[i] = s;
    params[i] = p - clr * (d / (sqrtf(s) + eps));
    grads[i] = 0.0f;
}

// One thread per parameter.
//
// params, grads, sums (P)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS)
    adagrad_update(float* params, float* grads, float* sums, float clr, float eps, float wd, int n) {
    GRID_STRIDE(i, n) { adagrad_element(params, grads, sums, i, clr, eps, wd); }
}

// adagrad_update with clr = sched[2*step], read on the device (the captured epochs).
//
// params, grads, sums (P), sched (2*steps)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS)
    adagrad_update_sched(float* params, float* grads, float* sums, const float* sched, int step, float eps,
                         float wd, int n) {
    const float clr = sched[2 * step];
    GRID_STRIDE(i, n) { adagrad_element(params, grads, sums, i, clr, eps, wd); }
}
