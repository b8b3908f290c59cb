// Philox4x32-10 (Salmon et al., 2011), the counter-based generator behind
// dropout. Mirrors rng::philox4x32_10 in src/rng.rs bit for bit.
#pragma once

__device__ __forceinline__ uint4 philox4x32_10(uint4 ctr, uint2 key) {
    const unsigned int M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
    const unsigned int W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            key.x += W0;
            key.y += W1;
        }
        unsigned int hi0 = __umulhi(M0, ctr.x), lo0 = M0 * ctr.x;
        unsigned int hi1 = __umulhi(M1, ctr.z), lo1 = M1 * ctr.z;
        ctr = make_uint4(hi1 ^ ctr.y ^ key.x, lo1, hi0 ^ ctr.w ^ key.y, lo0);
    }
    return ctr;
}

// ops::dropout_keep: element idx survives with probability 1 - p at this step.
// Key (seed lo, seed hi); counter (idx, step lo, step hi, layer); the top 24
// bits of the first word, as a float in [0, 1), must be >= p.
__device__ __forceinline__ bool dropout_keep(unsigned long long seed, unsigned long long step,
                                             unsigned int layer, unsigned int idx, float p) {
    uint4 ctr = make_uint4(idx, (unsigned int)step, (unsigned int)(step >> 32), layer);
    uint2 key = make_uint2((unsigned int)seed, (unsigned int)(seed >> 32));
    float u = (float)(philox4x32_10(ctr, key).x >> 8) * (1.0f / 16777216.0f);
    return u >= p;
}
