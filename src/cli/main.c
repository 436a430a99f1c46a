/* callwire: the command's entry point and subcommand dispatch. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: callwire COMMAND [ARGS]\n"
		"\n"
		"commands:\n"
		"  serve    run the server (callwire serve --help)\n"
		"  admin    manage apps, users, groups and tokens over the REST API\n"
		"           (callwire admin --help)\n"
		"  version  print the version\n"
		"\n"
		"client commands (callwire COMMAND --help):\n"
		"  login    --server URL --app APP (--uid UID --auth-key KEY | --token TOKEN)\n"
		"  logout   revoke the login and remove the session file\n"
		"  listen   print call and connection events as JSON lines until SIGINT\n"
		"  call     UID|--group GUID [--video] [--timeout S] [--metadata JSON] [--wait]\n"
		"  accept   SESSION            reject  SESSION [--busy]\n"
		"  cancel   SESSION            end     SESSION [--all]\n"
		"  get      SESSION            active  the ringing or ongoing call, or null\n"
		"  logs     [--type T] [--status S] [--direction D] [--uid U] [--guid G]\n"
		"           [--category C] [--limit N] [--all] [--json]\n"
		"  Each takes --session FILE (default $CALLWIRE_SESSION, else\n"
		"  $XDG_CONFIG_HOME/callwire/session.json, else ~/.config/callwire/session.json).\n"
		"\n"
		"exit codes of the client commands:\n"
		"  0   ok (call --wait: the call was answered)\n"
		"  1   the server or the library failed; stderr: callwire: CW_ERR_NAME: message\n"
		"  2   usage error\n"
		"  3   not logged in, or the server refused the login (run callwire login)\n"
		"  10  call --wait: rejected      11  call --wait: busy\n"
		"  12  call --wait: unanswered    13  call --wait: cancelled\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "serve") == 0)
		return cw_cmd_serve(argc - 2, argv + 2);
	if (strcmp(argv[1], "admin") == 0)
		return cw_cmd_admin(argc - 2, argv + 2);
	if (cw_cmd_client_known(argv[1]))
		return cw_cmd_client(argc - 1, argv + 1);
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("callwire 0.1.0\n");
		return 0;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "callwire: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
