/* SDP (RFC 8866, formerly 4566): parsing into a structure, lookups, codec parameter
 * helpers (RFC 6184 H.264, RFC 7798 H.265, RFC 3640 AAC, RFC 7587 Opus) and a writer.
 * Shared by RTSP (DESCRIBE, ANNOUNCE) and WebRTC (WHIP/WHEP offers and answers).
 * I/O-free and safe on hostile input.
 *
 * Parsing copies every value into storage owned by the returned sl_sdp_t, so the
 * input need not outlive it; one sl_sdp_free() releases everything. Values are
 * NUL-terminated and never contain CR, LF or NUL.
 */
#ifndef SLUICE_PROTOCOLS_SDP_H
#define SLUICE_PROTOCOLS_SDP_H

#include <stdbool.h>

#include "sluice/buf.h"
#include "sluice/frame.h"

/* Limits: past them parsing fails with SL_ERR_TOO_BIG. A Chrome offer's video
 * section has about 25 payload types and 60 attributes besides rtpmap and fmtp. */
#define SL_SDP_MAX_SIZE 65536     /* whole description, bytes */
#define SL_SDP_MAX_LINE 4096      /* one line, bytes, without its line ending */
#define SL_SDP_MAX_MEDIA 16       /* m= sections */
#define SL_SDP_MAX_ATTRS 128      /* generic attributes per section */
#define SL_SDP_MAX_FORMATS 64     /* payload types on one m= line, rtpmap and fmtp lines per section */
#define SL_SDP_MAX_FMTP_PARAMS 32 /* key=value pairs of one fmtp line */
/* Pools shared by all sections, which bound the memory of one parse. */
#define SL_SDP_MAX_ATTRS_TOTAL 512
#define SL_SDP_MAX_RTPMAPS_TOTAL 256 /* rtpmap lines, and as many fmtp lines */
#define SL_SDP_MAX_PARAMS_TOTAL 1024

/* Room for the fmtp parameters the writer's helpers build (base64 parameter sets),
 * sized so a generated a=fmtp line stays under SL_SDP_MAX_LINE. */
#define SL_SDP_FMTP_CAP 3072

typedef enum sl_sdp_dir {
    SL_SDP_DIR_NONE = 0, /* no direction attribute (sendrecv is implied) */
    SL_SDP_DIR_SENDRECV,
    SL_SDP_DIR_SENDONLY,
    SL_SDP_DIR_RECVONLY,
    SL_SDP_DIR_INACTIVE,
} sl_sdp_dir_t;

/* An attribute line a=name or a=name:value; value is "" for a flag (a=rtcp-mux). */
typedef struct sl_sdp_attr {
    const char *name, *value;
} sl_sdp_attr_t;

/* One key=value of an fmtp line, both trimmed; value "" for a bare key. */
typedef struct sl_sdp_param {
    const char *key, *value;
} sl_sdp_param_t;

/* a=rtpmap:<pt> <encoding>/<clock>[/<channels>] */
typedef struct sl_sdp_rtpmap {
    uint8_t pt;
    const char *encoding; /* as written: "H264", "opus", "MPEG4-GENERIC" */
    uint32_t clock;
    uint8_t channels; /* 0 when absent (audio then means 1) */
} sl_sdp_rtpmap_t;

/* a=fmtp:<pt> <params>: the parameters as written (raw) and split on ';'. */
typedef struct sl_sdp_fmtp {
    uint8_t pt;
    const char *raw;
    const sl_sdp_param_t *params;
    int param_count;
} sl_sdp_fmtp_t;

/* c=<nettype> <addrtype> <address>; all NULL when the line is absent. */
typedef struct sl_sdp_conn {
    const char *nettype, *addrtype, *address;
} sl_sdp_conn_t;

typedef struct sl_sdp_origin {
    const char *username, *sess_id, *sess_version, *nettype, *addrtype, *address;
} sl_sdp_origin_t;

typedef struct sl_sdp_media {
    const char *type;    /* "video", "audio", "application", ... */
    uint16_t port;       /* a "/<count>" suffix is accepted and dropped */
    const char *proto;   /* "RTP/AVP", "UDP/TLS/RTP/SAVPF", "UDP/DTLS/SCTP" */
    const char *formats; /* the format list as written: "96 97", "webrtc-datachannel" */
    /* The payload types of an RTP profile (proto containing "RTP/"), in m= order;
     * none for other protocols. */
    uint8_t pts[SL_SDP_MAX_FORMATS];
    int pt_count;
    sl_sdp_conn_t conn;
    /* Shortcuts into attrs: a=control, a=mid (NULL when absent), the direction and
     * a=rtcp-mux. */
    const char *control, *mid;
    sl_sdp_dir_t dir;
    bool rtcp_mux;
    const sl_sdp_rtpmap_t *rtpmaps;
    int rtpmap_count;
    const sl_sdp_fmtp_t *fmtps;
    int fmtp_count;
    /* Every attribute of the section except rtpmap and fmtp, in order: control,
     * mid, direction, rtcp-fb, ssrc, candidate, extmap, ... */
    const sl_sdp_attr_t *attrs;
    int attr_count;
} sl_sdp_media_t;

typedef struct sl_sdp_store sl_sdp_store_t;

typedef struct sl_sdp {
    sl_sdp_origin_t origin; /* all NULL when there is no o= line */
    const char *name;       /* s=, NULL when absent */
    sl_sdp_conn_t conn;
    uint64_t start, stop; /* t=, 0 0 when absent */
    const char *control;  /* session-level a=control, NULL when absent */
    sl_sdp_dir_t dir;
    /* Session-level attributes (group, ice-ufrag, ice-pwd, fingerprint, setup,
     * control, ...), in order. */
    const sl_sdp_attr_t *attrs;
    int attr_count;
    sl_sdp_media_t media[SL_SDP_MAX_MEDIA];
    int media_count;
    sl_sdp_store_t *store; /* private: the pools and strings the pointers refer to */
} sl_sdp_t;

/* Parses text[0..len) (LF or CRLF line endings; the last line may lack one). The
 * first line must be v=0. Lines of other types (i=, b=, e=, unknown ones) are skipped;
 * attributes are kept with name and value trimmed, those without a name skipped;
 * rtpmap and fmtp are parsed in sections of an RTP profile and kept as plain
 * attributes elsewhere; o=, s= and t= count at session level only. On SL_OK *out is a
 * new description owned by the caller (free with sl_sdp_free); the input is not
 * referenced. SL_ERR_PROTO for malformed input (no v=0 first, a line without "x=", a
 * bad o=, c=, t=, m=, rtpmap or fmtp line, a NUL or a lone CR), SL_ERR_TOO_BIG past a
 * limit above, SL_ERR_NOMEM. */
int sl_sdp_parse(const char *text, size_t len, sl_sdp_t **out) SL_MUST_CHECK;
/* Frees a parsed description and every string in it. NULL is ignored. */
void sl_sdp_free(sl_sdp_t *sdp);

/* Lookups. Returned pointers are borrowed from the description. */

/* The value of the first attribute `name` (case-sensitive, as RFC 8866 says) of the
 * section, or NULL. */
const char *sl_sdp_attr_get(const sl_sdp_media_t *m, const char *name);
/* Iterates the attributes `name` of the section: *pos starts at 0; returns each
 * value in order, then NULL. For a=candidate, a=ssrc, a=rtcp-fb, a=extmap. */
const char *sl_sdp_attr_next(const sl_sdp_media_t *m, const char *name, int *pos);
/* The value of the first session-level attribute `name`, or NULL. */
const char *sl_sdp_session_attr_get(const sl_sdp_t *sdp, const char *name);
/* The rtpmap of payload type pt, or NULL. */
const sl_sdp_rtpmap_t *sl_sdp_rtpmap_get(const sl_sdp_media_t *m, uint8_t pt);
/* The rtpmap of the first payload type of the m= line whose encoding name is
 * `encoding` (case-insensitive), or NULL. */
const sl_sdp_rtpmap_t *sl_sdp_rtpmap_find(const sl_sdp_media_t *m, const char *encoding);
/* The first fmtp line of payload type pt, or NULL. */
const sl_sdp_fmtp_t *sl_sdp_fmtp_of(const sl_sdp_media_t *m, uint8_t pt);
/* The value of parameter `key` (case-insensitive) in the fmtp of pt, or NULL. */
const char *sl_sdp_fmtp_get(const sl_sdp_media_t *m, uint8_t pt, const char *key);
/* The hub codec of an rtpmap: H264, H265, MPEG4-GENERIC (AAC), opus; else
 * SL_CODEC_NONE. */
sl_codec_t sl_sdp_codec_of(const sl_sdp_rtpmap_t *rtpmap);

/* Codec parameters. */

/* Decodes a comma-separated list of base64 NAL units (sprop-parameter-sets,
 * sprop-vps, sprop-sps, sprop-pps) and appends each as a 4-byte length-prefixed unit
 * to `out` (caller-owned; walk it with sl_avcc_split). Padding is optional. SL_OK,
 * SL_ERR_PROTO for bad base64 or an empty unit (out then unchanged), SL_ERR_NOMEM. */
int sl_sdp_sprop_decode(const char *value, sl_bytes_t *out) SL_MUST_CHECK;
/* Decodes hex digits (either case), e.g. the AAC config= parameter, appending the
 * bytes to `out`. SL_OK, SL_ERR_PROTO for an odd count, a non-hex digit or no digit,
 * SL_ERR_NOMEM. */
int sl_sdp_hex_decode(const char *value, sl_bytes_t *out) SL_MUST_CHECK;
/* The H.264 profile-level-id of an SPS NAL unit (with its header byte): profile_idc,
 * constraint flags and level_idc as 6 uppercase hex digits (as ffmpeg and RFC 6184
 * write them) and a NUL. SL_OK, or SL_ERR_PROTO when it is not an SPS of at least 4
 * bytes. */
int sl_sdp_h264_profile_level_id(const uint8_t *sps, size_t len, char out[7]) SL_MUST_CHECK;

/* The hub codec configuration of payload type pt of a parsed section, from its
 * rtpmap and fmtp: an AVCDecoderConfigurationRecord from sprop-parameter-sets, an
 * HEVCDecoderConfigurationRecord from sprop-vps/sps/pps (the first unit of each kind
 * is used), the AudioSpecificConfig from AAC config=, an OpusHead for Opus. *codec is set
 * and the configuration appended to `config` (caller-owned). SL_OK;
 * SL_ERR_NOT_FOUND when pt has no rtpmap or the parameter sets are not in the SDP
 * (they then come in-band); SL_ERR_UNSUPPORTED for another encoding or an AAC mode
 * other than AAC-hbr; SL_ERR_PROTO when the parameters are malformed; SL_ERR_NOMEM. */
int sl_sdp_media_config(const sl_sdp_media_t *m, uint8_t pt, sl_codec_t *codec,
                        sl_bytes_t *config) SL_MUST_CHECK;

/* Generation. */

/* One m= section to write. Strings are borrowed except fmtp, which is held inline
 * so the helpers below can fill it. */
typedef struct sl_sdp_media_desc {
    const char *type;  /* "video", "audio" */
    uint16_t port;     /* 0 for RTSP, 9 for WebRTC */
    const char *proto; /* NULL: "RTP/AVP" */
    uint8_t pt;
    /* NULL: the m= line lists pt; else this format list is written as is, e.g.
     * "96 97" with rtx, or "webrtc-datachannel". */
    const char *formats;
    const char *encoding; /* NULL: no a=rtpmap line for pt */
    uint32_t clock;
    uint8_t channels;           /* 0: not written */
    char fmtp[SL_SDP_FMTP_CAP]; /* "": no a=fmtp line for pt */
    const char *conn_addr;      /* NULL: no media-level c= line */
    const char *control;        /* NULL: no a=control */
    sl_sdp_dir_t dir;           /* NONE: no direction attribute */
    /* More a= lines written after the ones above (mid, rtcp-mux, candidates, the
     * rtpmap and fmtp of other payload types); value "" writes a=name. */
    const sl_sdp_attr_t *attrs;
    int attr_count;
} sl_sdp_media_desc_t;

typedef struct sl_sdp_session_desc {
    uint64_t session_id, session_version; /* o= fields, e.g. a random id and 1 */
    const char *origin_addr;              /* o= address; IP6 when it holds a ':' */
    const char *name;                     /* s=; NULL or "" writes "s= " */
    const char *conn_addr;                /* NULL: no session-level c= line */
    const char *control;                  /* NULL: no session a=control */
    const sl_sdp_attr_t *attrs;           /* more session a= lines, as for media */
    int attr_count;
} sl_sdp_session_desc_t;

/* Appends the description (CRLF line endings: v=, o=, s=, c=, t=0 0, session
 * attributes, then each section: m=, c=, rtpmap, fmtp, control, direction, its
 * attributes) to `out` (caller-owned). Every string must be free of CR, LF and NUL and
 * type, proto, encoding and attribute names must be non-empty. SL_OK; SL_ERR_PROTO
 * when a field is unusable (out then unchanged); SL_ERR_NOMEM. */
int sl_sdp_write(const sl_sdp_session_desc_t *session, const sl_sdp_media_desc_t *media, int media_count,
                 sl_bytes_t *out) SL_MUST_CHECK;

/* Fills `out` (zeroed first: port 0, no control, no direction, no attributes) for
 * payload type pt from a codec and its hub configuration (borrowed):
 *  - H264: the AVCDecoderConfigurationRecord gives H264/90000 and
 *    packetization-mode=1;profile-level-id=..;sprop-parameter-sets=SPS..,PPS..;
 *  - H265: the HEVCDecoderConfigurationRecord gives H265/90000 and
 *    sprop-vps=..;sprop-sps=..;sprop-pps=..;
 *  - AAC: the AudioSpecificConfig gives MPEG4-GENERIC/<rate>/<channels> and
 *    profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;
 *    config=<hex>;
 *  - Opus: opus/48000/2, with sprop-stereo=1 when the configuration is an OpusHead
 *    of two channels (any other configuration, or none, is accepted).
 * SL_OK; SL_ERR_PROTO when the configuration does not parse; SL_ERR_UNSUPPORTED for
 * another codec; SL_ERR_TOO_BIG when the parameters exceed SL_SDP_FMTP_CAP;
 * SL_ERR_NOMEM. */
int sl_sdp_media_from_codec(sl_codec_t codec, const uint8_t *config, size_t len, uint8_t pt,
                            sl_sdp_media_desc_t *out) SL_MUST_CHECK;
/* The same from a hub CONFIG frame (borrowed): its codec and payload. */
int sl_sdp_media_from_config(const sl_frame_t *config, uint8_t pt,
                             sl_sdp_media_desc_t *out) SL_MUST_CHECK;

#endif
