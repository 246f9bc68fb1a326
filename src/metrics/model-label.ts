/**
 * Bounded model labels: names are normalised (lower case, "models/" and provider prefixes dropped, dated snapshot
 * suffixes folded into their alias, odd characters replaced, length capped) and only the first `max` distinct values
 * are kept; later ones become "other". Request-scoped data never reaches a label unbounded.
 */

const DATE_SUFFIX = /-(?:\d{8}|\d{4}-\d{2}-\d{2})$/;

export function normaliseModel(model: string | undefined): string {
  if (!model) return 'unknown';
  let m = model.trim().toLowerCase();
  m = m.replace(/^models\//, '').replace(/^(openai|anthropic|google|azure)\//, '');
  m = m.replace(DATE_SUFFIX, '');
  m = m.replace(/[^a-z0-9._:/-]/g, '_').slice(0, 64);
  return m.length > 0 ? m : 'unknown';
}

export class ModelLabels {
  private readonly seen = new Set<string>();

  constructor(private readonly max: number) {}

  label(model: string | undefined): string {
    const m = normaliseModel(model);
    if (this.seen.has(m)) return m;
    if (this.seen.size >= this.max) return 'other';
    this.seen.add(m);
    return m;
  }
}
