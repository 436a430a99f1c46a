/* stun: STUN for ICE-lite (RFC 5389, 8489, 8445): parse into a view, build into a buffer. */
#ifndef CW_RTC_STUN_H
#define CW_RTC_STUN_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * Pure: no allocation of its own (only OpenSSL's HMAC context, per integrity check), no
 * I/O, no clock, so it runs on the media workers' packet path and the fuzzer drives it
 * directly. The parser fills a view whose pointers point into the parsed buffer; builders
 * write into a buffer the caller provides. Every function returns 0 or one of the negative
 * errno-style codes below.
 */

#define CW_STUN_HEADER_LEN 20
#define CW_STUN_TID_LEN 12
#define CW_STUN_MAGIC_COOKIE 0x2112a442u
#define CW_STUN_USERNAME_MAX 512 /* RFC 5389 §15.3: fewer than 513 bytes */
#define CW_STUN_REASON_MAX 763	 /* RFC 5389 §15.6 */
#define CW_STUN_UNKNOWN_MAX 8	 /* unknown attributes the view keeps for a 420 */

/* The error list: name, value, text. Values are negative errno codes, one per cause, so a
 * caller can count drops by cause (cw_stun_err_name gives a metrics label). */
#define CW_STUN_ERRNO_MAP(X)                                                                       \
	X(NOT_STUN, -ENOMSG, "not a STUN message (first bits or magic cookie)")                    \
	X(TRUNCATED, -ENODATA, "shorter than the STUN header or than its length field says")       \
	X(BAD_LENGTH, -EBADMSG, "length field not a multiple of 4 or short of the datagram")       \
	X(ATTR_OVERRUN, -EOVERFLOW, "an attribute runs past the end of the message")               \
	X(BAD_ATTR, -EPROTO, "an attribute is malformed, misplaced or conflicting")                \
	X(UNKNOWN_ATTR, -EOPNOTSUPP, "an unknown comprehension-required attribute")                \
	X(FINGERPRINT, -EILSEQ, "FINGERPRINT does not match the message")                          \
	X(NO_INTEGRITY, -ENOENT, "no MESSAGE-INTEGRITY attribute")                                 \
	X(INTEGRITY, -EACCES, "MESSAGE-INTEGRITY does not match the key")                          \
	X(NO_SPACE, -ENOBUFS, "the output buffer is too small")                                    \
	X(INVALID, -EINVAL, "invalid argument")                                                    \
	X(CRYPTO, -EIO, "the crypto library failed")

enum cw_stun_err {
#define CW_STUN_ERR_ENUM(name, value, text) CW_STUN_ERR_##name = (value),
	CW_STUN_ERRNO_MAP(CW_STUN_ERR_ENUM)
#undef CW_STUN_ERR_ENUM
};

/* A description of err ("unknown error" for a value not in the list, "success" for 0). */
const char *cw_stun_strerror(int err);
/* The name of err without its prefix ("NOT_STUN", "INTEGRITY", …; "OK" for 0, "UNKNOWN"
 * otherwise): a label for metrics. */
const char *cw_stun_err_name(int err);

enum cw_stun_class {
	CW_STUN_REQUEST = 0,
	CW_STUN_INDICATION = 1,
	CW_STUN_SUCCESS = 2,
	CW_STUN_ERROR = 3,
};

#define CW_STUN_BINDING 0x001 /* the only method ICE uses */

/* Attribute types this module reads or writes. */
enum cw_stun_attr {
	CW_STUN_ATTR_MAPPED_ADDRESS = 0x0001,
	CW_STUN_ATTR_USERNAME = 0x0006,
	CW_STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
	CW_STUN_ATTR_ERROR_CODE = 0x0009,
	CW_STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000a,
	CW_STUN_ATTR_REALM = 0x0014,
	CW_STUN_ATTR_NONCE = 0x0015,
	CW_STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
	CW_STUN_ATTR_PRIORITY = 0x0024,
	CW_STUN_ATTR_USE_CANDIDATE = 0x0025,
	CW_STUN_ATTR_SOFTWARE = 0x8022,
	CW_STUN_ATTR_FINGERPRINT = 0x8028,
	CW_STUN_ATTR_ICE_CONTROLLED = 0x8029,
	CW_STUN_ATTR_ICE_CONTROLLING = 0x802a,
};

/* ERROR-CODE values ICE-lite answers with. */
enum cw_stun_code {
	CW_STUN_CODE_BAD_REQUEST = 400,	      /* no USERNAME or MESSAGE-INTEGRITY */
	CW_STUN_CODE_UNAUTHORIZED = 401,      /* unknown USERNAME or wrong integrity */
	CW_STUN_CODE_UNKNOWN_ATTRIBUTE = 420, /* lists the request's unknown attributes */
	CW_STUN_CODE_ROLE_CONFLICT = 487,     /* RFC 8445 §7.3.1.1 */
	CW_STUN_CODE_SERVER_ERROR = 500,
};

enum cw_stun_role {
	CW_STUN_ROLE_NONE,
	CW_STUN_ROLE_CONTROLLING, /* ICE-CONTROLLING was present */
	CW_STUN_ROLE_CONTROLLED,  /* ICE-CONTROLLED was present */
};

/* A parsed message. Pointers point into the parsed buffer, which must outlive the view;
 * strings are not NUL-terminated. Of an attribute that appears twice only the first counts;
 * attributes after MESSAGE-INTEGRITY other than FINGERPRINT are ignored (RFC 5389 §15.4). */
struct cw_stun_msg {
	const uint8_t *raw; /* the whole message */
	size_t len;	    /* its length: the header's 20 bytes and the attributes */
	uint16_t type;	    /* the message type field: class and method bits */
	enum cw_stun_class cls;
	uint16_t method;    /* CW_STUN_BINDING, … */
	const uint8_t *tid; /* CW_STUN_TID_LEN bytes */

	const char *username; /* NULL when absent */
	size_t username_len;
	bool has_priority;
	uint32_t priority;
	bool use_candidate;
	enum cw_stun_role role;
	uint64_t tie_breaker; /* of ICE-CONTROLLING or ICE-CONTROLLED */
	bool has_mapped;
	struct sockaddr_storage mapped; /* XOR-MAPPED-ADDRESS, decoded: sockaddr_in or _in6 */
	int error_code;			/* ERROR-CODE (300..699), 0 when absent */
	const char *reason;		/* its reason phrase, reason_len bytes */
	size_t reason_len;
	size_t integrity_off; /* offset of MESSAGE-INTEGRITY in raw, 0 when absent */
	bool has_fingerprint; /* present, and verified by the parser */
	/* Unknown comprehension-required attributes (the first CW_STUN_UNKNOWN_MAX). */
	uint16_t unknown[CW_STUN_UNKNOWN_MAX];
	size_t n_unknown;
};

/* Whether buf looks like a STUN message, for the RFC 7983 demultiplexer: first byte 0..3,
 * the magic cookie, a length field that is a multiple of 4 and equals len - 20. Cheap: reads
 * the 20-byte header only. */
bool cw_stun_is_stun(const uint8_t *buf, size_t len);

/* Parses the datagram buf[0..len) into msg. Takes what cw_stun_is_stun takes (so methods
 * below 0x100: all of ICE's and TURN's), checks every bound and attribute size, and checks
 * FINGERPRINT when present. Does not check MESSAGE-INTEGRITY, whose key depends on USERNAME:
 * look the key up, then call cw_stun_check_integrity.
 *
 * Returns 0; or CW_STUN_ERR_UNKNOWN_ATTR when all is well but for unknown
 * comprehension-required attributes: the view is then complete (msg->unknown lists them) so
 * that a request can be authenticated and answered with a 420, and a response dropped; or
 * another CW_STUN_ERR_*, after which the view's contents are unspecified. */
int cw_stun_parse(struct cw_stun_msg *msg, const uint8_t *buf, size_t len);

/* Checks msg's MESSAGE-INTEGRITY: HMAC-SHA1 keyed with key (for ICE's short-term
 * credentials, the password the USERNAME designates) over the message up to the attribute,
 * with the length field as if the attribute ended the message (RFC 5389 §15.4). Compares in
 * constant time. Returns 0, CW_STUN_ERR_NO_INTEGRITY, CW_STUN_ERR_INTEGRITY or
 * CW_STUN_ERR_CRYPTO. */
int cw_stun_check_integrity(const struct cw_stun_msg *msg, const void *key, size_t key_len);

/* The message type field of a class and a method (0..0xfff). */
uint16_t cw_stun_type(enum cw_stun_class cls, uint16_t method);

/* ---- Building ---------------------------------------------------------------------- */

/* A message under construction in a caller buffer. The first failure sticks in err and
 * makes later calls do nothing, so a sequence of puts needs one check, at cw_stun_finish. */
struct cw_stun_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;
};

/* Starts a message of type (see cw_stun_type) and transaction id tid in buf[0..cap). */
void cw_stun_writer_init(struct cw_stun_writer *w, uint8_t *buf, size_t cap, uint16_t type,
			 const uint8_t tid[CW_STUN_TID_LEN]);
/* Appends an attribute with the value val[0..len), padded with zeros to 4 bytes. */
void cw_stun_put(struct cw_stun_writer *w, uint16_t type, const void *val, size_t len);
/* Appends an attribute with a 32-bit or 64-bit value in network order. */
void cw_stun_put_u32(struct cw_stun_writer *w, uint16_t type, uint32_t val);
void cw_stun_put_u64(struct cw_stun_writer *w, uint16_t type, uint64_t val);
/* Whether two transport addresses (AF_INET or AF_INET6) are the same address and port. */
bool cw_stun_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* Appends XOR-MAPPED-ADDRESS for sa (AF_INET or AF_INET6; an IPv4-mapped IPv6 address,
 * as a dual-stack socket reports an IPv4 peer, is written as IPv4). */
void cw_stun_put_xor_address(struct cw_stun_writer *w, const struct sockaddr *sa);
/* Appends ERROR-CODE with code (300..699) and reason (NULL: the standard phrase). */
void cw_stun_put_error_code(struct cw_stun_writer *w, int code, const char *reason);
/* Ends the message: MESSAGE-INTEGRITY keyed with key unless key is NULL, then FINGERPRINT
 * if fingerprint is set, and the final length field. Sets *lenp to the message length.
 * Returns 0 or the first error of the sequence (CW_STUN_ERR_NO_SPACE, _INVALID, _CRYPTO). */
int cw_stun_finish(struct cw_stun_writer *w, const void *key, size_t key_len, bool fingerprint,
		   size_t *lenp);

/* A Binding success response to req (its transaction id) with XOR-MAPPED-ADDRESS mapped
 * (the request's source address), MESSAGE-INTEGRITY keyed with key (for ICE, the local
 * password; NULL for none) and FINGERPRINT. 64 bytes (IPv4) or 76 (IPv6) hold it. */
int cw_stun_build_binding_success(uint8_t *buf, size_t cap, size_t *lenp,
				  const struct cw_stun_msg *req,
				  const struct sockaddr_storage *mapped, const void *key,
				  size_t key_len);

/* A Binding error response to req with ERROR-CODE code and its standard reason phrase, for
 * 420 an UNKNOWN-ATTRIBUTES listing req->unknown, MESSAGE-INTEGRITY if key is not NULL and
 * FINGERPRINT. Per RFC 5389 §10.1.2, answer 400 and 401 without a key and 487 with one.
 * 128 bytes hold any of them. */
int cw_stun_build_binding_error(uint8_t *buf, size_t cap, size_t *lenp,
				const struct cw_stun_msg *req, int code, const void *key,
				size_t key_len);

/* What an ICE connectivity check carries (RFC 8445 §7.1.1). */
struct cw_stun_check {
	const char *username;	/* "<remote ufrag>:<local ufrag>", NUL-terminated */
	uint32_t priority;	/* of the peer-reflexive candidate it could create */
	enum cw_stun_role role; /* CONTROLLING or CONTROLLED */
	uint64_t tie_breaker;
	bool use_candidate; /* nominate (controlling side only) */
};

/* A Binding request for an ICE connectivity check with transaction id tid (random, from the
 * caller): USERNAME, PRIORITY, ICE-CONTROLLING or ICE-CONTROLLED, USE-CANDIDATE if asked,
 * MESSAGE-INTEGRITY keyed with key (the remote password) and FINGERPRINT. */
int cw_stun_build_binding_request(uint8_t *buf, size_t cap, size_t *lenp,
				  const uint8_t tid[CW_STUN_TID_LEN],
				  const struct cw_stun_check *check, const void *key,
				  size_t key_len);

#endif
