"""Local stand-ins for APNs and FCM, for tests. Each checks every request
against the shape the provider documents, independently of the relay's
code (signatures verified with `cryptography`, HTTP/2 spoken with `h2`),
records what arrived, and answers as scripted per device token (default:
success). Waits are bounded.

APNs ("Sending notification requests to APNs", "Establishing a token-based
connection to APNs"): HTTP/2 over TLS (ALPN h2, a self-signed certificate
the relay trusts through `pushCAFile`); `POST /3/device/<hex token>`;
`authorization: bearer <ES256 JWT>` with header `kid` and claims `iss`,
`iat`, verified with the team key's public key; `apns-push-type` alert or
background with the matching `apns-priority` (10 or 5) and payload
(`mutable-content` or `content-available`), `apns-topic`,
`apns-expiration`, `apns-collapse-id`; nothing but a wake-up in the body.

FCM (HTTP v1 "messages:send", OAuth2 for server-to-server applications):
the token endpoint checks the RS256 grant assertion (`iss` the service
account, `scope` firebase.messaging, `aud` the token URI) and grants a
bearer token; `POST /v1/projects/<id>/messages:send` needs one and a
data-only message (`token`, `data`, `android.priority`, `android.ttl`,
`android.collapse_key`, no `notification`)."""

import base64
import datetime
import ipaddress
import json
import os
import socket
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import h2.config
import h2.connection
import h2.events
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID

from chat_support import HOST, free_port
from watched import Watched


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def split_jwt(token):
    head, claims, sig = token.split(".")
    return json.loads(unb64url(head)), json.loads(unb64url(claims)), ("%s.%s" % (head, claims)).encode(), unb64url(sig)


WAKE_KEYS = {"type", "id", "urgency"}


def check_wake(hint, urgency=None):
    """The only thing a push may say: a wake-up, a hex id, the urgency."""
    assert isinstance(hint, dict) and set(hint) == WAKE_KEYS, "not a bare wake-up: %r" % hint
    assert hint["type"] == "wake" and all(c in "0123456789abcdef" for c in hint["id"]), hint
    assert hint["urgency"] in ("high", "normal") and (urgency is None or hint["urgency"] == urgency), hint


class _Recorder(Watched):
    """What arrived, scripted answers, and bounded waits on a condition."""

    def __init__(self):
        self.cond = threading.Condition()
        self.requests = []   # every push request: {"at", "token", "status", "headers", "body"}
        self.errors = []     # shape problems, as text
        self.scripts = {}    # device token -> [(status, headers, body)]

    def script(self, token, *answers):
        with self.cond:
            self.scripts.setdefault(token, []).extend(answers)

    def _next_answer(self, token, default):
        with self.cond:
            queue = self.scripts.get(token)
            return queue.pop(0) if queue else default

    def _record(self, entry, problems):
        with self.cond:
            self.requests.append(entry)
            self.errors.extend(problems)
            self.cond.notify_all()

    def to(self, token):
        with self.cond:
            return [r for r in self.requests if r["token"] == token]


def self_signed_certificate(directory):
    """A certificate for HOST (IP SAN) and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "push stand-in")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path = os.path.join(directory, "standin-cert.pem")
    key_path = os.path.join(directory, "standin-key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


class APNsStandIn(_Recorder):
    """An HTTP/2 APNs on HOST with a fresh team key (`key_path`, a .p8)."""

    def __init__(self, directory, topic="com.example.chat"):
        super().__init__()
        self.topic = topic
        self.key_id, self.team_id = "KEY1234567", "TEAM123456"
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.key_path = os.path.join(directory, "AuthKey_%s.p8" % self.key_id)
        with open(self.key_path, "wb") as f:
            f.write(self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        self.cert_path, cert_key = self_signed_certificate(directory)
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(self.cert_path, cert_key)
        self.tls.set_alpn_protocols(["h2"])
        self.port = free_port()
        self.url = "https://%s:%d" % (HOST, self.port)
        self.provider_tokens = set()  # distinct provider tokens seen
        self.connections = []
        self.listener = socket.create_server((HOST, self.port))
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while self.running:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw):
        try:
            raw.settimeout(30)
            sock = self.tls.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError) as e:
            with self.cond:
                self.errors.append("TLS handshake: %r" % e)
            raw.close()
            return
        with self.cond:
            self.connections.append(sock)
            if sock.selected_alpn_protocol() != "h2":
                self.errors.append("ALPN selected %r, not h2" % sock.selected_alpn_protocol())
        conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        conn.initiate_connection()
        streams = {}
        try:
            sock.sendall(conn.data_to_send())
            while self.running:
                data = sock.recv(65535)
                if not data:
                    return
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        streams[event.stream_id] = (event.headers, bytearray())
                    elif isinstance(event, h2.events.DataReceived):
                        streams[event.stream_id][1].extend(event.data)
                        conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    elif isinstance(event, h2.events.StreamEnded):
                        headers, body = streams.pop(event.stream_id)
                        self._answer(conn, event.stream_id, headers, bytes(body))
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        return
                sock.sendall(conn.data_to_send())
        except (OSError, ssl.SSLError):
            return
        finally:
            sock.close()

    def _answer(self, conn, stream_id, header_list, body):
        headers = {}
        for name, value in header_list:
            if name in headers:
                headers[name] += "," + value
            else:
                headers[name] = value
        path = headers.get(":path", "")
        token = path.rsplit("/", 1)[-1]
        problems = ["%s: %s" % (token, p) for p in self._check(headers, body)]
        status, extra, answer = self._next_answer(token, (200, {}, b""))
        response = [(":status", str(status)), ("apns-id", "%08x-0000-0000-0000-000000000000" % (stream_id & 0xffffffff))]
        response += [(k.lower(), v) for k, v in extra.items()]
        if answer:
            response.append(("content-type", "application/json"))
        response.append(("content-length", str(len(answer))))
        conn.send_headers(stream_id, response, end_stream=not answer)
        if answer:
            conn.send_data(stream_id, answer, end_stream=True)
        self._record({"at": time.monotonic(), "token": token, "status": status, "headers": headers, "body": body}, problems)

    def _check(self, h, body):
        problems = []
        try:
            assert h.get(":method") == "POST", "method %r" % h.get(":method")
            assert h.get(":scheme") == "https", "scheme %r" % h.get(":scheme")
            path = h.get(":path", "")
            assert path.startswith("/3/device/") and all(c in "0123456789abcdef" for c in path[10:]) and path[10:], "path %r" % path
            auth = h.get("authorization", "")
            assert auth.startswith("bearer "), "authorization %r" % auth
            head, claims, signed, sig = split_jwt(auth[7:])
            assert head == {"alg": "ES256", "kid": self.key_id}, "JWT header %r" % head
            assert set(claims) == {"iss", "iat"} and claims["iss"] == self.team_id, "JWT claims %r" % claims
            assert abs(claims["iat"] - time.time()) < 3600, "iat %r is more than an hour off" % claims["iat"]
            assert len(sig) == 64, "ES256 signature is not r||s"
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
            self.key.public_key().verify(der, signed, ec.ECDSA(hashes.SHA256()))
            with self.cond:
                self.provider_tokens.add(auth[7:])
            kind = h.get("apns-push-type")
            assert kind in ("alert", "background"), "apns-push-type %r" % kind
            assert h.get("apns-priority") == ("10" if kind == "alert" else "5"), "apns-priority %r for %s" % (h.get("apns-priority"), kind)
            assert h.get("apns-topic") == self.topic, "apns-topic %r" % h.get("apns-topic")
            expiration = int(h.get("apns-expiration", "x"))
            assert time.time() < expiration <= time.time() + 86400 + 60, "apns-expiration %r" % expiration
            collapse = h.get("apns-collapse-id", "")
            assert 0 < len(collapse.encode()) <= 64, "apns-collapse-id %r" % collapse
            assert len(body) <= 4096, "payload of %d bytes" % len(body)
            payload = json.loads(body)
            assert set(payload) == {"aps", "relay"}, "payload keys %r" % sorted(payload)
            aps = payload["aps"]
            if kind == "alert":
                assert aps.get("mutable-content") == 1 and "content-available" not in aps, "alert aps %r" % aps
                assert aps.get("alert") == {"loc-key": "RELAY_NEW_MESSAGES"}, "alert %r" % aps.get("alert")
            else:
                assert aps == {"content-available": 1}, "background aps %r" % aps
            check_wake(payload["relay"], "high" if kind == "alert" else "normal")
        except Exception as e:  # any mismatch is a failure of the relay
            problems.append("APNs request: %r" % e)
        return problems

    def stop(self):
        self.running = False
        self.listener.close()
        with self.cond:
            for sock in self.connections:
                try:
                    sock.close()
                except OSError:
                    pass


class FCMStandIn(_Recorder):
    """FCM's token endpoint and messages:send on HOST (HTTP/1.1), with a
    fresh service account (`account_path`, the JSON key file)."""

    SCOPE = "https://www.googleapis.com/auth/firebase.messaging"

    def __init__(self, directory, project="relay-test"):
        super().__init__()
        self.project = project
        self.port = free_port()
        self.url = "http://%s:%d" % (HOST, self.port)
        self.token_uri = self.url + "/token"
        self.email = "relay-push@%s.iam.gserviceaccount.example" % project
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.account_path = os.path.join(directory, "fcm-service-account.json")
        with open(self.account_path, "w") as f:
            json.dump({
                "type": "service_account", "project_id": project, "private_key_id": "0123abcd",
                "private_key": self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()).decode(),
                "client_email": self.email, "client_id": "1", "token_uri": self.token_uri,
            }, f)
        self.grants = []          # access tokens granted, in order
        self.grant_script = []    # statuses for the next grants
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if self.path == "/token":
                    standin._grant(self, body)
                else:
                    standin._send(self, body)

        self.server = ThreadingHTTPServer((HOST, self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _reply(self, request, status, payload, extra=None):
        data = json.dumps(payload).encode()
        request.send_response(status)
        for k, v in (extra or {}).items():
            request.send_header(k, v)
        request.send_header("Content-Type", "application/json; charset=UTF-8")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def _grant(self, request, body):
        problems = []
        try:
            assert request.headers.get("Content-Type") == "application/x-www-form-urlencoded", "grant content type"
            form = urllib.parse.parse_qs(body.decode(), strict_parsing=True)
            assert form.get("grant_type") == ["urn:ietf:params:oauth:grant-type:jwt-bearer"], "grant_type %r" % form.get("grant_type")
            head, claims, signed, sig = split_jwt(form["assertion"][0])
            assert head.get("alg") == "RS256" and head.get("typ") == "JWT" and head.get("kid") == "0123abcd", "header %r" % head
            assert claims["iss"] == self.email and claims["scope"] == self.SCOPE and claims["aud"] == self.token_uri, claims
            assert abs(claims["iat"] - time.time()) < 300 and 0 < claims["exp"] - claims["iat"] <= 3600, claims
            self.key.public_key().verify(sig, signed, padding.PKCS1v15(), hashes.SHA256())
        except Exception as e:
            problems.append("token grant: %r" % e)
        with self.cond:
            status = self.grant_script.pop(0) if self.grant_script else 200
        if problems or status != 200:
            self._reply(request, 400 if problems else status, {"error": "invalid_grant"})
            with self.cond:
                self.errors.extend(problems)
                self.cond.notify_all()
            return
        token = "ya29.standin-" + os.urandom(8).hex()
        with self.cond:
            self.grants.append(token)
            self.cond.notify_all()
        self._reply(request, 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _send(self, request, body):
        problems = []
        token = None
        try:
            assert request.path == "/v1/projects/%s/messages:send" % self.project, "path %r" % request.path
            auth = request.headers.get("Authorization", "")
            with self.cond:
                granted = auth.startswith("Bearer ") and auth[7:] in self.grants
            assert granted, "Authorization %r is not a granted token" % auth[:20]
            assert (request.headers.get("Content-Type") or "").startswith("application/json"), "content type"
            message = json.loads(body)["message"]
            token = message.get("token")
            assert set(message) == {"token", "data", "android"}, "message keys %r (data only, nothing else)" % sorted(message)
            android = message["android"]
            assert set(android) == {"priority", "ttl", "collapse_key"}, "android %r" % android
            urgency = {"HIGH": "high", "NORMAL": "normal"}[android["priority"]]
            assert android["ttl"] == ("86400s" if urgency == "high" else "3600s"), "ttl %r" % android["ttl"]
            assert 0 < len(android["collapse_key"]) <= 64
            assert all(isinstance(v, str) for v in message["data"].values()), "data values must be strings"
            check_wake(message["data"], urgency)
        except Exception as e:
            problems.append("FCM request: %r" % e)
        status, extra, answer = self._next_answer(token, (200, {}, {"name": "projects/%s/messages/%s" % (self.project, os.urandom(6).hex())}))
        self._reply(request, status, answer, extra)
        self._record({"at": time.monotonic(), "token": token, "status": status, "headers": dict(request.headers), "body": body},
                     ["%s: %s" % (token, p) for p in problems])

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def fcm_error(status, code, error_code=None):
    """An FCM v1 error body (google.rpc.Status with an FcmError detail)."""
    details = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": error_code}] if error_code else []
    return {"error": {"code": status, "message": "stand-in", "status": code, "details": details}}


def apns_error(reason):
    return json.dumps({"reason": reason}).encode()
