/* tracks: what a worker knows of a publisher's media: its map and mutes (set on the command
 * path), the SSRCs it sends (claimed by their first packet, in places made with the peer),
 * their retransmission caches and its audio's loudness, from which each room's dominant
 * speaker is picked. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sfu/worker.h"
#include "util/util.h"

/* Audio quieter than this (RFC 6464 level, -dBov), or without voice activity, is silence. */
#define SILENCE_DBOV 60
/* Loudness is kept in 16ths of a dB above that floor. A speaker must be at least this loud,
 * and a new one louder than the current by the margin for SPEAKER_SCANS scans in a row, so
 * that the speaker does not flap between two voices. */
#define SPEAKER_MIN 16
#define SPEAKER_MARGIN (6 * 16)
#define SPEAKER_SCANS 2

bool cw_sfu_map_valid(const struct cw_sfu_media_map *map)
{
	for (size_t i = 0; i < CW_ARRAY_SIZE(map->pt); i++) {
		if (map->pt[i].kind > CW_SFU_KIND_VIDEO ||
		    (map->pt[i].kind != CW_SFU_KIND_NONE && map->pt[i].to > 127))
			return false;
	}
	for (size_t i = 0; i < 14; i++) {
		if (map->ext[i] > 14)
			return false;
	}
	return true;
}

static bool map_has(const struct cw_sfu_media_map *map, uint8_t kind)
{
	for (size_t i = 0; i < CW_ARRAY_SIZE(map->pt); i++) {
		if (map->pt[i].kind == kind)
			return true;
	}
	return false;
}

/* The kind of media a publisher's cache i serves. */
static uint8_t cache_kind(int i)
{
	return i < CW_SFU_VIDEO_CACHES ? CW_SFU_KIND_VIDEO : CW_SFU_KIND_AUDIO;
}

_Static_assert((CW_SFU_RTX_SLOTS & (CW_SFU_RTX_SLOTS - 1)) == 0 && CW_SFU_RTX_SLOTS <= 65536,
	       "video cache slots divide 65536");
_Static_assert((CW_SFU_AUDIO_RTX_SLOTS & (CW_SFU_AUDIO_RTX_SLOTS - 1)) == 0 &&
		       CW_SFU_AUDIO_RTX_SLOTS <= 65536,
	       "audio cache slots divide 65536");
_Static_assert(CW_SFU_AUDIO_RTX_BYTES >= CW_SFU_DGRAM_MAX, "any datagram fits a cache's ring");

static struct cw_sfu_rtx_cache *cache_new(uint32_t slots, uint32_t bytes)
{
	/* calloc: the kernel's zero pages, touched only as packets fill the slots and ring. */
	struct cw_sfu_rtx_cache *c = calloc(1, sizeof(*c) + slots * sizeof(c->slot[0]) + bytes);

	if (!c)
		return NULL;
	c->slots = slots;
	c->bytes = bytes;
	c->ring = (uint8_t *)&c->slot[slots];
	return c;
}

int cw_sfu_caches_new(struct cw_sfu_rtx_cache **caches, const struct cw_sfu_media_map *map)
{
	bool video = map_has(map, CW_SFU_KIND_VIDEO), audio = map_has(map, CW_SFU_KIND_AUDIO);

	for (int i = 0; i < CW_SFU_CACHES; i++) {
		bool video_cache = cache_kind(i) == CW_SFU_KIND_VIDEO;
		caches[i] = NULL;
		if (video_cache ? !video : !audio)
			continue;
		caches[i] = video_cache ? cache_new(CW_SFU_RTX_SLOTS, CW_SFU_RTX_BYTES)
					: cache_new(CW_SFU_AUDIO_RTX_SLOTS, CW_SFU_AUDIO_RTX_BYTES);
		if (!caches[i]) {
			cw_sfu_caches_free(caches);
			return -ENOMEM;
		}
	}
	return 0;
}

void cw_sfu_caches_free(struct cw_sfu_rtx_cache **caches)
{
	for (int i = 0; i < CW_SFU_CACHES; i++) {
		free(caches[i]);
		caches[i] = NULL;
	}
}

int cw_sfu_pub_new(struct cw_sfu_pub **pubp, const struct cw_sfu_media_map *map)
{
	struct cw_sfu_pub *pub = calloc(1, sizeof(*pub));
	int err = 0;

	*pubp = NULL;
	if (!pub)
		return -ENOMEM;
	if (map) {
		pub->has_map = true;
		pub->map = *map;
		err = cw_sfu_caches_new(pub->caches, map);
	}
	if (err) {
		free(pub);
		return err;
	}
	*pubp = pub;
	return 0;
}

void cw_sfu_pub_free(struct cw_sfu_pub *pub)
{
	if (!pub)
		return;
	cw_sfu_caches_free(pub->caches);
	free(pub);
}

static void give_cache(struct cw_sfu_pub *pub, struct cw_sfu_track *t)
{
	for (int i = 0; i < CW_SFU_CACHES; i++) {
		if (pub->caches[i] && !pub->cache_taken[i] && cache_kind(i) == t->kind) {
			pub->cache_taken[i] = true;
			t->cache = pub->caches[i];
			return;
		}
	}
}

struct cw_sfu_track *cw_sfu_track_get(struct cw_sfu_pub *pub, uint32_t ssrc, uint8_t kind,
				      int64_t now)
{
	struct cw_sfu_track *t, *free_t = NULL;

	for (int i = 0; i < CW_SFU_TRACKS_MAX; i++) {
		t = &pub->tracks[i];
		if (!t->used) {
			if (!free_t)
				free_t = t;
			continue;
		}
		if (t->ssrc != ssrc)
			continue;
		t->last_ms = now;
		/* Seen before the publisher had a map: its kind is known now. */
		if (t->kind == CW_SFU_KIND_NONE && kind != CW_SFU_KIND_NONE) {
			t->kind = kind;
			give_cache(pub, t);
		}
		return t;
	}
	if (!free_t)
		return NULL;
	t = free_t;
	memset(t, 0, sizeof(*t));
	t->used = true;
	t->ssrc = ssrc;
	t->kind = kind;
	t->last_ms = now;
	t->last_pli_ms = now - CW_SFU_PLI_INTERVAL_MS;
	if (kind != CW_SFU_KIND_NONE)
		give_cache(pub, t);
	return t;
}

void cw_sfu_tracks_expire(struct cw_sfu_peer *p, int64_t now)
{
	struct cw_sfu_pub *pub = p->pub;

	for (int i = 0; pub && i < CW_SFU_TRACKS_MAX; i++) {
		struct cw_sfu_track *t = &pub->tracks[i];
		if (!t->used || now - t->last_ms < CW_SFU_TRACK_IDLE_MS)
			continue;
		for (int k = 0; k < CW_SFU_CACHES; k++) {
			if (t->cache && pub->caches[k] == t->cache)
				pub->cache_taken[k] = false;
		}
		memset(t, 0, sizeof(*t));
	}
}

struct cw_sfu_track *cw_sfu_track_find(const struct cw_sfu_peer *sub, uint32_t ssrc,
				       struct cw_sfu_peer **publisher)
{
	const struct cw_sfu_room *r = sub->room;

	for (size_t i = 0; r && i < r->n; i++) {
		struct cw_sfu_peer *m = r->members[i];
		if (!m->pub || !cw_sfu_forwards(m, sub))
			continue;
		for (int k = 0; k < CW_SFU_TRACKS_MAX; k++) {
			if (m->pub->tracks[k].used && m->pub->tracks[k].ssrc == ssrc) {
				*publisher = m;
				return &m->pub->tracks[k];
			}
		}
	}
	return NULL;
}

void cw_sfu_rtx_store(struct cw_sfu_track *t, const uint8_t *pkt, size_t len, uint16_t seq)
{
	struct cw_sfu_rtx_cache *c = t->cache;

	if (!c || len == 0 || len > CW_SFU_DGRAM_MAX)
		return;
	if (c->off + len > c->bytes) {
		c->head += c->bytes - c->off;
		c->off = 0;
	}
	c->slot[seq & (c->slots - 1)] = (struct cw_sfu_rtx_slot){
		.at = c->head, .ssrc = t->ssrc, .seq = seq, .len = (uint16_t)len};
	memcpy(c->ring + c->off, pkt, len);
	c->head += len;
	c->off += (uint32_t)len;
}

const uint8_t *cw_sfu_rtx_find(const struct cw_sfu_track *t, uint16_t seq, size_t *len)
{
	const struct cw_sfu_rtx_cache *c = t->cache;
	const struct cw_sfu_rtx_slot *s;

	if (!c)
		return NULL;
	s = &c->slot[seq & (c->slots - 1)];
	/* Its bytes are intact while less than a whole ring was taken after its first. */
	if (!s->len || s->ssrc != t->ssrc || s->seq != seq || c->head - s->at > c->bytes)
		return NULL;
	*len = s->len;
	return c->ring + s->at % c->bytes;
}

void cw_sfu_track_level(struct cw_sfu_track *t, bool voice, uint8_t level)
{
	int sample = voice && level < SILENCE_DBOV ? (SILENCE_DBOV - level) * 16 : 0;

	/* An exponential average over about four packets (80 ms of Opus). */
	t->loud += (sample - t->loud) / 4;
	t->heard = true;
}

/* A member's loudness since the last scan: its loudest audio track that was heard. */
static int member_loudness(struct cw_sfu_peer *m)
{
	int loud = 0;

	for (int i = 0; m->pub && i < CW_SFU_TRACKS_MAX; i++) {
		struct cw_sfu_track *t = &m->pub->tracks[i];
		if (!t->used)
			continue;
		if (!t->heard)
			t->loud = 0; /* stopped, muted or lost: silent */
		t->heard = false;
		if (t->loud > loud)
			loud = t->loud;
	}
	return loud;
}

static void room_speaker(struct cw_sfu_worker *w, struct cw_sfu_room *r)
{
	const char *best = NULL;
	int best_loud = 0, current = 0;

	for (size_t i = 0; i < r->n; i++) {
		struct cw_sfu_peer *m = r->members[i];
		int loud = member_loudness(m);
		if (loud > current && strcmp(m->participant, r->speaker) == 0)
			current = loud;
		if (loud > best_loud) {
			best_loud = loud;
			best = r->members[i]->participant;
		}
	}
	if (!best || best_loud < SPEAKER_MIN || strcmp(best, r->speaker) == 0 ||
	    best_loud < current + SPEAKER_MARGIN) {
		r->candidate[0] = '\0';
		r->ticks = 0;
		return;
	}
	if (strcmp(best, r->candidate) != 0) {
		cw_strlcpy(r->candidate, best, sizeof(r->candidate));
		r->ticks = 0;
	}
	if (++r->ticks < SPEAKER_SCANS)
		return;
	cw_strlcpy(r->speaker, best, sizeof(r->speaker));
	r->candidate[0] = '\0';
	r->ticks = 0;
	cw_sfu_event_speaker(w, r);
}

void cw_sfu_speaker_scan(struct cw_sfu_worker *w)
{
	for (struct cw_sfu_room *r = w->rooms; r; r = r->next)
		room_speaker(w, r);
}

void cw_sfu_apply_map(struct cw_sfu_worker *w, struct cw_sfu_cmd *cmd)
{
	struct cw_sfu_peer *p = cw_sfu_peers_find(&w->peers, cmd->ufrag, strlen(cmd->ufrag));
	struct cw_sfu_pub *pub = p ? p->pub : NULL;

	if (!pub)
		return; /* unknown, or a subscriber: nothing to map */
	pub->map = cmd->map;
	pub->has_map = true;
	/* The first map with a kind brings its caches (made on the caller's thread); the
	 * command frees those the publisher has already. */
	for (int i = 0; i < CW_SFU_CACHES; i++) {
		if (!pub->caches[i]) {
			pub->caches[i] = cmd->caches[i];
			cmd->caches[i] = NULL;
		}
	}
}

void cw_sfu_apply_muted(struct cw_sfu_worker *w, const struct cw_sfu_cmd *cmd, int64_t now)
{
	struct cw_sfu_peer *p = cw_sfu_peers_find(&w->peers, cmd->ufrag, strlen(cmd->ufrag));
	struct cw_sfu_pub *pub = p ? p->pub : NULL;
	bool was;

	if (!pub)
		return;
	was = pub->muted[cmd->media_kind];
	pub->muted[cmd->media_kind] = cmd->muted;
	if (cmd->media_kind == CW_SFU_KIND_AUDIO && cmd->muted) {
		for (int i = 0; i < CW_SFU_TRACKS_MAX; i++)
			pub->tracks[i].loud = 0;
	}
	/* Subscribers' decoders need a keyframe to show the video again. */
	if (cmd->media_kind == CW_SFU_KIND_VIDEO && was && !cmd->muted)
		cw_sfu_request_keyframes(w, p, now);
}
