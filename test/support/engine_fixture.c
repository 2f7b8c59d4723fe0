/* Engine helpers shared by the browser engines' unit tests (engine_sync_fixture.h); no remote. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

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
