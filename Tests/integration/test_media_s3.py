"""Media blobs in an S3-compatible store (issue 15, docs/media.md): a real
relay whose region keeps complete blobs in a bucket of moto's S3 server
(PyPI's moto, server mode: the S3 REST API on loopback), uploads through
tus (tuspy), downloads with Range (requests), and boto3 looking into the
bucket. Every wait is bounded."""

import io
import json
import os
import sys
import time

import pytest

requests = pytest.importorskip("requests", reason="requests from PyPI: scripts/test installs it into .venv-tests")
pytest.importorskip("tusclient", reason="tuspy from PyPI: scripts/test installs it into .venv-tests")
boto3 = pytest.importorskip("boto3", reason="moto[server] from PyPI (with boto3): scripts/test installs it into .venv-tests")
from tusclient import client as tus_client  # noqa: E402

from chat_support import HOST, Deployment, Device, Process, free_port, unique_names  # noqa: E402

MIB = 1024 * 1024
TUS = {"Tus-Resumable": "1.0.0"}
KEYS = {"accessKey": "relay-test-key", "secretKey": "relay-test-secret"}


@pytest.fixture
def s3_region(tmp_path):
    workdir = str(tmp_path)
    s3_port = free_port()
    moto = Process([os.path.join(os.path.dirname(sys.executable), "moto_server"), "-H", HOST, "-p", str(s3_port)],
                   workdir, "moto")  # it says it runs on stderr: wait for its port instead
    endpoint = "http://%s:%d" % (HOST, s3_port)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(endpoint, timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and moto.proc.poll() is None, "moto_server did not start:\n" + moto.tail()
                time.sleep(0.1)  # a port that is not open yet: poll, bounded
        d = start_relay(workdir, endpoint)
    except BaseException:
        moto.stop()
        raise
    try:
        yield d
    finally:
        d.stop()
        moto.stop()


def start_relay(workdir, endpoint):
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id=KEYS["accessKey"], aws_secret_access_key=KEYS["secretKey"])
    s3.create_bucket(Bucket="media")
    credentials = os.path.join(workdir, "s3.json")
    with open(credentials, "w") as f:
        json.dump(KEYS, f)
    settings = os.path.join(workdir, "local.json")
    with open(settings, "w") as f:
        json.dump({"name": "local", "mediaDir": os.path.join(workdir, "spool"), "mediaS3Endpoint": endpoint,
                   "mediaS3Bucket": "media", "mediaS3CredentialsFile": credentials,
                   "mediaRetentionSeconds": 4, "mediaSweepSeconds": 1}, f)
    http_port = free_port()
    d = Deployment(workdir, extra_args=["--config", settings, "--http-listen", "%s:%d" % (HOST, http_port)])
    d.nodes[0].wait_for("http on", 30)
    d.s3 = s3
    d.spool = os.path.join(workdir, "spool", "local")
    return d


def test_blobs_go_to_the_bucket_and_come_back_with_ranges_then_expire(s3_region):
    d = s3_region
    names = unique_names()
    alice = Device(d, names("alice"), names("alice-phone"))
    data = os.urandom(12 * MIB + 4321)  # past one 8 MiB part: a multipart upload
    resp = alice.request("media.upload", media_upload=alice.pb.MediaUpload(length=len(data), content_class="video"))
    assert not resp.HasField("error"), resp.error
    grant = resp.media
    uploader = tus_client.TusClient(grant.url).uploader(file_stream=io.BytesIO(data), chunk_size=4 * MIB)
    uploader.upload()

    # In the bucket, whole, with its record; nothing left in the spool.
    obj = d.s3.get_object(Bucket="media", Key="local/" + grant.id)
    assert obj["Body"].read() == data
    record = json.loads(d.s3.get_object(Bucket="media", Key="local/%s.json" % grant.id)["Body"].read())
    assert record["length"] == len(data) and record["user"] == alice.user
    assert not os.path.exists(os.path.join(d.spool, "blobs", grant.id))
    head = requests.head(grant.url, headers=TUS, timeout=10)
    assert head.status_code == 200 and int(head.headers["Upload-Offset"]) == len(data)

    down = alice.request("media.download", media_download=alice.pb.MediaDownload(id=grant.id, region="local")).media
    r = requests.get(down.url, timeout=60)
    assert r.status_code == 200 and r.content == data
    r = requests.get(down.url, headers={"Range": "bytes=%d-%d" % (8 * MIB - 3, 8 * MIB + 2)}, timeout=10)
    assert r.status_code == 206 and r.content == data[8 * MIB - 3:8 * MIB + 3]
    r = requests.get(down.url, headers={"Range": "bytes=-7"}, timeout=10)
    assert r.status_code == 206 and r.content == data[-7:]

    # Past its retention the collector removes it from the bucket.
    deadline = time.monotonic() + 30
    while "Contents" in d.s3.list_objects_v2(Bucket="media", Prefix="local/" + grant.id):
        assert time.monotonic() < deadline, "the blob is still in the bucket"
        time.sleep(0.2)  # the relay's collector runs every second: poll, bounded
    assert requests.get(down.url, timeout=10).status_code == 404
    alice.close()
