/* meetlog: a meet session's entry in the call log. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "session/meetlog.h"
#include "util/util.h"

static struct cw_participant *add_part(struct cw_call *c, const char *uid)
{
	struct cw_participant *p = cw_call_participant(c, uid), *list;

	if (p)
		return p;
	list = realloc(c->participants, (c->n_participants + 1) * sizeof(*list));
	if (!list)
		return NULL;
	c->participants = list;
	p = &list[c->n_participants++];
	memset(p, 0, sizeof(*p));
	cw_strlcpy(p->uid, uid, sizeof(p->uid));
	return p;
}

static void part_leave(struct cw_participant *p, int64_t now)
{
	if (p->state != CW_PART_ONGOING)
		return;
	p->state = CW_PART_LEFT;
	p->left_at = now;
	p->time_in += now - p->joined_at;
}

static int write(struct cw_meetlog *m, struct cw_store *store, bool create)
{
	cw_store_batch_begin(store);
	return create ? cw_store_call_create(store, &m->rec) : cw_store_call_update(store, &m->rec);
}

int cw_meetlog_join(struct cw_meetlog *m, struct cw_store *store, const char *app_id,
		    const char *session_id, const char *uid, bool video, int64_t now)
{
	struct cw_participant *p;
	bool create = false;
	int err;

	if (!m->open) {
		err = cw_store_call_get(store, app_id, session_id, &m->rec);
		if (err == -ENOENT) {
			struct cw_user user;
			memset(&m->rec, 0, sizeof(m->rec));
			cw_strlcpy(m->rec.app_id, app_id, sizeof(m->rec.app_id));
			cw_strlcpy(m->rec.call.session_id, session_id,
				   sizeof(m->rec.call.session_id));
			m->rec.call.category = CW_CATEGORY_MEET;
			m->rec.call.receiver_type = CW_RECEIVER_USER;
			cw_strlcpy(m->rec.call.initiator, uid, sizeof(m->rec.call.initiator));
			cw_strlcpy(m->rec.call.receiver, session_id, sizeof(m->rec.call.receiver));
			m->rec.call.initiated_at = now;
			m->rec.metadata = strdup("{}");
			if (cw_store_user_get(store, app_id, uid, &user) == 0) {
				m->rec.initiator_name = cw_strdup0(user.name);
				cw_user_free(&user);
			}
			create = true;
		} else if (err) {
			return err;
		} else if (m->rec.call.category != CW_CATEGORY_MEET) {
			cw_call_record_free(&m->rec);
			return -EEXIST;
		}
		m->open = true;
		/* A meet session id is a room: meeting there again reopens its entry. */
		m->rec.call.status = CW_CALL_ONGOING;
		m->rec.call.type = video ? CW_CALL_VIDEO : CW_CALL_AUDIO;
		m->rec.call.ended_at = 0;
		if (!m->rec.call.joined_at)
			m->rec.call.joined_at = now;
	}
	p = add_part(&m->rec.call, uid);
	if (!p)
		return -ENOMEM;
	if (p->state != CW_PART_ONGOING) {
		p->state = CW_PART_ONGOING;
		p->joined_at = now;
		p->left_at = 0;
	}
	p->initiator = strcmp(uid, m->rec.call.initiator) == 0;
	return write(m, store, create);
}

int cw_meetlog_leave(struct cw_meetlog *m, struct cw_store *store, const char *uid, int64_t now)
{
	struct cw_participant *p;

	if (!m->open || !(p = cw_call_participant(&m->rec.call, uid)))
		return 0;
	part_leave(p, now);
	return write(m, store, false);
}

int cw_meetlog_end(struct cw_meetlog *m, struct cw_store *store, int64_t now)
{
	int err;

	if (!m->open)
		return 0;
	for (size_t i = 0; i < m->rec.call.n_participants; i++)
		part_leave(&m->rec.call.participants[i], now);
	m->rec.call.status = CW_CALL_ENDED;
	m->rec.call.ended_at = now;
	err = write(m, store, false);
	cw_call_record_free(&m->rec);
	m->open = false;
	return err;
}
