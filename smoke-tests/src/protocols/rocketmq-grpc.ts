/**
 * The gRPC side of RocketMQ 5 (rocketmq-client-nodejs 1.0.8), what the client lacks or gets wrong
 * for the smoke test: acks of a whole received batch in one request per broker, a shutdown that
 * really stops the client, and a logger that writes nothing.
 */
import { EventEmitter } from 'node:events';
import type { MessageView, Producer, SimpleConsumer } from 'rocketmq-client-nodejs';
import { StatusChecker } from 'rocketmq-client-nodejs';
import definitionPb from 'rocketmq-client-nodejs/proto/apache/rocketmq/v2/definition_pb.js';
import servicePb from 'rocketmq-client-nodejs/proto/apache/rocketmq/v2/service_pb.js';
import { bestEffort } from '../contract/deadline.ts';

/** gRPC request timeout of the client (its minimum is 1000). */
export const REQUEST_TIMEOUT_MILLIS = 5_000;

/** No client log files or console output: errors surface through the result. */
export const quietLogger = { info() {}, warn() {}, error() {}, debug() {}, close() {} };

/** The broker (endpoint) a received message came from: the smoke run's order lane. */
export function laneOf(m: MessageView): string {
  const e = m.endpoints as unknown as { facade?: string } | undefined;
  return e?.facade ?? '';
}

/**
 * Acks a received batch in one AckMessageRequest per broker (the client's own `ack` sends one
 * request per message); every entry's status is checked.
 */
export async function ackAll(consumer: SimpleConsumer, group: string, msgs: MessageView[]): Promise<void> {
  const byBroker = new Map<string, MessageView[]>();
  for (const m of msgs) {
    const k = laneOf(m);
    const list = byBroker.get(k);
    if (list) list.push(m);
    else byBroker.set(k, [m]);
  }
  await Promise.all(
    [...byBroker.values()].map(async (list) => {
      const first = list[0] as MessageView;
      const req = new servicePb.AckMessageRequest()
        .setGroup(new definitionPb.Resource().setName(group))
        .setTopic(new definitionPb.Resource().setName(first.topic));
      for (const m of list) req.addEntries().setMessageId(m.messageId).setReceiptHandle(m.receiptHandle);
      const res = await consumer.ackMessageViaRpc(first.endpoints, req, REQUEST_TIMEOUT_MILLIS);
      const o = res.toObject();
      StatusChecker.check(o.status);
      for (const e of o.entriesList) StatusChecker.check(e.status);
    }),
  );
}

/**
 * Shuts a client down for good. rocketmq-client-nodejs 1.0.8 leaks when the proxy is gone: its
 * telemetry stream reopens itself every second forever (also after shutdown), and shutdown stops
 * before closing its channels when the termination notice fails. So the client gets an inert
 * telemetry stream factory first, and its channels are closed whatever shutdown did.
 */
export async function closeClient(client: Producer | SimpleConsumer): Promise<void> {
  const internals = client as unknown as {
    createTelemetryStream: () => unknown;
    rpcClientManager?: { close(): void };
  };
  internals.createTelemetryStream = () =>
    Object.assign(new EventEmitter(), {
      write: () => true,
      end: () => {},
    });
  await bestEffort(client.shutdown(), 2000);
  try {
    internals.rpcClientManager?.close();
  } catch {
    // already closed
  }
}
