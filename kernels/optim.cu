// Fused dense optimizer updates: every parameter, every step, and the
// gradient zeroed for the next step's scatter-add. CPU twins: src/ops.rs.
// Each has a scheduled twin that reads its per-step scalars from a device
// schedule, for the epochs captured as a CUDA graph (backend/cuda/graph.rs).
#include "common.cuh"
#include "optim.cuh"

// g = grad + wd*p;  buf = momentum*buf + g;  p -= lr*buf;  grad = 0. One
// thread per parameter.
//
// params, grads, bufs (P)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) sgd_update(float* params, float* grads, float* bufs, float lr, float momentum,
                                      float wd, int n) {
    GRID_STRIDE(i, n) { sgd_element(params, grads, bufs, i, lr, momentum, wd); }
}

// Adam with coupled L2. The scalars are ops::AdamStep's, computed on the host
// (see optim.cuh for the update). One thread per parameter.
//
// params, grads, m, v (P)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) adam_update(float* params, float* grads, float* m, float* v, float beta1,
                                       float beta2, float one_minus_beta1, float one_minus_beta2, float eps,
                                       float step_size, float bias_correction2_sqrt, float wd, int n) {
    GRID_STRIDE(i, n) {
        adam_element(params, grads, m, v, i, beta1, beta2, one_minus_beta1, one_minus_beta2, eps, step_size,
                     bias_correction2_sqrt, wd);
    }
}

// ops::sgd_update with lr = sched[2*step]. One thread per parameter.
//
// params, grads, bufs (P), sched (2*steps)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) sgd_update_sched(float* params, float* grads, float* bufs, const float* sched,
                                            int step, float momentum, float wd, int n) {
    const float lr = sched[2 * step];
    GRID_STRIDE(i, n) { sgd_element(params, grads, bufs, i, lr, momentum, wd); }
}

// ops::adam_update with step_size = sched[2*step], bias_correction2_sqrt = sched[2*step + 1].
// One thread per parameter.
//
// params, grads, m, v (P), sched (2*steps)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) adam_update_sched(float* params, float* grads, float* m, float* v,
                                             const float* sched, int step, float beta1, float beta2,
                                             float one_minus_beta1, float one_minus_beta2, float eps,
                                             float wd, int n) {
    const float step_size = sched[2 * step], bias_correction2_sqrt = sched[2 * step + 1];
    GRID_STRIDE(i, n) {
        adam_element(params, grads, m, v, i, beta1, beta2, one_minus_beta1, one_minus_beta2, eps, step_size,
                     bias_correction2_sqrt, wd);
    }
}
