/**
 * `tokenmeter count FILE|-`: the input tokens, encoding, exactness and estimated cost of a request body, as the
 * same JSON `POST /v1/count` returns (pretty-printed). `-` reads the body from stdin. Exit codes: 0 printed, 2 the
 * body or the command line could not be used (message on stderr).
 */
import { readFile } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import type { CountArgs, ExtprocConfig } from '../config/config.js';
import { estimateRequest, parseJsonBody } from '../metering/request-estimate.js';
import type { EncodingOverrides } from '../tokenize/encodings.js';

export interface CountIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}

export async function runCount(files: readonly string[], args: CountArgs, config: ExtprocConfig, io: CountIo): Promise<number> {
  const fail = (message: string): number => {
    io.stderr.write(`tokenmeter count: ${message}\n`);
    return 2;
  };
  if (files.length !== 1) return fail('expected one FILE (or - for stdin): tokenmeter count FILE|- [--endpoint NAME] [--model MODEL]');
  const file = files[0] as string;
  let raw: Buffer;
  try {
    raw = file === '-' ? await readAll(io.stdin) : await readFile(file);
  } catch (err) {
    return fail(`cannot read ${file === '-' ? 'stdin' : file}: ${(err as Error).message}`);
  }
  const parsed = parseJsonBody(raw);
  if (!parsed.ok) return fail(`${file === '-' ? 'stdin' : file}: ${parsed.message}`);
  const result = await estimateRequest({
    body: parsed.body, model: args.model, overrides: config.encodingOverrides as EncodingOverrides,
    // --endpoint takes an endpoint name or an API path (/v1/chat/completions, /v1beta/models/M:generateContent…).
    ...(args.endpoint?.startsWith('/') ? { path: args.endpoint } : { endpoint: args.endpoint }),
  });
  if (!result.ok) return fail(result.message);
  io.stdout.write(`${JSON.stringify(result.estimate, null, 2)}\n`);
  return 0;
}
