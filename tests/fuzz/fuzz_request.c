/* libFuzzer target: arbitrary bytes as a request body, through every body validator. */
#include <stdint.h>
#include <stdlib.h>

#include "http/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char(*ids)[CW_UID_MAX + 1];
	const char *s1, *s2;
	struct cw_settings settings;
	struct cw_user user;
	struct cw_group group;
	struct cw_verr e;
	unsigned fields;
	long long ttl;
	json_t *body;
	size_t n;

	if (cw_parse_object((const char *)data, size, &body, &e) != 0)
		return 0;

	cw_check_app_create(body, &s1, &e);
	cw_settings_default(&settings);
	cw_check_settings(body, &settings, &e);
	if (cw_check_user_create(body, &user, &e) == 0) {
		cw_check_user_patch(body, &user, &fields, &e);
		cw_user_free(&user);
	}
	if (cw_check_group_create(body, &group, &e) == 0)
		cw_group_free(&group);
	if (cw_get_id_array(body, "uids", true, &ids, &n, &e) == 0)
		free(ids);
	cw_check_token_create(body, &ttl, &e);
	cw_check_login(body, &s1, &s2, &e);
	{
		struct cw_initiate cc;
		bool flag;
		if (cw_check_call_create(body, &cc, &e) == 0)
			free(cc.metadata);
		cw_check_reject(body, &flag, &e);
		cw_check_end(body, &flag, &e);
	}
	{
		struct cw_push_config config = {0};
		struct cw_push_token token;
		bool given, rotate;
		char *urls;

		if (cw_check_push_token(body, &token, &given, &e) == 0)
			cw_push_token_free(&token);
		cw_check_push_patch(body, &config, &e);
		cw_push_config_free(&config);
		if (cw_check_webhooks_patch(body, &urls, &given, &rotate, &e) == 0)
			free(urls);
	}
	json_decref(body);
	return 0;
}
