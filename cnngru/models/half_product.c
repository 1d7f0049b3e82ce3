/* y = x @ w + bias for a few rows, with w stored as float16 and all arithmetic in float32.

   For weights whose values are float16 numbers (checkpoints are saved in float16), this gives
   the float32 product exactly up to summation order, while reading half the bytes: a 1M-parameter
   model's ~3.7 MB of weights become ~1.9 MB, about a core's 2 MB L2 cache, instead of streaming
   from L3 every character.

   w is stored in panels of PANEL output columns, each an (n_in, PANEL) block, so a panel is read
   front to back; up to MOST_ROWS rows share every weight read. Compiled on the machine that runs it
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
#if defined(__AVX512F__)
#define MOST_ROWS 8 /* rows that share each weight read: 8 x V sums fill 32 of 32 registers */
#else
#define MOST_ROWS 1 /* 8 of 16 registers */
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

/* Rows r .. r + R - 1 of one panel: every weight is read once for the R rows. R is a constant
   at each call, so each block size compiles to its own loop with its sums in registers. */
static inline __attribute__((always_inline)) void
block(const int R, const uint16_t *w, const float *bias, int n_in, int n_out, int column,
      const float *x, float *y)
{
    vf acc[R][V];
    for (int k = 0; k < R; k++)
        for (int v = 0; v < V; v++)
            acc[k][v] = load(bias + column + v * LANES);
    for (int i = 0; i < n_in; i++) {
        vf wi[V];
        for (int v = 0; v < V; v++)
            wi[v] = widen(w + (long)i * PANEL + v * LANES);
        for (int k = 0; k < R; k++) {
            const float xi = x[(long)k * n_in + i];
            for (int v = 0; v < V; v++)
                acc[k][v] += xi * wi[v];
        }
    }
    for (int k = 0; k < R; k++)
        for (int v = 0; v < V; v++)
            store(y + (long)k * n_out, column + v * LANES, n_out, acc[k][v]);
}

/* Threads a product of PARALLEL_ROWS rows or more shares its panels among (half_product_threads).
   A batch's products are compute-bound, and split by output panel they scale to the cores; a
   few rows read the weights for little arithmetic, and stay on one thread. */
#define PARALLEL_ROWS 8
static int threads = 1;

/* Set the threads (at least 1); returns the count in force: 1 where built without OpenMP. */
int half_product_threads(int n)
{
#ifdef _OPENMP
    threads = n < 1 ? 1 : n;
#else
    (void)n;
#endif
    return threads;
}

/* y (rows, n_out) = x (rows, n_in) @ w + bias; w and bias padded to n_panels * PANEL columns.
   The matrix's arguments come first, so the caller binds them once. */
void half_product(const uint16_t *panels, const float *bias, int n_in, int n_panels, int n_out,
                  const float *x, float *y, int rows)
{
#pragma omp parallel for num_threads(threads) schedule(static) \
    if (threads > 1 && rows >= PARALLEL_ROWS && n_panels > 1)
    for (int p = 0; p < n_panels; p++) {
        const uint16_t *w = panels + (long)p * n_in * PANEL;
        int r = 0;
#define BLOCK(R) block(R, w, bias, n_in, n_out, p * PANEL, x + (long)r * n_in, y + (long)r * n_out)
        for (; r + MOST_ROWS <= rows; r += MOST_ROWS)
            BLOCK(MOST_ROWS);
        if (rows - r >= 4) { BLOCK(4); r += 4; } /* what is left: fewer than MOST_ROWS */
        if (rows - r >= 2) { BLOCK(2); r += 2; }
        if (rows - r >= 1) BLOCK(1);
#undef BLOCK
    }
}

#ifdef CNNGRU_PYTHON_MODULE
/* The kernel as a Python function, when built with Python's headers (half_product.py tries this
   first): a call costs ~0.4 us, against ~4 us through ctypes, which converts every address from
   Python; a batch-1 step makes 5-10 such calls. x and y are read through the buffer protocol,
   their sizes checked against rows; the lock is released while the kernel runs, as ctypes does.

   product(panels_address, bias_address, n_in, n_panels, n_out, x, y, rows) -> None */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *product(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError,
                        "product(panels, bias, n_in, n_panels, n_out, x, y, rows) takes 8 arguments");
        return NULL;
    }
    const uint16_t *panels = PyLong_AsVoidPtr(args[0]);
    const float *bias = PyLong_AsVoidPtr(args[1]);
    long n_in = PyLong_AsLong(args[2]), n_panels = PyLong_AsLong(args[3]);
    long n_out = PyLong_AsLong(args[4]), rows = PyLong_AsLong(args[7]);
    if (PyErr_Occurred())
        return NULL;
    Py_buffer x, y;
    if (PyObject_GetBuffer(args[5], &x, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    if (PyObject_GetBuffer(args[6], &y, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&x);
        return NULL;
    }
    if (rows < 0 || x.len < rows * n_in * (Py_ssize_t)sizeof(float) ||
        y.len < rows * n_out * (Py_ssize_t)sizeof(float)) {
        PyBuffer_Release(&x);
        PyBuffer_Release(&y);
        PyErr_SetString(PyExc_ValueError, "x or y holds fewer than rows rows");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    half_product(panels, bias, (int)n_in, (int)n_panels, (int)n_out, x.buf, y.buf, (int)rows);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&x);
    PyBuffer_Release(&y);
    Py_RETURN_NONE;
}

static PyObject *set_threads(PyObject *module, PyObject *arg)
{
    (void)module;
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    return PyLong_FromLong(half_product_threads((int)n));
}

static PyMethodDef methods[] = {
    {"product", (PyCFunction)(void (*)(void))product, METH_FASTCALL, "y = x @ w + bias"},
    {"threads", (PyCFunction)set_threads, METH_O, "threads(n) -> the threads in force"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef definition = {PyModuleDef_HEAD_INIT, "half_product_module", NULL, -1,
                                        methods};

PyMODINIT_FUNC PyInit_half_product_module(void) { return PyModule_Create(&definition); }
#endif
