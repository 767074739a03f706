/* Building records and per-record columns in one pass (jarvis_diag/timeline.py, logs/fast.py).
 *
 *   records(keys, columns, sparse) -> list of Records
 *       keys: tuple of str; columns: list of lists, one per key, all of one length n.
 *       Record i reads as {keys[k]: columns[k][i] for each k}. sparse: list of
 *       (key, positions, values): values[j] is under key in record positions[j] (the
 *       columns that have a value on a few rows only). A Record is a mapping (see below)
 *       that keeps no values of its own: it costs one small object, not a dict.
 *   codes(values) -> (categories, codes)
 *       values: list. categories: its distinct values other than None, sorted; codes: each
 *       value's position among them as int32 (-1 for None), in a bytearray.
 *   numbers(values, integer) -> (values, missing)
 *       values: list of int (integer) or of numbers, with None; as int64 (0 for None) or
 *       float64 (NaN for None) in a bytearray, and a bytearray with 1 where a value is None.
 *
 *   extend(columns, records, known, fixed, start)
 *       The fast parser's per-record columns (logs/fast.py _extend_columns): ``columns``
 *       ({column: list}, each list holding records[:start]) grows by records[start:].
 *       Record j is a (source, logger, level, message) tuple classified as known[j] =
 *       (kind, shape, fields, tag), or a dict with every key of ``fixed``; the six
 *       ``fixed`` columns (kind, shape, source, logger, level, tag) are made first, then
 *       each field's in the order first met (None where a record has none).
 *
 * timeline.py and fast.py build the same in Python when this module was not compiled;
 * this only makes it cheaper (hundreds of thousands of records on a big log).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* ---- records: one small object per row over shared columns ------------------------------
 *
 * A Record reads like the dict {keys[k]: columns[k][i], plus its sparse entries}: r[key],
 * r.get(key, default), key in r, len(r), iteration over its keys, keys(), items(),
 * values(), copy() (a dict), == with a dict or another record; unhashable, as a dict is.
 * r[key] = value keeps value in the record's own dict, read first.
 * The values stay in the columns and in the sparse lists (one Table holds them for every
 * record): a record costs one small allocation instead of a dict of ten entries. */

typedef struct {
    PyObject_HEAD
    Py_ssize_t n, nk;
    PyObject *keys;    /* tuple of the dense keys */
    PyObject *columns; /* list of nk lists of n values */
    PyObject *sparse;  /* the (key, positions, values) list: keeps the entries alive */
    Py_ssize_t *first; /* record i's sparse entries are first[i] .. first[i + 1] - 1 */
    PyObject **entry_key, **entry_value; /* borrowed from sparse */
} Table;

typedef struct {
    PyObject_HEAD
    Table *table;
    Py_ssize_t i;
    PyObject *extra; /* keys set after building (NULL: none) */
} Record;

static void table_dealloc(Table *t) {
    PyMem_Free(t->first);
    PyMem_Free(t->entry_key);
    PyMem_Free(t->entry_value);
    Py_XDECREF(t->keys);
    Py_XDECREF(t->columns);
    Py_XDECREF(t->sparse);
    PyObject_Free(t);
}

static PyTypeObject TableType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "jarvis_diag._records.Table",
    .tp_basicsize = sizeof(Table),
    .tp_dealloc = (destructor)table_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The columns a list of Records reads.",
};

/* The value under key (borrowed), or NULL: not there (no error set) or an error. */
static PyObject *record_find(Record *r, PyObject *key) {
    if (r->extra != NULL) {
        PyObject *v = PyDict_GetItemWithError(r->extra, key);
        if (v != NULL || PyErr_Occurred()) {
            return v;
        }
    }
    Table *t = r->table;
    Py_ssize_t i = r->i;
    for (Py_ssize_t k = 0; k < t->nk; k++) { /* (keys are interned: the same object, usually) */
        if (PyTuple_GET_ITEM(t->keys, k) == key) {
            return PyList_GET_ITEM(PyList_GET_ITEM(t->columns, k), i);
        }
    }
    for (Py_ssize_t e = t->first[i]; e < t->first[i + 1]; e++) {
        if (t->entry_key[e] == key) {
            return t->entry_value[e];
        }
    }
    if (!PyUnicode_Check(key)) {
        return NULL;
    }
    for (Py_ssize_t k = 0; k < t->nk; k++) {
        if (PyUnicode_Compare(PyTuple_GET_ITEM(t->keys, k), key) == 0) {
            return PyList_GET_ITEM(PyList_GET_ITEM(t->columns, k), i);
        }
    }
    for (Py_ssize_t e = t->first[i]; e < t->first[i + 1]; e++) {
        if (PyUnicode_Compare(t->entry_key[e], key) == 0) {
            return t->entry_value[e];
        }
    }
    return NULL;
}

/* A new dict of the record's keys and values. */
static PyObject *record_dict(Record *r) {
    Table *t = r->table;
    PyObject *d = PyDict_New();
    if (d == NULL) {
        return NULL;
    }
    for (Py_ssize_t k = 0; k < t->nk; k++) {
        if (PyDict_SetItem(d, PyTuple_GET_ITEM(t->keys, k), PyList_GET_ITEM(PyList_GET_ITEM(t->columns, k), r->i)) < 0) {
            goto fail;
        }
    }
    for (Py_ssize_t e = t->first[r->i]; e < t->first[r->i + 1]; e++) {
        if (PyDict_SetItem(d, t->entry_key[e], t->entry_value[e]) < 0) {
            goto fail;
        }
    }
    if (r->extra != NULL && PyDict_Update(d, r->extra) < 0) {
        goto fail;
    }
    return d;
fail:
    Py_DECREF(d);
    return NULL;
}

static void record_dealloc(Record *r) {
    Py_DECREF(r->table);
    Py_XDECREF(r->extra);
    PyObject_Free(r);
}

static PyObject *record_subscript(Record *r, PyObject *key) {
    PyObject *v = record_find(r, key);
    if (v == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetObject(PyExc_KeyError, key);
        }
        return NULL;
    }
    return Py_NewRef(v);
}

static int record_ass_subscript(Record *r, PyObject *key, PyObject *value) {
    if (value == NULL) {
        if (r->extra != NULL && PyDict_GetItemWithError(r->extra, key) != NULL) {
            return PyDict_DelItem(r->extra, key);
        }
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "a record's own keys cannot be deleted");
        }
        return -1;
    }
    if (r->extra == NULL && (r->extra = PyDict_New()) == NULL) {
        return -1;
    }
    return PyDict_SetItem(r->extra, key, value);
}

static int record_contains(Record *r, PyObject *key) {
    if (record_find(r, key) != NULL) {
        return 1;
    }
    return PyErr_Occurred() ? -1 : 0;
}

static Py_ssize_t record_length(Record *r) {
    PyObject *d = record_dict(r);
    if (d == NULL) {
        return -1;
    }
    Py_ssize_t n = PyDict_GET_SIZE(d);
    Py_DECREF(d);
    return n;
}

static PyObject *record_get(Record *r, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "get(key, default=None)");
        return NULL;
    }
    PyObject *v = record_find(r, args[0]);
    if (v == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        v = nargs == 2 ? args[1] : Py_None;
    }
    return Py_NewRef(v);
}

static PyObject *record_via_dict(Record *r, const char *method) {
    PyObject *d = record_dict(r);
    if (d == NULL) {
        return NULL;
    }
    PyObject *out = PyObject_CallMethod(d, method, NULL);
    Py_DECREF(d);
    return out;
}

static PyObject *record_keys(Record *r, PyObject *unused) { return record_via_dict(r, "keys"); }
static PyObject *record_items(Record *r, PyObject *unused) { return record_via_dict(r, "items"); }
static PyObject *record_values(Record *r, PyObject *unused) { return record_via_dict(r, "values"); }
static PyObject *record_copy(Record *r, PyObject *unused) { return record_dict(r); }

static PyObject *record_iter(Record *r) {
    PyObject *d = record_dict(r);
    if (d == NULL) {
        return NULL;
    }
    PyObject *it = PyObject_GetIter(d);
    Py_DECREF(d);
    return it;
}

static PyObject *record_repr(Record *r) {
    PyObject *d = record_dict(r);
    if (d == NULL) {
        return NULL;
    }
    PyObject *out = PyUnicode_FromFormat("Record(%R)", d);
    Py_DECREF(d);
    return out;
}

/* == and != compare the keys and values, with another record or a dict (as dicts do). */
static PyObject *record_richcompare(Record *r, PyObject *other, int op) {
    if ((op != Py_EQ && op != Py_NE) || !(PyDict_Check(other) || Py_IS_TYPE(other, Py_TYPE(r)))) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    PyObject *mine = record_dict(r), *theirs = NULL, *out = NULL;
    if (mine == NULL) {
        return NULL;
    }
    theirs = PyDict_Check(other) ? Py_NewRef(other) : record_dict((Record *)other);
    if (theirs != NULL) {
        out = PyObject_RichCompare(mine, theirs, op);
    }
    Py_DECREF(mine);
    Py_XDECREF(theirs);
    return out;
}

static PyMethodDef record_methods[] = {
    {"get", (PyCFunction)(void (*)(void))record_get, METH_FASTCALL, "get(key, default=None)"},
    {"keys", (PyCFunction)record_keys, METH_NOARGS, "The keys, as a dict's."},
    {"items", (PyCFunction)record_items, METH_NOARGS, "The (key, value) pairs, as a dict's."},
    {"values", (PyCFunction)record_values, METH_NOARGS, "The values, as a dict's."},
    {"copy", (PyCFunction)record_copy, METH_NOARGS, "The record as a new dict."},
    {NULL, NULL, 0, NULL},
};

static PyMappingMethods record_mapping = {
    .mp_length = (lenfunc)record_length,
    .mp_subscript = (binaryfunc)record_subscript,
    .mp_ass_subscript = (objobjargproc)record_ass_subscript,
};

static PySequenceMethods record_sequence = {
    .sq_contains = (objobjproc)record_contains,
};

static PyTypeObject RecordType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "jarvis_diag._records.Record",
    .tp_basicsize = sizeof(Record),
    .tp_dealloc = (destructor)record_dealloc,
    .tp_repr = (reprfunc)record_repr,
    .tp_as_sequence = &record_sequence,
    .tp_as_mapping = &record_mapping,
    .tp_iter = (getiterfunc)record_iter,
    .tp_richcompare = (richcmpfunc)record_richcompare,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One row of the correlation's records: reads like a dict of its line's values.",
    .tp_methods = record_methods,
};

static PyObject *records(PyObject *self, PyObject *args) {
    PyObject *keys, *columns, *sparse;
    if (!PyArg_ParseTuple(args, "O!O!O!", &PyTuple_Type, &keys, &PyList_Type, &columns, &PyList_Type, &sparse)) {
        return NULL;
    }
    Py_ssize_t nk = PyTuple_GET_SIZE(keys), ns = PyList_GET_SIZE(sparse);
    if (PyList_GET_SIZE(columns) != nk) {
        PyErr_SetString(PyExc_ValueError, "one column per key");
        return NULL;
    }
    Py_ssize_t n = 0;
    for (Py_ssize_t k = 0; k < nk; k++) {
        PyObject *col = PyList_GET_ITEM(columns, k);
        if (!PyList_Check(col) || (k > 0 && PyList_GET_SIZE(col) != n)) {
            PyErr_SetString(PyExc_ValueError, "the columns are lists of one length");
            return NULL;
        }
        n = PyList_GET_SIZE(col);
    }
    for (Py_ssize_t s = 0; s < ns; s++) {
        PyObject *item = PyList_GET_ITEM(sparse, s);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 3 || !PyList_Check(PyTuple_GET_ITEM(item, 1))
            || !PyList_Check(PyTuple_GET_ITEM(item, 2))) {
            PyErr_SetString(PyExc_TypeError, "sparse: (key, positions list, values list) tuples");
            return NULL;
        }
        if (PyList_GET_SIZE(PyTuple_GET_ITEM(item, 1)) != PyList_GET_SIZE(PyTuple_GET_ITEM(item, 2))) {
            PyErr_SetString(PyExc_ValueError, "one value per position");
            return NULL;
        }
    }
    /* The table owns copies of the column and sparse lists (their items are shared), so that
     * a caller changing its lists afterwards changes no record. */
    Table *t = PyObject_New(Table, &TableType);
    if (t == NULL) {
        return NULL;
    }
    t->n = n;
    t->nk = nk;
    t->keys = Py_NewRef(keys);
    t->columns = PyList_New(nk);
    t->sparse = PyList_GetSlice(sparse, 0, ns);
    t->first = PyMem_Calloc(n + 1, sizeof(Py_ssize_t));
    t->entry_key = NULL;
    t->entry_value = NULL;
    PyObject *out = NULL;
    Py_ssize_t *fill = NULL;
    if (t->columns == NULL || t->sparse == NULL || t->first == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_NoMemory();
        }
        goto fail;
    }
    for (Py_ssize_t k = 0; k < nk; k++) {
        PyObject *col = PyList_GetSlice(PyList_GET_ITEM(columns, k), 0, n);
        if (col == NULL) {
            goto fail;
        }
        PyList_SET_ITEM(t->columns, k, col);
    }
    /* the sparse values in record order (a CSR layout: record i's are first[i] ..) */
    Py_ssize_t total = 0;
    for (Py_ssize_t s = 0; s < ns; s++) {
        PyObject *positions = PyTuple_GET_ITEM(PyList_GET_ITEM(t->sparse, s), 1);
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(positions); j++) {
            Py_ssize_t at = PyLong_AsSsize_t(PyList_GET_ITEM(positions, j));
            if (at < 0 || at >= n) {
                if (!PyErr_Occurred()) {
                    PyErr_SetString(PyExc_IndexError, "position out of range");
                }
                goto fail;
            }
            t->first[at + 1]++;
            total++;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        t->first[i + 1] += t->first[i];
    }
    fill = PyMem_Malloc((n > 0 ? n : 1) * sizeof(Py_ssize_t));
    t->entry_key = PyMem_Malloc((total > 0 ? total : 1) * sizeof(PyObject *));
    t->entry_value = PyMem_Malloc((total > 0 ? total : 1) * sizeof(PyObject *));
    if (fill == NULL || t->entry_key == NULL || t->entry_value == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    memcpy(fill, t->first, n * sizeof(Py_ssize_t));
    for (Py_ssize_t s = 0; s < ns; s++) {
        PyObject *item = PyList_GET_ITEM(t->sparse, s);
        PyObject *key = PyTuple_GET_ITEM(item, 0), *positions = PyTuple_GET_ITEM(item, 1);
        PyObject *values = PyTuple_GET_ITEM(item, 2);
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(positions); j++) {
            Py_ssize_t at = PyLong_AsSsize_t(PyList_GET_ITEM(positions, j)); /* (checked above) */
            t->entry_key[fill[at]] = key;
            t->entry_value[fill[at]++] = PyList_GET_ITEM(values, j);
        }
    }
    out = PyList_New(n);
    if (out == NULL) {
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Record *r = PyObject_New(Record, &RecordType);
        if (r == NULL) {
            Py_CLEAR(out);
            goto fail;
        }
        r->table = (Table *)Py_NewRef(t);
        r->i = i;
        r->extra = NULL;
        PyList_SET_ITEM(out, i, (PyObject *)r);
    }
fail:
    PyMem_Free(fill);
    Py_DECREF(t);
    return out;
}

static PyObject *codes(PyObject *self, PyObject *args) {
    PyObject *values;
    if (!PyArg_ParseTuple(args, "O!", &PyList_Type, &values)) {
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(values);
    PyObject *where = PyDict_New(), *out = PyByteArray_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int32_t));
    PyObject *cats = NULL, *result = NULL;
    int32_t *remap = NULL;
    if (where == NULL || out == NULL) {
        goto done;
    }
    int32_t *code = (int32_t *)PyByteArray_AS_STRING(out);
    /* each value's number in the order first seen */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyList_GET_ITEM(values, i);
        if (v == Py_None) {
            code[i] = -1;
            continue;
        }
        PyObject *known = PyDict_GetItemWithError(where, v);
        if (known != NULL) {
            code[i] = (int32_t)PyLong_AsLong(known);
            continue;
        }
        if (PyErr_Occurred()) {
            goto done;
        }
        Py_ssize_t next = PyDict_GET_SIZE(where);
        if (next >= INT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "too many distinct values");
            goto done;
        }
        PyObject *number = PyLong_FromSsize_t(next);
        if (number == NULL || PyDict_SetItem(where, v, number) < 0) {
            Py_XDECREF(number);
            goto done;
        }
        Py_DECREF(number);
        code[i] = (int32_t)next;
    }
    /* then renumbered in sorted order */
    cats = PyDict_Keys(where);
    if (cats == NULL || PyList_Sort(cats) < 0) {
        goto done;
    }
    Py_ssize_t k = PyList_GET_SIZE(cats);
    remap = PyMem_Malloc((k > 0 ? k : 1) * sizeof(int32_t));
    if (remap == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t j = 0; j < k; j++) {
        PyObject *first = PyDict_GetItemWithError(where, PyList_GET_ITEM(cats, j));
        if (first == NULL) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_RuntimeError, "a value changed while it was numbered");
            }
            goto done;
        }
        remap[PyLong_AsLong(first)] = (int32_t)j;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (code[i] >= 0) {
            code[i] = remap[code[i]];
        }
    }
    result = PyTuple_Pack(2, cats, out);
done:
    PyMem_Free(remap);
    Py_XDECREF(cats);
    Py_XDECREF(where);
    Py_XDECREF(out);
    return result;
}

static PyObject *numbers(PyObject *self, PyObject *args) {
    PyObject *values;
    int integer;
    if (!PyArg_ParseTuple(args, "O!p", &PyList_Type, &values, &integer)) {
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(values);
    PyObject *out = PyByteArray_FromStringAndSize(NULL, n * 8), *missing = PyByteArray_FromStringAndSize(NULL, n);
    if (out == NULL || missing == NULL) {
        goto fail;
    }
    char *gone = PyByteArray_AS_STRING(missing);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyList_GET_ITEM(values, i);
        gone[i] = v == Py_None;
        if (integer) {
            int64_t x = 0;
            if (v != Py_None) {
                if (!PyLong_CheckExact(v)) {
                    PyErr_SetString(PyExc_TypeError, "not an int");
                    goto fail;
                }
                x = PyLong_AsLongLong(v);
                if (x == -1 && PyErr_Occurred()) {
                    goto fail;
                }
            }
            ((int64_t *)PyByteArray_AS_STRING(out))[i] = x;
        } else {
            double x = Py_NAN;
            if (v != Py_None) {
                x = PyFloat_AsDouble(v);
                if (x == -1.0 && PyErr_Occurred()) {
                    goto fail;
                }
            }
            ((double *)PyByteArray_AS_STRING(out))[i] = x;
        }
    }
    PyObject *result = PyTuple_Pack(2, out, missing);
    Py_DECREF(out);
    Py_DECREF(missing);
    return result;
fail:
    Py_XDECREF(out);
    Py_XDECREF(missing);
    return NULL;
}

/* A list of n Nones. */
static PyObject *nones(Py_ssize_t n) {
    PyObject *list = PyList_New(n);
    for (Py_ssize_t i = 0; list != NULL && i < n; i++) {
        Py_INCREF(Py_None);
        PyList_SET_ITEM(list, i, Py_None);
    }
    return list;
}

/* Make every list of ``columns`` (all of length ``start``) ``n`` long, with Nones. */
static int pad(PyObject *columns, Py_ssize_t start, Py_ssize_t n) {
    PyObject *key, *column;
    Py_ssize_t pos = 0;
    while (PyDict_Next(columns, &pos, &key, &column)) {
        if (!PyList_Check(column) || PyList_GET_SIZE(column) != start) {
            PyErr_SetString(PyExc_ValueError, "extend: every column holds the records before start");
            return -1;
        }
        PyObject *more = nones(n - start);
        if (more == NULL) {
            return -1;
        }
        int bad = PyList_SetSlice(column, start, start, more) < 0;
        Py_DECREF(more);
        if (bad) {
            return -1;
        }
    }
    return 0;
}

/* columns[key][j] = v (new reference given; the slot held None). */
static inline void put(PyObject *column, Py_ssize_t j, PyObject *v) {
    PyObject *old = PyList_GET_ITEM(column, j);
    PyList_SET_ITEM(column, j, v);
    Py_DECREF(old);
}

static PyObject *extend(PyObject *self, PyObject *args) {
    PyObject *columns, *records, *known, *fixed;
    Py_ssize_t start;
    if (!PyArg_ParseTuple(args, "O!O!O!O!n", &PyDict_Type, &columns, &PyList_Type, &records, &PyList_Type, &known,
                          &PyTuple_Type, &fixed, &start)) {
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(records);
    if (PyList_GET_SIZE(known) != n || PyTuple_GET_SIZE(fixed) != 6 || start < 0 || start > n) {
        PyErr_SetString(PyExc_ValueError, "extend: one classification per record, six fixed columns, start in range");
        return NULL;
    }
    PyObject *fixed_set = PyFrozenSet_New(fixed), *cols[6] = {NULL};
    if (fixed_set == NULL || pad(columns, start, n) < 0) {
        goto fail;
    }
    for (int k = 0; k < 6; k++) {
        PyObject *key = PyTuple_GET_ITEM(fixed, k);
        cols[k] = PyDict_GetItemWithError(columns, key);
        if (cols[k] == NULL) {
            if (PyErr_Occurred() || (cols[k] = nones(n)) == NULL) {
                goto fail;
            }
            int bad = PyDict_SetItem(columns, key, cols[k]) < 0;
            Py_DECREF(cols[k]); /* (the dict holds it) */
            if (bad) {
                goto fail;
            }
        }
    }
    for (Py_ssize_t j = start; j < n; j++) {
        PyObject *r = PyList_GET_ITEM(records, j), *values[6];
        if (PyTuple_Check(r)) {
            PyObject *c = PyList_GET_ITEM(known, j);
            if (PyTuple_GET_SIZE(r) != 4 || !PyTuple_Check(c) || PyTuple_GET_SIZE(c) != 4 ||
                !PyDict_Check(PyTuple_GET_ITEM(c, 2))) {
                PyErr_SetString(PyExc_TypeError, "a record (source, logger, level, message) needs its (kind, shape, "
                                                 "fields, tag)");
                goto fail;
            }
            values[0] = PyTuple_GET_ITEM(c, 0);
            values[1] = PyTuple_GET_ITEM(c, 1);
            values[2] = PyTuple_GET_ITEM(r, 0);
            values[3] = PyTuple_GET_ITEM(r, 1);
            values[4] = PyTuple_GET_ITEM(r, 2);
            values[5] = PyTuple_GET_ITEM(c, 3);
            PyObject *fields = PyTuple_GET_ITEM(c, 2), *key, *v;
            Py_ssize_t pos = 0;
            while (PyDict_Next(fields, &pos, &key, &v)) {
                if (v == Py_None) {
                    continue;
                }
                int is_fixed = PySet_Contains(fixed_set, key);
                if (is_fixed < 0) {
                    goto fail;
                }
                if (is_fixed) {
                    continue;
                }
                PyObject *column = PyDict_GetItemWithError(columns, key);
                if (column == NULL) {
                    if (PyErr_Occurred() || (column = nones(n)) == NULL) {
                        goto fail;
                    }
                    int bad = PyDict_SetItem(columns, key, column) < 0;
                    Py_DECREF(column); /* (the dict holds it) */
                    if (bad) {
                        goto fail;
                    }
                }
                Py_INCREF(v);
                put(column, j, v);
            }
            for (int k = 0; k < 6; k++) {
                Py_INCREF(values[k]);
            }
        } else {
            if (!PyDict_Check(r)) {
                PyErr_SetString(PyExc_TypeError, "a record is a tuple or a dict");
                goto fail;
            }
            for (int k = 0; k < 6; k++) {
                values[k] = PyDict_GetItemWithError(r, PyTuple_GET_ITEM(fixed, k));
                if (values[k] == NULL) {
                    if (!PyErr_Occurred()) {
                        PyErr_SetObject(PyExc_KeyError, PyTuple_GET_ITEM(fixed, k));
                    }
                    for (int i = 0; i < k; i++) {
                        Py_DECREF(values[i]);
                    }
                    goto fail;
                }
                Py_INCREF(values[k]);
            }
        }
        for (int k = 0; k < 6; k++) {
            put(cols[k], j, values[k]);
        }
    }
    Py_DECREF(fixed_set);
    Py_RETURN_NONE;
fail:
    Py_XDECREF(fixed_set);
    return NULL;
}

static PyMethodDef methods[] = {
    {"records", records, METH_VARARGS, "records(keys, columns, sparse) -> list of Records, one per row."},
    {"codes", codes, METH_VARARGS,
     "codes(values) -> (categories, codes): the distinct values but None, sorted, and each value's number "
     "among them as int32 bytes (-1: None)."},
    {"numbers", numbers, METH_VARARGS,
     "numbers(values, integer) -> (values, missing): int64 (0 for None) or float64 (NaN for None) bytes, and "
     "one byte per value, 1 where it is None."},
    {"extend", extend, METH_VARARGS,
     "extend(columns, records, known, fixed, start): the fast parser's record columns, records[start:] added."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_records", "The correlation's records, built in C.", -1,
                                    methods};

PyMODINIT_FUNC PyInit__records(void) {
    if (PyType_Ready(&TableType) < 0 || PyType_Ready(&RecordType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && (PyModule_AddIntConstant(m, "VERSION", 7) < 0
                      || PyModule_AddObjectRef(m, "Record", (PyObject *)&RecordType) < 0)) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
