/**
 * Every TypeScript example in the documentation type-checks against the packages as built.
 * Examples may call a few application functions a reader would write themselves; those are
 * declared in examples-ambient.d.ts.
 */
import { describe, expect, it } from '@jest/globals';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { codeBlocks, markdownFiles } from './docs.js';

const PACKAGE_DIR = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const OUT_DIR = join(PACKAGE_DIR, '.examples');

const blocks = markdownFiles()
  .flatMap((file) => codeBlocks(file))
  .filter((b) => b.lang === 'ts' || b.lang === 'typescript');

describe('code examples in the docs', () => {
  it('exist in the READMEs and docs pages', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(4);
  });

  it('all type-check against the built packages', () => {
    rmSync(OUT_DIR, { recursive: true, force: true });
    mkdirSync(OUT_DIR, { recursive: true });
    copyFileSync(join(PACKAGE_DIR, 'src', 'examples-ambient.d.ts'), join(OUT_DIR, 'examples-ambient.d.ts'));
    const files = blocks.map((b, i) => {
      const name = join(OUT_DIR, `${String(i).padStart(2, '0')}-${b.file.replace(/[^a-zA-Z0-9]+/g, '-')}-L${b.line}.ts`);
      // `export {}` makes each example its own module, so top-level await works and names don't clash.
      writeFileSync(name, `${b.code}\nexport {};\n`);
      return name;
    });
    const program = ts.createProgram([...files, join(OUT_DIR, 'examples-ambient.d.ts')], {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
      typeRoots: [join(PACKAGE_DIR, '../../node_modules/@types')],
    });
    const problems = ts.getPreEmitDiagnostics(program).map((d) => {
      const where = d.file ? `${d.file.fileName.replace(`${OUT_DIR}/`, '')}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : '';
      return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    expect(problems).toEqual([]);
    rmSync(OUT_DIR, { recursive: true, force: true });
  });
});
