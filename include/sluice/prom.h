/* A writer of the Prometheus text exposition format, version 0.0.4 (what /metrics
 * answers, with Content-Type "text/plain; version=0.0.4; charset=utf-8"):
 *
 *     # HELP sluice_bytes_in_total Bytes received from publishers.
 *     # TYPE sluice_bytes_in_total counter
 *     sluice_bytes_in_total{stream="live/cam1",protocol="rtmp"} 1234567
 *
 * The format wants every sample of a family in one group right after its HELP and
 * TYPE lines, and one TYPE line per name: call sl_prom_family once, then
 * sl_prom_sample* for each of its samples, then the next family. The writer keeps no
 * state, so that order is the caller's.
 *
 * I/O-free: appends to a caller-owned sl_bytes_t. Every function leaves `out`
 * unchanged when it fails, so one bad name costs one sample, never a half line.
 */
#ifndef SLUICE_PROM_H
#define SLUICE_PROM_H

#include <stdbool.h>

#include "sluice/buf.h"
#include "sluice/common.h"

typedef enum { SL_PROM_COUNTER, SL_PROM_GAUGE } sl_prom_type_t;

/* One label of a sample. Both strings are borrowed. */
typedef struct sl_prom_label {
    const char *name;
    const char *value;
} sl_prom_label_t;

/* True for a metric name, [a-zA-Z_:][a-zA-Z0-9_:]*. */
bool sl_prom_metric_name_valid(const char *name);
/* True for a label name, [a-zA-Z_][a-zA-Z0-9_]* not starting with "__" (reserved for
 * Prometheus itself). */
bool sl_prom_label_name_valid(const char *name);

/* Appends "# HELP <name> <help>\n" (no HELP line when help is NULL) and
 * "# TYPE <name> counter|gauge\n". In help, '\' and newline are escaped and bytes that
 * are not UTF-8 become U+FFFD, as the format allows nothing else. SL_OK; SL_ERR_PROTO
 * for an invalid name or type; SL_ERR_NOMEM. */
int sl_prom_family(sl_bytes_t *out, const char *name, sl_prom_type_t type, const char *help) SL_MUST_CHECK;

/* Appends `<name>{<label>="<value>",...} <value>\n` (no braces without labels).
 * Label values may hold anything (a stream key, a user agent): '\', '"' and newline
 * are escaped, bytes that are not UTF-8 become U+FFFD, and NULL is written as "".
 * The value is written exactly: an integer without exponent or fraction when it is
 * one below 2^53, otherwise the shortest decimal that reads back as the same double,
 * "NaN", "+Inf" or "-Inf". The decimal point is '.' under the "C" locale, which the
 * daemon never leaves. SL_OK; SL_ERR_PROTO for an invalid metric or label name or a
 * label name given twice; SL_ERR_NOMEM. */
int sl_prom_sample(sl_bytes_t *out, const char *name, const sl_prom_label_t *labels, size_t n_labels,
                   double value) SL_MUST_CHECK;
/* The same with an unsigned 64-bit value written in full, so that byte counters stay
 * exact past 2^53. */
int sl_prom_sample_u64(sl_bytes_t *out, const char *name, const sl_prom_label_t *labels, size_t n_labels,
                       uint64_t value) SL_MUST_CHECK;

#endif
