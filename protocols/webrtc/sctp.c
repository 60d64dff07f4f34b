/* WebRTC data channels over usrsctp: see sctp.h.
 *
 * usrsctp calls back while it holds its locks: the output callback with a packet
 * to send, the socket upcall when a socket has something to read. Neither may
 * re-enter usrsctp, and the owner's ops would, so both only queue: the packet on
 * its association's output queue, the association on the work list. run() then
 * works through the list once usrsctp has returned: it hands the queued packets to
 * ops->send and reads the socket (usrsctp_recvv, non-blocking) to dispatch
 * messages and notifications. Only the outermost run() works, so ops may call
 * any function here.
 */
#include "protocols/webrtc/sctp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <usrsctp.h>

#include "protocols/webrtc/dcep.h"
#include "sluice/buf.h"
#include "sluice/list.h"

/* Per-association socket buffers: they bound the memory a slow peer can hold
 * (sends fail with SL_ERR_AGAIN once ours is full) and must hold a whole message. */
#define SEND_BUFFER (256 * 1024)
#define RECV_BUFFER (256 * 1024)
/* Messages are read in pieces of this size: small ones (chat, control) are
 * delivered straight from it, larger ones assembled in their association's
 * buffer, which then only exists while one is arriving. */
#define RECV_CHUNK (16 * 1024)

enum stream_state {
    ST_FREE = 0, /* unused, or used without DCEP (a "negotiated" channel) */
    ST_OPENING,  /* we sent DATA_CHANNEL_OPEN, no ACK yet */
    ST_OPEN,
    ST_CLOSING, /* being reset; free again once both directions are */
};

typedef struct stream {
    uint8_t state;
    uint8_t type;              /* sl_dcep_channel_type_t */
    bool in_reset, out_reset;  /* while closing: which directions are reset */
    uint32_t reliability;
} stream_t;

typedef struct packet {
    sl_list_t link;
    size_t len;
    uint8_t data[];
} packet_t;

struct sl_sctp {
    struct socket *sock;
    sl_sctp_ops_t ops;
    void *arg;
    bool dtls_client;
    bool up, ended, freed;
    bool readable;          /* the upcall fired since the socket was last read */
    bool skip_notification; /* the rest of an oversized notification */
    unsigned hold;          /* runs in progress on it: destruction waits for 0 */
    uint16_t out_streams;   /* negotiated outgoing streams */
    sl_list_t live_link;    /* in g.live until freed */
    sl_list_t work_link;    /* in g.work while it has work */
    sl_list_t outq;         /* packet_t to hand to ops.send */
    /* The message being assembled from partial deliveries. */
    sl_bytes_t msg;
    bool partial, discard;
    uint16_t msg_sid;
    uint32_t msg_ppid;
    stream_t streams[SL_SCTP_MAX_STREAMS];
};

static struct {
    bool started;
    bool running;  /* run() is on the stack */
    sl_list_t live;
    sl_list_t work;
    /* Where messages are read; one is enough, as run() is never nested. Aligned
     * for the notification structures read in place. */
    _Alignas(max_align_t) uint8_t rbuf[RECV_CHUNK];
} g = {.live = {&g.live, &g.live}, .work = {&g.work, &g.work}};

/* The association whose usrsctp address is addr, or NULL once it was freed:
 * usrsctp may still send for a socket being closed. A scan, as there are few
 * associations and usrsctp sends far fewer packets than the media. */
static sl_sctp_t *find_live(void *addr)
{
    for (sl_list_t *it = g.live.next; it != &g.live; it = it->next) {
        sl_sctp_t *s = sl_container_of(it, sl_sctp_t, live_link);
        if (s == addr) return s;
    }
    return NULL;
}

static void want_work(sl_sctp_t *s)
{
    if (!sl_list_linked(&s->work_link)) sl_list_insert_tail(&g.work, &s->work_link);
}

/* usrsctp's output callback: queue a copy, sent from run(). */
static int on_output(void *addr, void *buf, size_t len, uint8_t tos, uint8_t set_df)
{
    sl_sctp_t *s = find_live(addr);
    if (!s) return 0;
    packet_t *p = malloc(sizeof(*p) + len);
    if (!p) return ENOMEM; /* usrsctp counts it lost and retransmits */
    p->len = len;
    memcpy(p->data, buf, len);
    sl_list_insert_tail(&s->outq, &p->link);
    want_work(s);
    return 0;
}

static void on_upcall(struct socket *sock, void *arg, int flags)
{
    sl_sctp_t *s = arg;
    s->readable = true;
    want_work(s);
}

/* usrsctp calls an upcall whenever one was ever set, so a closing socket gets
 * this one rather than NULL. */
static void no_upcall(struct socket *sock, void *arg, int flags) {}

static void start(void)
{
    if (g.started) return;
    /* No UDP encapsulation port, no threads, no debug printing. */
    usrsctp_init_nothreads(0, on_output, NULL);
    /* ECN marks do not cross DTLS; partial reliability is what WebRTC asks for. */
    usrsctp_sysctl_set_sctp_ecn_enable(0);
    usrsctp_sysctl_set_sctp_pr_enable(1);
#ifdef SCTP_DEBUG
    usrsctp_sysctl_set_sctp_debug_on(SCTP_DEBUG_NONE);
#endif
    g.started = true;
}

/* Stream and message handling */

static void end_association(sl_sctp_t *s)
{
    if (s->ended) return;
    s->ended = true;
    s->up = false;
    if (s->ops.on_closed) s->ops.on_closed(s->arg);
}

static int send_error(int err)
{
    switch (err) {
    case EWOULDBLOCK: return SL_ERR_AGAIN;
    case EMSGSIZE: return SL_ERR_TOO_BIG;
    case ENOMEM:
    case ENOBUFS: return SL_ERR_NOMEM;
    case ECONNRESET:
    case ENOTCONN:
    case EPIPE: return SL_ERR_CLOSED;
    default: return SL_ERR_IO;
    }
}

/* One user message out, with the ordering and reliability of its stream. */
static int send_raw(sl_sctp_t *s, uint16_t sid, uint32_t ppid, const void *data, size_t len)
{
    const stream_t *st = &s->streams[sid];
    struct sctp_sendv_spa spa = {.sendv_flags = SCTP_SEND_SNDINFO_VALID};
    spa.sendv_sndinfo.snd_sid = sid;
    spa.sendv_sndinfo.snd_ppid = htonl(ppid);
    /* RFC 8832 6: DCEP messages, and everything before the ACK, go ordered and
     * reliable. */
    if (ppid != SL_DCEP_PPID_CONTROL && st->state == ST_OPEN) {
        if (st->type & SL_DCEP_UNORDERED) spa.sendv_sndinfo.snd_flags |= SCTP_UNORDERED;
        uint8_t rel = st->type & SL_DCEP_RELIABILITY_MASK;
        if (rel != SL_DCEP_RELIABLE) {
            spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
            spa.sendv_prinfo.pr_policy = rel == SL_DCEP_PARTIAL_RELIABLE_REXMIT ? SCTP_PR_SCTP_RTX : SCTP_PR_SCTP_TTL;
            spa.sendv_prinfo.pr_value = st->reliability;
        }
    }
    if (usrsctp_sendv(s->sock, data, len, NULL, 0, &spa, sizeof(spa), SCTP_SENDV_SPA, 0) >= 0) return SL_OK;
    return send_error(errno);
}

/* Starts closing stream sid by resetting our outgoing side (RFC 8831 6.7). False
 * when usrsctp refuses: the id then stays retired for the life of the association,
 * which beats reusing a stream the peer may still consider open. */
static bool close_stream(sl_sctp_t *s, uint16_t sid)
{
    stream_t *st = &s->streams[sid];
    *st = (stream_t){.state = ST_CLOSING};
    size_t size = sizeof(struct sctp_reset_streams) + sizeof(uint16_t);
    struct sctp_reset_streams *srs = calloc(1, size);
    if (!srs) return false;
    srs->srs_assoc_id = SCTP_ALL_ASSOC;
    srs->srs_flags = SCTP_STREAM_RESET_OUTGOING;
    srs->srs_number_streams = 1;
    srs->srs_stream_list[0] = sid;
    int rc = usrsctp_setsockopt(s->sock, IPPROTO_SCTP, SCTP_RESET_STREAMS, srs, (socklen_t)size);
    free(srs);
    return rc == 0;
}

/* A DATA_CHANNEL_OPEN from the peer: ACK it and tell the owner. */
static void peer_open(sl_sctp_t *s, uint16_t sid, const uint8_t *data, size_t len)
{
    stream_t *st = &s->streams[sid];
    if (st->state != ST_FREE) return; /* a second OPEN on a stream in use */
    sl_dcep_open_t o;
    int rc = sl_dcep_parse_open(data, len, &o);
    /* RFC 8832 5.1 defines every channel type there is; a newer one is taken
     * as reliable and ordered rather than refused. */
    if (rc == SL_ERR_UNSUPPORTED) o.channel_type = SL_DCEP_RELIABLE;
    char *label = rc != SL_ERR_PROTO ? malloc((size_t)o.label_len + 1) : NULL;
    if (!label) {
        /* RFC 8832 6: an OPEN that cannot be honoured closes the channel. */
        close_stream(s, sid);
        return;
    }
    if (o.label_len > 0) memcpy(label, o.label, o.label_len);
    label[o.label_len] = '\0';
    static const uint8_t ack = SL_DCEP_MSG_ACK;
    if (send_raw(s, sid, SL_DCEP_PPID_CONTROL, &ack, 1) != SL_OK) {
        close_stream(s, sid);
    } else {
        *st = (stream_t){.state = ST_OPEN, .type = o.channel_type, .reliability = o.reliability};
        if (s->ops.on_open) s->ops.on_open(s->arg, sid, label);
    }
    free(label);
}

static void on_control(sl_sctp_t *s, uint16_t sid, const uint8_t *data, size_t len)
{
    stream_t *st = &s->streams[sid];
    if (!sl_dcep_is_ack(data, len)) {
        peer_open(s, sid, data, len);
    } else if (st->state == ST_OPENING) {
        st->state = ST_OPEN;
        if (s->ops.on_acked) s->ops.on_acked(s->arg, sid);
    }
}

/* A whole user message. */
static void deliver(sl_sctp_t *s, uint16_t sid, uint32_t ppid, const uint8_t *data, size_t len)
{
    if (sid >= SL_SCTP_MAX_STREAMS || s->streams[sid].state == ST_CLOSING) return;
    bool binary;
    switch (ppid) {
    case SL_DCEP_PPID_CONTROL: on_control(s, sid, data, len); return;
    case SL_DCEP_PPID_STRING: binary = false; break;
    case SL_DCEP_PPID_BINARY: binary = true; break;
    case SL_DCEP_PPID_STRING_EMPTY:
        binary = false;
        len = 0;
        break;
    case SL_DCEP_PPID_BINARY_EMPTY:
        binary = true;
        len = 0;
        break;
    default: return; /* the deprecated partial PPIDs 52 and 54, or unknown */
    }
    if (s->ops.on_message) s->ops.on_message(s->arg, sid, binary, data, len);
}

/* A piece of a message; eor marks its last one. */
static void on_data(sl_sctp_t *s, uint16_t sid, uint32_t ppid, const uint8_t *data, size_t len, bool eor)
{
    if (!s->partial && eor) {
        deliver(s, sid, ppid, data, len);
        return;
    }
    if (!s->partial) {
        s->partial = true;
        s->discard = false;
        s->msg_sid = sid;
        s->msg_ppid = ppid;
    } else if (sid != s->msg_sid) {
        /* Interleaving is off, so pieces of two messages cannot mix: drop both. */
        s->discard = true;
    }
    if (!s->discard &&
        (s->msg.len + len > SL_SCTP_MAX_MESSAGE || sl_bytes_append(&s->msg, data, len) != SL_OK))
        s->discard = true;
    if (!eor) return;
    s->partial = false;
    /* Taken out of s, so an op may free s or start another message. */
    sl_bytes_t m = s->msg;
    sl_bytes_init(&s->msg);
    if (!s->discard) deliver(s, s->msg_sid, s->msg_ppid, m.data, m.len);
    sl_bytes_free(&m);
}

/* The peer reset its outgoing streams (it closed them, or answered our close),
 * or our own reset of them completed. */
static void on_stream_reset(sl_sctp_t *s, const struct sctp_stream_reset_event *e, size_t len)
{
    size_t end = SL_MIN(len, e->strreset_length);
    if (end < sizeof(*e) || (e->strreset_flags & (SCTP_STREAM_RESET_DENIED | SCTP_STREAM_RESET_FAILED))) return;
    size_t n = (end - sizeof(*e)) / sizeof(uint16_t);
    for (size_t i = 0; i < n && !s->freed; i++) {
        uint16_t sid = e->strreset_stream_list[i];
        if (sid >= SL_SCTP_MAX_STREAMS) continue;
        stream_t *st = &s->streams[sid];
        bool peer_closed = false;
        if (e->strreset_flags & SCTP_STREAM_RESET_INCOMING_SSN) {
            peer_closed = st->state != ST_CLOSING;
            if (peer_closed) close_stream(s, sid);
            st->in_reset = true;
        }
        if (e->strreset_flags & SCTP_STREAM_RESET_OUTGOING_SSN) st->out_reset = true;
        if (st->state == ST_CLOSING && st->in_reset && st->out_reset) *st = (stream_t){0};
        if (peer_closed && s->ops.on_channel_closed) s->ops.on_channel_closed(s->arg, sid);
    }
}

static void on_assoc_change(sl_sctp_t *s, const struct sctp_assoc_change *c)
{
    switch (c->sac_state) {
    case SCTP_COMM_UP:
        if (s->up || s->ended) break;
        s->up = true;
        s->out_streams = SL_MIN(c->sac_outbound_streams, SL_SCTP_MAX_STREAMS);
        if (s->ops.on_up) s->ops.on_up(s->arg);
        break;
    case SCTP_COMM_LOST:
    case SCTP_SHUTDOWN_COMP:
    case SCTP_CANT_STR_ASSOC:
    case SCTP_RESTART: /* the peer's channels are gone with its old association */
        end_association(s);
        break;
    default: break;
    }
}

static void on_notification(sl_sctp_t *s, const uint8_t *buf, size_t len)
{
    const union sctp_notification *n = (const void *)buf;
    if (len < sizeof(n->sn_header)) return;
    switch (n->sn_header.sn_type) {
    case SCTP_ASSOC_CHANGE:
        if (len >= sizeof(n->sn_assoc_change)) on_assoc_change(s, &n->sn_assoc_change);
        break;
    case SCTP_SHUTDOWN_EVENT: end_association(s); break;
    case SCTP_STREAM_RESET_EVENT:
        if (len >= sizeof(n->sn_strreset_event)) on_stream_reset(s, &n->sn_strreset_event, len);
        break;
    case SCTP_PARTIAL_DELIVERY_EVENT:
        if (len >= sizeof(n->sn_pdapi_event) && n->sn_pdapi_event.pdapi_indication == SCTP_PARTIAL_DELIVERY_ABORTED) {
            s->partial = false;
            sl_bytes_free(&s->msg);
        }
        break;
    default: break;
    }
}

/* Reads and dispatches everything the socket holds. */
static void receive(sl_sctp_t *s)
{
    while (!s->freed && !s->ended) {
        struct sctp_rcvinfo info;
        struct sockaddr_conn from;
        socklen_t infolen = sizeof(info), fromlen = sizeof(from);
        unsigned int infotype = 0;
        int flags = 0;
        ssize_t n = usrsctp_recvv(s->sock, g.rbuf, sizeof(g.rbuf), (struct sockaddr *)&from, &fromlen, &info,
                                  &infolen, &infotype, &flags);
        if (n < 0 && (errno == EWOULDBLOCK || errno == EAGAIN)) return;
        if (n <= 0) {
            /* 0 is the end of the stream: the association is gone. */
            end_association(s);
            return;
        }
        bool eor = flags & MSG_EOR;
        if (flags & MSG_NOTIFICATION) {
            if (eor && !s->skip_notification) on_notification(s, g.rbuf, (size_t)n);
            s->skip_notification = !eor;
        } else if (infotype == SCTP_RECVV_RCVINFO) {
            on_data(s, info.rcv_sid, ntohl(info.rcv_ppid), g.rbuf, (size_t)n, eor);
        }
    }
}

/* Hands the queued packets to ops.send. */
static void flush(sl_sctp_t *s)
{
    while (!s->freed && !sl_list_empty(&s->outq)) {
        packet_t *p = sl_container_of(s->outq.next, packet_t, link);
        sl_list_remove(&p->link);
        s->ops.send(s->arg, p->data, p->len);
        free(p);
    }
}

static void drop_queue(sl_sctp_t *s)
{
    while (!sl_list_empty(&s->outq)) {
        packet_t *p = sl_container_of(s->outq.next, packet_t, link);
        sl_list_remove(&p->link);
        free(p);
    }
}

static void destroy(sl_sctp_t *s)
{
    drop_queue(s);
    sl_bytes_free(&s->msg);
    free(s);
}

static void release(sl_sctp_t *s)
{
    if (--s->hold == 0 && s->freed) destroy(s);
}

/* Works through the associations with work, until none has any. */
static void run(void)
{
    if (g.running) return;
    g.running = true;
    while (!sl_list_empty(&g.work)) {
        sl_sctp_t *s = sl_container_of(g.work.next, sl_sctp_t, work_link);
        sl_list_remove(&s->work_link);
        s->hold++;
        flush(s);
        if (s->readable) {
            /* Cleared first: an op feeding s more input sets it again. */
            s->readable = false;
            receive(s);
        }
        release(s);
    }
    g.running = false;
}

/* Association set-up */

static int set_opt(struct socket *sock, int level, int name, const void *value, size_t len)
{
    return usrsctp_setsockopt(sock, level, name, value, (socklen_t)len) == 0 ? SL_OK : SL_ERR_IO;
}

static int set_int(struct socket *sock, int level, int name, int value)
{
    return set_opt(sock, level, name, &value, sizeof(value));
}

/* The socket options of a WebRTC association, before it connects. */
static int configure(struct socket *sock)
{
    static const uint16_t events[] = {SCTP_ASSOC_CHANGE, SCTP_SHUTDOWN_EVENT, SCTP_STREAM_RESET_EVENT,
                                      SCTP_PARTIAL_DELIVERY_EVENT};
    /* An abortive close: usrsctp_close frees the association at once. */
    struct linger linger = {.l_onoff = 1, .l_linger = 0};
    struct sctp_assoc_value reset = {.assoc_id = SCTP_ALL_ASSOC, .assoc_value = SCTP_ENABLE_RESET_STREAM_REQ};
    struct sctp_initmsg init = {.sinit_num_ostreams = SL_SCTP_MAX_STREAMS, .sinit_max_instreams = SL_SCTP_MAX_STREAMS};
    /* usrsctp's path MTU of an AF_CONN address is the room for chunks: without the
     * 12-byte SCTP common header. */
    struct sctp_paddrparams mtu = {.spp_assoc_id = SCTP_FUTURE_ASSOC,
                                   .spp_flags = SPP_PMTUD_DISABLE,
                                   .spp_pathmtu = SL_SCTP_MTU - 12};
    int rc = usrsctp_set_non_blocking(sock, 1) == 0 ? SL_OK : SL_ERR_IO;
    if (rc == SL_OK) rc = set_opt(sock, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger));
    if (rc == SL_OK) rc = set_int(sock, SOL_SOCKET, SO_SNDBUF, SEND_BUFFER);
    if (rc == SL_OK) rc = set_int(sock, SOL_SOCKET, SO_RCVBUF, RECV_BUFFER);
    if (rc == SL_OK) rc = set_opt(sock, IPPROTO_SCTP, SCTP_ENABLE_STREAM_RESET, &reset, sizeof(reset));
    if (rc == SL_OK) rc = set_int(sock, IPPROTO_SCTP, SCTP_RECVRCVINFO, 1);
    /* Small messages (chat, control) go out at once, not after a Nagle delay. */
    if (rc == SL_OK) rc = set_int(sock, IPPROTO_SCTP, SCTP_NODELAY, 1);
    if (rc == SL_OK) rc = set_opt(sock, IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof(init));
    if (rc == SL_OK) rc = set_opt(sock, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &mtu, sizeof(mtu));
    for (size_t i = 0; rc == SL_OK && i < SL_ARRAY_SIZE(events); i++) {
        struct sctp_event ev = {.se_assoc_id = SCTP_ALL_ASSOC, .se_type = events[i], .se_on = 1};
        rc = set_opt(sock, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof(ev));
    }
    return rc;
}

static struct sockaddr_conn conn_addr(sl_sctp_t *s, uint16_t port)
{
    struct sockaddr_conn a = {.sconn_family = AF_CONN, .sconn_port = htons(port), .sconn_addr = s};
    return a;
}

static int open_socket(sl_sctp_t *s, uint16_t local_port, uint16_t remote_port)
{
    s->sock = usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
    if (!s->sock) return errno == ENOMEM ? SL_ERR_NOMEM : SL_ERR_IO;
    if (usrsctp_set_upcall(s->sock, on_upcall, s) != 0) return SL_ERR_IO;
    int rc = configure(s->sock);
    if (rc != SL_OK) return rc;
    struct sockaddr_conn local = conn_addr(s, local_port), remote = conn_addr(s, remote_port);
    if (usrsctp_bind(s->sock, (struct sockaddr *)&local, sizeof(local)) != 0) return SL_ERR_IO;
    if (usrsctp_connect(s->sock, (struct sockaddr *)&remote, sizeof(remote)) != 0 && errno != EINPROGRESS)
        return SL_ERR_IO;
    return SL_OK;
}

/* Stops usrsctp from calling back for s; drops what it queued. */
static void teardown(sl_sctp_t *s)
{
    s->freed = true;
    sl_list_remove(&s->live_link);
    sl_list_remove(&s->work_link);
    if (s->sock) {
        usrsctp_set_upcall(s->sock, no_upcall, NULL);
        usrsctp_close(s->sock);
        s->sock = NULL;
    }
    usrsctp_deregister_address(s);
    drop_queue(s);
}

/* Public API */

int sl_sctp_new(uint16_t local_port, uint16_t remote_port, bool dtls_client, const sl_sctp_ops_t *ops, void *arg,
                sl_sctp_t **out)
{
    *out = NULL;
    sl_sctp_t *s = calloc(1, sizeof(*s));
    if (!s) return SL_ERR_NOMEM;
    start();
    s->ops = *ops;
    s->arg = arg;
    s->dtls_client = dtls_client;
    sl_list_init(&s->work_link);
    sl_list_init(&s->outq);
    sl_bytes_init(&s->msg);
    sl_list_insert_tail(&g.live, &s->live_link);
    usrsctp_register_address(s);
    int rc = open_socket(s, local_port, remote_port);
    if (rc != SL_OK) {
        teardown(s);
        destroy(s);
        return rc;
    }
    *out = s;
    run();
    return SL_OK;
}

void sl_sctp_input(sl_sctp_t *s, const uint8_t *pkt, size_t len)
{
    if (s->freed || len == 0) return;
    usrsctp_conninput(s, pkt, len, 0);
    run();
}

int sl_sctp_send(sl_sctp_t *s, uint16_t sid, bool binary, const void *data, size_t len)
{
    static const uint8_t empty = 0;
    if (s->freed || s->ended) return SL_ERR_CLOSED;
    if (sid >= SL_SCTP_MAX_STREAMS) return SL_ERR_PROTO;
    if (len > SL_SCTP_MAX_MESSAGE) return SL_ERR_TOO_BIG;
    if (!s->up) return SL_ERR_AGAIN;
    if (s->streams[sid].state == ST_CLOSING) return SL_ERR_CLOSED;
    int rc;
    if (len == 0) /* RFC 8831 6.6: an empty message is one byte with its own PPID. */
        rc = send_raw(s, sid, binary ? SL_DCEP_PPID_BINARY_EMPTY : SL_DCEP_PPID_STRING_EMPTY, &empty, 1);
    else
        rc = send_raw(s, sid, binary ? SL_DCEP_PPID_BINARY : SL_DCEP_PPID_STRING, data, len);
    run();
    return rc;
}

/* The lowest free stream id of our parity (RFC 8832 6), or -1. */
static int free_sid(const sl_sctp_t *s)
{
    for (int sid = s->dtls_client ? 0 : 1; sid < s->out_streams; sid += 2)
        if (s->streams[sid].state == ST_FREE) return sid;
    return -1;
}

int sl_sctp_open_channel(sl_sctp_t *s, const char *label, uint16_t *sid)
{
    if (s->freed || s->ended) return SL_ERR_CLOSED;
    if (!s->up) return SL_ERR_AGAIN;
    size_t label_len = strlen(label);
    if (label_len > UINT16_MAX) return SL_ERR_TOO_BIG;
    int id = free_sid(s);
    if (id < 0) return SL_ERR_BUSY;
    sl_dcep_open_t o = {.channel_type = SL_DCEP_RELIABLE,
                        .label = (const uint8_t *)label,
                        .label_len = (uint16_t)label_len};
    sl_bytes_t msg;
    sl_bytes_init(&msg);
    int rc = sl_dcep_write_open(&o, &msg);
    if (rc == SL_OK) rc = send_raw(s, (uint16_t)id, SL_DCEP_PPID_CONTROL, msg.data, msg.len);
    sl_bytes_free(&msg);
    if (rc == SL_OK) {
        s->streams[id] = (stream_t){.state = ST_OPENING, .type = SL_DCEP_RELIABLE};
        *sid = (uint16_t)id;
    }
    run();
    return rc;
}

int sl_sctp_close_channel(sl_sctp_t *s, uint16_t sid)
{
    if (sid >= SL_SCTP_MAX_STREAMS) return SL_ERR_PROTO;
    if (s->freed || s->ended) return SL_ERR_CLOSED;
    if (s->streams[sid].state == ST_CLOSING) return SL_OK;
    int rc = close_stream(s, sid) ? SL_OK : SL_ERR_IO;
    run();
    return rc;
}

bool sl_sctp_is_up(const sl_sctp_t *s) { return s->up && !s->ended && !s->freed; }

void sl_sctp_tick(uint32_t elapsed_ms)
{
    if (!g.started) return;
    usrsctp_handle_timers(elapsed_ms);
    run();
}

void sl_sctp_free(sl_sctp_t *s)
{
    if (!s || s->freed) return;
    teardown(s);
    if (s->hold == 0) destroy(s);
}

int sl_sctp_global_shutdown(void)
{
    if (!g.started) return SL_OK;
    if (!sl_list_empty(&g.live)) return SL_ERR_BUSY;
    /* Closed sockets are freed by a usrsctp timer (SCTP_INP_KILL_TIMEOUT, 20 ms),
     * which only runs when we advance the clock. */
    for (int i = 0; i < 100; i++) {
        if (usrsctp_finish() == 0) {
            g.started = false;
            return SL_OK;
        }
        usrsctp_handle_timers(20);
    }
    return SL_ERR_BUSY;
}
