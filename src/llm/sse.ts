/**
 * Incremental server-sent-events parser (WHATWG "event stream interpretation") over raw bytes.
 *
 * Bytes may be split anywhere: inside a UTF-8 sequence, between `\r` and `\n`. Each byte is scanned once; a partial
 * line is kept as a list of slices and joined once when its terminator arrives, so a big event delivered in many small
 * chunks costs linear time. Memory is bounded: a line longer than `maxLineBytes` is dropped (and counted) instead of
 * accumulated, and an event whose data grows past `maxEventBytes` is dropped (and counted).
 */
import { isUtf8 } from 'node:buffer';

export interface SseEvent {
  /** The `event:` field, when the event named one. */
  event?: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
}

export interface SseParserOptions {
  /** Longest line kept, in bytes (default 1 MiB). */
  maxLineBytes?: number;
  /** Largest event data kept, in bytes of UTF-16 code units (default 4 MiB). */
  maxEventBytes?: number;
}

export interface SseStats {
  events: number;
  droppedLines: number;
  droppedEvents: number;
  /** Lines that were not valid UTF-8 (decoded with U+FFFD replacements). */
  invalidUtf8Lines: number;
  /** true when end() found an unterminated line or an event without its closing blank line. */
  unterminated: boolean;
}

const LF = 0x0a;
const CR = 0x0d;
const DEFAULT_MAX_LINE = 1 << 20;
const DEFAULT_MAX_EVENT = 4 << 20;

export class SseParser {
  readonly stats: SseStats = { events: 0, droppedLines: 0, droppedEvents: 0, invalidUtf8Lines: 0, unterminated: false };
  private readonly maxLine: number;
  private readonly maxEvent: number;
  /** Slices of the line being read. */
  private parts: Buffer[] = [];
  private partLen = 0;
  /** The current line is over the cap: skip to its end. */
  private discarding = false;
  /** The previous chunk ended with `\r`: a leading `\n` in the next chunk belongs to it. */
  private afterCR = false;
  private firstLine = true;
  private eventName: string | undefined;
  private data: string[] = [];
  private dataLen = 0;
  private eventDropped = false;
  private out: SseEvent[] = [];

  constructor(options: SseParserOptions = {}) {
    this.maxLine = options.maxLineBytes ?? DEFAULT_MAX_LINE;
    this.maxEvent = options.maxEventBytes ?? DEFAULT_MAX_EVENT;
  }

  /** Feeds bytes; returns the events completed by them. */
  feed(chunk: Uint8Array): SseEvent[] {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let pos = 0;
    const len = buf.length;
    if (this.afterCR && len > 0) {
      this.afterCR = false;
      if (buf[0] === LF) pos = 1;
    }
    let nextLF = -2;
    let nextCR = -2;
    while (pos < len) {
      if (nextLF !== -1 && nextLF < pos) nextLF = buf.indexOf(LF, pos);
      if (nextCR !== -1 && nextCR < pos) nextCR = buf.indexOf(CR, pos);
      let eol: number;
      if (nextLF === -1) eol = nextCR;
      else if (nextCR === -1) eol = nextLF;
      else eol = Math.min(nextLF, nextCR);
      if (eol === -1) {
        this.append(buf, pos, len);
        break;
      }
      if (this.partLen === 0 && !this.discarding) this.wholeLine(buf, pos, eol);
      else {
        this.append(buf, pos, eol);
        this.finishLine();
      }
      if (buf[eol] === CR) {
        if (eol + 1 === len) this.afterCR = true;
        else if (buf[eol + 1] === LF) {
          pos = eol + 2;
          continue;
        }
      }
      pos = eol + 1;
    }
    return this.drain();
  }

  /** Ends the stream: a last unterminated line is taken as a line, and a pending event is dispatched. */
  end(): SseEvent[] {
    if (this.partLen > 0 || this.discarding) {
      this.stats.unterminated = true;
      this.finishLine();
    }
    if (this.data.length > 0 || this.eventDropped) {
      this.stats.unterminated = true;
      this.dispatch();
    }
    this.afterCR = false;
    return this.drain();
  }

  private drain(): SseEvent[] {
    if (this.out.length === 0) return [];
    const events = this.out;
    this.out = [];
    return events;
  }

  private append(buf: Buffer, start: number, end: number): void {
    if (end <= start || this.discarding) return;
    if (this.partLen + (end - start) > this.maxLine) {
      this.discarding = true;
      this.parts = [];
      this.partLen = 0;
      return;
    }
    this.parts.push(buf.subarray(start, end));
    this.partLen += end - start;
  }

  /** A line lying whole inside one chunk (the common case): decoded straight from it, no copy. */
  private wholeLine(buf: Buffer, start: number, end: number): void {
    if (end - start > this.maxLine) {
      this.dropLine();
      return;
    }
    this.processDecoded(start === end ? '' : this.decode(buf, start, end));
  }

  private finishLine(): void {
    if (this.discarding) {
      this.discarding = false;
      this.dropLine();
      return;
    }
    const bytes = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.partLen);
    this.parts = [];
    this.partLen = 0;
    this.processDecoded(this.decode(bytes, 0, bytes.length));
  }

  private dropLine(): void {
    this.stats.droppedLines++;
    // A dropped data line would corrupt its event: drop the event too.
    this.eventDropped = true;
  }

  private decode(buf: Buffer, start: number, end: number): string {
    const line = buf.toString('utf8', start, end);
    // Invalid bytes decode to U+FFFD; only then is the (rarer) exact check worth its cost.
    if (line.includes('\ufffd') && !isUtf8(buf.subarray(start, end))) this.stats.invalidUtf8Lines++;
    return line;
  }

  private processDecoded(decoded: string): void {
    let line = decoded;
    if (this.firstLine) {
      this.firstLine = false;
      if (line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    }
    this.processLine(line);
  }

  private processLine(line: string): void {
    if (line.length === 0) {
      this.dispatch();
      return;
    }
    const colon = line.indexOf(':');
    if (colon === 0) return; // comment
    const field = colon < 0 ? line : colon === 4 && line.startsWith('data') ? 'data' : line.slice(0, colon);
    const valueStart = colon < 0 ? line.length : line.charCodeAt(colon + 1) === 0x20 ? colon + 2 : colon + 1;
    const value = line.slice(valueStart);
    if (field === 'data') {
      if (this.eventDropped) return;
      this.dataLen += value.length + 1;
      if (this.dataLen > this.maxEvent) {
        this.eventDropped = true;
        this.data = [];
        this.dataLen = 0;
        return;
      }
      this.data.push(value);
    } else if (field === 'event') {
      this.eventName = value;
    }
    // `id`, `retry` and unknown fields carry nothing for metering.
  }

  private dispatch(): void {
    if (this.eventDropped) this.stats.droppedEvents++;
    else if (this.data.length > 0) {
      const ev: SseEvent = { data: this.data.length === 1 ? this.data[0]! : this.data.join('\n') };
      if (this.eventName !== undefined && this.eventName !== '') ev.event = this.eventName;
      this.out.push(ev);
      this.stats.events++;
    }
    this.eventName = undefined;
    this.data = [];
    this.dataLen = 0;
    this.eventDropped = false;
  }
}
