/* A bounds-checked big-endian bit reader for codec headers (H.264/H.265 parameter
 * sets, AAC AudioSpecificConfig, ADTS).
 *
 * Like sl_reader_t, a read past the end sets `err` and returns 0, so a parser can read
 * a run of fields and check `err` once; once set, `err` stays set and every later read
 * returns 0.
 *
 * For NAL units the reader can drop emulation prevention bytes on the fly (the 0x03 in
 * 00 00 03), so parameter sets are parsed in place without an unescaped copy and
 * without a size limit.
 */
#ifndef SLUICE_CODEC_BITS_H
#define SLUICE_CODEC_BITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sl_bits {
    const uint8_t *p, *end; /* bytes not yet loaded into cache */
    uint64_t cache;         /* the low `avail` bits are the next ones to read */
    unsigned avail;
    unsigned zeros; /* consecutive 0x00 bytes loaded, to spot emulation prevention */
    bool nal;       /* drop emulation prevention bytes */
    bool err;
} sl_bits_t;

/* Reads data[0..len) (borrowed for the reader's lifetime). `nal` selects NAL unit
 * payload mode, where every 0x03 that follows two 0x00 bytes is skipped. */
static inline void sl_bits_init(sl_bits_t *b, const uint8_t *data, size_t len, bool nal)
{
    b->p = data;
    b->end = data + len;
    b->cache = 0;
    b->avail = 0;
    b->zeros = 0;
    b->nal = nal;
    b->err = false;
}

/* Loads one more byte into the cache; false (err set) at the end of the input. */
static inline bool sl_bits__load(sl_bits_t *b)
{
    for (;;) {
        if (b->p >= b->end) {
            b->err = true;
            return false;
        }
        uint8_t byte = *b->p++;
        if (b->nal && b->zeros >= 2 && byte == 0x03) {
            b->zeros = 0;
            continue;
        }
        b->zeros = byte == 0 ? b->zeros + 1 : 0;
        b->cache = b->cache << 8 | byte;
        b->avail += 8;
        return true;
    }
}

/* The next n bits (0 <= n <= 32) as an unsigned number, or 0 with err set. */
static inline uint32_t sl_bits_read(sl_bits_t *b, unsigned n)
{
    if (b->err || n > 32) {
        b->err = true;
        return 0;
    }
    /* avail < n <= 32 before a load, so at most 39 bits are ever cached. */
    while (b->avail < n) {
        if (!sl_bits__load(b)) return 0;
    }
    b->avail -= n;
    return (uint32_t)((b->cache >> b->avail) & ((UINT64_C(1) << n) - 1));
}

static inline bool sl_bits_flag(sl_bits_t *b) { return sl_bits_read(b, 1) != 0; }

/* Skips n bits, any number. */
static inline void sl_bits_skip(sl_bits_t *b, size_t n)
{
    while (n > 0 && !b->err) {
        unsigned k = n > 32 ? 32 : (unsigned)n;
        (void)sl_bits_read(b, k);
        n -= k;
    }
}

/* ue(v): unsigned exp-Golomb. More than 31 leading zero bits would not fit 32 bits
 * and never occur in a sane header, so they are an error (this also bounds the work
 * hostile input can cause). */
static inline uint32_t sl_bits_ue(sl_bits_t *b)
{
    unsigned zeros = 0;
    while (!sl_bits_flag(b)) {
        if (b->err || ++zeros > 31) {
            b->err = true;
            return 0;
        }
    }
    uint32_t rest = sl_bits_read(b, zeros);
    return b->err ? 0 : (uint32_t)((UINT64_C(1) << zeros) - 1 + rest);
}

/* se(v): signed exp-Golomb, 1 -> 1, 2 -> -1, 3 -> 2, ... */
static inline int32_t sl_bits_se(sl_bits_t *b)
{
    uint32_t k = sl_bits_ue(b);
    /* k <= 2^32 - 2, so both results fit an int32_t. */
    return (k & 1) ? (int32_t)((k + 1) / 2) : -(int32_t)(k / 2);
}

#endif
