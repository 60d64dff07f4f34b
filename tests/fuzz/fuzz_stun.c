/* Fuzzes the STUN parser, both checksums and the response writers.
 *
 * Every input is parsed and, when it parses, checked against a fixed password and
 * its fingerprint. A Binding success and an error response are then built for its
 * transaction id (to its XOR-MAPPED-ADDRESS when it has one) and must parse back
 * with the same id, address and error code, and verify.
 *
 * The input also goes to an ICE-lite agent holding the sessions of the seeds'
 * usernames ("evtj" of RFC 5769, "sLuIcE01" of the Chrome-like request), so that
 * authentication, error answers and address binding run on mutated requests. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/webrtc/ice.h"
#include "protocols/webrtc/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                        \
    do {                                                                                                \
        if (!(x)) abort();                                                                              \
    } while (0)

static const char PWD[] = "VOkJxbRl1RmTxUk/WvJxBt";

static void parse_back(const sl_bytes_t *out, const sl_stun_msg_t *req, sl_stun_msg_t *m)
{
    CHECK(sl_stun_is_stun(out->data, out->len));
    CHECK(sl_stun_parse(m, out->data, out->len) == SL_OK);
    CHECK(memcmp(m->tid, req->tid, SL_STUN_TID_LEN) == 0);
    CHECK(sl_stun_check_integrity(m, (const uint8_t *)PWD, strlen(PWD)) == SL_OK);
    CHECK(sl_stun_check_fingerprint(m) == SL_OK);
}

static void answer(const sl_stun_msg_t *req)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(9)};
    const struct sockaddr *to = req->has_xor_mapped ? (const struct sockaddr *)&req->xor_mapped
                                                    : (const struct sockaddr *)&sin;
    sl_bytes_t out;
    sl_stun_msg_t m;
    sl_bytes_init(&out);
    CHECK(sl_stun_write_binding_success(&out, req->tid, to, "fuzz", (const uint8_t *)PWD, strlen(PWD)) ==
          SL_OK);
    parse_back(&out, req, &m);
    CHECK(m.type == SL_STUN_BINDING_SUCCESS && m.has_xor_mapped);
    size_t alen = to->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    /* A v4-mapped IPv6 address comes back as IPv4, so compare only the others. */
    if (m.xor_mapped.ss_family == to->sa_family) CHECK(memcmp(&m.xor_mapped, to, alen) == 0);
    sl_bytes_free(&out);

    int code = req->has_error ? req->error_code : 420;
    size_t n = SL_MIN(req->n_unknown, (size_t)SL_STUN_MAX_UNKNOWN);
    CHECK(sl_stun_write_error(&out, req->tid, code, req->unknown, n, (const uint8_t *)PWD, strlen(PWD)) ==
          SL_OK);
    parse_back(&out, req, &m);
    CHECK(m.type == SL_STUN_BINDING_ERROR && m.has_error && m.error_code == code);
    CHECK(m.n_unknown == 0); /* UNKNOWN-ATTRIBUTES is known itself */
    sl_bytes_free(&out);
}

static void feed_agent(const uint8_t *data, size_t size)
{
    static sl_ice_t *ice;
    static int session;
    if (ice == NULL) {
        sl_ice_config_t cfg = {.max_sessions = 4};
        ice = sl_ice_new(&cfg);
        CHECK(ice != NULL);
        CHECK(sl_ice_add(ice, "evtj", PWD, NULL, &session, 0) == SL_OK);
        CHECK(sl_ice_add(ice, "sLuIcE01", PWD, NULL, &session, 0) == SL_OK);
    }
    struct sockaddr_in6 from = {.sin6_family = AF_INET6, .sin6_port = htons(size & 0xffff)};
    from.sin6_addr.s6_addr[15] = size > 0 ? data[0] : 0;
    sl_bytes_t reply;
    void *who = NULL;
    sl_bytes_init(&reply);
    int rc = sl_ice_on_stun(ice, data, size, (const struct sockaddr *)&from, 1, &reply, &who);
    CHECK(rc == SL_OK ? who == &session : who == NULL);
    if (reply.len > 0) {
        sl_stun_msg_t m;
        CHECK(sl_stun_parse(&m, reply.data, reply.len) == SL_OK);
        CHECK(sl_stun_check_integrity(&m, (const uint8_t *)PWD, strlen(PWD)) == SL_OK);
        CHECK(sl_stun_check_fingerprint(&m) == SL_OK);
        CHECK((rc == SL_OK) == (m.type == SL_STUN_BINDING_SUCCESS));
    }
    sl_bytes_free(&reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    feed_agent(data, size);
    (void)sl_webrtc_classify(size > 0 ? data[0] : 0);
    sl_stun_msg_t req;
    if (sl_stun_parse(&req, data, size) != SL_OK) return 0;
    int rc = sl_stun_check_integrity(&req, (const uint8_t *)PWD, strlen(PWD));
    CHECK(rc == SL_OK || rc == SL_ERR_AUTH || rc == SL_ERR_NOT_FOUND);
    rc = sl_stun_check_fingerprint(&req);
    CHECK(rc == SL_OK || rc == SL_ERR_PROTO || rc == SL_ERR_NOT_FOUND);
    if (req.username != NULL) CHECK(req.username + req.username_len <= data + size);
    answer(&req);
    return 0;
}
