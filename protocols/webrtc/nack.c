/* Receiver-side NACK loss tracking: see nack.h. */
#include "protocols/webrtc/nack.h"

#include <string.h>

#define DEFAULT_MAX_JUMP 512
#define DEFAULT_MAX_ASKS 10
#define DEFAULT_MAX_AGE_MS 1000
#define DEFAULT_MIN_INTERVAL_MS 10
#define DEFAULT_RTT_MS 100

/* Serial order breaks down at half the number space: a missing number that far
 * behind the newest could be confused with one about to go missing. */
#define SERIAL_HALF 0x8000

_Static_assert(SL_NACK_MAX_MISSING <= UINT16_MAX, "count is 16 bits");

int sl_nack_init(sl_nack_t *t, const sl_nack_config_t *cfg)
{
    sl_nack_config_t c = cfg ? *cfg : (sl_nack_config_t){0};
    if (c.max_jump >= SERIAL_HALF) return SL_ERR_CONFIG;
    if (c.max_jump == 0) c.max_jump = DEFAULT_MAX_JUMP;
    if (c.max_asks == 0) c.max_asks = DEFAULT_MAX_ASKS;
    if (c.max_age_ms == 0) c.max_age_ms = DEFAULT_MAX_AGE_MS;
    if (c.min_interval_ms == 0) c.min_interval_ms = DEFAULT_MIN_INTERVAL_MS;
    if (c.default_rtt_ms == 0) c.default_rtt_ms = DEFAULT_RTT_MS;
    memset(t, 0, sizeof(*t));
    t->cfg = c;
    return SL_OK;
}

/* Drops the n oldest missing numbers, giving them up. */
static void drop_oldest(sl_nack_t *t, size_t n)
{
    if (n == 0) return;
    memmove(t->missing, t->missing + n, (t->count - n) * sizeof(t->missing[0]));
    t->count = (uint16_t)(t->count - n);
    t->stats.lost += n;
}

static void restart(sl_nack_t *t, uint16_t seq)
{
    if (t->started) t->stats.resets++;
    t->stats.lost += t->count;
    t->count = 0;
    t->newest = seq;
    t->started = true;
    t->stray = false;
}

/* seq is newer than the newest by diff (1 to 32767): the diff - 1 numbers between
 * them go missing, as many of the newest of them as the set can hold. */
static void advance(sl_nack_t *t, uint16_t seq, uint16_t diff, uint64_t now_ms)
{
    size_t old = 0;
    while (old < t->count && (uint16_t)(seq - t->missing[old].seq) >= SERIAL_HALF) old++;
    drop_oldest(t, old);

    size_t gap = (size_t)diff - 1;
    size_t add = SL_MIN(gap, (size_t)SL_NACK_MAX_MISSING);
    t->stats.lost += gap - add;
    if (t->count + add > SL_NACK_MAX_MISSING) drop_oldest(t, t->count + add - SL_NACK_MAX_MISSING);
    for (size_t i = 0; i < add; i++) {
        t->missing[t->count++] = (sl_nack_entry_t){
            .missing_since_ms = now_ms,
            .seq = (uint16_t)(seq - add + i),
        };
    }
    t->newest = seq;
}

/* Removes seq from the missing set; false when it is not there. The set is sorted,
 * but it is small and a late packet is usually among the newest, so a backwards
 * scan is enough. */
static bool remove_missing(sl_nack_t *t, uint16_t seq)
{
    for (size_t i = t->count; i-- > 0;) {
        if (t->missing[i].seq != seq) continue;
        memmove(t->missing + i, t->missing + i + 1, (t->count - i - 1) * sizeof(t->missing[0]));
        t->count--;
        return true;
    }
    return false;
}

sl_nack_verdict_t sl_nack_on_packet(sl_nack_t *t, uint16_t seq, uint64_t now_ms)
{
    t->stats.received++;
    if (!t->started) {
        restart(t, seq);
        return SL_NACK_RESTARTED;
    }
    int16_t diff = (int16_t)(uint16_t)(seq - t->newest);
    if (diff > 0) {
        if (diff - 1 > t->cfg.max_jump) {
            restart(t, seq);
            return SL_NACK_RESTARTED;
        }
        advance(t, seq, (uint16_t)diff, now_ms);
        return SL_NACK_NEWEST;
    }
    if (remove_missing(t, seq)) {
        t->stats.recovered++;
        return SL_NACK_RECOVERED;
    }
    if (-(int32_t)diff <= t->cfg.max_jump) return SL_NACK_IGNORED;
    /* Far behind and not missing: either a very late copy of something given up,
     * or a sender that restarted its numbering below ours. One such packet is not
     * enough to tell; its successor arriving next is. */
    if (t->stray && seq == t->stray_next) {
        restart(t, seq);
        return SL_NACK_RESTARTED;
    }
    t->stray = true;
    t->stray_next = (uint16_t)(seq + 1);
    return SL_NACK_IGNORED;
}

/* The time between two asks for one number. A resent packet cannot arrive sooner
 * than a round trip after the ask, so asking again earlier only makes the sender
 * send it twice; the floor keeps a near-zero estimate on a LAN from asking on
 * every collect, leaving the sender's pacer a moment to get the copy out. */
static uint64_t retry_interval(const sl_nack_t *t, uint32_t rtt_ms)
{
    uint32_t rtt = rtt_ms ? rtt_ms : t->cfg.default_rtt_ms;
    return SL_MAX(rtt, t->cfg.min_interval_ms);
}

/* When e is next due: asked at once, then an interval after each ask; after the
 * last ask, "due" means given up. Never later than its expiry. */
static uint64_t entry_due(const sl_nack_t *t, const sl_nack_entry_t *e, uint64_t interval)
{
    uint64_t expiry = e->missing_since_ms + t->cfg.max_age_ms;
    uint64_t due = e->asks == 0 ? e->missing_since_ms : e->asked_ms + interval;
    return SL_MIN(due, expiry);
}

int sl_nack_collect(sl_nack_t *t, uint64_t now_ms, uint32_t rtt_ms, uint16_t *seqs, size_t max)
{
    uint64_t interval = retry_interval(t, rtt_ms);
    size_t n = 0, kept = 0;
    for (size_t i = 0; i < t->count; i++) {
        sl_nack_entry_t e = t->missing[i];
        bool due = entry_due(t, &e, interval) <= now_ms;
        bool expired = now_ms >= e.missing_since_ms + t->cfg.max_age_ms;
        if (expired || (due && e.asks >= t->cfg.max_asks)) {
            t->stats.lost++;
            continue;
        }
        if (due && n < max) {
            seqs[n++] = e.seq;
            e.asks++;
            e.asked_ms = now_ms;
            t->stats.asked++;
        }
        t->missing[kept++] = e;
    }
    t->count = (uint16_t)kept;
    return (int)n;
}

bool sl_nack_next_due(const sl_nack_t *t, uint32_t rtt_ms, uint64_t *when_ms)
{
    if (t->count == 0) return false;
    uint64_t interval = retry_interval(t, rtt_ms);
    uint64_t when = UINT64_MAX;
    for (size_t i = 0; i < t->count; i++) when = SL_MIN(when, entry_due(t, &t->missing[i], interval));
    *when_ms = when;
    return true;
}
