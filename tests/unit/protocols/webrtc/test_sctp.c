/* Tests for WebRTC data channels over usrsctp (protocols/webrtc/sctp.c): pairs of
 * associations in one process, wired back to back through in-memory queues in
 * place of DTLS, with time moved by sl_sctp_tick. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "protocols/webrtc/sctp.h"
#include "sluice/buf.h"

#define MAX_MSGS 16

typedef struct msg {
    uint16_t sid;
    bool binary;
    sl_bytes_t data;
} msg_t;

typedef struct peer peer_t;

/* One endpoint and what its ops saw. */
struct peer {
    sl_sctp_t *s;
    peer_t *remote;    /* where its packets go */
    sl_buf_t **queue;  /* packets sent, not yet delivered to remote */
    size_t queued, cap;
    int ups, closes;
    int opens;
    uint16_t open_sid;
    char open_label[64];
    int acks;
    uint16_t ack_sid;
    int channel_closes;
    uint16_t closed_sid;
    msg_t msgs[MAX_MSGS];
    int n_msgs;
    /* Reactions, for the re-entrancy tests. */
    peer_t *forward_to;       /* on_message: send the message on this one too */
    bool free_on_message;     /* on_message: free our own association */
    bool free_remote_on_message;
    bool direct; /* send: feed the remote at once, from inside the op */
};

static void op_send(void *arg, const uint8_t *pkt, size_t len)
{
    peer_t *p = arg;
    assert_true(len <= SL_SCTP_MTU);
    if (p->direct && p->remote->s) {
        sl_sctp_input(p->remote->s, pkt, len);
        return;
    }
    if (p->queued == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->queue = realloc(p->queue, p->cap * sizeof(*p->queue));
        assert_non_null(p->queue);
    }
    p->queue[p->queued] = sl_buf_from(pkt, len);
    assert_non_null(p->queue[p->queued]);
    p->queued++;
}

static void op_up(void *arg) { ((peer_t *)arg)->ups++; }

static void op_open(void *arg, uint16_t sid, const char *label)
{
    peer_t *p = arg;
    p->opens++;
    p->open_sid = sid;
    assert_true(strlen(label) < sizeof(p->open_label));
    strcpy(p->open_label, label);
}

static void op_acked(void *arg, uint16_t sid)
{
    peer_t *p = arg;
    p->acks++;
    p->ack_sid = sid;
}

static void op_message(void *arg, uint16_t sid, bool binary, const uint8_t *data, size_t len)
{
    peer_t *p = arg;
    assert_true(p->n_msgs < MAX_MSGS);
    msg_t *m = &p->msgs[p->n_msgs++];
    m->sid = sid;
    m->binary = binary;
    sl_bytes_init(&m->data);
    assert_int_equal(sl_bytes_append(&m->data, data, len), SL_OK);
    if (p->forward_to) assert_int_equal(sl_sctp_send(p->forward_to->s, sid, binary, data, len), SL_OK);
    if (p->free_remote_on_message) {
        sl_sctp_free(p->remote->s);
        p->remote->s = NULL;
    }
    if (p->free_on_message) {
        sl_sctp_free(p->s);
        p->s = NULL;
    }
}

static void op_channel_closed(void *arg, uint16_t sid)
{
    peer_t *p = arg;
    p->channel_closes++;
    p->closed_sid = sid;
}

static void op_closed(void *arg) { ((peer_t *)arg)->closes++; }

static const sl_sctp_ops_t ops = {op_send, op_up, op_open, op_acked, op_message, op_channel_closed, op_closed};

static void peer_new(peer_t *p, peer_t *remote, bool dtls_client)
{
    memset(p, 0, sizeof(*p));
    p->remote = remote;
    assert_int_equal(sl_sctp_new(SL_SCTP_PORT, SL_SCTP_PORT, dtls_client, &ops, p, &p->s), SL_OK);
    assert_non_null(p->s);
}

static void peer_free(peer_t *p)
{
    sl_sctp_free(p->s);
    for (size_t i = 0; i < p->queued; i++) sl_buf_unref(p->queue[i]);
    free(p->queue);
    for (int i = 0; i < p->n_msgs; i++) sl_bytes_free(&p->msgs[i].data);
}

/* Delivers p's queued packets to its remote; those of a freed remote are lost. */
static bool deliver_queue(peer_t *p)
{
    if (p->queued == 0) return false;
    sl_buf_t **q = p->queue;
    size_t n = p->queued;
    p->queue = NULL;
    p->queued = p->cap = 0;
    for (size_t i = 0; i < n; i++) {
        if (p->remote->s) sl_sctp_input(p->remote->s, q[i]->data, q[i]->len);
        sl_buf_unref(q[i]);
    }
    free(q);
    return true;
}

/* Moves packets among the peers until none is in flight. */
static void pump(peer_t *const peers[], int n)
{
    for (bool moved = true; moved;) {
        moved = false;
        for (int i = 0; i < n; i++) moved |= deliver_queue(peers[i]);
    }
}

/* Pumps while time passes (1 s in 50 ms steps), so delayed acknowledgements go. */
static void settle(peer_t *const peers[], int n)
{
    for (int i = 0; i < 20; i++) {
        pump(peers, n);
        sl_sctp_tick(50);
    }
    pump(peers, n);
}

static void connect_pair(peer_t *client, peer_t *server)
{
    peer_new(client, server, true);
    peer_new(server, client, false);
    /* Both sent an INIT from sl_sctp_new: a simultaneous open. */
    assert_true(client->queued > 0);
    assert_true(server->queued > 0);
    assert_int_equal(sl_sctp_send(client->s, 0, false, "x", 1), SL_ERR_AGAIN);
    peer_t *const peers[] = {client, server};
    settle(peers, 2);
    assert_int_equal(client->ups, 1);
    assert_int_equal(server->ups, 1);
    assert_true(sl_sctp_is_up(client->s));
    assert_true(sl_sctp_is_up(server->s));
}

static void shutdown_usrsctp(void) { assert_int_equal(sl_sctp_global_shutdown(), SL_OK); }

static void check_msg(const peer_t *p, int i, uint16_t sid, bool binary, const void *data, size_t len)
{
    assert_true(i < p->n_msgs);
    const msg_t *m = &p->msgs[i];
    assert_int_equal(m->sid, sid);
    assert_int_equal(m->binary, binary);
    assert_int_equal(m->data.len, len);
    if (len > 0) assert_memory_equal(m->data.data, data, len);
}

static void test_channel_and_messages(void **state)
{
    (void)state;
    peer_t a, b;
    peer_t *const peers[] = {&a, &b};
    connect_pair(&a, &b);

    uint16_t sid = 99;
    assert_int_equal(sl_sctp_open_channel(a.s, "chat", &sid), SL_OK);
    assert_int_equal(sid, 0); /* the DTLS client takes even ids */
    /* Before the ACK, messages may go already (ordered). */
    assert_int_equal(sl_sctp_send(a.s, sid, false, "early", 5), SL_OK);
    settle(peers, 2);
    assert_int_equal(b.opens, 1);
    assert_int_equal(b.open_sid, 0);
    assert_string_equal(b.open_label, "chat");
    assert_int_equal(a.acks, 1);
    assert_int_equal(a.ack_sid, 0);
    assert_int_equal(a.opens, 0);
    assert_int_equal(b.acks, 0);

    size_t big_len = 40 * 1024;
    uint8_t *big = malloc(big_len);
    assert_non_null(big);
    for (size_t i = 0; i < big_len; i++) big[i] = (uint8_t)(i * 7 + i / 251);
    assert_int_equal(sl_sctp_send(a.s, sid, false, "hello", 5), SL_OK);
    assert_int_equal(sl_sctp_send(a.s, sid, true, "\x00\x01\x02", 3), SL_OK);
    assert_int_equal(sl_sctp_send(a.s, sid, true, big, big_len), SL_OK);
    assert_int_equal(sl_sctp_send(a.s, sid, false, "", 0), SL_OK);
    assert_int_equal(sl_sctp_send(a.s, sid, true, NULL, 0), SL_OK);
    assert_int_equal(sl_sctp_send(b.s, sid, false, "world", 5), SL_OK);
    assert_int_equal(sl_sctp_send(b.s, sid, false, big, big_len), SL_OK);
    assert_int_equal(sl_sctp_send(b.s, sid, true, "", 0), SL_OK);
    settle(peers, 2);

    assert_int_equal(b.n_msgs, 6);
    check_msg(&b, 0, 0, false, "early", 5);
    check_msg(&b, 1, 0, false, "hello", 5);
    check_msg(&b, 2, 0, true, "\x00\x01\x02", 3);
    check_msg(&b, 3, 0, true, big, big_len);
    check_msg(&b, 4, 0, false, NULL, 0);
    check_msg(&b, 5, 0, true, NULL, 0);
    assert_int_equal(a.n_msgs, 3);
    check_msg(&a, 0, 0, false, "world", 5);
    check_msg(&a, 1, 0, false, big, big_len);
    check_msg(&a, 2, 0, true, NULL, 0);
    free(big);

    peer_free(&a);
    peer_free(&b);
    assert_int_equal(a.closes + b.closes, 0); /* freeing calls no op */
    shutdown_usrsctp();
}

static void test_limits_and_parity(void **state)
{
    (void)state;
    peer_t a, b;
    peer_t *const peers[] = {&a, &b};
    connect_pair(&a, &b);

    uint16_t sid = 0;
    assert_int_equal(sl_sctp_open_channel(b.s, "one", &sid), SL_OK);
    assert_int_equal(sid, 1); /* the DTLS server takes odd ids */
    assert_int_equal(sl_sctp_open_channel(b.s, "", &sid), SL_OK);
    assert_int_equal(sid, 3);
    settle(peers, 2);
    assert_int_equal(a.opens, 2);
    assert_int_equal(a.open_sid, 3);
    assert_string_equal(a.open_label, "");
    assert_int_equal(b.acks, 2);

    uint8_t *max = calloc(1, SL_SCTP_MAX_MESSAGE + 1);
    assert_non_null(max);
    max[SL_SCTP_MAX_MESSAGE - 1] = 0x5a;
    assert_int_equal(sl_sctp_send(a.s, 1, true, max, SL_SCTP_MAX_MESSAGE + 1), SL_ERR_TOO_BIG);
    assert_int_equal(sl_sctp_send(a.s, SL_SCTP_MAX_STREAMS, true, "x", 1), SL_ERR_PROTO);
    assert_int_equal(sl_sctp_send(a.s, 1, true, max, SL_SCTP_MAX_MESSAGE), SL_OK);
    settle(peers, 2);
    assert_int_equal(b.n_msgs, 1);
    check_msg(&b, 0, 1, true, max, SL_SCTP_MAX_MESSAGE);

    /* A stream opened without DCEP (a "negotiated" channel) carries messages too. */
    assert_int_equal(sl_sctp_send(a.s, 10, false, "neg", 3), SL_OK);
    settle(peers, 2);
    check_msg(&b, 1, 10, false, "neg", 3);

    /* Without acknowledgements the send buffer fills and sends are refused, not
     * queued without bound; what was taken arrives. */
    int taken = 0, rc = SL_OK;
    while (taken < 10 && (rc = sl_sctp_send(a.s, 1, true, max, SL_SCTP_MAX_MESSAGE)) == SL_OK) taken++;
    assert_int_equal(rc, SL_ERR_AGAIN);
    assert_true(taken >= 1 && taken < 10);
    settle(peers, 2);
    assert_int_equal(b.n_msgs, 2 + taken);
    check_msg(&b, 1 + taken, 1, true, max, SL_SCTP_MAX_MESSAGE);
    assert_int_equal(sl_sctp_send(a.s, 1, true, max, SL_SCTP_MAX_MESSAGE), SL_OK);
    free(max);

    peer_free(&a);
    peer_free(&b);
    shutdown_usrsctp();
}

static void test_close_channel(void **state)
{
    (void)state;
    peer_t a, b;
    peer_t *const peers[] = {&a, &b};
    connect_pair(&a, &b);
    uint16_t sid = 0, sid2 = 0;
    assert_int_equal(sl_sctp_open_channel(a.s, "first", &sid), SL_OK);
    assert_int_equal(sl_sctp_open_channel(a.s, "second", &sid2), SL_OK);
    assert_int_equal(sid2, 2);
    settle(peers, 2);

    /* We close: the peer learns it, resets its side, and the id comes free. */
    assert_int_equal(sl_sctp_close_channel(a.s, sid), SL_OK);
    assert_int_equal(sl_sctp_close_channel(a.s, sid), SL_OK);
    assert_int_equal(sl_sctp_send(a.s, sid, false, "late", 4), SL_ERR_CLOSED);
    settle(peers, 2);
    assert_int_equal(b.channel_closes, 1);
    assert_int_equal(b.closed_sid, 0);
    assert_int_equal(a.channel_closes, 0);
    uint16_t again = 99;
    assert_int_equal(sl_sctp_open_channel(a.s, "again", &again), SL_OK);
    assert_int_equal(again, 0);
    settle(peers, 2);
    assert_int_equal(b.opens, 3);
    assert_string_equal(b.open_label, "again");
    assert_int_equal(a.acks, 3);

    /* The peer closes: we are told and the other channel still works. */
    assert_int_equal(sl_sctp_close_channel(b.s, sid2), SL_OK);
    settle(peers, 2);
    assert_int_equal(a.channel_closes, 1);
    assert_int_equal(a.closed_sid, 2);
    assert_int_equal(sl_sctp_send(a.s, again, false, "still", 5), SL_OK);
    settle(peers, 2);
    assert_int_equal(b.n_msgs, 1);
    check_msg(&b, 0, 0, false, "still", 5);
    assert_int_equal(sl_sctp_close_channel(a.s, SL_SCTP_MAX_STREAMS), SL_ERR_PROTO);

    peer_free(&a);
    peer_free(&b);
    shutdown_usrsctp();
}

/* A publisher's message forwarded to a viewer from inside on_message, i.e. a
 * send on another association while one is delivering. */
static void test_forward_from_callback(void **state)
{
    (void)state;
    peer_t pub, srv_pub, viewer, srv_view;
    peer_t *const peers[] = {&pub, &srv_pub, &viewer, &srv_view};
    connect_pair(&pub, &srv_pub);
    connect_pair(&viewer, &srv_view);
    uint16_t sid = 0;
    assert_int_equal(sl_sctp_open_channel(pub.s, "pub", &sid), SL_OK);
    assert_int_equal(sl_sctp_open_channel(viewer.s, "view", &sid), SL_OK);
    settle(peers, 4);
    srv_pub.forward_to = &srv_view;
    assert_int_equal(sl_sctp_send(pub.s, 0, false, "to all", 6), SL_OK);
    assert_int_equal(sl_sctp_send(pub.s, 0, true, "\xff", 1), SL_OK);
    settle(peers, 4);
    assert_int_equal(viewer.n_msgs, 2);
    check_msg(&viewer, 0, 0, false, "to all", 6);
    check_msg(&viewer, 1, 0, true, "\xff", 1);
    for (int i = 0; i < 4; i++) peer_free(peers[i]);
    shutdown_usrsctp();
}

/* An association freed from inside its own op, and another freed from an op of
 * its peer: no op afterwards, no leak, and the survivor sees the end. */
static void test_free_from_callback(void **state)
{
    (void)state;
    peer_t a, b;
    peer_t *const peers[] = {&a, &b};
    connect_pair(&a, &b);
    uint16_t sid = 0;
    assert_int_equal(sl_sctp_open_channel(a.s, "x", &sid), SL_OK);
    settle(peers, 2);
    b.free_on_message = true;
    assert_int_equal(sl_sctp_send(a.s, sid, false, "one", 3), SL_OK);
    assert_int_equal(sl_sctp_send(a.s, sid, false, "two", 3), SL_OK);
    settle(peers, 2);
    assert_null(b.s);
    assert_int_equal(b.n_msgs, 1);
    /* The peer's next packets are lost; usrsctp gives up after its retries. */
    assert_int_equal(sl_sctp_send(a.s, sid, false, "three", 5), SL_OK);
    for (int i = 0; i < 600 && a.closes == 0; i++) {
        pump(peers, 2);
        sl_sctp_tick(1000);
    }
    assert_int_equal(a.closes, 1);
    assert_false(sl_sctp_is_up(a.s));
    assert_int_equal(sl_sctp_send(a.s, sid, false, "x", 1), SL_ERR_CLOSED);
    peer_free(&a);
    peer_free(&b);

    connect_pair(&a, &b);
    assert_int_equal(sl_sctp_send(a.s, 0, false, "bye", 3), SL_OK);
    b.free_remote_on_message = true;
    b.free_on_message = true;
    settle(peers, 2);
    assert_null(a.s);
    assert_null(b.s);
    peer_free(&a);
    peer_free(&b);
    shutdown_usrsctp();
}

/* Packets fed to the other association from inside ops->send: usrsctp is never
 * re-entered, the work is queued and run by the outermost call. */
static void test_synchronous_wiring(void **state)
{
    (void)state;
    peer_t a, b;
    peer_t *const peers[] = {&a, &b};
    connect_pair(&a, &b);
    a.direct = b.direct = true;
    uint16_t sid = 0;
    assert_int_equal(sl_sctp_open_channel(a.s, "sync", &sid), SL_OK);
    /* No pumping: everything happened inside the call. */
    assert_int_equal(b.opens, 1);
    assert_int_equal(a.acks, 1);
    b.forward_to = &b; /* echo from inside on_message */
    assert_int_equal(sl_sctp_send(a.s, sid, false, "ping", 4), SL_OK);
    assert_int_equal(b.n_msgs, 1);
    assert_int_equal(a.n_msgs, 1);
    check_msg(&a, 0, 0, false, "ping", 4);
    settle(peers, 2);
    assert_int_equal(a.n_msgs, 1);
    peer_free(&a);
    peer_free(&b);
    shutdown_usrsctp();
}

/* The end of the association reaches the owner once, and usrsctp refuses to
 * shut down while an association lives. */
static void test_abort_and_shutdown(void **state)
{
    (void)state;
    peer_t a, b;
    connect_pair(&a, &b);
    assert_int_equal(sl_sctp_global_shutdown(), SL_ERR_BUSY);
    peer_free(&b);
    b.s = NULL;
    /* Garbage and a truncated packet are dropped without harm. */
    static const uint8_t junk[] = {0x13, 0x88, 0x13, 0x88, 0, 0, 0, 0, 1, 2, 3, 4, 0xde, 0xad};
    sl_sctp_input(a.s, junk, sizeof(junk));
    sl_sctp_input(a.s, junk, 3);
    assert_true(sl_sctp_is_up(a.s));
    peer_free(&a);
    shutdown_usrsctp();
    assert_int_equal(sl_sctp_global_shutdown(), SL_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_channel_and_messages), cmocka_unit_test(test_limits_and_parity),
        cmocka_unit_test(test_close_channel),        cmocka_unit_test(test_forward_from_callback),
        cmocka_unit_test(test_free_from_callback),   cmocka_unit_test(test_synchronous_wiring),
        cmocka_unit_test(test_abort_and_shutdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
