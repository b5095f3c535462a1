import { describe, expect, it } from '@jest/globals';
import { ApiError } from '../errors.js';
import { parseLabelSelector } from './label-selector.js';

/** The message of the 400 BadRequest a selector gets. */
function refusal(text: string): string {
  try {
    parseLabelSelector(text);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    expect(err.statusCode).toBe(400);
    expect(err.reason).toBe('BadRequest');
    return err.status.message;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be refused`);
}

/** Which of the label sets a selector picks. */
function picks(text: string, sets: Record<string, Record<string, string>>): string[] {
  const selector = parseLabelSelector(text);
  return Object.entries(sets)
    .filter(([, labels]) => selector.matches(labels))
    .map(([name]) => name);
}

const LEASES = {
  web: { app: 'web', tier: 'front' },
  api: { app: 'api', tier: 'back' },
  bare: {},
  empty: { app: '' },
};

describe('parseLabelSelector: what each operator selects', () => {
  it('selects by equality with =, == and !=, where != also selects objects without the label', () => {
    expect(picks('app=web', LEASES)).toEqual(['web']);
    expect(picks('app==web', LEASES)).toEqual(['web']);
    expect(picks('app!=web', LEASES)).toEqual(['api', 'bare', 'empty']);
  });

  it('selects by sets with in and notin, where notin also selects objects without the label', () => {
    expect(picks('app in (web,api)', LEASES)).toEqual(['web', 'api']);
    expect(picks('app notin (web)', LEASES)).toEqual(['api', 'bare', 'empty']);
  });

  it('selects by existence: a key alone needs the label, !key needs it absent, whatever the value', () => {
    expect(picks('app', LEASES)).toEqual(['web', 'api', 'empty']);
    expect(picks('!app', LEASES)).toEqual(['bare']);
  });

  it('treats an empty value as a value: app= selects the empty label, not a missing one', () => {
    expect(picks('app=', LEASES)).toEqual(['empty']);
    expect(picks('app in ()', LEASES)).toEqual(['empty']);
    expect(picks('app in (web,)', LEASES)).toEqual(['web', 'empty']);
  });

  it('ANDs comma-separated requirements', () => {
    expect(picks('app,tier=back', LEASES)).toEqual(['api']);
    expect(picks('app!=web,app!=api', LEASES)).toEqual(['bare', 'empty']);
  });

  it('compares integers with > and <, and a value that is not an integer matches neither', () => {
    const sets = { small: { n: '2' }, big: { n: '10' }, negative: { n: '-3' }, word: { n: 'ten' }, none: {} };
    expect(picks('n>2', sets)).toEqual(['big']);
    expect(picks('n<3', sets)).toEqual(['small', 'negative']);
    expect(picks('n>0', sets)).toEqual(['small', 'big']);
  });

  it('selects everything when blank, and says so', () => {
    for (const text of ['', '   ', '\t\n']) {
      const selector = parseLabelSelector(text);
      expect(selector.empty).toBe(true);
      expect(picks(text, LEASES)).toEqual(Object.keys(LEASES));
    }
    expect(parseLabelSelector('app').empty).toBe(false);
  });

  it('reads a null label value (possible in JSON) as the empty string', () => {
    expect(parseLabelSelector('app=').matches({ app: null })).toBe(true);
    expect(parseLabelSelector('app').matches({ app: null })).toBe(true);
  });

  it('matches only own labels, not names inherited by every JavaScript object', () => {
    expect(parseLabelSelector('constructor').matches({})).toBe(false);
    expect(parseLabelSelector('!toString').matches({})).toBe(true);
  });
});

describe('parseLabelSelector: the grammar of labels.Parse', () => {
  it('ignores blanks around tokens and needs none', () => {
    expect(String(parseLabelSelector(' app = web , tier in ( front , back ) '))).toBe('app=web,tier in (back,front)');
    expect(String(parseLabelSelector('app=web,tier in(front,back),!x'))).toBe('app=web,tier in (back,front),!x');
  });

  it('prints the canonical form the API server prints: requirements by key, set values sorted and unique', () => {
    expect(String(parseLabelSelector('z notin (b,a,b),a!=1,m,k>5,j<7'))).toBe('a!=1,j<7,k>5,m,z notin (a,b)');
    const selector = parseLabelSelector('b in (y,x,x),a');
    expect(selector.requirements).toEqual([
      { key: 'a', operator: 'exists', values: [] },
      { key: 'b', operator: 'in', values: ['x', 'y'] },
    ]);
  });

  it('reads in and notin as values and keys where a value or key stands', () => {
    expect(picks('app=in', { yes: { app: 'in' }, no: { app: 'x' } })).toEqual(['yes']);
    expect(picks('in in (notin)', { yes: { in: 'notin' }, no: { in: 'x' } })).toEqual(['yes']);
    expect(picks('notin', { yes: { notin: '' }, no: {} })).toEqual(['yes']);
  });

  it('accepts prefixed keys and the empty places of a value list', () => {
    expect(picks('example.com/app=web', { yes: { 'example.com/app': 'web' }, no: { app: 'web' } })).toEqual(['yes']);
    expect(parseLabelSelector('a in (,x)').requirements[0]!.values).toEqual(['', 'x']);
    expect(parseLabelSelector('a in (x,,y)').requirements[0]!.values).toEqual(['', 'x', 'y']);
  });

  it('reads the longest operator: == and != over = and !, and >= as > followed by =', () => {
    expect(parseLabelSelector('a==b').requirements[0]!.operator).toBe('==');
    expect(parseLabelSelector('a!=b').requirements[0]!.operator).toBe('!=');
    expect(refusal('a>=1')).toBe("unable to parse requirement: found '=', expected: identifier");
  });
});

describe('parseLabelSelector: errors worded as the API server words them', () => {
  it('refuses syntax errors with the parser message, prefixed where the parser prefixes it', () => {
    const cases: [string, string][] = [
      ['app in (a', "unable to parse requirement: found '', expected: ',' or ')'"],
      ['app in a', "unable to parse requirement: found 'a' expected: '('"],
      ['app in (a b)', "unable to parse requirement: found 'b', expected: ',' or ')'"],
      ['app in (=)', "unable to parse requirement: found '=', expected: ',', ')' or identifier"],
      ['app in (a,=)', "unable to parse requirement: found '=', expected: ',', or identifier"],
      ['app (', "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"],
      ['app=(', "unable to parse requirement: found '(', expected: identifier"],
      ['!', "unable to parse requirement: found '', expected: identifier"],
      ['app web', "unable to parse requirement: found 'web', expected: in, notin, =, ==, !=, gt, lt"],
      ['!app web', "found 'web', expected: ',' or 'end of string'"],
      ['a=b=c', "found '=', expected: ',' or 'end of string'"],
      ['!a=b', "found '=', expected: ',' or 'end of string'"],
      ['a,', "found '', expected: identifier after ','"],
      ['a,,b', "found ',', expected: identifier after ','"],
      [',a', "found ',', expected: !, identifier, or 'end of string'"],
      ['=a', "found '=', expected: !, identifier, or 'end of string'"],
      ['!=a', "found '!=', expected: !, identifier, or 'end of string'"],
    ];
    for (const [text, message] of cases) expect([text, refusal(text)]).toEqual([text, message]);
  });

  it('refuses an invalid key with the validation message on no field path ("<nil>")', () => {
    expect(refusal('-app=x')).toBe(
      `unable to parse requirement: <nil>: Invalid value: "-app": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
    );
    expect(refusal(`${'k'.repeat(64)}`)).toBe(`unable to parse requirement: <nil>: Invalid value: "${'k'.repeat(64)}": name part must be no more than 63 bytes`);
    expect(refusal('Example.com/app')).toMatch(/^unable to parse requirement: <nil>: Invalid value: "Example.com\/app": prefix part a lowercase RFC 1123 subdomain/);
  });

  it('refuses an invalid value on its field path, values[i][key], index after sorting', () => {
    expect(refusal('app=-web')).toBe(
      `unable to parse requirement: values[0][app]: Invalid value: "-web": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
    );
    expect(refusal('app in (z,-a)')).toMatch(/^unable to parse requirement: values\[0\]\[app\]: Invalid value: "-a": /);
    expect(refusal(`app=${'v'.repeat(64)}`)).toMatch(/^unable to parse requirement: values\[0\]\[app\]: Invalid value: "v{64}": must be no more than 63 bytes$/);
  });

  it('brackets several errors of one requirement, the integer check first', () => {
    expect(refusal('n>ten')).toBe("unable to parse requirement: values[0]: Invalid value: \"ten\": for 'Gt', 'Lt' operators, the value must be an integer");
    expect(refusal('n<-ten')).toMatch(/^unable to parse requirement: \[values\[0\]: Invalid value: "-ten": for 'Gt', 'Lt' operators, the value must be an integer, values\[0\]\[n\]: Invalid value: "-ten": a valid label must be /);
    // -1 is an integer but not a label value; 9223372036854775808 is a label value but beyond int64.
    expect(refusal('n>-1')).toMatch(/^unable to parse requirement: values\[0\]\[n\]: Invalid value: "-1": a valid label must be /);
    expect(refusal('n>9223372036854775808')).toBe("unable to parse requirement: values[0]: Invalid value: \"9223372036854775808\": for 'Gt', 'Lt' operators, the value must be an integer");
  });

  it("quotes values as Go's %q does, control characters included", () => {
    expect(refusal('app=a\u0001b')).toMatch(/^unable to parse requirement: values\[0\]\[app\]: Invalid value: "a\\x01b": /);
    expect(refusal('app=a"b')).toMatch(/^unable to parse requirement: values\[0\]\[app\]: Invalid value: "a\\"b": /);
  });

  it('reads a NUL byte as the Go lexer does: the end where a token would start, else a separator', () => {
    expect(String(parseLabelSelector('app=web \u0000tier=x'))).toBe('app=web');
    expect(refusal('app=web, \u0000tier=x')).toBe("found '', expected: identifier after ','");
    expect(String(parseLabelSelector('app=web,\u0000tier=x'))).toBe('app=web,tier=x');
    expect(refusal('app\u0000web')).toBe("unable to parse requirement: found 'web', expected: in, notin, =, ==, !=, gt, lt");
  });
});
