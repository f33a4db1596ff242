/**
 * A small RocketMQ admin client over the remoting protocol (rocketmq-remoting.ts), what
 * `mqadmin` does for the smoke test: the cluster's master brokers, create/delete a topic, delete
 * a subscription group, and the route and config queries the tests use to check for leftovers.
 */
import { SmokeError } from '../contract/errors.ts';
import {
  ADMIN_TIMEOUT_MILLIS,
  type Credentials,
  parseRocketJson,
  RemotingConnection,
  RemotingError,
  type RemotingResponse,
  RequestCode,
  SUCCESS,
  TOPIC_NOT_EXIST,
} from './rocketmq-remoting.ts';

/** Master broker addresses of a cluster (or of every cluster) from a cluster info body. */
export function mastersOf(clusterInfoBody: Buffer, cluster?: string): string[] {
  const info = parseRocketJson(clusterInfoBody.toString('utf8')) as {
    brokerAddrTable?: Record<
      string,
      { cluster?: string; brokerName?: string; brokerAddrs?: Record<string, string> }
    >;
    clusterAddrTable?: Record<string, string[]>;
  };
  const table = info.brokerAddrTable ?? {};
  let names: string[];
  if (cluster) {
    const inCluster = info.clusterAddrTable?.[cluster];
    if (!inCluster) {
      const known = Object.keys(info.clusterAddrTable ?? {}).join(', ') || 'none';
      throw new SmokeError(
        'protocol',
        `cluster "${cluster}" is not known to the name server (known: ${known})`,
      );
    }
    names = inCluster;
  } else {
    names = Object.keys(table);
  }
  const out: string[] = [];
  for (const n of names) {
    const master = table[n]?.brokerAddrs?.['0'];
    if (master) out.push(master);
  }
  return out;
}

/** Where the admin client sends requests: name servers (`host:port` each) and the cluster. */
export interface AdminEndpoints {
  namesrv: string[];
  /** Only this cluster's master brokers (every cluster's otherwise). */
  cluster?: string;
}

/** A small admin client: name servers (unsigned) and brokers (signed), one connection each. */
export class RocketmqAdmin {
  private readonly endpoints: AdminEndpoints;
  private readonly creds?: Credentials;
  private readonly conns = new Map<string, Promise<RemotingConnection>>();
  private closed = false;

  constructor(endpoints: AdminEndpoints, creds?: Credentials) {
    this.endpoints = endpoints;
    if (creds) this.creds = creds;
  }

  private conn(addr: string, timeoutMillis: number): Promise<RemotingConnection> {
    if (this.closed) return Promise.reject(new SmokeError('timeout', 'admin client closed'));
    let c = this.conns.get(addr);
    if (!c) {
      c = RemotingConnection.open(addr, timeoutMillis);
      c.catch(() => this.conns.delete(addr));
      this.conns.set(addr, c);
    }
    return c;
  }

  /** A name server request, tried on each name server until one answers. */
  async namesrv(
    code: number,
    fields: Record<string, string>,
    alsoOk: number[] = [],
  ): Promise<RemotingResponse> {
    let last: unknown;
    for (const addr of this.endpoints.namesrv) {
      try {
        return await (await this.conn(addr, ADMIN_TIMEOUT_MILLIS)).call(code, fields, this.creds, alsoOk);
      } catch (e) {
        if (e instanceof RemotingError) throw e;
        last = e;
      }
    }
    throw last;
  }

  /** A signed request to one broker. */
  async broker(addr: string, code: number, fields: Record<string, string>): Promise<RemotingResponse> {
    return (await this.conn(addr, ADMIN_TIMEOUT_MILLIS)).call(code, fields, this.creds);
  }

  /** The cluster's master brokers, from the first name server that answers. */
  async masters(): Promise<string[]> {
    const r = await this.namesrv(RequestCode.GET_BROKER_CLUSTER_INFO, {});
    const masters = mastersOf(r.body, this.endpoints.cluster);
    if (!masters.length) {
      throw new SmokeError(
        'protocol',
        `no master broker registered${this.endpoints.cluster ? ` in cluster "${this.endpoints.cluster}"` : ''}`,
      );
    }
    return masters;
  }

  /** Creates (or updates) a NORMAL topic on one master broker. */
  createTopic(broker: string, topic: string, queues: number): Promise<RemotingResponse> {
    return this.broker(broker, RequestCode.UPDATE_AND_CREATE_TOPIC, {
      topic,
      defaultTopic: 'TBW102',
      readQueueNums: String(queues),
      writeQueueNums: String(queues),
      perm: '6',
      topicFilterType: 'SINGLE_TAG',
      topicSysFlag: '0',
      order: 'false',
      attributes: '+message.type=NORMAL',
      force: 'false',
    });
  }

  deleteTopicInBroker(broker: string, topic: string): Promise<RemotingResponse> {
    return this.broker(broker, RequestCode.DELETE_TOPIC_IN_BROKER, { topic });
  }

  deleteGroup(broker: string, group: string): Promise<RemotingResponse> {
    return this.broker(broker, RequestCode.DELETE_SUBSCRIPTIONGROUP, {
      groupName: group,
      cleanOffset: 'true',
    });
  }

  /** Removes a topic's route from every name server (each one separately: they share nothing). */
  async deleteTopicInNamesrvs(topic: string): Promise<void> {
    const fields: Record<string, string> = { topic };
    if (this.endpoints.cluster) fields.clusterName = this.endpoints.cluster;
    await Promise.all(
      this.endpoints.namesrv.map(async (addr) =>
        (await this.conn(addr, ADMIN_TIMEOUT_MILLIS)).call(
          RequestCode.DELETE_TOPIC_IN_NAMESRV,
          fields,
          this.creds,
        ),
      ),
    );
  }

  /** Whether a name server has a route for the topic. */
  async topicRouteExists(topic: string): Promise<boolean> {
    const r = await this.namesrv(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic }, [TOPIC_NOT_EXIST]);
    return r.code === SUCCESS;
  }

  /** Topic names a broker knows. */
  async brokerTopics(broker: string): Promise<string[]> {
    const r = await this.broker(broker, RequestCode.GET_ALL_TOPIC_CONFIG, {});
    const body = parseRocketJson(r.body.toString('utf8')) as { topicConfigTable?: Record<string, unknown> };
    return Object.keys(body.topicConfigTable ?? {});
  }

  /** Subscription group names a broker knows. */
  async brokerGroups(broker: string): Promise<string[]> {
    const r = await this.broker(broker, RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG, {});
    const body = parseRocketJson(r.body.toString('utf8')) as {
      subscriptionGroupTable?: Record<string, unknown>;
    };
    return Object.keys(body.subscriptionGroupTable ?? {});
  }

  close(): void {
    this.closed = true;
    for (const c of this.conns.values()) c.then((x) => x.close()).catch(() => {});
    this.conns.clear();
  }
}
