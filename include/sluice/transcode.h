/* Audio transcoding between Opus (WebRTC) and AAC (RTMP, HTTP-FLV, HLS): an output
 * that can carry only one of them says so when it starts playing a stream, and the
 * stream gets a second audio track in that codec, made from the publisher's by a
 * transcoder (frames flagged SL_FRAME_DERIVED) for as long as such an output plays
 * it. The publisher's track is never touched; each output takes the audio frames of
 * the codec it carries and skips the others. See docs/transcode.md.
 *
 * Built when SLUICE_TRANSCODE is on (libopus and libavcodec found); without it,
 * sl_transcode_want returns NULL and streams keep their one audio codec. */
#ifndef SLUICE_TRANSCODE_H
#define SLUICE_TRANSCODE_H

#include "sluice/hub.h"

struct sl_server;
typedef struct sl_transcode sl_transcode_t;

/* An output carrying only `codec` audio (SL_CODEC_AAC or SL_CODEC_OPUS) starts
 * playing stream s. Shared by every output of s wanting that codec: the transcoder
 * runs once it sees audio of the other codec in s (configs may come later) and stops
 * with the last sl_transcode_release. NULL when transcoding is not built, or
 * disabled (transcode.enabled), or out of memory: the output then plays without
 * audio when the codecs differ, as before. */
#ifdef SLUICE_TRANSCODE
sl_transcode_t *sl_transcode_want(struct sl_server *srv, sl_stream_t *s, sl_codec_t codec);
/* The output stopped playing (NULL is fine). */
void sl_transcode_release(sl_transcode_t *t);
#else
static inline sl_transcode_t *sl_transcode_want(struct sl_server *srv, sl_stream_t *s, sl_codec_t codec)
{
    return NULL;
}
static inline void sl_transcode_release(sl_transcode_t *t) {}
#endif

#endif
