/* Decodes arbitrary bytes as an AMF0 body; when that succeeds, re-encodes every
 * value and decodes the result again, which must give the same number of values
 * and re-encode to the same bytes (the encoder's output is canonical). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/rtmp/amf0.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void encode_all(const sl_amf0_doc_t *doc, sl_bytes_t *out)
{
    for (size_t i = 0; i < sl_amf0_doc_count(doc); i++) {
        if (sl_amf0_put_value(out, sl_amf0_doc_get(doc, i)) != SL_OK) abort();
    }
}

/* Strings are NUL-terminated at their length and each container's count is the
 * length of its child list; the accessors are exercised on every node. */
static void check_tree(const sl_amf0_value_t *v)
{
    if (v->type == SL_AMF0_STRING && (v->str == NULL || v->str[v->len] != '\0')) abort();
    if (v->key != NULL && v->key[v->key_len] != '\0') abort();
    double d;
    if (sl_amf0_num(v, &d) != (v->type == SL_AMF0_NUMBER)) abort();
    if ((sl_amf0_str(v) != NULL) != (v->type == SL_AMF0_STRING)) abort();
    size_t n = 0;
    for (const sl_amf0_value_t *c = v->first; c != NULL; c = c->next, n++) {
        check_tree(c);
        bool plain_key = c->key != NULL && strlen(c->key) == c->key_len;
        if (plain_key && sl_amf0_prop(v, c->key) == NULL) abort();
    }
    if (n != v->count) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_amf0_doc_t *doc, *again;
    if (sl_amf0_decode(data, size, &doc) != SL_OK) return 0;

    for (size_t i = 0; i < sl_amf0_doc_count(doc); i++) check_tree(sl_amf0_doc_get(doc, i));

    sl_bytes_t first, second;
    sl_bytes_init(&first);
    sl_bytes_init(&second);
    encode_all(doc, &first);
    if (sl_amf0_decode(first.data, first.len, &again) != SL_OK) abort();
    if (sl_amf0_doc_count(again) != sl_amf0_doc_count(doc)) abort();
    encode_all(again, &second);
    if (second.len != first.len) abort();
    if (first.len > 0 && memcmp(second.data, first.data, first.len) != 0) abort();

    sl_amf0_doc_free(again);
    sl_amf0_doc_free(doc);
    sl_bytes_free(&first);
    sl_bytes_free(&second);
    return 0;
}
