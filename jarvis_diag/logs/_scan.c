/* The per-line loops of the fast parser (jarvis_diag/logs/fast.py) in one pass each.
 *
 * The numpy path in fast.py does the same work in whole-array steps; this module only
 * makes it cheaper. Both are checked against the reference parser by the tests.
 *
 *   newlines(data) -> (ends, longest)
 *       ends: int64 positions of every b"\n" (as a bytearray); longest: the longest line
 *       in bytes, newline excluded.
 *   scan(data, ends) -> (shape, seconds, codes, firsts)
 *       For each line: shape 1 = backend "YYYY-MM-DD HH:MM:SS,mmm - ", 2 = frontend
 *       "[YYYY-MM-DDTHH:MM:SS.mmmZ] ", 0 = neither; seconds = epoch seconds of the stamp
 *       read as UTC (NaN for shape 0); codes = the number of the line's distinct message
 *       (the bytes from offset 24 to the newline; -1 for shape 0); firsts[k] = the first
 *       line whose message is number k.
 *   compact(data, starts, ends, rows) -> offsets
 *       The lines data[starts[r]:ends[r]] for r in rows (file order) moved, in place, to
 *       the start of the writable buffer: the buffer and the offsets are the values and
 *       offsets of an Arrow large_string array, with no second copy.
 *
 * Each releases the GIL while it runs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KEY_START 24
#define B_WIDTH 26
#define F_WIDTH 27

static PyObject *bytearray_of(Py_ssize_t size, char **out) {
    PyObject *obj = PyByteArray_FromStringAndSize(NULL, size > 0 ? size : 0);
    if (obj != NULL) {
        *out = PyByteArray_AS_STRING(obj);
    }
    return obj;
}

/* ---- newlines ------------------------------------------------------------------------ */

static PyObject *newlines(PyObject *self, PyObject *args) {
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "y*", &data)) {
        return NULL;
    }
    const char *buf = data.buf;
    Py_ssize_t len = data.len, count = 0;
    for (const char *p = buf, *end = buf + len; (p = memchr(p, '\n', end - p)) != NULL; p++) {
        count++;
    }
    char *raw;
    PyObject *ends = bytearray_of(count * 8, &raw);
    if (ends == NULL) {
        PyBuffer_Release(&data);
        return NULL;
    }
    int64_t *out = (int64_t *)raw;
    Py_ssize_t longest = 0;
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t i = 0, start = 0;
    for (const char *p = buf, *end = buf + len; (p = memchr(p, '\n', end - p)) != NULL; p++) {
        Py_ssize_t at = p - buf;
        out[i++] = at;
        if (at - start > longest) {
            longest = at - start;
        }
        start = at + 1;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    return Py_BuildValue("(Nn)", ends, longest);
}

/* ---- scan ---------------------------------------------------------------------------- */

static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* Does the line at p (of length n) have the stamp shape? "d" = digit, others literal. */
static int has_shape(const unsigned char *p, Py_ssize_t n, const char *shape, int width) {
    if (n < width) {
        return 0;
    }
    for (int i = 0; i < width; i++) {
        if (shape[i] == 'd' ? !is_digit(p[i]) : p[i] != (unsigned char)shape[i]) {
            return 0;
        }
    }
    return 1;
}

static int64_t num(const unsigned char *p, int width) {
    int64_t v = 0;
    for (int i = 0; i < width; i++) {
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date, linear in the day (as timegm). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t mp = (m + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Whole epoch seconds of "YYYY-MM-DD?HH:MM:SS" at p into *out; 0 when the date is not one. */
static int whole_seconds(const unsigned char *p, int64_t *out) {
    int64_t y = num(p, 4), mo = num(p + 5, 2), d = num(p + 8, 2);
    if (y < 1 || mo < 1 || mo > 12) {
        return 0;
    }
    *out = days_from_civil(y, mo, d) * 86400 + num(p + 11, 2) * 3600 + num(p + 14, 2) * 60 + num(p + 17, 2);
    return 1;
}

static inline uint64_t hash_bytes(const unsigned char *p, Py_ssize_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, (size_t)n);
    h = (h ^ w) * 0x94D049BB133111EBull;
    return h ^ (h >> 29);
}

typedef struct {
    uint64_t hash;
    int64_t line;  /* first line with this message; -1 = empty slot */
    int32_t code;
} Slot;

typedef struct {
    Slot *slots;
    size_t mask;
    int32_t used;
    int64_t *firsts;
    size_t firsts_cap;
} Table;

static int table_init(Table *t, size_t size) {
    t->slots = malloc(size * sizeof(Slot));
    t->firsts_cap = 1024;
    t->firsts = malloc(t->firsts_cap * sizeof(int64_t));
    if (t->slots == NULL || t->firsts == NULL) {
        return 0;
    }
    for (size_t i = 0; i < size; i++) {
        t->slots[i].line = -1;
    }
    t->mask = size - 1;
    t->used = 0;
    return 1;
}

static int table_grow(Table *t) {
    size_t size = (t->mask + 1) * 2;
    Slot *old = t->slots;
    size_t old_size = t->mask + 1;
    t->slots = malloc(size * sizeof(Slot));
    if (t->slots == NULL) {
        t->slots = old;
        return 0;
    }
    for (size_t i = 0; i < size; i++) {
        t->slots[i].line = -1;
    }
    t->mask = size - 1;
    for (size_t i = 0; i < old_size; i++) {
        if (old[i].line >= 0) {
            size_t j = old[i].hash & t->mask;
            while (t->slots[j].line >= 0) {
                j = (j + 1) & t->mask;
            }
            t->slots[j] = old[i];
        }
    }
    free(old);
    return 1;
}

/* Where the message of line i starts: KEY_START bytes into the line. */
static inline int64_t key_start(const int64_t *ends, int64_t i) { return (i == 0 ? 0 : ends[i - 1] + 1) + KEY_START; }

/* The code of the message at p (n bytes), adding it when new; -2 when out of memory. */
static int32_t table_code(Table *t, const unsigned char *base, const int64_t *ends, int64_t line,
                          const unsigned char *p, Py_ssize_t n) {
    uint64_t h = hash_bytes(p, n);
    size_t j = h & t->mask;
    for (;;) {
        Slot *s = &t->slots[j];
        if (s->line < 0) {
            break;
        }
        if (s->hash == h) {
            int64_t other = s->line;
            const unsigned char *q = base + key_start(ends, other);
            Py_ssize_t m = ends[other] - key_start(ends, other);
            if (m == n && memcmp(p, q, (size_t)n) == 0) {
                return s->code;
            }
        }
        j = (j + 1) & t->mask;
    }
    if ((size_t)t->used >= t->firsts_cap) {
        size_t cap = t->firsts_cap * 2;
        int64_t *f = realloc(t->firsts, cap * sizeof(int64_t));
        if (f == NULL) {
            return -2;
        }
        t->firsts = f;
        t->firsts_cap = cap;
    }
    int32_t code = t->used++;
    t->firsts[code] = line;
    t->slots[j].hash = h;
    t->slots[j].line = line;
    t->slots[j].code = code;
    if ((size_t)t->used * 2 > t->mask + 1 && !table_grow(t)) {
        return -2;
    }
    return code;
}

static PyObject *scan(PyObject *self, PyObject *args) {
    Py_buffer data, ends_buf;
    if (!PyArg_ParseTuple(args, "y*y*", &data, &ends_buf)) {
        return NULL;
    }
    Py_ssize_t n = ends_buf.len / 8;
    const int64_t *ends = ends_buf.buf;
    const unsigned char *base = data.buf;
    char *shape_raw, *sec_raw, *code_raw;
    PyObject *shape = bytearray_of(n, &shape_raw);
    PyObject *seconds = bytearray_of(n * 8, &sec_raw);
    PyObject *codes = bytearray_of(n * 4, &code_raw);
    Table table = {0};
    int ok = shape && seconds && codes && table_init(&table, 1 << 16);
    if (!ok) {
        Py_XDECREF(shape);
        Py_XDECREF(seconds);
        Py_XDECREF(codes);
        free(table.slots);
        free(table.firsts);
        PyBuffer_Release(&data);
        PyBuffer_Release(&ends_buf);
        return PyErr_NoMemory();
    }
    int8_t *shape_of = (int8_t *)shape_raw;
    double *sec = (double *)sec_raw;
    int32_t *code = (int32_t *)code_raw;
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    unsigned char last_stamp[19];
    int64_t last_whole = 0;
    int have_last = 0;
    int64_t start = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const unsigned char *p = base + start;
        Py_ssize_t len = ends[i] - start;
        int kind = 0, at = 0;
        if (has_shape(p, len, "dddd-dd-dd dd:dd:dd,ddd - ", B_WIDTH)) {
            kind = 1;
        } else if (has_shape(p, len, "[dddd-dd-ddTdd:dd:dd.dddZ] ", F_WIDTH)) {
            kind = 2;
            at = 1;
        }
        int64_t whole = 0;
        if (kind) {
            const unsigned char *stamp = p + at;
            /* a stamp differs from the one before only in its milliseconds, most of the time */
            if (have_last && memcmp(stamp, last_stamp, 19) == 0) {
                whole = last_whole;
            } else if (whole_seconds(stamp, &whole)) {
                memcpy(last_stamp, stamp, 19);
                last_whole = whole;
                have_last = 1;
            } else {
                kind = 0;
            }
        }
        shape_of[i] = (int8_t)kind;
        if (kind) {
            sec[i] = (double)whole + (double)num(p + at + 20, 3) / 1000.0;
            int32_t c = table_code(&table, base, ends, i, p + KEY_START, len - KEY_START);
            if (c == -2) {
                failed = 1;
                break;
            }
            code[i] = c;
        } else {
            sec[i] = NAN;
            code[i] = -1;
        }
        start = ends[i] + 1;
    }
    Py_END_ALLOW_THREADS
    free(table.slots);
    PyBuffer_Release(&data);
    PyBuffer_Release(&ends_buf);
    if (failed) {
        free(table.firsts);
        Py_DECREF(shape);
        Py_DECREF(seconds);
        Py_DECREF(codes);
        return PyErr_NoMemory();
    }
    PyObject *firsts = PyByteArray_FromStringAndSize((const char *)table.firsts, (Py_ssize_t)table.used * 8);
    free(table.firsts);
    if (firsts == NULL) {
        Py_DECREF(shape);
        Py_DECREF(seconds);
        Py_DECREF(codes);
        return NULL;
    }
    return Py_BuildValue("(NNNN)", shape, seconds, codes, firsts);
}

/* ---- compact ------------------------------------------------------------------------- */

static PyObject *compact(PyObject *self, PyObject *args) {
    Py_buffer data, starts_buf, ends_buf, rows_buf;
    if (!PyArg_ParseTuple(args, "w*y*y*y*", &data, &starts_buf, &ends_buf, &rows_buf)) {
        return NULL;
    }
    char *base = data.buf;
    const int64_t *starts = starts_buf.buf, *ends = ends_buf.buf, *rows = rows_buf.buf;
    Py_ssize_t m = rows_buf.len / 8, n = ends_buf.len / 8;
    int bad = 0;
    int64_t previous = -1;
    for (Py_ssize_t k = 0; k < m; k++) {
        int64_t r = rows[k];
        /* rows in file order, each inside the data: every line moves down, never over one not yet moved */
        if (r <= previous || r >= n || ends[r] < starts[r] || ends[r] > data.len) {
            bad = 1;
            break;
        }
        previous = r;
    }
    char *off_raw;
    PyObject *offsets = bad ? NULL : bytearray_of((m + 1) * 8, &off_raw);
    if (offsets == NULL) {
        PyBuffer_Release(&data);
        PyBuffer_Release(&starts_buf);
        PyBuffer_Release(&ends_buf);
        PyBuffer_Release(&rows_buf);
        if (bad) {
            PyErr_SetString(PyExc_ValueError, "compact: rows must be increasing and inside the lines");
        }
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    int64_t *off = (int64_t *)off_raw;
    int64_t pos = 0;
    for (Py_ssize_t k = 0; k < m; k++) {
        int64_t r = rows[k];
        int64_t len = ends[r] - starts[r];
        off[k] = pos;
        if (pos != starts[r]) {
            memmove(base + pos, base + starts[r], (size_t)len);
        }
        pos += len;
    }
    off[m] = pos;
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    PyBuffer_Release(&starts_buf);
    PyBuffer_Release(&ends_buf);
    PyBuffer_Release(&rows_buf);
    return offsets;
}

static PyMethodDef methods[] = {
    {"compact", compact, METH_VARARGS, "offsets of the chosen lines moved to the start of the (writable) data."},
    {"newlines", newlines, METH_VARARGS, "(ends, longest) of the bytes: every newline's position."},
    {"scan", scan, METH_VARARGS, "(shape, seconds, codes, firsts) of each line: stamp shape, time, message number."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_scan", "Per-line loops of the fast log parser.", -1,
                                    methods};

PyMODINIT_FUNC PyInit__scan(void) { return PyModule_Create(&module); }
