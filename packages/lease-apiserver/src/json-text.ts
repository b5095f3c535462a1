/**
 * JSON text in and out without exhausting the stack. The API server's decoder reads bodies nested
 * up to 10,000 levels (Go's encoding/json `maxNestingDepth`) and refuses deeper ones; Node's
 * JSON.parse copes with any depth, but JSON.stringify recurses and throws near 5,000 levels. So
 * the depth is checked on the text before parsing, and answers that nest deeper than
 * JSON.stringify can go are written by an iterative serializer.
 */

/** The API server's JSON nesting limit. */
export const MAX_JSON_DEPTH = 10_000;

/**
 * The bracket that opens level {@link MAX_JSON_DEPTH} + 1 of a JSON text, as Go's scanner reports
 * it ("invalid character '{' exceeded max depth"), or undefined when the text nests no deeper.
 * Brackets inside strings do not count.
 */
export function excessNesting(text: string): '{' | '[' | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_JSON_DEPTH) return c === 0x7b ? '{' : '[';
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return undefined;
}

/** True when objects and arrays in a parsed value nest deeper than {@link MAX_JSON_DEPTH}. */
export function nestsTooDeep(value: unknown): boolean {
  const pending: [unknown, number][] = [[value, 1]];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    const [node, depth] = item;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > MAX_JSON_DEPTH) return true;
    for (const child of Object.values(node)) if (typeof child === 'object' && child !== null) pending.push([child, depth + 1]);
  }
  return false;
}

/** JSON.stringify, with an iterative fallback for values too deep for it. */
export function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return iterativeJson(value);
  }
}

interface Frame {
  readonly node: object;
  /** Member names of an object; undefined for an array. */
  readonly keys: string[] | undefined;
  readonly key: string;
  readonly parts: string[];
  index: number;
}

/** JSON.stringify's output (toJSON, skipped undefined members, null for holes) from an explicit stack. */
function iterativeJson(root: unknown): string {
  const stack: Frame[] = [];
  const onPath = new Set<object>();
  /** The text of a leaf (undefined when JSON leaves it out), or null after descending into it. */
  const enter = (raw: unknown, key: string): string | undefined | null => {
    let value = raw;
    if (typeof value === 'object' && value !== null && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
      value = (value as { toJSON(key: string): unknown }).toJSON(key);
    }
    if (value instanceof Number || value instanceof String || value instanceof Boolean) value = value.valueOf();
    if (typeof value !== 'object' || value === null) return JSON.stringify(value) as string | undefined;
    if (onPath.has(value)) throw new TypeError('Converting circular structure to JSON');
    onPath.add(value);
    stack.push({ node: value, keys: Array.isArray(value) ? undefined : Object.keys(value), key, parts: [], index: 0 });
    return null;
  };
  const append = (frame: Frame, key: string, text: string | undefined): void => {
    if (frame.keys === undefined) frame.parts.push(text ?? 'null');
    else if (text !== undefined) frame.parts.push(`${JSON.stringify(key)}:${text}`);
  };
  const top = enter(root, '');
  if (top !== null) return top ?? 'null';
  for (;;) {
    const frame = stack[stack.length - 1]!;
    const { node, keys } = frame;
    if (frame.index < (keys ?? (node as unknown[])).length) {
      const i = frame.index++;
      const key = keys === undefined ? String(i) : keys[i]!;
      const text = enter(keys === undefined ? (node as unknown[])[i] : (node as Record<string, unknown>)[key], key);
      if (text !== null) append(frame, key, text);
      continue;
    }
    stack.pop();
    onPath.delete(node);
    const text = keys === undefined ? `[${frame.parts.join(',')}]` : `{${frame.parts.join(',')}}`;
    const parent = stack[stack.length - 1];
    if (parent === undefined) return text;
    append(parent, frame.key, text);
  }
}
