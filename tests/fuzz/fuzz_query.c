/* Fuzzes the URL-query reader every protocol's token goes through, and the token
 * check behind it: hostile queries as clients send them. A value that is read back
 * must survive sl_query_put and sl_query_get unchanged, and no token made of
 * hostile bytes may pass a check against a secret it does not hold. */
#include <stdlib.h>
#include <string.h>

#include "sluice/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char query[4096];
    if (size >= sizeof(query)) return 0;
    memcpy(query, data, size);
    query[size] = '\0';
    char token[256], expires[32];
    int rc = sl_query_get(query, "token", token, sizeof(token));
    if (rc == SL_OK) {
        sl_bytes_t again;
        sl_bytes_init(&again);
        char back[256];
        if (sl_query_put(&again, "token", token) == SL_OK && sl_bytes_append(&again, "", 1) == SL_OK &&
            (sl_query_get((const char *)again.data, "token", back, sizeof(back)) != SL_OK || strcmp(back, token) != 0))
            abort();
        sl_bytes_free(&again);
    }
    if (rc != SL_OK) token[0] = '\0';
    if (sl_query_get(query, "expires", expires, sizeof(expires)) != SL_OK) expires[0] = '\0';
    /* The secret is longer than any token read here, so a simple token cannot be it,
     * and md5/hmac ones would need a forged digest: none may pass. */
    static char secret[300];
    if (secret[0] == '\0') memset(secret, 's', sizeof(secret) - 1);
    static const sl_token_kind_t kinds[] = {SL_TOKEN_SIMPLE, SL_TOKEN_MD5, SL_TOKEN_HMAC};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (sl_token_verify(kinds[i], secret, "live", "cam", SL_DIR_PLAY, token, expires, 1000, NULL) == SL_OK)
            abort();
    return 0;
}
