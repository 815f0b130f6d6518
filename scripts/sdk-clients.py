"""Drives the real analytics SDKs (Segment's analytics-python, RudderStack's rudder-sdk-python,
PostHog's posthog) against the real service binary on 127.0.0.1, in sync mode, and checks with
GET /metrics that what the clients were told was stored is counted exactly once.

Run by scripts/sdk-test (which makes the virtual environment and the database):
    python sdk-clients.py --binary .build/debug/event-metrics-service --database-url URL --port PORT --work DIR
Prints `N passed, M failed` last; exits 1 on any failure. Everything is bounded in time.
"""
import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid as uuidlib
from datetime import datetime, timedelta, timezone

import posthog
from posthog.request import APIError as PostHogAPIError
from rudderstack.analytics.client import Client as RudderClient
from rudderstack.analytics.request import APIError as RudderAPIError
from segment.analytics.client import Client as SegmentClient
from segment.analytics.request import APIError as SegmentAPIError

passed = 0
failed = 0


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def wait_until(what, condition, seconds=60.0):
    """Polls `condition` every 100 ms until it returns a truthy value or `seconds` pass."""
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {seconds} s waiting for {what} (last: {last})")


class Service:
    def __init__(self, args, env_extra):
        self.base = f"http://127.0.0.1:{args.port}"
        env = dict(os.environ)
        env.pop("INGEST_API_KEYS", None)
        env.update(env_extra)
        self.log = open(os.path.join(args.work, "service.log"), "a")
        self.process = subprocess.Popen(
            [args.binary, "serve", "--host", "127.0.0.1", "--port", str(args.port), "--admin-port", "0",
             "--wal-dir", os.path.join(args.work, "wal"), "--database-url", args.database_url,
             "--log-level", "warning"],
            env=env, stdout=self.log, stderr=self.log)
        wait_until("the service's /health", self.healthy, 60)

    def healthy(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"the service exited with {self.process.returncode}; see service.log")
        try:
            with urllib.request.urlopen(self.base + "/health", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, ConnectionError):
            return False

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def metrics(base, event_name, start, end):
    query = urllib.parse.urlencode({
        "event_name": event_name, "group_by": "channel",
        "from": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "to": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
    })
    with urllib.request.urlopen(f"{base}/metrics?{query}", timeout=10) as r:
        body = json.load(r)
    groups = {g["key"]: (g["total_count"], g["unique_user_count"]) for g in body["groups"]}
    return body["total_count"], body["unique_user_count"], groups


def expect_metrics(base, event_name, start, end, total, users, groups):
    """Waits for the replayer to store `total` events, then checks totals and groups exactly."""
    try:
        wait_until(f"{total} {event_name} events in /metrics",
                   lambda: metrics(base, event_name, start, end)[0] >= total, 60)
    except TimeoutError as error:
        check(f"/metrics {event_name}", False, str(error))
        return
    got = metrics(base, event_name, start, end)
    check(f"/metrics {event_name} total={total} users={users} groups={groups}",
          got == (total, users, groups), f"got {got}")


def raises(call, error_type, status):
    try:
        call()
    except error_type as error:
        return getattr(error, "status", None) == status
    return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    signal.alarm(300)  # the whole run is bounded

    run = uuidlib.uuid4().hex[:8]
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    end = datetime.now(timezone.utc) + timedelta(hours=1)

    # 1. Open service (no INGEST_API_KEYS).
    service = Service(args, {})
    base = service.base
    try:
        # Segment analytics-python: plain and gzip, track/page/identify, a re-sent messageId.
        for gzip in (False, True):
            client = SegmentClient(write_key="seg_key", host=base, sync_mode=True, gzip=gzip, max_retries=0)
            suffix = "gz" if gzip else "plain"
            ok, _ = client.track(user_id=f"seg-u1-{run}", event=f"seg_purchase_{run}",
                                 properties={"channel": "web", "tags": ["promo"], "price": 9.5},
                                 context={"campaign": {"name": "winter"}})
            check(f"segment track ({suffix})", ok)
            client.track(anonymous_id=f"seg-anon-{run}-{suffix}", event=f"seg_purchase_{run}")
            client.page(user_id=f"seg-u2-{run}", name="Home", properties={"channel": "web"})
            client.identify(user_id=f"seg-u3-{run}", traits={"plan": "pro"})
        segment = SegmentClient(write_key="seg_key", host=base, sync_mode=True, max_retries=0)
        message_id = f"seg-msg-{run}"
        for _ in range(2):
            segment.track(user_id=f"seg-u4-{run}", event=f"seg_purchase_{run}", message_id=message_id)
        check("segment re-sent messageId answered 200 twice", True)
        # The same messageId under another write key is another event.
        SegmentClient(write_key="seg_other", host=base, sync_mode=True, max_retries=0).track(
            user_id=f"seg-u4-{run}", event=f"seg_purchase_{run}", message_id=message_id)
        # RudderStack (gzip by default; channel "server" at the top level).
        for gzip in (True, False):
            rudder = RudderClient(write_key="rudder_key", host=base, sync_mode=True, gzip=gzip, max_retries=0)
            rudder.track(user_id=f"rs-u1-{run}", event=f"rs_signup_{run}", properties={"plan": "free"})
            rudder.track(anonymous_id=f"rs-anon-{run}", event=f"rs_signup_{run}", properties={"channel": "email"})
            rudder.page(user_id=f"rs-u2-{run}", name="Pricing")
        rudder = RudderClient(write_key="rudder_key", host=base, sync_mode=True, max_retries=0)
        for _ in range(2):
            rudder.track(user_id=f"rs-u3-{run}", event=f"rs_signup_{run}", message_id=f"rs-msg-{run}")
        check("rudderstack calls answered 200", True)

        # PostHog: plain and gzip, a re-sent uuid.
        for gzip in (False, True):
            ph = posthog.Posthog(f"phc_{run}", host=base, sync_mode=True, gzip=gzip, max_retries=0)
            ph.capture(f"ph_view_{run}", distinct_id=f"ph-u1-{run}", properties={"channel": "web", "tags": ["a", "b"]})
            ph.capture(f"ph_view_{run}", distinct_id=f"ph-u2-{run}")
        ph = posthog.Posthog(f"phc_{run}", host=base, sync_mode=True, max_retries=0)
        fixed = str(uuidlib.uuid4())
        for _ in range(2):
            ph.capture(f"ph_view_{run}", distinct_id=f"ph-u3-{run}", uuid=fixed)
        check("posthog captures answered 200", True)

        # Segment: 2 tracks per gzip setting (u1 on web, the anonymous one on the default
        # "server" of analytics-python), the messageId once, and once more under seg_other.
        expect_metrics(base, f"seg_purchase_{run}", start, end, 6, 4,
                       {"web": (2, 1), "server": (4, 3)})
        expect_metrics(base, f"rs_signup_{run}", start, end, 5, 3,
                       {"server": (3, 2), "email": (2, 1)})
        expect_metrics(base, f"ph_view_{run}", start, end, 5, 3,
                       {"web": (2, 1), "server": (3, 2)})
    except Exception as error:  # noqa: BLE001 - any client error fails the run with its message
        check("open service run", False, repr(error))
    finally:
        service.stop()

    # 2. With INGEST_API_KEYS: a wrong write key is 401 for each client, a right one stored.
    service = Service(args, {"INGEST_API_KEYS": f"good_{run},other_{run}"})
    base = service.base
    try:
        bad = SegmentClient(write_key="wrong", host=base, sync_mode=True, max_retries=0)
        check("segment wrong write key -> 401",
              raises(lambda: bad.track(user_id="u", event=f"keyed_{run}"), SegmentAPIError, 401))
        bad_rudder = RudderClient(write_key="wrong", host=base, sync_mode=True, max_retries=0)
        check("rudderstack wrong write key -> 401",
              raises(lambda: bad_rudder.track(user_id="u", event=f"keyed_{run}"), RudderAPIError, 401))
        # posthog logs and swallows a failed capture unless debug=True, which re-raises it.
        bad_ph = posthog.Posthog("wrong", host=base, sync_mode=True, max_retries=0, debug=True)
        logging.getLogger("posthog").setLevel(logging.WARNING)  # debug=True also turns on its debug log
        check("posthog wrong api key -> 401",
              raises(lambda: bad_ph.capture(f"keyed_{run}", distinct_id="u"), PostHogAPIError, 401))

        message_id = f"keyed-msg-{run}"
        for key in (f"good_{run}", f"other_{run}", f"good_{run}"):
            SegmentClient(write_key=key, host=base, sync_mode=True, max_retries=0, gzip=True).track(
                user_id=f"k-u-{run}", event=f"keyed_{run}", message_id=message_id)
        posthog.Posthog(f"good_{run}", host=base, sync_mode=True, max_retries=0).capture(
            f"keyed_{run}", distinct_id=f"k-u2-{run}", properties={"channel": "web"})
        # Two write keys, one messageId: two events; the third send is a retry of the first.
        expect_metrics(base, f"keyed_{run}", start, end, 3, 2, {"server": (2, 1), "web": (1, 1)})
    except Exception as error:  # noqa: BLE001
        check("keyed service run", False, repr(error))
    finally:
        service.stop()

    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
