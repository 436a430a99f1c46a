/* client logs: `callwire logs`, the user's call log as a table or as JSON. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli/client.h"

struct logs_args {
	int type, status, direction, category; /* -1: no filter */
	const char *uid, *guid;
	int limit; /* 0: the server's default */
	bool all, json;
};

/* The pages fetched so far, in order. */
struct pages {
	cw_call_page **v;
	size_t n;
};

enum {
	LOGS_TYPE,
	LOGS_STATUS,
	LOGS_DIRECTION,
	LOGS_CATEGORY,
	LOGS_UID,
	LOGS_GUID,
	LOGS_LIMIT,
	LOGS_ALL,
	LOGS_JSON
};

static int logs_enum(struct cli_parser *p, const char *opt, int (*parse)(const char *),
		     const char *value, int *out)
{
	if ((*out = parse(value)) < 0)
		return cli_usage_error(p->cmd, "--%s: unknown value '%s'", opt, value);
	return -1;
}

static int logs_limit(struct cli_parser *p, const char *value, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (!*value || *end || errno || v < 1 || v > 100)
		return cli_usage_error(p->cmd, "--limit wants 1 to 100, not '%s'", value);
	*out = (int)v;
	return -1;
}

static int logs_option(struct cli_parser *p, int id, const char *value)
{
	struct logs_args *a = p->ctx;

	switch (id) {
	case LOGS_TYPE:
		return logs_enum(p, "type", cli_parse_call_type, value, &a->type);
	case LOGS_STATUS:
		return logs_enum(p, "status", cli_parse_call_status, value, &a->status);
	case LOGS_DIRECTION:
		return logs_enum(p, "direction", cli_parse_direction, value, &a->direction);
	case LOGS_CATEGORY:
		return logs_enum(p, "category", cli_parse_category, value, &a->category);
	case LOGS_UID:
		a->uid = value;
		break;
	case LOGS_GUID:
		a->guid = value;
		break;
	case LOGS_LIMIT:
		return logs_limit(p, value, &a->limit);
	case LOGS_ALL:
		a->all = true;
		break;
	case LOGS_JSON:
		a->json = true;
		break;
	}
	return -1;
}

static int parse_logs(struct cli_parser *p, int argc, char **argv, struct logs_args *a)
{
	static const struct cli_opt opts[] = {
		{"type", LOGS_TYPE, true},
		{"status", LOGS_STATUS, true},
		{"direction", LOGS_DIRECTION, true},
		{"category", LOGS_CATEGORY, true},
		{"uid", LOGS_UID, true},
		{"guid", LOGS_GUID, true},
		{"limit", LOGS_LIMIT, true},
		{"all", LOGS_ALL, false},
		{"json", LOGS_JSON, false},
		{NULL, 0, false},
	};

	p->opts = opts;
	p->fn = logs_option;
	p->ctx = a;
	return cli_parse_plain(p, argc, argv, 0);
}

/* Applies the filters; the library checks what the server would refuse. */
static int logs_filters(cw_call_log_request *req, const struct logs_args *a)
{
	int err = 0;

	/* --all without --limit takes the largest pages, for the fewest round trips. */
	if (a->limit || a->all)
		err = cw_call_log_request_set_limit(req, a->limit ? a->limit : 100);
	if (!err && a->type >= 0)
		err = cw_call_log_request_set_type(req, (cw_call_type)a->type);
	if (!err && a->status >= 0)
		err = cw_call_log_request_set_status(req, (cw_call_status)a->status);
	if (!err && a->direction >= 0)
		err = cw_call_log_request_set_direction(req, (cw_direction)a->direction);
	if (!err && a->category >= 0)
		err = cw_call_log_request_set_category(req, (cw_call_category)a->category);
	if (!err && a->uid)
		err = cw_call_log_request_set_uid(req, a->uid);
	if (!err && a->guid)
		err = cw_call_log_request_set_guid(req, a->guid);
	return err;
}

/* Fetches one page, or every page with all. */
static int fetch(cw_call_log_request *req, bool all, struct pages *p)
{
	cw_call_page *page = NULL;

	do {
		int err = cw_call_log_request_fetch_next_sync(req, 0, &page);
		cw_call_page **v;

		if (err)
			return err;
		if (!(v = realloc(p->v, (p->n + 1) * sizeof(*v)))) {
			cw_call_page_free(page);
			return CW_ERR_NO_MEMORY;
		}
		p->v = v;
		p->v[p->n++] = page;
	} while (all && cw_call_page_count(page) > 0 && cw_call_log_request_has_more(req));
	return 0;
}

static int print_json(const struct pages *p)
{
	json_t *arr = json_array();
	int rc = CLI_EXIT_OK;

	for (size_t i = 0; i < p->n; i++) {
		for (size_t j = 0; j < cw_call_page_count(p->v[i]); j++) {
			char *text = cw_call_to_json(cw_call_page_get(p->v[i], j));
			json_t *call = text ? json_loads(text, 0, NULL) : NULL;

			cw_free(text);
			if (!call || json_array_append_new(arr, call) != 0)
				rc = CLI_EXIT_ERROR;
		}
	}
	if (rc || json_dumpf(arr, stdout, JSON_COMPACT) != 0 || putchar('\n') == EOF) {
		fprintf(stderr, "callwire: cannot print the calls\n");
		rc = CLI_EXIT_ERROR;
	}
	json_decref(arr);
	return rc;
}

/* ---- The table ---------------------------------------------------------------------- */

enum { COL_TIME, COL_DIRECTION, COL_TYPE, COL_WITH, COL_STATUS, COL_DURATION, COL_SESSION, NCOL };

static const char *const headers[NCOL] = {"TIME",   "DIRECTION", "TYPE",   "WITH",
					  "STATUS", "DURATION",	 "SESSION"};

struct row {
	char cell[NCOL][160];
};

static void format_time(int64_t ms, char *buf, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!localtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, size, "%lld", (long long)ms);
}

/* h:mm:ss or m:ss; "-" for a call nobody answered. */
static void format_duration(const cw_call *call, char *buf, size_t size)
{
	long s = (long)(cw_call_get_duration(call) + 0.5);

	if (!cw_call_get_joined_at(call))
		snprintf(buf, size, "-");
	else if (s >= 3600)
		snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

/* The other side: the other user of a 1:1 call, the group (and who rang) of a group call. */
static void format_with(const cw_call *call, bool outgoing, char *buf, size_t size)
{
	const char *receiver = cw_call_get_receiver_id(call);

	if (cw_call_get_receiver_type(call) == CW_RECEIVER_USER)
		snprintf(buf, size, "%s", outgoing ? receiver : cw_call_get_initiator_uid(call));
	else if (outgoing)
		snprintf(buf, size, "group:%s", receiver);
	else
		snprintf(buf, size, "group:%s (%s)", receiver, cw_call_get_initiator_uid(call));
}

static void fill_row(struct row *r, const cw_call *call, const char *me)
{
	bool outgoing = strcmp(cw_call_get_initiator_uid(call), me) == 0;
	const char *status = cw_call_status_str(cw_call_get_status(call));
	const char *type = cw_call_type_str(cw_call_get_type(call));

	format_time(cw_call_get_initiated_at(call), r->cell[COL_TIME], sizeof(r->cell[0]));
	snprintf(r->cell[COL_DIRECTION], sizeof(r->cell[0]), "%s",
		 outgoing ? "outgoing" : "incoming");
	snprintf(r->cell[COL_TYPE], sizeof(r->cell[0]), "%s", type ? type : "?");
	format_with(call, outgoing, r->cell[COL_WITH], sizeof(r->cell[0]));
	snprintf(r->cell[COL_STATUS], sizeof(r->cell[0]), "%s", status ? status : "?");
	format_duration(call, r->cell[COL_DURATION], sizeof(r->cell[0]));
	snprintf(r->cell[COL_SESSION], sizeof(r->cell[0]), "%s", cw_call_get_session_id(call));
}

static void print_row(const char *const cells[NCOL], const size_t width[NCOL])
{
	for (int c = 0; c < NCOL - 1; c++)
		printf("%-*s  ", (int)width[c], cells[c]);
	printf("%s\n", cells[NCOL - 1]);
}

static void print_rows(const struct row *rows, size_t n)
{
	size_t width[NCOL];
	const char *cells[NCOL];

	for (int c = 0; c < NCOL; c++) {
		width[c] = strlen(headers[c]);
		for (size_t i = 0; i < n; i++)
			if (strlen(rows[i].cell[c]) > width[c])
				width[c] = strlen(rows[i].cell[c]);
	}
	print_row(headers, width);
	for (size_t i = 0; i < n; i++) {
		for (int c = 0; c < NCOL; c++)
			cells[c] = rows[i].cell[c];
		print_row(cells, width);
	}
}

static int print_table(const struct pages *p, cw_client *client)
{
	cw_user *me = cw_get_logged_in_user(client);
	struct row *rows = NULL;
	size_t n = 0, total = 0;

	for (size_t i = 0; i < p->n; i++)
		total += cw_call_page_count(p->v[i]);
	if (!me)
		return cli_fail(CW_ERR_NOT_LOGGED_IN);
	if (total == 0) {
		printf("no calls\n");
		goto out;
	}
	if (!(rows = calloc(total, sizeof(*rows)))) {
		cw_user_unref(me);
		return cli_fail(CW_ERR_NO_MEMORY);
	}
	for (size_t i = 0; i < p->n; i++)
		for (size_t j = 0; j < cw_call_page_count(p->v[i]); j++)
			fill_row(&rows[n++], cw_call_page_get(p->v[i], j), cw_user_get_uid(me));
	print_rows(rows, n);
out:
	free(rows);
	cw_user_unref(me);
	return CLI_EXIT_OK;
}

/* ---- The command -------------------------------------------------------------------- */

static int run_logs(const struct cli_command *cmd, const struct logs_args *a, cw_client *client)
{
	cw_call_log_request *req = NULL;
	struct pages p = {0};
	int err, rc;

	if ((err = cw_call_log_request_new(&req, client)) != 0)
		return cli_fail(err);
	if ((err = logs_filters(req, a)) != 0) {
		rc = err == CW_ERR_INVALID_ARGUMENT
			     ? cli_usage_error(cmd, "%s", cw_last_error_message())
			     : cli_fail(err);
		goto out;
	}
	if ((err = fetch(req, a->all, &p)) != 0) {
		rc = cli_fail(err);
		goto out;
	}
	rc = a->json ? print_json(&p) : print_table(&p, client);
	if (!rc && !a->all && !a->json && cw_call_log_request_has_more(req))
		fprintf(stderr, "callwire: more calls: pass --all, or a larger --limit\n");
out:
	for (size_t i = 0; i < p.n; i++)
		cw_call_page_free(p.v[i]);
	free(p.v);
	cw_call_log_request_free(req);
	return rc;
}

int cli_cmd_logs(int argc, char **argv)
{
	struct cli_parser p = {.cmd = cli_command_find("logs")};
	struct logs_args a = {.type = -1, .status = -1, .direction = -1, .category = -1};
	cw_client *client = NULL;
	int rc;

	if ((rc = parse_logs(&p, argc, argv, &a)) >= 0)
		return rc;
	if ((rc = cli_open(&p.common, &client, NULL, NULL)) != 0)
		return rc;
	rc = run_logs(p.cmd, &a, client);
	if (fflush(stdout) != 0 && !rc)
		rc = CLI_EXIT_ERROR;
	cw_client_free(client);
	return rc;
}
