#include "protocols/hls/ts_mux.h"

#include "protocols/codec/h265.h"

#define TS_PAYLOAD_LEN (SL_TS_PACKET_LEN - 4)
#define PTS_MASK ((UINT64_C(1) << 33) - 1)

enum {
    STREAM_ID_VIDEO = 0xE0,
    STREAM_ID_AUDIO = 0xC0,
    AF_RANDOM_ACCESS = 0x40,
    AF_PCR = 0x10,
};

uint32_t sl_ts_crc32(const uint8_t *data, size_t len)
{
    /* Bitwise: only a PAT and a PMT per segment go through it. */
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint32_t)data[i] << 24;
        for (int k = 0; k < 8; k++) crc = crc & 0x80000000u ? crc << 1 ^ 0x04C11DB7u : crc << 1;
    }
    return crc;
}

int sl_ts_muxer_init(sl_ts_muxer_t *m, sl_codec_t video, sl_codec_t audio)
{
    memset(m, 0, sizeof(*m));
    if (video != SL_CODEC_NONE && video != SL_CODEC_H264 && video != SL_CODEC_H265)
        return SL_ERR_UNSUPPORTED;
    if (audio != SL_CODEC_NONE && audio != SL_CODEC_AAC) return SL_ERR_UNSUPPORTED;
    if (video == SL_CODEC_NONE && audio == SL_CODEC_NONE) return SL_ERR_UNSUPPORTED;
    m->video = (uint8_t)video;
    m->audio = (uint8_t)audio;
    sl_bytes_init(&m->ps);
    sl_bytes_init(&m->pes);
    return SL_OK;
}

void sl_ts_muxer_free(sl_ts_muxer_t *m)
{
    sl_bytes_free(&m->ps);
    sl_bytes_free(&m->pes);
}

/* ---- configuration ---- */

static const uint8_t START_CODE[4] = {0, 0, 0, 1};

static int put_annexb(sl_bytes_t *v, const uint8_t *nal, size_t len)
{
    int rc = sl_bytes_append(v, START_CODE, sizeof(START_CODE));
    return rc != SL_OK ? rc : sl_bytes_append(v, nal, len);
}

static int put_ps_list(sl_bytes_t *v, const uint8_t *const *ps, const size_t *ps_len, int count)
{
    for (int i = 0; i < count; i++) {
        int rc = put_annexb(v, ps[i], ps_len[i]);
        if (rc != SL_OK) return rc;
    }
    return SL_OK;
}

/* Appends the record's parameter sets in Annex B to v. */
static int video_ps(sl_codec_t codec, const uint8_t *rec, size_t len, sl_bytes_t *v)
{
    int rc;
    if (codec == SL_CODEC_H264) {
        sl_h264_config_t c;
        if ((rc = sl_h264_parse_config(rec, len, &c)) != SL_OK) return rc;
        if ((rc = put_ps_list(v, c.sps, c.sps_len, c.sps_count)) != SL_OK) return rc;
        return put_ps_list(v, c.pps, c.pps_len, c.pps_count);
    }
    sl_h265_config_t c;
    if ((rc = sl_h265_parse_config(rec, len, &c)) != SL_OK) return rc;
    if ((rc = put_ps_list(v, c.vps, c.vps_len, c.vps_count)) != SL_OK) return rc;
    if ((rc = put_ps_list(v, c.sps, c.sps_len, c.sps_count)) != SL_OK) return rc;
    return put_ps_list(v, c.pps, c.pps_len, c.pps_count);
}

static int set_video_config(sl_ts_muxer_t *m, const sl_frame_t *f)
{
    /* Built aside and swapped in, so a bad record leaves the old sets in place. */
    sl_bytes_t ps;
    sl_bytes_init(&ps);
    int rc = video_ps(m->video, f->data, f->len, &ps);
    if (rc != SL_OK) {
        sl_bytes_free(&ps);
        return rc;
    }
    sl_bytes_free(&m->ps);
    m->ps = ps;
    m->video_ready = true;
    return SL_OK;
}

static int set_audio_config(sl_ts_muxer_t *m, const sl_frame_t *f)
{
    sl_aac_config_t c;
    uint8_t adts[SL_AAC_ADTS_HEADER_LEN];
    int rc = sl_aac_parse_config(f->data, f->len, &c);
    if (rc != SL_OK) return rc;
    /* Refused now rather than on every frame. */
    if (sl_aac_adts_header(&c, 1, adts) != SL_OK) return SL_ERR_UNSUPPORTED;
    m->aac = c;
    m->audio_ready = true;
    return SL_OK;
}

int sl_ts_muxer_set_config(sl_ts_muxer_t *m, const sl_frame_t *config)
{
    if (!(config->flags & SL_FRAME_CONFIG)) return SL_ERR_UNSUPPORTED;
    if (config->media == SL_MEDIA_VIDEO && config->codec == m->video && m->video != SL_CODEC_NONE)
        return set_video_config(m, config);
    if (config->media == SL_MEDIA_AUDIO && config->codec == m->audio && m->audio != SL_CODEC_NONE)
        return set_audio_config(m, config);
    return SL_ERR_UNSUPPORTED;
}

/* ---- packets ---- */

static uint16_t pcr_pid(const sl_ts_muxer_t *m)
{
    return m->video != SL_CODEC_NONE ? SL_TS_PID_VIDEO : SL_TS_PID_AUDIO;
}

/* Writes one packet at pkt carrying as much of payload[0..len) as fits after the
 * adaptation field fields af[0..af_len) (flags byte first; af_len 0 for none), and
 * returns how much it carried. A packet left short is filled with adaptation field
 * stuffing, which is how TS pads the last packet of a PES. */
static size_t write_packet(uint8_t *pkt, uint16_t pid, bool start, uint8_t cc, const uint8_t *af,
                           size_t af_len, const uint8_t *payload, size_t len)
{
    size_t af_min = af_len > 0 ? 1 + af_len : 0; /* with its length byte */
    size_t take = SL_MIN(len, TS_PAYLOAD_LEN - af_min);
    size_t af_total = TS_PAYLOAD_LEN - take;

    pkt[0] = 0x47;
    pkt[1] = (uint8_t)((start ? 0x40 : 0) | pid >> 8);
    pkt[2] = (uint8_t)pid;
    pkt[3] = (uint8_t)((af_total > 0 ? 0x30 : 0x10) | (cc & 0x0F));
    if (af_total > 0) {
        pkt[4] = (uint8_t)(af_total - 1);
        if (af_total > 1) {
            pkt[5] = 0; /* flags, when the caller gave none */
            if (af_len > 0) memcpy(pkt + 5, af, af_len);
            size_t used = af_len > 0 ? af_len : 1;
            memset(pkt + 5 + used, 0xFF, af_total - 1 - used);
        }
    }
    if (take > 0) memcpy(pkt + 4 + af_total, payload, take);
    return take;
}

/* Number of packets write_packet needs for len bytes with af_len bytes of
 * adaptation field fields in the first one. */
static size_t packet_count(size_t len, size_t af_len)
{
    size_t first = TS_PAYLOAD_LEN - (af_len > 0 ? 1 + af_len : 0);
    if (len <= first) return 1;
    return 1 + (len - first + TS_PAYLOAD_LEN - 1) / TS_PAYLOAD_LEN;
}

/* Appends payload[0..len) as the packets of one PID starting a unit (PSI section or
 * PES), advancing *cc. SL_OK or SL_ERR_NOMEM (nothing changed). */
static int put_unit(sl_bytes_t *out, uint16_t pid, uint8_t *cc, const uint8_t *af, size_t af_len,
                    const uint8_t *payload, size_t len)
{
    size_t n = packet_count(len, af_len);
    int rc = sl_bytes_reserve(out, n * SL_TS_PACKET_LEN);
    if (rc != SL_OK) return rc;
    for (size_t i = 0; i < n; i++) {
        size_t took = write_packet(out->data + out->len, pid, i == 0, *cc, i == 0 ? af : NULL,
                                   i == 0 ? af_len : 0, payload, len);
        out->len += SL_TS_PACKET_LEN;
        *cc = (uint8_t)((*cc + 1) & 0x0F);
        payload += took;
        len -= took;
    }
    return SL_OK;
}

/* ---- PSI ---- */

/* Appends a PSI section: pointer_field, the header for table_id/id, body, CRC. */
static int put_section(sl_bytes_t *out, uint16_t pid, uint8_t *cc, uint8_t table_id, uint16_t id,
                       const uint8_t *body, size_t body_len)
{
    uint8_t s[64];
    size_t section_length = 5 + body_len + 4; /* after the length field, CRC included */
    s[0] = 0; /* pointer_field */
    s[1] = table_id;
    /* section_syntax_indicator, '0', reserved '11', 12-bit length */
    sl_wr_be16(s + 2, (uint16_t)(0xB000 | section_length));
    sl_wr_be16(s + 4, id);
    s[6] = 0xC1; /* reserved '11', version 0, current_next_indicator */
    s[7] = 0;    /* section_number */
    s[8] = 0;    /* last_section_number */
    memcpy(s + 9, body, body_len);
    sl_wr_be32(s + 9 + body_len, sl_ts_crc32(s + 1, 8 + body_len));
    /* Padded with 0xFF like any PSI packet, not with adaptation field stuffing. */
    uint8_t payload[TS_PAYLOAD_LEN];
    size_t len = 13 + body_len;
    memcpy(payload, s, len);
    memset(payload + len, 0xFF, sizeof(payload) - len);
    return put_unit(out, pid, cc, NULL, 0, payload, sizeof(payload));
}

static size_t pmt_entry(uint8_t *p, uint8_t stream_type, uint16_t pid, const uint8_t *desc,
                        size_t desc_len)
{
    p[0] = stream_type;
    sl_wr_be16(p + 1, (uint16_t)(0xE000 | pid));
    sl_wr_be16(p + 3, (uint16_t)(0xF000 | desc_len));
    if (desc_len > 0) memcpy(p + 5, desc, desc_len);
    return 5 + desc_len;
}

int sl_ts_muxer_write_tables(sl_ts_muxer_t *m, sl_bytes_t *out)
{
    size_t old_len = out->len;
    uint8_t old_pat = m->cc_pat, old_pmt = m->cc_pmt;

    /* Program 1 -> PMT PID. */
    uint8_t pat[4];
    sl_wr_be16(pat, 1);
    sl_wr_be16(pat + 2, (uint16_t)(0xE000 | SL_TS_PID_PMT));

    /* Older demuxers know stream type 0x24 only by the registration descriptor
     * "HEVC", which ffmpeg writes too. */
    static const uint8_t HEVC_REG[] = {0x05, 0x04, 'H', 'E', 'V', 'C'};
    uint8_t pmt[4 + 2 * 5 + sizeof(HEVC_REG)];
    sl_wr_be16(pmt, (uint16_t)(0xE000 | pcr_pid(m)));
    sl_wr_be16(pmt + 2, 0xF000); /* program_info_length 0 */
    size_t n = 4;
    if (m->video == SL_CODEC_H264)
        n += pmt_entry(pmt + n, SL_TS_STREAM_H264, SL_TS_PID_VIDEO, NULL, 0);
    else if (m->video == SL_CODEC_H265)
        n += pmt_entry(pmt + n, SL_TS_STREAM_H265, SL_TS_PID_VIDEO, HEVC_REG, sizeof(HEVC_REG));
    if (m->audio != SL_CODEC_NONE)
        n += pmt_entry(pmt + n, SL_TS_STREAM_AAC_ADTS, SL_TS_PID_AUDIO, NULL, 0);

    int rc = put_section(out, SL_TS_PID_PAT, &m->cc_pat, 0x00, 1, pat, sizeof(pat));
    if (rc == SL_OK) rc = put_section(out, SL_TS_PID_PMT, &m->cc_pmt, 0x02, 1, pmt, n);
    if (rc != SL_OK) {
        out->len = old_len;
        m->cc_pat = old_pat;
        m->cc_pmt = old_pmt;
    }
    return rc;
}

/* ---- PES ---- */

/* Writes a PTS or DTS field with its 4-bit prefix and marker bits. */
static void put_timestamp(uint8_t *p, uint8_t prefix, int64_t ts)
{
    uint64_t t = (uint64_t)ts & PTS_MASK;
    p[0] = (uint8_t)(prefix << 4 | (t >> 29 & 0x0E) | 1);
    sl_wr_be16(p + 1, (uint16_t)((t >> 14 & 0xFFFE) | 1));
    sl_wr_be16(p + 3, (uint16_t)((t << 1 & 0xFFFE) | 1));
}

/* Starts m->pes with a PES header. payload_len 0 writes PES_packet_length 0
 * (unbounded, allowed for video only). */
static int put_pes_header(sl_ts_muxer_t *m, uint8_t stream_id, int64_t pts, int64_t dts,
                          size_t payload_len)
{
    bool with_dts = dts != pts;
    uint8_t h[19];
    size_t hdr_data = with_dts ? 10 : 5;
    h[0] = 0;
    h[1] = 0;
    h[2] = 1;
    h[3] = stream_id;
    size_t pes_len = payload_len > 0 ? 3 + hdr_data + payload_len : 0;
    sl_wr_be16(h + 4, (uint16_t)pes_len);
    h[6] = 0x84; /* '10', data_alignment_indicator: each PES starts an access unit */
    h[7] = with_dts ? 0xC0 : 0x80;
    h[8] = (uint8_t)hdr_data;
    put_timestamp(h + 9, with_dts ? 3 : 2, pts);
    if (with_dts) put_timestamp(h + 14, 1, dts);
    m->pes.len = 0;
    return sl_bytes_append(&m->pes, h, 9 + hdr_data);
}

/* Fills the adaptation field fields of a PES's first packet: flags, then the PCR. */
static size_t pes_af(uint8_t af[7], bool pcr, int64_t dts, bool random_access)
{
    af[0] = random_access ? AF_RANDOM_ACCESS : 0;
    if (!pcr) return random_access ? 1 : 0;
    int64_t v = dts - SL_TS_PCR_DELAY;
    if (v < 0 && dts >= 0) v = 0;
    uint64_t base = (uint64_t)v & PTS_MASK;
    af[0] |= AF_PCR;
    /* 33-bit base, 6 reserved bits, 9-bit extension 0. */
    sl_wr_be32(af + 1, (uint32_t)(base >> 1));
    af[5] = (uint8_t)((base & 1) << 7 | 0x7E);
    af[6] = 0;
    return 7;
}

static int put_pes(sl_ts_muxer_t *m, sl_bytes_t *out, uint16_t pid, uint8_t *cc, int64_t dts,
                   bool random_access)
{
    uint8_t af[7];
    size_t af_len = pes_af(af, pid == pcr_pid(m), dts, random_access);
    return put_unit(out, pid, cc, af, af_len, m->pes.data, m->pes.len);
}

/* ---- video ---- */

typedef struct nal_walk {
    sl_bytes_t *v;
    int (*type_of)(uint8_t);
    int aud_type;
    uint64_t seen; /* bit per NAL type found */
} nal_walk_t;

static int h265_type(uint8_t header) { return sl_h265_nal_type(header); }

static int note_type(void *opaque, const uint8_t *nal, size_t len)
{
    nal_walk_t *w = opaque;
    w->seen |= UINT64_C(1) << w->type_of(nal[0]);
    return 0;
}

static int copy_nal(void *opaque, const uint8_t *nal, size_t len)
{
    nal_walk_t *w = opaque;
    /* Our own delimiter leads the access unit; a second one would be invalid. */
    if (w->type_of(nal[0]) == w->aud_type) return 0;
    return put_annexb(w->v, nal, len);
}

/* Appends the frame's access unit in Annex B to m->pes. */
static int put_video_es(sl_ts_muxer_t *m, const sl_frame_t *f)
{
    static const uint8_t AUD_H264[] = {0x09, 0xF0};       /* primary_pic_type: any */
    static const uint8_t AUD_H265[] = {0x46, 0x01, 0x50}; /* pic_type: any */
    bool h264 = m->video == SL_CODEC_H264;
    nal_walk_t w = {
        .v = &m->pes,
        .type_of = h264 ? sl_h264_nal_type : h265_type,
        .aud_type = h264 ? SL_H264_NAL_AUD : SL_H265_NAL_AUD,
    };
    /* A first walk validates the framing and finds in-band parameter sets. */
    if (f->len == 0 || sl_avcc_split(f->data, f->len, note_type, &w) != 0) return SL_ERR_PROTO;
    uint64_t need = h264 ? UINT64_C(1) << SL_H264_NAL_SPS | UINT64_C(1) << SL_H264_NAL_PPS
                         : UINT64_C(1) << SL_H265_NAL_VPS | UINT64_C(1) << SL_H265_NAL_SPS |
                               UINT64_C(1) << SL_H265_NAL_PPS;
    int rc = h264 ? put_annexb(&m->pes, AUD_H264, sizeof(AUD_H264))
                  : put_annexb(&m->pes, AUD_H265, sizeof(AUD_H265));
    if (rc == SL_OK && (f->flags & SL_FRAME_KEY) && (w.seen & need) != need)
        rc = sl_bytes_append(&m->pes, m->ps.data, m->ps.len);
    if (rc == SL_OK) rc = sl_avcc_split(f->data, f->len, copy_nal, &w);
    return rc;
}

static int write_video(sl_ts_muxer_t *m, const sl_frame_t *f, sl_bytes_t *out)
{
    if (!m->video_ready) return SL_ERR_AGAIN;
    int rc = put_pes_header(m, STREAM_ID_VIDEO, f->pts, f->dts, 0);
    if (rc == SL_OK) rc = put_video_es(m, f);
    if (rc != SL_OK) return rc;
    return put_pes(m, out, SL_TS_PID_VIDEO, &m->cc_video, f->dts, (f->flags & SL_FRAME_KEY) != 0);
}

/* ---- audio ---- */

static int write_audio(sl_ts_muxer_t *m, const sl_frame_t *f, sl_bytes_t *out)
{
    if (!m->audio_ready) return SL_ERR_AGAIN;
    if (f->len == 0) return SL_ERR_PROTO;
    uint8_t adts[SL_AAC_ADTS_HEADER_LEN];
    int rc = sl_aac_adts_header(&m->aac, f->len, adts);
    if (rc != SL_OK) return rc;
    /* Every AAC frame is a random access point; ffmpeg flags them too. */
    rc = put_pes_header(m, STREAM_ID_AUDIO, f->pts, f->pts, sizeof(adts) + f->len);
    if (rc == SL_OK) rc = sl_bytes_append(&m->pes, adts, sizeof(adts));
    if (rc == SL_OK) rc = sl_bytes_append(&m->pes, f->data, f->len);
    if (rc != SL_OK) return rc;
    return put_pes(m, out, SL_TS_PID_AUDIO, &m->cc_audio, f->pts, true);
}

int sl_ts_muxer_write_frame(sl_ts_muxer_t *m, const sl_frame_t *f, sl_bytes_t *out)
{
    if (f->flags & SL_FRAME_CONFIG) return sl_ts_muxer_set_config(m, f);
    if (f->media == SL_MEDIA_VIDEO && f->codec == m->video && m->video != SL_CODEC_NONE)
        return write_video(m, f, out);
    if (f->media == SL_MEDIA_AUDIO && f->codec == m->audio && m->audio != SL_CODEC_NONE)
        return write_audio(m, f, out);
    return SL_ERR_UNSUPPORTED;
}
