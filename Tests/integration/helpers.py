"""Shared client helpers: a paho wrapper whose every wait is bounded, and a
check that a broker still serves normal traffic."""

import queue
import ssl
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

import rawmqtt

WAIT = 10.0  # default bound for any single wait


def props(packet_type=PacketTypes.PUBLISH, **kw):
    """Properties(PUBLISH) with attributes set, e.g.
    props(MessageExpiryInterval=30, UserProperty=[("a", "b")])."""
    p = Properties(packet_type)
    for k, v in kw.items():
        setattr(p, k, v)
    return p


class PahoClient:
    """paho-mqtt 1.6 client with a background loop and bounded waits.

    Received messages go to .messages (a queue); connect/subscribe/publish
    wait for their acknowledgement with a timeout."""

    def __init__(self, broker, client_id="", version=5, clean=True,
                 transport="tcp", port=None, tls_ca=None, ws_path="/mqtt",
                 userdata=None):
        self.version = version
        self.broker = broker
        proto = mqtt.MQTTv5 if version == 5 else mqtt.MQTTv311
        if version == 5:
            self.c = mqtt.Client(client_id=client_id, protocol=proto,
                                 transport=transport)
        else:
            self.c = mqtt.Client(client_id=client_id, protocol=proto,
                                 clean_session=clean, transport=transport)
        self.clean = clean
        self.port = port or broker.port
        if transport == "websockets":
            self.c.ws_set_options(path=ws_path)
        if tls_ca:
            self.c.tls_set_context(ssl.create_default_context(cafile=tls_ca))
        self.messages = queue.Queue()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.connack = None
        self.disconnect_rc = None
        self._subacks = {}
        self._lock = threading.Lock()
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_subscribe
        self.c.on_unsubscribe = self._on_unsubscribe
        # Don't let paho's automatic reconnect hide disconnects.
        self.c.reconnect_delay_set(60, 120)

    # -- callbacks
    def _on_connect(self, c, u, flags, rc, properties=None):
        self.connack = (flags, rc, properties)
        self.connected.set()

    def _on_disconnect(self, c, u, rc, properties=None):
        self.disconnect_rc = rc
        self.disconnected.set()

    def _on_message(self, c, u, msg):
        self.messages.put(msg)

    def _on_subscribe(self, c, u, mid, granted, properties=None):
        with self._lock:
            ev = self._subacks.setdefault(mid, [threading.Event(), None])
            ev[1] = granted
        ev[0].set()

    def _on_unsubscribe(self, c, u, mid, *rest):
        with self._lock:
            ev = self._subacks.setdefault(mid, [threading.Event(), None])
        ev[0].set()

    def _wait_mid(self, mid, timeout):
        with self._lock:
            ev = self._subacks.setdefault(mid, [threading.Event(), None])
        assert ev[0].wait(timeout), "no SUBACK/UNSUBACK for mid %d" % mid
        return ev[1]

    # -- actions
    def connect(self, keepalive=60, properties=None, clean_start=None,
                will=None, timeout=WAIT, expect_rc=0):
        """will: dict(topic, payload, qos, retain, properties)."""
        if will:
            self.c.will_set(will["topic"], will.get("payload"),
                            will.get("qos", 0), will.get("retain", False),
                            will.get("properties"))
        kw = {}
        if self.version == 5:
            kw["clean_start"] = self.clean if clean_start is None else clean_start
            if properties is not None:
                kw["properties"] = properties
        self.connected.clear()
        self.disconnected.clear()
        self.c.connect(self.broker.host, self.port, keepalive, **kw)
        self.c.loop_start()
        assert self.connected.wait(timeout), "no CONNACK within %ss" % timeout
        flags, rc, _ = self.connack
        if expect_rc is not None:
            assert rc == expect_rc, "CONNACK rc %r" % (rc,)
        return self.connack

    @property
    def session_present(self):
        return bool(self.connack[0].get("session present"))

    def subscribe(self, topic, qos=0, options=None, properties=None,
                  timeout=WAIT):
        if self.version == 5:
            if options is None:
                options = SubscribeOptions(qos=qos)
            rc, mid = self.c.subscribe(topic, options=options,
                                       properties=properties)
        else:
            rc, mid = self.c.subscribe(topic, qos)
        assert rc == mqtt.MQTT_ERR_SUCCESS, rc
        granted = self._wait_mid(mid, timeout)
        return granted

    def unsubscribe(self, topic, timeout=WAIT):
        rc, mid = self.c.unsubscribe(topic)
        assert rc == mqtt.MQTT_ERR_SUCCESS, rc
        self._wait_mid(mid, timeout)

    def publish(self, topic, payload=b"", qos=0, retain=False,
                properties=None, timeout=WAIT):
        info = self.c.publish(topic, payload, qos, retain,
                              properties=properties)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, info.rc
        info.wait_for_publish(timeout)
        assert info.is_published(), "publish not acknowledged in %ss" % timeout
        return info

    def get(self, timeout=WAIT):
        """Next received message; fails if none arrives in time."""
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no message within %ss" % timeout)

    def get_n(self, n, timeout=WAIT):
        deadline = time.monotonic() + timeout
        out = []
        while len(out) < n:
            left = deadline - time.monotonic()
            try:
                out.append(self.messages.get(timeout=max(0.001, left)))
            except queue.Empty:
                raise AssertionError("got %d of %d messages within %ss: %r"
                                     % (len(out), n, timeout,
                                        [(m.topic, m.payload) for m in out]))
        return out

    def expect_nothing(self, timeout=0.5):
        """Asserts no message arrives within timeout."""
        try:
            m = self.messages.get(timeout=timeout)
        except queue.Empty:
            return
        raise AssertionError("unexpected message %r %r" % (m.topic, m.payload))

    def disconnect(self, properties=None):
        try:
            self.c.disconnect(properties=properties)
        except Exception:
            pass
        self.disconnected.wait(5)
        self.c.loop_stop()

    def kill(self):
        """Drops the TCP connection without DISCONNECT (will fires)."""
        try:
            self.c.socket().close()
        except Exception:
            pass
        self.c.loop_stop()


def assert_serves(broker, version=4, timeout=5.0):
    """The broker still routes a QoS 1 message between two fresh clients."""
    import uuid
    tag = uuid.uuid4().hex[:10]
    topic = "health/%s" % tag
    with rawmqtt.RawClient(broker.host, broker.port, version=version) as sub, \
            rawmqtt.RawClient(broker.host, broker.port, version=version) as pub:
        sub.connect("hs-" + tag, timeout=timeout)
        ack = sub.subscribe((topic, 1), timeout=timeout)
        assert ack.codes == [1], ack
        pub.connect("hp-" + tag, timeout=timeout)
        pub.publish_acked(topic, b"alive", qos=1, timeout=timeout)
        m = sub.recv_publish(timeout=timeout)
        assert (m.topic, m.payload, m.qos) == (topic, b"alive", 1)
        sub.disconnect()
        pub.disconnect()
