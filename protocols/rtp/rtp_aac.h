/* AAC over RTP: RFC 3640 (MPEG4-GENERIC), mode AAC-hbr as ffmpeg, GStreamer and IP
 * cameras send it in RTSP. I/O-free.
 *
 * SDP of such a stream, as ffmpeg writes it (rate and channels from the ASC):
 *   a=rtpmap:PT MPEG4-GENERIC/44100/2
 *   a=fmtp:PT profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3; config=1210
 *
 * Payload: a 16-bit AU-headers-length (in bits), the AU-headers (AU-size, AU-Index or
 * AU-Index-delta, and optional CTS/DTS/RAP/stream-state fields as the fmtp declares),
 * padded to a byte, an optional auxiliary section, then the access units back to back.
 * An AU larger than a packet is fragmented (RFC 3640 3.2.3): every fragment carries one
 * AU-header with the size of the whole AU, all share one RTP timestamp and the last one
 * has the marker bit.
 */
#ifndef SLUICE_PROTOCOLS_RTP_AAC_H
#define SLUICE_PROTOCOLS_RTP_AAC_H

#include "protocols/rtp/rtp.h"

/* Longest AudioSpecificConfig accepted from `config=` (real ones are 2 to 7 bytes). */
#define SL_RTP_AAC_MAX_CONFIG 64
/* Samples per AAC access unit unless the fmtp says otherwise (constantDuration). */
#define SL_RTP_AAC_FRAME_SAMPLES 1024

/* What the depacketizer needs from the SDP. Field lengths are in bits. */
typedef struct sl_rtp_aac_params {
    uint32_t clock_rate;  /* from a=rtpmap; 0: the ASC's sample rate */
    uint32_t frame_ticks; /* constantDuration, in RTP clock units; 0: 1024 samples */
    uint8_t size_length;  /* sizeLength, 1..16 */
    uint8_t index_length; /* indexLength, 0..16 */
    uint8_t index_delta_length;
    uint8_t cts_delta_length;
    uint8_t dts_delta_length;
    uint8_t stream_state_length; /* streamStateIndication */
    uint8_t aux_size_length;     /* auxiliaryDataSizeLength */
    bool random_access;          /* randomAccessIndication: a RAP-flag in each header */
    uint8_t config[SL_RTP_AAC_MAX_CONFIG]; /* the AudioSpecificConfig from config= */
    size_t config_len;                     /* 0 when the fmtp has none */
} sl_rtp_aac_params_t;

/* Sets the AAC-hbr defaults (sizeLength 13, indexLength 3, indexDeltaLength 3, nothing
 * else, no config, clock rate 0). */
void sl_rtp_aac_params_default(sl_rtp_aac_params_t *p);

/* Parses the parameters of an a=fmtp line (the text after "a=fmtp:PT "), e.g.
 * "streamtype=5; mode=AAC-hbr; config=1210; SizeLength=13; IndexLength=3".
 * Names are case-insensitive, unknown ones ignored. Lengths not given take the
 * defaults of the mode (AAC-lbr: 6/2/2, otherwise 13/3/3). `config=` hex is decoded
 * into out->config. out->clock_rate is left 0 for the caller to set from a=rtpmap.
 * fmtp is borrowed. SL_OK, or SL_ERR_PROTO for a malformed number or hex string or an
 * out-of-range length, SL_ERR_TOO_BIG for a config longer than SL_RTP_AAC_MAX_CONFIG. */
int sl_rtp_aac_parse_fmtp(const char *fmtp, size_t len, sl_rtp_aac_params_t *out) SL_MUST_CHECK;

/* Appends the a=fmtp parameters (no "a=fmtp:PT " prefix, no line end) that describe
 * what the packetizer sends for this AudioSpecificConfig, as ffmpeg writes them.
 * asc is borrowed. SL_OK, SL_ERR_PROTO for an unparsable ASC, SL_ERR_NOMEM. */
int sl_rtp_aac_sdp_fmtp(const uint8_t *asc, size_t asc_len, sl_bytes_t *out) SL_MUST_CHECK;

/* Packetizer: one AU per packet, fragmented when larger than the MTU. */
typedef struct sl_rtp_aac_packer {
    uint8_t payload_type;
    uint32_t ssrc;
    uint16_t seq; /* of the next packet */
    size_t mtu;   /* maximum RTP payload bytes per packet (after the 12-byte header) */
    uint32_t rate; /* RTP clock: the ASC's sample rate */
} sl_rtp_aac_packer_t;

/* Prepares a packetizer for a track whose AudioSpecificConfig is asc (borrowed). mtu 0
 * means SL_RTP_DEFAULT_MTU. SL_OK, SL_ERR_PROTO for an unparsable ASC, SL_ERR_CONFIG
 * for an MTU below 16 bytes or above 65523. */
int sl_rtp_aac_packer_init(sl_rtp_aac_packer_t *p, const uint8_t *asc, size_t asc_len, uint8_t payload_type,
                           uint32_t ssrc, uint16_t first_seq, size_t mtu) SL_MUST_CHECK;

/* Appends the length-prefixed packets of one AAC frame (borrowed) to out. The RTP
 * timestamp is f->pts at the ASC's sample rate. A CONFIG frame produces no packet and
 * switches the clock to its sample rate. SL_OK, SL_ERR_PROTO for an empty AU or a bad
 * CONFIG, SL_ERR_TOO_BIG for an AU of 8192 bytes or more (the 13-bit AU-size),
 * SL_ERR_NOMEM (out then keeps what it had before the call). */
int sl_rtp_aac_packetize(sl_rtp_aac_packer_t *p, const sl_frame_t *f, sl_bytes_t *out) SL_MUST_CHECK;

/* Depacketizer: frames go out through emit, which borrows the frame (it takes a
 * reference to keep it) and returns 0, or a negative error that stops the packet. */
typedef struct sl_rtp_aac_depack {
    sl_rtp_aac_params_t params;
    uint32_t frame_ticks;
    sl_rtp_clock_t clock;
    int (*emit)(void *arg, sl_frame_t *f);
    void *arg;
    bool config_sent;
    bool have_seq;
    uint16_t next_seq;
    /* An AU being reassembled from fragments. */
    bool in_frag;
    uint32_t frag_ts;
    uint32_t frag_size;
    uint32_t frag_packets;
    sl_bytes_t frag;
    /* Statistics. */
    uint64_t frames;
    /* Fragment packets thrown away: those of an AU left incomplete by a loss, or
     * that do not fit the AU they claim to continue. */
    uint64_t dropped_fragments;
} sl_rtp_aac_depack_t;

/* Prepares a depacketizer (params copied). The clock rate is params->clock_rate, or
 * the ASC's sample rate. When params has a config, a CONFIG frame carrying it is
 * emitted before the first access unit. SL_OK, or SL_ERR_PROTO when the config does
 * not parse, no clock rate is known, or a field length is out of range. */
int sl_rtp_aac_depack_init(sl_rtp_aac_depack_t *d, const sl_rtp_aac_params_t *params,
                           int (*emit)(void *arg, sl_frame_t *f), void *arg) SL_MUST_CHECK;
/* Frees the reassembly buffer. */
void sl_rtp_aac_depack_free(sl_rtp_aac_depack_t *d);

/* Feeds one parsed RTP packet (borrowed) and emits every complete AU in it: the n-th
 * AU of a packet is stamped ts + the durations of the AUs before it (AU-Index-delta
 * counts skipped AUs), pts = dts on the hub clock. Packets must come in sequence
 * order (see reorder.h); a gap abandons a partial fragmented AU. SL_OK,
 * SL_ERR_PROTO for a malformed payload (AUs before the fault were emitted),
 * SL_ERR_NOMEM, or the error emit returned. */
int sl_rtp_aac_depack_push(sl_rtp_aac_depack_t *d, const sl_rtp_packet_t *pkt) SL_MUST_CHECK;

#endif
