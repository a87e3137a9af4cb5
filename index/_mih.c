/*
 * Kernels of the multi-index hashing backend (index/mih.py).
 *
 * A code of B bits is cut into m substrings of near-equal width (chosen in Python from
 * the index size and the expected radius). Each table lists the slots sorted by their
 * substring value; an entry is a uint32 packing the slot in its low `slot_bits` bits and
 * the substring's low `low_bits` bits above them, and `offsets` points at the start of
 * each bucket of the remaining high bits. Keeping the low bits in the entry, where a slot
 * leaves them spare, shrinks the offsets to about one per eight codes instead of one per
 * possible value: 4.5 bytes per code and table at any width.
 *
 * Probing uses the refined pigeonhole principle (Norouzi et al.): with r = q*m + a, a
 * code within r bits of the query has one of the first a+1 substrings within q bits of
 * the query's, or one of the others within q-1; else the distances would sum to at least
 * (a+1)(q+1) + (m-a-1)q = r+1. So table t is probed at radius q or q-1 (or not at all).
 * A candidate found through table t is skipped when an earlier table would have found it,
 * so every hit is reported once without shared scratch memory (searches run in parallel).
 *
 * Probes are tested a word of the presence bitmap at a time: the keys of one word differ
 * in their low six bits only, so a mask of those within reach of the query's (BALL) tests
 * them all at once, and only flips of the higher bits are enumerated one by one.
 *
 * Words, buckets and candidates are random memory accesses: the kernel runs them through
 * software pipelines that prefetch each access well before it is needed, so many cache
 * misses are in flight at once instead of one after another.
 *
 * Arguments are buffers (numpy arrays) passed from Python; the GIL is released while the
 * kernels run. The caller keeps the arrays alive (a search holds a published view of them)
 * or owns them (build).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#define MAX_TABLES 64
#define MAX_WIDTH 26
/* Each pipeline stage runs AHEAD accesses ahead: measured at 1M codes, radius 31, 8 gave
 * 38 us a query, 16 gave 35, 32 gave 28, 48 and 64 no better (benchmarks/RESULTS.md). */
#define RING 128 /* a power of two, over 2 * AHEAD */
#define AHEAD 32

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("popcnt", "default")))
#else
#define CLONES
#endif

/* Bits [start, start + width) of a code, most significant bit first (width <= 32). */
static inline uint32_t substring(const uint8_t *code, int start, int width) {
    int last = start + width - 1;
    uint64_t acc = 0;
    for (int b = start >> 3; b <= (last >> 3); b++) acc = (acc << 8) | code[b];
    return (uint32_t)((acc >> (7 - (last & 7))) & ((1ull << width) - 1));
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
    int start, width, low_bits, slot_bits;
    const uint32_t *offsets;
    const uint32_t *entries;
    const uint64_t *present; /* one bit per substring value: is any code there? */
} Table;

typedef struct {
    int32_t *slots;
    int32_t *dists;
    size_t count, capacity;
    int failed;
} Out;

static void emit(Out *out, int32_t slot, int32_t d) {
    if (out->count == out->capacity) {
        size_t capacity = out->capacity ? 2 * out->capacity : 1024;
        int32_t *slots = realloc(out->slots, capacity * 4);
        if (slots) out->slots = slots;
        int32_t *dists = slots ? realloc(out->dists, capacity * 4) : NULL;
        if (dists) out->dists = dists;
        if (!slots || !dists) {
            out->failed = 1;
            return;
        }
        out->capacity = capacity;
    }
    out->slots[out->count] = slot;
    out->dists[out->count] = d;
    out->count++;
}

typedef struct {
    /* The index. */
    const uint8_t *codes, *alive;
    Py_ssize_t built;
    const uint8_t *tail_codes, *tail_alive;
    Py_ssize_t tail_n;
    const Table *tables;
    int m, code_bytes;
    /* The query. */
    const uint8_t *query;
    int radius;
    uint32_t qsub[MAX_TABLES];
    int reach[MAX_TABLES]; /* probe radius of each table, -1 for none */
    int t;                 /* table being probed */
    /* Pipelines (rings indexed by a running count): a word of the presence bitmap is
     * tested AHEAD words after it was prefetched; a present key's bucket offsets are read
     * AHEAD keys after they were prefetched, its entries scanned AHEAD keys later still;
     * a candidate's code is checked AHEAD candidates after it was prefetched. */
    uint32_t probe[RING], key[RING], lo[RING], hi[RING];
    uint64_t mask[RING];
    long probes, keys;
    uint32_t cand[RING];
    long cands, checked;
    Out *out;
} Search;

CLONES static void check_candidate(Search *q, uint32_t slot) {
    const uint8_t *code = q->codes + (size_t)slot * q->code_bytes;
    /* Most candidates fail on distance: test it first, then whether an earlier table
     * found the hit too, and the alive flag last, so that theirs is never fetched. */
    int d = distance(code, q->query, q->code_bytes);
    if (d > q->radius) return;
    for (int j = 0; j < q->t; j++) {
        const Table *e = &q->tables[j];
        if (q->reach[j] >= 0 &&
            __builtin_popcount(substring(code, e->start, e->width) ^ q->qsub[j]) <= q->reach[j])
            return; /* an earlier table found it */
    }
    if (q->alive[slot]) emit(q->out, (int32_t)slot, d);
}

static inline void push_candidate(Search *q, uint32_t slot) {
    __builtin_prefetch(q->codes + (size_t)slot * q->code_bytes);
    q->cand[q->cands++ & (RING - 1)] = slot;
    if (q->cands - q->checked > AHEAD) check_candidate(q, q->cand[q->checked++ & (RING - 1)]);
}

static inline void read_offsets(Search *q, long k) {
    const Table *table = &q->tables[q->t];
    uint32_t bucket = q->key[k & (RING - 1)] >> table->low_bits;
    uint32_t lo = table->offsets[bucket], hi = table->offsets[bucket + 1];
    q->lo[k & (RING - 1)] = lo;
    q->hi[k & (RING - 1)] = hi;
    if (lo < hi) __builtin_prefetch(table->entries + lo);
}

static inline void scan_bucket(Search *q, long k) {
    const Table *table = &q->tables[q->t];
    const int slot_bits = table->slot_bits;
    const uint32_t low = q->key[k & (RING - 1)] & ((1u << table->low_bits) - 1);
    const uint32_t slot_mask = (1u << slot_bits) - 1;
    for (uint32_t p = q->lo[k & (RING - 1)], end = q->hi[k & (RING - 1)]; p < end; p++) {
        uint32_t entry = table->entries[p], entry_low = entry >> slot_bits;
        /* A bucket is sorted by the low bits: skip the smaller, stop at a larger one. */
        if (entry_low < low) continue;
        if (entry_low > low) break;
        push_candidate(q, entry & slot_mask);
    }
}

/* A key some code holds: find its bucket, then its entries. */
static inline void push_key(Search *q, uint32_t key) {
    const Table *table = &q->tables[q->t];
    __builtin_prefetch(table->offsets + (key >> table->low_bits));
    long k = q->keys++;
    q->key[k & (RING - 1)] = key;
    if (k >= AHEAD) read_offsets(q, k - AHEAD);
    if (k >= 2 * AHEAD) scan_bucket(q, k - 2 * AHEAD);
}

/* BALL[k][x]: the values 0-63 within k bits of x, one bit each. */
static uint64_t BALL[7][64];

static void fill_balls(void) {
    for (int k = 0; k <= 6; k++)
        for (int x = 0; x < 64; x++) {
            uint64_t mask = 0;
            for (int v = 0; v < 64; v++)
                if (__builtin_popcount((unsigned)(v ^ x)) <= k) mask |= 1ull << v;
            BALL[k][x] = mask;
        }
}

/* Every probed key of one word of the presence bitmap at once: the keys present, among
 * those the mask allows, go on to their buckets. */
static inline void test_probe(Search *q, long k) {
    uint32_t word = q->probe[k & (RING - 1)];
    uint64_t hits = q->tables[q->t].present[word] & q->mask[k & (RING - 1)];
    while (hits) {
        push_key(q, (word << 6) | (uint32_t)__builtin_ctzll(hits));
        hits &= hits - 1;
    }
}

/* One word of probed keys (those of `mask` in word `word`): most hold no code, which the
 * presence bitmap (small enough to stay in the cache) tells without touching the offsets
 * or entries. */
static inline void push_probe(Search *q, uint32_t word, uint64_t mask) {
    __builtin_prefetch(q->tables[q->t].present + word);
    long k = q->probes++;
    q->probe[k & (RING - 1)] = word;
    q->mask[k & (RING - 1)] = mask;
    if (k >= AHEAD) test_probe(q, k - AHEAD);
}

/* Finish the pipelines at the end of a table (candidates are checked against it). */
static void drain(Search *q) {
    long n = q->probes;
    for (long k = n > AHEAD ? n - AHEAD : 0; k < n; k++) test_probe(q, k);
    n = q->keys;
    for (long k = n > AHEAD ? n - AHEAD : 0; k < n; k++) read_offsets(q, k);
    for (long k = n > 2 * AHEAD ? n - 2 * AHEAD : 0; k < n; k++) scan_bucket(q, k);
    while (q->checked < q->cands) check_candidate(q, q->cand[q->checked++ & (RING - 1)]);
    q->probes = q->keys = q->cands = q->checked = 0;
}

/* Visit every key within `left` more flipped bits of `key`: the low six bits, which pick
 * a key within its word of the presence bitmap, by a mask of the word's keys within
 * reach (BALL); higher bits (positions >= from) by flipping them one at a time. */
static void probe(Search *q, uint32_t key, int from, int left, int width) {
    /* Under six bits wide, the word's bits past the table's last value are never set. */
    push_probe(q, key >> 6, BALL[left < 6 ? left : 6][key & 63]);
    for (int bit = from; left && bit < width; bit++)
        probe(q, key ^ (1u << bit), bit + 1, left - 1, width);
}

CLONES static void scan(Search *q, const uint8_t *codes, const uint8_t *alive, Py_ssize_t n,
                        Py_ssize_t first_slot) {
    const int radius = q->radius;
    if (q->code_bytes == 32) {
        /* pdq, the common case: the query's four words held in registers (emit() could
         * alias them for all the compiler knows, so it would reload them every code). */
        uint64_t w0, w1, w2, w3;
        memcpy(&w0, q->query, 8);
        memcpy(&w1, q->query + 8, 8);
        memcpy(&w2, q->query + 16, 8);
        memcpy(&w3, q->query + 24, 8);
        for (Py_ssize_t i = 0; i < n; i++) {
            const uint8_t *code = codes + (size_t)i * 32;
            uint64_t c0, c1, c2, c3;
            memcpy(&c0, code, 8);
            memcpy(&c1, code + 8, 8);
            memcpy(&c2, code + 16, 8);
            memcpy(&c3, code + 24, 8);
            int d = __builtin_popcountll(c0 ^ w0) + __builtin_popcountll(c1 ^ w1) +
                    __builtin_popcountll(c2 ^ w2) + __builtin_popcountll(c3 ^ w3);
            if (d <= radius && alive[i]) emit(q->out, (int32_t)(first_slot + i), d);
        }
        return;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        int d = distance(codes + (size_t)i * q->code_bytes, q->query, q->code_bytes);
        if (d <= radius && alive[i]) emit(q->out, (int32_t)(first_slot + i), d);
    }
}


/*
 * Many queries against every code (a batch at a radius too wide for the tables to pay):
 * the codes pass through the cache in blocks, and each block meets every query before the
 * next is read, so a batch costs one pass over memory instead of one per query. Within a
 * block the first two words of each code are laid out word by word, eight codes to a
 * vector: a code can be within the radius only if its first 128 bits are, which prunes
 * all but a few codes in a thousand at the radii this path is chosen for, and a survivor
 * is checked in full from its own bytes.
 */
#define BLOCK 1024

/* How search() goes through the built part. */
enum { SCAN, TABLES, BATCH_SCAN };

typedef struct {
    Out *outs; /* one per query */
    const uint8_t *codes, *alive, *queries;
    Py_ssize_t n, n_queries;
    int radius;
} Batch;

static inline void check_full(const Batch *b, Py_ssize_t i, Py_ssize_t qi) {
    int d = distance(b->codes + (size_t)i * 32, b->queries + qi * 32, 32);
    if (d <= b->radius && b->alive[i]) emit(&b->outs[qi], (int32_t)i, d);
}

/* The first two words of codes [start, start + m), word by word. */
static inline void load_block(const Batch *b, Py_ssize_t start, Py_ssize_t m, uint64_t *w0,
                              uint64_t *w1) {
    const uint8_t *block = b->codes + (size_t)start * 32;
    for (Py_ssize_t i = 0; i < m; i++) {
        memcpy(&w0[i], block + i * 32, 8);
        memcpy(&w1[i], block + i * 32 + 8, 8);
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
__attribute__((target("avx512f,avx512vpopcntdq,popcnt"))) static void
scan_batch_avx512(const Batch *b) {
    /* On the stack: thread-local buffers cost a lookup per access in a shared library
     * (measured: twice as slow). */
    uint64_t w0[BLOCK] __attribute__((aligned(64)));
    uint64_t w1[BLOCK] __attribute__((aligned(64)));
    uint16_t near[BLOCK];
    const __m512i radius = _mm512_set1_epi64(b->radius);
    for (Py_ssize_t start = 0; start < b->n; start += BLOCK) {
        Py_ssize_t m = b->n - start < BLOCK ? b->n - start : BLOCK;
        load_block(b, start, m, w0, w1);
        /* Past the block's last code, words that no query can come near: all ones and
         * all zeros, 64 bits apart in each, so 128 bits over the pair. */
        Py_ssize_t padded = (m + 7) & ~(Py_ssize_t)7;
        for (Py_ssize_t i = m; i < padded; i++) {
            w0[i] = ~(uint64_t)0;
            w1[i] = 0;
        }
        for (Py_ssize_t qi = 0; qi < b->n_queries; qi++) {
            uint64_t a, c;
            memcpy(&a, b->queries + qi * 32, 8);
            memcpy(&c, b->queries + qi * 32 + 8, 8);
            const __m512i q0 = _mm512_set1_epi64((long long)a), q1 = _mm512_set1_epi64((long long)c);
            int count = 0;
            for (Py_ssize_t i = 0; i < padded; i += 8) {
                __m512i x = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_load_epi64(w0 + i), q0));
                __m512i y = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_load_epi64(w1 + i), q1));
                unsigned hits = _mm512_cmple_epu64_mask(_mm512_add_epi64(x, y), radius);
                while (hits) {
                    near[count++] = (uint16_t)(i + __builtin_ctz(hits));
                    hits &= hits - 1;
                }
            }
            for (int k = 0; k < count; k++)
                if (near[k] < m) check_full(b, start + near[k], qi);
        }
    }
}
#endif

CLONES static void scan_batch_portable(const Batch *b) {
    uint64_t w0[BLOCK], w1[BLOCK];
    for (Py_ssize_t start = 0; start < b->n; start += BLOCK) {
        Py_ssize_t m = b->n - start < BLOCK ? b->n - start : BLOCK;
        load_block(b, start, m, w0, w1);
        for (Py_ssize_t qi = 0; qi < b->n_queries; qi++) {
            uint64_t q0, q1;
            memcpy(&q0, b->queries + qi * 32, 8);
            memcpy(&q1, b->queries + qi * 32 + 8, 8);
            for (Py_ssize_t i = 0; i < m; i++)
                if (__builtin_popcountll(w0[i] ^ q0) + __builtin_popcountll(w1[i] ^ q1) <= b->radius)
                    check_full(b, start + i, qi);
        }
    }
}

/* Whether the batch scan may use AVX-512 where the CPU has it (tests turn it off to
 * check the portable loop on the same machine). */
static int use_vectors = 1;

/* Whether the batch scan runs the AVX-512 loop: allowed, and the CPU has it. */
static int vector_scan(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    return use_vectors && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512vpopcntdq");
#else
    return 0;
#endif
}

static void scan_batch(const Batch *b) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (vector_scan()) {
        scan_batch_avx512(b);
        return;
    }
#endif
    scan_batch_portable(b);
}

static void search_one(Search *q, int use_tables) {
    if (use_tables) {
        int m = q->m, quotient = q->radius / m, rest = q->radius % m;
        for (int t = 0; t < m; t++) {
            const Table *e = &q->tables[t];
            q->qsub[t] = substring(q->query, e->start, e->width);
            int reach = t <= rest ? quotient : quotient - 1;
            q->reach[t] = reach > e->width ? e->width : reach;
        }
        for (int t = 0; t < m; t++) {
            if (q->reach[t] < 0) continue;
            q->t = t;
            probe(q, q->qsub[t], 6, q->reach[t], q->tables[t].width);
            drain(q);
        }
    } else {
        scan(q, q->codes, q->alive, q->built, 0);
    }
    scan(q, q->tail_codes, q->tail_alive, q->tail_n, q->built);
}

static int get(PyObject *obj, Py_buffer *view, int writable) {
    return PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0));
}

/*
 * search(codes, alive, tables, layout, tail_codes, tail_alive, queries, code_bytes, radius,
 *        mode)
 *   mode: SCAN each query over the built part, probe its TABLES, or BATCH_SCAN it once for
 *   all queries (32-byte codes);
 *   codes/alive: the indexed slots [0, built); tables: one (offsets, entries, present) per
 *   substring, over those slots; layout: int32 rows (start bit, width, low bits, slot bits),
 *   one per table;
 *   tail_codes/tail_alive: slots built.. that are scanned one by one.
 * Returns (lims, slots, dists) as bytes: int64 lims[nq + 1], int32 slots and distances;
 * the hits of query i are at [lims[i], lims[i+1]), unordered.
 */
static PyObject *search(PyObject *self, PyObject *args) {
    PyObject *codes_o, *alive_o, *tables_o, *layout_o, *tail_o, *tail_alive_o, *queries_o;
    int code_bytes, radius, mode;
    if (!PyArg_ParseTuple(args, "OOOOOOOiii", &codes_o, &alive_o, &tables_o, &layout_o, &tail_o,
                          &tail_alive_o, &queries_o, &code_bytes, &radius, &mode))
        return NULL;
    if (mode < SCAN || mode > BATCH_SCAN || (mode == BATCH_SCAN && code_bytes != 32)) {
        PyErr_SetString(PyExc_ValueError, "unknown search mode (a batch scan needs 32-byte codes)");
        return NULL;
    }
    enum { CODES, ALIVE, LAYOUT, TAIL, TAIL_ALIVE, QUERIES, FIXED };
    PyObject *objects[FIXED] = {codes_o, alive_o, layout_o, tail_o, tail_alive_o, queries_o};
    Py_buffer views[FIXED + 3 * MAX_TABLES];
    int got = 0;
    PyObject *result = NULL, *seq = NULL;
    Table tables[MAX_TABLES];
    for (; got < FIXED; got++)
        if (get(objects[got], &views[got], 0) < 0) goto done;

    seq = PySequence_Fast(tables_o, "tables must be a sequence");
    if (!seq) goto done;
    int m = (int)PySequence_Fast_GET_SIZE(seq);
    Py_ssize_t n_queries = 0, built = views[ALIVE].len, tail_n = views[TAIL_ALIVE].len;
    int ok = m <= MAX_TABLES && views[LAYOUT].len == (Py_ssize_t)m * 16 && code_bytes > 0 &&
             code_bytes % 8 == 0 && views[CODES].len == built * code_bytes &&
             views[TAIL].len == tail_n * code_bytes && views[QUERIES].len % code_bytes == 0;
    if (ok) n_queries = views[QUERIES].len / code_bytes;
    const int32_t *layout = (const int32_t *)views[LAYOUT].buf;
    for (int t = 0; ok && t < m; t++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(seq, t);
        int start = layout[4 * t], width = layout[4 * t + 1];
        int low_bits = layout[4 * t + 2], slot_bits = layout[4 * t + 3];
        ok = width >= 1 && width <= MAX_WIDTH && start >= 0 && start + width <= code_bytes * 8 &&
             low_bits >= 0 && low_bits <= width && slot_bits >= 1 && slot_bits <= 31 && low_bits + slot_bits <= 32 &&
             built <= ((Py_ssize_t)1 << slot_bits);
        for (int i = 0; ok && i < 3; i++) {
            PyObject *item = PySequence_GetItem(pair, i);
            ok = item && get(item, &views[got], 0) == 0;
            got += ok;
            Py_XDECREF(item);
        }
        if (ok) {
            Py_buffer *v = &views[got - 3];
            tables[t] = (Table){start, width, low_bits, slot_bits, v[0].buf, v[1].buf, v[2].buf};
            ok = v[0].len == (((Py_ssize_t)1 << (width - low_bits)) + 1) * 4 && v[1].len == built * 4 &&
                 v[2].len == (((Py_ssize_t)1 << width) + 63) / 64 * 8;
        }
    }
    if (!ok) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "inconsistent index buffers");
        goto done;
    }

    int64_t *lims = malloc((size_t)(n_queries + 1) * 8);
    if (!lims) {
        PyErr_NoMemory();
        goto done;
    }
    Out out = {NULL, NULL, 0, 0, 0};
    Search q = {.codes = views[CODES].buf, .alive = views[ALIVE].buf, .built = built,
                .tail_codes = views[TAIL].buf, .tail_alive = views[TAIL_ALIVE].buf,
                .tail_n = tail_n, .tables = tables, .m = m, .code_bytes = code_bytes,
                .radius = radius, .out = &out};
    const uint8_t *queries = (const uint8_t *)views[QUERIES].buf;
    Py_BEGIN_ALLOW_THREADS
    lims[0] = 0;
    if (mode == BATCH_SCAN) {
        /* Each query's hits are gathered apart (they arrive block by block), then joined. */
        Out *outs = calloc(n_queries ? (size_t)n_queries : 1, sizeof(Out));
        if (!outs) {
            out.failed = 1;
        } else {
            Batch b = {outs, q.codes, q.alive, queries, built, n_queries, radius};
            scan_batch(&b);
            for (Py_ssize_t i = 0; i < n_queries; i++) {
                q.query = queries + i * code_bytes;
                q.out = &outs[i];
                scan(&q, q.tail_codes, q.tail_alive, q.tail_n, q.built);
                for (size_t h = 0; h < outs[i].count; h++) emit(&out, outs[i].slots[h], outs[i].dists[h]);
                out.failed |= outs[i].failed;
                lims[i + 1] = (int64_t)out.count;
                free(outs[i].slots);
                free(outs[i].dists);
            }
            free(outs);
        }
    } else {
        for (Py_ssize_t i = 0; i < n_queries && !out.failed; i++) {
            q.query = queries + i * code_bytes;
            search_one(&q, mode == TABLES && m > 0 && built > 0);
            lims[i + 1] = (int64_t)out.count;
        }
    }
    Py_END_ALLOW_THREADS
    if (out.failed) {
        PyErr_NoMemory();
    } else {
        result = Py_BuildValue("(y#y#y#)", (const char *)lims, (Py_ssize_t)(n_queries + 1) * 8,
                               out.slots ? (const char *)out.slots : "", (Py_ssize_t)out.count * 4,
                               out.dists ? (const char *)out.dists : "", (Py_ssize_t)out.count * 4);
    }
    free(lims);
    free(out.slots);
    free(out.dists);

done:
    for (int v = 0; v < got; v++) PyBuffer_Release(&views[v]);
    Py_XDECREF(seq);
    return result;
}

/* build(codes, code_bytes, start, width, low_bits, slot_bits, offsets, entries, present): sort the
 * codes' slots by bits [start, start + width) (a counting sort on the whole substring), and
 * pack each entry and the bucket offsets as the search expects. */
static PyObject *build(PyObject *self, PyObject *args) {
    PyObject *codes_o, *offsets_o, *entries_o, *present_o;
    int code_bytes, start, width, low_bits, slot_bits;
    if (!PyArg_ParseTuple(args, "OiiiiiOOO", &codes_o, &code_bytes, &start, &width, &low_bits,
                          &slot_bits, &offsets_o, &entries_o, &present_o))
        return NULL;
    Py_buffer codes, offsets, entries, present;
    if (get(codes_o, &codes, 0) < 0) return NULL;
    if (get(offsets_o, &offsets, 1) < 0) {
        PyBuffer_Release(&codes);
        return NULL;
    }
    if (get(entries_o, &entries, 1) < 0) {
        PyBuffer_Release(&offsets);
        PyBuffer_Release(&codes);
        return NULL;
    }
    if (get(present_o, &present, 1) < 0) {
        PyBuffer_Release(&entries);
        PyBuffer_Release(&offsets);
        PyBuffer_Release(&codes);
        return NULL;
    }
    Py_ssize_t n = entries.len / 4;
    int ok = width >= 1 && width <= MAX_WIDTH && low_bits >= 0 && low_bits <= width &&
             slot_bits >= 1 && slot_bits <= 31 && low_bits + slot_bits <= 32 && n <= ((Py_ssize_t)1 << slot_bits) &&
             code_bytes > 0 && start >= 0 && start + width <= code_bytes * 8 &&
             codes.len == n * code_bytes &&
             offsets.len == (((Py_ssize_t)1 << (width - low_bits)) + 1) * 4 &&
             present.len == (((Py_ssize_t)1 << width) + 63) / 64 * 8;
    uint32_t *count = ok ? calloc(((size_t)1 << width) + 1, 4) : NULL;
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "inconsistent build buffers");
    } else if (!count) {
        PyErr_NoMemory();
    } else {
        const uint8_t *c = (const uint8_t *)codes.buf;
        uint32_t *off = (uint32_t *)offsets.buf, *out = (uint32_t *)entries.buf;
        uint64_t *bits = (uint64_t *)present.buf;
        const uint32_t keys = 1u << width, low_mask = (1u << low_bits) - 1;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < n; i++) count[substring(c + i * code_bytes, start, width) + 1]++;
        memset(bits, 0, present.len);
        for (uint32_t k = 0; k < keys; k++) {
            if (count[k + 1]) bits[k >> 6] |= 1ull << (k & 63);
            count[k + 1] += count[k];
        }
        /* count[k] is now where key k's entries start; bucket b starts where key b << low_bits does. */
        for (uint32_t b = 0; b <= (keys >> low_bits); b++) off[b] = count[(size_t)b << low_bits];
        for (Py_ssize_t i = 0; i < n; i++) {
            uint32_t key = substring(c + i * code_bytes, start, width);
            out[count[key]++] = ((key & low_mask) << slot_bits) | (uint32_t)i;
        }
        Py_END_ALLOW_THREADS
    }
    free(count);
    PyBuffer_Release(&present);
    PyBuffer_Release(&entries);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&codes);
    if (PyErr_Occurred()) return NULL;
    Py_RETURN_NONE;
}

/* Return the allocator's free memory to the system. A merge frees as much as the index
 * holds (the old part, the build's copies), much of it in blocks under the mmap threshold
 * that glibc would otherwise keep, so the process's RSS would stay near the last merge's
 * peak. */
static PyObject *trim(PyObject *self, PyObject *args) {
    (void)self;
    (void)args;
#ifdef __GLIBC__
    Py_BEGIN_ALLOW_THREADS
    malloc_trim(0);
    Py_END_ALLOW_THREADS
#endif
    Py_RETURN_NONE;
}

/* vectors(enabled): allow or forbid the AVX-512 batch scan; returns the previous setting. */
static PyObject *vectors(PyObject *self, PyObject *arg) {
    (void)self;
    int enabled = PyObject_IsTrue(arg);
    if (enabled < 0) return NULL;
    int previous = use_vectors;
    use_vectors = enabled;
    return PyBool_FromLong(previous);
}

/* vectorised(): whether a batch scan now runs the AVX-512 loop. */
static PyObject *vectorised(PyObject *self, PyObject *args) {
    (void)self;
    (void)args;
    return PyBool_FromLong(vector_scan());
}

static PyMethodDef methods[] = {
    {"vectors", vectors, METH_O, "Allow or forbid the AVX-512 batch scan; returns the previous setting."},
    {"vectorised", vectorised, METH_NOARGS, "Whether a batch scan now runs the AVX-512 loop."},
    {"search", search, METH_VARARGS, "Radius search of a batch of queries over tables and tail."},
    {"build", build, METH_VARARGS, "Counting-sort slots by one substring."},
    {"trim", trim, METH_NOARGS, "Return the allocator's free memory to the system."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_mih", NULL, -1, methods};

PyMODINIT_FUNC PyInit__mih(void) {
    fill_balls();
#ifdef __GLIBC__
    /* One malloc arena for every thread, so that trim (after each merge) can give back
     * what a merge frees. Merges run in background and pool threads; glibc gives such
     * threads arenas of their own, and never returns the free memory at the top of
     * those (malloc_trim shrinks only the main heap from the top; the others shrink
     * only when over a trim threshold glibc raises to 64 MiB once it has seen big blocks
     * freed). Measured at 1M codes built in batches with background merges: RSS grew by
     * 97-138 bytes a code over 95.5 of arrays, varying with how merges interleaved,
     * against 97 every time with one arena. Small objects come from Python's own
     * allocator, so the arena's lock is rarely contended: searches and media hashing
     * measured unchanged. */
    mallopt(M_ARENA_MAX, 1);
#endif
    return PyModule_Create(&module);
}
