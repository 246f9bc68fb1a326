/**
 * Streaming Content-Encoding decoder (gzip, deflate in zlib or raw form, br, identity, and chains like `gzip, br`).
 *
 * Design: node's zlib has no public synchronous *streaming* API (the `*Sync` helpers are one-shot and stateless, so
 * decoding chunk by chunk with them would mean re-inflating from the start: quadratic). So compressed bodies go
 * through zlib's streaming Transforms: `write(chunk)` returns at once, zlib inflates on the libuv threadpool and the
 * decoded bytes reach `onData` asynchronously, in order. `end()` flushes and resolves once every decoded byte has been
 * delivered, which takes about one threadpool round trip after the last chunk. Identity bodies are delivered
 * synchronously inside `write`.
 *
 * Safety: decoded output is capped (`maxDecodedBytes`, per stage): past the cap the decoder delivers the bytes up to
 * the cap, destroys the inflater (no more CPU is spent on a decompression bomb) and reports `decode_too_large`.
 * Nothing here throws or rejects: failures are reported as a label-safe problem.
 */
import zlib from 'node:zlib';
import type { Transform } from 'node:stream';

export type DecodeProblem = 'decode_failed' | 'decode_too_large' | 'encoding_unsupported' | 'truncated';

export interface BodyDecoderOptions {
  /** The Content-Encoding header value; undefined, '' and 'identity' mean no encoding. */
  encoding?: string;
  /** Cap on decompressed bytes (applies to compressed encodings; identity bodies are passed through). */
  maxDecodedBytes: number;
  /** Receives decoded bytes, in order. Exceptions it throws are swallowed. */
  onData: (chunk: Buffer) => void;
}

export interface DecodeResult {
  /** Set when decoding stopped early or could not start. */
  problem?: DecodeProblem;
  encodedBytes: number;
  decodedBytes: number;
}

export interface BodyDecoder {
  /** Never throws; chunks after end() or after a failure are ignored. */
  write(chunk: Buffer): void;
  /** Resolves when all decoded bytes have been delivered; never rejects. */
  end(): Promise<DecodeResult>;
  /** true when decoded bytes are delivered synchronously from write() (identity). */
  readonly synchronous: boolean;
}

type Coding = 'gzip' | 'deflate' | 'br';

/** Parses a Content-Encoding value into the codings applied, in order; undefined when one is unsupported. */
export function parseContentEncoding(value: string | undefined): Coding[] | undefined {
  const codings: Coding[] = [];
  if (value === undefined) return codings;
  for (const raw of value.split(',')) {
    const c = raw.trim().toLowerCase();
    if (c === '' || c === 'identity') continue;
    if (c === 'gzip' || c === 'x-gzip') codings.push('gzip');
    else if (c === 'deflate') codings.push('deflate');
    else if (c === 'br') codings.push('br');
    else return undefined;
  }
  return codings;
}

interface Stage {
  write(chunk: Buffer): void;
  end(): Promise<void>;
}

interface Shared {
  problem?: DecodeProblem;
  decodedBytes: number;
}

function safeCall(fn: (chunk: Buffer) => void, chunk: Buffer): void {
  try {
    fn(chunk);
  } catch {
    // the consumer's failure is not the decoder's
  }
}

function looksLikeZlibHeader(b0: number, b1: number): boolean {
  return (b0 & 0x0f) === 8 && (b0 >> 4) <= 7 && ((b0 << 8) | b1) % 31 === 0;
}

const ZLIB_CHUNK = 64 * 1024;

/** One inflater. For `deflate` the zlib-or-raw choice waits for the first two bytes. */
class ZlibStage implements Stage {
  private stream: Transform | undefined;
  private pending: Buffer | undefined;
  private emitted = 0;
  private stopped = false;
  private done: Promise<void> | undefined;

  constructor(
    private readonly coding: Coding,
    private readonly cap: number,
    private readonly shared: Shared,
    private readonly sink: (chunk: Buffer) => void,
  ) {}

  write(chunk: Buffer): void {
    if (this.stopped || chunk.length === 0) return;
    if (!this.stream) {
      // Opened on the first bytes (an empty body needs no inflater); deflate's form is chosen from two bytes.
      const head = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
      if (this.coding === 'deflate' && head.length < 2) {
        this.pending = head;
        return;
      }
      this.pending = undefined;
      this.open(this.createInflater(head)).write(head);
      return;
    }
    this.stream.write(chunk);
  }

  end(): Promise<void> {
    const pending = this.pending;
    if (!this.stream && pending && !this.stopped) this.open(this.createInflater(pending)).write(pending);
    if (this.stream && !this.stopped) this.stream.end();
    return this.done ?? Promise.resolve();
  }

  private createInflater(head: Buffer): Transform {
    const opts = { chunkSize: ZLIB_CHUNK };
    if (this.coding === 'gzip') return zlib.createGunzip(opts);
    if (this.coding === 'br') return zlib.createBrotliDecompress(opts);
    const zlibForm = head.length >= 2 && looksLikeZlibHeader(head[0]!, head[1]!);
    return zlibForm ? zlib.createInflate(opts) : zlib.createInflateRaw(opts);
  }

  private open(stream: Transform): Transform {
    this.stream = stream;
    this.done = new Promise<void>((resolve) => {
      stream.on('data', (chunk: Buffer) => this.onData(chunk));
      stream.once('end', () => resolve());
      stream.once('close', () => resolve());
      stream.on('error', (err: NodeJS.ErrnoException) => {
        this.stop(err.code === 'Z_BUF_ERROR' ? 'truncated' : 'decode_failed');
        resolve();
      });
    });
    return stream;
  }

  private onData(chunk: Buffer): void {
    if (this.stopped) return;
    const room = this.cap - this.emitted;
    if (chunk.length > room) {
      if (room > 0) this.deliver(chunk.subarray(0, room));
      this.stop('decode_too_large');
      return;
    }
    this.deliver(chunk);
  }

  private deliver(chunk: Buffer): void {
    this.emitted += chunk.length;
    this.sink(chunk);
  }

  private stop(problem: DecodeProblem): void {
    if (this.stopped) return;
    this.stopped = true;
    this.shared.problem ??= problem;
    this.stream?.destroy();
  }
}

class ChainDecoder implements BodyDecoder {
  readonly synchronous: boolean;
  private readonly shared: Shared = { decodedBytes: 0 };
  private readonly stages: Stage[] = [];
  private encodedBytes = 0;
  private ended: Promise<DecodeResult> | undefined;
  private readonly unsupported: boolean;
  /** Where encoded bytes go: the first inflater, or the consumer for identity. */
  private readonly first: (chunk: Buffer) => void;

  constructor(options: BodyDecoderOptions) {
    const codings = parseContentEncoding(options.encoding);
    this.unsupported = codings === undefined;
    if (codings === undefined) this.shared.problem = 'encoding_unsupported';
    this.synchronous = codings !== undefined && codings.length === 0;
    const onData = options.onData;
    // The last stage hands decoded bytes to the consumer; each earlier stage feeds the next one.
    let sink = (chunk: Buffer): void => {
      this.shared.decodedBytes += chunk.length;
      safeCall(onData, chunk);
    };
    for (const coding of codings ?? []) {
      const stage = new ZlibStage(coding, options.maxDecodedBytes, this.shared, sink);
      this.stages.unshift(stage);
      sink = (chunk: Buffer): void => stage.write(chunk);
    }
    this.first = sink;
  }

  write(chunk: Buffer): void {
    if (this.ended || this.unsupported) return;
    this.encodedBytes += chunk.length;
    try {
      this.first(chunk);
    } catch {
      this.shared.problem ??= 'decode_failed';
    }
  }

  end(): Promise<DecodeResult> {
    this.ended ??= this.finish();
    return this.ended;
  }

  private async finish(): Promise<DecodeResult> {
    try {
      // Outermost first: each stage's remaining output must reach the next stage before that one ends.
      for (const stage of this.stages) await stage.end();
    } catch {
      this.shared.problem ??= 'decode_failed';
    }
    const result: DecodeResult = { encodedBytes: this.encodedBytes, decodedBytes: this.shared.decodedBytes };
    if (this.shared.problem !== undefined) result.problem = this.shared.problem;
    return result;
  }
}

/** Creates a decoder for one body. Never throws. */
export function createBodyDecoder(options: BodyDecoderOptions): BodyDecoder {
  return new ChainDecoder(options);
}
