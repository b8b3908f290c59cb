// A pseudo-random permutation of 0..n, keyed: the order in which sparse SGD
// takes its user runs each epoch. Mirrors rng::Feistel in src/rng.rs bit for
// bit: a 4-round Feistel network on 2·half bits, walking the cycle past n.
#pragma once

__device__ __forceinline__ unsigned int feistel_round4(unsigned int x, unsigned int half, unsigned int k0,
                                                       unsigned int k1, unsigned int k2, unsigned int k3) {
    const unsigned int mask = (1u << half) - 1u;
    unsigned int l = (x >> half) & mask, r = x & mask;
    const unsigned int keys[4] = {k0, k1, k2, k3};
#pragma unroll
    for (int i = 0; i < 4; i++) {
        unsigned int h = (r ^ keys[i]) * 0x9E3779B1u;
        h ^= h >> 15;
        h *= 0x85EBCA6Bu;
        h ^= h >> 13;
        const unsigned int nl = r;
        r = l ^ (h & mask);
        l = nl;
    }
    return (l << half) | r;
}

// The image of i (< n) under the permutation with these round keys.
__device__ __forceinline__ unsigned int feistel_get(unsigned int i, unsigned int n, unsigned int half,
                                                    unsigned int k0, unsigned int k1, unsigned int k2,
                                                    unsigned int k3) {
    unsigned int x = i;
    do {
        x = feistel_round4(x, half, k0, k1, k2, k3);
    } while (x >= n);
    return x;
}

// The image of i (< n) under rng::Blocked: blocks[b] .. blocks[b+1] (b <
// n_blocks) are kept in place and each is permuted by the Feistel network of
// its own length with the shared round keys. Blocks are few (the sparse
// tasks' size classes, at most 32), so a linear scan finds i's.
__device__ __forceinline__ unsigned int blocked_get(unsigned int i, const unsigned int* blocks, int n_blocks,
                                                    unsigned int k0, unsigned int k1, unsigned int k2,
                                                    unsigned int k3) {
    int b = 0;
    while (b + 1 < n_blocks && blocks[b + 1] <= i) b++;
    const unsigned int lo = blocks[b], n = blocks[b + 1] - lo;
    // rng::Feistel::with_keys: the smallest even width that covers n (the
    // bits of n - 1, counted in a loop of at most 32 rather than with clz).
    const unsigned int top = n > 0 ? n - 1 : 0u;
    unsigned int bits = 0;
    while (bits < 32 && (top >> bits) != 0u) bits++;
    const unsigned int half = bits > 1 ? (bits + 1) / 2 : 1u;
    return lo + feistel_get(i - lo, n, half, k0, k1, k2, k3);
}
