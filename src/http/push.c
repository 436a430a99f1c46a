/* push: an app's push settings: APNs and FCM credentials and endpoint overrides. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/internal.h"
#include "store/push_store.h"
#include "util/util.h"

#define ADMIN CW_ALLOW(CW_CRED_MASTER) | CW_ALLOW(CW_CRED_REST)

/* The settings as GET shows them: never a key, only whether one is set. */
static json_t *push_json(const struct cw_push_config *c)
{
	json_t *apns = json_null(), *fcm = json_null(), *sa;

	if (c->apns_key)
		apns = json_pack("{s:s?,s:s?,s:s?,s:s,s:b}", "teamId", c->apns_team_id, "keyId",
				 c->apns_key_id, "bundleId", c->apns_bundle_id, "environment",
				 c->apns_production ? "production" : "sandbox", "keySet", 1);
	if (c->fcm_service_account) {
		sa = json_loads(c->fcm_service_account, 0, NULL);
		fcm = json_pack("{s:s?,s:s?,s:b}", "projectId",
				json_string_value(json_object_get(sa, "project_id")), "clientEmail",
				json_string_value(json_object_get(sa, "client_email")), "keySet",
				1);
		json_decref(sa);
	}
	return json_pack("{s:b,s:o,s:o,s:{s:s?,s:s?,s:s?,s:s?}}", "pushAlways", c->push_always,
			 "apns", apns, "fcm", fcm, "endpoints", "apns", c->apns_url, "fcm",
			 c->fcm_url, "oauth", c->oauth_url, "caFile", c->ca_file);
}

/* Whether the server can read path as a regular file now. O_NONBLOCK: opening a FIFO must
 * not hang the loop. */
static bool readable_file(const char *path)
{
	struct stat st;
	bool ok;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return false;
	ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	close(fd);
	return ok;
}

void cw_h_push_get(struct cw_req *req)
{
	struct cw_push_config c;
	int err;

	if (!cw_req_app_auth(req, ADMIN))
		return;
	if ((err = cw_store_push_config_get(req->store, req->app.id, &c))) {
		cw_reply_errno(req, err, "app");
		return;
	}
	cw_reply_json(req, 200, push_json(&c));
	cw_push_config_free(&c);
}

void cw_h_push_patch(struct cw_req *req)
{
	struct cw_push_config c;
	struct cw_verr e;
	json_t *body;
	int err;

	if (!cw_req_app_auth(req, ADMIN) || !(body = cw_req_body(req, false)))
		return;
	if ((err = cw_store_push_config_get(req->store, req->app.id, &c))) {
		cw_reply_errno(req, err, "app");
		json_decref(body);
		return;
	}
	if (cw_check_push_patch(body, &c, &e)) {
		cw_reply_error(req, CW_E_BAD_REQUEST, "%s", e.msg);
		goto out;
	}
	/* Checked when it is set, so a typo shows now rather than as failing pushes later. */
	if (json_is_string(json_object_get(json_object_get(body, "endpoints"), "caFile")) &&
	    !readable_file(c.ca_file)) {
		cw_reply_error(req, CW_E_BAD_REQUEST,
			       "endpoints.caFile: not a file the server can read");
		goto out;
	}
	if ((err = cw_store_push_config_set(req->store, req->app.id, &c))) {
		cw_reply_errno(req, err, "app");
		goto out;
	}
	cw_info("push.settings", "app=%s apns=%s fcm=%s push_always=%s", req->app.id,
		c.apns_key ? "set" : "none", c.fcm_service_account ? "set" : "none",
		c.push_always ? "true" : "false");
	cw_reply_json(req, 200, push_json(&c));
out:
	cw_push_config_free(&c);
	json_decref(body);
}
