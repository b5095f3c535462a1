/**
 * What must (and must not) be in an installed tarball: the LICENSE, README and CHANGELOG; source
 * maps that carry their sources (sourcesContent), no declaration maps (they would point at src/,
 * which is not shipped); no tests; no top-level await in any module (require(esm) refuses those);
 * and no import, in code or declarations, of a package the manifest does not declare.
 */
import { builtinModules } from 'node:module';
import { access, readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import ts from 'typescript';

async function exists(path) {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function filesUnder(dir) {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

/** The line and column of every `await` (or `for await`) outside any function in `code`. */
export function topLevelAwaits(fileName, code) {
  const source = ts.createSourceFile(fileName, code, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const found = [];
  const visit = (node) => {
    if (ts.isFunctionLike(node)) return;
    if (ts.isAwaitExpression(node) || (ts.isForOfStatement(node) && node.awaitModifier)) {
      const { line, character } = source.getLineAndCharacterOfPosition(node.getStart(source));
      found.push(`${fileName}:${line + 1}:${character + 1}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The package a bare specifier names (`@scope/name/sub` -> `@scope/name`), or undefined for relative and built-in ones. */
function packageOf(specifier) {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return undefined;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  return builtinModules.includes(name) ? undefined : name;
}

/**
 * Checks the installed package in `dir`; resolves to a one-line detail or throws listing every
 * problem. `expectedFiles` maps a path in the package to the content it must have; every shipped
 * `dist/**.js` must have its `src/**.ts` in `sourceDir` (the package in the repository), or it is
 * a stale output of a deleted source (tsc does not clean dist/).
 */
export async function checkContents(dir, { expectedFiles = {}, sourceDir } = {}) {
  const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
  const declared = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {}), manifest.name]);
  const files = await filesUnder(dir);
  const problems = [];

  for (const required of ['LICENSE', 'README.md', 'CHANGELOG.md']) if (!files.includes(required)) problems.push(`${required} is missing`);
  const license = files.includes('LICENSE') ? await readFile(join(dir, 'LICENSE'), 'utf8') : '';
  if (license && !(/Apache License\s+Version 2\.0, January 2004/.test(license) && license.includes('The leasekit authors'))) problems.push('LICENSE is not the Apache-2.0 text with the leasekit copyright');
  for (const f of files.filter((f) => f.endsWith('.d.ts.map'))) problems.push(`${f}: declaration maps point at sources that are not shipped`);
  for (const f of files.filter((f) => /(^|\/)__tests__\/|\.test\.[cm]?[jt]s/.test(f))) problems.push(`${f}: a test in the tarball`);

  let maps = 0;
  let modules = 0;
  for (const f of files) {
    if (f.endsWith('.js.map')) {
      maps++;
      const map = JSON.parse(await readFile(join(dir, f), 'utf8'));
      const complete = Array.isArray(map.sourcesContent) && map.sourcesContent.length === map.sources.length && map.sourcesContent.every((s) => typeof s === 'string');
      if (!complete) problems.push(`${f}: no sourcesContent for ${map.sources.join(', ')}`);
    }
    if (/\.(c|m)?js$/.test(f) || f.endsWith('.d.ts')) {
      const code = await readFile(join(dir, f), 'utf8');
      if (!f.endsWith('.d.ts')) {
        modules++;
        const source = f.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts');
        if (sourceDir && !(await exists(join(sourceDir, source)))) problems.push(`${f}: no ${source} in the repository (a stale build output)`);
        for (const at of topLevelAwaits(f, code)) problems.push(`${at}: top-level await (require() of this package would fail)`);
      }
      for (const { fileName } of ts.preProcessFile(code, true, true).importedFiles) {
        const pkg = packageOf(fileName);
        if (pkg && !declared.has(pkg)) problems.push(`${f}: imports ${fileName}, which is not a dependency or peer dependency`);
      }
    }
  }
  if (maps === 0) problems.push('no source maps at all (expected .js.map files with sourcesContent)');

  for (const [path, content] of Object.entries(expectedFiles)) {
    const actual = files.includes(path) ? await readFile(join(dir, path), 'utf8') : undefined;
    if (actual === undefined) problems.push(`${path} is missing`);
    else if (actual !== content) problems.push(`${path} differs from its source in the repository (a stale copy)`);
  }

  if (problems.length) throw new Error(problems.join('\n'));
  const extra = Object.keys(expectedFiles).length ? `, ${Object.keys(expectedFiles).join(' and ')} current` : '';
  return `${files.length} files, LICENSE, ${maps} maps with sources, no declaration maps or tests, no top-level await in ${modules} modules, imports declared${extra}`;
}
