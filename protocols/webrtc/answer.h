/* WebRTC offer/answer for WHIP and WHEP (RFC 8829 JSEP, RFC 9725 WHIP): reads a
 * browser's offer, picks one codec per m= section and writes sluice's answer.
 * I/O-free: a parsed sl_sdp_t in, structures and SDP text out.
 *
 * sluice is an ICE-lite (RFC 8445 2.5), DTLS-passive (RFC 5763 5) endpoint that
 * bundles every section on one transport (RFC 9143, max-bundle) with RTCP muxed on
 * it (RFC 5761). WHIP: the browser publishes (its sections are sendonly), we
 * answer recvonly. WHEP: the browser plays (recvonly), we answer sendonly.
 *
 * Negotiation, per m= section of the offer, in order:
 *  - video: H.264 with packetization-mode=1 (single NAL units and FU-A; mode 0 would
 *    forbid the fragmentation every HD frame needs). WHIP takes the first
 *    constrained-baseline payload type (profile-level-id 42e0.., 42c0..: no B-frames,
 *    decodable everywhere the stream is relayed to), else the first H.264 one, unless
 *    the caller wants H.265 and it is offered. WHEP takes the first payload type of
 *    the source's codec whose profile (H.264 profile_idc, H.265 profile-id) equals
 *    the source's, else the first of that codec: browsers decode any profile of a
 *    codec they offer, the profile-level-id only tells what they prefer;
 *  - audio: opus/48000/2;
 *  - application: the first "UDP/DTLS/SCTP webrtc-datachannel" section in the
 *    BUNDLE group (data channels, RFC 8841), with the offer's a=sctp-port (5000
 *    when absent) and a=max-message-size (65536 when absent); answered with our
 *    SCTP port and message limit (SL_SCTP_PORT, SL_SCTP_MAX_MESSAGE of sctp.h);
 *  - anything else (a second video, audio or application section, a direction
 *    that does not fit, a transport other than UDP/TLS/RTP/SAVPF for media, a
 *    malformed a=sctp-port or a=max-message-size) is rejected: answered with port 0 and its mid kept,
 *    and left out of the answer's BUNDLE group (RFC 9143 7.3.3).
 * An offer is only answered when it has an audio or video track: data channels
 * ride along with media, they do not make a session on their own.
 */
#ifndef SLUICE_PROTOCOLS_WEBRTC_ANSWER_H
#define SLUICE_PROTOCOLS_WEBRTC_ANSWER_H

#include <stdbool.h>

#include "protocols/rtp/sdp.h"
#include "protocols/webrtc/ice.h"
#include "sluice/buf.h"
#include "sluice/frame.h"

#define SL_WEBRTC_MAX_TRACKS SL_SDP_MAX_MEDIA
#define SL_WEBRTC_MID_MAX 32         /* a=mid values, with the NUL */
#define SL_WEBRTC_FMTP_MAX 256       /* an echoed fmtp, with the NUL */
#define SL_WEBRTC_ICE_PWD_MAX 256    /* RFC 8839 5.4: ice-pwd is 22..256 chars */
#define SL_WEBRTC_FP_VALUE_MAX 192   /* 64 hex pairs (sha-512) joined by ':', NUL */
#define SL_WEBRTC_FP_MAX 208         /* "<alg> <value>" */
#define SL_WEBRTC_MAX_CANDIDATES 8   /* candidate addresses of an answer */
#define SL_WEBRTC_REASON_MAX 160

/* One m= section of the offer and what we answer for it. An audio or video
 * section is accepted when codec is not SL_CODEC_NONE; an application section
 * (media SL_MEDIA_DATA, codec always SL_CODEC_NONE) when sctp_port is not 0.
 * sl_webrtc_track_accepted says which; a caller rejects a track by setting its
 * codec, or for data its sctp_port, to 0 before writing the answer. */
typedef struct sl_webrtc_track {
    uint8_t media; /* SL_MEDIA_VIDEO, SL_MEDIA_AUDIO, SL_MEDIA_DATA */
    uint8_t codec; /* sl_codec_t */
    uint8_t pt;    /* chosen payload type; for a rejected section its first one */
    uint32_t clock;
    uint8_t channels;      /* 2 for Opus, 0 for video */
    uint8_t dir;           /* sl_sdp_dir_t of the answer: RECVONLY (WHIP), SENDONLY (WHEP) */
    char mid[SL_WEBRTC_MID_MAX];
    bool nack, pli;        /* a=rtcp-fb "nack" and "nack pli" offered for pt */
    /* The offer's RTX payload type for pt (RFC 4588), 0 if none. The answer does not
     * accept RTX: retransmissions go out again on the media SSRC (see history.h). */
    uint8_t rtx_pt;
    int profile;           /* H.264 profile_idc or H.265 profile-id of pt; 0 otherwise */
    char fmtp[SL_WEBRTC_FMTP_MAX]; /* the offer's fmtp of pt, echoed in the answer */
    /* Data (application) sections only: the offer's a=sctp-port, the remote port
     * for sl_sctp_new (0: rejected), and its a=max-message-size, the largest
     * message it takes (0: no limit, RFC 8841 6). */
    uint16_t sctp_port;
    uint32_t max_message_size;
} sl_webrtc_track_t;

/* Whether the answer accepts track t (see sl_webrtc_track_t). */
static inline bool sl_webrtc_track_accepted(const sl_webrtc_track_t *t)
{
    return t->media == SL_MEDIA_DATA ? t->sctp_port != 0 : t->codec != SL_CODEC_NONE;
}

typedef enum sl_webrtc_setup {
    SL_WEBRTC_SETUP_NONE = 0, /* no a=setup: RFC 4145 4.1 makes it active */
    SL_WEBRTC_SETUP_ACTPASS,
    SL_WEBRTC_SETUP_ACTIVE,
} sl_webrtc_setup_t;

/* The transport parameters of the offer, from its first m= section or else from
 * the session level. */
typedef struct sl_webrtc_offer_info {
    char ice_ufrag[SL_ICE_REMOTE_UFRAG_MAX + 1]; /* for sl_ice_add's remote ufrag */
    char ice_pwd[SL_WEBRTC_ICE_PWD_MAX + 1];
    char fingerprint[SL_WEBRTC_FP_MAX];              /* "sha-256 AB:..": for sl_dtls_verify_fingerprint */
    char fingerprint_alg[16];                        /* "sha-256" */
    char fingerprint_value[SL_WEBRTC_FP_VALUE_MAX];  /* "AB:CD:..." */
    sl_webrtc_setup_t setup;
    /* The mids of the offer's a=group:BUNDLE, in order; 0 when it has none. */
    char bundle_mids[SL_WEBRTC_MAX_TRACKS][SL_WEBRTC_MID_MAX];
    int bundle_count;
    int candidate_count; /* a=candidate lines in the whole offer */
    char reason[SL_WEBRTC_REASON_MAX]; /* why the offer was refused */
} sl_webrtc_offer_info_t;

/* Negotiates the offer (borrowed) as described at the top of this file. publish is
 * true for WHIP. source_video is the stream's video codec for WHEP (SL_CODEC_NONE
 * when it has none: video is then rejected) and the wanted one for WHIP
 * (SL_CODEC_H265 prefers H.265 over H.264; anything else takes H.264 only).
 * source_profile_idc is the WHEP source's profile (0 when unknown: any profile).
 * tracks must have room for SL_WEBRTC_MAX_TRACKS; on SL_OK, tracks[0..*track_count)
 * are the offer's sections in order, at least one audio or video one accepted, and
 * *info is filled. A caller that cannot feed an accepted track (a WHEP stream whose
 * audio is AAC, without transcoding) sets its codec to SL_CODEC_NONE before writing
 * the answer, which rejects it; likewise sctp_port 0 rejects the data section.
 * SL_ERR_UNSUPPORTED when the offer cannot be answered: a=setup:passive or
 * holdconn, several sections without BUNDLE or one outside the group, a section
 * without a usable a=mid, no usable track; *reason then points to a sentence in
 * info->reason saying which (valid as long as *info). SL_ERR_PROTO, likewise with a
 * reason, for an offer that is not a WebRTC offer: no or malformed ice-ufrag/ice-pwd
 * or fingerprint. */
int sl_webrtc_negotiate(const sl_sdp_t *offer, bool publish, sl_codec_t source_video, int source_profile_idc,
                        sl_webrtc_track_t tracks[], int *track_count, sl_webrtc_offer_info_t *info,
                        const char **reason) SL_MUST_CHECK;

/* Appends the answer to out (caller-owned): v=0, o=, s=-, t=0 0, a=group:BUNDLE of
 * the accepted mids (when the offer had a group), a=ice-lite, then one m= section
 * per track, in order: m=<type> 9 UDP/TLS/RTP/SAVPF <pt>, c=IN IP4 0.0.0.0, the
 * rtpmap and fmtp of pt, the track's direction, a=mid, our ice-ufrag, ice-pwd and
 * fingerprint ("sha-256 AB:.." as sl_dtls_ctx_fingerprint gives it), a=setup:passive,
 * a=rtcp-mux, a=rtcp-fb nack / nack pli when offered, for sendonly sections
 * a=msid:sluice <mid> and a=ssrc:<ssrcs[i]> cname:sluice, then a host candidate
 * per address of candidate_ips (IPv4 or IPv6 literals) on port, and
 * a=end-of-candidates. An accepted data section is m=application 9 UDP/DTLS/SCTP
 * webrtc-datachannel, c=, a=mid, the ICE, fingerprint and setup lines,
 * a=sctp-port:5000, a=max-message-size:65536 and the candidates. A rejected track
 * gets m=<type> 0 ... and its mid only.
 * ssrcs[i] is the SSRC we send track i on
 * (may be NULL for WHIP). Everything is borrowed. SL_OK; SL_ERR_PROTO for an unusable
 * argument (empty credentials, an address with blanks, more than
 * SL_WEBRTC_MAX_CANDIDATES addresses, no accepted track); SL_ERR_NOMEM. */
int sl_webrtc_write_answer(const sl_webrtc_offer_info_t *info, const sl_webrtc_track_t tracks[],
                           int n, const char *ufrag, const char *pwd, const char *fingerprint,
                           const char *const *candidate_ips, int n_ips, uint16_t port, const uint32_t ssrcs[],
                           sl_bytes_t *out) SL_MUST_CHECK;

#endif
