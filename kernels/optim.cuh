// One parameter's dense optimizer update, shared by the plain kernels
// (optim.cu: scalars as arguments) and the scheduled ones (fused.cu: scalars
// read from a device schedule). CPU twins: ops::sgd_update, ops::adam_update.
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

// g = grad + wd*p;  m = beta1*m + (1-beta1)*g;  v = beta2*v + (1-beta2)*g*g;
// p -= step_size * m / (sqrt(v)/bias_correction2_sqrt + eps);  grad = 0
__device__ __forceinline__ void adam_element(float* params, float* grads, float* m, float* v, long long i,
                                             float beta1, float beta2, float one_minus_beta1,
                                             float one_minus_beta2, float eps, float step_size,
                                             float bias_correction2_sqrt, float wd) {
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
