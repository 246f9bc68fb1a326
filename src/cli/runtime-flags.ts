/**
 * How the container image runs tokenmeter (Dockerfile ENV and ENTRYPOINT; test/integration/pack.test.ts keeps them in
 * step), measured by the bench ("Memory at rest") and test/integration/memory-at-rest.test.ts:
 * - `--max-semi-space-size=4` caps V8's young generation at 3 × 4 MiB. With the default (16 MiB semi-spaces on
 *   64-bit) a busy ext_proc keeps ~20–30 MiB of young-generation pages after the traffic stops; the CPU per request
 *   is unchanged within the bench's noise.
 * - `MALLOC_ARENA_MAX=2`: glibc otherwise gives each libuv worker thread its own malloc arena, ~4 MiB more at rest.
 * Outside the image, `MALLOC_ARENA_MAX=2 NODE_OPTIONS=--max-semi-space-size=4 tokenmeter extproc` does the same.
 */
export const RUNTIME_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
export const RUNTIME_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };
