/** The machine a run happened on, for the report (results mean little without it). */
import { availableParallelism, cpus, platform, release, totalmem } from 'node:os';

/** What the report says about the machine. */
export interface MachineInfo {
  readonly cpuModel: string;
  /** What `nproc` says: the CPUs this process may use. */
  readonly cpus: number;
  readonly memoryBytes: number;
  readonly node: string;
  readonly os: string;
  readonly date: string;
}

/** Reads the machine's description now. */
export function machineInfo(): MachineInfo {
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cpus: availableParallelism(),
    memoryBytes: totalmem(),
    node: process.version,
    os: `${platform()} ${release()}`,
    date: new Date().toISOString(),
  };
}
