/** Runs a child script of dist/ (built by the test script before jest starts) and parses its answer. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildRequest, ChildResponse } from '../child.js';

/** Runs `dist/<script>` with `request` as its argument; its answer, parsed from stdout. */
export function runChildScript<Request, Response>(script: string, request: Request): Promise<Response> {
  const path = fileURLToPath(new URL(`../../dist/${script}`, import.meta.url));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path, JSON.stringify(request)], { maxBuffer: 1 << 28, env: { ...process.env, NODE_OPTIONS: '' } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path} failed: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as Response);
    });
  });
}

export function runInChild(request: ChildRequest): Promise<ChildResponse> {
  return runChildScript<ChildRequest, ChildResponse>('child.js', request);
}
