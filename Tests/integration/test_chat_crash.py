"""Crash test (issue 3): SIGKILL the relay while it takes sends, restart
it, and check with a checker that counts that every acknowledged message is
delivered, in order, with no message that was never sent.

The sender resends a message under the same client message id until it
gets a PUBACK (as the SDK does); the relay's send script makes that
idempotent. Redis keeps running (AOF, fsync always): a relay node's death
must not lose what Redis acknowledged."""

import os
import signal
import threading
import time
import uuid

import pytest

import json

from chat_support import Deployment, Device, Refused, text_of

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")

N = 300
KILL_AFTER = 100


def test_sigkill_while_taking_sends_loses_nothing_acknowledged(tmp_path):
    # This test is about crashes, not rate limits: a region that allows the burst.
    settings = tmp_path / "region.json"
    settings.write_text(json.dumps({"name": "crash", "sendBurst": 1000, "sendsPerSecond": 1000}))
    region = Deployment(tmp_path, nodes=1, extra_args=["--config", str(settings)])
    try:
        tag = uuid.uuid4().hex[:8]
        alice, bob = "alice-" + tag, "bob-" + tag
        conversation = "~".join(sorted([alice, bob]))
        a = Device(region, alice, alice + "-phone")
        b = Device(region, bob, bob + "-phone")

        acked = []          # client message ids with a PUBACK, in order
        attempts = {}
        done = threading.Event()
        failure = []

        def sender():
            try:
                deadline = time.monotonic() + 120
                for i in range(N):
                    cmid = "c%04d" % i
                    while True:
                        assert time.monotonic() < deadline, "sender ran out of time at %s" % cmid
                        attempts[cmid] = attempts.get(cmid, 0) + 1
                        try:
                            a.send(conversation, "msg %d" % i, cmid=cmid, wait=True, timeout=2)
                            break
                        except AssertionError:
                            continue  # no PUBACK (link down): the same id again
                        except Refused as refused:
                            raise AssertionError("send %s refused: %s" % (cmid, refused))
                    acked.append(cmid)
            except BaseException as e:  # reported by the main thread
                failure.append(e)
            finally:
                done.set()

        t = threading.Thread(target=sender, daemon=True)
        t.start()
        deadline = time.monotonic() + 60
        while len(acked) < KILL_AFTER:
            assert time.monotonic() < deadline and not failure, "sender stalled before the kill: %r" % failure
            time.sleep(0.01)  # watching progress made by another thread, under a deadline
        region.restart_node(0, sig=signal.SIGKILL)
        assert done.wait(150), "sender did not finish"
        assert not failure, failure[0]
        assert len(acked) == N

        # The checker: read what bob's device actually received.
        received = []       # (seq, client message id, text) in arrival order
        deadline = time.monotonic() + 90
        while len({cmid for _, cmid, _ in received}) < N:
            left = deadline - time.monotonic()
            assert left > 0, "bob has %d of %d messages" % (len({c for _, c, _ in received}), N)
            try:
                (d,) = b.messages(1, timeout=min(left, 5))
            except AssertionError:
                continue
            received.append((d.seq, d.client_message_id, text_of(d)))

        sent = {"c%04d" % i: "msg %d" % i for i in range(N)}
        seq_of = {}
        for seq, cmid, text in received:
            assert cmid in sent and sent[cmid] == text, "a message that was never sent: %s %r" % (cmid, text)
            assert seq_of.setdefault(cmid, seq) == seq, "%s delivered under two seqs" % cmid
        assert set(seq_of) >= set(acked), "acknowledged but never delivered: %s" % sorted(set(acked) - set(seq_of))
        assert sorted(seq_of.values()) == list(range(1, N + 1)), "one seq per message, no gaps"
        # Order: by seq, first arrivals never go backwards; and seq order is send order.
        firsts, seen = [], set()
        for seq, cmid, _ in received:
            if seq not in seen:
                seen.add(seq)
                firsts.append(seq)
        assert firsts == sorted(firsts), "out of order"
        assert [seq_of["c%04d" % i] for i in range(N)] == list(range(1, N + 1))
        duplicates = len(received) - len(seen)
        retried = sum(1 for n in attempts.values() if n > 1)
        print("crash test: %d sent, %d resent, %d delivered, %d duplicates" % (N, retried, len(received), duplicates))
        a.close()
        b.close()
    finally:
        region.stop()
