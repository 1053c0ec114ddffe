"""relayctl drill failover (issue 4, item 8) against a real 3-region
deployment: relays and redis-servers killed with SIGKILL, failed over,
restarted and failed back while drill devices (libmosquitto, MQTT 5) talk
across regions; and a partition drill over the delay proxies. The drill's
report is what its devices received; these tests check its figures."""

import html.parser
import json
import os
import subprocess

import pytest

from chat_support import bin_path
from drill_support import stop_restarted, write_run_dir
from regions_support import TOPOLOGY, Cluster

DRILL_TIMEOUT = 90


@pytest.fixture
def deployment(tmp_path, request):
    mirror, proxies, *rest = getattr(request, "param", ("sync", True))
    automatic = bool(rest and rest[0])
    # The shipped topology's link delays (80-200 ms) through the delay proxies.
    # Media on in every region: the drill uploads blobs up to the kill and checks them afterwards.
    cluster = Cluster(tmp_path, mirror=mirror, proxies=proxies, rtt_ms=TOPOLOGY if proxies else 0,
                      automatic=automatic, settings={"mediaDir": os.path.join(str(tmp_path), "media")})
    run_dir = os.path.join(str(tmp_path), "run")
    write_run_dir(cluster, run_dir)
    yield cluster, run_dir
    stop_restarted(cluster, run_dir)
    cluster.stop()


def drill(cluster, run_dir, *args, check=True):
    cmd = [bin_path("relayctl"), "drill", "failover", "--topology", cluster.topology_path,
           "--key-dir", cluster.keys, "--run-dir", run_dir, "--json"] + list(args)
    out = subprocess.run(cmd, timeout=DRILL_TIMEOUT, capture_output=True, text=True)
    if not check:
        return out
    assert out.returncode == 0, "drill failed:\n%s\n%s\n%s" % (out.stdout, out.stderr, cluster.logs())
    return json.loads(out.stdout.strip().splitlines()[-1])


def assert_consistent(report):
    for key in ("duplicates", "outOfOrder", "rpoMessages", "sent", "acked", "delivered", "deliveries"):
        assert isinstance(report[key], int) and report[key] >= 0, key
    assert report["published"] <= report["sent"]
    assert report["acked"] <= report["published"]
    assert report["delivered"] <= report["sent"]
    assert report["deliveries"] >= report["delivered"]
    assert report["rpoMessages"] <= report["ackedBeforeKill"] <= report["acked"]
    assert report["rpoMessages"] <= report["lostAcknowledged"] <= report["acked"]
    assert report["unacknowledged"] == report["sent"] - report["acked"]
    assert (report["rpoMs"] > 0) == (report["rpoMessages"] > 0) or report["rpoMs"] == 0
    assert report["rpoMs"] >= 0
    assert report["lagSamples"] > 0
    assert report["ackedBeforeKill"] > 0
    # Media: uploads acknowledged up to the kill, each checked byte-exact afterwards.
    assert report["mediaUploaded"] > 0
    assert 0 <= report["mediaLost"] <= report["mediaUploaded"]
    for key in ("mediaLostDuringFailover", "mediaLostAfterFailback"):
        assert report.get(key) is None or 0 <= report[key] <= report["mediaLost"], key


@pytest.mark.parametrize("deployment", [("sync", True)], indirect=True)
def test_sync_failover_drill_loses_nothing(deployment):
    cluster, run_dir = deployment
    report = drill(cluster, run_dir, "--region", "us-east", "--mode", "sync",
                   "--devices", "6", "--rate", "20", "--duration", "5")
    assert report["kind"] == "failover" and report["mode"] == "sync" and report["standby"] == "eu-west"
    assert report["rpoMessages"] == 0 and report["rpoMs"] == 0
    assert report["lostAcknowledged"] == 0, report["notes"]
    assert_consistent(report)
    # Sync mirroring: every upload acknowledged before the kill downloads
    # byte-exact from eu-west during the failover, and every one (those
    # uploaded at eu-west meanwhile too) from us-east after the failback.
    assert report["mediaLost"] == 0 and report["mediaLostDuringFailover"] == 0, report["notes"]
    assert report["mediaLostAfterFailback"] == 0, report["notes"]
    assert "media checked at the standby" in report["timeline"]
    assert report["rtoMs"] is not None and 0 < report["rtoMs"] < 30000
    # The region was really killed, and the drill brought it back.
    assert any(k.startswith("us-east killed") for k in report["timeline"])
    assert any(k.startswith("failed back") for k in report["timeline"])


@pytest.mark.parametrize("deployment", [("async", True)], indirect=True)
def test_async_failover_drill_reports_consistently(deployment, tmp_path):
    cluster, run_dir = deployment
    # Could not run: the mode disagrees with the region's settings, or no run directory.
    out = drill(cluster, run_dir, "--region", "us-east", "--mode", "sync", check=False)
    assert out.returncode != 0 and '"mirror": "sync"' in out.stderr, out.stderr
    out = drill(cluster, str(tmp_path / "nowhere"), "--region", "us-east", check=False)
    assert out.returncode != 0 and "no run directory" in out.stderr, out.stderr
    report = drill(cluster, run_dir, "--region", "us-east", "--mode", "async",
                   "--devices", "6", "--rate", "20", "--duration", "5")
    assert report["kind"] == "failover" and report["mode"] == "async"
    assert_consistent(report)
    assert report["rtoMs"] is None or report["rtoMs"] > 0


@pytest.mark.parametrize("deployment", [("async", True)], indirect=True)
def test_partition_drill_cuts_and_heals_the_link(deployment):
    cluster, run_dir = deployment
    report = drill(cluster, run_dir, "--region", "us-east", "--partition",
                   "--devices", "6", "--rate", "20", "--duration", "3")
    assert report["kind"] == "partition"
    assert_consistent(report)
    assert any(k.startswith("link us-east<->eu-west cut") for k in report["timeline"])
    assert "link healed" in report["timeline"]


def drill_lines(cluster, run_dir, *args):
    """Runs a drill with --json; returns its JSON lines (one per run, then
    the summary when repeated)."""
    cmd = [bin_path("relayctl"), "drill", "failover", "--topology", cluster.topology_path,
           "--key-dir", cluster.keys, "--run-dir", run_dir, "--json"] + list(args)
    out = subprocess.run(cmd, timeout=DRILL_TIMEOUT * 4, capture_output=True, text=True)
    assert out.returncode == 0, "drill failed:\n%s\n%s\n%s" % (out.stdout, out.stderr, cluster.logs())
    return [json.loads(line) for line in out.stdout.strip().splitlines() if line.startswith("{")]


@pytest.mark.parametrize("deployment", [("sync", True, True)], indirect=True)
def test_automatic_sync_failover_drills_lose_nothing(deployment):
    """Issue 12 items 1-3: kill, no operator; the standby takes over when a
    majority has not heard the region for 2 s, the region fails back by
    itself once restarted; sync mode: no acknowledged send lost, repeated."""
    cluster, run_dir = deployment
    lines = drill_lines(cluster, run_dir, "--region", "us-east", "--mode", "sync", "--automatic",
                        "--repeat", "2", "--devices", "6", "--rate", "20", "--duration", "3")
    *reports, summary = lines
    assert len(reports) == 2 and len(summary["runs"]) == 2
    for report in reports:
        assert report["automatic"] and report["kind"] == "failover", report
        assert report["lostAcknowledged"] == 0 and report["rpoMessages"] == 0, report["notes"]
        assert report["mediaLost"] == 0, report["notes"]
        assert_consistent(report)
        # Detected by the deployment: at least the 2 s without contact, well before the 30 s bound.
        assert 2000 <= report["detectionMs"] < 15000, report["timeline"]
        assert report["rtoMs"] is not None and report["rtoMs"] >= report["detectionMs"] - 1000
        assert any(k.startswith("failed over automatically to eu-west") for k in report["timeline"])
        assert any(k.startswith("failed back automatically") for k in report["timeline"])
    assert summary["lostAcknowledged"] == 0 and summary["automatic"] and summary["mediaLost"] == 0
    assert summary["rtoMs"]["min"] <= summary["rtoMs"]["median"] <= summary["rtoMs"]["max"]


class SVGPlots(html.parser.HTMLParser):
    """The plots of a drill's HTML page: per svg id, its polylines' names
    and point counts; and whether anything refers outside the page."""

    def __init__(self):
        super().__init__()
        self.plots, self.current, self.external = {}, None, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            self.current = a.get("id")
            self.plots[self.current] = {}
        elif tag == "polyline" and self.current:
            self.plots[self.current][a.get("data-name")] = len(a.get("points", "").split())
        if tag == "script" or "src" in a or "href" in a:
            self.external.append((tag, a))


@pytest.mark.parametrize("deployment", [("sync", True, True)], indirect=True)
def test_automatic_partition_drill_fences_the_cut_off_region(deployment, tmp_path):
    """A cut off from both other regions: it loses its lease and refuses
    writes, its standby takes over, and after the heal A fails back. The
    report is also written as a self-contained HTML page with its plots."""
    cluster, run_dir = deployment
    page = tmp_path / "drill.html"
    (report,) = drill_lines(cluster, run_dir, "--region", "us-east", "--partition", "--automatic",
                            "--devices", "6", "--rate", "20", "--duration", "3", "--html", str(page))
    plots = SVGPlots()
    plots.feed(page.read_text())
    assert not plots.external, plots.external
    assert set(plots.plots) == {"delivered", "lag", "outbox"}, plots.plots
    delivered = plots.plots["delivered"]
    assert set(delivered) == {"us-east", "eu-west", "ap-south"}, delivered
    assert all(points > 10 for points in delivered.values()), delivered
    assert plots.plots["lag"] and all(points > 0 for points in plots.plots["lag"].values())
    assert sum(sum(counts) for counts in report["series"]["deliveredPer100ms"].values()) == report["deliveries"]
    assert report["kind"] == "partition" and report["automatic"], report
    timeline = report["timeline"]
    assert "us-east cut off from every region" in timeline
    assert any(k.startswith("failed over automatically to eu-west") for k in timeline), timeline
    assert "us-east fenced itself (no write lease)" in timeline, report["notes"]
    assert any(k.startswith("failed back automatically") for k in timeline), timeline
    assert report["lostAcknowledged"] == 0, report["notes"]
    assert_consistent(report)


@pytest.mark.parametrize("deployment", [("sync", True, True)], indirect=True)
def test_an_operators_failover_is_not_undone_by_the_automatic_watch(deployment):
    """Automatic failover on, a drill with the operator's failover: the
    standby, still in contact with the region a moment before the kill,
    must not hand it back until it has come back (a manual drill on the
    shipped topology used to see eu-west fence us-east within a second of
    the failover, leaving it unserved until the failback)."""
    cluster, run_dir = deployment
    report = drill(cluster, run_dir, "--region", "us-east", "--mode", "sync",
                   "--devices", "4", "--rate", "10", "--duration", "4")
    assert report["rtoMs"] is not None and 0 < report["rtoMs"] < 5000, report["timeline"]
    assert any(k.startswith("failed back (term 4") for k in report["timeline"]), report["timeline"]
    # Not asserted here: lostAcknowledged. A manual drill on a deployment
    # with automatic failover on still loses a few sends acknowledged by the
    # standby in the second after the region restarts (known issue, issue 12
    # closing note); --automatic drills and manual drills without automatic
    # failover lose nothing (the tests above).


@pytest.mark.parametrize("deployment", [("sync", True, True)], indirect=True)
def test_a_manual_sync_drill_with_automatic_failover_on_loses_nothing(deployment):
    # Sends eu-west forwards to us-east just after its restart, before us-east
    # holds its write lease again, were refused there after their PUBACK (lost,
    # every run); they now wait parked until the lease is held.
    cluster, run_dir = deployment
    report = drill(cluster, run_dir, "--region", "us-east", "--mode", "sync",
                   "--devices", "4", "--rate", "10", "--duration", "4")
    assert report["lostAcknowledged"] == 0, report["notes"]
