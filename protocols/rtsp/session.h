/* Internal to protocols/rtsp: one RTSP connection and its session.
 * session.c: the libuv glue (TCP, framing of requests and '$' interleaved data,
 * writes, timeouts); methods.c: the requests; media.c: RTP in (publishing) and out
 * (playing, from packets shared by every player of a stream); udp.c: UDP pairs. */
#ifndef SLUICE_RTSP_SESSION_H
#define SLUICE_RTSP_SESSION_H

#include <uv.h>

#include "protocols/relay/relay.h"
#include "protocols/rtp/ingest.h"
#include "sluice/http.h"
#include "sluice/iobatch.h"
#include "sluice/server.h"

#define RTSP_MAX_TRACKS 4

typedef struct rtsp_session rtsp_session_t;
typedef struct rtsp_udp rtsp_udp_t;

typedef struct rtsp_track {
    bool setup;      /* SETUP done */
    uint8_t media;   /* SL_MEDIA_VIDEO or SL_MEDIA_AUDIO */
    uint8_t codec;   /* sl_codec_t */
    uint8_t pt;      /* RTP payload type */
    uint32_t clock;  /* RTP clock rate */
    char control[128];
    /* Transport: interleaved channels on the RTSP connection, or a UDP pair. */
    bool tcp;
    uint8_t channel; /* RTP channel; RTCP is channel + 1 */
    rtsp_udp_t *udp;
    sl_rtp_ingest_t *in; /* publishing: reorder, depacketizer, receiver stats; owned */
    uint32_t packets, octets; /* playing: sent, for sender reports */
    uint32_t last_rtp_ts;     /* of the last packet sent, */
    uint64_t last_send_us;    /* and when (Unix microseconds) */
} rtsp_track_t;

typedef enum rtsp_state {
    RTSP_INIT,
    RTSP_READY_PLAY,   /* DESCRIBE (and SETUPs) done */
    RTSP_READY_RECORD, /* ANNOUNCE (and SETUPs) done */
    RTSP_PLAYING,
    RTSP_RECORDING,
} rtsp_state_t;

struct rtsp_session {
    sl_conn_t conn;
    sl_server_t *srv;
    uv_tcp_t tcp;
    uv_timer_t timer;
    int open_handles;
    bool closing;
    uint64_t id;
    char peer[64];
    struct sockaddr_storage peer_addr;
    uint64_t last_activity_ms;

    sl_bytes_t in; /* received, not yet parsed */
    sl_bytes_t out; /* responses and RTCP waiting for the next write */
    sl_iobatch_t batch;
    uv_write_t write_req;
    bool writing;
    sl_deferred_t flush;

    rtsp_state_t state;
    char session_id[24];
    char key[SL_STREAM_KEY_MAX];
    char query[SL_HTTP_MAX_PATH]; /* "token=x", kept for auth */
    /* A request whose answer waits: an ANNOUNCE or DESCRIBE for the hook, a
     * DESCRIBE or PLAY of a stream not in the hub for a relay pull. Requests after
     * it wait in `in` until it is answered (sl__rtsp_resume). */
    struct sl_admission *admission;
    bool admitting_publish;
    sl_relay_wait_t pull_wait;
    bool pulling;
    char pending_cseq[17];
    char pending_path[SL_HTTP_MAX_PATH];
    bool held_play; /* the request held is a PLAY (else a DESCRIBE or ANNOUNCE) */
    rtsp_track_t tracks[RTSP_MAX_TRACKS];
    int track_count;

    sl_stream_t *stream;        /* publishing */
    sl_subscriber_t sub;        /* playing */
    struct sl_rtp_output *output; /* playing: the stream's shared packets */
    bool subscribed;
    uint64_t last_report_ms;
};

/* session.c */
void sl__rtsp_close(rtsp_session_t *s, const char *reason);
void sl__rtsp_schedule_flush(rtsp_session_t *s);
/* Queues a response: status line, CSeq, Server, Session when set, `headers` (whole
 * "Name: value\r\n" lines or NULL) and a body. */
int sl__rtsp_respond(rtsp_session_t *s, const sl_http_request_t *req, int status, const char *headers,
                     const char *content_type, const void *body, size_t len);
/* The same for a request answered later, by its CSeq. */
int sl__rtsp_respond_cseq(rtsp_session_t *s, const char *cseq, int status, const char *headers,
                          const char *content_type, const void *body, size_t len);
/* Goes on with the requests that waited for an admission or a relay pull. */
void sl__rtsp_resume(rtsp_session_t *s);

/* methods.c: makes the key of Digest nonces, once. */
int sl__rtsp_auth_init(void);
/* methods.c: one complete request (body included). Non-zero closes the session. */
int sl__rtsp_on_request(rtsp_session_t *s, const sl_http_request_t *req);

/* media.c */
/* DESCRIBE: the tracks a player may SETUP, from the stream's codec configs, and their
 * SDP. SL_ERR_AGAIN before any config arrived, SL_ERR_UNSUPPORTED when no codec
 * can go over RTP. */
int sl__rtsp_tracks_from_stream(rtsp_session_t *s, sl_stream_t *stream, sl_bytes_t *sdp);
/* ANNOUNCE: the tracks a publisher will SETUP, from its SDP. */
int sl__rtsp_tracks_from_sdp(rtsp_session_t *s, const char *sdp, size_t len);
int sl__rtsp_start_publish(rtsp_session_t *s);
int sl__rtsp_start_play(rtsp_session_t *s);
void sl__rtsp_stop_media(rtsp_session_t *s);
/* An RTP (odd channel: RTCP) packet for track t from TCP or UDP. */
int sl__rtsp_on_rtp(rtsp_session_t *s, rtsp_track_t *t, const uint8_t *data, size_t len);
void sl__rtsp_on_rtcp(rtsp_session_t *s, rtsp_track_t *t, const uint8_t *data, size_t len);
/* Publishing: receiver reports every few seconds (called from the session timer). */
void sl__rtsp_send_receiver_reports(rtsp_session_t *s);
/* Playing: adds every packet ready for this player to the batch (TCP), or sends it
 * (UDP). */
int sl__rtsp_take_packets(rtsp_session_t *s);
void sl__rtsp_free_tracks(rtsp_session_t *s);

/* udp.c */
/* Binds an RTP/RTCP pair from rtsp.udp_port_range for track t, whose client ports
 * are client_rtp (and + 1); the pair's RTP port goes to *server_rtp. */
int sl__rtsp_udp_open(rtsp_session_t *s, rtsp_track_t *t, uint16_t client_rtp, uint16_t *server_rtp);
void sl__rtsp_udp_close(rtsp_track_t *t);
/* Sends one RTP (or RTCP) packet to the player: SL_OK, sent or lost as UDP loses
 * packets; SL_ERR_CLOSED when the track has no pair. */
int sl__rtsp_udp_send(rtsp_track_t *t, bool rtcp, const uint8_t *data, size_t len);

#endif
