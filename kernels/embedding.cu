// Moving rows between tables and batches. CPU twins: src/ops.rs.
#include "common.cuh"

// The training rows of one epoch in shuffled order:
// users_out[j] = users[order[j]], and the same for items and ratings.
//
// users_out, items_out, ratings_out (n), users, items, ratings (rows), order (n)
extern "C" __global__ void gather_rows(unsigned int* users_out, unsigned int* items_out,
                                       float* ratings_out, const unsigned int* users,
                                       const unsigned int* items, const float* ratings,
                                       const unsigned int* order, int n) {
    GRID_STRIDE(j, n) {
        unsigned int r = order[j];
        users_out[j] = users[r];
        items_out[j] = items[r];
        ratings_out[j] = ratings[r];
    }
}

// out[b, :] = table[idx[b], :]. One thread per output element.
//
// out (B,F), table (N,F), idx (B)
extern "C" __global__ void embedding_gather(float* out, const float* table, const unsigned int* idx,
                                            int batch, int f) {
    GRID_STRIDE(j, (long long)batch * f) {
        long long row = j / f, k = j % f;
        out[j] = table[(long long)idx[row] * f + k];
    }
}

// grad[idx[b], :] += drows[b, :]. One thread per element of drows; rows that
// appear several times in the batch meet in atomicAdd, so their sum's order
// (and last bits) can differ from the CPU's batch order.
//
// grad (N,F), drows (B,F), idx (B)
extern "C" __global__ void embedding_scatter_add(float* grad, const float* drows, const unsigned int* idx,
                                                 int batch, int f) {
    GRID_STRIDE(j, (long long)batch * f) {
        long long row = j / f, k = j % f;
        atomicAdd(&grad[(long long)idx[row] * f + k], drows[j]);
    }
}
