// Moving rows between tables and batches. CPU twins: src/ops.rs.
#include "common.cuh"

// The training rows of one epoch in shuffled order:
// users_out[j] = users[order[j]], and the same for items and ratings. One
// thread per output row j.
//
// users_out, items_out, ratings_out (n), users, items, ratings (rows), order (n)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) gather_rows(unsigned int* users_out, unsigned int* items_out,
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
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) embedding_gather(float* out, const float* table, const unsigned int* idx,
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
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) embedding_scatter_add(float* grad, const float* drows, const unsigned int* idx,
                                                 int batch, int f) {
    GRID_STRIDE(j, (long long)batch * f) {
        long long row = j / f, k = j % f;
        atomicAdd(&grad[(long long)idx[row] * f + k], drows[j]);
    }
}

// The deterministic scatter-add (`--deterministic`): no atomics. One thread
// per element (b,k) of drows; the thread
// for element k of the FIRST batch row that names table row r adds, in batch
// order, that element of every row naming r: the CPU twin's exact order, so
// the result is the CPU's, bit for bit, on every run. Rows are read at
// drows[b * row_stride + col_offset + k], so the same kernel serves the
// halves of the net's concatenated gradient. Costs O(B) per element; at the
// notebook's batch of 64 that is nothing.
//
// grad (N,F), drows (B,row_stride), idx (B)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) embedding_scatter_add_det(float* grad, const float* drows, const unsigned int* idx,
                                                     int batch, int f, int row_stride, int col_offset) {
    GRID_STRIDE(t, (long long)batch * f) {
        int b = (int)(t / f), k = (int)(t % f);
        unsigned int r = idx[b];
        bool first = true;
        for (int j = 0; j < b && first; j++) first = idx[j] != r;
        if (!first) continue;
        long long at = (long long)r * f + k;
        float g = grad[at];
        for (int j = b; j < batch; j++)
            if (idx[j] == r) g += drows[(long long)j * row_stride + col_offset + k];
        grad[at] = g;
    }
}
