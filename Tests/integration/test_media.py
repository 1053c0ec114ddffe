"""Media attachments (issue 15, docs/media.md), server side: a real relay
and redis-server, paho devices asking for signed URLs over MQTT, and real
HTTP clients on the region's HTTP listener: tuspy (PyPI's tus 1.0 client)
for resumable uploads, `requests` for downloads with Range and for the
refusals. Every wait is bounded."""

import json
import os
import socket
import time
from urllib.parse import urlsplit

import pytest

requests = pytest.importorskip("requests", reason="requests from PyPI: scripts/test installs it into .venv-tests")
tusclient = pytest.importorskip("tusclient", reason="tuspy from PyPI: scripts/test installs it into .venv-tests")
from tusclient import client as tus_client  # noqa: E402

from chat_support import HOST, Deployment, Device, free_port, unique_names  # noqa: E402

TUS = {"Tus-Resumable": "1.0.0"}
MIB = 1024 * 1024


def start_region(tmp_path, **media):
    workdir = os.path.join(str(tmp_path), "region-%d" % free_port())
    os.makedirs(workdir)
    settings = os.path.join(workdir, "local.json")
    media_dir = os.path.join(workdir, "media")
    with open(settings, "w") as f:
        json.dump(dict({"name": "local", "mediaDir": media_dir, "requestBurst": 200, "requestsPerSecond": 100}, **media), f)
    http_port = free_port()
    d = Deployment(workdir, extra_args=["--config", settings, "--http-listen", "%s:%d" % (HOST, http_port)])
    d.http_port = http_port
    d.media_dir = media_dir
    d.nodes[0].wait_for("http on", 30)  # the HTTP listener starts after the MQTT listener
    return d


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    d = start_region(tmp_path_factory.mktemp("media"), mediaMaxBytes=8 * MIB, mediaQuotaBytes=20 * MIB,
                     mediaUploadBurst=4, mediaUploadsPerSecond=0.01)
    yield d
    d.stop()


@pytest.fixture
def names():
    return unique_names()


def grant_upload(device, length, content_class="file"):
    req = device.pb.MediaUpload(length=length, content_class=content_class)
    resp = device.request("media.upload", media_upload=req)
    assert not resp.HasField("error"), resp.error
    assert resp.HasField("media")
    return resp.media


def grant_download(device, media_id, region="local"):
    resp = device.request("media.download", media_download=device.pb.MediaDownload(id=media_id, region=region))
    assert not resp.HasField("error"), resp.error
    return resp.media


def tus_upload(url, data, chunk_size=MIB):
    """Uploads data with tuspy: POST (creation) to the granted URL, then PATCHes."""
    import io
    uploader = tus_client.TusClient(url).uploader(file_stream=io.BytesIO(data), chunk_size=chunk_size)
    uploader.upload()
    return uploader.url


def stored_path(region, media_id):
    return os.path.join(region.media_dir, "local", "blobs", media_id)


def test_ops_endpoints_still_answer_on_the_media_listener(region):
    r = requests.get("http://%s:%d/healthz" % (HOST, region.http_port), timeout=10)
    assert r.status_code == 200 and r.text == "ok\n"
    r = requests.get("http://%s:%d/metrics" % (HOST, region.http_port), timeout=10)
    assert r.status_code == 200 and "# TYPE" in r.text


def test_tus_discovery(region):
    r = requests.options("http://%s:%d/media/v1/upload/%s" % (HOST, region.http_port, "0" * 32), timeout=10)
    assert r.status_code == 204
    assert r.headers["Tus-Resumable"] == "1.0.0"
    assert "1.0.0" in r.headers["Tus-Version"].split(",")
    assert "creation" in r.headers["Tus-Extension"].split(",")
    assert int(r.headers["Tus-Max-Size"]) == 8 * MIB


def test_upload_with_tuspy_then_download_whole_and_ranges(region, names):
    alice = Device(region, names("alice"), names("alice-phone"))
    data = os.urandom(3 * MIB + 12345)
    grant = grant_upload(alice, len(data))
    assert len(grant.id) == 32 and grant.region == "local" and grant.length == len(data)
    assert grant.expires_at > time.time()
    assert grant.url.startswith("http://%s:%d/media/v1/upload/%s?" % (HOST, region.http_port, grant.id))
    tus_upload(grant.url, data, chunk_size=MIB)
    with open(stored_path(region, grant.id), "rb") as f:
        assert f.read() == data

    head = requests.head(grant.url, headers=TUS, timeout=10)
    assert head.status_code == 200
    assert int(head.headers["Upload-Offset"]) == len(data) == int(head.headers["Upload-Length"])
    assert head.headers["Cache-Control"] == "no-store"

    bob = Device(region, names("bob"), names("bob-phone"))
    down = grant_download(bob, grant.id)
    assert urlsplit(down.url).path == "/media/v1/blob/" + grant.id
    r = requests.get(down.url, timeout=30)
    assert r.status_code == 200 and r.content == data
    assert r.headers["Accept-Ranges"] == "bytes"

    r = requests.get(down.url, headers={"Range": "bytes=100-199"}, timeout=10)
    assert r.status_code == 206 and r.content == data[100:200]
    assert r.headers["Content-Range"] == "bytes 100-199/%d" % len(data)
    r = requests.get(down.url, headers={"Range": "bytes=-10"}, timeout=10)
    assert r.status_code == 206 and r.content == data[-10:]
    r = requests.get(down.url, headers={"Range": "bytes=%d-" % (len(data) - 5)}, timeout=10)
    assert r.status_code == 206 and r.content == data[-5:]
    r = requests.get(down.url, headers={"Range": "bytes=%d-" % len(data)}, timeout=10)
    assert r.status_code == 416 and r.headers["Content-Range"] == "bytes */%d" % len(data)
    r = requests.head(down.url, timeout=10)
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(data)
    alice.close()
    bob.close()


def sendfile_downloads(region):
    r = requests.get("http://%s:%d/metrics" % (HOST, region.http_port), timeout=10)
    for line in r.text.splitlines():
        if line.startswith("relay_media_sendfile_downloads_total "):
            return float(line.split()[1])
    return 0.0


def read_response(sock_file):
    """One HTTP/1.1 response with a Content-Length: (status, headers, body)."""
    status = int(sock_file.readline().split()[1])
    headers = {}
    while True:
        line = sock_file.readline().decode().strip()
        if not line:
            break
        key, value = line.split(":", 1)
        headers[key.strip().lower()] = value.strip()
    return status, headers, sock_file.read(int(headers.get("content-length", "0")))


def test_downloads_go_out_with_sendfile_and_the_rest_still_reaches_the_routes(region, names):
    """Plain GETs of a complete blob (whole or one range) are answered with
    sendfile(2) (counted on /metrics); on the same keep-alive connections,
    pipelined or not, everything else (HEAD, refusals, a missing blob, the
    ops endpoints) is answered by the routes as before, in order."""
    alice = Device(region, names("alice"), names("alice-phone"))
    data = os.urandom(5 * MIB + 333)
    grant = grant_upload(alice, len(data))
    tus_upload(grant.url, data)
    down = grant_download(alice, grant.id)
    before = sendfile_downloads(region)
    with requests.Session() as session:  # one keep-alive connection
        r = session.get(down.url, timeout=30)
        assert r.status_code == 200 and r.content == data
        assert r.headers["Content-Length"] == str(len(data)) and r.headers["Accept-Ranges"] == "bytes"
        r = session.get(down.url, headers={"Range": "bytes=%d-%d" % (MIB - 1, 3 * MIB)}, timeout=30)
        assert r.status_code == 206 and r.content == data[MIB - 1:3 * MIB + 1]
        assert r.headers["Content-Range"] == "bytes %d-%d/%d" % (MIB - 1, 3 * MIB, len(data))
        assert session.get("http://%s:%d/healthz" % (HOST, region.http_port), timeout=10).text == "ok\n"
        assert session.head(down.url, timeout=10).headers["Content-Length"] == str(len(data))
        r = session.get(down.url, headers={"Range": "bytes=%d-" % len(data)}, timeout=10)
        assert r.status_code == 416
        assert session.get(down.url.replace("s=", "s=A"), timeout=10).status_code == 403
        missing = grant_download(alice, "f" * 32)
        assert session.get(missing.url, timeout=10).status_code == 404
        r = session.get(down.url, timeout=30)
        assert r.status_code == 200 and r.content == data
    assert sendfile_downloads(region) == before + 3

    # Pipelined on one connection: a blob, the routes, the blob's tail; answered in order.
    parts = urlsplit(down.url)
    target = "%s?%s" % (parts.path, parts.query)
    host = "Host: %s:%d\r\n" % (HOST, region.http_port)
    requests_bytes = ("GET %s HTTP/1.1\r\n%s\r\n" % (target, host) + "GET /healthz HTTP/1.1\r\n%s\r\n" % host
                      + "GET %s HTTP/1.1\r\n%sRange: bytes=-100\r\n\r\n" % (target, host)).encode()
    with socket.create_connection((HOST, region.http_port), timeout=30) as s:
        s.sendall(requests_bytes)
        f = s.makefile("rb")
        assert read_response(f)[::2] == (200, data)
        assert read_response(f)[::2] == (200, b"ok\n")
        assert read_response(f)[::2] == (206, data[-100:])
    # The first by sendfile; the third too unless it arrived while the routes still answered the second.
    assert before + 4 <= sendfile_downloads(region) <= before + 5
    alice.close()


def raw_patch_then_cut(url, offset, declared, send):
    """A PATCH that declares `declared` body bytes but sends only `send`
    bytes of them and closes the connection: an upload cut mid-way."""
    parts = urlsplit(url)
    s = socket.create_connection((parts.hostname, parts.port), timeout=10)
    head = ("PATCH %s?%s HTTP/1.1\r\nHost: %s:%d\r\nTus-Resumable: 1.0.0\r\n"
            "Content-Type: application/offset+octet-stream\r\nUpload-Offset: %d\r\nContent-Length: %d\r\n\r\n"
            % (parts.path, parts.query, parts.hostname, parts.port, offset, declared))
    s.sendall(head.encode() + send)
    s.close()


def head_offset(url):
    r = requests.head(url, headers=TUS, timeout=10)
    assert r.status_code == 200, r.text
    return int(r.headers["Upload-Offset"])


def settled_offset(upload_url):
    """The stored offset once a cut PATCH is done with: above 0 (something was
    kept) and read twice alike (another PATCH is 409 while the cut one runs)."""
    deadline = time.monotonic() + 10
    while head_offset(upload_url) == 0:
        assert time.monotonic() < deadline, "nothing of the cut PATCH was kept"
        time.sleep(0.05)  # the relay finishes the cut request on its own: poll, bounded
    offset = -1
    while True:
        now = head_offset(upload_url)
        if now == offset:
            return offset
        offset = now
        assert time.monotonic() < deadline
        time.sleep(0.2)  # until two reads agree: poll, bounded


def cut_upload(region, names, data):
    """A device, its upload grant, and the upload's URL after a PATCH of
    data's first MiB was cut in the middle."""
    alice = Device(region, names("alice"), names("alice-phone"))
    grant = grant_upload(alice, len(data))
    r = requests.post(grant.url, headers=dict(TUS, **{"Upload-Length": str(len(data))}), timeout=10)
    assert r.status_code == 201, r.text
    upload_url = requests.compat.urljoin(grant.url, r.headers["Location"])
    raw_patch_then_cut(upload_url, 0, len(data), data[:MIB])
    return alice, grant, upload_url


def test_a_cut_upload_resumes_from_the_stored_offset(region, names):
    data = os.urandom(2 * MIB)
    alice, grant, upload_url = cut_upload(region, names, data)
    # The relay keeps what it received before the cut: a prefix, synced.
    offset = settled_offset(upload_url)
    assert 0 < offset <= MIB

    # A PATCH at the wrong offset is refused and changes nothing.
    for wrong in (0, offset + 1):
        r = requests.patch(upload_url, data=data[wrong:wrong + 10], timeout=10, headers=dict(
            TUS, **{"Upload-Offset": str(wrong), "Content-Type": "application/offset+octet-stream"}))
        assert r.status_code == 409, r.text
        assert r.headers["Tus-Resumable"] == "1.0.0"
    assert head_offset(upload_url) == offset

    # tuspy resumes from the stored offset (its HEAD), and the blob is byte-exact.
    import io
    uploader = tus_client.TusClient(grant.url).uploader(file_stream=io.BytesIO(data), url=upload_url, chunk_size=MIB)
    assert uploader.offset == offset
    uploader.upload()
    down = grant_download(alice, grant.id)
    assert requests.get(down.url, timeout=30).content == data
    alice.close()


def test_without_media_sync_a_cut_upload_still_resumes_byte_exact(tmp_path, names):
    """"mediaSync": false answers PATCHes from the page cache (decision 0029):
    what the relay stores is still a prefix, resumed after, byte-exact."""
    region = start_region(tmp_path, mediaSync=False)
    try:
        data = os.urandom(2 * MIB)
        alice, grant, upload_url = cut_upload(region, names, data)
        assert 0 < settled_offset(upload_url) <= MIB
        import io
        uploader = tus_client.TusClient(grant.url).uploader(file_stream=io.BytesIO(data), url=upload_url, chunk_size=MIB)
        assert 0 < uploader.offset <= MIB
        uploader.upload()
        down = grant_download(alice, grant.id)
        assert requests.get(down.url, timeout=30).content == data
        with open(stored_path(region, grant.id), "rb") as f:
            assert f.read() == data
        alice.close()
    finally:
        region.stop()


def test_tampered_and_misused_urls_are_403(region, names):
    alice = Device(region, names("alice"), names("alice-phone"))
    data = os.urandom(1000)
    grant = grant_upload(alice, len(data))
    tus_upload(grant.url, data)
    down = grant_download(alice, grant.id)
    parts = urlsplit(down.url)
    query = dict(p.split("=", 1) for p in parts.query.split("&"))

    def with_query(path, **changes):
        q = dict(query, **changes)
        return "http://%s%s?%s" % (parts.netloc, path, "&".join("%s=%s" % kv for kv in q.items()))

    flipped = query["s"][:-2] + ("A" if query["s"][-2] != "A" else "B") + query["s"][-1]
    for url in (with_query(parts.path, s=flipped), with_query(parts.path, e=str(int(query["e"]) + 3600)),
                with_query(parts.path, r="elsewhere"), with_query(parts.path.replace("/blob/", "/upload/"))):
        method = requests.head if "/upload/" in url else requests.get
        r = method(url, headers=TUS, timeout=10)
        assert r.status_code == 403, (url, r.status_code)
    # Another blob's id under this signature.
    other = parts.path[:-32] + "f" * 32
    r = requests.get(with_query(other), timeout=10)
    assert r.status_code == 403
    # No signature at all; not an id.
    assert requests.get("http://%s%s" % (parts.netloc, parts.path), timeout=10).status_code == 403
    assert requests.get(with_query("/media/v1/blob/..%2F..%2Fetc"), timeout=10).status_code == 404
    # An upload URL cannot download.
    up = urlsplit(grant.url)
    assert requests.get("http://%s/media/v1/blob/%s?%s" % (up.netloc, grant.id, up.query), timeout=10).status_code == 403
    # The blob is intact.
    assert requests.get(down.url, timeout=10).content == data
    alice.close()


def test_size_quota_and_tus_refusals(region, names):
    alice = Device(region, names("alice"), names("alice-phone"))
    # Beyond the region's maximum: refused at the grant.
    resp = alice.request("media.upload", media_upload=alice.pb.MediaUpload(length=8 * MIB + 1, content_class="video"))
    assert resp.error.code == "too_large", resp
    resp = alice.request("media.upload", media_upload=alice.pb.MediaUpload(length=10, content_class="movie"))
    assert resp.error.code == "bad_request", resp
    resp = alice.request("media.download", media_download=alice.pb.MediaDownload(id="nope", region="local"))
    assert resp.error.code == "bad_request", resp

    grant = grant_upload(alice, 1000)
    post = lambda length, extra={}: requests.post(grant.url, timeout=10, headers=dict(TUS, **dict({"Upload-Length": str(length)}, **extra)))
    r = post(1001)
    assert r.status_code == 413, r.text
    r = post(999)
    assert r.status_code == 400, r.text
    r = requests.post(grant.url, headers={"Upload-Length": "1000"}, timeout=10)
    assert r.status_code == 412 and r.headers["Tus-Version"] == "1.0.0"
    r = requests.post(grant.url, headers=dict(TUS, **{"Upload-Length": "1000", "Tus-Resumable": "0.2.2"}), timeout=10)
    assert r.status_code == 412
    # HEAD before creation: no such upload.
    assert requests.head(grant.url, headers=TUS, timeout=10).status_code == 404
    r = post(1000)
    assert r.status_code == 201
    url = requests.compat.urljoin(grant.url, r.headers["Location"])
    assert post(1000).status_code == 201  # a retried creation is answered again
    patch = lambda body, offset=0, ct="application/offset+octet-stream": requests.patch(
        url, data=body, timeout=10, headers=dict(TUS, **{"Upload-Offset": str(offset), "Content-Type": ct}))
    assert patch(b"x" * 1001).status_code == 413
    assert patch(b"x" * 10, ct="application/octet-stream").status_code == 415
    assert head_offset(url) == 0
    r = patch(b"y" * 600)
    assert r.status_code == 204 and r.headers["Upload-Offset"] == "600"
    # A body that runs past the length, sent chunked (no Content-Length): what fits before it is kept.
    r = requests.patch(url, data=iter([b"z" * 300, b"z" * 300]), timeout=10, headers=dict(
        TUS, **{"Upload-Offset": "600", "Content-Type": "application/offset+octet-stream"}))
    assert r.status_code == 413
    assert head_offset(url) == 900
    assert patch(b"w" * 100, offset=900).status_code == 204
    down = grant_download(alice, grant.id)
    assert requests.get(down.url, timeout=10).content == b"y" * 600 + b"z" * 300 + b"w" * 100
    # A PATCH of a complete upload at its end changes nothing.
    assert patch(b"", offset=1000).status_code == 204
    assert head_offset(url) == 1000

    # Unknown blob: 404 (signed for it, never uploaded).
    missing = grant_download(alice, "0123456789abcdef0123456789abcdef")
    r = requests.get(missing.url, timeout=10)
    assert r.status_code == 404

    # The quota (20 MiB): 8 + 8 + 1000 bytes granted, 4 MiB more is refused.
    bob = Device(region, names("bob"), names("bob-phone"))
    grant_upload(bob, 8 * MIB)
    grant_upload(bob, 8 * MIB)
    resp = bob.request("media.upload", media_upload=bob.pb.MediaUpload(length=4 * MIB + 1, content_class="file"))
    assert resp.error.code == "quota", resp
    grant_upload(bob, 4 * MIB)  # exactly to the quota
    alice.close()
    bob.close()


def test_too_many_uploads_is_429_with_retry_after(region, names):
    carol = Device(region, names("carol"), names("carol-phone"))
    grants = [grant_upload(carol, 10) for _ in range(5)]
    codes = [requests.post(g.url, headers=dict(TUS, **{"Upload-Length": "10"}), timeout=10) for g in grants]
    assert [r.status_code for r in codes[:4]] == [201] * 4
    assert codes[4].status_code == 429
    assert int(codes[4].headers["Retry-After"]) >= 1
    # Another user is not limited by carol's uploads.
    dave = Device(region, names("dave"), names("dave-phone"))
    g = grant_upload(dave, 10)
    assert requests.post(g.url, headers=dict(TUS, **{"Upload-Length": "10"}), timeout=10).status_code == 201
    carol.close()
    dave.close()


def test_expired_urls_and_a_full_disk(tmp_path):
    # A disk reserve no disk has: every creation is 507; URLs live 1 s.
    d = start_region(tmp_path, mediaMinFreeBytes=2 ** 62, mediaURLSeconds=1)
    try:
        names = unique_names()
        erin = Device(d, names("erin"), names("erin-phone"))
        grant = grant_upload(erin, 100)
        r = requests.post(grant.url, headers=dict(TUS, **{"Upload-Length": "100"}), timeout=10)
        assert r.status_code == 507, r.text
        assert not os.path.exists(os.path.join(d.media_dir, "local", "uploads", grant.id))
        # Once past its expiry (a clock to wait for, bounded) the URL is 403.
        while time.time() < grant.expires_at + 1.05:  # the server counts whole seconds
            time.sleep(0.05)
        r = requests.post(grant.url, headers=dict(TUS, **{"Upload-Length": "100"}), timeout=10)
        assert r.status_code == 403 and "expired" in r.text
        erin.close()
    finally:
        d.stop()


# ---------------------------------------------------------------- relay-cli: resuming an interrupted upload

from chat_support import Process, bin_path  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402


@pytest.fixture
def slow_region(tmp_path):
    """A region whose media URLs go through a delay proxy at 8 Mbit/s (the
    uploads take seconds, so they can be cut and killed half-way)."""
    proxy_port, control_port, http_port = free_port(), free_port(), free_port()
    workdir = str(tmp_path)
    settings = os.path.join(workdir, "local.json")
    media_dir = os.path.join(workdir, "media")
    with open(settings, "w") as f:
        json.dump({"name": "local", "mediaDir": media_dir, "mediaURL": "http://%s:%d" % (HOST, proxy_port)}, f)
    proxy = Process([bin_path("relayctl"), "link", "proxy", "--listen", "%s:%d" % (HOST, proxy_port),
                     "--to", "%s:%d" % (HOST, http_port), "--rtt", "0", "--bandwidth", "8000",
                     "--control", "%s:%d" % (HOST, control_port)], workdir, "media-proxy", ready="listening on")
    d = Deployment(workdir, extra_args=["--config", settings, "--http-listen", "%s:%d" % (HOST, http_port)])
    d.nodes[0].wait_for("http on", 30)
    d.media_dir = media_dir
    d.control = "%s:%d" % (HOST, control_port)
    yield d
    d.stop()
    proxy.stop()


def cli_cmd(region, user, device, *args):
    return [bin_path("relay-cli"), "--user", user, "--device", device, "--token", region.token(user, device),
            "--state", os.path.join(region.workdir, "cli-state", device), "--wait", "30",
            "--server", "127.0.0.1:%d" % region.nodes[0].port] + list(args)


def run_cli(region, user, device, *args, timeout=120):
    run = subprocess.run(cli_cmd(region, user, device, *args), capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, (args, run.stdout, run.stderr)
    return [json.loads(line) for line in run.stdout.strip().splitlines() if line.startswith("{")]


def partial_upload(region, at_least, timeout=30):
    """(id, bytes) of the one upload in progress once it holds at_least bytes."""
    uploads = os.path.join(region.media_dir, "local", "uploads")
    deadline = time.monotonic() + timeout
    while True:
        names = [n for n in os.listdir(uploads) if len(n) == 32] if os.path.isdir(uploads) else []
        if names:
            size = os.path.getsize(os.path.join(uploads, names[0]))
            if size >= at_least:
                return names[0], size
        assert time.monotonic() < deadline, "no upload reached %d bytes" % at_least
        time.sleep(0.05)  # another process's file grows: poll, bounded


def settled_size(path, timeout=30):
    """The size of a file once two reads 0.5 s apart agree."""
    deadline = time.monotonic() + timeout
    last = -1
    while True:
        size = os.path.getsize(path)
        if size == last:
            return size
        last = size
        assert time.monotonic() < deadline
        time.sleep(0.5)  # until the writer stopped: poll, bounded


def test_relay_cli_resumes_after_a_kill_and_after_a_cut_link(slow_region):
    region = slow_region
    names = unique_names()
    alice, bob = names("alice"), names("bob")
    run_cli(region, bob, bob + "-phone", "presence", bob)
    run_cli(region, alice, alice + "-phone", "presence", alice)
    source = os.path.join(region.workdir, "voice.ogg")
    data = os.urandom(6 * MIB)
    with open(source, "wb") as f:
        f.write(data)

    # Killed half-way: the relay keeps the bytes it got; run again, relay-cli
    # resumes the same upload (same blob id) from the stored offset.
    sender = subprocess.Popen(cli_cmd(region, alice, alice + "-phone", "send", "--to", bob, "--file", source),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        blob_id, _ = partial_upload(region, 1 * MIB)
    finally:
        sender.send_signal(signal.SIGKILL)
        sender.wait(timeout=10)
    kept = settled_size(os.path.join(region.media_dir, "local", "uploads", blob_id))
    assert 1 * MIB <= kept < len(data)
    (receipt,) = run_cli(region, alice, alice + "-phone", "send", "--to", bob, "--file", source)
    assert receipt["reason_code"] == 0
    save_dir = os.path.join(region.workdir, "saved")
    (line,) = run_cli(region, bob, bob + "-phone", "listen", "--count", "1", "--timeout", "60", "--save-dir", save_dir)
    assert line["attachment"]["id"] == blob_id, line
    with open(line["file"], "rb") as f:
        assert f.read() == data

    # The link cut half-way: relay-cli retries, finds the stored offset with
    # HEAD once the link heals, and finishes the same upload.
    sender = subprocess.Popen(cli_cmd(region, alice, alice + "-phone", "send", "--to", bob, "--file", source, "again"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        blob_id, _ = partial_upload(region, 1 * MIB)
        subprocess.run([bin_path("relayctl"), "link", "cut", "--control", region.control], check=True, timeout=30, capture_output=True)
        kept = settled_size(os.path.join(region.media_dir, "local", "uploads", blob_id))
        assert kept < len(data)
        subprocess.run([bin_path("relayctl"), "link", "heal", "--control", region.control], check=True, timeout=30, capture_output=True)
        out, err = sender.communicate(timeout=120)
    finally:
        if sender.poll() is None:
            sender.kill()
    assert sender.returncode == 0, err
    (line,) = run_cli(region, bob, bob + "-phone", "listen", "--count", "1", "--timeout", "60", "--save-dir", save_dir)
    assert line["attachment"]["id"] == blob_id and line["text"] == "again"
    with open(line["file"], "rb") as f:
        assert f.read() == data


def test_garbage_collection_removes_expired_blobs_and_abandoned_uploads(tmp_path):
    d = start_region(tmp_path, mediaRetentionSeconds=3, mediaIncompleteSeconds=3, mediaSweepSeconds=1)
    try:
        names = unique_names()
        user = names("gina")
        gina = Device(d, user, names("gina-phone"))
        data = os.urandom(5000)
        done = grant_upload(gina, len(data))
        tus_upload(done.url, data)
        down = grant_download(gina, done.id)
        assert requests.get(down.url, timeout=10).content == data
        abandoned = grant_upload(gina, 10000)
        r = requests.post(abandoned.url, headers=dict(TUS, **{"Upload-Length": "10000"}), timeout=10)
        assert r.status_code == 201
        r = requests.patch(abandoned.url, data=b"a" * 4000, timeout=10, headers=dict(
            TUS, **{"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}))
        assert r.status_code == 204
        quota_key = "m:used:{u:%s}" % user
        used = lambda: subprocess.run(["redis-cli", "-h", HOST, "-p", str(d.redis_port), "GET", quota_key],
                                      check=True, timeout=10, capture_output=True, text=True).stdout.strip()
        assert used() == str(len(data) + 10000)

        blobs = os.path.join(d.media_dir, "local")
        paths = [os.path.join(blobs, "blobs", done.id), os.path.join(blobs, "uploads", abandoned.id)]
        assert all(os.path.exists(p) for p in paths)
        deadline = time.monotonic() + 20
        while any(os.path.exists(p) for p in paths):
            assert time.monotonic() < deadline, "expired blobs still there"
            time.sleep(0.1)  # the relay's collector runs every second: poll, bounded
        assert requests.get(down.url, timeout=10).status_code == 404
        assert requests.head(abandoned.url, headers=TUS, timeout=10).status_code == 404
        assert [n for n in os.listdir(os.path.join(blobs, "blobs")) if n.startswith(done.id)] == []
        # Their bytes are given back to the quota.
        deadline = time.monotonic() + 10
        while used() != "0":
            assert time.monotonic() < deadline, "quota not released: %s" % used()
            time.sleep(0.1)  # written just after the files are removed: poll, bounded
        gina.close()
    finally:
        d.stop()
