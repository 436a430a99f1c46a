/* cli private: configuration and the subcommands of the `callwire` command. */
#ifndef CW_CLI_H
#define CW_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/auth.h"
#include "cli/commands.h"
#include "store/store.h"

#define CW_DEFAULT_LISTEN "127.0.0.1:8080"
#define CW_DEFAULT_DATA "./data"

struct cw_config {
	char listen[256];
	char data[1024];
	char master_key[CW_SECRET_MAX]; /* empty: use <data>/master.key */
	char log_level[16];
	int demo;	       /* create a demo app in a new data folder */
	char media_ports[32];  /* "MIN-MAX" UDP ports of the media workers; "" = any */
	char public_ip[256];   /* addresses put into ICE candidates, comma-separated */
	char media_workers[8]; /* worker threads; "" = one per core */
	char web[1024];	       /* the browser client's folder; "" = the default; "none" */
};

/* Fills cfg from, in increasing precedence: defaults, the config file (--config FILE or
 * CALLWIRE_CONFIG), environment variables, then command-line flags. Returns 0, or -EINVAL
 * with a message in err. */
int cw_config_load(struct cw_config *cfg, int argc, char **argv, char *err, size_t errsz);

/* Splits "host:port". Returns 0 or -EINVAL. */
int cw_parse_listen(const char *listen, char *host, size_t hostsz, int *port);

/* Creates the demo app (alice, bob, carol, and the group team of all three) when the store
 * has no app yet, and prints how to log in: first in the browser client when the server
 * serves it (browser), then from the command line. Credentials are kept in
 * <data>/demo.json (mode 0600) and reprinted later. */
int cw_demo_ensure(struct cw_store *store, const char *data_dir, const char *listen, bool browser);

#endif
