/** Runs dist/child.js (built by the test script before jest starts) and parses its answer. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildRequest, ChildResponse } from '../child.js';

const CHILD = fileURLToPath(new URL('../../dist/child.js', import.meta.url));

export function runInChild(request: ChildRequest): Promise<ChildResponse> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CHILD, JSON.stringify(request)], { maxBuffer: 1 << 28, env: { ...process.env, NODE_OPTIONS: '' } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${CHILD} failed: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as ChildResponse);
    });
  });
}
