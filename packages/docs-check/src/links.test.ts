/**
 * What the docs point at exists: every relative link, every absolute link into this repository
 * (the package READMEs use those, as they are read on the registry's site), every example path,
 * and every `pnpm <script>` a reader is told to run.
 */
import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { REPO_ROOT, codeBlocks, markdownFiles, readRepoFile } from './docs.js';

const REPO_URL = 'https://github.com/leasekit/leasekit/';

interface Link {
  file: string;
  target: string;
}

/** Markdown links `[text](target)` outside code blocks. */
function linksOf(file: string): Link[] {
  const text = readRepoFile(file).replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => ({ file, target: m[1]! }));
}

/** The repository path a link points at, or undefined for a link elsewhere (or an anchor). */
function repoPath(link: Link): string | undefined {
  const target = link.target.split('#')[0]!;
  if (target === '') return undefined;
  if (target.startsWith(REPO_URL)) {
    const rest = target.slice(REPO_URL.length);
    const m = /^(?:blob|tree)\/main\/(.*)$/.exec(rest);
    return m ? normalize(m[1]!.replace(/\/$/, '')) : rest === 'issues' ? undefined : `<unknown repository URL: ${target}>`;
  }
  if (/^[a-z]+:/i.test(target)) return undefined; // another site, or mailto:
  return normalize(join(dirname(link.file), target));
}

const links = markdownFiles().flatMap(linksOf);

describe('links and commands in the docs', () => {
  it('finds links to check', () => {
    expect(links.filter((l) => repoPath(l) !== undefined).length).toBeGreaterThan(40);
  });

  it('every link into the repository names a file or folder that exists', () => {
    const broken = links
      .map((l) => ({ ...l, path: repoPath(l) }))
      .filter((l) => l.path !== undefined && !existsSync(join(REPO_ROOT, l.path)))
      .map((l) => `${l.file}: ${l.target}`);
    expect(broken).toEqual([]);
  });

  it('every `pnpm <script>` in a shell block is a script of the root package.json', () => {
    const scripts = Object.keys((JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);
    const builtIn = new Set(['install', 'add', 'exec', 'dlx', 'run', 'pack', 'publish']);
    const missing: string[] = [];
    for (const file of markdownFiles()) {
      for (const block of codeBlocks(file).filter((b) => b.lang === 'sh' || b.lang === 'bash')) {
        for (const m of block.code.matchAll(/(?:^|&&|;|\|)\s*pnpm\s+([a-z][\w:-]*)/gm)) {
          const script = m[1]!;
          if (!builtIn.has(script) && !scripts.includes(script)) missing.push(`${file}:${block.line}: pnpm ${script}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});
