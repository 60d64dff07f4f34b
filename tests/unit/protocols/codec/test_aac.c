/* AAC helpers against configs and ADTS headers from ffmpeg's native encoder
 * (-c:a aac, MP4 esds and -f adts) and hand-assembled AudioSpecificConfigs. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "protocols/codec/aac.h"

/* The esds AudioSpecificConfig ffmpeg writes for 44100 Hz stereo LC: 12 10, then the
 * backward-compatible "no SBR" sync extension (56 e5 00), which is ignored. */
static const uint8_t ASC_44_STEREO[] = {0x12, 0x10, 0x56, 0xe5, 0x00};
/* First ADTS headers of ffmpeg -f adts: 44100 Hz stereo, a 345-byte frame; 48000 Hz
 * mono, a 219-byte frame. */
static const uint8_t ADTS_44_STEREO[] = {0xff, 0xf1, 0x50, 0x80, 0x2b, 0x3f, 0xfc};
static const uint8_t ADTS_48_MONO[] = {0xff, 0xf1, 0x4c, 0x40, 0x1b, 0x7f, 0xfc};

static void check_config(const uint8_t *asc, size_t len, int type, int rate, int index, int channels,
                         int ext_type, int ext_rate)
{
    sl_aac_config_t cfg;
    assert_int_equal(sl_aac_parse_config(asc, len, &cfg), SL_OK);
    assert_int_equal(cfg.object_type, type);
    assert_int_equal(cfg.sample_rate, rate);
    assert_int_equal(cfg.sample_rate_index, index);
    assert_int_equal(cfg.channels, channels);
    assert_int_equal(cfg.ext_object_type, ext_type);
    assert_int_equal(cfg.ext_sample_rate, ext_rate);
}

static void test_parse_config(void **state)
{
    check_config(ASC_44_STEREO, sizeof(ASC_44_STEREO), SL_AAC_LC, 44100, 4, 2, 0, 0);
    check_config(ASC_44_STEREO, 2, SL_AAC_LC, 44100, 4, 2, 0, 0);
    const uint8_t mono48[] = {0x11, 0x88};
    check_config(mono48, sizeof(mono48), SL_AAC_LC, 48000, 3, 1, 0, 0);
    /* HE-AAC, explicit: SBR at 44100 over an LC core at 22050, stereo. */
    const uint8_t he[] = {0x2b, 0x92, 0x08, 0x00};
    check_config(he, sizeof(he), SL_AAC_LC, 22050, 7, 2, SL_AAC_SBR, 44100);
    /* HE-AAC v2: PS, 48000 output over a 24000 core, mono core. */
    const uint8_t ps[] = {0xeb, 0x09, 0x88, 0x00}; /* 11101 0110 0001 0011 00010 ... */
    check_config(ps, sizeof(ps), SL_AAC_LC, 24000, 6, 1, SL_AAC_PS, 48000);
    /* Escaped object type 42 (31 + 6 bits: 10), 48000 Hz, stereo. */
    const uint8_t esc[] = {0xf9, 0x46, 0x40};
    check_config(esc, sizeof(esc), 42, 48000, 3, 2, 0, 0);
    /* Explicit 24-bit rates: 44100 maps to its table index, 50000 has none. */
    const uint8_t explicit_table[] = {0x17, 0x80, 0x56, 0x22, 0x10}; /* 00010 1111 44100 0010 */
    check_config(explicit_table, sizeof(explicit_table), SL_AAC_LC, 44100, 4, 2, 0, 0);
    const uint8_t explicit_other[] = {0x17, 0x80, 0x61, 0xa8, 0x08}; /* 00010 1111 50000 0001 */
    check_config(explicit_other, sizeof(explicit_other), SL_AAC_LC, 50000, 15, 1, 0, 0);
    /* Channel configuration 7 is 7.1 (8 channels), 0 a program config element. */
    const uint8_t c71[] = {0x11, 0xb8};
    check_config(c71, sizeof(c71), SL_AAC_LC, 48000, 3, 8, 0, 0);
    const uint8_t pce[] = {0x11, 0x80};
    check_config(pce, sizeof(pce), SL_AAC_LC, 48000, 3, 0, 0, 0);
}

static void test_parse_config_malformed(void **state)
{
    sl_aac_config_t cfg;
    assert_int_equal(sl_aac_parse_config(ASC_44_STEREO, 0, &cfg), SL_ERR_PROTO);
    assert_int_equal(sl_aac_parse_config(ASC_44_STEREO, 1, &cfg), SL_ERR_PROTO);
    const uint8_t type0[] = {0x02, 0x10};
    assert_int_equal(sl_aac_parse_config(type0, sizeof(type0), &cfg), SL_ERR_PROTO);
    const uint8_t rate13[] = {0x16, 0x90}; /* 00010 1101 0010 */
    assert_int_equal(sl_aac_parse_config(rate13, sizeof(rate13), &cfg), SL_ERR_PROTO);
    const uint8_t chan8[] = {0x11, 0xc0}; /* channel configuration 8 is reserved */
    assert_int_equal(sl_aac_parse_config(chan8, sizeof(chan8), &cfg), SL_ERR_PROTO);
    const uint8_t rate0[] = {0x17, 0x80, 0x00, 0x00, 0x10}; /* explicit rate 0 */
    assert_int_equal(sl_aac_parse_config(rate0, sizeof(rate0), &cfg), SL_ERR_PROTO);
    const uint8_t explicit_cut[] = {0x17, 0x80, 0x56, 0x22};
    assert_int_equal(sl_aac_parse_config(explicit_cut, sizeof(explicit_cut), &cfg), SL_ERR_PROTO);
    const uint8_t esc_cut[] = {0xf9, 0x46};
    assert_int_equal(sl_aac_parse_config(esc_cut, sizeof(esc_cut), &cfg), SL_ERR_PROTO);
    /* SBR over SBR: the core must be a real coder. */
    const uint8_t sbr_in_sbr[] = {0x2b, 0x92, 0x94, 0x08, 0x00};
    assert_int_equal(sl_aac_parse_config(sbr_in_sbr, sizeof(sbr_in_sbr), &cfg), SL_ERR_PROTO);
    const uint8_t he_cut[] = {0x2b, 0x92, 0x08};
    assert_int_equal(sl_aac_parse_config(he_cut, 2, &cfg), SL_ERR_PROTO);
    assert_int_equal(sl_aac_parse_config(he_cut, 3, &cfg), SL_OK);
}

static void test_build_config(void **state)
{
    uint8_t out[2];
    sl_aac_config_t cfg = {.object_type = SL_AAC_LC, .sample_rate = 44100, .sample_rate_index = 4,
                           .channels = 2};
    assert_int_equal(sl_aac_build_config(&cfg, out), SL_OK);
    assert_memory_equal(out, ASC_44_STEREO, 2);
    cfg = (sl_aac_config_t){.object_type = SL_AAC_LC, .sample_rate_index = 3, .channels = 1};
    assert_int_equal(sl_aac_build_config(&cfg, out), SL_OK);
    const uint8_t mono48[] = {0x11, 0x88};
    assert_memory_equal(out, mono48, 2);
    cfg.channels = 8;
    assert_int_equal(sl_aac_build_config(&cfg, out), SL_OK);
    const uint8_t c71[] = {0x11, 0xb8};
    assert_memory_equal(out, c71, 2);

    /* The explicit HE-AAC config builds as its LC core, and round-trips. */
    const uint8_t he[] = {0x2b, 0x92, 0x08, 0x00};
    assert_int_equal(sl_aac_parse_config(he, sizeof(he), &cfg), SL_OK);
    assert_int_equal(sl_aac_build_config(&cfg, out), SL_OK);
    const uint8_t core[] = {0x13, 0x90};
    assert_memory_equal(out, core, 2);
    sl_aac_config_t back;
    assert_int_equal(sl_aac_parse_config(out, 2, &back), SL_OK);
    assert_int_equal(back.object_type, SL_AAC_LC);
    assert_int_equal(back.sample_rate, 22050);
    assert_int_equal(back.channels, 2);

    cfg = (sl_aac_config_t){.object_type = 42, .sample_rate_index = 3, .channels = 2};
    assert_int_equal(sl_aac_build_config(&cfg, out), SL_ERR_UNSUPPORTED);
    cfg = (sl_aac_config_t){.object_type = SL_AAC_LC, .sample_rate_index = 15, .channels = 2};
    assert_int_equal(sl_aac_build_config(&cfg, out), SL_ERR_UNSUPPORTED);
    cfg = (sl_aac_config_t){.object_type = SL_AAC_LC, .sample_rate_index = 3, .channels = 9};
    assert_int_equal(sl_aac_build_config(&cfg, out), SL_ERR_UNSUPPORTED);
    cfg = (sl_aac_config_t){.object_type = SL_AAC_LC, .sample_rate_index = 3, .channels = 0};
    assert_int_equal(sl_aac_build_config(&cfg, out), SL_ERR_UNSUPPORTED);
    cfg = (sl_aac_config_t){.object_type = 0, .sample_rate_index = 3, .channels = 2};
    assert_int_equal(sl_aac_build_config(&cfg, out), SL_ERR_UNSUPPORTED);
}

static void test_adts_header(void **state)
{
    uint8_t out[SL_AAC_ADTS_HEADER_LEN];
    sl_aac_config_t cfg;
    assert_int_equal(sl_aac_parse_config(ASC_44_STEREO, sizeof(ASC_44_STEREO), &cfg), SL_OK);
    assert_int_equal(sl_aac_adts_header(&cfg, 345 - 7, out), SL_OK);
    assert_memory_equal(out, ADTS_44_STEREO, sizeof(out)); /* what ffmpeg wrote */
    cfg = (sl_aac_config_t){.object_type = SL_AAC_LC, .sample_rate = 48000, .sample_rate_index = 3,
                            .channels = 1};
    assert_int_equal(sl_aac_adts_header(&cfg, 219 - 7, out), SL_OK);
    assert_memory_equal(out, ADTS_48_MONO, sizeof(out));

    /* The largest frame: 8191 bytes with the header. */
    assert_int_equal(sl_aac_adts_header(&cfg, 8191 - 7, out), SL_OK);
    const uint8_t biggest[] = {0xff, 0xf1, 0x4c, 0x43, 0xff, 0xff, 0xfc};
    assert_memory_equal(out, biggest, sizeof(out));
    assert_int_equal(sl_aac_adts_header(&cfg, 8191 - 6, out), SL_ERR_TOO_BIG);

    cfg.object_type = SL_AAC_SBR;
    assert_int_equal(sl_aac_adts_header(&cfg, 100, out), SL_ERR_UNSUPPORTED);
    cfg.object_type = SL_AAC_LC;
    cfg.sample_rate_index = 15;
    assert_int_equal(sl_aac_adts_header(&cfg, 100, out), SL_ERR_UNSUPPORTED);
    cfg.sample_rate_index = 3;
    cfg.channels = 24; /* configuration 13 exists, but not in 3 bits */
    assert_int_equal(sl_aac_adts_header(&cfg, 100, out), SL_ERR_UNSUPPORTED);
}

static void test_parse_adts(void **state)
{
    sl_aac_config_t cfg;
    size_t hlen = 0, flen = 0;
    assert_int_equal(sl_aac_parse_adts(ADTS_44_STEREO, sizeof(ADTS_44_STEREO), &cfg, &hlen, &flen), SL_OK);
    assert_int_equal(cfg.object_type, SL_AAC_LC);
    assert_int_equal(cfg.sample_rate, 44100);
    assert_int_equal(cfg.sample_rate_index, 4);
    assert_int_equal(cfg.channels, 2);
    assert_int_equal(hlen, 7);
    assert_int_equal(flen, 345);
    assert_int_equal(sl_aac_parse_adts(ADTS_48_MONO, sizeof(ADTS_48_MONO), &cfg, &hlen, &flen), SL_OK);
    assert_int_equal(cfg.sample_rate, 48000);
    assert_int_equal(cfg.channels, 1);
    assert_int_equal(flen, 219);

    /* Round trip through the writer for every table rate and ADTS channel layout. */
    for (int index = 0; index < 13; index++) {
        for (int chan = 1; chan <= 8; chan++) {
            if (chan == 7) continue;
            sl_aac_config_t in = {.object_type = SL_AAC_LC, .sample_rate_index = index, .channels = chan};
            uint8_t h[SL_AAC_ADTS_HEADER_LEN];
            assert_int_equal(sl_aac_adts_header(&in, 1000 + (size_t)index, h), SL_OK);
            assert_int_equal(sl_aac_parse_adts(h, sizeof(h), &cfg, &hlen, &flen), SL_OK);
            assert_int_equal(cfg.sample_rate_index, index);
            assert_int_equal(cfg.channels, chan);
            assert_int_equal(flen, 1007 + (size_t)index);
        }
    }

    /* With CRC the header is 9 bytes. */
    const uint8_t crc[] = {0xff, 0xf0, 0x50, 0x80, 0x2b, 0x5f, 0xfc, 0x12, 0x34};
    assert_int_equal(sl_aac_parse_adts(crc, 8, &cfg, &hlen, &flen), SL_ERR_AGAIN);
    assert_int_equal(sl_aac_parse_adts(crc, 9, &cfg, &hlen, &flen), SL_OK);
    assert_int_equal(hlen, 9);
    assert_int_equal(flen, 346);
}

static void test_parse_adts_malformed(void **state)
{
    sl_aac_config_t cfg;
    size_t hlen, flen;
    for (size_t len = 0; len < 7; len++) {
        assert_int_equal(sl_aac_parse_adts(ADTS_44_STEREO, len, &cfg, &hlen, &flen), SL_ERR_AGAIN);
    }
    uint8_t bad[7];
    memcpy(bad, ADTS_44_STEREO, 7);
    bad[1] = 0xe1; /* broken syncword */
    assert_int_equal(sl_aac_parse_adts(bad, 7, &cfg, &hlen, &flen), SL_ERR_PROTO);
    memcpy(bad, ADTS_44_STEREO, 7);
    bad[1] = 0xf3; /* layer 1 */
    assert_int_equal(sl_aac_parse_adts(bad, 7, &cfg, &hlen, &flen), SL_ERR_PROTO);
    memcpy(bad, ADTS_44_STEREO, 7);
    bad[2] = 0x74; /* rate index 13 */
    assert_int_equal(sl_aac_parse_adts(bad, 7, &cfg, &hlen, &flen), SL_ERR_PROTO);
    memcpy(bad, ADTS_44_STEREO, 7);
    bad[3] = 0x80;
    bad[4] = 0x00;
    bad[5] = 0xff; /* frame length 7: no payload */
    assert_int_equal(sl_aac_parse_adts(bad, 7, &cfg, &hlen, &flen), SL_ERR_PROTO);
    memcpy(bad, ADTS_44_STEREO, 7);
    bad[6] = 0xfd; /* two raw data blocks */
    assert_int_equal(sl_aac_parse_adts(bad, 7, &cfg, &hlen, &flen), SL_ERR_UNSUPPORTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_config),
        cmocka_unit_test(test_parse_config_malformed),
        cmocka_unit_test(test_build_config),
        cmocka_unit_test(test_adts_header),
        cmocka_unit_test(test_parse_adts),
        cmocka_unit_test(test_parse_adts_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
