/* Polyphase windowed-sinc sample-rate conversion.
 *
 * With in_rate / out_rate reduced to down / up, output frame k sits at input time
 * (k - delay) * down / up: a whole part (the input frame the filter is centred on)
 * and a phase p / up. Each of the `up` phases has its own row of `taps`
 * coefficients, computed once at creation, so an output frame is one dot product
 * of a row with the `taps` input frames around its position, and the position
 * advances by exact integers: no rounding error accumulates however long it runs.
 *
 * The history holds the input frames not yet behind every future window, one
 * plane per channel so that each output sample is a dot product of two contiguous
 * arrays, which compilers vectorize. Input is copied into it a block at a time,
 * which bounds its size and makes each output sample the same sum of the same
 * samples whatever the split of the input. */
#include "protocols/codec/resample.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    MIN_RATE = 8000,
    MAX_RATE = 192000,
    MAX_CHANNELS = 8,
    /* Filter taps on each side of the position, counted at the lower of the two
     * rates: with the window below, within 0.15 dB to 20 kHz and over 70 dB down
     * from 23 kHz at 44.1 <-> 48 kHz. */
    TAPS_PER_SIDE = 32,
    /* The table holds about 64 * max(up, down) coefficients: this bound on the
     * reduced ratio keeps it near 1 MB and its making under some 20 ms on the
     * loop. Every pair of rates with a common factor of 47 or more passes, so all
     * the usual media rates do (11025 to 192000, 147:2560, is the largest). */
    MAX_RATIO_TERM = 4096,
    /* Input frames copied into the history per round. */
    BLOCK_FRAMES = 1024,
    /* Partial sums of a dot product; taps is kept a multiple of it. */
    DOT_LANES = 16,
};

/* The Kaiser window's shape: higher attenuates further from the cutoff but widens
 * the transition. 7 gives about -74 dB from 23 kHz with 0.13 dB lost at 20 kHz. */
static const double KAISER_BETA = 7.0;
/* The cutoff (-6 dB) as a fraction of the lower rate's Nyquist frequency. A
 * little under it, the response is 25 dB down at the Nyquist frequency and 70 dB
 * down 1 kHz above, so what aliases lands in the top 1 kHz, attenuated. */
static const double CUTOFF = 0.96;

struct sl_resampler {
    uint32_t up, down;        /* out_rate and in_rate over their gcd */
    uint32_t step, step_frac; /* down / up and down % up: the advance per output */
    uint32_t taps;            /* per phase, a multiple of DOT_LANES */
    uint32_t delay;
    int channels;
    float *table; /* up rows of taps coefficients */
    float *hist;  /* channels planes of cap frames */
    size_t cap;   /* taps + BLOCK_FRAMES */
    size_t fill;  /* frames held in each plane */
    uint32_t phase; /* of the next output, whose window starts at frame 0 */
};

static uint32_t gcd(uint32_t a, uint32_t b)
{
    while (b != 0) {
        uint32_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* The modified Bessel function I0 by its power series, which converges quickly
 * for the arguments a Kaiser window needs (up to beta). */
static double bessel_i0(double x)
{
    double sum = 1.0, term = 1.0;
    for (int k = 1; term > 1e-12 * sum; k++) {
        double f = x / (2.0 * k);
        term *= f * f;
        sum += term;
    }
    return sum;
}

/* The filter's coefficient at distance d input frames from the position, up to a
 * constant factor (rows are normalized): a sinc with its first zero at 1 / (2 fc)
 * frames, under a Kaiser window `half` frames wide on each side. */
static double coefficient(double d, double fc, uint32_t half)
{
    double x = d / half;
    if (fabs(x) >= 1.0) return 0.0;
    double w = bessel_i0(KAISER_BETA * sqrt(1.0 - x * x));
    double a = 2.0 * M_PI * fc * d;
    return (d == 0.0 ? 1.0 : sin(a) / a) * w;
}

/* Fills row p: tap j weighs the input frame j - half + 1 frames after the
 * position's whole part, at distance j - half + 1 - p / up. Each row is scaled to
 * a sum of 1 so that every phase passes DC at exactly unit gain. */
static void build_row(float *row, uint32_t p, const sl_resampler_t *r, double fc)
{
    uint32_t half = r->taps / 2;
    double sum = 0.0;
    for (uint32_t j = 0; j < r->taps; j++) {
        double c = coefficient((double)j - half + 1 - (double)p / r->up, fc, half);
        row[j] = (float)c;
        sum += c;
    }
    for (uint32_t j = 0; j < r->taps; j++) row[j] = (float)(row[j] / sum);
}

/* The dot product of a row with a window, in DOT_LANES independent partial sums
 * that a compiler turns into four vector registers (it may not reorder a float
 * sum by itself). The order of the sums is fixed, so results do not depend on
 * where the input was split. Kept out of line: inlined into run_block's loop,
 * clang vectorizes it two floats wide and spills, at twice the time. Left out of
 * UBSan's reach: float arithmetic has no undefined behaviour to find, and its
 * per-element pointer checks made the sanitized tests ten times slower (ASan still
 * checks every access). */
static __attribute__((noinline, no_sanitize("undefined"))) float dot(const float *c, const float *x, uint32_t taps)
{
    float acc[DOT_LANES] = {0};
    for (uint32_t j = 0; j < taps; j += DOT_LANES)
        for (int k = 0; k < DOT_LANES; k++) acc[k] += c[j + k] * x[j + k];
    for (int width = DOT_LANES / 2; width > 0; width /= 2)
        for (int k = 0; k < width; k++) acc[k] += acc[k + width];
    return acc[0];
}

/* Sizes the filter, builds its table and primes the history with silence so the
 * first output frame is the one `delay` frames before input frame 0. */
static int setup_filter(sl_resampler_t *r)
{
    /* Downsampling stretches the filter by down / up to cut at the output's
     * Nyquist frequency; taps is rounded up to a multiple of DOT_LANES. */
    uint32_t half = r->down > r->up ? (TAPS_PER_SIDE * r->down + r->up - 1) / r->up : TAPS_PER_SIDE;
    half = (half + DOT_LANES / 2 - 1) / (DOT_LANES / 2) * (DOT_LANES / 2);
    r->taps = 2 * half;
    r->step = r->down / r->up;
    r->step_frac = r->down % r->up;
    /* Input frame 0 reaches the outputs less than half input frames before it:
     * delay counts them, so that the first output is the first it touches. */
    r->delay = (uint32_t)((uint64_t)half * r->up / r->down);
    r->table = malloc((size_t)r->up * r->taps * sizeof(float));
    r->cap = (size_t)r->taps + BLOCK_FRAMES;
    r->hist = calloc(r->cap * (size_t)r->channels, sizeof(float));
    if (r->table == NULL || r->hist == NULL) return SL_ERR_NOMEM;
    double fc = CUTOFF * 0.5 * (r->down > r->up ? (double)r->up / r->down : 1.0);
    for (uint32_t p = 0; p < r->up; p++) build_row(r->table + (size_t)p * r->taps, p, r, fc);
    /* Output 0 is at input time -delay * down / up; with `lead` frames of silence
     * in front, its window starts at hist[0] with this phase. */
    uint64_t lead_pos = (uint64_t)r->delay * r->down;
    r->fill = half - 1 + (size_t)((lead_pos + r->up - 1) / r->up);
    r->phase = (uint32_t)((r->up - lead_pos % r->up) % r->up);
    return SL_OK;
}

int sl_resampler_new(uint32_t in_rate, uint32_t out_rate, int channels, sl_resampler_t **out)
{
    *out = NULL;
    if (in_rate < MIN_RATE || in_rate > MAX_RATE || out_rate < MIN_RATE || out_rate > MAX_RATE ||
        channels < 1 || channels > MAX_CHANNELS)
        return SL_ERR_CONFIG;
    uint32_t g = gcd(in_rate, out_rate);
    if (in_rate / g > MAX_RATIO_TERM || out_rate / g > MAX_RATIO_TERM) return SL_ERR_CONFIG;
    sl_resampler_t *r = calloc(1, sizeof(*r));
    if (r == NULL) return SL_ERR_NOMEM;
    r->up = out_rate / g;
    r->down = in_rate / g;
    r->channels = channels;
    if (r->up != r->down) {
        int rc = setup_filter(r);
        if (rc != SL_OK) {
            sl_resampler_free(r);
            return rc;
        }
    }
    *out = r;
    return SL_OK;
}

/* The number of output frames that in_frames more input frames complete: those
 * whose window ends within the history plus the new input. Output k's window
 * starts floor((phase + k * down) / up) frames into the history. SL_ERR_NOMEM
 * when the input, the count or its size in bytes would not fit a size_t. */
static int frames_out(const sl_resampler_t *r, size_t in_frames, size_t *count)
{
    size_t frame_bytes = (size_t)r->channels * sizeof(float);
    if (in_frames > SIZE_MAX / frame_bytes) return SL_ERR_NOMEM;
    uint64_t avail = (uint64_t)r->fill + in_frames;
    if (r->up == r->down || avail < r->taps) {
        *count = r->up == r->down ? in_frames : 0;
        return SL_OK;
    }
    /* Output k is complete iff phase + k * down < (avail - taps + 1) * up. */
    uint64_t starts = avail - r->taps + 1;
    if (starts > (UINT64_MAX - r->down) / r->up) return SL_ERR_NOMEM;
    uint64_t n = (starts * r->up - r->phase + r->down - 1) / r->down;
    if (n > SIZE_MAX / frame_bytes) return SL_ERR_NOMEM;
    *count = (size_t)n;
    return SL_OK;
}

/* Appends every output frame the history completes to out, whose room is
 * reserved, then drops the frames no future window needs. */
static void run_block(sl_resampler_t *r, sl_bytes_t *out)
{
    size_t frame_bytes = (size_t)r->channels * sizeof(float);
    size_t pos = 0;
    float frame[MAX_CHANNELS];
    while (pos + r->taps <= r->fill) {
        const float *row = r->table + (size_t)r->phase * r->taps;
        for (int c = 0; c < r->channels; c++) frame[c] = dot(row, r->hist + c * r->cap + pos, r->taps);
        /* out->data holds bytes and may be unaligned for floats. */
        memcpy(out->data + out->len, frame, frame_bytes);
        out->len += frame_bytes;
        pos += r->step;
        r->phase += r->step_frac;
        if (r->phase >= r->up) {
            r->phase -= r->up;
            pos++;
        }
    }
    /* The next window starts at most down / up + 1 frames after a complete one,
     * and taps is larger than that, so pos never passes fill. */
    assert(pos <= r->fill);
    for (int c = 0; c < r->channels; c++) {
        float *plane = r->hist + c * r->cap;
        memmove(plane, plane + pos, (r->fill - pos) * sizeof(float));
    }
    r->fill -= pos;
}

/* Appends n interleaved frames to the history planes. */
static void deinterleave(sl_resampler_t *r, const float *in, size_t n)
{
    for (int c = 0; c < r->channels; c++) {
        float *plane = r->hist + c * r->cap + r->fill;
        for (size_t i = 0; i < n; i++) plane[i] = in[i * r->channels + c];
    }
    r->fill += n;
}

/* Copies the input into the history a block at a time and converts each block,
 * appending the output frames to out. */
static void convert(sl_resampler_t *r, const float *in, size_t in_frames, sl_bytes_t *out)
{
    for (size_t done = 0; done < in_frames;) {
        size_t chunk = SL_MIN(in_frames - done, r->cap - r->fill);
        deinterleave(r, in + done * r->channels, chunk);
        done += chunk;
        run_block(r, out);
    }
}

int sl_resampler_process(sl_resampler_t *r, const float *in, size_t in_frames, sl_bytes_t *out,
                         size_t *made)
{
    size_t count = 0;
    int rc = frames_out(r, in_frames, &count);
    size_t bytes = count * (size_t)r->channels * sizeof(float);
    /* Reserving first is what leaves the state untouched on failure. */
    if (rc == SL_OK) rc = sl_bytes_reserve(out, bytes);
    if (rc != SL_OK) return rc;
    size_t end = out->len + bytes;
    if (r->up != r->down) {
        convert(r, in, in_frames, out);
    } else if (bytes > 0) {
        memcpy(out->data + out->len, in, bytes);
        out->len += bytes;
    }
    assert(out->len == end);
    (void)end;
    if (made != NULL) *made = count;
    return SL_OK;
}

uint32_t sl_resampler_delay(const sl_resampler_t *r) { return r->delay; }

void sl_resampler_free(sl_resampler_t *r)
{
    if (r == NULL) return;
    free(r->table);
    free(r->hist);
    free(r);
}
