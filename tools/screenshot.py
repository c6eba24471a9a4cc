#!/usr/bin/env python3
# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""Headless check of the demo: log into sao and take screenshots.

Run it with the demo server up (tools/demo in another terminal):

    .venv/bin/python tools/screenshot.py --form
    .venv/bin/python tools/screenshot.py --user operator1 \
        --password operator1 --menu 'Prospectos/Próxima llamada' \
        --output var/screenshots/operator1

It logs in (admin/admin by default), opens each --menu path (by default
Prospects/Prospects, Traces, Pending Calls and Calls; the names are those
of the user's language) and, with --form, the first record of each list.

It needs Debian's chromium (installed with apt-get when missing) and the
Python package playwright (installed in the running environment when
missing; Playwright's own browser download is never used).  The pictures go
to var/screenshots/.  Exit status 1 when a step failed or the client logged
errors; the screenshot of the failing step is still written.
"""
import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
    '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync',
    ]


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


class Check:

    def __init__(self, page, outdir, timeout):
        self.page = page
        self.outdir = outdir
        self.timeout = timeout
        self.count = 0
        self.errors = []
        page.on('console', self._console)
        page.on('pageerror', lambda e: self.errors.append('page: %s' % e))
        page.on('response', self._response)

    def _console(self, msg):
        if msg.type == 'error':
            self.errors.append('console: %s' % msg.text)

    def _response(self, response):
        if response.status >= 400:
            self.errors.append('HTTP %s %s' % (response.status, response.url))

    def shot(self, name):
        self.count += 1
        path = os.path.join(self.outdir, '%02d-%s.png' % (self.count, name))
        self.page.wait_for_timeout(500)
        self.page.screenshot(path=path)
        print('  screenshot', os.path.relpath(path, ROOT))
        return path

    def idle(self):
        "Wait until sao shows no 'processing' indicator"
        self.page.wait_for_load_state('networkidle', timeout=self.timeout)
        self.page.wait_for_timeout(300)

    def login(self, database, user, password):
        page = self.page
        page.wait_for_selector('#login', state='visible', timeout=self.timeout)
        # sao asks the server for its databases: a read-only field with
        # the only one, a list of them, or a free field
        database_input = page.locator('input#database:visible')
        select = page.locator('select#database:visible')
        option = select.locator('option', has_text=database)

        def ready():
            return ((database_input.count()
                    and (database_input.is_editable()
                        or database_input.input_value()))
                or option.count())
        self._wait(ready, 'no database field')
        if database_input.count():
            if database_input.is_editable():
                database_input.fill(database)
            elif database_input.input_value() != database:
                raise ValueError('the server serves %r, not %r' % (
                        database_input.input_value(), database))
        else:
            select.select_option(database)
        page.fill('input#login', user)
        self.shot('login')
        page.locator('.login-dialog button[type=submit]').click()
        password_input = page.locator(
            '.modal-dialog input[type=password]:visible')
        password_input.wait_for(timeout=self.timeout)
        password_input.fill(password)
        password_input.press('Enter')
        page.wait_for_selector('#menu .treeview, #menu table',
            timeout=self.timeout)
        self.idle()

    def _menu_row(self, name, after=-1):
        "Return the index of the first menu row named name after the index"
        for _ in range(self.timeout // 250):
            texts = [t.strip() for t in
                self.page.locator('#menu tbody tr').all_inner_texts()]
            for index, text in enumerate(texts):
                if index > after and text == name:
                    return index
            self.page.wait_for_timeout(250)
        raise LookupError('menu entry %r not found' % name)

    def open_menu(self, path):
        "Open the menu entry path (e.g. 'Prospects/Prospects')"
        page = self.page
        rows = page.locator('#menu tbody tr')
        names = path.split('/')
        index = -1
        for i, name in enumerate(names):
            index = self._menu_row(name, index)
            row = rows.nth(index)
            if i < len(names) - 1:
                texts = [t.strip() for t in rows.all_inner_texts()]
                if names[i + 1] not in texts[index + 1:]:
                    row.locator('.expander').click()
            else:
                tab_list = page.locator('#tablist > li')
                tabs = tab_list.count()
                row.locator('.column-char').click()
                self._wait(lambda: tab_list.count() > tabs,
                    '%s did not open' % path)
        self.idle()

    def _wait(self, test, message):
        for _ in range(self.timeout // 250):
            if test():
                return
            self.page.wait_for_timeout(250)
        errors = self.real_errors()
        raise TimeoutError(message + (' (%s)' % errors[-1] if errors else ''))

    def real_errors(self):
        return [e for e in self.errors
            # sao asks for translations of English, which has none
            if '/locale/en' not in e
            # told again by the response, with its address
            and 'Failed to load resource' not in e]

    def open_first_record(self):
        page = self.page
        pane = page.locator('#tabcontent > .tab-pane.active')
        if pane.locator('.form:visible').count():
            return False  # the action opened a form
        row = pane.locator('table tbody tr').first
        row.wait_for(timeout=self.timeout)
        row.dblclick()
        self._wait(lambda: pane.locator('.form:visible').count() > 0,
            'the form did not open')
        self.idle()
        return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
        page = browser.new_page(viewport={'width': 1400, 'height': 900})
        check = Check(page, args.output, args.timeout * 1000)
        try:
            page.goto(args.url, timeout=check.timeout)
            check.login(args.database, args.user, args.password)
            check.shot('home-%s' % args.user)
            for menu in menus:
                name = menu.replace('/', '-').replace(' ', '_').lower()
                try:
                    check.open_menu(menu)
                    check.shot(name)
                    if args.form and check.open_first_record():
                        check.shot(name + '-form')
                except Exception as e:
                    failed = True
                    print('  FAILED %s: %s' % (menu, str(e).splitlines()[0]))
                    check.shot(name + '-failed')
        except Exception as e:
            failed = True
            print('  FAILED: %s' % e)
            check.shot('failed')
        finally:
            browser.close()
    errors = check.real_errors()
    for error in errors:
        print('  client error:', error)
    if failed or errors:
        return 1
    print('  OK')
    return 0


if __name__ == '__main__':
    sys.exit(main())
