/* The body of sparse.c's kernels for one floating type: included once per type with
   REAL (the type), SUFFIX (its name's ending) and NONFINITE (its NaN/inf check)
   defined. */
#define FASTBP_CAT_(a, b) a##b
#define FASTBP_CAT(a, b) FASTBP_CAT_(a, b)
#define FASTBP_NAME(base) FASTBP_CAT(base, SUFFIX)

int FASTBP_NAME(fastbp_csr_gather_)(const void* indptr, const void* indices,
                                    int index_bytes, const REAL* data,
                                    const ptrdiff_t* order, ptrdiff_t first, int m,
                                    int check, fastbp_csr* out) {
    REAL* values = (REAL*)out->data;
    int64_t filled = 0;
    out->rows = m;
    out->indptr[0] = 0;
    for (int r = 0; r < m; r++) {
        ptrdiff_t row = order != NULL ? order[r] : first + r;
        int64_t start, end;
        if (index_bytes == 4) {
            start = ((const int32_t*)indptr)[row];
            end = ((const int32_t*)indptr)[row + 1];
            memcpy(out->indices + filled, (const int32_t*)indices + start,
                   (size_t)(end - start) * sizeof(int32_t));
        } else {
            const int64_t* from;
            start = ((const int64_t*)indptr)[row];
            end = ((const int64_t*)indptr)[row + 1];
            from = (const int64_t*)indices + start;
            /* Columns are below the input width, a C int: they fit. */
            for (int64_t p = 0; p < end - start; p++)
                out->indices[filled + p] = (int32_t)from[p];
        }
        memcpy(values + filled, data + start, (size_t)(end - start) * sizeof(REAL));
        /* Checked while the row is in cache: spares the caller a pass over all of X. */
        if (check && NONFINITE(values + filled, end - start)) return 1;
        filled += end - start;
        out->indptr[r + 1] = filled;
    }
    return 0;
}

/* Rows of W in blocks of 4: each entry's column and value are loaded once for four
   independent sums (one alone would wait on its adds' latency), and the four rows,
   n_in values each, stay in cache while the batch's entries go by. */
void FASTBP_NAME(fastbp_csr_times_wt_)(const fastbp_csr* x, int n_out, int n_in,
                                       const REAL* W, REAL* Z) {
    const int32_t* col = x->indices;
    const REAL* v = (const REAL*)x->data;
    int j = 0;
    for (; j + 4 <= n_out; j += 4) {
        const REAL* w0 = W + (ptrdiff_t)j * n_in;
        const REAL* w1 = w0 + n_in;
        const REAL* w2 = w1 + n_in;
        const REAL* w3 = w2 + n_in;
        for (int r = 0; r < x->rows; r++) {
            REAL s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (int64_t p = x->indptr[r]; p < x->indptr[r + 1]; p++) {
                int32_t k = col[p];
                s0 += v[p] * w0[k];
                s1 += v[p] * w1[k];
                s2 += v[p] * w2[k];
                s3 += v[p] * w3[k];
            }
            REAL* z = Z + (ptrdiff_t)r * n_out + j;
            z[0] = s0;
            z[1] = s1;
            z[2] = s2;
            z[3] = s3;
        }
    }
    for (; j < n_out; j++) {
        const REAL* w0 = W + (ptrdiff_t)j * n_in;
        for (int r = 0; r < x->rows; r++) {
            REAL s0 = 0;
            for (int64_t p = x->indptr[r]; p < x->indptr[r + 1]; p++)
                s0 += v[p] * w0[col[p]];
            Z[(ptrdiff_t)r * n_out + j] = s0;
        }
    }
}

/* Row by row of out: row j (n_in values) stays in cache while the batch's entries
   add into it. */
void FASTBP_NAME(fastbp_csr_bp4_)(const fastbp_csr* x, int n_out, int n_in,
                                  const REAL* D, REAL alpha, REAL beta, REAL* out) {
    const int32_t* col = x->indices;
    const REAL* v = (const REAL*)x->data;
    ptrdiff_t size = (ptrdiff_t)n_out * n_in;
    if (beta == 0)
        memset(out, 0, (size_t)size * sizeof(REAL));
    else if (beta != 1)
        for (ptrdiff_t i = 0; i < size; i++) out[i] *= beta;
    for (int j = 0; j < n_out; j++) {
        REAL* o = out + (ptrdiff_t)j * n_in;
        for (int r = 0; r < x->rows; r++) {
            REAL d = alpha * D[(ptrdiff_t)r * n_out + j];
            for (int64_t p = x->indptr[r]; p < x->indptr[r + 1]; p++)
                o[col[p]] += d * v[p];
        }
    }
}

#undef FASTBP_NAME
#undef FASTBP_CAT
#undef FASTBP_CAT_
