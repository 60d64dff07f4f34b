#include "protocols/webrtc/ice.h"

#include <netinet/in.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/webrtc/stun.h"

#define NONE UINT32_MAX

/* A transport address as a hash key: zero-filled so it compares with memcmp. */
typedef struct addr_key {
    uint8_t ip[16];
    uint16_t port;
    uint8_t family; /* 4 or 6 */
    uint8_t zero;
} addr_key_t;

typedef struct ice_session {
    bool used;
    bool has_addr;
    bool nominated;
    bool has_remote;
    char ufrag[SL_ICE_UFRAG_MAX + 1];
    char pwd[SL_ICE_PWD_MAX + 1];
    char remote[SL_ICE_REMOTE_UFRAG_MAX + 1];
    void *user;
    uint64_t consent_ms;
    addr_key_t key;
    struct sockaddr_storage addr;
} ice_session_t;

/* Sessions live in a fixed array; two open-addressing indexes (linear probing,
 * at most half full, so a probe always ends on an empty slot) map ufrags and
 * addresses to array positions, stored plus one so that 0 means empty. */
struct sl_ice {
    uint32_t max;
    uint32_t mask; /* index capacity - 1 */
    uint64_t consent_timeout;
    uint64_t seed; /* per agent, so peers cannot aim for colliding addresses */
    size_t count;
    ice_session_t *sessions;
    uint32_t *free_list; /* unused positions, a stack */
    uint32_t n_free;
    uint32_t *by_ufrag;
    uint32_t *by_addr;
};

static const char ICE_CHARS[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- credentials ---- */

static int random_chars(char *out, size_t n)
{
    uint8_t rnd[SL_ICE_PWD_LEN];
    if (RAND_bytes(rnd, (int)n) != 1) return SL_ERR_IO;
    /* 64 ice-chars: a byte modulo 64 is uniform. */
    for (size_t i = 0; i < n; i++) out[i] = ICE_CHARS[rnd[i] % 64];
    out[n] = '\0';
    return SL_OK;
}

int sl_ice_gen_credentials(char ufrag[SL_ICE_UFRAG_LEN + 1], char pwd[SL_ICE_PWD_LEN + 1])
{
    int rc = random_chars(ufrag, SL_ICE_UFRAG_LEN);
    return rc != SL_OK ? rc : random_chars(pwd, SL_ICE_PWD_LEN);
}

static bool ice_chars_ok(const char *s, size_t min, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n < min || n > max) return false;
    for (size_t i = 0; i < n; i++)
        if (memchr(ICE_CHARS, s[i], sizeof(ICE_CHARS) - 1) == NULL) return false;
    return true;
}

/* ---- hashing and the two indexes ---- */

static uint32_t hash_bytes(const sl_ice_t *ice, const void *p, size_t n)
{
    /* FNV-1a from a random basis, folded: enough against chosen keys here since
     * addresses enter the index only after authentication. */
    uint64_t h = ice->seed;
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * UINT64_C(0x100000001b3);
    return (uint32_t)(h ^ h >> 32) & ice->mask;
}

static uint32_t home_of(const sl_ice_t *ice, const uint32_t *index, uint32_t pos)
{
    const ice_session_t *s = &ice->sessions[pos];
    if (index == ice->by_addr) return hash_bytes(ice, &s->key, sizeof(s->key));
    return hash_bytes(ice, s->ufrag, strlen(s->ufrag));
}

static void index_insert(sl_ice_t *ice, uint32_t *index, uint32_t pos)
{
    uint32_t i = home_of(ice, index, pos);
    while (index[i] != 0) i = (i + 1) & ice->mask;
    index[i] = pos + 1;
}

/* Removes pos and shifts back the entries after it that would otherwise become
 * unreachable, so the index needs no tombstones. */
static void index_erase(sl_ice_t *ice, uint32_t *index, uint32_t pos)
{
    uint32_t i = home_of(ice, index, pos);
    while (index[i] != pos + 1) i = (i + 1) & ice->mask;
    uint32_t j = i;
    for (;;) {
        index[i] = 0;
        for (;;) {
            j = (j + 1) & ice->mask;
            if (index[j] == 0) return;
            uint32_t k = home_of(ice, index, index[j] - 1);
            /* The entry at j stays when its home lies cyclically in (i, j]. */
            bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
            if (!stays) break;
        }
        index[i] = index[j];
        i = j;
    }
}

static uint32_t find_ufrag(const sl_ice_t *ice, const uint8_t *u, size_t n)
{
    if (n == 0 || n > SL_ICE_UFRAG_MAX) return NONE;
    for (uint32_t i = hash_bytes(ice, u, n); ice->by_ufrag[i] != 0; i = (i + 1) & ice->mask) {
        const ice_session_t *s = &ice->sessions[ice->by_ufrag[i] - 1];
        if (strlen(s->ufrag) == n && memcmp(s->ufrag, u, n) == 0) return ice->by_ufrag[i] - 1;
    }
    return NONE;
}

static uint32_t find_addr(const sl_ice_t *ice, const addr_key_t *k)
{
    for (uint32_t i = hash_bytes(ice, k, sizeof(*k)); ice->by_addr[i] != 0; i = (i + 1) & ice->mask) {
        const ice_session_t *s = &ice->sessions[ice->by_addr[i] - 1];
        if (memcmp(&s->key, k, sizeof(*k)) == 0) return ice->by_addr[i] - 1;
    }
    return NONE;
}

static int addr_key(addr_key_t *k, const struct sockaddr *sa)
{
    memset(k, 0, sizeof(*k));
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        memcpy(k->ip, &sin->sin_addr, 4);
        k->port = sin->sin_port;
        k->family = 4;
        return SL_OK;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        memcpy(k->ip, &sin6->sin6_addr, 16);
        k->port = sin6->sin6_port;
        k->family = 6;
        return SL_OK;
    }
    return SL_ERR_UNSUPPORTED;
}

/* ---- the agent ---- */

sl_ice_t *sl_ice_new(const sl_ice_config_t *cfg)
{
    if (cfg->max_sessions == 0 || cfg->max_sessions > 1u << 20) return NULL;
    sl_ice_t *ice = calloc(1, sizeof(*ice));
    if (ice == NULL) return NULL;
    uint32_t cap = 2;
    while (cap < 2 * cfg->max_sessions) cap *= 2;
    ice->max = cfg->max_sessions;
    ice->mask = cap - 1;
    ice->consent_timeout = cfg->consent_timeout_ms ? cfg->consent_timeout_ms : SL_ICE_DEFAULT_CONSENT_MS;
    ice->sessions = calloc(ice->max, sizeof(*ice->sessions));
    ice->free_list = calloc(ice->max, sizeof(*ice->free_list));
    ice->by_ufrag = calloc(cap, sizeof(*ice->by_ufrag));
    ice->by_addr = calloc(cap, sizeof(*ice->by_addr));
    if (!ice->sessions || !ice->free_list || !ice->by_ufrag || !ice->by_addr) goto fail;
    if (RAND_bytes((uint8_t *)&ice->seed, sizeof(ice->seed)) != 1) goto fail;
    /* Pushed in reverse so that position 0 is used first. */
    for (uint32_t i = 0; i < ice->max; i++) ice->free_list[i] = ice->max - 1 - i;
    ice->n_free = ice->max;
    return ice;
fail:
    sl_ice_free(ice);
    return NULL;
}

void sl_ice_free(sl_ice_t *ice)
{
    if (ice == NULL) return;
    free(ice->sessions);
    free(ice->free_list);
    free(ice->by_ufrag);
    free(ice->by_addr);
    free(ice);
}

size_t sl_ice_count(const sl_ice_t *ice) { return ice->count; }

int sl_ice_add(sl_ice_t *ice, const char *local_ufrag, const char *local_pwd, const char *remote_ufrag,
               void *session, uint64_t now_ms)
{
    if (!ice_chars_ok(local_ufrag, 4, SL_ICE_UFRAG_MAX) || !ice_chars_ok(local_pwd, 22, SL_ICE_PWD_MAX))
        return SL_ERR_PROTO;
    if (remote_ufrag != NULL && !ice_chars_ok(remote_ufrag, 1, SL_ICE_REMOTE_UFRAG_MAX)) return SL_ERR_PROTO;
    if (find_ufrag(ice, (const uint8_t *)local_ufrag, strlen(local_ufrag)) != NONE) return SL_ERR_BUSY;
    if (ice->n_free == 0) return SL_ERR_TOO_BIG;

    uint32_t pos = ice->free_list[--ice->n_free];
    ice_session_t *s = &ice->sessions[pos];
    memset(s, 0, sizeof(*s));
    s->used = true;
    strcpy(s->ufrag, local_ufrag);
    strcpy(s->pwd, local_pwd);
    if (remote_ufrag != NULL) {
        s->has_remote = true;
        strcpy(s->remote, remote_ufrag);
    }
    s->user = session;
    s->consent_ms = now_ms;
    index_insert(ice, ice->by_ufrag, pos);
    ice->count++;
    return SL_OK;
}

static void drop_addr(sl_ice_t *ice, uint32_t pos)
{
    if (!ice->sessions[pos].has_addr) return;
    index_erase(ice, ice->by_addr, pos);
    ice->sessions[pos].has_addr = false;
}

int sl_ice_remove(sl_ice_t *ice, const char *local_ufrag)
{
    uint32_t pos = find_ufrag(ice, (const uint8_t *)local_ufrag, strnlen(local_ufrag, SL_ICE_UFRAG_MAX + 1));
    if (pos == NONE) return SL_ERR_NOT_FOUND;
    drop_addr(ice, pos);
    index_erase(ice, ice->by_ufrag, pos);
    ice->sessions[pos].used = false;
    ice->free_list[ice->n_free++] = pos;
    ice->count--;
    return SL_OK;
}

/* Binds the address to the session at pos, taking it from any other session. */
static void set_addr(sl_ice_t *ice, uint32_t pos, const addr_key_t *k, const struct sockaddr *from)
{
    ice_session_t *s = &ice->sessions[pos];
    if (s->has_addr && memcmp(&s->key, k, sizeof(*k)) == 0) return;
    drop_addr(ice, pos);
    uint32_t owner = find_addr(ice, k);
    if (owner != NONE) drop_addr(ice, owner);
    s->key = *k;
    memset(&s->addr, 0, sizeof(s->addr));
    memcpy(&s->addr, from, from->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
    s->has_addr = true;
    index_insert(ice, ice->by_addr, pos);
}

/* The session a request authenticates for, or NONE. */
static uint32_t authenticate(const sl_ice_t *ice, const sl_stun_msg_t *m, int *rc)
{
    *rc = SL_ERR_AUTH;
    if (m->username == NULL || !m->has_integrity) return NONE;
    const uint8_t *colon = memchr(m->username, ':', m->username_len);
    if (colon == NULL) return NONE;
    uint32_t pos = find_ufrag(ice, m->username, (size_t)(colon - m->username));
    if (pos == NONE) return NONE;
    const ice_session_t *s = &ice->sessions[pos];
    size_t rlen = m->username_len - (size_t)(colon + 1 - m->username);
    if (s->has_remote && (rlen != strlen(s->remote) || memcmp(colon + 1, s->remote, rlen) != 0)) return NONE;
    int r = sl_stun_check_integrity(m, (const uint8_t *)s->pwd, strlen(s->pwd));
    if (r != SL_OK) {
        if (r == SL_ERR_NOMEM) *rc = r;
        return NONE;
    }
    *rc = SL_OK;
    return pos;
}

/* An authenticated request this agent will not accept: the error answer to send,
 * or 0. */
static int refusal(const sl_stun_msg_t *m)
{
    if (m->n_unknown > 0) return 420;
    if (!m->has_priority) return 400;
    if (m->ice_controlled) return 487;
    return 0;
}

int sl_ice_on_stun(sl_ice_t *ice, const uint8_t *pkt, size_t len, const struct sockaddr *from, uint64_t now_ms,
                   sl_bytes_t *reply, void **session_out)
{
    if (session_out != NULL) *session_out = NULL;
    addr_key_t k;
    int rc = addr_key(&k, from);
    if (rc != SL_OK) return rc;
    sl_stun_msg_t m;
    if (sl_stun_parse(&m, pkt, len) != SL_OK || m.type != SL_STUN_BINDING_REQUEST) return SL_ERR_PROTO;
    if (sl_stun_check_fingerprint(&m) != SL_OK) return SL_ERR_PROTO;
    uint32_t pos = authenticate(ice, &m, &rc);
    if (pos == NONE) return rc;
    ice_session_t *s = &ice->sessions[pos];
    const uint8_t *key = (const uint8_t *)s->pwd;
    size_t key_len = strlen(s->pwd);

    int code = refusal(&m);
    if (code != 0) {
        size_t n = SL_MIN(m.n_unknown, (size_t)SL_STUN_MAX_UNKNOWN);
        rc = sl_stun_write_error(reply, m.tid, code, m.unknown, n, key, key_len);
        return rc != SL_OK ? rc : SL_ERR_PROTO;
    }
    /* Answer first: when that fails for memory, no state has changed. */
    rc = sl_stun_write_binding_success(reply, m.tid, from, NULL, key, key_len);
    if (rc != SL_OK) return rc;
    if (m.use_candidate) s->nominated = true;
    if (m.use_candidate || !s->nominated) set_addr(ice, pos, &k, from);
    if (s->has_addr && memcmp(&s->key, &k, sizeof(k)) == 0) s->consent_ms = now_ms;
    if (session_out != NULL) *session_out = s->user;
    return SL_OK;
}

void *sl_ice_lookup_addr(const sl_ice_t *ice, const struct sockaddr *from)
{
    addr_key_t k;
    if (addr_key(&k, from) != SL_OK) return NULL;
    uint32_t pos = find_addr(ice, &k);
    return pos == NONE ? NULL : ice->sessions[pos].user;
}

int sl_ice_selected_addr(const sl_ice_t *ice, const char *local_ufrag, struct sockaddr_storage *out)
{
    uint32_t pos = find_ufrag(ice, (const uint8_t *)local_ufrag, strnlen(local_ufrag, SL_ICE_UFRAG_MAX + 1));
    if (pos == NONE || !ice->sessions[pos].has_addr) return SL_ERR_NOT_FOUND;
    *out = ice->sessions[pos].addr;
    return SL_OK;
}

size_t sl_ice_sweep_expired(sl_ice_t *ice, uint64_t now_ms, void (*expired)(void *session, void *arg), void *arg)
{
    size_t n = 0;
    for (uint32_t i = 0; i < ice->max; i++) {
        const ice_session_t *s = &ice->sessions[i];
        if (!s->used || now_ms < s->consent_ms || now_ms - s->consent_ms < ice->consent_timeout) continue;
        n++;
        expired(s->user, arg);
    }
    return n;
}
