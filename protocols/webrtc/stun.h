/* STUN (RFC 5389 / RFC 8489) as an ICE-lite server needs it, without I/O.
 *
 * The parser takes one whole datagram and exposes the attributes ICE uses; the
 * result borrows the caller's bytes. MESSAGE-INTEGRITY (HMAC-SHA1, short-term
 * credentials: the key is the ICE password as is, ice-chars need no SASLprep) and
 * FINGERPRINT are checked separately, so the caller can choose the key from the
 * USERNAME first. The writers append Binding success and error responses to an
 * sl_bytes_t. Padding is written as zero bytes (RFC 8489 14) and ignored on input.
 *
 * Also here: telling STUN from DTLS and RTP on a shared port (RFC 7983 7).
 */
#ifndef SLUICE_WEBRTC_STUN_H
#define SLUICE_WEBRTC_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sluice/buf.h"

#define SL_STUN_HEADER_LEN 20
#define SL_STUN_MAGIC_COOKIE 0x2112A442u
#define SL_STUN_TID_LEN 12
#define SL_STUN_INTEGRITY_LEN 20
#define SL_STUN_USERNAME_MAX 513 /* bytes, RFC 5389 15.3 */
#define SL_STUN_MAX_UNKNOWN 8    /* unknown comprehension-required attributes kept */

/* Message types: method Binding with its four classes. */
enum {
    SL_STUN_BINDING_REQUEST = 0x0001,
    SL_STUN_BINDING_INDICATION = 0x0011,
    SL_STUN_BINDING_SUCCESS = 0x0101,
    SL_STUN_BINDING_ERROR = 0x0111,
};

/* Attribute types used here. Below 0x8000 a receiver must understand them. */
enum {
    SL_STUN_ATTR_USERNAME = 0x0006,
    SL_STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
    SL_STUN_ATTR_ERROR_CODE = 0x0009,
    SL_STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
    SL_STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
    SL_STUN_ATTR_PRIORITY = 0x0024,
    SL_STUN_ATTR_USE_CANDIDATE = 0x0025,
    SL_STUN_ATTR_SOFTWARE = 0x8022,
    SL_STUN_ATTR_FINGERPRINT = 0x8028,
    SL_STUN_ATTR_ICE_CONTROLLED = 0x8029,
    SL_STUN_ATTR_ICE_CONTROLLING = 0x802A,
};

/* A parsed message. Pointers borrow the parsed bytes. Of a repeated attribute only
 * the first occurrence counts; attributes after MESSAGE-INTEGRITY other than
 * FINGERPRINT are ignored (RFC 5389 15.4). Offsets are from the message start. */
typedef struct sl_stun_msg {
    uint16_t type;
    uint16_t length; /* body length from the header */
    uint8_t tid[SL_STUN_TID_LEN];
    const uint8_t *raw; /* the whole message */
    size_t raw_len;

    const uint8_t *username; /* not NUL-terminated; NULL when absent */
    size_t username_len;
    const uint8_t *software; /* not NUL-terminated; NULL when absent */
    size_t software_len;
    bool has_priority;
    uint32_t priority;
    bool use_candidate;
    bool ice_controlling, ice_controlled;
    uint64_t tie_breaker; /* of whichever of the two came first */
    bool has_xor_mapped;
    struct sockaddr_storage xor_mapped; /* AF_INET or AF_INET6, port set */
    bool has_error;
    int error_code; /* 300..699 */
    const uint8_t *error_reason;
    size_t error_reason_len;
    bool has_integrity;
    size_t integrity_off; /* of the attribute header */
    bool has_fingerprint;
    size_t fingerprint_off; /* of the attribute header */
    /* Unknown comprehension-required attributes, for a 420 answer. n_unknown counts
     * all of them; only the first SL_STUN_MAX_UNKNOWN are stored. */
    uint16_t unknown[SL_STUN_MAX_UNKNOWN];
    size_t n_unknown;
} sl_stun_msg_t;

/* Parses exactly one message filling p[0..n) (a UDP datagram). m borrows p.
 * SL_ERR_PROTO when malformed: not STUN, wrong length, truncated or overlong
 * attribute, bad size of a known attribute, anything after FINGERPRINT. */
int sl_stun_parse(sl_stun_msg_t *m, const uint8_t *p, size_t n) SL_MUST_CHECK;

/* Checks MESSAGE-INTEGRITY with key[0..key_len). SL_OK when it matches,
 * SL_ERR_AUTH when it does not, SL_ERR_NOT_FOUND when absent, SL_ERR_NOMEM when
 * OpenSSL could not allocate. */
int sl_stun_check_integrity(const sl_stun_msg_t *m, const uint8_t *key, size_t key_len) SL_MUST_CHECK;

/* Checks FINGERPRINT: SL_OK, SL_ERR_PROTO when wrong, SL_ERR_NOT_FOUND when absent. */
int sl_stun_check_fingerprint(const sl_stun_msg_t *m) SL_MUST_CHECK;

/* The HMAC-SHA1 a MESSAGE-INTEGRITY attribute at msg[mi_off] must hold: over
 * msg[0..mi_off) with the header length counting up to the end of that attribute.
 * msg must hold at least SL_STUN_HEADER_LEN <= mi_off bytes. SL_OK or SL_ERR_NOMEM. */
int sl_stun_integrity(const uint8_t *msg, size_t mi_off, const uint8_t *key, size_t key_len,
                      uint8_t out[SL_STUN_INTEGRITY_LEN]) SL_MUST_CHECK;

/* The value a FINGERPRINT attribute at msg[fp_off] must hold: CRC-32 of
 * msg[0..fp_off), header length counting up to the end of that attribute, XOR
 * 0x5354554E. msg must hold at least SL_STUN_HEADER_LEN <= fp_off bytes. */
uint32_t sl_stun_fingerprint(const uint8_t *msg, size_t fp_off);

/* Appends a Binding success response to out: transaction id tid, SOFTWARE when
 * software (a C string of at most 763 bytes) is not NULL, XOR-MAPPED-ADDRESS of
 * mapped (AF_INET or AF_INET6; an IPv4-mapped IPv6 address is written as IPv4),
 * MESSAGE-INTEGRITY keyed with key[0..key_len) when key is not NULL, and
 * FINGERPRINT. Nothing is kept of the arguments. On error out keeps its old length:
 * SL_ERR_UNSUPPORTED for another address family, SL_ERR_TOO_BIG for a longer
 * software, SL_ERR_NOMEM. */
int sl_stun_write_binding_success(sl_bytes_t *out, const uint8_t tid[SL_STUN_TID_LEN],
                                  const struct sockaddr *mapped, const char *software, const uint8_t *key,
                                  size_t key_len) SL_MUST_CHECK;

/* Appends a Binding error response to out: ERROR-CODE code (300..699) with its
 * standard reason phrase, UNKNOWN-ATTRIBUTES unknown[0..n_unknown) when n_unknown
 * > 0 (for 420), MESSAGE-INTEGRITY when key is not NULL (never for 401: the request
 * was not authenticated), and FINGERPRINT. On error out keeps its old length.
 * SL_ERR_PROTO for a code out of range or too many unknowns, SL_ERR_NOMEM. */
int sl_stun_write_error(sl_bytes_t *out, const uint8_t tid[SL_STUN_TID_LEN], int code, const uint16_t *unknown,
                        size_t n_unknown, const uint8_t *key, size_t key_len) SL_MUST_CHECK;

/* Whether p[0..n) looks like one STUN message (RFC 7983 plus RFC 5389 6): first
 * byte 0..3, the magic cookie, a body length that is a multiple of 4 and fills the
 * datagram exactly. Cheap; does not look at attributes. */
bool sl_stun_is_stun(const uint8_t *p, size_t n);

typedef enum sl_webrtc_kind {
    SL_WEBRTC_OTHER = 0,
    SL_WEBRTC_STUN,
    SL_WEBRTC_DTLS,
    SL_WEBRTC_RTP, /* RTP or RTCP, SRTP-protected */
} sl_webrtc_kind_t;

/* What a datagram on the shared port is, from its first byte (RFC 7983 7):
 * 0..3 STUN, 20..63 DTLS, 128..191 RTP/RTCP, anything else OTHER (ZRTP, TURN
 * channels, garbage), which is dropped. */
sl_webrtc_kind_t sl_webrtc_classify(uint8_t first_byte);

#endif
