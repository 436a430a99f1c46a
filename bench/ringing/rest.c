/* rest: benchmark set-up over the REST API with libcurl's multi interface. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "rest.h"

#define IN_FLIGHT 32
#define TRIES 3

struct job {
	char url[512];
	char body[256];
	char *resp;
	size_t resp_len;
	long status;
	int tries;
	const char *bearer;	    /* this job's token, instead of run()'s key */
	struct curl_slist *headers; /* with it */
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
	struct job *j = user;
	size_t n = size * nmemb;
	char *b = realloc(j->resp, j->resp_len + n + 1);

	if (!b)
		return 0;
	memcpy(b + j->resp_len, data, n);
	j->resp = b;
	j->resp_len += n;
	b[j->resp_len] = '\0';
	return n;
}

static CURL *easy_for(struct job *j, struct curl_slist *headers)
{
	CURL *e = curl_easy_init();

	if (!e)
		return NULL;
	free(j->resp);
	j->resp = NULL;
	j->resp_len = 0;
	if (j->bearer && !j->headers) {
		char auth[1100];
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", j->bearer);
		j->headers = curl_slist_append(NULL, auth);
		j->headers = curl_slist_append(j->headers, "Content-Type: application/json");
	}
	curl_easy_setopt(e, CURLOPT_URL, j->url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers ? j->headers : headers);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(e, CURLOPT_PRIVATE, j);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	return e;
}

/* Runs every job with IN_FLIGHT at a time; a transfer error is retried. ok_also is a
 * status accepted besides 2xx (409 for users that exist), 0 for none. */
static int run(struct job *jobs, size_t n, const char *key, long ok_also)
{
	struct curl_slist *headers = NULL;
	char auth[300];
	size_t next = 0, running = 0;
	int rc = 0;
	CURLM *m = curl_multi_init();

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
	headers = curl_slist_append(headers, auth);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)IN_FLIGHT);
	while ((next < n || running) && rc == 0) {
		CURLMsg *msg;
		int still, left;
		while (next < n && running < IN_FLIGHT) {
			CURL *e = easy_for(&jobs[next++], headers);
			if (!e || curl_multi_add_handle(m, e) != CURLM_OK) {
				rc = -1;
				break;
			}
			running++;
		}
		curl_multi_perform(m, &still);
		while ((msg = curl_multi_info_read(m, &left))) {
			struct job *j;
			CURL *e = msg->easy_handle;
			CURLcode result = msg->data.result; /* msg dies with the handle */
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&j);
			curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &j->status);
			curl_multi_remove_handle(m, e);
			curl_easy_cleanup(e);
			running--;
			if (result != CURLE_OK && ++j->tries < TRIES) {
				e = easy_for(j, headers);
				if (e && curl_multi_add_handle(m, e) == CURLM_OK)
					running++;
				continue;
			}
			if (result != CURLE_OK ||
			    ((j->status < 200 || j->status > 299) && j->status != ok_also)) {
				fprintf(stderr, "ringing: POST %s: %s status %ld %s\n", j->url,
					curl_easy_strerror(result), j->status,
					j->resp ? j->resp : "");
				rc = -1;
			}
		}
		if (rc == 0 && (next < n || running))
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	curl_multi_cleanup(m);
	curl_slist_free_all(headers);
	return rc;
}

/* Takes the string field of each job's JSON answer into out[i] (malloc'd). 0 or -1. */
static int take_field(struct job *jobs, size_t n, const char *field, char **out)
{
	for (size_t i = 0; i < n; i++) {
		json_t *j = json_loads(jobs[i].resp ? jobs[i].resp : "", 0, NULL);
		const char *t = json_string_value(json_object_get(j, field));
		out[i] = t ? strdup(t) : NULL;
		json_decref(j);
		if (!out[i]) {
			fprintf(stderr, "ringing: no %s in %s\n", field, jobs[i].resp);
			return -1;
		}
	}
	return 0;
}

static void jobs_free(struct job *jobs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(jobs[i].resp);
		curl_slist_free_all(jobs[i].headers);
	}
	free(jobs);
}

int rest_users_and_tokens(const char *base, const char *app, const char *key, char **uids, size_t n,
			  size_t per_user, char **tokens)
{
	size_t ntok = n * per_user;
	struct job *jobs = calloc(ntok > n ? ntok : n, sizeof(*jobs));
	int rc = -1;

	if (!jobs)
		return -1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (size_t i = 0; i < n; i++) {
		snprintf(jobs[i].url, sizeof(jobs[i].url), "%s/v1/apps/%s/users", base, app);
		snprintf(jobs[i].body, sizeof(jobs[i].body), "{\"uid\":\"%s\",\"name\":\"%s\"}",
			 uids[i], uids[i]);
	}
	if (run(jobs, n, key, 409) != 0)
		goto out;
	for (size_t i = 0; i < ntok; i++) {
		free(jobs[i].resp);
		memset(&jobs[i], 0, sizeof(jobs[i]));
		snprintf(jobs[i].url, sizeof(jobs[i].url), "%s/v1/apps/%s/users/%s/auth_tokens",
			 base, app, uids[i / per_user]);
		strcpy(jobs[i].body, "{}");
	}
	if (run(jobs, ntok, key, 0) != 0 || take_field(jobs, ntok, "authToken", tokens) != 0)
		goto out;
	rc = 0;
out:
	jobs_free(jobs, ntok > n ? ntok : n);
	curl_global_cleanup();
	return rc;
}

int rest_call_tokens(const char *base, const char *app, char *const *auth, char *const *sids,
		     size_t n, char **call_tokens)
{
	struct job *jobs = calloc(n ? n : 1, sizeof(*jobs));
	int rc = -1;

	if (!jobs)
		return -1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (size_t i = 0; i < n; i++) {
		snprintf(jobs[i].url, sizeof(jobs[i].url), "%s/v1/apps/%s/sessions/%s/token", base,
			 app, sids[i]);
		strcpy(jobs[i].body, "{}");
		jobs[i].bearer = auth[i];
	}
	if (run(jobs, n, "", 0) == 0 && take_field(jobs, n, "callToken", call_tokens) == 0)
		rc = 0;
	jobs_free(jobs, n);
	curl_global_cleanup();
	return rc;
}
