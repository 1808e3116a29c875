"""The operator console in a real browser (Debian's chromium, driven by
Selenium through chromedriver) against a served app.

Usage: console_browser.py BASE_URL ADMIN_KEY [SCREENSHOT_DIR]

Bootstraps the tenant `console` on the host console.localhost (Chromium
resolves *.localhost to this machine and treats it as a secure context, so
the `Secure` session cookie is kept over plain http), then:
- an operator signs in, creates a reseller, a customer and a user (named
  `<img src=x onerror=alert(1)>`, which must show as text), finds the user,
  edits and disables it, sees the audit events of all of that, visits every
  page, and signs out;
- a reseller admin signs in with a second factor and sees only its subtree;
- a plain user is refused;
- a page on another site tries to create an organization with the
  operator's cookie (a form post and a fetch) and nothing is created.
Fails on any error in the browser's console and any 5xx the page receives
(4xx answers are allowed only in the steps that provoke them). With
SCREENSHOT_DIR, saves the main pages there as PNG files.
"""

import http.server
import json
import os
import re
import sys
import threading
import time
import urllib.parse

import httpx
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait
from totp import totp

base, admin_key = sys.argv[1:3]
shots = sys.argv[3] if len(sys.argv) > 3 else None
port = urllib.parse.urlsplit(base).port
host = f"console.localhost:{port}"
site = f"http://{host}"
XSS = "<img src=x onerror=alert(1)>"
OPERATOR = ("ops@console.example", "operator-password-1")
RESELLER_ADMIN = ("north@console.example", "reseller-password-1")
PLAIN_USER = ("plain@console.example", "plain-password-1")

api = httpx.Client(base_url=base, headers={"Host": host}, timeout=30)


def check(r, status):
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json() if r.content else None


# ---- the tenant, through the API ------------------------------------------

check(api.post("/admin/tenants", headers={"Authorization": f"Bearer {admin_key}"}, json={
    "id": "console", "name": "Console Cloud", "domains": ["console.localhost"],
    "operator": {"email": OPERATOR[0], "password": OPERATOR[1]}}), 201)
app_key = check(api.patch("/admin/tenants/console", headers={"Authorization": f"Bearer {admin_key}"},
                          json={"rotate_application_key": True}), 200)["application_key"]
operator_token = check(api.post("/auth/sign_in", headers={"x-api-key": app_key},
                                json={"username": OPERATOR[0], "password": OPERATOR[1]}), 200)["token"]
as_operator = {"Authorization": f"Bearer {operator_token}"}


# ---- the browser ------------------------------------------------------------

options = webdriver.ChromeOptions()
options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
             "--disable-gpu", "--no-first-run", "--password-store=basic"]:
    options.add_argument(flag)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")),
                          options=options)
wait = WebDriverWait(driver, 15)


def browser_log(allow_4xx=False):
    """The browser's console since the last call: any error fails, but for
    a refused request (4xx) where the step provokes one; a 5xx never passes."""
    for entry in driver.get_log("browser"):
        if entry["level"] != "SEVERE":
            continue
        message = entry["message"]
        status = re.search(r"status of (\d{3})", message)
        if status and status.group(1).startswith("5"):
            raise AssertionError(f"the page received a 5xx: {message}")
        if allow_4xx and status and status.group(1).startswith("4"):
            continue
        if allow_4xx and "CORS" in message:
            continue
        raise AssertionError(f"browser console error: {message}")


def shot(name):
    if shots:
        os.makedirs(shots, exist_ok=True)
        driver.save_screenshot(os.path.join(shots, f"{name}.png"))


def heading(text):
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "main h1"), text))


def settled():
    """Waits for every loading state on the page to be replaced."""
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "main .loading"))


def go(hash_route, title):
    driver.get(f"{site}/console/{hash_route}")
    heading(title)
    settled()


def form(label):
    return driver.find_element(By.CSS_SELECTOR, f"form[aria-label='{label}']")


def fill(form_el, **values):
    for name, value in values.items():
        el = form_el.find_element(By.NAME, name)
        if el.tag_name == "select":
            Select(el).select_by_value(value)
        else:
            el.clear()
            el.send_keys(value)


def submit(form_el, expect):
    form_el.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    return wait.until(lambda d: next((e for e in form_el.find_elements(By.CSS_SELECTOR, expect)
                                      if e.is_displayed()), None))


def sign_in(email, password):
    driver.get(f"{site}/console/")
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "form[aria-label='Sign in']")))
    fill(form("Sign in"), email=email, password=password)
    form("Sign in").find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def sign_out():
    driver.find_element(By.ID, "sign-out").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "form[aria-label='Sign in']")))
    assert driver.find_element(By.ID, "nav").get_attribute("hidden") is not None


def main_text():
    return driver.find_element(By.ID, "main").text


try:
    # The sign-in page, and a plain user refused.
    driver.get(f"{site}/console/")
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "form[aria-label='Sign in']")))
    shot("sign-in")
    browser_log()

    # ---- an operator ----
    sign_in(*OPERATOR)
    heading("Overview")
    settled()
    wait.until(lambda d: "…" not in d.find_element(By.CSS_SELECTOR, ".counts").text)
    cookies = {c["name"]: c for c in driver.get_cookies()}
    session = cookies["__Host-onboard-console"]
    assert session["httpOnly"] and session["secure"] and session["sameSite"] == "Strict", session
    assert driver.execute_script("return document.cookie") == "", "scripts see no cookie"
    browser_log()

    # A reseller, and a customer under it.
    go("#/organizations", "Resellers and customers")
    create = form("Create a reseller or a customer")
    fill(create, kind="reseller", name="North Reseller", code="NORTH")
    done = submit(create, ".notice")
    reseller_id = done.find_element(By.TAG_NAME, "a").get_attribute("href").rsplit("/", 1)[1]
    fill(create, kind="customer", name="Acme Customer", company_name="Acme Ltd", code="", parent=reseller_id)
    create.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda d: "Acme Customer" in create.text)
    customer_id = create.find_element(By.CSS_SELECTOR, ".notice a").get_attribute("href").rsplit("/", 1)[1]
    # The tree opens to it.
    toggle = driver.find_element(By.CSS_SELECTOR, ".tree button.toggle")
    toggle.click()
    wait.until(lambda d: "North Reseller" in d.find_element(By.CSS_SELECTOR, ".tree").text)
    shot("organizations")
    browser_log()

    # A user, invited, whose name is markup.
    go("#/users", "Users")
    create = form("Create a user (sends an invitation)")
    fill(create, email="alice@console.example", first_name=XSS, last_name="Smith", role="user",
         organization_id=customer_id)
    done = submit(create, ".notice")
    user_id = done.find_element(By.TAG_NAME, "a").get_attribute("href").rsplit("/", 1)[1]
    # Found by search.
    search = driver.find_element(By.CSS_SELECTOR, "form[role=search]")
    fill(search, term="alice")
    search.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda d: "alice@console.example" in d.find_element(By.CSS_SELECTOR, "main table").text)
    assert XSS in main_text(), "the name shows as text"
    assert not driver.find_elements(By.CSS_SELECTOR, "main img"), "no markup from data"
    shot("users")

    # Opened, edited, disabled.
    driver.find_element(By.LINK_TEXT, "alice@console.example").click()
    heading(XSS + " Smith")
    settled()
    assert not driver.find_elements(By.CSS_SELECTOR, "main img")
    edit = form("Edit profile")
    fill(edit, last_name="Jones", title="Engineer")
    submit(edit, ".notice")
    next(b for b in driver.find_elements(By.CSS_SELECTOR, "main button") if b.text == "Disable").click()
    wait.until(EC.alert_is_present()).accept()
    heading(XSS + " Jones")
    wait.until(lambda d: "disabled" in d.find_element(By.CSS_SELECTOR, "main section").text)
    shot("user")
    browser_log()
    user = check(api.get(f"/v2/users/{user_id}", headers=as_operator), 200)["data"]["attributes"]
    assert user["first_name"] == XSS and user["last_name"] == "Jones" and user["status"] == "disabled", user

    # The audit events of all of that.
    go("#/audit", "Audit log")
    search = driver.find_element(By.CSS_SELECTOR, "form[role=search]")
    fill(search, target=f"user:{user_id}")
    search.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda d: "user.update" in d.find_element(By.CSS_SELECTOR, "main table").text)
    actions = driver.find_element(By.CSS_SELECTOR, "main table").text
    for action in ["user.create", "user.update", "account.disabled"]:
        assert action in actions, actions
    shot("audit")
    driver.find_element(By.CSS_SELECTOR, "main table a").click()
    heading("Audit event")
    browser_log()

    # Every other page loads.
    go("#/", "Overview")
    shot("overview")
    go(f"#/organizations/{customer_id}", "Acme Customer")
    form("Subscribe")
    go("#/api-clients", "API clients")
    create = form("Create an API client")
    fill(create, name="Billing")
    done = submit(create, ".notice")
    assert "shown once" in done.text
    shot("api-clients")
    go("#/outbox", "Outbox")
    assert "alice@console.example" in main_text()
    shot("outbox")
    driver.set_window_size(390, 844)
    go("#/users", "Users")
    shot("users-phone")
    driver.set_window_size(1280, 900)
    browser_log()

    # ---- another site tries the operator's cookie ----
    before = check(api.get("/v2/organizations", headers=as_operator), 200)["meta"]["total_count"]
    evil_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "console_evil")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=evil_dir, **k)

        def log_message(self, *a):
            pass

    evil = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    evil_port = evil.server_address[1]
    driver.get(f"http://127.0.0.1:{evil_port}/attack.html#{site}")
    wait.until(lambda d: d.execute_script("return window.attackDone === true"))
    time.sleep(1)
    browser_log(allow_4xx=True)
    evil.shutdown()
    after = check(api.get("/v2/organizations", headers=as_operator), 200)["meta"]["total_count"]
    assert after == before, f"a cross-site request created something: {before} -> {after}"
    names = [o["attributes"]["name"] for o in check(api.get("/v2/organizations?per_page=100",
                                                            headers=as_operator), 200)["data"]]
    assert "Evil Corp" not in names, names

    driver.get(f"{site}/console/")
    heading("Overview")
    sign_out()
    assert check(api.get("/console/session"), 200) == {"signed_in": False}
    browser_log()

    # ---- a plain user is refused ----
    check(api.post("/admin/accounts", headers=as_operator, json={
        "email": PLAIN_USER[0], "password": PLAIN_USER[1], "role": "user", "organization_id": customer_id}), 201)
    sign_in(*PLAIN_USER)
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "main .error"),
                                                "the console is for operators and reseller administrators"))
    assert not driver.find_elements(By.CSS_SELECTOR, "#nav:not([hidden])")
    browser_log(allow_4xx=True)

    # ---- a reseller admin with a second factor sees its subtree ----
    check(api.post("/admin/resellers", headers=as_operator, json={"name": "South Reseller", "code": "SOUTH"}), 201)
    north_id = check(api.post("/admin/accounts", headers=as_operator, json={
        "email": RESELLER_ADMIN[0], "password": RESELLER_ADMIN[1], "role": "reseller_admin",
        "organization_id": reseller_id}), 201)["id"]
    token = check(api.post("/auth/sign_in", headers={"x-api-key": app_key},
                           json={"username": RESELLER_ADMIN[0], "password": RESELLER_ADMIN[1]}), 200)["token"]
    as_reseller = {"Authorization": f"Bearer {token}"}
    secret = check(api.put("/v2/user/enable_2fa", headers=as_reseller,
                           json={"password": RESELLER_ADMIN[1]}), 200)["secret"]
    check(api.put("/v2/user/verify_2fa_installation", headers=as_reseller,
                  json={"otp_attempt": totp(secret)}), 200)
    # The code just spent cannot sign in: wait for the next one.
    time.sleep(30 - time.time() % 30 + 1)
    sign_in(*RESELLER_ADMIN)
    wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "form[aria-label='Second factor']")))
    shot("second-factor")
    fill(form("Second factor"), otp_attempt=totp(secret))
    form("Second factor").find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    heading("Overview")
    settled()
    go("#/organizations", "Resellers and customers")
    listed = driver.find_element(By.CSS_SELECTOR, "main .table-wrap").text
    assert "North Reseller" in listed and "Acme Customer" in listed, listed
    assert "South Reseller" not in listed, listed
    browser_log()
    sign_out()
    browser_log()

    # ---- the phone is lost: the operator resets the second factor ----
    sign_in(*OPERATOR)
    heading("Overview")
    go(f"#/users/{north_id}", "")
    reset = form("Reset the second factor")
    fill(reset, password=OPERATOR[1])
    submit(reset, ".notice")
    browser_log()
    assert not check(api.get(f"/admin/accounts/{north_id}", headers=as_operator), 200)["two_factor"]
    sign_out()
    sign_in(*RESELLER_ADMIN)
    heading("Overview")
    sign_out()
    browser_log()
    print("console in chromium: ok")
except (AssertionError, TimeoutException):
    if shots:
        driver.save_screenshot(os.path.join(shots, "failure.png"))
    print("page at failure:", driver.current_url, file=sys.stderr)
    print(driver.find_element(By.TAG_NAME, "body").text[:3000], file=sys.stderr)
    raise
finally:
    driver.quit()
