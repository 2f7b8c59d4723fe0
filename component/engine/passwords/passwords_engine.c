/*
 * The passwords engine: Firefox Sync login records over a struct ds_passwords_store.
 *
 * Rules (docs/engine-passwords.md; AS logins/src/sync/engine.rs, merge.rs, login.rs; desktop
 * services/sync/modules/engines/passwords.sys.mjs), each with a test in
 * test/unit/passwords_engine_test.c or passwords_login_test.c:
 *  - every record, incoming and outgoing, is validated and fixed up as AS does; an invalid
 *    incoming one is refused with -EBADMSG (counted and skipped by the core, never fatal), an
 *    invalid local one is not uploaded;
 *  - a record for a new guid whose (origin, target, username) matches a local login never
 *    synced takes that login over (it is renamed), so a sign-in does not duplicate logins;
 *  - both sides changed: field-level three-way merge against the shared version (DS_CONFLICT_MERGE
 *    through engine->merge);
 *  - records carry sortindex 1, tombstones sortindex 5000000 (AS sync/engine.rs);
 *  - fields the schema has no column for are kept (sealed) and sent back.
 */
#define DS_LOG_TAG "passwords"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "engine/browser/ds_browser_engine.h"
#include "engine/passwords/ds_passwords.h"
#include "sync/ds_sync.h"

#include <cjson/cJSON.h>
#include <string.h>

/* Record fields the store has a column for; others are kept beside the login. */
static const char *const KNOWN_FIELDS[] = {
	"id", "hostname", "formSubmitURL", "httpRealm", "username", "password", "usernameField",
	"passwordField", "timeCreated", "timePasswordChanged", "timeLastUsed", "timesUsed",
	"timeLastBreachAlertDismissed", NULL,
};

struct pw_engine {
	struct ds_browser_engine b; /* over the store's tracking ops */
	struct ds_passwords_store *store;
};

static struct pw_engine *PE(struct ds_engine *e)
{
	return DS_CONTAINER_OF(e, struct pw_engine, b.e);
}

static void *S(struct pw_engine *p)
{
	return p->store->priv;
}

static const struct ds_passwords_store_ops *OPS(struct pw_engine *p)
{
	return p->store->ops;
}

static void free_payload(char *p)
{
	if (p) {
		ds_memzero(p, strlen(p));
		ds_free(p);
	}
}

/* The record of a login: its fields, then the kept unknown ones. */
static int encode_record(struct pw_engine *p, const struct ds_login *l, struct ds_record *out)
{
	int rc = ds_passwords_login_encode(l, &out->payload);

	if (rc == 0)
		rc = ds_browser_unknown_load(&OPS(p)->track, S(p), l->guid, &out->payload);
	if (rc == 0 && !(out->id = ds_strdup(l->guid)))
		rc = -ENOMEM;
	out->sortindex = DS_PASSWORDS_SORTINDEX;
	return rc;
}

/* The local state of guid as a record. strict: only a valid login (what may be uploaded;
 * -EBADMSG otherwise); else the login as stored, fixed up where it can be. */
static int current(struct pw_engine *p, const char *guid, struct ds_record *out, bool must_exist,
		   bool strict)
{
	struct ds_login l;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = OPS(p)->get(S(p), guid, &l);
	if (rc == -ENOENT && !must_exist) {
		out->deleted = true;
		out->sortindex = DS_PASSWORDS_TOMBSTONE_SORTINDEX;
		out->id = ds_strdup(guid);
		return out->id ? 0 : -ENOMEM;
	}
	if (rc)
		return rc;
	if (strict) {
		rc = ds_passwords_login_fixup(&l);
	} else {
		struct ds_login fixed;

		/* A login the app stored invalid is still this device's state: shown as it is. */
		if (ds_login_copy(&fixed, &l) == 0) {
			if (ds_passwords_login_fixup(&fixed) == 0) {
				ds_login_clear(&l);
				l = fixed;
			} else {
				ds_login_clear(&fixed);
			}
		}
	}
	if (rc == 0)
		rc = encode_record(p, &l, out);
	ds_login_clear(&l);
	if (rc) {
		free_payload(out->payload);
		out->payload = NULL;
		ds_record_clear(out);
	}
	return rc;
}

static int p_prepare(struct ds_engine *e)
{
	struct pw_engine *p = PE(e);
	int rc = OPS(p)->track.forget_if_cleared ? OPS(p)->track.forget_if_cleared(S(p)) : 0;

	if (rc <= 0)
		return rc;
	/* The store was emptied while it held synced logins ("remove all logins", a restored
	 * backup): the other devices keep theirs (no tombstone goes up), and this device gets
	 * them back, re-imported from the versions the server held at the last sync; newer
	 * server changes follow with this run's fetch (Gaia: a cleared store is re-imported,
	 * sync15.md §10). */
	rc = OPS(p)->track.begin(S(p));
	if (rc)
		return rc;
	rc = OPS(p)->shared_restore(S(p));
	if (rc < 0) {
		OPS(p)->track.rollback(S(p));
		return rc;
	}
	DS_LOG_INF("the logins were cleared on this device: %d re-imported from the last sync", rc);
	return OPS(p)->track.commit(S(p));
}

static int p_get(struct ds_engine *e, const char *id, struct ds_record *out)
{
	int rc = current(PE(e), id, out, true, false);

	/* A row whose secret fields do not authenticate (the key is checked at open, so the row
	 * itself was damaged) has no usable local state: the server's version may replace it,
	 * and one damaged row never stops the collection's sync (sync15.md §11 U4). */
	return rc == -EBADMSG ? -ENOENT : rc;
}

/* A change as it goes up: only a valid login. */
static int p_current(struct ds_engine *e, const char *guid, struct ds_record *out)
{
	int rc = current(PE(e), guid, out, false, true);

	if (rc == -EBADMSG) {
		/* Never upload what other clients would refuse; the change stays pending, so an
		 * edit that repairs the login goes up then. */
		DS_LOG_WRN("a local login is not valid (empty password, no target...): not uploaded");
		return DS_BROWSER_SKIP;
	}
	return rc;
}

/* The payload holds the password in clear: wiped before it is freed. */
static void p_clear(struct ds_record *r)
{
	free_payload(r->payload);
	r->payload = NULL;
	ds_record_clear(r);
}

static int decode_valid(const struct ds_record *r, struct ds_login *out)
{
	int rc = ds_passwords_login_decode(r->id, r->payload, out);

	if (rc == 0) {
		rc = ds_passwords_login_fixup(out);
		if (rc)
			ds_login_clear(out);
	}
	return rc;
}

/* A record for a guid the device lacks: a login never synced with the same identity is the
 * same login (AS find_dupe_login): it takes the record's guid, and the fields are merged as
 * two versions without a shared one. The result goes up when it differs from the record. */
static int apply_dupe(struct pw_engine *p, const struct ds_record *r, const struct ds_login *in,
		      const char *other)
{
	struct ds_pending_info pi;
	struct ds_login local, merged;
	char *text = NULL, *theirs = NULL;
	bool newer;
	int rc;

	rc = OPS(p)->track.pending(S(p), other, &pi);
	if (rc && rc != -ENOENT)
		return rc;
	newer = rc == -ENOENT || pi.modified_ms <= r->modified_ms;
	rc = OPS(p)->set_guid(S(p), other, in->guid);
	if (rc)
		return rc;
	rc = OPS(p)->get(S(p), in->guid, &local);
	if (rc)
		return rc;
	rc = ds_passwords_login_merge(&local, in, NULL, newer, &merged);
	ds_login_clear(&local);
	if (rc)
		return rc;
	rc = OPS(p)->put(S(p), &merged);
	/* Both texts come from one encoder, so a byte difference is a field difference. */
	if (rc == 0)
		rc = ds_passwords_login_encode(&merged, &text);
	if (rc == 0)
		rc = ds_passwords_login_encode(in, &theirs);
	if (rc == 0 && strcmp(text, theirs) != 0) {
		rc = OPS(p)->mark(S(p), in->guid);
	} else if (rc == 0) {
		/* The same login on both sides: the local one's pending creation (moved with it to
		 * the server's guid) has nothing left to send. */
		rc = OPS(p)->track.pending(S(p), in->guid, &pi);
		if (rc == 0)
			rc = OPS(p)->track.forget(S(p), in->guid, pi.change_seq);
		else if (rc == -ENOENT)
			rc = 0;
	}
	ds_login_clear(&merged);
	free_payload(theirs);
	free_payload(text);
	return rc;
}

static int p_apply(struct ds_engine *e, const struct ds_record *r)
{
	struct pw_engine *p = PE(e);
	struct ds_login in, have;
	char other[DS_BROWSER_ID_MAX];
	int rc;

	if (!r->id || !*r->id || strlen(r->id) >= DS_BROWSER_ID_MAX)
		return -EBADMSG;
	if (r->deleted || !r->payload) {
		rc = OPS(p)->remove(S(p), r->id);
		if (rc == 0)
			rc = ds_browser_unknown_keep(&OPS(p)->track, S(p), r->id, NULL, KNOWN_FIELDS);
		return rc ? rc : OPS(p)->shared_set(S(p), r->id);
	}
	rc = decode_valid(r, &in);
	if (rc)
		return rc;
	rc = OPS(p)->get(S(p), in.guid, &have);
	if (rc == 0 || rc == -EBADMSG) { /* a damaged row is replaced */
		ds_login_clear(&have);
		rc = OPS(p)->put(S(p), &in);
	} else if (rc == -ENOENT) {
		rc = OPS(p)->find_dupe(S(p), &in, other);
		if (rc == 0)
			rc = apply_dupe(p, r, &in, other);
		else if (rc == -ENOENT)
			rc = OPS(p)->put(S(p), &in);
	}
	if (rc == 0)
		rc = ds_browser_unknown_keep(&OPS(p)->track, S(p), in.guid, r->payload, KNOWN_FIELDS);
	/* What was applied is what the server holds (or, after a merge, what goes up next). */
	if (rc == 0)
		rc = OPS(p)->shared_set(S(p), in.guid);
	ds_login_clear(&in);
	return rc;
}

static int p_merge(struct ds_engine *e, const struct ds_record *local, const struct ds_record *remote,
		   struct ds_record *out)
{
	struct pw_engine *p = PE(e);
	struct ds_login lo, re, base, merged;
	struct ds_pending_info pi = { 0 };
	bool has_base, pending, remote_newer;
	char *unk = NULL, *theirs = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = decode_valid(remote, &re);
	if (rc)
		return rc;
	if (ds_passwords_login_decode(remote->id, local->payload, &lo) != 0 ||
	    ds_passwords_login_fixup(&lo) != 0) {
		/* The device's version is not a valid login: the server's replaces it. */
		ds_login_clear(&lo);
		ds_login_clear(&re);
		return ds_record_copy(out, remote);
	}
	rc = OPS(p)->shared_get(S(p), remote->id, &base);
	has_base = rc == 0;
	if (rc == 0 || rc == -ENOENT)
		rc = OPS(p)->track.pending(S(p), remote->id, &pi);
	pending = rc == 0;
	if (rc == -ENOENT) {
		pi.modified_ms = 0; /* no local change left: the server's version is the newer */
		rc = 0;
	}
	/* Ties go to the server, as newest-wins decides them (component/sync/reconcile.c). */
	remote_newer = pi.modified_ms <= remote->modified_ms;
	if (rc == 0)
		rc = ds_passwords_login_merge(&lo, &re, has_base ? &base : NULL, remote_newer, &merged);
	if (rc == 0) {
		rc = ds_passwords_login_encode(&merged, &out->payload);
		ds_login_clear(&merged);
	}
	/* Fields only other clients know: the server's copy first, then the device's. */
	if (rc == 0)
		rc = ds_browser_unknown_split(remote->payload, KNOWN_FIELDS, &unk);
	if (rc == 0 && unk)
		rc = ds_browser_unknown_join(&out->payload, unk);
	if (rc == 0)
		rc = ds_passwords_login_encode(&re, &theirs);
	if (rc == 0 && unk)
		rc = ds_browser_unknown_join(&theirs, unk);
	ds_free(unk);
	unk = NULL;
	if (rc == 0)
		rc = ds_browser_unknown_split(local->payload, KNOWN_FIELDS, &unk);
	if (rc == 0 && unk)
		rc = ds_browser_unknown_join(&out->payload, unk);
	ds_free(unk);
	if (rc == 0 && !(out->id = ds_strdup(remote->id)))
		rc = -ENOMEM;
	/* The merge gave the server's version back (the two differed only in how they were
	 * written: another client's field order, nulls, absent times): the device now holds what
	 * the server holds, so nothing goes up. This keeps a sign-in on an account filled by
	 * desktop from re-uploading every login. Both texts come from one encoder. */
	if (rc == 0 && pending && strcmp(out->payload, theirs) == 0)
		rc = OPS(p)->track.forget(S(p), remote->id, pi.change_seq);
	free_payload(theirs);
	out->sortindex = DS_PASSWORDS_SORTINDEX;
	if (has_base)
		ds_login_clear(&base);
	ds_login_clear(&lo);
	ds_login_clear(&re);
	if (rc) {
		free_payload(out->payload);
		out->payload = NULL;
		ds_record_clear(out);
	}
	return rc;
}

static int p_forget(struct ds_engine *e, const char *id, uint64_t change_seq)
{
	struct pw_engine *p = PE(e);
	struct ds_pending_info pi;
	int rc = OPS(p)->track.forget(S(p), id, change_seq);

	if (rc)
		return rc;
	/* Nothing newer pending: the server holds what the device holds (uploaded, or equal). */
	rc = OPS(p)->track.pending(S(p), id, &pi);
	if (rc == -ENOENT)
		return OPS(p)->shared_set(S(p), id);
	return rc;
}

static int p_mark_all(struct ds_engine *e)
{
	struct pw_engine *p = PE(e);
	/* First sync or reset: what the server holds is unknown again, so no shared version is a
	 * merge base, and every login may be a duplicate of a server record. */
	int rc = OPS(p)->shared_clear(S(p));

	return rc ? rc : OPS(p)->track.mark_all(S(p), 0);
}

static void p_close(struct ds_engine *e)
{
	struct pw_engine *p;

	if (!e)
		return;
	p = PE(e);
	ds_passwords_store_close(p->store);
	ds_free(p);
}

static const struct ds_engine_ops passwords_ops = {
	.kind = "passwords",
	.prepare = p_prepare,
	.begin = ds_browser_engine_begin,
	.commit = ds_browser_engine_commit,
	.rollback = ds_browser_engine_rollback,
	.changes = ds_browser_engine_changes,
	.changes_after = ds_browser_engine_changes_after,
	.pending = ds_browser_engine_pending,
	.get = p_get,
	.apply = p_apply,
	.forget = p_forget,
	.merge = p_merge,
	.mark_all = p_mark_all,
	.wipe = ds_browser_engine_wipe,
	.close = p_close,
};

int ds_passwords_engine_new(struct ds_passwords_store *store, struct ds_engine **out)
{
	struct pw_engine *p;

	*out = NULL;
	if (!store || !store->ops)
		return -EINVAL;
	p = ds_calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->store = store;
	p->b.track = &store->ops->track;
	p->b.s = store->priv;
	p->b.current = p_current;
	p->b.clear = p_clear;
	p->b.e.ops = &passwords_ops;
	p->b.e.priv = p;
	*out = &p->b.e;
	return 0;
}

static const char *logins_path(const cJSON *cfg)
{
	return ds_browser_cfg_path(cfg, "passwords", "logins", "logins.sqlite");
}

int ds_passwords_engine_open(const cJSON *cfg, struct ds_engine **out)
{
	struct ds_passwords_store *s = NULL;
	const char *path = logins_path(cfg);
	int rc;

	*out = NULL;
	if (!path)
		return -EINVAL;
	rc = ds_passwords_logins_open(path, NULL, NULL, &s);
	if (rc)
		return rc;
	rc = ds_passwords_engine_new(s, out);
	if (rc)
		ds_passwords_store_close(s);
	return rc;
}

int ds_passwords_engine_unregister(const cJSON *cfg)
{
	const char *path = logins_path(cfg);

	return path ? ds_passwords_logins_uninstall(path) : -EINVAL;
}
