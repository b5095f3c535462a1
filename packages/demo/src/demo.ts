#!/usr/bin/env node
/**
 * `pnpm demo`: the executable. Parses the flags, turns Ctrl-C (SIGINT) and SIGTERM into a clean
 * stop of the scenario, and exits with its code. A second Ctrl-C exits at once; the replicas then
 * notice their parent is gone (the IPC channel closes) and shut themselves down.
 */
import { USAGE, UsageError, parseDemoArgs } from './options.js';
import { runDemo } from './run-demo.js';
import { runShardsDemo } from './run-shards.js';

async function main(): Promise<number> {
  let options;
  try {
    options = parseDemoArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`demo: ${err.message}`);
    console.error('Run with --help for usage.');
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }

  const stop = new AbortController();
  const onSignal = (): void => {
    if (stop.signal.aborted) {
      console.error('demo: second interrupt, exiting now (the replicas stop themselves when they notice)');
      process.exit(130);
    }
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // `pnpm demo | head`: once the reader is gone, stop as cleanly as on Ctrl-C instead of
  // crashing on EPIPE (the replicas would still stop, but the Lease would not be released).
  const onOutputError = (err: NodeJS.ErrnoException): void => {
    if (err.code === 'EPIPE') stop.abort();
  };
  process.stdout.on('error', onOutputError);
  try {
    const io = { out: (line: string) => console.log(line), err: (line: string) => console.error(line) };
    if (options.shards !== undefined) return await runShardsDemo(options, io, stop.signal);
    const result = await runDemo(options, io, stop.signal);
    return result.exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
