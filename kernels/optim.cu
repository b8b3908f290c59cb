// Fused dense optimizer updates: every parameter, every step, and the
// gradient zeroed for the next step's scatter-add. CPU twins: src/ops.rs.
#include "common.cuh"

// g = grad + wd*p;  buf = momentum*buf + g;  p -= lr*buf;  grad = 0
//
// params, grads, bufs (P)
extern "C" __global__ void sgd_update(float* params, float* grads, float* bufs, float lr, float momentum,
                                      float wd, long long n) {
    GRID_STRIDE(i, n) {
        float p = params[i];
        float d = grads[i] + wd * p;
        float b = momentum * bufs[i] + d;
        bufs[i] = b;
        params[i] = p - lr * b;
        grads[i] = 0.0f;
    }
}

// Adam with coupled L2. The scalars are ops::AdamStep's, computed on the host:
// g = grad + wd*p;  m = beta1*m + (1-beta1)*g;  v = beta2*v + (1-beta2)*g*g;
// p -= step_size * m / (sqrt(v)/bias_correction2_sqrt + eps);  grad = 0
//
// params, grads, m, v (P)
extern "C" __global__ void adam_update(float* params, float* grads, float* m, float* v, float beta1,
                                       float beta2, float one_minus_beta1, float one_minus_beta2, float eps,
                                       float step_size, float bias_correction2_sqrt, float wd, long long n) {
    GRID_STRIDE(i, n) {
        float p = params[i];
        float d = grads[i] + wd * p;
        float mi = beta1 * m[i] + one_minus_beta1 * d;
        float vi = beta2 * v[i] + one_minus_beta2 * d * d;
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) / bias_correction2_sqrt + eps;
        params[i] = p - step_size * mi / denom;
        grads[i] = 0.0f;
    }
}
