#!/usr/bin/env node
/**
 * The `lease-apiserver` executable: runs {@link runCli} until SIGINT or SIGTERM. A second signal
 * exits at once, for when closing hangs.
 */
import { runCli } from './cli-main.js';

const stop = new AbortController();
const onSignal = (): void => {
  if (stop.signal.aborted) process.exit(130);
  stop.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const io = { out: (line: string) => console.log(line), err: (line: string) => console.error(line) };
runCli(process.argv.slice(2), io, stop.signal)
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
