/*
 * Kernels of the multi-index hashing backend (index/mih.py).
 *
 * A code of B bits is cut into m = B/16 substrings of 16 bits. Each table maps a
 * substring value to the slots holding it (counting-sorted: offsets[65537], order[n]).
 * By the pigeonhole principle, a code within r bits of the query has some substring
 * within s = r/m bits of the query's, so probing every key within s of each query
 * substring finds every candidate; each is then checked on the whole code. A candidate
 * found through table i is skipped when an earlier table would have found it too, so
 * every hit is reported once without shared scratch memory (searches run in parallel).
 *
 * Arguments are buffers (numpy arrays) passed from Python; the GIL is released while
 * the kernels run. The caller holds the index's read (search) or write (build) lock.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define SUB_BITS 16
#define KEYS (1u << SUB_BITS)

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("popcnt", "default")))
#else
#define CLONES
#endif

static inline uint32_t substring(const uint8_t *code, int i) {
    return ((uint32_t)code[2 * i] << 8) | code[2 * i + 1];
}

/* Inlined into the (cloned) kernels, so it compiles to popcnt where the CPU has it. */
static inline int distance(const uint8_t *a, const uint8_t *b, int code_bytes) {
    int d = 0;
    for (int k = 0; k < code_bytes; k += 8) {
        uint64_t x, y;
        memcpy(&x, a + k, 8);
        memcpy(&y, b + k, 8);
        d += __builtin_popcountll(x ^ y);
    }
    return d;
}

typedef struct {
    int32_t *slots;
    int32_t *dists;
    Py_ssize_t count;
    Py_ssize_t capacity;
    int overflow;
} Out;

static inline void emit(Out *out, int32_t slot, int32_t d) {
    if (out->count < out->capacity) {
        out->slots[out->count] = slot;
        out->dists[out->count] = d;
    } else {
        out->overflow = 1;
    }
    out->count++;
}

typedef struct {
    const uint8_t *codes;
    const uint8_t *alive;
    const uint32_t *const *offsets;
    const uint32_t *const *orders;
    const uint8_t *query;
    int code_bytes;
    int m;
    int radius;
    int s;
    Out *out;
} Search;

/* Check every slot of one bucket found through table t. */
CLONES static void scan_bucket(const Search *q, int t, uint32_t key) {
    const uint32_t *order = q->orders[t];
    uint32_t start = q->offsets[t][key], end = q->offsets[t][key + 1];
    for (uint32_t p = start; p < end; p++) {
        uint32_t slot = order[p];
        if (!q->alive[slot]) continue;
        const uint8_t *code = q->codes + (size_t)slot * q->code_bytes;
        int seen = 0;
        for (int j = 0; j < t && !seen; j++) {
            seen = __builtin_popcount(substring(code, j) ^ substring(q->query, j)) <= q->s;
        }
        if (seen) continue;
        int d = distance(code, q->query, q->code_bytes);
        if (d <= q->radius) emit(q->out, (int32_t)slot, d);
    }
}

/* Visit every key within `left` more flipped bits (positions >= from) of `key`. */
static void probe(const Search *q, int t, uint32_t key, int from, int left) {
    scan_bucket(q, t, key);
    if (!left) return;
    for (int bit = from; bit < SUB_BITS; bit++) probe(q, t, key ^ (1u << bit), bit + 1, left - 1);
}

CLONES static void scan_range(const Search *q, Py_ssize_t lo, Py_ssize_t hi) {
    if (q->code_bytes == 32) {
        /* pdq, the common case: four words, unrolled by the compiler. */
        for (Py_ssize_t slot = lo; slot < hi; slot++) {
            int d = distance(q->codes + (size_t)slot * 32, q->query, 32);
            if (d <= q->radius && q->alive[slot]) emit(q->out, (int32_t)slot, d);
        }
        return;
    }
    for (Py_ssize_t slot = lo; slot < hi; slot++) {
        int d = distance(q->codes + (size_t)slot * q->code_bytes, q->query, q->code_bytes);
        if (d <= q->radius && q->alive[slot]) emit(q->out, (int32_t)slot, d);
    }
}

static int get(PyObject *obj, Py_buffer *view, int writable) {
    return PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0));
}

/*
 * search(codes, alive, tables, built, total, query, radius, use_tables, out_slots, out_dists)
 *   tables: sequence of (offsets, order) buffers, one per substring, over slots [0, built);
 *   slots [built, total) are scanned one by one. Returns the number of hits; when that is
 *   over the output capacity, the outputs hold only the first ones and the caller retries.
 */
static PyObject *search(PyObject *self, PyObject *args) {
    PyObject *codes_o, *alive_o, *tables_o, *query_o, *slots_o, *dists_o;
    Py_ssize_t built, total;
    int radius, use_tables;
    if (!PyArg_ParseTuple(args, "OOOnnOipOO", &codes_o, &alive_o, &tables_o, &built, &total,
                          &query_o, &radius, &use_tables, &slots_o, &dists_o))
        return NULL;
    Py_buffer codes, alive, query, slots, dists;
    if (get(codes_o, &codes, 0) < 0) return NULL;
    if (get(alive_o, &alive, 0) < 0) { PyBuffer_Release(&codes); return NULL; }
    if (get(query_o, &query, 0) < 0) goto fail3;
    if (get(slots_o, &slots, 1) < 0) goto fail2;
    if (get(dists_o, &dists, 1) < 0) goto fail1;

    PyObject *seq = PySequence_Fast(tables_o, "tables must be a sequence");
    if (!seq) goto fail0;
    int m = use_tables ? (int)PySequence_Fast_GET_SIZE(seq) : 0;
    int code_bytes = (int)query.len;
    Py_buffer views[2 * 64];
    const uint32_t *offsets[64], *orders[64];
    int got = 0, ok = code_bytes % 8 == 0 && (!use_tables || (m <= 64 && m == code_bytes / 2));
    for (int t = 0; ok && t < m; t++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(seq, t);
        PyObject *a = PySequence_GetItem(pair, 0), *b = PySequence_GetItem(pair, 1);
        ok = a && b && get(a, &views[2 * t], 0) == 0;
        if (ok) { got++; ok = get(b, &views[2 * t + 1], 0) == 0; }
        if (ok) {
            got++;
            offsets[t] = (const uint32_t *)views[2 * t].buf;
            orders[t] = (const uint32_t *)views[2 * t + 1].buf;
            ok = views[2 * t].len == (Py_ssize_t)(KEYS + 1) * 4 && views[2 * t + 1].len >= built * 4;
        }
        Py_XDECREF(a);
        Py_XDECREF(b);
    }
    ok = ok && codes.len >= total * code_bytes && alive.len >= total;
    if (!ok) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "inconsistent index buffers");
        for (int v = 0; v < got; v++) PyBuffer_Release(&views[v]);
        Py_DECREF(seq);
        goto fail0;
    }

    Out out = {(int32_t *)slots.buf, (int32_t *)dists.buf, 0, slots.len / 4, 0};
    Search q = {(const uint8_t *)codes.buf, (const uint8_t *)alive.buf,
                offsets, orders, (const uint8_t *)query.buf, code_bytes, m, radius,
                m ? radius / m : 0, &out};
    Py_BEGIN_ALLOW_THREADS
    if (use_tables) {
        for (int t = 0; t < m; t++) probe(&q, t, substring(q.query, t), 0, q.s);
        scan_range(&q, built, total);
    } else {
        scan_range(&q, 0, total);
    }
    Py_END_ALLOW_THREADS

    for (int v = 0; v < got; v++) PyBuffer_Release(&views[v]);
    Py_DECREF(seq);
    PyBuffer_Release(&dists);
    PyBuffer_Release(&slots);
    PyBuffer_Release(&query);
    PyBuffer_Release(&alive);
    PyBuffer_Release(&codes);
    return PyLong_FromSsize_t(out.count);

fail0:
    PyBuffer_Release(&dists);
fail1:
    PyBuffer_Release(&slots);
fail2:
    PyBuffer_Release(&query);
fail3:
    PyBuffer_Release(&alive);
    PyBuffer_Release(&codes);
    return NULL;
}

/* build(codes, n, table, offsets, order): counting sort of slots [0, n) by substring. */
static PyObject *build(PyObject *self, PyObject *args) {
    PyObject *codes_o, *offsets_o, *order_o;
    Py_ssize_t n;
    int t;
    if (!PyArg_ParseTuple(args, "OniOO", &codes_o, &n, &t, &offsets_o, &order_o)) return NULL;
    Py_buffer codes, offsets, order;
    if (get(codes_o, &codes, 0) < 0) return NULL;
    if (get(offsets_o, &offsets, 1) < 0) { PyBuffer_Release(&codes); return NULL; }
    if (get(order_o, &order, 1) < 0) {
        PyBuffer_Release(&offsets);
        PyBuffer_Release(&codes);
        return NULL;
    }
    int code_bytes = n ? (int)(codes.len / n) : 0;
    if (offsets.len != (Py_ssize_t)(KEYS + 1) * 4 || order.len < n * 4 ||
        (n && (2 * t + 1 >= code_bytes || codes.len < n * code_bytes))) {
        PyErr_SetString(PyExc_ValueError, "inconsistent build buffers");
    } else {
        const uint8_t *c = (const uint8_t *)codes.buf;
        uint32_t *off = (uint32_t *)offsets.buf, *ord = (uint32_t *)order.buf;
        Py_BEGIN_ALLOW_THREADS
        memset(off, 0, (KEYS + 1) * 4);
        for (Py_ssize_t i = 0; i < n; i++) off[substring(c + i * code_bytes, t) + 1]++;
        for (uint32_t k = 0; k < KEYS; k++) off[k + 1] += off[k];
        for (Py_ssize_t i = 0; i < n; i++) {
            uint32_t key = substring(c + i * code_bytes, t);
            ord[off[key]++] = (uint32_t)i;
        }
        /* The fill advanced each offset to the start of the next bucket: shift back. */
        memmove(off + 1, off, KEYS * 4);
        off[0] = 0;
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&order);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&codes);
    if (PyErr_Occurred()) return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"search", search, METH_VARARGS, "Radius search of one query over the tables and tail."},
    {"build", build, METH_VARARGS, "Counting-sort slots by one 16-bit substring."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_mih", NULL, -1, methods};

PyMODINIT_FUNC PyInit__mih(void) { return PyModule_Create(&module); }
