/* client: dispatch, session file and shared helpers of the client commands; login, logout. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/client.h"
#include "cli/phone.h"

#define SESSION_OPT "[--session FILE]"
#define MEDIA_OPTS                                                                                 \
	"--audio-in F.wav | --tone HZ] [--loop] [--audio-out F.wav] [--duration S]\n"              \
	"       [--video-pattern WxH] [--video-out F.y4m] [--receive-loss N"

static const struct cli_command commands[] = {
	{"login", cli_cmd_login,
	 "--server URL --app APP (--uid UID --auth-key KEY | --token TOKEN) " SESSION_OPT,
	 "Logs in and keeps the login in the session file (mode 0600) for the other commands.\n"
	 "--server defaults to $CALLWIRE_SERVER. --auth-key is the app's development login;\n"
	 "--token is an auth token minted by the app's backend.\n"},
	{"logout", cli_cmd_logout, SESSION_OPT,
	 "Revokes the session's auth token on the server and removes the session file.\n"},
	{"listen", cli_cmd_listen, SESSION_OPT,
	 "Prints every call and connection event as one JSON line, until SIGINT or SIGTERM\n"
	 "(exit 0). Call events: {\"event\":NAME,\"call\":CALL} with NAME one of\n"
	 "incoming_call_received, outgoing_call_accepted, outgoing_call_rejected,\n"
	 "outgoing_call_cancelled, incoming_call_cancelled, call_ended, accepted_elsewhere,\n"
	 "rejected_elsewhere, participant_joined, participant_left (these two add \"uid\").\n"
	 "Connection events: connected, disconnected (\"error\"), reconnecting (\"attempt\",\n"
	 "\"delayMs\"), reconnected (\"resumed\"). Exits 3 when the server refuses the token.\n"},
	{"call", cli_cmd_call,
	 "(UID | --group GUID) [--video] [--timeout S] [--metadata JSON] [--wait]\n"
	 "       [" MEDIA_OPTS "] " SESSION_OPT,
	 "Rings a user or a group and prints the call. --timeout: ring for S seconds (5-300;\n"
	 "default: the app's ringTimeout). --metadata: a JSON object handed to the callee.\n"
	 "--wait: stay until the outcome, print the call again, and exit 0 when answered,\n"
	 "10 rejected, 11 busy, 12 unanswered, 13 cancelled. SIGINT or SIGTERM while waiting\n"
	 "cancels the call (exit 13). Without --wait the caller's connection closes at once,\n"
	 "so the server cancels the ringing call after the app's reconnectGrace unless another\n"
	 "device of the caller is connected.\n"
	 "With a media option it is a softphone: it rings, and once the call is accepted joins\n"
	 "its session, plays --audio-in (a WAV file; --loop: again and again) or --tone HZ,\n"
	 "records what it hears to --audio-out (48 kHz mono WAV), prints the session's events\n"
	 "and at the end its counters as JSON lines, and hangs up after --duration S seconds\n"
	 "or on SIGINT/SIGTERM. --receive-loss N drops N per mille of what arrives (tests).\n"
	 "--video-pattern WxH sends the test pattern as video (a video call); --video-out\n"
	 "records the first video it sees to a Y4M file.\n"},
	{"answer", cli_cmd_answer, "[" MEDIA_OPTS "] " SESSION_OPT,
	 "Waits for the next call ringing this user (or takes the one ringing now), accepts\n"
	 "it and stays in its session like `call` with media options does.\n"},
	{"join", cli_cmd_join, "SESSION [" MEDIA_OPTS "] " SESSION_OPT,
	 "Joins a meeting session (any session id) like `call` with media options does, and\n"
	 "leaves after --duration S seconds or on SIGINT/SIGTERM.\n"},
	{"accept", cli_cmd_accept, "SESSION " SESSION_OPT,
	 "Answers a call ringing this user and prints it.\n"},
	{"reject", cli_cmd_reject, "SESSION [--busy] " SESSION_OPT,
	 "Declines a call ringing this user (--busy: as busy) and prints it.\n"},
	{"cancel", cli_cmd_cancel, "SESSION " SESSION_OPT,
	 "Stops ringing this user's own call and prints it.\n"},
	{"end", cli_cmd_end, "SESSION [--all] " SESSION_OPT,
	 "Leaves an ongoing call (a 1:1 call ends) and prints it. --all: end a group call for\n"
	 "everyone (its initiator only).\n"},
	{"get", cli_cmd_get, "SESSION " SESSION_OPT, "Prints a call this user took part in.\n"},
	{"active", cli_cmd_active, SESSION_OPT,
	 "Prints this user's ringing or ongoing call, or null.\n"},
	{"logs", cli_cmd_logs,
	 "[--type audio|video] [--status S] [--direction incoming|outgoing] [--uid U]\n"
	 "       [--guid G] [--category call|meet] [--limit N] [--all] [--json] " SESSION_OPT,
	 "Prints the user's calls, newest first, as a table: one page (--limit N calls, 1-100;\n"
	 "default 30), or every page with --all. --json prints them as one JSON array.\n"
	 "--status: initiated, ongoing, ended, rejected, cancelled, busy or unanswered.\n"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char exit_codes[] =
	"exit codes: 0 ok, 1 the server or the library failed (callwire: CW_ERR_NAME: message),\n"
	"2 usage, 3 not logged in or the login was refused (run `callwire login`);\n"
	"call --wait: 10 rejected, 11 busy, 12 unanswered, 13 cancelled.\n";

static const char session_help[] =
	"The session file is --session FILE, else $CALLWIRE_SESSION, else\n"
	"$XDG_CONFIG_HOME/callwire/session.json, else ~/.config/callwire/session.json.\n";

const struct cli_command *cli_command_find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int cw_cmd_client_known(const char *name)
{
	return cli_command_find(name) != NULL;
}

int cw_cmd_client(int argc, char **argv)
{
	const struct cli_command *cmd = cli_command_find(argv[0]);

	if (!cmd) {
		fprintf(stderr, "callwire: unknown command '%s'\n", argv[0]);
		return CLI_EXIT_USAGE;
	}
	return cmd->run(argc, argv);
}

static void command_help(const struct cli_command *cmd, FILE *f)
{
	fprintf(f, "usage: callwire %s %s\n\n%s\n%s\n%s", cmd->name, cmd->synopsis, cmd->help,
		session_help, exit_codes);
}

int cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "callwire %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: callwire %s %s\n", cmd->name, cmd->synopsis);
	return CLI_EXIT_USAGE;
}

static const struct cli_opt *find_opt(const struct cli_opt *opts, const char *name, size_t len)
{
	for (; opts && opts->name; opts++)
		if (strlen(opts->name) == len && strncmp(opts->name, name, len) == 0)
			return opts;
	return NULL;
}

static void add_arg(struct cli_parser *p, char *arg)
{
	if (p->nargs < CLI_MAX_ARGS)
		p->args[p->nargs] = arg;
	p->nargs++;
}

/* Takes the option argv[*i] ("--name" or "--name=value"), and its value from the next
 * argument when it needs one. */
static int take_opt(struct cli_parser *p, int argc, char **argv, int *i)
{
	static const struct cli_opt session[] = {{"session", -1, true}, {NULL, 0, false}};
	const char *name = argv[*i] + 2, *eq = strchr(name, '='), *value = NULL;
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const struct cli_opt *opt = find_opt(p->opts, name, len);

	if (!opt)
		opt = find_opt(session, name, len);
	if (!opt)
		return cli_usage_error(p->cmd,
				       "unknown option '%s' (an argument that starts with '--' "
				       "goes after '--')",
				       argv[*i]);
	if (!opt->has_arg && eq)
		return cli_usage_error(p->cmd, "option '--%s' takes no value", opt->name);
	if (opt->has_arg && eq)
		value = eq + 1;
	else if (opt->has_arg && *i + 1 < argc)
		value = argv[++*i];
	else if (opt->has_arg)
		return cli_usage_error(p->cmd, "option '--%s' needs a value", opt->name);
	if (opt == session) {
		p->common.session = value;
		return -1;
	}
	return p->fn(p, opt->id, value);
}

int cli_parse(struct cli_parser *p, int argc, char **argv)
{
	bool options = true;
	int rc;

	for (int i = 1; i < argc; i++) {
		char *a = argv[i];

		if (!options || a[0] != '-' || (a[1] != '-' && strcmp(a, "-h") != 0)) {
			add_arg(p, a);
		} else if (strcmp(a, "--") == 0) {
			options = false;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			command_help(p->cmd, stdout);
			return CLI_EXIT_OK;
		} else if ((rc = take_opt(p, argc, argv, &i)) >= 0) {
			return rc;
		}
	}
	return -1;
}

int cli_parse_plain(struct cli_parser *p, int argc, char **argv, int nargs)
{
	int rc = cli_parse(p, argc, argv);

	if (rc < 0 && p->nargs != nargs)
		rc = cli_usage_error(p->cmd, "expected %d argument%s, got %d", nargs,
				     nargs == 1 ? "" : "s", p->nargs);
	return rc;
}

/* hint: say how to log in again when the login is the problem. */
static int fail(int err, bool hint)
{
	bool login = err == CW_ERR_NOT_LOGGED_IN || err == CW_ERR_UNAUTHORIZED;

	fprintf(stderr, "callwire: %s: %s%s\n", cw_err_name(err), cw_last_error_message(),
		login && hint ? " (log in again: callwire login)" : "");
	return login ? CLI_EXIT_LOGIN : CLI_EXIT_ERROR;
}

int cli_fail(int err)
{
	return fail(err, true);
}

int cli_print_call(const cw_call *call)
{
	char *json = call ? cw_call_to_json(call) : NULL;
	int rc = CLI_EXIT_OK;

	if (call && !json) {
		fprintf(stderr, "callwire: %s: %s\n", cw_err_name(CW_ERR_NO_MEMORY),
			cw_strerror(CW_ERR_NO_MEMORY));
		return CLI_EXIT_ERROR;
	}
	if (printf("%s\n", json ? json : "null") < 0 || fflush(stdout) != 0)
		rc = CLI_EXIT_ERROR;
	cw_free(json);
	return rc;
}

/* ---- The session file ------------------------------------------------------------- */

static const char *nonempty_env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

int cli_session_path(const char *option, char *path, size_t size)
{
	const char *dir;
	int n;

	if (option)
		n = snprintf(path, size, "%s", option);
	else if ((dir = nonempty_env("CALLWIRE_SESSION")))
		n = snprintf(path, size, "%s", dir);
	else if ((dir = nonempty_env("XDG_CONFIG_HOME")))
		n = snprintf(path, size, "%s/callwire/session.json", dir);
	else if ((dir = nonempty_env("HOME")))
		n = snprintf(path, size, "%s/.config/callwire/session.json", dir);
	else
		n = -1;
	if (n < 0 || (size_t)n >= size || !*path) {
		fprintf(stderr, "callwire: no session file: pass --session FILE, or set "
				"CALLWIRE_SESSION or HOME\n");
		return CLI_EXIT_ERROR;
	}
	return 0;
}

static int not_logged_in(const char *path, const char *why)
{
	fprintf(stderr,
		"callwire: %s: %s %s; log in first: callwire login --server URL --app APP "
		"(--uid UID --auth-key KEY | --token TOKEN)\n",
		cw_err_name(CW_ERR_NOT_LOGGED_IN), why, path);
	return CLI_EXIT_LOGIN;
}

/* Reads the server and app of the session file into the caller's buffers. */
static int read_session(const char *path, char *server, size_t server_size, char *app,
			size_t app_size)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr);
	const char *s, *a;
	int rc = 0;

	if (!root) {
		if (access(path, F_OK) != 0 && errno == ENOENT)
			return not_logged_in(path, "no session file at");
		fprintf(stderr, "callwire: %s: %s: %s\n", cw_err_name(CW_ERR_IO), path, jerr.text);
		return CLI_EXIT_ERROR;
	}
	s = json_string_value(json_object_get(root, "server"));
	a = json_string_value(json_object_get(root, "appId"));
	if (!s || !a) {
		rc = not_logged_in(path, "no login in");
		goto out;
	}
	snprintf(server, server_size, "%s", s);
	snprintf(app, app_size, "%s", a);
out:
	json_decref(root);
	return rc;
}

int cli_open(const struct cli_common *common, cw_client **clientp, cli_setup_fn setup, void *arg)
{
	char path[4096], server[2048], app[256];
	cw_client *client = NULL;
	int rc, err;

	*clientp = NULL;
	if ((rc = cli_session_path(common->session, path, sizeof(path))) != 0)
		return rc;
	if ((rc = read_session(path, server, sizeof(server), app, sizeof(app))) != 0)
		return rc;
	if ((err = cw_client_new(&client, server, app)) != 0)
		return cli_fail(err);
	if (setup && (err = setup(client, arg)) != 0) {
		rc = cli_fail(err);
		goto out;
	}
	err = cw_client_set_session_file(client, path);
	if (err == CW_ERR_NOT_LOGGED_IN)
		rc = not_logged_in(path, "no login in");
	else if (err)
		rc = cli_fail(err);
out:
	if (rc)
		cw_client_free(client);
	else
		*clientp = client;
	return rc;
}

/* Creates the folders above path that do not exist yet, private to the user. */
static int make_parent_dirs(const char *path)
{
	char dir[4096];
	int n = snprintf(dir, sizeof(dir), "%s", path);

	if (n < 0 || (size_t)n >= sizeof(dir))
		return -ENAMETOOLONG;
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

/* ---- login, logout ---------------------------------------------------------------- */

struct login_args {
	const char *server, *app, *uid, *auth_key, *token;
};

enum { LOGIN_SERVER, LOGIN_APP, LOGIN_UID, LOGIN_AUTH_KEY, LOGIN_TOKEN };

static int login_option(struct cli_parser *p, int id, const char *value)
{
	struct login_args *a = p->ctx;
	const char **slots[] = {
		[LOGIN_SERVER] = &a->server,	 [LOGIN_APP] = &a->app,	    [LOGIN_UID] = &a->uid,
		[LOGIN_AUTH_KEY] = &a->auth_key, [LOGIN_TOKEN] = &a->token,
	};

	*slots[id] = value;
	return -1;
}

static int parse_login(struct cli_parser *p, int argc, char **argv, struct login_args *a)
{
	static const struct cli_opt opts[] = {
		{"server", LOGIN_SERVER, true}, {"app", LOGIN_APP, true},
		{"uid", LOGIN_UID, true},	{"auth-key", LOGIN_AUTH_KEY, true},
		{"token", LOGIN_TOKEN, true},	{NULL, 0, false},
	};
	int rc;

	a->server = nonempty_env("CALLWIRE_SERVER");
	p->opts = opts;
	p->fn = login_option;
	p->ctx = a;
	if ((rc = cli_parse(p, argc, argv)) >= 0)
		return rc;
	if (p->nargs)
		return cli_usage_error(p->cmd, "unexpected argument '%s'", p->args[0]);
	if (!a->server || !a->app)
		return cli_usage_error(p->cmd, "--server and --app are required");
	if (!a->token == !(a->uid && a->auth_key) || (a->token && (a->uid || a->auth_key)))
		return cli_usage_error(p->cmd, "give either --uid and --auth-key, or --token");
	return -1;
}

static int print_login(cw_client *client, const char *path)
{
	cw_user *user = cw_get_logged_in_user(client);

	if (!user)
		return cli_fail(CW_ERR_NOT_LOGGED_IN);
	printf("logged in as %s (%s)\nsession: %s\n", cw_user_get_uid(user),
	       cw_user_get_name(user) ? cw_user_get_name(user) : "", path);
	cw_user_unref(user);
	return CLI_EXIT_OK;
}

int cli_cmd_login(int argc, char **argv)
{
	struct cli_parser p = {.cmd = cli_command_find("login")};
	struct login_args a = {0};
	cw_client *client = NULL;
	char path[4096];
	int rc, err;

	if ((rc = parse_login(&p, argc, argv, &a)) >= 0)
		return rc;
	if ((rc = cli_session_path(p.common.session, path, sizeof(path))) != 0)
		return rc;
	if ((err = make_parent_dirs(path)) != 0) {
		fprintf(stderr, "callwire: %s: cannot create the folder of %s: %s\n",
			cw_err_name(CW_ERR_IO), path, strerror(-err));
		return CLI_EXIT_ERROR;
	}
	if ((err = cw_client_new(&client, a.server, a.app)) != 0)
		return fail(err, false);
	if (a.token)
		err = cw_login_with_token_sync(client, a.token, 0);
	else
		err = cw_login_with_auth_key_sync(client, a.uid, a.auth_key, 0);
	if (!err)
		err = cw_client_set_session_file(client, path);
	rc = err ? fail(err, false) : print_login(client, path);
	cw_client_free(client);
	return rc;
}

int cli_cmd_logout(int argc, char **argv)
{
	struct cli_parser p = {.cmd = cli_command_find("logout")};
	cw_client *client;
	int rc, err;

	if ((rc = cli_parse_plain(&p, argc, argv, 0)) >= 0)
		return rc;
	if ((rc = cli_open(&p.common, &client, NULL, NULL)) != 0)
		return rc;
	/* The login is forgotten even when the server cannot be reached; err says so. */
	err = cw_logout_sync(client, 0);
	rc = err ? cli_fail(err) : CLI_EXIT_OK;
	if (!err)
		printf("logged out\n");
	cw_client_free(client);
	return rc;
}

/* ---- Waiting for events or a signal ----------------------------------------------- */

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	(void)sig;
	got_signal = 1;
}

int cli_waiter_init(struct cli_waiter *w)
{
	struct sigaction sa = {.sa_handler = on_signal};
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (pipe2(w->pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		return -errno;
	pthread_sigmask(SIG_BLOCK, &set, &w->blocked);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return 0;
}

void cli_waiter_close(struct cli_waiter *w)
{
	pthread_sigmask(SIG_SETMASK, &w->blocked, NULL);
	close(w->pipe[0]);
	close(w->pipe[1]);
}

void cli_waiter_wake(struct cli_waiter *w)
{
	/* A full pipe already holds a wake-up: nothing is lost by dropping this one. */
	ssize_t n = write(w->pipe[1], "", 1);

	(void)n;
}

int cli_waiter_wait(struct cli_waiter *w)
{
	struct pollfd pfd = {.fd = w->pipe[0], .events = POLLIN};
	char drain[64];

	for (;;) {
		if (got_signal)
			return 0;
		/* The signals are unblocked only inside ppoll: none can slip in between the
		 * check above and the sleep. */
		if (ppoll(&pfd, 1, NULL, &w->blocked) > 0) {
			while (read(w->pipe[0], drain, sizeof(drain)) > 0)
				;
			return 1;
		}
	}
}

/* ---- The contract's names ---------------------------------------------------------- */

/* Looks s up among str(0), str(1), … until str returns NULL. */
#define PARSE_NAME(s, str, type)                                                                   \
	do {                                                                                       \
		for (int i_ = 0; str((type)i_); i_++)                                              \
			if (strcmp(s, str((type)i_)) == 0)                                         \
				return i_;                                                         \
		return -1;                                                                         \
	} while (0)

int cli_parse_call_type(const char *s)
{
	PARSE_NAME(s, cw_call_type_str, cw_call_type);
}

int cli_parse_call_status(const char *s)
{
	PARSE_NAME(s, cw_call_status_str, cw_call_status);
}

int cli_parse_direction(const char *s)
{
	PARSE_NAME(s, cw_direction_str, cw_direction);
}

int cli_parse_category(const char *s)
{
	PARSE_NAME(s, cw_call_category_str, cw_call_category);
}
