/* store/sqlite_calls: the SQLite ops of the call log and of the per-user event log. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/sqlite_int.h"

/* The contract's names of the enums that the machine has no name helpers for. The columns
 * hold names rather than numbers, so the file reads well in the sqlite3 shell and does not
 * change meaning if an enum is ever reordered. */
static const char *const category_names[] = {
	[CW_CATEGORY_CALL] = "call",
	[CW_CATEGORY_MEET] = "meet",
};
static const char *const type_names[] = {
	[CW_CALL_AUDIO] = "audio",
	[CW_CALL_VIDEO] = "video",
};
static const char *const receiver_type_names[] = {
	[CW_RECEIVER_USER] = "user",
	[CW_RECEIVER_GROUP] = "group",
};

#define NAME_OF(names, v) name_of(names, CW_ARRAY_SIZE(names), (int)(v))
#define PARSE_NAME(names, text, out) parse_name(names, CW_ARRAY_SIZE(names), text, out)

/* The name of value v, or NULL when v is out of range. */
static const char *name_of(const char *const *names, size_t n, int v)
{
	return v >= 0 && (size_t)v < n ? names[v] : NULL;
}

static int parse_name(const char *const *names, size_t n, const char *text, int *out)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(names[i], text) == 0) {
			*out = (int)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* The machine's name helpers cover status and participant state; these bound their ranges,
 * since what the helpers do with a value out of range is theirs to decide. */
static bool status_valid(int v)
{
	return v >= CW_CALL_INITIATED && v <= CW_CALL_UNANSWERED;
}

static bool part_state_valid(int v)
{
	return v >= CW_PART_RINGING && v <= CW_PART_CANCELLED;
}

/* A record with an enum out of range is a caller's bug; refuse it before it reaches a
 * NOT NULL column, whose failure would read as a backend error. */
static int check_record(const struct cw_call_record *rec)
{
	const struct cw_call *c = &rec->call;

	if (!NAME_OF(category_names, c->category) || !NAME_OF(type_names, c->type) ||
	    !NAME_OF(receiver_type_names, c->receiver_type) || !status_valid((int)c->status) ||
	    (c->n_participants > 0 && !c->participants))
		return -EINVAL;
	for (size_t i = 0; i < c->n_participants; i++) {
		if (!part_state_valid((int)c->participants[i].state))
			return -EINVAL;
	}
	return 0;
}

/* Reads enum column i through parse. An unknown name was written by something other than
 * this build (a newer one, or a hand in the shell): a backend failure, logged. */
static int col_enum(sqlite3_stmt *stmt, int i, int (*parse)(const char *, void *), void *out)
{
	const unsigned char *text = sqlite3_column_text(stmt, i);

	if (!text)
		return -ENOMEM;
	if (parse((const char *)text, out) == 0)
		return 0;
	cw_error("store.sqlite", "op=read column=%s err=\"unknown name\"",
		 sqlite3_column_name(stmt, i));
	return -EIO;
}

static int parse_category(const char *text, void *out)
{
	int v, err = PARSE_NAME(category_names, text, &v);

	if (!err)
		*(enum cw_call_category *)out = (enum cw_call_category)v;
	return err;
}

static int parse_type(const char *text, void *out)
{
	int v, err = PARSE_NAME(type_names, text, &v);

	if (!err)
		*(enum cw_call_type *)out = (enum cw_call_type)v;
	return err;
}

static int parse_receiver_type(const char *text, void *out)
{
	int v, err = PARSE_NAME(receiver_type_names, text, &v);

	if (!err)
		*(enum cw_receiver_type *)out = (enum cw_receiver_type)v;
	return err;
}

static int parse_status(const char *text, void *out)
{
	return cw_call_status_parse(text, out);
}

static int parse_part_state(const char *text, void *out)
{
	return cw_part_state_parse(text, out);
}

/* Row readers: each reads the columns in the order its SELECT in sqlite.c lists them. The
 * participants of a call come from a second statement, in load_participants. */
static int row_call(sqlite3_stmt *stmt, void *item)
{
	struct cw_call_record *r = item;
	struct cw_call *c = &r->call;
	int err;

	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(stmt, 0);
	if ((err = sq_col_copy(stmt, 1, r->app_id, sizeof(r->app_id))) ||
	    (err = sq_col_copy(stmt, 2, c->session_id, sizeof(c->session_id))) ||
	    (err = col_enum(stmt, 3, parse_category, &c->category)) ||
	    (err = col_enum(stmt, 4, parse_type, &c->type)) ||
	    (err = col_enum(stmt, 5, parse_receiver_type, &c->receiver_type)) ||
	    (err = sq_col_copy(stmt, 6, c->initiator, sizeof(c->initiator))) ||
	    (err = sq_col_copy(stmt, 7, c->receiver, sizeof(c->receiver))) ||
	    (err = col_enum(stmt, 8, parse_status, &c->status)) ||
	    (err = sq_col_dup(stmt, 13, &r->metadata)) ||
	    (err = sq_col_dup(stmt, 14, &r->initiator_name)) ||
	    (err = sq_col_dup(stmt, 15, &r->receiver_name)))
		goto out;
	c->initiated_at = sqlite3_column_int64(stmt, 9);
	c->joined_at = sqlite3_column_int64(stmt, 10);
	c->ended_at = sqlite3_column_int64(stmt, 11);
	c->ring_deadline = sqlite3_column_int64(stmt, 12);
	r->has_recording = sqlite3_column_int(stmt, 16) != 0;
out:
	if (err)
		cw_call_record_free(r);
	return err;
}

static int row_participant(sqlite3_stmt *stmt, void *item)
{
	struct cw_participant *p = item;
	int err;

	memset(p, 0, sizeof(*p));
	if ((err = sq_col_copy(stmt, 0, p->uid, sizeof(p->uid))) ||
	    (err = col_enum(stmt, 1, parse_part_state, &p->state)) ||
	    (err = sq_col_copy(stmt, 3, p->device, sizeof(p->device))))
		return err;
	p->initiator = sqlite3_column_int(stmt, 2) != 0;
	p->joined_at = sqlite3_column_int64(stmt, 4);
	p->left_at = sqlite3_column_int64(stmt, 5);
	p->time_in = sqlite3_column_int64(stmt, 6);
	return 0;
}

static int row_event(sqlite3_stmt *stmt, void *item)
{
	struct cw_event_record *e = item;

	e->seq = sqlite3_column_int64(stmt, 0);
	e->created_at = sqlite3_column_int64(stmt, 1);
	return sq_col_dup(stmt, 2, &e->body);
}

static void release_call(void *item)
{
	cw_call_record_free(item);
}

static void release_event(void *item)
{
	struct cw_event_record *e = item;

	free(e->body);
}

/* Steps a bound statement that answers at most one row and reads its first column as an
 * integer; -ENOENT when there is no row. */
static int step_int64(struct sqlite_store *st, enum stmt_id id, int64_t *value)
{
	int err = sq_step(st, id);

	if (err > 0) {
		*value = sqlite3_column_int64(st->stmts[id], 0);
		err = 0;
	} else if (err == 0) {
		err = -ENOENT;
	}
	sq_reset(st, id);
	return err;
}

static int64_t clamp_int64(size_t v)
{
	return v >= (size_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* Binds the sixteen parameters that the insert and the update of a call share. */
static int bind_call(struct sqlite_store *st, enum stmt_id id, const struct cw_call_record *rec)
{
	const struct cw_call *c = &rec->call;

	return sq_bind(st, id, "ttttttttllllttti", rec->app_id, c->session_id,
		       NAME_OF(category_names, c->category), NAME_OF(type_names, c->type),
		       NAME_OF(receiver_type_names, c->receiver_type), c->initiator, c->receiver,
		       cw_call_status_name(c->status), c->initiated_at, c->joined_at, c->ended_at,
		       c->ring_deadline, sq_str_or(rec->metadata, "{}"), rec->initiator_name,
		       rec->receiver_name, rec->has_recording);
}

/* Writes every participant at its position (0 = the initiator) and drops any stored beyond
 * the array, inside the caller's transaction. An upsert rather than delete-and-insert, so a
 * participant whose record did not change costs no index churn. */
static int put_participants(struct sqlite_store *st, int64_t call_id, const struct cw_call *c)
{
	for (size_t i = 0; i < c->n_participants; i++) {
		const struct cw_participant *p = &c->participants[i];
		int err = sq_run(st, S_PART_UPSERT, "llttitlll", call_id, (int64_t)i, p->uid,
				 cw_part_state_name(p->state), p->initiator, p->device,
				 p->joined_at, p->left_at, p->time_in);

		if (err)
			return err;
	}
	return sq_run(st, S_PART_TRIM, "ll", call_id, (int64_t)c->n_participants);
}

static int load_participants(struct sqlite_store *st, struct cw_call_record *rec)
{
	void *arr;
	bool more;
	int err;

	if ((err = sq_bind(st, S_PART_LIST, "l", rec->id)) ||
	    (err = sq_collect(st, S_PART_LIST, SIZE_MAX, sizeof(*rec->call.participants),
			      row_participant, NULL, &arr, &rec->call.n_participants, &more)))
		return err;
	rec->call.participants = arr;
	return 0;
}

/* Runs the bound list statement id and loads the participants of every call it returns. */
static int collect_calls(struct sqlite_store *st, enum stmt_id id, size_t limit,
			 struct cw_call_record **out, size_t *n, bool *more)
{
	struct cw_call_record *recs;
	size_t count = 0;
	bool further;
	void *arr;
	int err;

	if ((err = sq_collect(st, id, limit, sizeof(*recs), row_call, release_call, &arr, &count,
			      &further)))
		return err;
	recs = arr;
	for (size_t i = 0; i < count && !err; i++)
		err = load_participants(st, &recs[i]);
	if (err) {
		cw_call_records_free(recs, count);
		return err;
	}
	*out = recs;
	*n = count;
	if (more)
		*more = further;
	return 0;
}

int sqlite_call_create(struct cw_store *s, struct cw_call_record *rec)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	int64_t id = 0;
	int err;

	if ((err = check_record(rec)) || (err = sq_tx_begin(st)))
		return err;
	if ((err = bind_call(st, S_CALL_INSERT, rec)))
		goto out;
	err = sq_step(st, S_CALL_INSERT);
	sq_reset(st, S_CALL_INSERT);
	if (err < 0)
		goto out;
	id = sqlite3_last_insert_rowid(st->db);
	err = put_participants(st, id, &rec->call);
out:
	if ((err = sq_tx_end(st, err)))
		return err;
	rec->id = id;
	return 0;
}

/* The call is found by (app_id, session_id), not rec->id, so a caller can build the record
 * afresh; RETURNING gives the id its participants hang from. */
int sqlite_call_update(struct cw_store *s, const struct cw_call_record *rec)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	int64_t id;
	int err;

	if ((err = check_record(rec)) || (err = sq_tx_begin(st)))
		return err;
	if ((err = bind_call(st, S_CALL_UPDATE, rec)) || (err = step_int64(st, S_CALL_UPDATE, &id)))
		goto out;
	err = put_participants(st, id, &rec->call);
out:
	return sq_tx_end(st, err);
}

int sqlite_call_get(struct cw_store *s, const char *app_id, const char *session_id,
		    struct cw_call_record *out)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	struct cw_call_record rec;
	int err;

	if ((err = sq_bind(st, S_CALL_GET, "tt", app_id, session_id)) ||
	    (err = sq_get_one(st, S_CALL_GET, row_call, &rec)))
		return err;
	if ((err = load_participants(st, &rec))) {
		cw_call_record_free(&rec);
		return err;
	}
	*out = rec;
	return 0;
}

/* The name to bind for an enum filter: NULL for -1 (any); -EINVAL for a value out of range. */
static int filter_name(const char *const *names, size_t n, int v, const char **out)
{
	*out = NULL;
	if (v == -1)
		return 0;
	*out = name_of(names, n, v);
	return *out ? 0 : -EINVAL;
}

/* One of two statements, both prepared once: with a member (or else a with_uid) the
 * user's participant index drives the walk; without either, the app's log does. */
int sqlite_call_list(struct cw_store *s, const struct cw_call_filter *f,
		     struct cw_call_record **out, size_t *n, bool *more)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	const char *driver = f->member ? f->member : f->with_uid;
	const char *with = f->member ? f->with_uid : NULL;
	enum stmt_id id = driver ? S_CALL_LIST_USER : S_CALL_LIST_APP;
	const char *type, *category, *status = NULL;
	int err;

	/* Direction is relative to the member: without one it means nothing. */
	if (f->direction < 0 || f->direction > 2 || (f->direction && !f->member) ||
	    f->has_recording < -1 || f->has_recording > 1)
		return -EINVAL;
	if (f->status != -1) {
		if (!status_valid(f->status))
			return -EINVAL;
		status = cw_call_status_name((enum cw_call_status)f->status);
	}
	if ((err = filter_name(type_names, CW_ARRAY_SIZE(type_names), f->type, &type)) ||
	    (err = filter_name(category_names, CW_ARRAY_SIZE(category_names), f->category,
			       &category)))
		return err;
	if ((err = sq_bind(st, id, "ttttitttill", f->app_id, driver, with, f->guid, f->direction,
			   type, status, category, f->has_recording,
			   f->before ? f->before : INT64_MAX, sq_list_limit(f->limit))))
		return err;
	return collect_calls(st, id, f->limit, out, n, more);
}

int sqlite_call_list_active(struct cw_store *s, struct cw_call_record **out, size_t *n)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	int err;

	if ((err = sq_bind(st, S_CALL_LIST_ACTIVE, "")))
		return err;
	return collect_calls(st, S_CALL_LIST_ACTIVE, SIZE_MAX, out, n, NULL);
}

/* Taking the seq and writing the event are one unit: a seq is never given to an event that
 * was not stored, nor two events one seq. */
int sqlite_event_append(struct cw_store *s, const char *app_id, const char *uid, const char *body,
			int64_t now, int64_t *seq)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	int64_t next = 0;
	int err;

	if ((err = sq_tx_begin(st)))
		return err;
	if ((err = sq_bind(st, S_SEQ_NEXT, "tt", app_id, uid)))
		goto out;
	/* The upsert always answers its row; none would be a backend failure. */
	if ((err = step_int64(st, S_SEQ_NEXT, &next)) == -ENOENT)
		err = -EIO;
	if (err)
		goto out;
	err = sq_run(st, S_EVENT_INSERT, "ttllt", app_id, uid, next, now, sq_str_or(body, "{}"));
out:
	if ((err = sq_tx_end(st, err)))
		return err;
	if (seq)
		*seq = next;
	return 0;
}

int sqlite_events_after(struct cw_store *s, const char *app_id, const char *uid, int64_t after,
			size_t limit, struct cw_event_record **out, size_t *n)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	void *arr;
	bool more;
	int err;

	if ((err = sq_bind(st, S_EVENT_AFTER, "ttll", app_id, uid, after, clamp_int64(limit))) ||
	    (err = sq_collect(st, S_EVENT_AFTER, limit, sizeof(**out), row_event, release_event,
			      &arr, n, &more)))
		return err;
	*out = arr;
	return 0;
}

int sqlite_event_last_seq(struct cw_store *s, const char *app_id, const char *uid, int64_t *seq)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	int64_t last = 0;
	int err;

	if ((err = sq_bind(st, S_SEQ_GET, "tt", app_id, uid)))
		return err;
	err = step_int64(st, S_SEQ_GET, &last);
	if (err && err != -ENOENT)
		return err;
	*seq = err ? 0 : last;
	return 0;
}

int sqlite_events_prune(struct cw_store *s, int64_t before, size_t keep, size_t *count)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	int err;

	err = sq_run(st, S_EVENT_PRUNE, "ll", before, clamp_int64(keep));
	if (!err && count)
		*count = (size_t)sqlite3_changes(st->db);
	return err;
}
