#include "protocols/rtmp/amf0.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

/* Type markers on the wire (AMF0 specification, section 2.1). */
enum {
    M_NUMBER = 0x00,
    M_BOOLEAN = 0x01,
    M_STRING = 0x02,
    M_OBJECT = 0x03,
    M_NULL = 0x05,
    M_UNDEFINED = 0x06,
    M_REFERENCE = 0x07,
    M_ECMA_ARRAY = 0x08,
    M_OBJECT_END = 0x09,
    M_STRICT_ARRAY = 0x0a,
    M_DATE = 0x0b,
    M_LONG_STRING = 0x0c,
    M_UNSUPPORTED = 0x0d,
    M_XML_DOCUMENT = 0x0f,
    M_TYPED_OBJECT = 0x10,
    M_AVMPLUS = 0x11,
};

/* The arena: values and strings of one decode are carved out of chunks that are
 * only freed all together, so an error anywhere in the tree is one free. */
#define ARENA_CHUNK 4096

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    alignas(max_align_t) uint8_t data[];
} chunk_t;

struct sl_amf0_doc {
    chunk_t *chunks;
    size_t count;
    sl_amf0_value_t **top; /* count top-level values, in the arena */
};

static void *arena_alloc(sl_amf0_doc_t *doc, size_t size)
{
    size = (size + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
    chunk_t *c = doc->chunks;
    if (c != NULL && c->cap - c->used >= size) {
        void *p = c->data + c->used;
        c->used += size;
        return p;
    }
    size_t cap = SL_MAX(size, (size_t)ARENA_CHUNK);
    chunk_t *n = malloc(sizeof(*n) + cap);
    if (n == NULL) return NULL;
    n->used = size;
    n->cap = cap;
    /* A big block (a long string) gets a chunk of its own behind the current one,
     * so the free room of the current chunk is not thrown away. */
    if (size > ARENA_CHUNK / 4 && c != NULL) {
        n->next = c->next;
        c->next = n;
    } else {
        n->next = c;
        doc->chunks = n;
    }
    return n->data;
}

typedef struct dec {
    sl_reader_t rd;
    sl_amf0_doc_t *doc;
    size_t nvalues;
} dec_t;

static int decode_value(dec_t *d, unsigned depth, sl_amf0_value_t **out);

static double rd_double(sl_reader_t *rd)
{
    uint64_t bits = sl_rd_be64(rd);
    double x;
    memcpy(&x, &bits, sizeof(x));
    return x;
}

/* Copies the next n input bytes into the arena as a NUL-terminated string. The
 * length is checked against the input before allocating, so a hostile length
 * costs nothing. */
static int read_string(dec_t *d, size_t n, const char **str, size_t *len)
{
    const uint8_t *p = sl_rd_bytes(&d->rd, n);
    if (d->rd.err) return SL_ERR_PROTO;
    char *s = arena_alloc(d->doc, n + 1);
    if (s == NULL) return SL_ERR_NOMEM;
    if (n > 0) memcpy(s, p, n);
    s[n] = '\0';
    *str = s;
    *len = n;
    return SL_OK;
}

/* True, and the marker consumed, when the input is at an object end (00 00 09).
 * An empty name followed by any other marker is an ordinary property. */
static bool at_object_end(dec_t *d)
{
    if (sl_reader_left(&d->rd) < 3) return false;
    const uint8_t *p = d->rd.p;
    if (p[0] != 0 || p[1] != 0 || p[2] != M_OBJECT_END) return false;
    d->rd.p += 3;
    return true;
}

/* Properties of an object, typed object or ECMA array, up to the object end. The
 * count an ECMA array announces is only a hint (encoders get it wrong), so the
 * end marker is what ends it, as for objects. */
static int decode_props(dec_t *d, unsigned depth, sl_amf0_value_t *v)
{
    sl_amf0_value_t **tail = &v->first;
    while (!at_object_end(d)) {
        const char *key;
        size_t key_len;
        int rc = read_string(d, sl_rd_be16(&d->rd), &key, &key_len);
        if (rc != SL_OK) return rc;
        sl_amf0_value_t *child;
        rc = decode_value(d, depth + 1, &child);
        if (rc != SL_OK) return rc;
        child->key = key;
        child->key_len = key_len;
        *tail = child;
        tail = &child->next;
        v->count++;
    }
    return SL_OK;
}

static int decode_items(dec_t *d, unsigned depth, sl_amf0_value_t *v)
{
    /* The declared count is not trusted for an allocation: items are decoded
     * one by one, and truncation or the value limit stops a lying count. */
    uint32_t n = sl_rd_be32(&d->rd);
    if (d->rd.err) return SL_ERR_PROTO;
    sl_amf0_value_t **tail = &v->first;
    for (uint32_t i = 0; i < n; i++) {
        sl_amf0_value_t *child;
        int rc = decode_value(d, depth + 1, &child);
        if (rc != SL_OK) return rc;
        *tail = child;
        tail = &child->next;
        v->count++;
    }
    return SL_OK;
}

/* Containers: the depth check comes before the recursion, so the stack never
 * holds more than SL_AMF0_MAX_DEPTH container frames. */
static int decode_container(dec_t *d, uint8_t marker, unsigned depth, sl_amf0_value_t *v)
{
    if (depth >= SL_AMF0_MAX_DEPTH) return SL_ERR_TOO_BIG;
    switch (marker) {
    case M_TYPED_OBJECT: {
        int rc = read_string(d, sl_rd_be16(&d->rd), &v->class_name, &v->class_len);
        if (rc != SL_OK) return rc;
    }
        /* fall through */
    case M_OBJECT:
        v->type = SL_AMF0_OBJECT;
        return decode_props(d, depth, v);
    case M_ECMA_ARRAY:
        v->type = SL_AMF0_ECMA_ARRAY;
        (void)sl_rd_be32(&d->rd);
        return decode_props(d, depth, v);
    default:
        v->type = SL_AMF0_STRICT_ARRAY;
        return decode_items(d, depth, v);
    }
}

/* Decodes one value; depth is the number of containers around it. */
static int decode_value(dec_t *d, unsigned depth, sl_amf0_value_t **out)
{
    uint8_t marker = sl_rd_u8(&d->rd);
    if (d->rd.err) return SL_ERR_PROTO;
    if (++d->nvalues > SL_AMF0_MAX_VALUES) return SL_ERR_TOO_BIG;
    sl_amf0_value_t *v = arena_alloc(d->doc, sizeof(*v));
    if (v == NULL) return SL_ERR_NOMEM;
    memset(v, 0, sizeof(*v));

    int rc = SL_OK;
    switch (marker) {
    case M_NUMBER:
        v->type = SL_AMF0_NUMBER;
        v->num = rd_double(&d->rd);
        break;
    case M_BOOLEAN:
        v->type = SL_AMF0_BOOLEAN;
        v->boolean = sl_rd_u8(&d->rd) != 0;
        break;
    case M_STRING:
        v->type = SL_AMF0_STRING;
        rc = read_string(d, sl_rd_be16(&d->rd), &v->str, &v->len);
        break;
    case M_LONG_STRING:
    case M_XML_DOCUMENT:
        v->type = SL_AMF0_STRING;
        rc = read_string(d, sl_rd_be32(&d->rd), &v->str, &v->len);
        break;
    case M_OBJECT:
    case M_TYPED_OBJECT:
    case M_ECMA_ARRAY:
    case M_STRICT_ARRAY:
        rc = decode_container(d, marker, depth, v);
        break;
    case M_NULL:
        v->type = SL_AMF0_NULL;
        break;
    case M_REFERENCE:
        /* References point into a table of earlier objects that RTMP encoders do
         * not use; the index is skipped and the value reads as undefined. */
        (void)sl_rd_be16(&d->rd);
        /* fall through */
    case M_UNDEFINED:
    case M_UNSUPPORTED:
        v->type = SL_AMF0_UNDEFINED;
        break;
    case M_DATE:
        v->type = SL_AMF0_DATE;
        v->num = rd_double(&d->rd);
        v->tz = (int16_t)sl_rd_be16(&d->rd);
        break;
    case M_AVMPLUS:
        return SL_ERR_UNSUPPORTED;
    default: /* movieclip, recordset, a stray object end, unknown markers */
        return SL_ERR_PROTO;
    }
    if (rc != SL_OK) return rc;
    if (d->rd.err) return SL_ERR_PROTO;
    *out = v;
    return SL_OK;
}

/* Moves the list of top-level values into an array so doc_get is O(1). */
static int index_top(sl_amf0_doc_t *doc, sl_amf0_value_t *first, size_t count)
{
    if (count == 0) return SL_OK;
    doc->top = arena_alloc(doc, count * sizeof(*doc->top));
    if (doc->top == NULL) return SL_ERR_NOMEM;
    for (size_t i = 0; i < count; i++, first = first->next) doc->top[i] = first;
    doc->count = count;
    return SL_OK;
}

int sl_amf0_decode(const uint8_t *data, size_t len, sl_amf0_doc_t **out)
{
    *out = NULL;
    sl_amf0_doc_t *doc = calloc(1, sizeof(*doc));
    if (doc == NULL) return SL_ERR_NOMEM;
    dec_t d = {.doc = doc};
    /* An empty body may come as (NULL, 0), and NULL + 0 is undefined in C. */
    static const uint8_t empty[1];
    sl_reader_init(&d.rd, len > 0 ? data : empty, len);

    sl_amf0_value_t *first = NULL, **tail = &first;
    size_t count = 0;
    int rc = SL_OK;
    while (sl_reader_left(&d.rd) > 0) {
        rc = decode_value(&d, 0, tail);
        if (rc != SL_OK) goto fail;
        tail = &(*tail)->next;
        count++;
    }
    rc = index_top(doc, first, count);
    if (rc != SL_OK) goto fail;
    *out = doc;
    return SL_OK;

fail:
    sl_amf0_doc_free(doc);
    return rc;
}

void sl_amf0_doc_free(sl_amf0_doc_t *doc)
{
    if (doc == NULL) return;
    chunk_t *c = doc->chunks;
    while (c != NULL) {
        chunk_t *next = c->next;
        free(c);
        c = next;
    }
    free(doc);
}

size_t sl_amf0_doc_count(const sl_amf0_doc_t *doc) { return doc ? doc->count : 0; }

const sl_amf0_value_t *sl_amf0_doc_get(const sl_amf0_doc_t *doc, size_t i)
{
    if (doc == NULL || i >= doc->count) return NULL;
    return doc->top[i];
}

const sl_amf0_value_t *sl_amf0_prop(const sl_amf0_value_t *obj, const char *key)
{
    if (obj == NULL || key == NULL) return NULL;
    if (obj->type != SL_AMF0_OBJECT && obj->type != SL_AMF0_ECMA_ARRAY) return NULL;
    size_t n = strlen(key);
    for (const sl_amf0_value_t *c = obj->first; c != NULL; c = c->next) {
        if (c->key_len == n && memcmp(c->key, key, n) == 0) return c;
    }
    return NULL;
}

const char *sl_amf0_str(const sl_amf0_value_t *v)
{
    return v != NULL && v->type == SL_AMF0_STRING ? v->str : NULL;
}

bool sl_amf0_num(const sl_amf0_value_t *v, double *out)
{
    if (v == NULL || v->type != SL_AMF0_NUMBER) return false;
    *out = v->num;
    return true;
}

bool sl_amf0_bool(const sl_amf0_value_t *v, bool *out)
{
    if (v == NULL || v->type != SL_AMF0_BOOLEAN) return false;
    *out = v->boolean;
    return true;
}

/* Encoder. Every put reserves its whole size first, so that the appends after the
 * reservation cannot fail and a failed put leaves the vector unchanged. */

static int put_parts(sl_bytes_t *v, const uint8_t *head, size_t head_len, const void *data, size_t n)
{
    if (n > SIZE_MAX - head_len) return SL_ERR_NOMEM;
    int rc = sl_bytes_reserve(v, head_len + n);
    if (rc == SL_OK) rc = sl_bytes_append(v, head, head_len);
    if (rc == SL_OK) rc = sl_bytes_append(v, data, n);
    return rc;
}

static int put_marked_double(sl_bytes_t *v, uint8_t marker, double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof(bits));
    uint8_t b[9] = {marker};
    sl_wr_be32(b + 1, (uint32_t)(bits >> 32));
    sl_wr_be32(b + 5, (uint32_t)bits);
    return sl_bytes_append(v, b, sizeof(b));
}

static int put_string_n(sl_bytes_t *v, const char *s, size_t n)
{
    uint8_t head[5];
    if (n <= UINT16_MAX) {
        head[0] = M_STRING;
        sl_wr_be16(head + 1, (uint16_t)n);
        return put_parts(v, head, 3, s, n);
    }
    if (n > UINT32_MAX) return SL_ERR_TOO_BIG;
    head[0] = M_LONG_STRING;
    sl_wr_be32(head + 1, (uint32_t)n);
    return put_parts(v, head, 5, s, n);
}

static int put_key_n(sl_bytes_t *v, const char *key, size_t n)
{
    if (n > UINT16_MAX) return SL_ERR_TOO_BIG;
    uint8_t head[2];
    sl_wr_be16(head, (uint16_t)n);
    return put_parts(v, head, 2, key, n);
}

int sl_amf0_put_number(sl_bytes_t *v, double x) { return put_marked_double(v, M_NUMBER, x); }

int sl_amf0_put_bool(sl_bytes_t *v, bool x)
{
    uint8_t b[2] = {M_BOOLEAN, x ? 1 : 0};
    return sl_bytes_append(v, b, sizeof(b));
}

int sl_amf0_put_string(sl_bytes_t *v, const char *s) { return put_string_n(v, s, strlen(s)); }

int sl_amf0_put_null(sl_bytes_t *v) { return sl_bytes_put_u8(v, M_NULL); }

int sl_amf0_put_object_begin(sl_bytes_t *v) { return sl_bytes_put_u8(v, M_OBJECT); }

int sl_amf0_put_key(sl_bytes_t *v, const char *key) { return put_key_n(v, key, strlen(key)); }

int sl_amf0_put_object_end(sl_bytes_t *v)
{
    static const uint8_t end[3] = {0, 0, M_OBJECT_END};
    return sl_bytes_append(v, end, sizeof(end));
}

int sl_amf0_put_ecma_begin(sl_bytes_t *v, uint32_t count)
{
    uint8_t b[5] = {M_ECMA_ARRAY};
    sl_wr_be32(b + 1, count);
    return sl_bytes_append(v, b, sizeof(b));
}

static int put_value(sl_bytes_t *v, const sl_amf0_value_t *val, unsigned depth);

static int put_props(sl_bytes_t *v, const sl_amf0_value_t *val, unsigned depth)
{
    for (const sl_amf0_value_t *c = val->first; c != NULL; c = c->next) {
        int rc = put_key_n(v, c->key ? c->key : "", c->key_len);
        if (rc == SL_OK) rc = put_value(v, c, depth + 1);
        if (rc != SL_OK) return rc;
    }
    return sl_amf0_put_object_end(v);
}

static int put_object(sl_bytes_t *v, const sl_amf0_value_t *val, unsigned depth)
{
    int rc;
    if (val->class_name != NULL) {
        rc = sl_bytes_put_u8(v, M_TYPED_OBJECT);
        if (rc == SL_OK) rc = put_key_n(v, val->class_name, val->class_len);
    } else {
        rc = sl_amf0_put_object_begin(v);
    }
    return rc == SL_OK ? put_props(v, val, depth) : rc;
}

static int put_strict_array(sl_bytes_t *v, const sl_amf0_value_t *val, unsigned depth)
{
    if (val->count > UINT32_MAX) return SL_ERR_TOO_BIG;
    uint8_t b[5] = {M_STRICT_ARRAY};
    sl_wr_be32(b + 1, (uint32_t)val->count);
    int rc = sl_bytes_append(v, b, sizeof(b));
    for (const sl_amf0_value_t *c = val->first; rc == SL_OK && c != NULL; c = c->next)
        rc = put_value(v, c, depth + 1);
    return rc;
}

static int put_date(sl_bytes_t *v, const sl_amf0_value_t *val)
{
    uint8_t tz[2];
    sl_wr_be16(tz, (uint16_t)val->tz);
    int rc = put_marked_double(v, M_DATE, val->num);
    return rc == SL_OK ? sl_bytes_append(v, tz, sizeof(tz)) : rc;
}

static int put_value(sl_bytes_t *v, const sl_amf0_value_t *val, unsigned depth)
{
    /* Decoded trees respect the limit already; this guards hand-built ones. */
    if (depth > SL_AMF0_MAX_DEPTH) return SL_ERR_TOO_BIG;
    switch (val->type) {
    case SL_AMF0_NUMBER: return sl_amf0_put_number(v, val->num);
    case SL_AMF0_BOOLEAN: return sl_amf0_put_bool(v, val->boolean);
    case SL_AMF0_STRING: return put_string_n(v, val->str, val->len);
    case SL_AMF0_OBJECT: return put_object(v, val, depth);
    case SL_AMF0_NULL: return sl_amf0_put_null(v);
    case SL_AMF0_UNDEFINED: return sl_bytes_put_u8(v, M_UNDEFINED);
    case SL_AMF0_ECMA_ARRAY: {
        if (val->count > UINT32_MAX) return SL_ERR_TOO_BIG;
        int rc = sl_amf0_put_ecma_begin(v, (uint32_t)val->count);
        return rc == SL_OK ? put_props(v, val, depth) : rc;
    }
    case SL_AMF0_STRICT_ARRAY: return put_strict_array(v, val, depth);
    case SL_AMF0_DATE: return put_date(v, val);
    }
    return SL_ERR_PROTO;
}

int sl_amf0_put_value(sl_bytes_t *v, const sl_amf0_value_t *val)
{
    /* A nested value is many appends; on failure the partial one is cut off. */
    size_t mark = v->len;
    int rc = put_value(v, val, 0);
    if (rc != SL_OK) v->len = mark;
    return rc;
}
