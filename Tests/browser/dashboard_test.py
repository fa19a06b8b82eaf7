"""Browser test of the dashboard in a real headless Chromium (Debian's), driven by Playwright.

Run by scripts/test-browser, which starts PostgreSQL-backed `sdfarm serve`, a diffusion worker on the demo model,
and passes: the URL, the token, the demo batch (to watch complete), a job that failed (to retry) and a paused
batch with queued jobs (to cancel). Screenshots go to ARTIFACTS. Exits non-zero on any failed expectation.
"""
import json, os, sys, time, urllib.request
from playwright.sync_api import sync_playwright, expect

url, token, demo, failed_job, queued_batch, artifacts = sys.argv[1:7]
os.makedirs(artifacts, exist_ok=True)

def api(path):
    req = urllib.request.Request(url + path, headers={"Authorization": "Bearer " + token})
    return json.load(urllib.request.urlopen(req))

with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                                args=["--no-sandbox", "--disable-dev-shm-usage"])
    # bypass_csp: Playwright's waits evaluate script text, which the dashboard's CSP (no eval) refuses. The
    # prompt-escaping check below does not rely on the CSP: the prompt must appear as text.
    page = browser.new_context(viewport={"width": 1100, "height": 800}, bypass_csp=True).new_page()
    page.on("dialog", lambda d: d.accept())
    page.goto(url + "/")
    expect(page.locator("#count-queued")).to_be_visible()
    page.fill("#token", token)
    page.click("#save-token")
    expect(page.locator("#token-state")).to_have_text("token saved")
    page.screenshot(path=f"{artifacts}/01-overview.png", full_page=True)

    # Watch the demo batch's contact sheet fill in: a screenshot while it runs, one when every cell is an image.
    page.goto(f"{url}/batches/{demo}")
    expect(page.locator("#sheet")).to_be_visible()
    page.wait_for_selector("#sheet td.cell[data-state=running], #sheet img", timeout=120_000)
    page.screenshot(path=f"{artifacts}/02-batch-filling.png", full_page=True)
    total = api(f"/api/v1/batches/{demo}")["total"]
    page.wait_for_function(f"document.querySelectorAll('#sheet img').length === {total}", timeout=300_000)
    expect(page.locator("#batch-progress")).to_have_attribute("data-done", "true")
    page.wait_for_function("Array.from(document.querySelectorAll('#sheet img')).every(i => i.complete && i.naturalWidth > 0)")
    page.screenshot(path=f"{artifacts}/03-batch-complete.png", full_page=True)
    assert api(f"/api/v1/batches/{demo}")["counts"]["succeeded"] == total

    # A job page with its command; retry the failed job by clicking.
    page.goto(f"{url}/jobs/{failed_job}")
    expect(page.locator("#command")).to_contain_text("sdfarm render")
    expect(page.locator("#parameters")).to_contain_text("<script>")  # the prompt, shown as text
    assert page.evaluate("window.__xss === undefined"), "a prompt's script ran"
    page.screenshot(path=f"{artifacts}/04-failed-job.png", full_page=True)
    page.click(f"#retry-job-{failed_job}")
    page.wait_for_function(f"!document.querySelector('#retry-job-{failed_job}')", timeout=10_000)
    state = api(f"/api/v1/jobs/{failed_job}")["job"]["state"]
    assert state in ("queued", "running", "succeeded"), state
    page.screenshot(path=f"{artifacts}/05-job-retried.png", full_page=True)

    # Cancel the paused batch of queued jobs by clicking on the batches page.
    page.goto(f"{url}/batches")
    page.click(f"#cancel-batch-{queued_batch}")
    page.wait_for_function(f"!document.querySelector('#cancel-batch-{queued_batch}')", timeout=10_000)
    counts = api(f"/api/v1/batches/{queued_batch}")["counts"]
    assert counts["cancelled"] > 0 and counts["queued"] == 0, counts
    page.screenshot(path=f"{artifacts}/06-batch-cancelled.png", full_page=True)
    page.goto(f"{url}/workers")
    page.screenshot(path=f"{artifacts}/07-workers.png", full_page=True)
    browser.close()
print(f"browser test: passed; screenshots in {artifacts}")
