import { describe, expect, it } from '@jest/globals';
import { UsageError, parseDemoArgs } from './options.js';

describe('parseDemoArgs', () => {
  it('defaults to three replicas on the embedded server with short, valid timings', () => {
    const options = parseDemoArgs([]);
    expect(options).toMatchObject({
      replicas: 3,
      leaseDurationMs: 2000,
      renewDeadlineMs: 1500,
      retryPeriodMs: 500,
      followerStrategy: 'watch',
      kubeconfig: undefined,
      inCluster: false,
      namespace: 'default',
      leaseName: 'leasekit-demo',
      prometheus: false,
      rollout: false,
      coordinated: false,
      shards: undefined,
      help: false,
    });
    expect(options.svgPath).toMatch(/leasekit-demo-timeline\.svg$/);
  });

  it('reads every flag', () => {
    const options = parseDemoArgs([
      '--replicas', '5', '--lease-duration-ms', '4000', '--renew-deadline-ms', '3000', '--retry-period-ms', '1000',
      '--follower-strategy', 'poll', '--settle-ms', '100', '--kubeconfig', 'kc.yaml', '--namespace', 'ops',
      '--lease-name', 'my-lease', '--svg', 'out.svg', '--prometheus',
    ]);
    expect(options).toMatchObject({ replicas: 5, leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 1000, followerStrategy: 'poll', settleMs: 100, namespace: 'ops', leaseName: 'my-lease', prometheus: true });
    expect(options.kubeconfig).toMatch(/kc\.yaml$/);
    expect(options.svgPath).toMatch(/out\.svg$/);
  });

  it('refuses fewer than three replicas, since one is killed and one is stopped', () => {
    expect(() => parseDemoArgs(['--replicas', '2'])).toThrow(/--replicas: expected a whole number from 3 to 20/);
  });

  it('refuses timings the elector would refuse, with the elector\'s message', () => {
    expect(() => parseDemoArgs(['--lease-duration-ms', '1000', '--renew-deadline-ms', '1000'])).toThrow(
      /leaseDurationMs \(1000\) must be greater than renewDeadlineMs \(1000\)/,
    );
    expect(() => parseDemoArgs(['--retry-period-ms', '2000'])).toThrow(UsageError);
  });

  it('takes --rollout, but not together with --prometheus (it would scrape only the first replicas)', () => {
    expect(parseDemoArgs(['--rollout']).rollout).toBe(true);
    expect(() => parseDemoArgs(['--rollout', '--prometheus'])).toThrow(/--rollout and --prometheus/);
  });

  it('takes --coordinated on the embedded server, alone among the scenes, with its fixed three replicas', () => {
    expect(parseDemoArgs(['--coordinated']).coordinated).toBe(true);
    expect(() => parseDemoArgs(['--coordinated', '--rollout'])).toThrow(/--coordinated excludes/);
    expect(() => parseDemoArgs(['--coordinated', '--prometheus'])).toThrow(/--coordinated excludes/);
    expect(() => parseDemoArgs(['--coordinated', '--kubeconfig', 'k'])).toThrow(/embedded server/);
    expect(() => parseDemoArgs(['--coordinated', '--in-cluster'])).toThrow(/embedded server/);
    expect(() => parseDemoArgs(['--coordinated', '--replicas', '5'])).toThrow(/--replicas does not apply/);
  });

  it('refuses a kubeconfig together with in-cluster config', () => {
    expect(() => parseDemoArgs(['--kubeconfig', 'x', '--in-cluster'])).toThrow(/exclude each other/);
  });

  it('refuses an unknown follower strategy, an unknown flag and a stray argument', () => {
    expect(() => parseDemoArgs(['--follower-strategy', 'push'])).toThrow(/watch or poll/);
    expect(() => parseDemoArgs(['--replica', '3'])).toThrow(UsageError);
    expect(() => parseDemoArgs(['extra'])).toThrow(UsageError);
  });

  it('refuses a lease name that is not a DNS subdomain', () => {
    expect(() => parseDemoArgs(['--lease-name', 'Not_Valid'])).toThrow(/DNS subdomain/);
  });

  it('takes --shards N, or --shards alone for 12, with four replicas unless --replicas says otherwise', () => {
    expect(parseDemoArgs(['--shards', '16'])).toMatchObject({ shards: 16, replicas: 4 });
    expect(parseDemoArgs(['--shards'])).toMatchObject({ shards: 12, replicas: 4 });
    expect(parseDemoArgs(['--shards', '--replicas', '5'])).toMatchObject({ shards: 12, replicas: 5 });
    expect(parseDemoArgs(['--shards=8'])).toMatchObject({ shards: 8 });
    expect(() => parseDemoArgs(['--shards', '0'])).toThrow(/--shards: expected a whole number from 1 to 100/);
    expect(() => parseDemoArgs(['--shards', '101'])).toThrow(/--shards: expected a whole number from 1 to 100/);
  });

  it('runs --shards alone, on the embedded server, without the flags that do not apply to it', () => {
    expect(() => parseDemoArgs(['--shards', '--rollout'])).toThrow(/--shards excludes/);
    expect(() => parseDemoArgs(['--shards', '--coordinated'])).toThrow(/--shards excludes/);
    expect(() => parseDemoArgs(['--shards', '--prometheus'])).toThrow(/--shards excludes/);
    expect(() => parseDemoArgs(['--shards', '--kubeconfig', 'k'])).toThrow(/embedded server/);
    expect(() => parseDemoArgs(['--shards', '--follower-strategy', 'poll'])).toThrow(/--follower-strategy does not apply/);
    expect(() => parseDemoArgs(['--shards', '--svg', 'x.svg'])).toThrow(/--svg does not apply/);
  });

  it('refuses a set the sharded elector would refuse, with its message (a set name too long for its membership Leases)', () => {
    const longName = Array.from({ length: 4 }, () => 'a'.repeat(60)).join('.');
    expect(parseDemoArgs(['--lease-name', longName]).leaseName).toBe(longName);
    expect(() => parseDemoArgs(['--shards', '--lease-name', longName])).toThrow(/setName/);
  });
});
