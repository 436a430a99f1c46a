/* callwire: the command's entry point and subcommand dispatch. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: callwire COMMAND [ARGS]\n"
		   "\n"
		   "commands:\n"
		   "  serve    run the server (callwire serve --help)\n"
		   "  admin    manage apps, users, groups and tokens over the REST API\n"
		   "           (callwire admin --help)\n"
		   "  version  print the version\n");
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
