"""A Web Push receiver for tests: an HTTP push service on loopback that
plays the user agent too. Each subscription has its own P-256 key pair and
auth secret (made here with `cryptography`); every request is checked
independently of the relay's code: the VAPID Authorization (RFC 8292,
ES256 verified with `cryptography`, `aud` the receiver's origin, `exp`
within 24 h, `k` the deployment's published key), the RFC 8030 headers,
and the body decrypted with PyPI's `http-ece` (RFC 8291 aes128gcm).

Answers can be scripted per subscription (503 with Retry-After, 410, ...);
the default is 201 Created. Waits are bounded."""

import base64
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from chat_support import HOST, free_port
from watched import Watched


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Subscription:
    """A user agent's subscription: keys, endpoint, and what arrived for it."""

    def __init__(self, receiver, name):
        self.name = name
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.p256dh = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        self.auth = os.urandom(16)
        self.endpoint = "http://%s:%d/push/%s" % (HOST, receiver.port, name)
        self.attempts = []   # every request: {"at", "status", "headers"}
        self.pushes = []     # accepted ones, decrypted: {"at", "hint", "headers", "body"}
        self.script = []     # statuses (and headers) to answer next, in order


class PushReceiver(Watched):
    label = "push receiver: "

    def __init__(self, vapid_key):
        self.vapid_key = vapid_key  # base64url of the deployment's VAPID public key
        self.port = free_port()
        self.subscriptions = {}
        self.errors = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                receiver._handle(self)

        self.server = ThreadingHTTPServer((HOST, self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def subscribe(self, name):
        sub = Subscription(self, name)
        with self.cond:
            self.subscriptions[name] = sub
        return sub

    def _handle(self, request):
        length = int(request.headers.get("Content-Length", "0"))
        body = request.rfile.read(length)
        name = request.path.rsplit("/", 1)[-1]
        now = time.monotonic()
        with self.cond:
            sub = self.subscriptions.get(name)
            status, extra = (sub.script.pop(0) if sub and sub.script else (201, {})) if sub else (404, {})
        problems = self._check(request, body, sub) if sub else ["unknown subscription %s" % name]
        hint = None
        if not problems:
            try:
                plain = http_ece.decrypt(body, private_key=sub.private_key, auth_secret=sub.auth, version="aes128gcm")
                hint = json.loads(plain)
                if set(hint) != {"type", "id", "urgency"} or hint["type"] != "wake":
                    problems.append("unexpected hint %r" % hint)
            except Exception as e:  # a body that does not decrypt is a failure of the relay
                problems.append("body does not decrypt: %r" % e)
        request.send_response(status)
        for k, v in extra.items():
            request.send_header(k, v)
        if status == 201:
            request.send_header("Location", "/message/%s" % os.urandom(4).hex())
        request.send_header("Content-Length", "0")
        request.end_headers()
        with self.cond:
            self.errors.extend("%s: %s" % (name, p) for p in problems)
            if sub:
                sub.attempts.append({"at": now, "status": status, "headers": dict(request.headers)})
                if 200 <= status < 300 and hint is not None:
                    sub.pushes.append({"at": now, "hint": hint, "headers": dict(request.headers), "body": body})
            self.cond.notify_all()

    def _check(self, request, body, sub):
        problems = []
        h = request.headers
        if h.get("Content-Encoding") != "aes128gcm":
            problems.append("Content-Encoding %r" % h.get("Content-Encoding"))
        if not (h.get("TTL") or "").isdigit():
            problems.append("TTL %r" % h.get("TTL"))
        if h.get("Urgency") not in ("very-low", "low", "normal", "high"):
            problems.append("Urgency %r" % h.get("Urgency"))
        topic = h.get("Topic") or ""
        if not (0 < len(topic) <= 32 and all(c.isalnum() or c in "-_" for c in topic)):
            problems.append("Topic %r" % topic)
        auth = h.get("Authorization") or ""
        try:
            assert auth.startswith("vapid "), "not vapid"
            fields = dict(p.strip().split("=", 1) for p in auth[6:].split(","))
            assert fields["k"] == self.vapid_key, "k is not the deployment's published key"
            head, claims, sig = fields["t"].split(".")
            assert json.loads(unb64url(head)) == {"typ": "JWT", "alg": "ES256"}
            raw = unb64url(sig)
            assert len(raw) == 64, "ES256 signature is not r||s"
            der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(fields["k"]))
            key.verify(der, ("%s.%s" % (head, claims)).encode(), ec.ECDSA(hashes.SHA256()))
            c = json.loads(unb64url(claims))
            assert c["aud"] == "http://%s:%d" % (HOST, self.port), "aud %r" % c["aud"]
            assert time.time() < c["exp"] <= time.time() + 24 * 3600 + 60, "exp %r" % c["exp"]
            assert c["sub"].startswith(("mailto:", "https:")), "sub %r" % c["sub"]
        except Exception as e:
            problems.append("VAPID: %r" % e)
        return problems

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
