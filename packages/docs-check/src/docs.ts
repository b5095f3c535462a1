/** Reading the repository's documentation: files, fenced code blocks, metric names. */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

export function readRepoFile(path: string): string {
  return readFileSync(join(REPO_ROOT, path), 'utf8');
}

/** Every Markdown file users read: the root README, each package README, and docs/. */
export function markdownFiles(): string[] {
  const files = ['README.md'];
  for (const pkg of readdirSync(join(REPO_ROOT, 'packages'))) {
    const readme = join('packages', pkg, 'README.md');
    if (existsSync(join(REPO_ROOT, readme))) files.push(readme);
  }
  for (const doc of readdirSync(join(REPO_ROOT, 'docs'))) if (doc.endsWith('.md')) files.push(join('docs', doc));
  return files;
}

export interface CodeBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  code: string;
}

/** Fenced code blocks of a Markdown file, with their language tag. */
export function codeBlocks(file: string): CodeBlock[] {
  const lines = readRepoFile(file).split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    blocks.push({ file: relative(REPO_ROOT, join(REPO_ROOT, file)), line: start + 1, lang: open[1] ?? '', code: body.join('\n') });
  }
  return blocks;
}

/** Names that look like leasekit or client-go leader election metrics in a PromQL expression. */
export function metricNamesIn(expr: string): string[] {
  return [...new Set(expr.match(/\b(?:leasekit_)?leader_election_[a-z_]+\b/g) ?? [])];
}
