/* dtls: DTLS 1.2 over our own datagram BIO, verified by SDP fingerprint, timed by the caller. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "rtc/dtls.h"

#define EXPORTER_LABEL "EXTRACTOR-dtls_srtp"

/* ECDHE suites only; ECDSA first (our certificate), RSA for peers whose certificate is RSA
 * when we are the client. CBC suites stay for old peers. */
#define CIPHERS                                                                                    \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"                             \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:"                               \
	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:"                                 \
	"ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA"
#define GROUPS "X25519:P-256:P-384"

/* OpenSSL's own deadline when the caller's clock decides: an hour, never reached. */
#define OSSL_TIMER_FAR_US 3600000000u

struct cw_dtls_cert {
	EVP_PKEY *key;
	X509 *x509;
	char fingerprint[CW_DTLS_FINGERPRINT_MAX];
};

struct cw_dtls_ctx {
	SSL_CTX *ssl_ctx;
	enum cw_dtls_role role;
	size_t mtu;
};

struct datagram {
	struct datagram *next;
	size_t len;
	size_t cap;
	unsigned char data[];
};

struct cw_dtls {
	SSL *ssl;
	enum cw_dtls_role role;
	enum cw_dtls_state state;
	int error;
	char detail[512];
	size_t mtu;

	/* The peer's certificate digest, from its SDP. */
	const char *fp_name;
	const EVP_MD *fp_md;
	unsigned char fp[EVP_MAX_MD_SIZE];
	unsigned int fp_len;
	bool verified;

	/* The datagram being fed, only during cw_dtls_input. */
	const unsigned char *in;
	size_t in_len;

	/* Datagrams for the caller. The tail stays open for more records until OpenSSL
	 * flushes, so that a flight goes out in as few datagrams as the MTU allows. */
	struct datagram *head;
	struct datagram *tail;
	unsigned int queued;
	bool tail_open;

	/* The retransmission timer on the caller's clock: now is the time of the current call. */
	int64_t now;
	int64_t started;
	int64_t deadline;
	int64_t rto;
	bool exact;
	struct timeval *ossl_deadline;
};

static const struct {
	const char *name;
	const EVP_MD *(*md)(void);
} digests[] = {
	{"sha-256", EVP_sha256},
	{"sha-384", EVP_sha384},
	{"sha-512", EVP_sha512},
};

const char *cw_dtls_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
#define CW_DTLS_ERR_TEXT(name, value, text)                                                        \
	case CW_DTLS_E_##name:                                                                     \
		return text;
		CW_DTLS_ERR_MAP(CW_DTLS_ERR_TEXT)
#undef CW_DTLS_ERR_TEXT
	default:
		return err < 0 ? strerror(-err) : "unknown error";
	}
}

bool cw_dtls_is_record(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	return len > 0 && p[0] >= 20 && p[0] <= 63;
}

/* ---- Fingerprints ------------------------------------------------------------------ */

static void format_fingerprint(char *out, size_t size, const char *name, const unsigned char *md,
			       unsigned int len)
{
	static const char hex[] = "0123456789ABCDEF";
	int head = snprintf(out, size, "%s ", name);
	size_t pos = head > 0 ? (size_t)head : 0;

	for (unsigned int i = 0; i < len && pos + 4 <= size; i++) {
		if (i > 0)
			out[pos++] = ':';
		out[pos++] = hex[md[i] >> 4];
		out[pos++] = hex[md[i] & 15];
	}
	if (pos < size)
		out[pos] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "sha-256 AB:CD:…" (RFC 8122 §5): a hash name, spaces, hex pairs joined by colons. */
static int parse_fingerprint(struct cw_dtls *d, const char *s)
{
	const char *sp = s == NULL ? NULL : strchr(s, ' ');
	size_t n = 0;

	if (sp == NULL)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(digests) / sizeof(digests[0]); i++) {
		if (strlen(digests[i].name) == (size_t)(sp - s) &&
		    strncasecmp(s, digests[i].name, (size_t)(sp - s)) == 0) {
			d->fp_name = digests[i].name;
			d->fp_md = digests[i].md();
		}
	}
	if (d->fp_md == NULL)
		return -EINVAL;
	for (s = sp; *s == ' '; s++)
		;
	for (;;) {
		int hi = hex_value(s[0]);
		int lo = hi < 0 ? -1 : hex_value(s[1]);

		if (lo < 0 || n == sizeof(d->fp))
			return -EINVAL;
		d->fp[n++] = (unsigned char)(hi << 4 | lo);
		s += 2;
		if (*s != ':')
			break;
		s++;
	}
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	if (*s != '\0' || n != (size_t)EVP_MD_get_size(d->fp_md))
		return -EINVAL;
	d->fp_len = (unsigned int)n;
	return 0;
}

/* ---- Certificate ------------------------------------------------------------------ */

int cw_dtls_cert_new(struct cw_dtls_cert **certp)
{
	struct cw_dtls_cert *c = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	uint64_t serial = 0;
	X509_NAME *name;
	int err = -ENOMEM;

	*certp = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto out;
	c->key = EVP_EC_gen("P-256");
	c->x509 = X509_new();
	if (c->key == NULL || c->x509 == NULL)
		goto out;
	err = -EIO;
	if (RAND_bytes((unsigned char *)&serial, sizeof(serial)) != 1)
		goto out;
	name = X509_get_subject_name(c->x509);
	/* Peers check only the fingerprint (RFC 8827 §6.5): the names and dates are formal. */
	if (!X509_set_version(c->x509, X509_VERSION_3) ||
	    !ASN1_INTEGER_set_uint64(X509_get_serialNumber(c->x509), serial >> 1) ||
	    X509_gmtime_adj(X509_getm_notBefore(c->x509), -86400L) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(c->x509), 365L * 86400L) == NULL ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"callwire",
					-1, -1, 0) ||
	    !X509_set_issuer_name(c->x509, name) || !X509_set_pubkey(c->x509, c->key) ||
	    X509_sign(c->x509, c->key, EVP_sha256()) <= 0 ||
	    !X509_digest(c->x509, EVP_sha256(), md, &mdlen))
		goto out;
	format_fingerprint(c->fingerprint, sizeof(c->fingerprint), "sha-256", md, mdlen);
	*certp = c;
	c = NULL;
	err = 0;
out:
	ERR_clear_error();
	cw_dtls_cert_free(c);
	return err;
}

void cw_dtls_cert_free(struct cw_dtls_cert *cert)
{
	if (cert == NULL)
		return;
	X509_free(cert->x509);
	EVP_PKEY_free(cert->key);
	free(cert);
}

const char *cw_dtls_cert_fingerprint(const struct cw_dtls_cert *cert)
{
	return cert->fingerprint;
}

/* ---- Failures ----------------------------------------------------------------------- */

/* The first reason wins: a verification failure stays the reason of the alert it causes. */
static void fail(struct cw_dtls *d, int error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct cw_dtls *d, int error, const char *fmt, ...)
{
	va_list ap;

	if (d->state == CW_DTLS_FAILED)
		return;
	d->state = CW_DTLS_FAILED;
	d->error = error;
	d->deadline = CW_DTLS_NO_TIMEOUT;
	va_start(ap, fmt);
	vsnprintf(d->detail, sizeof(d->detail), fmt, ap);
	va_end(ap);
}

/* Turns OpenSSL's error queue after a failed call into the endpoint's reason. */
static void fail_from_openssl(struct cw_dtls *d)
{
	unsigned long e, first = 0, first_ssl = 0;
	const char *text;
	int reason;

	while ((e = ERR_get_error()) != 0) {
		if (first == 0)
			first = e;
		if (first_ssl == 0 && ERR_GET_LIB(e) == ERR_LIB_SSL)
			first_ssl = e;
	}
	e = first_ssl != 0 ? first_ssl : first;
	reason = ERR_GET_REASON(e);
	if (e != 0 && ERR_GET_LIB(e) == ERR_LIB_SSL && reason == SSL_R_READ_TIMEOUT_EXPIRED) {
		fail(d, CW_DTLS_E_TIMEOUT, "no answer to a flight sent %d times",
		     DTLS1_TMO_ALERT_COUNT);
	} else if (e != 0 && ERR_GET_LIB(e) == ERR_LIB_SSL && reason >= SSL_AD_REASON_OFFSET &&
		   reason < SSL_AD_REASON_OFFSET + 256) {
		fail(d, CW_DTLS_E_ALERT, "peer sent fatal alert: %s",
		     SSL_alert_desc_string_long(reason - SSL_AD_REASON_OFFSET));
	} else {
		text = e != 0 ? ERR_reason_error_string(e) : NULL;
		fail(d, CW_DTLS_E_PROTOCOL, "%s",
		     text != NULL ? text : "unexpected end of handshake");
	}
}

/* The peer's certificate is self-signed: it is trusted when its digest is the one of the
 * peer's SDP, which came over the authenticated signaling channel (RFC 8122, RFC 8827). */
static int verify_peer(X509_STORE_CTX *store, void *arg)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct cw_dtls *d = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
	X509 *peer = X509_STORE_CTX_get0_cert(store);
	unsigned char md[EVP_MAX_MD_SIZE];
	char got[CW_DTLS_FINGERPRINT_MAX], want[CW_DTLS_FINGERPRINT_MAX];
	unsigned int len = 0;

	(void)arg;
	if (d == NULL || peer == NULL || !X509_digest(peer, d->fp_md, md, &len)) {
		X509_STORE_CTX_set_error(store, X509_V_ERR_UNSPECIFIED);
		return 0;
	}
	if (len == d->fp_len && CRYPTO_memcmp(md, d->fp, len) == 0) {
		d->verified = true;
		X509_STORE_CTX_set_error(store, X509_V_OK);
		return 1;
	}
	format_fingerprint(got, sizeof(got), d->fp_name, md, len);
	format_fingerprint(want, sizeof(want), d->fp_name, d->fp, d->fp_len);
	fail(d, CW_DTLS_E_FINGERPRINT, "peer certificate is %s but its SDP says %s", got, want);
	X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
	return 0;
}

/* ---- Timer -------------------------------------------------------------------------- */

bool cw_dtls_timer_exact(void)
{
	/* OpenSSL 3.0 and 3.1 hand the rbio a pointer to the SSL's own retransmission deadline
	 * (BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT, &s->d1->next_timeout); 3.2 and later a copy. With
	 * the pointer, OpenSSL's deadline is kept an hour away and moved to the past when the
	 * caller's clock says a flight is due, so the caller's time alone decides. */
#if OPENSSL_VERSION_NUMBER < 0x30200000L
	return OpenSSL_version_num() < 0x30200000UL;
#else
	return false;
#endif
}

/* OpenSSL asks for the duration of the timer it starts: 0 for a new flight, the previous
 * duration for a retransmission. */
static unsigned int timer_duration(SSL *ssl, unsigned int prev_us)
{
	struct cw_dtls *d = SSL_get_app_data(ssl);

	if (d == NULL || d->exact)
		return OSSL_TIMER_FAR_US;
	if (prev_us == 0)
		return CW_DTLS_RTO_INITIAL_MS * 1000u;
	return prev_us >= CW_DTLS_RTO_MAX_MS * 500u ? CW_DTLS_RTO_MAX_MS * 1000u : prev_us * 2;
}

/* OpenSSL started (a non-zero deadline) or stopped (zero) its retransmission timer: mirror it
 * on the caller's clock. A flight sent while no timer ran starts from the initial timeout; a
 * retransmission keeps the doubled one cw_dtls_handle_timeout set. */
static void timer_changed(struct cw_dtls *d, struct timeval *tv)
{
	if (tv->tv_sec == 0 && tv->tv_usec == 0) {
		d->deadline = CW_DTLS_NO_TIMEOUT;
		d->rto = 0;
		return;
	}
	if (d->rto == 0)
		d->rto = CW_DTLS_RTO_INITIAL_MS;
	d->deadline = d->now + d->rto;
	if (!d->exact)
		return;
	if (d->ossl_deadline != NULL && d->ossl_deadline != tv) {
		/* Not the OpenSSL this code knows: never write through this pointer. */
		d->exact = false;
		d->ossl_deadline = NULL;
		return;
	}
	d->ossl_deadline = tv;
}

/* ---- The datagram BIO --------------------------------------------------------------- */

static void queue_write(struct cw_dtls *d, const unsigned char *buf, size_t len)
{
	struct datagram *g = d->tail;
	size_t cap;

	if (d->tail_open && g->len + len <= g->cap) {
		memcpy(g->data + g->len, buf, len);
		g->len += len;
		return;
	}
	d->tail_open = false;
	/* A full queue or no memory loses the datagram, as a full socket buffer would; the
	 * retransmission timer recovers. */
	if (d->queued >= CW_DTLS_QUEUE_MAX)
		return;
	cap = len > d->mtu ? len : d->mtu;
	g = malloc(sizeof(*g) + cap);
	if (g == NULL)
		return;
	g->next = NULL;
	g->len = len;
	g->cap = cap;
	memcpy(g->data, buf, len);
	if (d->tail != NULL)
		d->tail->next = g;
	else
		d->head = g;
	d->tail = g;
	d->queued++;
	d->tail_open = true;
}

static int bio_write(BIO *b, const char *buf, int len)
{
	struct cw_dtls *d = BIO_get_data(b);

	BIO_clear_retry_flags(b);
	if (d == NULL || len < 0)
		return -1;
	queue_write(d, (const unsigned char *)buf, (size_t)len);
	return len;
}

/* One read returns the whole datagram (OpenSSL reads DTLS a datagram at a time), the next
 * asks to retry: there is nothing more until the caller feeds another. */
static int bio_read(BIO *b, char *buf, int size)
{
	struct cw_dtls *d = BIO_get_data(b);
	size_t n;

	BIO_clear_retry_flags(b);
	if (d == NULL || d->in_len == 0 || size <= 0) {
		BIO_set_retry_read(b);
		return -1;
	}
	n = d->in_len < (size_t)size ? d->in_len : (size_t)size;
	memcpy(buf, d->in, n);
	d->in = NULL;
	d->in_len = 0;
	return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct cw_dtls *d = BIO_get_data(b);

	(void)num;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		if (d != NULL)
			d->tail_open = false;
		return 1;
	case BIO_CTRL_WPENDING:
		/* What the open datagram holds, which OpenSSL subtracts from the MTU. */
		return d != NULL && d->tail_open ? (long)d->tail->len : 0;
	case BIO_CTRL_PENDING:
		return d != NULL ? (long)d->in_len : 0;
	case BIO_CTRL_DGRAM_QUERY_MTU:
	case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
		return d != NULL ? (long)d->mtu : CW_DTLS_MTU;
	case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
		return 0; /* the MTU already is the datagram payload */
	case BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT:
		if (d != NULL && ptr != NULL)
			timer_changed(d, ptr);
		return 1;
	default:
		return 0;
	}
}

static int bio_create(BIO *b)
{
	BIO_set_init(b, 0);
	BIO_set_data(b, NULL);
	return 1;
}

static int bio_destroy(BIO *b)
{
	BIO_set_data(b, NULL);
	BIO_set_init(b, 0);
	return 1;
}

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

/* Made once and kept for the process: every endpoint's BIO refers to it. */
static void bio_method_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "callwire dtls");

	if (m == NULL)
		return;
	if (!BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
	    !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create) ||
	    !BIO_meth_set_destroy(m, bio_destroy)) {
		BIO_meth_free(m);
		return;
	}
	bio_method = m;
}

/* ---- Context ------------------------------------------------------------------------ */

int cw_dtls_ctx_new(struct cw_dtls_ctx **ctxp, const struct cw_dtls_cert *cert,
		    enum cw_dtls_role role, unsigned int profiles)
{
	struct cw_dtls_ctx *c = NULL;
	char list[64];
	bool gcm, cm;
	SSL_CTX *sc;
	int err = -ENOMEM;

	*ctxp = NULL;
	if (profiles == 0)
		profiles = CW_DTLS_PROFILES_ALL;
	if ((profiles & ~(unsigned int)CW_DTLS_PROFILES_ALL) != 0 ||
	    (role != CW_DTLS_SERVER && role != CW_DTLS_CLIENT))
		return -EINVAL;
	gcm = (profiles & CW_DTLS_PROFILE(CW_SRTP_AEAD_AES_128_GCM)) != 0;
	cm = (profiles & CW_DTLS_PROFILE(CW_SRTP_AES128_CM_SHA1_80)) != 0;
	/* The first profile is preferred: a server takes its own first that the client offers. */
	snprintf(list, sizeof(list), "%s%s%s", gcm ? "SRTP_AEAD_AES_128_GCM" : "",
		 gcm && cm ? ":" : "", cm ? "SRTP_AES128_CM_SHA1_80" : "");
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto out;
	c->role = role;
	c->mtu = CW_DTLS_MTU;
	c->ssl_ctx = sc = SSL_CTX_new(DTLS_method());
	if (sc == NULL)
		goto out;
	err = -EIO;
	if (!SSL_CTX_set_min_proto_version(sc, DTLS1_2_VERSION) ||
	    !SSL_CTX_set_max_proto_version(sc, DTLS1_2_VERSION) ||
	    SSL_CTX_use_certificate(sc, cert->x509) != 1 ||
	    SSL_CTX_use_PrivateKey(sc, cert->key) != 1 || SSL_CTX_check_private_key(sc) != 1 ||
	    SSL_CTX_set_cipher_list(sc, CIPHERS) != 1 ||
	    SSL_CTX_set1_groups_list(sc, GROUPS) != 1 ||
	    SSL_CTX_set_tlsext_use_srtp(sc, list) != 0) /* 0 is success here */
		goto out;
	/* The MTU is ours to set, not probed; no resumption, no renegotiation. */
	SSL_CTX_set_options(sc, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
					SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
	/* Both sides present a certificate; verify_peer replaces chain validation. */
	SSL_CTX_set_verify(sc, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_cert_verify_callback(sc, verify_peer, NULL);
	*ctxp = c;
	c = NULL;
	err = 0;
out:
	ERR_clear_error();
	cw_dtls_ctx_free(c);
	return err;
}

void cw_dtls_ctx_free(struct cw_dtls_ctx *ctx)
{
	if (ctx == NULL)
		return;
	SSL_CTX_free(ctx->ssl_ctx);
	free(ctx);
}

int cw_dtls_ctx_set_mtu(struct cw_dtls_ctx *ctx, size_t mtu)
{
	if (mtu < CW_DTLS_MTU_MIN || mtu > CW_DTLS_MTU_MAX)
		return -EINVAL;
	ctx->mtu = mtu;
	return 0;
}

/* ---- Endpoint ------------------------------------------------------------------------ */

static void on_connected(struct cw_dtls *d)
{
	const SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(d->ssl);

	if (!d->verified) {
		fail(d, CW_DTLS_E_FINGERPRINT, "the peer's certificate was never checked");
	} else if (p == NULL || cw_srtp_salt_len((enum cw_srtp_profile)p->id) == 0) {
		fail(d, CW_DTLS_E_NO_SRTP, "the handshake ended without an SRTP profile");
		SSL_shutdown(d->ssl); /* tell the peer, which thinks it is connected */
	} else {
		d->state = CW_DTLS_CONNECTED;
		d->deadline = CW_DTLS_NO_TIMEOUT;
	}
}

static void step_handshake(struct cw_dtls *d)
{
	int r = SSL_do_handshake(d->ssl);

	if (r == 1) {
		on_connected(d);
		return;
	}
	switch (SSL_get_error(d->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return;
	case SSL_ERROR_ZERO_RETURN:
		fail(d, CW_DTLS_E_CLOSED, "the peer closed the connection during the handshake");
		return;
	default:
		fail_from_openssl(d);
	}
}

/* After the handshake only alerts, close_notify and retransmitted handshake flights are
 * expected (OpenSSL answers the latter itself). Application data has no use without data
 * channels and is dropped. */
static void read_records(struct cw_dtls *d)
{
	unsigned char buf[2048];

	for (;;) {
		int r = SSL_read(d->ssl, buf, sizeof(buf));

		if (r > 0)
			continue;
		switch (SSL_get_error(d->ssl, r)) {
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:
			return;
		case SSL_ERROR_ZERO_RETURN:
			d->state = CW_DTLS_CLOSED;
			SSL_shutdown(d->ssl); /* answer with our close_notify */
			return;
		default:
			fail_from_openssl(d);
			return;
		}
	}
}

int cw_dtls_new(struct cw_dtls **dtlsp, const struct cw_dtls_ctx *ctx,
		const char *remote_fingerprint, int64_t now)
{
	struct cw_dtls *d = NULL;
	BIO *bio = NULL;
	int err = -ENOMEM;

	*dtlsp = NULL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		goto out;
	err = parse_fingerprint(d, remote_fingerprint);
	if (err != 0)
		goto out;
	err = -EIO;
	pthread_once(&bio_once, bio_method_init);
	if (bio_method == NULL)
		goto out;
	d->role = ctx->role;
	d->mtu = ctx->mtu;
	d->state = CW_DTLS_HANDSHAKING;
	d->now = now;
	d->started = now;
	d->deadline = CW_DTLS_NO_TIMEOUT;
	d->exact = cw_dtls_timer_exact();
	d->ssl = SSL_new(ctx->ssl_ctx);
	bio = BIO_new(bio_method);
	if (d->ssl == NULL || bio == NULL)
		goto out;
	BIO_set_data(bio, d);
	BIO_set_init(bio, 1);
	SSL_set_bio(d->ssl, bio, bio); /* the SSL owns the BIO's one reference now */
	bio = NULL;
	SSL_set_app_data(d->ssl, d);
	if (DTLS_set_link_mtu(d->ssl, (long)d->mtu) != 1)
		goto out;
	DTLS_set_timer_cb(d->ssl, timer_duration);
	if (d->role == CW_DTLS_CLIENT) {
		SSL_set_connect_state(d->ssl);
		step_handshake(d); /* queues the ClientHello */
		if (d->state == CW_DTLS_FAILED || d->queued == 0)
			goto out;
	} else {
		SSL_set_accept_state(d->ssl);
	}
	*dtlsp = d;
	d = NULL;
	err = 0;
out:
	ERR_clear_error();
	BIO_free(bio);
	cw_dtls_free(d);
	return err;
}

void cw_dtls_free(struct cw_dtls *dtls)
{
	struct datagram *g, *next;

	if (dtls == NULL)
		return;
	SSL_free(dtls->ssl); /* and the BIO, which forgets dtls */
	for (g = dtls->head; g != NULL; g = next) {
		next = g->next;
		free(g);
	}
	free(dtls);
}

int cw_dtls_input(struct cw_dtls *dtls, const void *buf, size_t len, int64_t now)
{
	if (dtls->state == CW_DTLS_FAILED)
		return dtls->error;
	if (dtls->state == CW_DTLS_CLOSED || len == 0)
		return 0;
	if (len > INT_MAX)
		return -EINVAL;
	dtls->now = now;
	dtls->in = buf;
	dtls->in_len = len;
	ERR_clear_error();
	if (dtls->state == CW_DTLS_HANDSHAKING)
		step_handshake(dtls);
	/* Records after the Finished in the same datagram, or a datagram after the handshake. */
	if (dtls->state == CW_DTLS_CONNECTED)
		read_records(dtls);
	dtls->in = NULL;
	dtls->in_len = 0;
	ERR_clear_error();
	return dtls->state == CW_DTLS_FAILED ? dtls->error : 0;
}

int cw_dtls_output(struct cw_dtls *dtls, void *buf, size_t size)
{
	struct datagram *g = dtls->head;
	int n = -EMSGSIZE;

	if (g == NULL)
		return 0;
	dtls->head = g->next;
	if (g == dtls->tail) {
		dtls->tail = NULL;
		dtls->tail_open = false;
	}
	dtls->queued--;
	if (g->len <= size) {
		memcpy(buf, g->data, g->len);
		n = (int)g->len;
	}
	free(g);
	return n;
}

int64_t cw_dtls_next_timeout(const struct cw_dtls *dtls, int64_t now)
{
	struct timeval tv;

	if (dtls->state != CW_DTLS_HANDSHAKING)
		return CW_DTLS_NO_TIMEOUT;
	if (dtls->exact)
		return dtls->deadline;
	if (!DTLSv1_get_timeout(dtls->ssl, &tv))
		return CW_DTLS_NO_TIMEOUT;
	return now + (int64_t)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
}

int cw_dtls_handle_timeout(struct cw_dtls *dtls, int64_t now)
{
	if (dtls->state != CW_DTLS_HANDSHAKING)
		return dtls->state == CW_DTLS_FAILED ? dtls->error : 0;
	dtls->now = now;
	if (dtls->exact) {
		if (dtls->ossl_deadline == NULL || now < dtls->deadline)
			return 0;
		dtls->rto = dtls->rto * 2 > CW_DTLS_RTO_MAX_MS ? CW_DTLS_RTO_MAX_MS : dtls->rto * 2;
		/* A moment long past: OpenSSL finds its timer expired and retransmits. */
		dtls->ossl_deadline->tv_sec = 0;
		dtls->ossl_deadline->tv_usec = 1;
	}
	ERR_clear_error();
	if (DTLSv1_handle_timeout(dtls->ssl) < 0)
		fail_from_openssl(dtls);
	ERR_clear_error();
	if (dtls->state == CW_DTLS_HANDSHAKING && dtls->deadline <= now)
		dtls->deadline = now + (dtls->rto > 0 ? dtls->rto : CW_DTLS_RTO_INITIAL_MS);
	return dtls->state == CW_DTLS_FAILED ? dtls->error : 0;
}

int cw_dtls_close(struct cw_dtls *dtls)
{
	if (dtls->state == CW_DTLS_CONNECTED) {
		ERR_clear_error();
		SSL_shutdown(dtls->ssl);
		ERR_clear_error();
	}
	if (dtls->state != CW_DTLS_FAILED)
		dtls->state = CW_DTLS_CLOSED;
	dtls->deadline = CW_DTLS_NO_TIMEOUT;
	return 0;
}

enum cw_dtls_state cw_dtls_state(const struct cw_dtls *dtls)
{
	return dtls->state;
}

int64_t cw_dtls_pending_ms(const struct cw_dtls *dtls, int64_t now)
{
	return dtls->state == CW_DTLS_HANDSHAKING ? now - dtls->started : 0;
}

int cw_dtls_error(const struct cw_dtls *dtls)
{
	return dtls->error;
}

const char *cw_dtls_error_detail(const struct cw_dtls *dtls)
{
	return dtls->detail;
}

int cw_dtls_srtp_keys(struct cw_dtls *dtls, struct cw_srtp_keys *keys)
{
	unsigned char m[2 * (CW_SRTP_KEY_LEN + CW_SRTP_SALT_MAX)];
	const SRTP_PROTECTION_PROFILE *p;
	const unsigned char *client_key, *server_key, *client_salt, *server_salt;
	enum cw_srtp_profile profile;
	size_t salt;
	bool server = dtls->role == CW_DTLS_SERVER;
	int err = -EIO;

	if (dtls->state != CW_DTLS_CONNECTED)
		return -ENOTCONN;
	p = SSL_get_selected_srtp_profile(dtls->ssl);
	if (p == NULL)
		return -EIO;
	profile = (enum cw_srtp_profile)p->id;
	salt = cw_srtp_salt_len(profile);
	if (salt == 0)
		return -EIO;
	/* RFC 5764 §4.2: client key, server key, client salt, server salt. */
	if (SSL_export_keying_material(dtls->ssl, m, 2 * (CW_SRTP_KEY_LEN + salt), EXPORTER_LABEL,
				       strlen(EXPORTER_LABEL), NULL, 0, 0) != 1)
		goto out;
	client_key = m;
	server_key = m + CW_SRTP_KEY_LEN;
	client_salt = m + 2 * CW_SRTP_KEY_LEN;
	server_salt = client_salt + salt;
	memset(keys, 0, sizeof(*keys));
	keys->profile = profile;
	memcpy(keys->local_key, server ? server_key : client_key, CW_SRTP_KEY_LEN);
	memcpy(keys->local_salt, server ? server_salt : client_salt, salt);
	memcpy(keys->remote_key, server ? client_key : server_key, CW_SRTP_KEY_LEN);
	memcpy(keys->remote_salt, server ? client_salt : server_salt, salt);
	err = 0;
out:
	OPENSSL_cleanse(m, sizeof(m));
	ERR_clear_error();
	return err;
}
