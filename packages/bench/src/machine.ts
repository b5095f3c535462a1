/** The machine a run happened on, for the report (results mean little without it). */
import { availableParallelism, cpus, loadavg, platform, release, totalmem } from 'node:os';

/** What the report says about the machine. */
export interface MachineInfo {
  readonly cpuModel: string;
  /** What `nproc` says: the CPUs this process may use. */
  readonly cpus: number;
  readonly memoryBytes: number;
  readonly node: string;
  readonly os: string;
  readonly date: string;
  /**
   * The 1-minute load average when the run started (and, once it ended, when it ended): anything
   * else busy on the machine shows up in the figures, so the report says how busy it was.
   */
  readonly loadAverage: { readonly atStart: number; atEnd?: number };
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
    loadAverage: { atStart: loadavg()[0]! },
  };
}

/** Records the load average at the end of the run. */
export function recordEndLoad(info: MachineInfo): void {
  info.loadAverage.atEnd = loadavg()[0]!;
}
