/**
 * Live updates: one EventSource on /v1/events per page. A `change` makes the page refetch its view (one refetch at a
 * time; changes during a refetch are merged into one more). The status line in the header says whether the data is
 * live, stale (no event for longer than the server's heartbeat allows) or the server is unreachable (EventSource
 * retries by itself), and when the page last updated. A hidden tab closes its stream and reopens it (and refetches)
 * when shown again: over HTTP/1.1 a browser opens at most 6 connections to one host, and background tabs holding
 * streams would starve the one in front.
 */
type State = 'connecting' | 'live' | 'stale' | 'unreachable' | 'degraded' | 'paused';

export class Live {
  private source: EventSource | undefined;
  private lastEvent = Date.now();
  private heartbeatMs = 10_000;
  private refreshing = false;
  private again = false;
  private updated: Date | undefined;
  private state: State = 'connecting';
  private watchdog: number | undefined;
  private message = '';
  private connectedOnce = false;

  constructor(private readonly el: HTMLElement, private readonly refresh: () => Promise<void>) {}

  start(): void {
    this.open();
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'hidden') {
        this.source?.close();
        this.source = undefined;
        this.set('paused');
      } else if (!this.source) this.open();
    });
    this.watchdog = window.setInterval(() => {
      if (this.state === 'live' && Date.now() - this.lastEvent > this.heartbeatMs * 2.5) this.set('stale');
      this.render();
    }, 1000);
  }

  private open(): void {
    const es = new EventSource('/v1/events');
    this.source = es;
    const seen = (): void => {
      this.lastEvent = Date.now();
      if (this.state === 'stale' || this.state === 'unreachable' || this.state === 'connecting' || this.state === 'paused') this.set('live');
    };
    es.addEventListener('hello', (e) => {
      const data = JSON.parse((e as MessageEvent<string>).data) as { heartbeat_ms: number; ok: boolean };
      this.heartbeatMs = data.heartbeat_ms;
      seen();
      if (!data.ok) this.set('degraded', 'the data source cannot answer');
      // A reconnect may have missed changes: refetch (the first connection follows the page's own first load).
      if (this.connectedOnce) void this.run();
      this.connectedOnce = true;
    });
    es.addEventListener('change', () => {
      seen();
      void this.run();
    });
    es.addEventListener('ping', seen);
    es.addEventListener('status', (e) => {
      seen();
      const data = JSON.parse((e as MessageEvent<string>).data) as { ok: boolean; message?: string };
      if (data.ok) {
        this.set('live');
        void this.run();
      } else this.set('degraded', data.message ?? '');
    });
    es.addEventListener('error', () => {
      if (es.readyState !== EventSource.OPEN && this.source === es) this.set('unreachable');
    });
  }

  stop(): void {
    this.source?.close();
    if (this.watchdog !== undefined) window.clearInterval(this.watchdog);
  }

  /** Refetches now (also called by the page after its first load). */
  async run(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return;
    }
    this.refreshing = true;
    try {
      do {
        this.again = false;
        await this.refresh();
        this.updated = new Date();
      } while (this.again);
    } catch (err) {
      this.set(this.state === 'live' ? 'degraded' : this.state, err instanceof Error ? err.message : String(err));
    } finally {
      this.refreshing = false;
      this.render();
    }
  }

  private set(state: State, message = ''): void {
    this.state = state;
    this.message = message;
    this.render();
  }

  private render(): void {
    // Text changes only with the state or the data (the element is a polite live region).
    const at = this.updated ? this.updated.toISOString().slice(11, 19) : '—';
    const heard = new Date(this.lastEvent).toISOString().slice(11, 19);
    const text: Record<State, string> = {
      connecting: 'Connecting…',
      live: `Live · updated ${at} UTC`,
      stale: `Stale · nothing from the server since ${heard} UTC · data from ${at} UTC`,
      unreachable: `Server unreachable · retrying · data from ${at} UTC`,
      degraded: `Data source unavailable · ${this.message} · data from ${at} UTC`,
      paused: `Paused while this tab is hidden · data from ${at} UTC`,
    };
    this.el.dataset.state = this.state;
    if (this.el.textContent !== text[this.state]) this.el.textContent = text[this.state];
  }
}
