/* Engine helpers shared by the browser engines' unit tests (engine_sync_fixture.h); no remote. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

char *esf_read_data(const char *folder, const char *name)
{
	const char *src = getenv("DS_SRC");
	char path[1200];
	FILE *f;
	char *buf;
	long n;

	if (src) {
		snprintf(path, sizeof(path), "%s/test/data/%s/%s", src, folder, name);
	} else {
		const char *slash = strrchr(__FILE__, '/');
		int len = slash ? (int)(slash - __FILE__) : 1;

		snprintf(path, sizeof(path), "%.*s/../data/%s/%s", len, slash ? __FILE__ : ".", folder,
			 name);
	}
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
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
