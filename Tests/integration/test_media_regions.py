"""Media attachments across regions (issue 15): relay-cli seals a 20 MiB
file, uploads it resumably to its home region (us-east) and sends the
pointer end-to-end encrypted; bob in eu-west gets the pointer over the
replication links (through delay proxies at the shipped topology's round
trips), downloads the blob from us-east, verifies and opens it byte-exact.
The stored blob holds no plaintext. Every wait is bounded."""

import hashlib
import json
import os
import subprocess
import uuid

import pytest

from chat_support import bin_path
from regions_support import TOPOLOGY, Cluster

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("media-regions")
    c = Cluster(workdir, names=("us-east", "eu-west"), standbys={"us-east": "eu-west", "eu-west": "us-east"},
                proxies=True, rtt_ms=TOPOLOGY, settings={"mediaDir": os.path.join(str(workdir), "media")})
    c.media_dir = os.path.join(str(workdir), "media")
    yield c
    c.stop()


def cli(region, user, device, *args, timeout=120):
    cmd = [bin_path("relay-cli"), "--user", user, "--device", device, "--token", region.token(user, device),
           "--state", os.path.join(region.workdir, "cli-state", device), "--wait", "30",
           "--server", "127.0.0.1:%d" % region.devices_port] + list(args)
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, (region.name, args, run.stdout, run.stderr)
    return [json.loads(line) for line in run.stdout.strip().splitlines() if line.startswith("{")]


def marked_file(path, size, marker):
    """size bytes: the marker every 64 KiB, random bytes between."""
    with open(path, "wb") as f:
        written = 0
        while written < size:
            block = (marker + os.urandom(64 * 1024 - len(marker)))[:size - written]
            f.write(block)
            written += len(block)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


def test_a_20_mib_file_crosses_regions_byte_exact_and_the_server_never_sees_it(cluster):
    tag = uuid.uuid4().hex[:8]
    alice, bob = "alice-" + tag, "bob-" + tag
    east, west = cluster["us-east"], cluster["eu-west"]
    cli(east, alice, alice + "-phone", "presence", alice)
    cli(west, bob, bob + "-phone", "presence", bob)

    marker = ("MEDIA-MARKER-" + uuid.uuid4().hex).encode()
    source = os.path.join(cluster.workdir, "photo-%s.jpg" % tag)
    marked_file(source, 20 * MIB, marker)
    (receipt,) = cli(east, alice, alice + "-phone", "send", "--to", bob, "--file", source,
                     "--content-type", "image/jpeg", "a caption")
    assert receipt["reason_code"] == 0

    save_dir = os.path.join(cluster.workdir, "bob-saved")
    (line,) = cli(west, bob, bob + "-phone", "listen", "--count", "1", "--timeout", "90", "--save-dir", save_dir)
    assert line["from"] == alice and line["text"] == "a caption", line
    assert "error" not in line, line
    attachment = line["attachment"]
    assert attachment["region"] == "us-east" and attachment["size"] == 20 * MIB
    assert attachment["content_type"] == "image/jpeg" and attachment["file_name"] == os.path.basename(source)
    assert line["file"] == os.path.join(save_dir, os.path.basename(source))
    assert sha256(line["file"]) == sha256(source)

    # The blob lives in alice's home region, sealed: padded, and without the marker.
    blob = os.path.join(cluster.media_dir, "us-east", "blobs", attachment["id"])
    assert os.path.getsize(blob) > 20 * MIB
    with open(blob, "rb") as f:
        stored = f.read()
    assert marker not in stored
    assert marker[:16] not in stored
    # Nor is it (or the key) in a region's Redis, logs or metrics.
    for region in (east, west):
        region.redis_cli("SAVE")
        assert marker.decode() not in region.metrics()
    for root, _, files in os.walk(cluster.workdir):
        if "cli-state" in root or "bob-saved" in root:
            continue
        for name in files:
            path = os.path.join(root, name)
            if path == source or os.path.getsize(path) > 64 * MIB:
                continue
            with open(path, "rb") as f:
                assert marker not in f.read(), path
    # The sender's resumable-upload state is gone once the upload finished.
    uploads = os.path.join(east.workdir, "cli-state", alice + "-phone", "uploads")
    assert not os.path.isdir(uploads) or os.listdir(uploads) == []


def test_a_thumbnail_travels_sealed_inside_the_message_and_is_saved_next_to_the_file(cluster):
    """relay-cli send --thumbnail: the preview (bytes the app made; never
    decoded by anyone but the receiver's app) is sealed under its own key
    inside the end-to-end encrypted pointer, never uploaded; listen
    --save-dir writes it as <file>.thumb. Neither region's disk, Redis,
    logs nor metrics hold it."""
    tag = uuid.uuid4().hex[:8]
    alice, bob = "alice-" + tag, "bob-" + tag
    east, west = cluster["us-east"], cluster["eu-west"]
    cli(east, alice, alice + "-phone", "presence", alice)
    cli(west, bob, bob + "-phone", "presence", bob)
    source = os.path.join(cluster.workdir, "pic-%s.png" % tag)
    marked_file(source, 300 * 1024 + 9, ("PIC-MARKER-" + tag).encode())
    thumb_marker = ("THUMB-MARKER-" + uuid.uuid4().hex).encode()
    thumb = os.path.join(cluster.workdir, "pic-%s.thumb-in" % tag)
    with open(thumb, "wb") as f:
        f.write(thumb_marker + os.urandom(9000) + thumb_marker)
    east_blobs = os.path.join(cluster.media_dir, "us-east", "blobs")
    before = set(os.listdir(east_blobs))
    (receipt,) = cli(east, alice, alice + "-phone", "send", "--to", bob, "--file", source, "--thumbnail", thumb)
    assert receipt["reason_code"] == 0
    (blob_id,) = [n for n in os.listdir(east_blobs) if len(n) == 32 and n not in before]
    # Only the file was uploaded: the blob's size is the sealed file's, the thumbnail is not in it.
    assert os.path.getsize(os.path.join(east_blobs, blob_id)) < 300 * 1024 + 9 + 64 * 1024

    save_dir = os.path.join(cluster.workdir, "bob-thumbs")
    (line,) = cli(west, bob, bob + "-phone", "listen", "--count", "1", "--timeout", "90", "--save-dir", save_dir)
    assert "error" not in line, line
    assert line["file"] == os.path.join(save_dir, os.path.basename(source))
    assert line["thumbnail"] == line["file"] + ".thumb"
    assert sha256(line["file"]) == sha256(source)
    with open(line["thumbnail"], "rb") as f, open(thumb, "rb") as g:
        assert f.read() == g.read()

    # No plaintext of the thumbnail anywhere on the servers' side.
    for region in (east, west):
        region.redis_cli("SAVE")
        assert thumb_marker.decode() not in region.metrics()
    for root, _, files in os.walk(cluster.workdir):
        if "cli-state" in root or "bob-" in root:
            continue
        for name in files:
            path = os.path.join(root, name)
            if path == thumb or os.path.getsize(path) > 64 * MIB:
                continue
            with open(path, "rb") as f:
                data = f.read()
            assert thumb_marker not in data and thumb_marker[:16] not in data, path

    # A thumbnail too large for a message is refused before anything is uploaded.
    big = os.path.join(cluster.workdir, "big-%s.thumb-in" % tag)
    with open(big, "wb") as f:
        f.write(os.urandom(32 * 1024 + 1))
    cmd = [bin_path("relay-cli"), "--user", alice, "--device", alice + "-phone", "--token", east.token(alice, alice + "-phone"),
           "--state", os.path.join(east.workdir, "cli-state", alice + "-phone"), "--wait", "30",
           "--server", "127.0.0.1:%d" % east.devices_port, "send", "--to", bob, "--file", source, "--thumbnail", big]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "scale it down" in run.stderr, (run.stdout, run.stderr)
    east_uploads = os.path.join(cluster.media_dir, "us-east", "uploads")
    assert {n[:32] for n in set(os.listdir(east_blobs)) - before} == {blob_id}
    assert not os.listdir(east_uploads)


def wait_for(check, timeout, what):
    import time
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "%s not within %ss" % (what, timeout)
        time.sleep(0.1)  # another process's files: poll, bounded


def test_blobs_are_copied_to_the_standby_and_download_there_after_a_failover(cluster):
    """Runs last in this module: it kills us-east."""
    tag = uuid.uuid4().hex[:8]
    alice, bob = "alice-" + tag, "bob-" + tag
    east, west = cluster["us-east"], cluster["eu-west"]
    cli(east, alice, alice + "-phone", "presence", alice)
    cli(west, bob, bob + "-phone", "presence", bob)
    east_blobs = os.path.join(cluster.media_dir, "us-east", "blobs")
    before = set(os.listdir(east_blobs))
    source = os.path.join(cluster.workdir, "doc-%s.pdf" % tag)
    marked_file(source, 4 * MIB + 3, ("MIRROR-MARKER-" + tag).encode())
    cli(east, alice, alice + "-phone", "send", "--to", bob, "--file", source)
    (blob_id,) = [n for n in os.listdir(east_blobs) if len(n) == 32 and n not in before]

    # The copy reaches eu-west (us-east's standby), whole, and us-east notes it.
    copy = os.path.join(cluster.media_dir, "eu-west", "blobs", blob_id)
    wait_for(lambda: os.path.exists(os.path.join(east_blobs, blob_id + ".mirrored")), 30, "the copy to eu-west")
    assert sha256(copy) == sha256(os.path.join(east_blobs, blob_id))

    east.kill()
    out = cluster.relayctl("failover", "--region", "us-east")
    assert "failed over to eu-west" in out.stdout
    save_dir = os.path.join(cluster.workdir, "bob-after-failover")
    (line,) = cli(west, bob, bob + "-phone", "listen", "--count", "1", "--timeout", "90", "--save-dir", save_dir)
    assert "error" not in line, line
    assert line["attachment"]["id"] == blob_id and line["attachment"]["region"] == "us-east"
    assert sha256(line["file"]) == sha256(source)
