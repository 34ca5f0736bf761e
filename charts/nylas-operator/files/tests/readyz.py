# `helm test`: GET the operator's /readyz until it answers 200 (the pod may still be starting).
# Usage: python -c "$(cat readyz.py)" URL [TIMEOUT_SECONDS]. Runs in the operator's own image.
import sys
import time
import urllib.error
import urllib.request

url = sys.argv[1]
deadline = time.monotonic() + (float(sys.argv[2]) if len(sys.argv) > 2 else 60.0)
while True:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (a fixed http URL)
            print(f"{url}: {response.status} {response.read().decode(errors='replace')}")
            sys.exit(0)
    except urllib.error.HTTPError as exc:
        last = f"{exc.code} {exc.read().decode(errors='replace')}"
    except OSError as exc:
        last = str(exc)
    if time.monotonic() >= deadline:
        print(f"{url}: not ready: {last}", file=sys.stderr)
        sys.exit(1)
    time.sleep(2)
