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
  const copied = plainCopy(value, 0);
  if (copied !== NOT_PLAIN) return copied as T;
  return JSON.parse(stringify(value) as string) as T;
}

/** {@link plainCopy}'s answer for a value it leaves to the JSON round trip. */
const NOT_PLAIN: unique symbol = Symbol('not plain');

/** How deep {@link plainCopy} walks before it leaves the value to the (stack-safe) JSON round trip. */
const PLAIN_COPY_DEPTH = 64;

/**
 * The fast path of {@link clone}: the same copy as the JSON round trip, built directly, for a tree
 * of plain objects, arrays, strings, booleans, finite numbers and null (members that JSON leaves
 * out, undefined, functions and symbols, are left out; in arrays they become null, as are holes).
 * Anything else (a prototype other than Object's or Array's, a toJSON method, a `__proto__` member,
 * a bigint, a non-finite number, nesting past {@link PLAIN_COPY_DEPTH}, a cycle) answers NOT_PLAIN,
 * and the caller takes the JSON round trip, with its exact semantics and errors.
 */
function plainCopy(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      // JSON writes -0 as 0; NaN and the infinities as null.
      return Number.isFinite(value) ? (value === 0 ? 0 : value) : NOT_PLAIN;
    case 'object':
      break;
    default:
      return NOT_PLAIN;
  }
  if (value === null) return null;
  if (depth >= PLAIN_COPY_DEPTH || typeof (value as { toJSON?: unknown }).toJSON === 'function') return NOT_PLAIN;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return NOT_PLAIN;
    const out: unknown[] = [];
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol') {
        out.push(null);
        continue;
      }
      const copied = plainCopy(item, depth + 1);
      if (copied === NOT_PLAIN) return NOT_PLAIN;
      out.push(copied);
    }
    return out;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return NOT_PLAIN;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (key === '__proto__') return NOT_PLAIN;
    const member: unknown = (value as Record<string, unknown>)[key];
    if (member === undefined || typeof member === 'function' || typeof member === 'symbol') continue;
    const copied = plainCopy(member, depth + 1);
    if (copied === NOT_PLAIN) return NOT_PLAIN;
    out[key] = copied;
  }
  return out;
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

/** How a node of a JSON tree is written, for {@link plainCanonicalEqual}; undefined: not a plain node. */
type PlainKind = 'omit' | 'null' | 'primitive' | 'array' | 'object';

function plainKind(value: unknown, depth: number): PlainKind | undefined {
  switch (typeof value) {
    case 'undefined':
    case 'function':
    case 'symbol':
      return 'omit';
    case 'string':
    case 'boolean':
      return 'primitive';
    case 'number':
      return Number.isFinite(value) ? 'primitive' : undefined;
    case 'object':
      break;
    default:
      return undefined;
  }
  if (value === null) return 'null';
  if (depth >= PLAIN_COPY_DEPTH || typeof (value as { toJSON?: unknown }).toJSON === 'function') return undefined;
  if (Array.isArray(value)) return Object.getPrototypeOf(value) === Array.prototype ? 'array' : undefined;
  return Object.getPrototypeOf(value) === Object.prototype ? 'object' : undefined;
}

/** Whether `value` is a plain tree (every node one {@link plainKind} accepts). */
function isPlainTree(value: unknown, depth: number): boolean {
  const kind = plainKind(value, depth);
  if (kind === 'array') return (value as unknown[]).every((item) => isPlainTree(item, depth + 1));
  if (kind === 'object') return Object.keys(value as object).every((key) => isPlainTree((value as Record<string, unknown>)[key], depth + 1));
  return kind !== undefined;
}

/** A member the canonical JSON writes: not null, and not one JSON leaves out. */
function written(value: unknown): boolean {
  return value !== null && value !== undefined && typeof value !== 'function' && typeof value !== 'symbol';
}

const isEnumerableOwn = Object.prototype.propertyIsEnumerable;

/**
 * The fast path of the store's no-op check: whether two trees have the same canonical JSON
 * (JSON.stringify with a replacer that sorts every object's keys and leaves out its null members),
 * decided without writing it. True or false when both are plain trees ({@link plainCopy}'s: plain
 * objects and arrays, strings, booleans, finite numbers, null, and members JSON leaves out);
 * undefined otherwise, and the caller compares the texts.
 */
export function plainCanonicalEqual(a: unknown, b: unknown): boolean | undefined {
  const state = { differ: false };
  return compareCanonical(a, b, 0, state) ? !state.differ : undefined;
}

/** False when a node of either tree is not plain; sets `state.differ` on a difference. */
function compareCanonical(a: unknown, b: unknown, depth: number, state: { differ: boolean }): boolean {
  const ka = plainKind(a, depth);
  const kb = plainKind(b, depth);
  if (ka === undefined || kb === undefined) return false;
  if (ka !== kb) {
    state.differ = true;
    return isPlainTree(a, depth) && isPlainTree(b, depth);
  }
  if (ka === 'primitive') {
    if (a !== b) state.differ = true;
    return true;
  }
  if (ka === 'array') {
    const x = a as unknown[];
    const y = b as unknown[];
    if (x.length !== y.length) state.differ = true;
    const shared = Math.min(x.length, y.length);
    for (let i = 0; i < shared; i++) {
      // In an array, a member JSON leaves out is written as null.
      const xi = written(x[i]) ? x[i] : null;
      const yi = written(y[i]) ? y[i] : null;
      if (!compareCanonical(xi, yi, depth + 1, state)) return false;
    }
    for (let i = shared; i < x.length; i++) if (!isPlainTree(x[i], depth + 1)) return false;
    for (let i = shared; i < y.length; i++) if (!isPlainTree(y[i], depth + 1)) return false;
    return true;
  }
  if (ka !== 'object') return true; // both null, or both left out
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const key of Object.keys(x)) {
    const xv = x[key];
    if (!written(xv)) {
      if (!isPlainTree(xv, depth + 1)) return false;
      continue;
    }
    const yv = isEnumerableOwn.call(y, key) ? y[key] : undefined;
    if (!written(yv)) {
      state.differ = true;
      if (!isPlainTree(xv, depth + 1)) return false;
      continue;
    }
    if (!compareCanonical(xv, yv, depth + 1, state)) return false;
  }
  for (const key of Object.keys(y)) {
    const yv = y[key];
    if (written(yv) && written(isEnumerableOwn.call(x, key) ? x[key] : undefined)) continue; // compared above
    if (written(yv)) state.differ = true;
    if (!isPlainTree(yv, depth + 1)) return false;
  }
  return true;
}
