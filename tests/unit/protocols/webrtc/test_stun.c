/* STUN: the RFC 5769 test vectors (request, IPv4 and IPv6 responses) parsed, their
 * MESSAGE-INTEGRITY and FINGERPRINT verified, and the responses rebuilt byte for
 * byte; error responses; broken integrity, fingerprint, cookie, lengths, truncation
 * at every length; RFC 7983 classification. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "protocols/webrtc/stun.h"

#define PWD "VOkJxbRl1RmTxUk/WvJxBt"
#define KEY (const uint8_t *)PWD, strlen(PWD)

/* RFC 5769 2.1. */
static const uint8_t REQ[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf};

/* RFC 5769 2.2. */
static const uint8_t RESP4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96};

/* RFC 5769 2.3. */
static const uint8_t RESP6[] = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
    0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14,
    0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
    0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c};

static const uint8_t TID[12] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

static void test_request_vector(void **state)
{
    (void)state;
    sl_stun_msg_t m;
    assert_int_equal(sl_stun_parse(&m, REQ, sizeof(REQ)), SL_OK);
    assert_int_equal(m.type, SL_STUN_BINDING_REQUEST);
    assert_int_equal(m.length, 0x58);
    assert_memory_equal(m.tid, TID, 12);
    assert_int_equal(m.username_len, 9);
    assert_memory_equal(m.username, "evtj:h6vY", 9);
    assert_int_equal(m.software_len, 16);
    assert_memory_equal(m.software, "STUN test client", 16);
    assert_true(m.has_priority);
    assert_int_equal(m.priority, 0x6e0001ff);
    assert_true(m.ice_controlled);
    assert_false(m.ice_controlling);
    assert_true(m.tie_breaker == UINT64_C(0x932ff9b151263b36));
    assert_false(m.use_candidate);
    assert_true(m.has_integrity);
    assert_int_equal(m.integrity_off, 76);
    assert_true(m.has_fingerprint);
    assert_int_equal(m.fingerprint_off, 100);
    assert_int_equal(m.n_unknown, 0);
    assert_int_equal(sl_stun_check_integrity(&m, KEY), SL_OK);
    assert_int_equal(sl_stun_check_fingerprint(&m), SL_OK);
    assert_int_equal(sl_stun_check_integrity(&m, (const uint8_t *)"VOkJxbRl1RmTxUk/WvJxBu", 22), SL_ERR_AUTH);
}

static void check_response_vector(const uint8_t *vec, size_t len, const struct sockaddr *want)
{
    sl_stun_msg_t m;
    assert_int_equal(sl_stun_parse(&m, vec, len), SL_OK);
    assert_int_equal(m.type, SL_STUN_BINDING_SUCCESS);
    assert_memory_equal(m.software, "test vector", 11);
    assert_true(m.has_xor_mapped);
    if (want->sa_family == AF_INET)
        assert_memory_equal(&m.xor_mapped, want, sizeof(struct sockaddr_in));
    else
        assert_memory_equal(&m.xor_mapped, want, sizeof(struct sockaddr_in6));
    assert_int_equal(sl_stun_check_integrity(&m, KEY), SL_OK);
    assert_int_equal(sl_stun_check_fingerprint(&m), SL_OK);

    /* Rebuilt with the same fields, only SOFTWARE's padding byte differs: the
     * vectors pad with spaces, we with zero. Put the space in, recompute both
     * checksums, and every byte must equal the vector. */
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_bytes_append(&out, "xy", 2), SL_OK); /* appends after what is there */
    assert_int_equal(sl_stun_write_binding_success(&out, TID, want, "test vector", KEY), SL_OK);
    assert_int_equal(out.len, 2 + len);
    uint8_t *b = out.data + 2;
    assert_int_equal(b[35], 0);
    b[35] = 0x20;
    size_t mi = m.integrity_off, fp = m.fingerprint_off;
    assert_int_equal(sl_stun_integrity(b, mi, KEY, b + mi + 4), SL_OK);
    sl_wr_be32(b + fp + 4, sl_stun_fingerprint(b, fp));
    assert_memory_equal(b, vec, len);

    /* And as built (zero padding) it verifies by itself. */
    b[35] = 0;
    assert_int_equal(sl_stun_integrity(b, mi, KEY, b + mi + 4), SL_OK);
    sl_wr_be32(b + fp + 4, sl_stun_fingerprint(b, fp));
    sl_bytes_t again;
    sl_bytes_init(&again);
    assert_int_equal(sl_stun_write_binding_success(&again, TID, want, "test vector", KEY), SL_OK);
    assert_int_equal(again.len, len);
    assert_memory_equal(again.data, b, len);
    sl_bytes_free(&again);
    sl_bytes_free(&out);
}

static void test_ipv4_response_vector(void **state)
{
    (void)state;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(32853)};
    assert_int_equal(inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr), 1);
    check_response_vector(RESP4, sizeof(RESP4), (struct sockaddr *)&sin);
}

static void test_ipv6_response_vector(void **state)
{
    (void)state;
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(32853)};
    assert_int_equal(inet_pton(AF_INET6, "2001:db8:1234:5678:11:2233:4455:6677", &sin6.sin6_addr), 1);
    check_response_vector(RESP6, sizeof(RESP6), (struct sockaddr *)&sin6);
}

static void test_success_without_software(void **state)
{
    (void)state;
    /* As the ICE agent answers: XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY, FINGERPRINT. */
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(32853)};
    assert_int_equal(inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr), 1);
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_stun_write_binding_success(&out, TID, (struct sockaddr *)&sin, NULL, KEY), SL_OK);
    static const uint8_t head[] = {0x01, 0x01, 0x00, 0x2c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
                                   0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x00, 0x20, 0x00, 0x08,
                                   0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43, 0x00, 0x08, 0x00, 0x14};
    assert_int_equal(out.len, 20 + 12 + 24 + 8);
    assert_memory_equal(out.data, head, sizeof(head));
    assert_memory_equal(out.data + 56, "\x80\x28\x00\x04", 4);
    sl_stun_msg_t m;
    assert_int_equal(sl_stun_parse(&m, out.data, out.len), SL_OK);
    assert_int_equal(sl_stun_check_integrity(&m, KEY), SL_OK);
    assert_int_equal(sl_stun_check_fingerprint(&m), SL_OK);
    assert_memory_equal(&m.xor_mapped, &sin, sizeof(sin));

    /* An IPv4-mapped IPv6 peer (dual-stack socket) is answered as IPv4. */
    struct sockaddr_in6 mapped = {.sin6_family = AF_INET6, .sin6_port = htons(32853)};
    assert_int_equal(inet_pton(AF_INET6, "::ffff:192.0.2.1", &mapped.sin6_addr), 1);
    sl_bytes_t out2;
    sl_bytes_init(&out2);
    assert_int_equal(sl_stun_write_binding_success(&out2, TID, (struct sockaddr *)&mapped, NULL, KEY), SL_OK);
    assert_int_equal(out2.len, out.len);
    assert_memory_equal(out2.data, out.data, out.len);

    /* No key: no MESSAGE-INTEGRITY. */
    sl_bytes_free(&out2);
    assert_int_equal(sl_stun_write_binding_success(&out2, TID, (struct sockaddr *)&sin, NULL, NULL, 0), SL_OK);
    assert_int_equal(sl_stun_parse(&m, out2.data, out2.len), SL_OK);
    assert_false(m.has_integrity);
    assert_int_equal(sl_stun_check_integrity(&m, KEY), SL_ERR_NOT_FOUND);
    assert_int_equal(sl_stun_check_fingerprint(&m), SL_OK);

    /* Unknown family: nothing appended. */
    struct sockaddr un = {.sa_family = AF_UNIX};
    size_t before = out2.len;
    assert_int_equal(sl_stun_write_binding_success(&out2, TID, &un, NULL, KEY), SL_ERR_UNSUPPORTED);
    assert_int_equal(out2.len, before);
    sl_bytes_free(&out2);
    sl_bytes_free(&out);
}

static void test_error_responses(void **state)
{
    (void)state;
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_stun_write_error(&out, TID, 401, NULL, 0, NULL, 0), SL_OK);
    static const uint8_t e401[] = {0x01, 0x11, 0x00, 0x1c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc,
                                   0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x00, 0x09, 0x00, 0x10, 0x00, 0x00,
                                   0x04, 0x01, 'U',  'n',  'a',  'u',  't',  'h',  'o',  'r',  'i',  'z',  'e',
                                   'd',  0x80, 0x28, 0x00, 0x04};
    assert_int_equal(out.len, sizeof(e401) + 4);
    assert_memory_equal(out.data, e401, sizeof(e401));
    sl_stun_msg_t m;
    assert_int_equal(sl_stun_parse(&m, out.data, out.len), SL_OK);
    assert_int_equal(m.type, SL_STUN_BINDING_ERROR);
    assert_true(m.has_error);
    assert_int_equal(m.error_code, 401);
    assert_int_equal(m.error_reason_len, 12);
    assert_memory_equal(m.error_reason, "Unauthorized", 12);
    assert_false(m.has_integrity);
    assert_int_equal(sl_stun_check_fingerprint(&m), SL_OK);
    sl_bytes_free(&out);

    assert_int_equal(sl_stun_write_error(&out, TID, 487, NULL, 0, KEY), SL_OK);
    assert_int_equal(sl_stun_parse(&m, out.data, out.len), SL_OK);
    assert_int_equal(m.error_code, 487);
    assert_memory_equal(m.error_reason, "Role Conflict", 13);
    assert_int_equal(sl_stun_check_integrity(&m, KEY), SL_OK);
    assert_int_equal(sl_stun_check_fingerprint(&m), SL_OK);
    sl_bytes_free(&out);

    const uint16_t unk[] = {0x0003, 0x7777, 0x001c};
    assert_int_equal(sl_stun_write_error(&out, TID, 420, unk, 3, KEY), SL_OK);
    assert_int_equal(sl_stun_parse(&m, out.data, out.len), SL_OK);
    assert_int_equal(m.error_code, 420);
    /* UNKNOWN-ATTRIBUTES: three types and two bytes of padding. */
    static const uint8_t ua[] = {0x00, 0x0a, 0x00, 0x06, 0x00, 0x03, 0x77, 0x77, 0x00, 0x1c, 0x00, 0x00};
    assert_memory_equal(out.data + 20 + 4 + 4 + 20, ua, sizeof(ua));
    assert_int_equal(sl_stun_check_integrity(&m, KEY), SL_OK);
    sl_bytes_free(&out);

    assert_int_equal(sl_stun_write_error(&out, TID, 400, NULL, 0, NULL, 0), SL_OK);
    assert_int_equal(sl_stun_parse(&m, out.data, out.len), SL_OK);
    assert_int_equal(m.error_code, 400);
    sl_bytes_free(&out);

    assert_int_equal(sl_stun_write_error(&out, TID, 299, NULL, 0, NULL, 0), SL_ERR_PROTO);
    assert_int_equal(sl_stun_write_error(&out, TID, 700, NULL, 0, NULL, 0), SL_ERR_PROTO);
    assert_int_equal(sl_stun_write_error(&out, TID, 420, unk, SL_STUN_MAX_UNKNOWN + 1, NULL, 0), SL_ERR_PROTO);
    assert_int_equal(out.len, 0);
}

static void test_bad_integrity_and_fingerprint(void **state)
{
    (void)state;
    uint8_t b[sizeof(REQ)];
    sl_stun_msg_t m;

    /* A flipped bit in the signed part breaks both. */
    memcpy(b, REQ, sizeof(b));
    b[45] ^= 0x01; /* PRIORITY */
    assert_int_equal(sl_stun_parse(&m, b, sizeof(b)), SL_OK);
    assert_int_equal(sl_stun_check_integrity(&m, KEY), SL_ERR_AUTH);
    assert_int_equal(sl_stun_check_fingerprint(&m), SL_ERR_PROTO);

    /* A flipped bit in the MAC breaks integrity and the fingerprint, which covers it. */
    memcpy(b, REQ, sizeof(b));
    b[80] ^= 0x80;
    assert_int_equal(sl_stun_parse(&m, b, sizeof(b)), SL_OK);
    assert_int_equal(sl_stun_check_integrity(&m, KEY), SL_ERR_AUTH);
    assert_int_equal(sl_stun_check_fingerprint(&m), SL_ERR_PROTO);

    /* A wrong fingerprint alone leaves integrity intact. */
    memcpy(b, REQ, sizeof(b));
    b[sizeof(b) - 1] ^= 0xff;
    assert_int_equal(sl_stun_parse(&m, b, sizeof(b)), SL_OK);
    assert_int_equal(sl_stun_check_integrity(&m, KEY), SL_OK);
    assert_int_equal(sl_stun_check_fingerprint(&m), SL_ERR_PROTO);

    /* Padding is not interpreted but is covered by the MAC. */
    memcpy(b, REQ, sizeof(b));
    b[73] = 0;
    assert_int_equal(sl_stun_parse(&m, b, sizeof(b)), SL_OK);
    assert_memory_equal(m.username, "evtj:h6vY", 9);
    assert_int_equal(sl_stun_check_integrity(&m, KEY), SL_ERR_AUTH);

    /* Without FINGERPRINT (cut off, length adjusted) integrity still verifies. */
    memcpy(b, REQ, sizeof(b));
    sl_wr_be16(b + 2, 0x58 - 8);
    assert_int_equal(sl_stun_parse(&m, b, sizeof(b) - 8), SL_OK);
    assert_false(m.has_fingerprint);
    assert_int_equal(sl_stun_check_fingerprint(&m), SL_ERR_NOT_FOUND);
    assert_int_equal(sl_stun_check_integrity(&m, KEY), SL_OK);
}

static void test_truncated_and_malformed(void **state)
{
    (void)state;
    sl_stun_msg_t m;
    for (size_t n = 0; n < sizeof(REQ); n++) {
        assert_false(sl_stun_is_stun(REQ, n));
        assert_int_equal(sl_stun_parse(&m, REQ, n), SL_ERR_PROTO);
    }
    /* Truncated with the header length following suit: attribute runs past the end. */
    uint8_t b[sizeof(REQ) + 8];
    for (size_t n = 24; n < sizeof(REQ); n += 4) {
        memcpy(b, REQ, n);
        sl_wr_be16(b + 2, (uint16_t)(n - 20));
        int rc = sl_stun_parse(&m, b, n);
        /* Cuts that fall on an attribute boundary leave a valid shorter message. */
        bool boundary = n == 40 || n == 48 || n == 60 || n == 76 || n == 100;
        assert_int_equal(rc, boundary ? SL_OK : SL_ERR_PROTO);
    }

    /* Wrong magic cookie. */
    memcpy(b, REQ, sizeof(REQ));
    b[7] ^= 1;
    assert_false(sl_stun_is_stun(b, sizeof(REQ)));
    assert_int_equal(sl_stun_parse(&m, b, sizeof(REQ)), SL_ERR_PROTO);

    /* First two bits set (that would be RTP), length not a multiple of 4, length
     * not matching the datagram. */
    memcpy(b, REQ, sizeof(REQ));
    b[0] = 0x40;
    assert_int_equal(sl_stun_parse(&m, b, sizeof(REQ)), SL_ERR_PROTO);
    memcpy(b, REQ, sizeof(REQ));
    b[3] = 0x57;
    assert_int_equal(sl_stun_parse(&m, b, sizeof(REQ)), SL_ERR_PROTO);
    memcpy(b, REQ, sizeof(REQ));
    memset(b + sizeof(REQ), 0, 8);
    assert_int_equal(sl_stun_parse(&m, b, sizeof(REQ) + 8), SL_ERR_PROTO);

    /* Something after FINGERPRINT. */
    memcpy(b, REQ, sizeof(REQ));
    sl_wr_be16(b + 2, 0x58 + 4);
    memcpy(b + sizeof(REQ), "\x80\x25\x00\x00", 4);
    assert_int_equal(sl_stun_parse(&m, b, sizeof(REQ) + 4), SL_ERR_PROTO);

    /* Known attributes with the wrong size. */
    memcpy(b, REQ, sizeof(REQ));
    b[43] = 0x08; /* PRIORITY claims 8 bytes */
    b[51] = 0x04; /* and ICE-CONTROLLED then 4 */
    assert_int_equal(sl_stun_parse(&m, b, sizeof(REQ)), SL_ERR_PROTO);
    uint8_t bad_xor[] = {0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                         0x00, 0x20, 0x00, 0x08, 0x00, 0x02, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43};
    assert_int_equal(sl_stun_parse(&m, bad_xor, sizeof(bad_xor)), SL_ERR_PROTO); /* IPv6 in 8 bytes */
    uint8_t bad_err[] = {0x01, 0x11, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                         0x00, 0x09, 0x00, 0x04, 0x00, 0x00, 0x02, 0x00};
    assert_int_equal(sl_stun_parse(&m, bad_err, sizeof(bad_err)), SL_ERR_PROTO); /* class 2 */
}

static void test_unknown_and_ignored_attributes(void **state)
{
    (void)state;
    /* An unknown comprehension-required attribute is listed, an optional one is not,
     * and attributes after MESSAGE-INTEGRITY (other than FINGERPRINT) are skipped. */
    uint8_t b[] = {0x00, 0x01, 0x00, 0x2c, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                   0x77, 0x77, 0x00, 0x01, 0xaa, 0, 0, 0,               /* unknown required, padded */
                   0xc0, 0x57, 0x00, 0x04, 0x00, 0x01, 0x00, 0x0a,      /* GOOG-NETWORK-INFO */
                   0x00, 0x08, 0x00, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                   0x00, 0x25, 0x00, 0x00}; /* USE-CANDIDATE after the MAC: ignored */
    sl_stun_msg_t m;
    assert_int_equal(sl_stun_parse(&m, b, sizeof(b)), SL_OK);
    assert_int_equal(m.n_unknown, 1);
    assert_int_equal(m.unknown[0], 0x7777);
    assert_true(m.has_integrity);
    assert_int_equal(m.integrity_off, 36);
    assert_false(m.use_candidate);
    assert_int_equal(sl_stun_check_integrity(&m, KEY), SL_ERR_AUTH);
}

static void test_classify(void **state)
{
    (void)state;
    assert_int_equal(sl_webrtc_classify(0), SL_WEBRTC_STUN);
    assert_int_equal(sl_webrtc_classify(3), SL_WEBRTC_STUN);
    assert_int_equal(sl_webrtc_classify(4), SL_WEBRTC_OTHER);
    assert_int_equal(sl_webrtc_classify(19), SL_WEBRTC_OTHER);
    assert_int_equal(sl_webrtc_classify(20), SL_WEBRTC_DTLS);
    assert_int_equal(sl_webrtc_classify(22), SL_WEBRTC_DTLS);
    assert_int_equal(sl_webrtc_classify(63), SL_WEBRTC_DTLS);
    assert_int_equal(sl_webrtc_classify(64), SL_WEBRTC_OTHER);
    assert_int_equal(sl_webrtc_classify(127), SL_WEBRTC_OTHER);
    assert_int_equal(sl_webrtc_classify(128), SL_WEBRTC_RTP);
    assert_int_equal(sl_webrtc_classify(0x90), SL_WEBRTC_RTP);
    assert_int_equal(sl_webrtc_classify(191), SL_WEBRTC_RTP);
    assert_int_equal(sl_webrtc_classify(192), SL_WEBRTC_OTHER);
    assert_int_equal(sl_webrtc_classify(255), SL_WEBRTC_OTHER);
    assert_true(sl_stun_is_stun(REQ, sizeof(REQ)));
    assert_true(sl_stun_is_stun(RESP4, sizeof(RESP4)));
    assert_false(sl_stun_is_stun(REQ, sizeof(REQ) - 4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_vector),
        cmocka_unit_test(test_ipv4_response_vector),
        cmocka_unit_test(test_ipv6_response_vector),
        cmocka_unit_test(test_success_without_software),
        cmocka_unit_test(test_error_responses),
        cmocka_unit_test(test_bad_integrity_and_fingerprint),
        cmocka_unit_test(test_truncated_and_malformed),
        cmocka_unit_test(test_unknown_and_ignored_attributes),
        cmocka_unit_test(test_classify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
