/* MPEG-TS demuxer: streams from the muxer and hand-built packets; split feeding,
 * resynchronisation, continuity, PES lengths, PSI across packets, limits, truncation
 * at every length. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "protocols/codec/h264.h"
#include "protocols/hls/ts_demux.h"

/* x264 320x240 Constrained Baseline. */
static const uint8_t SPS_240[] = {0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00,
                                  0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x42, 0xa4, 0x80};
static const uint8_t PPS_240[] = {0x68, 0xcb, 0x83, 0xcb, 0x20};
static const uint8_t ASC_LC_44_STEREO[] = {0x12, 0x10};

/* ---- a log of delivered PES, comparable with memcmp ---- */

typedef struct pes_rec {
    uint16_t pid;
    uint8_t stream_type, stream_id;
    uint8_t random_access;
    int64_t pts, dts, pcr;
    size_t len;
} pes_rec_t;

typedef struct pes_log {
    sl_bytes_t bytes; /* pes_rec_t then the data, for each PES */
    int count;
    int stop_after; /* return 42 from the callback that makes count reach this; 0: never */
} pes_log_t;

static int on_pes(void *arg, const sl_ts_pes_t *pes)
{
    pes_log_t *log = arg;
    pes_rec_t r;
    memset(&r, 0, sizeof(r));
    r.pid = pes->pid;
    r.stream_type = pes->stream_type;
    r.stream_id = pes->stream_id;
    r.random_access = pes->random_access;
    r.pts = pes->pts;
    r.dts = pes->dts;
    r.pcr = pes->pcr;
    r.len = pes->len;
    assert_int_equal(sl_bytes_append(&log->bytes, &r, sizeof(r)), SL_OK);
    assert_int_equal(sl_bytes_append(&log->bytes, pes->data, pes->len), SL_OK);
    log->count++;
    return log->count == log->stop_after ? 42 : 0;
}

/* The i-th record of a log (copied out: records are not aligned in the log), and a
 * pointer to its data. */
static pes_rec_t log_rec(const pes_log_t *log, int i, const uint8_t **data)
{
    size_t off = 0;
    for (;;) {
        pes_rec_t r;
        assert_true(off + sizeof(r) <= log->bytes.len);
        memcpy(&r, log->bytes.data + off, sizeof(r));
        if (i-- == 0) {
            *data = log->bytes.data + off + sizeof(r);
            return r;
        }
        off += sizeof(r) + r.len;
    }
}

/* The k-th record of pid in the log; false when there are fewer. */
static bool log_rec_of_pid(const pes_log_t *log, uint16_t pid, int k, pes_rec_t *r, const uint8_t **data)
{
    for (int i = 0; i < log->count; i++) {
        *r = log_rec(log, i, data);
        if (r->pid == pid && k-- == 0) return true;
    }
    return false;
}

static void assert_logs_equal(const pes_log_t *a, const pes_log_t *b)
{
    assert_int_equal(a->count, b->count);
    assert_int_equal(a->bytes.len, b->bytes.len);
    assert_memory_equal(a->bytes.data, b->bytes.data, a->bytes.len);
}

/* Demuxes data fed in pieces of `step` bytes (0: all at once), then finishes. */
static void demux(const uint8_t *data, size_t len, size_t step, pes_log_t *log, sl_ts_demux_stats_t *stats)
{
    sl_ts_demuxer_t d;
    sl_ts_demuxer_init(&d, SL_TS_DEMUX_MAX_PES);
    sl_bytes_init(&log->bytes);
    log->count = 0;
    size_t off = 0;
    while (off < len) {
        size_t n = step == 0 ? len - off : SL_MIN(step, len - off);
        assert_int_equal(sl_ts_demuxer_feed(&d, data + off, n, on_pes, log), SL_OK);
        off += n;
    }
    assert_int_equal(sl_ts_demuxer_finish(&d, on_pes, log), SL_OK);
    if (stats != NULL) *stats = d.stats;
    sl_ts_demuxer_free(&d);
}

/* ---- streams from the muxer ---- */

static void put_nal(sl_bytes_t *v, const uint8_t *nal, size_t len)
{
    assert_int_equal(sl_bytes_put_be32(v, (uint32_t)len), SL_OK);
    assert_int_equal(sl_bytes_append(v, nal, len), SL_OK);
}

static void mux_config(sl_ts_muxer_t *m)
{
    sl_bytes_t rec;
    sl_bytes_init(&rec);
    assert_int_equal(sl_h264_build_config(SPS_240, sizeof(SPS_240), PPS_240, sizeof(PPS_240), &rec), SL_OK);
    sl_frame_t *v = sl_frame_copy_of(SL_MEDIA_VIDEO, SL_CODEC_H264, SL_FRAME_CONFIG, 0, 0, rec.data, rec.len);
    sl_frame_t *a = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_AAC, SL_FRAME_CONFIG, 0, 0, ASC_LC_44_STEREO,
                                     sizeof(ASC_LC_44_STEREO));
    assert_int_equal(sl_ts_muxer_set_config(m, v), SL_OK);
    assert_int_equal(sl_ts_muxer_set_config(m, a), SL_OK);
    sl_frame_unref(v);
    sl_frame_unref(a);
    sl_bytes_free(&rec);
}

/* Appends video frame i (multi-packet, key every 5th, B-frame timestamps). */
static void mux_video(sl_ts_muxer_t *m, int i, sl_bytes_t *out)
{
    size_t n = 100 + (size_t)i * 211;
    uint8_t *nal = malloc(n);
    assert_non_null(nal);
    nal[0] = i % 5 == 0 ? 0x65 : 0x41;
    for (size_t k = 1; k < n; k++) nal[k] = (uint8_t)(k * 13 + (size_t)i) | 0x01;
    sl_bytes_t v;
    sl_bytes_init(&v);
    put_nal(&v, nal, n);
    free(nal);
    int64_t dts = 90000 + i * 3600;
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_VIDEO, SL_CODEC_H264, i % 5 == 0 ? SL_FRAME_KEY : 0, dts,
                                     dts + (i % 2 ? 7200 : 0), v.data, v.len);
    assert_int_equal(sl_ts_muxer_write_frame(m, f, out), SL_OK);
    sl_frame_unref(f);
    sl_bytes_free(&v);
}

static void mux_audio(sl_ts_muxer_t *m, int i, sl_bytes_t *out)
{
    uint8_t au[400];
    size_t n = 20 + (size_t)i * 17 % 380;
    for (size_t k = 0; k < n; k++) au[k] = (uint8_t)(k ^ (size_t)i);
    int64_t ts = 91000 + i * 2090;
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_AAC, 0, ts, ts, au, n);
    assert_int_equal(sl_ts_muxer_write_frame(m, f, out), SL_OK);
    sl_frame_unref(f);
}

/* Tables, then `frames` video and audio frames interleaved. */
static void mux_stream(sl_bytes_t *out, int frames)
{
    sl_ts_muxer_t m;
    assert_int_equal(sl_ts_muxer_init(&m, SL_CODEC_H264, SL_CODEC_AAC), SL_OK);
    mux_config(&m);
    sl_bytes_init(out);
    assert_int_equal(sl_ts_muxer_write_tables(&m, out), SL_OK);
    for (int i = 0; i < frames; i++) {
        mux_video(&m, i, out);
        mux_audio(&m, i, out);
    }
    sl_ts_muxer_free(&m);
}

/* ---- hand-built packets ---- */

/* Appends one packet; a payload shorter than 184 bytes (minus af_len) is padded with
 * adaptation field stuffing. af: flags byte and fields, af_len 0 for none. */
static void put_pkt(sl_bytes_t *out, uint16_t pid, bool pusi, uint8_t cc, const uint8_t *af, size_t af_len,
                    const uint8_t *payload, size_t len)
{
    uint8_t p[SL_TS_PACKET_LEN];
    size_t af_total = 184 - len;
    assert_true(af_len == 0 ? len <= 184 : af_total >= 1 + af_len);
    p[0] = 0x47;
    p[1] = (uint8_t)((pusi ? 0x40 : 0) | pid >> 8);
    p[2] = (uint8_t)pid;
    p[3] = (uint8_t)((af_total > 0 ? 0x30 : 0x10) | cc);
    if (af_total > 0) {
        p[4] = (uint8_t)(af_total - 1);
        memset(p + 5, 0xFF, af_total - 1);
        if (af_total > 1) p[5] = 0;
        if (af_len > 0) memcpy(p + 5, af, af_len);
    }
    memcpy(p + 4 + af_total, payload, len);
    assert_int_equal(sl_bytes_append(out, p, sizeof(p)), SL_OK);
}

/* A PSI packet: pointer field, bytes, 0xFF padding. */
static void put_psi(sl_bytes_t *out, uint16_t pid, bool pusi, uint8_t cc, const uint8_t *s, size_t len)
{
    uint8_t payload[184];
    assert_true(len <= sizeof(payload));
    memset(payload, 0xFF, sizeof(payload));
    memcpy(payload, s, len);
    put_pkt(out, pid, pusi, cc, NULL, 0, payload, sizeof(payload));
}

/* The muxer's PAT and PMT for H.264 on 0x100 and AAC on 0x101. */
static void put_tables(sl_bytes_t *out)
{
    sl_ts_muxer_t m;
    assert_int_equal(sl_ts_muxer_init(&m, SL_CODEC_H264, SL_CODEC_AAC), SL_OK);
    assert_int_equal(sl_ts_muxer_write_tables(&m, out), SL_OK);
    sl_ts_muxer_free(&m);
}

/* A PES header with a PTS; pes_len is PES_packet_length. */
static size_t pes_header(uint8_t *h, uint8_t stream_id, uint16_t pes_len, int64_t pts)
{
    const uint8_t head[] = {0, 0, 1, stream_id, (uint8_t)(pes_len >> 8), (uint8_t)pes_len, 0x80, 0x80, 5};
    memcpy(h, head, sizeof(head));
    h[9] = (uint8_t)(0x21 | (pts >> 29 & 0x0E));
    h[10] = (uint8_t)(pts >> 22);
    h[11] = (uint8_t)(pts >> 14 | 1);
    h[12] = (uint8_t)(pts >> 7);
    h[13] = (uint8_t)(pts << 1 | 1);
    return 14;
}

/* ---- tests ---- */

static void test_stream_from_muxer(void **state)
{
    sl_bytes_t ts;
    mux_stream(&ts, 12);
    pes_log_t log;
    sl_ts_demux_stats_t st;
    demux(ts.data, ts.len, 0, &log, &st);
    assert_int_equal(log.count, 24);
    assert_int_equal(st.packets, ts.len / SL_TS_PACKET_LEN);
    assert_int_equal(st.skipped_bytes + st.sync_losses + st.bad_packets + st.cc_errors, 0);
    assert_int_equal(st.psi_errors + st.pes_errors, 0);
    assert_int_equal(st.pcr_count, 12);
    /* Audio PES have a length and are delivered at once; a video PES when the next
     * one starts. So audio frame i comes at 2i and video frame i at 2i + 1.
     * Frame 3: video with B-frame timestamps, then its audio. */
    const uint8_t *data;
    pes_rec_t r = log_rec(&log, 7, &data);
    assert_int_equal(r.pid, SL_TS_PID_VIDEO);
    assert_int_equal(r.stream_type, SL_TS_STREAM_H264);
    assert_int_equal(r.stream_id, 0xE0);
    assert_int_equal(r.dts, 90000 + 3 * 3600);
    assert_int_equal(r.pts, 90000 + 3 * 3600 + 7200);
    assert_int_equal(r.pcr, 90000 + 3 * 3600 - SL_TS_PCR_DELAY);
    assert_false(r.random_access);
    assert_int_equal(r.len, 6 + 4 + 100 + 3 * 211);
    r = log_rec(&log, 6, &data);
    assert_int_equal(r.pid, SL_TS_PID_AUDIO);
    assert_int_equal(r.stream_type, SL_TS_STREAM_AAC_ADTS);
    assert_int_equal(r.pts, 91000 + 3 * 2090);
    assert_int_equal(r.dts, -1);
    assert_int_equal(r.pcr, -1);
    assert_true(r.random_access);
    assert_int_equal(r.len, 7 + 20 + 3 * 17);
    assert_int_equal(data[7 + 5], 5 ^ 3);
    r = log_rec(&log, 11, &data);
    assert_int_equal(r.pts, 90000 + 5 * 3600 + 7200);
    assert_true(r.random_access); /* keyframe 5 */
    sl_bytes_free(&log.bytes);
    sl_bytes_free(&ts);
}

static void test_split_feeding(void **state)
{
    sl_bytes_t ts;
    mux_stream(&ts, 8);
    pes_log_t whole, part;
    demux(ts.data, ts.len, 0, &whole, NULL);
    assert_int_equal(whole.count, 16);
    size_t steps[] = {1, 2, 7, 187, 188, 189, 1000};
    for (size_t i = 0; i < SL_ARRAY_SIZE(steps); i++) {
        demux(ts.data, ts.len, steps[i], &part, NULL);
        assert_logs_equal(&whole, &part);
        sl_bytes_free(&part.bytes);
    }
    sl_bytes_free(&whole.bytes);
    sl_bytes_free(&ts);
}

static void test_resync_after_garbage(void **state)
{
    sl_bytes_t ts;
    mux_stream(&ts, 6);
    pes_log_t clean;
    demux(ts.data, ts.len, 0, &clean, NULL);

    /* Garbage with sync bytes in it, before the first packet and between packets. */
    static const uint8_t junk_a[] = {0x00, 0x47, 0x12, 0x47, 0x47, 0x99};
    static const uint8_t junk_b[] = {0xAB};
    static const uint8_t junk_c[] = {0x00, 0x47, 0x00};
    sl_bytes_t dirty;
    sl_bytes_init(&dirty);
    assert_int_equal(sl_bytes_append(&dirty, junk_a, sizeof(junk_a)), SL_OK);
    size_t npkt = ts.len / SL_TS_PACKET_LEN, garbage = sizeof(junk_a);
    uint64_t losses = 1;
    for (size_t i = 0; i < npkt; i++) {
        assert_int_equal(sl_bytes_append(&dirty, ts.data + i * SL_TS_PACKET_LEN, SL_TS_PACKET_LEN), SL_OK);
        if (i % 4 == 1) {
            assert_int_equal(sl_bytes_append(&dirty, junk_b, sizeof(junk_b)), SL_OK);
            garbage += sizeof(junk_b);
            losses++;
        } else if (i % 4 == 3 && i + 1 < npkt) {
            assert_int_equal(sl_bytes_append(&dirty, junk_c, sizeof(junk_c)), SL_OK);
            garbage += sizeof(junk_c);
            losses++;
        }
    }
    size_t steps[] = {0, 1, 100};
    for (size_t i = 0; i < SL_ARRAY_SIZE(steps); i++) {
        pes_log_t log;
        sl_ts_demux_stats_t st;
        demux(dirty.data, dirty.len, steps[i], &log, &st);
        assert_logs_equal(&clean, &log);
        assert_int_equal(st.skipped_bytes, garbage);
        assert_int_equal(st.sync_losses, losses);
        assert_int_equal(st.packets, npkt);
        assert_int_equal(st.cc_errors, 0);
        sl_bytes_free(&log.bytes);
    }
    sl_bytes_free(&dirty);
    sl_bytes_free(&clean.bytes);
    sl_bytes_free(&ts);
}

static void test_resync_last_packet_at_end(void **state)
{
    /* While resynchronising, a candidate is confirmed by the next sync byte; the last
     * one is confirmed by the end of the input. */
    sl_bytes_t ts;
    sl_bytes_init(&ts);
    const uint8_t junk[] = {0x01, 0x02, 0x03};
    assert_int_equal(sl_bytes_append(&ts, junk, sizeof(junk)), SL_OK);
    put_tables(&ts);
    const uint8_t *pat = ts.data + 3, *pmt = pat + SL_TS_PACKET_LEN;
    sl_ts_demuxer_t d;
    sl_ts_demuxer_init(&d, SL_TS_DEMUX_MAX_PES);
    pes_log_t log = {.count = 0};
    assert_int_equal(sl_ts_demuxer_feed(&d, ts.data, 3 + SL_TS_PACKET_LEN, on_pes, &log), SL_OK);
    assert_int_equal(d.stats.packets, 0); /* the PAT is held */
    assert_int_equal(d.pmt_pid, -1);
    assert_int_equal(sl_ts_demuxer_finish(&d, on_pes, &log), SL_OK);
    assert_int_equal(d.stats.packets, 1);
    assert_int_equal(d.pmt_pid, SL_TS_PID_PMT);
    assert_int_equal(d.stats.skipped_bytes, 3);
    assert_int_equal(d.stats.sync_losses, 1);

    /* In sync again: the PMT is taken as soon as it is complete. */
    assert_int_equal(sl_ts_demuxer_feed(&d, pmt, SL_TS_PACKET_LEN, on_pes, &log), SL_OK);
    assert_int_equal(d.stats.packets, 2);
    assert_int_equal(d.es_count, 2);
    assert_int_equal(d.es[0].pid, SL_TS_PID_VIDEO);
    assert_int_equal(d.es[0].stream_type, SL_TS_STREAM_H264);
    assert_int_equal(d.es[1].pid, SL_TS_PID_AUDIO);
    assert_int_equal(d.es[1].stream_type, SL_TS_STREAM_AAC_ADTS);

    /* A truncated packet at the end is skipped, and the next feed starts afresh. */
    assert_int_equal(sl_ts_demuxer_feed(&d, pat, 100, on_pes, &log), SL_OK);
    assert_int_equal(sl_ts_demuxer_finish(&d, on_pes, &log), SL_OK);
    assert_int_equal(d.stats.skipped_bytes, 103);
    assert_int_equal(d.stats.packets, 2);
    assert_int_equal(sl_ts_demuxer_feed(&d, pat, SL_TS_PACKET_LEN, on_pes, &log), SL_OK);
    assert_int_equal(d.stats.packets, 3);
    assert_int_equal(d.stats.sync_losses, 1);
    assert_int_equal(d.stats.psi_errors, 0);
    assert_int_equal(log.count, 0);
    sl_ts_demuxer_free(&d);
    sl_bytes_free(&ts);
}

/* Offset of the packet after the one starting video PES number `frame`. */
static size_t video_continuation(const sl_bytes_t *ts, int frame)
{
    int starts = 0;
    for (size_t off = 0; off < ts->len; off += SL_TS_PACKET_LEN) {
        const uint8_t *p = ts->data + off;
        if (((p[1] & 0x1F) << 8 | p[2]) != SL_TS_PID_VIDEO) continue;
        if (starts == frame + 1) return off;
        if (p[1] & 0x40) starts++;
    }
    fail();
    return 0;
}

static void test_cc_discontinuity(void **state)
{
    sl_bytes_t ts;
    mux_stream(&ts, 6);
    pes_log_t clean;
    demux(ts.data, ts.len, 0, &clean, NULL);
    assert_int_equal(clean.count, 12);

    /* Drop the second packet of video frame 4. */
    size_t off = video_continuation(&ts, 4);
    assert_int_equal(ts.data[off + 1] & 0x40, 0);
    sl_bytes_t cut;
    sl_bytes_init(&cut);
    assert_int_equal(sl_bytes_append(&cut, ts.data, off), SL_OK);
    assert_int_equal(sl_bytes_append(&cut, ts.data + off + SL_TS_PACKET_LEN, ts.len - off - SL_TS_PACKET_LEN),
                     SL_OK);
    pes_log_t log;
    sl_ts_demux_stats_t st;
    demux(cut.data, cut.len, 0, &log, &st);
    assert_int_equal(st.cc_errors, 1);
    assert_int_equal(st.pes_errors, 1);
    assert_int_equal(log.count, 11);
    for (int i = 0, j = 0; i < 12; i++) {
        const uint8_t *a, *b;
        pes_rec_t want = log_rec(&clean, i, &a);
        if (want.pid == SL_TS_PID_VIDEO && want.pts == 90000 + 4 * 3600) continue; /* the lost one */
        pes_rec_t got = log_rec(&log, j++, &b);
        assert_memory_equal(&want, &got, sizeof(want));
        assert_memory_equal(a, b, want.len);
    }
    sl_bytes_free(&log.bytes);

    /* A repeated packet (same counter) is allowed once and ignored. */
    sl_bytes_t dup;
    sl_bytes_init(&dup);
    assert_int_equal(sl_bytes_append(&dup, ts.data, off + SL_TS_PACKET_LEN), SL_OK);
    assert_int_equal(sl_bytes_append(&dup, ts.data + off, ts.len - off), SL_OK);
    demux(dup.data, dup.len, 0, &log, &st);
    assert_int_equal(st.cc_errors, 0);
    assert_logs_equal(&clean, &log);
    sl_bytes_free(&log.bytes);

    sl_bytes_free(&dup);
    sl_bytes_free(&cut);
    sl_bytes_free(&clean.bytes);
    sl_bytes_free(&ts);
}

static void test_pes_lengths(void **state)
{
    sl_bytes_t ts;
    sl_bytes_init(&ts);
    put_tables(&ts);
    uint8_t body[300], pay[184];
    for (size_t i = 0; i < sizeof(body); i++) body[i] = (uint8_t)(i * 3 + 1);

    /* Audio, PES_packet_length = 8 + 250: spans two packets; the second carries two
     * extra bytes after the PES, which are not part of it. */
    size_t h = pes_header(pay, 0xC0, 8 + 250, 1000);
    memcpy(pay + h, body, 184 - h);
    put_pkt(&ts, SL_TS_PID_AUDIO, true, 0, NULL, 0, pay, 184);
    size_t rest = 250 - (184 - h);
    memcpy(pay, body + 184 - h, rest);
    pay[rest] = 0xEE;
    pay[rest + 1] = 0xEE;
    put_pkt(&ts, SL_TS_PID_AUDIO, false, 1, NULL, 0, pay, rest + 2);
    size_t after_bounded = ts.len;

    /* Video, PES_packet_length 0: ends at the next start on its PID. */
    h = pes_header(pay, 0xE0, 0, 2000);
    memcpy(pay + h, body, 100);
    const uint8_t af_pcr[] = {0x50, 0x00, 0x00, 0x00, 0x7d, 0x7e, 0x00}; /* PCR base 250 */
    put_pkt(&ts, SL_TS_PID_VIDEO, true, 0, af_pcr, sizeof(af_pcr), pay, h + 100);
    put_pkt(&ts, SL_TS_PID_VIDEO, false, 1, NULL, 0, body + 100, 150);
    size_t after_first_video = ts.len;
    h = pes_header(pay, 0xE0, 0, 5000);
    memcpy(pay + h, body, 10);
    put_pkt(&ts, SL_TS_PID_VIDEO, true, 2, NULL, 0, pay, h + 10);

    /* Audio declared longer than what comes before the next start: dropped. */
    h = pes_header(pay, 0xC0, 8 + 100, 3000);
    memcpy(pay + h, body, 50);
    put_pkt(&ts, SL_TS_PID_AUDIO, true, 2, NULL, 0, pay, h + 50);
    h = pes_header(pay, 0xC0, 8 + 20, 4000);
    memcpy(pay + h, body, 20);
    put_pkt(&ts, SL_TS_PID_AUDIO, true, 3, NULL, 0, pay, h + 20);

    sl_ts_demuxer_t d;
    sl_ts_demuxer_init(&d, SL_TS_DEMUX_MAX_PES);
    pes_log_t log = {.count = 0};
    sl_bytes_init(&log.bytes);
    /* The bounded PES is delivered as soon as it is complete. */
    assert_int_equal(sl_ts_demuxer_feed(&d, ts.data, after_bounded, on_pes, &log), SL_OK);
    assert_int_equal(log.count, 1);
    const uint8_t *data;
    pes_rec_t r = log_rec(&log, 0, &data);
    assert_int_equal(r.pid, SL_TS_PID_AUDIO);
    assert_int_equal(r.pts, 1000);
    assert_int_equal(r.dts, -1);
    assert_int_equal(r.len, 250);
    assert_memory_equal(data, body, 250);
    /* The unbounded one waits for the next start. */
    assert_int_equal(sl_ts_demuxer_feed(&d, ts.data + after_bounded, after_first_video - after_bounded,
                                        on_pes, &log), SL_OK);
    assert_int_equal(log.count, 1);
    assert_int_equal(sl_ts_demuxer_feed(&d, ts.data + after_first_video, ts.len - after_first_video,
                                        on_pes, &log), SL_OK);
    assert_int_equal(log.count, 3);
    r = log_rec(&log, 1, &data);
    assert_int_equal(r.pid, SL_TS_PID_VIDEO);
    assert_int_equal(r.pts, 2000);
    assert_int_equal(r.pcr, 250);
    assert_true(r.random_access);
    assert_int_equal(r.len, 250);
    assert_memory_equal(data, body, 250);
    r = log_rec(&log, 2, &data);
    assert_int_equal(r.pts, 4000);
    assert_int_equal(r.len, 20);
    assert_int_equal(d.stats.pes_errors, 1);
    assert_int_equal(d.stats.pcr_count, 1);
    assert_int_equal(d.stats.last_pcr, 250);
    /* The last unbounded PES ends with the input. */
    assert_int_equal(sl_ts_demuxer_finish(&d, on_pes, &log), SL_OK);
    assert_int_equal(log.count, 4);
    r = log_rec(&log, 3, &data);
    assert_int_equal(r.pts, 5000);
    assert_int_equal(r.len, 10);
    assert_int_equal(r.pcr, -1);
    assert_false(r.random_access);
    assert_int_equal(sl_ts_demuxer_finish(&d, on_pes, &log), SL_OK);
    assert_int_equal(log.count, 4);
    sl_ts_demuxer_free(&d);
    sl_bytes_free(&log.bytes);
    sl_bytes_free(&ts);
}

static void test_malformed_pes(void **state)
{
    sl_bytes_t ts;
    sl_bytes_init(&ts);
    put_tables(&ts);
    uint8_t pay[184];
    uint8_t cc = 0;
    /* No start code; DTS without PTS; header length past the end; PTS flag with a
     * header too short for it. Each ends at the next start. */
    const uint8_t bad1[] = {0, 0, 2, 0xE0, 0, 0, 0x80, 0x80, 5, 0x21, 0, 1, 0, 1, 0xAA};
    const uint8_t bad2[] = {0, 0, 1, 0xE0, 0, 0, 0x80, 0x40, 5, 0x11, 0, 1, 0, 1, 0xAA};
    const uint8_t bad3[] = {0, 0, 1, 0xE0, 0, 0, 0x80, 0x80, 200, 0x21, 0, 1, 0, 1, 0xAA};
    const uint8_t bad4[] = {0, 0, 1, 0xE0, 0, 0, 0x80, 0xC0, 5, 0x31, 0, 1, 0, 1, 0xAA};
    const uint8_t bad5[] = {0, 0, 1, 0xE0, 0, 0, 0x00, 0x80, 5, 0x21, 0, 1, 0, 1, 0xAA};
    const uint8_t *bad[] = {bad1, bad2, bad3, bad4, bad5};
    for (size_t i = 0; i < SL_ARRAY_SIZE(bad); i++) {
        memcpy(pay, bad[i], sizeof(bad1));
        put_pkt(&ts, SL_TS_PID_VIDEO, true, cc++, NULL, 0, pay, sizeof(bad1));
    }
    /* A padding stream (no optional header) and a PES without timestamps. */
    const uint8_t pad[] = {0, 0, 1, 0xBE, 0, 0, 0xFF, 0xFF};
    put_pkt(&ts, SL_TS_PID_VIDEO, true, cc++, NULL, 0, pad, sizeof(pad));
    const uint8_t nots[] = {0, 0, 1, 0xE0, 0, 0, 0x80, 0x00, 0, 0xAB};
    put_pkt(&ts, SL_TS_PID_VIDEO, true, cc++, NULL, 0, nots, sizeof(nots));
    /* Short of a PES header at the start. */
    put_pkt(&ts, SL_TS_PID_VIDEO, true, cc++, NULL, 0, pad, 3);

    pes_log_t log;
    sl_ts_demux_stats_t st;
    demux(ts.data, ts.len, 0, &log, &st);
    assert_int_equal(st.pes_errors, 6);
    assert_int_equal(log.count, 2);
    const uint8_t *data;
    pes_rec_t r = log_rec(&log, 0, &data);
    assert_int_equal(r.stream_id, 0xBE);
    assert_int_equal(r.pts, -1);
    assert_int_equal(r.len, 2);
    r = log_rec(&log, 1, &data);
    assert_int_equal(r.pts, -1);
    assert_int_equal(r.dts, -1);
    assert_int_equal(r.len, 1);
    assert_int_equal(data[0], 0xAB);
    sl_bytes_free(&log.bytes);
    sl_bytes_free(&ts);
}

static void test_truncated_at_every_length(void **state)
{
    sl_bytes_t ts;
    mux_stream(&ts, 4);
    pes_log_t full;
    demux(ts.data, ts.len, 0, &full, NULL);
    for (size_t len = 0; len <= ts.len; len++) {
        pes_log_t log;
        sl_ts_demux_stats_t st;
        demux(ts.data, len, 0, &log, &st);
        assert_true(log.count <= full.count);
        /* Per PID, the PES are those of the full stream, except that an unbounded
         * video PES cut short ends with the input (it is then the last one). */
        for (int k = 0; k < 2; k++) {
            uint16_t pid = k == 0 ? SL_TS_PID_VIDEO : SL_TS_PID_AUDIO;
            pes_rec_t want, got;
            const uint8_t *a, *b;
            for (int i = 0; log_rec_of_pid(&log, pid, i, &got, &b); i++) {
                assert_true(log_rec_of_pid(&full, pid, i, &want, &a));
                if (got.len < want.len && pid == SL_TS_PID_VIDEO) {
                    assert_false(log_rec_of_pid(&log, pid, i + 1, &got, &b));
                    want.len = got.len;
                }
                assert_memory_equal(&want, &got, sizeof(want));
                assert_memory_equal(a, b, want.len);
            }
        }
        sl_bytes_free(&log.bytes);
    }
    sl_bytes_free(&full.bytes);
    sl_bytes_free(&ts);
}

/* A PMT section with `n` AAC entries, each with a descriptor of desc_len bytes. */
static size_t build_pmt(uint8_t *s, int n, size_t desc_len)
{
    size_t len = 12;
    s[0] = 0x02;
    s[3] = 0x00;
    s[4] = 0x01; /* program 1 */
    s[5] = 0xC1;
    s[6] = s[7] = 0;
    s[8] = 0xE1;
    s[9] = 0x01;
    s[10] = 0xF0;
    s[11] = 0;
    for (int i = 0; i < n; i++) {
        s[len++] = SL_TS_STREAM_AAC_ADTS;
        s[len++] = 0xE2;
        s[len++] = (uint8_t)i;
        s[len++] = (uint8_t)(0xF0 | desc_len >> 8);
        s[len++] = (uint8_t)desc_len;
        memset(s + len, 0x0A, desc_len);
        len += desc_len;
    }
    size_t section_length = len - 3 + 4;
    s[1] = (uint8_t)(0xB0 | section_length >> 8);
    s[2] = (uint8_t)section_length;
    sl_wr_be32(s + len, sl_ts_crc32(s, len));
    return len + 4;
}

static void put_pat(sl_bytes_t *ts, uint8_t cc)
{
    uint8_t pat[] = {0, 0x00, 0xB0, 0x0D, 0x00, 0x01, 0xC1, 0, 0, 0x00, 0x01, 0xF0, 0x00, 0, 0, 0, 0};
    sl_wr_be32(pat + 13, sl_ts_crc32(pat + 1, 12));
    put_psi(ts, SL_TS_PID_PAT, true, cc, pat, sizeof(pat));
}

static void test_psi_across_packets(void **state)
{
    uint8_t s[1100];
    /* 10 entries of 5 + 20 bytes: a 266-byte section over two packets. */
    size_t len = build_pmt(s, 10, 20);
    assert_int_equal(len, 266);
    uint8_t buf[400];
    sl_bytes_t ts;
    sl_bytes_init(&ts);
    put_pat(&ts, 0);
    buf[0] = 0; /* pointer_field */
    memcpy(buf + 1, s, 183);
    put_psi(&ts, SL_TS_PID_PMT, true, 0, buf, 184);
    put_psi(&ts, SL_TS_PID_PMT, false, 1, s + 183, len - 183);

    sl_ts_demuxer_t d;
    sl_ts_demuxer_init(&d, SL_TS_DEMUX_MAX_PES);
    assert_int_equal(sl_ts_demuxer_feed(&d, ts.data, ts.len, on_pes, NULL), SL_OK);
    assert_int_equal(d.stats.psi_errors, 0);
    /* Streams past SL_TS_DEMUX_MAX_ES are not followed. */
    assert_int_equal(d.es_count, SL_TS_DEMUX_MAX_ES);
    for (int i = 0; i < SL_TS_DEMUX_MAX_ES; i++) assert_int_equal(d.es[i].pid, 0x200 + i);

    /* The end of a section carried through the pointer_field of the next unit's
     * packet, followed by a new section in the same packet: 3 entries now. */
    size_t len3 = build_pmt(s + 600, 3, 0);
    sl_bytes_t ts2;
    sl_bytes_init(&ts2);
    buf[0] = 0;
    memcpy(buf + 1, s, 183);
    put_psi(&ts2, SL_TS_PID_PMT, true, 2, buf, 184);
    buf[0] = (uint8_t)(len - 183);
    memcpy(buf + 1, s + 183, len - 183);
    memcpy(buf + 1 + len - 183, s + 600, len3);
    put_psi(&ts2, SL_TS_PID_PMT, true, 3, buf, 1 + len - 183 + len3);
    assert_int_equal(sl_ts_demuxer_feed(&d, ts2.data, ts2.len, on_pes, NULL), SL_OK);
    assert_int_equal(d.stats.psi_errors, 0);
    assert_int_equal(d.es_count, 3);

    /* A bad CRC, a section_length over 1021, and a pointer_field past the packet. */
    s[600 + 14] ^= 1;
    sl_bytes_t ts3;
    sl_bytes_init(&ts3);
    buf[0] = 0;
    memcpy(buf + 1, s + 600, len3);
    put_psi(&ts3, SL_TS_PID_PMT, true, 4, buf, 1 + len3);
    const uint8_t huge[] = {0, 0x02, 0xB3, 0xFE, 0x00};
    put_psi(&ts3, SL_TS_PID_PMT, true, 5, huge, sizeof(huge));
    const uint8_t far[] = {184};
    put_psi(&ts3, SL_TS_PID_PMT, true, 6, far, sizeof(far));
    /* A section cut short by the next unit start (pointer_field 0). */
    buf[0] = 0;
    memcpy(buf + 1, s, 183);
    put_psi(&ts3, SL_TS_PID_PMT, true, 7, buf, 184);
    put_psi(&ts3, SL_TS_PID_PMT, true, 8, buf, 1);
    assert_int_equal(sl_ts_demuxer_feed(&d, ts3.data, ts3.len, on_pes, NULL), SL_OK);
    assert_int_equal(d.stats.psi_errors, 4);
    assert_int_equal(d.es_count, 3);
    sl_ts_demuxer_free(&d);
    sl_bytes_free(&ts);
    sl_bytes_free(&ts2);
    sl_bytes_free(&ts3);
}

static void test_pmt_keeps_pes_in_progress(void **state)
{
    /* A PMT repeated in the middle of an unbounded PES does not cut it. */
    sl_bytes_t ts;
    sl_bytes_init(&ts);
    put_tables(&ts);
    uint8_t pay[184];
    size_t h = pes_header(pay, 0xE0, 0, 700);
    memset(pay + h, 0x33, 184 - h);
    put_pkt(&ts, SL_TS_PID_VIDEO, true, 0, NULL, 0, pay, 184);
    sl_ts_muxer_t m;
    assert_int_equal(sl_ts_muxer_init(&m, SL_CODEC_H264, SL_CODEC_AAC), SL_OK);
    m.cc_pat = m.cc_pmt = 1;
    assert_int_equal(sl_ts_muxer_write_tables(&m, &ts), SL_OK);
    sl_ts_muxer_free(&m);
    memset(pay, 0x44, 100);
    put_pkt(&ts, SL_TS_PID_VIDEO, false, 1, NULL, 0, pay, 100);
    pes_log_t log;
    sl_ts_demux_stats_t st;
    demux(ts.data, ts.len, 0, &log, &st);
    assert_int_equal(log.count, 1);
    const uint8_t *data;
    pes_rec_t r = log_rec(&log, 0, &data);
    assert_int_equal(r.len, 184 - h + 100);
    assert_int_equal(data[184 - h], 0x44);
    assert_int_equal(st.cc_errors + st.psi_errors + st.pes_errors, 0);
    sl_bytes_free(&log.bytes);
    sl_bytes_free(&ts);
}

static void test_max_pes_and_bad_packets(void **state)
{
    sl_bytes_t ts;
    sl_bytes_init(&ts);
    put_tables(&ts);
    uint8_t pay[184];
    /* 3 full packets of one unbounded PES, over a 500-byte limit. */
    size_t h = pes_header(pay, 0xE0, 0, 10);
    memset(pay + h, 0x55, 184 - h);
    put_pkt(&ts, SL_TS_PID_VIDEO, true, 0, NULL, 0, pay, 184);
    memset(pay, 0x55, 184);
    put_pkt(&ts, SL_TS_PID_VIDEO, false, 1, NULL, 0, pay, 184);
    put_pkt(&ts, SL_TS_PID_VIDEO, false, 2, NULL, 0, pay, 184);
    /* Then a small one, which fits. */
    h = pes_header(pay, 0xE0, 0, 20);
    put_pkt(&ts, SL_TS_PID_VIDEO, true, 3, NULL, 0, pay, h + 5);

    /* Ignored packets: transport error, scrambled, reserved adaptation_field_control,
     * an adaptation field longer than the packet allows. */
    uint8_t p[SL_TS_PACKET_LEN];
    memcpy(p, ts.data + ts.len - SL_TS_PACKET_LEN, SL_TS_PACKET_LEN);
    p[1] |= 0x80;
    assert_int_equal(sl_bytes_append(&ts, p, sizeof(p)), SL_OK);
    p[1] &= 0x7F;
    p[3] = 0x80 | 0x30 | 4;
    assert_int_equal(sl_bytes_append(&ts, p, sizeof(p)), SL_OK);
    p[3] = 0x00 | 4;
    assert_int_equal(sl_bytes_append(&ts, p, sizeof(p)), SL_OK);
    p[3] = 0x30 | 4;
    p[4] = 183;
    assert_int_equal(sl_bytes_append(&ts, p, sizeof(p)), SL_OK);
    /* An adaptation-field-only packet (no payload, counter unchanged) is fine, and
     * so is a null packet. */
    p[3] = 0x20 | 3;
    p[4] = 183;
    p[5] = 0;
    assert_int_equal(sl_bytes_append(&ts, p, sizeof(p)), SL_OK);
    p[1] = 0x1F;
    p[2] = 0xFF;
    p[3] = 0x10;
    assert_int_equal(sl_bytes_append(&ts, p, sizeof(p)), SL_OK);

    sl_ts_demuxer_t d;
    sl_ts_demuxer_init(&d, 500);
    pes_log_t log = {.count = 0};
    sl_bytes_init(&log.bytes);
    assert_int_equal(sl_ts_demuxer_feed(&d, ts.data, ts.len, on_pes, &log), SL_OK);
    assert_int_equal(sl_ts_demuxer_finish(&d, on_pes, &log), SL_OK);
    assert_int_equal(d.stats.pes_errors, 1);
    assert_int_equal(d.stats.bad_packets, 4);
    assert_int_equal(d.stats.cc_errors, 0);
    assert_int_equal(log.count, 1);
    const uint8_t *data;
    pes_rec_t r = log_rec(&log, 0, &data);
    assert_int_equal(r.pts, 20);
    assert_int_equal(r.len, 5);
    sl_ts_demuxer_free(&d);
    sl_bytes_free(&log.bytes);
    sl_bytes_free(&ts);
}

static void test_callback_stop_is_sticky(void **state)
{
    sl_bytes_t ts;
    mux_stream(&ts, 4);
    sl_ts_demuxer_t d;
    sl_ts_demuxer_init(&d, SL_TS_DEMUX_MAX_PES);
    pes_log_t log = {.count = 0, .stop_after = 2};
    sl_bytes_init(&log.bytes);
    assert_int_equal(sl_ts_demuxer_feed(&d, ts.data, ts.len, on_pes, &log), 42);
    assert_int_equal(log.count, 2);
    assert_int_equal(sl_ts_demuxer_feed(&d, ts.data, ts.len, on_pes, &log), 42);
    assert_int_equal(sl_ts_demuxer_finish(&d, on_pes, &log), 42);
    assert_int_equal(log.count, 2);
    sl_ts_demuxer_free(&d);

    /* A stop from finish is sticky too. */
    sl_ts_demuxer_init(&d, SL_TS_DEMUX_MAX_PES);
    log.count = 0;
    log.stop_after = 8;
    assert_int_equal(sl_ts_demuxer_feed(&d, ts.data, ts.len, on_pes, &log), SL_OK);
    assert_int_equal(log.count, 7);
    assert_int_equal(sl_ts_demuxer_finish(&d, on_pes, &log), 42);
    assert_int_equal(sl_ts_demuxer_feed(&d, ts.data, 1, on_pes, &log), 42);
    sl_ts_demuxer_free(&d);
    sl_bytes_free(&log.bytes);
    sl_bytes_free(&ts);
}

static void test_pat_changes_and_garbage_pids(void **state)
{
    sl_bytes_t ts;
    sl_bytes_init(&ts);
    /* Before any PAT, elementary packets are ignored. */
    uint8_t pay[184];
    size_t h = pes_header(pay, 0xC0, 8 + 4, 77);
    put_pkt(&ts, SL_TS_PID_AUDIO, true, 0, NULL, 0, pay, h + 4);
    /* A PAT naming only the network PID, then one pointing at PID 0 (refused). */
    uint8_t pat[] = {0, 0x00, 0xB0, 0x0D, 0x00, 0x01, 0xC1, 0, 0, 0x00, 0x00, 0xE0, 0x10, 0, 0, 0, 0};
    sl_wr_be32(pat + 13, sl_ts_crc32(pat + 1, 12));
    put_psi(&ts, SL_TS_PID_PAT, true, 0, pat, sizeof(pat));
    pat[10] = 0x05;
    pat[11] = 0xE0;
    pat[12] = 0x00;
    sl_wr_be32(pat + 13, sl_ts_crc32(pat + 1, 12));
    put_psi(&ts, SL_TS_PID_PAT, true, 1, pat, sizeof(pat));
    /* A section that is not current. */
    pat[11] = 0xE1;
    pat[6] = 0xC0;
    sl_wr_be32(pat + 13, sl_ts_crc32(pat + 1, 12));
    put_psi(&ts, SL_TS_PID_PAT, true, 2, pat, sizeof(pat));

    sl_ts_demuxer_t d;
    sl_ts_demuxer_init(&d, SL_TS_DEMUX_MAX_PES);
    pes_log_t log = {.count = 0};
    sl_bytes_init(&log.bytes);
    assert_int_equal(sl_ts_demuxer_feed(&d, ts.data, ts.len, on_pes, &log), SL_OK);
    assert_int_equal(d.pmt_pid, -1);
    assert_int_equal(d.stats.psi_errors, 0);
    assert_int_equal(log.count, 0);
    /* A PMT of another program on the PMT PID is ignored (counters 14, 15, then
     * t2's PMT with 0). */
    sl_bytes_t t2;
    sl_bytes_init(&t2);
    put_tables(&t2);
    assert_int_equal(sl_ts_demuxer_feed(&d, t2.data, SL_TS_PACKET_LEN, on_pes, &log), SL_OK);
    assert_int_equal(d.pmt_pid, SL_TS_PID_PMT);
    uint8_t s[64];
    size_t len = build_pmt(s, 1, 0);
    s[4] = 2;
    sl_wr_be32(s + len - 4, sl_ts_crc32(s, len - 4));
    uint8_t buf[65] = {0};
    memcpy(buf + 1, s, len);
    sl_bytes_t t3;
    sl_bytes_init(&t3);
    put_psi(&t3, SL_TS_PID_PMT, true, 14, buf, len + 1);
    /* Another table on the PMT PID is skipped without an error. */
    buf[1] = 0xFC;
    sl_wr_be32(buf + 1 + len - 4, sl_ts_crc32(buf + 1, len - 4));
    put_psi(&t3, SL_TS_PID_PMT, true, 15, buf, len + 1);
    assert_int_equal(sl_ts_demuxer_feed(&d, t3.data, t3.len, on_pes, &log), SL_OK);
    assert_int_equal(d.es_count, 0);
    assert_int_equal(d.stats.psi_errors, 0);
    assert_int_equal(d.stats.cc_errors, 1); /* the PAT of t2 after our counter 2 */
    assert_int_equal(sl_ts_demuxer_feed(&d, t2.data + SL_TS_PACKET_LEN, SL_TS_PACKET_LEN, on_pes, &log), SL_OK);
    assert_int_equal(d.es_count, 2);
    sl_ts_demuxer_free(&d);
    sl_bytes_free(&log.bytes);
    sl_bytes_free(&ts);
    sl_bytes_free(&t2);
    sl_bytes_free(&t3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_from_muxer),
        cmocka_unit_test(test_split_feeding),
        cmocka_unit_test(test_resync_after_garbage),
        cmocka_unit_test(test_resync_last_packet_at_end),
        cmocka_unit_test(test_cc_discontinuity),
        cmocka_unit_test(test_pes_lengths),
        cmocka_unit_test(test_malformed_pes),
        cmocka_unit_test(test_truncated_at_every_length),
        cmocka_unit_test(test_psi_across_packets),
        cmocka_unit_test(test_pmt_keeps_pes_in_progress),
        cmocka_unit_test(test_max_pes_and_bad_packets),
        cmocka_unit_test(test_callback_stop_is_sticky),
        cmocka_unit_test(test_pat_changes_and_garbage_pids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
