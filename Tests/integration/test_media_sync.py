"""Media copies across regions (issue 15, docs/media.md "Across regions"):
in sync mirror mode an upload is reported complete (its last PATCH's
answer, a HEAD) only once its home's standby holds the copy, and a standby
that cannot take it in time gets the upload a retryable 503 that loses
nothing; blobs uploaded at the standby while it served a failed-over home
are copied back to that home after the failback. Two real regions (relay +
redis-server each), paho devices asking for grants over MQTT, `requests`
speaking tus and downloading. Every wait is bounded."""

import os
import signal
import time

import pytest

requests = pytest.importorskip("requests", reason="requests from PyPI: scripts/test installs it into .venv-tests")

from chat_support import Device, unique_names  # noqa: E402
from regions_support import Cluster  # noqa: E402

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")

TUS = {"Tus-Resumable": "1.0.0"}
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("media-sync")
    media_dir = os.path.join(str(workdir), "media")
    c = Cluster(workdir, names=("us-east", "eu-west"), standbys={"us-east": "eu-west", "eu-west": "us-east"},
                mirror="sync", settings={"mediaDir": media_dir, "mediaSweepSeconds": 1,
                                         "requestBurst": 200, "requestsPerSecond": 100})
    c.media_dir = media_dir
    yield c
    c.stop()


def blob_path(cluster, region, media_id, suffix=""):
    return os.path.join(cluster.media_dir, region, "blobs", media_id + suffix)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def grant_upload(device, length):
    resp = device.request("media.upload", media_upload=device.pb.MediaUpload(length=length, content_class="file"))
    assert not resp.HasField("error"), resp.error
    return resp.media


def grant_download(device, media_id, region):
    resp = device.request("media.download", media_download=device.pb.MediaDownload(id=media_id, region=region))
    assert not resp.HasField("error"), resp.error
    return resp.media


def patch(url, offset, body, timeout=60):
    headers = dict(TUS, **{"Content-Type": "application/offset+octet-stream", "Upload-Offset": str(offset)})
    return requests.patch(url, headers=headers, data=body, timeout=timeout)


def upload(url, data):
    assert requests.post(url, headers=dict(TUS, **{"Upload-Length": str(len(data))}), timeout=30).status_code == 201
    r = patch(url, 0, data)
    assert r.status_code == 204, (r.status_code, r.text)
    return r


def wait_for(check, timeout, what):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "%s not within %ss" % (what, timeout)
        time.sleep(0.1)  # another process's files: poll, bounded


def test_sync_mode_answers_the_last_patch_only_once_the_standby_has_the_copy(cluster):
    n = unique_names()
    east, west = cluster["us-east"], cluster["eu-west"]
    alice = Device(east, n("alice"), n("alice-phone"))
    data = os.urandom(2 * MIB + 77)
    grant = grant_upload(alice, len(data))
    r = upload(grant.url, data)
    assert int(r.headers["Upload-Offset"]) == len(data)
    # Answered: so eu-west (us-east's standby) holds the whole copy already, with no waiting.
    assert read(blob_path(cluster, "eu-west", grant.id)) == data
    assert os.path.exists(blob_path(cluster, "us-east", grant.id, ".mirrored"))
    alice.close()


def test_a_standby_that_cannot_take_the_copy_gets_the_upload_a_retryable_503_and_nothing_is_lost(cluster):
    n = unique_names()
    east, west = cluster["us-east"], cluster["eu-west"]
    alice = Device(east, n("alice"), n("alice-phone"))
    data = os.urandom(MIB + 5)
    grant = grant_upload(alice, len(data))
    assert requests.post(grant.url, headers=dict(TUS, **{"Upload-Length": str(len(data))}), timeout=30).status_code == 201
    assert patch(grant.url, 0, data[:MIB]).status_code == 204

    (standby,) = west.nodes
    standby.proc.send_signal(signal.SIGSTOP)  # eu-west's relay stops answering (its socket stays open)
    try:
        started = time.monotonic()
        r = patch(grant.url, MIB, data[MIB:])
        assert r.status_code == 503, (r.status_code, r.text)
        assert int(r.headers["Retry-After"]) >= 1 and "standby" in r.text
        assert time.monotonic() - started < 30  # bounded: 5 s plus 1 s per 4 MiB
        # Stored whole at us-east all the same, but not reported complete.
        assert read(blob_path(cluster, "us-east", grant.id)) == data
        head = requests.head(grant.url, headers=TUS, timeout=60)
        assert head.status_code == 503
        assert not os.path.exists(blob_path(cluster, "eu-west", grant.id))
    finally:
        standby.proc.send_signal(signal.SIGCONT)

    # The retry (HEAD, as a tus client resumes) is answered once the copy is there.
    head = requests.head(grant.url, headers=TUS, timeout=60)
    assert head.status_code == 200, (head.status_code, head.headers)
    assert int(head.headers["Upload-Offset"]) == len(data)
    assert read(blob_path(cluster, "eu-west", grant.id)) == data
    # And the last PATCH again (offset = length, no body) is 204 now.
    r = patch(grant.url, len(data), b"")
    assert r.status_code == 204 and int(r.headers["Upload-Offset"]) == len(data)
    down = grant_download(alice, grant.id, "us-east")
    assert requests.get(down.url, timeout=30).content == data
    alice.close()


def test_blobs_uploaded_at_the_standby_during_a_failover_go_home_after_the_failback(cluster):
    """Runs last in this module: it kills us-east and fails it over and back."""
    n = unique_names()
    east, west = cluster["us-east"], cluster["eu-west"]
    alice_name, bob_name = n("alice"), n("bob")
    east.kill()
    out = cluster.relayctl("failover", "--region", "us-east")
    assert "failed over to eu-west" in out.stdout

    # alice (home us-east) is served by eu-west now: her upload lands there.
    alice = Device(east, alice_name, alice_name + "-phone", connect=False)
    alice.connect(port=west.devices_port)
    data = os.urandom(3 * MIB + 1)
    grant = grant_upload(alice, len(data))
    assert grant.region == "us-east"
    assert grant.url.startswith("http://127.0.0.1:%d/" % west.http_port)
    upload(grant.url, data)  # not waited for: us-east is down (sync degrades to async)
    assert read(blob_path(cluster, "eu-west", grant.id)) == data
    alice.close()

    east.start_redis()
    east.start_relay()
    out = cluster.relayctl("failback", "--region", "us-east", "--json", "--timeout", "60")
    assert '"servedBy":"eu-west"' in out.stdout.replace(" ", "")

    # The copy goes home (woken by the failback, else within the 1 s sweep) ...
    wait_for(lambda: os.path.exists(blob_path(cluster, "eu-west", grant.id, ".mirrored")), 30, "the copy back to us-east")
    assert read(blob_path(cluster, "us-east", grant.id)) == data
    # ... so a download granted now (on us-east's listener) works.
    bob = Device(east, bob_name, bob_name + "-phone")
    down = grant_download(bob, grant.id, "us-east")
    assert down.url.startswith("http://127.0.0.1:%d/" % east.http_port)
    r = requests.get(down.url, timeout=30)
    assert r.status_code == 200 and r.content == data
    bob.close()
