#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "protocols/flv/flv.h"

/* ---- helpers ---- */

/* Parses `body` from a private buffer of exactly its length, so ASan sees any read
 * past the end. */
static int parse(uint8_t tag_type, int64_t ts_ms, const uint8_t *body, size_t len,
                 sl_frame_t **out)
{
    sl_buf_t *b = sl_buf_from(body, len);
    assert_non_null(b);
    int rc = sl_flv_tag_to_frame(tag_type, ts_ms, b, b->data, len, out);
    sl_buf_unref(b);
    return rc;
}

static sl_frame_t *parse_ok(uint8_t tag_type, int64_t ts_ms, const uint8_t *body, size_t len)
{
    sl_frame_t *f = (sl_frame_t *)1;
    assert_int_equal(parse(tag_type, ts_ms, body, len, &f), SL_OK);
    assert_non_null(f);
    return f;
}

static void assert_parses_to_null(uint8_t tag_type, const uint8_t *body, size_t len)
{
    sl_frame_t *f = (sl_frame_t *)1;
    assert_int_equal(parse(tag_type, 0, body, len, &f), SL_OK);
    assert_null(f);
}

static void assert_parse_error(uint8_t tag_type, const uint8_t *body, size_t len, int err)
{
    sl_frame_t *f = (sl_frame_t *)1;
    assert_int_equal(parse(tag_type, 0, body, len, &f), err);
    assert_null(f);
}

static void assert_payload(const sl_frame_t *f, const uint8_t *data, size_t len)
{
    assert_int_equal(f->len, len);
    assert_memory_equal(f->data, data, len);
}

/* The frame's tag body must be exactly `want`. */
static void assert_body(const sl_frame_t *f, const uint8_t *want, size_t len)
{
    sl_bytes_t v;
    sl_bytes_init(&v);
    assert_int_equal(sl_flv_frame_body(f, &v), SL_OK);
    assert_int_equal(v.len, len);
    assert_memory_equal(v.data, want, len);
    assert_int_equal(sl_flv_frame_body_len(f), len);
    sl_bytes_free(&v);
}

/* ---- tag body -> frame -> tag body ---- */

static void test_h264_key_frame_with_cts(void **state)
{
    const uint8_t body[] = {0x17, 0x01, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x02, 0x65, 0x88};
    sl_frame_t *f = parse_ok(SL_FLV_TAG_VIDEO, 1000, body, sizeof(body));
    assert_int_equal(f->media, SL_MEDIA_VIDEO);
    assert_int_equal(f->codec, SL_CODEC_H264);
    assert_int_equal(f->flags, SL_FRAME_KEY);
    assert_int_equal(f->dts, SL_MS_TO_TS(1000));
    assert_int_equal(f->pts, SL_MS_TO_TS(1040));
    assert_payload(f, body + 5, 6);
    assert_body(f, body, sizeof(body));
    sl_frame_unref(f);
}

static void test_h264_inter_negative_cts(void **state)
{
    /* cts = -40 ms as a signed 24-bit value. */
    const uint8_t body[] = {0x27, 0x01, 0xff, 0xff, 0xd8, 0x00, 0x00, 0x00, 0x01, 0x41};
    sl_frame_t *f = parse_ok(SL_FLV_TAG_VIDEO, 500, body, sizeof(body));
    assert_int_equal(f->flags, 0);
    assert_int_equal(f->dts, SL_MS_TO_TS(500));
    assert_int_equal(f->pts, SL_MS_TO_TS(460));
    assert_body(f, body, sizeof(body));
    sl_frame_unref(f);
}

static void test_h264_config(void **state)
{
    const uint8_t body[] = {0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64, 0x00, 0x1f, 0xff, 0xe1};
    sl_frame_t *f = parse_ok(SL_FLV_TAG_VIDEO, 0, body, sizeof(body));
    assert_int_equal(f->codec, SL_CODEC_H264);
    assert_int_equal(f->flags, SL_FRAME_CONFIG);
    assert_int_equal(f->pts, f->dts);
    assert_payload(f, body + 5, 6);
    assert_body(f, body, sizeof(body));
    sl_frame_unref(f);
}

static void test_hevc_codec_id_12(void **state)
{
    const uint8_t key[] = {0x1c, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x26};
    sl_frame_t *f = parse_ok(SL_FLV_TAG_VIDEO, 40, key, sizeof(key));
    assert_int_equal(f->codec, SL_CODEC_H265);
    assert_int_equal(f->flags, SL_FRAME_KEY);
    assert_int_equal(f->pts, SL_MS_TO_TS(40));
    assert_body(f, key, sizeof(key));
    sl_frame_unref(f);

    const uint8_t inter[] = {0x2c, 0x01, 0x00, 0x00, 0x50, 0x00, 0x00, 0x00, 0x01, 0x02};
    f = parse_ok(SL_FLV_TAG_VIDEO, 40, inter, sizeof(inter));
    assert_int_equal(f->codec, SL_CODEC_H265);
    assert_int_equal(f->flags, 0);
    assert_int_equal(f->pts, SL_MS_TO_TS(120));
    assert_body(f, inter, sizeof(inter));
    sl_frame_unref(f);

    const uint8_t config[] = {0x1c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x60};
    f = parse_ok(SL_FLV_TAG_VIDEO, 0, config, sizeof(config));
    assert_int_equal(f->codec, SL_CODEC_H265);
    assert_int_equal(f->flags, SL_FRAME_CONFIG);
    assert_body(f, config, sizeof(config));
    sl_frame_unref(f);
}

static void test_enhanced_hvc1(void **state)
{
    /* SequenceStart, key frame type: 0x80 | 1 << 4 | 0. */
    const uint8_t start[] = {0x90, 'h', 'v', 'c', '1', 0x01, 0x01, 0x60, 0x00};
    sl_frame_t *f = parse_ok(SL_FLV_TAG_VIDEO, 0, start, sizeof(start));
    assert_int_equal(f->codec, SL_CODEC_H265);
    assert_int_equal(f->flags, SL_FRAME_CONFIG);
    assert_payload(f, start + 5, 4);
    const uint8_t legacy_start[] = {0x1c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x60, 0x00};
    assert_body(f, legacy_start, sizeof(legacy_start));
    sl_frame_unref(f);

    /* CodedFrames with a composition time of 40 ms. */
    const uint8_t coded[] = {0x91, 'h', 'v', 'c', '1', 0x00, 0x00, 0x28,
                             0x00, 0x00, 0x00, 0x02, 0x26, 0x01};
    f = parse_ok(SL_FLV_TAG_VIDEO, 2000, coded, sizeof(coded));
    assert_int_equal(f->codec, SL_CODEC_H265);
    assert_int_equal(f->flags, SL_FRAME_KEY);
    assert_int_equal(f->dts, SL_MS_TO_TS(2000));
    assert_int_equal(f->pts, SL_MS_TO_TS(2040));
    assert_payload(f, coded + 8, 6);
    const uint8_t legacy_coded[] = {0x1c, 0x01, 0x00, 0x00, 0x28,
                                    0x00, 0x00, 0x00, 0x02, 0x26, 0x01};
    assert_body(f, legacy_coded, sizeof(legacy_coded));
    sl_frame_unref(f);

    /* CodedFramesX, inter frame (type 2): no composition time. */
    const uint8_t coded_x[] = {0xa3, 'h', 'v', 'c', '1', 0x00, 0x00, 0x00, 0x02, 0x02, 0x01};
    f = parse_ok(SL_FLV_TAG_VIDEO, 2040, coded_x, sizeof(coded_x));
    assert_int_equal(f->flags, 0);
    assert_int_equal(f->pts, f->dts);
    assert_int_equal(f->dts, SL_MS_TO_TS(2040));
    assert_payload(f, coded_x + 5, 6);
    const uint8_t legacy_x[] = {0x2c, 0x01, 0x00, 0x00, 0x00,
                                0x00, 0x00, 0x00, 0x02, 0x02, 0x01};
    assert_body(f, legacy_x, sizeof(legacy_x));
    sl_frame_unref(f);
}

static void test_enhanced_other_packets(void **state)
{
    const uint8_t avc1[] = {0x93, 'a', 'v', 'c', '1', 0x00, 0x00, 0x00, 0x01, 0x65};
    sl_frame_t *f = parse_ok(SL_FLV_TAG_VIDEO, 0, avc1, sizeof(avc1));
    assert_int_equal(f->codec, SL_CODEC_H264);
    assert_int_equal(f->flags, SL_FRAME_KEY);
    sl_frame_unref(f);

    const uint8_t end[] = {0x92, 'h', 'v', 'c', '1'};
    assert_parses_to_null(SL_FLV_TAG_VIDEO, end, sizeof(end));
    const uint8_t meta[] = {0x94, 'h', 'v', 'c', '1', 0x02, 0x00, 0x0a};
    assert_parses_to_null(SL_FLV_TAG_VIDEO, meta, sizeof(meta));
    const uint8_t ts_start[] = {0x95, 'h', 'v', 'c', '1', 0x00};
    assert_parse_error(SL_FLV_TAG_VIDEO, ts_start, sizeof(ts_start), SL_ERR_UNSUPPORTED);
    const uint8_t av1[] = {0x91, 'a', 'v', '0', '1', 0x00, 0x00, 0x00, 0x0a};
    assert_parse_error(SL_FLV_TAG_VIDEO, av1, sizeof(av1), SL_ERR_UNSUPPORTED);
    const uint8_t short_cts[] = {0x91, 'h', 'v', 'c', '1', 0x00, 0x00};
    assert_parse_error(SL_FLV_TAG_VIDEO, short_cts, sizeof(short_cts), SL_ERR_PROTO);
    const uint8_t short_fourcc[] = {0x91, 'h', 'v'};
    assert_parse_error(SL_FLV_TAG_VIDEO, short_fourcc, sizeof(short_fourcc), SL_ERR_PROTO);
}

static void test_video_ignored_and_unsupported(void **state)
{
    const uint8_t end_of_seq[] = {0x17, 0x02, 0x00, 0x00, 0x00};
    assert_parses_to_null(SL_FLV_TAG_VIDEO, end_of_seq, sizeof(end_of_seq));
    const uint8_t info[] = {0x57, 0x00};
    assert_parses_to_null(SL_FLV_TAG_VIDEO, info, sizeof(info));
    assert_parses_to_null(SL_FLV_TAG_VIDEO, info, 0);
    const uint8_t vp6[] = {0x14, 0x00, 0x00, 0x00, 0x00};
    assert_parse_error(SL_FLV_TAG_VIDEO, vp6, sizeof(vp6), SL_ERR_UNSUPPORTED);
    const uint8_t bad_pkt[] = {0x17, 0x03, 0x00, 0x00, 0x00, 0x01};
    assert_parse_error(SL_FLV_TAG_VIDEO, bad_pkt, sizeof(bad_pkt), SL_ERR_PROTO);
    const uint8_t empty_nalus[] = {0x17, 0x01, 0x00, 0x00, 0x00};
    assert_parses_to_null(SL_FLV_TAG_VIDEO, empty_nalus, sizeof(empty_nalus));
}

static void test_aac(void **state)
{
    const uint8_t config[] = {0xaf, 0x00, 0x12, 0x10};
    sl_frame_t *f = parse_ok(SL_FLV_TAG_AUDIO, 0, config, sizeof(config));
    assert_int_equal(f->media, SL_MEDIA_AUDIO);
    assert_int_equal(f->codec, SL_CODEC_AAC);
    assert_int_equal(f->flags, SL_FRAME_CONFIG);
    assert_payload(f, config + 2, 2);
    assert_body(f, config, sizeof(config));
    sl_frame_unref(f);

    const uint8_t raw[] = {0xaf, 0x01, 0x21, 0x10, 0x04, 0x60, 0x8c};
    f = parse_ok(SL_FLV_TAG_AUDIO, 23, raw, sizeof(raw));
    assert_int_equal(f->flags, 0);
    assert_int_equal(f->dts, SL_MS_TO_TS(23));
    assert_int_equal(f->pts, SL_MS_TO_TS(23));
    assert_payload(f, raw + 2, 5);
    assert_body(f, raw, sizeof(raw));
    sl_frame_unref(f);

    /* AAC in mono 22 kHz header bits still is AAC. */
    const uint8_t mono[] = {0xa6, 0x01, 0x21};
    f = parse_ok(SL_FLV_TAG_AUDIO, 0, mono, sizeof(mono));
    assert_int_equal(f->codec, SL_CODEC_AAC);
    sl_frame_unref(f);

    const uint8_t mp3[] = {0x2f, 0xff, 0xfb};
    assert_parse_error(SL_FLV_TAG_AUDIO, mp3, sizeof(mp3), SL_ERR_UNSUPPORTED);
    const uint8_t bad_pkt[] = {0xaf, 0x02, 0x00};
    assert_parse_error(SL_FLV_TAG_AUDIO, bad_pkt, sizeof(bad_pkt), SL_ERR_PROTO);
    assert_parse_error(SL_FLV_TAG_AUDIO, raw, 1, SL_ERR_PROTO);
}

static const uint8_t META_BODY[] = {
    0x02, 0x00, 0x0a, 'o', 'n', 'M', 'e', 't', 'a', 'D', 'a', 't', 'a',
    0x08, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x05, 'w', 'i', 'd', 't', 'h', 0x00, 0x40, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x09,
};

static void test_script(void **state)
{
    uint8_t wrapped[16 + sizeof(META_BODY)];
    memcpy(wrapped, "\x02\x00\x0d@setDataFrame", 16);
    memcpy(wrapped + 16, META_BODY, sizeof(META_BODY));
    sl_frame_t *f = parse_ok(SL_FLV_TAG_SCRIPT, 10, wrapped, sizeof(wrapped));
    assert_int_equal(f->media, SL_MEDIA_DATA);
    assert_int_equal(f->codec, SL_CODEC_AMF0);
    assert_int_equal(f->flags, 0);
    assert_int_equal(f->dts, SL_MS_TO_TS(10));
    assert_payload(f, META_BODY, sizeof(META_BODY));
    assert_body(f, META_BODY, sizeof(META_BODY));
    sl_frame_unref(f);

    f = parse_ok(SL_FLV_TAG_SCRIPT, 0, META_BODY, sizeof(META_BODY));
    assert_payload(f, META_BODY, sizeof(META_BODY));
    sl_frame_unref(f);

    const uint8_t cue[] = {0x02, 0x00, 0x0a, 'o', 'n', 'C', 'u', 'e', 'P', 'o', 'i', 'n', 't', 0x05};
    assert_parses_to_null(SL_FLV_TAG_SCRIPT, cue, sizeof(cue));
    uint8_t set_cue[16 + sizeof(cue)];
    memcpy(set_cue, "\x02\x00\x0d@setDataFrame", 16);
    memcpy(set_cue + 16, cue, sizeof(cue));
    assert_parses_to_null(SL_FLV_TAG_SCRIPT, set_cue, sizeof(set_cue));
    /* The name needs its exact length: "onMetaDataX" is another name. */
    const uint8_t longer[] = {0x02, 0x00, 0x0b, 'o', 'n', 'M', 'e', 't', 'a', 'D', 'a', 't', 'a', 'X'};
    assert_parses_to_null(SL_FLV_TAG_SCRIPT, longer, sizeof(longer));
}

static void test_unknown_tag_and_hostile_ts(void **state)
{
    const uint8_t body[] = {0x17, 0x01, 0x00, 0x00, 0x00, 0x01};
    assert_parse_error(7, body, sizeof(body), SL_ERR_UNSUPPORTED);
    sl_frame_t *f = (sl_frame_t *)1;
    assert_int_equal(parse(SL_FLV_TAG_VIDEO, INT64_MAX / 2, body, sizeof(body), &f), SL_ERR_PROTO);
    assert_null(f);
    assert_int_equal(parse(SL_FLV_TAG_VIDEO, INT64_MIN, body, sizeof(body), &f), SL_ERR_PROTO);
    assert_null(f);
}

/* Every prefix of a valid body parses cleanly: an error, NULL, or a frame whose
 * payload lies inside the prefix. The prefix lives in a buffer of its exact size. */
static void check_truncations(uint8_t tag_type, const uint8_t *body, size_t len, size_t header)
{
    for (size_t n = 0; n < len; n++) {
        sl_buf_t *b = sl_buf_from(body, n);
        assert_non_null(b);
        sl_frame_t *f = (sl_frame_t *)1;
        int rc = sl_flv_tag_to_frame(tag_type, 0, b, b->data, n, &f);
        assert_true(rc <= 0);
        if (n <= header) {
            assert_true(rc < 0 || f == NULL);
        } else if (f != NULL) {
            assert_true(f->data >= b->data && f->data + f->len == b->data + n);
        }
        if (rc < 0) assert_null(f);
        sl_frame_unref(f);
        sl_buf_unref(b);
    }
}

static void test_truncations(void **state)
{
    const uint8_t avc[] = {0x17, 0x01, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x02, 0x65, 0x88};
    check_truncations(SL_FLV_TAG_VIDEO, avc, sizeof(avc), 5);
    const uint8_t avc_cfg[] = {0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64};
    check_truncations(SL_FLV_TAG_VIDEO, avc_cfg, sizeof(avc_cfg), 5);
    const uint8_t ex_coded[] = {0x91, 'h', 'v', 'c', '1', 0x00, 0x00, 0x28, 0x00, 0x01, 0x26};
    check_truncations(SL_FLV_TAG_VIDEO, ex_coded, sizeof(ex_coded), 8);
    const uint8_t ex_x[] = {0xa3, 'h', 'v', 'c', '1', 0x00, 0x00, 0x00, 0x01, 0x02};
    check_truncations(SL_FLV_TAG_VIDEO, ex_x, sizeof(ex_x), 5);
    const uint8_t ex_start[] = {0x90, 'a', 'v', 'c', '1', 0x01, 0x64};
    check_truncations(SL_FLV_TAG_VIDEO, ex_start, sizeof(ex_start), 5);
    const uint8_t aac[] = {0xaf, 0x01, 0x21, 0x10};
    check_truncations(SL_FLV_TAG_AUDIO, aac, sizeof(aac), 2);
    uint8_t wrapped[16 + sizeof(META_BODY)];
    memcpy(wrapped, "\x02\x00\x0d@setDataFrame", 16);
    memcpy(wrapped + 16, META_BODY, sizeof(META_BODY));
    check_truncations(SL_FLV_TAG_SCRIPT, wrapped, sizeof(wrapped), 16 + 12);
}

/* ---- frame -> FLV file tag ---- */

static void test_opus_unsupported(void **state)
{
    const uint8_t pkt[] = {0xfc, 0x01, 0x02};
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_OPUS, 0, 0, 0, pkt, sizeof(pkt));
    assert_non_null(f);
    sl_bytes_t v;
    sl_bytes_init(&v);
    assert_int_equal(sl_flv_frame_body(f, &v), SL_ERR_UNSUPPORTED);
    assert_int_equal(v.len, 0);
    assert_int_equal(sl_flv_frame_body_len(f), 0);
    assert_null(sl_flv_frame_tag(f));
    sl_bytes_free(&v);
    sl_frame_unref(f);
}

/* The AAC track the transcoder makes of a WebRTC publisher's Opus (SL_FRAME_DERIVED)
 * goes to RTMP and FLV players as plain AAC: sequence header, then raw frames. */
static void test_derived_aac_is_plain_aac(void **state)
{
    const uint8_t asc[] = {0x11, 0x90};
    sl_frame_t *config = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_AAC, SL_FRAME_CONFIG | SL_FRAME_DERIVED,
                                          SL_MS_TO_TS(20), SL_MS_TO_TS(20), asc, sizeof(asc));
    const uint8_t au[] = {0x21, 0x10, 0x05};
    sl_frame_t *frame = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_AAC, SL_FRAME_DERIVED, SL_MS_TO_TS(21),
                                         SL_MS_TO_TS(21), au, sizeof(au));
    assert_non_null(config);
    assert_non_null(frame);
    sl_buf_t *tag = sl_flv_frame_tag(config);
    assert_non_null(tag);
    const uint8_t want_config[] = {0x08, 0x00, 0x00, 0x04, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00,
                                   0xaf, 0x00, 0x11, 0x90, 0x00, 0x00, 0x00, 0x0f};
    assert_int_equal(tag->len, sizeof(want_config));
    assert_memory_equal(tag->data, want_config, sizeof(want_config));
    tag = sl_flv_frame_tag(frame);
    assert_non_null(tag);
    const uint8_t want_frame[] = {0x08, 0x00, 0x00, 0x05, 0x00, 0x00, 0x15, 0x00, 0x00, 0x00, 0x00,
                                  0xaf, 0x01, 0x21, 0x10, 0x05, 0x00, 0x00, 0x00, 0x10};
    assert_int_equal(tag->len, sizeof(want_frame));
    assert_memory_equal(tag->data, want_frame, sizeof(want_frame));
    sl_frame_unref(config);
    sl_frame_unref(frame);

    /* And the Opus made of an AAC publisher's audio for WebRTC players stays out. */
    const uint8_t pkt[] = {0xfc, 0x01, 0x02};
    sl_frame_t *opus = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_OPUS, SL_FRAME_DERIVED, 0, 0, pkt, sizeof(pkt));
    assert_non_null(opus);
    assert_null(sl_flv_frame_tag(opus));
    sl_frame_unref(opus);
}

static void test_tag_bytes_and_cache(void **state)
{
    const uint8_t nalus[] = {0x00, 0x00, 0x00, 0x02, 0x65, 0x88};
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_VIDEO, SL_CODEC_H264, SL_FRAME_KEY,
                                     SL_MS_TO_TS(0x12345678), SL_MS_TO_TS(0x12345678 + 40),
                                     nalus, sizeof(nalus));
    assert_non_null(f);
    sl_buf_t *tag = sl_flv_frame_tag(f);
    assert_non_null(tag);
    const uint8_t want[] = {
        0x09, 0x00, 0x00, 0x0b, 0x34, 0x56, 0x78, 0x12, 0x00, 0x00, 0x00,
        0x17, 0x01, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x02, 0x65, 0x88,
        0x00, 0x00, 0x00, 0x16,
    };
    assert_int_equal(tag->len, sizeof(want));
    assert_memory_equal(tag->data, want, sizeof(want));
    assert_ptr_equal(sl_flv_frame_tag(f), tag);
    assert_ptr_equal(sl_frame_enc_get(f, SL_ENC_FLV_TAG, 0), tag);
    assert_int_equal(tag->refcnt, 1);
    sl_frame_unref(f);
}

static void test_tag_timestamp_clamp_and_wrap(void **state)
{
    const uint8_t asc[] = {0x12, 0x10};
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_AAC, SL_FRAME_CONFIG,
                                     SL_MS_TO_TS(-100), SL_MS_TO_TS(-100), asc, sizeof(asc));
    sl_buf_t *tag = sl_flv_frame_tag(f);
    assert_non_null(tag);
    const uint8_t want[] = {0x08, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                            0xaf, 0x00, 0x12, 0x10, 0x00, 0x00, 0x00, 0x0f};
    assert_int_equal(tag->len, sizeof(want));
    assert_memory_equal(tag->data, want, sizeof(want));
    sl_frame_unref(f);

    /* 2^32 + 5 ms is written as 5 ms: the 32-bit FLV clock wrapped. */
    const int64_t ms = ((int64_t)1 << 32) + 5;
    f = sl_frame_copy_of(SL_MEDIA_AUDIO, SL_CODEC_AAC, 0, SL_MS_TO_TS(ms), SL_MS_TO_TS(ms),
                         asc, sizeof(asc));
    tag = sl_flv_frame_tag(f);
    assert_non_null(tag);
    const uint8_t ts[] = {0x00, 0x00, 0x05, 0x00};
    assert_memory_equal(tag->data + 4, ts, 4);
    sl_frame_unref(f);
}

static void test_data_tag(void **state)
{
    sl_frame_t *f = sl_frame_copy_of(SL_MEDIA_DATA, SL_CODEC_AMF0, 0, 0, 0, META_BODY,
                                     sizeof(META_BODY));
    sl_buf_t *tag = sl_flv_frame_tag(f);
    assert_non_null(tag);
    assert_int_equal(tag->len, 11 + sizeof(META_BODY) + 4);
    assert_int_equal(tag->data[0], SL_FLV_TAG_SCRIPT);
    assert_int_equal(tag->data[3], sizeof(META_BODY));
    assert_memory_equal(tag->data + 11, META_BODY, sizeof(META_BODY));
    assert_int_equal(tag->data[tag->len - 1], 11 + sizeof(META_BODY));
    sl_frame_unref(f);
}

/* Frame -> tag -> frame keeps dts, pts, flags, codec and payload. */
static void roundtrip(sl_media_t media, sl_codec_t codec, uint8_t flags, int64_t dts_ms,
                      int64_t pts_ms, const uint8_t *payload, size_t len)
{
    sl_frame_t *f = sl_frame_copy_of(media, codec, flags, SL_MS_TO_TS(dts_ms),
                                     SL_MS_TO_TS(pts_ms), payload, len);
    assert_non_null(f);
    sl_buf_t *tag = sl_flv_frame_tag(f);
    assert_non_null(tag);
    const uint8_t *p = tag->data;
    size_t body_len = (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
    assert_int_equal(tag->len, 11 + body_len + 4);
    int64_t ts = (int64_t)((uint32_t)p[7] << 24 | (uint32_t)p[4] << 16 | (uint32_t)p[5] << 8 | p[6]);
    sl_frame_t *g = NULL;
    assert_int_equal(sl_flv_tag_to_frame(p[0], ts, tag, p + 11, body_len, &g), SL_OK);
    assert_non_null(g);
    assert_int_equal(g->media, media);
    assert_int_equal(g->codec, codec);
    assert_int_equal(g->flags, flags);
    assert_int_equal(g->dts, f->dts);
    assert_int_equal(g->pts, f->pts);
    assert_payload(g, payload, len);
    assert_ptr_equal(g->buf, tag);
    sl_frame_unref(g);
    sl_frame_unref(f);
}

static void test_roundtrip(void **state)
{
    const uint8_t nalus[] = {0x00, 0x00, 0x00, 0x03, 0x41, 0x9a, 0x02};
    const uint8_t cfg[] = {0x01, 0x4d, 0x40, 0x1e, 0xff, 0xe1, 0x00, 0x00};
    const uint8_t au[] = {0x21, 0x1a, 0x93};
    roundtrip(SL_MEDIA_VIDEO, SL_CODEC_H264, SL_FRAME_KEY, 1000, 1080, nalus, sizeof(nalus));
    roundtrip(SL_MEDIA_VIDEO, SL_CODEC_H264, 0, 1040, 1000, nalus, sizeof(nalus));
    roundtrip(SL_MEDIA_VIDEO, SL_CODEC_H264, SL_FRAME_CONFIG, 0, 0, cfg, sizeof(cfg));
    roundtrip(SL_MEDIA_VIDEO, SL_CODEC_H265, SL_FRAME_KEY, 0x1234567, 0x1234567 + 33, nalus,
              sizeof(nalus));
    roundtrip(SL_MEDIA_VIDEO, SL_CODEC_H265, SL_FRAME_CONFIG, 5, 5, cfg, sizeof(cfg));
    roundtrip(SL_MEDIA_AUDIO, SL_CODEC_AAC, SL_FRAME_CONFIG, 0, 0, cfg, 2);
    roundtrip(SL_MEDIA_AUDIO, SL_CODEC_AAC, 0, 0xfffffff0, 0xfffffff0, au, sizeof(au));
    roundtrip(SL_MEDIA_DATA, SL_CODEC_AMF0, 0, 7, 7, META_BODY, sizeof(META_BODY));
}

static void test_file_header(void **state)
{
    uint8_t h[SL_FLV_FILE_HEADER_LEN];
    sl_flv_file_header(h, true, true);
    const uint8_t both[] = {'F', 'L', 'V', 0x01, 0x05, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00};
    assert_memory_equal(h, both, sizeof(both));
    sl_flv_file_header(h, false, true);
    assert_int_equal(h[4], 0x01);
    sl_flv_file_header(h, true, false);
    assert_int_equal(h[4], 0x04);
}

/* ---- demuxer ---- */

typedef struct rec_tag {
    uint8_t type;
    int64_t ts;
    size_t len;
    uint8_t body[64];
} rec_tag_t;

typedef struct recorder {
    rec_tag_t tags[16];
    size_t n;
    int fail_at; /* return an error on this tag (1-based), 0 never */
} recorder_t;

static int record(void *arg, uint8_t tag_type, int64_t ts_ms, sl_buf_t *buf,
                  const uint8_t *body, size_t len)
{
    recorder_t *r = arg;
    assert_true(r->n < SL_ARRAY_SIZE(r->tags));
    assert_true(len <= sizeof(r->tags[0].body));
    assert_ptr_equal(body, buf->data);
    assert_int_equal(buf->len, len);
    rec_tag_t *t = &r->tags[r->n++];
    t->type = tag_type;
    t->ts = ts_ms;
    t->len = len;
    memcpy(t->body, body, len);
    return (int)r->n == r->fail_at ? SL_ERR_CLOSED : 0;
}

static void put_tag(sl_bytes_t *v, uint8_t type, uint32_t ts, const uint8_t *body, size_t len)
{
    assert_int_equal(sl_bytes_put_u8(v, type), SL_OK);
    assert_int_equal(sl_bytes_put_be24(v, (uint32_t)len), SL_OK);
    assert_int_equal(sl_bytes_put_be24(v, ts & 0xffffff), SL_OK);
    assert_int_equal(sl_bytes_put_u8(v, (uint8_t)(ts >> 24)), SL_OK);
    assert_int_equal(sl_bytes_put_be24(v, 0), SL_OK);
    assert_int_equal(sl_bytes_append(v, body, len), SL_OK);
    assert_int_equal(sl_bytes_put_be32(v, (uint32_t)(11 + len)), SL_OK);
}

static const uint8_t AVC_CFG[] = {0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64, 0x00, 0x1f};
static const uint8_t AVC_KEY[] = {0x17, 0x01, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x01, 0x65};
static const uint8_t AAC_RAW[] = {0xaf, 0x01, 0x21, 0x10};

static void build_stream(sl_bytes_t *v)
{
    uint8_t h[SL_FLV_FILE_HEADER_LEN];
    sl_flv_file_header(h, true, true);
    sl_bytes_init(v);
    assert_int_equal(sl_bytes_append(v, h, sizeof(h)), SL_OK);
    put_tag(v, SL_FLV_TAG_SCRIPT, 0, META_BODY, sizeof(META_BODY));
    put_tag(v, SL_FLV_TAG_VIDEO, 0, AVC_CFG, sizeof(AVC_CFG));
    put_tag(v, 0x0f, 10, AAC_RAW, sizeof(AAC_RAW)); /* unknown type: skipped */
    put_tag(v, SL_FLV_TAG_VIDEO, 0x01000020, AVC_KEY, sizeof(AVC_KEY));
    put_tag(v, SL_FLV_TAG_AUDIO, 0x01000010, AAC_RAW, sizeof(AAC_RAW));
    put_tag(v, SL_FLV_TAG_VIDEO, 0x01000030, NULL, 0); /* empty body, still delivered */
}

static void check_stream_tags(const recorder_t *r)
{
    assert_int_equal(r->n, 5);
    assert_int_equal(r->tags[0].type, SL_FLV_TAG_SCRIPT);
    assert_int_equal(r->tags[0].len, sizeof(META_BODY));
    assert_memory_equal(r->tags[0].body, META_BODY, sizeof(META_BODY));
    assert_int_equal(r->tags[1].type, SL_FLV_TAG_VIDEO);
    assert_memory_equal(r->tags[1].body, AVC_CFG, sizeof(AVC_CFG));
    assert_int_equal(r->tags[2].type, SL_FLV_TAG_VIDEO);
    assert_int_equal(r->tags[2].ts, 0x01000020);
    assert_memory_equal(r->tags[2].body, AVC_KEY, sizeof(AVC_KEY));
    assert_int_equal(r->tags[3].type, SL_FLV_TAG_AUDIO);
    assert_int_equal(r->tags[3].ts, 0x01000010);
    assert_memory_equal(r->tags[3].body, AAC_RAW, sizeof(AAC_RAW));
    assert_int_equal(r->tags[4].len, 0);
    assert_int_equal(r->tags[4].ts, 0x01000030);
}

static void test_demuxer_any_split(void **state)
{
    sl_bytes_t v;
    build_stream(&v);

    recorder_t *whole = calloc(1, sizeof(*whole)), *bytewise = calloc(1, sizeof(*bytewise));
    assert_non_null(whole);
    assert_non_null(bytewise);
    sl_flv_demuxer_t d;
    sl_flv_demuxer_init(&d, 1024);
    assert_int_equal(sl_flv_demuxer_feed(&d, v.data, v.len, record, whole), SL_OK);
    sl_flv_demuxer_free(&d);

    sl_flv_demuxer_init(&d, 1024);
    for (size_t i = 0; i < v.len; i++)
        assert_int_equal(sl_flv_demuxer_feed(&d, v.data + i, 1, record, bytewise), SL_OK);
    sl_flv_demuxer_free(&d);

    check_stream_tags(whole);
    assert_int_equal(bytewise->n, whole->n);
    for (size_t i = 0; i < whole->n; i++) {
        assert_int_equal(bytewise->tags[i].type, whole->tags[i].type);
        assert_int_equal(bytewise->tags[i].ts, whole->tags[i].ts);
        assert_int_equal(bytewise->tags[i].len, whole->tags[i].len);
        assert_memory_equal(bytewise->tags[i].body, whole->tags[i].body, whole->tags[i].len);
    }

    /* A stream cut in the middle of a tag holds the partial body; free releases it. */
    recorder_t *cut = calloc(1, sizeof(*cut));
    assert_non_null(cut);
    sl_flv_demuxer_init(&d, 1024);
    assert_int_equal(sl_flv_demuxer_feed(&d, v.data, 13 + 15 + 5, record, cut), SL_OK);
    assert_int_equal(cut->n, 0);
    sl_flv_demuxer_free(&d);

    free(cut);
    free(whole);
    free(bytewise);
    sl_bytes_free(&v);
}

static void test_demuxer_timestamp_wrap(void **state)
{
    uint8_t h[SL_FLV_FILE_HEADER_LEN];
    sl_flv_file_header(h, true, false);
    sl_bytes_t v;
    sl_bytes_init(&v);
    assert_int_equal(sl_bytes_append(&v, h, sizeof(h)), SL_OK);
    put_tag(&v, SL_FLV_TAG_AUDIO, 0xffffff00u, AAC_RAW, sizeof(AAC_RAW));
    put_tag(&v, SL_FLV_TAG_AUDIO, 0x00000010u, AAC_RAW, sizeof(AAC_RAW));
    put_tag(&v, SL_FLV_TAG_AUDIO, 0xfffffff0u, AAC_RAW, sizeof(AAC_RAW)); /* a bit back */
    put_tag(&v, SL_FLV_TAG_AUDIO, 0x70000000u, AAC_RAW, sizeof(AAC_RAW));
    put_tag(&v, SL_FLV_TAG_AUDIO, 0xe0000000u, AAC_RAW, sizeof(AAC_RAW));
    put_tag(&v, SL_FLV_TAG_AUDIO, 0x00000030u, AAC_RAW, sizeof(AAC_RAW)); /* second wrap */

    recorder_t *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    sl_flv_demuxer_t d;
    sl_flv_demuxer_init(&d, 1024);
    assert_int_equal(sl_flv_demuxer_feed(&d, v.data, v.len, record, r), SL_OK);
    sl_flv_demuxer_free(&d);
    assert_int_equal(r->n, 6);
    const int64_t wrap = (int64_t)1 << 32;
    assert_int_equal(r->tags[0].ts, 0xffffff00);
    assert_int_equal(r->tags[1].ts, wrap + 0x10);
    assert_int_equal(r->tags[2].ts, wrap - 0x10);
    assert_int_equal(r->tags[3].ts, wrap + 0x70000000);
    assert_int_equal(r->tags[4].ts, wrap + 0xe0000000);
    assert_int_equal(r->tags[5].ts, 2 * wrap + 0x30);
    free(r);
    sl_bytes_free(&v);
}

static int feed_all(const uint8_t *data, size_t len, uint32_t max, recorder_t *r)
{
    sl_flv_demuxer_t d;
    sl_flv_demuxer_init(&d, max);
    int rc = sl_flv_demuxer_feed(&d, data, len, record, r);
    /* Errors are sticky. */
    if (rc != SL_OK) assert_int_equal(sl_flv_demuxer_feed(&d, data, len, record, r), rc);
    sl_flv_demuxer_free(&d);
    return rc;
}

static void test_demuxer_errors(void **state)
{
    recorder_t *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    const uint8_t bad_sig[] = {'F', 'L', 'X', 0x01, 0x05, 0x00, 0x00, 0x00, 0x09};
    assert_int_equal(feed_all(bad_sig, sizeof(bad_sig), 1024, r), SL_ERR_PROTO);
    const uint8_t bad_version[] = {'F', 'L', 'V', 0x02, 0x05, 0x00, 0x00, 0x00, 0x09};
    assert_int_equal(feed_all(bad_version, sizeof(bad_version), 1024, r), SL_ERR_PROTO);
    const uint8_t bad_size[] = {'F', 'L', 'V', 0x01, 0x05, 0x00, 0x00, 0x00, 0x0a};
    assert_int_equal(feed_all(bad_size, sizeof(bad_size), 1024, r), SL_ERR_PROTO);
    /* A partial header is not an error yet. */
    assert_int_equal(feed_all(bad_sig, 2, 1024, r), SL_OK);
    assert_int_equal(r->n, 0);

    /* The key frame (10 bytes) is over a 9-byte limit; the tags before it pass. */
    sl_bytes_t v;
    uint8_t h[SL_FLV_FILE_HEADER_LEN];
    sl_flv_file_header(h, true, true);
    sl_bytes_init(&v);
    assert_int_equal(sl_bytes_append(&v, h, sizeof(h)), SL_OK);
    put_tag(&v, SL_FLV_TAG_AUDIO, 0, AAC_RAW, sizeof(AAC_RAW));
    put_tag(&v, SL_FLV_TAG_VIDEO, 0, AVC_CFG, sizeof(AVC_CFG));
    put_tag(&v, SL_FLV_TAG_VIDEO, 0, AVC_KEY, sizeof(AVC_KEY));
    assert_int_equal(feed_all(v.data, v.len, sizeof(AVC_CFG), r), SL_ERR_TOO_BIG);
    assert_int_equal(r->n, 2);
    sl_bytes_free(&v);

    build_stream(&v);

    /* A callback error stops at that tag. */
    memset(r, 0, sizeof(*r));
    r->fail_at = 3;
    assert_int_equal(feed_all(v.data, v.len, 1024, r), SL_ERR_CLOSED);
    assert_int_equal(r->n, 3);
    sl_bytes_free(&v);
    free(r);
}

typedef struct seen {
    int n;
    uint8_t types[4];
    int64_t ts[4];
    size_t lens[4];
} seen_t;

static int record_tag(void *arg, uint8_t type, int64_t ts_ms, sl_buf_t *buf, const uint8_t *body, size_t len)
{
    seen_t *s = arg;
    assert_true(s->n < 4 && body >= buf->data && body + len <= buf->data + buf->len);
    s->types[s->n] = type;
    s->ts[s->n] = ts_ms;
    s->lens[s->n++] = len;
    return SL_OK;
}

/* An aggregate message: tags at 1000 and 1040 (their own clock) delivered at the
 * message's 5000 and 5040; a tag of another type is skipped; a cut run is refused. */
static void test_aggregate(void **state)
{
    static const uint8_t run[] = {
        9, 0, 0, 2, 0, 0x03, 0xe8, 0, 0, 0, 0, 0x17, 0x01, 0, 0, 0, 13,   /* video, 2 bytes, ts 1000 */
        7, 0, 0, 1, 0, 0x04, 0x10, 0, 0, 0, 0, 0xaa, 0, 0, 0, 12,         /* type 7: skipped */
        8, 0, 0, 1, 0, 0x04, 0x10, 0, 0, 0, 0, 0xaf, 0, 0, 0, 12,         /* audio, 1 byte, ts 1040 */
    };
    sl_buf_t *buf = sl_buf_new(sizeof(run));
    assert_non_null(buf);
    memcpy(buf->data, run, sizeof(run));
    buf->len = sizeof(run);
    seen_t s = {0};
    assert_int_equal(sl_flv_aggregate_foreach(buf, buf->data, buf->len, 5000, record_tag, &s), SL_OK);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.types[0], SL_FLV_TAG_VIDEO);
    assert_int_equal(s.ts[0], 5000);
    assert_int_equal(s.lens[0], 2);
    assert_int_equal(s.types[1], SL_FLV_TAG_AUDIO);
    assert_int_equal(s.ts[1], 5040);
    assert_int_equal(s.lens[1], 1);
    seen_t cut = {0};
    assert_int_equal(sl_flv_aggregate_foreach(buf, buf->data, buf->len - 3, 5000, record_tag, &cut), SL_ERR_PROTO);
    sl_buf_unref(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_h264_key_frame_with_cts),
        cmocka_unit_test(test_h264_inter_negative_cts),
        cmocka_unit_test(test_h264_config),
        cmocka_unit_test(test_hevc_codec_id_12),
        cmocka_unit_test(test_enhanced_hvc1),
        cmocka_unit_test(test_enhanced_other_packets),
        cmocka_unit_test(test_video_ignored_and_unsupported),
        cmocka_unit_test(test_aac),
        cmocka_unit_test(test_script),
        cmocka_unit_test(test_unknown_tag_and_hostile_ts),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_opus_unsupported),
        cmocka_unit_test(test_derived_aac_is_plain_aac),
        cmocka_unit_test(test_tag_bytes_and_cache),
        cmocka_unit_test(test_tag_timestamp_clamp_and_wrap),
        cmocka_unit_test(test_data_tag),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_file_header),
        cmocka_unit_test(test_demuxer_any_split),
        cmocka_unit_test(test_demuxer_timestamp_wrap),
        cmocka_unit_test(test_demuxer_errors),
        cmocka_unit_test(test_aggregate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
