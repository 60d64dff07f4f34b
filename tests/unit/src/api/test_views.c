/* The JSON documents of the API, built from a hub and a client registry made by
 * hand: field names, types and values as docs/api.md shows them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "src/api/views.h"

/* avcC of testsrc2 1280x720 30 fps, libx264 High 3.1. */
static const char AVCC_720[] = "0164001fffe1001a6764001facd9405005bb0110000003001000000303c0f1831960"
                               "01000668ebe3cb22c0fdf8f800";

typedef struct fx {
    sl_config_t cfg;
    sl_server_t srv;
    sl_stream_t *stream;
    sl_conn_t publisher, player;
} fx_t;

static void push_config(fx_t *f, sl_media_t media, sl_codec_t codec, const uint8_t *data, size_t len)
{
    sl_frame_t *fr = sl_frame_copy_of(media, codec, SL_FRAME_CONFIG, 0, 0, data, len);
    assert_non_null(fr);
    assert_int_equal(sl_stream_push(f->stream, fr, 1000), SL_OK);
    sl_frame_unref(fr);
}

static void noop_close(sl_conn_t *c, const char *reason) { (void)c, (void)reason; }

static int setup(void **state)
{
    static fx_t f;
    memset(&f, 0, sizeof(f));
    sl_config_defaults(&f.cfg);
    f.srv.cfg = &f.cfg;
    f.srv.loop = uv_default_loop();
    f.srv.hub = sl_hub_new(&f.cfg);
    f.srv.started_ms = sl_unix_ms() - 5000;
    sl_list_init(&f.srv.conns);
    assert_int_equal(sl_hub_publish(f.srv.hub, "live/cam", &f.stream), SL_OK);
    uint8_t avcc[128];
    size_t n = strlen(AVCC_720) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned x;
        sscanf(AVCC_720 + 2 * i, "%2x", &x);
        avcc[i] = (uint8_t)x;
    }
    push_config(&f, SL_MEDIA_VIDEO, SL_CODEC_H264, avcc, n);
    static const uint8_t asc[] = {0x12, 0x10};
    push_config(&f, SL_MEDIA_AUDIO, SL_CODEC_AAC, asc, sizeof(asc));
    sl_conn_init(&f.publisher, 7, SL_PROTO_RTSP, "10.0.0.1:5000", "live/cam", noop_close);
    f.publisher.role = SL_ROLE_PUBLISHER;
    f.publisher.bytes_in = 12345;
    sl_conn_init(&f.player, 9, SL_PROTO_WEBRTC, "10.0.0.2:6000", "live/cam", noop_close);
    f.player.role = SL_ROLE_PLAYER;
    f.player.bytes_out = 777;
    assert_true(sl_server_add_conn(&f.srv, &f.publisher));
    assert_true(sl_server_add_conn(&f.srv, &f.player));
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    sl_server_remove_conn(&f->srv, &f->publisher);
    sl_server_remove_conn(&f->srv, &f->player);
    sl_stream_unpublish(f->stream);
    sl_hub_free(f->srv.hub);
    return 0;
}

static const cJSON *get(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    assert_non_null(v);
    return v;
}

static void test_client(void **state)
{
    fx_t *f = *state;
    cJSON *c = sl_api_client_json(&f->player);
    assert_int_equal(get(c, "id")->valuedouble, 9);
    assert_string_equal(get(c, "protocol")->valuestring, "webrtc");
    assert_string_equal(get(c, "role")->valuestring, "player");
    assert_string_equal(get(c, "stream")->valuestring, "live/cam");
    assert_string_equal(get(c, "remote_address")->valuestring, "10.0.0.2:6000");
    assert_int_equal(get(c, "bytes_out")->valuedouble, 777);
    assert_true(cJSON_IsNumber(get(c, "bitrate_in")) && cJSON_IsNumber(get(c, "bitrate_out")));
    /* "2026-11-22T02:17:00.123Z" */
    assert_int_equal(strlen(get(c, "connected")->valuestring), 24);
    cJSON_Delete(c);
}

static void test_stream(void **state)
{
    fx_t *f = *state;
    cJSON *s = sl_api_stream_json(&f->srv, f->stream);
    assert_string_equal(get(s, "key")->valuestring, "live/cam");
    assert_string_equal(get(s, "app")->valuestring, "live");
    assert_string_equal(get(s, "name")->valuestring, "cam");
    assert_int_equal(get(get(s, "publisher"), "id")->valuedouble, 7);
    const cJSON *v = get(s, "video");
    assert_string_equal(get(v, "codec")->valuestring, "h264");
    assert_string_equal(get(v, "profile")->valuestring, "High");
    assert_int_equal(get(v, "width")->valuedouble, 1280);
    assert_int_equal(get(v, "height")->valuedouble, 720);
    const cJSON *a = get(s, "audio");
    assert_string_equal(get(a, "codec")->valuestring, "aac");
    assert_int_equal(get(a, "sample_rate")->valuedouble, 44100);
    assert_int_equal(get(a, "channels")->valuedouble, 2);
    assert_int_equal(get(s, "bytes_in")->valuedouble, 12345);
    assert_int_equal(get(s, "bytes_out")->valuedouble, 777);
    const cJSON *subs = get(s, "subscribers");
    assert_int_equal(get(subs, "total")->valuedouble, 1);
    assert_int_equal(get(subs, "webrtc")->valuedouble, 1);
    assert_null(cJSON_GetObjectItemCaseSensitive(subs, "hls"));
    cJSON_Delete(s);
}

static void test_server(void **state)
{
    fx_t *f = *state;
    cJSON *s = sl_api_server_json(&f->srv);
    assert_string_equal(get(s, "version")->valuestring, SLUICE_VERSION);
    assert_true(get(s, "uptime_s")->valuedouble >= 4);
    assert_int_equal(get(s, "streams")->valuedouble, 1);
    assert_int_equal(get(s, "connections")->valuedouble, 2);
    const cJSON *p = get(s, "protocols");
    assert_int_equal(get(get(p, "rtsp"), "connections")->valuedouble, 1);
    assert_int_equal(get(get(p, "rtsp"), "bytes_in")->valuedouble, 12345);
    assert_int_equal(get(get(p, "webrtc"), "bytes_out")->valuedouble, 777);
    assert_null(cJSON_GetObjectItemCaseSensitive(p, "hls"));
    cJSON_Delete(s);
}

/* XIU's shape: string ids, its key names, RTSP identifiers as stream_path. */
static void test_xiu(void **state)
{
    fx_t *f = *state;
    cJSON *s = sl_api_xiu_stream_json(&f->srv, f->stream, 0);
    const cJSON *pub = get(s, "publisher");
    assert_string_equal(get(pub, "id")->valuestring, "7");
    assert_string_equal(get(get(get(pub, "identifier"), "rtsp"), "stream_path")->valuestring, "live/cam");
    assert_string_equal(get(get(pub, "video"), "codec")->valuestring, "H264");
    assert_string_equal(get(get(pub, "video"), "level")->valuestring, "3.1");
    assert_string_equal(get(get(pub, "audio"), "sound_format")->valuestring, "AAC");
    assert_int_equal(get(s, "subscriber_count")->valuedouble, 1);
    assert_string_equal(get(get(get(s, "subscribers"), "9"), "sub_type")->valuestring, "PlayerWebrtc");
    cJSON_Delete(s);
    /* The publisher's id keeps no subscriber. */
    s = sl_api_xiu_stream_json(&f->srv, f->stream, 7);
    assert_null(get(s, "subscribers")->child);
    cJSON_Delete(s);
}

static void test_metrics(void **state)
{
    fx_t *f = *state;
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_api_metrics(&f->srv, &out), SL_OK);
    assert_int_equal(sl_bytes_append(&out, "", 1), SL_OK);
    const char *t = (const char *)out.data;
    assert_non_null(strstr(t, "# TYPE sluice_streams gauge\nsluice_streams 1\n"));
    assert_non_null(strstr(t, "sluice_clients{protocol=\"webrtc\"} 1\n"));
    assert_non_null(strstr(t, "sluice_publishers{protocol=\"rtsp\"} 1\n"));
    assert_non_null(strstr(t, "sluice_received_bytes_total{protocol=\"rtsp\"} 12345\n"));
    assert_non_null(strstr(t, "sluice_auth_failures_total{protocol=\"hls\"} 0\n"));
    assert_null(strstr(t, "sluice_clients{protocol=\"hls\"}"));
    sl_bytes_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client), cmocka_unit_test(test_stream), cmocka_unit_test(test_server),
        cmocka_unit_test(test_xiu),    cmocka_unit_test(test_metrics),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
