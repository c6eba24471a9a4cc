# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""Headless check of the demo: log into sao and take screenshots.

Run it with the demo server up (tools/demo in another terminal):

    tools/screenshot --form
    tools/screenshot --user operator1 \
        --password operator1 --menu 'Prospectos/Próxima llamada' \
        --output var/screenshots/operator1

It logs in (admin/admin by default), opens each --menu path (by default
Prospects/Prospects, Traces, Pending Calls and Calls; the names are those
of the user's language) and, with --form, the first record of each list.

It needs Debian's chromium (installed with apt-get when missing) and the
Python package playwright (installed in .venv by tools/screenshot when
missing; Playwright's own browser download is never used).  The pictures go
to var/screenshots/browser-<user>-NN-<menu>.png.  It drives sao with the
Client of walkthrough.py, beside it.  Exit status 1 when a step failed
or the client logged errors; the screenshot of the failing step is still
written.
"""
import argparse
import os
import subprocess
import sys

from walkthrough import CHROMIUM, CHROMIUM_ARGS, ROOT, Client


def ensure_chromium():
    if os.path.exists(CHROMIUM):
        return
    if os.geteuid() != 0:
        sys.exit('%s missing: apt-get install chromium' % CHROMIUM)
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    subprocess.run(['apt-get', 'update', '-qq'], check=True, env=env)
    subprocess.run(['apt-get', 'install', '-y', '-qq', 'chromium'],
        check=True, env=env)


def ensure_playwright():
    try:
        import playwright  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, '-m', 'pip', 'install', '-q',
                'playwright'], check=True)


def open_first_record(client):
    "Open the first record of the list of the current tab, if it is one"
    pane = client.pane
    if pane.locator('.form:visible').count():
        return False  # the action opened a form
    row = pane.locator('table tbody tr').first
    row.wait_for()
    row.dblclick()
    client.wait(lambda: pane.locator('.form:visible').count() > 0,
        'the form did not open')
    client.idle()
    return True


def main():
    parser = argparse.ArgumentParser(prog='screenshot',
        description=__doc__.splitlines()[0])
    parser.add_argument('--url', default='http://localhost:8000/')
    parser.add_argument('--database', '-d', default='demo')
    parser.add_argument('--user', default='admin')
    parser.add_argument('--password', default='admin')
    parser.add_argument('--menu', action='append', default=[],
        help="menu path to open, e.g. 'Prospects/Prospects' (repeatable)")
    parser.add_argument('--form', action='store_true',
        help="also open the first record of each list")
    parser.add_argument('--output', default=os.path.join(
            ROOT, 'var', 'screenshots'))
    parser.add_argument('--timeout', type=int, default=30,
        help="seconds to wait for each step")
    args = parser.parse_args()
    menus = args.menu or [
        'Prospects/Prospects', 'Prospects/Traces', 'Prospects/Pending Calls',
        'Prospects/Calls']

    ensure_chromium()
    ensure_playwright()
    from playwright.sync_api import sync_playwright

    os.makedirs(args.output, exist_ok=True)
    failed = False
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
            args=CHROMIUM_ARGS, headless=True)
        client = Client(browser, args.url, args.database, args.user,
            args.output, args.timeout * 1000)
        try:
            client.login(args.user, args.password)
            client.shot('home')
            for menu in menus:
                name = menu.replace('/', '-').replace(' ', '_').lower()
                try:
                    client.open_menu_path(menu.split('/'))
                    client.shot(name)
                    if args.form and open_first_record(client):
                        client.shot(name + '-form')
                except Exception as e:
                    failed = True
                    print('  FAILED %s: %s' % (menu, str(e).splitlines()[0]))
                    client.shot(name + '-failed')
        except Exception as e:
            failed = True
            print('  FAILED: %s' % e)
            client.shot('failed')
        finally:
            browser.close()
    errors = client.real_errors()
    for error in errors:
        print('  client error:', error)
    if failed or errors:
        return 1
    print('  OK')
    return 0
