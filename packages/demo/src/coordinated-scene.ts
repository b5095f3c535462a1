/**
 * `pnpm demo --coordinated`: coordinated leader election (KEP-4355) on the embedded server with its
 * coordinator. Three candidates of different emulation versions: 1.33 and 1.32 start first, the
 * coordinator starts once both are registered and names the oldest (1.32); 1.31 joins later, the coordinator marks it as the
 * Lease's `preferredHolder`, the holder yields (releases) and 1.31 takes over. The newest (1.33)
 * never leads. Counts the leadership changes and leaderless time from 1.31's start until it leads.
 *
 * The scene talks to the processes through {@link CoordinatedStage} (implemented by the demo run),
 * so its steps and its counting are tested with a made-up stage.
 */
import { countLeadership, type LeaderTerm } from './leadership.js';
import type { CoordinatedRecord } from './record.js';
import { formatDuration } from './timeline.js';

/** One candidate: its name and its emulation (and binary) version. */
export interface CoordinatedCandidate {
  readonly identity: string;
  readonly version: string;
}

/** Started first: the newest and the middle version. */
export const FIRST_CANDIDATES: readonly CoordinatedCandidate[] = [
  { identity: 'replica-1', version: '1.33.0' },
  { identity: 'replica-2', version: '1.32.0' },
];
/** Joins once the first two have a leader: the oldest version, which the coordinator prefers. */
export const LATE_CANDIDATE: CoordinatedCandidate = { identity: 'replica-3', version: '1.31.0' };

/** What the scene needs from the demo run. */
export interface CoordinatedStage {
  /** Forks a coordinated replica with this version and resolves once its LeaseCandidate exists. */
  addCandidate(candidate: CoordinatedCandidate): Promise<void>;
  /**
   * Starts the coordinator. The scene starts it once the first candidates are registered, so it
   * chooses between them (started earlier, it would name whichever process was up first).
   */
  startCoordinator(): void;
  /** The replica leading now, if any. */
  leader(): string | undefined;
  /** Resolves with the first replica that leads (now or later). */
  untilLeader(): Promise<string>;
  /** Resolves once `identity` leads. */
  untilLeads(identity: string): Promise<void>;
  /** Lets the scene run for a while, so the timeline shows the steady state. */
  settle(): Promise<void>;
  /** Every leadership term so far. */
  terms(): LeaderTerm[];
  now(): number;
  say(text: string): void;
}

/** Oldest first, as the coordinator's OldestEmulationVersion strategy ranks them. */
function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The candidate the coordinator should pick among `candidates`: the oldest version. */
export function oldestCandidate(candidates: readonly CoordinatedCandidate[]): CoordinatedCandidate {
  return [...candidates].sort((a, b) => compareVersions(a.version, b.version))[0]!;
}

/** Runs the scene; see the module comment. */
export async function runCoordinatedScene(
  stage: CoordinatedStage,
  first: readonly CoordinatedCandidate[] = FIRST_CANDIDATES,
  late: CoordinatedCandidate = LATE_CANDIDATE,
): Promise<CoordinatedRecord> {
  const all = [...first, late];
  stage.say(`coordinated: starting ${first.map((c) => `${c.identity} (emulation version ${c.version})`).join(' and ')}; the coordinator picks the holder`);
  for (const c of first) await stage.addCandidate(c);
  stage.startCoordinator();
  const expected = oldestCandidate(first);
  const leader = await stage.untilLeader();
  stage.say(
    leader === expected.identity
      ? `coordinated: the coordinator named ${leader} (${expected.version}), the oldest of ${first.map((c) => c.version).join(' and ')}`
      : `coordinated: ${leader} leads, not ${expected.identity}, the oldest (${expected.version})!`,
  );
  await stage.settle();

  const startAt = stage.now();
  stage.say(`coordinated: starting ${late.identity} (emulation version ${late.version}), older still: the coordinator should prefer it and ${stage.leader() ?? 'the holder'} should yield`);
  await stage.addCandidate(late);
  await stage.untilLeads(late.identity);
  const endAt = stage.now();
  const count = countLeadership(stage.terms(), startAt, endAt);
  stage.say(`coordinated: ${late.identity} leads ${formatDuration(endAt - startAt)} after it was started; leaderless ${formatDuration(count.leaderlessMs)} in the handover`);
  const led = new Set(stage.terms().map((t) => t.identity));
  return {
    versions: Object.fromEntries(all.map((c) => [c.identity, c.version])),
    oldest: late.identity,
    neverLed: all.filter((c) => !led.has(c.identity)).map((c) => c.identity),
    startAt,
    endAt,
    ...count,
  };
}

/** The scene's lines for the closing summary. */
export function coordinatedSummaryLines(c: CoordinatedRecord): string[] {
  const versions = Object.entries(c.versions)
    .map(([identity, version]) => `${identity} ${version}`)
    .join(', ');
  return [
    `coordinated (${versions}): after ${c.oldest} joined, ${c.changes} leadership change${c.changes === 1 ? '' : 's'}, leaderless ${formatDuration(c.leaderlessMs)} in all; led in turn: ${c.leaders.join(' > ') || 'nobody'}`,
    `coordinated: never led: ${c.neverLed.join(', ') || 'nobody'}`,
  ];
}
