/* The RTSP client of the relay: pulls a stream from an IP camera or another RTSP
 * server (RFC 2326), as ffmpeg's RTSP input and MediaMTX's RTSP sources do.
 * I/O-free like its sibling rtmp_client.h: bytes from the server go in through
 * sl_rtsp_client_feed, requests to send come out in an sl_bytes_t, and what happens
 * comes back through callbacks. The sockets (the RTSP connection and, in UDP mode,
 * each track's RTP/RTCP pair), timers, reconnection and depacketizing belong to the
 * relay session.
 *
 * The exchange:
 *   OPTIONS                       (init; its Public header picks the keep-alive)
 *   DESCRIBE  Accept: application/sdp
 *   SETUP     per usable track, Transport interleaved (TCP) or client_port (UDP)
 *   PLAY      Range: npt=0.000-   on the aggregate URL; its 200 is on_ready
 *   GET_PARAMETER or OPTIONS      keep-alives, every sl_rtsp_client_keepalive_ms
 *   TEARDOWN                      on stop
 * Every request carries CSeq (from 1, incrementing), User-Agent "sluice", the
 * Session once a SETUP gave one, and Authorization once the server challenged.
 *
 * Authentication: a 401 is answered once with the URL's credentials, Digest (MD5)
 * preferred to Basic when the server offers both; a second 401 for the same request
 * is final, except a Digest challenge with stale=true, which is answered again with
 * its new nonce (a few times at most, so a hostile server cannot make us loop).
 *
 * URLs: the base for track controls is Content-Base, else Content-Location, else
 * the request URL (an rtsp:// URL of printable bytes; anything else is skipped). A
 * control is resolved against it: absent or "*" is the base, "rtsp://..." is taken
 * as is, a relative one is appended with a '/' in between unless the base ends with
 * one (or the control starts with '?', a query on the base, as gortsplib does). The
 * aggregate URL for PLAY and keep-alives is the session-level a=control resolved
 * the same way, so the base when there is none.
 *
 * Leniency, for the cameras that need it: a response without CSeq answers the
 * outstanding request (ffmpeg takes it too); one with another CSeq is a stray and is
 * ignored, as are responses when nothing is outstanding and 1xx ones. Blank lines
 * between messages are skipped. A SETUP reply without Session or without the
 * Transport fields keeps what we asked for. Requests from the server (ANNOUNCE,
 * OPTIONS, GET_PARAMETER, SET_PARAMETER...) are answered "501 Not Implemented"
 * with their CSeq, or ignored when they carry none.
 *
 * Interleaved data ('$', channel, 16-bit length, payload) may come at any time and
 * between responses; it is handed to on_rtp or on_rtcp by the channels each SETUP
 * reply granted, even before PLAY's reply. Data on other channels is ignored.
 *
 * Bounds: a response head over SL_RTSP_CLIENT_MAX_HEAD or a body over
 * SL_RTSP_CLIENT_MAX_BODY is SL_ERR_TOO_BIG; the client keeps at most one partial
 * message or interleaved frame between feeds.
 */
#ifndef SLUICE_RELAY_RTSP_CLIENT_H
#define SLUICE_RELAY_RTSP_CLIENT_H

#include <stdbool.h>

#include "protocols/relay/url.h"
#include "protocols/rtp/sdp.h"
#include "sluice/auth.h"
#include "sluice/buf.h"

#define SL_RTSP_CLIENT_MAX_TRACKS 4
#define SL_RTSP_CLIENT_MAX_HEAD 16384
#define SL_RTSP_CLIENT_MAX_BODY 65536
/* Track and aggregate URLs, NUL included; longer ones are SL_ERR_TOO_BIG. It is
 * also the bound of a Digest uri (SL_AUTH_MAX_URI). */
#define SL_RTSP_CLIENT_URL_MAX (SL_AUTH_MAX_URI + 1)
/* A Session identifier, NUL included. */
#define SL_RTSP_CLIENT_SESSION_MAX 256
/* A Digest cnonce, NUL included. */
#define SL_RTSP_CLIENT_CNONCE_MAX 64
/* The session timeout when the server names none (RFC 2326 12.37), in seconds;
 * larger ones are capped at SL_RTSP_CLIENT_TIMEOUT_MAX. */
#define SL_RTSP_CLIENT_TIMEOUT_S 60
#define SL_RTSP_CLIENT_TIMEOUT_MAX 86400
/* A reason phrase handed to on_error, NUL included; longer ones are cut. */
#define SL_RTSP_CLIENT_REASON_MAX 128

typedef enum {
    SL_RTSP_CLIENT_TCP, /* RTP and RTCP interleaved on the RTSP connection */
    SL_RTSP_CLIENT_UDP, /* RTP and RTCP on a UDP pair per track, bound by the glue */
} sl_rtsp_client_transport_t;

typedef struct sl_rtsp_client_cfg {
    /* The stream to pull; copied. Its user and pass answer a 401. */
    const sl_rtsp_url_t *url;
    sl_rtsp_client_transport_t transport;
    /* The Digest cnonce (printable, no '"' or '\\', under SL_RTSP_CLIENT_CNONCE_MAX
     * bytes); copied. NULL: 16 random hex digits, made when a Digest challenge
     * first comes. Tests set it to get known bytes. */
    const char *cnonce;
} sl_rtsp_client_cfg_t;

/* A track: one media section of the SDP taken for SETUP. */
typedef struct sl_rtsp_client_track {
    const sl_sdp_media_t *media; /* in the client's SDP: valid until sl_rtsp_client_free */
    uint8_t pt;                  /* the section's first payload type, which chose it */
    sl_codec_t codec;
    uint32_t clock;                   /* its RTP clock rate, > 0 */
    char url[SL_RTSP_CLIENT_URL_MAX]; /* its control URL, the one SETUP used */
    /* TCP: the interleaved channels the server granted (or those we asked for,
     * 2i and 2i+1, when its reply names none). */
    uint8_t rtp_channel, rtcp_channel;
    /* UDP: our RTP port (from the udp_port callback, RTCP on the next one) and the
     * server's RTP and RTCP ports from its Transport (0 when it named none). */
    uint16_t client_port;
    uint16_t server_port, server_rtcp_port;
    uint32_t ssrc; /* from the Transport reply, when has_ssrc */
    bool has_ssrc;
    bool setup; /* its SETUP was answered: the fields above are final */
} sl_rtsp_client_track_t;

/* Callbacks, called from inside sl_rtsp_client_feed only. They must not free the
 * client nor feed it; on_rtp, on_rtcp and on_ready may call sl_rtsp_client_send_rtcp
 * and sl_rtsp_client_keepalive with the `out` being fed. All optional except
 * udp_port in UDP mode. */
typedef struct sl_rtsp_client_ops {
    /* UDP: bind an RTP/RTCP pair for track number `track` and put the RTP port
     * (1..65534, RTCP on the next) in *client_rtp_port. Called once per track,
     * before its SETUP. A non-zero return fails the client with that error
     * (on_error is not called); a port out of range fails it with SL_ERR_CONFIG. */
    int (*udp_port)(void *arg, int track, uint16_t *client_rtp_port);
    /* PLAY was answered 2xx: the tracks are final. Called once. */
    void (*on_ready)(void *arg);
    /* An interleaved RTP packet of track number `track`, borrowed for the call. A
     * non-zero return stops the client and is returned by sl_rtsp_client_feed
     * (on_error is not called). */
    int (*on_rtp)(void *arg, int track, const uint8_t *data, size_t len);
    /* An interleaved RTCP packet of track number `track`, borrowed for the call. */
    void (*on_rtcp)(void *arg, int track, const uint8_t *data, size_t len);
    /* The client reached a final error of its own: a refusal with the server's
     * status code and reason phrase, or status 0 with a short description for what
     * the server should not have sent (malformed or oversized messages, an SDP
     * without a usable track) and for memory exhaustion. `reason` is borrowed for
     * the call, never NULL. Called once; the client is over. */
    void (*on_error)(void *arg, int status, const char *reason);
} sl_rtsp_client_ops_t;

/* Private state: use the functions below. Embed it in the relay session. */
typedef struct sl_rtsp_client {
    uint8_t transport; /* sl_rtsp_client_transport_t */
    uint8_t state;     /* see rtsp_client.c */
    int err;           /* sticky: once non-zero, every call returns it */
    sl_rtsp_url_t url;
    const sl_rtsp_client_ops_t *ops;
    void *arg;
    sl_bytes_t *out;  /* the caller's output during a call */
    sl_bytes_t req;   /* a request being built, reused */
    sl_bytes_t auth;  /* an Authorization value being built, reused */

    /* The outstanding request. */
    uint32_t cseq;        /* the last CSeq sent */
    uint8_t pending;      /* its kind, see rtsp_client.c; none when 0 */
    uint8_t pending_track;
    uint8_t unauthorized; /* 401s received for it */

    /* Authentication adopted from the last challenge. */
    uint8_t auth_scheme; /* see rtsp_client.c */
    sl_digest_t challenge;
    uint32_t nc; /* Digest requests sent with the challenge's nonce */
    char cnonce[SL_RTSP_CLIENT_CNONCE_MAX];

    /* What the exchange learnt. */
    bool get_parameter; /* OPTIONS' Public listed GET_PARAMETER */
    bool teardown_sent;
    char session[SL_RTSP_CLIENT_SESSION_MAX]; /* "" before a SETUP gave one */
    uint32_t timeout_s;
    char base[SL_RTSP_CLIENT_URL_MAX];      /* for track controls */
    char aggregate[SL_RTSP_CLIENT_URL_MAX]; /* for PLAY and keep-alives */
    sl_sdp_t *sdp;
    sl_rtsp_client_track_t tracks[SL_RTSP_CLIENT_MAX_TRACKS];
    int track_count;

    /* Received bytes: at most one partial message or interleaved frame. */
    sl_bytes_t in;
    size_t scanned;   /* bytes of a partial head already searched for its end */
    size_t head_len;  /* length of the partial message's head once it is whole, else 0 */
    size_t unit_size; /* and of the whole message then */
} sl_rtsp_client_t;

/* Prepares a client and appends OPTIONS to out (the caller sends it after
 * connecting). cfg, cfg->url and cfg->cnonce are only read; ops and arg must
 * outlive the client. Returns SL_OK; SL_ERR_CONFIG for a URL that is not usable
 * (empty or unprintable request URL), a bad cnonce, an unknown transport or UDP
 * without ops->udp_port; SL_ERR_NOMEM (out unchanged). Call sl_rtsp_client_free
 * afterwards whatever the result. */
int sl_rtsp_client_init(sl_rtsp_client_t *c, const sl_rtsp_client_cfg_t *cfg, const sl_rtsp_client_ops_t *ops,
                        void *arg, sl_bytes_t *out) SL_MUST_CHECK;

/* Feeds bytes received on the RTSP connection, split anywhere; data is only read.
 * Requests (the next step of the exchange, retries with credentials, 501 answers to
 * the server's requests) are appended to out, which the caller sends. Calls ops as
 * the exchange goes. Returns SL_OK, or a final error, returned again by every later
 * call:
 *  - after on_error with the server's status: SL_ERR_NOT_FOUND (404), SL_ERR_AUTH
 *    (401 that could not be answered, 403), SL_ERR_UNSUPPORTED (461 Unsupported
 *    Transport: retry over TCP), SL_ERR_CLOSED (any other refusal of DESCRIBE,
 *    SETUP or PLAY), so the relay can tell "retry later" from "do not retry";
 *  - after on_error with status 0: SL_ERR_PROTO (malformed message, SDP or URL),
 *    SL_ERR_TOO_BIG (over a bound above), SL_ERR_UNSUPPORTED (no track of a codec
 *    sluice takes), SL_ERR_IO (no random bytes for a cnonce), SL_ERR_NOMEM;
 *  - the non-zero return of on_rtp or udp_port, SL_ERR_CONFIG for a bad port.
 * Bytes already appended to out stay valid to send in every case. */
int sl_rtsp_client_feed(sl_rtsp_client_t *c, const uint8_t *data, size_t len, sl_bytes_t *out) SL_MUST_CHECK;

/* The tracks taken from the SDP (0 before DESCRIBE's answer), and track i of them
 * (NULL out of range), owned by the client. */
int sl_rtsp_client_track_count(const sl_rtsp_client_t *c);
const sl_rtsp_client_track_t *sl_rtsp_client_track(const sl_rtsp_client_t *c, int i);
/* The parsed SDP of DESCRIBE's answer, owned by the client; NULL before. */
const sl_sdp_t *sl_rtsp_client_sdp(const sl_rtsp_client_t *c);

/* Once ready: appends a keep-alive to out, GET_PARAMETER when OPTIONS' Public
 * listed it, else OPTIONS, on the aggregate URL with the Session. Its answer is
 * consumed without effect, whatever its status (a 401 only renews the challenge
 * for the next requests). Returns SL_OK, SL_ERR_AGAIN before on_ready,
 * SL_ERR_NOMEM (out unchanged, the client still usable), or the final error. */
int sl_rtsp_client_keepalive(sl_rtsp_client_t *c, sl_bytes_t *out) SL_MUST_CHECK;
/* How often to send keep-alives: half the session timeout the SETUP reply named
 * (60 s when none), in milliseconds. */
uint32_t sl_rtsp_client_keepalive_ms(const sl_rtsp_client_t *c);

/* TCP: appends data[0..len) (only read) as an interleaved frame on the RTCP
 * channel of track number `track`, for the glue's receiver reports. Returns SL_OK;
 * SL_ERR_UNSUPPORTED in UDP mode; SL_ERR_NOT_FOUND for no such track;
 * SL_ERR_AGAIN before its SETUP is answered; SL_ERR_TOO_BIG over 65535 bytes;
 * SL_ERR_NOMEM (out unchanged for all of these); or the final error. */
int sl_rtsp_client_send_rtcp(sl_rtsp_client_t *c, int track, const uint8_t *data, size_t len,
                             sl_bytes_t *out) SL_MUST_CHECK;

/* Ends the client: appends TEARDOWN on the aggregate URL with the Session to out
 * when a SETUP gave a Session (whether or not the client already failed, so a
 * session the glue gives up on is released), once. Afterwards the client is over
 * with SL_ERR_CLOSED unless it already had a final error. Returns SL_OK or
 * SL_ERR_NOMEM (then nothing was appended, and the client is over all the same). */
int sl_rtsp_client_teardown(sl_rtsp_client_t *c, sl_bytes_t *out) SL_MUST_CHECK;

/* Releases what the client holds, the SDP and the tracks' media with it. Safe after
 * a failed init and to call twice. */
void sl_rtsp_client_free(sl_rtsp_client_t *c);

#endif
