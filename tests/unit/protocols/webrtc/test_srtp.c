/* SRTP sessions: round trips between mirrored sessions, forged and replayed
 * packets, keys from a real DTLS handshake. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "protocols/rtp/rtp.h"
#include "protocols/webrtc/dtls.h"
#include "protocols/webrtc/srtp.h"

typedef struct peers {
    sl_srtp_t *a, *b; /* a's local key is b's remote key and the other way round */
} peers_t;

static void make_peers(sl_srtp_profile_t profile, peers_t *p)
{
    sl_srtp_keys_t ka, kb;
    memset(&ka, 0, sizeof(ka));
    ka.profile = profile;
    ka.salt_len = sl_srtp_salt_len(profile);
    for (int i = 0; i < SL_SRTP_KEY_LEN; i++) {
        ka.local_key[i] = (uint8_t)(i + 1);
        ka.remote_key[i] = (uint8_t)(0xa0 + i);
    }
    for (int i = 0; i < SL_SRTP_MAX_SALT_LEN; i++) {
        ka.local_salt[i] = (uint8_t)(0x30 + i);
        ka.remote_salt[i] = (uint8_t)(0xc0 + i);
    }
    kb = ka;
    memcpy(kb.local_key, ka.remote_key, SL_SRTP_KEY_LEN);
    memcpy(kb.remote_key, ka.local_key, SL_SRTP_KEY_LEN);
    memcpy(kb.local_salt, ka.remote_salt, SL_SRTP_MAX_SALT_LEN);
    memcpy(kb.remote_salt, ka.local_salt, SL_SRTP_MAX_SALT_LEN);
    assert_int_equal(sl_srtp_new(&ka, &p->a), SL_OK);
    assert_int_equal(sl_srtp_new(&kb, &p->b), SL_OK);
}

static void free_peers(peers_t *p)
{
    sl_srtp_free(p->a);
    sl_srtp_free(p->b);
}

/* An RTP packet of 12 + 100 bytes in buf; returns its length. */
static size_t make_rtp(uint8_t *buf, uint16_t seq, uint32_t ssrc)
{
    sl_rtp_write_header(buf, true, 96, seq, 90000u * seq, ssrc);
    for (int i = 0; i < 100; i++) buf[SL_RTP_HEADER_LEN + i] = (uint8_t)(i ^ seq);
    return SL_RTP_HEADER_LEN + 100;
}

/* A receiver report with one report block: 32 bytes. */
static size_t make_rtcp(uint8_t *buf)
{
    static const uint8_t rr[32] = {0x81, 201, 0, 7, 0x11, 0x22, 0x33, 0x44, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 5,
                                   0,    0,   0, 42, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0};
    memcpy(buf, rr, sizeof(rr));
    return sizeof(rr);
}

static void rtp_round_trip(sl_srtp_profile_t profile, size_t tag_len)
{
    peers_t p;
    make_peers(profile, &p);
    uint8_t pkt[1500], plain[1500];
    size_t len = make_rtp(pkt, 1000, 0x1234);
    memcpy(plain, pkt, len);

    assert_int_equal(sl_srtp_protect(p.a, pkt, &len, sizeof(pkt)), SL_OK);
    assert_int_equal(len, 112 + tag_len);
    assert_memory_equal(pkt, plain, SL_RTP_HEADER_LEN); /* the header stays clear */
    assert_memory_not_equal(pkt + SL_RTP_HEADER_LEN, plain + SL_RTP_HEADER_LEN, 100);
    uint8_t sent[1500];
    size_t sent_len = len;
    memcpy(sent, pkt, len);

    assert_int_equal(sl_srtp_unprotect(p.b, pkt, &len), SL_OK);
    assert_int_equal(len, 112);
    assert_memory_equal(pkt, plain, 112);

    /* The same packet again is a replay. */
    memcpy(pkt, sent, sent_len);
    len = sent_len;
    assert_int_equal(sl_srtp_unprotect(p.b, pkt, &len), SL_ERR_PROTO);

    /* One flipped bit anywhere fails authentication. */
    size_t spots[] = {2, SL_RTP_HEADER_LEN + 5, sent_len - 1};
    for (size_t i = 0; i < SL_ARRAY_SIZE(spots); i++) {
        len = make_rtp(pkt, (uint16_t)(1001 + i), 0x1234);
        assert_int_equal(sl_srtp_protect(p.a, pkt, &len, sizeof(pkt)), SL_OK);
        pkt[spots[i]] ^= 0x01;
        assert_int_equal(sl_srtp_unprotect(p.b, pkt, &len), SL_ERR_PROTO);
    }

    /* The reverse direction uses the other key; a's own packet does not
     * authenticate as one from the peer. */
    len = make_rtp(pkt, 7, 0x5678);
    assert_int_equal(sl_srtp_protect(p.b, pkt, &len, sizeof(pkt)), SL_OK);
    memcpy(sent, pkt, len);
    sent_len = len;
    assert_int_equal(sl_srtp_unprotect(p.b, pkt, &len), SL_ERR_PROTO);
    memcpy(pkt, sent, sent_len);
    len = sent_len;
    assert_int_equal(sl_srtp_unprotect(p.a, pkt, &len), SL_OK);
    assert_int_equal(len, 112);
    free_peers(&p);
}

static void test_rtp_aes_cm(void **state) { rtp_round_trip(SL_SRTP_AES128_CM_SHA1_80, 10); }
static void test_rtp_aes_gcm(void **state) { rtp_round_trip(SL_SRTP_AEAD_AES_128_GCM, 16); }

static void rtcp_round_trip(sl_srtp_profile_t profile, size_t trailer_len, size_t index_at)
{
    peers_t p;
    make_peers(profile, &p);
    uint8_t pkt[256], plain[64], sent[256];
    size_t len = make_rtcp(pkt);
    memcpy(plain, pkt, len);
    assert_int_equal(sl_srtp_protect_rtcp(p.a, pkt, &len, sizeof(pkt)), SL_OK);
    assert_int_equal(len, 32 + trailer_len);
    assert_memory_equal(pkt, plain, 8); /* header and sender SSRC stay clear */
    assert_memory_not_equal(pkt + 8, plain + 8, 24);
    /* E flag and SRTCP index 1: before the tag for AES-CM (RFC 3711), after it for
     * AEAD (RFC 7714). */
    assert_memory_equal(pkt + index_at, "\x80\x00\x00\x01", 4);
    memcpy(sent, pkt, len);
    size_t sent_len = len;

    assert_int_equal(sl_srtp_unprotect_rtcp(p.b, pkt, &len), SL_OK);
    assert_int_equal(len, 32);
    assert_memory_equal(pkt, plain, 32);

    memcpy(pkt, sent, sent_len);
    len = sent_len;
    assert_int_equal(sl_srtp_unprotect_rtcp(p.b, pkt, &len), SL_ERR_PROTO); /* replay */

    len = make_rtcp(pkt);
    assert_int_equal(sl_srtp_protect_rtcp(p.a, pkt, &len, sizeof(pkt)), SL_OK);
    pkt[20] ^= 0x80;
    assert_int_equal(sl_srtp_unprotect_rtcp(p.b, pkt, &len), SL_ERR_PROTO); /* tampered */
    free_peers(&p);
}

static void test_rtcp_aes_cm(void **state) { rtcp_round_trip(SL_SRTP_AES128_CM_SHA1_80, 4 + 10, 32); }
static void test_rtcp_aes_gcm(void **state) { rtcp_round_trip(SL_SRTP_AEAD_AES_128_GCM, 4 + 16, 32 + 16); }

/* Reordering of up to 1024 packets is accepted, older ones are not. */
static void test_replay_window(void **state)
{
    peers_t p;
    make_peers(SL_SRTP_AES128_CM_SHA1_80, &p);
    static uint8_t sent[1101][112 + SL_SRTP_TAILROOM];
    static size_t lens[1101];
    for (uint16_t seq = 1; seq <= 1100; seq++) {
        lens[seq] = make_rtp(sent[seq], seq, 0xabcd);
        assert_int_equal(sl_srtp_protect(p.a, sent[seq], &lens[seq], sizeof(sent[seq])), SL_OK);
    }
    uint8_t pkt[112 + SL_SRTP_TAILROOM];
    size_t len;
    uint16_t order[] = {1, 1100, 200, 100, 50};
    int want[] = {SL_OK, SL_OK, SL_OK, SL_OK, SL_ERR_PROTO};
    for (size_t i = 0; i < SL_ARRAY_SIZE(order); i++) {
        memcpy(pkt, sent[order[i]], lens[order[i]]);
        len = lens[order[i]];
        assert_int_equal(sl_srtp_unprotect(p.b, pkt, &len), want[i]);
    }
    free_peers(&p);
}

static void test_limits(void **state)
{
    peers_t p;
    make_peers(SL_SRTP_AEAD_AES_128_GCM, &p);
    uint8_t pkt[400];
    size_t len = make_rtp(pkt, 1, 1);
    /* Not enough tailroom: refused before libsrtp writes past the buffer. */
    assert_int_equal(sl_srtp_protect(p.a, pkt, &len, len + SL_SRTP_TAILROOM - 1), SL_ERR_TOO_BIG);
    assert_int_equal(sl_srtp_protect_rtcp(p.a, pkt, &len, len + 10), SL_ERR_TOO_BIG);
    assert_int_equal(len, 112);
    /* A retransmission of the same sequence number (NACK without RTX) is allowed. */
    uint8_t first[400];
    assert_int_equal(sl_srtp_protect(p.a, pkt, &len, len + SL_SRTP_TAILROOM), SL_OK);
    memcpy(first, pkt, len);
    size_t again = make_rtp(pkt, 1, 1);
    assert_int_equal(sl_srtp_protect(p.a, pkt, &again, sizeof(pkt)), SL_OK);
    assert_int_equal(again, len);
    assert_memory_equal(pkt, first, len);

    /* Too short to be SRTP or SRTCP, and too long for UDP. */
    uint8_t tiny[8] = {0x80, 96, 0, 1};
    len = sizeof(tiny);
    assert_int_equal(sl_srtp_unprotect(p.b, tiny, &len), SL_ERR_PROTO);
    len = 4;
    assert_int_equal(sl_srtp_unprotect_rtcp(p.b, tiny, &len), SL_ERR_PROTO);
    len = 0;
    assert_int_equal(sl_srtp_unprotect(p.b, tiny, &len), SL_ERR_PROTO);
    len = SL_SRTP_MAX_PACKET + 1;
    assert_int_equal(sl_srtp_unprotect(p.b, tiny, &len), SL_ERR_TOO_BIG);
    free_peers(&p);

    sl_srtp_keys_t k;
    memset(&k, 0, sizeof(k));
    sl_srtp_t *s = NULL;
    k.profile = SL_SRTP_AES128_CM_SHA1_80;
    k.salt_len = 12; /* the GCM salt length: wrong for AES-CM */
    assert_int_equal(sl_srtp_new(&k, &s), SL_ERR_UNSUPPORTED);
    k.profile = (sl_srtp_profile_t)2; /* SRTP_AES128_CM_SHA1_32: not offered */
    assert_int_equal(sl_srtp_new(&k, &s), SL_ERR_UNSUPPORTED);
    assert_int_equal(sl_srtp_salt_len((sl_srtp_profile_t)2), 0);
    assert_null(s);
    sl_srtp_free(NULL);
}

static void pump(sl_dtls_t *from, sl_dtls_t *to)
{
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_true(sl_dtls_take_output(from, &out) >= 0);
    size_t pos = 0, len;
    const uint8_t *dg;
    while ((dg = sl_rtp_next_packet(out.data, out.len, &pos, &len)))
        assert_int_equal(sl_dtls_feed(to, dg, len, NULL), SL_OK);
    sl_bytes_free(&out);
}

/* Keys exported by a DTLS handshake: the server's RTP reaches the client and the
 * client's RTCP reaches the server. */
static void test_keys_from_dtls(void **state)
{
    sl_dtls_ctx_t *ctx = NULL;
    assert_int_equal(sl_dtls_ctx_new(NULL, NULL, &ctx), SL_OK);
    sl_dtls_t *server = sl_dtls_new(ctx, true), *client = sl_dtls_new(ctx, false);
    assert_non_null(server);
    assert_non_null(client);
    for (int i = 0; i < 10 && !(sl_dtls_handshake_done(server) && sl_dtls_handshake_done(client)); i++) {
        pump(client, server);
        pump(server, client);
    }
    sl_srtp_keys_t sk, ck;
    assert_int_equal(sl_dtls_srtp_keys(server, &sk), SL_OK);
    assert_int_equal(sl_dtls_srtp_keys(client, &ck), SL_OK);
    sl_srtp_t *ss = NULL, *cs = NULL;
    assert_int_equal(sl_srtp_new(&sk, &ss), SL_OK);
    assert_int_equal(sl_srtp_new(&ck, &cs), SL_OK);

    uint8_t pkt[400], plain[400];
    size_t len = make_rtp(pkt, 42, 0x01020304);
    memcpy(plain, pkt, len);
    assert_int_equal(sl_srtp_protect(ss, pkt, &len, sizeof(pkt)), SL_OK);
    assert_int_equal(sl_srtp_unprotect(cs, pkt, &len), SL_OK);
    assert_int_equal(len, 112);
    assert_memory_equal(pkt, plain, len);

    len = make_rtcp(pkt);
    memcpy(plain, pkt, len);
    assert_int_equal(sl_srtp_protect_rtcp(cs, pkt, &len, sizeof(pkt)), SL_OK);
    assert_int_equal(sl_srtp_unprotect_rtcp(ss, pkt, &len), SL_OK);
    assert_int_equal(len, 32);
    assert_memory_equal(pkt, plain, len);

    sl_srtp_free(ss);
    sl_srtp_free(cs);
    sl_dtls_free(server);
    sl_dtls_free(client);
    sl_dtls_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rtp_aes_cm),    cmocka_unit_test(test_rtp_aes_gcm),   cmocka_unit_test(test_rtcp_aes_cm),
        cmocka_unit_test(test_rtcp_aes_gcm),  cmocka_unit_test(test_replay_window), cmocka_unit_test(test_limits),
        cmocka_unit_test(test_keys_from_dtls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
