/* Unit tests of the SQLite store's call log, event log and batches: each test runs against a
 * fresh database file. Calls are built by hand, not by the state machine. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store.h"
#include "util/util.h"

#include "store_fixture.h"

/* Runs SQL on a connection of its own, bypassing the store (which must be closed). */
static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void add_app(struct cw_store *s, const char *id)
{
	struct cw_app app;

	memset(&app, 0, sizeof(app));
	cw_strlcpy(app.id, id, sizeof(app.id));
	app.name = (char *)"Test app";
	memset(app.auth_key_hash, 'a', CW_HASH_HEX);
	cw_sha256_hex(id, strlen(id), app.rest_key_hash);
	cw_settings_default(&app.settings);
	app.created_at = 1700000000000;
	assert_int_equal(cw_store_app_create(s, &app), 0);
}

static void add_user(struct cw_store *s, const char *app_id, const char *uid)
{
	struct cw_user user;

	memset(&user, 0, sizeof(user));
	cw_strlcpy(user.uid, uid, sizeof(user.uid));
	user.name = (char *)uid;
	user.created_at = user.updated_at = 1700000000001;
	assert_int_equal(cw_store_user_create(s, app_id, &user), 0);
}

#define MAX_PARTS 5

/* A call record whose participants live in the caller's array. */
struct call_buf {
	struct cw_call_record rec;
	struct cw_participant parts[MAX_PARTS];
};

/* Fills b with an initiated call from initiator to receiver; receivers (NULL-terminated) are
 * the ringing participants after the initiator. For a user call, receivers is {receiver}. */
static struct cw_call_record *make_call(struct call_buf *b, const char *app_id, const char *session,
					const char *initiator, const char *receiver, bool group,
					const char *const *receivers)
{
	struct cw_call *c = &b->rec.call;
	size_t n = 1;

	memset(b, 0, sizeof(*b));
	cw_strlcpy(b->rec.app_id, app_id, sizeof(b->rec.app_id));
	cw_strlcpy(c->session_id, session, sizeof(c->session_id));
	c->category = CW_CATEGORY_CALL;
	c->type = CW_CALL_AUDIO;
	c->receiver_type = group ? CW_RECEIVER_GROUP : CW_RECEIVER_USER;
	cw_strlcpy(c->initiator, initiator, sizeof(c->initiator));
	cw_strlcpy(c->receiver, receiver, sizeof(c->receiver));
	c->status = CW_CALL_INITIATED;
	c->initiated_at = 1000;
	c->ring_deadline = 46000;
	c->participants = b->parts;
	cw_strlcpy(b->parts[0].uid, initiator, sizeof(b->parts[0].uid));
	b->parts[0].state = CW_PART_ONGOING;
	b->parts[0].initiator = true;
	b->parts[0].joined_at = 1000;
	for (; receivers && receivers[n - 1] && n < MAX_PARTS; n++) {
		cw_strlcpy(b->parts[n].uid, receivers[n - 1], sizeof(b->parts[n].uid));
		b->parts[n].state = CW_PART_RINGING;
	}
	c->n_participants = n;
	return &b->rec;
}

/* Creates a 1:1 call and returns its id. */
static int64_t add_call(struct cw_store *s, const char *app_id, const char *session,
			const char *initiator, const char *receiver)
{
	struct call_buf b;
	struct cw_call_record *r;

	r = make_call(&b, app_id, session, initiator, receiver, false,
		      (const char *const[]){receiver, NULL});
	assert_int_equal(cw_store_call_create(s, r), 0);
	assert_true(r->id > 0);
	return r->id;
}

static void assert_participant_equal(const struct cw_participant *a, const struct cw_participant *b)
{
	assert_string_equal(a->uid, b->uid);
	assert_int_equal(a->state, b->state);
	assert_int_equal(a->initiator, b->initiator);
	assert_string_equal(a->device, b->device);
	assert_int_equal(a->joined_at, b->joined_at);
	assert_int_equal(a->left_at, b->left_at);
	assert_int_equal(a->time_in, b->time_in);
}

static void assert_opt_string_equal(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

/* Every field but the id, which the caller checks. */
static void assert_record_equal(const struct cw_call_record *got, const struct cw_call_record *want)
{
	const struct cw_call *g = &got->call, *w = &want->call;

	assert_string_equal(got->app_id, want->app_id);
	assert_string_equal(g->session_id, w->session_id);
	assert_int_equal(g->category, w->category);
	assert_int_equal(g->type, w->type);
	assert_int_equal(g->receiver_type, w->receiver_type);
	assert_string_equal(g->initiator, w->initiator);
	assert_string_equal(g->receiver, w->receiver);
	assert_int_equal(g->status, w->status);
	assert_int_equal(g->initiated_at, w->initiated_at);
	assert_int_equal(g->joined_at, w->joined_at);
	assert_int_equal(g->ended_at, w->ended_at);
	assert_int_equal(g->ring_deadline, w->ring_deadline);
	assert_string_equal(got->metadata, want->metadata ? want->metadata : "{}");
	assert_opt_string_equal(got->initiator_name, want->initiator_name);
	assert_opt_string_equal(got->receiver_name, want->receiver_name);
	assert_int_equal(got->has_recording, want->has_recording);
	assert_int_equal(g->n_participants, w->n_participants);
	for (size_t i = 0; i < w->n_participants; i++)
		assert_participant_equal(&g->participants[i], &w->participants[i]);
}

static struct cw_call_filter filter(const char *app_id)
{
	return (struct cw_call_filter){.app_id = app_id,
				       .type = -1,
				       .status = -1,
				       .category = -1,
				       .has_recording = -1,
				       .limit = 100};
}

/* Appends word to the space-separated list in buf. */
static void append_word(char *buf, size_t size, const char *word)
{
	size_t len = strlen(buf);

	assert_true(len + 1 + strlen(word) < size);
	snprintf(buf + len, size - len, "%s%s", len ? " " : "", word);
}

/* Lists with f and compares the session ids, newest first, with want ("a b c"). */
static void assert_list(struct cw_store *s, const struct cw_call_filter *f, const char *want)
{
	struct cw_call_record *recs;
	char got[512] = "";
	size_t n;
	bool more;

	assert_int_equal(cw_store_call_list(s, f, &recs, &n, &more), 0);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(recs[i].app_id, f->app_id);
		/* Every record comes with its participants. */
		assert_true(recs[i].call.n_participants >= 2);
		append_word(got, sizeof(got), recs[i].call.session_id);
	}
	cw_call_records_free(recs, n);
	assert_string_equal(got, want);
}

static void test_schema_is_at_least_version_2_and_apps_have_call_rate_limit(void **state)
{
	struct cw_store *s = store(state);
	struct cw_settings set;
	struct cw_app app;

	assert_true(cw_store_schema_version() >= 2);
	add_app(s, "app1");
	assert_int_equal(cw_store_app_get(s, "app1", &app), 0);
	assert_int_equal(app.settings.call_rate_limit, 30);
	cw_app_free(&app);
	cw_settings_default(&set);
	set.call_rate_limit = 7;
	assert_int_equal(cw_store_app_set_settings(s, "app1", &set), 0);
	assert_int_equal(cw_store_app_get(s, "app1", &app), 0);
	assert_int_equal(app.settings.call_rate_limit, 7);
	assert_int_equal(app.settings.ring_timeout, 45);
	cw_app_free(&app);
}

/* A database left at version 1 (made by taking a fresh one back to it) is brought forward on
 * open: its apps get the default rate limit, and calls and events work. */
static void test_open_migrates_a_version_1_database(void **state)
{
	struct fixture *f = *state;
	struct cw_app app;
	int64_t seq;

	add_app(f->s, "app1");
	add_user(f->s, "app1", "alice");
	cw_store_close(f->s);
	f->s = NULL;
	raw_exec(f->path, "DROP TABLE outbox; DROP TABLE push_config; DROP TABLE push_tokens;"
			  "DROP TABLE events; DROP TABLE user_seq; DROP TABLE call_participants;"
			  "DROP TABLE calls; ALTER TABLE apps DROP COLUMN call_rate_limit;"
			  "PRAGMA user_version = 1;");
	reopen(state);
	assert_int_equal(cw_store_app_get(f->s, "app1", &app), 0);
	assert_int_equal(app.settings.call_rate_limit, 30);
	cw_app_free(&app);
	assert_int_equal(add_call(f->s, "app1", "s1", "alice", "bob"), 1);
	assert_int_equal(cw_store_event_append(f->s, "app1", "alice", "{}", 1, &seq), 0);
	assert_int_equal(seq, 1);
}

static void test_call_create_then_get_returns_every_field(void **state)
{
	struct cw_store *s = store(state);
	struct cw_call_record out;
	struct call_buf b;
	struct cw_call_record *r;

	add_app(s, "app1");
	r = make_call(&b, "app1", "sess-1", "zed", "team", true,
		      (const char *const[]){"carol", "bob", "amy", NULL});
	r->call.category = CW_CATEGORY_MEET;
	r->call.type = CW_CALL_VIDEO;
	r->call.status = CW_CALL_ONGOING;
	r->call.initiated_at = 1700000000000;
	r->call.joined_at = 1700000000500;
	r->call.ended_at = 1700000009000;
	r->call.ring_deadline = 1700000045000;
	r->metadata = (char *)"{\"topic\":\"standup\"}";
	r->initiator_name = (char *)"Zed";
	r->receiver_name = (char *)"The team";
	r->has_recording = true;
	cw_strlcpy(b.parts[0].device, "dev-zed", sizeof(b.parts[0].device));
	b.parts[1].state = CW_PART_LEFT;
	cw_strlcpy(b.parts[1].device, "dev-carol", sizeof(b.parts[1].device));
	b.parts[1].joined_at = 1700000000500;
	b.parts[1].left_at = 1700000003000;
	b.parts[1].time_in = 2500;
	b.parts[2].state = CW_PART_REJECTED;
	b.parts[3].state = CW_PART_UNANSWERED;
	assert_int_equal(cw_store_call_create(s, r), 0);
	assert_int_equal(r->id, 1);

	assert_int_equal(cw_store_call_get(s, "app1", "sess-1", &out), 0);
	assert_int_equal(out.id, 1);
	/* Participants keep the array's order, not the uids' order. */
	assert_string_equal(out.call.participants[1].uid, "carol");
	assert_record_equal(&out, r);
	cw_call_record_free(&out);

	/* NULL metadata is stored as the empty object, NULL names stay NULL. */
	r = make_call(&b, "app1", "sess-2", "amy", "bob", false,
		      (const char *const[]){"bob", NULL});
	assert_int_equal(cw_store_call_create(s, r), 0);
	assert_int_equal(r->id, 2);
	assert_int_equal(cw_store_call_get(s, "app1", "sess-2", &out), 0);
	assert_int_equal(out.id, 2);
	assert_record_equal(&out, r);
	assert_null(out.initiator_name);
	cw_call_record_free(&out);
}

static void test_call_create_duplicate_session_is_eexist_and_changes_nothing(void **state)
{
	struct cw_store *s = store(state);
	struct cw_call_record out;
	struct call_buf b;
	struct cw_call_record *r;

	add_app(s, "app1");
	add_call(s, "app1", "s1", "alice", "bob");
	r = make_call(&b, "app1", "s1", "carol", "dave", false,
		      (const char *const[]){"dave", NULL});
	r->id = 77;
	assert_int_equal(cw_store_call_create(s, r), -EEXIST);
	assert_int_equal(r->id, 77);
	assert_int_equal(cw_store_call_get(s, "app1", "s1", &out), 0);
	assert_string_equal(out.call.initiator, "alice");
	assert_int_equal(out.call.n_participants, 2);
	assert_string_equal(out.call.participants[1].uid, "bob");
	cw_call_record_free(&out);
	/* The failed attempt left no participant rows behind for another call to pick up. */
	assert_true(add_call(s, "app1", "s2", "carol", "dave") > 1);
	assert_int_equal(cw_store_call_get(s, "app1", "s2", &out), 0);
	assert_int_equal(out.call.n_participants, 2);
	assert_string_equal(out.call.participants[1].uid, "dave");
	cw_call_record_free(&out);
}

static void test_call_in_missing_app_or_session_is_enoent(void **state)
{
	struct cw_store *s = store(state);
	struct cw_call_record out;
	struct call_buf b;
	struct cw_call_record *r;

	r = make_call(&b, "nope", "s1", "alice", "bob", false, (const char *const[]){"bob", NULL});
	assert_int_equal(cw_store_call_create(s, r), -ENOENT);
	add_app(s, "app1");
	memset(&out, 0x5a, sizeof(out));
	assert_int_equal(cw_store_call_get(s, "app1", "s1", &out), -ENOENT);
	assert_int_equal(out.app_id[0], 0x5a);
	r = make_call(&b, "app1", "s1", "alice", "bob", false, (const char *const[]){"bob", NULL});
	assert_int_equal(cw_store_call_update(s, r), -ENOENT);
}

static void test_call_with_bad_enum_is_einval(void **state)
{
	struct cw_store *s = store(state);
	struct cw_call_record out;
	struct call_buf b;
	struct cw_call_record *r;

	add_app(s, "app1");
	r = make_call(&b, "app1", "s1", "alice", "bob", false, (const char *const[]){"bob", NULL});
	r->call.status = (enum cw_call_status)42;
	assert_int_equal(cw_store_call_create(s, r), -EINVAL);
	r->call.status = CW_CALL_INITIATED;
	b.parts[1].state = (enum cw_part_state) - 3;
	assert_int_equal(cw_store_call_create(s, r), -EINVAL);
	assert_int_equal(cw_store_call_get(s, "app1", "s1", &out), -ENOENT);
}

/* A name this build does not know (written by hand, or by a newer build) is a backend
 * failure, not a silently wrong call. */
static void test_call_get_with_unknown_stored_name_is_eio(void **state)
{
	struct fixture *f = *state;
	struct cw_call_record out;

	add_app(f->s, "app1");
	add_call(f->s, "app1", "s1", "alice", "bob");
	cw_store_close(f->s);
	f->s = NULL;
	raw_exec(f->path, "UPDATE calls SET status = 'paused'");
	reopen(state);
	assert_int_equal(cw_store_call_get(f->s, "app1", "s1", &out), -EIO);
}

static void test_call_update_changes_status_times_and_participants(void **state)
{
	struct cw_store *s = store(state);
	struct cw_call_record out;
	struct call_buf b;
	struct cw_call_record *r;

	add_app(s, "app1");
	r = make_call(&b, "app1", "g1", "alice", "team", true,
		      (const char *const[]){"bob", "carol", "dave", NULL});
	assert_int_equal(cw_store_call_create(s, r), 0);

	r->call.status = CW_CALL_ONGOING;
	r->call.joined_at = 2000;
	r->has_recording = true;
	r->metadata = (char *)"{\"k\":1}";
	b.parts[2].state = CW_PART_ONGOING;
	b.parts[2].joined_at = 2000;
	cw_strlcpy(b.parts[2].device, "carol-phone", sizeof(b.parts[2].device));
	b.parts[1].state = CW_PART_REJECTED;
	assert_int_equal(cw_store_call_update(s, r), 0);
	assert_int_equal(cw_store_call_get(s, "app1", "g1", &out), 0);
	assert_int_equal(out.id, r->id);
	assert_record_equal(&out, r);
	cw_call_record_free(&out);

	/* Fewer participants drop the stored ones beyond the array; more add them. */
	r->call.n_participants = 2;
	r->call.status = CW_CALL_ENDED;
	r->call.ended_at = 9000;
	assert_int_equal(cw_store_call_update(s, r), 0);
	assert_int_equal(cw_store_call_get(s, "app1", "g1", &out), 0);
	assert_record_equal(&out, r);
	cw_call_record_free(&out);
	r->call.n_participants = 4;
	assert_int_equal(cw_store_call_update(s, r), 0);
	assert_int_equal(cw_store_call_get(s, "app1", "g1", &out), 0);
	assert_record_equal(&out, r);
	cw_call_record_free(&out);
}

/* The call log used by the filter tests (app1), newest last:
 *   c1 alice->bob     audio call ended      rec 0
 *   c2 bob->alice     video call rejected   rec 1
 *   c3 alice->team    audio call ongoing    rec 0   (bob, carol)
 *   c4 carol->dave    video meet ended      rec 1
 *   c5 dave->team     video call unanswered rec 0   (bob, carol)
 *   c6 bob->carol     audio call busy       rec 0
 * and app2 holds c1 alice->bob (the same session id, another call). */
static void add_log(struct cw_store *s)
{
	static const struct {
		const char *session, *from, *to;
		bool group;
		enum cw_call_type type;
		enum cw_call_category category;
		enum cw_call_status status;
		bool rec;
	} log[] = {
		{"c1", "alice", "bob", false, CW_CALL_AUDIO, CW_CATEGORY_CALL, CW_CALL_ENDED, 0},
		{"c2", "bob", "alice", false, CW_CALL_VIDEO, CW_CATEGORY_CALL, CW_CALL_REJECTED, 1},
		{"c3", "alice", "team", true, CW_CALL_AUDIO, CW_CATEGORY_CALL, CW_CALL_ONGOING, 0},
		{"c4", "carol", "dave", false, CW_CALL_VIDEO, CW_CATEGORY_MEET, CW_CALL_ENDED, 1},
		{"c5", "dave", "team", true, CW_CALL_VIDEO, CW_CATEGORY_CALL, CW_CALL_UNANSWERED,
		 0},
		{"c6", "bob", "carol", false, CW_CALL_AUDIO, CW_CATEGORY_CALL, CW_CALL_BUSY, 0},
	};
	const char *const team[] = {"bob", "carol", NULL};
	struct call_buf b;
	struct cw_call_record *r;

	add_app(s, "app1");
	add_app(s, "app2");
	for (size_t i = 0; i < CW_ARRAY_SIZE(log); i++) {
		r = make_call(&b, "app1", log[i].session, log[i].from, log[i].to, log[i].group,
			      log[i].group ? team : (const char *const[]){log[i].to, NULL});
		r->call.type = log[i].type;
		r->call.category = log[i].category;
		r->call.status = log[i].status;
		r->has_recording = log[i].rec;
		assert_int_equal(cw_store_call_create(s, r), 0);
	}
	add_call(s, "app2", "c1", "alice", "bob");
}

static void test_call_list_filters_by_member_and_with_uid(void **state)
{
	struct cw_store *s = store(state);
	struct cw_call_filter f = filter("app1");

	add_log(s);
	assert_list(s, &f, "c6 c5 c4 c3 c2 c1");
	f.member = "alice";
	assert_list(s, &f, "c3 c2 c1");
	f.member = "bob";
	assert_list(s, &f, "c6 c5 c3 c2 c1");
	f.member = "nobody";
	assert_list(s, &f, "");
	f.member = NULL;
	f.with_uid = "bob";
	assert_list(s, &f, "c6 c5 c3 c2 c1");
	f.member = "alice";
	assert_list(s, &f, "c3 c2 c1");
	f.with_uid = "carol";
	assert_list(s, &f, "c3");
	f.with_uid = "dave";
	assert_list(s, &f, "");
}

static void test_call_list_filters_by_guid_and_direction(void **state)
{
	struct cw_store *s = store(state);
	struct cw_call_filter f = filter("app1");

	add_log(s);
	f.guid = "team";
	assert_list(s, &f, "c5 c3");
	/* A user whose uid equals the guid is not the group. */
	f.guid = "dave";
	assert_list(s, &f, "");
	f.guid = NULL;
	f.member = "alice";
	f.direction = 2;
	assert_list(s, &f, "c3 c1");
	f.direction = 1;
	assert_list(s, &f, "c2");
	f.member = "bob";
	assert_list(s, &f, "c5 c3 c1");
	f.direction = 2;
	assert_list(s, &f, "c6 c2");
}

static void test_call_list_filters_by_type_status_category_recording(void **state)
{
	struct cw_store *s = store(state);
	struct cw_call_filter f = filter("app1");

	add_log(s);
	f.type = CW_CALL_VIDEO;
	assert_list(s, &f, "c5 c4 c2");
	f.type = CW_CALL_AUDIO;
	assert_list(s, &f, "c6 c3 c1");
	f = filter("app1");
	f.status = CW_CALL_ENDED;
	assert_list(s, &f, "c4 c1");
	f.status = CW_CALL_INITIATED;
	assert_list(s, &f, "");
	f = filter("app1");
	f.category = CW_CATEGORY_MEET;
	assert_list(s, &f, "c4");
	f.category = CW_CATEGORY_CALL;
	assert_list(s, &f, "c6 c5 c3 c2 c1");
	f = filter("app1");
	f.has_recording = 1;
	assert_list(s, &f, "c4 c2");
	f.has_recording = 0;
	assert_list(s, &f, "c6 c5 c3 c1");
}

static void test_call_list_combines_filters(void **state)
{
	struct cw_store *s = store(state);
	struct cw_call_filter f = filter("app1");

	add_log(s);
	f.member = "bob";
	f.type = CW_CALL_AUDIO;
	f.direction = 1;
	assert_list(s, &f, "c3 c1");
	f = filter("app1");
	f.member = "carol";
	f.guid = "team";
	assert_list(s, &f, "c5 c3");
	f.status = CW_CALL_ONGOING;
	assert_list(s, &f, "c3");
	f = filter("app1");
	f.member = "alice";
	f.type = CW_CALL_VIDEO;
	f.has_recording = 1;
	assert_list(s, &f, "c2");
	f.direction = 2;
	assert_list(s, &f, "");
	f = filter("app1");
	f.with_uid = "carol";
	f.category = CW_CATEGORY_MEET;
	f.status = CW_CALL_ENDED;
	assert_list(s, &f, "c4");
}

static void test_call_list_refuses_meaningless_filters(void **state)
{
	struct cw_store *s = store(state);
	struct cw_call_filter f = filter("app1");
	struct cw_call_record *recs;
	size_t n;
	bool more;

	add_log(s);
	f.direction = 1; /* incoming for whom? */
	assert_int_equal(cw_store_call_list(s, &f, &recs, &n, &more), -EINVAL);
	f = filter("app1");
	f.status = 99;
	assert_int_equal(cw_store_call_list(s, &f, &recs, &n, &more), -EINVAL);
	f = filter("app1");
	f.type = 2;
	assert_int_equal(cw_store_call_list(s, &f, &recs, &n, &more), -EINVAL);
}

/* Pages through f with limit 2, creating two calls after the first page, and returns the
 * session ids seen, newest first. */
static void page_through(struct cw_store *s, struct cw_call_filter f, const char *want)
{
	struct cw_call_record *recs;
	char got[512] = "";
	int pages = 0;
	size_t n;
	bool more;

	f.limit = 2;
	do {
		assert_int_equal(cw_store_call_list(s, &f, &recs, &n, &more), 0);
		assert_true(n == 2 || (n > 0 && !more));
		for (size_t i = 0; i < n; i++) {
			append_word(got, sizeof(got), recs[i].call.session_id);
		}
		f.before = recs[n - 1].id;
		cw_call_records_free(recs, n);
		if (++pages == 1) {
			/* Newer calls have larger ids: they belong before the first page. */
			char sess[32];

			snprintf(sess, sizeof(sess), "new%lld", (long long)f.before);
			add_call(s, "app1", sess, "alice", "bob");
			snprintf(sess, sizeof(sess), "new%lld", (long long)f.before + 1);
			add_call(s, "app1", sess, "bob", "alice");
		}
	} while (more);
	assert_string_equal(got, want);
}

static void test_call_list_keyset_pages_are_exact_while_calls_arrive(void **state)
{
	struct cw_store *s = store(state);
	struct cw_call_filter f = filter("app1");
	char sess[8];

	add_app(s, "app1");
	add_app(s, "app2");
	for (int i = 1; i <= 7; i++) {
		snprintf(sess, sizeof(sess), "p%d", i);
		add_call(s, "app1", sess, "alice", i % 2 ? "bob" : "carol");
		/* Another app's calls interleave ids without showing up. */
		add_call(s, "app2", sess, "alice", "bob");
	}
	page_through(s, f, "p7 p6 p5 p4 p3 p2 p1");
	/* The member's statement walks its own index; it pages the same way. */
	f.member = "alice";
	page_through(s, f, "new12 new11 p7 p6 p5 p4 p3 p2 p1");
}

static void test_call_list_limit_sets_more_exactly(void **state)
{
	struct cw_store *s = store(state);
	struct cw_call_filter f = filter("app1");
	struct cw_call_record *recs;
	size_t n;
	bool more;

	add_log(s);
	f.limit = 6;
	assert_int_equal(cw_store_call_list(s, &f, &recs, &n, &more), 0);
	assert_int_equal(n, 6);
	assert_false(more);
	cw_call_records_free(recs, n);
	f.limit = 5;
	assert_int_equal(cw_store_call_list(s, &f, &recs, &n, &more), 0);
	assert_int_equal(n, 5);
	assert_true(more);
	cw_call_records_free(recs, n);
	f.limit = 0;
	assert_int_equal(cw_store_call_list(s, &f, &recs, &n, &more), 0);
	assert_int_equal(n, 0);
	assert_true(more);
	cw_call_records_free(recs, n);
}

static void test_call_list_active_returns_live_calls_of_every_app(void **state)
{
	struct cw_store *s = store(state);
	struct cw_call_record *recs;
	struct call_buf b;
	struct cw_call_record *r;
	size_t n;

	add_log(s); /* app1: c3 ongoing; app2: c1 initiated */
	r = make_call(&b, "app1", "c7", "erin", "frank", false,
		      (const char *const[]){"frank", NULL});
	assert_int_equal(cw_store_call_create(s, r), 0);
	r->call.status = CW_CALL_CANCELLED;
	assert_int_equal(cw_store_call_update(s, r), 0);
	assert_int_equal(cw_store_call_list_active(s, &recs, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(recs[0].app_id, "app1");
	assert_string_equal(recs[0].call.session_id, "c3");
	assert_int_equal(recs[0].call.status, CW_CALL_ONGOING);
	assert_int_equal(recs[0].call.n_participants, 3);
	assert_string_equal(recs[0].call.participants[2].uid, "carol");
	assert_string_equal(recs[1].app_id, "app2");
	assert_string_equal(recs[1].call.session_id, "c1");
	assert_int_equal(recs[1].call.status, CW_CALL_INITIATED);
	cw_call_records_free(recs, n);
}

static void test_same_session_in_two_apps_is_two_calls(void **state)
{
	struct cw_store *s = store(state);
	struct cw_call_filter f = filter("app2");
	struct cw_call_record out;
	struct call_buf b;
	struct cw_call_record *r;

	add_log(s);
	r = make_call(&b, "app2", "c1", "alice", "bob", false, (const char *const[]){"bob", NULL});
	r->call.status = CW_CALL_ONGOING;
	assert_int_equal(cw_store_call_update(s, r), 0);
	assert_int_equal(cw_store_call_get(s, "app1", "c1", &out), 0);
	assert_int_equal(out.call.status, CW_CALL_ENDED);
	assert_int_equal(out.id, 1);
	cw_call_record_free(&out);
	assert_int_equal(cw_store_call_get(s, "app2", "c1", &out), 0);
	assert_int_equal(out.call.status, CW_CALL_ONGOING);
	assert_int_equal(out.id, 7);
	cw_call_record_free(&out);
	/* The same users in app2 see only app2's call, whatever the filter. */
	assert_list(s, &f, "c1");
	f.member = "bob";
	assert_list(s, &f, "c1");
	f.member = NULL;
	f.with_uid = "alice";
	assert_list(s, &f, "c1");
	f = filter("app2");
	f.guid = "team";
	assert_list(s, &f, "");
	f = filter("app3");
	f.member = "alice";
	assert_list(s, &f, "");
}

static void append(struct cw_store *s, const char *app_id, const char *uid, const char *body,
		   int64_t now, int64_t want)
{
	int64_t seq = -1;

	assert_int_equal(cw_store_event_append(s, app_id, uid, body, now, &seq), 0);
	assert_int_equal(seq, want);
}

static void assert_events(struct cw_store *s, const char *app_id, const char *uid, int64_t after,
			  size_t limit, const int64_t *want, size_t n_want)
{
	struct cw_event_record *evs;
	char body[32];
	size_t n;

	assert_int_equal(cw_store_events_after(s, app_id, uid, after, limit, &evs, &n), 0);
	assert_int_equal(n, n_want);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(evs[i].seq, want[i]);
		snprintf(body, sizeof(body), "{\"n\":%lld}", (long long)want[i]);
		assert_string_equal(evs[i].body, body);
	}
	cw_event_records_free(evs, n);
}

/* Appends the event {"n":<seq>} that assert_events expects. */
static void append_n(struct cw_store *s, const char *app_id, const char *uid, int64_t now,
		     int64_t want)
{
	char body[32];

	snprintf(body, sizeof(body), "{\"n\":%lld}", (long long)want);
	append(s, app_id, uid, body, now, want);
}

static void test_event_seq_counts_per_user_and_app_across_reopen(void **state)
{
	struct cw_store *s = store(state);
	int64_t seq = -1;

	assert_int_equal(cw_store_event_last_seq(s, "app1", "alice", &seq), 0);
	assert_int_equal(seq, 0);
	append_n(s, "app1", "alice", 10, 1);
	append_n(s, "app1", "alice", 11, 2);
	append_n(s, "app1", "bob", 12, 1);
	append_n(s, "app2", "alice", 13, 1);
	append_n(s, "app1", "alice", 14, 3);
	/* uids are case-sensitive. */
	append_n(s, "app1", "Alice", 15, 1);
	reopen(state);
	s = store(state);
	assert_int_equal(cw_store_event_last_seq(s, "app1", "alice", &seq), 0);
	assert_int_equal(seq, 3);
	append_n(s, "app1", "alice", 16, 4);
	append_n(s, "app1", "bob", 17, 2);
	assert_int_equal(cw_store_event_last_seq(s, "app2", "alice", &seq), 0);
	assert_int_equal(seq, 1);
}

static void test_events_after_returns_exactly_the_later_ones(void **state)
{
	struct cw_store *s = store(state);
	struct cw_event_record *evs;
	size_t n;

	for (int64_t i = 1; i <= 5; i++)
		append_n(s, "app1", "alice", 100 + i, i);
	append_n(s, "app1", "bob", 200, 1);
	assert_events(s, "app1", "alice", 0, 100, (const int64_t[]){1, 2, 3, 4, 5}, 5);
	assert_events(s, "app1", "alice", 2, 100, (const int64_t[]){3, 4, 5}, 3);
	assert_events(s, "app1", "alice", 2, 2, (const int64_t[]){3, 4}, 2);
	assert_events(s, "app1", "alice", 5, 100, NULL, 0);
	assert_events(s, "app1", "bob", 0, 100, (const int64_t[]){1}, 1);
	assert_int_equal(cw_store_events_after(s, "app1", "alice", 3, 100, &evs, &n), 0);
	assert_int_equal(evs[0].created_at, 104);
	cw_event_records_free(evs, n);
}

static void test_events_prune_keeps_the_latest_and_the_recent(void **state)
{
	struct cw_store *s = store(state);
	size_t count = 99;

	for (int64_t i = 1; i <= 10; i++)
		append_n(s, "app1", "alice", 1000 + i - 1, i); /* created 1000..1009 */
	for (int64_t i = 1; i <= 3; i++)
		append_n(s, "app1", "bob", 1000, i);
	/* alice: 1..5 are old enough and not among her latest 3 (8, 9, 10); bob keeps all 3. */
	assert_int_equal(cw_store_events_prune(s, 1005, 3, &count), 0);
	assert_int_equal(count, 5);
	assert_events(s, "app1", "alice", 0, 100, (const int64_t[]){6, 7, 8, 9, 10}, 5);
	assert_events(s, "app1", "bob", 0, 100, (const int64_t[]){1, 2, 3}, 3);
	assert_int_equal(cw_store_events_prune(s, 5000, 3, &count), 0);
	assert_int_equal(count, 2);
	assert_int_equal(cw_store_events_prune(s, 5000, 3, NULL), 0);
	assert_events(s, "app1", "alice", 0, 100, (const int64_t[]){8, 9, 10}, 3);
	assert_int_equal(cw_store_events_prune(s, 5000, 0, &count), 0);
	assert_int_equal(count, 6);
	/* A seq is never given twice, even once every event of the user is gone. */
	append_n(s, "app1", "alice", 6000, 11);
	append_n(s, "app1", "bob", 6000, 4);
	assert_events(s, "app1", "alice", 0, 100, (const int64_t[]){11}, 1);
}

static void test_batch_reads_its_writes_and_rollback_discards_them(void **state)
{
	struct cw_store *s = store(state);
	struct cw_call_filter f = filter("app1");
	struct cw_call_record out;
	struct cw_user user;
	int64_t seq;

	add_app(s, "app1");
	assert_false(cw_store_batch_open(s));
	assert_int_equal(cw_store_batch_begin(s), 0);
	assert_true(cw_store_batch_open(s));
	/* A second begin joins the open batch. */
	assert_int_equal(cw_store_batch_begin(s), 0);
	add_user(s, "app1", "alice");
	add_call(s, "app1", "s1", "alice", "bob");
	append_n(s, "app1", "alice", 1, 1);
	append_n(s, "app1", "alice", 2, 2);
	assert_int_equal(cw_store_user_get(s, "app1", "alice", &user), 0);
	cw_user_free(&user);
	assert_int_equal(cw_store_call_get(s, "app1", "s1", &out), 0);
	cw_call_record_free(&out);
	assert_list(s, &f, "s1");
	assert_events(s, "app1", "alice", 0, 10, (const int64_t[]){1, 2}, 2);
	cw_store_batch_rollback(s);
	assert_false(cw_store_batch_open(s));

	assert_int_equal(cw_store_user_get(s, "app1", "alice", &user), -ENOENT);
	assert_int_equal(cw_store_call_get(s, "app1", "s1", &out), -ENOENT);
	assert_list(s, &f, "");
	assert_int_equal(cw_store_event_last_seq(s, "app1", "alice", &seq), 0);
	assert_int_equal(seq, 0);
	/* Outside a batch, ops commit on their own again. */
	append_n(s, "app1", "alice", 3, 1);
}

static void test_batch_commit_is_durable_and_survives_a_failed_op(void **state)
{
	struct cw_store *s = store(state);
	struct cw_call_filter f = filter("app1");
	struct cw_call_record out;
	struct call_buf b;
	struct cw_call_record *r;

	add_app(s, "app1");
	assert_int_equal(cw_store_batch_begin(s), 0);
	add_call(s, "app1", "s1", "alice", "bob");
	/* A failing op undoes only its own writes; the batch goes on. */
	r = make_call(&b, "app1", "s1", "carol", "dave", false,
		      (const char *const[]){"dave", NULL});
	assert_int_equal(cw_store_call_create(s, r), -EEXIST);
	assert_true(cw_store_batch_open(s));
	add_call(s, "app1", "s2", "carol", "dave");
	append_n(s, "app1", "alice", 1, 1);
	assert_int_equal(cw_store_batch_commit(s), 0);
	assert_false(cw_store_batch_open(s));
	/* Commit with no batch open has nothing to do. */
	assert_int_equal(cw_store_batch_commit(s), 0);

	reopen(state);
	s = store(state);
	assert_list(s, &f, "s2 s1");
	assert_int_equal(cw_store_call_get(s, "app1", "s1", &out), 0);
	assert_string_equal(out.call.initiator, "alice");
	assert_int_equal(out.call.n_participants, 2);
	cw_call_record_free(&out);
	append_n(s, "app1", "alice", 2, 2);
}

static void test_account_ops_work_inside_a_batch(void **state)
{
	struct cw_store *s = store(state);
	char members[2][CW_UID_MAX + 1] = {"alice", "ghost"};
	struct cw_group g = {.guid = "team", .name = (char *)"Team", .created_at = 5};
	struct cw_user user;
	struct cw_group out;
	size_t bad = 0;

	add_app(s, "app1");
	add_user(s, "app1", "alice");
	add_user(s, "app1", "bob");
	assert_int_equal(cw_store_batch_begin(s), 0);
	assert_int_equal(cw_store_user_delete(s, "app1", "bob"), 0);
	assert_int_equal(cw_store_user_delete(s, "app1", "bob"), -ENOENT);
	/* An unknown member fails the group and writes nothing of it; the batch goes on. */
	g.members = members;
	g.n_members = 2;
	assert_int_equal(cw_store_group_create(s, "app1", &g, &bad), -ENOENT);
	assert_int_equal(bad, 1);
	assert_int_equal(cw_store_group_get(s, "app1", "team", &out), -ENOENT);
	g.n_members = 1;
	assert_int_equal(cw_store_group_create(s, "app1", &g, &bad), 0);
	assert_int_equal(cw_store_batch_commit(s), 0);

	reopen(state);
	s = store(state);
	assert_int_equal(cw_store_user_get(s, "app1", "bob", &user), -ENOENT);
	assert_int_equal(cw_store_group_get(s, "app1", "team", &out), 0);
	assert_int_equal(out.n_members, 1);
	assert_string_equal(out.members[0], "alice");
	cw_group_free(&out);

	/* And a rolled-back delete leaves the user in place. */
	assert_int_equal(cw_store_batch_begin(s), 0);
	assert_int_equal(cw_store_user_delete(s, "app1", "alice"), 0);
	cw_store_batch_rollback(s);
	assert_int_equal(cw_store_user_get(s, "app1", "alice", &user), 0);
	cw_user_free(&user);
	assert_int_equal(cw_store_group_get(s, "app1", "team", &out), 0);
	assert_int_equal(out.n_members, 1);
	cw_group_free(&out);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_schema_is_at_least_version_2_and_apps_have_call_rate_limit),
		T(test_open_migrates_a_version_1_database),
		T(test_call_create_then_get_returns_every_field),
		T(test_call_create_duplicate_session_is_eexist_and_changes_nothing),
		T(test_call_in_missing_app_or_session_is_enoent),
		T(test_call_with_bad_enum_is_einval),
		T(test_call_get_with_unknown_stored_name_is_eio),
		T(test_call_update_changes_status_times_and_participants),
		T(test_call_list_filters_by_member_and_with_uid),
		T(test_call_list_filters_by_guid_and_direction),
		T(test_call_list_filters_by_type_status_category_recording),
		T(test_call_list_combines_filters),
		T(test_call_list_refuses_meaningless_filters),
		T(test_call_list_keyset_pages_are_exact_while_calls_arrive),
		T(test_call_list_limit_sets_more_exactly),
		T(test_call_list_active_returns_live_calls_of_every_app),
		T(test_same_session_in_two_apps_is_two_calls),
		T(test_event_seq_counts_per_user_and_app_across_reopen),
		T(test_events_after_returns_exactly_the_later_ones),
		T(test_events_prune_keeps_the_latest_and_the_recent),
		T(test_batch_reads_its_writes_and_rollback_discards_them),
		T(test_batch_commit_is_durable_and_survives_a_failed_op),
		T(test_account_ops_work_inside_a_batch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
