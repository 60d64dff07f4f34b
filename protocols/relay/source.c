#include "protocols/relay/source.h"

#include <stdio.h>
#include <string.h>

#include "protocols/relay/url.h"

static const char *const transport_names[] = {"auto", "tcp", "udp"};

const char *sl_source_transport_name(sl_source_transport_t t) { return transport_names[t]; }

int sl_source_transport_parse(const char *name, sl_source_transport_t *out)
{
    for (size_t i = 0; i < SL_ARRAY_SIZE(transport_names); i++) {
        if (strcmp(name, transport_names[i]) == 0) {
            *out = (sl_source_transport_t)i;
            return SL_OK;
        }
    }
    return SL_ERR_PROTO;
}

/* The URL of a source: RTSP as cameras give it, or RTMP naming one stream. */
static int check_url(sl_source_spec_t *out, const char **why)
{
    sl_rtsp_url_t rtsp;
    sl_rtmp_url_t rtmp;
    if (sl_rtsp_url_parse(out->url, &rtsp) == SL_OK) {
        out->rtsp = true;
        return SL_OK;
    }
    if (sl_rtmp_url_parse(out->url, &rtmp) == SL_OK) {
        if (rtmp.name[0] != '\0') return SL_OK;
        *why = "an rtmp:// source names its stream: rtmp://host/app/name";
        return SL_ERR_PROTO;
    }
    *why = "the URL is not rtsp://host/path or rtmp://host/app/name";
    return SL_ERR_PROTO;
}

static int parse_option(const char *word, sl_source_spec_t *out, bool *seen_transport, const char **why)
{
    if (strcmp(word, "always_on") == 0 && !out->always_on) {
        out->always_on = true;
        return SL_OK;
    }
    if (strncmp(word, "transport=", 10) == 0 && !*seen_transport) {
        *seen_transport = true;
        if (sl_source_transport_parse(word + 10, &out->transport) == SL_OK) return SL_OK;
        *why = "transport is tcp, udp or auto";
        return SL_ERR_PROTO;
    }
    *why = "unknown or repeated option (transport=tcp|udp|auto, always_on)";
    return SL_ERR_PROTO;
}

int sl_source_spec_parse(const char *entry, sl_source_spec_t *out, const char **why)
{
    char copy[SL_CONFIG_SOURCE_MAX], *save = NULL;
    memset(out, 0, sizeof(*out));
    *why = "expected \"KEY URL [transport=tcp|udp|auto] [always_on]\"";
    if (strlen(entry) >= sizeof(copy)) return SL_ERR_PROTO;
    snprintf(copy, sizeof(copy), "%s", entry);
    const char *key = strtok_r(copy, " ", &save);
    const char *url = strtok_r(NULL, " ", &save);
    if (key == NULL || url == NULL) return SL_ERR_PROTO;
    if (!sl_hub_key_valid(key)) {
        *why = "the stream key is not \"app/name\"";
        return SL_ERR_PROTO;
    }
    snprintf(out->key, sizeof(out->key), "%s", key);
    snprintf(out->url, sizeof(out->url), "%s", url);
    int rc = check_url(out, why);
    bool seen_transport = false;
    for (const char *w = strtok_r(NULL, " ", &save); rc == SL_OK && w != NULL; w = strtok_r(NULL, " ", &save))
        rc = parse_option(w, out, &seen_transport, why);
    if (rc == SL_OK && seen_transport && !out->rtsp) {
        *why = "transport= applies to rtsp:// sources only";
        rc = SL_ERR_PROTO;
    }
    if (rc != SL_OK) memset(out, 0, sizeof(*out));
    return rc;
}

void sl_source_url_redact(const char *url, char *out, size_t n)
{
    /* The userinfo ends at the last '@' before the path, as sl_rtsp_url_parse reads it. */
    const char *scheme_end = strstr(url, "://");
    const char *host = scheme_end != NULL ? scheme_end + 3 : url;
    const char *path = strchr(host, '/');
    const char *at = NULL;
    for (const char *c = host; *c != '\0' && (path == NULL || c < path); c++)
        if (*c == '@') at = c;
    const char *colon = at != NULL ? memchr(host, ':', (size_t)(at - host)) : NULL;
    if (colon == NULL) {
        snprintf(out, n, "%s", url);
        return;
    }
    snprintf(out, n, "%.*s***%s", (int)(colon + 1 - url), url, at);
}
