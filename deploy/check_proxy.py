"""Check the nginx setup of deploy/ with a real browser: stickiness, media, uploads, failover.

Start the setup first (deploy/run.sh, with RUNDIR= so the logs are easy to find), then:

    .venv/bin/python deploy/check_proxy.py --rundir /tmp/mnist-nginx.XXXX [--contexts 6] [--train] [--failover]

Each browser context (a separate "browser": own cookies) opens the app, the Gallery (images are
/media/ files, held by one process) and Compare runs, where it uploads a model file. Then the
nginx access log must show every context on one process only, and the processes sharing the
contexts. --failover kills the app process behind the first context (run.sh starts it again) and
checks that its tabs carry on on another process, that new tabs avoid the dead one, and that the
moved tabs stay where they are once the dead process is back. Needs Debian's chromium; never
`playwright install`.
"""
import argparse
import collections
import os
import re
import signal
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
MAIN = '[data-testid="stMainBlockContainer"]'
TIMEOUT = 120_000
LINE = re.compile(r'"(?P<method>\S+) (?P<path>\S+) [^"]*" (?P<status>\d+) \d+ upstream=(?P<upstream>.*?) '
                  r'ustatus=.*? cookie=(?P<cookie>\S*) pool=\S* served=(?P<served>\S*) rt=\S+ "(?P<ua>[^"]*)"')


def log_lines(path, start):
    with open(path, encoding="utf-8") as f:
        f.seek(start)
        return [m.groupdict() for m in map(LINE.search, f) if m]


def connected(page):
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-connection-state", "CONNECTED",
                                                           timeout=TIMEOUT)


def open_tab(browser, url, i):
    """A new browser (context) named ctx<i> in the access log's user agent, its page connected to ``url``."""
    ctx = browser.new_context(user_agent=f"Mozilla/5.0 mnist-check ctx{i}", viewport={"width": 1400, "height": 950})
    ctx.set_default_timeout(TIMEOUT)
    page = ctx.new_page()
    page.goto(url)
    connected(page)
    return ctx, page


def go_to(page, title, heading=None):
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.locator(MAIN).get_by_role("heading", name=heading or title, exact=True)).to_be_visible()


def dismiss_dialog(page, name):
    """Close a Streamlit dialog if one is open; say so. After a tab reconnects to a new process,
    its Home link may reload /home, which this app answers with "Page not found" (also without nginx)."""
    page.wait_for_timeout(1000)
    dialog = page.get_by_role("dialog")
    if dialog.count():
        print(f"{name}: a dialog is open: {dialog.inner_text()!r}; closing it")
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)


def images_loaded(page):
    """Wait until every st.image of the page has loaded (a /media/ file of the session's process)."""
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")
    page.wait_for_function("() => { const im = [...document.querySelectorAll('[data-testid=\"stImage\"] img')];"
                           " return im.length > 0 && im.every(i => i.complete); }", timeout=TIMEOUT)
    broken = page.evaluate("[...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
                           ".filter(i => i.naturalWidth === 0).length")
    total = page.locator('[data-testid="stImage"] img').count()
    return total, broken


def upload(page, model):
    go_to(page, "Compare runs")
    page.locator(MAIN).get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(model))
    ok = page.locator(MAIN).get_by_test_id("stAlertContentSuccess")
    expect(ok).to_contain_text("It is now the current model.", timeout=TIMEOUT)
    return ok.inner_text()


def cookie(ctx, name="mnist_backend"):
    return next((c["value"] for c in ctx.cookies() if c["name"] == name), None)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rundir", required=True, type=Path, help="RUNDIR of run.sh (logs/, app-PORT.pid)")
    ap.add_argument("--url", default="http://127.0.0.1:8080/")
    ap.add_argument("--contexts", type=int, default=6)
    ap.add_argument("--model", type=Path, default=Path("/tmp/m.npz"),
                    help="an .npz model to upload (made if missing: MLP([784, 32, 10]))")
    ap.add_argument("--shots", type=Path, default=Path("/tmp/mnist-proxy-shots"))
    ap.add_argument("--train", action="store_true", help="also train for a few seconds in the first context")
    ap.add_argument("--failover", action="store_true")
    args = ap.parse_args()

    if not args.model.exists():
        sys.path.insert(0, str(ROOT))
        from mlp.model import MLP
        MLP([784, 32, 10]).save(str(args.model))
    args.shots.mkdir(parents=True, exist_ok=True)
    access = args.rundir / "logs" / "access.log"
    start = access.stat().st_size
    problems = []

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        contexts, pages = [], []
        for i in range(args.contexts):
            ctx, page = open_tab(browser, args.url, i)
            expect(page.get_by_role("heading", name="MNIST Playground")).to_be_visible(timeout=TIMEOUT)
            contexts.append(ctx)
            pages.append(page)
            print(f"ctx{i}: loaded, cookie mnist_backend={cookie(ctx)}, "
                  f"_streamlit_xsrf={'set' if cookie(ctx, '_streamlit_xsrf') else 'MISSING'}")

        shot_done = set()
        for i, (ctx, page) in enumerate(zip(contexts, pages)):
            go_to(page, "Gallery")
            total, broken = images_loaded(page)
            print(f"ctx{i}: Gallery {total} images, {broken} broken")
            if broken:
                problems.append(f"ctx{i}: {broken} broken images")
            text = upload(page, args.model)
            print(f"ctx{i}: upload: {text}")
            status = page.get_by_test_id("stSidebar").get_by_text(re.compile("^Model: ")).inner_text()
            print(f"ctx{i}: sidebar: {status}")
            if cookie(ctx) not in shot_done:
                shot_done.add(cookie(ctx))
                page.screenshot(path=str(args.shots / f"upload-backend{cookie(ctx)}.png"))

        if args.train:
            page = pages[0]
            go_to(page, "Train")
            page.locator(MAIN).get_by_role("button", name="Train", exact=True).click()
            bar = page.locator(MAIN).get_by_test_id("stProgress")
            expect(bar).to_contain_text("update", timeout=TIMEOUT)
            page.wait_for_timeout(5000)
            print(f"ctx0: training: {bar.inner_text()!r}")
            page.screenshot(path=str(args.shots / "train.png"))
            page.locator(MAIN).get_by_role("button", name="Stop training").click()

        if args.failover:
            try:
                failover(args, browser, contexts, pages, problems)
            except Exception:
                for i, page in enumerate(pages):
                    page.screenshot(path=str(args.shots / f"failed-ctx{i}.png"))
                print(f"failover check failed; screenshots in {args.shots}/failed-ctx*.png")
                raise

        for ctx in contexts:
            ctx.close()  # the websocket's log line is written when it closes
        browser.close()

    time.sleep(1)
    lines = [ln for ln in log_lines(access, start) if "mnist-check" in ln["ua"]]
    per_ctx = collections.defaultdict(collections.Counter)
    for ln in lines:
        per_ctx[ln["ua"].split()[-1]][(ln["upstream"].split(", ")[-1], ln["status"])] += 1
    print(f"\n{len(lines)} requests of the check in the access log")
    for name in sorted(per_ctx, key=lambda n: int(n[3:])):
        ups = {u for u, _ in per_ctx[name]}
        statuses = collections.Counter()
        for (_, s), n in per_ctx[name].items():
            statuses[s] += n
        path = [ln["upstream"].split(", ")[-1].rsplit(":", 1)[-1] for ln in lines
                if ln["ua"].split()[-1] == name and ln["path"] != "/_stcore/stream"]
        path = [b for k, b in enumerate(path) if k == 0 or path[k - 1] != b]
        print(f"{name}: backends {sorted(ups)} (in turn: {' -> '.join(path)})  statuses {dict(statuses)}")
        if not args.failover and len(ups) != 1:
            problems.append(f"{name} went to {sorted(ups)}")
    firsts = {}
    for ln in lines:
        firsts.setdefault(ln["ua"].split()[-1], ln)
    for name, ln in sorted(firsts.items()):
        print(f"{name}: first request {ln['method']} {ln['path']} cookie={ln['cookie']} -> {ln['upstream']}"
              f" (pinned to {ln['served']})")
    uploads = [ln for ln in lines if ln["method"] == "PUT" and "/_stcore/upload_file/" in ln["path"]]
    print(f"uploads: {collections.Counter((ln['upstream'], ln['status']) for ln in uploads)}")
    by_backend = collections.Counter(next(iter(c))[0] for c in per_ctx.values())
    print(f"contexts per backend (by first backend): {dict(by_backend)}")
    bad = [ln for ln in lines if ln["status"][0] in "45" and not args.failover]
    for ln in bad:
        problems.append(f"{ln['status']} {ln['method']} {ln['path']} via {ln['upstream']}")
    print("\nPROBLEMS:\n  " + "\n  ".join(problems) if problems else "\nall good")
    return 1 if problems else 0


def backend_port(rundir, backend_id):
    ports = sorted(int(f.stem.split("-")[1]) for f in rundir.glob("app-*.pid"))
    return ports[int(backend_id) - 1]


def healthy(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
            return r.read() == b"ok"
    except OSError:
        return False


def failover(args, browser, contexts, pages, problems):
    victim = cookie(contexts[0])
    port = backend_port(args.rundir, victim)
    on_victim = [i for i, c in enumerate(contexts) if cookie(c) == victim]
    pid = int((args.rundir / f"app-{port}.pid").read_text())
    print(f"\nfailover: killing process {pid} (port {port}, backend {victim}) with SIGKILL; "
          f"contexts on it: {on_victim}")
    os.kill(pid, signal.SIGKILL)
    t0 = time.time()
    page = pages[on_victim[0]]
    # what the tab shows while it reconnects, and once it has
    expect(page.get_by_test_id("stApp")).not_to_have_attribute("data-test-connection-state", "CONNECTED",
                                                               timeout=30_000)
    print(f"ctx{on_victim[0]}: disconnected after {time.time() - t0:.1f}s "
          f"({page.get_by_test_id('stApp').get_attribute('data-test-connection-state')})")
    page.screenshot(path=str(args.shots / "during-failover.png"))
    connected(page)
    print(f"ctx{on_victim[0]}: connected again after {time.time() - t0:.1f}s, cookie now "
          f"{cookie(contexts[on_victim[0]])}, process on {port} healthy: {healthy(port)}")
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")
    page.wait_for_timeout(1000)
    page.screenshot(path=str(args.shots / "after-failover.png"))
    status = page.get_by_test_id("stSidebar").get_by_text(re.compile("^Model: ")).inner_text()
    print(f"ctx{on_victim[0]}: still shows the old page: {status!r}; url {page.url}")
    go_to(page, "Home", "MNIST Playground")  # the next rerun runs in a new session on the new process
    dismiss_dialog(page, f"ctx{on_victim[0]}")
    status = page.get_by_test_id("stSidebar").get_by_text(re.compile("^Model: ")).inner_text()
    print(f"ctx{on_victim[0]}: after the next click: {status!r}; url {page.url}")

    # a new browser while the victim is down or restarting: nginx skips it (or retries on another)
    ctx, new = open_tab(browser, args.url, len(contexts))
    print(f"ctx{len(contexts)} (new, {time.time() - t0:.1f}s after the kill): cookie {cookie(ctx)}")
    contexts.append(ctx)
    pages.append(new)

    for _ in range(120):  # run.sh starts the killed process again
        if healthy(port):
            break
        time.sleep(0.5)
    print(f"process on {port} healthy again {time.time() - t0:.1f}s after the kill")
    time.sleep(11)  # past fail_timeout: nginx would send anything to the restarted process again
    for i in on_victim:
        connected(pages[i])
        dismiss_dialog(pages[i], f"ctx{i}")
        go_to(pages[i], "Gallery")
        total, broken = images_loaded(pages[i])
        text = upload(pages[i], args.model)
        print(f"ctx{i} (moved): cookie {cookie(contexts[i])}, Gallery {total} images/{broken} broken, "
              f"upload: {text[:40]}...")
        if broken or cookie(contexts[i]) == victim:
            problems.append(f"ctx{i} after failover: cookie {cookie(contexts[i])}, {broken} broken images")


if __name__ == "__main__":
    sys.exit(main())
