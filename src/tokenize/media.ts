/**
 * Token estimates for images and audio. Providers bill media by published formulas over pixel dimensions; when the
 * image is inline (base64 / data: URL) its dimensions are read from the PNG/JPEG/GIF/WebP header, otherwise
 * (remote URL, file id) a documented default size is assumed.
 */

export interface ImageSize {
  width: number;
  height: number;
}

/** Assumed when dimensions are unknown (remote URL / file id / unreadable header). */
export const DEFAULT_IMAGE_SIZE: ImageSize = { width: 1024, height: 1024 };

/** Base64 (optionally a data: URL) → decoded header bytes (first ~96 KB, enough for JPEG SOF after EXIF). */
function headerBytes(data: string): Buffer {
  const comma = data.startsWith('data:') ? data.indexOf(',') : -1;
  const b64 = data.slice(comma + 1, comma + 1 + 131072);
  return Buffer.from(b64.replace(/[-_]/g, (c) => (c === '-' ? '+' : '/')), 'base64');
}

function jpegSize(b: Buffer): ImageSize | undefined {
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1] ?? 0;
    const len = b.readUInt16BE(i + 2);
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
    i += 2 + len;
  }
  return undefined;
}

function webpSize(b: Buffer): ImageSize | undefined {
  const kind = b.toString('latin1', 12, 16);
  if (kind === 'VP8X' && b.length >= 30) return { width: 1 + b.readUIntLE(24, 3), height: 1 + b.readUIntLE(27, 3) };
  if (kind === 'VP8 ' && b.length >= 30) return { width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff };
  if (kind === 'VP8L' && b.length >= 25) {
    const bits = b.readUInt32LE(21);
    return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >> 14) & 0x3fff) };
  }
  return undefined;
}

/** Pixel size of an inline image, or undefined when the bytes are not a recognised PNG/JPEG/GIF/WebP header. */
export function sniffImageSize(base64OrDataUrl: string): ImageSize | undefined {
  try {
    const b = headerBytes(base64OrDataUrl);
    if (b.length >= 24 && b.readUInt32BE(0) === 0x89504e47) return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
    if (b.length >= 10 && b.toString('latin1', 0, 3) === 'GIF') return { width: b.readUInt16LE(6), height: b.readUInt16LE(8) };
    if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) return jpegSize(b);
    if (b.length >= 16 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') return webpSize(b);
  } catch {
    return undefined;
  }
  return undefined;
}

interface TileRates {
  base: number;
  tile: number;
}

/** OpenAI vision pricing: base + per-512px-tile tokens by model family (platform.openai.com "Images and vision"). */
function tileRates(model: string): TileRates | undefined {
  if (/^gpt-4o-mini/.test(model)) return { base: 2833, tile: 5667 };
  if (/^(gpt-5-mini|gpt-5-nano|gpt-4\.1-mini|gpt-4\.1-nano|o4-mini)/.test(model)) return undefined; // patch-based
  if (/^gpt-5/.test(model)) return { base: 70, tile: 140 };
  if (/^(o1|o3)/.test(model)) return { base: 75, tile: 150 };
  if (/^computer-use/.test(model)) return { base: 65, tile: 129 };
  return { base: 85, tile: 170 };
}

function patchMultiplier(model: string): number {
  if (/^(gpt-5-nano|gpt-4\.1-nano)/.test(model)) return 2.46;
  if (/^o4-mini/.test(model)) return 1.72;
  return 1.62;
}

/**
 * OpenAI image input tokens. Tile models: fit in 2048×2048, scale the short side to 768, count 512 px tiles
 * (detail low: base only). Patch models (gpt-4.1-mini/nano, gpt-5-mini/nano, o4-mini): 32 px patches capped at
 * 1536, times the model's multiplier. `detail` auto is treated as high. `model` must be normalised.
 */
export function openAiImageTokens(model: string, size: ImageSize | undefined, detail: string | undefined): number {
  const { width, height } = size ?? DEFAULT_IMAGE_SIZE;
  const rates = tileRates(model);
  if (rates === undefined) {
    let patches = Math.ceil(width / 32) * Math.ceil(height / 32);
    if (patches > 1536) {
      const r = Math.sqrt((1536 * 32 * 32) / (width * height));
      patches = Math.min(1536, Math.ceil((width * r) / 32) * Math.ceil((height * r) / 32));
    }
    return Math.ceil(patches * patchMultiplier(model));
  }
  if (detail === 'low') return rates.base;
  let w = width;
  let h = height;
  const fit = Math.min(1, 2048 / Math.max(w, h));
  w *= fit;
  h *= fit;
  const shrink = Math.min(1, 768 / Math.min(w, h));
  w *= shrink;
  h *= shrink;
  return rates.base + rates.tile * Math.ceil(w / 512) * Math.ceil(h / 512);
}

/** Anthropic: tokens ≈ width·height/750 after scaling to fit 1568 px on the long edge (docs: "Vision"). */
export function anthropicImageTokens(size: ImageSize | undefined): number {
  const { width, height } = size ?? DEFAULT_IMAGE_SIZE;
  const s = Math.min(1, 1568 / Math.max(width, height));
  return Math.ceil((width * s * (height * s)) / 750);
}

/** Gemini 2.x: 258 tokens when both sides ≤ 384 px, else 258 per 768×768 tile (docs: "Token counting"). */
export function geminiImageTokens(size: ImageSize | undefined): number {
  if (size === undefined) return 258;
  if (size.width <= 384 && size.height <= 384) return 258;
  return 258 * Math.ceil(size.width / 768) * Math.ceil(size.height / 768);
}

/**
 * Audio input: roughly 10 tokens per second (OpenAI gpt-4o audio; Gemini documents 32/s). Duration is guessed
 * from the encoded size assuming ~16 KB/s (128 kbit/s MP3; WAV is larger, so this over-estimates WAV).
 */
export function audioTokens(base64Length: number, tokensPerSecond = 10): number {
  const seconds = (base64Length * 0.75) / 16000;
  return Math.max(1, Math.ceil(seconds * tokensPerSecond));
}

/** Pages of an inline PDF (counts `/Type /Page` objects in the first 4 MB), or undefined when not a readable PDF. */
export function pdfPageCount(base64: string): number | undefined {
  const bytes = Buffer.from(base64.slice(0, 4 * 1024 * 1024 * (4 / 3)), 'base64');
  if (bytes.toString('latin1', 0, 5) !== '%PDF-') return undefined;
  const pages = bytes.toString('latin1').match(/\/Type\s*\/Page(?![a-zA-Z])/g)?.length ?? 0;
  return pages > 0 ? pages : undefined;
}
