/**
 * The console's front end: picks the page from the URL (/console/, /console/policy, /console/subject), draws it from
 * the admin API's JSON and redraws it when the live feed says the data changed.
 */
import { ApiError } from './api.js';
import { h, fill } from './dom.js';
import { Live } from './live.js';
import { renderOverview } from './overview.js';
import { PolicyPage } from './policy.js';
import { SubjectPage } from './subject.js';

function start(): void {
  const main = document.getElementById('main') as HTMLElement;
  const status = document.getElementById('live') as HTMLElement;
  const path = location.pathname.replace(/\/+$/, '');
  let draw: () => Promise<void>;
  if (path === '/console/policy') {
    const page = new PolicyPage(main);
    draw = () => page.render();
  } else if (path === '/console/subject') {
    const page = new SubjectPage(main);
    draw = () => page.render();
  } else {
    draw = () => renderOverview(main);
  }
  const live = new Live(status, async () => {
    try {
      await draw();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return;
      if (main.querySelector('h1')) throw err;
      fill(main, h('h1', {}, 'Cannot show this page'), h('p', { class: 'message', role: 'alert' }, err instanceof Error ? err.message : String(err)));
    }
  });
  live.start();
  void live.run();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
