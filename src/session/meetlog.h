/* meetlog: the call-log entry of a meet session (category "meet"): made or reopened at
 * its first join, participants added as they join and leave, ended with the session. */
#ifndef CW_SESSION_MEETLOG_H
#define CW_SESSION_MEETLOG_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct cw_meetlog {
	bool open; /* rec holds the session's entry */
	struct cw_call_record rec;
};

/* uid joined the session (video: the session may carry video). Writes the entry. */
int cw_meetlog_join(struct cw_meetlog *m, struct cw_store *store, const char *app_id,
		    const char *session_id, const char *uid, bool video, int64_t now);
/* uid's last participant left the session. */
int cw_meetlog_leave(struct cw_meetlog *m, struct cw_store *store, const char *uid, int64_t now);
/* The session ended: everyone still in leaves, the entry is ended. Frees m's memory. */
int cw_meetlog_end(struct cw_meetlog *m, struct cw_store *store, int64_t now);

#endif
