/* RTP packet history for NACK answers: see history.h. */
#include "protocols/webrtc/history.h"

#define MASK (SL_RTP_HISTORY_SIZE - 1)

_Static_assert((SL_RTP_HISTORY_SIZE & MASK) == 0 && 65536 % SL_RTP_HISTORY_SIZE == 0,
               "the history size must be a power of two up to 65536");

static void slot_clear(sl_rtp_history_slot_t *s)
{
    sl_buf_unref(s->buf);
    s->buf = NULL;
    s->data = NULL;
    s->len = 0;
}

void sl_rtp_history_init(sl_rtp_history_t *h)
{
    memset(h, 0, sizeof(*h));
}

/* True when seq is within the window ending at the newest packet. */
static bool in_window(const sl_rtp_history_t *h, uint16_t seq)
{
    return h->started && (uint16_t)(h->newest - seq) < SL_RTP_HISTORY_SIZE;
}

void sl_rtp_history_put(sl_rtp_history_t *h, uint16_t seq, sl_buf_t *buf, const uint8_t *data, size_t len)
{
    if (!h->started) {
        h->started = true;
        h->newest = seq;
    } else if ((int16_t)(seq - h->newest) > 0) {
        /* The skipped numbers were never sent: what their slots hold is older than
         * the new window, so release it now rather than when it is overwritten. */
        uint16_t gap = (uint16_t)(seq - h->newest - 1);
        if (gap > SL_RTP_HISTORY_SIZE) gap = SL_RTP_HISTORY_SIZE;
        for (uint16_t i = 1; i <= gap; i++) slot_clear(&h->slots[(uint16_t)(h->newest + i) & MASK]);
        h->newest = seq;
    } else if (!in_window(h, seq)) {
        return;
    }
    sl_rtp_history_slot_t *s = &h->slots[seq & MASK];
    sl_buf_t *ref = sl_buf_ref(buf);
    slot_clear(s);
    s->buf = ref;
    s->data = data;
    s->len = len;
    s->seq = seq;
}

sl_buf_t *sl_rtp_history_get(const sl_rtp_history_t *h, uint16_t seq, const uint8_t **data, size_t *len)
{
    const sl_rtp_history_slot_t *s = &h->slots[seq & MASK];
    if (!in_window(h, seq) || !s->buf || s->seq != seq) return NULL;
    *data = s->data;
    *len = s->len;
    return s->buf;
}

void sl_rtp_history_free(sl_rtp_history_t *h)
{
    for (int i = 0; i < SL_RTP_HISTORY_SIZE; i++) slot_clear(&h->slots[i]);
    h->started = false;
    h->newest = 0;
}
