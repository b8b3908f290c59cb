// A kernel the emulator must refuse to load: __sinf is sin.approx.ftz.f32,
// an approximate instruction it does not implement (emu/tests/ptx_production.rs).
extern "C" __global__ void uses_sinf(float* out) { out[threadIdx.x] = __sinf(out[threadIdx.x]); }
