#!/usr/bin/env python3
"""Real JWT peers for the JWT auth tests: keys, tokens minted with PyJWT, and a JWKS server.

  jwt_tool.py keys DIR         RSA 2048 (rsa-1, rsa-2) and EC P-256 (ec-1) key pairs, an HMAC secret,
                               and DIR/jwks.json listing rsa-1 (what the identity provider publishes)
  jwt_tool.py rotate DIR       DIR/jwks.json now lists rsa-2 only (the provider rotated its key)
  jwt_tool.py mint DIR SPEC    prints {name: token} for a JSON list of {name, key, alg, kid?, claims}
                               where key is rsa-1, rsa-2, ec-1, hmac; "none" (unsigned) and
                               "confusion" (HS256 keyed with rsa-1's public PEM) are made by hand,
                               as an attacker would, since PyJWT refuses to make them
  jwt_tool.py serve DIR        serves DIR over HTTP on 127.0.0.1, prints "PORT n" first
  jwt_tool.py cookie KEY NAME USER EXP   a session cookie as an application's login sets it:
                               "v1." + base64url(nonce | AES-256-GCM(JSON {sub, exp}) | tag), the
                               cookie's name as associated data; KEY is base64 (32 bytes)
"""
import base64, hashlib, hmac, http.server, json, os, sys, time
import jwt
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def write_jwks(d, names):
    keys = []
    for name in names:
        with open(os.path.join(d, name + ".pem"), "rb") as f:
            private = serialization.load_pem_private_key(f.read(), None)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
        jwk.update({"kid": name, "alg": "RS256", "use": "sig"})
        keys.append(jwk)
    with open(os.path.join(d, "jwks.json.tmp"), "w") as f:
        json.dump({"keys": keys}, f)
    os.replace(os.path.join(d, "jwks.json.tmp"), os.path.join(d, "jwks.json"))


def keys(d):
    os.makedirs(d, exist_ok=True)
    for name in ["rsa-1", "rsa-2"]:
        k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        save(d, name, k)
    save(d, "ec-1", ec.generate_private_key(ec.SECP256R1()))
    with open(os.path.join(d, "hmac.secret"), "w") as f:
        f.write(b64(os.urandom(48)) + "\n")
    write_jwks(d, ["rsa-1"])


def save(d, name, k):
    with open(os.path.join(d, name + ".pem"), "wb") as f:
        f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with open(os.path.join(d, name + ".pub.pem"), "wb") as f:
        f.write(public_pem(k))


def mint(d, spec):
    now = int(time.time())
    out = {}
    for item in json.loads(spec):
        claims = {"iat": now, "exp": now + 300}
        claims.update(item.get("claims", {}))
        for k, v in list(claims.items()):
            if v is None:
                del claims[k]
        headers = {"kid": item["kid"]} if item.get("kid") else {}
        key = item["key"]
        if key == "none":
            header = b64(json.dumps({"alg": "none", "typ": "JWT", **headers}).encode())
            token = header + "." + b64(json.dumps(claims).encode()) + "."
        elif key == "confusion":
            header = b64(json.dumps({"alg": "HS256", "typ": "JWT", **headers}).encode())
            signing_input = header + "." + b64(json.dumps(claims).encode())
            with open(os.path.join(d, "rsa-1.pub.pem"), "rb") as f:
                secret = f.read()
            token = signing_input + "." + b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())
        elif key == "hmac":
            with open(os.path.join(d, "hmac.secret")) as f:
                token = jwt.encode(claims, f.read().strip().encode(), algorithm=item["alg"], headers=headers)
        else:
            with open(os.path.join(d, key + ".pem"), "rb") as f:
                token = jwt.encode(claims, f.read(), algorithm=item["alg"], headers=headers)
        out[item["name"]] = token
    print(json.dumps(out))


def serve(d):
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=d, **kw)
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    print("PORT", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    command, d = sys.argv[1], sys.argv[2]
    if command == "keys":
        keys(d)
    elif command == "rotate":
        write_jwks(d, ["rsa-2"])
    elif command == "mint":
        mint(d, sys.argv[3])
    elif command == "serve":
        serve(d)
    elif command == "cookie":
        key, name, user, exp = base64.b64decode(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
        nonce = os.urandom(12)
        sealed = AESGCM(key).encrypt(nonce, json.dumps({"sub": user, "exp": exp}).encode(), name.encode())
        print("v1." + b64(nonce + sealed))
