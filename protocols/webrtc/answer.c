/* WebRTC offer negotiation and answer writing: see answer.h. */
#include "protocols/webrtc/answer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "protocols/webrtc/sctp.h"

#define PROTO_RTP "UDP/TLS/RTP/SAVPF"
#define PROTO_DATA "UDP/DTLS/SCTP"
#define FORMAT_DATA "webrtc-datachannel"
/* RFC 8841 6.1: a peer that says nothing takes messages of 64 KiB. */
#define DEFAULT_MAX_MESSAGE 65536
#define STR(x) #x
#define XSTR(x) STR(x)
#define H264_CB_FLAG 0x40 /* constraint_set1_flag: constrained baseline with profile_idc 66 */

__attribute__((format(printf, 4, 5))) static int fail(sl_webrtc_offer_info_t *info, const char **reason, int rc,
                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(info->reason, sizeof(info->reason), fmt, ap);
    va_end(ap);
    *reason = info->reason;
    return rc;
}

/* Copies src into dst[cap]; false when it does not fit. */
static bool copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) return false;
    memcpy(dst, src, n + 1);
    return true;
}

/* RFC 8839 ice-char: ALPHA / DIGIT / "+" / "/". */
static bool ice_chars(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max) return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '+' ||
              *p == '/'))
            return false;
    return true;
}

/* A transport attribute: the first section's (BUNDLE makes it the transport of
 * all), else the session's. Chrome writes them per section, Firefox the
 * fingerprint at session level. */
static const char *transport_attr(const sl_sdp_t *offer, const char *name)
{
    const char *v = offer->media_count > 0 ? sl_sdp_attr_get(&offer->media[0], name) : NULL;
    return v ? v : sl_sdp_session_attr_get(offer, name);
}

static int parse_fingerprint(const char *v, sl_webrtc_offer_info_t *info, const char **reason)
{
    const char *sp = strchr(v, ' ');
    size_t alg_len = sp ? (size_t)(sp - v) : 0;
    if (!sp || alg_len == 0 || alg_len >= sizeof(info->fingerprint_alg))
        return fail(info, reason, SL_ERR_PROTO, "malformed a=fingerprint (no hash name)");
    memcpy(info->fingerprint_alg, v, alg_len);
    info->fingerprint_alg[alg_len] = '\0';
    while (*sp == ' ') sp++;
    size_t n = strspn(sp, "0123456789abcdefABCDEF:");
    if (n == 0 || sp[n] != '\0' || n >= sizeof(info->fingerprint_value))
        return fail(info, reason, SL_ERR_PROTO, "malformed a=fingerprint value");
    memcpy(info->fingerprint_value, sp, n + 1);
    snprintf(info->fingerprint, sizeof(info->fingerprint), "%s %s", info->fingerprint_alg, info->fingerprint_value);
    return SL_OK;
}

static int parse_transport(const sl_sdp_t *offer, sl_webrtc_offer_info_t *info, const char **reason)
{
    const char *ufrag = transport_attr(offer, "ice-ufrag"), *pwd = transport_attr(offer, "ice-pwd");
    if (!ufrag || !pwd) return fail(info, reason, SL_ERR_PROTO, "the offer has no a=ice-ufrag and a=ice-pwd");
    if (!ice_chars(ufrag, 4, SL_ICE_REMOTE_UFRAG_MAX) || !ice_chars(pwd, 22, SL_WEBRTC_ICE_PWD_MAX))
        return fail(info, reason, SL_ERR_PROTO, "malformed a=ice-ufrag or a=ice-pwd");
    memcpy(info->ice_ufrag, ufrag, strlen(ufrag) + 1);
    memcpy(info->ice_pwd, pwd, strlen(pwd) + 1);

    const char *fp = transport_attr(offer, "fingerprint");
    if (!fp) return fail(info, reason, SL_ERR_PROTO, "the offer has no a=fingerprint (DTLS-SRTP is required)");
    int rc = parse_fingerprint(fp, info, reason);
    if (rc != SL_OK) return rc;

    const char *setup = transport_attr(offer, "setup");
    if (!setup) {
        info->setup = SL_WEBRTC_SETUP_NONE;
    } else if (strcmp(setup, "actpass") == 0) {
        info->setup = SL_WEBRTC_SETUP_ACTPASS;
    } else if (strcmp(setup, "active") == 0) {
        info->setup = SL_WEBRTC_SETUP_ACTIVE;
    } else if (strcmp(setup, "passive") == 0 || strcmp(setup, "holdconn") == 0) {
        return fail(info, reason, SL_ERR_UNSUPPORTED,
                    "a=setup:%s: the server is DTLS-passive, the offer must be active or actpass", setup);
    } else {
        return fail(info, reason, SL_ERR_PROTO, "malformed a=setup");
    }
    return SL_OK;
}

/* The first a=group:BUNDLE of the session, split into info->bundle_mids. */
static int parse_bundle(const sl_sdp_t *offer, sl_webrtc_offer_info_t *info, const char **reason)
{
    for (int i = 0; i < offer->attr_count; i++) {
        const sl_sdp_attr_t *a = &offer->attrs[i];
        if (strcmp(a->name, "group") != 0 || strncmp(a->value, "BUNDLE", 6) != 0 ||
            (a->value[6] != ' ' && a->value[6] != '\0'))
            continue;
        const char *p = a->value + 6;
        for (;;) {
            p += strspn(p, " \t");
            size_t n = strcspn(p, " \t");
            if (n == 0) break;
            if (info->bundle_count == SL_WEBRTC_MAX_TRACKS || n >= SL_WEBRTC_MID_MAX)
                return fail(info, reason, SL_ERR_PROTO, "a=group:BUNDLE is too long");
            memcpy(info->bundle_mids[info->bundle_count], p, n);
            info->bundle_mids[info->bundle_count++][n] = '\0';
            p += n;
        }
        return SL_OK;
    }
    return SL_OK;
}

static bool in_bundle(const sl_webrtc_offer_info_t *info, const char *mid)
{
    for (int i = 0; i < info->bundle_count; i++)
        if (strcmp(info->bundle_mids[i], mid) == 0) return true;
    return false;
}

/* True unless the offerer itself rejected the section (port 0 without
 * a=bundle-only, RFC 9143 7.2). */
static bool section_live(const sl_sdp_media_t *m)
{
    return m->port != 0 || sl_sdp_attr_get(m, "bundle-only") != NULL;
}

/* Checks every section's mid and the BUNDLE rules; fills the tracks' media and mid. */
static int check_sections(const sl_sdp_t *offer, sl_webrtc_track_t tracks[], sl_webrtc_offer_info_t *info,
                          const char **reason)
{
    for (int i = 0; i < offer->media_count; i++) {
        const sl_sdp_media_t *m = &offer->media[i];
        sl_webrtc_track_t *t = &tracks[i];
        if (strcmp(m->type, "video") == 0)
            t->media = SL_MEDIA_VIDEO;
        else if (strcmp(m->type, "audio") == 0)
            t->media = SL_MEDIA_AUDIO;
        else if (strcmp(m->type, "application") == 0)
            t->media = SL_MEDIA_DATA;
        else
            return fail(info, reason, SL_ERR_UNSUPPORTED, "m= section %d has an unknown media type", i);
        if (!m->mid || !*m->mid || strpbrk(m->mid, " \t") || !copy_str(t->mid, sizeof(t->mid), m->mid))
            return fail(info, reason, SL_ERR_UNSUPPORTED, "m= section %d has no usable a=mid", i);
        for (int j = 0; j < i; j++)
            if (strcmp(tracks[j].mid, t->mid) == 0)
                return fail(info, reason, SL_ERR_PROTO, "a=mid:%s is used twice", t->mid);
        if (offer->media_count > 1 && info->bundle_count == 0)
            return fail(info, reason, SL_ERR_UNSUPPORTED,
                        "the offer has %d m= sections but no a=group:BUNDLE (one transport is required)",
                        offer->media_count);
        if (info->bundle_count > 0 && section_live(m) && !in_bundle(info, t->mid))
            return fail(info, reason, SL_ERR_UNSUPPORTED, "m= section mid %s is not in the BUNDLE group", t->mid);
    }
    return SL_OK;
}

/* Whether the offer's direction is one we can answer: WHIP receives what the
 * browser sends, WHEP sends what it receives. */
static bool dir_fits(sl_sdp_dir_t d, bool publish)
{
    if (d == SL_SDP_DIR_NONE || d == SL_SDP_DIR_SENDRECV) return true;
    return d == (publish ? SL_SDP_DIR_SENDONLY : SL_SDP_DIR_RECVONLY);
}

/* The H.264 profile-level-id of pt: profile_idc and constraint flags. RFC 6184 8.1
 * makes an absent one 420010 (baseline). False when malformed. */
static bool h264_profile(const sl_sdp_media_t *m, uint8_t pt, int *profile, int *compat)
{
    const char *v = sl_sdp_fmtp_get(m, pt, "profile-level-id");
    if (!v) {
        *profile = 0x42;
        *compat = 0;
        return true;
    }
    if (strlen(v) != 6 || strspn(v, "0123456789abcdefABCDEF") != 6) return false;
    unsigned long x = strtoul(v, NULL, 16);
    *profile = (int)(x >> 16);
    *compat = (int)(x >> 8 & 0xff);
    return true;
}

/* The H.265 profile-id of pt (RFC 7798 7.1: 1, Main, when absent); 0 when
 * malformed. */
static int h265_profile(const sl_sdp_media_t *m, uint8_t pt)
{
    const char *v = sl_sdp_fmtp_get(m, pt, "profile-id");
    if (!v) return 1;
    if (!*v || strlen(v) > 2 || strspn(v, "0123456789") != strlen(v)) return 0;
    return atoi(v);
}

typedef struct want {
    bool publish;
    sl_codec_t video;
    int profile;
} want_t;

/* The rank of a video payload type (lower is better), or -1 when unusable. */
static int video_rank(const sl_sdp_media_t *m, const sl_sdp_rtpmap_t *r, const want_t *w, int *profile)
{
    sl_codec_t c = sl_sdp_codec_of(r);
    int compat = 0;
    if (r->clock != 90000) return -1;
    if (c == SL_CODEC_H264) {
        const char *mode = sl_sdp_fmtp_get(m, r->pt, "packetization-mode");
        if (!mode || strcmp(mode, "1") != 0 || !h264_profile(m, r->pt, profile, &compat)) return -1;
    } else if (c == SL_CODEC_H265) {
        if ((*profile = h265_profile(m, r->pt)) == 0) return -1;
    } else {
        return -1;
    }
    if (w->publish) {
        bool cb = c == SL_CODEC_H264 && *profile == 0x42 && (compat & H264_CB_FLAG);
        if (w->video == SL_CODEC_H265) return c == SL_CODEC_H265 ? 0 : cb ? 1 : 2;
        return c != SL_CODEC_H264 ? -1 : cb ? 0 : 1;
    }
    if (c != w->video) return -1;
    return w->profile <= 0 || *profile == w->profile ? 0 : 1;
}

/* The offered fmtp of pt fits the track (echoed in the answer). */
static bool fmtp_fits(const sl_sdp_media_t *m, uint8_t pt)
{
    const sl_sdp_fmtp_t *f = sl_sdp_fmtp_of(m, pt);
    return !f || strlen(f->raw) < SL_WEBRTC_FMTP_MAX;
}

static void take_pt(const sl_sdp_media_t *m, const sl_sdp_rtpmap_t *r, int profile, sl_webrtc_track_t *t)
{
    const sl_sdp_fmtp_t *f = sl_sdp_fmtp_of(m, r->pt);
    t->codec = (uint8_t)sl_sdp_codec_of(r);
    t->pt = r->pt;
    t->clock = r->clock;
    t->channels = r->channels;
    t->profile = profile;
    if (f) memcpy(t->fmtp, f->raw, strlen(f->raw) + 1);
}

static bool choose_video(const sl_sdp_media_t *m, const want_t *w, sl_webrtc_track_t *t)
{
    const sl_sdp_rtpmap_t *best = NULL;
    int best_rank = 0, best_profile = 0;
    for (int i = 0; i < m->pt_count; i++) {
        const sl_sdp_rtpmap_t *r = sl_sdp_rtpmap_get(m, m->pts[i]);
        int profile = 0, rank = r && fmtp_fits(m, r->pt) ? video_rank(m, r, w, &profile) : -1;
        if (rank < 0 || (best && rank >= best_rank)) continue;
        best = r;
        best_rank = rank;
        best_profile = profile;
    }
    if (best) take_pt(m, best, best_profile, t);
    return best != NULL;
}

static bool choose_audio(const sl_sdp_media_t *m, sl_webrtc_track_t *t)
{
    for (int i = 0; i < m->pt_count; i++) {
        const sl_sdp_rtpmap_t *r = sl_sdp_rtpmap_get(m, m->pts[i]);
        if (r && sl_sdp_codec_of(r) == SL_CODEC_OPUS && r->clock == 48000 && r->channels == 2 &&
            fmtp_fits(m, r->pt)) {
            take_pt(m, r, 0, t);
            return true;
        }
    }
    return false;
}

/* Sets nack and pli from the a=rtcp-fb lines for the chosen pt or for "*". */
static void scan_feedback(const sl_sdp_media_t *m, sl_webrtc_track_t *t)
{
    char pt[4];
    snprintf(pt, sizeof(pt), "%u", t->pt);
    int pos = 0;
    const char *v;
    while ((v = sl_sdp_attr_next(m, "rtcp-fb", &pos)) != NULL) {
        size_t n = strcspn(v, " ");
        if (!(n == 1 && v[0] == '*') && !(n == strlen(pt) && strncmp(v, pt, n) == 0)) continue;
        const char *fb = v + n + strspn(v + n, " ");
        if (strcmp(fb, "nack") == 0) t->nack = true;
        if (strcmp(fb, "nack pli") == 0) t->pli = true;
    }
}

/* The offer's rtx payload type whose apt is the chosen pt, or 0. */
static uint8_t find_rtx(const sl_sdp_media_t *m, uint8_t pt)
{
    for (int i = 0; i < m->rtpmap_count; i++) {
        const sl_sdp_rtpmap_t *r = &m->rtpmaps[i];
        const char *apt = strcasecmp(r->encoding, "rtx") == 0 ? sl_sdp_fmtp_get(m, r->pt, "apt") : NULL;
        if (apt && *apt && strspn(apt, "0123456789") == strlen(apt) && strlen(apt) <= 3 && atoi(apt) == pt)
            return r->pt;
    }
    return 0;
}

/* A decimal attribute value in [min, max]; false when malformed. */
static bool parse_uint(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
    size_t n = strlen(v);
    if (n == 0 || n > 10 || strspn(v, "0123456789") != n) return false;
    unsigned long long x = strtoull(v, NULL, 10);
    if (x < min || x > max) return false;
    *out = (uint32_t)x;
    return true;
}

/* Takes a data channel section (RFC 8841) that is bundled with the media: the
 * SCTP association runs in the one DTLS session. */
static bool choose_data(const sl_sdp_media_t *m, bool bundled, sl_webrtc_track_t *t)
{
    if (!bundled || strcmp(m->proto, PROTO_DATA) != 0 || !m->formats || strcmp(m->formats, FORMAT_DATA) != 0)
        return false;
    uint32_t port = SL_SCTP_PORT, max_message = DEFAULT_MAX_MESSAGE;
    const char *v = sl_sdp_attr_get(m, "sctp-port");
    if (v && !parse_uint(v, 1, UINT16_MAX, &port)) return false;
    v = sl_sdp_attr_get(m, "max-message-size");
    if (v && !parse_uint(v, 0, UINT32_MAX, &max_message)) return false;
    t->sctp_port = (uint16_t)port;
    t->max_message_size = max_message;
    return true;
}

/* What the sections taken so far hold: a second section of a kind is rejected,
 * as the hub carries one track of each and a peer one SCTP association. */
typedef struct taken {
    bool video, audio, data;
} taken_t;

/* Picks the codec of one section; leaves the track rejected (codec NONE, or
 * sctp_port 0 for data) when none fits. */
static void negotiate_section(const sl_sdp_media_t *m, const want_t *w, bool bundled, taken_t *taken,
                              sl_webrtc_track_t *t)
{
    t->pt = m->pt_count > 0 ? m->pts[0] : 0;
    if (t->media == SL_MEDIA_DATA) {
        if (section_live(m) && !taken->data) taken->data = choose_data(m, bundled, t);
        return;
    }
    t->dir = w->publish ? SL_SDP_DIR_RECVONLY : SL_SDP_DIR_SENDONLY;
    if (!section_live(m) || strcmp(m->proto, PROTO_RTP) != 0 || !dir_fits(m->dir, w->publish)) return;
    bool ok = false;
    if (t->media == SL_MEDIA_VIDEO && !taken->video && (w->publish || w->video != SL_CODEC_NONE))
        ok = taken->video = choose_video(m, w, t);
    else if (t->media == SL_MEDIA_AUDIO && !taken->audio)
        ok = taken->audio = choose_audio(m, t);
    if (!ok) return;
    scan_feedback(m, t);
    t->rtx_pt = find_rtx(m, t->pt);
}

static const char *codec_name(sl_codec_t c) { return c == SL_CODEC_H265 ? "H.265" : "H.264"; }

int sl_webrtc_negotiate(const sl_sdp_t *offer, bool publish, sl_codec_t source_video, int source_profile_idc,
                        sl_webrtc_track_t tracks[], int *track_count, sl_webrtc_offer_info_t *info,
                        const char **reason)
{
    memset(info, 0, sizeof(*info));
    *track_count = 0;
    *reason = NULL;
    if (offer->media_count == 0) return fail(info, reason, SL_ERR_UNSUPPORTED, "the offer has no m= section");
    memset(tracks, 0, sizeof(*tracks) * (size_t)offer->media_count);
    int rc = parse_transport(offer, info, reason);
    if (rc == SL_OK) rc = parse_bundle(offer, info, reason);
    if (rc == SL_OK) rc = check_sections(offer, tracks, info, reason);
    if (rc != SL_OK) return rc;

    want_t w = {publish, source_video, source_profile_idc};
    taken_t taken = {false, false, false};
    for (int i = 0; i < offer->media_count; i++) {
        const sl_sdp_media_t *m = &offer->media[i];
        int pos = 0;
        while (sl_sdp_attr_next(m, "candidate", &pos)) info->candidate_count++;
        negotiate_section(m, &w, in_bundle(info, tracks[i].mid), &taken, &tracks[i]);
    }
    if (!taken.video && !taken.audio) {
        if (publish)
            return fail(info, reason, SL_ERR_UNSUPPORTED,
                        "no usable track: the offer sends neither H.264 (packetization-mode=1) video "
                        "nor opus/48000/2 audio");
        if (source_video == SL_CODEC_NONE)
            return fail(info, reason, SL_ERR_UNSUPPORTED,
                        "no usable track: the stream has no video and the offer receives no opus/48000/2 audio");
        return fail(info, reason, SL_ERR_UNSUPPORTED,
                    "no usable track: the offer receives neither %s (packetization-mode=1) video "
                    "nor opus/48000/2 audio",
                    codec_name(source_video));
    }
    *track_count = offer->media_count;
    return SL_OK;
}

/* Answer writing */

#define SECTION_ATTRS (12 + SL_WEBRTC_MAX_CANDIDATES)

/* The answer's lines, built here and borrowed by sl_sdp_write; heap-allocated, as
 * every section holds an fmtp of SL_SDP_FMTP_CAP bytes. */
typedef struct answer_scratch {
    sl_sdp_media_desc_t media[SL_WEBRTC_MAX_TRACKS];
    sl_sdp_attr_t attrs[SL_WEBRTC_MAX_TRACKS][SECTION_ATTRS];
    char nack[SL_WEBRTC_MAX_TRACKS][16], pli[SL_WEBRTC_MAX_TRACKS][16];
    char ssrc[SL_WEBRTC_MAX_TRACKS][32], msid[SL_WEBRTC_MAX_TRACKS][8 + SL_WEBRTC_MID_MAX];
    char cand[SL_WEBRTC_MAX_CANDIDATES][128];
    char bundle[8 + SL_WEBRTC_MAX_TRACKS * SL_WEBRTC_MID_MAX];
    sl_sdp_attr_t session_attrs[2];
} answer_scratch_t;

/* An IP literal: what a host candidate can carry without breaking the line. */
static bool ip_literal(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n < 64 && strspn(s, "0123456789abcdefABCDEF.:") == n;
}

static bool args_ok(const sl_webrtc_track_t tracks[], int n, const char *ufrag, const char *pwd,
                    const char *fingerprint, const char *const *ips, int n_ips)
{
    if (n < 1 || n > SL_WEBRTC_MAX_TRACKS || n_ips < 0 || n_ips > SL_WEBRTC_MAX_CANDIDATES ||
        !ice_chars(ufrag, 4, SL_ICE_UFRAG_MAX) || !ice_chars(pwd, 22, SL_ICE_PWD_MAX) || !fingerprint ||
        !*fingerprint || strpbrk(fingerprint, "\r\n"))
        return false;
    for (int i = 0; i < n_ips; i++)
        if (!ip_literal(ips[i])) return false;
    bool accepted = false;
    for (int i = 0; i < n; i++) {
        if (sl_webrtc_track_accepted(&tracks[i])) accepted = true;
        if (tracks[i].mid[0] == '\0' || !memchr(tracks[i].mid, '\0', sizeof(tracks[i].mid)) ||
            !memchr(tracks[i].fmtp, '\0', sizeof(tracks[i].fmtp)) || strpbrk(tracks[i].mid, " \t\r\n"))
            return false;
    }
    return accepted;
}

static const char *type_name(uint8_t media)
{
    return media == SL_MEDIA_VIDEO ? "video" : media == SL_MEDIA_AUDIO ? "audio" : "application";
}

static const char *encoding_name(uint8_t codec)
{
    return codec == SL_CODEC_H264 ? "H264" : codec == SL_CODEC_H265 ? "H265" : "opus";
}

static void add_attr(sl_sdp_media_desc_t *d, sl_sdp_attr_t *attrs, const char *name, const char *value)
{
    attrs[d->attr_count++] = (sl_sdp_attr_t){name, value};
}

/* The lines that set up the shared transport, in every accepted section. */
static void add_transport(sl_sdp_media_desc_t *d, sl_sdp_attr_t *a, const char *ufrag, const char *pwd,
                          const char *fingerprint)
{
    add_attr(d, a, "ice-ufrag", ufrag);
    add_attr(d, a, "ice-pwd", pwd);
    add_attr(d, a, "fingerprint", fingerprint);
    add_attr(d, a, "setup", "passive");
}

static void add_candidates(const answer_scratch_t *s, sl_sdp_media_desc_t *d, sl_sdp_attr_t *a, int n_ips)
{
    for (int c = 0; c < n_ips; c++) add_attr(d, a, "candidate", s->cand[c]);
    add_attr(d, a, "end-of-candidates", "");
}

/* Fills section i of the scratch for track t. */
static void build_section(answer_scratch_t *s, int i, const sl_webrtc_track_t *t, const char *ufrag,
                          const char *pwd, const char *fingerprint, int n_ips, const uint32_t ssrcs[])
{
    sl_sdp_media_desc_t *d = &s->media[i];
    sl_sdp_attr_t *a = s->attrs[i];
    d->type = type_name(t->media);
    d->conn_addr = "0.0.0.0";
    d->attrs = a;
    d->proto = t->media == SL_MEDIA_DATA ? PROTO_DATA : PROTO_RTP;
    d->formats = t->media == SL_MEDIA_DATA ? FORMAT_DATA : NULL;
    d->pt = t->pt;
    if (!sl_webrtc_track_accepted(t)) {
        /* Rejected: port 0 and the mid, nothing to set up. */
        add_attr(d, a, "mid", t->mid);
        return;
    }
    d->port = 9;
    if (t->media == SL_MEDIA_DATA) {
        /* Our own SCTP port and limit: the offer's are the browser's. */
        add_attr(d, a, "mid", t->mid);
        add_transport(d, a, ufrag, pwd, fingerprint);
        add_attr(d, a, "sctp-port", XSTR(SL_SCTP_PORT));
        add_attr(d, a, "max-message-size", XSTR(SL_SCTP_MAX_MESSAGE));
        add_candidates(s, d, a, n_ips);
        return;
    }
    d->encoding = encoding_name(t->codec);
    d->clock = t->clock;
    d->channels = t->channels;
    memcpy(d->fmtp, t->fmtp, strlen(t->fmtp) + 1);
    d->dir = (sl_sdp_dir_t)t->dir;
    add_attr(d, a, "mid", t->mid);
    add_transport(d, a, ufrag, pwd, fingerprint);
    add_attr(d, a, "rtcp-mux", "");
    snprintf(s->nack[i], sizeof(s->nack[i]), "%u nack", t->pt);
    snprintf(s->pli[i], sizeof(s->pli[i]), "%u nack pli", t->pt);
    if (t->nack) add_attr(d, a, "rtcp-fb", s->nack[i]);
    if (t->pli) add_attr(d, a, "rtcp-fb", s->pli[i]);
    if (t->dir == SL_SDP_DIR_SENDONLY && ssrcs) {
        /* Without a=msid a browser's track event has no stream to attach. */
        snprintf(s->msid[i], sizeof(s->msid[i]), "sluice %s", t->mid);
        snprintf(s->ssrc[i], sizeof(s->ssrc[i]), "%u cname:sluice", ssrcs[i]);
        add_attr(d, a, "msid", s->msid[i]);
        add_attr(d, a, "ssrc", s->ssrc[i]);
    }
    add_candidates(s, d, a, n_ips);
}

/* A stable o= session id from our ufrag, which is random per session, so the
 * writer needs no random source of its own. FNV-1a, kept under 2^63 (RFC 8866 5.2
 * wants it to fit a signed 64-bit integer). */
static uint64_t session_id(const char *ufrag)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *p = ufrag; *p; p++) h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
    return h >> 1;
}

int sl_webrtc_write_answer(const sl_webrtc_offer_info_t *info, const sl_webrtc_track_t tracks[], int n,
                           const char *ufrag, const char *pwd, const char *fingerprint,
                           const char *const *candidate_ips, int n_ips, uint16_t port, const uint32_t ssrcs[],
                           sl_bytes_t *out)
{
    if (!args_ok(tracks, n, ufrag, pwd, fingerprint, candidate_ips, n_ips)) return SL_ERR_PROTO;
    answer_scratch_t *s = calloc(1, sizeof(*s));
    if (!s) return SL_ERR_NOMEM;
    for (int c = 0; c < n_ips; c++) {
        /* RFC 8445 5.1.2.1: type preference 126 (host), local preference falling with
         * the order of the addresses, component 1. */
        uint32_t priority = 126u << 24 | (uint32_t)(65535 - c) << 8 | 255u;
        snprintf(s->cand[c], sizeof(s->cand[c]), "%d 1 udp %u %s %u typ host", c + 1, priority,
                 candidate_ips[c], port);
    }
    size_t len = (size_t)snprintf(s->bundle, sizeof(s->bundle), "BUNDLE");
    for (int i = 0; i < n; i++) {
        build_section(s, i, &tracks[i], ufrag, pwd, fingerprint, n_ips, ssrcs);
        if (sl_webrtc_track_accepted(&tracks[i]))
            len += (size_t)snprintf(s->bundle + len, sizeof(s->bundle) - len, " %s", tracks[i].mid);
    }
    int n_session = 0;
    if (info->bundle_count > 0) s->session_attrs[n_session++] = (sl_sdp_attr_t){"group", s->bundle};
    s->session_attrs[n_session++] = (sl_sdp_attr_t){"ice-lite", ""};
    sl_sdp_session_desc_t session = {
        .session_id = session_id(ufrag),
        .session_version = 1,
        .origin_addr = "127.0.0.1",
        .name = "-",
        .attrs = s->session_attrs,
        .attr_count = n_session,
    };
    int rc = sl_sdp_write(&session, s->media, n, out);
    free(s);
    return rc;
}
