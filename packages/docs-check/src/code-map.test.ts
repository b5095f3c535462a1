/**
 * docs/design.md's code map is complete and true: every source file (tests aside) of the four
 * mapped packages is named in its package's table, and every file a table names exists. A new
 * file without a line saying what it owns fails here.
 */
import { describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, readRepoFile } from './docs.js';

const MAPPED = ['k8s-leaderelection', 'controller-leaderelection', 'lease-apiserver', 'simulator'];

/** The code map's tables, by package source directory: the file names in each table's first column. */
function mapTables(): Map<string, string[]> {
  const text = readRepoFile('docs/design.md');
  const section = text.slice(text.indexOf('## Code map'), text.indexOf('\n## ', text.indexOf('## Code map') + 1));
  const tables = new Map<string, string[]>();
  for (const part of section.split('\n### ').slice(1)) {
    const dir = /^`packages\/([^`]+?)\/src\/`/.exec(part)?.[1];
    if (dir === undefined) continue;
    const names: string[] = [];
    for (const line of part.split('\n')) {
      const first = /^\| ([^|]+) \|/.exec(line)?.[1];
      if (first === undefined) continue;
      for (const m of first.matchAll(/`([^`]+)`/g)) names.push(m[1]!);
    }
    tables.set(dir, names);
  }
  return tables;
}

/** Source files of a package's src/, relative to it: no tests, no __tests__; a `dir/` entry covers a directory. */
function sourceFiles(srcDir: string, prefix = ''): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(join(srcDir, prefix))) {
    const rel = prefix === '' ? entry : `${prefix}/${entry}`;
    if (statSync(join(srcDir, rel)).isDirectory()) {
      if (entry !== '__tests__') files.push(...sourceFiles(srcDir, rel));
    } else if (entry.endsWith('.ts') && !entry.endsWith('.test.ts') && !entry.endsWith('.d.ts')) {
      files.push(rel);
    }
  }
  return files;
}

describe('docs/design.md code map', () => {
  const tables = mapTables();

  it('has a table for each mapped package', () => {
    expect([...tables.keys()].sort()).toEqual([...MAPPED].sort());
  });

  for (const pkg of MAPPED) {
    it(`names every source file of packages/${pkg}/src, and only files that exist`, () => {
      const srcDir = join(REPO_ROOT, 'packages', pkg, 'src');
      const named = tables.get(pkg) ?? [];
      const covered = (file: string): boolean => named.some((n) => n === file || (n.endsWith('/') && file.startsWith(n)));
      expect(sourceFiles(srcDir).filter((f) => !covered(f))).toEqual([]);
      expect(named.filter((n) => !existsSync(join(srcDir, n)))).toEqual([]);
    });
  }
});
