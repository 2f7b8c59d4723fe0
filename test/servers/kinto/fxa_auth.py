"""Bearer tokens of the FxA test server (test/servers/fxa) for the Kinto test server.

A pyramid_multiauth policy (kinto.ini style: multiauth.policy.fxa.use = fxa_auth.FxaJwtPolicy,
with "jwks" and "scope" settings; server.py --fxa-jwks/--fxa-scope set them). It accepts
"Authorization: Bearer <JWT>" when the JWT is RS256-signed by a key of the JWKS file (the
file the FxA test server writes with --jwks-out, the keys FxA serves at /v1/jwks), is not
expired, and its "scope" claim lists the configured scope; the user id is the "sub" claim
(the FxA uid), so Kinto's principal is "fxa:<uid>". This is what kinto-fxa /
kinto.plugins.openid check with a real FxA (signature, expiry, scope), without their network
calls. server.py's POST /__test__/fault {"revoke_bearer": true} revokes every token seen so far,
{"refuse_bearer": N} the next N valid tokens presented (the tests' "the server refuses the
device's token" case: an early expiry or a revocation); GET /__test__/bearer counts them.
"""
import json
import threading

import jwt
from pyramid.authentication import CallbackAuthenticationPolicy
from pyramid.interfaces import IAuthenticationPolicy
from zope.interface import implementer

LOCK = threading.Lock()
SEEN = set()     # jti of every token accepted
REVOKED = set()
REFUSED = [0]
REFUSE_NEXT = [0]  # the next N valid tokens presented are revoked on the spot


def refuse_next(n):
    with LOCK:
        REFUSE_NEXT[0] = n


def revoke_all():
    with LOCK:
        REVOKED.update(SEEN)


def stats():
    with LOCK:
        return {"accepted": len(SEEN), "revoked": len(REVOKED), "refused": REFUSED[0]}


@implementer(IAuthenticationPolicy)
class FxaJwtPolicy(CallbackAuthenticationPolicy):
    name = "fxa"

    def __init__(self, jwks, scope, **kw):
        self.jwks = jwks
        self.scope = scope
        self.callback = None

    def _keys(self):
        with open(self.jwks, encoding="utf-8") as f:
            return json.load(f)["keys"]

    def unauthenticated_userid(self, request):
        h = request.headers.get("Authorization", "")
        if not h.startswith("Bearer "):
            return None
        cached = request.environ.get("fxa_auth.userid")
        if cached is not None:
            return cached or None
        tok = h[len("Bearer "):].strip()
        userid = ""
        try:
            kid = jwt.get_unverified_header(tok).get("kid")
            key = next(k for k in self._keys() if k.get("kid") == kid)
            pub = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(key))
            claims = jwt.decode(tok, pub, algorithms=["RS256"], options={"verify_aud": False},
                                leeway=5)
            jti = claims.get("jti", "")
            with LOCK:
                ok = self.scope in str(claims.get("scope", "")).split() and jti not in REVOKED
                if ok and REFUSE_NEXT[0] > 0:
                    REFUSE_NEXT[0] -= 1
                    REVOKED.add(jti)
                    ok = False
                if ok:
                    SEEN.add(jti)
                    userid = str(claims["sub"])
                else:
                    REFUSED[0] += 1
        except (jwt.PyJWTError, StopIteration, KeyError, ValueError, OSError):
            with LOCK:
                REFUSED[0] += 1
        request.environ["fxa_auth.userid"] = userid
        return userid or None

    def effective_principals(self, request):
        return []  # pyramid_multiauth adds the userid, Authenticated and Everyone

    def remember(self, request, userid, **kw):
        return []

    def forget(self, request):
        return [("WWW-Authenticate", 'Bearer realm="kinto"')]
