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
 *   distinct(data, ends, rows) -> (codes, texts)
 *       The lines r in rows (line r ends at ends[r]) numbered by their text: codes[k] =
 *       int32 number of line rows[k]'s text, in the order first met; texts[j] = text number
 *       j (UTF-8 decoded).
 *   gather(data, ends, lines, first, dest) -> offsets
 *       The lines r in lines (file order; line r ends at ends[r]) put one after the other
 *       at the start of dest (None: of the writable data itself, in place, with no second
 *       copy), each one element, or with first (uint8 per line, None: all 1) 0, joined to
 *       the element before with a newline: dest and the offsets are the values and offsets
 *       of an Arrow large_string array.
 *   clean(data, max_line, in_place) -> (text, bad_lines, long_lines)
 *       Bytes that end in a newline as clean UTF-8 text, with the reference parser's rules:
 *       undecodable bytes as U+FFFD (as Python's decoder with errors="replace"), carriage
 *       returns before a newline dropped, each line cut to max_line characters, NULs
 *       dropped; bad_lines: lines (as cut) that had a NUL or a U+FFFD; long_lines: lines
 *       cut. in_place: the data, a bytearray, becomes the text when it is valid UTF-8.
 *   strip_codes(data) -> count
 *       The terminal colour codes (ECMA-48 CSI sequences, ESC [ ... final byte) removed from
 *       a bytearray, in place; how many there were.
 *   plain(data, ends, rows) -> kinds
 *       For the lines r in rows (no stamp): int8 1 (indented) or 2 when the bytes alone
 *       tell that the line has no prefix of any format and is not blank, else 0.
 *   copy_segments(dest, src, dest_at, src_at, lengths)
 *       Copy lengths[k] bytes from src[src_at[k]] to dest[dest_at[k]] for every k (int64
 *       arrays): the values of an Arrow string array put in another order.
 *   touch(buffer)
 *       Zero one byte per page of a fresh buffer: its memory is taken now, on this thread.
 *   prefix_cuts(data, ends, shape) -> (cuts, codes, services)
 *       For each line (line r ends at ends[r]), the length of the log collector's prefix
 *       that starts it, as jarvis_diag/logs/prefixed.py's pattern of that shape matches it:
 *       shape 0 docker (an RFC 3339 time and a space), 1 compose ("<service> *| " and maybe
 *       a time), 2 kubectl ("[pod/...] " and maybe a time), 3 journal ("<time> [<host> ]
 *       <identifier>[[<pid>]]: "); int64, 0 for no prefix. codes: int32, the number of the
 *       line's service (-1: no prefix) among services, their bytes in the order first met
 *       (the journal's: host, a space and identifier, or the identifier alone); services
 *       is None past 256 of them.
 *   prefix_stamps(data, ends, lines, shape) -> (seconds, wraps)
 *       The time in the prefix of each line r in lines (shape as for prefix_cuts), float64
 *       seconds as jarvis_diag/logs/prefixed.py reads it (NaN for none); wraps: some are
 *       times of day (journalctl's short output).
 *   join_cut(data, ends, cuts, lines) -> text
 *       The lines r in lines (file order) without their first cuts[r] bytes, each followed
 *       by a newline, one after the other.
 *   Stream(fd, size, max_line)
 *       newlines() and scan() of a file while it is read, its distinct messages handed out
 *       as they are found (see the Stream section).
 *
 * Each releases the GIL while it runs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

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

/* The last stamp converted: a stamp differs from the one before only in its milliseconds,
 * most of the time. */
typedef struct {
    unsigned char last[19];
    int64_t whole;
    int have;
} Stamps;

/* The stamp shape of the line at p (1 backend, 2 frontend, 0 neither) and its epoch
 * seconds read as UTC into *sec (NaN for 0). */
static int line_stamp(Stamps *st, const unsigned char *p, Py_ssize_t len, double *sec) {
    int kind = 0, at = 0;
    if (has_shape(p, len, "dddd-dd-dd dd:dd:dd,ddd - ", B_WIDTH)) {
        kind = 1;
    } else if (has_shape(p, len, "[dddd-dd-ddTdd:dd:dd.dddZ] ", F_WIDTH)) {
        kind = 2;
        at = 1;
    }
    if (kind) {
        const unsigned char *stamp = p + at;
        int64_t whole = 0;
        if (st->have && memcmp(stamp, st->last, 19) == 0) {
            whole = st->whole;
        } else if (whole_seconds(stamp, &whole)) {
            memcpy(st->last, stamp, 19);
            st->whole = whole;
            st->have = 1;
        } else {
            *sec = NAN;
            return 0;
        }
        *sec = (double)whole + (double)num(p + at + 20, 3) / 1000.0;
        return kind;
    }
    *sec = NAN;
    return 0;
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
    int64_t offset; /* a line's key starts this many bytes into it */
    int32_t used;
    int64_t *firsts;
    size_t firsts_cap;
} Table;

static int table_init(Table *t, size_t size, int64_t offset) {
    t->offset = offset;
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

/* Where line i starts, and where its message starts: KEY_START bytes into the line. */
static inline int64_t line_start(const int64_t *ends, int64_t i) { return i == 0 ? 0 : ends[i - 1] + 1; }
static inline int64_t key_start(const int64_t *ends, int64_t i) { return line_start(ends, i) + KEY_START; }

/* Whether a row of ``rows`` (m of them) is no line of ``ends`` (n of them) within ``len`` bytes. */
static int rows_out_of(const int64_t *ends, Py_ssize_t n, const int64_t *rows, Py_ssize_t m, Py_ssize_t len) {
    for (Py_ssize_t k = 0; k < m; k++) {
        if (rows[k] < 0 || rows[k] >= n || ends[rows[k]] < line_start(ends, rows[k]) || ends[rows[k]] > len) {
            return 1;
        }
    }
    return 0;
}

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
            const unsigned char *q = base + line_start(ends, other) + t->offset;
            Py_ssize_t m = ends[other] - (line_start(ends, other) + t->offset);
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
    char *shape_raw = NULL, *sec_raw = NULL, *code_raw = NULL;
    PyObject *shape = bytearray_of(n, &shape_raw);
    PyObject *seconds = bytearray_of(n * 8, &sec_raw);
    PyObject *codes = bytearray_of(n * 4, &code_raw);
    Table table = {0};
    int ok = shape && seconds && codes && table_init(&table, 1 << 16, KEY_START);
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
    Stamps stamps = {0};
    int64_t start = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const unsigned char *p = base + start;
        Py_ssize_t len = ends[i] - start;
        int kind = line_stamp(&stamps, p, len, &sec[i]);
        shape_of[i] = (int8_t)kind;
        if (kind) {
            int32_t c = table_code(&table, base, ends, i, p + KEY_START, len - KEY_START);
            if (c == -2) {
                failed = 1;
                break;
            }
            code[i] = c;
        } else {
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

/* ---- distinct ------------------------------------------------------------------------ */

static PyObject *distinct(PyObject *self, PyObject *args) {
    Py_buffer data, ends_buf, rows_buf;
    if (!PyArg_ParseTuple(args, "y*y*y*", &data, &ends_buf, &rows_buf)) {
        return NULL;
    }
    const int64_t *ends = ends_buf.buf, *rows = rows_buf.buf;
    Py_ssize_t m = rows_buf.len / 8, n = ends_buf.len / 8;
    int bad = rows_out_of(ends, n, rows, m, data.len);
    char *code_raw;
    PyObject *codes = bad ? NULL : bytearray_of(m * 4, &code_raw);
    Table table = {0};
    int failed = codes == NULL || !table_init(&table, 1 << 12, 0);
    if (!failed) {
        int32_t *code = (int32_t *)code_raw;
        const unsigned char *base = data.buf;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t k = 0; k < m; k++) {
            int64_t start = line_start(ends, rows[k]);
            code[k] = table_code(&table, base, ends, rows[k], base + start, ends[rows[k]] - start);
            if (code[k] == -2) {
                failed = 1;
                break;
            }
        }
        Py_END_ALLOW_THREADS
    }
    PyObject *texts = failed ? NULL : PyList_New(table.used);
    for (int32_t j = 0; texts != NULL && j < table.used; j++) {
        int64_t line = table.firsts[j], start = line_start(ends, line);
        PyObject *text = PyUnicode_DecodeUTF8((const char *)data.buf + start, ends[line] - start, NULL);
        if (text == NULL) {
            Py_CLEAR(texts);
            break;
        }
        PyList_SET_ITEM(texts, j, text);
    }
    free(table.slots);
    free(table.firsts);
    PyBuffer_Release(&data);
    PyBuffer_Release(&ends_buf);
    PyBuffer_Release(&rows_buf);
    if (texts == NULL) {
        Py_XDECREF(codes);
        if (bad) {
            PyErr_SetString(PyExc_ValueError, "distinct: rows must be lines of the data");
        } else if (!PyErr_Occurred()) {
            PyErr_NoMemory();
        }
        return NULL;
    }
    return Py_BuildValue("(NN)", codes, texts);
}

/* ---- gather --------------------------------------------------------------------------- */

static PyObject *gather(PyObject *self, PyObject *args) {
    Py_buffer src, ends_buf, lines_buf, first_buf = {0}, dest = {0};
    PyObject *first_obj, *dest_obj;
    if (!PyArg_ParseTuple(args, "y*y*y*OO", &src, &ends_buf, &lines_buf, &first_obj, &dest_obj)) {
        return NULL;
    }
    int ok = first_obj == Py_None || PyObject_GetBuffer(first_obj, &first_buf, PyBUF_SIMPLE) == 0;
    int in_place = dest_obj == Py_None;
    ok = ok && PyObject_GetBuffer(in_place ? src.obj : dest_obj, &dest, PyBUF_WRITABLE) == 0;
    const int64_t *ends = ends_buf.buf, *lines = lines_buf.buf;
    const uint8_t *first = first_buf.buf;
    Py_ssize_t m = lines_buf.len / 8, n = ends_buf.len / 8;
    /* lines in file order, each inside the data; the elements' bytes fit in dest (in place,
     * every line moves down and never over one not yet moved) */
    int bad = ok && (first != NULL && first_buf.len != m);
    int64_t previous = -1, size = 0, elements = 0;
    for (Py_ssize_t k = 0; ok && !bad && k < m; k++) {
        int64_t r = lines[k];
        bad = r <= previous || r >= n || ends[r] < line_start(ends, r) || ends[r] > src.len;
        previous = r;
        int starts = k == 0 || first == NULL || first[k];
        elements += starts;
        size += ends[r] - line_start(ends, r) + !starts;
    }
    bad = bad || (ok && size > dest.len);
    char *off_raw = NULL;
    PyObject *offsets = ok && !bad ? bytearray_of((elements + 1) * 8, &off_raw) : NULL;
    if (offsets != NULL) {
        Py_BEGIN_ALLOW_THREADS
        int64_t *off = (int64_t *)off_raw;
        const char *from = src.buf;
        char *to = dest.buf;
        int64_t pos = 0, e = 0;
        for (Py_ssize_t k = 0; k < m; k++) {
            int64_t r = lines[k];
            int64_t start = line_start(ends, r);
            int64_t len = ends[r] - start;
            if (k == 0 || first == NULL || first[k]) {
                off[e++] = pos;
            } else {
                to[pos++] = '\n';
            }
            if (to + pos != from + start) {
                memmove(to + pos, from + start, (size_t)len);
            }
            pos += len;
        }
        off[e] = pos;
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&src);
    PyBuffer_Release(&ends_buf);
    PyBuffer_Release(&lines_buf);
    if (first_buf.obj != NULL) {
        PyBuffer_Release(&first_buf);
    }
    if (dest.obj != NULL) {
        PyBuffer_Release(&dest);
    }
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "gather: lines must be increasing lines of the data, and fit in dest");
    }
    return offsets;
}


/* ---- prefix_cuts, join_cut ------------------------------------------------------------- */


static inline int digits(const unsigned char *p, const unsigned char *end, int count) {
    if (end - p < count) {
        return 0;
    }
    for (int k = 0; k < count; k++) {
        if (!is_digit(p[k])) {
            return 0;
        }
    }
    return 1;
}

/* The length of \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d) at p, 0
 * for none (its groups never need to give back what they took: one way to match) */
static Py_ssize_t rfc3339(const unsigned char *p, const unsigned char *end) {
    static const char form[] = "0000-00-00T00:00:00";
    const unsigned char *q = p;
    for (int k = 0; form[k]; k++, q++) {
        if (q >= end || (form[k] == '0' ? !is_digit(*q) : *q != (unsigned char)form[k])) {
            return 0;
        }
    }
    if (q < end && (*q == '.' || *q == ',') && q + 1 < end && is_digit(q[1])) {
        int n = 0;
        while (q + 1 + n < end && n < 9 && is_digit(q[1 + n])) {
            n++;
        }
        q += 1 + n;
    }
    if (q < end && *q == 'Z') {
        return q + 1 - p;
    }
    if (q < end && (*q == '+' || *q == '-') && digits(q + 1, end, 2)) {
        q += 3;
        if (q < end && *q == ':' && digits(q + 1, end, 2)) {
            return q + 3 - p;
        }
        if (digits(q, end, 2)) {
            return q + 2 - p;
        }
    }
    return 0;
}

/* a time and a space, if there are: their length (?:RFC3339 )? */
static Py_ssize_t optional_time(const unsigned char *p, const unsigned char *end) {
    Py_ssize_t t = rfc3339(p, end);
    return t && p + t < end && p[t] == ' ' ? t + 1 : 0;
}

static inline int is_word(unsigned char c) {
    return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static inline int is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* ---- journalctl's prefix: <time> [<host> ]<identifier>[[<pid>]]: (prefixed.py's SHAPES["journal"]) */

static inline int is_name(unsigned char c) { return !is_space(c) && c != ':' && c != '[' && c != ']'; }

static inline Py_ssize_t run_of_digits(const unsigned char *p, const unsigned char *end) {
    const unsigned char *q = p;
    while (q < end && is_digit(*q)) {
        q++;
    }
    return q - p;
}

/* (?:\.\d{1,6})? at p: its length (what follows it decides whether the line matches: a
 * seventh digit, or a dot with none, fails whatever the group gives back) */
static Py_ssize_t fraction6(const unsigned char *p, const unsigned char *end) {
    if (p < end && *p == '.' && p + 1 < end && is_digit(p[1])) {
        Py_ssize_t n = run_of_digits(p + 1, end);
        return 1 + (n > 6 ? 6 : n);
    }
    return 0;
}

/* a fixed form at p ('0' a digit, else that byte): 1 when it is there */
static int form_at(const char *form, const unsigned char *p, const unsigned char *end) {
    for (int k = 0; form[k]; k++) {
        if (p + k >= end || (form[k] == '0' ? !is_digit(p[k]) : p[k] != (unsigned char)form[k])) {
            return 0;
        }
    }
    return 1;
}

/* [^\s\d]{2,8} and a space at p: the length of the word (0: none) */
static Py_ssize_t day_name(const unsigned char *p, const unsigned char *end) {
    const unsigned char *q = p;
    while (q < end && !is_space(*q) && !is_digit(*q)) {
        q++;
    }
    Py_ssize_t n = q - p;
    return n >= 2 && n <= 8 && q < end && *q == ' ' ? n : 0;
}

/* (?:\[\d+\])?: and a space at p: where the prefix ends (NULL: it does not) */
static const unsigned char *identifier_end(const unsigned char *p, const unsigned char *end) {
    if (p < end && *p == '[') {
        Py_ssize_t d = run_of_digits(p + 1, end);
        const unsigned char *q = p + 2 + d;
        if (d > 0 && p + 1 + d < end && p[1 + d] == ']' && q + 1 < end && q[0] == ':' && q[1] == ' ') {
            return q + 2;
        }
    }
    return p + 1 < end && p[0] == ':' && p[1] == ' ' ? p + 2 : NULL;
}

/* " (?:host )?identifier(?:\[\d+\])?: " at p: where the prefix ends (NULL: it does not), the
 * service (host, a space and identifier, or the identifier alone: no name holds a space) */
static const unsigned char *journal_rest(const unsigned char *p, const unsigned char *end,
                                         const unsigned char **service, Py_ssize_t *service_len) {
    if (p >= end || *p != ' ') {
        return NULL;
    }
    const unsigned char *first = ++p;
    while (p < end && is_name(*p)) {
        p++;
    }
    if (p == first) {
        return NULL;
    }
    if (p < end && *p == ' ') {  /* a host, then the identifier */
        const unsigned char *ident = p + 1, *q = ident;
        while (q < end && is_name(*q)) {
            q++;
        }
        const unsigned char *done = q > ident ? identifier_end(q, end) : NULL;
        if (done != NULL) {
            *service = first;
            *service_len = q - first;
            return done;
        }
    }
    const unsigned char *done = identifier_end(p, end);
    if (done != NULL) {
        *service = first;
        *service_len = p - first;
    }
    return done;
}

/* the journal's prefix at p: its length (0: none), its service, where its time starts and
 * which it is (1 iso, 2 a date and time with a zone's name, 3 a time of day, 4 unix, 5 a
 * boot's clock); the alternatives in the pattern's order, the first whose rest matches */
static Py_ssize_t journal_at(const unsigned char *p, const unsigned char *end, const unsigned char **service,
                             Py_ssize_t *service_len, const unsigned char **time, int *kind) {
    const unsigned char *done;
    /* iso: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:?\d\d) */
    if (form_at("0000-00-00T00:00:00", p, end)) {
        const unsigned char *q = p + 19;
        q += fraction6(q, end);
        const unsigned char *z = NULL;
        if (q < end && *q == 'Z') {
            z = q + 1;
        } else if (q < end && (*q == '+' || *q == '-') && digits(q + 1, end, 2)) {
            if (q + 3 < end && q[3] == ':' && digits(q + 4, end, 2)) {
                z = q + 6;
            } else if (digits(q + 3, end, 2)) {
                z = q + 5;
            }
        }
        if (z != NULL && (done = journal_rest(z, end, service, service_len)) != NULL) {
            *time = p;
            *kind = 1;
            return done - p;
        }
    }
    Py_ssize_t name = day_name(p, end);
    if (name) {
        /* a date and time with a zone's name: [^\s\d]{2,8} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})? [^\s:\[\]]+ */
        const unsigned char *at = p + name + 1;
        if (form_at("0000-00-00 00:00:00", at, end)) {
            const unsigned char *q = at + 19;
            q += fraction6(q, end);
            if (q < end && *q == ' ') {
                const unsigned char *zone = ++q;
                while (q < end && is_name(*q)) {
                    q++;
                }
                if (q > zone && (done = journal_rest(q, end, service, service_len)) != NULL) {
                    *time = at;
                    *kind = 2;
                    return done - p;
                }
            }
        }
        /* a time of day: [^\s\d]{2,8} [ \d]?\d \d\d:\d\d:\d\d(?:\.\d{1,6})? */
        for (int wide = 1; wide >= 0; wide--) {
            const unsigned char *q = at;
            if (wide && !(q < end && (*q == ' ' || is_digit(*q)))) {
                continue;
            }
            q += wide;
            if (!(q < end && is_digit(*q)) || !form_at(" 00:00:00", q + 1, end)) {
                continue;
            }
            const unsigned char *clock = q + 2;
            q = clock + 8;
            q += fraction6(q, end);
            if ((done = journal_rest(q, end, service, service_len)) != NULL) {
                *time = clock;
                *kind = 3;
                return done - p;
            }
        }
    }
    /* unix: \d{9,11}\.\d{6} */
    Py_ssize_t whole = run_of_digits(p, end);
    if (whole >= 9 && whole <= 11 && p + whole < end && p[whole] == '.' && digits(p + whole + 1, end, 6) &&
        (done = journal_rest(p + whole + 7, end, service, service_len)) != NULL) {
        *time = p;
        *kind = 4;
        return done - p;
    }
    /* a boot's clock: \[ *\d+\.\d{6}\] */
    if (p < end && *p == '[') {
        const unsigned char *q = p + 1;
        while (q < end && *q == ' ') {
            q++;
        }
        const unsigned char *clock = q;
        Py_ssize_t d = run_of_digits(q, end);
        q += d;
        if (d > 0 && q < end && *q == '.' && digits(q + 1, end, 6) && q + 7 < end && q[7] == ']' &&
            (done = journal_rest(q + 8, end, service, service_len)) != NULL) {
            *time = clock;
            *kind = 5;
            return done - p;
        }
    }
    return 0;
}

/* The prefix of shape at p (see prefix_cuts): its length (0: none) and its service's bytes */
static Py_ssize_t prefix_at(int shape, const unsigned char *p, const unsigned char *end,
                            const unsigned char **service, Py_ssize_t *service_len, const unsigned char **time,
                            int *kind) {
    const unsigned char *q = p;
    *service = p;
    *service_len = 0;
    *time = NULL;
    *kind = 1;
    if (shape == 3) {
        return journal_at(p, end, service, service_len, time, kind);
    }
    if (shape == 0) {
        Py_ssize_t t = rfc3339(p, end);
        *time = p;
        return t && p + t < end && p[t] == ' ' ? t + 1 : 0;
    }
    if (shape == 1) {  /* [A-Za-z0-9][\w.-]* *\| */
        if (q >= end || !(is_word(*q) && *q != '_')) {
            return 0;
        }
        while (q < end && (is_word(*q) || *q == '.' || *q == '-')) {
            q++;
        }
        *service_len = q - p;
        while (q < end && *q == ' ') {
            q++;
        }
        if (end - q < 2 || q[0] != '|' || q[1] != ' ') {
            return 0;
        }
        q += 2;
        Py_ssize_t t = optional_time(q, end);
        *time = t ? q : NULL;
        return q + t - p;
    }
    /* \[pod/[^\s\]]+\] */
    if (end - q < 6 || memcmp(q, "[pod/", 5) != 0 || is_space(q[5]) || q[5] == ']') {
        return 0;
    }
    q += 5;
    while (q < end && !is_space(*q) && *q != ']') {
        q++;
    }
    if (end - q < 2 || q[0] != ']' || q[1] != ' ') {
        return 0;
    }
    *service = p + 1;
    *service_len = q - p - 1;
    q += 2;
    Py_ssize_t t = optional_time(q, end);
    *time = t ? q : NULL;
    return q + t - p;
}

/* The RFC 3339 time at p (rfc3339() said it is one) as epoch seconds, as prefixed.py's
 * _iso_seconds gives them: the whole seconds (calendar.timegm's: NaN for year 0 or a month
 * not 1 to 12, a day or hour past its end counted on), the zone taken off them, then the
 * fraction added (its digits over a power of ten) */
static double rfc3339_seconds(const unsigned char *p) {
    int64_t whole;
    if (!whole_seconds(p, &whole)) {
        return NAN;
    }
    const unsigned char *q = p + 19;
    int64_t frac = 0;
    int n = 0;
    if (*q == '.' || *q == ',') {
        while (n < 9 && is_digit(q[1 + n])) {
            n++;
        }
        frac = num(q + 1, n);
        q += 1 + n;
    }
    if (*q == '+' || *q == '-') {
        int64_t zone = num(q + 1, 2) * 3600 + num(q + (q[3] == ':' ? 4 : 3), 2) * 60;
        whole -= *q == '-' ? -zone : zone;
    }
    static const double scale[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    return (double)whole + (n ? (double)frac / scale[n] : 0.0);
}

#define MAX_SERVICES 256

static PyObject *prefix_cuts(PyObject *self, PyObject *args) {
    Py_buffer data, ends_buf;
    int shape;
    if (!PyArg_ParseTuple(args, "y*y*i", &data, &ends_buf, &shape)) {
        return NULL;
    }
    const int64_t *ends = ends_buf.buf;
    Py_ssize_t n = ends_buf.len / 8;
    int bad = shape < 0 || shape > 3;
    for (Py_ssize_t r = 0; !bad && r < n; r++) {
        bad = ends[r] < line_start(ends, r) || ends[r] > data.len;
    }
    char *raw = NULL, *raw_codes = NULL;
    PyObject *cuts = bad ? NULL : bytearray_of(n * 8, &raw);
    PyObject *codes = cuts == NULL ? NULL : bytearray_of(n * 4, &raw_codes);
    const unsigned char *service_at[MAX_SERVICES];
    Py_ssize_t service_size[MAX_SERVICES];
    int count = 0;
    if (codes != NULL) {
        Py_BEGIN_ALLOW_THREADS
        int64_t *out = (int64_t *)raw;
        int32_t *code = (int32_t *)raw_codes;
        const unsigned char *buf = data.buf;
        int last = -1;  /* (the service of the line before: most often this one's) */
        for (Py_ssize_t r = 0; r < n; r++) {
            const unsigned char *service, *time;
            Py_ssize_t service_len;
            int kind;
            Py_ssize_t cut = prefix_at(shape, buf + line_start(ends, r), buf + ends[r], &service, &service_len, &time,
                                       &kind);
            int c = -1;
            if (cut && count <= MAX_SERVICES) {
                if (last >= 0 && service_size[last] == service_len && memcmp(service_at[last], service, (size_t)service_len) == 0) {
                    c = last;
                }
                for (int k = 0; c < 0 && k < count; k++) {
                    if (service_size[k] == service_len && memcmp(service_at[k], service, (size_t)service_len) == 0) {
                        c = k;
                    }
                }
                if (c < 0 && count < MAX_SERVICES) {
                    service_at[count] = service;
                    service_size[count] = service_len;
                    c = count++;
                } else if (c < 0) {
                    count = MAX_SERVICES + 1;  /* (too many: told apart one line at a time) */
                }
                last = c;
            }
            out[r] = cut;
            code[r] = c;
        }
        Py_END_ALLOW_THREADS
    }
    PyObject *services = NULL;
    if (codes != NULL && count <= MAX_SERVICES) {
        services = PyList_New(count);
        for (int k = 0; services != NULL && k < count; k++) {
            PyObject *name = PyBytes_FromStringAndSize((const char *)service_at[k], service_size[k]);
            if (name == NULL) {
                Py_CLEAR(services);
            } else {
                PyList_SET_ITEM(services, k, name);
            }
        }
    } else if (codes != NULL) {
        services = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&data);
    PyBuffer_Release(&ends_buf);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "prefix_cuts: lines must lie in the data, shape 0 to 3");
    }
    if (services == NULL) {
        Py_XDECREF(cuts);
        Py_XDECREF(codes);
        return NULL;
    }
    return Py_BuildValue("(NNN)", cuts, codes, services);
}

/* the decimal number p[0..n) as Python's float() reads it (NaN: none) */
static double decimal(const unsigned char *p, Py_ssize_t n) {
    char text[32];
    if (n <= 0 || n >= (Py_ssize_t)sizeof(text)) {
        return NAN;
    }
    memcpy(text, p, (size_t)n);
    text[n] = 0;
    double v = PyOS_string_to_double(text, NULL, NULL);
    if (v == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return NAN;
    }
    return v;
}

/* the length of \d+(?:\.\d+)? at p */
static Py_ssize_t number_length(const unsigned char *p, const unsigned char *end) {
    Py_ssize_t n = run_of_digits(p, end);
    if (p + n < end && p[n] == '.') {
        n += 1 + run_of_digits(p + n + 1, end);
    }
    return n;
}

static PyObject *prefix_stamps(PyObject *self, PyObject *args) {
    Py_buffer data, ends_buf, lines_buf;
    int shape;
    if (!PyArg_ParseTuple(args, "y*y*y*i", &data, &ends_buf, &lines_buf, &shape)) {
        return NULL;
    }
    const int64_t *ends = ends_buf.buf, *lines = lines_buf.buf;
    Py_ssize_t n = ends_buf.len / 8, m = lines_buf.len / 8;
    int bad = shape < 0 || shape > 3;
    for (Py_ssize_t k = 0; !bad && k < m; k++) {
        bad = lines[k] < 0 || lines[k] >= n || ends[lines[k]] < line_start(ends, lines[k]) || ends[lines[k]] > data.len;
    }
    char *raw = NULL;
    PyObject *out = bad ? NULL : bytearray_of(m * 8, &raw);
    int wraps = 0;
    if (out != NULL) {  /* (with the GIL: float() reads the decimals) */
        double *seconds = (double *)raw;
        const unsigned char *buf = data.buf;
        for (Py_ssize_t k = 0; k < m; k++) {
            const unsigned char *service, *time, *end = buf + ends[lines[k]];
            Py_ssize_t service_len;
            int kind;
            Py_ssize_t cut = prefix_at(shape, buf + line_start(ends, lines[k]), end, &service, &service_len, &time,
                                       &kind);
            double v = NAN;
            if (cut && time != NULL) {
                if (kind <= 2) {  /* (a date with a zone's name: read as UTC, only differences count) */
                    v = rfc3339_seconds(time);
                } else if (kind == 3) {  /* hh:mm:ss[.ffffff] */
                    wraps = 1;
                    v = (double)(num(time, 2) * 3600 + num(time + 3, 2) * 60) +
                        decimal(time + 6, number_length(time + 6, end));
                } else {
                    v = decimal(time, number_length(time, end));
                }
            }
            seconds[k] = v;
        }
    }
    PyBuffer_Release(&data);
    PyBuffer_Release(&ends_buf);
    PyBuffer_Release(&lines_buf);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "prefix_stamps: lines must be lines of the data, shape 0 to 3");
        return NULL;
    }
    if (out == NULL) {
        return NULL;
    }
    return Py_BuildValue("(NO)", out, wraps ? Py_True : Py_False);
}

static PyObject *join_cut(PyObject *self, PyObject *args) {
    Py_buffer data, ends_buf, cuts_buf, lines_buf;
    if (!PyArg_ParseTuple(args, "y*y*y*y*", &data, &ends_buf, &cuts_buf, &lines_buf)) {
        return NULL;
    }
    const int64_t *ends = ends_buf.buf, *cuts = cuts_buf.buf, *lines = lines_buf.buf;
    Py_ssize_t n = ends_buf.len / 8, m = lines_buf.len / 8;
    int bad = cuts_buf.len != ends_buf.len;
    int64_t size = 0, previous = -1;
    for (Py_ssize_t k = 0; !bad && k < m; k++) {
        int64_t r = lines[k];
        bad = r <= previous || r >= n || ends[r] < line_start(ends, r) || ends[r] > data.len || cuts[r] < 0 ||
              cuts[r] > ends[r] - line_start(ends, r);
        previous = r;
        if (!bad) {
            size += ends[r] - line_start(ends, r) - cuts[r] + 1;
        }
    }
    char *raw = NULL;
    PyObject *text = bad ? NULL : bytearray_of(size, &raw);
    if (text != NULL) {
        Py_BEGIN_ALLOW_THREADS
        const char *buf = data.buf;
        int64_t pos = 0;
        for (Py_ssize_t k = 0; k < m; k++) {
            int64_t r = lines[k];
            int64_t start = line_start(ends, r) + cuts[r];
            memcpy(raw + pos, buf + start, (size_t)(ends[r] - start));
            pos += ends[r] - start;
            raw[pos++] = '\n';
        }
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&data);
    PyBuffer_Release(&ends_buf);
    PyBuffer_Release(&cuts_buf);
    PyBuffer_Release(&lines_buf);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "join_cut: lines must be increasing lines of the data, cuts inside them");
    }
    return text;
}

/* ---- clean ---------------------------------------------------------------------------- */

static inline int is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

static const unsigned char REPLACEMENT[4] = {0xEF, 0xBF, 0xBD, 0}; /* U+FFFD */
static uint32_t REPLACEMENT_WORD; /* (its bytes as the machine stores a word) */

/* Does the UTF-8 text p[0..n) hold a U+FFFD? */
static int has_replacement(const unsigned char *p, Py_ssize_t n) {
    const unsigned char *end = p + n;
    while ((p = memchr(p, 0xEF, (size_t)(end - p))) != NULL) {
        if (end - p >= 3 && p[1] == 0xBF && p[2] == 0xBD) {
            return 1;
        }
        p++;
    }
    return 0;
}

/* Per lead byte: how many bytes its character has (0: none, the byte is no character's
 * start), and the range of the byte after it. Per (width, which of the three bytes after the
 * lead fit, as bits): how many bytes the step takes, and whether they are a character. */
static uint8_t UTF8_WIDTH[256], UTF8_LO[256], UTF8_SPAN[256], UTF8_TAKE[40], UTF8_VALID[40];

/* The same decoding one byte at a time, for text that is mostly not UTF-8 (binary data): a
 * state (0: between characters; 1 to 10: in one, see utf8_tables) and a byte give an entry:
 * the next state (bits 0-3); the character begun is no character (bit 4): its bytes, written
 * already (bits 5-6), become one U+FFFD and the byte starts anew; the byte is no character's
 * start (bit 7): it becomes one U+FFFD. */
#define UTF8_STATES 11
static uint8_t UTF8_NEXT[UTF8_STATES][256];

static void utf8_tables(void) {
    memcpy(&REPLACEMENT_WORD, REPLACEMENT, 4);
    for (int c = 0; c < 256; c++) {
        UTF8_WIDTH[c] = c < 0x80 ? 1 : c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
        UTF8_LO[c] = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
        UTF8_SPAN[c] = (c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF) - UTF8_LO[c];
    }
    for (int w = 0; w <= 4; w++) {
        for (int fit = 0; fit < 8; fit++) {
            int good = 0; /* how many bytes after the lead fit, in a row */
            while (good < 3 && (fit >> good) & 1) {
                good++;
            }
            int valid = w == 1 || (w >= 2 && good >= w - 1);
            UTF8_VALID[w * 8 + fit] = (uint8_t)valid;
            /* not valid: the lead and the bytes after it that fit, as Python's decoder cuts them */
            UTF8_TAKE[w * 8 + fit] = (uint8_t)(valid ? w : w <= 1 ? 1 : 1 + (good < w - 1 ? good : w - 1));
        }
    }
    /* in a character: bytes of it written, the range of the next byte, the state after it */
    static const uint8_t written[UTF8_STATES] = {0, 1, 1, 1, 1, 2, 1, 1, 1, 2, 3};
    static const uint8_t lo[UTF8_STATES] = {0, 0x80, 0xA0, 0x80, 0x80, 0x80, 0x90, 0x80, 0x80, 0x80, 0x80};
    static const uint8_t hi[UTF8_STATES] = {0, 0xBF, 0xBF, 0xBF, 0x9F, 0xBF, 0xBF, 0xBF, 0x8F, 0xBF, 0xBF};
    static const uint8_t then[UTF8_STATES] = {0, 0, 5, 5, 5, 0, 9, 9, 9, 10, 0};
    for (int b = 0; b < 256; b++) {
        /* from state 0: the state a byte begins, or 0 with bit 7 for a byte no character starts with */
        int start = b < 0x80 ? 0 : b < 0xC2 ? 0x80 : b < 0xE0 ? 1 : b == 0xE0 ? 2 : b == 0xED ? 4 : b < 0xF0 ? 3
                  : b == 0xF0 ? 6 : b < 0xF4 ? 7 : b == 0xF4 ? 8 : 0x80;
        UTF8_NEXT[0][b] = (uint8_t)start;
        for (int state = 1; state < UTF8_STATES; state++) {
            UTF8_NEXT[state][b] = (uint8_t)(b >= lo[state] && b <= hi[state] ? then[state]
                                                                               : 0x10 | written[state] << 5 | start);
        }
    }
}

/* The UTF-8 character at p, of which p[0..3] can be read: its length in bytes, or -k for
 * k bytes that are no character and become one U+FFFD, cut where Python's decoder cuts them
 * (errors="replace": the longest start of a valid sequence). */
static inline int utf8_step(const unsigned char *p) {
    unsigned char c = p[0];
    int fit = ((unsigned char)(p[1] - UTF8_LO[c]) <= UTF8_SPAN[c]) | (is_continuation(p[2]) << 1) |
              (is_continuation(p[3]) << 2);
    int at = UTF8_WIDTH[c] * 8 + fit;
    int take = UTF8_TAKE[at];
    return UTF8_VALID[at] ? take : -take;
}

/* Eight bytes with no newline, carriage return, NUL and nothing but ASCII. */
static inline int plain_word(uint64_t w) {
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t nl = w ^ (ones * '\n'), cr = w ^ (ones * '\r');
    return ((w | ((w - ones) & ~w) | ((nl - ones) & ~nl) | ((cr - ones) & ~cr)) & high) == 0;
}

/* Characters in n bytes of UTF-8 (every byte but a continuation byte starts one). */
static Py_ssize_t characters(const unsigned char *p, Py_ssize_t n) {
    Py_ssize_t count = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        count += !is_continuation(p[i]);
    }
    return count;
}

/* The characters from s[i] to `stop` (and those of a character begun before it) into d[o],
 * up to a newline, carriage return or NUL: valid UTF-8 copied, the rest as U+FFFD. Returns
 * 1 when one was replaced. ``in_place``: s and d are the same (valid UTF-8) text; -1 if not. */
static int clean_run(const unsigned char *s, unsigned char *d, Py_ssize_t *i_at, Py_ssize_t *o_at, Py_ssize_t stop,
                     int in_place) {
    Py_ssize_t i = *i_at, o = *o_at;
    int replaced = 0;
    if (in_place) { /* (nothing is written past what was read) */
        while (i < stop) {
            uint64_t w;
            if (i + 8 <= stop) {
                memcpy(&w, s + i, 8);
                if (plain_word(w)) {
                    memcpy(d + o, &w, 8);
                    i += 8;
                    o += 8;
                    continue;
                }
            }
            unsigned char c = s[i];
            if (c == '\n' || c == '\r' || c == 0) {
                break;
            }
            int k = utf8_step(s + i);
            if (k < 0) {
                replaced = -1;
                break;
            }
            memmove(d + o, s + i, (size_t)k);
            o += k;
            i += k;
        }
    } else { /* a byte at a time, no branch on what it is: binary data has no pattern to learn */
        unsigned state = 0;
        while (i < stop) {
            uint64_t w;
            memcpy(&w, s + i, 8); /* (stop is 8 bytes before the end) */
            if ((state == 0) & (i + 8 <= stop) & plain_word(w)) {
                memcpy(d + o, &w, 8);
                i += 8;
                o += 8;
                continue;
            }
            unsigned char b = s[i];
            if (b == '\n' || b == '\r' || b == 0) {
                break;
            }
            unsigned e = UTF8_NEXT[state][b];
            o -= (e >> 5) & 3;                 /* a character that is none: its bytes go */
            memcpy(d + o, REPLACEMENT, 4);     /* (kept only then) */
            o += ((e >> 4) & 1) * 3;
            uint32_t none = 0u - ((e >> 7) & 1); /* (all ones when the byte is replaced) */
            uint32_t put = ((uint32_t)b & ~none) | (REPLACEMENT_WORD & none);
            memcpy(d + o, &put, 4);
            o += 1 + (none & 2);
            replaced |= (e & 0x90) != 0;
            state = e & 15;
            i++;
        }
        while (state != 0) { /* the character begun: ended by a byte that fits, or none */
            unsigned e = UTF8_NEXT[state][s[i]];
            if (e & 0x10) {
                o -= (e >> 5) & 3;
                memcpy(d + o, REPLACEMENT, 4);
                o += 3;
                replaced = 1;
                break; /* (the byte is read next as a start) */
            }
            d[o++] = s[i++];
            state = e & 15;
        }
    }
    *i_at = i;
    *o_at = o;
    return replaced;
}

/* clean() of some whole lines: s[0..n) (n > 0, s[n - 1] a newline) into d. */
typedef struct {
    const unsigned char *s;
    unsigned char *d;
    Py_ssize_t n, max_line, o, bad_lines, long_lines;
    int in_place, not_utf8;
} Cleaning;

static void *clean_lines(void *arg) {
    Cleaning *job = arg;
    const unsigned char *s = job->s;
    unsigned char *d = job->d;
    Py_ssize_t n = job->n, max_line = job->max_line, o = 0, bad_lines = 0, long_lines = 0;
    int in_place = job->in_place, not_utf8 = 0;
    Py_ssize_t i = 0;
    while (i < n && !not_utf8) { /* a line */
        /* its characters: exactly `known` up to the input's byte `base`, at most one per byte
         * after it; `counted` of them in its output up to counted_o, and `nuls` NULs dropped */
        Py_ssize_t line_o = o, base = i, known = 0, counted = 0, counted_o = o, nuls = 0;
        int bad = 0, cut = 0;
        for (;;) {
            /* while the line cannot be over max_line, and eight bytes can be read */
            Py_ssize_t stop = base + (max_line - known) < n - 8 ? base + (max_line - known) : n - 8;
            int replaced = clean_run(s, d, &i, &o, stop, in_place);
            if (replaced < 0) {
                not_utf8 = 1;
                break;
            }
            bad |= replaced;
            /* then one at a time: a newline, carriage returns, a NUL, or a character near the
             * end or that may make the line too long */
            unsigned char c = s[i];
            if (c == '\n') {
                i++;
                break;
            }
            Py_ssize_t run = 1; /* the characters it is */
            if (c == '\r') {
                run = 0;
                while (s[i + run] == '\r') {
                    run++;
                }
                if (s[i + run] == '\n') { /* (the carriage returns before a newline go) */
                    i += run + 1;
                    break;
                }
            }
            if (known + (i - base) + run > max_line) { /* maybe too long: count */
                counted += characters(d + counted_o, o - counted_o);
                counted_o = o;
                known = counted + nuls;
                base = i;
                if (known + run > max_line) { /* over max_line characters: the rest goes */
                    if (c == '\r') {
                        memset(d + o, '\r', (size_t)(max_line - known));
                        o += max_line - known;
                    }
                    cut = 1;
                    i = (const unsigned char *)memchr(s + i, '\n', (size_t)(n - i)) - s + 1;
                    break;
                }
            }
            if (c == '\r') {
                memset(d + o, '\r', (size_t)run);
                o += run;
                i += run;
            } else if (c == 0) { /* a NUL: counted, and dropped */
                nuls++;
                i++;
            } else {
                unsigned char tail[4] = {c, '\n', '\n', '\n'}; /* (past the end: a newline) */
                memcpy(tail, s + i, (size_t)(n - i < 4 ? n - i : 4));
                int k = utf8_step(tail);
                if (in_place && k < 0) {
                    not_utf8 = 1;
                    break;
                }
                bad |= k < 0;
                memmove(d + o, k > 0 ? s + i : REPLACEMENT, (size_t)(k > 0 ? k : 3));
                o += k > 0 ? k : 3;
                i += k > 0 ? k : -k;
            }
        }
        /* a line with a NUL or a U+FFFD (one replaced, or one it had) */
        bad |= nuls > 0 || (!bad && has_replacement(d + line_o, o - line_o));
        d[o++] = '\n';
        bad_lines += bad;
        long_lines += cut;
    }
    job->o = o;
    job->bad_lines = bad_lines;
    job->long_lines = long_lines;
    job->not_utf8 = not_utf8;
    return NULL;
}

/* Data over this many bytes is cleaned in two halves, the second on a thread of its own. */
#define CLEAN_HALVES_BYTES (8 << 20)

static PyObject *clean(PyObject *self, PyObject *args) {
    PyObject *obj;
    Py_ssize_t max_line;
    int in_place;
    if (!PyArg_ParseTuple(args, "Onp", &obj, &max_line, &in_place)) {
        return NULL;
    }
    Py_buffer data;
    if (PyObject_GetBuffer(obj, &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    const unsigned char *s = data.buf;
    Py_ssize_t n = data.len;
    if (n == 0 || s[n - 1] != '\n' || max_line < 0 || (in_place && !PyByteArray_Check(obj))) {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_ValueError, "clean: the data must end in a newline (and be a bytearray, in place)");
        return NULL;
    }
    /* (a replaced byte takes three: room for that, and for the eight bytes written at a time
     * past each half; the pages never written are never taken) */
    PyObject *out = in_place ? obj : PyByteArray_FromStringAndSize(NULL, 3 * n + 16);
    if (out == NULL) {
        PyBuffer_Release(&data);
        return NULL;
    }
    if (in_place) {
        Py_INCREF(out);
    }
    unsigned char *d = (unsigned char *)PyByteArray_AS_STRING(out);
    Py_ssize_t o, bad_lines, long_lines;
    int not_utf8;
    Py_BEGIN_ALLOW_THREADS
    /* the second half from the first newline after the middle (each line is cleaned alone) */
    const unsigned char *middle = n > CLEAN_HALVES_BYTES ? memchr(s + n / 2, '\n', (size_t)(n - n / 2)) : NULL;
    Py_ssize_t half = middle == NULL || middle + 1 == s + n ? n : middle + 1 - s;
    Cleaning first = {.s = s, .d = d, .n = half, .max_line = max_line, .in_place = in_place};
    Cleaning second = {.s = s + half, .d = d + (in_place ? half : 3 * half + 8), .n = n - half,
                       .max_line = max_line, .in_place = in_place};
    pthread_t thread;
    int threaded = half < n && pthread_create(&thread, NULL, clean_lines, &second) == 0;
    clean_lines(&first);
    if (half < n) {
        if (threaded) {
            pthread_join(thread, NULL);
        } else {
            clean_lines(&second);
        }
        memmove(d + first.o, second.d, (size_t)second.o);
    }
    o = first.o + second.o;
    bad_lines = first.bad_lines + second.bad_lines;
    long_lines = first.long_lines + second.long_lines;
    not_utf8 = first.not_utf8 || second.not_utf8;
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    if (not_utf8) {
        PyErr_SetString(PyExc_ValueError, "clean: in place, the data must be UTF-8");
    }
    if (not_utf8 || PyByteArray_Resize(out, o) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    return Py_BuildValue("(Nnn)", out, bad_lines, long_lines);
}

/* ---- strip_codes ---------------------------------------------------------------------- */

static PyObject *strip_codes(PyObject *self, PyObject *args) {
    PyObject *obj;
    if (!PyArg_ParseTuple(args, "O!", &PyByteArray_Type, &obj)) {
        return NULL;
    }
    unsigned char *s = (unsigned char *)PyByteArray_AS_STRING(obj);
    Py_ssize_t n = PyByteArray_GET_SIZE(obj), o = 0, count = 0;
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t i = 0; /* s[o:] is written from s[i:] */
    for (;;) {
        const unsigned char *esc = memchr(s + i, 0x1B, (size_t)(n - i));
        Py_ssize_t at = esc == NULL ? n : esc - s;
        /* ESC [, parameter bytes 0x30-0x3F, intermediate bytes 0x20-0x2F, a final byte 0x40-0x7E */
        Py_ssize_t j = at + 2;
        if (at < n) {
            while (j < n && s[j] >= 0x30 && s[j] <= 0x3F) {
                j++;
            }
            while (j < n && s[j] >= 0x20 && s[j] <= 0x2F) {
                j++;
            }
        }
        int code = at + 1 < n && s[at + 1] == '[' && j < n && s[j] >= 0x40 && s[j] <= 0x7E;
        Py_ssize_t keep = code ? at : at < n ? at + 1 : n; /* (an ESC that starts no code is kept) */
        if (o != i) {
            memmove(s + o, s + i, (size_t)(keep - i));
        }
        o += keep - i;
        if (at >= n) {
            break;
        }
        count += code;
        i = code ? j + 1 : at + 1;
    }
    Py_END_ALLOW_THREADS
    if (PyByteArray_Resize(obj, o) < 0) {
        return NULL;
    }
    return PyLong_FromSsize_t(count);
}

/* ---- plain ---------------------------------------------------------------------------- */

/* Do the line's first bytes rule out its start being `shape` ("d" a digit, any other character
 * itself)? Only ASCII bytes tell: from the first that is not, bytes are not characters, and a
 * character of another script may be a digit to Python's `\d`. */
static int ruled_out(const unsigned char *p, Py_ssize_t len, const char *shape) {
    for (Py_ssize_t i = 0; shape[i] != 0; i++) {
        if (i >= len) {
            return 1;
        }
        if (p[i] >= 0x80) {
            return 0;
        }
        if (shape[i] == 'd' ? !is_digit(p[i]) : p[i] != (unsigned char)shape[i]) {
            return 1;
        }
    }
    return 0;
}

static int starts_with(const unsigned char *p, Py_ssize_t len, const char *prefix) {
    size_t n = strlen(prefix);
    return (size_t)len >= n && memcmp(p, prefix, n) == 0;
}

/* Of a line with no stamp: 1 or 2 when its bytes alone tell that no format's prefix starts it
 * (text.split_line), that it is not blank and that, as an unknown event, it has no tag (1: it
 * starts a traceback's continuation, indented or "Traceback (most recent call last)"; 2: not),
 * else 0: its text is read. */
static int plain_kind(const unsigned char *p, Py_ssize_t len) {
    static const char *const levels[] = {"DEBUG:", "INFO:", "WARNING:", "ERROR:", "CRITICAL:", "TRACE:"};
    if (len == 0) {
        return 0;
    }
    unsigned char c = p[0];
    int replacement = len >= 3 && c == 0xEF && p[1] == 0xBF && p[2] == 0xBD; /* U+FFFD: no digit, no space */
    if (c >= 0x80 && !replacement) {
        return 0; /* (maybe a digit or a space of another script) */
    }
    if (is_digit(c) && !ruled_out(p, len, "dddd-dd-dd dd:dd:dd,ddd - ")) {
        return 0; /* (maybe a backend line) */
    }
    if (c == '[') {
        return 0; /* (maybe a page's line or a debug panel's; else an unknown event's tag, "[X]", is read) */
    }
    for (size_t k = 0; k < sizeof levels / sizeof *levels; k++) {
        if (starts_with(p, len, levels[k])) {
            return 0; /* (maybe a uvicorn console line) */
        }
    }
    int blank = !replacement;
    for (Py_ssize_t i = 0; blank && i < len; i++) {
        unsigned char b = p[i];
        blank = b >= 0x80 || b == ' ' || (b >= '\t' && b <= '\r') || (b >= 0x1C && b <= 0x1F);
    }
    if (blank) {
        return 0; /* (maybe all white space: str.strip() says) */
    }
    return c == ' ' || c == '\t' || starts_with(p, len, "Traceback (most recent call last)") ? 1 : 2;
}

static PyObject *plain(PyObject *self, PyObject *args) {
    Py_buffer data, ends_buf, rows_buf;
    if (!PyArg_ParseTuple(args, "y*y*y*", &data, &ends_buf, &rows_buf)) {
        return NULL;
    }
    const int64_t *ends = ends_buf.buf, *rows = rows_buf.buf;
    Py_ssize_t m = rows_buf.len / 8, n = ends_buf.len / 8;
    int bad = rows_out_of(ends, n, rows, m, data.len);
    char *raw;
    PyObject *kinds = bad ? NULL : bytearray_of(m, &raw);
    if (kinds != NULL) {
        const unsigned char *base = data.buf;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t k = 0; k < m; k++) {
            int64_t start = line_start(ends, rows[k]);
            raw[k] = (char)plain_kind(base + start, ends[rows[k]] - start);
        }
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&data);
    PyBuffer_Release(&ends_buf);
    PyBuffer_Release(&rows_buf);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "plain: rows must be lines of the data");
    }
    return kinds;
}

/* ---- copy_segments -------------------------------------------------------------------- */

static PyObject *copy_segments(PyObject *self, PyObject *args) {
    Py_buffer dest, src, dest_buf, src_buf, len_buf;
    if (!PyArg_ParseTuple(args, "w*y*y*y*y*", &dest, &src, &dest_buf, &src_buf, &len_buf)) {
        return NULL;
    }
    const int64_t *dest_at = dest_buf.buf, *src_at = src_buf.buf, *lengths = len_buf.buf;
    Py_ssize_t m = len_buf.len / 8;
    int bad = dest_buf.len != len_buf.len || src_buf.len != len_buf.len;
    for (Py_ssize_t k = 0; k < m && !bad; k++) {
        bad = lengths[k] < 0 || dest_at[k] < 0 || src_at[k] < 0 || dest_at[k] + lengths[k] > dest.len
              || src_at[k] + lengths[k] > src.len;
    }
    if (!bad) {
        Py_BEGIN_ALLOW_THREADS
        char *to = dest.buf;
        const char *from = src.buf;
        for (Py_ssize_t k = 0; k < m; k++) {
            memcpy(to + dest_at[k], from + src_at[k], (size_t)lengths[k]);
        }
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&dest);
    PyBuffer_Release(&src);
    PyBuffer_Release(&dest_buf);
    PyBuffer_Release(&src_buf);
    PyBuffer_Release(&len_buf);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "copy_segments: a segment outside its buffer");
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---- touch ---------------------------------------------------------------------------- */

/* touch(buffer): write a zero into every page of a writable buffer whose contents do not matter
 * yet, so that the system hands its pages over now, on this thread, not at its first use on
 * another. */
static PyObject *touch(PyObject *self, PyObject *args) {
    Py_buffer buf;
    if (!PyArg_ParseTuple(args, "w*", &buf)) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    volatile char *p = buf.buf;
    for (Py_ssize_t i = 0; i < buf.len; i += 4096) {
        p[i] = 0;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&buf);
    Py_RETURN_NONE;
}

/* ---- Block: memory of ours handed to Python (numpy.frombuffer reads it in place) ------ */

typedef struct {
    PyObject_HEAD
    void *ptr;
    Py_ssize_t len;
} Block;

static int block_getbuffer(PyObject *self, Py_buffer *view, int flags) {
    Block *b = (Block *)self;
    return PyBuffer_FillInfo(view, self, b->ptr, b->len, 0, flags);
}

static void block_dealloc(PyObject *self) {
    free(((Block *)self)->ptr);
    Py_TYPE(self)->tp_free(self);
}

static PyBufferProcs block_buffer = {block_getbuffer, NULL};

static PyTypeObject BlockType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "jarvis_diag.logs._scan.Block",
    .tp_basicsize = sizeof(Block),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Bytes owned by the parser (read them with numpy.frombuffer).",
    .tp_dealloc = block_dealloc,
    .tp_as_buffer = &block_buffer,
};

/* A Block that takes over ptr (freed with it), or NULL (ptr freed) on failure. */
static PyObject *block_of(void *ptr, Py_ssize_t len) {
    Block *b = PyObject_New(Block, &BlockType);
    if (b == NULL) {
        free(ptr);
        return NULL;
    }
    b->ptr = ptr;
    b->len = len;
    return (PyObject *)b;
}

/* ---- Stream: read a file and scan its lines as it arrives, hand out its messages meanwhile
 *
 * Stream(fd, size, max_line) makes the buffer (``.data``, a bytearray of the file's size).
 * ``run()`` (on a thread of its own; the GIL is released throughout) reads the file into
 * it a piece at a time, on a second thread it starts, and does ``scan``'s work on every
 * complete line as it arrives (reading and scanning cost about the same: they overlap);
 * meanwhile ``wait()`` and ``keys()`` give the distinct messages found so far, so that
 * they can be classified while the rest of the file is still being read. ``result()``
 * gives the arrays of ``newlines`` and ``scan``.
 *
 * Only clean text is scanned: at the first line that is not (a byte-order mark, a NUL,
 * bytes that are not UTF-8, a U+FFFD, a carriage return before the newline, a line over
 * max_line bytes, a last line with no newline) the scan stops, the rest is only read, and
 * ``result()`` says "dirty": the caller parses the bytes the whole-buffer way instead.
 */

#define READ_PIECE (1 << 20)

typedef struct {
    PyObject_HEAD
    int fd;
    PyObject *data; /* bytearray */
    Py_ssize_t size, max_line;
    pthread_mutex_t lock;
    pthread_cond_t moved;
    /* under the lock: progress, and the spans of the distinct messages */
    Py_ssize_t got;
    int32_t published;
    int done, dirty, err, started;
    int64_t *key_at;
    int32_t *key_len;
    size_t key_cap;
    /* the reading thread's own until done */
    int64_t *ends;
    int8_t *shape;
    double *sec;
    int32_t *code;
    size_t cap;
    int64_t lines;
    Table table;
    int ready; /* made: the lock exists */
} Stream;

/* Is the line clean text (see above)? ASCII words are checked eight bytes at a time. */
static int clean_line(const unsigned char *p, Py_ssize_t n) {
    Py_ssize_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            /* no byte >= 0x80 and no zero byte: eight ASCII characters */
            if (((w | ((w - 0x0101010101010101ull) & ~w)) & 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }
        unsigned char c = p[i];
        if (c < 0x80) {
            if (c == 0) {
                return 0;
            }
            i++;
            continue;
        }
        int extra;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            extra = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            extra = 2;
            if (c == 0xE0) {
                lo = 0xA0;
            } else if (c == 0xED) {
                hi = 0x9F;
            }
            /* U+FFFD: the whole-buffer path counts those lines as undecodable */
            if (c == 0xEF && i + 2 < n && p[i + 1] == 0xBF && p[i + 2] == 0xBD) {
                return 0;
            }
        } else if (c >= 0xF0 && c <= 0xF4) {
            extra = 3;
            if (c == 0xF0) {
                lo = 0x90;
            } else if (c == 0xF4) {
                hi = 0x8F;
            }
        } else {
            return 0;
        }
        if (i + extra >= n) {
            return 0;
        }
        if (p[i + 1] < lo || p[i + 1] > hi) {
            return 0;
        }
        for (int k = 2; k <= extra; k++) {
            if ((p[i + k] & 0xC0) != 0x80) {
                return 0;
            }
        }
        i += extra + 1;
    }
    return 1;
}

/* Refuse a Stream whose __init__ did not succeed. */
static int stream_ready(Stream *s) {
    if (!s->ready) {
        PyErr_SetString(PyExc_RuntimeError, "Stream: not made");
    }
    return s->ready;
}

static int stream_grow_lines(Stream *s) {
    size_t cap = s->cap ? s->cap * 2 : (size_t)1 << 16;
    int64_t *ends = realloc(s->ends, cap * sizeof(int64_t));
    if (ends != NULL) {
        s->ends = ends;
    }
    int8_t *shape = realloc(s->shape, cap);
    if (shape != NULL) {
        s->shape = shape;
    }
    double *sec = realloc(s->sec, cap * sizeof(double));
    if (sec != NULL) {
        s->sec = sec;
    }
    int32_t *code = realloc(s->code, cap * sizeof(int32_t));
    if (code != NULL) {
        s->code = code;
    }
    if (ends == NULL || shape == NULL || sec == NULL || code == NULL) {
        return 0;
    }
    s->cap = cap;
    return 1;
}

/* Room for one more message span (the reader copies spans under the lock). */
static int stream_grow_keys(Stream *s) {
    if ((size_t)s->table.used < s->key_cap) {
        return 1;
    }
    size_t cap = s->key_cap ? s->key_cap * 2 : 1024;
    pthread_mutex_lock(&s->lock);
    int64_t *at = realloc(s->key_at, cap * sizeof(int64_t));
    if (at != NULL) {
        s->key_at = at;
    }
    int32_t *len = realloc(s->key_len, cap * sizeof(int32_t));
    if (len != NULL) {
        s->key_len = len;
    }
    int ok = at != NULL && len != NULL;
    if (ok) {
        s->key_cap = cap;
    }
    pthread_mutex_unlock(&s->lock);
    return ok;
}

/* Scan the complete lines of buf[from:upto]; the offset after the last newline, or -1 when
 * out of memory. Sets s->dirty at a line that is not clean text. */
static int64_t stream_lines(Stream *s, Stamps *stamps, int64_t from, int64_t upto) {
    const unsigned char *base = (const unsigned char *)PyByteArray_AS_STRING(s->data);
    int64_t start = from;
    const unsigned char *nl;
    while (start < upto && (nl = memchr(base + start, '\n', (size_t)(upto - start))) != NULL) {
        int64_t end = nl - base;
        Py_ssize_t len = end - start;
        const unsigned char *p = base + start;
        if (len > s->max_line || (len > 0 && p[len - 1] == '\r') || !clean_line(p, len) ||
            (start == 0 && len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)) {
            s->dirty = 1;
            return start;
        }
        if ((size_t)s->lines == s->cap && !stream_grow_lines(s)) {
            return -1;
        }
        int64_t i = s->lines;
        s->ends[i] = end;
        int kind = line_stamp(stamps, p, len, &s->sec[i]);
        s->shape[i] = (int8_t)kind;
        s->code[i] = -1;
        if (kind) {
            if (!stream_grow_keys(s)) {
                return -1;
            }
            int32_t before = s->table.used;
            int32_t c = table_code(&s->table, base, s->ends, i, p + KEY_START, len - KEY_START);
            if (c == -2) {
                return -1;
            }
            if (s->table.used != before) { /* a new message: its span, for keys() */
                s->key_at[c] = start + KEY_START;
                s->key_len[c] = (int32_t)(len - KEY_START);
            }
            s->code[i] = c;
        }
        s->lines = i + 1;
        start = end + 1;
    }
    return start;
}

static void stream_publish(Stream *s, Py_ssize_t got, int done) {
    pthread_mutex_lock(&s->lock);
    s->got = got;
    s->published = s->table.used;
    s->done = done;
    pthread_cond_broadcast(&s->moved);
    pthread_mutex_unlock(&s->lock);
}

/* The reading half of run(): read() the file into the buffer on a thread of its own, a
 * piece at a time, while run()'s thread scans the pieces already there. */
typedef struct {
    int fd;
    char *buf;
    Py_ssize_t size;
    pthread_mutex_t lock;
    pthread_cond_t arrived;
    Py_ssize_t pos; /* under the lock: bytes read so far */
    int done, err;
} Reader;

static void *reader_main(void *arg) {
    Reader *r = arg;
    Py_ssize_t pos = 0;
    int err = 0;
    while (pos < r->size) {
        Py_ssize_t want = r->size - pos < READ_PIECE ? r->size - pos : READ_PIECE;
        Py_ssize_t got = read(r->fd, r->buf + pos, (size_t)want);
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            err = errno;
            break;
        }
        if (got == 0) {
            break; /* the file shrank meanwhile */
        }
        pos += got;
        pthread_mutex_lock(&r->lock);
        r->pos = pos;
        pthread_cond_signal(&r->arrived);
        pthread_mutex_unlock(&r->lock);
    }
    pthread_mutex_lock(&r->lock);
    r->pos = pos;
    r->err = err;
    r->done = 1;
    pthread_cond_signal(&r->arrived);
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

static PyObject *stream_run(PyObject *self, PyObject *unused) {
    Stream *s = (Stream *)self;
    if (!stream_ready(s)) {
        return NULL;
    }
    if (s->started) {
        PyErr_SetString(PyExc_RuntimeError, "Stream.run: already run");
        return NULL;
    }
    s->started = 1;
    Reader reader = {.fd = s->fd, .buf = PyByteArray_AS_STRING(s->data), .size = s->size};
    int oom = 0, err = 0;
    Py_ssize_t pos = 0;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_init(&reader.lock, NULL);
    pthread_cond_init(&reader.arrived, NULL);
    pthread_t thread;
    int threaded = pthread_create(&thread, NULL, reader_main, &reader) == 0;
    if (!threaded) {
        reader_main(&reader); /* (no thread to be had: read it all, then scan) */
    }
    Stamps stamps = {0};
    int64_t unscanned = 0;
    for (;;) {
        pthread_mutex_lock(&reader.lock);
        while (reader.pos == pos && !reader.done) {
            pthread_cond_wait(&reader.arrived, &reader.lock);
        }
        int done = reader.done;
        pos = reader.pos;
        err = reader.err;
        pthread_mutex_unlock(&reader.lock);
        if (!s->dirty && !oom) {
            int64_t next = stream_lines(s, &stamps, unscanned, pos);
            if (next < 0) {
                oom = 1;
            } else {
                unscanned = next;
            }
        }
        if (done) {
            break;
        }
        stream_publish(s, pos, 0);
    }
    if (threaded) {
        pthread_join(thread, NULL);
    }
    pthread_mutex_destroy(&reader.lock);
    pthread_cond_destroy(&reader.arrived);
    if (unscanned < pos) {
        s->dirty = 1; /* a last line with no newline */
    }
    s->err = err;
    close(s->fd);
    s->fd = -1;
    stream_publish(s, pos, 1);
    Py_END_ALLOW_THREADS
    if (oom) {
        return PyErr_NoMemory();
    }
    if (err) {
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_NONE;
}

/* wait(keys, nbytes, timeout) -> (keys found, bytes read, done): as soon as there are more
 * than ``keys`` messages, at least ``nbytes`` bytes, the end, or the timeout (seconds). */
static PyObject *stream_wait(PyObject *self, PyObject *args) {
    Stream *s = (Stream *)self;
    if (!stream_ready(s)) {
        return NULL;
    }
    int keys;
    Py_ssize_t nbytes;
    double timeout;
    if (!PyArg_ParseTuple(args, "ind", &keys, &nbytes, &timeout)) {
        return NULL;
    }
    int32_t published;
    Py_ssize_t got;
    int done;
    Py_BEGIN_ALLOW_THREADS
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    long ns = (long)((timeout - (double)(long)timeout) * 1e9) + until.tv_nsec;
    until.tv_sec += (time_t)timeout + ns / 1000000000L;
    until.tv_nsec = ns % 1000000000L;
    pthread_mutex_lock(&s->lock);
    while (!s->done && s->published <= keys && s->got < nbytes) {
        if (pthread_cond_timedwait(&s->moved, &s->lock, &until) != 0) {
            break;
        }
    }
    published = s->published;
    got = s->got;
    done = s->done;
    pthread_mutex_unlock(&s->lock);
    Py_END_ALLOW_THREADS
    return Py_BuildValue("(inO)", published, got, done ? Py_True : Py_False);
}

/* keys(lo, hi) -> the messages number lo to hi - 1 (found already), as str. */
static PyObject *stream_keys(PyObject *self, PyObject *args) {
    Stream *s = (Stream *)self;
    if (!stream_ready(s)) {
        return NULL;
    }
    int lo, hi;
    if (!PyArg_ParseTuple(args, "ii", &lo, &hi)) {
        return NULL;
    }
    pthread_mutex_lock(&s->lock);
    int ok = lo >= 0 && lo <= hi && hi <= s->published;
    pthread_mutex_unlock(&s->lock);
    if (!ok) {
        PyErr_SetString(PyExc_IndexError, "Stream.keys: not found yet");
        return NULL;
    }
    PyObject *out = PyList_New(hi - lo);
    if (out == NULL) {
        return NULL;
    }
    const char *base = PyByteArray_AS_STRING(s->data);
    for (int k = lo; k < hi; k++) {
        pthread_mutex_lock(&s->lock);
        int64_t at = s->key_at[k];
        int32_t len = s->key_len[k];
        pthread_mutex_unlock(&s->lock);
        PyObject *text = PyUnicode_DecodeUTF8(base + at, len, NULL);
        if (text == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, k - lo, text);
    }
    return out;
}

/* result() -> (dirty, ends, shape, seconds, codes) once run() is over; the arrays (Blocks)
 * are those of newlines() and scan(), None when dirty. */
static PyObject *stream_result(PyObject *self, PyObject *unused) {
    Stream *s = (Stream *)self;
    if (!stream_ready(s)) {
        return NULL;
    }
    pthread_mutex_lock(&s->lock);
    int done = s->done;
    pthread_mutex_unlock(&s->lock);
    if (!done) {
        PyErr_SetString(PyExc_RuntimeError, "Stream.result: still running");
        return NULL;
    }
    if (s->dirty) {
        return Py_BuildValue("(OOOOO)", Py_True, Py_None, Py_None, Py_None, Py_None);
    }
    Py_ssize_t n = (Py_ssize_t)s->lines;
    PyObject *ends = block_of(s->ends, n * 8);
    PyObject *shape = block_of(s->shape, n);
    PyObject *sec = block_of(s->sec, n * 8);
    PyObject *code = block_of(s->code, n * 4);
    s->ends = NULL;
    s->shape = NULL;
    s->sec = NULL;
    s->code = NULL;
    s->cap = 0;
    s->lines = 0;
    if (ends == NULL || shape == NULL || sec == NULL || code == NULL) {
        Py_XDECREF(ends);
        Py_XDECREF(shape);
        Py_XDECREF(sec);
        Py_XDECREF(code);
        return NULL;
    }
    return Py_BuildValue("(ONNNN)", Py_False, ends, shape, sec, code);
}

static PyObject *stream_data(PyObject *self, void *closure) {
    Stream *s = (Stream *)self;
    if (!stream_ready(s)) {
        return NULL;
    }
    Py_INCREF(s->data);
    return s->data;
}

static int stream_init(PyObject *self, PyObject *args, PyObject *kwds) {
    Stream *s = (Stream *)self;
    int fd;
    Py_ssize_t size, max_line;
    if (s->ready) {
        PyErr_SetString(PyExc_RuntimeError, "Stream: already made");
        return -1;
    }
    s->fd = -1;
    if (!PyArg_ParseTuple(args, "inn", &fd, &size, &max_line)) {
        return -1;
    }
    if (size < 0) {
        PyErr_SetString(PyExc_ValueError, "Stream: negative size");
        return -1;
    }
    s->data = PyByteArray_FromStringAndSize(NULL, size); /* (not zeroed: read() fills it) */
    if (s->data == NULL) {
        return -1;
    }
    if (!table_init(&s->table, 1 << 16, KEY_START)) {
        PyErr_NoMemory();
        return -1;
    }
    s->fd = dup(fd); /* (its own: the caller may close the file while this still reads) */
    if (s->fd < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    s->size = size;
    s->max_line = max_line;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->moved, NULL);
    s->ready = 1;
    return 0;
}

static void stream_dealloc(PyObject *self) {
    Stream *s = (Stream *)self;
    if (s->ready) {
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->moved);
    }
    if (s->ready && s->fd >= 0) {
        close(s->fd);
    }
    Py_XDECREF(s->data);
    free(s->key_at);
    free(s->key_len);
    free(s->ends);
    free(s->shape);
    free(s->sec);
    free(s->code);
    free(s->table.slots);
    free(s->table.firsts);
    Py_TYPE(self)->tp_free(self);
}

static PyMethodDef stream_methods[] = {
    {"run", stream_run, METH_NOARGS, "read and scan the whole file (call on a thread of its own)"},
    {"wait", stream_wait, METH_VARARGS, "(keys found, bytes read, done) once there is more than asked or the timeout"},
    {"keys", stream_keys, METH_VARARGS, "the messages number lo to hi - 1, as str"},
    {"result", stream_result, METH_NOARGS, "(dirty, ends, shape, seconds, codes) after run()"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef stream_getset[] = {
    {"data", stream_data, NULL, "the buffer the file is read into (a bytearray of its size)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject StreamType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "jarvis_diag.logs._scan.Stream",
    .tp_basicsize = sizeof(Stream),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Stream(fd, size, max_line): read a file and scan its lines while its messages are handed out.",
    .tp_new = PyType_GenericNew,
    .tp_init = stream_init,
    .tp_dealloc = stream_dealloc,
    .tp_methods = stream_methods,
    .tp_getset = stream_getset,
};

static PyMethodDef methods[] = {
    {"distinct", distinct, METH_VARARGS, "(codes, texts): the chosen lines numbered by their text."},
    {"gather", gather, METH_VARARGS, "offsets of the chosen lines put one after the other (some joined) in dest."},
    {"clean", clean, METH_VARARGS, "(clean text, bad lines, long lines) of bytes ending in a newline."},
    {"strip_codes", strip_codes, METH_VARARGS, "terminal colour codes removed from a bytearray, in place: how many."},
    {"plain", plain, METH_VARARGS, "per chosen line: 1 indented, 2 other, when its bytes tell it has no prefix; else 0."},
    {"copy_segments", copy_segments, METH_VARARGS, "segments of src copied to the given places of dest."},
    {"touch", touch, METH_VARARGS, "write a zero into every page of a fresh buffer (its memory, taken now)."},
    {"newlines", newlines, METH_VARARGS, "(ends, longest) of the bytes: every newline's position."},
    {"scan", scan, METH_VARARGS, "(shape, seconds, codes, firsts) of each line: stamp shape, time, message number."},
    {"prefix_cuts", prefix_cuts, METH_VARARGS, "(cuts, first): each line's log collector's prefix length."},
    {"prefix_stamps", prefix_stamps, METH_VARARGS, "the time in each chosen line's prefix, epoch seconds (NaN: none)."},
    {"join_cut", join_cut, METH_VARARGS, "the chosen lines without their first bytes, each ending in a newline."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_scan", "Per-line loops of the fast log parser.", -1,
                                    methods};

PyMODINIT_FUNC PyInit__scan(void) {
    if (PyType_Ready(&BlockType) < 0 || PyType_Ready(&StreamType) < 0) {
        return NULL;
    }
    utf8_tables();
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    /* (fast.py checks it: a module built from an older _scan.c is not used) */
    if (PyModule_AddType(m, &BlockType) < 0 || PyModule_AddType(m, &StreamType) < 0 ||
        PyModule_AddIntConstant(m, "VERSION", 5) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
