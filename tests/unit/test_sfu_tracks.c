/* Publish and subscribe connections on a media worker, with in-test browsers over loopback:
 * who gets whose media, payload types and extension ids rewritten by the media map, muting,
 * keyframe requests routed to the publisher and rate-limited, NACKs answered from the
 * retransmission cache, REMB to video publishers, and the dominant speaker. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rtc/dtls.h"
#include "rtc/rtcp.h"
#include "rtc/rtp.h"
#include "sfu/sfu.h"
#include "sfu_client.h"

#define REMB_BPS 1000000

/* Alice's browser numbers its codecs and extensions its own way; Bob's like the server. */
#define A_OPUS 109
#define A_VP8 120
#define A_UNMAPPED 100
#define A_EXT_LEVEL 10
#define A_EXT_MID 5   /* becomes 4 */
#define A_EXT_OTHER 3 /* not negotiated with subscribers: becomes 15 */

enum { A_AUDIO, A_VIDEO, B_AUDIO, B_VIDEO, N_STREAMS };
static const uint32_t ssrcs[N_STREAMS] = {0xA0000001u, 0xA0000002u, 0xB0000001u, 0xB0000002u};

struct world {
	struct cw_sfu *sfu;
	struct cw_dtls_cert *cert;
	struct cw_sfu_media_map map_a, map_b;
	/* Each participant has a publish and a subscribe connection. */
	struct client a_pub, a_sub, b_pub, b_sub;
	uint16_t seq[N_STREAMS];
};

static struct world world;

/* Sends the next packet of stream (from its publisher) and returns its sequence number. */
static uint16_t publish(int stream, uint8_t pt, const uint8_t *ext, size_t ext_len)
{
	struct client *c = stream <= A_VIDEO ? &world.a_pub : &world.b_pub;
	uint16_t seq = world.seq[stream]++;

	send_media(c, ssrcs[stream], pt, seq, ext, ext_len);
	return seq;
}

static void publish_n(int stream, uint8_t pt, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		publish(stream, pt, NULL, 0);
}

/* An RFC 6464 audio level element in the one-byte form. */
static void level_ext(uint8_t *ext, uint8_t id, bool voice, uint8_t level)
{
	ext[0] = (uint8_t)(id << 4);
	ext[1] = (uint8_t)((voice ? 0x80 : 0) | level);
}

static void open_peer(struct client *c, const char *name, const char *ufrag, enum cw_sfu_dir dir,
		      const char *participant, const struct cw_sfu_media_map *map)
{
	const struct client_opts o = {.room = "r",
				      .cert = world.cert,
				      .dir = dir,
				      .participant = participant,
				      .map = map};

	client_open(c, world.sfu, name, ufrag, &o);
	client_connect(c);
}

static int setup(void **state)
{
	struct cw_sfu_config cfg = {
		.bind_ip = "127.0.0.1", .workers = 1, .remb_bps = REMB_BPS, .wake = events_wake};
	struct world *w = &world;

	memset(w, 0, sizeof(*w));
	events_start();
	assert_int_equal(cw_sfu_start(&w->sfu, &cfg), 0);
	assert_int_equal(cw_dtls_cert_new(&w->cert), 0);
	w->map_a.pt[A_OPUS].to = 111;
	w->map_a.pt[A_OPUS].kind = CW_SFU_KIND_AUDIO;
	w->map_a.pt[A_VP8].to = 96;
	w->map_a.pt[A_VP8].kind = CW_SFU_KIND_VIDEO;
	w->map_a.ext[A_EXT_LEVEL - 1] = CW_SFU_EXT_AUDIO_LEVEL;
	w->map_a.ext[A_EXT_MID - 1] = 4;
	w->map_b.pt[111].to = 111;
	w->map_b.pt[111].kind = CW_SFU_KIND_AUDIO;
	w->map_b.pt[96].to = 96;
	w->map_b.pt[96].kind = CW_SFU_KIND_VIDEO;
	w->map_b.ext[CW_SFU_EXT_AUDIO_LEVEL - 1] = CW_SFU_EXT_AUDIO_LEVEL;
	for (int i = 0; i < N_STREAMS; i++)
		w->seq[i] = (uint16_t)(1000 * (i + 1));
	open_peer(&w->a_pub, "Apub", "aPub", CW_SFU_PUBLISH, "alice", &w->map_a);
	open_peer(&w->a_sub, "Asub", "aSub", CW_SFU_SUBSCRIBE, "alice", NULL);
	open_peer(&w->b_pub, "Bpub", "bPub", CW_SFU_PUBLISH, "bob", &w->map_b);
	open_peer(&w->b_sub, "Bsub", "bSub", CW_SFU_SUBSCRIBE, "bob", NULL);
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	client_close(&w->a_pub);
	client_close(&w->a_sub);
	client_close(&w->b_pub);
	client_close(&w->b_sub);
	cw_sfu_stop(w->sfu);
	cw_dtls_cert_free(w->cert);
	events_stop();
	return 0;
}

static void media_goes_to_the_subscribers_of_other_participants_only(void **state)
{
	struct world *w = *state;
	struct cw_sfu_stats before = sfu_stats(w->sfu);
	struct cw_rtcp_sender_info si = {.ntp = 1ull << 32, .rtp_ts = 960};
	uint8_t sr[64];
	size_t len;
	int64_t end;

	publish_n(A_AUDIO, A_OPUS, 10);
	assert_int_equal(receive_ssrc(&w->b_sub, ssrcs[A_AUDIO], 10), 10);
	/* Neither Alice's own subscriber nor Bob's publish connection gets Alice's media. */
	sync_ice(&w->a_pub);
	drain(&w->a_sub, 50);
	drain(&w->b_pub, 20);
	assert_int_equal(w->a_sub.rtp + w->b_pub.rtp, 0);
	assert_int_equal(sfu_stats(w->sfu).rtp_forwarded - before.rtp_forwarded, 10);
	/* What a subscribe connection sends is forwarded to nobody. */
	send_media(&w->a_sub, 0x5555u, 111, 1, NULL, 0);
	send_media(&w->a_sub, 0x5555u, 111, 2, NULL, 0);
	sync_ice(&w->a_sub);
	drain(&w->b_sub, 50);
	assert_int_equal(received_ssrc(&w->b_sub, 0x5555u), 0);
	assert_int_equal(sfu_stats(w->sfu).rtp_forwarded - before.rtp_forwarded, 10);
	/* A publisher's sender report goes on, unchanged, to the same subscribers. */
	assert_int_equal(cw_rtcp_build_sr(sr, sizeof(sr), &len, ssrcs[A_AUDIO], &si, NULL, 0), 0);
	send_rtcp(&w->a_pub, sr, len);
	end = now_ms() + DEADLINE_MS;
	while (w->b_sub.sr == 0 && now_ms() < end)
		pump(&w->b_sub, 10);
	assert_int_equal(w->b_sub.sr, 1);
	drain(&w->a_sub, 20);
	assert_int_equal(w->a_sub.sr, 0);
}

static void payload_types_and_extension_ids_are_rewritten(void **state)
{
	struct world *w = *state;
	/* level (silent), a two-byte element, then one subscribers did not negotiate */
	const uint8_t ext[] = {A_EXT_LEVEL << 4, 0x7f, A_EXT_MID << 4 | 1, 0xab, 0xcd,
			       A_EXT_OTHER << 4, 0x11};
	const uint8_t want[] = {
		CW_SFU_EXT_AUDIO_LEVEL << 4, 0x7f, 4 << 4 | 1, 0xab, 0xcd, 15 << 4, 0x11, 0};
	struct cw_sfu_stats before = sfu_stats(w->sfu);
	unsigned had_audio = received_ssrc(&w->b_sub, ssrcs[A_AUDIO]);
	struct cw_rtp rtp;
	bool voice;
	uint8_t level;

	publish(A_AUDIO, A_OPUS, ext, sizeof(ext));
	assert_int_equal(receive_ssrc(&w->b_sub, ssrcs[A_AUDIO], had_audio + 1), had_audio + 1);
	assert_int_equal(cw_rtp_parse(&rtp, w->b_sub.last, w->b_sub.last_len), 0);
	assert_int_equal(rtp.pt, 111);
	assert_int_equal(rtp.ext_profile, 0xBEDE);
	assert_int_equal(rtp.ext_len, sizeof(want));
	assert_memory_equal(w->b_sub.last + rtp.ext_off, want, sizeof(want));
	assert_int_equal(cw_rtp_audio_level(&rtp, CW_SFU_EXT_AUDIO_LEVEL, &voice, &level), 0);
	assert_int_equal(level, 0x7f);
	/* Video: Alice's VP8 120 is the subscribers' 96. */
	publish(A_VIDEO, A_VP8, NULL, 0);
	assert_int_equal(receive_ssrc(&w->b_sub, ssrcs[A_VIDEO], 1), 1);
	assert_int_equal(w->b_sub.last[1] & 0x7f, 96);
	/* A payload type the map does not know is dropped. */
	publish(A_AUDIO, A_UNMAPPED, NULL, 0);
	sync_ice(&w->a_pub);
	drain(&w->b_sub, 50);
	assert_int_equal(received_ssrc(&w->b_sub, ssrcs[A_AUDIO]), had_audio + 1);
	assert_int_equal(sfu_stats(w->sfu).dropped_muted - before.dropped_muted, 1);
}

/* Sends 3 audio and 3 video packets of Alice; returns what Bob's subscriber got of each. */
static void exchange(unsigned *audio, unsigned *video)
{
	unsigned a0 = received_ssrc(&world.b_sub, ssrcs[A_AUDIO]);
	unsigned v0 = received_ssrc(&world.b_sub, ssrcs[A_VIDEO]);

	publish_n(A_AUDIO, A_OPUS, 3);
	publish_n(A_VIDEO, A_VP8, 3);
	sync_ice(&world.a_pub);
	drain(&world.b_sub, 50);
	*audio = received_ssrc(&world.b_sub, ssrcs[A_AUDIO]) - a0;
	*video = received_ssrc(&world.b_sub, ssrcs[A_VIDEO]) - v0;
}

static void muting_stops_a_kind_and_unmuting_restores_it(void **state)
{
	struct world *w = *state;
	struct cw_sfu_stats before = sfu_stats(w->sfu);
	unsigned audio, video, plis = w->a_pub.pli;
	int64_t end;

	assert_int_equal(cw_sfu_set_muted(w->sfu, 0, "aPub", CW_SFU_KIND_AUDIO, true), 0);
	barrier(w->sfu);
	exchange(&audio, &video);
	assert_int_equal(audio, 0);
	assert_int_equal(video, 3);
	assert_int_equal(sfu_stats(w->sfu).dropped_muted - before.dropped_muted, 3);
	assert_int_equal(cw_sfu_set_muted(w->sfu, 0, "aPub", CW_SFU_KIND_AUDIO, false), 0);
	assert_int_equal(cw_sfu_set_muted(w->sfu, 0, "aPub", CW_SFU_KIND_VIDEO, true), 0);
	barrier(w->sfu);
	exchange(&audio, &video);
	assert_int_equal(audio, 3);
	assert_int_equal(video, 0);
	/* Resuming video asks Alice for a keyframe of her video track. */
	assert_int_equal(cw_sfu_set_muted(w->sfu, 0, "aPub", CW_SFU_KIND_VIDEO, false), 0);
	end = now_ms() + DEADLINE_MS;
	while (w->a_pub.pli == plis && now_ms() < end)
		pump(&w->a_pub, 10);
	assert_int_equal(w->a_pub.pli, plis + 1);
	assert_int_equal(w->a_pub.pli_ssrc, ssrcs[A_VIDEO]);
	exchange(&audio, &video);
	assert_int_equal(audio, 3);
	assert_int_equal(video, 3);
	assert_int_equal(cw_sfu_set_muted(w->sfu, 0, "aPub", 7, true), -EINVAL);
}

static void send_pli(struct client *from, uint32_t media_ssrc)
{
	uint8_t buf[64];
	size_t len;

	assert_int_equal(cw_rtcp_build_pli(buf, sizeof(buf), &len, 0x5eu, media_ssrc), 0);
	send_rtcp(from, buf, len);
}

static void keyframe_requests_reach_only_the_publisher_rate_limited(void **state)
{
	struct world *w = *state;
	struct cw_sfu_stats before;
	unsigned a_plis = w->a_pub.pli;
	uint8_t fir[64];
	size_t len;
	int64_t t0, end;

	publish_n(B_VIDEO, 96, 3);
	assert_int_equal(receive_ssrc(&w->a_sub, ssrcs[B_VIDEO], 3), 3);
	before = sfu_stats(w->sfu);
	t0 = now_ms();
	send_pli(&w->a_sub, ssrcs[B_VIDEO]);
	end = now_ms() + DEADLINE_MS;
	while (w->b_pub.pli == 0 && now_ms() < end)
		pump(&w->b_pub, 10);
	assert_int_equal(w->b_pub.pli, 1);
	assert_int_equal(w->b_pub.pli_ssrc, ssrcs[B_VIDEO]);
	/* At once again: not passed on. Nor is a request about Alice's own track from her
	 * own subscriber (she does not receive it). */
	send_pli(&w->a_sub, ssrcs[B_VIDEO]);
	send_pli(&w->a_sub, ssrcs[A_VIDEO]);
	sync_ice(&w->a_sub);
	drain(&w->b_pub, 50);
	drain(&w->a_pub, 20);
	assert_int_equal(w->b_pub.pli, 1);
	assert_int_equal(w->a_pub.pli, a_plis);
	assert_int_equal(sfu_stats(w->sfu).pli_rate_limited - before.pli_rate_limited, 1);
	/* Repeated until one passes: not before the interval. */
	end = now_ms() + DEADLINE_MS;
	while (w->b_pub.pli == 1 && now_ms() < end) {
		send_pli(&w->a_sub, ssrcs[B_VIDEO]);
		drain(&w->b_pub, 50);
	}
	assert_int_equal(w->b_pub.pli, 2);
	assert_true(now_ms() - t0 >= CW_SFU_PLI_INTERVAL_MS);
	assert_int_equal(sfu_stats(w->sfu).rtcp_forwarded - before.rtcp_forwarded, 2);
	/* A FIR names its target in its entries: Bob's subscriber asks for Alice's video. */
	assert_int_equal(cw_rtcp_build_fir(fir, sizeof(fir), &len, 0x5eu, ssrcs[A_VIDEO], 1), 0);
	end = now_ms() + DEADLINE_MS;
	while (w->a_pub.fir == 0 && now_ms() < end) {
		send_rtcp(&w->b_sub, fir, len);
		drain(&w->a_pub, 50);
	}
	assert_int_equal(w->a_pub.fir, 1);
	assert_int_equal(w->b_pub.fir, 0);
}

static void a_nack_is_answered_from_the_cache_with_the_original_packet(void **state)
{
	struct world *w = *state;
	uint16_t first = w->seq[A_VIDEO], lost[3];
	unsigned had = received_ssrc(&w->b_sub, ssrcs[A_VIDEO]);
	struct cw_sfu_stats before;
	uint8_t nack[64];
	size_t len;

	/* Bob's subscriber loses two of eight packets. */
	w->b_sub.lose[0] = (uint16_t)(first + 3);
	w->b_sub.lose[1] = (uint16_t)(first + 5);
	w->b_sub.n_lose = 2;
	publish_n(A_VIDEO, A_VP8, 8);
	assert_int_equal(receive_ssrc(&w->b_sub, ssrcs[A_VIDEO], had + 6), had + 6);
	sync_ice(&w->a_pub);
	drain(&w->b_sub, 20);
	assert_int_equal(received_ssrc(&w->b_sub, ssrcs[A_VIDEO]), had + 6);
	w->b_sub.n_lose = 0;
	/* It asks for them, and for one Alice never sent. */
	lost[0] = (uint16_t)(first + 3);
	lost[1] = (uint16_t)(first + 5);
	lost[2] = (uint16_t)(first + 100);
	before = sfu_stats(w->sfu);
	assert_int_equal(
		cw_rtcp_build_nack(nack, sizeof(nack), &len, 0x5eu, ssrcs[A_VIDEO], lost, 3), 0);
	send_rtcp(&w->b_sub, nack, len);
	/* received_ssrc checks every payload: the retransmissions are the original packets. */
	assert_int_equal(receive_ssrc(&w->b_sub, ssrcs[A_VIDEO], had + 8), had + 8);
	assert_int_equal(w->b_sub.last[1] & 0x7f, 96);
	assert_int_equal(w->b_sub.srtp_errors, 0);
	sync_ice(&w->b_sub);
	assert_int_equal(sfu_stats(w->sfu).nack_received - before.nack_received, 3);
	assert_int_equal(sfu_stats(w->sfu).rtp_retransmitted - before.rtp_retransmitted, 2);
}

static void a_video_publisher_gets_remb_for_its_video(void **state)
{
	struct world *w = *state;
	int64_t end = now_ms() + DEADLINE_MS;

	/* Once a second; Alice has sent video in the tests before. */
	while (w->a_pub.remb == 0 && now_ms() < end)
		pump(&w->a_pub, 50);
	assert_true(w->a_pub.remb >= 1);
	assert_int_equal(w->a_pub.remb_bps, REMB_BPS);
	assert_int_equal(w->a_pub.remb_n, 1);
	assert_int_equal(w->a_pub.remb_ssrc[0], ssrcs[A_VIDEO]);
	assert_true(sfu_stats(w->sfu).remb_sent >= 1);
}

/* Alice and Bob talk at the given levels (RFC 6464, 127 silence) until the speaker event
 * about `expect` came, or for ms. */
static bool speak_until(uint8_t a_level, uint8_t b_level, const char *expect, int ms)
{
	int64_t end = now_ms() + ms;
	/* Alice's level follows an element subscribers do not get (id 15 for them). */
	uint8_t a_ext[4] = {A_EXT_OTHER << 4, 0x11}, b_ext[2];

	level_ext(a_ext + 2, A_EXT_LEVEL, a_level < 127, a_level);
	level_ext(b_ext, CW_SFU_EXT_AUDIO_LEVEL, b_level < 127, b_level);
	while (now_ms() < end) {
		/* 40 ms of speech each, then a look at the events. */
		for (int i = 0; i < 2; i++) {
			publish(A_AUDIO, A_OPUS, a_ext, sizeof(a_ext));
			publish(B_AUDIO, 111, b_ext, sizeof(b_ext));
		}
		if (wait_event(world.sfu, CW_SFU_EV_SPEAKER, expect, 40))
			return true;
	}
	return false;
}

static void the_loudest_participant_becomes_the_dominant_speaker(void **state)
{
	struct world *w = *state;

	events_forget(w->sfu);
	assert_true(speak_until(127, 20, "bob", DEADLINE_MS));
	assert_true(speak_until(10, 127, "alice", DEADLINE_MS));
	/* Bob talking about as loud as Alice does not take the floor from her... */
	assert_false(speak_until(10, 8, "bob", 1500));
	/* ...Bob alone does. */
	assert_true(speak_until(127, 8, "bob", DEADLINE_MS));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(media_goes_to_the_subscribers_of_other_participants_only),
		cmocka_unit_test(payload_types_and_extension_ids_are_rewritten),
		cmocka_unit_test(muting_stops_a_kind_and_unmuting_restores_it),
		cmocka_unit_test(keyframe_requests_reach_only_the_publisher_rate_limited),
		cmocka_unit_test(a_nack_is_answered_from_the_cache_with_the_original_packet),
		cmocka_unit_test(a_video_publisher_gets_remb_for_its_video),
		cmocka_unit_test(the_loudest_participant_becomes_the_dominant_speaker),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
