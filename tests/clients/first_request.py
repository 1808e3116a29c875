"""What the first request to each component costs against its second, on a
freshly started `spin up` (issue: size, build time and request cost).

    python3 tests/clients/first_request.py http://127.0.0.1:3917 [spin.toml]

Every route of the manifest gets four GETs with no credential (`:name`
segments filled with a placeholder, `/...` with nothing): the answer is a
401, 404 or 405, but Spin instantiates the component either way, which is
what is measured: the first against the median of the other three. Prints
the worst ten by first minus second, and the totals.
A figure, not a test: it fails only when a route does not answer at all.
"""

import http.client
import re
import sys
import time
import urllib.parse


def routes(manifest: str) -> list[tuple[str, str]]:
    """(route, component) of each HTTP trigger, in the manifest's order."""
    with open(manifest, "rb") as f:
        data = f.read()
    try:
        import tomllib  # Python 3.11+

        return [(t["route"], t["component"]) for t in tomllib.loads(data.decode())["trigger"]["http"]]
    except ModuleNotFoundError:
        pairs = re.findall(r'^route = "([^"]*)"\s*\ncomponent = "([^"]*)"', data.decode(), re.M)
        return list(pairs)


def path_of(route: str) -> str:
    route = route.removesuffix("/...")
    parts = [
        "00000000-0000-4000-8000-000000000000" if p.startswith(":") else p
        for p in route.split("/")
    ]
    return "/".join(parts) or "/"


def timed_get(conn: http.client.HTTPConnection, path: str) -> tuple[int, float]:
    t0 = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    return response.status, (time.perf_counter() - t0) * 1000


def main() -> None:
    base = sys.argv[1]
    manifest = sys.argv[2] if len(sys.argv) > 2 else "spin.toml"
    url = urllib.parse.urlsplit(base)
    rows = []
    for route, component in routes(manifest):
        path = path_of(route)
        # A connection per component: a dropped keep-alive cannot end the run.
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        conn.connect()
        status, first = timed_get(conn, path)
        later = sorted(timed_get(conn, path)[1] for _ in range(3))
        conn.close()
        second = later[1]
        rows.append((first - second, first, second, status, component, path))
    rows.sort(reverse=True)
    print(f"\n## First request against second, {len(rows)} components (real spin up)\n")
    print("| component | route | status | first ms | later ms (median of 3) |")
    print("|---|---|---|---|---|")
    for _, first, second, status, component, path in rows[:10]:
        print(f"| {component} | `{path}` | {status} | {first:.2f} | {second:.2f} |")
    firsts = sum(r[1] for r in rows)
    seconds = sum(r[2] for r in rows)
    print(f"\nall {len(rows)}: first requests {firsts:.1f} ms, later ones {seconds:.1f} ms")


if __name__ == "__main__":
    main()
