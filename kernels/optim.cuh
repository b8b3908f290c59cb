// One parameter's dense optimizer update, shared by the plain kernels
// (optim.cu: scalars as arguments), the scheduled ones (optim.cu too: scalars
// read from a device schedule) and the Adam epochs. CPU twins: ops::sgd_update, ops::adam_update.
#pragma once

// g = grad + wd*p;  buf = momentum*buf + g;  p -= lr*buf;  grad = 0
__device__ __forceinline__ void sgd_element(float* params, float* grads, float* bufs, long long i, float lr,
                                            float momentum, float wd) {
    float p = params[i];
    float d = grads[i] + wd * p;
    float b = momentum * bufs[i] + d;
    bufs[i] = b;
    params[i] = p - lr * b;
    grads[i] = 0.0f;
}

// One Adam step on values in registers, g the loss gradient:
// d = g + wd*p;  m = beta1*m + (1-beta1)*d;  v = beta2*v + (1-beta2)*d*d;
// p -= step_size * m / (sqrt(v)/bias_correction2_sqrt + eps)
__device__ __forceinline__ void adam_value(float& p, float g, float& m, float& v, float beta1, float beta2,
                                           float one_minus_beta1, float one_minus_beta2, float eps,
                                           float step_size, float bias_correction2_sqrt, float wd) {
    float d = g + wd * p;
    m = beta1 * m + one_minus_beta1 * d;
    v = beta2 * v + one_minus_beta2 * d * d;
    float denom = sqrtf(v) / bias_correction2_sqrt + eps;
    p = p - step_size * m / denom;
}

// adam_value on element i of the arrays;  grad = 0
__device__ __forceinline__ void adam_element(float* params, float* grads, float* m, float* v, long long i,
                                             float beta1, float beta2, float one_minus_beta1,
                                             float one_minus_beta2, float eps, float step_size,
                                             float bias_correction2_sqrt, float wd) {
    float p = params[i], mi = m[i], vi = v[i];
    adam_value(p, grads[i], mi, vi, beta1, beta2, one_minus_beta1, one_minus_beta2, eps, step_size,
               bias_correction2_sqrt, wd);
    m[i] = mi;
    v[i] = vi;
    params[i] = p;
    grads[i] = 0.0f;
}
