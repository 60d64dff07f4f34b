/* ICE-lite agent: credentials, requests routed by ufrag, the answer's bytes,
 * silent refusals and error answers, the selected-address rule, lookups by
 * address, consent expiry on fake time, a full table, and index deletions. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "protocols/webrtc/ice.h"
#include "protocols/webrtc/stun.h"

#define PWD_A "VOkJxbRl1RmTxUk/WvJxBt"
#define PWD_B "0123456789abcdefghijKLMN"

enum { PRIO = 1, CONTROLLING = 2, CONTROLLED = 4, NOMINATE = 8, UNKNOWN = 16, NO_MI = 32, NO_FP = 64 };

static const uint8_t TID[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

static void put_attr(sl_bytes_t *b, uint16_t type, const void *v, size_t len)
{
    static const uint8_t zero[3];
    assert_int_equal(sl_bytes_put_be16(b, type), SL_OK);
    assert_int_equal(sl_bytes_put_be16(b, (uint16_t)len), SL_OK);
    assert_int_equal(sl_bytes_append(b, v, len), SL_OK);
    assert_int_equal(sl_bytes_append(b, zero, (4 - len % 4) % 4), SL_OK);
}

/* A browser's Binding request, as Chrome orders its attributes. */
static void request(sl_bytes_t *b, const char *username, const char *pwd, int flags)
{
    sl_bytes_init(b);
    assert_int_equal(sl_bytes_put_be16(b, SL_STUN_BINDING_REQUEST), SL_OK);
    assert_int_equal(sl_bytes_put_be16(b, 0), SL_OK);
    assert_int_equal(sl_bytes_put_be32(b, SL_STUN_MAGIC_COOKIE), SL_OK);
    assert_int_equal(sl_bytes_append(b, TID, 12), SL_OK);
    put_attr(b, SL_STUN_ATTR_USERNAME, username, strlen(username));
    put_attr(b, 0xC057, "\x00\x01\x00\x0a", 4); /* GOOG-NETWORK-INFO, optional */
    if (flags & CONTROLLING) put_attr(b, SL_STUN_ATTR_ICE_CONTROLLING, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
    if (flags & CONTROLLED) put_attr(b, SL_STUN_ATTR_ICE_CONTROLLED, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
    if (flags & NOMINATE) put_attr(b, SL_STUN_ATTR_USE_CANDIDATE, "", 0);
    if (flags & PRIO) put_attr(b, SL_STUN_ATTR_PRIORITY, "\x6e\x7f\x1e\xff", 4);
    if (flags & UNKNOWN) put_attr(b, 0x7001, "x", 1);
    if (!(flags & NO_MI)) {
        uint8_t mac[20];
        assert_int_equal(sl_stun_integrity(b->data, b->len, (const uint8_t *)pwd, strlen(pwd), mac), SL_OK);
        put_attr(b, SL_STUN_ATTR_MESSAGE_INTEGRITY, mac, 20);
    }
    if (!(flags & NO_FP)) {
        uint8_t fp[4];
        sl_wr_be32(fp, sl_stun_fingerprint(b->data, b->len));
        put_attr(b, SL_STUN_ATTR_FINGERPRINT, fp, 4);
    }
    sl_wr_be16(b->data + 2, (uint16_t)(b->len - 20));
}

#define BROWSER (PRIO | CONTROLLING)

static struct sockaddr_in v4(const char *ip, uint16_t port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    assert_int_equal(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
    return sin;
}

static struct sockaddr_in6 v6(const char *ip, uint16_t port)
{
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    assert_int_equal(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1);
    return sin6;
}

/* Sends a request; returns the result, leaves the answer (if any) in *reply. */
static int send_req(sl_ice_t *ice, const char *user, const char *pwd, int flags, const void *from, uint64_t now,
                    sl_bytes_t *reply, void **out)
{
    sl_bytes_t req;
    request(&req, user, pwd, flags);
    sl_bytes_init(reply);
    int rc = sl_ice_on_stun(ice, req.data, req.len, from, now, reply, out);
    sl_bytes_free(&req);
    return rc;
}

/* A success answer to `from`, authenticated with pwd, for TID. */
static void check_success(const sl_bytes_t *reply, const char *pwd, const struct sockaddr *from, size_t alen)
{
    sl_stun_msg_t m;
    assert_int_equal(sl_stun_parse(&m, reply->data, reply->len), SL_OK);
    assert_int_equal(m.type, SL_STUN_BINDING_SUCCESS);
    assert_memory_equal(m.tid, TID, 12);
    assert_true(m.has_xor_mapped);
    assert_memory_equal(&m.xor_mapped, from, alen);
    assert_int_equal(sl_stun_check_integrity(&m, (const uint8_t *)pwd, strlen(pwd)), SL_OK);
    assert_int_equal(sl_stun_check_fingerprint(&m), SL_OK);
    assert_null(m.software);
    /* XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY, FINGERPRINT and nothing else. */
    assert_int_equal(reply->len, 20 + (alen == sizeof(struct sockaddr_in) ? 12 : 24) + 24 + 8);
}

static sl_ice_t *agent(uint32_t max, uint64_t timeout)
{
    sl_ice_config_t cfg = {.max_sessions = max, .consent_timeout_ms = timeout};
    sl_ice_t *ice = sl_ice_new(&cfg);
    assert_non_null(ice);
    return ice;
}

static int sa, sb; /* the callers' session objects; only their addresses matter */

static void test_credentials(void **state)
{
    (void)state;
    char u1[SL_ICE_UFRAG_LEN + 1], p1[SL_ICE_PWD_LEN + 1], u2[SL_ICE_UFRAG_LEN + 1], p2[SL_ICE_PWD_LEN + 1];
    assert_int_equal(sl_ice_gen_credentials(u1, p1), SL_OK);
    assert_int_equal(sl_ice_gen_credentials(u2, p2), SL_OK);
    assert_int_equal(strlen(u1), SL_ICE_UFRAG_LEN);
    assert_int_equal(strlen(p1), SL_ICE_PWD_LEN);
    assert_true(strspn(p1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") == SL_ICE_PWD_LEN);
    assert_true(strspn(u1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") == SL_ICE_UFRAG_LEN);
    assert_string_not_equal(p1, p2);
    /* Generated credentials are accepted by the agent. */
    sl_ice_t *ice = agent(4, 0);
    assert_int_equal(sl_ice_add(ice, u1, p1, NULL, &sa, 0), SL_OK);
    sl_ice_free(ice);
}

static void test_two_sessions_routed_by_ufrag(void **state)
{
    (void)state;
    sl_ice_t *ice = agent(8, 0);
    assert_int_equal(sl_ice_add(ice, "aaaa", PWD_A, "rA1", &sa, 0), SL_OK);
    assert_int_equal(sl_ice_add(ice, "bbbbbbbb", PWD_B, NULL, &sb, 0), SL_OK);
    assert_int_equal(sl_ice_count(ice), 2);

    struct sockaddr_in a1 = v4("192.0.2.1", 32853);
    struct sockaddr_in6 b1 = v6("2001:db8::7", 50000);
    sl_bytes_t reply;
    void *who = &reply;
    assert_int_equal(send_req(ice, "aaaa:rA1", PWD_A, BROWSER, &a1, 100, &reply, &who), SL_OK);
    assert_ptr_equal(who, &sa);
    check_success(&reply, PWD_A, (struct sockaddr *)&a1, sizeof(a1));
    sl_bytes_free(&reply);
    /* The answer for 192.0.2.1:32853 and TID, bytes up to the MAC. */
    assert_int_equal(send_req(ice, "aaaa:rA1", PWD_A, BROWSER, &a1, 100, &reply, NULL), SL_OK);
    static const uint8_t head[] = {0x01, 0x01, 0x00, 0x2c, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8,
                                   9, 10, 11, 12, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1,
                                   0x12, 0xa6, 0x43, 0x00, 0x08, 0x00, 0x14};
    assert_memory_equal(reply.data, head, sizeof(head));
    sl_bytes_free(&reply);

    assert_int_equal(send_req(ice, "bbbbbbbb:anything", PWD_B, BROWSER | NOMINATE, &b1, 100, &reply, &who), SL_OK);
    assert_ptr_equal(who, &sb);
    check_success(&reply, PWD_B, (struct sockaddr *)&b1, sizeof(b1));
    sl_bytes_free(&reply);

    assert_ptr_equal(sl_ice_lookup_addr(ice, (struct sockaddr *)&a1), &sa);
    assert_ptr_equal(sl_ice_lookup_addr(ice, (struct sockaddr *)&b1), &sb);
    struct sockaddr_in other_port = v4("192.0.2.1", 32854);
    struct sockaddr_in6 other_ip = v6("2001:db8::8", 50000);
    assert_null(sl_ice_lookup_addr(ice, (struct sockaddr *)&other_port));
    assert_null(sl_ice_lookup_addr(ice, (struct sockaddr *)&other_ip));
    struct sockaddr_storage sel;
    assert_int_equal(sl_ice_selected_addr(ice, "bbbbbbbb", &sel), SL_OK);
    assert_memory_equal(&sel, &b1, sizeof(b1));
    assert_int_equal(sl_ice_selected_addr(ice, "cccc", &sel), SL_ERR_NOT_FOUND);

    /* Removed: neither its ufrag nor its address routes any more. */
    assert_int_equal(sl_ice_remove(ice, "aaaa"), SL_OK);
    assert_int_equal(sl_ice_remove(ice, "aaaa"), SL_ERR_NOT_FOUND);
    assert_null(sl_ice_lookup_addr(ice, (struct sockaddr *)&a1));
    assert_int_equal(send_req(ice, "aaaa:rA1", PWD_A, BROWSER, &a1, 200, &reply, &who), SL_ERR_AUTH);
    assert_null(who);
    assert_int_equal(reply.len, 0);
    assert_ptr_equal(sl_ice_lookup_addr(ice, (struct sockaddr *)&b1), &sb);
    sl_ice_free(ice);
}

static void test_silent_refusals(void **state)
{
    (void)state;
    sl_ice_t *ice = agent(4, 0);
    assert_int_equal(sl_ice_add(ice, "aaaa", PWD_A, "rA1", &sa, 0), SL_OK);
    struct sockaddr_in a1 = v4("192.0.2.1", 1000);
    sl_bytes_t reply;
    void *who;
    const struct {
        const char *user, *pwd;
        int flags, rc;
    } cases[] = {
        {"zzzz:rA1", PWD_A, BROWSER, SL_ERR_AUTH},               /* unknown ufrag */
        {"aaaa:rA2", PWD_A, BROWSER, SL_ERR_AUTH},               /* wrong remote ufrag */
        {"aaaa:rA", PWD_A, BROWSER, SL_ERR_AUTH},                /* a prefix of it */
        {"aaaa", PWD_A, BROWSER, SL_ERR_AUTH},                   /* no colon */
        {"aaa:rA1", PWD_A, BROWSER, SL_ERR_AUTH},                /* a prefix of the ufrag */
        {"aaaa:rA1", PWD_B, BROWSER, SL_ERR_AUTH},               /* wrong password */
        {"aaaa:rA1", PWD_A, BROWSER | NO_MI, SL_ERR_AUTH},       /* no MESSAGE-INTEGRITY */
        {"aaaa:rA1", PWD_A, BROWSER | NO_FP, SL_ERR_PROTO},      /* no FINGERPRINT */
    };
    for (size_t i = 0; i < SL_ARRAY_SIZE(cases); i++) {
        who = &reply;
        assert_int_equal(send_req(ice, cases[i].user, cases[i].pwd, cases[i].flags, &a1, 5, &reply, &who),
                         cases[i].rc);
        assert_int_equal(reply.len, 0);
        assert_null(who);
    }

    /* A response, a bit flip, garbage, an unknown address family: dropped. */
    sl_bytes_t req;
    request(&req, "aaaa:rA1", PWD_A, BROWSER);
    sl_bytes_init(&reply);
    req.data[0] = 0x01;
    assert_int_equal(sl_ice_on_stun(ice, req.data, req.len, (struct sockaddr *)&a1, 5, &reply, NULL), SL_ERR_PROTO);
    req.data[0] = 0x00;
    req.data[30] ^= 1;
    assert_int_equal(sl_ice_on_stun(ice, req.data, req.len, (struct sockaddr *)&a1, 5, &reply, NULL), SL_ERR_PROTO);
    req.data[30] ^= 1;
    assert_int_equal(sl_ice_on_stun(ice, req.data, 19, (struct sockaddr *)&a1, 5, &reply, NULL), SL_ERR_PROTO);
    struct sockaddr un = {.sa_family = AF_UNIX};
    assert_int_equal(sl_ice_on_stun(ice, req.data, req.len, &un, 5, &reply, NULL), SL_ERR_UNSUPPORTED);
    assert_int_equal(reply.len, 0);
    /* Nothing was learned from any of it. */
    assert_null(sl_ice_lookup_addr(ice, (struct sockaddr *)&a1));
    /* And the intact request still works. */
    assert_int_equal(sl_ice_on_stun(ice, req.data, req.len, (struct sockaddr *)&a1, 5, &reply, NULL), SL_OK);
    sl_bytes_free(&reply);
    sl_bytes_free(&req);
    sl_ice_free(ice);
}

static void check_error(const sl_bytes_t *reply, int code)
{
    sl_stun_msg_t m;
    assert_int_equal(sl_stun_parse(&m, reply->data, reply->len), SL_OK);
    assert_int_equal(m.type, SL_STUN_BINDING_ERROR);
    assert_memory_equal(m.tid, TID, 12);
    assert_int_equal(m.error_code, code);
    assert_int_equal(sl_stun_check_integrity(&m, (const uint8_t *)PWD_A, strlen(PWD_A)), SL_OK);
    assert_int_equal(sl_stun_check_fingerprint(&m), SL_OK);
}

static void test_error_answers(void **state)
{
    (void)state;
    sl_ice_t *ice = agent(4, 0);
    assert_int_equal(sl_ice_add(ice, "aaaa", PWD_A, NULL, &sa, 0), SL_OK);
    struct sockaddr_in a1 = v4("192.0.2.1", 1000);
    sl_bytes_t reply;
    void *who;

    assert_int_equal(send_req(ice, "aaaa:x", PWD_A, CONTROLLING, &a1, 5, &reply, &who), SL_ERR_PROTO);
    check_error(&reply, 400);
    assert_null(who);
    sl_bytes_free(&reply);

    assert_int_equal(send_req(ice, "aaaa:x", PWD_A, PRIO | CONTROLLED, &a1, 5, &reply, &who), SL_ERR_PROTO);
    check_error(&reply, 487);
    sl_bytes_free(&reply);

    assert_int_equal(send_req(ice, "aaaa:x", PWD_A, BROWSER | UNKNOWN, &a1, 5, &reply, &who), SL_ERR_PROTO);
    check_error(&reply, 420);
    /* UNKNOWN-ATTRIBUTES lists 0x7001 (after the 4 + 4 + 17 (+3) of ERROR-CODE). */
    assert_memory_equal(reply.data + 20 + 28, "\x00\x0a\x00\x02\x70\x01\x00\x00", 8);
    sl_bytes_free(&reply);

    /* None of those bound the address. */
    assert_null(sl_ice_lookup_addr(ice, (struct sockaddr *)&a1));
    sl_ice_free(ice);
}

static void test_selected_address_rule(void **state)
{
    (void)state;
    sl_ice_t *ice = agent(4, 0);
    assert_int_equal(sl_ice_add(ice, "aaaa", PWD_A, NULL, &sa, 0), SL_OK);
    assert_int_equal(sl_ice_add(ice, "bbbb", PWD_B, NULL, &sb, 0), SL_OK);
    struct sockaddr_in host = v4("10.0.0.5", 5000), srflx = v4("198.51.100.9", 6000);
    struct sockaddr_in6 host6 = v6("2001:db8::5", 5001);
    sl_bytes_t reply;
    struct sockaddr_storage sel;

    /* Before nomination the latest success wins. */
    assert_int_equal(sl_ice_selected_addr(ice, "aaaa", &sel), SL_ERR_NOT_FOUND);
    assert_int_equal(send_req(ice, "aaaa:r", PWD_A, BROWSER, &host, 10, &reply, NULL), SL_OK);
    sl_bytes_free(&reply);
    assert_ptr_equal(sl_ice_lookup_addr(ice, (struct sockaddr *)&host), &sa);
    assert_int_equal(send_req(ice, "aaaa:r", PWD_A, BROWSER, &host6, 20, &reply, NULL), SL_OK);
    sl_bytes_free(&reply);
    assert_null(sl_ice_lookup_addr(ice, (struct sockaddr *)&host));
    assert_ptr_equal(sl_ice_lookup_addr(ice, (struct sockaddr *)&host6), &sa);

    /* Nomination picks srflx; a later plain check from host is answered but moves
     * nothing; a later nomination of host moves it. */
    assert_int_equal(send_req(ice, "aaaa:r", PWD_A, BROWSER | NOMINATE, &srflx, 30, &reply, NULL), SL_OK);
    sl_bytes_free(&reply);
    assert_ptr_equal(sl_ice_lookup_addr(ice, (struct sockaddr *)&srflx), &sa);
    assert_null(sl_ice_lookup_addr(ice, (struct sockaddr *)&host6));
    void *who = NULL;
    assert_int_equal(send_req(ice, "aaaa:r", PWD_A, BROWSER, &host, 40, &reply, &who), SL_OK);
    check_success(&reply, PWD_A, (struct sockaddr *)&host, sizeof(host));
    sl_bytes_free(&reply);
    assert_ptr_equal(who, &sa);
    assert_null(sl_ice_lookup_addr(ice, (struct sockaddr *)&host));
    assert_int_equal(sl_ice_selected_addr(ice, "aaaa", &sel), SL_OK);
    assert_memory_equal(&sel, &srflx, sizeof(srflx));
    assert_int_equal(send_req(ice, "aaaa:r", PWD_A, BROWSER | NOMINATE, &host, 50, &reply, NULL), SL_OK);
    sl_bytes_free(&reply);
    assert_ptr_equal(sl_ice_lookup_addr(ice, (struct sockaddr *)&host), &sa);
    assert_null(sl_ice_lookup_addr(ice, (struct sockaddr *)&srflx));

    /* Another session authenticating from that address takes it. */
    assert_int_equal(send_req(ice, "bbbb:r", PWD_B, BROWSER, &host, 60, &reply, NULL), SL_OK);
    sl_bytes_free(&reply);
    assert_ptr_equal(sl_ice_lookup_addr(ice, (struct sockaddr *)&host), &sb);
    assert_int_equal(sl_ice_selected_addr(ice, "aaaa", &sel), SL_ERR_NOT_FOUND);
    sl_ice_free(ice);
}

typedef struct {
    sl_ice_t *ice;
    void *seen[4];
    size_t n;
    bool remove;
} sweep_t;

static void on_expired(void *session, void *arg)
{
    sweep_t *sw = arg;
    assert_true(sw->n < SL_ARRAY_SIZE(sw->seen));
    sw->seen[sw->n++] = session;
    if (sw->remove) assert_int_equal(sl_ice_remove(sw->ice, session == &sa ? "aaaa" : "bbbb"), SL_OK);
}

static size_t sweep(sl_ice_t *ice, uint64_t now, bool remove, sweep_t *sw)
{
    memset(sw, 0, sizeof(*sw));
    sw->ice = ice;
    sw->remove = remove;
    size_t n = sl_ice_sweep_expired(ice, now, on_expired, sw);
    assert_int_equal(n, sw->n);
    return n;
}

static void test_consent_expiry(void **state)
{
    (void)state;
    sl_ice_t *ice = agent(4, 0); /* default: 30 s */
    assert_int_equal(sl_ice_add(ice, "aaaa", PWD_A, NULL, &sa, 0), SL_OK);
    assert_int_equal(sl_ice_add(ice, "bbbb", PWD_B, NULL, &sb, 1000), SL_OK);
    struct sockaddr_in a1 = v4("192.0.2.1", 1000), a2 = v4("192.0.2.1", 1001);
    sl_bytes_t reply;
    sweep_t sw;

    /* a: nominated at 10 s, then only checks from another address at 25 s. */
    assert_int_equal(send_req(ice, "aaaa:r", PWD_A, BROWSER | NOMINATE, &a1, 10000, &reply, NULL), SL_OK);
    sl_bytes_free(&reply);
    assert_int_equal(send_req(ice, "aaaa:r", PWD_A, BROWSER, &a2, 25000, &reply, NULL), SL_OK);
    sl_bytes_free(&reply);

    assert_int_equal(sweep(ice, 30999, false, &sw), 0);
    /* b never got a request: 30 s after it was added. */
    assert_int_equal(sweep(ice, 31000, false, &sw), 1);
    assert_ptr_equal(sw.seen[0], &sb);
    assert_int_equal(sweep(ice, 39999, false, &sw), 1);
    /* a: 30 s after the last check on its selected address. */
    assert_int_equal(sweep(ice, 40000, true, &sw), 2);
    assert_int_equal(sl_ice_count(ice), 0);
    assert_int_equal(sweep(ice, 90000, false, &sw), 0);
    assert_null(sl_ice_lookup_addr(ice, (struct sockaddr *)&a1));

    /* A refresh on the selected address keeps it alive; a clock behind the
     * consent time expires nothing. */
    assert_int_equal(sl_ice_add(ice, "aaaa", PWD_A, NULL, &sa, 100000), SL_OK);
    assert_int_equal(send_req(ice, "aaaa:r", PWD_A, BROWSER, &a1, 120000, &reply, NULL), SL_OK);
    sl_bytes_free(&reply);
    assert_int_equal(sweep(ice, 149999, false, &sw), 0);
    assert_int_equal(sweep(ice, 50, false, &sw), 0);
    assert_int_equal(sweep(ice, 150000, false, &sw), 1);
    sl_ice_free(ice);

    /* Configurable timeout. */
    ice = agent(1, 5000);
    assert_int_equal(sl_ice_add(ice, "aaaa", PWD_A, NULL, &sa, 0), SL_OK);
    assert_int_equal(sweep(ice, 4999, false, &sw), 0);
    assert_int_equal(sweep(ice, 5000, false, &sw), 1);
    sl_ice_free(ice);
}

static void test_table_limits(void **state)
{
    (void)state;
    sl_ice_t *ice = agent(2, 0);
    assert_int_equal(sl_ice_add(ice, "aaaa", PWD_A, NULL, &sa, 0), SL_OK);
    assert_int_equal(sl_ice_add(ice, "aaaa", PWD_B, NULL, &sb, 0), SL_ERR_BUSY);
    assert_int_equal(sl_ice_add(ice, "bbbb", PWD_B, NULL, &sb, 0), SL_OK);
    assert_int_equal(sl_ice_add(ice, "cccc", PWD_B, NULL, &sb, 0), SL_ERR_TOO_BIG);
    assert_int_equal(sl_ice_count(ice), 2);
    assert_int_equal(sl_ice_remove(ice, "aaaa"), SL_OK);
    assert_int_equal(sl_ice_add(ice, "cccc", PWD_B, NULL, &sb, 0), SL_OK);

    /* Bad credentials. */
    assert_int_equal(sl_ice_add(ice, "abc", PWD_A, NULL, &sa, 0), SL_ERR_PROTO);
    assert_int_equal(sl_ice_add(ice, "ab:d", PWD_A, NULL, &sa, 0), SL_ERR_PROTO);
    assert_int_equal(sl_ice_add(ice, "abcd", "short", NULL, &sa, 0), SL_ERR_PROTO);
    assert_int_equal(sl_ice_add(ice, "abcd", PWD_A, "", &sa, 0), SL_ERR_PROTO);
    assert_int_equal(sl_ice_add(ice, "abcdefghijklmnopqrstuvwxyzABCDEFG", PWD_A, NULL, &sa, 0), SL_ERR_PROTO);
    sl_ice_free(ice);

    sl_ice_config_t zero = {.max_sessions = 0};
    assert_null(sl_ice_new(&zero));
    sl_ice_config_t huge = {.max_sessions = (1u << 20) + 1};
    assert_null(sl_ice_new(&huge));
}

/* Many sessions with addresses, removed in a scattered order: every remaining one
 * must still be found by ufrag and by address (the index shifts entries back on
 * deletion). */
static void test_many_sessions(void **state)
{
    (void)state;
    enum { N = 200 };
    static int users[N];
    char ufrag[N][12];
    sl_ice_t *ice = agent(N, 0);
    for (int i = 0; i < N; i++) {
        snprintf(ufrag[i], sizeof(ufrag[i]), "u%03d", i);
        assert_int_equal(sl_ice_add(ice, ufrag[i], PWD_A, NULL, &users[i], 0), SL_OK);
        struct sockaddr_in a = v4("203.0.113.7", (uint16_t)(10000 + i));
        char user[32];
        snprintf(user, sizeof(user), "%s:r", ufrag[i]);
        sl_bytes_t reply;
        void *who = NULL;
        assert_int_equal(send_req(ice, user, PWD_A, BROWSER | NOMINATE, &a, 1, &reply, &who), SL_OK);
        assert_ptr_equal(who, &users[i]);
        sl_bytes_free(&reply);
    }
    assert_int_equal(sl_ice_add(ice, "full", PWD_A, NULL, &sa, 0), SL_ERR_TOO_BIG);
    bool gone[N] = {false};
    for (int k = 0; k < N / 2; k++) {
        int i = (k * 37) % N; /* 37 is prime to 200: distinct positions */
        assert_int_equal(sl_ice_remove(ice, ufrag[i]), SL_OK);
        gone[i] = true;
    }
    assert_int_equal(sl_ice_count(ice), N - N / 2);
    for (int i = 0; i < N; i++) {
        struct sockaddr_in a = v4("203.0.113.7", (uint16_t)(10000 + i));
        struct sockaddr_storage sel;
        if (gone[i]) {
            assert_null(sl_ice_lookup_addr(ice, (struct sockaddr *)&a));
            assert_int_equal(sl_ice_selected_addr(ice, ufrag[i], &sel), SL_ERR_NOT_FOUND);
        } else {
            assert_ptr_equal(sl_ice_lookup_addr(ice, (struct sockaddr *)&a), &users[i]);
            assert_int_equal(sl_ice_selected_addr(ice, ufrag[i], &sel), SL_OK);
            assert_memory_equal(&sel, &a, sizeof(a));
        }
    }
    sl_ice_free(ice);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_credentials),
        cmocka_unit_test(test_two_sessions_routed_by_ufrag),
        cmocka_unit_test(test_silent_refusals),
        cmocka_unit_test(test_error_answers),
        cmocka_unit_test(test_selected_address_rule),
        cmocka_unit_test(test_consent_expiry),
        cmocka_unit_test(test_table_limits),
        cmocka_unit_test(test_many_sessions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
