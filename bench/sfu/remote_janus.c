/* remote_janus: `sfu remote --server janus`: rooms, publishers and subscribers of Janus's
 * VideoRoom over its HTTP API (janus.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "janus.h"
#include "remote.h"

/* Janus, first part: the rooms, and every publisher's offer answered. */
int janus_publishers(struct remote *r)
{
	const struct ropts *o = r->o;
	char err[256];

	r->janus = janus_open(o->url, err, sizeof(err));
	if (!r->janus) {
		snprintf(r->why, sizeof(r->why), "janus: %s", err);
		return -1;
	}
	for (int room = 0; room < o->rooms; room++) {
		if (janus_room_create(r->janus, 1000 + (uint64_t)room, o->sc->speakers, err,
				      sizeof(err)) != 0)
			goto fail;
	}
	for (int i = 0; i < r->n_parts; i++) {
		struct part *pa = &r->parts[i];
		struct cw_sdp *sdp = NULL;
		char *offer, *answer = NULL;
		uint64_t handle;
		int e;

		if (!pa->publishes)
			continue;
		offer = publish_offer(r, pa);
		e = janus_publish(r->janus, 1000 + (uint64_t)pa->room, pa->feed, pa->uid, offer,
				  &answer, &handle, err, sizeof(err));
		free(offer);
		if (e != 0)
			goto fail;
		e = parse_sdp(r, answer, &sdp) || take_remote(r, pa->pub, sdp, false);
		cw_sdp_free(sdp);
		free(answer);
		if (e)
			return -1;
	}
	return 0;
fail:
	snprintf(r->why, sizeof(r->why), "janus: %s", err);
	return -1;
}

/* Janus, second part (once the publishers' connections are up): every subscriber's handle
 * to the other publishers of its room, Janus's offer answered. */
int janus_subscribers(struct remote *r)
{
	const struct ropts *o = r->o;
	char err[256];

	for (int i = 0; i < r->n_parts; i++) {
		struct part *pa = &r->parts[i], *in = &r->parts[pa->room * o->sc->per_room];
		uint64_t others[64], handle;
		struct cw_sdp *sdp = NULL;
		char *offer = NULL, *answer = NULL;
		int n = 0, e, tracks = 0, tries = 0;

		if (!pa->sub)
			continue;
		for (int s = 0; s < o->sc->speakers; s++) {
			if (in[s].feed != pa->feed)
				others[n++] = in[s].feed;
		}
		/* A publisher counts once Janus has seen its DTLS handshake end, which may be a
		 * moment after ours did. */
		while ((e = janus_subscribe(r->janus, 1000 + (uint64_t)pa->room, others, n, &offer,
					    &handle, err, sizeof(err))) != 0 &&
		       strstr(err, "No such feed") && ++tries < 50)
			janus_poll(r->janus, 100);
		if (e != 0)
			goto fail;
		e = parse_sdp(r, offer, &sdp) || take_remote(r, pa->sub, sdp, true);
		if (!e)
			answer = subscribe_answer(r, pa->sub, sdp, &tracks);
		cw_sdp_free(sdp);
		free(offer);
		if (e)
			return -1;
		e = janus_start(r->janus, handle, answer, err, sizeof(err));
		free(answer);
		if (e != 0)
			goto fail;
		if (tracks != pa->expect_tracks) {
			snprintf(r->why, sizeof(r->why), "janus offered %d tracks, not %d", tracks,
				 pa->expect_tracks);
			return -1;
		}
	}
	return 0;
fail:
	snprintf(r->why, sizeof(r->why), "janus: %s", err);
	return -1;
}
