/* Which lines of a block contain a keyword: the one per-byte loop of the fast path, in C.
 *
 * tailer.skipping finds the lines that may start a kept entry by looking for keywords
 * (ASCII, case-insensitive). In Python that is one str.find pass per keyword over the
 * lower-cased block; here it is one pass over the lines for all keywords, with a table of the
 * keywords' first two (folded) bytes. Optional: without a compiler, the pure-Python scanner in
 * skipping.py gives the same answer.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define MAX_KEYWORDS 64

typedef struct {
    unsigned char fold[256];
    unsigned char single[256];       /* one-byte keywords, by raw byte (both cases) */
    unsigned char pair[65536 / 8];   /* raw first two bytes (all case variants) of any keyword */
    const unsigned char *kw[MAX_KEYWORDS];
    Py_ssize_t len[MAX_KEYWORDS];
    unsigned int head[MAX_KEYWORDS]; /* folded first two bytes */
    int count;
} Table;

static inline unsigned char
upper(unsigned char c)
{
    return (c >= 'a' && c <= 'z') ? (unsigned char)(c - 32) : c;
}

static inline void
set_pair(Table *t, unsigned int a, unsigned int b)
{
    unsigned int key = (a << 8) | b;
    t->pair[key >> 3] |= (unsigned char)(1u << (key & 7));
}

static int
build(Table *t, PyObject *keywords)
{
    Py_ssize_t n = PyTuple_GET_SIZE(keywords);
    if (n > MAX_KEYWORDS) {
        PyErr_SetString(PyExc_ValueError, "too many keywords");
        return -1;
    }
    for (int c = 0; c < 256; c++)
        t->fold[c] = (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : (unsigned char)c;
    memset(t->single, 0, sizeof t->single);
    memset(t->pair, 0, sizeof t->pair);
    t->count = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = PyTuple_GET_ITEM(keywords, i);
        if (!PyBytes_Check(k) || PyBytes_GET_SIZE(k) == 0) {
            PyErr_SetString(PyExc_TypeError, "keywords must be non-empty lower-case bytes");
            return -1;
        }
        const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(k);
        Py_ssize_t len = PyBytes_GET_SIZE(k);
        unsigned char a0 = t->fold[s[0]], a1 = upper(a0);
        if (len == 1) {
            t->single[a0] = t->single[a1] = 1;
            for (unsigned int b = 0; b < 256; b++) { /* any pair that begins with it */
                set_pair(t, a0, b);
                set_pair(t, a1, b);
            }
            continue;
        }
        unsigned char b0 = t->fold[s[1]], b1 = upper(b0);
        set_pair(t, a0, b0);
        set_pair(t, a0, b1);
        set_pair(t, a1, b0);
        set_pair(t, a1, b1);
        t->kw[t->count] = s;
        t->len[t->count] = len;
        t->head[t->count] = ((unsigned int)a0 << 8) | b0;
        t->count++;
    }
    return 0;
}

/* Does the keyword match at s[i:] (case-folded)? Its first two bytes are known to match. */
static inline int
rest_matches(const Table *t, int k, const unsigned char *s, Py_ssize_t i, Py_ssize_t n)
{
    Py_ssize_t len = t->len[k];
    if (i + len > n)
        return 0;
    const unsigned char *kw = t->kw[k];
    for (Py_ssize_t j = 2; j < len; j++)
        if (t->fold[s[i + j]] != t->fold[kw[j]])
            return 0;
    return 1;
}

static int
line_has_keyword(const Table *t, const unsigned char *s, Py_ssize_t n)
{
    if (n == 0)
        return 0;
    /* One bit test per byte: the pair table holds every case variant of every keyword's first
     * two bytes, and every pair that begins with a one-byte keyword. */
    for (Py_ssize_t i = 0; i + 1 < n; i++) {
        unsigned int key = ((unsigned int)s[i] << 8) | s[i + 1];
        if (!(t->pair[key >> 3] & (1u << (key & 7))))
            continue;
        if (t->single[s[i]])
            return 1;
        unsigned int head = ((unsigned int)t->fold[s[i]] << 8) | t->fold[s[i + 1]];
        for (int k = 0; k < t->count; k++)
            if (t->head[k] == head && rest_matches(t, k, s, i, n))
                return 1;
    }
    return t->single[s[n - 1]];
}

static PyObject *
keyword_lines(PyObject *self, PyObject *args)
{
    PyObject *lines, *keywords;
    Py_ssize_t start = 0;
    if (!PyArg_ParseTuple(args, "O!O!|n", &PyList_Type, &lines, &PyTuple_Type, &keywords, &start))
        return NULL;
    Table *t = PyMem_Malloc(sizeof(Table));
    if (t == NULL)
        return PyErr_NoMemory();
    if (build(t, keywords) < 0) {
        PyMem_Free(t);
        return NULL;
    }
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        PyMem_Free(t);
        return NULL;
    }
    Py_ssize_t total = PyList_GET_SIZE(lines);
    for (Py_ssize_t i = start; i < total; i++) {
        PyObject *line = PyList_GET_ITEM(lines, i);
        int hit;
        /* Only one-byte-per-character strings are scanned; any other line is reported, so the
         * caller reads it exactly: a superset of candidates is always safe. */
        if (PyUnicode_Check(line) && PyUnicode_KIND(line) == PyUnicode_1BYTE_KIND)
            hit = line_has_keyword(t, PyUnicode_1BYTE_DATA(line), PyUnicode_GET_LENGTH(line));
        else
            hit = 1;
        if (hit) {
            PyObject *index = PyLong_FromSsize_t(i);
            if (index == NULL || PyList_Append(out, index) < 0) {
                Py_XDECREF(index);
                Py_DECREF(out);
                PyMem_Free(t);
                return NULL;
            }
            Py_DECREF(index);
        }
    }
    PyMem_Free(t);
    return out;
}

static PyMethodDef methods[] = {
    {"keyword_lines", keyword_lines, METH_VARARGS,
     "keyword_lines(lines: list[str], keywords: tuple[bytes, ...], start: int = 0) -> list[int]\n"
     "Indices (from start) of the lines that contain a keyword, ASCII case-insensitively."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "tailer._scan", NULL, -1, methods,
};

PyMODINIT_FUNC
PyInit__scan(void)
{
    return PyModule_Create(&module);
}
