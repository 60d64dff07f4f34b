/* AMF0: the value encoding of RTMP command messages (connect, publish, play...)
 * and of onMetaData.
 *
 * The decoder turns a message body (a sequence of values) into a tree owned by one
 * sl_amf0_doc_t: every value, key and string of a decode lives in the document's
 * arena and is released by one sl_amf0_doc_free(). It is I/O-free and safe on
 * hostile input: nesting depth and value count are bounded, declared lengths are
 * checked against the input before anything is allocated.
 *
 * The encoder appends values to an sl_bytes_t. Each put either appends one whole
 * item or, on failure, leaves the vector as it was.
 */
#ifndef SLUICE_RTMP_AMF0_H
#define SLUICE_RTMP_AMF0_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/common.h"

/* Containers nested deeper than this fail with SL_ERR_TOO_BIG. */
#define SL_AMF0_MAX_DEPTH 32
/* One decode holds at most this many values (keys not counted), so a 16 MB
 * message of empty properties cannot make us allocate gigabytes. */
#define SL_AMF0_MAX_VALUES 65536

typedef enum {
    SL_AMF0_NUMBER,
    SL_AMF0_BOOLEAN,
    SL_AMF0_STRING, /* also long string (12) and XML document (15) */
    SL_AMF0_OBJECT, /* also typed object (16): class_name is set */
    SL_AMF0_NULL,
    SL_AMF0_UNDEFINED, /* also reference (7) and unsupported (13) */
    SL_AMF0_ECMA_ARRAY,
    SL_AMF0_STRICT_ARRAY,
    SL_AMF0_DATE,
} sl_amf0_type_t;

typedef struct sl_amf0_value sl_amf0_value_t;

/* A decoded value. Read-only for users; everything it points to belongs to the
 * document it came from. Children of an object, ECMA array or strict array are a
 * list: `first`, then each child's `next`. */
struct sl_amf0_value {
    sl_amf0_type_t type;
    bool boolean;         /* BOOLEAN */
    int16_t tz;           /* DATE: time zone field, kept only to re-encode it */
    double num;           /* NUMBER; DATE: milliseconds since the Unix epoch */
    const char *str;      /* STRING: NUL-terminated copy (may hold NULs: see len) */
    size_t len;           /* STRING: length of str */
    const char *class_name; /* OBJECT from a typed object: its class; else NULL */
    size_t class_len;
    const char *key;      /* name of this value in its object or ECMA array, else NULL */
    size_t key_len;
    size_t count;         /* OBJECT, ECMA_ARRAY: properties; STRICT_ARRAY: items */
    sl_amf0_value_t *first; /* first child of a container, else NULL */
    sl_amf0_value_t *next;  /* next sibling in the parent, NULL for the last */
};

typedef struct sl_amf0_doc sl_amf0_doc_t;

/* Decodes every value in data[0..len) (a command message body is a sequence of
 * values; an empty body is a document of 0 values). data is only read during the
 * call. On SL_OK *out is a new document owned by the caller (free it with
 * sl_amf0_doc_free); on error *out is NULL and nothing is left allocated.
 * Returns SL_ERR_PROTO on malformed or truncated input, SL_ERR_TOO_BIG past
 * SL_AMF0_MAX_DEPTH or SL_AMF0_MAX_VALUES, SL_ERR_UNSUPPORTED on an AMF3 switch
 * marker, SL_ERR_NOMEM. */
int sl_amf0_decode(const uint8_t *data, size_t len, sl_amf0_doc_t **out) SL_MUST_CHECK;
/* Frees a document and every value it owns. NULL is ignored. */
void sl_amf0_doc_free(sl_amf0_doc_t *doc);

/* Number of top-level values; 0 for NULL. */
size_t sl_amf0_doc_count(const sl_amf0_doc_t *doc);
/* The i-th top-level value (borrowed from doc), NULL past the end or for NULL. */
const sl_amf0_value_t *sl_amf0_doc_get(const sl_amf0_doc_t *doc, size_t i);

/* Accessors that accept NULL and any type, so command handling code can chain
 * them without checks. All returned pointers are borrowed from the document. */

/* The first property named key (compared byte for byte) of an object or ECMA
 * array; NULL if absent or if obj is not one of those. */
const sl_amf0_value_t *sl_amf0_prop(const sl_amf0_value_t *obj, const char *key);
/* The NUL-terminated string of a STRING value, NULL for any other. */
const char *sl_amf0_str(const sl_amf0_value_t *v);
/* Stores a NUMBER in *out and returns true; false (out untouched) otherwise. */
bool sl_amf0_num(const sl_amf0_value_t *v, double *out);
/* Stores a BOOLEAN in *out and returns true; false (out untouched) otherwise. */
bool sl_amf0_bool(const sl_amf0_value_t *v, bool *out);

/* Encoder. Each call appends to v and returns SL_OK or SL_ERR_NOMEM; on failure v
 * keeps its previous content. */
int sl_amf0_put_number(sl_bytes_t *v, double x) SL_MUST_CHECK;
int sl_amf0_put_bool(sl_bytes_t *v, bool x) SL_MUST_CHECK;
/* A string (marker 2), or a long string (marker 12) when longer than 65535 bytes. */
int sl_amf0_put_string(sl_bytes_t *v, const char *s) SL_MUST_CHECK;
int sl_amf0_put_null(sl_bytes_t *v) SL_MUST_CHECK;
/* Starts an anonymous object: follow with put_key + a value per property, then
 * put_object_end. */
int sl_amf0_put_object_begin(sl_bytes_t *v) SL_MUST_CHECK;
/* A property name (length + bytes, no type marker). SL_ERR_TOO_BIG when longer
 * than 65535 bytes. */
int sl_amf0_put_key(sl_bytes_t *v, const char *key) SL_MUST_CHECK;
/* The object end: an empty name and marker 9 (00 00 09). Also ends ECMA arrays. */
int sl_amf0_put_object_end(sl_bytes_t *v) SL_MUST_CHECK;
/* Starts an ECMA array announcing count properties; properties and the end follow
 * as for an object. */
int sl_amf0_put_ecma_begin(sl_bytes_t *v, uint32_t count) SL_MUST_CHECK;
/* Re-encodes a decoded value (and its children), e.g. to forward onMetaData. v is
 * only read. */
int sl_amf0_put_value(sl_bytes_t *v, const sl_amf0_value_t *val) SL_MUST_CHECK;

#endif
