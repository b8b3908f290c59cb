// Fused dense optimizer updates: every parameter, every step, and the
// gradient zeroed for the next step's scatter-add. CPU twins: src/ops.rs.
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
