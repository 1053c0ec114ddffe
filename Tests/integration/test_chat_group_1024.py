"""A group at the size limit (1024 members): creation, a send fanned out to
every member's device, the 1025th member refused. Devices of most members
are registered directly in Redis (as their first connection would do), so
the test needs only a few real connections; Redis is then read to check
that every one of the 1023 other devices was given the message."""

import os
import subprocess
import uuid

import pytest

from chat_support import Deployment, Device, text_of

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")


def redis(region, commands):
    """Runs commands through redis-cli (one per line), returns the replies."""
    script = "\n".join(" ".join(c) for c in commands) + "\n"
    out = subprocess.run(["redis-cli", "-p", str(region.redis_port)], input=script,
                         capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.splitlines()


def test_a_1024_member_group(tmp_path):
    region = Deployment(tmp_path, nodes=2)
    try:
        tag = uuid.uuid4().hex[:6]
        users = ["u%04d-%s" % (i, tag) for i in range(1024)]
        live = [Device(region, users[i], users[i] + "-d", node=i % 2) for i in range(4)]
        redis(region, [("SADD", "{u:%s}:devices" % u, u + "-d") for u in users[4:]])
        pb = live[0].pb
        create = pb.GroupCreate()
        create.members.extend(users[1:])
        resp = live[0].request("group.create", group_create=create)
        assert not resp.HasField("error"), resp.error
        group = resp.group.conversation
        assert len(resp.group.members) == 1024

        live[1].send(group, "to 1024")
        for d in live[:1] + live[2:]:
            (got,) = d.messages(1)
            assert (got.conversation, got.seq, text_of(got)) == (group, 1, "to 1024")
        # Every other member device was given it (its conversation marked up to seq 1).
        marks = redis(region, [("ZSCORE", "{d:%s-d}:dirty" % u, group) for u in users[4:]])
        assert marks == ["1"] * len(users[4:])

        # The 1025th member is refused.
        add = pb.GroupMembers(conversation=group, users=["one-too-many-" + tag])
        resp = live[0].request("group.add", group_add=add)
        assert resp.error.code == "group_full"
        for d in live:
            d.close()
    finally:
        region.stop()
