#include "protocols/webrtc/stun.h"

#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <string.h>

#define FINGERPRINT_XOR 0x5354554Eu

/* ---- classification ---- */

sl_webrtc_kind_t sl_webrtc_classify(uint8_t b)
{
    if (b <= 3) return SL_WEBRTC_STUN;
    if (b >= 20 && b <= 63) return SL_WEBRTC_DTLS;
    if (b >= 128 && b <= 191) return SL_WEBRTC_RTP;
    return SL_WEBRTC_OTHER;
}

bool sl_stun_is_stun(const uint8_t *p, size_t n)
{
    if (n < SL_STUN_HEADER_LEN || p[0] > 3) return false;
    size_t len = (size_t)p[2] << 8 | p[3];
    uint32_t cookie = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
    return cookie == SL_STUN_MAGIC_COOKIE && len % 4 == 0 && SL_STUN_HEADER_LEN + len == n;
}

/* ---- checksums ---- */

/* CRC-32 (ISO-HDLC, as zlib), four bits at a time: a 16-entry table is enough for
 * messages of a few hundred bytes and needs no initialisation. */
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
    static const uint32_t tab[16] = {0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4,
                                     0x4DB26158, 0x5005713C, 0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C,
                                     0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C};
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ tab[crc & 15];
        crc = (crc >> 4) ^ tab[crc & 15];
    }
    return crc;
}

/* The header with its length field replaced, as both checksums see it. */
static void patched_header(uint8_t hdr[SL_STUN_HEADER_LEN], const uint8_t *msg, size_t body_len)
{
    memcpy(hdr, msg, SL_STUN_HEADER_LEN);
    sl_wr_be16(hdr + 2, (uint16_t)body_len);
}

uint32_t sl_stun_fingerprint(const uint8_t *msg, size_t fp_off)
{
    uint8_t hdr[SL_STUN_HEADER_LEN];
    patched_header(hdr, msg, fp_off + 8 - SL_STUN_HEADER_LEN);
    uint32_t crc = crc32_update(0xFFFFFFFFu, hdr, sizeof(hdr));
    crc = crc32_update(crc, msg + SL_STUN_HEADER_LEN, fp_off - SL_STUN_HEADER_LEN);
    return (crc ^ 0xFFFFFFFFu) ^ FINGERPRINT_XOR;
}

int sl_stun_integrity(const uint8_t *msg, size_t mi_off, const uint8_t *key, size_t key_len,
                      uint8_t out[SL_STUN_INTEGRITY_LEN])
{
    uint8_t hdr[SL_STUN_HEADER_LEN];
    patched_header(hdr, msg, mi_off + 4 + SL_STUN_INTEGRITY_LEN - SL_STUN_HEADER_LEN);

    int rc = SL_ERR_NOMEM;
    size_t out_len = 0;
    /* HMAC_CTX is deprecated in OpenSSL 3 and the one-shot HMAC() needs the patched
     * header contiguous with the body, so use EVP_MAC with two updates. */
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) return SL_ERR_NOMEM;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    if (ctx == NULL) goto free_mac;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA1", 0),
                           OSSL_PARAM_construct_end()};
    /* A NULL key would mean "keep the previous key" to OpenSSL. */
    if (!EVP_MAC_init(ctx, key_len > 0 ? key : (const uint8_t *)"", key_len, params)) goto free_ctx;
    if (!EVP_MAC_update(ctx, hdr, sizeof(hdr))) goto free_ctx;
    if (!EVP_MAC_update(ctx, msg + SL_STUN_HEADER_LEN, mi_off - SL_STUN_HEADER_LEN)) goto free_ctx;
    if (!EVP_MAC_final(ctx, out, &out_len, SL_STUN_INTEGRITY_LEN) || out_len != SL_STUN_INTEGRITY_LEN)
        goto free_ctx;
    rc = SL_OK;
free_ctx:
    EVP_MAC_CTX_free(ctx);
free_mac:
    EVP_MAC_free(mac);
    return rc;
}

int sl_stun_check_integrity(const sl_stun_msg_t *m, const uint8_t *key, size_t key_len)
{
    if (!m->has_integrity) return SL_ERR_NOT_FOUND;
    uint8_t want[SL_STUN_INTEGRITY_LEN];
    int rc = sl_stun_integrity(m->raw, m->integrity_off, key, key_len, want);
    if (rc != SL_OK) return rc;
    /* Constant time, so the comparison leaks nothing about the expected MAC. */
    return CRYPTO_memcmp(want, m->raw + m->integrity_off + 4, sizeof(want)) == 0 ? SL_OK : SL_ERR_AUTH;
}

int sl_stun_check_fingerprint(const sl_stun_msg_t *m)
{
    if (!m->has_fingerprint) return SL_ERR_NOT_FOUND;
    const uint8_t *v = m->raw + m->fingerprint_off + 4;
    uint32_t got = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
    return got == sl_stun_fingerprint(m->raw, m->fingerprint_off) ? SL_OK : SL_ERR_PROTO;
}

/* ---- parsing ---- */

static int parse_xor_address(sl_stun_msg_t *m, const uint8_t *v, size_t len)
{
    if (len < 4) return SL_ERR_PROTO;
    uint8_t family = v[1];
    uint16_t port = (uint16_t)((v[2] << 8 | v[3]) ^ (SL_STUN_MAGIC_COOKIE >> 16));
    /* The address is XORed with the cookie followed by the transaction id. */
    uint8_t mask[16];
    sl_wr_be32(mask, SL_STUN_MAGIC_COOKIE);
    memcpy(mask + 4, m->tid, SL_STUN_TID_LEN);
    memset(&m->xor_mapped, 0, sizeof(m->xor_mapped));
    if (family == 0x01 && len == 8) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&m->xor_mapped;
        uint8_t *a = (uint8_t *)&sin->sin_addr;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        for (int i = 0; i < 4; i++) a[i] = v[4 + i] ^ mask[i];
    } else if (family == 0x02 && len == 20) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&m->xor_mapped;
        uint8_t *a = sin6->sin6_addr.s6_addr;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        for (int i = 0; i < 16; i++) a[i] = v[4 + i] ^ mask[i];
    } else {
        return SL_ERR_PROTO;
    }
    m->has_xor_mapped = true;
    return SL_OK;
}

static int parse_error_code(sl_stun_msg_t *m, const uint8_t *v, size_t len)
{
    if (len < 4) return SL_ERR_PROTO;
    int cls = v[2] & 7, number = v[3];
    if (cls < 3 || cls > 6 || number > 99) return SL_ERR_PROTO;
    m->has_error = true;
    m->error_code = cls * 100 + number;
    m->error_reason = v + 4;
    m->error_reason_len = len - 4;
    return SL_OK;
}

static uint64_t be64(const uint8_t *v)
{
    sl_reader_t r;
    sl_reader_init(&r, v, 8);
    return sl_rd_be64(&r);
}

/* One attribute before MESSAGE-INTEGRITY (or MESSAGE-INTEGRITY itself). */
static int parse_attr(sl_stun_msg_t *m, uint16_t type, const uint8_t *v, size_t len, size_t off)
{
    switch (type) {
    case SL_STUN_ATTR_USERNAME:
        if (len > SL_STUN_USERNAME_MAX) return SL_ERR_PROTO;
        if (m->username == NULL) {
            m->username = v;
            m->username_len = len;
        }
        return SL_OK;
    case SL_STUN_ATTR_SOFTWARE:
        if (m->software == NULL) {
            m->software = v;
            m->software_len = len;
        }
        return SL_OK;
    case SL_STUN_ATTR_MESSAGE_INTEGRITY:
        if (len != SL_STUN_INTEGRITY_LEN) return SL_ERR_PROTO;
        m->has_integrity = true;
        m->integrity_off = off;
        return SL_OK;
    case SL_STUN_ATTR_PRIORITY:
        if (len != 4) return SL_ERR_PROTO;
        if (!m->has_priority) m->priority = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
        m->has_priority = true;
        return SL_OK;
    case SL_STUN_ATTR_USE_CANDIDATE:
        if (len != 0) return SL_ERR_PROTO;
        m->use_candidate = true;
        return SL_OK;
    case SL_STUN_ATTR_ICE_CONTROLLING:
    case SL_STUN_ATTR_ICE_CONTROLLED:
        if (len != 8) return SL_ERR_PROTO;
        if (!m->ice_controlling && !m->ice_controlled) m->tie_breaker = be64(v);
        if (type == SL_STUN_ATTR_ICE_CONTROLLING)
            m->ice_controlling = true;
        else
            m->ice_controlled = true;
        return SL_OK;
    case SL_STUN_ATTR_XOR_MAPPED_ADDRESS:
        return m->has_xor_mapped ? SL_OK : parse_xor_address(m, v, len);
    case SL_STUN_ATTR_ERROR_CODE:
        return m->has_error ? SL_OK : parse_error_code(m, v, len);
    case SL_STUN_ATTR_UNKNOWN_ATTRIBUTES:
        return SL_OK; /* known, but only informative in a 420 answer */
    default:
        if (type < 0x8000) {
            if (m->n_unknown < SL_STUN_MAX_UNKNOWN) m->unknown[m->n_unknown] = type;
            m->n_unknown++;
        }
        return SL_OK;
    }
}

int sl_stun_parse(sl_stun_msg_t *m, const uint8_t *p, size_t n)
{
    memset(m, 0, sizeof(*m));
    if (!sl_stun_is_stun(p, n)) return SL_ERR_PROTO;
    sl_reader_t r;
    sl_reader_init(&r, p, n);
    m->type = sl_rd_be16(&r);
    m->length = sl_rd_be16(&r);
    (void)sl_rd_be32(&r); /* the cookie, checked above */
    memcpy(m->tid, sl_rd_bytes(&r, SL_STUN_TID_LEN), SL_STUN_TID_LEN);
    m->raw = p;
    m->raw_len = n;

    while (sl_reader_left(&r) > 0) {
        size_t off = (size_t)(r.p - p);
        /* FINGERPRINT must be the last attribute (RFC 5389 15.5). */
        if (m->has_fingerprint) return SL_ERR_PROTO;
        uint16_t type = sl_rd_be16(&r);
        uint16_t len = sl_rd_be16(&r);
        const uint8_t *v = sl_rd_bytes(&r, len);
        (void)sl_rd_bytes(&r, (4 - len % 4) % 4);
        if (r.err) return SL_ERR_PROTO;
        if (type == SL_STUN_ATTR_FINGERPRINT) {
            if (len != 4) return SL_ERR_PROTO;
            m->has_fingerprint = true;
            m->fingerprint_off = off;
            continue;
        }
        if (m->has_integrity) continue;
        int rc = parse_attr(m, type, v, len, off);
        if (rc != SL_OK) return rc;
    }
    return SL_OK;
}

/* ---- writing ---- */

static int put_attr_header(sl_bytes_t *out, uint16_t type, size_t len)
{
    int rc = sl_bytes_put_be16(out, type);
    return rc != SL_OK ? rc : sl_bytes_put_be16(out, (uint16_t)len);
}

static int put_padded(sl_bytes_t *out, uint16_t type, const void *v, size_t len)
{
    static const uint8_t zero[3];
    int rc = put_attr_header(out, type, len);
    if (rc == SL_OK) rc = sl_bytes_append(out, v, len);
    if (rc == SL_OK) rc = sl_bytes_append(out, zero, (4 - len % 4) % 4);
    return rc;
}

static int put_header(sl_bytes_t *out, uint16_t type, const uint8_t tid[SL_STUN_TID_LEN])
{
    int rc = sl_bytes_put_be16(out, type);
    if (rc == SL_OK) rc = sl_bytes_put_be16(out, 0); /* patched when done */
    if (rc == SL_OK) rc = sl_bytes_put_be32(out, SL_STUN_MAGIC_COOKIE);
    if (rc == SL_OK) rc = sl_bytes_append(out, tid, SL_STUN_TID_LEN);
    return rc;
}

static int put_xor_address(sl_bytes_t *out, const uint8_t tid[SL_STUN_TID_LEN], const struct sockaddr *sa)
{
    uint8_t v[20] = {0};
    uint8_t mask[16];
    const uint8_t *addr;
    size_t alen;
    uint16_t port;
    sl_wr_be32(mask, SL_STUN_MAGIC_COOKIE);
    memcpy(mask + 4, tid, SL_STUN_TID_LEN);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        addr = (const uint8_t *)&sin->sin_addr;
        alen = 4;
        port = ntohs(sin->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        /* A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; the peer knows
         * itself as a.b.c.d. */
        bool mapped = IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr);
        addr = sin6->sin6_addr.s6_addr + (mapped ? 12 : 0);
        alen = mapped ? 4 : 16;
        port = ntohs(sin6->sin6_port);
    } else {
        return SL_ERR_UNSUPPORTED;
    }
    v[1] = alen == 4 ? 0x01 : 0x02;
    sl_wr_be16(v + 2, (uint16_t)(port ^ (SL_STUN_MAGIC_COOKIE >> 16)));
    for (size_t i = 0; i < alen; i++) v[4 + i] = addr[i] ^ mask[i];
    return put_padded(out, SL_STUN_ATTR_XOR_MAPPED_ADDRESS, v, 4 + alen);
}

/* MESSAGE-INTEGRITY (when key is set) and FINGERPRINT for the message that starts at
 * out->data[start], then the final length. */
static int finish(sl_bytes_t *out, size_t start, const uint8_t *key, size_t key_len)
{
    int rc;
    if (key != NULL) {
        uint8_t mac[SL_STUN_INTEGRITY_LEN];
        rc = sl_stun_integrity(out->data + start, out->len - start, key, key_len, mac);
        if (rc == SL_OK) rc = put_padded(out, SL_STUN_ATTR_MESSAGE_INTEGRITY, mac, sizeof(mac));
        if (rc != SL_OK) return rc;
    }
    uint8_t fp[4];
    sl_wr_be32(fp, sl_stun_fingerprint(out->data + start, out->len - start));
    rc = put_padded(out, SL_STUN_ATTR_FINGERPRINT, fp, sizeof(fp));
    if (rc != SL_OK) return rc;
    /* Fits: the longest message, with a 763-byte SOFTWARE, is under 1 KiB. */
    sl_wr_be16(out->data + start + 2, (uint16_t)(out->len - start - SL_STUN_HEADER_LEN));
    return SL_OK;
}

int sl_stun_write_binding_success(sl_bytes_t *out, const uint8_t tid[SL_STUN_TID_LEN],
                                  const struct sockaddr *mapped, const char *software, const uint8_t *key,
                                  size_t key_len)
{
    size_t start = out->len;
    int rc = put_header(out, SL_STUN_BINDING_SUCCESS, tid);
    /* SOFTWARE first, as in the RFC 5769 vectors. */
    if (rc == SL_OK && software != NULL) {
        size_t n = strlen(software);
        rc = n > 763 ? SL_ERR_TOO_BIG : put_padded(out, SL_STUN_ATTR_SOFTWARE, software, n);
    }
    if (rc == SL_OK) rc = put_xor_address(out, tid, mapped);
    if (rc == SL_OK) rc = finish(out, start, key, key_len);
    if (rc != SL_OK) out->len = start;
    return rc;
}

static const char *reason_phrase(int code)
{
    switch (code) {
    case 300: return "Try Alternate";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 420: return "Unknown Attribute";
    case 438: return "Stale Nonce";
    case 487: return "Role Conflict";
    case 500: return "Server Error";
    default: return "Error";
    }
}

static int put_error_code(sl_bytes_t *out, int code)
{
    const char *reason = reason_phrase(code);
    size_t n = strlen(reason);
    uint8_t v[4 + 32] = {0};
    v[2] = (uint8_t)(code / 100);
    v[3] = (uint8_t)(code % 100);
    memcpy(v + 4, reason, n);
    return put_padded(out, SL_STUN_ATTR_ERROR_CODE, v, 4 + n);
}

static int put_unknown(sl_bytes_t *out, const uint16_t *unknown, size_t n)
{
    uint8_t v[2 * SL_STUN_MAX_UNKNOWN];
    for (size_t i = 0; i < n; i++) sl_wr_be16(v + 2 * i, unknown[i]);
    return put_padded(out, SL_STUN_ATTR_UNKNOWN_ATTRIBUTES, v, 2 * n);
}

int sl_stun_write_error(sl_bytes_t *out, const uint8_t tid[SL_STUN_TID_LEN], int code, const uint16_t *unknown,
                        size_t n_unknown, const uint8_t *key, size_t key_len)
{
    if (code < 300 || code > 699 || n_unknown > SL_STUN_MAX_UNKNOWN) return SL_ERR_PROTO;
    size_t start = out->len;
    int rc = put_header(out, SL_STUN_BINDING_ERROR, tid);
    if (rc == SL_OK) rc = put_error_code(out, code);
    if (rc == SL_OK && n_unknown > 0) rc = put_unknown(out, unknown, n_unknown);
    if (rc == SL_OK) rc = finish(out, start, key, key_len);
    if (rc != SL_OK) out->len = start;
    return rc;
}
