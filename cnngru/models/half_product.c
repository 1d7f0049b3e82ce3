/* y = x @ w + bias for a few rows, with w stored as float16 and all arithmetic in float32.

   For weights whose values are float16 numbers (checkpoints are saved in float16), this gives
   the float32 product exactly up to summation order, while reading half the bytes: a 1M-parameter
   model's weights then fit a core's 2 MB L2 cache instead of streaming from L3 every character.

   w is stored in panels of PANEL output columns, each an (n_in, PANEL) block, so a panel is read
   front to back; ROWS rows share every weight read. Compiled on the machine that runs it
   (half_product.py), with the widest vectors it has. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX512F__)
typedef float vf __attribute__((vector_size(64)));
static inline vf widen(const uint16_t *w)
{
    return (vf)_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)w));
}
#elif defined(__AVX__) && defined(__F16C__)
typedef float vf __attribute__((vector_size(32)));
static inline vf widen(const uint16_t *w)
{
    return (vf)_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w));
}
#else
#error "needs AVX and F16C: the NumPy float32 product serves instead"
#endif

#define LANES ((int)(sizeof(vf) / sizeof(float)))
#define PANEL 64 /* output columns per panel: must match half_product.py */
#define V (PANEL / LANES)
#ifndef ROWS /* rows that share each weight read, as many as keep ROWS x V sums in registers */
#if defined(__AVX512F__)
#define ROWS 4 /* 16 of 32 registers */
#else
#define ROWS 1 /* 8 of 16 registers */
#endif
#endif

static inline vf load(const float *p)
{
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Store the lanes of v that fall before column `end` (a row's last panel may be partial). */
static inline void store(float *row, int column, int end, vf v)
{
    if (column + LANES <= end)
        memcpy(row + column, &v, sizeof v);
    else if (column < end)
        memcpy(row + column, &v, (size_t)(end - column) * sizeof(float));
}

/* y (rows, n_out) = x (rows, n_in) @ w + bias; w and bias padded to n_panels * PANEL columns.
   The matrix's arguments come first, so the caller binds them once. */
void half_product(const uint16_t *panels, const float *bias, int n_in, int n_panels, int n_out,
                  const float *x, float *y, int rows)
{
    for (int p = 0; p < n_panels; p++) {
        const uint16_t *w = panels + (long)p * n_in * PANEL;
        for (int r = 0; r < rows; r += ROWS) {
            const int block = rows - r < ROWS ? rows - r : ROWS;
            vf acc[ROWS][V];
            for (int k = 0; k < ROWS; k++)
                for (int v = 0; v < V; v++)
                    acc[k][v] = load(bias + p * PANEL + v * LANES);
            if (block == ROWS) { /* the common case, unrolled over the rows */
                for (int i = 0; i < n_in; i++) {
                    vf wi[V];
                    for (int v = 0; v < V; v++)
                        wi[v] = widen(w + (long)i * PANEL + v * LANES);
                    for (int k = 0; k < ROWS; k++) {
                        const float xi = x[(long)(r + k) * n_in + i];
                        for (int v = 0; v < V; v++)
                            acc[k][v] += xi * wi[v];
                    }
                }
            } else {
                for (int k = 0; k < block; k++) {
                    const float *xr = x + (long)(r + k) * n_in;
                    for (int i = 0; i < n_in; i++)
                        for (int v = 0; v < V; v++)
                            acc[k][v] += xr[i] * widen(w + (long)i * PANEL + v * LANES);
                }
            }
            for (int k = 0; k < block; k++)
                for (int v = 0; v < V; v++)
                    store(y + (long)(r + k) * n_out, p * PANEL + v * LANES, n_out, acc[k][v]);
        }
    }
}
