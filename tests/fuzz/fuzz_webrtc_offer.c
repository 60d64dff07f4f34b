/* Fuzzes WebRTC offer negotiation: hostile SDP is parsed, negotiated as a WHIP and
 * as a WHEP offer, and every answer written for an accepted offer must parse back
 * with the offer's accepted mids in its BUNDLE group. */
#include <stdio.h>
#include <stdlib.h>

#include "protocols/webrtc/answer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_answer(const sl_webrtc_offer_info_t *info, const sl_webrtc_track_t *tracks, int n)
{
    static const char *const ips[] = {"192.0.2.1", "2001:db8::1"};
    static const uint32_t ssrcs[SL_WEBRTC_MAX_TRACKS] = {1, 2, 3};
    sl_bytes_t out;
    sl_bytes_init(&out);
    int rc = sl_webrtc_write_answer(info, tracks, n, "fuzzUfrg", "abcdefghijklmnopqrstuvwx", "sha-256 AA:BB",
                                    ips, 2, 9000, ssrcs, &out);
    if (rc == SL_ERR_NOMEM) goto done;
    if (rc != SL_OK) abort();
    sl_sdp_t *answer = NULL;
    if (sl_sdp_parse((const char *)out.data, out.len, &answer) != SL_OK || answer->media_count != n) abort();
    for (int i = 0; i < n; i++)
        if (!answer->media[i].mid || strcmp(answer->media[i].mid, tracks[i].mid) != 0 ||
            (answer->media[i].port == 0) != !sl_webrtc_track_accepted(&tracks[i]))
            abort();
    sl_sdp_free(answer);
done:
    sl_bytes_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_sdp_t *offer = NULL;
    if (sl_sdp_parse((const char *)data, size, &offer) != SL_OK) return 0;
    static const struct {
        bool publish;
        sl_codec_t video;
        int profile;
    } modes[] = {{true, SL_CODEC_H264, 0}, {true, SL_CODEC_H265, 0}, {false, SL_CODEC_H264, 100},
                 {false, SL_CODEC_H265, 1}, {false, SL_CODEC_NONE, 0}};
    for (size_t i = 0; i < SL_ARRAY_SIZE(modes); i++) {
        sl_webrtc_track_t tracks[SL_WEBRTC_MAX_TRACKS];
        sl_webrtc_offer_info_t info;
        const char *reason;
        int n;
        int rc = sl_webrtc_negotiate(offer, modes[i].publish, modes[i].video, modes[i].profile, tracks, &n, &info,
                                     &reason);
        if (rc != SL_OK) {
            if (!reason || !*reason || n != 0) abort();
            continue;
        }
        if (n < 1 || n != offer->media_count) abort();
        check_answer(&info, tracks, n);
    }
    sl_sdp_free(offer);
    return 0;
}
