/*
 * vector_file.h - reader for the known-answer files in test/vectors/ (format: README.md there).
 * Header-only (static functions) so each unit test that includes it stays one source file.
 *
 * It decodes hex itself instead of using ds_hex_decode(): the vectors must not depend on the
 * code they test.
 *
 * Finding the folder: $DS_VECTORS_DIR, else $DS_SRC/test/vectors, else next to the test's own
 * source file (__FILE__ of the caller is the absolute path the Makefile compiled).
 */
#ifndef DS_TEST_VECTOR_FILE_H
#define DS_TEST_VECTOR_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vec_field {
	char *key;
	char *val;
};

struct vec_record {
	struct vec_field *fields;
	size_t n;
	unsigned int line; /* first line, for failure messages */
};

struct vec_file {
	struct vec_record *recs;
	size_t n;
	char path[1024];
};

static inline char *vec_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static inline void vec_free(struct vec_file *vf)
{
	size_t i, j;

	for (i = 0; i < vf->n; i++) {
		for (j = 0; j < vf->recs[i].n; j++) {
			free(vf->recs[i].fields[j].key);
			free(vf->recs[i].fields[j].val);
		}
		free(vf->recs[i].fields);
	}
	free(vf->recs);
	vf->recs = NULL;
	vf->n = 0;
}

static inline int vec_find_path(const char *caller_file, const char *name, char *out, size_t cap)
{
	const char *env = getenv("DS_VECTORS_DIR");
	const char *slash;
	int n;

	if (env && *env)
		n = snprintf(out, cap, "%s/%s", env, name);
	else if ((env = getenv("DS_SRC")) && *env)
		n = snprintf(out, cap, "%s/test/vectors/%s", env, name);
	else {
		/* caller_file is .../test/unit/<x>.c: the vectors are in .../test/vectors. */
		slash = strrchr(caller_file, '/');
		if (!slash)
			n = snprintf(out, cap, "../vectors/%s", name);
		else
			n = snprintf(out, cap, "%.*s/../vectors/%s", (int)(slash - caller_file),
				     caller_file, name);
	}
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* Returns 0, or -1 with a message on stderr (unreadable file, or a line without " = "). */
static inline int vec_load_at(const char *caller_file, const char *name, struct vec_file *vf)
{
	char line[16384];
	unsigned int lineno = 0;
	struct vec_record *cur = NULL;
	FILE *f;

	memset(vf, 0, sizeof(*vf));
	if (vec_find_path(caller_file, name, vf->path, sizeof(vf->path)) != 0)
		return -1;
	f = fopen(vf->path, "r");
	if (!f) {
		fprintf(stderr, "cannot open vector file %s\n", vf->path);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s, *eq, *k, *v;
		struct vec_field *nf;

		lineno++;
		if (!strchr(line, '\n') && !feof(f))
			goto bad; /* longer than the buffer */
		s = vec_trim(line);
		if (*s == '#')
			continue;
		if (*s == '\0') {
			cur = NULL;
			continue;
		}
		eq = strstr(s, " = ");
		if (!eq)
			goto bad;
		*eq = '\0';
		k = vec_trim(s);
		v = vec_trim(eq + 3);
		if (!cur) {
			struct vec_record *nr = realloc(vf->recs, (vf->n + 1) * sizeof(*nr));

			if (!nr)
				goto bad;
			vf->recs = nr;
			cur = &vf->recs[vf->n++];
			memset(cur, 0, sizeof(*cur));
			cur->line = lineno;
		}
		nf = realloc(cur->fields, (cur->n + 1) * sizeof(*nf));
		if (!nf)
			goto bad;
		cur->fields = nf;
		nf[cur->n].key = strdup(k);
		nf[cur->n].val = strdup(v);
		cur->n++;
		if (!nf[cur->n - 1].key || !nf[cur->n - 1].val)
			goto bad;
	}
	fclose(f);
	return 0;
bad:
	fprintf(stderr, "%s:%u: malformed vector line\n", vf->path, lineno);
	fclose(f);
	vec_free(vf);
	return -1;
}

#define vec_load(name, vf) vec_load_at(__FILE__, (name), (vf))

/* The raw value of key, or NULL. */
static inline const char *vec_raw(const struct vec_record *r, const char *key)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->fields[i].key, key) == 0)
			return r->fields[i].val;
	return NULL;
}

/* A quoted value's text (a pointer into a static buffer per call site is avoided: the caller
 * gives the buffer). Returns the length, or -1 if absent, not quoted, or too long. */
static inline long vec_text(const struct vec_record *r, const char *key, char *buf, size_t cap)
{
	const char *v = vec_raw(r, key);
	size_t n;

	if (!v)
		return -1;
	n = strlen(v);
	if (n < 2 || v[0] != '"' || v[n - 1] != '"' || n - 2 >= cap)
		return -1;
	memcpy(buf, v + 1, n - 2);
	buf[n - 2] = '\0';
	return (long)(n - 2);
}

static inline int vec_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Bytes of key: quoted text as is, else hex. Returns the length, or -1. */
static inline long vec_bytes(const struct vec_record *r, const char *key, uint8_t *buf, size_t cap)
{
	const char *v = vec_raw(r, key);
	size_t n, i;

	if (!v)
		return -1;
	if (v[0] == '"')
		return vec_text(r, key, (char *)buf, cap);
	n = strlen(v);
	if (n % 2 || n / 2 > cap)
		return -1;
	for (i = 0; i < n / 2; i++) {
		int hi = vec_nibble(v[2 * i]), lo = vec_nibble(v[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		buf[i] = (uint8_t)(hi << 4 | lo);
	}
	return (long)(n / 2);
}

/* True when the record's key has the quoted value text. */
static inline int vec_is(const struct vec_record *r, const char *key, const char *text)
{
	const char *v = vec_raw(r, key);
	size_t n = strlen(text);

	return v && strlen(v) == n + 2 && v[0] == '"' && strncmp(v + 1, text, n) == 0 &&
	       v[n + 1] == '"';
}

#endif /* DS_TEST_VECTOR_FILE_H */
