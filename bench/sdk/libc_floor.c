/* libc_floor: a same-run reference of bench/run-sdk, the resident memory any dynamically
 * linked program starts from (the dynamic loader, libc, the stack). It prints "ready" and
 * then waits on stdin without using the CPU until stdin closes, so bench/run-sdk can read
 * its /proc/PID/smaps.
 *
 * Built by bench/run-sdk with `cc -O2 libc_floor.c`. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	char buf[64];

	printf("ready\n");
	fflush(stdout);
	while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
	return 0;
}
