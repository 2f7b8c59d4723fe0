/*
 * Logins as records: decoding, encoding, validation with fix-ups, and the field-level merge.
 * Pure functions (no store, no I/O), so each rule has a table test
 * (test/unit/passwords_login_test.c) and the fuzz target reaches them all.
 *
 * Rules from AS logins/src/login.rs (validate_and_fixup), sync/payload.rs and sync/merge.rs;
 * docs/engine-passwords.md lists them with their tests.
 */
#define DS_LOG_TAG "passwords"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "engine/passwords/ds_passwords.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

static void free_secret(char *p)
{
	if (p) {
		ds_memzero(p, strlen(p));
		ds_free(p);
	}
}

void ds_login_clear(struct ds_login *l)
{
	if (!l)
		return;
	ds_free(l->origin);
	ds_free(l->form_action_origin);
	ds_free(l->http_realm);
	ds_free(l->username_field);
	ds_free(l->password_field);
	free_secret(l->username);
	free_secret(l->password);
	memset(l, 0, sizeof(*l));
}

static int dup_opt(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = ds_strdup(src);
	return *dst ? 0 : -ENOMEM;
}

int ds_login_copy(struct ds_login *dst, const struct ds_login *src)
{
	int rc = 0;

	*dst = *src;
	rc |= dup_opt(&dst->origin, src->origin);
	rc |= dup_opt(&dst->form_action_origin, src->form_action_origin);
	rc |= dup_opt(&dst->http_realm, src->http_realm);
	rc |= dup_opt(&dst->username_field, src->username_field);
	rc |= dup_opt(&dst->password_field, src->password_field);
	rc |= dup_opt(&dst->username, src->username);
	rc |= dup_opt(&dst->password, src->password);
	if (rc) {
		ds_login_clear(dst);
		return -ENOMEM;
	}
	return 0;
}

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

/* ---- origins --------------------------------------------------------------------------------- */

/* Schemes whose host the WHATWG URL parser (which AS uses through the url crate) lower-cases,
 * with their default port. */
static const struct { const char *scheme; const char *port; } SPECIAL[] = {
	{ "http", "80" }, { "https", "443" }, { "ftp", "21" }, { "ws", "80" }, { "wss", "443" },
};

/* ---- IDNA: host labels with non-ASCII characters as "xn--" + Punycode (RFC 3492) ------------ */

#define PUNY_BASE 36
#define PUNY_TMIN 1
#define PUNY_TMAX 26
#define PUNY_SKEW 38
#define PUNY_DAMP 700
#define PUNY_BIAS 72
#define PUNY_N 128
#define LABEL_MAX 63 /* RFC 1035 §2.3.4 */

static uint32_t puny_adapt(uint32_t delta, uint32_t points, bool first)
{
	uint32_t k = 0;

	delta = first ? delta / PUNY_DAMP : delta / 2;
	delta += delta / points;
	while (delta > ((PUNY_BASE - PUNY_TMIN) * PUNY_TMAX) / 2) {
		delta /= PUNY_BASE - PUNY_TMIN;
		k += PUNY_BASE;
	}
	return k + (PUNY_BASE - PUNY_TMIN + 1) * delta / (delta + PUNY_SKEW);
}

static char puny_digit(uint32_t d)
{
	return (char)(d < 26 ? 'a' + d : '0' + d - 26);
}

/* UTF-8 of one label -> code points (ASCII letters lower-cased); -EBADMSG when not UTF-8. */
static int utf8_label(const unsigned char *s, size_t n, uint32_t *cp, size_t *ncp)
{
	size_t i = 0, k = 0;

	while (i < n) {
		uint32_t c = s[i], min;
		size_t more;

		if (c < 0x80) {
			more = 0;
			min = 0;
		} else if ((c & 0xe0) == 0xc0) {
			more = 1;
			c &= 0x1f;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			more = 2;
			c &= 0x0f;
			min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			more = 3;
			c &= 0x07;
			min = 0x10000;
		} else {
			return -EBADMSG;
		}
		if ((more && i + more >= n) || k == LABEL_MAX)
			return -EBADMSG;
		for (size_t j = 1; j <= more; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return -EBADMSG;
			c = c << 6 | (s[i + j] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return -EBADMSG;
		cp[k++] = c < 0x80 ? (uint32_t)tolower((int)c) : c;
		i += more + 1;
	}
	*ncp = k;
	return 0;
}

/* Code points -> "xn--" + Punycode into out (cap bytes with the NUL). */
static int puny_label(const uint32_t *cp, size_t n, char *out, size_t cap)
{
	uint32_t code = PUNY_N, delta = 0, bias = PUNY_BIAS;
	size_t h, b = 0, o = 4;

	memcpy(out, "xn--", 4);
	for (size_t i = 0; i < n; i++)
		if (cp[i] < 0x80) {
			if (o + 1 >= cap)
				return -EBADMSG;
			out[o++] = (char)cp[i];
			b++;
		}
	if (b > 0) {
		if (o + 1 >= cap)
			return -EBADMSG;
		out[o++] = '-';
	}
	for (h = b; h < n; code++, delta++) {
		uint32_t m = UINT32_MAX;

		for (size_t i = 0; i < n; i++)
			if (cp[i] >= code && cp[i] < m)
				m = cp[i];
		/* Labels are at most 63 code points below 0x110000: no overflow. */
		delta += (m - code) * (uint32_t)(h + 1);
		code = m;
		for (size_t i = 0; i < n; i++) {
			if (cp[i] < code)
				delta++;
			if (cp[i] != code)
				continue;
			uint32_t q = delta;

			for (uint32_t k = PUNY_BASE;; k += PUNY_BASE) {
				uint32_t t = k <= bias ? PUNY_TMIN : k >= bias + PUNY_TMAX ? PUNY_TMAX : k - bias;

				if (q < t)
					break;
				if (o + 1 >= cap)
					return -EBADMSG;
				out[o++] = puny_digit(t + (q - t) % (PUNY_BASE - t));
				q = (q - t) / (PUNY_BASE - t);
			}
			if (o + 1 >= cap)
				return -EBADMSG;
			out[o++] = puny_digit(q);
			bias = puny_adapt(delta, (uint32_t)(h + 1), h == b);
			delta = 0;
			h++;
		}
	}
	out[o] = '\0';
	return 0;
}

/* A host with non-ASCII labels in its ASCII form, as the URL parser of AS writes it (WHATWG
 * "domain to ASCII"; without UTS 46's mapping of non-ASCII case and compatibility forms). */
static int host_to_ascii(const char *host, size_t hlen, char **out)
{
	/* Each label's ASCII form is at most LABEL_MAX bytes, or the label's own bytes. */
	size_t cap = hlen + (hlen / 2 + 1) * (LABEL_MAX + 1), o = 0;
	char *buf = ds_malloc(cap);
	const char *p = host, *end = host + hlen;
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	while (rc == 0 && p <= end) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		size_t len = (size_t)((dot ? dot : end) - p);
		bool ascii = true;

		for (size_t i = 0; i < len; i++)
			ascii = ascii && (unsigned char)p[i] < 0x80;
		if (ascii) {
			memcpy(buf + o, p, len);
			o += len;
		} else {
			uint32_t cp[LABEL_MAX];
			size_t n;

			rc = utf8_label((const unsigned char *)p, len, cp, &n);
			if (rc == 0)
				rc = puny_label(cp, n, buf + o, LABEL_MAX + 1);
			if (rc == 0)
				o += strlen(buf + o);
		}
		if (!dot)
			break;
		buf[o++] = '.';
		p = dot + 1;
	}
	if (rc) {
		ds_free(buf);
		return rc;
	}
	buf[o] = '\0';
	*out = buf;
	return 0;
}

int ds_passwords_origin_normalize(const char *in, char **out)
{
	const char *p = in, *auth, *end, *at, *host, *colon = NULL;
	const char *dflt = NULL;
	bool special = false;
	size_t slen;
	char scheme[32];

	*out = NULL;
	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" (RFC 3986 §3.1) */
	if (!in || !isalpha((unsigned char)*p))
		return -EBADMSG;
	while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
		p++;
	if (*p != ':' || (size_t)(p - in) >= sizeof(scheme))
		return -EBADMSG;
	slen = (size_t)(p - in);
	for (size_t i = 0; i < slen; i++)
		scheme[i] = (char)tolower((unsigned char)in[i]);
	scheme[slen] = '\0';
	if (strcmp(scheme, "file") == 0) {
		*out = ds_strdup("file://");
		return *out ? 0 : -ENOMEM;
	}
	for (size_t i = 0; i < DS_ARRAY_SIZE(SPECIAL); i++)
		if (strcmp(scheme, SPECIAL[i].scheme) == 0) {
			special = true;
			dflt = SPECIAL[i].port;
		}
	if (strncmp(p + 1, "//", 2) != 0) {
		/* An opaque URL ("javascript:", "about:blank") has no host part to cut: kept as it
		 * is, which is how AS's url parse followed by origin-serialisation treats it. A
		 * special scheme without "//" is not a URL the browser could have saved a login on. */
		if (special)
			return -EBADMSG;
		*out = ds_strdup(in);
		return *out ? 0 : -ENOMEM;
	}
	auth = p + 3;
	end = auth + strcspn(auth, "/?#");
	/* user:password@ is never part of an origin; the last '@' ends it. */
	host = auth;
	for (at = auth; at < end; at++)
		if (*at == '@')
			host = at + 1;
	if (host == end && special)
		return -EBADMSG;
	if (*host == '[') {
		const char *rb = memchr(host, ']', (size_t)(end - host));

		if (!rb)
			return -EBADMSG;
		if (rb + 1 < end && rb[1] == ':')
			colon = rb + 1;
		else if (rb + 1 != end)
			return -EBADMSG;
	} else {
		colon = memchr(host, ':', (size_t)(end - host));
	}
	for (const char *c = host; c < end; c++)
		if ((unsigned char)*c <= 0x20 || *c == '\\' || *c == '<' || *c == '>')
			return -EBADMSG;
	if (colon) {
		for (const char *c = colon + 1; c < end; c++)
			if (!isdigit((unsigned char)*c))
				return -EBADMSG;
	}
	{
		size_t hlen = (size_t)((colon ? colon : end) - host);
		const char *port = colon ? colon + 1 : NULL;
		size_t plen = colon ? (size_t)(end - port) : 0;
		char *o;

		/* An empty or default port is no port (WHATWG URL: "port state"). Leading zeros
		 * are dropped the same way. */
		while (plen > 1 && *port == '0') {
			port++;
			plen--;
		}
		if (plen == 0 || (dflt && plen == strlen(dflt) && memcmp(port, dflt, plen) == 0))
			plen = 0;
		char *ascii = NULL;

		/* "https://:8080" has no host: not a URL a login was saved on (and what it would
		 * become, "https://", is refused). */
		if (plen > 5 || (special && hlen == 0))
			return -EBADMSG;
		if (special) {
			bool idn = false;

			for (size_t i = 0; i < hlen; i++)
				idn = idn || (unsigned char)host[i] >= 0x80;
			if (idn) {
				int rc = host_to_ascii(host, hlen, &ascii);

				if (rc)
					return rc;
				host = ascii;
				hlen = strlen(ascii);
			}
		}
		o = ds_asprintf("%s://%.*s%s%.*s", scheme, (int)hlen, host, plen ? ":" : "", (int)plen,
				plen ? port : "");
		ds_free(ascii);
		if (!o)
			return -ENOMEM;
		if (special)
			for (char *c = o + slen + 3; *c; c++)
				*c = (char)tolower((unsigned char)*c);
		*out = o;
	}
	return 0;
}

/* ---- validation and fix-ups --------------------------------------------------------------- */

static bool has_newline(const char *s)
{
	return s && strpbrk(s, "\r\n") != NULL;
}

static int fix_origin(char **field)
{
	char *n;
	int rc = ds_passwords_origin_normalize(*field, &n);

	if (rc)
		return rc;
	if (strcmp(n, *field) != 0)
		DS_LOG_DBG("login origin normalised");
	ds_free(*field);
	*field = n;
	return 0;
}

static int clear_field(char **field)
{
	if (*field && **field) {
		ds_free(*field);
		*field = ds_strdup("");
		if (!*field)
			return -ENOMEM;
	}
	return 0;
}

int ds_passwords_login_fixup(struct ds_login *l)
{
	int rc;

	if (!l->origin || !*l->origin)
		return -EBADMSG; /* InvalidLogin::EmptyOrigin */
	if (!l->password || !*l->password)
		return -EBADMSG; /* InvalidLogin::EmptyPassword */
	if (l->form_action_origin && l->http_realm) {
		/* InvalidLogin::BothTargets: the form target is kept. */
		ds_free(l->http_realm);
		l->http_realm = NULL;
	}
	if (!l->form_action_origin && !l->http_realm)
		return -EBADMSG; /* InvalidLogin::NoTarget */
	/* Desktop refuses newlines in every field but the secret ones; strings carry no NUL here
	 * (C strings), and the decoder refuses JSON strings with an embedded NUL. */
	if (has_newline(l->origin) || has_newline(l->form_action_origin) ||
	    has_newline(l->http_realm) || has_newline(l->username_field) ||
	    has_newline(l->password_field))
		return -EBADMSG;
	if (l->username_field && strcmp(l->username_field, ".") == 0)
		return -EBADMSG;
	rc = fix_origin(&l->origin);
	if (rc)
		return rc;
	if (!l->form_action_origin) {
		rc = clear_field(&l->username_field);
		if (rc == 0)
			rc = clear_field(&l->password_field);
		if (rc)
			return rc;
	} else if (strcmp(l->form_action_origin, ".") == 0) {
		l->form_action_origin[0] = '\0'; /* "." means any target, as "" does */
	} else if (*l->form_action_origin && strcmp(l->form_action_origin, "javascript:") != 0) {
		rc = fix_origin(&l->form_action_origin);
		if (rc)
			return rc;
	}
	if (l->time_created < 0)
		l->time_created = 0;
	if (l->time_password_changed < 0)
		l->time_password_changed = 0;
	if (l->time_last_used < 0)
		l->time_last_used = 0;
	if (l->times_used < 0)
		l->times_used = 0;
	if (l->time_last_breach_alert_dismissed < 0)
		l->time_last_breach_alert_dismissed = 0;
	return 0;
}

/* ---- record payloads ------------------------------------------------------------------------- */

/* A string field, or NULL when absent, null or not a string; -EBADMSG for a value longer than
 * we keep. */
static int get_str(const cJSON *o, const char *name, char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	*out = NULL;
	if (!cJSON_IsString(v) || !v->valuestring)
		return 0;
	if (strlen(v->valuestring) > DS_PASSWORDS_MAX_FIELD)
		return -EBADMSG;
	*out = ds_strdup(v->valuestring);
	return *out ? 0 : -ENOMEM;
}

/* Timestamps and counts: AS reads anything but an integer as 0 (merge.rs
 * test_invalid_payload_timestamps); numbers past int64 too. */
static int64_t get_int(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	double d;

	if (!cJSON_IsNumber(v))
		return 0;
	d = v->valuedouble;
	if (!(d >= -9.0e15 && d <= 9.0e15))
		return 0;
	return (int64_t)d;
}

/* cJSON turns the escape \u0000 into a NUL inside the string, which would silently cut the
 * value short: AS refuses NULs in every field (login.rs), so such a record is refused whole.
 * Backslashes only occur inside JSON strings, each starting one escape. */
static bool has_nul_escape(const char *t)
{
	for (; *t; t++) {
		if (*t != '\\')
			continue;
		if (t[1] == 'u' && strncmp(t + 2, "0000", 4) == 0)
			return true;
		if (t[1])
			t++;
	}
	return false;
}

int ds_passwords_login_decode(const char *id, const char *payload, struct ds_login *out)
{
	cJSON *o;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!id || !*id || strlen(id) >= sizeof(out->guid) || !payload || has_nul_escape(payload))
		return -EBADMSG;
	o = cJSON_Parse(payload);
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return -EBADMSG;
	}
	snprintf(out->guid, sizeof(out->guid), "%s", id);
	rc = get_str(o, "hostname", &out->origin);
	if (rc == 0)
		rc = get_str(o, "formSubmitURL", &out->form_action_origin);
	if (rc == 0)
		rc = get_str(o, "httpRealm", &out->http_realm);
	if (rc == 0)
		rc = get_str(o, "usernameField", &out->username_field);
	if (rc == 0)
		rc = get_str(o, "passwordField", &out->password_field);
	if (rc == 0)
		rc = get_str(o, "username", &out->username);
	if (rc == 0)
		rc = get_str(o, "password", &out->password);
	out->time_created = get_int(o, "timeCreated");
	out->time_password_changed = get_int(o, "timePasswordChanged");
	out->time_last_used = get_int(o, "timeLastUsed");
	out->times_used = get_int(o, "timesUsed");
	out->time_last_breach_alert_dismissed = get_int(o, "timeLastBreachAlertDismissed");
	/* cJSON's strings are its own copies: wipe the secret ones before they are freed. */
	for (cJSON *c = o->child; c; c = c->next)
		if (c->string && cJSON_IsString(c) && c->valuestring &&
		    (strcmp(c->string, "password") == 0 || strcmp(c->string, "username") == 0))
			ds_memzero(c->valuestring, strlen(c->valuestring));
	cJSON_Delete(o);
	if (rc)
		ds_login_clear(out);
	return rc;
}

static bool add_int(cJSON *o, const char *name, int64_t v)
{
	return cJSON_AddNumberToObject(o, name, (double)v) != NULL;
}

static void wipe_json(cJSON *o)
{
	for (cJSON *c = o ? o->child : NULL; c; c = c->next)
		if (cJSON_IsString(c) && c->valuestring)
			ds_memzero(c->valuestring, strlen(c->valuestring));
}

int ds_passwords_login_encode(const struct ds_login *l, char **out)
{
	cJSON *o = cJSON_CreateObject();
	bool ok;

	*out = NULL;
	/* Field set of desktop's LoginRec (services/sync/modules/engines/passwords.sys.mjs) and AS
	 * payload.rs: formSubmitURL and httpRealm only when present. */
	ok = o && cJSON_AddStringToObject(o, "id", l->guid) &&
	     cJSON_AddStringToObject(o, "hostname", str_or_empty(l->origin)) &&
	     (!l->form_action_origin ||
	      cJSON_AddStringToObject(o, "formSubmitURL", l->form_action_origin)) &&
	     (!l->http_realm || cJSON_AddStringToObject(o, "httpRealm", l->http_realm)) &&
	     cJSON_AddStringToObject(o, "username", str_or_empty(l->username)) &&
	     cJSON_AddStringToObject(o, "password", str_or_empty(l->password)) &&
	     cJSON_AddStringToObject(o, "usernameField", str_or_empty(l->username_field)) &&
	     cJSON_AddStringToObject(o, "passwordField", str_or_empty(l->password_field)) &&
	     add_int(o, "timeCreated", l->time_created) &&
	     add_int(o, "timePasswordChanged", l->time_password_changed) &&
	     add_int(o, "timeLastUsed", l->time_last_used) &&
	     add_int(o, "timesUsed", l->times_used) &&
	     (!l->time_last_breach_alert_dismissed ||
	      add_int(o, "timeLastBreachAlertDismissed", l->time_last_breach_alert_dismissed));
	if (ok) {
		/* Records are freed with ds_free (ds_record_clear): copy out of cJSON's allocator. */
		char *text = cJSON_PrintUnformatted(o);

		*out = text ? ds_strdup(text) : NULL;
		if (text) {
			ds_memzero(text, strlen(text));
			cJSON_free(text);
		}
	}
	wipe_json(o);
	cJSON_Delete(o);
	return *out ? 0 : -ENOMEM;
}

/* ---- merge ------------------------------------------------------------------------------------ */

static bool same(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool same_target(const struct ds_login *a, const struct ds_login *b)
{
	return same(a->form_action_origin, b->form_action_origin) && same(a->http_realm, b->http_realm);
}

/* Which side a field comes from: 'l'ocal or 'r'emote. */
static char pick(bool lc, bool rc, bool remote_newer)
{
	if (lc && rc)
		return remote_newer ? 'r' : 'l';
	return lc ? 'l' : 'r';
}

static int take(char **dst, const char *l, const char *r, char side)
{
	return dup_opt(dst, side == 'l' ? l : r);
}

static int64_t min_nonzero(int64_t a, int64_t b)
{
	if (a <= 0)
		return b;
	if (b <= 0)
		return a;
	return DS_MIN(a, b);
}

int ds_passwords_login_merge(const struct ds_login *local, const struct ds_login *remote,
			     const struct ds_login *base, bool remote_newer, struct ds_login *out)
{
	char side;
	int rc = 0;

#define CHANGED(side_, f) (base ? !same((side_)->f, base->f) : !same(local->f, remote->f))
	memset(out, 0, sizeof(*out));
	snprintf(out->guid, sizeof(out->guid), "%s", remote->guid);
	rc |= take(&out->origin, local->origin, remote->origin,
		   pick(CHANGED(local, origin), CHANGED(remote, origin), remote_newer));
	/* The target is one field: formSubmitURL and httpRealm never come from different sides. */
	side = base ? pick(!same_target(local, base), !same_target(remote, base), remote_newer)
		    : pick(!same_target(local, remote), !same_target(local, remote), remote_newer);
	rc |= take(&out->form_action_origin, local->form_action_origin, remote->form_action_origin, side);
	rc |= take(&out->http_realm, local->http_realm, remote->http_realm, side);
	rc |= take(&out->username, local->username, remote->username,
		   pick(CHANGED(local, username), CHANGED(remote, username), remote_newer));
	rc |= take(&out->username_field, local->username_field, remote->username_field,
		   pick(CHANGED(local, username_field), CHANGED(remote, username_field), remote_newer));
	rc |= take(&out->password_field, local->password_field, remote->password_field,
		   pick(CHANGED(local, password_field), CHANGED(remote, password_field), remote_newer));
	/* The password: when both sides changed it, the later change of the password itself wins,
	 * whatever else changed since (timePasswordChanged only moves with the password). */
	{
		bool lc = CHANGED(local, password), rcg = CHANGED(remote, password);

		if (lc && rcg && local->time_password_changed != remote->time_password_changed)
			side = local->time_password_changed > remote->time_password_changed ? 'l' : 'r';
		else
			side = pick(lc, rcg, remote_newer);
		rc |= take(&out->password, local->password, remote->password, side);
	}
#undef CHANGED
	if (rc) {
		ds_login_clear(out);
		return -ENOMEM;
	}
	out->time_created = min_nonzero(local->time_created, remote->time_created);
	out->time_password_changed = DS_MAX(local->time_password_changed, remote->time_password_changed);
	out->time_last_used = DS_MAX(local->time_last_used, remote->time_last_used);
	out->time_last_breach_alert_dismissed =
		DS_MAX(local->time_last_breach_alert_dismissed, remote->time_last_breach_alert_dismissed);
	if (base) {
		/* Uses are commutative: each side's uses since the shared version add up (AS
		 * LoginDelta::merge times_used). A count below the base is no use, not a negative. */
		int64_t b = DS_MAX(base->times_used, 0);

		out->times_used = b + DS_MAX(local->times_used - b, 0) + DS_MAX(remote->times_used - b, 0);
	} else {
		/* Without a shared version the two counts may include the same uses. */
		out->times_used = DS_MAX(local->times_used, remote->times_used);
	}
	return 0;
}
