/*
 * ds_hawk.h - Hawk request authentication (hueniverse/hawk API.md, lib/crypto.js; now
 * mozilla/hawk), header scheme, SHA-256.
 *
 * Used twice in datasync, with different credentials (accounts.md §6):
 *  - FxA auth server: id = lower-case hex of a token's tokenId, key = its 32-byte reqHMACkey
 *    (ds_account_token_keys()); the payload hash is sent with every body.
 *  - Sync storage node: id = the tokenserver's "id" string, key = the ASCII bytes of its "key"
 *    string (not base64-decoded); Firefox sends no payload hash there.
 *
 * The MAC covers, one per line (each ending in '\n'):
 *   "hawk.1.header", ts, nonce, METHOD, path?query exactly as sent, host (lower case), port,
 *   payload hash or "", ext or ""
 * and is sent as base64(HMAC-SHA256(key, that string)).
 *
 * Timestamps: Unix seconds from the port's wall clock plus a skew in seconds that the caller
 * learnt from the server (ds_hawk_skew_from_server()); devices boot with wrong clocks and the
 * servers refuse stale timestamps (FxA errno 111 with "serverTime").
 *
 * Functions return 0 or a negative errno: -EINVAL (bad argument, unparsable URL), -ENOSPC
 * (output too small), -EIO (crypto backend).
 */
#ifndef DS_HAWK_H
#define DS_HAWK_H

#include <stddef.h>
#include <stdint.h>

#define DS_HAWK_HASH_LEN 45 /* base64 of 32 bytes, with its NUL */
#define DS_HAWK_NONCE_MAX 32
/* A full header value is id + ext + ~200 bytes; this fits FxA and Sync ids. */
#define DS_HAWK_HEADER_MAX 1024

struct ds_hawk_credentials {
	const char *id;
	const void *key;
	size_t key_len;
};

/* One request as Hawk sees it. */
struct ds_hawk_request {
	const char *method;   /* upper-cased for the MAC */
	const char *host;     /* lower-cased for the MAC */
	int port;             /* 80/443 when the URL gave none */
	const char *resource; /* path and query, exactly as sent */
	/*
	 * Payload hash: with content_type set, the hash of payload (payload_len bytes, may be 0)
	 * is computed and sent; with content_type NULL no hash is sent (Sync storage).
	 */
	const char *content_type; /* parameters after ';' are dropped, lower-cased */
	const void *payload;
	size_t payload_len;
	const char *ext;   /* NULL: none */
	int64_t ts;        /* Unix seconds; <= 0: now from the port's wall clock + skew_s */
	int64_t skew_s;    /* server time - our time, used when ts <= 0 */
	const char *nonce; /* NULL: a fresh random one */
};

/* base64(SHA256("hawk.1.payload\n" + type + "\n" + payload + "\n")) into out[DS_HAWK_HASH_LEN]. */
int ds_hawk_payload_hash(const char *content_type, const void *payload, size_t len,
			 char out[DS_HAWK_HASH_LEN]);

/*
 * The MAC of a normalized string of the given type ("header" for requests, "response" for a
 * Server-Authorization check). hash may be NULL or "" (no payload hash).
 */
int ds_hawk_mac(const char *type, const struct ds_hawk_credentials *cred, int64_t ts,
		const char *nonce, const char *method, const char *resource, const char *host, int port,
		const char *hash, const char *ext, char out[DS_HAWK_HASH_LEN]);

/*
 * The Authorization header value: Hawk id="..", ts="..", nonce=".."[, hash=".."][, ext=".."],
 * mac="..". Returns the length written (without the NUL) or -errno.
 */
int ds_hawk_header(const struct ds_hawk_credentials *cred, const struct ds_hawk_request *req,
		   char *out, size_t cap);

/*
 * The same for a URL (http:// or https://): host, port and path?query come from it. content_type
 * NULL sends no payload hash.
 */
int ds_hawk_header_for_url(const struct ds_hawk_credentials *cred, const char *method,
			   const char *url, const char *content_type, const void *payload,
			   size_t payload_len, int64_t skew_s, char *out, size_t cap);

/* Unix seconds now by the port's wall clock, corrected by skew_s. */
int64_t ds_hawk_now(int64_t skew_s);

/*
 * Skew from a server's time in Unix seconds (a "Timestamp" header or FxA's "serverTime"):
 * server_s - our wall clock. -ERANGE when it exceeds CONFIG_DS_ACCOUNT_HAWK_MAX_SKEW_S (a server
 * reporting nonsense must not move our clock by years).
 */
int ds_hawk_skew_from_server(int64_t server_s, int64_t *skew_s);

#endif /* DS_HAWK_H */
