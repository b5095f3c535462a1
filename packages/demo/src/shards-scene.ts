/**
 * `pnpm demo --shards N`: M replica processes share N shard Leases. The scene: start M replicas and
 * wait until the set is balanced; SIGKILL the replica holding the most shards and wait until the
 * others have taken its shards (after their leases expired); start one more replica and wait until
 * the others have handed it its share (directed handovers); then stop everyone one by one. Each
 * phase counts its moves (against the fewest any fair placement needs), the longest time a shard
 * was led by nobody, and the API requests. The checks: never two holders of one shard (by the
 * replicas' events), every shard led at the end, floor/ceil balance after every phase.
 *
 * The scene talks to the processes through {@link ShardsStage} (implemented by run-shards.ts), so
 * its steps, counting and checks are tested with a made-up stage.
 */
import type { ShardLedger } from './shard-ledger.js';
import { heldCounts } from './shard-tracker.js';
import { formatTable } from './summary.js';
import { formatDuration } from './timeline.js';

/** What the scene needs from the run. */
export interface ShardsStage {
  /** The replicas' events so far (kept up to date by the run). */
  readonly ledger: ShardLedger;
  /** Forks a replica and resolves once its component runs. */
  addReplica(identity: string): Promise<void>;
  /** SIGKILLs a replica and resolves once its process has exited (and the ledger knows). */
  kill(identity: string): Promise<void>;
  /** Resolves true once the set has stood balanced over `live` for the quiet period, false after the bound. */
  untilBalanced(live: readonly string[]): Promise<boolean>;
  /** Prints the set's picture now. */
  picture(live: readonly string[]): void;
  /** Stops the replicas one by one (SIGTERM): each hands its shards to the others, the last releases them. */
  stopAll(live: readonly string[]): Promise<void>;
  /** Lease API requests the server answered so far. */
  requests(): number;
  now(): number;
  say(text: string): void;
}

/** One phase, counted. */
export interface ShardsPhase {
  readonly name: 'start' | 'crash' | 'join';
  readonly event: string;
  readonly live: readonly string[];
  readonly startAt: number;
  readonly endAt: number;
  /** Balanced (floor/ceil, every shard held by a live replica) for the quiet period before the bound. */
  readonly balanced: boolean;
  /** Holder changes from one replica to another in the phase. */
  readonly moves: number;
  /** The fewest any fair placement needs: the crashed replica's shards, the joiner's floor share. */
  readonly minimumMoves: number;
  /** The longest time a shard that had been led was led by nobody, for gaps that ended in the phase (0: none). */
  readonly maxUnownedMs: number;
  readonly requests: number;
  /** Shards each live replica held at the phase's end. */
  readonly held: Record<string, number>;
}

/** One of the scene's checks. */
export interface ShardsCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** The whole scene. */
export interface ShardsResult {
  readonly shards: number;
  readonly phases: ShardsPhase[];
  readonly checks: ShardsCheck[];
  readonly requests: number;
}

/** Replica names: `replica-1`, `replica-2`, ... */
const nameOf = (i: number): string => `replica-${i}`;

/** Runs the scene with `replicas` replicas at the start; see the module comment. */
export async function runShardsScene(stage: ShardsStage, replicas: number): Promise<ShardsResult> {
  const { ledger } = stage;
  const shards = ledger.shards;
  const requestsAtStart = stage.requests();
  const phases: ShardsPhase[] = [];
  let live = Array.from({ length: replicas }, (_, i) => nameOf(i + 1));

  const phase = async (name: ShardsPhase['name'], event: string, startAt: number, minimumMoves: number): Promise<ShardsPhase> => {
    const requestsBefore = stage.requests();
    const balanced = await stage.untilBalanced(live);
    const endAt = stage.now();
    stage.picture(live);
    const gaps = ledger.unownedGaps().filter((g) => g.to >= startAt && g.to <= endAt);
    const result: ShardsPhase = {
      name,
      event,
      live,
      startAt,
      endAt,
      balanced,
      moves: ledger.tracker.movesSince(startAt).filter((m) => m.at <= endAt).length,
      minimumMoves,
      maxUnownedMs: Math.max(0, ...gaps.map((g) => g.to - g.from)),
      requests: stage.requests() - requestsBefore,
      held: Object.fromEntries(heldCounts(ledger.holders, live)),
    };
    stage.say(phaseLine(result, shards));
    phases.push(result);
    return result;
  };

  // start: every replica at once, on free shard Leases.
  stage.say(`starting ${replicas} replicas on ${shards} free shards: each should end with ${shareText(shards, replicas)}`);
  const startAt = stage.now();
  await Promise.all(live.map((identity) => stage.addReplica(identity)));
  await phase('start', `${replicas} replicas started`, startAt, 0);

  // crash: SIGKILL the replica holding the most shards; its leases must expire first.
  const victim = [...live].sort((a, b) => ledger.heldBy(b).length - ledger.heldBy(a).length)[0]!;
  const victimShards = ledger.heldBy(victim);
  stage.say(`SIGKILL ${victim}, holding shards ${victimShards.join(' ') || 'none'}: it can neither renew nor hand them over, so they are free only when their leases expire`);
  const killAt = stage.now();
  live = live.filter((id) => id !== victim);
  await stage.kill(victim);
  await phase('crash', `${victim} killed (SIGKILL)`, killAt, victimShards.length);

  // join: one more replica; the others hand it its share by directed handover.
  const joiner = nameOf(replicas + 1);
  live = [...live, joiner];
  stage.say(`starting ${joiner}: the others hand it its share (${shareText(shards, live.length)} each) by directed handover, one shard per handover interval per giver`);
  await stage.addReplica(joiner);
  const joinAt = stage.now();
  await phase('join', `${joiner} joined`, joinAt, Math.floor(shards / live.length));
  const endHolders = [...ledger.holders];

  stage.say('stopping the replicas one by one (SIGTERM): each hands its shards to the others, the last one releases them');
  await stage.stopAll(live);
  const overlaps = ledger.overlaps(stage.now());
  const unheld = endHolders.flatMap((h, s) => (live.includes(h) ? [] : [s]));
  const checks: ShardsCheck[] = [
    {
      name: 'never two holders of one shard (by the replicas’ shard.acquired / shard.lost)',
      ok: overlaps.length === 0,
      detail: overlaps.length === 0 ? `${ledger.terms.length} terms, none overlapping` : overlaps.map((o) => `shard ${o.shard}: ${o.first.identity} and ${o.second.identity}`).join('; '),
    },
    { name: 'every shard led at the end', ok: unheld.length === 0, detail: unheld.length === 0 ? `${shards} of ${shards}` : `not led: ${unheld.join(' ')}` },
    ...phases.map((p) => ({
      name: `balanced after ${p.name} (floor/ceil of ${shards}/${p.live.length})`,
      ok: p.balanced,
      detail: Object.values(p.held).join(' '),
    })),
  ];
  return { shards, phases, checks, requests: stage.requests() - requestsAtStart };
}

/** `3 shards` or `2 or 3 shards`. */
function shareText(shards: number, replicas: number): string {
  const floor = Math.floor(shards / replicas);
  const ceil = Math.ceil(shards / replicas);
  return floor === ceil ? `${floor} shard${floor === 1 ? '' : 's'}` : `${floor} or ${ceil} shards`;
}

/** The phase in one line, as the timeline prints it. */
function phaseLine(p: ShardsPhase, shards: number): string {
  const took = formatDuration(p.endAt - p.startAt);
  return (
    `${p.name}: ${p.balanced ? `balanced (${Object.values(p.held).join(' ')}), ${took} after the ${p.name === 'start' ? 'first fork' : p.name === 'crash' ? 'kill' : 'joiner started'} (quiet period included)` : `NOT balanced over ${p.live.length} replicas within the bound`}; ` +
    `${p.moves} move${p.moves === 1 ? '' : 's'} (minimum ${p.minimumMoves}), longest unowned ${p.maxUnownedMs > 0 ? formatDuration(p.maxUnownedMs) : 'none'}, ${p.requests} requests; ${shards} shards`
  );
}

/** The closing summary: a table of the phases, the totals and the checks. */
export function shardsSummaryLines(r: ShardsResult): string[] {
  const rows = r.phases.map((p) => [
    p.name,
    p.event,
    String(p.live.length),
    `${p.moves} (${p.minimumMoves})`,
    p.maxUnownedMs > 0 ? formatDuration(p.maxUnownedMs) : '-',
    String(p.requests),
    Object.values(p.held).join(' '),
  ]);
  const moves = r.phases.reduce((n, p) => n + p.moves, 0);
  const maxUnowned = Math.max(0, ...r.phases.map((p) => p.maxUnownedMs));
  return [
    ...formatTable(['phase', 'event', 'live', 'moves (minimum)', 'longest unowned', 'requests', 'held at the end'], rows),
    '',
    `shards: ${r.shards}; moves ${moves}; longest a led shard went unowned: ${maxUnowned > 0 ? formatDuration(maxUnowned) : 'none'}; Lease API requests ${r.requests}`,
    ...r.checks.map((c) => `check: ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`),
  ];
}
