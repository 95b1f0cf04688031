/**
 * A real browser for the UI suite: Debian's Chromium driven by playwright-core
 * (the browser cannot be downloaded here, so none of Playwright's own builds).
 * The suite skips when Chromium is missing, unless BATON_REQUIRE_BROWSER=1 (CI),
 * where a missing browser is a failure rather than a silent skip.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';

export const CHROMIUM = process.env.BATON_CHROMIUM ?? '/usr/bin/chromium';
export const browserRequired = process.env.BATON_REQUIRE_BROWSER === '1';

/** true when the browser suite should run; throws when it must run but cannot */
export function browserSuiteEnabled(): boolean {
  const ok = existsSync(CHROMIUM);
  if (!ok && browserRequired) throw new Error(`BATON_REQUIRE_BROWSER=1 but there is no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  return ok;
}

/** the base64 sha256 of a certificate's public key (SPKI), as Chromium's --ignore-certificate-errors-spki-list takes it */
export function spkiHash(certPem: string): string {
  return createHash('sha256')
    .update(new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64');
}

/**
 * With the server's certificate, the browser accepts exactly that server key
 * (pinned, as an operator who imported ca.pem would trust it), not every
 * certificate error.
 */
export async function launchBrowser(serverCertPem?: string): Promise<Browser> {
  // --no-sandbox: CI runs as root in a container, where Chromium's sandbox cannot start
  const args = ['--no-sandbox', '--disable-dev-shm-usage'];
  if (serverCertPem) args.push(`--ignore-certificate-errors-spki-list=${spkiHash(serverCertPem)}`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

/**
 * Where page screenshots go: docs/screenshots (committed, shown by the README)
 * when BATON_SCREENSHOTS=1 (`npm run screenshots`), else a temp dir so an
 * ordinary test run leaves the working tree clean.
 */
export async function screenshotDir(): Promise<string> {
  const dir = process.env.BATON_SCREENSHOTS === '1' ? resolve(import.meta.dirname, '../../docs/screenshots') : join(tmpdir(), 'baton-ui-screenshots');
  await mkdir(dir, { recursive: true });
  return dir;
}

/**
 * The whole page, or with `fullPage: false` what the window shows (a page of
 * 100 rows is too tall for a picture), or with `element` just that part of it.
 */
export async function screenshot(page: Page, name: string, opts: { fullPage?: boolean; element?: Locator } = {}): Promise<void> {
  // bars animate their width unless motion is reduced: the picture must show final values
  await page.emulateMedia({ reducedMotion: 'reduce' });
  const path = join(await screenshotDir(), `${name}.png`);
  if (opts.element) await opts.element.screenshot({ path });
  else await page.screenshot({ path, fullPage: opts.fullPage ?? true });
}
