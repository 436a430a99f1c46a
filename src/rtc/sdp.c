/* sdp: the model of a session description, parsing it, and queries on it (see sdp.h). */
#include "rtc/sdp.h"
#include "rtc/sdp_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A piece of the input text: SDP values are not NUL-terminated until kept. */
struct span {
	const char *p;
	size_t n;
};

const char *const cw__sdp_dir_names[4] = {"sendrecv", "sendonly", "recvonly", "inactive"};
const char *const cw__sdp_setup_names[5] = {"", "actpass", "active", "passive", "holdconn"};
const char *const cw__sdp_kind_names[4] = {"audio", "video", "application", ""};

int cw__sdp_fail(struct cw_sdp_err *err, unsigned line, int rc, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (!err)
		return rc;
	err->line = line;
	if (line)
		n = snprintf(err->msg, sizeof(err->msg), "line %u: ", line);
	va_start(ap, fmt);
	vsnprintf(err->msg + n, sizeof(err->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- the model's single block ---- */

struct cw_sdp *cw__sdp_alloc(unsigned nmedia, size_t strings)
{
	size_t align = _Alignof(struct cw_sdp_media);
	size_t head = (sizeof(struct cw_sdp) + align - 1) / align * align;
	size_t media = (size_t)nmedia * sizeof(struct cw_sdp_media);
	struct cw_sdp *s = calloc(1, head + media + strings);

	if (!s)
		return NULL;
	s->media = (struct cw_sdp_media *)(void *)((char *)s + head);
	s->strings = (char *)s + head + media;
	s->strings_size = strings;
	return s;
}

void cw_sdp_free(struct cw_sdp *sdp)
{
	free(sdp);
}

/*
 * Copies a string into the model's string area. The area is sized for the worst case
 * before any copy; should it still run out, the copy is "" and strings_used is left past
 * strings_size, which the caller checks once at the end instead of after every copy.
 */
const char *cw__sdp_keep(struct cw_sdp *s, const char *p, size_t n)
{
	char *d;

	if (s->strings_used + n + 1 > s->strings_size) {
		s->strings_used = s->strings_size + 1;
		return "";
	}
	d = s->strings + s->strings_used;
	memcpy(d, p, n);
	d[n] = '\0';
	s->strings_used += n + 1;
	return d;
}

static const char *keep_span(struct cw_sdp *s, struct span v)
{
	return cw__sdp_keep(s, v.p, v.n);
}

const char *cw__sdp_keep_str(struct cw_sdp *s, const char *str)
{
	return str ? cw__sdp_keep(s, str, strlen(str)) : NULL;
}

const char *cw__sdp_keepf(struct cw_sdp *s, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	return cw__sdp_keep(s, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* ---- spans ---- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* The next space-separated token of *rest; false when none is left. */
static bool tok(struct span *rest, struct span *t)
{
	while (rest->n && is_space(*rest->p)) {
		rest->p++;
		rest->n--;
	}
	t->p = rest->p;
	t->n = 0;
	while (t->n < rest->n && !is_space(t->p[t->n]))
		t->n++;
	rest->p += t->n;
	rest->n -= t->n;
	return t->n > 0;
}

static struct span trim(struct span s)
{
	while (s.n && is_space(*s.p)) {
		s.p++;
		s.n--;
	}
	while (s.n && is_space(s.p[s.n - 1]))
		s.n--;
	return s;
}

static bool eq(struct span s, const char *lit)
{
	return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

static bool ieq(struct span s, const char *lit)
{
	return s.n == strlen(lit) && strncasecmp(s.p, lit, s.n) == 0;
}

/* Splits s at the first c: *a before it, *b after it (empty when c is absent). */
static bool split(struct span s, char c, struct span *a, struct span *b)
{
	const char *at = s.n ? memchr(s.p, c, s.n) : NULL;

	*a = (struct span){s.p, at ? (size_t)(at - s.p) : s.n};
	*b = at ? (struct span){at + 1, s.n - a->n - 1} : (struct span){s.p + s.n, 0};
	return at != NULL;
}

/* A decimal number of at most max, digits only. */
static bool num(struct span s, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (!s.n || s.n > 10)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s.p[i] - '0');
	}
	if (v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The next line of [*pp, end) without its CRLF or LF and trailing blanks. */
static bool next_line(const char **pp, const char *end, struct span *line, size_t *raw_len)
{
	const char *p = *pp, *nl;

	if (p >= end)
		return false;
	nl = memchr(p, '\n', (size_t)(end - p));
	*raw_len = (size_t)((nl ? nl : end) - p);
	*pp = nl ? nl + 1 : end;
	*line = (struct span){p, *raw_len};
	if (line->n && p[line->n - 1] == '\r')
		line->n--;
	while (line->n && is_space(p[line->n - 1]))
		line->n--;
	return true;
}

/* ---- parsing ---- */

struct parser {
	struct cw_sdp *sdp;
	struct cw_sdp_err *err;
	unsigned line;
	struct cw_sdp_media *m; /* the current m-section; NULL at session level */
	bool dir_set, session_dir_set, bundle_seen;
	enum cw_sdp_dir session_dir;
	unsigned fb_all; /* a=rtcp-fb:* of the current m-section */
	unsigned bundle_line, mid_line;
	unsigned nsext; /* session-level extmaps, merged into every m-section */
	struct cw_sdp_extmap sext[CW_SDP_MAX_EXTMAPS];
};

#define BAD(ps, ...) cw__sdp_fail((ps)->err, (ps)->line, -EINVAL, __VA_ARGS__)
#define BIG(ps, ...) cw__sdp_fail((ps)->err, (ps)->line, -E2BIG, __VA_ARGS__)

static struct cw_sdp_codec *codec_of(struct cw_sdp_media *m, uint32_t pt)
{
	for (unsigned i = 0; i < m->ncodecs; i++)
		if (m->codecs[i].pt == pt)
			return &m->codecs[i];
	return NULL;
}

static int parse_dir(struct span s, enum cw_sdp_dir *dir)
{
	for (unsigned i = 0; i < 4; i++)
		if (eq(s, cw__sdp_dir_names[i])) {
			*dir = (enum cw_sdp_dir)i;
			return 0;
		}
	return -1;
}

static int finish_media(struct parser *ps)
{
	struct cw_sdp_media *m = ps->m;

	if (!m)
		return 0;
	if (!ps->dir_set)
		m->dir = ps->session_dir_set ? ps->session_dir : CW_SDP_SENDRECV;
	for (unsigned i = 0; i < m->ncodecs; i++)
		m->codecs[i].fb |= ps->fb_all;
	for (unsigned i = 0; i < ps->nsext; i++) {
		unsigned j = 0;

		while (j < m->nextmaps && m->extmaps[j].id != ps->sext[i].id)
			j++;
		if (j < m->nextmaps)
			continue;
		if (m->nextmaps == CW_SDP_MAX_EXTMAPS)
			return BIG(ps, "more than %d a=extmap in an m-section", CW_SDP_MAX_EXTMAPS);
		m->extmaps[m->nextmaps++] = ps->sext[i];
	}
	for (struct cw_sdp_media *o = ps->sdp->media; m->mid && o < m; o++)
		if (o->mid && strcmp(o->mid, m->mid) == 0)
			return cw__sdp_fail(ps->err, ps->mid_line, -EINVAL,
					    "a=mid:%s is used by two m-sections", m->mid);
	return 0;
}

static int parse_m(struct parser *ps, struct span v)
{
	struct cw_sdp *s = ps->sdp;
	struct cw_sdp_media *m;
	struct span media, port, proto, f, pn, rest;
	uint32_t n;
	int rc;

	if ((rc = finish_media(ps)) < 0)
		return rc;
	m = ps->m = &s->media[s->nmedia++];
	ps->dir_set = false;
	ps->fb_all = 0;
	if (!tok(&v, &media) || !tok(&v, &port) || !tok(&v, &proto) || !trim(v).n)
		return BAD(ps, "bad m= line: expected <media> <port> <proto> <format>...");
	split(port, '/', &port, &pn);
	if (!num(port, 65535, &n))
		return BAD(ps, "bad m= line: port is not a number up to 65535");
	m->port = (uint16_t)n;
	m->media = keep_span(s, media);
	m->kind = CW_SDP_OTHER;
	for (unsigned k = 0; k < CW_SDP_OTHER; k++)
		if (eq(media, cw__sdp_kind_names[k]))
			m->kind = (enum cw_sdp_kind)k;
	m->proto = keep_span(s, proto);
	m->rtp = strstr(m->proto, "RTP/") != NULL;
	if (!m->rtp) {
		m->fmts = keep_span(s, trim(v));
		return 0;
	}
	for (rest = v; tok(&rest, &f);) {
		if (!num(f, 127, &n))
			return BAD(ps, "bad m= line: payload type '%.*s' is not 0..127", (int)f.n,
				   f.p);
		if (codec_of(m, n))
			return BAD(ps, "bad m= line: payload type %" PRIu32 " repeated", n);
		if (m->ncodecs == CW_SDP_MAX_CODECS)
			return BIG(ps, "more than %d payload types in an m-section",
				   CW_SDP_MAX_CODECS);
		m->codecs[m->ncodecs++] = (struct cw_sdp_codec){
			.pt = (uint8_t)n, .apt = -1, .packetization_mode = -1};
	}
	return 0;
}

static int parse_fingerprint(struct parser *ps, struct cw_sdp_transport *t, struct span v)
{
	static const struct {
		const char *name;
		uint8_t len;
	} algs[] = {{"sha-1", 20},   {"sha-224", 28}, {"sha-256", 32}, {"sha-384", 48},
		    {"sha-512", 64}, {"md5", 16},     {"md2", 16}};
	struct cw_sdp_fingerprint fp = {0};
	struct span alg, hex;
	size_t i, k;

	if (!tok(&v, &alg) || !tok(&v, &hex))
		return BAD(ps, "bad fingerprint: expected <hash function> <hex bytes>");
	for (k = 0; k < sizeof(algs) / sizeof(algs[0]) && !ieq(alg, algs[k].name); k++)
		;
	if (k == sizeof(algs) / sizeof(algs[0]))
		return 0;      /* a hash function we do not know: the peer also offers another */
	for (i = 0;; i += 3) { /* HH:HH:...:HH */
		int hi = i < hex.n ? hexval(hex.p[i]) : -1;
		int lo = i + 1 < hex.n ? hexval(hex.p[i + 1]) : -1;

		if (hi < 0 || lo < 0 || fp.len == CW_SDP_MAX_HASH)
			return BAD(ps, "bad fingerprint: expected hex bytes separated by ':'");
		fp.hash[fp.len++] = (uint8_t)(hi << 4 | lo);
		if (i + 2 == hex.n)
			break;
		if (hex.p[i + 2] != ':')
			return BAD(ps, "bad fingerprint: expected hex bytes separated by ':'");
	}
	if (fp.len != algs[k].len)
		return BAD(ps, "bad fingerprint: %s needs %u bytes, not %u", algs[k].name,
			   algs[k].len, fp.len);
	if (t->nfingerprints == CW_SDP_MAX_FINGERPRINTS)
		return BIG(ps, "more than %d a=fingerprint", CW_SDP_MAX_FINGERPRINTS);
	snprintf(fp.alg, sizeof(fp.alg), "%s", algs[k].name);
	t->fingerprints[t->nfingerprints++] = fp;
	return 0;
}

static int parse_extmap(struct parser *ps, struct span v)
{
	struct cw_sdp_extmap e = {0}, *list = ps->m ? ps->m->extmaps : ps->sext;
	unsigned *n = ps->m ? &ps->m->nextmaps : &ps->nsext;
	struct span idd, id, dir, uri;
	uint32_t x;

	if (!tok(&v, &idd) || !tok(&v, &uri))
		return BAD(ps, "bad a=extmap: expected <id>[/<direction>] <URI>");
	e.has_dir = split(idd, '/', &id, &dir);
	if (!num(id, 255, &x) || x == 0 || (e.has_dir && parse_dir(dir, &e.dir) < 0))
		return BAD(ps, "bad a=extmap: id must be 1..255, direction one of sendrecv...");
	e.id = (uint16_t)x;
	for (unsigned i = 0; i < *n; i++)
		if (list[i].id == e.id)
			return BAD(ps, "a=extmap id %u repeated", e.id);
	if (*n == CW_SDP_MAX_EXTMAPS)
		return BIG(ps, "more than %d a=extmap", CW_SDP_MAX_EXTMAPS);
	e.uri = keep_span(ps->sdp, uri);
	list[(*n)++] = e;
	return 0;
}

static int parse_candidate(struct parser *ps, struct span v)
{
	struct cw_sdp *s = ps->sdp;
	struct cw_sdp_candidate *c;
	struct span f, comp, tr, prio, ip, port, typ, type, rest = v;
	uint32_t ncomp, nprio, nport;

	if (!tok(&rest, &f) || !tok(&rest, &comp) || !tok(&rest, &tr) || !tok(&rest, &prio) ||
	    !tok(&rest, &ip) || !tok(&rest, &port) || !tok(&rest, &typ) || !tok(&rest, &type) ||
	    !eq(typ, "typ"))
		return BAD(ps, "bad a=candidate: expected <foundation> <component> <transport> "
			       "<priority> <address> <port> typ <type>");
	if (f.n > 32 || !num(comp, 256, &ncomp) || ncomp == 0 || !num(prio, UINT32_MAX, &nprio) ||
	    !num(port, 65535, &nport))
		return BAD(ps, "bad a=candidate: foundation, component, priority or port");
	if (ps->m->ncandidates == CW_SDP_MAX_CANDIDATES)
		return 0; /* dropped: see sdp.h */
	c = &ps->m->candidates[ps->m->ncandidates++];
	c->raw = keep_span(s, v);
	c->foundation = keep_span(s, f);
	c->component = ncomp;
	c->transport = keep_span(s, tr);
	c->priority = nprio;
	c->ip = keep_span(s, ip);
	c->port = (uint16_t)nport;
	c->type = keep_span(s, type);
	return 0;
}

static int parse_ssrc(struct parser *ps, struct span v)
{
	struct cw_sdp_media *m = ps->m;
	struct cw_sdp_ssrc *e = NULL;
	struct span id, attr, name, val, stream, track;
	uint32_t ssrc;

	if (!tok(&v, &id) || !num(id, UINT32_MAX, &ssrc))
		return BAD(ps, "bad a=ssrc: expected <ssrc> <attribute>[:<value>]");
	for (unsigned i = 0; i < m->nssrcs && !e; i++)
		if (m->ssrcs[i].ssrc == ssrc)
			e = &m->ssrcs[i];
	if (!e) {
		if (m->nssrcs == CW_SDP_MAX_SSRCS)
			return BIG(ps, "more than %d SSRCs in an m-section", CW_SDP_MAX_SSRCS);
		e = &m->ssrcs[m->nssrcs++];
		e->ssrc = ssrc;
	}
	attr = trim(v);
	split(attr, ':', &name, &val);
	if (eq(name, "cname") && val.n) {
		e->cname = keep_span(ps->sdp, val);
	} else if (eq(name, "msid") && tok(&val, &stream)) {
		e->msid_stream = keep_span(ps->sdp, stream);
		e->msid_track = tok(&val, &track) ? keep_span(ps->sdp, track) : NULL;
	}
	return 0;
}

static int parse_ssrc_group(struct parser *ps, struct span v)
{
	struct cw_sdp_media *m = ps->m;
	struct cw_sdp_ssrc_group g = {0};
	struct span sem, id;
	uint32_t ssrc;

	if (!tok(&v, &sem))
		return BAD(ps, "bad a=ssrc-group: expected <semantics> <ssrc>...");
	while (tok(&v, &id)) {
		if (!num(id, UINT32_MAX, &ssrc))
			return BAD(ps, "bad a=ssrc-group: '%.*s' is not an SSRC", (int)id.n, id.p);
		if (g.nssrcs == CW_SDP_MAX_GROUP_SSRCS)
			return BIG(ps, "more than %d SSRCs in an a=ssrc-group",
				   CW_SDP_MAX_GROUP_SSRCS);
		g.ssrcs[g.nssrcs++] = ssrc;
	}
	if (!g.nssrcs)
		return BAD(ps, "bad a=ssrc-group: no SSRC");
	if (m->ngroups == CW_SDP_MAX_SSRC_GROUPS)
		return BIG(ps, "more than %d a=ssrc-group", CW_SDP_MAX_SSRC_GROUPS);
	g.semantics = keep_span(ps->sdp, sem);
	m->groups[m->ngroups++] = g;
	return 0;
}

static int parse_rtpmap(struct parser *ps, struct span v)
{
	struct cw_sdp_codec *c;
	struct span pt, enc, name, clock, ch;
	uint32_t npt, nclock, nch = 0;

	if (!tok(&v, &pt) || !num(pt, 127, &npt) || !tok(&v, &enc))
		return BAD(ps, "bad a=rtpmap: expected <payload type> <name>/<clock rate>");
	split(enc, '/', &name, &clock);
	split(clock, '/', &clock, &ch);
	if (!name.n || name.n > 32 || !num(clock, UINT32_MAX, &nclock) || !nclock ||
	    (ch.n && (!num(ch, 255, &nch) || !nch)))
		return BAD(ps, "bad a=rtpmap: expected <name>/<clock rate>[/<channels>]");
	if (!(c = codec_of(ps->m, npt)))
		return 0; /* a type the m= line does not list */
	c->name = keep_span(ps->sdp, name);
	c->clock = nclock;
	c->channels = (uint8_t)nch;
	return 0;
}

/* a=fmtp: the raw parameters, and those we act on: apt, packetization-mode, profile-level-id. */
static int parse_fmtp(struct parser *ps, struct span v)
{
	struct cw_sdp_codec *c, tmp = {.apt = -1, .packetization_mode = -1};
	struct span pt, params, rest, item, key, val;
	uint32_t n, npt;

	if (!tok(&v, &pt) || !num(pt, 127, &npt))
		return BAD(ps, "bad a=fmtp: expected <payload type> <parameters>");
	params = trim(v);
	for (rest = params; rest.n;) {
		split(rest, ';', &item, &rest);
		split(trim(item), '=', &key, &val);
		key = trim(key);
		val = trim(val);
		if (ieq(key, "apt")) {
			if (!num(val, 127, &n))
				return BAD(ps, "bad a=fmtp: apt is not a payload type");
			tmp.apt = (int)n;
		} else if (ieq(key, "packetization-mode")) {
			if (!num(val, 2, &n))
				return BAD(ps, "bad a=fmtp: packetization-mode is not 0..2");
			tmp.packetization_mode = (int)n;
		} else if (ieq(key, "profile-level-id")) {
			tmp.profile_level_id = 0;
			for (size_t i = 0; i < val.n && val.n == 6 && hexval(val.p[i]) >= 0; i++)
				tmp.profile_level_id =
					tmp.profile_level_id << 4 | (uint32_t)hexval(val.p[i]);
			if (val.n != 6 || !tmp.profile_level_id)
				return BAD(ps, "bad a=fmtp: profile-level-id is not 6 hex digits");
		}
	}
	if (!(c = codec_of(ps->m, npt)))
		return 0;
	c->fmtp = keep_span(ps->sdp, params);
	c->apt = tmp.apt;
	c->packetization_mode = tmp.packetization_mode;
	c->profile_level_id = tmp.profile_level_id;
	return 0;
}

static int parse_rtcp_fb(struct parser *ps, struct span v)
{
	struct span pt, type, param;
	struct cw_sdp_codec *c;
	unsigned mask = 0;
	uint32_t n = 0;
	bool all;

	if (!tok(&v, &pt) || !tok(&v, &type) || (!(all = eq(pt, "*")) && !num(pt, 127, &n)))
		return BAD(ps, "bad a=rtcp-fb: expected <payload type>|* <type> [<parameter>]");
	tok(&v, &param);
	if (eq(type, "nack"))
		mask = !param.n ? CW_SDP_FB_NACK : eq(param, "pli") ? CW_SDP_FB_PLI : 0;
	else if (eq(type, "ccm") && eq(param, "fir"))
		mask = CW_SDP_FB_FIR;
	else if (eq(type, "goog-remb"))
		mask = CW_SDP_FB_REMB;
	else if (eq(type, "transport-cc"))
		mask = CW_SDP_FB_TWCC;
	if (all)
		ps->fb_all |= mask;
	else if ((c = codec_of(ps->m, n)))
		c->fb |= mask;
	return 0;
}

static int parse_group(struct parser *ps, struct span v)
{
	struct cw_sdp *s = ps->sdp;
	struct span sem, mid;

	if (!tok(&v, &sem))
		return BAD(ps, "bad a=group: expected <semantics> <mid>...");
	if (!eq(sem, "BUNDLE") || ps->bundle_seen)
		return 0;
	ps->bundle_seen = true;
	ps->bundle_line = ps->line;
	while (tok(&v, &mid)) {
		if (s->nbundle == CW_SDP_MAX_MEDIA)
			return BIG(ps, "more than %d mids in a=group:BUNDLE", CW_SDP_MAX_MEDIA);
		s->bundle[s->nbundle++] = keep_span(s, mid);
	}
	return 0;
}

/* Attributes that apply to one m-section only; at session level they are ignored. */
static int parse_media_attr(struct parser *ps, struct span name, struct span v)
{
	struct cw_sdp_media *m = ps->m;
	struct cw_sdp *s = ps->sdp;
	struct span a, b;

	if (eq(name, "mid")) {
		if (!tok(&v, &a) || trim(v).n)
			return BAD(ps, "bad a=mid: expected one token");
		m->mid = keep_span(s, a);
		ps->mid_line = ps->line;
	} else if (eq(name, "rtcp-mux")) {
		m->rtcp_mux = true;
	} else if (eq(name, "rtcp-rsize")) {
		m->rtcp_rsize = true;
	} else if (eq(name, "rtpmap")) {
		return parse_rtpmap(ps, v);
	} else if (eq(name, "fmtp")) {
		return parse_fmtp(ps, v);
	} else if (eq(name, "rtcp-fb")) {
		return parse_rtcp_fb(ps, v);
	} else if (eq(name, "ssrc")) {
		return parse_ssrc(ps, v);
	} else if (eq(name, "ssrc-group")) {
		return parse_ssrc_group(ps, v);
	} else if (eq(name, "candidate")) {
		return parse_candidate(ps, v);
	} else if (eq(name, "msid")) {
		if (!tok(&v, &a))
			return BAD(ps, "bad a=msid: expected <stream id> [<track id>]");
		m->msid_stream = keep_span(s, a);
		m->msid_track = tok(&v, &b) ? keep_span(s, b) : NULL;
	} else if (eq(name, "rid")) {
		if (!trim(v).n)
			return BAD(ps, "bad a=rid: empty");
		if (m->nrids == CW_SDP_MAX_RIDS)
			return BIG(ps, "more than %d a=rid", CW_SDP_MAX_RIDS);
		m->rids[m->nrids++] = keep_span(s, trim(v));
	} else if (eq(name, "simulcast")) {
		m->simulcast = keep_span(s, trim(v));
	}
	return 0;
}

static int parse_a(struct parser *ps, struct span line)
{
	struct cw_sdp *s = ps->sdp;
	struct cw_sdp_transport *t = ps->m ? &ps->m->transport : &s->transport;
	struct span name, v, x;
	enum cw_sdp_dir dir;

	split(line, ':', &name, &v);
	v = trim(v);
	if (parse_dir(name, &dir) == 0) {
		*(ps->m ? &ps->m->dir : &ps->session_dir) = dir;
		*(ps->m ? &ps->dir_set : &ps->session_dir_set) = true;
	} else if (eq(name, "ice-ufrag") || eq(name, "ice-pwd")) {
		if (!tok(&v, &x) || trim(v).n)
			return BAD(ps, "bad a=%.*s: expected one token", (int)name.n, name.p);
		*(eq(name, "ice-ufrag") ? &t->ufrag : &t->pwd) = keep_span(s, x);
	} else if (eq(name, "ice-options")) {
		t->options = keep_span(s, v);
	} else if (eq(name, "fingerprint")) {
		return parse_fingerprint(ps, t, v);
	} else if (eq(name, "setup")) {
		unsigned i = 1;

		while (i < 5 && !eq(v, cw__sdp_setup_names[i]))
			i++;
		if (i == 5)
			return BAD(ps,
				   "bad a=setup: expected actpass, active, passive or holdconn");
		t->setup = (enum cw_sdp_setup)i;
	} else if (eq(name, "extmap")) {
		return parse_extmap(ps, v);
	} else if (eq(name, "end-of-candidates")) {
		*(ps->m ? &ps->m->end_of_candidates : &s->end_of_candidates) = true;
	} else if (ps->m) {
		return parse_media_attr(ps, name, v);
	} else if (eq(name, "group")) {
		return parse_group(ps, v);
	} else if (eq(name, "ice-lite")) {
		s->ice_lite = true;
	} else if (eq(name, "extmap-allow-mixed")) {
		s->extmap_allow_mixed = true;
	} else if (eq(name, "msid-semantic")) {
		s->msid_semantic = keep_span(s, v);
	}
	return 0;
}

static int parse_line(struct parser *ps, struct span line)
{
	struct span v = {line.p + 2, line.n - 2};

	if (ps->line == 1 && !eq(line, "v=0"))
		return BAD(ps, "missing v=0: a description starts with it");
	if (!line.n)
		return 0;
	if (line.n < 2 || line.p[1] != '=' || line.p[0] < 'a' || line.p[0] > 'z')
		return BAD(ps, "malformed line: expected <letter>=<value>");
	switch (line.p[0]) {
	case 'v':
		return ps->line == 1 ? 0 : BAD(ps, "a second v= line");
	case 'o':
		ps->sdp->origin = keep_span(ps->sdp, trim(v));
		return 0;
	case 's':
		ps->sdp->name = keep_span(ps->sdp, v);
		return 0;
	case 'm':
		return parse_m(ps, v);
	case 'a':
		return parse_a(ps, v);
	default:
		return 0; /* c=, t=, b= and the rest carry nothing we use */
	}
}

int cw_sdp_parse(struct cw_sdp **sdpp, const char *text, size_t len, struct cw_sdp_err *err)
{
	struct parser ps = {.err = err};
	const char *p = text, *end = text + len;
	unsigned nlines = 0, nm = 0;
	struct span line;
	size_t raw;
	int rc = 0;

	*sdpp = NULL;
	if (err)
		*err = (struct cw_sdp_err){0};
	if (!text || !len)
		return cw__sdp_fail(err, 0, -EINVAL, "empty description: missing v=0");
	if (len > CW_SDP_MAX_TEXT)
		return cw__sdp_fail(err, 0, -E2BIG, "description of %zu bytes is over %d", len,
				    CW_SDP_MAX_TEXT);
	/* First pass: bounds, so that the block can be sized once. */
	while (next_line(&p, end, &line, &raw)) {
		nlines++;
		if (raw - (raw && line.p[raw - 1] == '\r') > CW_SDP_MAX_LINE)
			return cw__sdp_fail(err, nlines, -E2BIG, "line longer than %d bytes",
					    CW_SDP_MAX_LINE);
		for (size_t i = 0; i < line.n; i++)
			if ((unsigned char)line.p[i] < 0x20 && line.p[i] != '\t')
				return cw__sdp_fail(err, nlines, -EINVAL,
						    "control character 0x%02x",
						    (unsigned char)line.p[i]);
		if (line.n >= 2 && line.p[0] == 'm' && line.p[1] == '=' && ++nm > CW_SDP_MAX_MEDIA)
			return cw__sdp_fail(err, nlines, -E2BIG, "more than %d m-sections",
					    CW_SDP_MAX_MEDIA);
	}
	/* A line's strings take at most twice its length plus one NUL per string. */
	if (!(ps.sdp = cw__sdp_alloc(nm, 2 * len + 6 * (size_t)nlines + 16)))
		return cw__sdp_fail(err, 0, -ENOMEM, "out of memory");
	for (p = text; rc == 0 && next_line(&p, end, &line, &raw);) {
		ps.line++;
		rc = parse_line(&ps, line);
	}
	ps.line = 0;
	if (rc == 0)
		rc = finish_media(&ps);
	for (unsigned i = 0; rc == 0 && i < ps.sdp->nbundle; i++)
		if (cw_sdp_find_mid(ps.sdp, ps.sdp->bundle[i]) < 0)
			rc = cw__sdp_fail(err, ps.bundle_line, -EINVAL,
					  "a=group:BUNDLE names mid '%s' that no m-section has",
					  ps.sdp->bundle[i]);
	if (rc == 0 && ps.sdp->strings_used > ps.sdp->strings_size)
		rc = cw__sdp_fail(err, 0, -ENOMEM, "out of string space");
	if (rc < 0)
		cw_sdp_free(ps.sdp);
	else
		*sdpp = ps.sdp;
	return rc;
}

/* ---- queries ---- */

void cw_sdp_media_transport(const struct cw_sdp *sdp, unsigned i, struct cw_sdp_transport *out)
{
	const struct cw_sdp_transport *s = &sdp->transport, *m = &sdp->media[i].transport;

	*out = m->nfingerprints ? *m : *s;
	out->ufrag = m->ufrag ? m->ufrag : s->ufrag;
	out->pwd = m->pwd ? m->pwd : s->pwd;
	out->options = m->options ? m->options : s->options;
	out->setup = m->setup ? m->setup : s->setup;
}

int cw_sdp_find_mid(const struct cw_sdp *sdp, const char *mid)
{
	for (unsigned i = 0; mid && i < sdp->nmedia; i++)
		if (sdp->media[i].mid && strcmp(sdp->media[i].mid, mid) == 0)
			return (int)i;
	return -ENOENT;
}

const struct cw_sdp_codec *cw_sdp_codec_by_pt(const struct cw_sdp_media *m, unsigned pt)
{
	for (unsigned i = 0; i < m->ncodecs; i++)
		if (m->codecs[i].pt == pt)
			return &m->codecs[i];
	return NULL;
}
