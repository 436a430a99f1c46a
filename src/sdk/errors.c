/* errors: the error list, its names and texts, and the per-thread last message. */
#include <stdio.h>
#include <string.h>

#include "sdk.h"

static _Thread_local char last_message[512];

const char *cw_strerror(int err)
{
	switch (err) {
	case CW_OK:
		return "success";
#define CW__ERR_TEXT(name, value, text)                                                            \
	case CW_ERR_##name:                                                                        \
		return text;
		CW_ERRNO_MAP(CW__ERR_TEXT)
#undef CW__ERR_TEXT
	default:
		return "unknown error";
	}
}

const char *cw_err_name(int err)
{
	switch (err) {
	case CW_OK:
		return "CW_OK";
#define CW__ERR_NAME(name, value, text)                                                            \
	case CW_ERR_##name:                                                                        \
		return "CW_ERR_" #name;
		CW_ERRNO_MAP(CW__ERR_NAME)
#undef CW__ERR_NAME
	default:
		return "CW_ERR_UNKNOWN";
	}
}

int cw__err_from_code(const char *code)
{
	static const struct {
		const char *code;
		int err;
	} map[] = {
#define CW__ERR_CODE(name, value, text) {"ERR_" #name, CW_ERR_##name},
		CW_ERRNO_MAP(CW__ERR_CODE)
#undef CW__ERR_CODE
	};

	/* Only the server's codes: the entries from BAD_REQUEST on. */
	for (size_t i = 0; code && i < CW__ARRAY_SIZE(map); i++) {
		if (map[i].err <= CW_ERR_BAD_REQUEST && strcmp(map[i].code, code) == 0)
			return map[i].err;
	}
	return CW_ERR_SERVER;
}

void cw__set_error(int err, const char *message)
{
	snprintf(last_message, sizeof(last_message), "%s",
		 message && *message ? message : cw_strerror(err));
}

int cw__fail(int err, const char *message)
{
	cw__set_error(err, message);
	return err;
}

const char *cw_last_error_message(void)
{
	return last_message[0] ? last_message : "success";
}
