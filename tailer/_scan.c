/* Which lines of a block contain a keyword: the one per-byte loop of the fast path, in C.
 *
 * tailer.assembly.keywords finds the lines that may start a kept entry by looking for keywords
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

/* With ``high_is_hit`` (UTF-8 bytes), a byte from 0xC4 on is a hit of its own: see Block. */
static int
build(Table *t, PyObject *keywords, int high_is_hit)
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
    if (high_is_hit)
        for (unsigned int a = 0xC4; a < 256; a++) {
            t->single[a] = 1;
            for (unsigned int b = 0; b < 256; b++)
                set_pair(t, a, b);
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


/* The same test, 16 bytes at a time (SSE2, every x86-64 has it): a bit per position whose
 * two bytes, ASCII-lower-cased by OR 0x20, are the first two of some keyword (or whose byte is
 * a one-byte keyword, or from 0xC4 on when high_is_hit); each such position is then checked
 * exactly as above. OR 0x20 also maps some non-letters onto letters: more positions to check,
 * never fewer. */
#if defined(__SSE2__)
#include <emmintrin.h>

typedef struct {
    __m128i first[MAX_KEYWORDS], second[MAX_KEYWORDS], single[8], x20, c4;
    int pairs, singles, high;
} Wide;

static void
build_wide(Wide *w, const Table *t, int high_is_hit)
{
    w->pairs = w->singles = 0;
    for (int k = 0; k < t->count; k++) {
        int a = t->head[k] >> 8, b = t->head[k] & 0xFF, seen = 0;
        for (int j = 0; j < k; j++)
            seen |= t->head[j] == t->head[k];
        if (seen)
            continue;
        w->first[w->pairs] = _mm_set1_epi8((char)(a | 0x20));
        w->second[w->pairs] = _mm_set1_epi8((char)(b | 0x20));
        w->pairs++;
    }
    for (int c = 0; c < 0x80 && w->singles < 8; c++)
        if (t->single[c] && t->fold[c] == c) /* one per folded byte */
            w->single[w->singles++] = _mm_set1_epi8((char)(c | 0x20));
    w->high = high_is_hit;
    w->x20 = _mm_set1_epi8(0x20);
    w->c4 = _mm_set1_epi8((char)0xC4);
}

/* Exactly the scalar test, at one position. */
static inline int
hit_at(const Table *t, const unsigned char *s, Py_ssize_t i, Py_ssize_t n)
{
    if (t->single[s[i]])
        return 1;
    if (i + 1 >= n)
        return 0;
    unsigned int key = ((unsigned int)s[i] << 8) | s[i + 1];
    if (!(t->pair[key >> 3] & (1u << (key & 7))))
        return 0;
    unsigned int head = ((unsigned int)t->fold[s[i]] << 8) | t->fold[s[i + 1]];
    for (int k = 0; k < t->count; k++)
        if (t->head[k] == head && rest_matches(t, k, s, i, n))
            return 1;
    return 0;
}

/* ``avail``: bytes readable from s (the line and what follows it in the buffer). */
static int
line_has_keyword_wide(const Table *t, const Wide *w, const unsigned char *s, Py_ssize_t n,
                      Py_ssize_t avail)
{
    Py_ssize_t i = 0;
    for (; i < n && i + 17 <= avail; i += 16) {
        __m128i raw = _mm_loadu_si128((const __m128i *)(s + i));
        __m128i a = _mm_or_si128(raw, w->x20);
        __m128i b = _mm_or_si128(_mm_loadu_si128((const __m128i *)(s + i + 1)), w->x20);
        __m128i m = _mm_setzero_si128();
        for (int k = 0; k < w->pairs; k++)
            m = _mm_or_si128(m, _mm_and_si128(_mm_cmpeq_epi8(a, w->first[k]),
                                              _mm_cmpeq_epi8(b, w->second[k])));
        for (int k = 0; k < w->singles; k++)
            m = _mm_or_si128(m, _mm_cmpeq_epi8(a, w->single[k]));
        if (w->high)
            m = _mm_or_si128(m, _mm_cmpeq_epi8(_mm_max_epu8(raw, w->c4), raw));
        unsigned int mask = (unsigned int)_mm_movemask_epi8(m);
        if (n - i < 16)
            mask &= (1u << (n - i)) - 1;
        while (mask) {
            if (hit_at(t, s, i + __builtin_ctz(mask), n))
                return 1;
            mask &= mask - 1;
        }
    }
    for (; i < n; i++) /* the end of the buffer: byte by byte */
        if (hit_at(t, s, i, n))
            return 1;
    return 0;
}
#endif

/* The table for ``keywords`` (NULL with an exception set on error); PyMem_Free it. */
static Table *
new_table(PyObject *keywords, int high_is_hit)
{
    Table *t = PyMem_Malloc(sizeof(Table));
    if (t == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    if (build(t, keywords, high_is_hit) < 0) {
        PyMem_Free(t);
        return NULL;
    }
    return t;
}

static int
append_index(PyObject *out, Py_ssize_t i)
{
    PyObject *index = PyLong_FromSsize_t(i);
    if (index == NULL)
        return -1;
    int rc = PyList_Append(out, index);
    Py_DECREF(index);
    return rc;
}

static PyObject *
keyword_lines(PyObject *self, PyObject *args)
{
    PyObject *lines, *keywords;
    Py_ssize_t start = 0;
    if (!PyArg_ParseTuple(args, "O!O!|n", &PyList_Type, &lines, &PyTuple_Type, &keywords, &start))
        return NULL;
    Table *t = new_table(keywords, 0);
    if (t == NULL)
        return NULL;
    PyObject *out = PyList_New(0);
    Py_ssize_t total = PyList_GET_SIZE(lines);
    for (Py_ssize_t i = start; out != NULL && i < total; i++) {
        PyObject *line = PyList_GET_ITEM(lines, i);
        /* Only one-byte-per-character strings are scanned; any other line is reported, so the
         * caller reads it exactly: a superset of candidates is always safe. */
        int hit = !(PyUnicode_Check(line) && PyUnicode_KIND(line) == PyUnicode_1BYTE_KIND)
                  || line_has_keyword(t, PyUnicode_1BYTE_DATA(line), PyUnicode_GET_LENGTH(line));
        if (hit && append_index(out, i) < 0)
            Py_CLEAR(out);
    }
    PyMem_Free(t);
    return out;
}


/* ---------------------------------------------------------------------------------------
 * Block: the complete lines of one read, split in C and decoded only when asked for.
 *
 * Under the default ERROR minimum the assembler reads perhaps one line in ten; the others are
 * counted in runs (tailer.assembly.keywords). Splitting and decoding every line of a block into a str
 * was the file source's largest cost. A Block keeps the bytes and the offsets of the line
 * starts; line i is decoded (UTF-8, surrogateescape, cut at max_line bytes) the first time it
 * is indexed and cached. It is a sequence of str: len, indexing, slices (lists), iteration,
 * and equality with a list.
 */

typedef struct {
    PyObject_HEAD
    PyObject *buf;        /* bytes */
    Py_ssize_t n;         /* lines */
    Py_ssize_t *starts;   /* n + 1 entries: line i is buf[starts[i] : starts[i + 1] - 1] */
    Py_ssize_t stop;      /* end of the region split (after its last newline) */
    Py_ssize_t max_line;  /* bytes kept of a longer line; 0: no limit */
    Py_ssize_t cut;       /* lines longer than max_line */
    Py_ssize_t cut_bytes; /* the bytes beyond max_line of those lines */
    int last_unterminated; /* the region did not end with a newline */
    PyObject **cache;     /* decoded lines, NULL until asked for */
} Block;

static PyTypeObject BlockType;

static void
block_dealloc(Block *self)
{
    if (self->cache != NULL) {
        for (Py_ssize_t i = 0; i < self->n; i++)
            Py_XDECREF(self->cache[i]);
        PyMem_Free(self->cache);
    }
    PyMem_Free(self->starts);
    Py_XDECREF(self->buf);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
block_init(Block *self, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"buf", "start", "stop", "max_line", NULL};
    PyObject *buf;
    Py_ssize_t start = 0, stop = -1, max_line = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!|nnn", names, &PyBytes_Type, &buf, &start,
                                     &stop, &max_line))
        return -1;
    if (self->buf != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Block is immutable");
        return -1;
    }
    Py_ssize_t size = PyBytes_GET_SIZE(buf);
    if (stop < 0 || stop > size)
        stop = size;
    if (start < 0 || start > stop) {
        PyErr_SetString(PyExc_ValueError, "start must be within the buffer, before stop");
        return -1;
    }
    const char *s = PyBytes_AS_STRING(buf);
    Py_ssize_t cap = 64, n = 0;
    Py_ssize_t *starts = PyMem_Malloc(cap * sizeof(Py_ssize_t));
    if (starts == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t pos = start, cut = 0, cut_bytes = 0;
    while (pos < stop) {
        const char *nl = memchr(s + pos, '\n', (size_t)(stop - pos));
        Py_ssize_t end = nl ? (Py_ssize_t)(nl - s) : stop; /* end of the line's text */
        if (n + 2 > cap) {
            cap *= 2;
            Py_ssize_t *grown = PyMem_Realloc(starts, cap * sizeof(Py_ssize_t));
            if (grown == NULL) {
                PyMem_Free(starts);
                PyErr_NoMemory();
                return -1;
            }
            starts = grown;
        }
        starts[n++] = pos;
        if (max_line > 0 && end - pos > max_line) {
            cut++;
            cut_bytes += end - pos - max_line;
        }
        pos = nl ? end + 1 : stop;
        if (!nl)
            self->last_unterminated = 1;
    }
    starts[n] = self->last_unterminated ? stop + 1 : stop; /* as if a newline followed */
    self->cache = PyMem_Calloc(n ? n : 1, sizeof(PyObject *));
    if (self->cache == NULL) {
        PyMem_Free(starts);
        PyErr_NoMemory();
        return -1;
    }
    Py_INCREF(buf);
    self->buf = buf;
    self->n = n;
    self->starts = starts;
    self->stop = stop;
    self->max_line = max_line;
    self->cut = cut;
    self->cut_bytes = cut_bytes;
    return 0;
}

static Py_ssize_t
block_length(Block *self)
{
    return self->n;
}

static PyObject *
block_item(Block *self, Py_ssize_t i)
{
    if (i < 0 || i >= self->n) {
        PyErr_SetString(PyExc_IndexError, "Block index out of range");
        return NULL;
    }
    PyObject *line = self->cache[i];
    if (line == NULL) {
        Py_ssize_t from = self->starts[i], len = self->starts[i + 1] - 1 - from;
        if (self->max_line > 0 && len > self->max_line)
            len = self->max_line;
        line = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(self->buf) + from, len,
                                    "surrogateescape");
        if (line == NULL)
            return NULL;
        self->cache[i] = line;
    }
    Py_INCREF(line);
    return line;
}

static PyObject *
block_subscript(Block *self, PyObject *key)
{
    if (PyIndex_Check(key)) {
        Py_ssize_t i = PyNumber_AsSsize_t(key, PyExc_IndexError);
        if (i == -1 && PyErr_Occurred())
            return NULL;
        if (i < 0)
            i += self->n;
        return block_item(self, i);
    }
    if (PySlice_Check(key)) {
        Py_ssize_t start, stop, step;
        if (PySlice_Unpack(key, &start, &stop, &step) < 0)
            return NULL;
        Py_ssize_t len = PySlice_AdjustIndices(self->n, &start, &stop, step);
        PyObject *out = PyList_New(len);
        if (out == NULL)
            return NULL;
        for (Py_ssize_t k = 0, i = start; k < len; k++, i += step) {
            PyObject *line = block_item(self, i);
            if (line == NULL) {
                Py_DECREF(out);
                return NULL;
            }
            PyList_SET_ITEM(out, k, line);
        }
        return out;
    }
    PyErr_Format(PyExc_TypeError, "Block indices must be integers or slices, not %.200s",
                 Py_TYPE(key)->tp_name);
    return NULL;
}

static PyObject *
block_richcompare(PyObject *self, PyObject *other, int op)
{
    if ((op != Py_EQ && op != Py_NE) || !(PyList_Check(other) || PyObject_TypeCheck(other, &BlockType)))
        Py_RETURN_NOTIMPLEMENTED;
    PyObject *mine = PySequence_List(self);
    if (mine == NULL)
        return NULL;
    PyObject *theirs = PyList_Check(other) ? Py_NewRef(other) : PySequence_List(other);
    if (theirs == NULL) {
        Py_DECREF(mine);
        return NULL;
    }
    PyObject *result = PyObject_RichCompare(mine, theirs, op);
    Py_DECREF(mine);
    Py_DECREF(theirs);
    return result;
}

/* A line of bytes that may hold a character whose case folding is ASCII (U+0130, U+0131,
 * U+017F, U+212A ...: all at or above U+0100, whose UTF-8 lead byte is 0xC4 or more) is
 * reported as a hit, as the str scanner reports every line it cannot scan. */
static PyObject *
block_keyword_lines(Block *self, PyObject *args)
{
    PyObject *keywords;
    if (!PyArg_ParseTuple(args, "O!", &PyTuple_Type, &keywords))
        return NULL;
    Table *t = new_table(keywords, 1);
    if (t == NULL)
        return NULL;
#if defined(__SSE2__)
    Wide *w = PyMem_Malloc(sizeof(Wide));
    if (w == NULL) {
        PyMem_Free(t);
        return PyErr_NoMemory();
    }
    build_wide(w, t, 1);
#endif
    const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(self->buf);
    Py_ssize_t size = PyBytes_GET_SIZE(self->buf);
    PyObject *out = PyList_New(0);
    for (Py_ssize_t i = 0; out != NULL && i < self->n; i++) {
        Py_ssize_t from = self->starts[i], len = self->starts[i + 1] - 1 - from;
        if (self->max_line > 0 && len > self->max_line)
            len = self->max_line;
#if defined(__SSE2__)
        int hit = line_has_keyword_wide(t, w, s + from, len, size - from);
#else
        int hit = line_has_keyword(t, s + from, len);
#endif
        if (hit && append_index(out, i) < 0)
            Py_CLEAR(out);
    }
#if defined(__SSE2__)
    PyMem_Free(w);
#endif
    PyMem_Free(t);
    return out;
}

static PyObject *
block_line_ends(Block *self, PyObject *arg)
{
    Py_ssize_t base = PyLong_AsSsize_t(arg);
    if (base == -1 && PyErr_Occurred())
        return NULL;
    PyObject *out = PyBytes_FromStringAndSize(NULL, self->n * (Py_ssize_t)sizeof(long long));
    if (out == NULL)
        return NULL;
    long long *ends = (long long *)PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < self->n; i++)
        ends[i] = (long long)(base + self->starts[i + 1] - (i + 1));
    return out;
}

static PyObject *
block_get_cut(Block *self, void *closure)
{
    return PyLong_FromSsize_t(self->cut);
}

static PyObject *
block_get_cut_bytes(Block *self, void *closure)
{
    return PyLong_FromSsize_t(self->cut_bytes);
}

static PyObject *
block_get_stop(Block *self, void *closure)
{
    return PyLong_FromSsize_t(self->stop);
}

static PyObject *
block_repr(Block *self)
{
    return PyUnicode_FromFormat("<tailer._scan.Block of %zd lines>", self->n);
}

static PyMethodDef block_methods[] = {
    {"keyword_lines", (PyCFunction)block_keyword_lines, METH_VARARGS,
     "keyword_lines(keywords: tuple[bytes, ...]) -> list[int]\n"
     "Indices of the lines that contain a keyword, ASCII case-insensitively (lines with\n"
     "characters from U+0100 on are always reported)."},
    {"line_ends", (PyCFunction)block_line_ends, METH_O,
     "line_ends(base: int) -> bytes\n"
     "For each line i, base + (offset after its newline) - (i + 1), as native int64: what\n"
     "array('q').frombytes takes (the file source's encoding of line ends)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef block_getset[] = {
    {"cut", (getter)block_get_cut, NULL, "lines longer than max_line (cut when decoded)", NULL},
    {"cut_bytes", (getter)block_get_cut_bytes, NULL, "bytes beyond max_line of those lines",
     NULL},
    {"stop", (getter)block_get_stop, NULL, "end of the region split", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods block_as_sequence = {
    .sq_length = (lenfunc)block_length,
    .sq_item = (ssizeargfunc)block_item,
};

static PyMappingMethods block_as_mapping = {
    .mp_length = (lenfunc)block_length,
    .mp_subscript = (binaryfunc)block_subscript,
};

static PyTypeObject BlockType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tailer._scan.Block",
    .tp_basicsize = sizeof(Block),
    .tp_dealloc = (destructor)block_dealloc,
    .tp_repr = (reprfunc)block_repr,
    .tp_as_sequence = &block_as_sequence,
    .tp_as_mapping = &block_as_mapping,
    .tp_richcompare = block_richcompare,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Block(buf: bytes, start=0, stop=len(buf), max_line=0)\n"
              "The lines of buf[start:stop] (split at newlines, the last one needing none),\n"
              "decoded as UTF-8 with surrogateescape when indexed, cut at max_line bytes.",
    .tp_methods = block_methods,
    .tp_getset = block_getset,
    .tp_init = (initproc)block_init,
    .tp_new = PyType_GenericNew,
};


/* ---------------------------------------------------------------------------------------
 * json_array: the entry's content as ``json.dumps(fields, ensure_ascii=False,
 * separators=(",", ":"))`` would write it, in one pass, as UTF-8 bytes ready for hashing.
 * Only for text in one byte per character (Latin-1); anything else returns None and
 * tailer.records writes it with json's own encoder. The content hash must never change, so a
 * property test compares the two on arbitrary text.
 */

static const char HEX[] = "0123456789abcdef";

/* Bytes the escaped form of c takes in UTF-8 (Latin-1 above 0x7f takes two). */
static inline Py_ssize_t
escaped_len(Py_UCS1 c)
{
    if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f')
        return 2;
    if (c < 0x20)
        return 6;
    return c < 0x80 ? 1 : 2;
}

static inline char *
put_escaped(char *o, Py_UCS1 c)
{
    switch (c) {
    case '"': *o++ = '\\'; *o++ = '"'; return o;
    case '\\': *o++ = '\\'; *o++ = '\\'; return o;
    case '\n': *o++ = '\\'; *o++ = 'n'; return o;
    case '\r': *o++ = '\\'; *o++ = 'r'; return o;
    case '\t': *o++ = '\\'; *o++ = 't'; return o;
    case '\b': *o++ = '\\'; *o++ = 'b'; return o;
    case '\f': *o++ = '\\'; *o++ = 'f'; return o;
    }
    if (c < 0x20) {
        memcpy(o, "\\u00", 4);
        o[4] = HEX[c >> 4];
        o[5] = HEX[c & 15];
        return o + 6;
    }
    if (c < 0x80) {
        *o++ = (char)c;
        return o;
    }
    *o++ = (char)(0xC0 | (c >> 6));
    *o++ = (char)(0x80 | (c & 0x3F));
    return o;
}

static PyObject *
json_array(PyObject *self, PyObject *fields)
{
    if (!PyTuple_Check(fields)) {
        PyErr_SetString(PyExc_TypeError, "json_array takes a tuple of str or None");
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(fields), size = 2 + (n > 0 ? n - 1 : 0);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *f = PyTuple_GET_ITEM(fields, i);
        if (f == Py_None) {
            size += 4;
            continue;
        }
        if (!PyUnicode_Check(f)) {
            PyErr_SetString(PyExc_TypeError, "json_array takes a tuple of str or None");
            return NULL;
        }
        if (PyUnicode_KIND(f) != PyUnicode_1BYTE_KIND)
            Py_RETURN_NONE;
        const Py_UCS1 *d = PyUnicode_1BYTE_DATA(f);
        Py_ssize_t len = PyUnicode_GET_LENGTH(f);
        size += 2;
        for (Py_ssize_t j = 0; j < len; j++)
            size += escaped_len(d[j]);
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, size);
    if (out == NULL)
        return NULL;
    char *o = PyBytes_AS_STRING(out);
    *o++ = '[';
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i)
            *o++ = ',';
        PyObject *f = PyTuple_GET_ITEM(fields, i);
        if (f == Py_None) {
            memcpy(o, "null", 4);
            o += 4;
            continue;
        }
        const Py_UCS1 *d = PyUnicode_1BYTE_DATA(f);
        Py_ssize_t len = PyUnicode_GET_LENGTH(f);
        *o++ = '"';
        for (Py_ssize_t j = 0; j < len; j++)
            o = put_escaped(o, d[j]);
        *o++ = '"';
    }
    *o++ = ']';
    return out;
}

/* ---------------------------------------------------------------------------------------
 * json_object: ``json.dumps(value, ensure_ascii=False, sort_keys=True)`` of an entry's
 * metadata, in one C pass (json's encoder sorts and walks the dict in Python-level steps: a
 * third of the store writer's time). Dicts with str keys, lists, tuples, str, exact int,
 * bool and None; anything else (a float, an enum, a deep nesting) returns None and the store
 * uses json.dumps. A property test compares the two.
 */

/* The output is written as UCS4 only when a string is wider than Latin-1; otherwise as bytes
 * (each a Latin-1 character) with unescaped runs copied whole. */
typedef struct {
    char *buf; /* wide == 0: Latin-1 bytes; wide == 1: Py_UCS4 units */
    Py_ssize_t len, cap;
    int wide;
    Py_UCS4 maxchar;
} Out;

static int
out_reserve(Out *o, Py_ssize_t extra)
{
    if (o->len + extra <= o->cap)
        return 0;
    Py_ssize_t cap = o->cap ? o->cap : 1024;
    while (cap < o->len + extra)
        cap *= 2;
    char *buf = PyMem_Realloc(o->buf, (size_t)cap * (o->wide ? sizeof(Py_UCS4) : 1));
    if (buf == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    o->buf = buf;
    o->cap = cap;
    return 0;
}

static inline void
out_put(Out *o, Py_UCS4 c)
{
    if (o->wide)
        ((Py_UCS4 *)o->buf)[o->len++] = c;
    else
        o->buf[o->len++] = (char)c;
}

static int
out_ascii(Out *o, const char *s, Py_ssize_t n)
{
    if (out_reserve(o, n) < 0)
        return -1;
    if (!o->wide) {
        memcpy(o->buf + o->len, s, (size_t)n);
        o->len += n;
        return 0;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        out_put(o, (unsigned char)s[i]);
    return 0;
}

/* 2: a string wider than Latin-1 while writing bytes (start again wide). */
static int
out_string(Out *o, PyObject *s)
{
    int kind = PyUnicode_KIND(s);
    if (kind != PyUnicode_1BYTE_KIND && !o->wide)
        return 2;
    const void *data = PyUnicode_DATA(s);
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    Py_UCS4 maxchar = PyUnicode_MAX_CHAR_VALUE(s);
    if (maxchar > o->maxchar)
        o->maxchar = maxchar;
    if (out_reserve(o, 6 * n + 2) < 0)
        return -1;
    out_put(o, '"');
    Py_ssize_t run = 0; /* start of the unescaped run (Latin-1 output only) */
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c >= 0x20 && c != '"' && c != '\\') {
            if (o->wide)
                out_put(o, c);
            continue;
        }
        if (!o->wide) {
            memcpy(o->buf + o->len, (const char *)data + run, (size_t)(i - run));
            o->len += i - run;
            run = i + 1;
        }
        out_put(o, '\\');
        switch (c) {
        case '"': out_put(o, '"'); break;
        case '\\': out_put(o, '\\'); break;
        case '\n': out_put(o, 'n'); break;
        case '\r': out_put(o, 'r'); break;
        case '\t': out_put(o, 't'); break;
        case '\b': out_put(o, 'b'); break;
        case '\f': out_put(o, 'f'); break;
        default:
            out_put(o, 'u'); out_put(o, '0'); out_put(o, '0');
            out_put(o, (Py_UCS4)HEX[c >> 4]);
            out_put(o, (Py_UCS4)HEX[c & 15]);
        }
    }
    if (!o->wide) {
        memcpy(o->buf + o->len, (const char *)data + run, (size_t)(n - run));
        o->len += n - run;
    }
    out_put(o, '"');
    return 0;
}

/* 0 written, 1 not a type this encoder takes (the caller falls back), 2 see out_string, -1
 * error. */
static int out_value(Out *o, PyObject *v, int depth);

static int
out_items(Out *o, PyObject *seq, int depth)
{
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    int r = out_ascii(o, "[", 1);
    for (Py_ssize_t i = 0; i < n && r == 0; i++) {
        if (i)
            r = out_ascii(o, ", ", 2);
        if (r == 0)
            r = out_value(o, PySequence_Fast_GET_ITEM(seq, i), depth);
    }
    return r ? r : out_ascii(o, "]", 1);
}

static int
out_dict(Out *o, PyObject *d, int depth)
{
    PyObject *keys = PyDict_Keys(d);
    if (keys == NULL)
        return -1;
    int r = 0;
    Py_ssize_t n = PyList_GET_SIZE(keys);
    for (Py_ssize_t i = 0; i < n && r == 0; i++)
        if (!PyUnicode_CheckExact(PyList_GET_ITEM(keys, i)))
            r = 1; /* json.dumps converts such keys, and cannot sort mixed ones */
    if (r == 0 && PyList_Sort(keys) < 0)
        r = -1;
    if (r == 0)
        r = out_ascii(o, "{", 1);
    for (Py_ssize_t i = 0; i < n && r == 0; i++) {
        PyObject *key = PyList_GET_ITEM(keys, i);
        PyObject *value = PyDict_GetItemWithError(d, key);
        if (value == NULL) {
            r = PyErr_Occurred() ? -1 : 1;
            break;
        }
        if (i)
            r = out_ascii(o, ", ", 2);
        if (r == 0)
            r = out_string(o, key);
        if (r == 0)
            r = out_ascii(o, ": ", 2);
        if (r == 0)
            r = out_value(o, value, depth);
    }
    if (r == 0)
        r = out_ascii(o, "}", 1);
    Py_DECREF(keys);
    return r;
}

static int
out_value(Out *o, PyObject *v, int depth)
{
    if (PyUnicode_CheckExact(v))
        return out_string(o, v);
    if (v == Py_None)
        return out_ascii(o, "null", 4);
    if (v == Py_True)
        return out_ascii(o, "true", 4);
    if (v == Py_False)
        return out_ascii(o, "false", 5);
    if (PyLong_CheckExact(v)) {
        int overflow;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (x == -1 && PyErr_Occurred())
            return -1;
        if (overflow)
            return 1;
        char digits[32];
        int n = snprintf(digits, sizeof digits, "%lld", x);
        return out_ascii(o, digits, n);
    }
    if (depth >= 32)
        return 1;
    if (PyDict_CheckExact(v))
        return out_dict(o, v, depth + 1);
    if (PyList_CheckExact(v) || PyTuple_CheckExact(v))
        return out_items(o, v, depth + 1);
    return 1;
}

static PyObject *
json_object(PyObject *self, PyObject *value)
{
    Out o = {NULL, 0, 0, 0, 127};
    int r = out_value(&o, value, 0);
    if (r == 2) { /* again, in UCS4 */
        PyMem_Free(o.buf);
        o = (Out){NULL, 0, 0, 1, 127};
        r = out_value(&o, value, 0);
    }
    PyObject *out = NULL;
    if (r == 0 && !o.wide) {
        out = PyUnicode_New(o.len, o.maxchar);
        if (out != NULL)
            memcpy(PyUnicode_1BYTE_DATA(out), o.buf, (size_t)o.len);
    } else if (r == 0) {
        out = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, o.buf, o.len);
    } else if (r == 1) {
        out = Py_NewRef(Py_None);
    }
    PyMem_Free(o.buf);
    return out;
}

static PyMethodDef methods[] = {
    {"keyword_lines", keyword_lines, METH_VARARGS,
     "keyword_lines(lines: list[str], keywords: tuple[bytes, ...], start: int = 0) -> list[int]\n"
     "Indices (from start) of the lines that contain a keyword, ASCII case-insensitively."},
    {"json_array", json_array, METH_O,
     "json_array(fields: tuple[str | None, ...]) -> bytes | None\n"
     "The compact JSON array of the fields, UTF-8; None for text beyond Latin-1."},
    {"json_object", json_object, METH_O,
     "json_object(value) -> str | None\n"
     "json.dumps(value, ensure_ascii=False, sort_keys=True); None for types it does not take."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "tailer._scan", NULL, -1, methods,
};

PyMODINIT_FUNC
PyInit__scan(void)
{
    if (PyType_Ready(&BlockType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Block", (PyObject *)&BlockType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
