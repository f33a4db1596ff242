import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ClaimLike, MAX_DETAIL, type PodLike, podProblem } from './pods.ts';

// Pod statuses as the kubelet and scheduler write them (trimmed of timestamps and ids).
const crashLooping: PodLike = {
  metadata: { name: 'orders-redis-0' },
  spec: { volumes: [{ persistentVolumeClaim: { claimName: 'data-orders-redis-0' } }, {}] },
  status: {
    conditions: [
      { type: 'PodReadyToStartContainers', status: 'True' },
      { type: 'Initialized', status: 'True' },
      {
        type: 'Ready',
        status: 'False',
        reason: 'ContainersNotReady',
        message: 'containers with unready status: [redis]',
      },
      { type: 'PodScheduled', status: 'True' },
    ],
    containerStatuses: [
      {
        name: 'redis',
        image: 'docker.io/library/redis:7.4.6',
        ready: false,
        restartCount: 5,
        state: {
          waiting: {
            reason: 'CrashLoopBackOff',
            message: 'back-off 2m40s restarting failed container=redis pod=orders-redis-0_shop(0b1c)',
          },
        },
        lastState: {
          terminated: {
            exitCode: 1,
            reason: 'Error',
            message:
              "*** FATAL CONFIG FILE ERROR (Redis 7.4.6) ***\nReading the configuration file, at line 3\n>>> 'maxmemory-policy nope'\nArgument 'nope' is not a valid value\n",
          },
        },
      },
    ],
  },
};

const unschedulable: PodLike = {
  metadata: { name: 'orders-kafka-1' },
  status: {
    conditions: [
      {
        type: 'PodScheduled',
        status: 'False',
        reason: 'Unschedulable',
        message:
          '0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.',
      },
    ],
  },
};

const imagePull = (reason: string, message: string): PodLike => ({
  metadata: { name: 'orders-rabbitmq-0' },
  status: {
    conditions: [{ type: 'PodScheduled', status: 'True' }],
    initContainerStatuses: [
      {
        name: 'copy-cookie',
        image: 'registry.example/rabbitmq:4.1.404',
        ready: false,
        restartCount: 0,
        state: { waiting: { reason, message } },
      },
    ],
    containerStatuses: [
      {
        name: 'rabbitmq',
        image: 'registry.example/rabbitmq:4.1.404',
        ready: false,
        restartCount: 0,
        state: { waiting: { reason: 'PodInitializing' } },
      },
    ],
  },
});

const claim = (name: string, phase: string, storageClassName?: string): ClaimLike => ({
  metadata: { name },
  spec: { storageClassName },
  status: { phase },
});

describe('podProblem', () => {
  test('CrashLoopBackOff names the container, restarts, the last exit and its message on one line', () => {
    assert.deepEqual(podProblem([crashLooping]), {
      reason: 'CrashLoopBackOff',
      message:
        "pod orders-redis-0: CrashLoopBackOff: container redis restarted 5 times, last exit 1 (Error): *** FATAL CONFIG FILE ERROR (Redis 7.4.6) *** Reading the configuration file, at line 3 >>> 'maxmemory-policy nope' Argument 'nope' is not a valid value",
    });
  });

  test('a long termination message is cut', () => {
    const long = structuredClone(crashLooping);
    const c = long.status?.containerStatuses?.[0];
    if (c?.lastState?.terminated) c.lastState.terminated.message = 'x'.repeat(5000);
    const p = podProblem([long]);
    assert.ok(p);
    assert.ok(p.message.length < MAX_DETAIL + 120, `${p.message.length}`);
    assert.ok(p.message.endsWith('…'));
  });

  test('Unschedulable carries the scheduler’s message', () => {
    assert.deepEqual(podProblem([unschedulable]), {
      reason: 'Unschedulable',
      message:
        'pod orders-kafka-1: Unschedulable: 0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.',
    });
  });

  test('image pulls: the init container counts, with the image and the kubelet’s message', () => {
    assert.deepEqual(
      podProblem([
        imagePull('ImagePullBackOff', 'Back-off pulling image "registry.example/rabbitmq:4.1.404"'),
      ]),
      {
        reason: 'ImagePullBackOff',
        message:
          'pod orders-rabbitmq-0: ImagePullBackOff: container copy-cookie image registry.example/rabbitmq:4.1.404: Back-off pulling image "registry.example/rabbitmq:4.1.404"',
      },
    );
    const err = podProblem([
      imagePull(
        'ErrImagePull',
        'failed to pull and unpack image "registry.example/rabbitmq:4.1.404": not found',
      ),
    ]);
    assert.equal(err?.reason, 'ErrImagePull');
    assert.match(err?.message ?? '', /not found$/);
    assert.equal(podProblem([imagePull('InvalidImageName', 'bad')])?.reason, 'ErrImagePull');
  });

  test('a Pending claim: ClaimPending with its storage class, whether or not the scheduler spoke', () => {
    const pending: PodLike = {
      metadata: { name: 'orders-redis-0' },
      spec: { volumes: [{ persistentVolumeClaim: { claimName: 'data-orders-redis-0' } }] },
      status: {},
    };
    assert.deepEqual(podProblem([pending], [claim('data-orders-redis-0', 'Pending', 'fast-ssd')]), {
      reason: 'ClaimPending',
      message:
        'pod orders-redis-0: ClaimPending: PersistentVolumeClaim data-orders-redis-0 is Pending (storage class fast-ssd)',
    });
    const told = structuredClone(pending);
    told.status = {
      conditions: [
        {
          type: 'PodScheduled',
          status: 'False',
          reason: 'Unschedulable',
          message: '0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims.',
        },
      ],
    };
    assert.match(
      podProblem([told], [claim('data-orders-redis-0', 'Pending')])?.message ?? '',
      /ClaimPending: PersistentVolumeClaim data-orders-redis-0 is Pending \(no storage class\)$/,
    );
    // A bound claim: the scheduler's verdict stands; no claims and no verdict: nothing to say.
    assert.equal(podProblem([told], [claim('data-orders-redis-0', 'Bound')])?.reason, 'Unschedulable');
    assert.equal(podProblem([pending], [claim('data-orders-redis-0', 'Bound')]), undefined);
    assert.equal(podProblem([pending]), undefined);
  });

  test('a pod that is only starting says nothing (the fallback stays ReplicasNotReady)', () => {
    const starting: PodLike = {
      metadata: { name: 'orders-redis-0' },
      status: {
        conditions: [{ type: 'PodScheduled', status: 'True' }],
        containerStatuses: [
          {
            name: 'redis',
            ready: false,
            restartCount: 0,
            state: { waiting: { reason: 'ContainerCreating' } },
          },
        ],
      },
    };
    assert.equal(podProblem([starting]), undefined);
    assert.equal(podProblem([]), undefined);
  });

  test('several pods: the first by name (numeric order) is named, the rest counted', () => {
    const rename = (p: PodLike, name: string) => ({ ...structuredClone(p), metadata: { name } });
    const p = podProblem([
      rename(unschedulable, 'orders-redis-10'),
      rename(crashLooping, 'orders-redis-2'),
      rename(unschedulable, 'orders-redis-3'),
    ]);
    assert.equal(p?.reason, 'CrashLoopBackOff');
    assert.match(p?.message ?? '', /^pod orders-redis-2: CrashLoopBackOff: .*; 2 more pods have problems$/);
    const one = podProblem([rename(unschedulable, 'a-1'), rename(unschedulable, 'a-0')]);
    assert.match(one?.message ?? '', /^pod a-0: .*; 1 more pod has problems$/);
  });

  test('a container the kubelet cannot create (a missing Secret key): CreateContainerError with its message', () => {
    const p = podProblem([
      imagePull('CreateContainerConfigError', "couldn't find key password in Secret shop/orders-credentials"),
    ]);
    assert.equal(p?.reason, 'CreateContainerError');
    assert.match(
      p?.message ?? '',
      /CreateContainerConfigError: couldn't find key password in Secret shop\/orders-credentials$/,
    );
  });
});
