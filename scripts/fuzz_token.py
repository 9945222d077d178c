#!/usr/bin/env python3
"""Mutation fuzz of `POST /token` against a running `sts demo` (issue 16). Python stdlib only.

Started by scripts/fuzz-token.sh, which runs the binary and checks its log; this driver sends the
requests and checks every answer:

- status < 500, with an OAuth JSON body (an object whose `error` is a non-empty string);
- 200 only for a subject token the emulator signed (the untouched valid token, or one minted with
  hostile extra claims), never for a token changed after signing;
- a complete answer on every connection (one connection per request, so a dropped connection is
  unambiguous: the server closed it without answering).

What is sent, per request, drawn from `random.Random(seed)` (so a seed replays exactly):
bit flips in the decoded bytes of each JWT segment, re-encoded headers and claims with hostile
values (huge and negative numbers, +-1e308, number literals JSON cannot hold, long and nested
strings, unicode, nulls, arrays for scalars, `alg` none/HS256), tokens the emulator signed with
hostile claims, malformed forms (bad percent-encoding, duplicate keys, invalid UTF-8, huge keys,
oversized bodies), odd content types and correlation ids.
"""

import argparse
import base64
import http.client
import json
import random
import sys
import urllib.parse
import urllib.request

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"

# Values that are not what a claim should hold. Python floats cover +-1e308; the raw literals
# below are written into the JSON text as is (JSON numbers no f64 or i64 can hold, and non-JSON).
HOSTILE = [
    0, -1, 1, 2**31, -(2**31), 2**53 + 1, 2**63 - 1, -(2**63), 2**63, 2**64 - 1, 2**64, 2**100, -(2**100),
    1e308, -1e308, 1.7976931348623157e308, 5e-324, -0.0, 1700000000.5, 253402300800, 253402300799,
    "", "0", "1e308", "NaN", "-1", "2.0", "1.0", "RS256", "app",
    "x" * 10_000, "\u00e9\u4e2d\U0001f600" * 50, "\u0000", "\ud7ff\ufffd", "a\"b\\c",
    None, True, False, [], [1], ["a", "b"], [[[[]]]], {}, {"a": {"b": [None]}}, [2000] * 100,
]
# The values that broke the time checks before (issue 16), and their neighbours: drawn often.
TIME_HOSTILE = [2**63 - 1, 2**63 - 60, -(2**63), -(2**63) + 59, 2**63, 2**64 - 1, 1e308, -1e308, 1e19, -1e19,
                9.3e18, -9.3e18, 1.5, -1, 0, 253402300800, "1700000000", [1700000000], None, {"$numberLong": "1"}]
RAW_LITERALS = ["1e999", "-1e999", "NaN", "Infinity", "-Infinity", "123456789012345678901234567890",
                "-123456789012345678901234567890", "1E400", "0.0000001e-999", "00", "+1", "0x10"]
CLAIMS = ["exp", "nbf", "iat", "ver", "tid", "aud", "azp", "appid", "oid", "scp", "idtyp", "iss", "sub", "acrs"]
HEADERS = ["alg", "kid", "typ", "x5t", "crit"]
CONTENT_TYPES = [None, "", "text/plain", "application/json", "multipart/form-data; boundary=x",
                 "application/x-www-form-urlencoded; charset=latin1", "APPLICATION/X-WWW-FORM-URLENCODED",
                 "application/x-www-form-urlencoded;;;", "application/x-www-form-urlencodedX", "\u00e9/\u00e9",
                 "application/x-www-form-urlencoded; " + "p=v; " * 200]
CORRELATION_IDS = [None, "", "ok-id-1", "a" * 65, "a" * 5000, "\u00e9t\u00e9", "../../etc/passwd", "id with spaces",
                   "%00", "'; DROP TABLE audit; --", "\t", "x" * 64]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Case:
    """One request: its body, headers, and whether a 200 would be legitimate."""

    def __init__(self, kind, body, content_type="application/x-www-form-urlencoded", correlation=None,
                 may_succeed=False):
        self.kind, self.body, self.content_type = kind, body, content_type
        self.correlation, self.may_succeed = correlation, may_succeed
        self.correlation_header = "x-correlation-id"


def form(token, scope, rng=None, extra=()):
    pairs = [("grant_type", GRANT), ("subject_token_type", TOKEN_TYPE), ("subject_token", token), ("scope", scope)]
    pairs.extend(extra)
    if rng is not None:
        rng.shuffle(pairs)
    return urllib.parse.urlencode(pairs).encode()


def flip_bits(rng, data: bytes) -> bytes:
    if not data:
        return bytes([rng.randrange(256)])
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def hostile_json(rng, obj: dict, keys) -> str:
    """`obj` with one to three members replaced by hostile values, as JSON text."""
    obj = dict(obj)
    raw = {}
    for _ in range(rng.randint(1, 3)):
        key = rng.choice(keys)
        if rng.random() < 0.25:
            raw[key] = rng.choice(RAW_LITERALS)
            obj.pop(key, None)
        elif rng.random() < 0.1:
            obj.pop(key, None)
        else:
            value = rng.choice(HOSTILE)
            if rng.random() < 0.1:  # deep nesting: serde_json's recursion limit is 128
                value = [value]
                for _ in range(rng.choice([50, 127, 128, 129, 300])):
                    value = [value]
            obj[key] = value
    text = json.dumps(obj, ensure_ascii=rng.random() < 0.5)
    if raw:
        members = ", ".join(f'"{k}": {v}' for k, v in raw.items())
        text = text[:-1] + (", " if len(obj) else "") + members + "}"
    return text


def mutate_token(rng, token: str) -> str:
    head, claims, sig = token.split(".")
    what = rng.randrange(12)
    if what == 0:
        return ".".join([b64(flip_bits(rng, unb64(head))), claims, sig])
    if what == 1:
        return ".".join([head, b64(flip_bits(rng, unb64(claims))), sig])
    if what == 2:
        return ".".join([head, claims, b64(flip_bits(rng, unb64(sig)))])
    if what == 3:
        header = json.loads(unb64(head))
        if rng.random() < 0.5:
            header["alg"] = rng.choice(["none", "HS256", "RS512", "PS256", "ES256", "rs256", "", None, ["RS256"]])
            sig = rng.choice(["", sig, b64(b"x" * 32)])
            return ".".join([b64(json.dumps(header).encode()), claims, sig])
        return ".".join([b64(hostile_json(rng, header, HEADERS).encode()), claims, sig])
    if what in (4, 5):
        return ".".join([head, b64(hostile_json(rng, json.loads(unb64(claims)), CLAIMS).encode()), sig])
    if what in (6, 10, 11):  # the time claims, which once overflowed: often right at the i64 edges
        c = json.loads(unb64(claims))
        for key in rng.sample(["exp", "nbf", "iat"], rng.randint(1, 3)):
            edge = rng.choice([2**63 - 1 - rng.randrange(3600), -(2**63) + rng.randrange(3600)])
            c[key] = edge if rng.random() < 0.5 else rng.choice(TIME_HOSTILE)
        return ".".join([head, b64(json.dumps(c).encode()), sig])
    if what == 7:  # structure: parts, padding, separators, non-base64 characters
        return rng.choice([
            head, f"{head}.{claims}", f"{token}.{sig}", f"{head}..{sig}", f"..", ".", "",
            token + "==", token.replace("-", "+").replace("_", "/"), token[: rng.randrange(len(token))],
            token[:10] + rng.choice(["%", "!", " ", "\u00e9", "\x7f", "=="]) + token[10:],
            f"{head}.{b64(b'not json')}.{sig}", f"{b64(b'[]')}.{claims}.{sig}", "eyJ" * 2000,
        ])
    if what == 8:  # not even the original signature bytes
        return ".".join([head, claims, b64(bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 255, 256, 512]))))])
    return ".".join([b64(flip_bits(rng, unb64(head))), b64(flip_bits(rng, unb64(claims))), sig])


def malformed_form(rng, token: str, scope: str) -> bytes:
    good = form(token, scope)
    what = rng.randrange(12)
    if what == 0:
        return good + b"&scope=" + scope.encode()  # duplicate key
    if what == 1:
        return good.replace(b"grant_type", b"gr%61nt_type") + b"&grant_type=x"  # duplicate after decoding
    if what == 2:
        return good + rng.choice([b"&x=%", b"&x=%G1", b"&x=%F", b"&scope%=1", b"&%%%=%%%", b"&x=%FF%FE"])
    if what == 3:
        i = rng.randrange(len(good))
        return good[:i] + rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x00", b"\xf4\x90\x80\x80"]) + good[i:]
    if what == 4:
        return good + b"&" + b"k" * rng.choice([1000, 10_000, 30_000]) + b"=v"  # huge key
    if what == 5:
        return b"x=" + b"A" * rng.choice([32 * 1024, 40_000, 100_000])  # over server.max_body_bytes
    if what == 6:
        return rng.choice([b"", b"&", b"&&&&", b"=", b"==", b"=&=", b"grant_type", b"grant_type=&subject_token="])
    if what == 7:
        pairs = [("grant_type", rng.choice([GRANT, "password", "", GRANT.upper(), "x" * 5000])),
                 ("subject_token_type", rng.choice([TOKEN_TYPE, "", "urn:x", None])),
                 ("subject_token", token), ("scope", rng.choice([scope, "", "  ", "a" * 3000, "\u00e9", "a b c"])),
                 ("audience", rng.choice([None, "", "file-picker", "no spaces!", "x" * 100, "\u00e9"])),
                 ("resource", rng.choice([None, "", "https://graph.microsoft.com", "file-picker"])),
                 ("requested_token_type", rng.choice([None, TOKEN_TYPE, "urn:ietf:params:oauth:token-type:id_token"])),
                 ("claims", rng.choice([None, "", "{}", "[]", "null", "{" * 200, '{"access_token":{"acrs":{"essential":true,"value":"c1"}}}',
                                        "x" * 5000, '{"a":' * 130 + "1" + "}" * 130]))]
        return urllib.parse.urlencode([(k, v) for k, v in pairs if v is not None]).encode()
    if what == 8:
        return good.replace(b"&", b";")
    if what == 9:
        return good.replace(b"=", b"==", 1)
    if what == 10:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
    return good + b"&" + urllib.parse.quote(rng.choice(HOSTILE).__repr__()).encode() + b"=1"


def mint(info, extra_claims=None):
    body = {"tenant": info["tenant"], "user": info["user"], "client_app": info["client_app_id"],
            "broker_app": info["broker_app_id"], "scopes": ["access_as_user"]}
    if extra_claims is not None:
        body["extra_claims"] = extra_claims
    request = urllib.request.Request(f"{info['emulator_http']}/_admin/tokens/user", data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return json.load(r)["access_token"]
    except urllib.error.HTTPError:
        return None  # the emulator refused to mint these claims: nothing to send


def signed_hostile_tokens(rng, info, count):
    """Tokens the emulator signed, with hostile standard or extra claims: they pass the signature."""
    tokens = []
    for _ in range(count):
        claim = rng.choice(CLAIMS + ["xms_cc", "extra"])
        value = rng.choice(HOSTILE)
        if isinstance(value, str) and len(value) > 2000:
            value = value[:2000]
        token = mint(info, {claim: value})
        if token:
            tokens.append(token)
    return tokens


def make_case(rng, token, signed, scope):
    kind = rng.randrange(100)
    if kind < 3:
        return Case("valid", form(token, scope, rng), may_succeed=True)
    if kind < 10 and signed:
        return Case("signed-hostile", form(rng.choice(signed), scope, rng), may_succeed=True)
    if kind < 60:
        mutated = mutate_token(rng, token)
        # Two flips of the same bit cancel out: only a token that differs must be refused.
        return Case("token", form(mutated, scope, rng), may_succeed=mutated == token)
    if kind < 85:
        # The token is untouched: a 200 is right when the damage is to parameters `/token` ignores.
        return Case("form", malformed_form(rng, token, scope), may_succeed=True)
    # Headers: the valid request with an odd content type and/or correlation id.
    ct = rng.choice(CONTENT_TYPES)
    case = Case("headers", form(token, scope, rng), content_type=ct, correlation=rng.choice(CORRELATION_IDS),
                may_succeed=ct is not None and ct.split(";")[0].strip().lower() == "application/x-www-form-urlencoded")
    case.correlation_header = rng.choice(["x-correlation-id", "client-request-id"])
    return case


def send(host, port, case):
    """Returns (status, body bytes) or raises when the connection ends without an answer."""
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        conn.putrequest("POST", "/token", skip_accept_encoding=True)
        if case.content_type is not None:
            conn.putheader("Content-Type", case.content_type.encode("utf-8"))
        if case.correlation is not None:
            conn.putheader(case.correlation_header, case.correlation.encode("utf-8"))
        conn.putheader("Content-Length", str(len(case.body)))
        conn.endheaders()
        try:
            conn.send(case.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (413) before reading a huge body; the answer is read below
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def check(case, status, body):
    """None when the answer is right, else why not."""
    if status >= 500:
        return f"status {status}"
    try:
        parsed = json.loads(body)
    except ValueError:
        return f"status {status} with a body that is not JSON: {body[:200]!r}"
    if status == 200:
        if not case.may_succeed:
            return "200 for a request that must fail"
        if not (isinstance(parsed, dict) and isinstance(parsed.get("access_token"), str)):
            return f"200 without an access_token: {body[:200]!r}"
        return None
    if not (isinstance(parsed, dict) and isinstance(parsed.get("error"), str) and parsed["error"]):
        return f"status {status} without an OAuth error field: {body[:200]!r}"
    return None


def run(info, seed, requests):
    rng = random.Random(seed)
    url = urllib.parse.urlparse(info["sts"])
    token = mint(info)
    if not token:
        sys.exit("the emulator did not mint a user token")
    scope = info["scope"]
    status, body = send(url.hostname, url.port, Case("valid", form(token, scope), may_succeed=True))
    if status != 200:
        sys.exit(f"the untouched valid token was not exchanged ({status} {body[:300]!r}): the setup is broken")
    signed = signed_hostile_tokens(rng, info, 30)
    failures, kinds, statuses = [], {}, {}
    for i in range(requests):
        case = make_case(rng, token, signed, scope)
        kinds[case.kind] = kinds.get(case.kind, 0) + 1
        try:
            status, body = send(url.hostname, url.port, case)
        except (http.client.HTTPException, OSError) as e:
            failures.append((i, case, f"connection ended without an answer: {type(e).__name__}: {e}"))
            continue
        statuses[status] = statuses.get(status, 0) + 1
        why = check(case, status, body)
        if why:
            failures.append((i, case, why))
    print(f"seed {seed}: {requests} requests {dict(sorted(kinds.items()))}, statuses {dict(sorted(statuses.items()))}, "
          f"{len(signed)} signed hostile tokens, {len(failures)} failures")
    for i, case, why in failures[:20]:
        print(f"  request #{i} ({case.kind}, content-type {case.content_type!r}, correlation {case.correlation!r}): {why}\n"
              f"    body: {case.body[:300]!r}")
    return len(failures)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--info", required=True, help="the JSON file `sts demo --write-info` wrote")
    p.add_argument("--seed", type=int, action="append", required=True, help="repeatable; each seed runs --requests")
    p.add_argument("--requests", type=int, default=1500, help="requests per seed")
    args = p.parse_args()
    with open(args.info) as f:
        info = json.load(f)
    failed = sum(run(info, seed, args.requests) for seed in args.seed)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
