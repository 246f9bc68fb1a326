/** Fetches `url` until the server answers (a process that is still starting refuses connections). */
export async function waitForHttp(url: string, ms = 10_000): Promise<Response> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await fetch(url);
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
