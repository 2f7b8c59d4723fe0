/*
 * The bookmarks engine's tree helpers (docs/engine-bookmarks.md): guid lists, the sync state
 * kept per guid (flags, awaited parent), the change log, and walks up the tree.
 */
#define DS_LOG_TAG "bookmarks"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "ds_port.h"
#include "engine/bookmarks/bookmarks_int.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

int64_t ds_bm_now_ms(struct ds_bm_engine *b)
{
	return b->opt.now_ms ? b->opt.now_ms(b->opt.now_user_data) : ds_port_wall_ms();
}

bool ds_bm_user_root(const char *g)
{
	return ds_bookmarks_is_root(g) && strcmp(g, DS_BM_ROOT_PLACES) != 0 &&
	       strcmp(g, DS_BM_ROOT_TAGS) != 0;
}

int ds_bm_glist_add(const char *g, void *user_data)
{
	struct ds_bm_glist *l = user_data;

	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		char (*v)[DS_BROWSER_ID_MAX] = ds_realloc(l->v, nc * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = nc;
	}
	snprintf(l->v[l->n++], DS_BROWSER_ID_MAX, "%s", g);
	return 0;
}

void ds_bm_glist_free(struct ds_bm_glist *l)
{
	ds_free(l->v);
	memset(l, 0, sizeof(*l));
}

int ds_bm_list(struct ds_bm_engine *b, enum ds_bookmarks_list which, const char *arg,
	       struct ds_bm_glist *l)
{
	memset(l, 0, sizeof(*l));
	return OPS(b)->list(S(b), which, arg, ds_bm_glist_add, l);
}

/* The JSON array text of a list of guids. */
int ds_bm_glist_json(const struct ds_bm_glist *l, char **out)
{
	cJSON *a = cJSON_CreateArray();
	char *t;

	*out = NULL;
	if (!a)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++) {
		cJSON *s = cJSON_CreateString(l->v[i]);

		if (!s || !cJSON_AddItemToArray(a, s)) {
			cJSON_Delete(s);
			cJSON_Delete(a);
			return -ENOMEM;
		}
	}
	t = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	*out = t ? ds_strdup(t) : NULL;
	cJSON_free(t);
	return *out ? 0 : -ENOMEM;
}

int ds_bm_json_glist(const char *text, struct ds_bm_glist *l)
{
	cJSON *a = cJSON_Parse(text), *c;
	int rc = 0;

	memset(l, 0, sizeof(*l));
	cJSON_ArrayForEach(c, a) {
		if (cJSON_IsString(c) && strlen(c->valuestring) < DS_BROWSER_ID_MAX &&
		    (rc = ds_bm_glist_add(c->valuestring, l)) != 0)
			break;
	}
	cJSON_Delete(a);
	return rc;
}

int ds_bm_real_pending(struct ds_bm_engine *b, const char *g, struct ds_pending_info *p)
{
	int rc = OPS(b)->track.pending(S(b), g, p);

	return rc == -ENOENT ? 0 : rc < 0 ? rc : 1;
}

int ds_bm_forget_pending(struct ds_bm_engine *b, const char *g)
{
	struct ds_pending_info p;
	int rc = ds_bm_real_pending(b, g, &p);

	return rc <= 0 ? rc : OPS(b)->track.forget(S(b), g, p.change_seq);
}

int ds_bm_log_change(struct ds_bm_engine *b, const char *g)
{
	if (!g[0] || strcmp(g, DS_BM_ROOT_PLACES) == 0 || strcmp(g, DS_BM_ROOT_TAGS) == 0)
		return 0;
	/* Without a test clock, the store stamps it with the clock of the browser's own changes. */
	return OPS(b)->log_change(S(b), g, b->opt.now_ms ? ds_bm_now_ms(b) : 0);
}

int ds_bm_flag(struct ds_bm_engine *b, const char *g, unsigned flags)
{
	struct ds_bookmark_meta m;
	int rc;

	if (!g[0] || strcmp(g, DS_BM_ROOT_PLACES) == 0)
		return 0;
	rc = OPS(b)->meta_get(S(b), g, &m);
	if (rc == 0 && (m.flags & flags) != flags) {
		m.flags |= flags;
		rc = OPS(b)->meta_put(S(b), g, &m);
	}
	ds_bookmark_meta_clear(&m);
	return rc;
}

bool ds_bm_exists(struct ds_bm_engine *b, const char *g)
{
	char parent[DS_BROWSER_ID_MAX];
	enum ds_bookmark_kind k;

	return OPS(b)->locate(S(b), g, parent, &k) == 0;
}

int ds_bm_set_want(struct ds_bm_engine *b, const char *g, const char *want)
{
	struct ds_bookmark_meta m;
	int rc = OPS(b)->meta_get(S(b), g, &m);

	if (rc == 0 && strcmp(m.want_parent, want) != 0) {
		snprintf(m.want_parent, sizeof(m.want_parent), "%s", want);
		rc = OPS(b)->meta_put(S(b), g, &m);
	}
	ds_bookmark_meta_clear(&m);
	return rc;
}

/* Is anc an ancestor of (or equal to) g? Walks at most DS_BM_MAX_DEPTH levels. */
int ds_bm_is_ancestor(struct ds_bm_engine *b, const char *anc, const char *g)
{
	char cur[DS_BROWSER_ID_MAX];

	snprintf(cur, sizeof(cur), "%s", g);
	for (int depth = 0; depth < DS_BM_MAX_DEPTH && cur[0]; depth++) {
		enum ds_bookmark_kind k;
		int rc;

		if (strcmp(cur, anc) == 0)
			return 1;
		rc = OPS(b)->locate(S(b), cur, cur, &k);
		if (rc == -ENOENT)
			return 0;
		if (rc)
			return rc;
	}
	return 0;
}

/* Move item g (it, already read) into folder, keeping its content. */
int ds_bm_move_item(struct ds_bm_engine *b, struct ds_bookmark_item *it, const char *folder)
{
	char old[DS_BROWSER_ID_MAX];
	int rc;

	if (strcmp(it->parent, folder) == 0)
		return 0;
	snprintf(old, sizeof(old), "%s", it->parent);
	snprintf(it->parent, sizeof(it->parent), "%s", folder);
	rc = OPS(b)->put(S(b), it);
	if (rc == 0)
		rc = ds_bm_flag(b, old, DS_BM_NEEDS_ORDER | DS_BM_NEEDS_CHECK);
	if (rc == 0)
		rc = ds_bm_flag(b, folder, DS_BM_NEEDS_ORDER | DS_BM_NEEDS_CHECK);
	return rc;
}

bool ds_bm_same_list(const struct ds_bm_glist *a, const struct ds_bm_glist *c)
{
	if (a->n != c->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], c->v[i]) != 0)
			return false;
	return true;
}
