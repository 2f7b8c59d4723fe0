/*
 * account_cmd.c - sign-in and sign-out on the control socket (docs/accounts.md, docs/ipc.md).
 *
 *   {"cmd":"login","email":E,"password":P}  -> {"state":"signed-in",...} or
 *                                              {"state":"verification-required","method":M}
 *   {"cmd":"login-verify","code":C}          -> {"state":"signed-in",...}
 *   {"cmd":"logout"}                         -> {"state":"signed-out"[,"warning":W]}
 *
 * The HTTP work blocks for seconds (650 000 PBKDF2 rounds for v2 stretching, several round
 * trips), so it runs on a short-lived thread that owns its own FxA client; the loop keeps
 * answering status. The thread tells the loop it has ended through a pipe the loop watches; the
 * loop joins it, takes the result and answers the waiting request. While the daemon stops, a
 * running thread is not waited for: the process ends under it and nothing was half-written
 * (the sealed blob is replaced atomically by the port).
 *
 * The password arrives in the request, is copied once for the thread, and both copies are
 * wiped; it is never stored or logged. After sign-in only the sealed session remains.
 */
#define DS_LOG_TAG "account"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ACCOUNT
#include "account/ds_fxa.h"
#include "core/ds_core.h"
#include "core/ds_loop.h"
#include "daemon/ds_account_cmd.h"
#include "daemon/ds_agent.h"
#include "ds_port.h"
#include "ipc/ds_ipc.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum acct_state { ST_SIGNED_OUT, ST_SIGNING_IN, ST_NEEDS_CODE, ST_SIGNED_IN, ST_SIGNING_OUT };

static const char *const state_names[] = { "signed-out", "signing-in", "verification-required", "signed-in",
					   "signing-out" };

enum job_kind { JOB_LOGIN, JOB_VERIFY, JOB_LOGOUT };

/* Server settings read from the daemon's configuration file at each operation. */
struct servers {
	char fxa_url[512];
	char oauth_url[512];
	char tokenserver_url[512];
	char ca_bundle[1024];
};

struct job {
	enum job_kind kind;
	struct ds_ipc_server *ipc;
	uint64_t conn;
	int64_t id;
	struct servers srv;
	char device_name[128];
	char *email;
	char *password; /* wiped and freed by the thread as soon as it is used */
	char *code;
	struct ds_fxa_session s; /* the thread's copy; handed back to the loop */
	/* results */
	int rc;
	int server_errno;
	int64_t retry_after;
	char message[400];
	char warning[200];
};

static struct {
	bool loaded; /* the sealed session has been read */
	enum acct_state state;
	struct ds_fxa_session s; /* loop thread only */
	char last_error[400];
	struct job *job;         /* the running operation, or NULL */
	pthread_t thread;
	int pipe[2];
} g; /* pipe: open while a job runs (start_job to on_job_done) */

/* ---- configuration ------------------------------------------------------------------------------ */

/* A setting of the configuration into dst, or dflt when it is unset or empty. */
static void setting(char *dst, size_t cap, const char *value, const char *dflt)
{
	snprintf(dst, cap, "%s", value && *value ? value : dflt);
}

/* Server URLs and CA bundle from the configuration (ds_conf.h), else the Kconfig defaults. */
static void read_servers(const struct ds_agent *a, struct servers *srv)
{
	const struct ds_conf *c = &a->conf;

	setting(srv->fxa_url, sizeof(srv->fxa_url), c->fxa_url, CONFIG_DS_ACCOUNT_FXA_URL);
	setting(srv->oauth_url, sizeof(srv->oauth_url), c->oauth_url, CONFIG_DS_ACCOUNT_OAUTH_URL);
	setting(srv->tokenserver_url, sizeof(srv->tokenserver_url), c->tokenserver_url,
		CONFIG_DS_ACCOUNT_TOKENSERVER_URL);
	setting(srv->ca_bundle, sizeof(srv->ca_bundle), c->ca_bundle, "");
}

/* Set by ds_account_cmd_signed_out_elsewhere() from a sync thread; the loop thread acts on it. */
static atomic_bool signed_out_elsewhere;

void ds_account_cmd_signed_out_elsewhere(void)
{
	atomic_store(&signed_out_elsewhere, true);
}

static void load_once(void)
{
	int rc;

	/* Another device's logout command erased the sealed session during a run: the state the
	 * loop holds must follow, or status would keep saying "signed-in" until a restart. */
	if (atomic_exchange(&signed_out_elsewhere, false) && g.state == ST_SIGNED_IN) {
		ds_fxa_session_wipe(&g.s);
		g.state = ST_SIGNED_OUT;
		snprintf(g.last_error, sizeof(g.last_error), "signed out by a logout command from another device");
		DS_LOG_INF("signed out: another device sent a logout command");
	}
	if (g.loaded)
		return;
	g.loaded = true;
	rc = ds_fxa_session_unseal(&g.s);
	if (!rc && g.s.verified && g.s.has_keys) {
		g.state = ST_SIGNED_IN;
		DS_LOG_INF("signed in as uid %s (resumed)", g.s.uid);
	} else {
		if (rc && rc != -ENOENT)
			DS_LOG_WRN("the sealed account cannot be read (%s): signed out", ds_strerror(rc));
		ds_fxa_session_wipe(&g.s);
	}
}

/* ---- the thread ------------------------------------------------------------------------------------ */

static void wipe_free(char *p)
{
	if (p) {
		ds_memzero(p, strlen(p));
		ds_free(p);
	}
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	wipe_free(j->email);
	wipe_free(j->password);
	wipe_free(j->code);
	ds_fxa_session_wipe(&j->s);
	ds_free(j);
}

static void job_fail(struct job *j, struct ds_fxa *f, int rc, const char *what)
{
	j->rc = rc;
	j->server_errno = f ? ds_fxa_errno(f) : 0;
	j->retry_after = f ? ds_fxa_retry_after(f) : 0;
	snprintf(j->message, sizeof(j->message), "%s%s%s", what ? what : "", what ? ": " : "",
		 f && ds_fxa_error(f)[0] ? ds_fxa_error(f) : ds_strerror(rc));
}

/* After a verified session: keys, an offline OAuth token, the device, then seal. */
static void finish_sign_in(struct job *j, struct ds_fxa *f)
{
	struct ds_fxa_token tok = { 0 };
	int rc;

	rc = ds_fxa_fetch_keys(f, &j->s, NULL);
	if (rc) {
		job_fail(j, f, rc, "cannot fetch the account keys");
		return;
	}
	/* The refresh token lets the tokenserver client get access tokens without Hawk later. */
	rc = ds_fxa_oauth_token(f, &j->s, DS_FXA_OLDSYNC_SCOPE, true, &tok);
	ds_fxa_token_clear(&tok);
	if (rc)
		snprintf(j->warning, sizeof(j->warning), "no OAuth refresh token: %s", ds_fxa_error(f));
	rc = ds_fxa_register_device(f, &j->s, j->device_name, ds_fxa_device_type());
	if (rc && !j->warning[0])
		snprintf(j->warning, sizeof(j->warning), "device not registered: %s", ds_fxa_error(f));
	j->s.skew_s = ds_fxa_skew(f);
	rc = ds_fxa_session_seal(&j->s);
	if (rc)
		job_fail(j, NULL, rc, "cannot seal the session");
}

static void *job_main(void *arg)
{
	struct job *j = arg;
	struct ds_fxa_config cfg = { .fxa_url = j->srv.fxa_url, .ca_bundle = j->srv.ca_bundle[0] ? j->srv.ca_bundle : NULL };
	struct ds_fxa *f = NULL;
	char byte = 1;
	int rc;

	rc = ds_fxa_new(&cfg, &f);
	if (rc) {
		job_fail(j, NULL, rc, "cannot set up the HTTP client");
		goto out;
	}
	ds_fxa_set_skew(f, j->s.skew_s);
	switch (j->kind) {
	case JOB_LOGIN:
		rc = ds_fxa_login(f, j->email, j->password, &j->s);
		wipe_free(j->password);
		j->password = NULL;
		if (rc)
			job_fail(j, f, rc, NULL);
		else if (j->s.verified)
			finish_sign_in(j, f);
		break;
	case JOB_VERIFY:
		rc = ds_fxa_verify(f, &j->s, j->code);
		if (rc)
			job_fail(j, f, rc, NULL);
		else
			finish_sign_in(j, f);
		break;
	case JOB_LOGOUT:
		rc = j->s.has_session ? ds_fxa_destroy(f, &j->s) : 0;
		/* Best effort: offline, or a session the server already dropped, still signs out here. */
		if (rc)
			snprintf(j->warning, sizeof(j->warning), "the server was not told (%s)", ds_fxa_error(f));
		break;
	}
out:
	ds_fxa_free(f);
	if (write(g.pipe[1], &byte, 1) != 1)
		DS_LOG_ERR("cannot tell the loop that the account operation ended");
	return NULL;
}

/* ---- back on the loop ------------------------------------------------------------------------------ */

/* The account's state; with the servers it uses when srv is given (status). */
static cJSON *account_json(const struct servers *srv)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "state", state_names[g.state]);
	if (g.s.has_session) {
		cJSON_AddStringToObject(o, "email", g.s.email);
		cJSON_AddStringToObject(o, "uid", g.s.uid);
		cJSON_AddBoolToObject(o, "verified", g.s.verified);
	}
	if (g.state == ST_NEEDS_CODE)
		cJSON_AddStringToObject(o, "method", g.s.verification_method);
	if (g.s.device_id[0]) {
		cJSON_AddStringToObject(o, "device_id", g.s.device_id);
		cJSON_AddStringToObject(o, "device_name", g.s.device_name);
	}
	if (g.s.has_keys)
		cJSON_AddStringToObject(o, "key_id", g.s.kid); /* public: sent as X-KeyID */
	if (g.last_error[0])
		cJSON_AddStringToObject(o, "last_error", g.last_error);
	if (srv) {
		cJSON_AddStringToObject(o, "fxa_url", srv->fxa_url);
		cJSON_AddStringToObject(o, "oauth_url", srv->oauth_url);
		cJSON_AddStringToObject(o, "tokenserver_url", srv->tokenserver_url);
	}
	return o;
}

static void on_job_done(int fd, void *user_data)
{
	struct ds_agent *a = user_data;
	struct job *j = g.job;
	char byte;
	cJSON *b;

	if (read(fd, &byte, 1) != 1 || !j)
		return;
	pthread_join(g.thread, NULL);
	ds_loop_unwatch(a->loop, g.pipe[0]);
	close(g.pipe[0]);
	close(g.pipe[1]);
	g.pipe[0] = g.pipe[1] = -1;
	g.job = NULL;

	if (j->kind == JOB_LOGOUT) {
		int rc = ds_fxa_session_erase();

		ds_fxa_session_wipe(&g.s);
		g.state = ST_SIGNED_OUT;
		g.last_error[0] = '\0';
		if (rc && rc != -ENOENT) {
			const char *e = ds_strerror(rc);

			DS_LOG_ERR("cannot erase the sealed account: %s", e);
			ds_ipc_reply_error(j->ipc, j->conn, j->id, rc, "cannot erase the sealed account: %s", e);
			goto out;
		}
		DS_LOG_INF("signed out%s%s", j->warning[0] ? ": " : "", j->warning);
	} else if (j->rc) {
		/* A wrong code leaves the pending sign-in usable: the person may try again. */
		bool retry_code = j->kind == JOB_VERIFY && j->rc == -EACCES;

		snprintf(g.last_error, sizeof(g.last_error), "%s", j->message);
		if (retry_code) {
			g.s = j->s;
			g.state = ST_NEEDS_CODE;
		} else {
			ds_fxa_session_wipe(&g.s);
			g.state = ST_SIGNED_OUT;
		}
		DS_LOG_WRN("sign-in failed: %s", j->message);
		b = cJSON_CreateObject();
		if (b && j->server_errno)
			cJSON_AddNumberToObject(b, "fxa_errno", j->server_errno);
		if (b && j->retry_after > 0)
			cJSON_AddNumberToObject(b, "retry_after_s", (double)j->retry_after);
		if (b)
			cJSON_AddStringToObject(b, "state", state_names[g.state]);
		ds_ipc_reply_failure(j->ipc, j->conn, j->id, j->rc, j->message, b);
		goto out;
	} else {
		g.s = j->s;
		g.last_error[0] = '\0';
		if (!g.s.verified) {
			g.state = ST_NEEDS_CODE;
			DS_LOG_INF("sign-in of uid %s waits for a verification code (%s)", g.s.uid,
				   g.s.verification_method);
		} else {
			g.state = ST_SIGNED_IN;
			/* The pending key material went with the key fetch; the loop's copy holds none. */
			DS_LOG_INF("signed in as uid %s, device \"%s\"%s%s", g.s.uid, g.s.device_name,
				   j->warning[0] ? ": " : "", j->warning);
		}
	}
	b = account_json(NULL);
	if (b && j->warning[0])
		cJSON_AddStringToObject(b, "warning", j->warning);
	ds_ipc_reply(j->ipc, j->conn, j->id, b);
out:
	job_free(j);
}

static int start_job(struct ds_agent *a, struct job *j)
{
	int rc;

	if (pipe(g.pipe))
		return -errno;
	fcntl(g.pipe[0], F_SETFD, FD_CLOEXEC);
	fcntl(g.pipe[1], F_SETFD, FD_CLOEXEC);
	rc = ds_loop_watch(a->loop, g.pipe[0], on_job_done, a);
	if (!rc) {
		g.job = j;
		rc = -pthread_create(&g.thread, NULL, job_main, j);
		if (rc) {
			g.job = NULL;
			ds_loop_unwatch(a->loop, g.pipe[0]);
		}
	}
	if (rc) {
		close(g.pipe[0]);
		close(g.pipe[1]);
		g.pipe[0] = g.pipe[1] = -1;
	}
	return rc;
}

/* ---- requests ----------------------------------------------------------------------------------------- */

/* A string member of req, copied; the request's copy is wiped (it may be a password or code). */
static char *take_string(cJSON *req, const char *k)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(req, k);
	char *s;

	if (!cJSON_IsString(v) || !v->valuestring[0])
		return NULL;
	s = ds_strdup(v->valuestring);
	ds_memzero(v->valuestring, strlen(v->valuestring));
	return s;
}

static int reply_err(struct ds_ipc_server *s, uint64_t conn, int64_t id, int rc, const char *msg)
{
	ds_ipc_reply_error(s, conn, id, rc, "%s", msg);
	return 0;
}

int ds_account_cmd_handle(struct ds_agent *a, struct ds_ipc_server *s, uint64_t conn, int64_t id, const char *cmd,
			  cJSON *req)
{
	const char *refused; /* why a request is refused before it starts */
	struct job *j = NULL;
	int rc;

	load_once();
	if (g.job) {
		/* Wipe whatever secret came along before refusing. */
		wipe_free(take_string(req, "password"));
		wipe_free(take_string(req, "code"));
		rc = -EBUSY;
		refused = "an account operation is running: try again when it has ended";
		goto refuse; /* j: NULL */
	}
	j = ds_calloc(1, sizeof(*j));
	if (!j) {
		wipe_free(take_string(req, "password"));
		rc = -ENOMEM;
		refused = "out of memory";
		goto refuse;
	}
	j->ipc = s;
	j->conn = conn;
	j->id = id;
	read_servers(a, &j->srv);
	setting(j->device_name, sizeof(j->device_name), a->conf.device_name, ds_board_get()->name);

	if (!strcmp(cmd, "login")) {
		j->kind = JOB_LOGIN;
		j->email = take_string(req, "email");
		j->password = take_string(req, "password");
		if (!j->email || !j->password) {
			rc = -EINVAL;
			refused = "login needs \"email\" and \"password\"";
			goto refuse;
		}
		if (g.state == ST_SIGNED_IN) {
			job_free(j);
			ds_ipc_reply_error(s, conn, id, -EEXIST, "already signed in as %s (datasyncctl logout first)",
					   g.s.email);
			return 0;
		}
		/* A new sign-in replaces one that waited for its code. */
		ds_fxa_session_wipe(&g.s);
		g.state = ST_SIGNING_IN;
		DS_LOG_INF("sign-in requested");
	} else if (!strcmp(cmd, "login-verify")) {
		j->kind = JOB_VERIFY;
		j->code = take_string(req, "code");
		if (!j->code) {
			rc = -EINVAL;
			refused = "login-verify needs \"code\"";
			goto refuse;
		}
		if (g.state != ST_NEEDS_CODE) {
			rc = -ENOENT;
			refused = "no sign-in waits for a code (datasyncctl login first)";
			goto refuse;
		}
		j->s = g.s;
		g.state = ST_SIGNING_IN;
	} else {
		j->kind = JOB_LOGOUT;
		if (g.state == ST_SIGNED_OUT) {
			/* Still erase: a blob we could not read is gone after this. */
			ds_fxa_session_erase();
			job_free(j);
			ds_ipc_reply(s, conn, id, account_json(NULL));
			return 0;
		}
		j->s = g.s;
		g.state = ST_SIGNING_OUT;
	}
	rc = start_job(a, j);
	if (rc) {
		g.state = j->kind == JOB_VERIFY ? ST_NEEDS_CODE : (j->kind == JOB_LOGOUT ? ST_SIGNED_IN : ST_SIGNED_OUT);
		job_free(j);
		ds_ipc_reply_error(s, conn, id, rc, "cannot start the account operation: %s", ds_strerror(rc));
		return 0;
	}
	return 1;
refuse:
	job_free(j);
	return reply_err(s, conn, id, rc, refused);
}

void ds_account_cmd_status(struct ds_agent *a, cJSON *status)
{
	struct servers srv;

	if (!status)
		return;
	load_once();
	read_servers(a, &srv);
	cJSON_AddItemToObject(status, "account", account_json(&srv));
}
