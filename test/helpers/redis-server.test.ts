/**
 * The Redis test helper (also used by `npm run bench`) on a machine without redis-server: starting it rejects with a
 * clear error instead of crashing the process with an unhandled `spawn ENOENT` 'error' event.
 */
import { describe, expect, it } from 'vitest';
import { startRedisServer } from './redis-server.js';

describe('startRedisServer without the binary', () => {
  it('rejects with the spawn error, and the process lives on', async () => {
    await expect(startRedisServer({ binary: '/nonexistent/redis-server' })).rejects.toThrow(/could not be started: spawn \/nonexistent\/redis-server ENOENT/);
    await new Promise((r) => setTimeout(r, 50)); // an unhandled 'error' event would have failed the run by now
  });
});
