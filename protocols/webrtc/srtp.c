/* SRTP sessions over libsrtp2: see srtp.h. */
#include "protocols/webrtc/srtp.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <srtp2/srtp.h>

_Static_assert(SL_SRTP_TAILROOM >= SRTP_MAX_TRAILER_LEN + 4, "SRTCP trailer must fit the tailroom");
_Static_assert(SL_SRTP_KEY_LEN + SL_SRTP_MAX_SALT_LEN == SRTP_AES_ICM_128_KEY_LEN_WSALT, "AES-CM key size");
_Static_assert(SL_SRTP_KEY_LEN + 12 == SRTP_AES_GCM_128_KEY_LEN_WSALT, "AES-GCM key size");

/* Replay window in packets. A video keyframe can be hundreds of packets that the
 * network reorders, and libsrtp's default of 128 would drop the late ones as
 * replays. */
#define REPLAY_WINDOW 1024

struct sl_srtp {
    srtp_t out; /* protects with our key */
    srtp_t in;  /* unprotects with the peer's key */
};

static bool srtp_ready;

size_t sl_srtp_salt_len(sl_srtp_profile_t profile)
{
    switch (profile) {
    case SL_SRTP_AES128_CM_SHA1_80: return 14;
    case SL_SRTP_AEAD_AES_128_GCM: return 12;
    }
    return 0;
}

static int map_err(srtp_err_status_t st)
{
    switch (st) {
    case srtp_err_status_ok: return SL_OK;
    case srtp_err_status_alloc_fail: return SL_ERR_NOMEM;
    default: return SL_ERR_PROTO; /* auth_fail, replay_fail, replay_old, bad_param, ... */
    }
}

static void set_profile(srtp_policy_t *p, sl_srtp_profile_t profile)
{
    if (profile == SL_SRTP_AEAD_AES_128_GCM) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtcp);
    } else {
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp);
    }
}

/* Creates one direction. master is key || salt as libsrtp wants it. */
static int make_ctx(srtp_t *ctx, sl_srtp_profile_t profile, srtp_ssrc_type_t type, uint8_t *master)
{
    srtp_policy_t p;
    memset(&p, 0, sizeof(p));
    set_profile(&p, profile);
    p.ssrc.type = type;
    p.key = master;
    p.window_size = REPLAY_WINDOW;
    /* A NACK answered without an RTX stream resends the same sequence number,
     * which libsrtp would otherwise refuse to protect twice. */
    p.allow_repeat_tx = type == ssrc_any_outbound;
    return map_err(srtp_create(ctx, &p));
}

int sl_srtp_new(const sl_srtp_keys_t *keys, sl_srtp_t **out)
{
    size_t salt_len = sl_srtp_salt_len(keys->profile);
    if (salt_len == 0 || keys->salt_len != salt_len) return SL_ERR_UNSUPPORTED;
    if (!srtp_ready) {
        if (srtp_init() != srtp_err_status_ok) return SL_ERR_NOMEM;
        srtp_ready = true;
    }
    sl_srtp_t *s = calloc(1, sizeof(*s));
    if (!s) return SL_ERR_NOMEM;

    uint8_t master[SL_SRTP_KEY_LEN + SL_SRTP_MAX_SALT_LEN];
    memcpy(master, keys->local_key, SL_SRTP_KEY_LEN);
    memcpy(master + SL_SRTP_KEY_LEN, keys->local_salt, salt_len);
    int err = make_ctx(&s->out, keys->profile, ssrc_any_outbound, master);
    if (err) goto fail;
    memcpy(master, keys->remote_key, SL_SRTP_KEY_LEN);
    memcpy(master + SL_SRTP_KEY_LEN, keys->remote_salt, salt_len);
    err = make_ctx(&s->in, keys->profile, ssrc_any_inbound, master);
    if (err) goto fail_out;
    OPENSSL_cleanse(master, sizeof(master));
    *out = s;
    return SL_OK;

fail_out:
    srtp_dealloc(s->out);
fail:
    OPENSSL_cleanse(master, sizeof(master));
    free(s);
    return err;
}

void sl_srtp_free(sl_srtp_t *s)
{
    if (!s) return;
    srtp_dealloc(s->out); /* libsrtp zeroises its key material */
    srtp_dealloc(s->in);
    free(s);
}

typedef srtp_err_status_t (*srtp_fn)(srtp_t, void *, int *);

static int protect(srtp_t ctx, srtp_fn fn, uint8_t *pkt, size_t *len, size_t cap)
{
    if (*len > SL_SRTP_MAX_PACKET || cap < *len + SL_SRTP_TAILROOM) return SL_ERR_TOO_BIG;
    int n = (int)*len;
    int err = map_err(fn(ctx, pkt, &n));
    if (err) return err;
    *len = (size_t)n;
    return SL_OK;
}

static int unprotect(srtp_t ctx, srtp_fn fn, uint8_t *pkt, size_t *len)
{
    if (*len > SL_SRTP_MAX_PACKET) return SL_ERR_TOO_BIG;
    int n = (int)*len;
    int err = map_err(fn(ctx, pkt, &n));
    if (err) return err;
    *len = (size_t)n;
    return SL_OK;
}

int sl_srtp_protect(sl_srtp_t *s, uint8_t *pkt, size_t *len, size_t cap)
{
    return protect(s->out, srtp_protect, pkt, len, cap);
}

int sl_srtp_protect_rtcp(sl_srtp_t *s, uint8_t *pkt, size_t *len, size_t cap)
{
    return protect(s->out, srtp_protect_rtcp, pkt, len, cap);
}

int sl_srtp_unprotect(sl_srtp_t *s, uint8_t *pkt, size_t *len)
{
    return unprotect(s->in, srtp_unprotect, pkt, len);
}

int sl_srtp_unprotect_rtcp(sl_srtp_t *s, uint8_t *pkt, size_t *len)
{
    return unprotect(s->in, srtp_unprotect_rtcp, pkt, len);
}
