/* crypto_floor: a same-run reference of bench/run-sdk, the resident memory any client of
 * OpenSSL 3 starts from. It hashes one string with SHA-256 through EVP (the least use of
 * libcrypto, which a client's TLS and DTLS only add to), prints the digest, and then waits
 * on stdin without using the CPU until stdin closes, so bench/run-sdk can read its
 * /proc/PID/smaps: what libcrypto and the dynamic loader alone make resident.
 *
 *   crypto_floor [--no-hash]
 *
 * --no-hash links and loads libcrypto the same way but calls nothing in it (it prints
 * "ready"): what mapping and relocating the library costs before any use.
 *
 * Built by bench/run-sdk with `cc -O2 crypto_floor.c $(pkg-config --cflags --libs
 * libcrypto)`. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

/* Blocks in read(2) until stdin is closed or a signal ends the process: no busy loop. */
static void wait_for_stdin(void)
{
	char buf[64];

	while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
}

int main(int argc, char **argv)
{
	static const char text[] = "callwire bench: the floor of an OpenSSL 3 client";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (argc > 1 && strcmp(argv[1], "--no-hash") == 0) {
		/* Nothing in libcrypto is called; the loader resolves this one symbol's
		 * address at start-up. */
		printf("ready %p\n", (void *)EVP_Digest);
	} else {
		if (!EVP_Digest(text, strlen(text), md, &len, EVP_sha256(), NULL)) {
			fprintf(stderr, "crypto_floor: EVP_Digest failed\n");
			return 1;
		}
		for (unsigned int i = 0; i < len; i++)
			printf("%02x", md[i]);
		printf("\n");
	}
	fflush(stdout);
	wait_for_stdin();
	return 0;
}
