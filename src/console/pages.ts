/**
 * The console's two HTML documents: the page shell every console URL serves (the front end draws into <main>), and the
 * sign-in page (a plain form: it works without JavaScript). No inline script or style: the CSP forbids both.
 */

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

function head(title: string, withScript: boolean): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${escapeHtml(title)} · budgets</title>
<link rel="icon" href="/console/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/console/assets/console.css">
${withScript ? '<script type="module" src="/console/assets/console.js"></script>\n' : ''}</head>`;
}

const BRAND = '<a class="brand" href="/console/">tokenmeter <span>budgets</span></a>';

/** The shell of every console page; `via` and `user` say how this browser got in (shown in the header). */
export function pageHtml(o: { title: string; via: 'open' | 'token' | 'cookie' | 'proxy'; user?: string }): string {
  const who = o.via === 'proxy' ? `Signed in as ${o.user ?? ''}` : o.via === 'open' ? 'No sign-in configured' : 'Signed in with the admin token';
  const signOut = o.via === 'cookie' ? '<form method="post" action="/console/sign-out" class="sign-out"><button type="submit">Sign out</button></form>' : '';
  return `${head(o.title, true)}
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
${BRAND}
<nav aria-label="Console"><a href="/console/">Overview</a></nav>
<div class="session"><span class="who">${escapeHtml(who)}</span>${signOut}</div>
<p class="live" id="live" role="status" aria-live="polite" data-state="connecting">Connecting…</p>
</header>
<main id="main" tabindex="-1"><noscript><p>The console needs JavaScript. The same data is on the admin API: GET /v1/spend, /v1/subjects, /v1/subject.</p></noscript><p class="loading">Loading…</p></main>
</body>
</html>
`;
}

/** The sign-in page: a form for the admin token (when one is configured), or a message. */
export function signInHtml(o: { title: string; next: string; form: boolean; message?: string }): string {
  const message = o.message ? `<p class="message" role="alert">${escapeHtml(o.message)}</p>` : '';
  const form = o.form ? `<form method="post" action="/console/sign-in" class="sign-in">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="${escapeHtml(o.next)}">
<button type="submit">Sign in</button>
<p class="hint">The token is the ext_proc's <code>--admin-token</code>. This browser keeps you signed in until it closes.</p>
</form>` : '';
  return `${head(o.title, false)}
<body>
<header class="top">${BRAND}</header>
<main id="main" class="narrow">
<h1>Sign in</h1>
${message}
${form}
</main>
</body>
</html>
`;
}
