/* Unit tests of SDP: real browser offers parse, round-trip, negotiate; bad input fails cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rtc/sdp.h"

#define HEAD "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
#define AUDIO                                                                                      \
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=rtcp-mux\r\na=rtpmap:111 "                \
	"opus/48000/2\r\n"
#define FP32                                                                                       \
	"AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:"  \
	"77:88:99"

static const char *const real_files[] = {
	"chromium-audio-video.sdp",	     "chromium-simulcast.sdp",
	"chromium-recvonly-datachannel.sdp", "chromium-answer-to-callwire-offer.sdp",
	"firefox-audio-video.sdp",
};

static char *slurp(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf = malloc(CW_SDP_MAX_TEXT + 1);

	snprintf(path, sizeof(path), "%s/sdp/%s", CW_TEST_DATA, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_non_null(buf);
	*len = fread(buf, 1, CW_SDP_MAX_TEXT + 1, f);
	fclose(f);
	assert_true(*len > 0 && *len <= CW_SDP_MAX_TEXT);
	buf[*len] = '\0';
	return buf;
}

static struct cw_sdp *parse_file(const char *name)
{
	struct cw_sdp *s = NULL;
	struct cw_sdp_err err;
	size_t len;
	char *text = slurp(name, &len);
	int rc = cw_sdp_parse(&s, text, len, &err);

	if (rc)
		fail_msg("%s: %d %s", name, rc, err.msg);
	free(text);
	return s;
}

static struct cw_sdp *parse_text(const char *text)
{
	struct cw_sdp *s = NULL;
	struct cw_sdp_err err;
	int rc = cw_sdp_parse(&s, text, strlen(text), &err);

	if (rc)
		fail_msg("%d %s", rc, err.msg);
	return s;
}

static char *write_text(const struct cw_sdp *s)
{
	char *text;
	size_t len;

	assert_int_equal(cw_sdp_write_alloc(s, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	return text;
}

static void same_str(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void same_transport(const struct cw_sdp_transport *a, const struct cw_sdp_transport *b)
{
	same_str(a->ufrag, b->ufrag);
	same_str(a->pwd, b->pwd);
	same_str(a->options, b->options);
	assert_int_equal(a->setup, b->setup);
	assert_int_equal(a->nfingerprints, b->nfingerprints);
	for (unsigned i = 0; i < a->nfingerprints; i++) {
		assert_string_equal(a->fingerprints[i].alg, b->fingerprints[i].alg);
		assert_int_equal(a->fingerprints[i].len, b->fingerprints[i].len);
		assert_memory_equal(a->fingerprints[i].hash, b->fingerprints[i].hash,
				    a->fingerprints[i].len);
	}
}

static void same_media(const struct cw_sdp_media *a, const struct cw_sdp_media *b)
{
	assert_int_equal(a->kind, b->kind);
	same_str(a->media, b->media);
	assert_int_equal(a->port, b->port);
	same_str(a->proto, b->proto);
	assert_int_equal(a->rtp, b->rtp);
	same_str(a->fmts, b->fmts);
	same_str(a->mid, b->mid);
	assert_int_equal(a->dir, b->dir);
	assert_int_equal(a->rtcp_mux, b->rtcp_mux);
	assert_int_equal(a->rtcp_rsize, b->rtcp_rsize);
	assert_int_equal(a->end_of_candidates, b->end_of_candidates);
	same_transport(&a->transport, &b->transport);
	same_str(a->msid_stream, b->msid_stream);
	same_str(a->msid_track, b->msid_track);
	same_str(a->simulcast, b->simulcast);
	assert_int_equal(a->nrids, b->nrids);
	for (unsigned i = 0; i < a->nrids; i++)
		same_str(a->rids[i], b->rids[i]);
	assert_int_equal(a->ncodecs, b->ncodecs);
	for (unsigned i = 0; i < a->ncodecs; i++) {
		const struct cw_sdp_codec *x = &a->codecs[i], *y = &b->codecs[i];

		assert_int_equal(x->pt, y->pt);
		same_str(x->name, y->name);
		assert_int_equal(x->clock, y->clock);
		assert_int_equal(x->channels, y->channels);
		same_str(x->fmtp, y->fmtp);
		assert_int_equal(x->apt, y->apt);
		assert_int_equal(x->packetization_mode, y->packetization_mode);
		assert_int_equal(x->profile_level_id, y->profile_level_id);
		assert_int_equal(x->fb, y->fb);
	}
	assert_int_equal(a->nextmaps, b->nextmaps);
	for (unsigned i = 0; i < a->nextmaps; i++) {
		assert_int_equal(a->extmaps[i].id, b->extmaps[i].id);
		assert_int_equal(a->extmaps[i].has_dir, b->extmaps[i].has_dir);
		assert_int_equal(a->extmaps[i].dir, b->extmaps[i].dir);
		same_str(a->extmaps[i].uri, b->extmaps[i].uri);
	}
	assert_int_equal(a->nssrcs, b->nssrcs);
	for (unsigned i = 0; i < a->nssrcs; i++) {
		assert_int_equal(a->ssrcs[i].ssrc, b->ssrcs[i].ssrc);
		same_str(a->ssrcs[i].cname, b->ssrcs[i].cname);
		same_str(a->ssrcs[i].msid_stream, b->ssrcs[i].msid_stream);
		same_str(a->ssrcs[i].msid_track, b->ssrcs[i].msid_track);
	}
	assert_int_equal(a->ngroups, b->ngroups);
	for (unsigned i = 0; i < a->ngroups; i++) {
		same_str(a->groups[i].semantics, b->groups[i].semantics);
		assert_int_equal(a->groups[i].nssrcs, b->groups[i].nssrcs);
		assert_memory_equal(a->groups[i].ssrcs, b->groups[i].ssrcs,
				    a->groups[i].nssrcs * sizeof(uint32_t));
	}
	assert_int_equal(a->ncandidates, b->ncandidates);
	for (unsigned i = 0; i < a->ncandidates; i++) {
		const struct cw_sdp_candidate *x = &a->candidates[i], *y = &b->candidates[i];

		same_str(x->raw, y->raw);
		same_str(x->foundation, y->foundation);
		assert_int_equal(x->component, y->component);
		same_str(x->transport, y->transport);
		assert_int_equal(x->priority, y->priority);
		same_str(x->ip, y->ip);
		assert_int_equal(x->port, y->port);
		same_str(x->type, y->type);
	}
}

static void same_model(const struct cw_sdp *a, const struct cw_sdp *b)
{
	same_str(a->origin, b->origin);
	same_str(a->name, b->name);
	same_transport(&a->transport, &b->transport);
	assert_int_equal(a->ice_lite, b->ice_lite);
	assert_int_equal(a->extmap_allow_mixed, b->extmap_allow_mixed);
	assert_int_equal(a->end_of_candidates, b->end_of_candidates);
	same_str(a->msid_semantic, b->msid_semantic);
	assert_int_equal(a->nbundle, b->nbundle);
	for (unsigned i = 0; i < a->nbundle; i++)
		assert_string_equal(a->bundle[i], b->bundle[i]);
	assert_int_equal(a->nmedia, b->nmedia);
	for (unsigned i = 0; i < a->nmedia; i++)
		same_media(&a->media[i], &b->media[i]);
}

/* parse(write(s)) is s, and writing that again gives the same text. */
static void assert_round_trip(const struct cw_sdp *s)
{
	char *text = write_text(s), *again;
	struct cw_sdp *back = parse_text(text);

	same_model(s, back);
	again = write_text(back);
	assert_string_equal(text, again);
	free(text);
	free(again);
	cw_sdp_free(back);
}

static const struct cw_sdp_codec *codec(const struct cw_sdp_media *m, unsigned pt)
{
	const struct cw_sdp_codec *c = cw_sdp_codec_by_pt(m, pt);

	assert_non_null(c);
	return c;
}

static void chromium_offer_parses_into_its_model(void **state)
{
	struct cw_sdp *s = parse_file("chromium-audio-video.sdp");
	const struct cw_sdp_media *a = &s->media[0], *v = &s->media[1];
	struct cw_sdp_transport t;

	(void)state;
	assert_int_equal(s->nmedia, 2);
	assert_int_equal(s->nbundle, 2);
	assert_string_equal(s->bundle[0], "0");
	assert_string_equal(s->bundle[1], "1");
	assert_true(s->extmap_allow_mixed);
	assert_false(s->ice_lite);
	assert_int_equal(a->kind, CW_SDP_AUDIO);
	assert_int_equal(v->kind, CW_SDP_VIDEO);
	assert_string_equal(a->proto, "UDP/TLS/RTP/SAVPF");
	assert_true(a->rtp && a->rtcp_mux && a->rtcp_rsize);
	assert_int_equal(a->dir, CW_SDP_SENDRECV);
	assert_string_equal(v->mid, "1");
	assert_int_equal(a->ncodecs, 8);
	assert_int_equal(v->ncodecs, 23);
	assert_string_equal(codec(a, 111)->name, "opus");
	assert_int_equal(codec(a, 111)->clock, 48000);
	assert_int_equal(codec(a, 111)->channels, 2);
	assert_string_equal(codec(a, 111)->fmtp, "minptime=10;useinbandfec=1");
	assert_int_equal(codec(a, 111)->fb, CW_SDP_FB_TWCC);
	assert_null(codec(a, 9)->fmtp);
	assert_int_equal(codec(v, 96)->fb, CW_SDP_FB_ALL);
	assert_int_equal(codec(v, 97)->apt, 96);
	assert_int_equal(codec(v, 102)->packetization_mode, 1);
	assert_int_equal(codec(v, 102)->profile_level_id, 0x42001f);
	assert_int_equal(codec(v, 108)->profile_level_id, 0x42e01f);
	assert_int_equal(codec(v, 104)->packetization_mode, 0);
	assert_int_equal(codec(v, 96)->apt, -1);
	assert_int_equal(a->nextmaps, 4);
	assert_int_equal(v->nextmaps, 11);
	assert_int_equal(a->extmaps[2].id, 3);
	assert_string_equal(a->extmaps[2].uri, CW_SDP_URI_TWCC);
	assert_int_equal(a->nssrcs, 1);
	assert_int_equal(a->ssrcs[0].ssrc, 3782820015u);
	assert_string_equal(a->ssrcs[0].cname, "HTvYevGvzD4mc9cP");
	assert_string_equal(a->ssrcs[0].msid_track, "8c49c04b-a7a9-4f3a-a64b-90d1d222f218");
	assert_string_equal(v->msid_stream, "f736ba61-25a8-4893-a65b-8cc55f90ccaf");
	assert_int_equal(v->ngroups, 1);
	assert_string_equal(v->groups[0].semantics, "FID");
	assert_int_equal(v->groups[0].ssrcs[1], 1447120352u);
	assert_int_equal(a->ncandidates, 4);
	assert_string_equal(a->candidates[1].ip, "fd00::2");
	assert_int_equal(a->candidates[1].port, 46368);
	assert_int_equal(a->candidates[1].priority, 2122265343u);
	assert_string_equal(a->candidates[2].transport, "tcp");
	assert_string_equal(a->candidates[2].type, "host");
	assert_string_equal(a->candidates[0].raw, "1519605994 1 udp 2122194687 192.0.2.2 39240 "
						  "typ host generation 0 network-id 1");
	cw_sdp_media_transport(s, 1, &t);
	assert_string_equal(t.ufrag, "siKN");
	assert_string_equal(t.pwd, "Pz1jipzbtCJjyrOnAUyWtD3J");
	assert_int_equal(t.setup, CW_SDP_SETUP_ACTPASS);
	assert_int_equal(t.nfingerprints, 1);
	assert_string_equal(t.fingerprints[0].alg, "sha-256");
	assert_int_equal(t.fingerprints[0].len, 32);
	assert_int_equal(t.fingerprints[0].hash[0], 0x7e);
	assert_int_equal(t.fingerprints[0].hash[31], 0x68);
	assert_int_equal(cw_sdp_find_mid(s, "1"), 1);
	assert_int_equal(cw_sdp_find_mid(s, "2"), -ENOENT);
	cw_sdp_free(s);
}

static void simulcast_and_datachannel_offers_keep_their_lines(void **state)
{
	struct cw_sdp *s = parse_file("chromium-simulcast.sdp");
	struct cw_sdp *d = parse_file("chromium-recvonly-datachannel.sdp");

	(void)state;
	assert_int_equal(s->media[0].dir, CW_SDP_SENDONLY);
	assert_int_equal(s->media[1].nrids, 3);
	assert_string_equal(s->media[1].rids[0], "q send");
	assert_string_equal(s->media[1].simulcast, "send q;h;f");
	assert_int_equal(s->media[1].nssrcs, 0);
	assert_int_equal(d->nmedia, 3);
	assert_int_equal(d->media[1].ncodecs, 34);
	assert_int_equal(d->media[1].dir, CW_SDP_RECVONLY);
	assert_int_equal(d->media[2].kind, CW_SDP_APPLICATION);
	assert_false(d->media[2].rtp);
	assert_string_equal(d->media[2].proto, "UDP/DTLS/SCTP");
	assert_string_equal(d->media[2].fmts, "webrtc-datachannel");
	assert_int_equal(d->media[2].ncodecs, 0);
	assert_string_equal(d->msid_semantic, "WMS");
	cw_sdp_free(s);
	cw_sdp_free(d);
}

static void firefox_offer_inherits_session_level_attributes(void **state)
{
	struct cw_sdp *s = parse_file("firefox-audio-video.sdp");
	const struct cw_sdp_media *a = &s->media[0], *v = &s->media[1];
	struct cw_sdp_transport t;

	(void)state;
	assert_int_equal(s->transport.nfingerprints, 1);
	assert_int_equal(a->transport.nfingerprints, 0);
	assert_string_equal(s->transport.options, "trickle");
	assert_true(s->extmap_allow_mixed);
	assert_string_equal(s->msid_semantic, "WMS *");
	cw_sdp_media_transport(s, 0, &t);
	assert_string_equal(t.ufrag, "9f0e8c2b");
	assert_string_equal(t.options, "trickle");
	assert_int_equal(t.nfingerprints, 1);
	assert_int_equal(t.fingerprints[0].hash[0], 0x3c);
	assert_int_equal(t.setup, CW_SDP_SETUP_ACTPASS);
	assert_true(a->extmaps[1].has_dir);
	assert_int_equal(a->extmaps[1].dir, CW_SDP_RECVONLY);
	assert_false(a->extmaps[0].has_dir);
	/* a=fmtp comes before a=rtpmap in Firefox's order. */
	assert_string_equal(codec(a, 109)->fmtp, "maxplaybackrate=48000;stereo=1;useinbandfec=1");
	assert_int_equal(codec(a, 9)->channels, 1);
	assert_int_equal(codec(v, 124)->apt, 120);
	assert_string_equal(codec(v, 124)->name, "rtx");
	assert_int_equal(codec(v, 97)->packetization_mode, -1);
	assert_int_equal(codec(v, 126)->fb, CW_SDP_FB_ALL);
	assert_string_equal(a->candidates[0].transport, "UDP");
	assert_string_equal(a->candidates[3].type, "srflx");
	assert_true(a->end_of_candidates);
	assert_int_equal(v->ngroups, 1);
	assert_int_equal(v->nssrcs, 2);
	cw_sdp_free(s);
}

static void real_descriptions_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(real_files) / sizeof(real_files[0]); i++) {
		struct cw_sdp *s = parse_file(real_files[i]);

		assert_round_trip(s);
		cw_sdp_free(s);
	}
}

static void lf_and_crlf_line_ends_give_one_model(void **state)
{
	size_t len, k = 0;
	char *crlf = slurp("chromium-audio-video.sdp", &len);
	char *lf = malloc(len + 1);
	struct cw_sdp *a = parse_text(crlf), *b;

	(void)state;
	for (size_t i = 0; i < len; i++)
		if (crlf[i] != '\r')
			lf[k++] = crlf[i];
	lf[k] = '\0';
	b = parse_text(lf);
	same_model(a, b);
	cw_sdp_free(a);
	cw_sdp_free(b);
	free(crlf);
	free(lf);
}

static const uint8_t our_fp[32] = {0xde, 0xad, 0xbe, 0xef, 1,  2,  3,  4,  5,  6,  7,
				   8,	 9,    10,   11,   12, 13, 14, 15, 16, 17, 18,
				   19,	 20,   21,   22,   23, 24, 25, 26, 27, 28};
static const struct cw_sdp_host our_hosts[] = {{"203.0.113.5", 40000}, {"2001:db8::5", 40002}};

static struct cw_sdp_local local_with(const struct cw_sdp_caps *caps)
{
	struct cw_sdp_local l = {.ufrag = "cwU1",
				 .pwd = "abcdefghijklmnopqrstuv",
				 .hosts = our_hosts,
				 .nhosts = 2,
				 .session_id = 77,
				 .version = 3,
				 .caps = caps};

	memcpy(l.fingerprint, our_fp, 32);
	return l;
}

static const unsigned chromium_video_pts[] = {96, 97, 102, 103, 108, 109};

static void answer_to_chromium_takes_our_codecs_with_offered_numbers(void **state)
{
	struct cw_sdp *o = parse_file("chromium-audio-video.sdp"), *a = NULL;
	struct cw_sdp_local l = local_with(NULL);
	struct cw_sdp_err err;
	const struct cw_sdp_media *am, *vm;

	(void)state;
	assert_int_equal(cw_sdp_answer(&a, o, &l, NULL, 0, &err), 0);
	am = &a->media[0];
	vm = &a->media[1];
	assert_true(a->ice_lite);
	assert_string_equal(a->origin, "- 77 3 IN IP4 0.0.0.0");
	assert_int_equal(a->nbundle, 2);
	assert_int_equal(am->port, 9);
	assert_int_equal(am->ncodecs, 1);
	assert_int_equal(am->codecs[0].pt, 111);
	assert_int_equal(am->codecs[0].fb, CW_SDP_FB_TWCC);
	assert_int_equal(vm->ncodecs, 6);
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(vm->codecs[i].pt, chromium_video_pts[i]);
	assert_int_equal(codec(vm, 96)->fb, CW_SDP_FB_ALL);
	assert_int_equal(codec(vm, 103)->apt, 102);
	assert_int_equal(am->nextmaps, 4);
	assert_int_equal(vm->nextmaps, 3);
	assert_string_equal(vm->extmaps[0].uri, CW_SDP_URI_ABS_SEND_TIME);
	assert_int_equal(vm->extmaps[0].id, 2);
	assert_int_equal(vm->dir, CW_SDP_SENDRECV);
	assert_true(vm->rtcp_mux && vm->rtcp_rsize);
	assert_string_equal(vm->transport.ufrag, "cwU1");
	assert_int_equal(vm->transport.setup, CW_SDP_SETUP_PASSIVE);
	assert_memory_equal(vm->transport.fingerprints[0].hash, our_fp, 32);
	assert_int_equal(vm->ncandidates, 2);
	assert_string_equal(vm->candidates[0].raw, "1 1 udp 2130706431 203.0.113.5 40000 typ host");
	assert_string_equal(vm->candidates[1].ip, "2001:db8::5");
	assert_true(vm->end_of_candidates);
	assert_round_trip(a);
	cw_sdp_free(a);
	cw_sdp_free(o);
}

static void answer_to_firefox_mirrors_extension_directions(void **state)
{
	struct cw_sdp *o = parse_file("firefox-audio-video.sdp"), *a = NULL;
	struct cw_sdp_local l = local_with(NULL);
	const struct cw_sdp_media *am, *vm;
	static const unsigned pts[] = {120, 124, 126, 127};

	(void)state;
	assert_int_equal(cw_sdp_answer(&a, o, &l, NULL, 0, NULL), 0);
	am = &a->media[0];
	vm = &a->media[1];
	assert_int_equal(am->ncodecs, 1);
	assert_int_equal(am->codecs[0].pt, 109);
	/* 97 is H.264 without packetization-mode (= 0): not ours. */
	assert_int_equal(vm->ncodecs, 4);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(vm->codecs[i].pt, pts[i]);
	assert_int_equal(am->nextmaps, 2); /* audio level and mid, not csrc-audio-level */
	assert_int_equal(vm->nextmaps, 3);
	assert_int_equal(vm->extmaps[2].id, 7);
	assert_round_trip(a);
	cw_sdp_free(a);
	cw_sdp_free(o);
}

static void answer_carries_our_tracks_and_rejects_data_channels(void **state)
{
	struct cw_sdp *o = parse_file("chromium-recvonly-datachannel.sdp"), *a = NULL;
	struct cw_sdp_local l = local_with(NULL);
	struct cw_sdp_track tracks[] = {
		{.kind = CW_SDP_VIDEO,
		 .mid = "1",
		 .ssrc = 5001,
		 .rtx_ssrc = 5002,
		 .stream_id = "alice",
		 .track_id = "alice-cam",
		 .cname = "alice-cn"},
		{.kind = CW_SDP_AUDIO,
		 .mid = "0",
		 .ssrc = 4001,
		 .stream_id = "alice",
		 .track_id = "alice-mic",
		 .cname = "alice-cn"},
	};
	const struct cw_sdp_media *am, *vm, *dm;

	(void)state;
	assert_int_equal(cw_sdp_answer(&a, o, &l, tracks, 2, NULL), 0);
	am = &a->media[0];
	vm = &a->media[1];
	dm = &a->media[2];
	assert_int_equal(am->dir, CW_SDP_SENDONLY);
	assert_int_equal(am->nssrcs, 1);
	assert_int_equal(am->ssrcs[0].ssrc, 4001);
	assert_string_equal(am->msid_track, "alice-mic");
	assert_int_equal(vm->nssrcs, 2);
	assert_int_equal(vm->ngroups, 1);
	assert_string_equal(vm->groups[0].semantics, "FID");
	assert_int_equal(vm->groups[0].ssrcs[1], 5002);
	assert_string_equal(vm->ssrcs[1].cname, "alice-cn");
	assert_int_equal(dm->port, 0);
	assert_string_equal(dm->fmts, "webrtc-datachannel");
	assert_string_equal(dm->mid, "2");
	assert_int_equal(dm->ncandidates, 0);
	assert_int_equal(a->nbundle, 2);
	assert_string_equal(a->msid_semantic, "WMS *");
	assert_round_trip(a);
	cw_sdp_free(a);
	cw_sdp_free(o);
}

static void answer_refuses_tracks_the_offerer_cannot_receive(void **state)
{
	struct cw_sdp *o = parse_file("chromium-simulcast.sdp"), *a = NULL;
	struct cw_sdp_local l = local_with(NULL);
	struct cw_sdp_track t = {.kind = CW_SDP_AUDIO,
				 .mid = "0",
				 .ssrc = 1,
				 .stream_id = "s",
				 .track_id = "t",
				 .cname = "c"};
	struct cw_sdp_err err;

	(void)state;
	assert_int_equal(cw_sdp_answer(&a, o, &l, &t, 1, &err), -EINVAL);
	assert_null(a);
	assert_non_null(strstr(err.msg, "does not receive"));
	t.mid = "9";
	assert_int_equal(cw_sdp_answer(&a, o, &l, &t, 1, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "mid"));
	t.mid = "1"; /* a video m-section */
	assert_int_equal(cw_sdp_answer(&a, o, &l, &t, 1, &err), -EINVAL);
	cw_sdp_free(o);
}

static void simulcast_is_answered_only_when_enabled(void **state)
{
	struct cw_sdp *o = parse_file("chromium-simulcast.sdp"), *a = NULL;
	struct cw_sdp_caps caps = {CW_SDP_CODEC_ALL, CW_SDP_FB_ALL, CW_SDP_EXT_ALL, false};
	struct cw_sdp_local l = local_with(&caps);
	const struct cw_sdp_media *vm;

	(void)state;
	assert_int_equal(cw_sdp_answer(&a, o, &l, NULL, 0, NULL), 0);
	assert_null(a->media[1].simulcast);
	assert_int_equal(a->media[1].nrids, 0);
	assert_int_equal(a->media[1].nextmaps, 3);
	assert_int_equal(a->media[1].dir, CW_SDP_RECVONLY);
	cw_sdp_free(a);
	caps.simulcast = true;
	assert_int_equal(cw_sdp_answer(&a, o, &l, NULL, 0, NULL), 0);
	vm = &a->media[1];
	assert_string_equal(vm->simulcast, "recv q;h;f");
	assert_int_equal(vm->nrids, 3);
	assert_string_equal(vm->rids[2], "f recv");
	assert_int_equal(vm->nextmaps, 5);
	assert_string_equal(vm->extmaps[3].uri, CW_SDP_URI_RID);
	assert_round_trip(a);
	cw_sdp_free(a);
	cw_sdp_free(o);
}

static void audio_only_caps_reject_video_sections(void **state)
{
	struct cw_sdp *o = parse_file("chromium-audio-video.sdp"), *a = NULL;
	struct cw_sdp_caps caps = {CW_SDP_CODEC_OPUS, CW_SDP_FB_NACK, CW_SDP_EXT_AUDIO_LEVEL,
				   false};
	struct cw_sdp_local l = local_with(&caps);
	const struct cw_sdp_media *vm;

	(void)state;
	assert_int_equal(cw_sdp_answer(&a, o, &l, NULL, 0, NULL), 0);
	vm = &a->media[1];
	assert_int_equal(vm->port, 0);
	assert_int_equal(vm->ncodecs, 1); /* a rejected m= line still names a format */
	assert_int_equal(vm->ncandidates, 0);
	assert_int_equal(a->nbundle, 1);
	assert_string_equal(a->bundle[0], "0");
	assert_int_equal(a->media[0].codecs[0].fb, 0);
	assert_int_equal(a->media[0].nextmaps, 1);
	assert_round_trip(a);
	cw_sdp_free(a);
	cw_sdp_free(o);
}

static void offer_with_only_unsupported_codecs_is_refused(void **state)
{
	struct cw_sdp *o =
		parse_text(HEAD "a=group:BUNDLE 0 1\r\n"
				"m=audio 9 UDP/TLS/RTP/SAVPF 9\r\na=mid:0\r\na=rtcp-mux\r\n"
				"a=rtpmap:9 G722/8000\r\n"
				"m=video 9 UDP/TLS/RTP/SAVPF 45\r\na=mid:1\r\na=rtcp-mux\r\n"
				"a=rtpmap:45 AV1/90000\r\n");
	struct cw_sdp_local l = local_with(NULL);
	struct cw_sdp *a = NULL;
	struct cw_sdp_err err;

	(void)state;
	assert_int_equal(cw_sdp_answer(&a, o, &l, NULL, 0, &err), -ENOTSUP);
	assert_null(a);
	assert_non_null(strstr(err.msg, "no codec we support"));
	cw_sdp_free(o);
	o = parse_text(HEAD);
	assert_int_equal(cw_sdp_answer(&a, o, &l, NULL, 0, &err), -ENOTSUP);
	assert_non_null(strstr(err.msg, "no m-section"));
	cw_sdp_free(o);
}

static void without_bundle_or_rtcp_mux_sections_are_rejected(void **state)
{
	struct cw_sdp *o = parse_text(HEAD AUDIO "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\n"
						 "a=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n"
						 "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:2\r\n"
						 "a=rtpmap:111 opus/48000/2\r\n");
	struct cw_sdp_local l = local_with(NULL);
	struct cw_sdp *a = NULL;

	(void)state;
	assert_int_equal(cw_sdp_answer(&a, o, &l, NULL, 0, NULL), 0);
	assert_int_equal(a->media[0].port, 9);
	assert_int_equal(a->media[1].port, 0);
	assert_int_equal(a->media[2].port, 0);
	assert_int_equal(a->nbundle, 0);
	cw_sdp_free(a);
	cw_sdp_free(o);
}

static void h264_is_ours_only_in_mode_1_constrained_baseline(void **state)
{
	struct cw_sdp_codec c = {.pt = 100,
				 .name = "H264",
				 .clock = 90000,
				 .apt = -1,
				 .packetization_mode = 1,
				 .profile_level_id = 0x42e01f};

	(void)state;
	assert_true(cw_sdp_codec_supported(CW_SDP_VIDEO, &c, CW_SDP_CODEC_ALL));
	assert_false(cw_sdp_codec_supported(CW_SDP_VIDEO, &c, CW_SDP_CODEC_VP8));
	assert_false(cw_sdp_codec_supported(CW_SDP_AUDIO, &c, CW_SDP_CODEC_ALL));
	c.profile_level_id = 0x42001f;
	assert_true(cw_sdp_codec_supported(CW_SDP_VIDEO, &c, CW_SDP_CODEC_ALL));
	c.profile_level_id = 0; /* absent: 42000a */
	assert_true(cw_sdp_codec_supported(CW_SDP_VIDEO, &c, CW_SDP_CODEC_ALL));
	c.profile_level_id = 0x4d001f;
	assert_false(cw_sdp_codec_supported(CW_SDP_VIDEO, &c, CW_SDP_CODEC_ALL));
	c.profile_level_id = 0x42e01f;
	c.packetization_mode = 0;
	assert_false(cw_sdp_codec_supported(CW_SDP_VIDEO, &c, CW_SDP_CODEC_ALL));
	c.packetization_mode = -1;
	assert_false(cw_sdp_codec_supported(CW_SDP_VIDEO, &c, CW_SDP_CODEC_ALL));
	c = (struct cw_sdp_codec){.name = "OPUS", .clock = 48000, .channels = 2};
	assert_true(cw_sdp_codec_supported(CW_SDP_AUDIO, &c, CW_SDP_CODEC_OPUS));
	c.channels = 1;
	assert_false(cw_sdp_codec_supported(CW_SDP_AUDIO, &c, CW_SDP_CODEC_OPUS));
	c = (struct cw_sdp_codec){.name = "vp8", .clock = 90000};
	assert_true(cw_sdp_codec_supported(CW_SDP_VIDEO, &c, CW_SDP_CODEC_VP8));
	c.clock = 8000;
	assert_false(cw_sdp_codec_supported(CW_SDP_VIDEO, &c, CW_SDP_CODEC_VP8));
}

static void subscriber_offer_carries_each_track(void **state)
{
	struct cw_sdp *pub = parse_file("chromium-audio-video.sdp"), *pa = NULL, *s = NULL;
	struct cw_sdp_local l = local_with(NULL);
	struct cw_sdp_track tracks[] = {
		{.kind = CW_SDP_AUDIO,
		 .mid = "a0",
		 .ssrc = 11,
		 .stream_id = "bob",
		 .track_id = "bob-mic",
		 .cname = "bob-cn"},
		{.kind = CW_SDP_VIDEO,
		 .mid = "v0",
		 .ssrc = 12,
		 .rtx_ssrc = 13,
		 .stream_id = "bob",
		 .track_id = "bob-cam",
		 .cname = "bob-cn"},
		{.kind = CW_SDP_VIDEO,
		 .mid = "v1",
		 .ssrc = 22,
		 .stream_id = "carol",
		 .track_id = "carol-cam",
		 .cname = "carol-cn",
		 .stopped = true},
	};
	const struct cw_sdp_media *m;

	(void)state;
	/* The publisher's negotiated codecs, so forwarded packets keep their types. */
	assert_int_equal(cw_sdp_answer(&pa, pub, &l, NULL, 0, NULL), 0);
	tracks[1].codecs = pa->media[1].codecs;
	tracks[1].ncodecs = pa->media[1].ncodecs;
	assert_int_equal(cw_sdp_offer(&s, &l, tracks, 3, NULL), 0);
	assert_true(s->ice_lite);
	assert_int_equal(s->nmedia, 3);
	assert_int_equal(s->nbundle, 2);
	assert_string_equal(s->bundle[1], "v0");
	m = &s->media[0];
	assert_int_equal(m->dir, CW_SDP_SENDONLY);
	assert_int_equal(m->transport.setup, CW_SDP_SETUP_ACTPASS);
	assert_int_equal(m->ncodecs, 1);
	assert_string_equal(m->codecs[0].name, "opus");
	assert_int_equal(m->nextmaps, 4);
	assert_int_equal(m->nssrcs, 1);
	assert_int_equal(m->ngroups, 0);
	assert_int_equal(m->ncandidates, 2);
	m = &s->media[1];
	assert_int_equal(m->ncodecs, 6);
	assert_int_equal(m->codecs[4].pt, 108);
	assert_int_equal(m->nextmaps, 3);
	assert_int_equal(m->nssrcs, 2);
	assert_int_equal(m->groups[0].ssrcs[0], 12);
	assert_string_equal(m->msid_track, "bob-cam");
	m = &s->media[2];
	assert_int_equal(m->port, 0);
	assert_int_equal(m->dir, CW_SDP_INACTIVE);
	assert_int_equal(m->nssrcs, 0);
	assert_int_equal(m->ncandidates, 0);
	assert_int_equal(m->ncodecs, 4); /* our defaults: VP8, rtx, H.264, rtx */
	assert_round_trip(s);
	/* A model whose strings are not in its own text (ours) answers as well. */
	cw_sdp_free(pa);
	assert_int_equal(cw_sdp_answer(&pa, s, &l, NULL, 0, NULL), 0);
	assert_int_equal(pa->media[1].dir, CW_SDP_RECVONLY);
	assert_int_equal(pa->media[2].port, 0);
	assert_round_trip(pa);
	cw_sdp_free(s);
	cw_sdp_free(pa);
	cw_sdp_free(pub);
}

/* A gone track's place in a subscriber offer: inactive, still bundled, nothing of a track. */
static void subscriber_offer_keeps_an_inactive_place(void **state)
{
	struct cw_sdp_local l = local_with(NULL);
	struct cw_sdp_track tracks[] = {
		{.kind = CW_SDP_AUDIO,
		 .mid = "0",
		 .ssrc = 11,
		 .stream_id = "bob",
		 .track_id = "bob-mic",
		 .cname = "bob-cn"},
		{.kind = CW_SDP_VIDEO, .mid = "1", .inactive = true},
	};
	struct cw_sdp *s = NULL, *a = NULL;
	const struct cw_sdp_media *m;

	(void)state;
	assert_int_equal(cw_sdp_offer(&s, &l, tracks, 2, NULL), 0);
	assert_int_equal(s->nbundle, 2);
	assert_string_equal(s->bundle[1], "1");
	m = &s->media[1];
	assert_int_not_equal(m->port, 0);
	assert_int_equal(m->dir, CW_SDP_INACTIVE);
	assert_int_equal(m->nssrcs, 0);
	assert_null(m->msid_track);
	assert_int_equal(m->transport.setup, CW_SDP_SETUP_ACTPASS);
	assert_true(m->ncodecs > 0);
	assert_round_trip(s);
	/* The answer to it keeps the place inactive, on the bundled transport. */
	assert_int_equal(cw_sdp_answer(&a, s, &l, NULL, 0, NULL), 0);
	assert_int_not_equal(a->media[1].port, 0);
	assert_int_equal(a->media[1].dir, CW_SDP_INACTIVE);
	cw_sdp_free(a);
	cw_sdp_free(s);
}

static void offer_refuses_bad_local_parameters_and_tracks(void **state)
{
	struct cw_sdp_caps audio = {CW_SDP_CODEC_OPUS, CW_SDP_FB_ALL, CW_SDP_EXT_ALL, false};
	struct cw_sdp_local l = local_with(NULL);
	struct cw_sdp_track t[2] = {
		{.kind = CW_SDP_VIDEO,
		 .mid = "v",
		 .ssrc = 1,
		 .stream_id = "s",
		 .track_id = "t",
		 .cname = "c"},
		{.kind = CW_SDP_VIDEO,
		 .mid = "v",
		 .ssrc = 2,
		 .stream_id = "s",
		 .track_id = "u",
		 .cname = "c"},
	};
	struct cw_sdp_host bad_host = {"1.2.3.4\r\na=x", 1};
	struct cw_sdp *s = NULL;
	struct cw_sdp_err err;

	(void)state;
	assert_int_equal(cw_sdp_offer(&s, &l, t, 2, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "two tracks"));
	assert_int_equal(cw_sdp_offer(&s, &l, t, 0, &err), -EINVAL);
	l.ufrag = "ab";
	assert_int_equal(cw_sdp_offer(&s, &l, t, 1, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "ufrag"));
	l = local_with(NULL);
	l.pwd = "short";
	assert_int_equal(cw_sdp_offer(&s, &l, t, 1, &err), -EINVAL);
	l = local_with(NULL);
	l.hosts = &bad_host;
	l.nhosts = 1;
	assert_int_equal(cw_sdp_offer(&s, &l, t, 1, &err), -EINVAL);
	l = local_with(&audio);
	assert_int_equal(cw_sdp_offer(&s, &l, t, 1, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "no codec"));
	l = local_with(NULL);
	t[0].cname = "with space";
	assert_int_equal(cw_sdp_offer(&s, &l, t, 1, &err), -EINVAL);
	assert_null(s);
}

static void chromium_answer_to_our_offer_parses(void **state)
{
	struct cw_sdp *s = parse_file("chromium-answer-to-callwire-offer.sdp");
	struct cw_sdp_transport t;

	(void)state;
	assert_int_equal(s->nmedia, 3);
	assert_string_equal(s->media[0].mid, "a1");
	assert_int_equal(s->media[0].dir, CW_SDP_RECVONLY);
	assert_int_equal(s->media[1].ncodecs, 4);
	assert_int_equal(s->media[2].port, 0);
	assert_int_equal(s->media[2].dir, CW_SDP_INACTIVE);
	cw_sdp_media_transport(s, 0, &t);
	assert_int_equal(t.setup, CW_SDP_SETUP_ACTIVE);
	cw_sdp_free(s);
}

static void writer_reports_the_size_it_needs(void **state)
{
	struct cw_sdp *s = parse_file("firefox-audio-video.sdp");
	size_t need, len;
	char *buf;

	(void)state;
	assert_int_equal(cw_sdp_write(s, NULL, 0, &need), -ENOSPC);
	assert_true(need > 1000);
	buf = malloc(need + 1);
	assert_int_equal(cw_sdp_write(s, buf, need, &len), -ENOSPC);
	assert_int_equal(len, need);
	assert_int_equal(cw_sdp_write(s, buf, need + 1, &len), 0);
	assert_int_equal(len, need);
	assert_int_equal(strlen(buf), need);
	assert_memory_equal(buf, "v=0\r\no=mozilla", 14);
	free(buf);
	cw_sdp_free(s);
}

struct bad {
	const char *text;
	int rc;
	unsigned line;
	const char *says;
};

static const struct bad bad_inputs[] = {
	{"o=- 1 1 IN IP4 0.0.0.0\r\nv=0\r\n", -EINVAL, 1, "missing v=0"},
	{"v=1\r\n", -EINVAL, 1, "missing v=0"},
	{"\r\nv=0\r\n", -EINVAL, 1, "missing v=0"},
	{HEAD "v=0\r\n", -EINVAL, 5, "second v="},
	{HEAD "xyz\r\n", -EINVAL, 5, "malformed line"},
	{HEAD "A=b\r\n", -EINVAL, 5, "malformed line"},
	{HEAD "m=audio 9\r\n", -EINVAL, 5, "bad m= line"},
	{HEAD "m=audio 9 UDP/TLS/RTP/SAVPF\r\n", -EINVAL, 5, "bad m= line"},
	{HEAD "m=audio abc UDP/TLS/RTP/SAVPF 111\r\n", -EINVAL, 5, "port"},
	{HEAD "m=audio 70000 UDP/TLS/RTP/SAVPF 111\r\n", -EINVAL, 5, "port"},
	{HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111 200\r\n", -EINVAL, 5, "payload type"},
	{HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111 x\r\n", -EINVAL, 5, "payload type"},
	{HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111 111\r\n", -EINVAL, 5, "repeated"},
	{HEAD "a=fingerprint:sha-256 AB:CD\r\n", -EINVAL, 5, "bad fingerprint"},
	{HEAD "a=fingerprint:sha-256\r\n", -EINVAL, 5, "bad fingerprint"},
	{HEAD "a=fingerprint:sha-256 " FP32 ":\r\n", -EINVAL, 5, "bad fingerprint"},
	{HEAD "a=fingerprint:sha-256 " FP32 ":AA\r\n", -EINVAL, 5, "bad fingerprint"},
	{HEAD "a=fingerprint:sha-256 ZZ" FP32 "\r\n", -EINVAL, 5, "bad fingerprint"},
	{HEAD "a=fingerprint:SHA-1 AB:CD:AB:CD\r\n", -EINVAL, 5, "sha-1 needs 20"},
	{HEAD "a=fingerprint:sha-256 AABB:" FP32 "\r\n", -EINVAL, 5, "bad fingerprint"},
	{HEAD "a=setup:sideways\r\n", -EINVAL, 5, "bad a=setup"},
	{HEAD "a=ice-ufrag:\r\n", -EINVAL, 5, "bad a=ice-ufrag"},
	{HEAD "a=ice-pwd:a b\r\n", -EINVAL, 5, "bad a=ice-pwd"},
	{HEAD "a=extmap:0 urn:x\r\n", -EINVAL, 5, "bad a=extmap"},
	{HEAD "a=group:BUNDLE 0 7\r\n" AUDIO, -EINVAL, 5, "mid '7'"},
	{HEAD AUDIO "a=candidate:1 1 udp x 1.2.3.4 5 typ host\r\n", -EINVAL, 9, "bad a=candidate"},
	{HEAD AUDIO "a=candidate:1 1 udp 1 1.2.3.4 5 type host\r\n", -EINVAL, 9, "bad a=candidate"},
	{HEAD AUDIO "a=candidate:1 0 udp 1 1.2.3.4 5 typ host\r\n", -EINVAL, 9, "bad a=candidate"},
	{HEAD AUDIO "a=candidate:1 1 udp 1 1.2.3.4\r\n", -EINVAL, 9, "bad a=candidate"},
	{HEAD AUDIO "a=rtpmap:111 opus\r\n", -EINVAL, 9, "bad a=rtpmap"},
	{HEAD AUDIO "a=rtpmap:111 opus/0\r\n", -EINVAL, 9, "bad a=rtpmap"},
	{HEAD AUDIO "a=rtpmap:111 /8000\r\n", -EINVAL, 9, "bad a=rtpmap"},
	{HEAD AUDIO "a=rtpmap:300 opus/8000\r\n", -EINVAL, 9, "bad a=rtpmap"},
	{HEAD AUDIO "a=rtpmap:111 opus/48000/x\r\n", -EINVAL, 9, "bad a=rtpmap"},
	{HEAD AUDIO "a=fmtp:111 apt=x\r\n", -EINVAL, 9, "apt"},
	{HEAD AUDIO "a=fmtp:x apt=1\r\n", -EINVAL, 9, "bad a=fmtp"},
	{HEAD AUDIO "a=fmtp:111 profile-level-id=42e0\r\n", -EINVAL, 9, "profile-level-id"},
	{HEAD AUDIO "a=fmtp:111 packetization-mode=7\r\n", -EINVAL, 9, "packetization-mode"},
	{HEAD AUDIO "a=rtcp-fb:abc nack\r\n", -EINVAL, 9, "bad a=rtcp-fb"},
	{HEAD AUDIO "a=rtcp-fb:111\r\n", -EINVAL, 9, "bad a=rtcp-fb"},
	{HEAD AUDIO "a=extmap:1 urn:x\r\na=extmap:1 urn:y\r\n", -EINVAL, 10, "repeated"},
	{HEAD AUDIO "a=extmap:1/sideways urn:x\r\n", -EINVAL, 9, "bad a=extmap"},
	{HEAD AUDIO "a=extmap:256 urn:x\r\n", -EINVAL, 9, "bad a=extmap"},
	{HEAD AUDIO "a=extmap:1\r\n", -EINVAL, 9, "bad a=extmap"},
	{HEAD AUDIO "a=ssrc:abc cname:x\r\n", -EINVAL, 9, "bad a=ssrc"},
	{HEAD AUDIO "a=ssrc:4294967296 cname:x\r\n", -EINVAL, 9, "bad a=ssrc"},
	{HEAD AUDIO "a=ssrc-group:FID\r\n", -EINVAL, 9, "bad a=ssrc-group"},
	{HEAD AUDIO "a=ssrc-group:FID 1 x\r\n", -EINVAL, 9, "bad a=ssrc-group"},
	{HEAD AUDIO "a=mid:a b\r\n", -EINVAL, 9, "bad a=mid"},
	{HEAD AUDIO "a=msid:\r\n", -EINVAL, 9, "bad a=msid"},
	{HEAD AUDIO "a=rid:\r\n", -EINVAL, 9, "bad a=rid"},
	{HEAD AUDIO AUDIO, -EINVAL, 10, "a=mid:0 is used by two m-sections"},
	{HEAD "s=\x01\r\n", -EINVAL, 5, "control character"},
	{HEAD "s=a\rb\r\n", -EINVAL, 5, "control character"},
};

static void expect_refused(const char *text, size_t len, int rc, unsigned line, const char *says)
{
	struct cw_sdp *s = (struct cw_sdp *)(uintptr_t)1;
	struct cw_sdp_err err;
	int got = cw_sdp_parse(&s, text, len, &err);

	if (got != rc || !strstr(err.msg, says) || (line && err.line != line))
		fail_msg("%.60s...: got %d '%s' (line %u), want %d '%s' (line %u)", text, got,
			 err.msg, err.line, rc, says, line);
	assert_null(s);
}

static void malformed_descriptions_are_refused_with_line_and_reason(void **state)
{
	struct cw_sdp_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_inputs) / sizeof(bad_inputs[0]); i++)
		expect_refused(bad_inputs[i].text, strlen(bad_inputs[i].text), bad_inputs[i].rc,
			       bad_inputs[i].line, bad_inputs[i].says);
	expect_refused("", 0, -EINVAL, 0, "empty");
	expect_refused(NULL, 5, -EINVAL, 0, "empty");
	expect_refused("v=0\r\ns=\0x\r\n", 11, -EINVAL, 2, "control character 0x00");
	/* The message carries the line number too. */
	expect_refused(HEAD "m=audio 9\r\n", strlen(HEAD) + 11, -EINVAL, 5, "line 5: bad m= line");
	(void)err;
}

/* Builds HEAD followed by n copies of line. */
static char *repeat(const char *line, unsigned n, size_t *len)
{
	size_t l = strlen(line);
	char *t = malloc(strlen(HEAD) + l * n + 1), *p = t;

	p += sprintf(p, "%s", HEAD);
	for (unsigned i = 0; i < n; i++, p += l)
		memcpy(p, line, l);
	*p = '\0';
	*len = (size_t)(p - t);
	return t;
}

static void limits_are_errors_that_name_them(void **state)
{
	struct cw_sdp *s = NULL;
	char buf[8192], *t;
	size_t len;
	int n;

	(void)state;
	/* Overlong line. */
	n = snprintf(buf, sizeof(buf), HEAD "s=");
	memset(buf + n, 'x', CW_SDP_MAX_LINE);
	strcpy(buf + n + CW_SDP_MAX_LINE, "\r\n");
	expect_refused(buf, strlen(buf), -E2BIG, 5, "longer than 4096");
	/* The longest line allowed is fine. */
	buf[n + CW_SDP_MAX_LINE - 2] = '\0';
	assert_int_equal(cw_sdp_parse(&s, buf, strlen(buf), NULL), 0);
	cw_sdp_free(s);
	/* Too many m-sections; exactly the limit is fine. */
	t = repeat("m=audio 9 RTP/AVP 0\r\n", CW_SDP_MAX_MEDIA + 1, &len);
	expect_refused(t, len, -E2BIG, 4 + CW_SDP_MAX_MEDIA + 1, "more than 128 m-sections");
	free(t);
	t = repeat("m=audio 9 RTP/AVP 0\r\n", CW_SDP_MAX_MEDIA, &len);
	assert_int_equal(cw_sdp_parse(&s, t, len, NULL), 0);
	assert_int_equal(s->nmedia, CW_SDP_MAX_MEDIA);
	cw_sdp_free(s);
	free(t);
	/* Too many payload types in one m-section. */
	n = snprintf(buf, sizeof(buf), HEAD "m=video 9 UDP/TLS/RTP/SAVPF");
	for (int pt = 0; pt <= CW_SDP_MAX_CODECS; pt++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, " %d", pt);
	expect_refused(buf, strlen(buf), -E2BIG, 5, "more than 64 payload types");
	/* Too large as a whole. */
	t = repeat("a=x:yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\r\n", 1100, &len);
	expect_refused(t, len, -E2BIG, 0, "over 65536");
	free(t);
	t = repeat("a=fingerprint:sha-256 " FP32 "\r\n", CW_SDP_MAX_FINGERPRINTS + 1, &len);
	expect_refused(t, len, -E2BIG, 4 + CW_SDP_MAX_FINGERPRINTS + 1, "a=fingerprint");
	free(t);
	n = snprintf(buf, sizeof(buf), HEAD AUDIO);
	for (int i = 1; i <= CW_SDP_MAX_EXTMAPS + 1; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "a=extmap:%d urn:x:%d\r\n", i, i);
	expect_refused(buf, strlen(buf), -E2BIG, 0, "a=extmap");
	n = snprintf(buf, sizeof(buf), HEAD AUDIO);
	for (int i = 1; i <= CW_SDP_MAX_SSRCS + 1; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "a=ssrc:%d cname:x\r\n", i);
	expect_refused(buf, strlen(buf), -E2BIG, 0, "SSRCs");
	n = snprintf(buf, sizeof(buf), HEAD AUDIO);
	for (int i = 1; i <= CW_SDP_MAX_RIDS + 1; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "a=rid:%d send\r\n", i);
	expect_refused(buf, strlen(buf), -E2BIG, 0, "a=rid");
	/* Candidates past the limit are dropped, not refused. */
	n = snprintf(buf, sizeof(buf), HEAD AUDIO);
	for (int i = 1; i <= CW_SDP_MAX_CANDIDATES + 8; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n,
			      "a=candidate:%d 1 udp %d 192.0.2.1 %d typ host\r\n", i, i, 1000 + i);
	assert_int_equal(cw_sdp_parse(&s, buf, strlen(buf), NULL), 0);
	assert_int_equal(s->media[0].ncandidates, CW_SDP_MAX_CANDIDATES);
	cw_sdp_free(s);
}

static void odd_but_valid_forms_are_accepted(void **state)
{
	struct cw_sdp *s = parse_text(
		"v=0\n\no=- 1 2 IN IP4 0.0.0.0\ns=-\nt=0 0\n"
		"a=recvonly\n"
		"a=extmap:9 urn:session\n"
		"a=fingerprint:whirlpool 00\n" /* unknown hash function: ignored */
		"a=fingerprint:sha-1 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd\n"
		"m=video 9/2 UDP/TLS/RTP/SAVPF 96  97\t98\n"
		"a=rtcp-fb:* nack\n"
		"a=rtcp-fb:96 ccm tmmbr\n"
		"a=rtpmap:96 VP8/90000\n"
		"a=fmtp:96 max-fs=12288 ; apt = 5\n"
		"a=rtpmap:99 H264/90000\n" /* not in the m= line: ignored */
		"a=ssrc:7\n"
		"a=ssrc:8 msid:only-stream\n"
		"m=text 0 RTP/AVP 0   \r\n"
		"b=AS:30\n");
	const struct cw_sdp_media *v = &s->media[0];

	(void)state;
	assert_int_equal(s->nmedia, 2);
	assert_int_equal(s->transport.nfingerprints, 1);
	assert_string_equal(s->transport.fingerprints[0].alg, "sha-1");
	assert_int_equal(s->transport.fingerprints[0].hash[19], 0xdd);
	assert_int_equal(v->port, 9);
	assert_int_equal(v->ncodecs, 3);
	assert_int_equal(v->dir, CW_SDP_RECVONLY);
	assert_int_equal(v->codecs[1].fb, CW_SDP_FB_NACK);
	assert_int_equal(v->codecs[0].fb, CW_SDP_FB_NACK);
	assert_int_equal(v->codecs[0].apt, 5);
	assert_string_equal(v->codecs[0].fmtp, "max-fs=12288 ; apt = 5");
	assert_null(v->codecs[2].name);
	assert_int_equal(v->nextmaps, 1);
	assert_string_equal(v->extmaps[0].uri, "urn:session");
	assert_int_equal(v->nssrcs, 2);
	assert_null(v->ssrcs[0].cname);
	assert_string_equal(v->ssrcs[1].msid_stream, "only-stream");
	assert_null(v->ssrcs[1].msid_track);
	assert_int_equal(s->media[1].kind, CW_SDP_OTHER);
	assert_string_equal(s->media[1].media, "text");
	assert_null(v->mid);
	assert_round_trip(s);
	cw_sdp_free(s);
}

/*
 * Whatever the bytes, parsing returns 0 or an error, never crashes (the ASan build checks
 * reads), and anything accepted writes out as text that parses to a fixed point.
 */
static void check_any(const char *text, size_t len)
{
	struct cw_sdp *s = NULL, *back = NULL;
	struct cw_sdp_err err;
	char *t1, *t2;
	int rc = cw_sdp_parse(&s, text, len, &err);

	if (rc) {
		assert_true(rc == -EINVAL || rc == -E2BIG);
		assert_true(err.msg[0] != '\0');
		assert_null(s);
		return;
	}
	t1 = write_text(s);
	back = parse_text(t1);
	t2 = write_text(back);
	assert_string_equal(t1, t2);
	free(t1);
	free(t2);
	cw_sdp_free(back);
	cw_sdp_free(s);
}

static void truncated_and_mutated_offers_never_crash(void **state)
{
	static const char alphabet[] = "=: /\r\n0129aAz;*-.\t";
	uint32_t seed = 12345;

	(void)state;
	for (size_t f = 0; f < sizeof(real_files) / sizeof(real_files[0]); f++) {
		size_t len;
		char *text = slurp(real_files[f], &len), *copy = malloc(len);

		for (size_t cut = 0; cut <= len; cut += 7) {
			memcpy(copy, text, cut);
			check_any(copy, cut);
		}
		for (int round = 0; round < 400; round++) {
			memcpy(copy, text, len);
			for (int k = 0; k < 4; k++) {
				seed = seed * 1103515245u + 12345u;
				copy[(seed >> 8) % len] =
					alphabet[(seed >> 20) % (sizeof(alphabet) - 1)];
			}
			check_any(copy, len);
		}
		free(copy);
		free(text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(chromium_offer_parses_into_its_model),
		cmocka_unit_test(simulcast_and_datachannel_offers_keep_their_lines),
		cmocka_unit_test(firefox_offer_inherits_session_level_attributes),
		cmocka_unit_test(real_descriptions_round_trip),
		cmocka_unit_test(lf_and_crlf_line_ends_give_one_model),
		cmocka_unit_test(answer_to_chromium_takes_our_codecs_with_offered_numbers),
		cmocka_unit_test(answer_to_firefox_mirrors_extension_directions),
		cmocka_unit_test(answer_carries_our_tracks_and_rejects_data_channels),
		cmocka_unit_test(answer_refuses_tracks_the_offerer_cannot_receive),
		cmocka_unit_test(simulcast_is_answered_only_when_enabled),
		cmocka_unit_test(audio_only_caps_reject_video_sections),
		cmocka_unit_test(offer_with_only_unsupported_codecs_is_refused),
		cmocka_unit_test(without_bundle_or_rtcp_mux_sections_are_rejected),
		cmocka_unit_test(h264_is_ours_only_in_mode_1_constrained_baseline),
		cmocka_unit_test(subscriber_offer_carries_each_track),
		cmocka_unit_test(subscriber_offer_keeps_an_inactive_place),
		cmocka_unit_test(offer_refuses_bad_local_parameters_and_tracks),
		cmocka_unit_test(chromium_answer_to_our_offer_parses),
		cmocka_unit_test(writer_reports_the_size_it_needs),
		cmocka_unit_test(malformed_descriptions_are_refused_with_line_and_reason),
		cmocka_unit_test(limits_are_errors_that_name_them),
		cmocka_unit_test(odd_but_valid_forms_are_accepted),
		cmocka_unit_test(truncated_and_mutated_offers_never_crash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
