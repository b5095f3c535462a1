/**
 * Label selectors as the API server reads them (`labels.Parse`): the `labelSelector` of list,
 * watch and deletecollection. Keys and values are checked with the label rules of `../labels.ts`.
 *
 * The grammar is the real one: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`,
 * `a>1`, `a<1`, joined by commas (AND). Blanks (space, tab, CR, LF) separate tokens and are
 * otherwise ignored, `in` and `notin` are plain words where a value is expected, an empty value
 * (`a=`, `a in ()`) is the empty string. A selector that does not parse is answered the way the
 * API server answers it: 400 BadRequest whose message is the parser's error, word for word.
 */
import { ApiError, makeStatus } from '../errors.js';
import { labelKeyProblems, labelValueProblems } from '../labels.js';

/** A requirement's operator, spelled as apimachinery's `selection.Operator` values. */
export type SelectorOperator = '=' | '==' | '!=' | 'in' | 'notin' | 'exists' | '!' | 'gt' | 'lt';

/** One comma-separated term of a selector. */
export interface LabelRequirement {
  readonly key: string;
  readonly operator: SelectorOperator;
  /** Sorted and without duplicates; empty for `exists` and `!`. */
  readonly values: readonly string[];
}

/** Labels as they sit on an object; a null value (possible in JSON) reads as "". */
export type LabelSet = Readonly<Record<string, string | null | undefined>>;

/** A parsed label selector: every requirement must hold (AND). */
export interface LabelSelector {
  /** Sorted by key, as the API server sorts them. */
  readonly requirements: readonly LabelRequirement[];
  /** True for a selector with no requirements, which selects everything. */
  readonly empty: boolean;
  /** True when the labels satisfy every requirement. */
  matches(labels: LabelSet | null | undefined): boolean;
  /** The canonical form the API server prints (`a=b,c in (x,y),!d`). */
  toString(): string;
}

/** The selector that selects everything (an absent or blank `labelSelector`). */
export const EVERYTHING: LabelSelector = selectorOf([]);

/**
 * Parses a `labelSelector` as the API server does (`labels.Parse`). Throws an {@link ApiError}
 * 400 BadRequest with the parser's own message, e.g. `unable to parse requirement: found '',
 * expected: ',' or ')'`, which is what the API server answers for an unparsable selector.
 */
export function parseLabelSelector(text: string): LabelSelector {
  try {
    return selectorOf(new Parser(text).parse());
  } catch (err) {
    if (err instanceof ParseFailure) throw new ApiError(makeStatus(400, 'BadRequest', err.message));
    throw err;
  }
}

function selectorOf(requirements: LabelRequirement[]): LabelSelector {
  const sorted = [...requirements].sort((a, b) => compareBytes(a.key, b.key));
  return {
    requirements: sorted,
    empty: sorted.length === 0,
    matches: (labels) => sorted.every((r) => requirementMatches(r, labels)),
    toString: () => sorted.map(requirementText).join(','),
  };
}

function requirementMatches(requirement: LabelRequirement, labels: LabelSet | null | undefined): boolean {
  const present = labels != null && Object.hasOwn(labels, requirement.key);
  const value = present ? (labels[requirement.key] ?? '') : '';
  switch (requirement.operator) {
    case '=':
    case '==':
    case 'in':
      return present && requirement.values.includes(value);
    case '!=':
    case 'notin':
      return !present || !requirement.values.includes(value);
    case 'exists':
      return present;
    case '!':
      return !present;
    case 'gt':
    case 'lt': {
      // A label value that is not an integer satisfies neither.
      const actual = present ? parseInt64(value) : undefined;
      const bound = parseInt64(requirement.values[0] ?? '');
      if (actual === undefined || bound === undefined) return false;
      return requirement.operator === 'gt' ? actual > bound : actual < bound;
    }
  }
}

function requirementText({ key, operator, values }: LabelRequirement): string {
  switch (operator) {
    case 'exists':
      return key;
    case '!':
      return `!${key}`;
    case 'in':
    case 'notin':
      return `${key} ${operator} (${values.join(',')})`;
    case 'gt':
      return `${key}>${values.join(',')}`;
    case 'lt':
      return `${key}<${values.join(',')}`;
    default:
      return `${key}${operator}${values.join(',')}`;
  }
}

/** Go's strconv.ParseInt(value, 10, 64), or undefined where it fails. */
function parseInt64(value: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(value)) return undefined;
  const n = BigInt(value);
  return n >= -(2n ** 63n) && n < 2n ** 63n ? n : undefined;
}

/** Go's string order (bytewise UTF-8), which sorts keys and values. */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const GO_ESCAPES = new Map([
  ['\x07', '\\a'],
  ['\b', '\\b'],
  ['\f', '\\f'],
  ['\n', '\\n'],
  ['\r', '\\r'],
  ['\t', '\\t'],
  ['\v', '\\v'],
  ['"', '\\"'],
  ['\\', '\\\\'],
]);
/** Go's unicode.IsPrint beyond ASCII: letters, marks, numbers, punctuation and symbols. */
const GO_PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

/** Go's `%q` (strconv.Quote), which field errors print values with. */
function goQuote(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    const escape = GO_ESCAPES.get(ch);
    if (escape !== undefined) out += escape;
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code < 0x7f || GO_PRINTABLE.test(ch)) out += ch;
    else if (code <= 0xffff) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += `\\U${code.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

/** A syntax or validation error, worded as `labels.Parse` words it. */
class ParseFailure extends Error {}

// -- the lexer: apimachinery's, token for token ------------------------------------------------

type TokenKind = 'identifier' | 'end' | 'error' | '(' | ')' | ',' | '!' | '=' | '==' | '!=' | '>' | '<' | 'in' | 'notin';

interface Token {
  readonly kind: TokenKind;
  /** The text as written ('' for the end). */
  readonly text: string;
}

const KEYWORDS = new Map<string, TokenKind>([
  ['(', '('],
  [')', ')'],
  [',', ','],
  ['!', '!'],
  ['=', '='],
  ['==', '=='],
  ['!=', '!='],
  ['>', '>'],
  ['<', '<'],
  ['in', 'in'],
  ['notin', 'notin'],
]);
const SYMBOLS = new Set(['=', '!', '(', ')', ',', '>', '<']);
const BLANKS = new Set([' ', '\t', '\r', '\n']);
/** What `read` returns at the end. A NUL in the text reads the same: Go's lexer stops there too. */
const END = '\0';

class Lexer {
  private pos = 0;

  constructor(private readonly text: string) {}

  next(): Token {
    let ch = this.read();
    while (BLANKS.has(ch)) ch = this.read();
    if (ch === END) return { kind: 'end', text: '' };
    this.pos--;
    return SYMBOLS.has(ch) ? this.symbol() : this.word();
  }

  private read(): string {
    return this.pos < this.text.length ? this.text[this.pos++]! : END;
  }

  /** A run of anything but blanks and symbols: an identifier, or the keywords `in` and `notin`. */
  private word(): Token {
    let text = '';
    for (let ch = this.read(); ch !== END; ch = this.read()) {
      if (SYMBOLS.has(ch) || BLANKS.has(ch)) {
        this.pos--;
        break;
      }
      text += ch;
    }
    return { kind: KEYWORDS.get(text) ?? 'identifier', text };
  }

  /** The longest operator at this point (`!=` and `==` over `!` and `=`). */
  private symbol(): Token {
    let text = '';
    let longest: Token | undefined;
    for (let ch = this.read(); ch !== END; ch = this.read()) {
      if (!SYMBOLS.has(ch)) {
        this.pos--;
        break;
      }
      text += ch;
      const kind = KEYWORDS.get(text);
      if (kind !== undefined) longest = { kind, text };
      else if (longest !== undefined) {
        this.pos--;
        break;
      }
    }
    return longest ?? { kind: 'error', text: `error expected: keyword found '${text}'` };
  }
}

// -- the parser: apimachinery's recursive descent, with its error messages -----------------------

class Parser {
  private readonly tokens: Token[] = [];
  private position = 0;

  constructor(text: string) {
    const lexer = new Lexer(text);
    for (let token = lexer.next(); ; token = lexer.next()) {
      this.tokens.push(token);
      if (token.kind === 'end') break;
    }
  }

  parse(): LabelRequirement[] {
    const requirements: LabelRequirement[] = [];
    for (;;) {
      const head = this.peek();
      if (head.kind === 'end') return requirements;
      if (head.kind !== 'identifier' && head.kind !== '!') throw new ParseFailure(`found '${head.text}', expected: !, identifier, or 'end of string'`);
      try {
        requirements.push(this.requirement());
      } catch (err) {
        if (err instanceof ParseFailure) throw new ParseFailure(`unable to parse requirement: ${err.message}`);
        throw err;
      }
      const after = this.take();
      if (after.kind === 'end') return requirements;
      if (after.kind !== ',') throw new ParseFailure(`found '${after.text}', expected: ',' or 'end of string'`);
      const next = this.peek();
      if (next.kind !== 'identifier' && next.kind !== '!') throw new ParseFailure(`found '${next.text}', expected: identifier after ','`);
    }
  }

  /** The token at hand; where a value may stand, `in` and `notin` are identifiers. */
  private peek(): Token {
    return asValue(this.tokens[Math.min(this.position, this.tokens.length - 1)]!);
  }

  private take(): Token {
    const token = this.peek();
    this.position++;
    return token;
  }

  /** `[!]key [operator values]`; the key is checked as soon as it is read. */
  private requirement(): LabelRequirement {
    let token = this.take();
    let operator: SelectorOperator | undefined;
    if (token.kind === '!') {
      operator = '!';
      token = this.take();
    }
    if (token.kind !== 'identifier') throw new ParseFailure(`found '${token.text}', expected: identifier`);
    const key = token.text;
    const problems = labelKeyProblems(key);
    // The parser validates the key with no field path, which Go prints as "<nil>".
    if (problems.length > 0) throw new ParseFailure(`<nil>: Invalid value: ${goQuote(key)}: ${problems.join('; ')}`);
    const next = this.peek().kind;
    if (operator === undefined && (next === 'end' || next === ',')) operator = 'exists';
    if (operator !== undefined) return requirementOf(key, operator, []);
    operator = this.operator();
    return requirementOf(key, operator, operator === 'in' || operator === 'notin' ? this.valueSet() : this.exactValue());
  }

  /** A binary operator (`in` and `notin` are operators here, not values). */
  private operator(): SelectorOperator {
    const token = this.tokens[Math.min(this.position++, this.tokens.length - 1)]!;
    switch (token.kind) {
      case 'in':
      case 'notin':
      case '=':
      case '==':
      case '!=':
        return token.kind;
      case '>':
        return 'gt';
      case '<':
        return 'lt';
      default:
        throw new ParseFailure(`found '${token.text}', expected: in, notin, =, ==, !=, gt, lt`);
    }
  }

  /** `(v1,v2,...)`; `()` and empty places between commas are the empty value. */
  private valueSet(): string[] {
    const open = this.take();
    if (open.kind !== '(') throw new ParseFailure(`found '${open.text}' expected: '('`);
    const first = this.peek();
    if (first.kind === ')') {
      this.take();
      return [''];
    }
    if (first.kind !== 'identifier' && first.kind !== ',') throw new ParseFailure(`found '${first.text}', expected: ',', ')' or identifier`);
    const values: string[] = [];
    for (;;) {
      const token = this.take();
      if (token.kind === 'identifier') {
        values.push(token.text);
        const next = this.peek();
        if (next.kind === ')') break;
        if (next.kind !== ',') throw new ParseFailure(`found '${next.text}', expected: ',' or ')'`);
      } else if (token.kind === ',') {
        if (values.length === 0) values.push('');
        const next = this.peek();
        if (next.kind === ')') {
          values.push('');
          break;
        }
        if (next.kind === ',') {
          this.take();
          values.push('');
        }
      } else {
        throw new ParseFailure(`found '${token.text}', expected: ',', or identifier`);
      }
    }
    this.take(); // the ')'
    return values;
  }

  /** The one value after `=`, `==`, `!=`, `>` or `<`; nothing before a comma or the end is "". */
  private exactValue(): string[] {
    const next = this.peek();
    if (next.kind === 'end' || next.kind === ',') return [''];
    const token = this.take();
    if (token.kind !== 'identifier') throw new ParseFailure(`found '${token.text}', expected: identifier`);
    return [token.text];
  }
}

function asValue(token: Token): Token {
  return token.kind === 'in' || token.kind === 'notin' ? { kind: 'identifier', text: token.text } : token;
}

/**
 * apimachinery's NewRequirement checks on the values: integers for `gt` and `lt`, valid label
 * values everywhere, each error on its field path (`values[0][key]`), duplicates dropped.
 */
function requirementOf(key: string, operator: SelectorOperator, raw: string[]): LabelRequirement {
  const values = [...new Set(raw)].sort(compareBytes);
  const problems: string[] = [];
  if (operator === 'gt' || operator === 'lt') {
    values.forEach((value, i) => {
      if (parseInt64(value) === undefined) problems.push(`values[${i}]: Invalid value: ${goQuote(value)}: for 'Gt', 'Lt' operators, the value must be an integer`);
    });
  }
  values.forEach((value, i) => {
    const invalid = labelValueProblems(value);
    if (invalid.length > 0) problems.push(`values[${i}][${key}]: Invalid value: ${goQuote(value)}: ${invalid.join('; ')}`);
  });
  const distinct = [...new Set(problems)];
  if (distinct.length === 1) throw new ParseFailure(distinct[0]!);
  if (distinct.length > 1) throw new ParseFailure(`[${distinct.join(', ')}]`);
  return { key, operator, values };
}
