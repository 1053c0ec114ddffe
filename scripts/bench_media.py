"""scripts/bench-media's measurements (see there). Reuses the integration
harness (Tests/integration/chat_support.py) to start the region and ask
for grants over MQTT; curl moves the bytes for both servers."""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "Tests", "integration"))

from chat_support import HOST, Deployment, Device, free_port  # noqa: E402

SIZE = int(os.environ.get("SIZE_MIB", "100")) * 1024 * 1024
REPS = int(os.environ.get("REPS", "3"))
CONCURRENT = int(os.environ.get("CONCURRENT", "10"))
# CHUNKED=1 (default): also a relay with "mediaSendfile": false, downloads a chunk at a time (the path before sendfile).
CHUNKED = os.environ.get("CHUNKED", "1") == "1"
# NOSYNC=1 (default): also a relay with "mediaSync": false, which answers a PATCH from the page cache as nginx does.
NOSYNC = os.environ.get("NOSYNC", "1") == "1"
MIB = 1024 * 1024


def curl(*args):
    """Runs curl; returns (HTTP status, seconds)."""
    # No "Expect: 100-continue" (curl waits up to 1 s for it before a large body).
    out = subprocess.run(["curl", "-s", "-H", "Expect:", "-o", "/dev/null", "-w", "%{http_code} %{time_total}"] + list(args),
                         check=True, capture_output=True, text=True, timeout=600).stdout.split()
    return int(out[0]), float(out[1])


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def synced_write(source, target):
    """Copies source to target and fsyncs it, as the relay stores an upload; returns seconds."""
    os.sync()
    began = time.monotonic()
    with open(source, "rb") as f, open(target, "wb") as out:
        while True:
            block = f.read(MIB)
            if not block:
                break
            out.write(block)
        out.flush()
        os.fsync(out.fileno())
    seconds = time.monotonic() - began
    os.unlink(target)
    return seconds


def start_nginx(workdir, port):
    root = os.path.join(workdir, "nginx-root")
    os.makedirs(os.path.join(root, "up"))
    conf = os.path.join(workdir, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""
worker_processes 1;
daemon off;
%(user)s
pid %(w)s/nginx.pid;
error_log %(w)s/nginx-error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %(w)s/nginx-body;
  sendfile on;
  server {
    listen %(host)s:%(port)d;
    root %(root)s;
    client_max_body_size 0;
    location /up/ { dav_methods PUT; create_full_put_path on; }
  }
}
""" % {"w": workdir, "host": HOST, "port": port, "root": root,
       # Started as root (scripts run as root here), the workers write as root too, to the private temporary folder.
       "user": "user root;" if os.geteuid() == 0 else ""})
    proc = subprocess.Popen(["nginx", "-c", conf, "-p", workdir], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while True:
        try:
            if curl("http://%s:%d/" % (HOST, port))[0] in (200, 403, 404):
                return proc, root
        except subprocess.CalledProcessError:
            pass
        assert time.monotonic() < deadline, "nginx did not start"
        time.sleep(0.05)  # a port that is not open yet: poll, bounded


def grant(device, length):
    resp = device.request("media.upload", media_upload=device.pb.MediaUpload(length=length, content_class="file"))
    assert not resp.HasField("error"), resp.error
    return resp.media


def relay_upload(url, path, length):
    tus = ["-H", "Tus-Resumable: 1.0.0"]
    status, _ = curl("-X", "POST", *tus, "-H", "Upload-Length: %d" % length, url)
    assert status == 201, status
    os.sync()  # no earlier upload's writeback running under this one
    # -T streams the file, as for nginx (--data-binary would read it all into memory first).
    status, seconds = curl("-X", "PATCH", *tus, "-H", "Upload-Offset: 0", "-H", "Content-Type: application/offset+octet-stream",
                           "-T", path, url)
    assert status == 204, status
    return seconds


def main():
    import faulthandler
    faulthandler.dump_traceback_later(int(os.environ.get("BENCH_TIMEOUT", "1800")), exit=True)
    workdir = tempfile.mkdtemp(prefix="bench-media-")
    results = []
    started = []  # what to stop whatever happens
    try:
        data = os.path.join(workdir, "blob")
        with open(data, "wb") as f:
            for _ in range(SIZE // MIB):
                f.write(os.urandom(MIB))
        def start_region(directory, **more):
            os.makedirs(directory, exist_ok=True)
            settings = os.path.join(directory, "local.json")
            with open(settings, "w") as f:
                json.dump(dict({"name": "local", "mediaDir": os.path.join(directory, "media"), "mediaMaxBytes": SIZE,
                                "mediaQuotaBytes": 1 << 40, "mediaUploadBurst": 1000, "mediaUploadsPerSecond": 100,
                                "requestBurst": 1000, "requestsPerSecond": 1000}, **more), f)
            port = free_port()
            d = Deployment(directory, extra_args=["--config", settings, "--http-listen", "%s:%d" % (HOST, port)])
            started.append(d.stop)
            d.nodes[0].wait_for("http on", 30)
            return d

        nginx_port = free_port()
        region = start_region(workdir)
        relay_pid = region.nodes[0].proc.pid
        # The same relay with downloads through the routes, a chunk at a time
        # (as before sendfile): before and after in the same run.
        chunked = start_region(os.path.join(workdir, "chunked"), mediaSendfile=False) if CHUNKED else None
        # The same relay answering PATCH from the page cache (no sync), like nginx.
        nosync = start_region(os.path.join(workdir, "nosync"), mediaSync=False) if NOSYNC else None
        nginx, nginx_root = start_nginx(workdir, nginx_port)
        started.append(lambda: (nginx.terminate(), nginx.wait(10)))
        device = Device(region, "bench", "bench-device")
        chunked_device = Device(chunked, "bench", "bench-device") if chunked else None
        nosync_device = Device(nosync, "bench", "bench-device") if nosync else None

        def record(kind, server, seconds, **extra):
            row = dict({"kind": kind, "server": server, "mib": SIZE // MIB, "seconds": round(seconds, 3),
                        "mb_per_s": round(SIZE / MIB / seconds, 1)}, **extra)
            results.append(row)
            print(json.dumps(row), flush=True)

        for rep in range(REPS):
            g = grant(device, SIZE)
            record("upload", "relay", relay_upload(g.url, data, SIZE))
            os.sync()  # as before each relay upload
            status, seconds = curl("-T", data, "http://%s:%d/up/blob-%d" % (HOST, nginx_port, rep))
            assert status in (201, 204), status
            record("upload", "nginx", seconds)
            down = device.request("media.download", media_download=device.pb.MediaDownload(id=g.id, region="local")).media
            status, seconds = curl(down.url)
            assert status == 200, status
            record("download", "relay", seconds)
            status, seconds = curl("http://%s:%d/up/blob-%d" % (HOST, nginx_port, rep))
            assert status == 200, status
            record("download", "nginx", seconds)
            if chunked_device:
                c = grant(chunked_device, SIZE)
                record("upload", "relay-chunked", relay_upload(c.url, data, SIZE))
                down = chunked_device.request("media.download", media_download=chunked_device.pb.MediaDownload(id=c.id, region="local")).media
                status, seconds = curl(down.url)
                assert status == 200, status
                record("download", "relay-chunked", seconds)
            if nosync_device:
                n = grant(nosync_device, SIZE)
                record("upload", "relay-nosync", relay_upload(n.url, data, SIZE))
            # What the disk gives a synced write of the same size: the bound of a synced upload.
            record("disk", "synced-write", synced_write(data, os.path.join(workdir, "disk-probe")))

        # RSS during CONCURRENT simultaneous uploads.
        grants = [grant(device, SIZE) for _ in range(CONCURRENT)]
        before = rss_kib(relay_pid)
        peak = [before]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], rss_kib(relay_pid))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        began = time.monotonic()
        threads = [threading.Thread(target=relay_upload, args=(g.url, data, SIZE)) for g in grants]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - began
        done.set()
        sampler.join()
        row = {"kind": "rss", "server": "relay", "concurrent": CONCURRENT, "mib_each": SIZE // MIB,
               "rss_before_mib": round(before / 1024, 1), "rss_peak_mib": round(peak[0] / 1024, 1),
               "growth_mib": round((peak[0] - before) / 1024, 1), "seconds": round(elapsed, 2),
               "aggregate_mb_per_s": round(CONCURRENT * SIZE / MIB / elapsed, 1)}
        results.append(row)
        print(json.dumps(row), flush=True)

        print("\nsummary (median of %d, %d MiB, loopback, curl):" % (REPS, SIZE // MIB))
        relays = [("relay", "")] + ([("relay-chunked", "   (mediaSendfile false)")] if chunked_device else [])
        for server, note in relays:
            for kind in ("upload", "download"):
                med = {s: statistics.median(r["mb_per_s"] for r in results if r["kind"] == kind and r["server"] == s)
                       for s in (server, "nginx")}
                print("  %-8s relay %7.1f MB/s   nginx %7.1f MB/s   relay/nginx %.2f%s"
                      % (kind, med[server], med["nginx"], med[server] / med["nginx"], note))
        if nosync_device:
            med = {s: statistics.median(r["mb_per_s"] for r in results if r["kind"] == "upload" and r["server"] == s)
                   for s in ("relay-nosync", "nginx")}
            print("  upload   relay %7.1f MB/s   nginx %7.1f MB/s   relay/nginx %.2f   (mediaSync false)"
                  % (med["relay-nosync"], med["nginx"], med["relay-nosync"] / med["nginx"]))
        disk = statistics.median(r["mb_per_s"] for r in results if r["kind"] == "disk")
        relay_up = statistics.median(r["mb_per_s"] for r in results if r["kind"] == "upload" and r["server"] == "relay")
        print("  disk     synced write of the file %7.1f MB/s   relay upload (synced) / disk %.2f" % (disk, relay_up / disk))
        print("  rss      %d concurrent uploads: %.1f -> %.1f MiB (growth %.1f MiB)"
              % (CONCURRENT, row["rss_before_mib"], row["rss_peak_mib"], row["growth_mib"]))
        device.close()
        if chunked_device:
            chunked_device.close()
        if nosync_device:
            nosync_device.close()
    finally:
        for stop in reversed(started):
            stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
