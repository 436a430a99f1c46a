/* store_fixture: a fresh SQLite store in a temporary folder for each store unit test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_fixture.h"

int fixture_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/cw-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
	if (cw_store_sqlite_open(&f->s, f->path) != 0) {
		rmdir(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

int fixture_teardown(void **state)
{
	struct fixture *f = *state;
	char side[320];

	if (f->s)
		cw_store_close(f->s);
	unlink(f->path);
	/* WAL and shared-memory files normally vanish on close; remove any left over. */
	snprintf(side, sizeof(side), "%s-wal", f->path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", f->path);
	unlink(side);
	rmdir(f->dir);
	free(f);
	return 0;
}

struct cw_store *store(void **state)
{
	return ((struct fixture *)*state)->s;
}

void reopen(void **state)
{
	struct fixture *f = *state;

	cw_store_close(f->s);
	f->s = NULL;
	assert_int_equal(cw_store_sqlite_open(&f->s, f->path), 0);
}
