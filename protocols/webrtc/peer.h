/* Internal to protocols/webrtc: the module (one UDP port for every session) and
 * its peer connections.
 *
 * webrtc.c: the module: the UDP socket and its demultiplexing (RFC 7983: STUN to
 *           the ICE agent, DTLS and SRTP to the peer bound to the source address),
 *           candidates, the tick that drives every peer's timers.
 * whip.c:   the HTTP side (RFC 9725 WHIP and WHEP): offers in, answers out, DELETE.
 * peer.c:   one peer connection: DTLS handshake, SRTP, RTCP, data channel, close.
 * ingest.c: WHIP media in: SRTP → reorder → depacketize → hub, NACK and PLI out.
 * egress.c: WHEP media out: the stream's shared RTP packets, rewritten per viewer
 *           (SSRC, payload type, sequence number), SRTP, NACK history, SR; the
 *           Opus the transcoder makes of a stream's AAC.
 *
 * Peers own no libuv handle: they are driven by the module's socket and tick, so
 * closing one is synchronous.
 */
#ifndef SLUICE_WEBRTC_PEER_H
#define SLUICE_WEBRTC_PEER_H

#include <uv.h>

#include "protocols/rtp/output.h"
#include "protocols/rtp/reorder.h"
#include "protocols/rtp/rtcp.h"
#include "protocols/webrtc/answer.h"
#include "protocols/webrtc/dtls.h"
#include "protocols/webrtc/history.h"
#include "protocols/webrtc/ice.h"
#include "protocols/webrtc/nack.h"
#include "protocols/webrtc/sctp.h"
#include "protocols/webrtc/srtp.h"
#include "sluice/server.h"
#include "sluice/transcode.h"

#define WR_SESSION_ID_LEN 16 /* hex characters of a session's resource id */
/* Largest RTP/RTCP packet handled, with room for SRTP's tag. */
#define WR_MAX_PACKET 1500

typedef struct wr_peer wr_peer_t;

typedef struct sl_webrtc_module {
    sl_conn_t listener; /* closing it stops the socket and the tick */
    sl_server_t *srv;
    uv_udp_t udp;
    uv_timer_t tick;
    int open_handles;
    bool stopping;
    sl_ice_t *ice;
    sl_dtls_ctx_t *dtls;
    char candidates[SL_WEBRTC_MAX_CANDIDATES][64];
    const char *candidate_ptrs[SL_WEBRTC_MAX_CANDIDATES];
    int candidate_count;
    sl_list_t peers;
    uint64_t last_sctp_tick_ms;
    uint64_t last_sweep_ms;
} wr_module_t;

typedef enum wr_state {
    WR_WAIT_ICE,   /* answered; no authenticated STUN yet */
    WR_HANDSHAKE,  /* DTLS in progress */
    WR_CONNECTED,  /* SRTP keys in place, media flowing */
} wr_state_t;

/* A WHIP track we receive. */
typedef struct wr_in_track {
    wr_peer_t *peer;
    uint8_t media, codec, pt;
    uint32_t clock;
    uint32_t ssrc; /* learned from the first packet */
    bool started;
    int64_t offset; /* hub clock: when the first packet came, since the session began */
    bool nack;
    sl_rtp_reorder_t reorder;
    sl_nack_t losses;
    sl_rtcp_rx_stats_t rx;
    union {
        sl_rtp_nal_depacketizer_t nal;
        sl_rtp_opus_depack_t opus;
    } d;
} wr_in_track_t;

/* A WHEP track we send. */
typedef struct wr_out_track {
    bool active;
    int index; /* in peer->tracks */
    uint8_t media, pt;
    uint32_t ssrc;
    uint16_t seq;       /* of the next packet */
    bool nack;          /* the viewer may ask for retransmissions */
    uint32_t packets, octets, last_rtp_ts;
    uint64_t last_send_us;
    uint32_t clock;
    sl_rtp_history_t *history; /* video with NACK only */
} wr_out_track_t;

struct wr_peer {
    sl_conn_t conn;
    sl_list_t link; /* in module->peers */
    wr_module_t *m;
    uint64_t id;
    bool publish; /* WHIP; WHEP otherwise */
    char key[SL_STREAM_KEY_MAX];
    char query[SL_HTTP_MAX_PATH]; /* of the offer's URL, for the closing hook */
    char session_id[WR_SESSION_ID_LEN + 1];
    char ufrag[SL_ICE_UFRAG_LEN + 1], pwd[SL_ICE_PWD_LEN + 1];
    char remote_fingerprint[SL_WEBRTC_FP_MAX];
    sl_webrtc_track_t tracks[SL_WEBRTC_MAX_TRACKS];
    int track_count;
    uint32_t ssrcs[SL_WEBRTC_MAX_TRACKS];

    wr_state_t state;
    struct sockaddr_storage addr; /* selected ICE address, once known */
    char peer_name[64];
    uint64_t created_ms;
    sl_dtls_t *dtls;
    sl_srtp_t *srtp;
    bool closing;

    /* WHIP */
    sl_stream_t *stream;
    wr_in_track_t *in[2]; /* by media */
    uint64_t media_start_ms; /* first RTP packet of any track */
    uint64_t last_pli_ms, last_rr_ms;
    bool pli_wanted;
    sl_frame_t *audio_config;

    /* WHEP */
    sl_rtp_output_t *output;
    sl_subscriber_t sub;
    bool subscribed, too_slow;
    sl_deferred_t flush;
    wr_out_track_t out[2]; /* by media */
    uint64_t last_sr_ms;
    /* The GOP cache a viewer joins with is paced (egress.c) until its queue first
     * runs dry: bytes it may still send now, refilled by the tick. */
    bool catching_up;
    int64_t pace_budget;
    uint64_t pace_ms;
    /* The Opus track made of the stream's AAC, wanted since the offer was answered
     * with Opus; NULL when the stream's audio is Opus or not sent. */
    sl_transcode_t *transcode;

    /* data channel */
    sl_sctp_t *sctp;
    uint16_t sctp_port;
    bool channel_open;
    uint16_t channel_sid;
};

/* webrtc.c */
/* Sends one datagram to the peer's selected address (dropped when the socket is
 * full, as the network would). */
void wr_send(wr_peer_t *p, const uint8_t *data, size_t len);
/* whip.c: registers the HTTP handler. */
int wr_whip_start(wr_module_t *m) SL_MUST_CHECK;

/* Starts the tick if it is not running. */
void wr_module_wake(wr_module_t *m);

/* peer.c */
/* A new peer (client id `id`) for an accepted offer, registered with ICE; the
 * answer's SSRCs are chosen here (p->ssrcs). NULL with *err set when it cannot be
 * made. */
wr_peer_t *wr_peer_new(wr_module_t *m, uint64_t id, bool publish, const char *key, const sl_webrtc_track_t *tracks,
                       int n, const sl_webrtc_offer_info_t *info, int *err);
wr_peer_t *wr_peer_find(wr_module_t *m, const char *session_id);
void wr_peer_close(wr_peer_t *p, const char *reason);
void wr_peer_on_dtls(wr_peer_t *p, const uint8_t *data, size_t len);
void wr_peer_on_srtp(wr_peer_t *p, uint8_t *data, size_t len);
void wr_peer_tick(wr_peer_t *p, uint64_t now_ms);
/* Protects an RTP (rtcp false) or RTCP packet in pkt (cap bytes of room) and sends it. */
void wr_peer_send_protected(wr_peer_t *p, uint8_t *pkt, size_t len, size_t cap, bool rtcp);
/* Sends an RTCP packet made by the caller (copied). */
void wr_peer_send_rtcp(wr_peer_t *p, const sl_bytes_t *rtcp);

/* ingest.c; the start functions return why media cannot start, or NULL. */
const char *wr_ingest_start(wr_peer_t *p);
void wr_ingest_stop(wr_peer_t *p);
void wr_ingest_on_rtp(wr_peer_t *p, const uint8_t *data, size_t len);
void wr_ingest_on_rtcp(wr_peer_t *p, const sl_rtcp_packet_t *rtcp);
void wr_ingest_tick(wr_peer_t *p, uint64_t now_ms);

/* egress.c */
const char *wr_egress_start(wr_peer_t *p);
void wr_egress_stop(wr_peer_t *p);
void wr_egress_on_rtcp(wr_peer_t *p, const sl_rtcp_packet_t *rtcp);
void wr_egress_tick(wr_peer_t *p, uint64_t now_ms);

#endif
