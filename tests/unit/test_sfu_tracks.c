/* Publish and subscribe connections on a media worker, with in-test browsers over loopback:
 * who gets whose media, payload types and extension ids rewritten by the media map, muting,
 * keyframe requests routed to the publisher and rate-limited, NACKs for video and audio
 * answered from the retransmission caches (and the caches themselves), REMB to video
 * publishers, and the dominant speaker. */
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
#include "sfu/worker.h"
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

/* Alice's audio with her level element and one subscribers did not negotiate, and that
 * packet exactly as Bob's subscriber must get it (make_plain's layout, rewritten). */
static const uint8_t audio_ext[] = {A_EXT_LEVEL << 4, 0x85, A_EXT_OTHER << 4, 0x11};

static size_t audio_as_received(uint8_t *buf, uint16_t seq)
{
	const uint8_t ext[] = {CW_SFU_EXT_AUDIO_LEVEL << 4, 0x85, 15 << 4, 0x11};
	uint32_t ts = seq * 960u, ssrc = ssrcs[A_AUDIO];

	buf[0] = 0x90;
	buf[1] = 111;
	buf[2] = (uint8_t)(seq >> 8);
	buf[3] = (uint8_t)seq;
	for (int i = 0; i < 4; i++) {
		buf[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
		buf[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
	}
	memcpy(buf + 12, (const uint8_t[]){0xBE, 0xDE, 0, 1}, 4);
	memcpy(buf + 16, ext, sizeof(ext));
	for (size_t k = 0; k < PAYLOAD_LEN; k++)
		buf[20 + k] = payload_byte(ssrc, seq, k);
	return 20 + PAYLOAD_LEN;
}

static void send_nack(struct client *from, uint32_t media_ssrc, const uint16_t *seqs, size_t n)
{
	uint8_t buf[64];
	size_t len;

	assert_int_equal(cw_rtcp_build_nack(buf, sizeof(buf), &len, 0x5eu, media_ssrc, seqs, n), 0);
	send_rtcp(from, buf, len);
}

/* Bob's subscriber loses Alice's audio packets first + lose[i]; `count` are published. */
static uint16_t publish_audio_losing(unsigned count, const uint16_t *lose, unsigned n_lose)
{
	struct world *w = &world;
	uint16_t first = w->seq[A_AUDIO];
	unsigned had = received_ssrc(&w->b_sub, ssrcs[A_AUDIO]);

	for (unsigned i = 0; i < n_lose; i++)
		w->b_sub.lose[i] = (uint16_t)(first + lose[i]);
	w->b_sub.n_lose = n_lose;
	for (unsigned i = 0; i < count; i++)
		publish(A_AUDIO, A_OPUS, audio_ext, sizeof(audio_ext));
	assert_int_equal(receive_ssrc(&w->b_sub, ssrcs[A_AUDIO], had + count - n_lose),
			 had + count - n_lose);
	sync_ice(&w->a_pub);
	drain(&w->b_sub, 20);
	assert_int_equal(received_ssrc(&w->b_sub, ssrcs[A_AUDIO]), had + count - n_lose);
	w->b_sub.n_lose = 0;
	return first;
}

static void an_audio_nack_is_answered_with_the_packet_subscribers_got(void **state)
{
	struct world *w = *state;
	const uint16_t lose[] = {2, 6};
	uint16_t first = publish_audio_losing(10, lose, 2), seqs[2];
	unsigned had = received_ssrc(&w->b_sub, ssrcs[A_AUDIO]);
	struct cw_sfu_stats before = sfu_stats(w->sfu);
	uint8_t want[128];
	size_t len;

	/* One at a time, so that each retransmission is the subscriber's last packet. */
	for (unsigned i = 0; i < 2; i++) {
		seqs[i] = (uint16_t)(first + lose[i]);
		send_nack(&w->b_sub, ssrcs[A_AUDIO], &seqs[i], 1);
		assert_int_equal(receive_ssrc(&w->b_sub, ssrcs[A_AUDIO], had + i + 1), had + i + 1);
		len = audio_as_received(want, seqs[i]);
		assert_int_equal(w->b_sub.last_len, len);
		assert_memory_equal(w->b_sub.last, want, len);
	}
	assert_int_equal(w->b_sub.srtp_errors, 0);
	sync_ice(&w->b_sub);
	drain(&w->b_sub, 20);
	assert_int_equal(received_ssrc(&w->b_sub, ssrcs[A_AUDIO]), had + 2);
	assert_int_equal(sfu_stats(w->sfu).nack_received - before.nack_received, 2);
	assert_int_equal(sfu_stats(w->sfu).rtp_retransmitted - before.rtp_retransmitted, 2);
}

static void an_audio_nack_for_a_packet_not_in_the_cache_is_not_answered(void **state)
{
	struct world *w = *state;
	const uint16_t lose[] = {0, 1};
	/* Two lost, then CW_SFU_AUDIO_RTX_SLOTS - 1 more: the first one's slot is taken. */
	uint16_t first = publish_audio_losing(CW_SFU_AUDIO_RTX_SLOTS + 1, lose, 2), seqs[3];
	unsigned had = received_ssrc(&w->b_sub, ssrcs[A_AUDIO]);
	const uint32_t second_audio = 0xA0000003u;
	struct cw_sfu_stats before = sfu_stats(w->sfu);
	uint8_t want[128];
	size_t len;

	seqs[0] = first;		    /* too old */
	seqs[1] = (uint16_t)(first - 2000); /* before the track's first packet */
	seqs[2] = w->seq[A_AUDIO];	    /* not sent yet */
	send_nack(&w->b_sub, ssrcs[A_AUDIO], seqs, 3);
	/* A second audio track of Alice's has no cache: its packets are not retransmitted. */
	send_media(&w->a_pub, second_audio, A_OPUS, 7, NULL, 0);
	assert_int_equal(receive_ssrc(&w->b_sub, second_audio, 1), 1);
	seqs[0] = 7;
	send_nack(&w->b_sub, second_audio, seqs, 1);
	sync_ice(&w->b_sub);
	drain(&w->b_sub, 50);
	assert_int_equal(received_ssrc(&w->b_sub, ssrcs[A_AUDIO]), had);
	assert_int_equal(received_ssrc(&w->b_sub, second_audio), 1);
	assert_int_equal(sfu_stats(w->sfu).nack_received - before.nack_received, 4);
	assert_int_equal(sfu_stats(w->sfu).rtp_retransmitted, before.rtp_retransmitted);
	/* The one after the forgotten packet is the oldest the cache still has. */
	seqs[0] = (uint16_t)(first + 1);
	send_nack(&w->b_sub, ssrcs[A_AUDIO], seqs, 1);
	assert_int_equal(receive_ssrc(&w->b_sub, ssrcs[A_AUDIO], had + 1), had + 1);
	len = audio_as_received(want, seqs[0]);
	assert_int_equal(w->b_sub.last_len, len);
	assert_memory_equal(w->b_sub.last, want, len);
	assert_int_equal(sfu_stats(w->sfu).rtp_retransmitted - before.rtp_retransmitted, 1);
	assert_int_equal(w->b_sub.srtp_errors, 0);
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

/* ---- The caches themselves, without a worker ---- */

static void fill(uint8_t *pkt, size_t len, uint16_t seq)
{
	for (size_t i = 0; i < len; i++)
		pkt[i] = (uint8_t)(seq * 31u + i);
}

static void store(struct cw_sfu_track *t, uint16_t seq, size_t len)
{
	uint8_t pkt[CW_SFU_DGRAM_MAX];

	fill(pkt, len, seq);
	cw_sfu_rtx_store(t, pkt, len, seq);
}

/* Whether t's cache gives packet seq back: then it must be the len bytes stored. */
static bool cached(const struct cw_sfu_track *t, uint16_t seq, size_t len)
{
	uint8_t want[CW_SFU_DGRAM_MAX];
	size_t got_len = 0;
	const uint8_t *got = cw_sfu_rtx_find(t, seq, &got_len);

	if (!got)
		return false;
	fill(want, len, seq);
	assert_int_equal(got_len, len);
	assert_memory_equal(got, want, len);
	return true;
}

static void an_audio_cache_keeps_the_last_packets_its_slots_and_bytes_hold(void **state)
{
	struct cw_sfu_rtx_cache *caches[CW_SFU_CACHES];
	struct cw_sfu_media_map map = {0};
	struct cw_sfu_track t = {.used = true, .kind = CW_SFU_KIND_AUDIO, .ssrc = 0x1234u}, other;
	const unsigned big = CW_SFU_AUDIO_RTX_BYTES / 1000;
	uint16_t seq = 65500; /* the numbers wrap on the way */

	(void)state;
	map.pt[111].kind = CW_SFU_KIND_AUDIO;
	assert_int_equal(cw_sfu_caches_new(caches, &map), 0);
	for (int i = 0; i < CW_SFU_VIDEO_CACHES; i++)
		assert_null(caches[i]); /* an audio-only map: no video caches */
	t.cache = caches[CW_SFU_VIDEO_CACHES];
	assert_non_null(t.cache);
	assert_false(cached(&t, seq, 1000));
	/* Large packets: as many as the bytes hold, though the slots of older ones are kept. */
	for (unsigned i = 0; i < 3 * big; i++)
		store(&t, seq++, 1000);
	for (unsigned k = 1; k <= big; k++)
		assert_true(cached(&t, (uint16_t)(seq - k), 1000));
	assert_false(cached(&t, (uint16_t)(seq - big - 1), 1000));
	/* Opus-sized ones: as many as the slots hold. */
	for (unsigned i = 0; i < 2 * CW_SFU_AUDIO_RTX_SLOTS; i++)
		store(&t, seq++, 100);
	for (unsigned k = 1; k <= CW_SFU_AUDIO_RTX_SLOTS; k++)
		assert_true(cached(&t, (uint16_t)(seq - k), 100));
	assert_false(cached(&t, (uint16_t)(seq - CW_SFU_AUDIO_RTX_SLOTS - 1), 100));
	assert_false(cached(&t, seq, 100)); /* not stored yet */
	store(&t, seq, CW_SFU_DGRAM_MAX);
	assert_true(cached(&t, seq, CW_SFU_DGRAM_MAX));
	/* The cache handed on to a new track answers nothing of the old one. */
	other = t;
	other.ssrc = 0x5678u;
	assert_false(cached(&other, seq, CW_SFU_DGRAM_MAX));
	cw_sfu_caches_free(caches);
}

/* Video packet sizes up to the largest datagram, varying. */
static size_t video_size(unsigned i)
{
	return CW_SFU_DGRAM_MAX - (i * 37u) % 101u;
}

static void a_video_cache_keeps_its_last_512_packets_whatever_their_sizes(void **state)
{
	struct cw_sfu_rtx_cache *caches[CW_SFU_CACHES];
	struct cw_sfu_media_map map = {0};
	struct cw_sfu_track t = {.used = true, .kind = CW_SFU_KIND_VIDEO, .ssrc = 0x4321u};
	const unsigned n = 3 * CW_SFU_RTX_SLOTS;

	(void)state;
	map.pt[96].kind = CW_SFU_KIND_VIDEO;
	assert_int_equal(cw_sfu_caches_new(caches, &map), 0);
	assert_null(caches[CW_SFU_VIDEO_CACHES]); /* a video-only map: no audio cache */
	t.cache = caches[CW_SFU_VIDEO_CACHES - 1];
	assert_non_null(t.cache);
	for (unsigned i = 0; i < n; i++)
		store(&t, (uint16_t)i, video_size(i));
	for (unsigned i = n - CW_SFU_RTX_SLOTS; i < n; i++)
		assert_true(cached(&t, (uint16_t)i, video_size(i)));
	assert_false(cached(&t, (uint16_t)(n - CW_SFU_RTX_SLOTS - 1),
			    video_size(n - CW_SFU_RTX_SLOTS - 1)));
	cw_sfu_caches_free(caches);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(media_goes_to_the_subscribers_of_other_participants_only),
		cmocka_unit_test(payload_types_and_extension_ids_are_rewritten),
		cmocka_unit_test(muting_stops_a_kind_and_unmuting_restores_it),
		cmocka_unit_test(keyframe_requests_reach_only_the_publisher_rate_limited),
		cmocka_unit_test(a_nack_is_answered_from_the_cache_with_the_original_packet),
		cmocka_unit_test(an_audio_nack_is_answered_with_the_packet_subscribers_got),
		cmocka_unit_test(an_audio_nack_for_a_packet_not_in_the_cache_is_not_answered),
		cmocka_unit_test(a_video_publisher_gets_remb_for_its_video),
		cmocka_unit_test(the_loudest_participant_becomes_the_dominant_speaker),
	};
	const struct CMUnitTest cache_tests[] = {
		cmocka_unit_test(an_audio_cache_keeps_the_last_packets_its_slots_and_bytes_hold),
		cmocka_unit_test(a_video_cache_keeps_its_last_512_packets_whatever_their_sizes),
	};

	int failed = cmocka_run_group_tests(cache_tests, NULL, NULL);

	failed += cmocka_run_group_tests(tests, setup, teardown);
	return failed;
}
