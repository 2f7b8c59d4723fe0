/* Engine helpers shared by the browser engines' unit tests (engine_sync_fixture.h); no remote. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/ds_core.h"
#include "test/support/engine_sync_fixture.h"

void esf_tmpdir(char *out, size_t n, const char *tag)
{
	const char *t = getenv("DS_TEST_TMP");

	if (t && *t) {
		snprintf(out, n, "%s", t);
	} else {
		snprintf(out, n, "%s/ds-%s-XXXXXX", P_tmpdir, tag);
		assert_non_null(mkdtemp(out));
	}
}

void esf_db_path(char *out, size_t n, const char *tag)
{
	static unsigned seq;
	char dir[512];

	esf_tmpdir(dir, sizeof(dir), tag);
	snprintf(out, n, "%s/%s-%d-%u.sqlite", dir, tag, (int)getpid(), ++seq);
}

void esf_open_db(const char *path, struct sqlite3 **db)
{
	assert_int_equal(sqlite3_open(path, db), SQLITE_OK);
	sqlite3_busy_timeout(*db, 2000);
}

void esf_engine_close(struct ds_engine *e, struct sqlite3 *db, const char *path)
{
	if (e)
		e->ops->close(e);
	sqlite3_close(db);
	unlink(path);
}

int esf_apply(struct ds_engine *e, const char *id, const char *payload)
{
	struct ds_record r = { .id = (char *)id, .payload = (char *)payload, .deleted = !payload };
	int rc;

	assert_int_equal(e->ops->begin(e), 0);
	rc = e->ops->apply(e, &r);
	if (rc == 0)
		assert_int_equal(e->ops->commit(e), 0);
	else
		assert_int_equal(e->ops->rollback(e), 0);
	return rc;
}
