/* libFuzzer target: arbitrary bytes as a WAV file given to libcallwire's audio source. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "media.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	char path[64], why[256];
	int16_t *pcm = NULL;
	size_t n = 0;

	if (fd < 0 && (fd = memfd_create("fuzz.wav", 0)) < 0)
		abort();
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (cw__wav_load(path, &pcm, &n, why, sizeof(why)) == 0) {
		/* Every sample is read, so the sanitizers see each one. */
		volatile int sum = 0;
		for (size_t i = 0; i < n; i++)
			sum += pcm[i];
		(void)sum;
		free(pcm);
	}
	return 0;
}
