/* The shape matcher of the fast parser (jarvis_diag/logs/shapes.py) in C.
 *
 * A shape's template is literal text with placeholders, and every placeholder is one of a
 * few patterns (lines.FIELDS): a run of characters of a class, a number, or any text up to
 * what follows (lazily; greedily at the template's end). This module matches a message
 * against the templates of its source in table order, trying the candidate ends of each
 * placeholder in the order Python's re tries them, so it finds the same first shape and
 * the same captures as the shape's regular expression; shapes.py gives it the table and
 * the tests check it against the reference matcher.
 *
 *   compile(spec) -> table (a capsule)
 *       spec = (sources, tables, logger_tags, fallback, derived_ids):
 *       sources: {source name: table number}; tables: per number, the shapes in table
 *       order as (prefix, logger or None, kind, name, tag mode, tag, implied event or
 *       None, derive?, fields);
 *       fields: per placeholder (name or None, pattern, class characters, minus, letter,
 *       fraction, conversion, literal after it). Pattern 0 = lazy any, 1 = greedy any,
 *       2 = a run of the class, 3 = a number ([A-Z] if letter, -? if minus, digits, and
 *       .digits if fraction); conversion 0 = text, 1 = int64, 2 = finite float. Tag mode
 *       0 = the tag given, 1 = the logger's (logger_tags), 2 = read from the message.
 *   classify(table, records, start) -> list
 *       For each record from ``start``: (kind, shape, fields, tag) of a (source, logger,
 *       level, message) tuple, None for anything else. A message with a non-ASCII
 *       character is handed to fallback(source, message, logger) (Unicode classes such as
 *       \w and \s are Python's business); a matched shape whose "derive?" is set gets the
 *       fields derived_ids(name, detail) finds in its detail (asked once per distinct
 *       detail); a template that spells its event out gives it as the "event" field.
 *   split(keys, records, frontend_levels, fallback) -> codes
 *       What follows the stamp of each backend line ("- logger - LEVEL - message") or
 *       frontend line ("Z] [LEVEL] message") as its record (source, logger, level, message)
 *       appended to records; codes: int32 bytes, each key's record number (-1: it is
 *       neither). The frontend's level is read through frontend_levels; a key with a
 *       non-ASCII character is handed to fallback(key), which returns the record or None.
 *   untimed(texts, records, fallback) -> (kinds, times)
 *       The lines with no fixed-width stamp, by text.split_line(): a uvicorn console line
 *       ("LEVEL:" and spaces, then the message) is read here, any text that is not ASCII
 *       or starts with a digit or "[" goes to fallback(text) (split_line itself). Each
 *       line split becomes a record (source, logger, level, message) appended to records;
 *       kinds: int64 bytes, its record number, else -2 for a blank text and -1 for any
 *       other; times: float64 bytes, the time split_line read (NaN: none).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { LAZY = 0, GREEDY = 1, RUN = 2, NUMBER = 3 };
enum { AS_TEXT = 0, AS_INT = 1, AS_FLOAT = 2 };
enum { TAG_FIXED = 0, TAG_BY_LOGGER = 1, TAG_READ = 2 };
#define MAX_FIELDS 16

typedef struct {
    PyObject *name; /* borrowed from the spec (kept alive by the table); NULL: not kept */
    int pattern, minus, letter, fraction, convert;
    uint64_t cls[2]; /* ASCII class of a RUN */
    const char *lit;
    Py_ssize_t litlen;
} Field;

typedef struct {
    const char *prefix;
    Py_ssize_t plen;
    PyObject *logger, *kind, *name, *tag, *implied; /* borrowed; logger/tag/implied may be NULL */
    PyObject *derived;                            /* owned: derived_ids() by detail, when derive is set */
    int tag_mode, derive, nfields;
    Field fields[MAX_FIELDS];
} Entry;

typedef struct {
    Entry *entries;
    Py_ssize_t n;
} Table;

typedef struct {
    PyObject *spec; /* owns every borrowed object and string above */
    PyObject *sources, *logger_tags, *fallback, *derive;
    PyObject *unknown, *event, *detail; /* "unknown" (the kind of a message no shape matches), "event", "detail" */
    Table *tables;
    Py_ssize_t ntables;
} Matcher;

static const char *CAPSULE = "jarvis_diag.logs._match.table";

static void matcher_free(Matcher *m) {
    if (m == NULL) {
        return;
    }
    for (Py_ssize_t t = 0; t < m->ntables; t++) {
        for (Py_ssize_t i = 0; m->tables[t].entries != NULL && i < m->tables[t].n; i++) {
            Py_XDECREF(m->tables[t].entries[i].derived);
        }
        PyMem_Free(m->tables[t].entries);
    }
    PyMem_Free(m->tables);
    Py_XDECREF(m->spec);
    Py_XDECREF(m->unknown);
    Py_XDECREF(m->event);
    Py_XDECREF(m->detail);
    PyMem_Free(m);
}

static void capsule_free(PyObject *capsule) { matcher_free(PyCapsule_GetPointer(capsule, CAPSULE)); }

static int ascii_of(PyObject *s, const char **out, Py_ssize_t *len) {
    if (!PyUnicode_Check(s) || !PyUnicode_IS_ASCII(s)) {
        PyErr_SetString(PyExc_ValueError, "templates are ASCII text");
        return -1;
    }
    *out = (const char *)PyUnicode_DATA(s);
    *len = PyUnicode_GET_LENGTH(s);
    return 0;
}

static int field_of(PyObject *spec, Field *f) {
    PyObject *name, *cls, *lit;
    if (!PyArg_ParseTuple(spec, "OiUiiiiU", &name, &f->pattern, &cls, &f->minus, &f->letter, &f->fraction,
                          &f->convert, &lit)) {
        return -1;
    }
    f->name = name == Py_None ? NULL : name;
    f->cls[0] = f->cls[1] = 0;
    const char *chars;
    Py_ssize_t n;
    if (ascii_of(cls, &chars, &n) < 0 || ascii_of(lit, &f->lit, &f->litlen) < 0) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)chars[i];
        f->cls[c >> 6] |= (uint64_t)1 << (c & 63);
    }
    if (f->pattern < LAZY || f->pattern > NUMBER || f->convert < AS_TEXT || f->convert > AS_FLOAT) {
        PyErr_SetString(PyExc_ValueError, "unknown pattern or conversion");
        return -1;
    }
    return 0;
}

static int entry_of(PyObject *spec, Entry *e) {
    PyObject *prefix, *logger, *tag, *implied, *fields;
    if (!PyArg_ParseTuple(spec, "UOUUiOOpO!", &prefix, &logger, &e->kind, &e->name, &e->tag_mode, &tag, &implied,
                          &e->derive, &PyTuple_Type, &fields)) {
        return -1;
    }
    e->implied = implied == Py_None ? NULL : implied;
    if (e->derive && (e->derived = PyDict_New()) == NULL) {
        return -1;
    }
    if (ascii_of(prefix, &e->prefix, &e->plen) < 0) {
        return -1;
    }
    e->logger = logger == Py_None ? NULL : logger;
    e->tag = tag == Py_None ? NULL : tag;
    e->nfields = (int)PyTuple_GET_SIZE(fields);
    if (e->nfields > MAX_FIELDS) {
        PyErr_SetString(PyExc_ValueError, "too many placeholders in one template");
        return -1;
    }
    for (int i = 0; i < e->nfields; i++) {
        if (field_of(PyTuple_GET_ITEM(fields, i), &e->fields[i]) < 0) {
            return -1;
        }
    }
    return 0;
}

static PyObject *compile(PyObject *self, PyObject *args) {
    PyObject *spec, *sources, *tables, *logger_tags, *fallback, *derive;
    if (!PyArg_ParseTuple(args, "O!", &PyTuple_Type, &spec) ||
        !PyArg_ParseTuple(spec, "O!O!O!OO", &PyDict_Type, &sources, &PyList_Type, &tables, &PyDict_Type, &logger_tags,
                          &fallback, &derive)) {
        return NULL;
    }
    Matcher *m = PyMem_Calloc(1, sizeof(Matcher));
    if (m == NULL) {
        return PyErr_NoMemory();
    }
    Py_INCREF(spec);
    m->spec = spec;
    m->sources = sources;
    m->logger_tags = logger_tags;
    m->fallback = fallback;
    m->derive = derive;
    m->unknown = PyUnicode_InternFromString("unknown");
    m->event = PyUnicode_InternFromString("event");
    m->detail = PyUnicode_InternFromString("detail");
    if (m->unknown == NULL || m->event == NULL || m->detail == NULL) {
        goto fail;
    }
    m->ntables = PyList_GET_SIZE(tables);
    m->tables = PyMem_Calloc(m->ntables > 0 ? m->ntables : 1, sizeof(Table));
    if (m->tables == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t t = 0; t < m->ntables; t++) {
        PyObject *list = PyList_GET_ITEM(tables, t);
        if (!PyTuple_Check(list)) {
            PyErr_SetString(PyExc_TypeError, "a table is a tuple of shapes");
            goto fail;
        }
        Table *table = &m->tables[t];
        table->n = PyTuple_GET_SIZE(list);
        table->entries = PyMem_Calloc(table->n > 0 ? table->n : 1, sizeof(Entry));
        if (table->entries == NULL) {
            PyErr_NoMemory();
            goto fail;
        }
        for (Py_ssize_t i = 0; i < table->n; i++) {
            if (entry_of(PyTuple_GET_ITEM(list, i), &table->entries[i]) < 0) {
                goto fail;
            }
        }
    }
    PyObject *capsule = PyCapsule_New(m, CAPSULE, capsule_free);
    if (capsule == NULL) {
        goto fail;
    }
    return capsule;
fail:
    matcher_free(m);
    return NULL;
}

/* ---- matching ------------------------------------------------------------------------ */

static inline int in_class(const uint64_t *cls, unsigned char c) { return c < 128 && (cls[c >> 6] >> (c & 63)) & 1; }

static inline Py_ssize_t digits(const char *s, Py_ssize_t n, Py_ssize_t p) {
    Py_ssize_t q = p;
    while (q < n && s[q] >= '0' && s[q] <= '9') {
        q++;
    }
    return q - p;
}

static int match_from(const Entry *e, int i, const char *s, Py_ssize_t n, Py_ssize_t pos, Py_ssize_t *ends);

/* The rest of the template from field i's candidate end: its literal, then the fields after. */
static inline int rest(const Entry *e, int i, const char *s, Py_ssize_t n, Py_ssize_t end, Py_ssize_t *ends) {
    const Field *f = &e->fields[i];
    if (end + f->litlen > n || memcmp(s + end, f->lit, f->litlen) != 0) {
        return 0;
    }
    if (match_from(e, i + 1, s, n, end + f->litlen, ends)) {
        ends[i] = end;
        return 1;
    }
    return 0;
}

/* Does the template match s[pos:] from field i, to the end of s? The candidate ends of each
 * field are tried in the order of Python's backtracking, so the captures are its captures. */
static int match_from(const Entry *e, int i, const char *s, Py_ssize_t n, Py_ssize_t pos, Py_ssize_t *ends) {
    if (i == e->nfields) {
        return pos == n;
    }
    const Field *f = &e->fields[i];
    switch (f->pattern) {
    case LAZY:
        for (Py_ssize_t end = pos; end <= n; end++) {
            if (f->litlen > 0) { /* skip to where the literal after it begins */
                const char *at = memchr(s + end, f->lit[0], n - end);
                if (at == NULL) {
                    return 0;
                }
                end = at - s;
            }
            if (rest(e, i, s, n, end, ends)) {
                return 1;
            }
        }
        return 0;
    case GREEDY:
        for (Py_ssize_t end = n; end >= pos; end--) {
            if (rest(e, i, s, n, end, ends)) {
                return 1;
            }
        }
        return 0;
    case RUN: {
        Py_ssize_t q = pos;
        while (q < n && in_class(f->cls, (unsigned char)s[q])) {
            q++;
        }
        for (Py_ssize_t end = q; end > pos; end--) {
            if (rest(e, i, s, n, end, ends)) {
                return 1;
            }
        }
        return 0;
    }
    default: { /* NUMBER: [A-Z]? -? \d+ (\.\d+)?, each part greedy */
        Py_ssize_t p = pos;
        if (f->letter) {
            if (p >= n || s[p] < 'A' || s[p] > 'Z') {
                return 0;
            }
            p++;
        }
        if (f->minus && p < n && s[p] == '-') {
            p++; /* (without the sign, \d+ cannot start on it) */
        }
        Py_ssize_t d = digits(s, n, p);
        for (Py_ssize_t j = d; j > 0; j--) {
            if (j == d && f->fraction && p + d < n && s[p + d] == '.') {
                for (Py_ssize_t k = digits(s, n, p + d + 1); k > 0; k--) {
                    if (rest(e, i, s, n, p + d + 1 + k, ends)) {
                        return 1;
                    }
                }
            }
            if (rest(e, i, s, n, p + j, ends)) {
                return 1;
            }
        }
        return 0;
    }
    }
}

/* Python's str.isspace() for an ASCII character. */
static inline int is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f); }
static inline int is_alpha(unsigned char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
static inline int in_tag_name(unsigned char c) { return is_alpha(c) || (c >= '0' && c <= '9') || c == ' ' || c == '_'; }

/* The tags shapes.tag_of() reads from an ASCII message: its leading "[Tag] [Tag:id] "
 * groups as "[Tag] [Tag]" (a new reference), or NULL with no error set when there are none. */
static PyObject *tags_of(const char *s, Py_ssize_t n) {
    /* (each group of k >= 3 characters gives at most k + 1: out needs at most 2n) */
    char small[512], *out = 2 * n <= (Py_ssize_t)sizeof(small) ? small : PyMem_Malloc(2 * n);
    if (out == NULL) {
        return PyErr_NoMemory();
    }
    Py_ssize_t len = 0, pos = 0;
    while (pos < n && s[pos] == '[') {
        Py_ssize_t p = pos + 1, name = p;
        if (p >= n || !is_alpha((unsigned char)s[p])) {
            break;
        }
        while (p < n && in_tag_name((unsigned char)s[p])) {
            p++;
        }
        Py_ssize_t name_end = p;
        if (p < n && s[p] == ':') {
            p++;
            while (p < n && s[p] != ']' && !is_space((unsigned char)s[p])) {
                p++;
            }
        }
        if (p >= n || s[p] != ']') {
            break;
        }
        if (len > 0) {
            out[len++] = ' ';
        }
        out[len++] = '[';
        memcpy(out + len, s + name, name_end - name);
        len += name_end - name;
        out[len++] = ']';
        pos = p + 1;
        if (pos < n && s[pos] == ' ') {
            pos++;
        }
    }
    PyObject *tags = len > 0 ? PyUnicode_FromStringAndSize(out, len) : NULL;
    if (out != small) {
        PyMem_Free(out);
    }
    return tags;
}

static PyObject *logger_tag(const Matcher *m, PyObject *logger) {
    PyObject *tag = logger == Py_None ? NULL : PyDict_GetItemWithError(m->logger_tags, logger);
    if (tag == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    Py_INCREF(tag);
    return tag;
}

/* The tag of an unmatched or TAG_READ message: read from it, else the logger's. */
static PyObject *read_tag(const Matcher *m, const char *s, Py_ssize_t n, PyObject *logger) {
    PyObject *tag = tags_of(s, n);
    return tag != NULL || PyErr_Occurred() ? tag : logger_tag(m, logger);
}

static PyObject *number(PyObject *text, int convert) {
    if (convert == AS_INT) {
        if (PyUnicode_GET_LENGTH(text) > 20) {
            Py_RETURN_NONE;
        }
        PyObject *value = PyLong_FromUnicodeObject(text, 10);
        if (value == NULL) {
            return NULL;
        }
        int overflow = 0;
        PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow) {
            Py_DECREF(value);
            Py_RETURN_NONE;
        }
        return value;
    }
    PyObject *value = PyFloat_FromString(text);
    if (value != NULL && !isfinite(PyFloat_AS_DOUBLE(value))) {
        Py_DECREF(value);
        Py_RETURN_NONE;
    }
    return value;
}

#define MAX_DERIVED 65536 /* distinct details remembered per shape */

/* Add the ids derived_ids() finds in the detail (each distinct detail asked once). */
static int derive_ids(const Matcher *m, Entry *e, PyObject *fields) {
    PyObject *detail = PyDict_GetItemWithError(fields, m->detail), *empty = NULL;
    if (detail == NULL) {
        if (PyErr_Occurred() || (detail = empty = PyUnicode_FromString("")) == NULL) {
            return -1;
        }
    }
    PyObject *ids = PyDict_GetItemWithError(e->derived, detail);
    int bad = 0;
    if (ids != NULL) {
        bad = PyDict_Update(fields, ids) < 0;
    } else if (PyErr_Occurred()) {
        bad = 1;
    } else {
        ids = PyObject_CallFunctionObjArgs(m->derive, e->name, detail, NULL);
        bad = ids == NULL || !PyDict_Check(ids) || PyDict_Update(fields, ids) < 0 ||
              (PyDict_GET_SIZE(e->derived) < MAX_DERIVED && PyDict_SetItem(e->derived, detail, ids) < 0);
        if (ids != NULL && !PyDict_Check(ids) && !PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "derived_ids() returns a dict");
        }
        Py_XDECREF(ids);
    }
    Py_XDECREF(empty);
    return bad ? -1 : 0;
}

/* (kind, shape, fields, tag) of an entry that matched, its placeholders ending at ends[]. */
static PyObject *matched(const Matcher *m, Entry *e, PyObject *message, const char *s, Py_ssize_t n,
                         PyObject *logger, const Py_ssize_t *ends) {
    PyObject *fields = PyDict_New(), *tag = NULL, *out = NULL;
    if (fields == NULL) {
        return NULL;
    }
    Py_ssize_t pos = e->plen;
    for (int i = 0; i < e->nfields; i++) {
        const Field *f = &e->fields[i];
        if (f->name != NULL) {
            PyObject *text = PyUnicode_Substring(message, pos, ends[i]);
            if (text == NULL) {
                goto done;
            }
            PyObject *value = text;
            if (f->convert != AS_TEXT) {
                value = number(text, f->convert);
                Py_DECREF(text);
                if (value == NULL) {
                    goto done;
                }
            }
            int bad = value != Py_None && PyDict_SetItem(fields, f->name, value) < 0;
            Py_DECREF(value);
            if (bad) {
                goto done;
            }
        }
        pos = ends[i] + f->litlen;
    }
    if (e->implied != NULL && PyDict_SetDefault(fields, m->event, e->implied) == NULL) {
        goto done;
    }
    if (e->derive && derive_ids(m, e, fields) < 0) {
        goto done;
    }
    if (e->tag_mode == TAG_FIXED) {
        tag = e->tag != NULL ? e->tag : Py_None;
        Py_INCREF(tag);
    } else if (e->tag_mode == TAG_BY_LOGGER) {
        tag = logger_tag(m, logger);
    } else {
        tag = read_tag(m, s, n, logger);
    }
    if (tag != NULL) {
        out = PyTuple_Pack(4, e->kind, e->name, fields, tag);
    }
done:
    Py_DECREF(fields);
    Py_XDECREF(tag);
    return out;
}

static PyObject *classify_one(const Matcher *m, PyObject *record) {
    PyObject *source = PyTuple_GET_ITEM(record, 0), *logger = PyTuple_GET_ITEM(record, 1);
    PyObject *message = PyTuple_GET_ITEM(record, 3);
    if (!PyUnicode_Check(message) || !PyUnicode_IS_ASCII(message)) {
        return PyObject_CallFunctionObjArgs(m->fallback, source, message, logger, NULL);
    }
    PyObject *number_of = PyDict_GetItemWithError(m->sources, source);
    if (number_of == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_Format(PyExc_KeyError, "no shapes for source %R", source);
        }
        return NULL;
    }
    Py_ssize_t t = PyLong_AsSsize_t(number_of);
    if (t < 0 || t >= m->ntables) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_IndexError, "table number out of range");
        }
        return NULL;
    }
    const char *s = (const char *)PyUnicode_DATA(message);
    Py_ssize_t n = PyUnicode_GET_LENGTH(message), ends[MAX_FIELDS];
    const Table *table = &m->tables[t];
    for (Py_ssize_t k = 0; k < table->n; k++) {
        Entry *e = &table->entries[k];
        if (e->plen > n || (e->plen > 0 && (s[0] != e->prefix[0] || memcmp(s, e->prefix, e->plen) != 0))) {
            continue;
        }
        if (e->logger != NULL) {
            int same = logger == e->logger ? 1 : PyObject_RichCompareBool(logger, e->logger, Py_EQ);
            if (same < 0) {
                return NULL;
            }
            if (!same) {
                continue;
            }
        }
        if (match_from(e, 0, s, n, e->plen, ends)) {
            return matched(m, e, message, s, n, logger, ends);
        }
    }
    PyObject *tag = read_tag(m, s, n, logger);
    if (tag == NULL) {
        return NULL;
    }
    PyObject *fields = PyDict_New();
    PyObject *out = fields == NULL ? NULL : PyTuple_Pack(4, m->unknown, Py_None, fields, tag);
    Py_XDECREF(fields);
    Py_DECREF(tag);
    return out;
}

static PyObject *classify(PyObject *self, PyObject *args) {
    PyObject *capsule, *records;
    Py_ssize_t start;
    if (!PyArg_ParseTuple(args, "OO!n", &capsule, &PyList_Type, &records, &start)) {
        return NULL;
    }
    const Matcher *m = PyCapsule_GetPointer(capsule, CAPSULE);
    if (m == NULL) {
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(records);
    if (start < 0 || start > n) {
        PyErr_SetString(PyExc_IndexError, "start out of range");
        return NULL;
    }
    PyObject *out = PyList_New(n - start);
    if (out == NULL) {
        return NULL;
    }
    for (Py_ssize_t j = start; j < n; j++) {
        PyObject *record = PyList_GET_ITEM(records, j), *result;
        if (PyTuple_CheckExact(record) && PyTuple_GET_SIZE(record) == 4) {
            result = classify_one(m, record);
            if (result == NULL) {
                Py_DECREF(out);
                return NULL;
            }
        } else {
            result = Py_None;
            Py_INCREF(result);
        }
        PyList_SET_ITEM(out, j - start, result);
    }
    return out;
}

/* ---- the record of what follows a stamp ------------------------------------------------ */

static const char *LEVELS[] = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"};

/* The backend level at s[p:] followed by " - " (its number, -1: none) and its length. */
static int backend_level(const char *s, Py_ssize_t n, Py_ssize_t p, Py_ssize_t *len) {
    for (int k = 0; k < 5; k++) {
        Py_ssize_t l = (Py_ssize_t)strlen(LEVELS[k]);
        if (p + l + 3 <= n && memcmp(s + p, LEVELS[k], l) == 0 && memcmp(s + p + l, " - ", 3) == 0) {
            *len = l;
            return k;
        }
    }
    return -1;
}

/* (source, logger, level, message) of an ASCII key; None when it is no line's rest. */
static PyObject *record_of(PyObject *key, PyObject *sources[2], PyObject *levels[5], PyObject *frontend_levels) {
    const char *s = (const char *)PyUnicode_DATA(key);
    Py_ssize_t n = PyUnicode_GET_LENGTH(key);
    if (n >= 2 && s[0] == '-' && s[1] == ' ') {
        /* "- (.+?) - (LEVEL) - (.*)": the first " - LEVEL - " after a logger of one character or more */
        for (Py_ssize_t p = 3; p + 3 <= n; p++) {
            const char *at = memchr(s + p, ' ', n - p);
            if (at == NULL) {
                break;
            }
            p = at - s;
            Py_ssize_t len;
            int level;
            if (p + 3 <= n && s[p + 1] == '-' && s[p + 2] == ' ' && (level = backend_level(s, n, p + 3, &len)) >= 0) {
                PyObject *logger = PyUnicode_Substring(key, 2, p);
                PyObject *message = logger == NULL ? NULL : PyUnicode_Substring(key, p + 3 + len + 3, n);
                PyObject *out = message == NULL ? NULL : PyTuple_Pack(4, sources[0], logger, levels[level], message);
                Py_XDECREF(logger);
                Py_XDECREF(message);
                return out;
            }
        }
        Py_RETURN_NONE;
    }
    /* "Z] [([A-Z]+)] (.*)" */
    if (n < 4 || memcmp(s, "Z] [", 4) != 0) {
        Py_RETURN_NONE;
    }
    Py_ssize_t p = 4;
    while (p < n && s[p] >= 'A' && s[p] <= 'Z') {
        p++;
    }
    if (p == 4 || p + 2 > n || s[p] != ']' || s[p + 1] != ' ') {
        Py_RETURN_NONE;
    }
    PyObject *name = PyUnicode_Substring(key, 4, p);
    if (name == NULL) {
        return NULL;
    }
    PyObject *level = PyDict_GetItemWithError(frontend_levels, name);
    Py_DECREF(name);
    if (level == NULL && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *message = PyUnicode_Substring(key, p + 2, n);
    if (message == NULL) {
        return NULL;
    }
    PyObject *out = PyTuple_Pack(4, sources[1], Py_None, level == NULL ? Py_None : level, message);
    Py_DECREF(message);
    return out;
}

static PyObject *split(PyObject *self, PyObject *args) {
    PyObject *keys, *records, *frontend_levels, *fallback, *sources[2] = {NULL}, *levels[5] = {NULL};
    PyObject *codes = NULL, *result = NULL;
    if (!PyArg_ParseTuple(args, "O!O!O!O", &PyList_Type, &keys, &PyList_Type, &records, &PyDict_Type, &frontend_levels,
                          &fallback)) {
        return NULL;
    }
    sources[0] = PyUnicode_InternFromString("backend");
    sources[1] = PyUnicode_InternFromString("frontend");
    for (int k = 0; k < 5; k++) {
        if ((levels[k] = PyUnicode_InternFromString(LEVELS[k])) == NULL) {
            goto done;
        }
    }
    Py_ssize_t n = PyList_GET_SIZE(keys);
    codes = PyByteArray_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int32_t));
    if (sources[0] == NULL || sources[1] == NULL || codes == NULL) {
        goto done;
    }
    int32_t *code = (int32_t *)PyByteArray_AS_STRING(codes);
    for (Py_ssize_t u = 0; u < n; u++) {
        PyObject *key = PyList_GET_ITEM(keys, u), *record;
        if (!PyUnicode_Check(key)) {
            PyErr_SetString(PyExc_TypeError, "keys are str");
            goto done;
        }
        record = PyUnicode_IS_ASCII(key) ? record_of(key, sources, levels, frontend_levels)
                                         : PyObject_CallOneArg(fallback, key);
        if (record == NULL) {
            goto done;
        }
        code[u] = -1;
        if (record != Py_None) {
            if (PyList_GET_SIZE(records) >= INT32_MAX) {
                Py_DECREF(record);
                PyErr_SetString(PyExc_OverflowError, "too many records");
                goto done;
            }
            code[u] = (int32_t)PyList_GET_SIZE(records);
            if (PyList_Append(records, record) < 0) {
                Py_DECREF(record);
                goto done;
            }
        }
        Py_DECREF(record);
    }
    result = codes;
    codes = NULL;
done:
    Py_XDECREF(codes);
    Py_XDECREF(sources[0]);
    Py_XDECREF(sources[1]);
    for (int k = 0; k < 5; k++) {
        Py_XDECREF(levels[k]);
    }
    return result;
}

/* ---- untimestamped lines --------------------------------------------------------------- */

static const char *CONSOLE_LEVELS[] = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "TRACE"};

/* Is the text empty once Python's str.strip() has taken its whitespace? */
static int blank(PyObject *text) {
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    for (Py_ssize_t i = 0, n = PyUnicode_GET_LENGTH(text); i < n; i++) {
        if (!Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, i))) {
            return 0;
        }
    }
    return 1;
}

/* text.split_line() of an ASCII text that does not start with a digit or "[": a uvicorn
 * console line ("(LEVEL):\s+(.*)": the level, a colon, then every space is taken) or None.
 * A new reference. */
static PyObject *console_parts(PyObject *text, PyObject *source, PyObject *logger, PyObject **levels) {
    const char *s = (const char *)PyUnicode_DATA(text);
    Py_ssize_t len = PyUnicode_GET_LENGTH(text);
    for (int k = 0; k < 6; k++) {
        Py_ssize_t l = (Py_ssize_t)strlen(CONSOLE_LEVELS[k]);
        if (len > l + 1 && memcmp(s, CONSOLE_LEVELS[k], l) == 0 && s[l] == ':' && is_space((unsigned char)s[l + 1])) {
            Py_ssize_t p = l + 1;
            while (p < len && is_space((unsigned char)s[p])) {
                p++;
            }
            PyObject *message = PyUnicode_Substring(text, p, len);
            if (message == NULL) {
                return NULL;
            }
            PyObject *parts = PyTuple_Pack(5, source, Py_None, logger, levels[k], message);
            Py_DECREF(message);
            return parts;
        }
    }
    Py_RETURN_NONE;
}

static PyObject *untimed(PyObject *self, PyObject *args) {
    PyObject *texts, *records, *fallback, *source = NULL, *logger = NULL, *levels[6] = {NULL};
    PyObject *kinds = NULL, *times = NULL, *result = NULL;
    if (!PyArg_ParseTuple(args, "O!O!O", &PyList_Type, &texts, &PyList_Type, &records, &fallback)) {
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(texts);
    source = PyUnicode_InternFromString("console");
    logger = PyUnicode_InternFromString("uvicorn");
    kinds = PyByteArray_FromStringAndSize(NULL, n * 8);
    times = PyByteArray_FromStringAndSize(NULL, n * 8);
    for (int k = 0; k < 6; k++) {
        /* (uvicorn's TRACE is read as DEBUG, the level the events know) */
        if ((levels[k] = PyUnicode_InternFromString(k == 5 ? "DEBUG" : CONSOLE_LEVELS[k])) == NULL) {
            goto done;
        }
    }
    if (source == NULL || logger == NULL || kinds == NULL || times == NULL) {
        goto done;
    }
    int64_t *kind = (int64_t *)PyByteArray_AS_STRING(kinds);
    double *time = (double *)PyByteArray_AS_STRING(times);
    for (Py_ssize_t u = 0; u < n; u++) {
        PyObject *text = PyList_GET_ITEM(texts, u), *parts;
        if (!PyUnicode_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "texts are str");
            goto done;
        }
        const char *s = (const char *)PyUnicode_DATA(text);
        Py_ssize_t len = PyUnicode_GET_LENGTH(text);
        if (!PyUnicode_IS_ASCII(text) || len == 0 || (s[0] >= '0' && s[0] <= '9') || s[0] == '[') {
            parts = PyObject_CallOneArg(fallback, text);
        } else {
            parts = console_parts(text, source, logger, levels);
        }
        if (parts == NULL) {
            goto done;
        }
        time[u] = Py_NAN;
        if (parts == Py_None) {
            kind[u] = blank(text) ? -2 : -1;
        } else {
            PyObject *t, *record = NULL;
            if (!PyTuple_Check(parts) || PyTuple_GET_SIZE(parts) != 5) {
                PyErr_SetString(PyExc_TypeError, "split_line() gives (source, time, logger, level, message)");
            } else if ((t = PyTuple_GET_ITEM(parts, 1)) != Py_None && (time[u] = PyFloat_AsDouble(t)) == -1.0 &&
                       PyErr_Occurred()) {
                /* (its error) */
            } else {
                record = PyTuple_Pack(4, PyTuple_GET_ITEM(parts, 0), PyTuple_GET_ITEM(parts, 2),
                                      PyTuple_GET_ITEM(parts, 3), PyTuple_GET_ITEM(parts, 4));
            }
            Py_DECREF(parts);
            kind[u] = PyList_GET_SIZE(records);
            if (record == NULL || PyList_Append(records, record) < 0) {
                Py_XDECREF(record);
                goto done;
            }
            Py_DECREF(record);
            continue;
        }
        Py_DECREF(parts);
    }
    result = PyTuple_Pack(2, kinds, times);
done:
    Py_XDECREF(kinds);
    Py_XDECREF(times);
    Py_XDECREF(source);
    Py_XDECREF(logger);
    for (int k = 0; k < 6; k++) {
        Py_XDECREF(levels[k]);
    }
    return result;
}

static PyMethodDef methods[] = {
    {"compile", compile, METH_VARARGS, "compile(spec) -> table: the shapes to match (see the module's comment)."},
    {"classify", classify, METH_VARARGS,
     "classify(table, records, start) -> list of (kind, shape, fields, tag), None for a record that is no tuple."},
    {"split", split, METH_VARARGS,
     "split(keys, records, frontend_levels, fallback) -> int32 bytes: each key's record, appended to records."},
    {"untimed", untimed, METH_VARARGS,
     "untimed(texts, records, fallback) -> (kinds, times): each text's record (appended), -1 other, -2 blank."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_match", "The shape matcher of the fast parser.", -1,
                                    methods};

PyMODINIT_FUNC PyInit__match(void) {
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "VERSION", 1) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
