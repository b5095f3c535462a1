#!/usr/bin/env node
/**
 * The `lease-apiserver` executable: `--version` prints the installed package's version; anything
 * else runs {@link runCli} until SIGINT or SIGTERM. A second signal exits at once, for when
 * closing hangs.
 */
import { readFileSync } from 'node:fs';
import { runCli } from './cli-main.js';

/** The version in this package's package.json (one directory above `dist/`), read when asked. */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function serve(argv: readonly string[]): void {
  const stop = new AbortController();
  const onSignal = (): void => {
    if (stop.signal.aborted) process.exit(130);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const io = { out: (line: string) => console.log(line), err: (line: string) => console.error(line) };
  runCli(argv, io, stop.signal)
    .then((code) => {
      process.exitCode = code;
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    })
    .finally(() => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    });
}

const argv = process.argv.slice(2);
if (argv.includes('--version')) console.log(packageVersion());
else serve(argv);
