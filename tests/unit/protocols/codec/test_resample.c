/* The resampler against its contract: bounds, equal rates as a copy, the same
 * output bit for bit however the input is split, the frame count and the delay
 * after ten minutes, and the quality of 44.1 <-> 48 kHz conversion measured on
 * sine waves (level, THD+N, anti-aliasing). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/codec/resample.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* xorshift64*: a fixed, portable sequence so failures reproduce. */
static uint32_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static float *sine(uint32_t rate, double hz, double amp, size_t frames, int channels)
{
    float *s = malloc(frames * (size_t)channels * sizeof(float));
    assert_non_null(s);
    for (size_t i = 0; i < frames; i++)
        for (int c = 0; c < channels; c++) s[i * channels + c] = (float)(amp * sin(2 * M_PI * hz * (double)i / rate));
    return s;
}

static float *noise(size_t frames, int channels)
{
    float *s = malloc(frames * (size_t)channels * sizeof(float));
    assert_non_null(s);
    for (size_t i = 0; i < frames * (size_t)channels; i++) s[i] = (float)rnd() / 4294967296.0f - 0.5f;
    return s;
}

static sl_resampler_t *make(uint32_t in_rate, uint32_t out_rate, int channels)
{
    sl_resampler_t *r;
    assert_int_equal(sl_resampler_new(in_rate, out_rate, channels, &r), SL_OK);
    return r;
}

/* Converts in one call; returns the output frames, their count in *n. */
static float *convert_all(uint32_t in_rate, uint32_t out_rate, int channels, const float *in, size_t frames,
                          size_t *n)
{
    sl_resampler_t *r = make(in_rate, out_rate, channels);
    sl_bytes_t out;
    sl_bytes_init(&out);
    assert_int_equal(sl_resampler_process(r, in, frames, &out, n), SL_OK);
    assert_int_equal(out.len, *n * channels * sizeof(float));
    sl_resampler_free(r);
    float *y = malloc(out.len + 1);
    assert_non_null(y);
    memcpy(y, out.data, out.len);
    sl_bytes_free(&out);
    return y;
}

static void test_bounds(void **state)
{
    sl_resampler_t *r = (sl_resampler_t *)1;
    assert_int_equal(sl_resampler_new(7999, 48000, 2, &r), SL_ERR_CONFIG);
    assert_null(r);
    assert_int_equal(sl_resampler_new(44100, 192001, 2, &r), SL_ERR_CONFIG);
    assert_int_equal(sl_resampler_new(0, 48000, 1, &r), SL_ERR_CONFIG);
    assert_int_equal(sl_resampler_new(44100, 48000, 0, &r), SL_ERR_CONFIG);
    assert_int_equal(sl_resampler_new(44100, 48000, 9, &r), SL_ERR_CONFIG);
    assert_int_equal(sl_resampler_new(44100, 48000, -1, &r), SL_ERR_CONFIG);
    /* Ratios with a term over 4096 in lowest terms: 47999:48000 would need 48000
     * phases, megabytes of table. 4097:4096 is just over, 4096:4095 just under. */
    assert_int_equal(sl_resampler_new(47999, 48000, 1, &r), SL_ERR_CONFIG);
    assert_null(r);
    assert_int_equal(sl_resampler_new(4097 * 46, 4096 * 46, 1, &r), SL_ERR_CONFIG);
    sl_resampler_free(make(4096 * 46, 4095 * 46, 1));
    /* The extremes of the range, both ways, and every channel count. */
    sl_resampler_free(make(8000, 192000, 8));
    sl_resampler_free(make(192000, 8000, 1));
    sl_resampler_free(make(11025, 192000, 2));
    sl_resampler_free(make(192000, 11025, 2));
    for (int c = 1; c <= 8; c++) sl_resampler_free(make(44100, 48000, c));
    sl_resampler_free(NULL);
}

static void test_equal_rates_copy(void **state)
{
    sl_resampler_t *r = make(48000, 48000, 3);
    assert_int_equal(sl_resampler_delay(r), 0);
    float *in = noise(1000, 3);
    sl_bytes_t out;
    sl_bytes_init(&out);
    size_t made = 99;
    assert_int_equal(sl_resampler_process(r, NULL, 0, &out, &made), SL_OK);
    assert_int_equal(made, 0);
    assert_int_equal(sl_resampler_process(r, in, 400, &out, &made), SL_OK);
    assert_int_equal(made, 400);
    assert_int_equal(sl_resampler_process(r, in + 400 * 3, 600, &out, NULL), SL_OK);
    assert_int_equal(out.len, 1000 * 3 * sizeof(float));
    assert_memory_equal(out.data, in, out.len);
    sl_bytes_free(&out);
    free(in);
    sl_resampler_free(r);
}

/* Feeds `in` in random pieces (empty ones included) and checks the output is the
 * one-call output, bit for bit, and each call's count what it appended. */
static void check_split(uint32_t in_rate, uint32_t out_rate, int channels)
{
    const size_t frames = 20000;
    float *in = noise(frames, channels);
    size_t whole_n;
    float *whole = convert_all(in_rate, out_rate, channels, in, frames, &whole_n);
    sl_resampler_t *r = make(in_rate, out_rate, channels);
    sl_bytes_t out;
    sl_bytes_init(&out);
    size_t total = 0;
    for (size_t done = 0; done < frames;) {
        size_t want = rnd() % 4 == 0 ? rnd() % 3 : rnd() % 3000;
        size_t chunk = SL_MIN(frames - done, want);
        size_t made, before = out.len;
        assert_int_equal(sl_resampler_process(r, in + done * channels, chunk, &out, &made), SL_OK);
        assert_int_equal(out.len - before, made * channels * sizeof(float));
        total += made;
        done += chunk;
    }
    assert_int_equal(total, whole_n);
    assert_memory_equal(out.data, whole, whole_n * channels * sizeof(float));
    sl_bytes_free(&out);
    sl_resampler_free(r);
    free(whole);
    free(in);
}

static void test_split_bit_exact(void **state)
{
    check_split(44100, 48000, 2);
    check_split(48000, 44100, 1);
    check_split(8000, 48000, 6);
    check_split(192000, 8000, 2);
    check_split(22050, 16000, 8);
}

/* After each input frame the total output is floor(N * out / in) frames or one
 * more, as the header promises. A fresh, empty vector for each call: most calls
 * add nothing to it. */
static void check_counts(uint32_t in_rate, uint32_t out_rate)
{
    sl_resampler_t *r = make(in_rate, out_rate, 1);
    sl_bytes_t out;
    sl_bytes_init(&out);
    float x = 0.25f;
    uint64_t total = 0;
    for (uint64_t n = 1; n <= 5000; n++) {
        size_t made;
        assert_int_equal(sl_resampler_process(r, &x, 1, &out, &made), SL_OK);
        total += made;
        uint64_t promised = n * out_rate / in_rate;
        assert_true(total == promised || total == promised + 1);
        sl_bytes_free(&out);
    }
    sl_bytes_free(&out);
    sl_resampler_free(r);
}

static void test_frame_counts(void **state)
{
    check_counts(44100, 48000);
    check_counts(48000, 44100);
    check_counts(8000, 192000);
    check_counts(192000, 8000);
    check_counts(32000, 44100);
}

/* A unit impulse at input frame t peaks at output frame round(t * out / in) +
 * delay, the one nearest to it in time (t is chosen away from ties). */
static void check_impulse(uint32_t in_rate, uint32_t out_rate, size_t t)
{
    size_t frames = t + in_rate / 10;
    float *in = calloc(frames, sizeof(float));
    assert_non_null(in);
    in[t] = 1.0f;
    size_t n;
    float *y = convert_all(in_rate, out_rate, 1, in, frames, &n);
    size_t peak = 0;
    for (size_t k = 1; k < n; k++)
        if (fabsf(y[k]) > fabsf(y[peak])) peak = k;
    sl_resampler_t *r = make(in_rate, out_rate, 1);
    size_t expect = (size_t)floor((double)t * out_rate / in_rate + 0.5) + sl_resampler_delay(r);
    assert_int_equal(peak, expect);
    /* A band-limited impulse peaks at about the lower rate over the input rate. */
    assert_true(y[peak] > 0.5f * SL_MIN(1.0f, (float)out_rate / in_rate));
    sl_resampler_free(r);
    free(y);
    free(in);
}

static void test_impulse_delay(void **state)
{
    sl_resampler_t *r = make(44100, 48000, 2);
    assert_int_equal(sl_resampler_delay(r), 34); /* the header's example */
    sl_resampler_free(r);
    check_impulse(44100, 48000, 1000);
    check_impulse(48000, 44100, 1000);
    check_impulse(8000, 48000, 333);
    check_impulse(192000, 8000, 24 * 50 + 7);
    /* The first input frame is not cut: it comes out at `delay`. */
    check_impulse(44100, 48000, 0);
    check_impulse(16000, 8000, 0);
}

/* Ten minutes of 44.1 kHz in random chunks: the frame count still matches the
 * promise, and a marker near the end comes out where the delay says. */
static void test_drift_ten_minutes(void **state)
{
    const uint64_t frames = 10 * 60 * 44100;
    const uint64_t marker = frames - 44100 / 2 + 3; /* at 0.27 of an output frame */
    sl_resampler_t *r = make(44100, 48000, 1);
    float *chunk = calloc(4096, sizeof(float));
    assert_non_null(chunk);
    sl_bytes_t out;
    sl_bytes_init(&out);
    uint64_t in_pos = 0, out_pos = 0, peak_at = 0;
    float peak = 0;
    int calls = 0;
    while (in_pos < frames) {
        uint64_t want = 1 + rnd() % 4096;
        size_t n = (size_t)SL_MIN(frames - in_pos, want);
        bool has_marker = marker >= in_pos && marker < in_pos + n;
        if (has_marker) chunk[marker - in_pos] = 1.0f;
        size_t made;
        out.len = 0;
        assert_int_equal(sl_resampler_process(r, chunk, n, &out, &made), SL_OK);
        if (has_marker) chunk[marker - in_pos] = 0.0f;
        for (size_t k = 0; k < made; k++) {
            float v;
            memcpy(&v, out.data + k * sizeof(float), sizeof(v));
            if (fabsf(v) > peak) {
                peak = fabsf(v);
                peak_at = out_pos + k;
            }
        }
        in_pos += n;
        out_pos += made;
        calls++;
        uint64_t promised = in_pos * 48000 / 44100;
        assert_true(out_pos == promised || out_pos == promised + 1);
    }
    assert_true(calls < 20000);
    assert_true(peak > 0.5f);
    uint64_t expect = (uint64_t)floor((double)marker * 48000 / 44100 + 0.5) + sl_resampler_delay(r);
    assert_int_equal(peak_at, expect);
    sl_bytes_free(&out);
    free(chunk);
    sl_resampler_free(r);
}

/* Least-squares fit of a sine at hz over y[0..n) (n a whole number of periods):
 * its level relative to amp in dB, and everything else (THD+N) relative to it. */
static void measure(const float *y, size_t n, int stride, uint32_t rate, double hz, double amp, double *level_db,
                    double *thdn_db)
{
    double a = 0, b = 0;
    for (size_t i = 0; i < n; i++) {
        double w = 2 * M_PI * hz * (double)i / rate;
        a += y[i * stride] * sin(w);
        b += y[i * stride] * cos(w);
    }
    a *= 2.0 / n;
    b *= 2.0 / n;
    double rest = 0;
    for (size_t i = 0; i < n; i++) {
        double w = 2 * M_PI * hz * (double)i / rate;
        double e = y[i * stride] - (a * sin(w) + b * cos(w));
        rest += e * e;
    }
    double fund = (a * a + b * b) / 2;
    *level_db = 10 * log10(fund / (amp * amp / 2));
    *thdn_db = 10 * log10(rest / n / fund);
}

/* A tone converted in one call, measured on each channel over a multiple of
 * `span` output frames (a whole number of periods) after the filter's lead-in:
 * the worst level and THD+N of the channels. */
static void tone(uint32_t in_rate, uint32_t out_rate, int channels, double hz, size_t span, double *level_db,
                 double *thdn_db)
{
    size_t frames = in_rate / 2;
    float *in = sine(in_rate, hz, 0.5, frames, channels);
    size_t n;
    float *y = convert_all(in_rate, out_rate, channels, in, frames, &n);
    size_t skip = 2000;
    size_t len = (n - skip) / span * span;
    assert_true(len >= span);
    for (int c = 0; c < channels; c++) {
        double lv, th;
        measure(y + skip * channels + c, len, channels, out_rate, hz, 0.5, &lv, &th);
        if (c == 0 || th > *thdn_db) *thdn_db = th;
        if (c == 0 || fabs(lv) > fabs(*level_db)) *level_db = lv;
    }
    free(y);
    free(in);
}

static void test_sine_1k(void **state)
{
    static const struct {
        uint32_t in, out;
        int channels;
    } cases[] = {{44100, 48000, 2}, {48000, 44100, 2}, {16000, 48000, 1}, {48000, 16000, 1},
                 {8000, 44100, 1},  {44100, 8000, 1},  {22050, 48000, 2}, {96000, 44100, 1}};
    for (size_t i = 0; i < SL_ARRAY_SIZE(cases); i++) {
        double level, thdn;
        /* 1 kHz takes a whole number of samples per 40 ms at any of these rates. */
        tone(cases[i].in, cases[i].out, cases[i].channels, 1000.0, cases[i].out / 25, &level, &thdn);
        print_message("1 kHz %u -> %u: level %.4f dB, THD+N %.1f dB\n", cases[i].in, cases[i].out, level, thdn);
        assert_true(fabs(level) < 0.01);
        assert_true(thdn < -60.0);
    }
}

static void test_band_edges(void **state)
{
    double level, thdn;
    /* 20 kHz passes 48 -> 44.1 at close to full level: 441 samples hold 200 periods. */
    tone(48000, 44100, 1, 20000.0, 441, &level, &thdn);
    print_message("20 kHz 48000 -> 44100: level %.3f dB, THD+N %.1f dB\n", level, thdn);
    assert_true(level > -0.5 && level < 0.1);
    assert_true(thdn < -50.0);
    tone(44100, 48000, 1, 20000.0, 12, &level, &thdn);
    print_message("20 kHz 44100 -> 48000: level %.3f dB, THD+N %.1f dB\n", level, thdn);
    assert_true(level > -0.5 && level < 0.1);
    assert_true(thdn < -50.0);

    /* 23 kHz is above 44.1 kHz's Nyquist frequency: it must not alias to 21.1 kHz. */
    size_t frames = 24000;
    float *in = sine(48000, 23000.0, 0.5, frames, 1);
    size_t n;
    float *y = convert_all(48000, 44100, 1, in, frames, &n);
    double e = 0;
    for (size_t i = 2000; i < n; i++) e += (double)y[i] * y[i];
    double atten = 10 * log10(e / (n - 2000) / (0.5 * 0.5 / 2));
    print_message("23 kHz 48000 -> 44100: %.1f dB\n", atten);
    assert_true(atten < -40.0);
    free(y);
    free(in);
}

/* Channels are converted independently: one channel's content leaves the others
 * silent, and each channel matches the mono conversion of it. */
static void test_channels(void **state)
{
    const size_t frames = 5000;
    for (int channels = 2; channels <= 8; channels++) {
        float *in = noise(frames, channels);
        for (size_t i = 0; i < frames; i++) in[i * channels + 1] = 0.0f;
        size_t n;
        float *y = convert_all(44100, 48000, channels, in, frames, &n);
        float *mono = malloc(frames * sizeof(float));
        assert_non_null(mono);
        for (int c = 0; c < channels; c++) {
            for (size_t i = 0; i < frames; i++) mono[i] = in[i * channels + c];
            size_t m;
            float *ym = convert_all(44100, 48000, 1, mono, frames, &m);
            assert_int_equal(m, n);
            for (size_t k = 0; k < n; k++) {
                if (c == 1) assert_true(y[k * channels + c] == 0.0f);
                assert_true(fabsf(y[k * channels + c] - ym[k]) < 1e-5f);
            }
            free(ym);
        }
        free(mono);
        free(y);
        free(in);
    }
}

/* Frame counts whose sizes overflow are refused before anything is read or
 * written, and the converter carries on as if the call never happened. */
static void test_huge_input(void **state)
{
    static const uint32_t rates[][2] = {{44100, 48000}, {8000, 192000}, {192000, 8000}, {48000, 48000}};
    for (size_t i = 0; i < SL_ARRAY_SIZE(rates); i++) {
        sl_resampler_t *r = make(rates[i][0], rates[i][1], 8);
        float *in = noise(3000, 8);
        sl_bytes_t out;
        sl_bytes_init(&out);
        size_t made = 7;
        assert_int_equal(sl_resampler_process(r, in, 1000, &out, &made), SL_OK);
        size_t len = out.len;
        /* The last is within the input's bound but its output is not (192000 to
         * 8000 would make a real allocation fail, which the sanitizer reports). */
        const size_t huge[] = {SIZE_MAX, SIZE_MAX / 2, SIZE_MAX / 32 + 1, SIZE_MAX / 32};
        size_t tries = rates[i][0] > rates[i][1] ? 3 : 4;
        for (size_t h = 0; h < tries; h++) {
            made = 7;
            assert_int_equal(sl_resampler_process(r, in, huge[h], &out, &made), SL_ERR_NOMEM);
            assert_int_equal(made, 7);
            assert_int_equal(out.len, len);
        }
        assert_int_equal(sl_resampler_process(r, in + 1000 * 8, 2000, &out, &made), SL_OK);
        size_t n;
        float *whole = convert_all(rates[i][0], rates[i][1], 8, in, 3000, &n);
        assert_int_equal(out.len, n * 8 * sizeof(float));
        assert_memory_equal(out.data, whole, out.len);
        free(whole);
        sl_bytes_free(&out);
        free(in);
        sl_resampler_free(r);
    }
}

/* Counts whose products wrap 64 bits to a small number, which must not pass for a
 * small count: 2^59 + 1000 mono frames at 44100 to 48000 (times 160), and 8000 to
 * 192000 on 8 channels with 2^59 + 1000 output frames (times 32 bytes). */
static void check_wrap(uint32_t in_rate, uint32_t out_rate, int channels, size_t in_frames)
{
    sl_resampler_t *r = make(in_rate, out_rate, channels);
    float in[16] = {0};
    sl_bytes_t out;
    sl_bytes_init(&out);
    size_t made = 7;
    assert_int_equal(sl_resampler_process(r, in, in_frames, &out, &made), SL_ERR_NOMEM);
    assert_int_equal(made, 7);
    assert_int_equal(out.len, 0);
    sl_bytes_free(&out);
    sl_resampler_free(r);
}

static void test_huge_input_wrap(void **state)
{
    check_wrap(44100, 48000, 1, ((size_t)1 << 59) + 1000);
    check_wrap(8000, 192000, 8, (((size_t)1 << 59) + 24000) / 24);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_equal_rates_copy),
        cmocka_unit_test(test_split_bit_exact),
        cmocka_unit_test(test_frame_counts),
        cmocka_unit_test(test_impulse_delay),
        cmocka_unit_test(test_drift_ten_minutes),
        cmocka_unit_test(test_sine_1k),
        cmocka_unit_test(test_band_edges),
        cmocka_unit_test(test_channels),
        cmocka_unit_test(test_huge_input),
        cmocka_unit_test(test_huge_input_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
