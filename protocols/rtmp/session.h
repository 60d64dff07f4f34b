/* Internal to protocols/rtmp: one RTMP connection. session.c is the libuv glue
 * (socket, timers, writes); command.c handles messages and commands; media.c turns
 * messages into frames and frames into shared chunked messages. */
#ifndef SLUICE_RTMP_SESSION_H
#define SLUICE_RTMP_SESSION_H

#include <uv.h>

#include "protocols/relay/relay.h"
#include "protocols/rtmp/chunk.h"
#include "protocols/rtmp/handshake.h"
#include "sluice/iobatch.h"
#include "sluice/server.h"
#include "sluice/transcode.h"

/* Chunk stream ids of what we send, the ones nginx-rtmp uses. */
#define SL_RTMP_CSID_COMMAND 3
#define SL_RTMP_CSID_DATA 5
#define SL_RTMP_CSID_AUDIO 6
#define SL_RTMP_CSID_VIDEO 7
/* The one message stream a client creates with createStream. */
#define SL_RTMP_STREAM_ID 1
#define SL_RTMP_WINDOW_ACK_SIZE 2500000

typedef enum rtmp_state {
    RTMP_HANDSHAKE,
    RTMP_CONNECTING, /* handshake done, waiting for connect */
    RTMP_CONNECTED,  /* connect accepted */
    RTMP_ADMITTING,  /* publish or play asked, waiting for the hook's decision */
    RTMP_PULLING,    /* play admitted, waiting for a relay pull to bring the stream */
    RTMP_PUBLISHING,
    RTMP_PLAYING,
} rtmp_state_t;

typedef struct rtmp_session {
    sl_conn_t conn; /* in the server's session list */
    sl_server_t *srv;
    uv_tcp_t tcp;
    uv_timer_t timer;
    int open_handles;
    bool closing;
    bool close_after_write; /* an error reply is queued: close once it is sent */
    rtmp_state_t state;
    uint64_t id;
    char peer[64];
    uint64_t last_read_ms;

    sl_rtmp_handshake_t handshake;
    sl_rtmp_reader_t reader;
    uint32_t peer_window;   /* the peer's Window Acknowledgement Size */
    uint64_t acked_bytes;   /* reader bytes at our last Acknowledgement */

    char app[128];
    char tc_url[256];
    char key[SL_STREAM_KEY_MAX]; /* "app/name" once publishing or playing */
    char query[256];             /* "token=x" from "name?token=x", kept for auth */
    struct sl_admission *admission; /* while RTMP_ADMITTING */
    bool admitting_publish;

    /* Publishing. */
    sl_stream_t *stream;
    sl_rtmp_clock_t clock; /* message timestamps, unwrapped */
    bool warned_codec;

    /* Playing. */
    sl_subscriber_t sub;
    /* RTMP carries AAC only: while playing, Opus audio is transcoded for us. */
    sl_transcode_t *transcode;
    sl_relay_wait_t pull_wait; /* while RTMP_PULLING */
    sl_deferred_t flush;

    /* Output: small replies gather in `out`; one write at a time carries them and
     * every frame ready for a player. */
    sl_bytes_t out;
    sl_iobatch_t batch;
    uv_write_t write_req;
    bool writing;
} rtmp_session_t;

/* Handles one complete message (command.c). Non-zero closes the session. */
int sl__rtmp_on_message(void *arg, const sl_rtmp_msg_t *msg);
/* Tells a player its stream ended and closes after sending it (command.c). */
int sl__rtmp_end_of_stream(rtmp_session_t *s);
/* Ends publishing, playing or waiting for a pull (command.c). */
void sl__rtmp_stop_media(rtmp_session_t *s);
/* Schedules a flush of `out` and of ready frames at the end of this loop turn. */
void sl__rtmp_schedule_flush(rtmp_session_t *s);
/* Closes the connection with a log line naming the reason. */
void sl__rtmp_close(rtmp_session_t *s, const char *reason);

/* media.c: a received audio/video/data message as a frame pushed to the stream. */
int sl__rtmp_publish_message(rtmp_session_t *s, const sl_rtmp_msg_t *msg);
/* media.c: the frame as one chunked RTMP message on SL_RTMP_STREAM_ID, built once
 * per chunk size and cached on the frame (borrowed), NULL if RTMP can't carry it. */
sl_buf_t *sl__rtmp_frame_message(sl_frame_t *f, uint32_t chunk_size);

#endif
