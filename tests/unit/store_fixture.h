/* store_fixture: a fresh SQLite store in a temporary folder for each store unit test. */
#ifndef CW_TEST_STORE_FIXTURE_H
#define CW_TEST_STORE_FIXTURE_H

#include "store/store.h"

struct fixture {
	char dir[256];
	char path[300];
	struct cw_store *s;
};

/* cmocka setup and teardown: *state is a struct fixture with its store open. */
int fixture_setup(void **state);
int fixture_teardown(void **state);

struct cw_store *store(void **state);
/* Closes and reopens the fixture's store on the same file. */
void reopen(void **state);

#endif
