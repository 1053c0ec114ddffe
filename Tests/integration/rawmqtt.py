"""A tiny hand-rolled MQTT 3.1.1 / 5.0 client for black-box tests.

It builds packets byte by byte (so tests can also build *broken* ones), sends
them over a plain socket and reads packets back with a timeout.  Nothing here
is clever: no retries, no automatic acks, no keep-alive pings.  That is the
point: the tests decide exactly what goes on the wire.

Every read is bounded by a timeout; nothing blocks forever.
"""

import collections
import socket
import struct
import time

# Packet types (upper nibble of the first byte).
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK = 8, 9, 10, 11
PINGREQ, PINGRESP, DISCONNECT, AUTH = 12, 13, 14, 15

TYPE_NAMES = {
    1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC",
    6: "PUBREL", 7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK",
    10: "UNSUBSCRIBE", 11: "UNSUBACK", 12: "PINGREQ", 13: "PINGRESP",
    14: "DISCONNECT", 15: "AUTH",
}

# MQTT 5 property identifiers.
P_PAYLOAD_FORMAT = 0x01
P_MESSAGE_EXPIRY = 0x02
P_CONTENT_TYPE = 0x03
P_RESPONSE_TOPIC = 0x08
P_CORRELATION_DATA = 0x09
P_SUBSCRIPTION_ID = 0x0B
P_SESSION_EXPIRY = 0x11
P_ASSIGNED_CLIENT_ID = 0x12
P_SERVER_KEEP_ALIVE = 0x13
P_AUTH_METHOD = 0x15
P_AUTH_DATA = 0x16
P_REQUEST_PROBLEM_INFO = 0x17
P_WILL_DELAY = 0x18
P_REQUEST_RESPONSE_INFO = 0x19
P_RESPONSE_INFO = 0x1A
P_SERVER_REFERENCE = 0x1C
P_REASON_STRING = 0x1F
P_RECEIVE_MAXIMUM = 0x21
P_TOPIC_ALIAS_MAXIMUM = 0x22
P_TOPIC_ALIAS = 0x23
P_MAXIMUM_QOS = 0x24
P_RETAIN_AVAILABLE = 0x25
P_USER_PROPERTY = 0x26
P_MAXIMUM_PACKET_SIZE = 0x27
P_WILDCARD_SUB_AVAILABLE = 0x28
P_SUB_ID_AVAILABLE = 0x29
P_SHARED_SUB_AVAILABLE = 0x2A

_BYTE = {0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A}
_U16 = {0x13, 0x21, 0x22, 0x23}
_U32 = {0x02, 0x11, 0x18, 0x27}
_VBI = {0x0B}
_STR = {0x03, 0x08, 0x12, 0x15, 0x1A, 0x1C, 0x1F}
_BIN = {0x09, 0x16}
_PAIR = {0x26}
# Properties that may appear more than once; decoded into lists.
_MULTI = {0x0B, 0x26}


class ProtocolError(Exception):
    pass


# ---------------------------------------------------------------- encoding

def vbi(n):
    """Variable Byte Integer."""
    if n < 0 or n > 268_435_455:
        raise ValueError(n)
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            b |= 0x80
        out.append(b)
        if not n:
            return bytes(out)


def u16(n):
    return struct.pack(">H", n)


def u32(n):
    return struct.pack(">I", n)


def mqtt_str(s):
    if isinstance(s, str):
        s = s.encode("utf-8")
    return u16(len(s)) + s


def binary(b):
    return u16(len(b)) + bytes(b)


def encode_props(props):
    """props: dict {id: value} or list of (id, value).  For user properties
    (0x26) a value is a (key, value) pair; multi-valued ids may be given as a
    list in dict form."""
    if props is None:
        return vbi(0)
    items = []
    if isinstance(props, dict):
        for k, v in props.items():
            if k in _MULTI and isinstance(v, list):
                items.extend((k, x) for x in v)
            else:
                items.append((k, v))
    else:
        items = list(props)
    body = bytearray()
    for pid, val in items:
        body += vbi(pid)
        if pid in _BYTE:
            body.append(val)
        elif pid in _U16:
            body += u16(val)
        elif pid in _U32:
            body += u32(val)
        elif pid in _VBI:
            body += vbi(val)
        elif pid in _STR:
            body += mqtt_str(val)
        elif pid in _BIN:
            body += binary(val)
        elif pid in _PAIR:
            body += mqtt_str(val[0]) + mqtt_str(val[1])
        else:
            raise ValueError("unknown property 0x%02x" % pid)
    return vbi(len(body)) + bytes(body)


def packet(first_byte, body):
    return bytes([first_byte]) + vbi(len(body)) + bytes(body)


def connect(client_id="", version=5, keepalive=60, clean=True, props=None,
            will=None, username=None, password=None,
            protocol_name=b"MQTT"):
    """will: dict(topic=, payload=, qos=0, retain=False, props=None)."""
    flags = 0
    if clean:
        flags |= 0x02
    if will is not None:
        flags |= 0x04 | (will.get("qos", 0) << 3)
        if will.get("retain"):
            flags |= 0x20
    if password is not None:
        flags |= 0x40
    if username is not None:
        flags |= 0x80
    vh = mqtt_str(protocol_name) + bytes([version, flags]) + u16(keepalive)
    if version == 5:
        vh += encode_props(props)
    pl = mqtt_str(client_id)
    if will is not None:
        if version == 5:
            pl += encode_props(will.get("props"))
        pl += mqtt_str(will["topic"]) + binary(_b(will.get("payload", b"")))
    if username is not None:
        pl += mqtt_str(username)
    if password is not None:
        pl += binary(_b(password))
    return packet(0x10, vh + pl)


def _b(x):
    return x.encode("utf-8") if isinstance(x, str) else bytes(x)


def publish(topic, payload=b"", qos=0, retain=False, dup=False, pid=None,
            version=5, props=None):
    first = 0x30 | (qos << 1) | (1 if retain else 0) | (0x08 if dup else 0)
    body = mqtt_str(topic)
    if qos > 0:
        body += u16(pid if pid is not None else 1)
    if version == 5:
        body += encode_props(props)
    return packet(first, body + _b(payload))


def _ack(first, pid, version, reason=None, props=None):
    body = u16(pid)
    if version == 5 and (reason not in (None, 0) or props):
        body += bytes([reason or 0])
        if props:
            body += encode_props(props)
    return packet(first, body)


def puback(pid, version=5, reason=None):
    return _ack(0x40, pid, version, reason)


def pubrec(pid, version=5, reason=None):
    return _ack(0x50, pid, version, reason)


def pubrel(pid, version=5, reason=None):
    return _ack(0x62, pid, version, reason)


def pubcomp(pid, version=5, reason=None):
    return _ack(0x70, pid, version, reason)


def subscribe(pid, topics, version=5, props=None, flags=0x02):
    """topics: list of (filter, options_byte) or filter strings (QoS 0).
    For v5 the options byte carries QoS | NL<<2 | RAP<<3 | RH<<4."""
    body = u16(pid)
    if version == 5:
        body += encode_props(props)
    for t in topics:
        if isinstance(t, (str, bytes)):
            t = (t, 0)
        body += mqtt_str(t[0]) + bytes([t[1]])
    return packet(0x80 | flags, body)


def sub_opts(qos=0, no_local=False, rap=False, rh=0):
    return qos | (4 if no_local else 0) | (8 if rap else 0) | (rh << 4)


def unsubscribe(pid, topics, version=5, props=None):
    body = u16(pid)
    if version == 5:
        body += encode_props(props)
    for t in topics:
        body += mqtt_str(t)
    return packet(0xA2, body)


def pingreq():
    return b"\xc0\x00"


def disconnect(reason=0, version=5, props=None):
    if version != 5 or (reason == 0 and not props):
        return b"\xe0\x00"
    body = bytes([reason])
    if props:
        body += encode_props(props)
    return packet(0xE0, body)


# ---------------------------------------------------------------- decoding

class Reader:
    def __init__(self, data):
        self.d = data
        self.i = 0

    def left(self):
        return len(self.d) - self.i

    def byte(self):
        if self.i >= len(self.d):
            raise ProtocolError("truncated")
        b = self.d[self.i]
        self.i += 1
        return b

    def take(self, n):
        if self.i + n > len(self.d):
            raise ProtocolError("truncated")
        r = self.d[self.i:self.i + n]
        self.i += n
        return bytes(r)

    def u16(self):
        return struct.unpack(">H", self.take(2))[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def vbi(self):
        mult, val = 1, 0
        for _ in range(4):
            b = self.byte()
            val += (b & 0x7F) * mult
            if not b & 0x80:
                return val
            mult *= 128
        raise ProtocolError("VBI too long")

    def string(self):
        return self.take(self.u16()).decode("utf-8")

    def binary(self):
        return self.take(self.u16())

    def props(self):
        n = self.vbi()
        sub = Reader(self.take(n))
        out = {}
        while sub.left():
            pid = sub.vbi()
            if pid in _BYTE:
                v = sub.byte()
            elif pid in _U16:
                v = sub.u16()
            elif pid in _U32:
                v = sub.u32()
            elif pid in _VBI:
                v = sub.vbi()
            elif pid in _STR:
                v = sub.string()
            elif pid in _BIN:
                v = sub.binary()
            elif pid in _PAIR:
                v = (sub.string(), sub.string())
            else:
                raise ProtocolError("unknown property 0x%02x" % pid)
            if pid in _MULTI:
                out.setdefault(pid, []).append(v)
            else:
                out[pid] = v
        return out


class Packet:
    """A received packet.  Always has .type, .flags, .body (raw); known
    types are parsed into attributes (see parse())."""

    def __init__(self, first, body, version):
        self.first = first
        self.type = first >> 4
        self.flags = first & 0x0F
        self.body = body
        self.version = version
        self.props = {}
        self.reason = 0
        self.pid = None
        self.parse()

    @property
    def name(self):
        return TYPE_NAMES.get(self.type, "?%d" % self.type)

    def __repr__(self):
        extra = ""
        if self.type == PUBLISH:
            extra = " topic=%r qos=%d dup=%d retain=%d pid=%r payload=%r" % (
                self.topic, self.qos, self.dup, self.retain, self.pid,
                self.payload[:40])
        elif self.type in (CONNACK, DISCONNECT, PUBACK, PUBREC, PUBREL,
                           PUBCOMP):
            extra = " reason=0x%02x" % self.reason
        if self.props:
            extra += " props=%r" % (self.props,)
        return "<%s%s body=%s>" % (self.name, extra, self.body[:32].hex())

    def parse(self):
        r = Reader(self.body)
        v5 = self.version == 5
        t = self.type
        if t == CONNACK:
            self.session_present = bool(r.byte() & 1)
            self.reason = r.byte()
            if v5 and r.left():
                self.props = r.props()
        elif t == PUBLISH:
            self.qos = (self.flags >> 1) & 3
            self.dup = bool(self.flags & 8)
            self.retain = bool(self.flags & 1)
            self.topic = r.string()
            if self.qos:
                self.pid = r.u16()
            if v5:
                self.props = r.props()
            self.payload = r.take(r.left())
        elif t in (PUBACK, PUBREC, PUBREL, PUBCOMP):
            self.pid = r.u16()
            if v5 and r.left():
                self.reason = r.byte()
                if r.left():
                    self.props = r.props()
        elif t in (SUBACK, UNSUBACK):
            self.pid = r.u16()
            if v5:
                self.props = r.props()
            self.codes = list(r.take(r.left()))
        elif t == DISCONNECT:
            if r.left():
                self.reason = r.byte()
                if r.left():
                    self.props = r.props()
        elif t == AUTH:
            if r.left():
                self.reason = r.byte()
                if r.left():
                    self.props = r.props()


class Closed(Exception):
    """The peer closed the connection (EOF or reset)."""


class RawClient:
    """A socket speaking hand-made MQTT.  All reads take a timeout."""

    def __init__(self, host, port, version=5, timeout=5.0, rcvbuf=None,
                 ssl_context=None):
        self.version = version
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        if ssl_context is not None:
            self.sock = ssl_context.wrap_socket(self.sock,
                                                server_hostname=host)
        self.buf = bytearray()
        self.pending = collections.deque()  # parsed, not yet returned
        self.closed = False
        self.next_pid = 1

    # -- plumbing
    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def pid(self):
        p = self.next_pid
        self.next_pid = p % 65535 + 1
        return p

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no data before deadline")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no data before deadline")
        except (ConnectionResetError, BrokenPipeError,
                ConnectionAbortedError):
            self.closed = True
            raise Closed("connection reset")
        if not data:
            self.closed = True
            raise Closed("EOF")
        self.buf += data

    def _try_parse(self):
        """Returns (first, body) or None if the buffer holds no full packet."""
        if len(self.buf) < 2:
            return None
        mult, length, i = 1, 0, 1
        while True:
            if i >= len(self.buf):
                return None
            b = self.buf[i]
            length += (b & 0x7F) * mult
            mult *= 128
            i += 1
            if not b & 0x80:
                break
            if i > 4:
                raise ProtocolError("bad remaining length from server")
        if len(self.buf) < i + length:
            return None
        first = self.buf[0]
        body = bytes(self.buf[i:i + length])
        del self.buf[:i + length]
        return first, body

    def recv(self, timeout=5.0):
        """Next packet; raises TimeoutError or Closed."""
        if self.pending:
            return self.pending.popleft()
        deadline = time.monotonic() + timeout
        while True:
            got = self._try_parse()
            if got is not None:
                return Packet(got[0], got[1], self.version)
            self._fill(deadline)

    def _recv_ack(self, ptype, pid, timeout):
        """Waits for an ack of the given type and packet id; other packets
        arriving meanwhile (e.g. a PUBLISH to our own subscription) are
        kept for later recv() calls."""
        deadline = time.monotonic() + timeout
        held = []
        try:
            while True:
                got = self._try_parse()
                if got is None:
                    self._fill(deadline)
                    continue
                p = Packet(got[0], got[1], self.version)
                if p.type == ptype and p.pid == pid:
                    return p
                if p.type in (PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK,
                              DISCONNECT, CONNACK):
                    raise AssertionError("expected %s for pid %r, got %r"
                                         % (TYPE_NAMES[ptype], pid, p))
                held.append(p)
        finally:
            self.pending.extend(held)

    def recv_type(self, ptype, timeout=5.0):
        """Next packet, which must be of the given type."""
        p = self.recv(timeout)
        assert p.type == ptype, "expected %s, got %r" % (TYPE_NAMES[ptype], p)
        return p

    def recv_until(self, ptype, timeout=5.0):
        """Skips packets until one of the given type arrives; returns
        (packet, skipped)."""
        deadline = time.monotonic() + timeout
        skipped = []
        while True:
            p = self.recv(max(0.0, deadline - time.monotonic()) or 0.001)
            if p.type == ptype:
                return p, skipped
            skipped.append(p)

    def try_recv(self, timeout):
        """A packet, or None on timeout.  Raises Closed on close."""
        try:
            return self.recv(timeout)
        except TimeoutError:
            return None

    def wait_closed(self, timeout=5.0):
        """Waits until the server closes the connection.  Returns the list of
        packets received before the close; raises TimeoutError if the
        connection is still open at the deadline."""
        deadline = time.monotonic() + timeout
        got = []
        while True:
            try:
                got.append(self.recv(max(0.001, deadline - time.monotonic())))
            except Closed:
                return got
            except TimeoutError:
                pass
            if time.monotonic() >= deadline:
                raise TimeoutError("connection still open after %ss; got %r"
                                   % (timeout, got))

    def is_open(self, timeout=0.5):
        """True if the server does not close the connection within timeout.
        Bytes received meanwhile stay buffered for later recv() calls."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(deadline)
        except TimeoutError:
            return True
        except Closed:
            return False

    # -- protocol helpers
    def connect(self, client_id="", keepalive=60, clean=True, props=None,
                will=None, expect=0, timeout=5.0, **kw):
        self.send(connect(client_id, self.version, keepalive, clean, props,
                          will, **kw))
        ack = self.recv_type(CONNACK, timeout)
        if expect is not None:
            assert ack.reason == expect, ack
        return ack

    def publish(self, topic, payload=b"", qos=0, retain=False, props=None,
                pid=None, dup=False):
        if qos and pid is None:
            pid = self.pid()
        self.send(publish(topic, payload, qos, retain, dup, pid,
                          self.version, props))
        return pid

    def publish_acked(self, topic, payload=b"", qos=1, retain=False,
                      props=None, timeout=5.0):
        """Publishes at QoS 1 or 2 and completes the handshake."""
        pid = self.publish(topic, payload, qos, retain, props)
        if qos == 1:
            return self._recv_ack(PUBACK, pid, timeout)
        if qos == 2:
            self._recv_ack(PUBREC, pid, timeout)
            self.send(pubrel(pid, self.version))
            return self._recv_ack(PUBCOMP, pid, timeout)
        return None

    def subscribe(self, topics, props=None, timeout=5.0):
        pid = self.pid()
        if isinstance(topics, (str, tuple)):
            topics = [topics]
        self.send(subscribe(pid, topics, self.version, props))
        return self._recv_ack(SUBACK, pid, timeout)

    def unsubscribe(self, topics, timeout=5.0):
        pid = self.pid()
        self.send(unsubscribe(pid, topics, self.version))
        return self._recv_ack(UNSUBACK, pid, timeout)

    def ack(self, p):
        """Acknowledges a received PUBLISH (PUBACK or PUBREC)."""
        if p.qos == 1:
            self.send(puback(p.pid, self.version))
        elif p.qos == 2:
            self.send(pubrec(p.pid, self.version))

    def recv_publish(self, timeout=5.0, auto_ack=True):
        """Next PUBLISH (QoS 2 incoming: PUBREC then PUBREL/PUBCOMP done
        when the PUBREL arrives later via recv_publish/drain)."""
        deadline = time.monotonic() + timeout
        while True:
            p = self.recv(max(0.001, deadline - time.monotonic()))
            if p.type == PUBLISH:
                if auto_ack:
                    self.ack(p)
                return p
            if p.type == PUBREL:
                self.send(pubcomp(p.pid, self.version))
                continue
            if p.type == PINGRESP:
                continue
            raise AssertionError("expected PUBLISH, got %r" % p)

    def disconnect(self, reason=0, props=None):
        try:
            self.send(disconnect(reason, self.version, props))
        except OSError:
            pass
        self.close()
