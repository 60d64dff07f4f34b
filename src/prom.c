/* Prometheus text format 0.0.4 writer. See include/sluice/prom.h. */
#include "sluice/prom.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* 2^53: every integer of smaller magnitude is a double exactly. */
#define EXACT_INT_LIMIT 9007199254740992.0

static bool is_alpha_(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool sl_prom_metric_name_valid(const char *name)
{
    if (!is_alpha_(name[0]) && name[0] != ':') return false;
    for (const char *p = name + 1; *p; p++)
        if (!is_alpha_(*p) && !is_digit(*p) && *p != ':') return false;
    return true;
}

bool sl_prom_label_name_valid(const char *name)
{
    if (!is_alpha_(name[0]) || (name[0] == '_' && name[1] == '_')) return false;
    for (const char *p = name + 1; *p; p++)
        if (!is_alpha_(*p) && !is_digit(*p)) return false;
    return true;
}

/* The length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong forms,
 * surrogates or code points past U+10FFFF), or 0. p is NUL-terminated, and a NUL
 * fails every continuation test, so no read passes it. */
static size_t utf8_len(const unsigned char *p)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xbf;
    size_t n;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf) return 0;
    return n;
}

/* Appends s with '\' and newline escaped (and '"' too when quoted) and every byte
 * that does not start a well-formed UTF-8 sequence replaced by U+FFFD. */
static int put_escaped(sl_bytes_t *out, const char *s, bool quoted)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        /* Copy the longest run that needs no change in one append. */
        const unsigned char *run = p;
        size_t n;
        while (*p && *p != '\\' && *p != '\n' && !(quoted && *p == '"') && (n = utf8_len(p)) > 0) p += n;
        if (sl_bytes_append(out, run, (size_t)(p - run)) != SL_OK) return SL_ERR_NOMEM;
        if (*p == '\0') break;
        const char *rep = *p == '\\' ? "\\\\" : *p == '\n' ? "\\n" : *p == '"' ? "\\\"" : "\xef\xbf\xbd";
        if (sl_bytes_append(out, rep, strlen(rep)) != SL_OK) return SL_ERR_NOMEM;
        p++;
    }
    return SL_OK;
}

static int put_str(sl_bytes_t *out, const char *s) { return sl_bytes_append(out, s, strlen(s)); }

int sl_prom_family(sl_bytes_t *out, const char *name, sl_prom_type_t type, const char *help)
{
    if (!sl_prom_metric_name_valid(name) || (type != SL_PROM_COUNTER && type != SL_PROM_GAUGE))
        return SL_ERR_PROTO;
    size_t start = out->len;
    if ((help != NULL && (put_str(out, "# HELP ") != SL_OK || put_str(out, name) != SL_OK ||
                          sl_bytes_put_u8(out, ' ') != SL_OK || put_escaped(out, help, false) != SL_OK ||
                          sl_bytes_put_u8(out, '\n') != SL_OK)) ||
        put_str(out, "# TYPE ") != SL_OK || put_str(out, name) != SL_OK ||
        put_str(out, type == SL_PROM_COUNTER ? " counter\n" : " gauge\n") != SL_OK) {
        out->len = start;
        return SL_ERR_NOMEM;
    }
    return SL_OK;
}

/* Checks the names of a sample: the metric, each label, no label twice. */
static bool names_valid(const char *name, const sl_prom_label_t *labels, size_t n)
{
    if (!sl_prom_metric_name_valid(name)) return false;
    for (size_t i = 0; i < n; i++) {
        if (!sl_prom_label_name_valid(labels[i].name)) return false;
        /* Samples carry a handful of labels: pairwise is cheapest. */
        for (size_t j = 0; j < i; j++)
            if (strcmp(labels[i].name, labels[j].name) == 0) return false;
    }
    return true;
}

static int put_labels(sl_bytes_t *out, const sl_prom_label_t *labels, size_t n)
{
    if (n == 0) return SL_OK;
    for (size_t i = 0; i < n; i++) {
        if (sl_bytes_put_u8(out, i == 0 ? '{' : ',') != SL_OK || put_str(out, labels[i].name) != SL_OK ||
            put_str(out, "=\"") != SL_OK ||
            put_escaped(out, labels[i].value ? labels[i].value : "", true) != SL_OK ||
            sl_bytes_put_u8(out, '"') != SL_OK)
            return SL_ERR_NOMEM;
    }
    return sl_bytes_put_u8(out, '}');
}

/* Appends one sample line whose value is already text. */
static int put_sample(sl_bytes_t *out, const char *name, const sl_prom_label_t *labels, size_t n,
                      const char *value)
{
    if (!names_valid(name, labels, n)) return SL_ERR_PROTO;
    size_t start = out->len;
    if (put_str(out, name) != SL_OK || put_labels(out, labels, n) != SL_OK || sl_bytes_put_u8(out, ' ') != SL_OK ||
        put_str(out, value) != SL_OK || sl_bytes_put_u8(out, '\n') != SL_OK) {
        out->len = start;
        return SL_ERR_NOMEM;
    }
    return SL_OK;
}

/* Writes v as the format spells it; see sl_prom_sample. */
static void format_double(double v, char *buf, size_t cap)
{
    if (isnan(v)) {
        snprintf(buf, cap, "NaN");
    } else if (isinf(v)) {
        snprintf(buf, cap, v > 0 ? "+Inf" : "-Inf");
    } else if (v > -EXACT_INT_LIMIT && v < EXACT_INT_LIMIT && (double)(int64_t)v == v) {
        /* Through int64_t, so -0.0 is written "0". */
        snprintf(buf, cap, "%" PRId64, (int64_t)v);
    } else {
        /* The shortest form that reads back exactly: 0.1 rather than
         * 0.10000000000000001. 17 significant digits always do. */
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, cap, "%.*g", prec, v);
            if (strtod(buf, NULL) == v) break;
        }
    }
}

int sl_prom_sample(sl_bytes_t *out, const char *name, const sl_prom_label_t *labels, size_t n_labels,
                   double value)
{
    char text[32];
    format_double(value, text, sizeof(text));
    return put_sample(out, name, labels, n_labels, text);
}

int sl_prom_sample_u64(sl_bytes_t *out, const char *name, const sl_prom_label_t *labels, size_t n_labels,
                       uint64_t value)
{
    char text[24];
    snprintf(text, sizeof(text), "%" PRIu64, value);
    return put_sample(out, name, labels, n_labels, text);
}
