/**
 * Owns JSON trees from clients walked without recursion. A client may nest a body as deep as the
 * API server's decoder allows (10,000 levels) and deeper still through the store's own API;
 * JSON.stringify recurses and exhausts the stack near 5,000 levels, so every walk over client data
 * is iterative, with the native calls as the fast path. Used by the store and, through the internal
 * entry, by the embedded API server.
 */
/** The API server's JSON nesting limit (Go's encoding/json scanner, `maxNestingDepth`). */
export const MAX_JSON_DEPTH = 10_000;

/**
 * JSON text of `root` with JSON.stringify's semantics (toJSON, skipped undefined members, null for
 * holes, TypeError on a cycle), built with an explicit stack. `canonical` sorts keys and leaves
 * out null members: two objects the API server decodes alike get the same text.
 */
export function toJson(root: unknown, canonical = false): string | undefined {
  interface Frame {
    readonly node: object;
    /** Member names of an object; undefined for an array. */
    readonly keys: string[] | undefined;
    readonly key: string;
    readonly parts: string[];
    index: number;
  }
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
    const keys = Array.isArray(value) ? undefined : canonical ? Object.keys(value).sort() : Object.keys(value);
    stack.push({ node: value, keys, key, parts: [], index: 0 });
    return null;
  };
  const append = (frame: Frame, key: string, text: string | undefined): void => {
    if (frame.keys === undefined) frame.parts.push(text ?? 'null');
    else if (text !== undefined) frame.parts.push(`${JSON.stringify(key)}:${text}`);
  };
  const top = enter(root, '');
  if (top !== null) return top;
  for (;;) {
    const frame = stack[stack.length - 1]!;
    const { node, keys } = frame;
    if (frame.index < (keys ?? (node as unknown[])).length) {
      const i = frame.index++;
      const key = keys === undefined ? String(i) : keys[i]!;
      const child = keys === undefined ? (node as unknown[])[i] : (node as Record<string, unknown>)[key];
      if (canonical && keys !== undefined && child === null) continue;
      const text = enter(child, key);
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

/** JSON.stringify, falling back to {@link toJson} when a deep value exhausts the stack. */
export function stringify(value: unknown): string | undefined {
  try {
    return JSON.stringify(value) as string | undefined;
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return toJson(value);
  }
}

/** Deep copy through JSON, so callers can never alias stored state (JSON.parse does not recurse). */
export function clone<T>(value: T): T {
  return JSON.parse(stringify(value) as string) as T;
}

/**
 * An object or array of `value` nested deeper than `limit` (the root is level 1), or undefined.
 * Depth first, so even a cyclic value reaches the limit after `limit` steps.
 */
export function nestedDeeperThan(value: unknown, limit: number): object | undefined {
  const pending: [unknown, number][] = [[value, 1]];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    const [node, depth] = item;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > limit) return node;
    for (const child of Object.values(node)) if (typeof child === 'object' && child !== null) pending.push([child, depth + 1]);
  }
  return undefined;
}
