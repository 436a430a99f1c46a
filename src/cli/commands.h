/* commands: the subcommands of the `callwire` command, as main() dispatches them. Kept
 * apart from cli.h so the client commands, which see only the SDK's header, can use it. */
#ifndef CW_CLI_COMMANDS_H
#define CW_CLI_COMMANDS_H

int cw_cmd_serve(int argc, char **argv);
int cw_cmd_admin(int argc, char **argv);

/* The client commands (login, listen, call, …; src/cli/client*.c), built on libcallwire
 * only. cw_cmd_client_known says whether name is one; cw_cmd_client runs the one named by
 * argv[0] with its arguments after it and returns the exit code. */
int cw_cmd_client_known(const char *name);
int cw_cmd_client(int argc, char **argv);

#endif
