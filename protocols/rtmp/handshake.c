#include "protocols/rtmp/handshake.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define HS_SIZE SL_RTMP_HANDSHAKE_SIZE
#define DIGEST_LEN 32
/* The digest sits in a 764-byte half of the block; its offset is taken modulo
 * 728 (764 - 32 - 4), so a digest never overlaps the bytes that place it. */
#define DIGEST_SPAN 728

enum { ROLE_SERVER, ROLE_CLIENT };
/* Each side receives the same three things: a version byte, the peer's block
 * (C1 or S1, kept) and the peer's echo of ours (C2 or S2, skipped). */
enum { PHASE_VERSION, PHASE_PEER_BLOCK, PHASE_ECHO_BLOCK, PHASE_DONE };
enum { LAYOUT_NONE = -1, LAYOUT_DIGEST_FIRST, LAYOUT_KEY_FIRST };

/* The well-known keys of the Flash handshake: a text, then 32 common bytes. The
 * block digests use the text only (30 or 36 bytes); the keys of the S2/C2
 * signatures are derived from the whole (62 or 68 bytes). */
#define KEY_TAIL                                                                           \
    "\xF0\xEE\xC2\x4A\x80\x68\xBE\xE8\x2E\x00\xD0\xD1\x02\x9E\x7E\x57\x6E\xEC\x5D\x2D\x29" \
    "\x80\x6F\xAB\x93\xB8\xE6\x36\xCF\xEB\x31\xAE"
#define FP_TEXT_LEN 30
#define FMS_TEXT_LEN 36
static const uint8_t fp_key[FP_TEXT_LEN + 32] = "Genuine Adobe Flash Player 001" KEY_TAIL;
static const uint8_t fms_key[FMS_TEXT_LEN + 32] = "Genuine Adobe Flash Media Server 001" KEY_TAIL;

/* Versions written in the digest blocks: clients check that a server's is >= 3
 * before looking for its digest; ours as a client is Flash Player 9's. */
static const uint8_t server_version[4] = {0x04, 0x05, 0x00, 0x01};
static const uint8_t client_version[4] = {0x09, 0x00, 0x7c, 0x02};

/* OpenSSL fails in these calls only when it cannot allocate or seed itself, which
 * the session handles like an allocation failure: by closing the connection. */
static int random_bytes(uint8_t *p, size_t n)
{
    return RAND_bytes(p, (int)n) == 1 ? SL_OK : SL_ERR_NOMEM;
}

static int hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len,
                       uint8_t out[DIGEST_LEN])
{
    unsigned int n = 0;
    if (HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &n) == NULL || n != DIGEST_LEN)
        return SL_ERR_NOMEM;
    return SL_OK;
}

/* Where the digest of a block is in the given layout: the sum of four bytes picks
 * the offset inside the half of the block that follows them. */
static size_t digest_offset(const uint8_t *b, int layout)
{
    size_t base = layout == LAYOUT_DIGEST_FIRST ? 8 : 772;
    return (size_t)(b[base] + b[base + 1] + b[base + 2] + b[base + 3]) % DIGEST_SPAN + base + 4;
}

/* HMAC-SHA256 of the block with its 32 digest bytes at off cut out. */
static int block_digest(const uint8_t *b, size_t off, const uint8_t *key, size_t key_len,
                        uint8_t out[DIGEST_LEN])
{
    uint8_t joined[HS_SIZE - DIGEST_LEN];
    memcpy(joined, b, off);
    memcpy(joined + off, b + off + DIGEST_LEN, HS_SIZE - off - DIGEST_LEN);
    return hmac_sha256(key, key_len, joined, sizeof(joined), out);
}

/* Sets *layout to the layout whose digest verifies with key, or LAYOUT_NONE. */
static int find_digest(const uint8_t *b, const uint8_t *key, size_t key_len, int *layout)
{
    static const int layouts[] = {LAYOUT_DIGEST_FIRST, LAYOUT_KEY_FIRST};
    *layout = LAYOUT_NONE;
    for (size_t i = 0; i < SL_ARRAY_SIZE(layouts); i++) {
        uint8_t d[DIGEST_LEN];
        size_t off = digest_offset(b, layouts[i]);
        int rc = block_digest(b, off, key, key_len, d);
        if (rc != SL_OK) return rc;
        if (memcmp(d, b + off, DIGEST_LEN) == 0) {
            *layout = layouts[i];
            return SL_OK;
        }
    }
    return SL_OK;
}

static int imprint_digest(uint8_t *b, int layout, const uint8_t *key, size_t key_len)
{
    size_t off = digest_offset(b, layout);
    return block_digest(b, off, key, key_len, b + off);
}

/* Fills the answer block (S2 or C2): random bytes signed in the last 32 bytes with
 * a key derived from the peer's digest, proving we read the peer's block. */
static int sign_answer(uint8_t *b, const uint8_t *key, size_t key_len, const uint8_t *peer_digest)
{
    uint8_t k[DIGEST_LEN];
    int rc = random_bytes(b, HS_SIZE - DIGEST_LEN);
    if (rc == SL_OK) rc = hmac_sha256(key, key_len, peer_digest, DIGEST_LEN, k);
    if (rc == SL_OK) rc = hmac_sha256(k, DIGEST_LEN, b, HS_SIZE - DIGEST_LEN, b + HS_SIZE - DIGEST_LEN);
    return rc;
}

/* Classifies the peer's block and finds its digest layout, if any. */
static int classify_peer(sl_rtmp_handshake_t *hs, const uint8_t *key, size_t key_len, int *layout)
{
    static const uint8_t zero[4];
    *layout = LAYOUT_NONE;
    if (memcmp(hs->block + 4, zero, 4) == 0) {
        hs->mode = SL_RTMP_HS_SIMPLE;
        return SL_OK;
    }
    int rc = find_digest(hs->block, key, key_len, layout);
    hs->mode = *layout != LAYOUT_NONE ? SL_RTMP_HS_COMPLEX : SL_RTMP_HS_FALLBACK;
    return rc;
}

/* Writes our block (S1 or C1): time | version or zeros | random, with our digest
 * in the given layout. The time is 0 because the timestamps of the chunk stream
 * we send start at 0. */
static int make_block(uint8_t *b, const uint8_t *version, int layout, const uint8_t *key, size_t key_len)
{
    memset(b, 0, 8);
    int rc = random_bytes(b + 8, HS_SIZE - 8);
    if (rc != SL_OK || layout == LAYOUT_NONE) return rc;
    memcpy(b + 4, version, 4);
    return imprint_digest(b, layout, key, key_len);
}

/* Server, C1 in hs->block: appends S0S1S2 in one piece. */
static int server_reply(sl_rtmp_handshake_t *hs, sl_bytes_t *out)
{
    int layout;
    int rc = classify_peer(hs, fp_key, FP_TEXT_LEN, &layout);
    if (rc == SL_OK) rc = sl_bytes_reserve(out, 1 + 2 * HS_SIZE);
    if (rc != SL_OK) return rc;
    uint8_t *s0 = out->data + out->len, *s1 = s0 + 1, *s2 = s1 + HS_SIZE;
    s0[0] = SL_RTMP_HANDSHAKE_VERSION;
    rc = make_block(s1, server_version, layout, fms_key, FMS_TEXT_LEN);
    if (rc != SL_OK) return rc;
    if (layout == LAYOUT_NONE) {
        memcpy(s2, hs->block, HS_SIZE);
    } else {
        rc = sign_answer(s2, fms_key, sizeof(fms_key), hs->block + digest_offset(hs->block, layout));
        if (rc != SL_OK) return rc;
    }
    out->len += 1 + 2 * HS_SIZE;
    return SL_OK;
}

/* Client, S1 in hs->block: replaces it with the C2 to send once S2 is in. */
static int client_prepare_c2(sl_rtmp_handshake_t *hs)
{
    int layout;
    int rc = classify_peer(hs, fms_key, FMS_TEXT_LEN, &layout);
    if (rc != SL_OK || layout == LAYOUT_NONE) return rc; /* C2 echoes S1 */
    uint8_t s1_digest[DIGEST_LEN];
    memcpy(s1_digest, hs->block + digest_offset(hs->block, layout), DIGEST_LEN);
    return sign_answer(hs->block, fp_key, sizeof(fp_key), s1_digest);
}

static int check_version(uint8_t v)
{
    if (v == SL_RTMP_HANDSHAKE_VERSION) return SL_OK;
    /* 6, 8 and 9 ask for RTMPE (encrypted RTMP), which we do not speak. */
    if (v == 6 || v == 8 || v == 9) return SL_ERR_UNSUPPORTED;
    return SL_ERR_PROTO;
}

static int finish_phase(sl_rtmp_handshake_t *hs, uint8_t last, sl_bytes_t *out)
{
    switch (hs->phase) {
    case PHASE_VERSION:
        return check_version(last);
    case PHASE_PEER_BLOCK:
        return hs->role == ROLE_SERVER ? server_reply(hs, out) : client_prepare_c2(hs);
    default: /* PHASE_ECHO_BLOCK: real clients vary in what C2 holds, so it is not checked */
        return hs->role == ROLE_CLIENT ? sl_bytes_append(out, hs->block, HS_SIZE) : SL_OK;
    }
}

static void init(sl_rtmp_handshake_t *hs, uint8_t role)
{
    memset(hs, 0, sizeof(*hs));
    hs->role = role;
    hs->phase = PHASE_VERSION;
    hs->mode = SL_RTMP_HS_SIMPLE;
}

void sl_rtmp_handshake_init_server(sl_rtmp_handshake_t *hs) { init(hs, ROLE_SERVER); }

int sl_rtmp_handshake_init_client(sl_rtmp_handshake_t *hs, sl_bytes_t *out)
{
    init(hs, ROLE_CLIENT);
    int rc = sl_bytes_reserve(out, 1 + HS_SIZE);
    if (rc == SL_OK) {
        uint8_t *c0 = out->data + out->len;
        c0[0] = SL_RTMP_HANDSHAKE_VERSION;
        rc = make_block(c0 + 1, client_version, LAYOUT_DIGEST_FIRST, fp_key, FP_TEXT_LEN);
    }
    if (rc == SL_OK) out->len += 1 + HS_SIZE;
    hs->error = rc;
    return rc;
}

int sl_rtmp_handshake_feed(sl_rtmp_handshake_t *hs, const uint8_t *data, size_t len, size_t *consumed,
                           sl_bytes_t *out)
{
    size_t used = 0;
    while (hs->error == SL_OK && hs->phase != PHASE_DONE && used < len) {
        size_t need = (hs->phase == PHASE_VERSION ? 1 : HS_SIZE) - hs->have;
        size_t n = SL_MIN(need, len - used);
        if (hs->phase == PHASE_PEER_BLOCK) memcpy(hs->block + hs->have, data + used, n);
        hs->have += n;
        used += n;
        if (n < need) break;
        hs->error = finish_phase(hs, data[used - 1], out);
        hs->have = 0;
        hs->phase++;
    }
    *consumed = used;
    if (hs->error != SL_OK) return hs->error;
    return hs->phase == PHASE_DONE ? SL_OK : SL_ERR_AGAIN;
}

bool sl_rtmp_handshake_is_complex(const sl_rtmp_handshake_t *hs) { return hs->mode == SL_RTMP_HS_COMPLEX; }

sl_rtmp_hs_mode_t sl_rtmp_handshake_mode(const sl_rtmp_handshake_t *hs) { return (sl_rtmp_hs_mode_t)hs->mode; }
