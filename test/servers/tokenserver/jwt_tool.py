#!/usr/bin/env python3
"""OAuth access tokens for tokenserver tests, standing in for the FxA test server.

    jwt_tool.py genkey --private KEY.pem --jwks JWKS.json [--kid KID]
        A new RSA-2048 key pair: the private key as PEM, the public key as a JWKS file in the
        form FxA serves it (kty RSA, alg RS256, use sig, kid, n, e, fxa_createdAt).
    jwt_tool.py mint --private KEY.pem --sub FXA_UID [--generation N] [--scope S]
                     [--ttl SECONDS] [--typ T] [--issuer URL] [--kid KID]
        Prints one RS256 JWT: header {"alg":"RS256","typ":"at+jwt","kid":..}, claims sub, exp,
        iat, scope (default the oldsync scope), fxa-generation when given, iss when given
        (syncstorage-rs tokenserver-auth: claims sub, exp, scope; typ at+jwt). A negative
        --ttl makes an expired token.
"""
import argparse
import base64
import json
import sys
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

OLDSYNC_SCOPE = "https://identity.mozilla.com/apps/oldsync"


def b64url_uint(n):
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def genkey(args):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    with open(args.private, "wb") as f:
        f.write(pem)
    pub = key.public_key().public_numbers()
    jwks = {"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": args.kid,
                      "n": b64url_uint(pub.n), "e": b64url_uint(pub.e),
                      "fxa_createdAt": int(time.time())}]}
    with open(args.jwks, "w", encoding="utf-8") as f:
        json.dump(jwks, f)


def mint(args):
    with open(args.private, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    now = int(time.time())
    claims = {"sub": args.sub, "iat": now, "exp": now + args.ttl, "scope": args.scope,
              "client_id": "5882386c6d801776"}
    if args.generation is not None:
        claims["fxa-generation"] = args.generation
    if args.issuer:
        claims["iss"] = args.issuer
    headers = {"typ": args.typ, "kid": args.kid}
    sys.stdout.write(jwt.encode(claims, key, algorithm="RS256", headers=headers) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("genkey")
    g.add_argument("--private", required=True)
    g.add_argument("--jwks", required=True)
    g.add_argument("--kid", default="datasync-test-key")
    m = sub.add_parser("mint")
    m.add_argument("--private", required=True)
    m.add_argument("--sub", required=True)
    m.add_argument("--generation", type=int, default=None)
    m.add_argument("--scope", default=OLDSYNC_SCOPE)
    m.add_argument("--ttl", type=int, default=3600)
    m.add_argument("--typ", default="at+jwt")
    m.add_argument("--issuer", default=None)
    m.add_argument("--kid", default="datasync-test-key")
    args = ap.parse_args()
    genkey(args) if args.cmd == "genkey" else mint(args)


if __name__ == "__main__":
    main()
