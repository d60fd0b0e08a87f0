/* The first layer's products on sparse input: a mini-batch of CSR rows times w^1
   (the forward pass) and δ^1 times those rows (BP4), without densifying them (see
   sparse.c). */
#ifndef FASTBP_SPARSE_H
#define FASTBP_SPARSE_H
#include <stddef.h>
#include <stdint.h>

/* A batch of CSR rows: row r holds the values data[p] in the columns indices[p],
   p = indptr[r] .. indptr[r + 1] - 1 (any order, duplicates summed). data is float
   or double, as the network. */
typedef struct {
    int rows;
    int64_t* indptr;    /* rows + 1 */
    int32_t* indices;
    void* data;
} fastbp_csr;

/* Copy rows order[0..m) (order NULL: rows first..first+m-1) of a CSR matrix whose
   indptr and indices are both int32 (index_bytes 4) or int64 (8) into out, whose
   arrays have room for the batch's entries. With check, stops and returns 1 at
   the first value that is NaN or infinite; else returns 0. */
int fastbp_csr_gather_d(const void* indptr, const void* indices, int index_bytes,
                        const double* data, const ptrdiff_t* order, ptrdiff_t first,
                        int m, int check, fastbp_csr* out);
int fastbp_csr_gather_f(const void* indptr, const void* indices, int index_bytes,
                        const float* data, const ptrdiff_t* order, ptrdiff_t first,
                        int m, int check, fastbp_csr* out);

/* Z := X W^T for the batch X (rows, n_in) and W (n_out, n_in) row-major: Z is
   (rows, n_out). */
void fastbp_csr_times_wt_d(const fastbp_csr* x, int n_out, int n_in, const double* W,
                           double* Z);
void fastbp_csr_times_wt_f(const fastbp_csr* x, int n_out, int n_in, const float* W,
                           float* Z);

/* out := alpha D^T X + beta out, for D (rows, n_out), the batch X (rows, n_in) and
   out (n_out, n_in) row-major. */
void fastbp_csr_bp4_d(const fastbp_csr* x, int n_out, int n_in, const double* D,
                      double alpha, double beta, double* out);
void fastbp_csr_bp4_f(const fastbp_csr* x, int n_out, int n_in, const float* D,
                      float alpha, float beta, float* out);
#endif
