/**
 * Leader election on a coordination.k8s.io/v1 Lease, with the usual 15 s lease, 10 s renew
 * deadline and 2 s retry period. Writes use the Lease's resourceVersion, so two candidates cannot
 * both win. A leader that cannot renew within the deadline steps down (the caller exits), so a
 * partitioned replica never keeps reconciling next to a new leader.
 */
import type { Logger } from '../telemetry/logger.ts';
import { ApiError, type KubeClient, type KubeObject } from './kube-client.ts';
import { LEASE } from './resources.ts';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  renewDeadlineSeconds?: number;
  retryPeriodSeconds?: number;
}

type Lease = KubeObject & {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
};

/** Kubernetes MicroTime: RFC 3339 with microseconds. */
const microTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export class LeaderElector {
  private readonly client: KubeClient;
  private readonly log: Logger;
  private readonly o: Required<LeaderElectionOptions>;
  private timer?: NodeJS.Timeout;
  private leading = false;
  private lastRenew = 0;
  private stopped = false;

  constructor(client: KubeClient, log: Logger, opts: LeaderElectionOptions) {
    this.client = client;
    this.log = log;
    this.o = { leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2, ...opts };
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Campaigns until stopped; calls `onLead` once on winning, `onLost` once on losing. */
  start(onLead: () => void, onLost: () => void): void {
    const tick = async () => {
      if (this.stopped) return;
      try {
        const won = await this.tryAcquireOrRenew();
        if (won) {
          this.lastRenew = Date.now();
          if (!this.leading) {
            this.leading = true;
            this.log.info({ lease: this.o.name, identity: this.o.identity }, 'became leader');
            onLead();
          }
        }
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'leader election: could not reach the lease');
      }
      if (this.leading && Date.now() - this.lastRenew > this.o.renewDeadlineSeconds * 1000) {
        this.leading = false;
        this.log.error({ lease: this.o.name }, 'lost leadership: could not renew within the deadline');
        onLost();
        return;
      }
      if (!this.stopped) {
        this.timer = setTimeout(tick, this.o.retryPeriodSeconds * 1000);
      }
    };
    void tick();
  }

  /** Stops campaigning and, if leading, gives the lease up so a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.client.get<Lease>(LEASE, this.o.namespace, this.o.name);
      if (lease.spec?.holderIdentity === this.o.identity) {
        await this.client.update({
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: undefined,
            leaseDurationSeconds: 1,
            renewTime: microTime(new Date(0)),
          },
        } as Lease);
      }
    } catch {
      // best effort: the lease expires by itself
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    const lease = await this.client.getOrUndefined<Lease>(LEASE, this.o.namespace, this.o.name);
    const spec = {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: this.o.leaseDurationSeconds,
      renewTime: microTime(now),
    };
    if (!lease) {
      try {
        await this.client.create({
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.o.name, namespace: this.o.namespace },
          spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 },
        } as Lease);
        return true;
      } catch (e) {
        if (e instanceof ApiError && e.status === 409) return false;
        throw e;
      }
    }
    const holder = lease.spec?.holderIdentity;
    const renewed = lease.spec?.renewTime ? Date.parse(lease.spec.renewTime) : 0;
    const duration = (lease.spec?.leaseDurationSeconds ?? this.o.leaseDurationSeconds) * 1000;
    const expired = !holder || renewed + duration < now.getTime();
    if (holder !== this.o.identity && !expired) return false;
    const takeover = holder !== this.o.identity;
    try {
      await this.client.update({
        ...lease,
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        spec: {
          ...lease.spec,
          ...spec,
          ...(takeover
            ? { acquireTime: microTime(now), leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1 }
            : {}),
        },
      } as Lease);
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) return false;
      throw e;
    }
  }
}
