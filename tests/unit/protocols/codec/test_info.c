/* Codec descriptions for the API, from configs of real encoders. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "protocols/codec/info.h"
#include "protocols/rtp/rtp_opus.h"

/* The avcC ffmpeg writes for testsrc2 1280x720 30 fps, libx264 -profile:v high. */
static const char AVCC_720[] = "0164001fffe1001a6764001facd9405005bb0110000003001000000303c0f1831960"
                               "01000668ebe3cb22c0fdf8f800";

static sl_frame_t *config_of(sl_codec_t codec, sl_media_t media, const uint8_t *data, size_t len)
{
    sl_frame_t *f = sl_frame_copy_of(media, codec, SL_FRAME_CONFIG, 0, 0, data, len);
    assert_non_null(f);
    return f;
}

static size_t unhex(const char *s, uint8_t *out)
{
    size_t n = strlen(s) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned x;
        assert_int_equal(sscanf(s + 2 * i, "%2x", &x), 1);
        out[i] = (uint8_t)x;
    }
    return n;
}

static void test_h264(void **state)
{
    uint8_t rec[128];
    sl_frame_t *f = config_of(SL_CODEC_H264, SL_MEDIA_VIDEO, rec, unhex(AVCC_720, rec));
    sl_codec_info_t info;
    sl_codec_info_of(f, &info);
    assert_string_equal(info.codec, "h264");
    assert_string_equal(info.profile, "High");
    assert_true(info.level > 3.09 && info.level < 3.11);
    assert_int_equal(info.width, 1280);
    assert_int_equal(info.height, 720);
    assert_true(info.fps > 29.9 && info.fps < 30.1);
    sl_frame_unref(f);
}

static void test_aac_and_opus(void **state)
{
    static const uint8_t asc[] = {0x12, 0x10}; /* LC, 44100 Hz, stereo */
    sl_frame_t *f = config_of(SL_CODEC_AAC, SL_MEDIA_AUDIO, asc, sizeof(asc));
    sl_codec_info_t info;
    sl_codec_info_of(f, &info);
    assert_string_equal(info.codec, "aac");
    assert_string_equal(info.profile, "LC");
    assert_int_equal(info.sample_rate, 44100);
    assert_int_equal(info.channels, 2);
    sl_frame_unref(f);

    uint8_t head[SL_OPUS_HEAD_LEN];
    sl_rtp_opus_head(1, head);
    f = config_of(SL_CODEC_OPUS, SL_MEDIA_AUDIO, head, sizeof(head));
    sl_codec_info_of(f, &info);
    assert_string_equal(info.codec, "opus");
    assert_int_equal(info.sample_rate, 48000);
    assert_int_equal(info.channels, 1);
    sl_frame_unref(f);
}

/* A broken config still names its codec and gives nothing else. */
static void test_malformed(void **state)
{
    static const uint8_t junk[] = {0x01, 0x64};
    sl_frame_t *f = config_of(SL_CODEC_H264, SL_MEDIA_VIDEO, junk, sizeof(junk));
    sl_codec_info_t info;
    sl_codec_info_of(f, &info);
    assert_string_equal(info.codec, "h264");
    assert_null(info.profile);
    assert_int_equal(info.width, 0);
    sl_frame_unref(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_h264),
        cmocka_unit_test(test_aac_and_opus),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
