/* A journal reader on libsystemd: the subset of systemd-python's Reader that tailer uses, plus
 * the batch loop of the journal source in C.
 *
 * systemd-python answers each _next() and _get(field) with a Python call, and each _get is a
 * linear scan of the entry's data objects; a stdout line (_STREAM_ID, MESSAGE, PRIORITY) costs
 * three scans and about 6 us. scan_runs() walks the entry's data objects once and builds the
 * journal source's run rows directly, about 2.5 us an entry, most of it libsystemd's own.
 * An entry that is not a stdout line of a known stream is read a second time for its metadata
 * (the fields FIELD_NAMES names); journal.py then names its stream, so the rules
 * about stream keys live in one place.
 *
 * Optional: without libsystemd's headers the build skips this module and the journal source
 * uses systemd.journal.Reader, with the same results.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <systemd/sd-journal.h>

typedef struct {
    PyObject_HEAD
    sd_journal *j;
    int waiting; /* wait() runs without the GIL: close() must not free the journal under it */
} Reader;

static PyObject *
os_error(int r)
{
    errno = r < 0 ? -r : r;
    return PyErr_SetFromErrno(PyExc_OSError);
}

static int
check_open(Reader *self)
{
    if (self->j == NULL) {
        PyErr_SetString(PyExc_ValueError, "journal reader is closed");
        return -1;
    }
    return 0;
}

#define OPEN_OR_NULL(self) \
    do { \
        if (check_open(self) < 0) \
            return NULL; \
    } while (0)

/* -- life cycle ------------------------------------------------------------------------ */

static int
open_files(Reader *self, PyObject *files)
{
    PyObject *seq = PySequence_Fast(files, "files must be a sequence of paths");
    if (seq == NULL)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **encoded = PyMem_Calloc((size_t)n + 1, sizeof(PyObject *));
    const char **paths = PyMem_Calloc((size_t)n + 1, sizeof(char *));
    int r = -1;
    if (encoded == NULL || paths == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyUnicode_FSConverter(PySequence_Fast_GET_ITEM(seq, i), &encoded[i]))
            goto done;
        paths[i] = PyBytes_AS_STRING(encoded[i]);
    }
    Py_BEGIN_ALLOW_THREADS
    r = sd_journal_open_files(&self->j, paths, 0);
    Py_END_ALLOW_THREADS
    if (r < 0) {
        os_error(r);
        r = -1;
    }
done:
    if (encoded != NULL)
        for (Py_ssize_t i = 0; i < n; i++)
            Py_XDECREF(encoded[i]);
    PyMem_Free(encoded);
    PyMem_Free(paths);
    Py_DECREF(seq);
    return r < 0 ? -1 : 0;
}

static int
Reader_init(Reader *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"namespace", "path", "files", NULL};
    const char *namespace = NULL, *path = NULL;
    PyObject *files = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$zzO", kwlist, &namespace, &path, &files))
        return -1;
    if (self->j != NULL) {
        PyErr_SetString(PyExc_ValueError, "journal reader is already open");
        return -1;
    }
    if (files != Py_None)
        return open_files(self, files);
    int r;
    Py_BEGIN_ALLOW_THREADS
    if (namespace != NULL)
        r = sd_journal_open_namespace(&self->j, namespace, SD_JOURNAL_LOCAL_ONLY);
    else if (path != NULL)
        r = sd_journal_open_directory(&self->j, path, 0);
    else
        r = sd_journal_open(&self->j, SD_JOURNAL_LOCAL_ONLY);
    Py_END_ALLOW_THREADS
    if (r < 0) {
        os_error(r);
        return -1;
    }
    return 0;
}

static PyObject *
Reader_close(Reader *self, PyObject *Py_UNUSED(ignored))
{
    if (self->waiting) {
        PyErr_SetString(PyExc_RuntimeError, "journal reader closed while wait() runs");
        return NULL;
    }
    if (self->j != NULL) {
        sd_journal_close(self->j);
        self->j = NULL;
    }
    Py_RETURN_NONE;
}

static void
Reader_dealloc(Reader *self)
{
    if (self->j != NULL)
        sd_journal_close(self->j);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* -- moving ---------------------------------------------------------------------------- */

static PyObject *
step_result(int r)
{
    if (r < 0)
        return os_error(r);
    return PyBool_FromLong(r > 0);
}

static PyObject *
Reader_next(Reader *self, PyObject *Py_UNUSED(ignored))
{
    OPEN_OR_NULL(self);
    return step_result(sd_journal_next(self->j));
}

static PyObject *
Reader_previous(Reader *self, PyObject *Py_UNUSED(ignored))
{
    OPEN_OR_NULL(self);
    return step_result(sd_journal_previous(self->j));
}

static PyObject *
none_or_error(int r)
{
    if (r < 0)
        return os_error(r);
    Py_RETURN_NONE;
}

static PyObject *
Reader_seek_head(Reader *self, PyObject *Py_UNUSED(ignored))
{
    OPEN_OR_NULL(self);
    return none_or_error(sd_journal_seek_head(self->j));
}

static PyObject *
Reader_seek_tail(Reader *self, PyObject *Py_UNUSED(ignored))
{
    OPEN_OR_NULL(self);
    return none_or_error(sd_journal_seek_tail(self->j));
}

static PyObject *
Reader_seek_realtime(Reader *self, PyObject *arg)
{
    OPEN_OR_NULL(self);
    unsigned long long usec = PyLong_AsUnsignedLongLong(arg);
    if (usec == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    return none_or_error(sd_journal_seek_realtime_usec(self->j, (uint64_t)usec));
}

static PyObject *
Reader_seek_cursor(Reader *self, PyObject *arg)
{
    OPEN_OR_NULL(self);
    const char *cursor = PyUnicode_AsUTF8(arg);
    if (cursor == NULL)
        return NULL;
    return none_or_error(sd_journal_seek_cursor(self->j, cursor));
}

static PyObject *
Reader_test_cursor(Reader *self, PyObject *arg)
{
    OPEN_OR_NULL(self);
    const char *cursor = PyUnicode_AsUTF8(arg);
    if (cursor == NULL)
        return NULL;
    return step_result(sd_journal_test_cursor(self->j, cursor));
}

/* -- matches --------------------------------------------------------------------------- */

static PyObject *
Reader_add_match(Reader *self, PyObject *arg)
{
    OPEN_OR_NULL(self);
    Py_ssize_t len;
    const char *match = PyUnicode_AsUTF8AndSize(arg, &len);
    if (match == NULL)
        return NULL;
    return none_or_error(sd_journal_add_match(self->j, match, (size_t)len));
}

static PyObject *
Reader_add_disjunction(Reader *self, PyObject *Py_UNUSED(ignored))
{
    OPEN_OR_NULL(self);
    return none_or_error(sd_journal_add_disjunction(self->j));
}

static PyObject *
Reader_add_conjunction(Reader *self, PyObject *Py_UNUSED(ignored))
{
    OPEN_OR_NULL(self);
    return none_or_error(sd_journal_add_conjunction(self->j));
}

/* -- the current entry ----------------------------------------------------------------- */

static PyObject *
Reader_get(Reader *self, PyObject *arg)
{
    OPEN_OR_NULL(self);
    Py_ssize_t len;
    const char *field = PyUnicode_AsUTF8AndSize(arg, &len);
    if (field == NULL)
        return NULL;
    const void *data;
    size_t size;
    int r = sd_journal_get_data(self->j, field, &data, &size);
    if (r == -ENOENT) {
        PyErr_SetObject(PyExc_KeyError, arg);
        return NULL;
    }
    if (r < 0)
        return os_error(r);
    if (size < (size_t)len + 1) {
        errno = EBADMSG;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyBytes_FromStringAndSize((const char *)data + len + 1, (Py_ssize_t)(size - len - 1));
}

/* Adds FIELD=value to ``out``; a repeated field becomes a list, as in systemd-python. */
static int
add_field(PyObject *out, const char *data, size_t size)
{
    const char *eq = memchr(data, '=', size);
    if (eq == NULL)
        return 0; /* not FIELD=value: libsystemd never writes such an object; skip it */
    PyObject *key = PyUnicode_DecodeUTF8(data, eq - data, "replace");
    PyObject *value = PyBytes_FromStringAndSize(eq + 1, (Py_ssize_t)(size - (eq + 1 - data)));
    int r = -1;
    if (key == NULL || value == NULL)
        goto done;
    PyObject *old = PyDict_GetItemWithError(out, key);
    if (old == NULL) {
        if (PyErr_Occurred())
            goto done;
        r = PyDict_SetItem(out, key, value);
    } else if (PyList_CheckExact(old)) {
        r = PyList_Append(old, value);
    } else {
        PyObject *list = PyList_New(2);
        if (list == NULL)
            goto done;
        Py_INCREF(old);
        PyList_SET_ITEM(list, 0, old);
        Py_INCREF(value);
        PyList_SET_ITEM(list, 1, value);
        r = PyDict_SetItem(out, key, list);
        Py_DECREF(list);
    }
done:
    Py_XDECREF(key);
    Py_XDECREF(value);
    return r;
}

static PyObject *
get_all(sd_journal *j)
{
    PyObject *out = PyDict_New();
    if (out == NULL)
        return NULL;
    const void *data;
    size_t size;
    int r;
    sd_journal_restart_data(j);
    while ((r = sd_journal_enumerate_data(j, &data, &size)) > 0) {
        if (add_field(out, data, size) < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
    if (r < 0) {
        Py_DECREF(out);
        return os_error(r);
    }
    return out;
}

static PyObject *
Reader_get_all(Reader *self, PyObject *Py_UNUSED(ignored))
{
    OPEN_OR_NULL(self);
    return get_all(self->j);
}

static PyObject *
Reader_get_realtime(Reader *self, PyObject *Py_UNUSED(ignored))
{
    OPEN_OR_NULL(self);
    uint64_t usec;
    int r = sd_journal_get_realtime_usec(self->j, &usec);
    if (r < 0)
        return os_error(r);
    return PyLong_FromUnsignedLongLong(usec);
}

static PyObject *
Reader_get_cursor(Reader *self, PyObject *Py_UNUSED(ignored))
{
    OPEN_OR_NULL(self);
    char *cursor;
    int r = sd_journal_get_cursor(self->j, &cursor);
    if (r < 0)
        return os_error(r);
    PyObject *out = PyUnicode_FromString(cursor);
    free(cursor);
    return out;
}

/* -- waiting --------------------------------------------------------------------------- */

static PyObject *
Reader_wait(Reader *self, PyObject *arg)
{
    OPEN_OR_NULL(self);
    double timeout = PyFloat_AsDouble(arg);
    if (timeout == -1.0 && PyErr_Occurred())
        return NULL;
    uint64_t usec = timeout < 0 ? (uint64_t)-1 : (uint64_t)(timeout * 1e6);
    int r;
    self->waiting = 1;
    Py_BEGIN_ALLOW_THREADS
    r = sd_journal_wait(self->j, usec);
    Py_END_ALLOW_THREADS
    self->waiting = 0;
    if (r < 0)
        return os_error(r);
    return PyLong_FromLong(r);
}

static PyObject *
Reader_fileno(Reader *self, PyObject *Py_UNUSED(ignored))
{
    OPEN_OR_NULL(self);
    int fd = sd_journal_get_fd(self->j);
    if (fd < 0)
        return os_error(fd);
    return PyLong_FromLong(fd);
}

static PyObject *
Reader_get_data_threshold(Reader *self, void *Py_UNUSED(closure))
{
    OPEN_OR_NULL(self);
    size_t size;
    int r = sd_journal_get_data_threshold(self->j, &size);
    if (r < 0)
        return os_error(r);
    return PyLong_FromSize_t(size);
}

static int
Reader_set_data_threshold(Reader *self, PyObject *value, void *Py_UNUSED(closure))
{
    if (check_open(self) < 0)
        return -1;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "data_threshold cannot be deleted");
        return -1;
    }
    size_t size = PyLong_AsSize_t(value);
    if (size == (size_t)-1 && PyErr_Occurred())
        return -1;
    int r = sd_journal_set_data_threshold(self->j, size);
    if (r < 0) {
        os_error(r);
        return -1;
    }
    return 0;
}

/* -- the batch loop -------------------------------------------------------------------- */

typedef struct {
    Py_ssize_t consumed, skipped, invalid_utf8;
    PyObject *errors; /* list of (what was being done, errno) */
} Counts;

static int
note_error(Counts *c, const char *doing, int r)
{
    PyObject *item = Py_BuildValue("(si)", doing, r < 0 ? -r : r);
    if (item == NULL)
        return -1;
    int rc = PyList_Append(c->errors, item);
    Py_DECREF(item);
    return rc;
}

static PyObject *
decode_message(const char *data, size_t size, int *invalid)
{
    PyObject *text = PyUnicode_DecodeUTF8(data, (Py_ssize_t)size, NULL);
    if (text != NULL || !PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
        return text;
    PyErr_Clear();
    *invalid = 1;
    return PyUnicode_DecodeUTF8(data, (Py_ssize_t)size, "replace");
}

/* One pass over the entry's data: MESSAGE (decoded; ``*invalid`` set when it was not UTF-8),
 * PRIORITY and _STREAM_ID. ``*messages`` counts MESSAGE fields (a repeated one goes the slow
 * way); ``*priority`` is 0-7, or -1 when absent or not a single digit. */
static int
read_line_fields(sd_journal *j, PyObject **text, int *invalid, PyObject **sid, int *priority,
                 int *messages)
{
    const void *raw;
    size_t size;
    int r, priorities = 0;
    sd_journal_restart_data(j);
    while ((r = sd_journal_enumerate_data(j, &raw, &size)) > 0) {
        const char *d = raw;
        if (size >= 8 && d[0] == 'M' && memcmp(d, "MESSAGE=", 8) == 0) {
            if (++*messages == 1 && (*text = decode_message(d + 8, size - 8, invalid)) == NULL)
                return -1;
        } else if (size >= 9 && d[0] == 'P' && memcmp(d, "PRIORITY=", 9) == 0) {
            *priority = (size == 10 && d[9] >= '0' && d[9] <= '7') ? d[9] - '0' : -1;
            priorities++;
        } else if (size >= 11 && d[0] == '_' && *sid == NULL &&
                   memcmp(d, "_STREAM_ID=", 11) == 0) {
            if ((*sid = PyBytes_FromStringAndSize(d + 11, (Py_ssize_t)(size - 11))) == NULL)
                return -1;
        }
    }
    if (priorities > 1)
        *priority = -1; /* as journal.py reads a repeated PRIORITY */
    return r; /* 0, or libsystemd's error */
}

/* The metadata fields of an entry that is not a known stream's line: journal field -> the
 * metadata name FIELD_NAMES (journal_records.py) gives it, looked up by length, then bytes. */
#define MAX_NAMES 64
#define VALUES_MAX 65536
#define VALUE_INTERN_MAX 256

typedef struct {
    const char *field[MAX_NAMES];
    Py_ssize_t len[MAX_NAMES];
    PyObject *name[MAX_NAMES]; /* borrowed from the names dict */
    int count;
    PyObject *values; /* str -> the same str: one object per repeated value */
} Names;

static int
names_init(Names *t, PyObject *names, PyObject *values)
{
    Py_ssize_t pos = 0;
    PyObject *field, *name;
    t->count = 0;
    t->values = values;
    while (PyDict_Next(names, &pos, &field, &name)) {
        if (t->count == MAX_NAMES || !PyUnicode_Check(field) || !PyUnicode_Check(name)) {
            PyErr_SetString(PyExc_ValueError, "names: at most 64 str -> str items");
            return -1;
        }
        t->field[t->count] = PyUnicode_AsUTF8AndSize(field, &t->len[t->count]);
        if (t->field[t->count] == NULL)
            return -1;
        t->name[t->count++] = name;
    }
    return 0;
}

static PyObject *
name_of(const Names *t, const char *field, Py_ssize_t len)
{
    for (int i = 0; i < t->count; i++)
        if (t->len[i] == len && memcmp(t->field[i], field, (size_t)len) == 0)
            return t->name[i];
    return NULL;
}

/* A field's value as text (UTF-8, invalid bytes replaced); short ones shared through
 * ``values``, so that a batch pickles each repeated value once. */
static PyObject *
value_text(const Names *t, const char *v, Py_ssize_t n)
{
    PyObject *text = PyUnicode_DecodeUTF8(v, n, "replace");
    if (text == NULL || n >= VALUE_INTERN_MAX)
        return text;
    if (PyDict_GET_SIZE(t->values) >= VALUES_MAX)
        PyDict_Clear(t->values);
    PyObject *kept = PyDict_SetDefault(t->values, text, text);
    Py_XINCREF(kept);
    Py_DECREF(text);
    return kept;
}

/* ``*slot`` = text, or ``*slot`` + "\n" + text for a repeated field (steals ``text``). */
static int
join_into(PyObject **slot, PyObject *text)
{
    if (*slot == NULL) {
        *slot = text;
        return 0;
    }
    PyObject *sep = PyUnicode_FromString("\n");
    PyObject *head = sep == NULL ? NULL : PyUnicode_Concat(*slot, sep);
    PyObject *joined = head == NULL ? NULL : PyUnicode_Concat(head, text);
    Py_XDECREF(sep);
    Py_XDECREF(head);
    Py_DECREF(text);
    if (joined == NULL)
        return -1;
    Py_SETREF(*slot, joined);
    return 0;
}

typedef struct {
    PyObject *fields; /* metadata name -> text */
    PyObject *text;   /* MESSAGE, repeated ones joined by \n */
    PyObject *sid;    /* _STREAM_ID as bytes, or NULL */
    int messages, priorities, priority, invalid;
} Whole;

static void
whole_clear(Whole *w)
{
    Py_CLEAR(w->fields);
    Py_CLEAR(w->text);
    Py_CLEAR(w->sid);
}

static int
whole_item(const Names *t, Whole *w, const char *d, size_t size)
{
    const char *eq = memchr(d, '=', size);
    if (eq == NULL)
        return 0;
    Py_ssize_t flen = eq - d, vlen = (Py_ssize_t)size - flen - 1;
    const char *v = eq + 1;
    if (flen == 7 && memcmp(d, "MESSAGE", 7) == 0) {
        int invalid = 0;
        PyObject *text = decode_message(v, (size_t)vlen, &invalid);
        w->invalid |= invalid;
        w->messages++;
        return text == NULL ? -1 : join_into(&w->text, text);
    }
    if (flen == 8 && memcmp(d, "PRIORITY", 8) == 0) {
        w->priority = (vlen == 1 && v[0] >= '0' && v[0] <= '7') ? v[0] - '0' : -1;
        w->priorities++;
        return 0;
    }
    if (flen == 10 && w->sid == NULL && memcmp(d, "_STREAM_ID", 10) == 0 &&
        (w->sid = PyBytes_FromStringAndSize(v, vlen)) == NULL)
        return -1;
    PyObject *name = name_of(t, d, flen);
    if (name == NULL)
        return 0;
    PyObject *text = value_text(t, v, vlen);
    if (text == NULL)
        return -1;
    PyObject *old = PyDict_GetItemWithError(w->fields, name);
    if (old == NULL && PyErr_Occurred()) {
        Py_DECREF(text);
        return -1;
    }
    Py_XINCREF(old);
    if (join_into(&old, text) < 0)
        return -1;
    int r = PyDict_SetItem(w->fields, name, old);
    Py_DECREF(old);
    return r;
}

/* The second pass over an entry that is not a known stream's line: its metadata, MESSAGE,
 * PRIORITY (a repeated one counts as none, as in journal.py) and _STREAM_ID. */
static int
read_whole(sd_journal *j, const Names *t, Whole *w)
{
    const void *raw;
    size_t size;
    int r;
    if ((w->fields = PyDict_New()) == NULL)
        return -1;
    sd_journal_restart_data(j);
    while ((r = sd_journal_enumerate_data(j, &raw, &size)) > 0)
        if (whole_item(t, w, raw, size) < 0)
            return -1;
    if (w->priorities > 1)
        w->priority = -1;
    return r;
}

/* Runs.add of journal_records.py: join the stream's last run when priority and fields are the same. */
static int
add_to_run(PyObject *rows, PyObject *last, PyObject *key, PyObject *fields,
           PyObject *priority, PyObject *text, PyObject *ms)
{
    PyObject *run = PyDict_GetItemWithError(last, key);
    if (run == NULL && PyErr_Occurred())
        return -1;
    int same = 0;
    if (run != NULL) {
        PyObject *run_fields = PyList_GET_ITEM(run, 1);
        same = PyObject_RichCompareBool(PyList_GET_ITEM(run, 2), priority, Py_EQ);
        if (same == 1 && run_fields != fields)
            same = PyObject_RichCompareBool(run_fields, fields, Py_EQ);
        if (same < 0)
            return -1;
    }
    if (!same) {
        run = Py_BuildValue("[OOO[][]]", key, fields, priority);
        if (run == NULL)
            return -1;
        int r = PyList_Append(rows, run) < 0 || PyDict_SetItem(last, key, run) < 0 ? -1 : 0;
        Py_DECREF(run); /* rows and last hold it */
        if (r < 0)
            return -1;
    }
    if (PyList_Append(PyList_GET_ITEM(run, 3), text) < 0)
        return -1;
    return PyList_Append(PyList_GET_ITEM(run, 4), ms);
}

/* The current entry into a run. Returns 0, 1 when libsystemd failed on it (counted), -1 on a
 * Python error. */
static int
scan_entry(sd_journal *j, Counts *c, PyObject *streams, PyObject *resolve, PyObject *rows,
           PyObject *last, const Names *names)
{
    PyObject *text = NULL, *sid = NULL, *key = NULL, *fields = NULL, *priority = NULL;
    PyObject *ms = NULL;
    Whole w = {NULL, NULL, NULL, 0, 0, -1, 0};
    int priority_digit = -1, messages = 0, invalid = 0, rc = -1;
    int r = read_line_fields(j, &text, &invalid, &sid, &priority_digit, &messages);
    if (r < 0 && PyErr_Occurred())
        goto done;
    uint64_t usec = 0;
    if (r >= 0)
        r = sd_journal_get_realtime_usec(j, &usec);
    if (r < 0) {
        rc = note_error(c, "reading an entry", r) < 0 ? -1 : 1;
        goto done;
    }
    PyObject *cached = NULL;
    if (sid != NULL && messages <= 1) {
        cached = PyDict_GetItemWithError(streams, sid);
        if (cached == NULL && PyErr_Occurred())
            goto done;
    }
    if (cached != NULL && PyTuple_CheckExact(cached) && PyTuple_GET_SIZE(cached) == 2) {
        if (messages == 0) { /* a stream's entry without MESSAGE */
            c->skipped++;
            rc = 0;
            goto done;
        }
        c->invalid_utf8 += invalid;
        key = Py_NewRef(PyTuple_GET_ITEM(cached, 0));
        fields = Py_NewRef(PyTuple_GET_ITEM(cached, 1));
    } else {
        /* native, syslog or kernel entry, or a stream seen first: read whole */
        r = read_whole(j, names, &w);
        if (r < 0 && PyErr_Occurred())
            goto done;
        if (r < 0) {
            rc = note_error(c, "reading an entry", r) < 0 ? -1 : 1;
            goto done;
        }
        if (w.messages == 0) {
            c->skipped++;
            rc = 0;
            goto done;
        }
        c->invalid_utf8 += w.invalid;
        /* journal.py names the stream (and remembers a stdout stream by its id) */
        key = PyObject_CallFunctionObjArgs(resolve, w.fields, w.sid ? w.sid : Py_None, NULL);
        if (key == NULL)
            goto done;
        fields = Py_NewRef(w.fields);
        priority_digit = w.priority;
        Py_SETREF(text, Py_NewRef(w.text));
    }
    priority = priority_digit >= 0 ? PyLong_FromLong(priority_digit) : Py_NewRef(Py_None);
    ms = PyLong_FromUnsignedLongLong(usec / 1000);
    if (priority == NULL || ms == NULL)
        goto done;
    rc = add_to_run(rows, last, key, fields, priority, text, ms);
done:
    whole_clear(&w);
    Py_XDECREF(text);
    Py_XDECREF(sid);
    Py_XDECREF(key);
    Py_XDECREF(fields);
    Py_XDECREF(priority);
    Py_XDECREF(ms);
    return rc;
}

static PyObject *
Reader_scan_runs(Reader *self, PyObject *args)
{
    Py_ssize_t max_entries;
    int held;
    PyObject *streams, *resolve, *rows, *last, *names_dict, *values;
    if (!PyArg_ParseTuple(args, "npO!OO!O!O!O!", &max_entries, &held, &PyDict_Type, &streams,
                          &resolve, &PyList_Type, &rows, &PyDict_Type, &last, &PyDict_Type,
                          &names_dict, &PyDict_Type, &values))
        return NULL;
    OPEN_OR_NULL(self);
    Names names;
    if (names_init(&names, names_dict, values) < 0)
        return NULL;
    Counts c = {0, 0, 0, PyList_New(0)};
    if (c.errors == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < max_entries; i++) {
        if (held) {
            held = 0;
        } else {
            int r = sd_journal_next(self->j);
            if (r == 0)
                break;
            if (r < 0) {
                if (note_error(&c, "moving to the next entry", r) < 0)
                    goto fail;
                break;
            }
        }
        c.consumed++;
        if (scan_entry(self->j, &c, streams, resolve, rows, last, &names) < 0)
            goto fail;
    }
    return Py_BuildValue("(nOnnN)", c.consumed, held ? Py_True : Py_False, c.skipped,
                         c.invalid_utf8, c.errors);
fail:
    Py_DECREF(c.errors);
    return NULL;
}

/* -- the type -------------------------------------------------------------------------- */

static PyMethodDef Reader_methods[] = {
    {"close", (PyCFunction)Reader_close, METH_NOARGS, NULL},
    {"_next", (PyCFunction)Reader_next, METH_NOARGS, "Move on; False at the end."},
    {"_previous", (PyCFunction)Reader_previous, METH_NOARGS, "Move back; False at the head."},
    {"seek_head", (PyCFunction)Reader_seek_head, METH_NOARGS, NULL},
    {"seek_tail", (PyCFunction)Reader_seek_tail, METH_NOARGS, NULL},
    {"seek_realtime", (PyCFunction)Reader_seek_realtime, METH_O, "Seek to microseconds."},
    {"seek_cursor", (PyCFunction)Reader_seek_cursor, METH_O, NULL},
    {"test_cursor", (PyCFunction)Reader_test_cursor, METH_O, NULL},
    {"add_match", (PyCFunction)Reader_add_match, METH_O, "FIELD=value"},
    {"add_disjunction", (PyCFunction)Reader_add_disjunction, METH_NOARGS, NULL},
    {"add_conjunction", (PyCFunction)Reader_add_conjunction, METH_NOARGS, NULL},
    {"_get", (PyCFunction)Reader_get, METH_O, "A field's raw value; KeyError when absent."},
    {"_get_all", (PyCFunction)Reader_get_all, METH_NOARGS, "All fields, raw values."},
    {"_get_realtime", (PyCFunction)Reader_get_realtime, METH_NOARGS, "Microseconds."},
    {"_get_cursor", (PyCFunction)Reader_get_cursor, METH_NOARGS, NULL},
    {"wait", (PyCFunction)Reader_wait, METH_O, "Seconds (negative: forever); 0 = nothing new."},
    {"fileno", (PyCFunction)Reader_fileno, METH_NOARGS, NULL},
    {"scan_runs", (PyCFunction)Reader_scan_runs, METH_VARARGS,
     "scan_runs(max_entries, held, streams, resolve, rows, last, names, values) -> "
     "(consumed, held, skipped, invalid_utf8, errors)"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Reader_getset[] = {
    {"data_threshold", (getter)Reader_get_data_threshold, (setter)Reader_set_data_threshold,
     "Longest field value returned whole; 0 means no limit.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tailer._journal.Reader",
    .tp_basicsize = sizeof(Reader),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Reader(*, namespace=None, path=None, files=None): a libsystemd journal.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Reader_init,
    .tp_dealloc = (destructor)Reader_dealloc,
    .tp_methods = Reader_methods,
    .tp_getset = Reader_getset,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "tailer._journal", NULL, -1, NULL,
};

PyMODINIT_FUNC
PyInit__journal(void)
{
    if (PyType_Ready(&ReaderType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&ReaderType);
    if (PyModule_AddObject(m, "Reader", (PyObject *)&ReaderType) < 0) {
        Py_DECREF(&ReaderType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
