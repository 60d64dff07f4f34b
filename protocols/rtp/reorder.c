#include "protocols/rtp/reorder.h"

#include <stdlib.h>

#include "protocols/rtp/rtp.h"

/* RFC 3550 A.1's bounds: a larger step ahead is not loss but a new numbering, and a
 * step back past the window by more than this is not lateness. */
#define MAX_JUMP 3000
#define MAX_MISORDER 100

int sl_rtp_reorder_init(sl_rtp_reorder_t *r, uint32_t window, uint32_t max_delay_ms, sl_rtp_reorder_fn release,
                        void *arg)
{
    memset(r, 0, sizeof(*r));
    if (window == 0) window = SL_RTP_REORDER_DEFAULT_WINDOW;
    if (window > SL_RTP_REORDER_MAX_WINDOW) return SL_ERR_CONFIG;
    r->slots = calloc(window, sizeof(*r->slots));
    if (r->slots == NULL) return SL_ERR_NOMEM;
    r->window = window;
    r->max_delay_ms = max_delay_ms;
    r->release = release;
    r->arg = arg;
    return SL_OK;
}

void sl_rtp_reorder_free(sl_rtp_reorder_t *r)
{
    for (uint32_t i = 0; r->slots != NULL && i < r->window; i++) sl_buf_unref(r->slots[i].pkt);
    free(r->slots);
    r->slots = NULL;
    r->held = 0;
}

static sl_rtp_reorder_slot_t *slot_at(const sl_rtp_reorder_t *r, uint32_t offset)
{
    return &r->slots[(r->head + offset) % r->window];
}

/* Moves the release point one packet on, releasing the packet there or counting its
 * absence as a loss. The first callback error is kept in *rc; the buffer stays
 * consistent whatever the callback returns. */
static void advance(sl_rtp_reorder_t *r, int *rc)
{
    sl_rtp_reorder_slot_t *s = slot_at(r, 0);
    sl_buf_t *pkt = s->pkt;
    s->pkt = NULL;
    r->head = (r->head + 1) % r->window;
    r->next++;
    if (r->span > 0) r->span--;
    if (pkt == NULL) {
        r->lost_pending++;
        r->stats.lost++;
        return;
    }
    r->held--;
    r->stats.released++;
    uint32_t lost = r->lost_pending;
    r->lost_pending = 0;
    int err = r->release(r->arg, pkt, lost);
    sl_buf_unref(pkt);
    if (*rc == SL_OK) *rc = err;
}

static void release_ready(sl_rtp_reorder_t *r, int *rc)
{
    while (slot_at(r, 0)->pkt != NULL) advance(r, rc);
}

int sl_rtp_reorder_flush(sl_rtp_reorder_t *r)
{
    int rc = SL_OK;
    while (r->held > 0) advance(r, &rc);
    return rc;
}

static uint64_t expiry(const sl_rtp_reorder_t *r, const sl_rtp_reorder_slot_t *s)
{
    uint64_t t = s->arrival_ms + r->max_delay_ms;
    return t < s->arrival_ms ? UINT64_MAX : t;
}

bool sl_rtp_reorder_deadline(const sl_rtp_reorder_t *r, uint64_t *when_ms)
{
    if (r->held == 0) return false;
    uint64_t first = UINT64_MAX;
    for (uint32_t i = 0; i < r->span; i++) {
        const sl_rtp_reorder_slot_t *s = slot_at(r, i);
        if (s->pkt != NULL) first = SL_MIN(first, expiry(r, s));
    }
    *when_ms = first;
    return true;
}

int sl_rtp_reorder_poll(sl_rtp_reorder_t *r, uint64_t now_ms)
{
    /* Everything up to the furthest packet that has waited long enough goes out. */
    uint32_t steps = 0;
    for (uint32_t i = 0; i < r->span; i++) {
        const sl_rtp_reorder_slot_t *s = slot_at(r, i);
        if (s->pkt != NULL && expiry(r, s) <= now_ms) steps = i + 1;
    }
    int rc = SL_OK;
    for (uint32_t i = 0; i < steps; i++) advance(r, &rc);
    release_ready(r, &rc);
    return rc;
}

static int store(sl_rtp_reorder_t *r, uint32_t offset, const uint8_t *data, size_t len, uint64_t now_ms)
{
    sl_rtp_reorder_slot_t *s = slot_at(r, offset);
    if (s->pkt != NULL) {
        r->stats.duplicates++;
        return SL_OK;
    }
    s->pkt = sl_buf_from(data, len);
    if (s->pkt == NULL) return SL_ERR_NOMEM;
    s->arrival_ms = now_ms;
    r->held++;
    r->span = SL_MAX(r->span, offset + 1);
    int rc = SL_OK;
    release_ready(r, &rc);
    return rc;
}

/* A packet far from the release point: the first one is dropped, and if the next
 * packet follows it the sender has restarted its numbering there. */
static int wild(sl_rtp_reorder_t *r, uint16_t seq, const uint8_t *data, size_t len, uint64_t now_ms)
{
    if (!r->resync_armed || seq != r->resync_seq) {
        r->resync_armed = true;
        r->resync_seq = (uint16_t)(seq + 1);
        r->stats.late++;
        return SL_OK;
    }
    r->resync_armed = false;
    r->stats.resets++;
    int rc = sl_rtp_reorder_flush(r);
    r->next = seq;
    r->span = 0;
    r->lost_pending = 0;
    int rc2 = store(r, 0, data, len, now_ms);
    return rc != SL_OK ? rc : rc2;
}

int sl_rtp_reorder_push(sl_rtp_reorder_t *r, const uint8_t *data, size_t len, uint64_t now_ms)
{
    sl_rtp_packet_t pkt;
    if (sl_rtp_parse(data, len, &pkt) != SL_OK) return SL_ERR_PROTO;
    if (!r->started) {
        r->started = true;
        r->next = pkt.seq;
    }
    uint16_t ahead = (uint16_t)(pkt.seq - r->next), behind = (uint16_t)(r->next - pkt.seq);
    int rc = SL_OK;
    if (ahead < MAX_JUMP) {
        r->resync_armed = false;
        /* Past the window: release the oldest to make room. */
        for (uint32_t i = ahead; i >= r->window; i--) advance(r, &rc);
        int rc2 = store(r, SL_MIN(ahead, r->window - 1), data, len, now_ms);
        if (rc == SL_OK) rc = rc2;
    } else if (behind <= SL_MAX(r->window, MAX_MISORDER)) {
        r->resync_armed = false;
        r->stats.late++;
    } else {
        rc = wild(r, pkt.seq, data, len, now_ms);
    }
    int rc2 = sl_rtp_reorder_poll(r, now_ms);
    return rc != SL_OK ? rc : rc2;
}
