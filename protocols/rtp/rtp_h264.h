/* H.264 over RTP (RFC 6184, non-interleaved mode: single NAL unit packets, STAP-A and
 * FU-A), and the payload-format core shared with H.265 (rtp_h265.h). I/O-free.
 *
 * Packetizer: a frame (4-byte length-prefixed NAL units) becomes length-prefixed RTP
 * packets (see rtp.h). NAL units that fit one packet are aggregated while they fit
 * (STAP-A; a group of one goes as a single NAL unit packet), larger ones are cut into
 * FU-A fragments. Keyframes are preceded by the parameter sets of the last config, so
 * a player that joins mid-stream or whose SDP lacks sprop-parameter-sets can decode.
 *
 * Depacketizer: RTP packets, fed in sequence order (the caller reorders), become
 * frames. An access unit ends at the marker bit or when the RTP timestamp changes.
 * Parameter sets found in the stream (or given from the SDP) go into a CONFIG frame
 * emitted before the first access unit that follows them, and only when they changed;
 * they, access unit delimiters, SEI and filler data are kept out of the frames.
 * RTP carries only presentation times, so frames get dts = pts: streams with B-frames
 * come out with dts = pts, which the hub and muxers accept but which is not the
 * encoder's decoding order timing.
 *
 * Safe on hostile input: malformed, reserved or unsupported payloads and broken
 * fragmentation drop the access unit they belong to and are counted; a sequence gap
 * drops the access units it may have touched; after any drop, frames are held back
 * until the next keyframe. Memory is bounded by max_au for the access unit being
 * assembled and SL_RTP_MAX_PS_LEN per parameter set.
 */
#ifndef SLUICE_PROTOCOLS_RTP_H264_H
#define SLUICE_PROTOCOLS_RTP_H264_H

#include "protocols/codec/h264.h"
#include "protocols/rtp/rtp.h"

/* RTP clock rate of H.264 and H.265 video. */
#define SL_RTP_VIDEO_RATE 90000
/* Default bound on the access unit being reassembled (the max_au field). */
#define SL_RTP_VIDEO_MAX_AU (8u << 20)
/* Parameter sets longer than this are refused (counted as bad packets). */
#define SL_RTP_MAX_PS_LEN 4096
/* Parameter set kinds a payload format keeps: VPS, SPS, PPS for H.265. */
#define SL_RTP_MAX_PS_KINDS 3
/* Bounds on the mtu argument of the packetizer init (the upper one keeps every packet
 * under the 2-byte length prefix). */
#define SL_RTP_MIN_MTU 64
#define SL_RTP_MAX_MTU (0xffff - SL_RTP_HEADER_LEN)

/* Internal: what tells the H.264 and H.265 payload formats apart. */
typedef struct sl__rtp_nal_fmt sl__rtp_nal_fmt_t;

typedef struct sl_rtp_nal_packetizer {
    const sl__rtp_nal_fmt_t *fmt;
    uint8_t pt;
    uint32_t ssrc;
    uint16_t seq; /* sequence number of the next packet */
    size_t mtu;   /* largest RTP payload: the bytes after the 12-byte header */
    /* The parameter sets of the last config, as 4-byte length-prefixed NAL units,
     * sent before every keyframe. Owned. */
    sl_bytes_t ps;
} sl_rtp_nal_packetizer_t;

typedef sl_rtp_nal_packetizer_t sl_rtp_h264_packetizer_t;

/* Prepares a packetizer (embedded in its owner, no allocation). mtu bounds the RTP
 * payload of every packet (SL_RTP_DEFAULT_MTU is a good value); it is clamped to
 * SL_RTP_MIN_MTU..SL_RTP_MAX_MTU. */
void sl_rtp_h264_packetizer_init(sl_rtp_h264_packetizer_t *p, uint8_t pt, uint32_t ssrc,
                                 uint16_t first_seq, size_t mtu);
/* Releases the stored parameter sets; the packetizer can be init'ed again. */
void sl_rtp_h264_packetizer_free(sl_rtp_h264_packetizer_t *p);
/* Keeps the SPS and PPS (up to SL_H264_MAX_PS of each) of an AVCDecoderConfiguration
 * Record (config->data, borrowed: copied) to send before keyframes. SL_OK;
 * SL_ERR_PROTO when the record does not parse; SL_ERR_NOMEM. On error the previous
 * parameter sets stay. */
int sl_rtp_h264_packetizer_set_config(sl_rtp_h264_packetizer_t *p, const sl_frame_t *config) SL_MUST_CHECK;
/* Appends the packets of a frame (borrowed) to `out` (caller-owned), each preceded by
 * its 2-byte length: RTP timestamp sl_rtp_ts_from_hub(f->pts, 90000), sequence
 * numbers from p->seq on, marker bit on the last packet. Keyframes get the parameter
 * sets first; access unit delimiters are dropped. A CONFIG frame is taken as by
 * sl_rtp_h264_packetizer_set_config and appends nothing. A frame with no NAL unit to
 * send appends nothing. SL_OK; SL_ERR_PROTO for a malformed payload (a zero or
 * overlong length, a unit shorter than its header); SL_ERR_NOMEM. On error neither
 * `out` nor p->seq changes. */
int sl_rtp_h264_packetize(sl_rtp_h264_packetizer_t *p, const sl_frame_t *f, sl_bytes_t *out) SL_MUST_CHECK;

/* Counters of a depacketizer, for logs and the API. */
typedef struct sl_rtp_video_stats {
    uint64_t packets;        /* packets fed */
    uint64_t lost;           /* packets missing by sequence number gaps */
    uint64_t late;           /* packets behind the expected sequence number, ignored */
    uint64_t bad_packets;    /* malformed, reserved or unsupported payloads, broken
                              * fragmentation, oversized parameter sets */
    uint64_t too_big;        /* access units over max_au */
    uint64_t dropped;        /* access units dropped as damaged (loss, bad packets,
                              * too big) */
    uint64_t skipped;        /* intact access units held back while waiting for a
                              * keyframe (or for the parameter sets) */
    uint64_t frames;         /* access units emitted */
    uint64_t configs;        /* CONFIG frames emitted */
    uint64_t config_errors;  /* parameter sets that did not make a config record */
} sl_rtp_video_stats_t;

typedef struct sl_rtp_nal_depacketizer {
    const sl__rtp_nal_fmt_t *fmt;
    sl_rtp_clock_t clock;
    size_t max_au; /* SL_RTP_VIDEO_MAX_AU after init; may be changed before feeding */

    bool have_seq;
    uint16_t next_seq;

    bool in_au;      /* an access unit is being assembled */
    bool au_bad;     /* it is damaged: its packets are ignored and it is dropped */
    bool au_key;     /* it holds an IDR / IRAP picture */
    uint32_t au_ts;  /* its RTP timestamp */
    int64_t au_pts;  /* the same on the hub clock */
    bool in_fu;      /* a fragmented NAL unit is open */
    size_t fu_start; /* offset in `au` of the open unit's length prefix */
    sl_bytes_t au;   /* the access unit so far, 4-byte length-prefixed NAL units */

    bool wait_key;      /* hold frames back until a keyframe */
    bool have_config;   /* a CONFIG frame was emitted */
    bool config_dirty;  /* parameter sets changed since the last CONFIG frame */
    uint8_t ps[SL_RTP_MAX_PS_KINDS][SL_RTP_MAX_PS_LEN];
    size_t ps_len[SL_RTP_MAX_PS_KINDS]; /* 0 while unknown */

    sl_rtp_video_stats_t stats;
} sl_rtp_nal_depacketizer_t;

typedef sl_rtp_nal_depacketizer_t sl_rtp_h264_depacketizer_t;

/* Called with each frame, which it borrows (sl_frame_ref to keep it). A non-zero
 * return is returned by the depacketize call, after which the depacketizer is still
 * consistent and can be fed again. */
typedef int (*sl_rtp_emit_fn)(void *arg, sl_frame_t *f);

/* Prepares a depacketizer (embedded in its owner). It waits for the parameter sets
 * and a keyframe before emitting media. */
void sl_rtp_h264_depacketizer_init(sl_rtp_h264_depacketizer_t *d);
/* Releases the access unit buffer; the depacketizer can be init'ed again. */
void sl_rtp_h264_depacketizer_free(sl_rtp_h264_depacketizer_t *d);
/* Sets the parameter sets from the SDP (sprop-parameter-sets, decoded; NAL units with
 * their header byte, borrowed: copied). The CONFIG frame goes out before the next
 * access unit. SL_OK, or SL_ERR_PROTO for a unit of the wrong type, empty or longer
 * than SL_RTP_MAX_PS_LEN (nothing is changed then). */
int sl_rtp_h264_depacketizer_set_sprop(sl_rtp_h264_depacketizer_t *d, const uint8_t *sps, size_t sps_len,
                                       const uint8_t *pps, size_t pps_len) SL_MUST_CHECK;
/* Takes one parsed packet (borrowed; its payload is copied as needed) and calls emit
 * for the frames it completes: a CONFIG frame (AVCDecoderConfigurationRecord) when the
 * parameter sets are first known or change, then the access unit as 4-byte
 * length-prefixed NAL units, SL_FRAME_KEY when it holds an IDR slice, dts = pts = the
 * RTP timestamp on the hub clock (unwrapped from the first packet, which maps to 0).
 * Damaged input is dropped and counted, not an error. SL_OK, SL_ERR_NOMEM, or emit's
 * non-zero return. */
int sl_rtp_h264_depacketize(sl_rtp_h264_depacketizer_t *d, const sl_rtp_packet_t *pkt, sl_rtp_emit_fn emit,
                            void *arg) SL_MUST_CHECK;

/* Internal, shared with rtp_h265.c. */
struct sl__rtp_nal_fmt {
    uint8_t codec;              /* sl_codec_t of the frames */
    uint8_t hdr_len;            /* NAL unit header bytes: 1 or 2 */
    uint8_t type_mask;          /* NAL unit type bits in an FU header */
    uint8_t ap_type, fu_type;   /* aggregation packet and fragmentation unit types */
    uint8_t min_single, max_single; /* types a single NAL unit packet may carry */
    uint8_t ps_count;           /* parameter set kinds, in config order */
    uint8_t ps_type[SL_RTP_MAX_PS_KINDS];
    uint8_t key_min, key_max;   /* types of a random access picture */
    uint8_t aud_type;           /* dropped by the packetizer */
    uint64_t strip_mask;        /* types the depacketizer keeps out of frames */
    int (*type_of)(uint8_t hdr0);
    /* Rewrites the type field of a NAL unit header. */
    void (*set_type)(uint8_t *hdr, int type);
    /* Folds one more aggregated unit's header into an aggregation packet header. */
    void (*ap_merge)(uint8_t *ap_hdr, const uint8_t *nal);
    /* Appends a configuration record for the kept parameter sets. */
    int (*build_config)(const sl_rtp_nal_depacketizer_t *d, sl_bytes_t *out);
    /* Takes the parameter sets of a configuration record for the packetizer. */
    int (*set_config)(sl_rtp_nal_packetizer_t *p, const uint8_t *rec, size_t len);
};

void sl__rtp_nal_packetizer_init(sl_rtp_nal_packetizer_t *p, const sl__rtp_nal_fmt_t *fmt, uint8_t pt,
                                 uint32_t ssrc, uint16_t first_seq, size_t mtu);
/* Replaces the parameter sets with `count` units (borrowed: copied). */
int sl__rtp_nal_packetizer_set_ps(sl_rtp_nal_packetizer_t *p, const uint8_t *const *nal, const size_t *len,
                                  int count) SL_MUST_CHECK;
int sl__rtp_nal_packetize(sl_rtp_nal_packetizer_t *p, const sl_frame_t *f, sl_bytes_t *out) SL_MUST_CHECK;
void sl__rtp_nal_depacketizer_init(sl_rtp_nal_depacketizer_t *d, const sl__rtp_nal_fmt_t *fmt);
/* Sets all parameter sets at once (units in fmt->ps_type order, borrowed: copied). */
int sl__rtp_nal_set_sprop(sl_rtp_nal_depacketizer_t *d, const uint8_t *const *nal, const size_t *len) SL_MUST_CHECK;
int sl__rtp_nal_depacketize(sl_rtp_nal_depacketizer_t *d, const sl_rtp_packet_t *pkt, sl_rtp_emit_fn emit,
                            void *arg) SL_MUST_CHECK;

#endif
