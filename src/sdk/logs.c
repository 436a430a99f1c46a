/* logs: the call log request builder and its keyset paging. */
#include <stdlib.h>
#include <string.h>

#include "sdk.h"

struct cw_call_log_request {
	cw_client *c;
	json_t *filters;
	char *cursor;
	bool started;
	atomic_bool more; /* written by the network thread, read by has_more */
	atomic_bool busy;
};

int cw_call_log_request_new(cw_call_log_request **rp, cw_client *c)
{
	cw_call_log_request *r;

	if (!rp || !c) {
		cw__set_error(CW_ERR_INVALID_ARGUMENT, NULL);
		return CW_ERR_INVALID_ARGUMENT;
	}
	*rp = NULL;
	r = calloc(1, sizeof(*r));
	if (!r || !(r->filters = json_object())) {
		free(r);
		cw__set_error(CW_ERR_NO_MEMORY, NULL);
		return CW_ERR_NO_MEMORY;
	}
	r->c = c;
	atomic_init(&r->more, true);
	atomic_init(&r->busy, false);
	*rp = r;
	return 0;
}

void cw_call_log_request_free(cw_call_log_request *r)
{
	if (!r)
		return;
	json_decref(r->filters);
	free(r->cursor);
	free(r);
}

static int set_error(int err, const char *message)
{
	cw__set_error(err, message);
	return err;
}

/* Sets key to value (taken); valid says whether the caller's argument was acceptable. */
static int set_filter(cw_call_log_request *r, const char *key, bool valid, json_t *value)
{
	int err = 0;

	if (!r || !valid)
		err = set_error(CW_ERR_INVALID_ARGUMENT, "invalid filter value");
	else if (r->started || atomic_load(&r->busy))
		err = set_error(CW_ERR_BUSY, "filters are set before the first fetch");
	else if (!value || json_object_set_new(r->filters, key, json_incref(value)) != 0)
		err = set_error(CW_ERR_NO_MEMORY, NULL);
	json_decref(value);
	return err;
}

static int set_name(cw_call_log_request *r, const char *key, const char *name)
{
	return set_filter(r, key, name != NULL, name ? json_string(name) : NULL);
}

int cw_call_log_request_set_limit(cw_call_log_request *r, int limit)
{
	bool valid = limit >= 1 && limit <= 100;

	return set_filter(r, "limit", valid, valid ? json_integer(limit) : NULL);
}

int cw_call_log_request_set_type(cw_call_log_request *r, cw_call_type type)
{
	return set_name(r, "type", cw_call_type_str(type));
}

int cw_call_log_request_set_status(cw_call_log_request *r, cw_call_status status)
{
	return set_name(r, "status", cw_call_status_str(status));
}

int cw_call_log_request_set_direction(cw_call_log_request *r, cw_direction direction)
{
	return set_name(r, "direction", cw_direction_str(direction));
}

int cw_call_log_request_set_uid(cw_call_log_request *r, const char *uid)
{
	return set_name(r, "uid", uid && *uid ? uid : NULL);
}

int cw_call_log_request_set_guid(cw_call_log_request *r, const char *guid)
{
	return set_name(r, "guid", guid && *guid ? guid : NULL);
}

int cw_call_log_request_set_category(cw_call_log_request *r, cw_call_category category)
{
	return set_name(r, "category", cw_call_category_str(category));
}

int cw_call_log_request_set_has_recording(cw_call_log_request *r, bool has_recording)
{
	return set_filter(r, "hasRecording", true, json_boolean(has_recording));
}

bool cw_call_log_request_has_more(const cw_call_log_request *r)
{
	return r && atomic_load(&r->more);
}

static int page_from(cw_call_page **pagep, json_t *data)
{
	cw_call_page *page = calloc(1, sizeof(*page));
	json_t *item;
	size_t i;
	int err = 0;

	*pagep = NULL;
	if (!page)
		return CW_ERR_NO_MEMORY;
	atomic_init(&page->refs, 1);
	if (json_array_size(data) > 0) {
		page->calls = calloc(json_array_size(data), sizeof(*page->calls));
		if (!page->calls)
			err = CW_ERR_NO_MEMORY;
	}
	json_array_foreach (data, i, item) {
		if (err || (err = cw__call_from_json(&page->calls[i], item)) != 0)
			break;
		page->n++;
	}
	if (err) {
		cw_call_page_free(page);
		return err;
	}
	*pagep = page;
	return 0;
}

static void finish_page(struct cw__req *req, int err, const char *message, json_t *result)
{
	cw_call_log_request *r = req->extra;
	cw_page_cb cb = (cw_page_cb)req->cb;
	cw_call_page *page = NULL;
	json_t *data = json_object_get(result, "data"), *next = json_object_get(result, "next");

	if (!err && req->kind == CW__REQ_WS && (!json_is_array(data) || !next))
		err = CW_ERR_PROTOCOL;
	if (!err)
		err = page_from(&page, data);
	if (!err && req->kind == CW__REQ_WS) {
		char *cursor = json_is_string(next) ? strdup(json_string_value(next)) : NULL;
		if (json_is_string(next) && !cursor) {
			err = CW_ERR_NO_MEMORY;
		} else {
			free(r->cursor);
			r->cursor = cursor;
			atomic_store(&r->more, cursor != NULL);
		}
	}
	if (err) {
		cw_call_page_free(page);
		page = NULL;
	}
	/* The request may be fetched again (or freed) from inside the callback. */
	atomic_store(&r->busy, false);
	if (cb)
		cb(req->c, err, err ? (message ? message : cw_strerror(err)) : NULL, page,
		   req->arg);
	cw_call_page_free(page);
}

static int fetch(cw_call_log_request *r, int timeout_ms, cw_page_cb cb, void *arg)
{
	struct cw__req *req;
	json_t *params = NULL;
	bool expected = false, more;
	int err;

	if (!r) {
		cw__set_error(CW_ERR_INVALID_ARGUMENT, NULL);
		return CW_ERR_INVALID_ARGUMENT;
	}
	if (!atomic_compare_exchange_strong(&r->busy, &expected, true)) {
		cw__set_error(CW_ERR_BUSY, "a fetch of this request is running");
		return CW_ERR_BUSY;
	}
	more = atomic_load(&r->more);
	if (more) {
		params = json_deep_copy(r->filters);
		if (params && r->cursor)
			json_object_set_new(params, "cursor", json_string(r->cursor));
	}
	/* After the last page: an empty page, still through the callback. */
	err = cw__req_new(&req, r->c, more ? CW__REQ_WS : CW__REQ_LOCAL, "calls.list", params,
			  finish_page, (void *)cb, arg);
	if (!err) {
		req->extra = r;
		req->idempotent = true;
		req->deadline = cw__now_ms() + cw__timeout_of(r->c, timeout_ms);
		err = cw__submit(r->c, req, true);
	}
	if (!err)
		r->started = true;
	if (err)
		atomic_store(&r->busy, false);
	return err;
}

int cw_call_log_request_fetch_next(cw_call_log_request *r, cw_page_cb cb, void *arg)
{
	return fetch(r, 0, cb, arg);
}

static void sync_page_cb(cw_client *c, int err, const char *message, cw_call_page *page, void *arg)
{
	struct cw__waiter *w = arg;

	(void)c;
	w->page = cw__page_ref(page);
	cw__wait_done(w, err, message);
}

int cw_call_log_request_fetch_next_sync(cw_call_log_request *r, int timeout_ms,
					cw_call_page **pagep)
{
	struct cw__waiter w;
	int err;

	if (pagep)
		*pagep = NULL;
	if (!r) {
		cw__set_error(CW_ERR_INVALID_ARGUMENT, NULL);
		return CW_ERR_INVALID_ARGUMENT;
	}
	err = cw__wait_begin(r->c, &w);
	if (err)
		return err;
	err = cw__wait_end(&w, fetch(r, timeout_ms, sync_page_cb, &w));
	if (pagep)
		*pagep = w.page;
	else
		cw_call_page_free(w.page);
	return err;
}
