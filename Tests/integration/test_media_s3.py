"""Media blobs in an S3-compatible store (issue 15, docs/media.md): a real
relay whose region keeps complete blobs in a bucket of moto's S3 server
(PyPI's moto, server mode: the S3 REST API on loopback), uploads through
tus (tuspy), downloads with Range (requests), and boto3 looking into the
bucket. moto verifies every request's SigV4 signature (IAM credentials,
auth on after the setup): the relay's requests pass a real check. Every
wait is bounded."""

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
BOOTSTRAP = {"aws_access_key_id": "bootstrap", "aws_secret_access_key": "bootstrap"}
ALLOW_S3 = json.dumps({"Version": "2012-10-17",
                       "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})


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
                requests.get(endpoint + "/moto-api/", timeout=2)  # not an S3 action: counts for nothing
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and moto.proc.poll() is None, "moto_server did not start:\n" + moto.tail()
                time.sleep(0.1)  # a port that is not open yet: poll, bounded
        keys = verified_credentials(endpoint)
        d = start_relay(workdir, endpoint, keys)
    except BaseException:
        moto.stop()
        raise
    try:
        yield d
    finally:
        d.stop()
        moto.stop()


def verified_credentials(endpoint):
    """Turns moto's request verification on (its INITIAL_NO_AUTH_ACTION_COUNT,
    set through /moto-api/reset-auth: every request after the next N is
    checked) once it has an IAM user allowed s3:*, its access key, and the
    bucket. From then on moto recomputes each request's SigV4 signature with
    the key's secret and refuses a mismatch (SignatureDoesNotMatch, 403).
    Returns the key, as the relay's credentials file holds it."""
    r = requests.post(endpoint + "/moto-api/reset-auth", data=b"4", timeout=10)
    assert r.status_code == 200, r.text
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", **BOOTSTRAP)
    iam.create_user(UserName="relay")                                                   # 1
    iam.put_user_policy(UserName="relay", PolicyName="s3", PolicyDocument=ALLOW_S3)     # 2
    key = iam.create_access_key(UserName="relay")["AccessKey"]                          # 3
    keys = {"accessKey": key["AccessKeyId"], "secretKey": key["SecretAccessKey"]}
    s3_client(endpoint, keys).create_bucket(Bucket="media")                             # 4
    return keys


def s3_client(endpoint, keys):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=keys["accessKey"], aws_secret_access_key=keys["secretKey"])


def start_relay(workdir, endpoint, keys):
    credentials = os.path.join(workdir, "s3.json")
    with open(credentials, "w") as f:
        json.dump(keys, f)
    settings = os.path.join(workdir, "local.json")
    with open(settings, "w") as f:
        json.dump({"name": "local", "mediaDir": os.path.join(workdir, "spool"), "mediaS3Endpoint": endpoint,
                   "mediaS3Bucket": "media", "mediaS3CredentialsFile": credentials,
                   "mediaRetentionSeconds": 4, "mediaSweepSeconds": 1}, f)
    http_port = free_port()
    d = Deployment(workdir, extra_args=["--config", settings, "--http-listen", "%s:%d" % (HOST, http_port)])
    d.nodes[0].wait_for("http on", 30)
    d.s3 = s3_client(endpoint, keys)
    d.endpoint = endpoint
    d.s3_keys = keys
    d.spool = os.path.join(workdir, "spool", "local")
    return d


def test_moto_verifies_signatures_so_a_wrong_secret_or_a_tampered_signature_is_refused(s3_region):
    """What makes the relay's passing requests mean something: the same
    store refuses a request signed with another secret, and one whose
    signature was changed after signing."""
    from botocore.exceptions import ClientError
    d = s3_region
    d.s3.put_object(Bucket="media", Key="probe", Body=b"signed right")
    wrong = s3_client(d.endpoint, dict(d.s3_keys, secretKey=d.s3_keys["secretKey"] + "x"))
    with pytest.raises(ClientError) as refused:
        wrong.get_object(Bucket="media", Key="probe")
    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    tampered = s3_client(d.endpoint, d.s3_keys)

    def flip_last_hex_digit(request, **_):
        auth = request.headers["Authorization"]
        auth = auth.decode() if isinstance(auth, bytes) else auth
        request.headers["Authorization"] = auth[:-1] + ("0" if auth[-1] != "0" else "1")

    tampered.meta.events.register_last("before-send.s3", flip_last_hex_digit)
    with pytest.raises(ClientError) as refused:
        tampered.get_object(Bucket="media", Key="probe")
    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert d.s3.get_object(Bucket="media", Key="probe")["Body"].read() == b"signed right"


def in_bucket(s3, key):
    from botocore.exceptions import ClientError
    try:
        s3.head_object(Bucket="media", Key=key)
        return True
    except ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, e.response
        return False


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

    # Past its retention the collector removes it from the bucket. The
    # collector lists the bucket (`?list-type=2&prefix=local%2F`), and moto
    # 5.1's check refuses every signed query with a "/" in a value, boto3's
    # own listing too (it recomputes the signature from werkzeug's URL, where
    # the "%2F" came back as "/"): a bug of the stand-in, so its verification
    # is turned off for this last part only.
    r = requests.post(d.endpoint + "/moto-api/reset-auth", data=b"inf", timeout=10)
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 30
    while in_bucket(d.s3, "local/" + grant.id):
        assert time.monotonic() < deadline, "the blob is still in the bucket"
        time.sleep(0.2)  # the relay's collector runs every second: poll, bounded
    assert requests.get(down.url, timeout=10).status_code == 404
    alice.close()
