/**
 * Incremental parser for a stream of JSON objects at the top level of one JSON array, as Gemini's
 * `streamGenerateContent` (without `alt=sse`) sends: `[{...}\n,\r\n{...}]`. Each top-level object is parsed as soon
 * as its closing brace arrives. A bare top-level object (an error body) is yielded the same way.
 *
 * Tolerant: bytes between objects other than whitespace, `[`, `,` and `]` are skipped and counted. Bounded: an object
 * larger than `maxObjectBytes` is skipped (not stored) and counted. Each byte is scanned once; an object's slices are
 * joined once, when it completes.
 */
import { isUtf8 } from 'node:buffer';

export interface JsonArrayStreamOptions {
  /** Largest object kept, in bytes (default 8 MiB). */
  maxObjectBytes?: number;
}

export interface JsonArrayStreamStats {
  objects: number;
  /** Objects whose text was not valid JSON. */
  invalidObjects: number;
  /** Objects skipped for exceeding maxObjectBytes. */
  droppedObjects: number;
  /** Non-structural bytes found between top-level objects. */
  garbageBytes: number;
  invalidUtf8Objects: number;
  /** true when end() found an object still open. */
  unterminated: boolean;
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const DEFAULT_MAX_OBJECT = 8 << 20;

function isTopLevelFiller(b: number): boolean {
  // whitespace, array punctuation, and a UTF-8 BOM's bytes
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09 || b === OPEN_BRACKET || b === CLOSE_BRACKET
    || b === 0x2c || b === 0xef || b === 0xbb || b === 0xbf;
}

export class JsonArrayStream {
  readonly stats: JsonArrayStreamStats = {
    objects: 0, invalidObjects: 0, droppedObjects: 0, garbageBytes: 0, invalidUtf8Objects: 0, unterminated: false,
  };
  private readonly maxObject: number;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private parts: Buffer[] = [];
  private partLen = 0;
  private dropping = false;

  constructor(options: JsonArrayStreamOptions = {}) {
    this.maxObject = options.maxObjectBytes ?? DEFAULT_MAX_OBJECT;
  }

  /** Feeds bytes; returns the values of the top-level objects they complete. */
  feed(chunk: Uint8Array): unknown[] {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const out: unknown[] = [];
    const len = buf.length;
    let i = 0;
    let start = -1; // start of the current object's bytes within this chunk
    if (this.depth > 0) start = 0;
    while (i < len) {
      if (this.depth === 0) {
        const b = buf[i]!;
        if (b === OPEN_BRACE) {
          this.depth = 1;
          start = i;
        } else if (!isTopLevelFiller(b)) this.stats.garbageBytes++;
        i++;
        continue;
      }
      i = this.scanObject(buf, i);
      if (this.depth === 0) {
        this.keep(buf, start, i);
        this.complete(out);
        start = -1;
      }
    }
    if (this.depth > 0 && start >= 0) this.keep(buf, start, len);
    return out;
  }

  /** Ends the stream; an object left open is discarded. */
  end(): void {
    if (this.depth > 0) this.stats.unterminated = true;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.parts = [];
    this.partLen = 0;
    this.dropping = false;
  }

  /** Scans inside an object from i; returns the index after the closing brace, or len. */
  private scanObject(buf: Buffer, from: number): number {
    const len = buf.length;
    let i = from;
    let depth = this.depth;
    let inString = this.inString;
    let escaped = this.escaped;
    for (; i < len; i++) {
      const b = buf[i]!;
      if (inString) {
        if (escaped) escaped = false;
        else if (b === BACKSLASH) escaped = true;
        else if (b === QUOTE) inString = false;
      } else if (b === QUOTE) inString = true;
      else if (b === OPEN_BRACE || b === OPEN_BRACKET) depth++;
      else if ((b === CLOSE_BRACE || b === CLOSE_BRACKET) && --depth === 0) {
        i++;
        break;
      }
    }
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    return i;
  }

  private keep(buf: Buffer, start: number, end: number): void {
    if (this.dropping || end <= start) return;
    if (this.partLen + (end - start) > this.maxObject) {
      this.dropping = true;
      this.parts = [];
      this.partLen = 0;
      return;
    }
    this.parts.push(buf.subarray(start, end));
    this.partLen += end - start;
  }

  private complete(out: unknown[]): void {
    if (this.dropping) {
      this.dropping = false;
      this.stats.droppedObjects++;
      return;
    }
    const bytes = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.partLen);
    this.parts = [];
    this.partLen = 0;
    if (!isUtf8(bytes)) this.stats.invalidUtf8Objects++;
    try {
      out.push(JSON.parse(bytes.toString('utf8')) as unknown);
      this.stats.objects++;
    } catch {
      this.stats.invalidObjects++;
    }
  }
}
