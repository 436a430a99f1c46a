/* client private: what the client subcommands of `callwire` share (built on libcallwire only). */
#ifndef CW_CLI_CLIENT_H
#define CW_CLI_CLIENT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <callwire/callwire.h>

#include "cli/commands.h"

/* The exit codes of the client commands; docs/cli.md and `callwire help` list them. */
enum cli_exit {
	CLI_EXIT_OK = 0,	  /* done; for `call --wait`: the call was answered */
	CLI_EXIT_ERROR = 1,	  /* the server or the library refused or failed */
	CLI_EXIT_USAGE = 2,	  /* bad command line */
	CLI_EXIT_LOGIN = 3,	  /* no login, or the server refused its credentials */
	CLI_EXIT_REJECTED = 10,	  /* `call --wait`: the callee declined */
	CLI_EXIT_BUSY = 11,	  /* `call --wait`: the callee was busy */
	CLI_EXIT_UNANSWERED = 12, /* `call --wait`: nobody answered in time */
	CLI_EXIT_CANCELLED = 13	  /* `call --wait`: the call was cancelled before an answer */
};

/* One client subcommand: argv[0] is its name; returns an exit code. */
struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *synopsis; /* the arguments after the name */
	const char *help;     /* what it does, options and exit codes */
};

/* Options every client command takes. */
struct cli_common {
	const char *session; /* --session FILE, or NULL for the default */
};

/* An option of one command: "--name", or with has_arg "--name VALUE" or "--name=VALUE". */
struct cli_opt {
	const char *name;
	int id;
	bool has_arg;
};

struct cli_parser;
/* Takes one option given on the command line; returns -1 to go on, else an exit code. */
typedef int (*cli_opt_fn)(struct cli_parser *p, int id, const char *value);

#define CLI_MAX_ARGS 4

/* A command line being parsed: what the command declares, then what was found. */
struct cli_parser {
	const struct cli_command *cmd;
	const struct cli_opt *opts; /* the command's own options, up to {NULL}; may be NULL */
	cli_opt_fn fn;
	void *ctx; /* for fn */
	struct cli_common common;
	char *args[CLI_MAX_ARGS]; /* the first positional arguments */
	int nargs;		  /* how many were given */
};

/* Parses argv[1…]. --session and --help (or -h) belong to every command; "--" ends the
 * options. Every other argument is positional, even one that starts with a single '-'
 * (session ids and uids may). Returns -1 to go on, else the exit code to return at once:
 * 0 after printing the help, CLI_EXIT_USAGE after explaining the mistake. */
int cli_parse(struct cli_parser *p, int argc, char **argv);
/* cli_parse for a command without options of its own that takes exactly nargs
 * arguments. */
int cli_parse_plain(struct cli_parser *p, int argc, char **argv, int nargs);
/* The command's table entry, for its usage and help. */
const struct cli_command *cli_command_find(const char *name);

/* Prints "callwire NAME: <message>" and the synopsis to stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prints "callwire: CW_ERR_NAME: message" for err (the message of this thread's last
 * failed call) and returns the exit code: CLI_EXIT_LOGIN for a missing or refused login,
 * else CLI_EXIT_ERROR. */
int cli_fail(int err);

/* Where the session lives: --session, $CALLWIRE_SESSION, $XDG_CONFIG_HOME/callwire/
 * session.json, ~/.config/callwire/session.json. Returns 0, or CLI_EXIT_ERROR when no
 * path can be formed (message printed). */
int cli_session_path(const char *option, char *path, size_t size);

/* Called with the new client before its login is restored, so that listeners see the
 * first connection. Returns 0 or a CW_ERR_* code. */
typedef int (*cli_setup_fn)(cw_client *client, void *arg);

/* Opens the client of the session file: reads its server and app, creates the client,
 * runs setup (may be NULL), restores the login. On failure prints why (telling the user
 * to log in when there is no login) and returns an exit code; *clientp is then NULL. */
int cli_open(const struct cli_common *common, cw_client **clientp, cli_setup_fn setup, void *arg);

/* Prints the call as one line of contract JSON on stdout ("null" for NULL) and flushes.
 * Returns 0 or CLI_EXIT_ERROR. */
int cli_print_call(const cw_call *call);

/*
 * Waiting in the main thread. SIGINT and SIGTERM are blocked in every thread (call
 * cli_waiter_init before cw_client_new, so the network thread inherits the mask) and
 * unblocked only while cli_waiter_wait sleeps, so a signal always ends a wait and never
 * lands in the library's thread. Callbacks on the network thread wake the main thread
 * with cli_waiter_wake.
 */
struct cli_waiter {
	int pipe[2];
	sigset_t blocked; /* the mask before init, restored by cli_waiter_close */
};

int cli_waiter_init(struct cli_waiter *w);
void cli_waiter_close(struct cli_waiter *w);
/* Safe from any thread. */
void cli_waiter_wake(struct cli_waiter *w);
/* Sleeps until woken (returns 1) or until SIGINT/SIGTERM (returns 0). */
int cli_waiter_wait(struct cli_waiter *w);

/* Name -> value for the contract's strings ("audio", "rejected", …); -1 when unknown. */
int cli_parse_call_type(const char *s);
int cli_parse_call_status(const char *s);
int cli_parse_direction(const char *s);
int cli_parse_category(const char *s);

/* The commands. */
int cli_cmd_login(int argc, char **argv);
int cli_cmd_logout(int argc, char **argv);
int cli_cmd_listen(int argc, char **argv);
int cli_cmd_call(int argc, char **argv);
int cli_cmd_accept(int argc, char **argv);
int cli_cmd_reject(int argc, char **argv);
int cli_cmd_cancel(int argc, char **argv);
int cli_cmd_end(int argc, char **argv);
int cli_cmd_get(int argc, char **argv);
int cli_cmd_active(int argc, char **argv);
int cli_cmd_logs(int argc, char **argv);

#endif
