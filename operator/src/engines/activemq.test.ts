import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MessageQueue, MessageQueueSpec } from '../api/types.ts';
import { renderContext } from '../render/context.ts';
import { type K8sObject, render } from '../render/render.ts';
import { activemqSize, activemqXml, byteCount, propertiesEscape, xmlAttr } from './activemq.ts';

const cr = (spec: Partial<MessageQueueSpec> = {}): MessageQueue => ({
  apiVersion: 'mqop.dev/v1alpha1',
  kind: 'MessageQueue',
  metadata: { name: 'orders', namespace: 'shop', uid: 'u-1' },
  spec: { ...spec, engine: 'activemq' },
});
const PASSWORD = 'pä$$ w:rd=#1&<x>';
const inputs = { credentials: { username: 'mqop', password: PASSWORD } };

// biome-ignore lint/suspicious/noExplicitAny: rendered objects are plain JSON
type Any = any;
const objects = (spec: Partial<MessageQueueSpec> = {}, inp = inputs) => render(cr(spec), inp).objects;
const find = (objs: K8sObject[], kind: string, name: string): Any => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} rendered`);
  return o;
};
const sts = (objs: K8sObject[]) => find(objs, 'StatefulSet', 'orders-activemq');
const broker = (objs: K8sObject[]) => sts(objs).spec.template.spec.containers[0];
const xml = (objs: K8sObject[]): string =>
  find(objs, 'ConfigMap', 'orders-activemq-config').data['activemq.xml'];
const secretText = (o: Any, key: string) => Buffer.from(o.data[key], 'base64').toString('utf8');

test('renders one broker StatefulSet, two Services, a ConfigMap and Secrets; no PDB for one replica', () => {
  const objs = objects();
  const kinds = objs.map((o) => `${o.kind}/${o.metadata.name}`).sort();
  assert.deepEqual(kinds, [
    'ConfigMap/orders-activemq-config',
    'Secret/orders-activemq-config-secret',
    'Secret/orders-connection',
    'Service/orders-activemq',
    'Service/orders-activemq-headless',
    'StatefulSet/orders-activemq',
  ]);
  assert.equal(sts(objs).spec.replicas, 1);
  assert.equal(sts(objs).spec.serviceName, 'orders-activemq-headless');
  for (const o of objs) assert.equal((o.metadata.ownerReferences as Any[])[0].uid, 'u-1');
});

test('spells out the launcher, paths and JVM options instead of relying on the image', () => {
  const c = broker(objects());
  assert.deepEqual(c.command.slice(0, 2), ['sh', '-c']);
  assert.match(
    c.command[2],
    /exec \/opt\/apache-activemq\/bin\/activemq console xbean:file:\/etc\/activemq\/activemq\.xml$/,
  );
  const env = Object.fromEntries(c.env.map((e: Any) => [e.name, e.value]));
  assert.equal(env.ACTIVEMQ_CONF, '/etc/activemq');
  assert.equal(env.ACTIVEMQ_DATA, '/var/lib/activemq');
  assert.equal(env.ACTIVEMQ_TMP, '/tmp');
  assert.match(env.ACTIVEMQ_OPTS_MEMORY, /-XX:MaxRAMPercentage=/);
  // The image bakes ACTIVEMQ_OPTS with conf/ paths: ours must replace it and reuse the memory options.
  assert.match(env.ACTIVEMQ_OPTS, /^\$\(ACTIVEMQ_OPTS_MEMORY\) /);
  assert.match(env.ACTIVEMQ_OPTS, /-Djava\.security\.auth\.login\.config=\/etc\/activemq\/login\.config/);
  const names = c.env.map((e: Any) => e.name);
  assert.ok(
    names.indexOf('ACTIVEMQ_OPTS_MEMORY') < names.indexOf('ACTIVEMQ_OPTS'),
    'dependent env var comes later',
  );
  const mounts = Object.fromEntries(c.volumeMounts.map((m: Any) => [m.mountPath, m]));
  assert.equal(mounts['/var/lib/activemq'].name, 'data');
  assert.equal(mounts['/etc/activemq'].readOnly, true);
  assert.ok(mounts['/tmp']);
});

test('passes the restricted profile with a read-only root filesystem', () => {
  const pod = sts(objects()).spec.template.spec;
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(pod.securityContext.runAsUser, 1000);
  assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
  assert.equal(pod.automountServiceAccountToken, false);
  const sc = pod.containers[0].securityContext;
  assert.equal(sc.allowPrivilegeEscalation, false);
  assert.equal(sc.readOnlyRootFilesystem, true);
  assert.deepEqual(sc.capabilities.drop, ['ALL']);
  for (const v of pod.volumes) assert.equal(v.hostPath, undefined);
});

test('probes: startup and readiness on AMQP, liveness on OpenWire; resources have no CPU limit', () => {
  const c = broker(objects());
  assert.equal(c.startupProbe.tcpSocket.port, 5672);
  assert.equal(c.readinessProbe.tcpSocket.port, 5672);
  assert.equal(c.livenessProbe.tcpSocket.port, 61616);
  assert.ok(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold >= 300);
  assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory);
  assert.equal(c.resources.limits.cpu, undefined);
  const over = broker(objects({ resources: { limits: { memory: '4Gi' } } }));
  assert.equal(over.resources.limits.memory, '4Gi');
});

test('Services expose OpenWire and AMQP; the headless one is for stable pod DNS', () => {
  const objs = objects({ service: { type: 'LoadBalancer' } });
  const ports = (s: Any) => s.spec.ports.map((p: Any) => `${p.name}:${p.port}`).sort();
  const headless = find(objs, 'Service', 'orders-activemq-headless');
  assert.equal(headless.spec.clusterIP, 'None');
  assert.deepEqual(ports(headless), ['amqp:5672', 'openwire:61616']);
  const client = find(objs, 'Service', 'orders-activemq');
  assert.equal(client.spec.type, 'LoadBalancer');
  assert.deepEqual(ports(client), ['amqp:5672', 'openwire:61616']);
});

test('persistent storage is a claim template; ephemeral is an emptyDir that KahaDB still writes to', () => {
  const persistent = sts(objects({ storage: { size: '20Gi', storageClassName: 'fast' } }));
  const claim = persistent.spec.volumeClaimTemplates[0];
  assert.equal(claim.metadata.name, 'data');
  assert.equal(claim.spec.resources.requests.storage, '20Gi');
  assert.equal(claim.spec.storageClassName, 'fast');
  assert.ok(!persistent.spec.template.spec.volumes.some((v: Any) => v.name === 'data'));

  const objs = objects({ storage: { ephemeral: true } });
  const eph = sts(objs);
  assert.equal(eph.spec.volumeClaimTemplates, undefined);
  assert.deepEqual(
    eph.spec.template.spec.volumes.find((v: Any) => v.name === 'data'),
    { name: 'data', emptyDir: { sizeLimit: '8Gi' } },
  );
  assert.match(xml(objs), /persistent="true"/);
  assert.match(xml(objs), /<kahaDB directory="\/var\/lib\/activemq\/kahadb"\/>/);
});

test('activemq.xml: AMQP and OpenWire connectors, JAAS, admin group on every destination, no web console', () => {
  const x = xml(objects());
  assert.match(
    x,
    /<transportConnector name="amqp" uri="amqp:\/\/0\.0\.0\.0:5672\?maximumConnections=1000&amp;wireFormat\.maxFrameSize=104857600"\/>/,
  );
  assert.match(x, /<transportConnector name="openwire" uri="tcp:\/\/0\.0\.0\.0:61616\?/);
  assert.doesNotMatch(x, /stomp|mqtt|ws:\/\//);
  assert.match(x, /<jaasAuthenticationPlugin configuration="activemq"\/>/);
  assert.match(x, /<authorizationEntry queue="&gt;" read="admins" write="admins" admin="admins"\/>/);
  assert.match(x, /<authorizationEntry topic="&gt;" read="admins" write="admins" admin="admins"\/>/);
  assert.match(x, /<tempDestinationAuthorizationEntry read="admins"/);
  assert.doesNotMatch(x, /jetty/);
  assert.match(x, /createConnector="false"/);
  assert.match(x, /schedulerSupport="false"/);
  assert.match(x, /advisorySupport="true"/);
  assert.match(x, /<memoryUsage percentOfJvmHeap="70"\/>/);
  // Store and temp default to 70% and 20% of the 8Gi default volume.
  assert.match(x, /<storeUsage limit="5734 mb"\/>/);
  assert.match(x, /<tempUsage limit="1638 mb"\/>/);
  const sized = xml(objects({ storage: { size: '10Gi' } }));
  assert.match(sized, /<storeUsage limit="7168 mb"\/>/);
  assert.match(sized, /<tempUsage limit="2048 mb"\/>/);
});

test('spec.config is merged into activemq.xml', () => {
  const x = xml(
    objects({
      config: {
        memoryLimit: '512Mi',
        storeLimit: '20 gb',
        tempLimit: '2Gi',
        schedulerSupport: 'true',
        advisorySupport: 'false',
        maxConnections: '50',
        maxFrameSize: '1Mi',
      },
    }),
  );
  assert.match(x, /<memoryUsage limit="512 mb"\/>/);
  assert.match(x, /<storeUsage limit="20 gb"\/>/);
  assert.match(x, /<tempUsage limit="2 gb"\/>/);
  assert.match(x, /schedulerSupport="true"/);
  assert.match(x, /advisorySupport="false"/);
  const uris = [...x.matchAll(/uri="([^"]*)"/g)].map((m) => m[1]);
  assert.equal(uris.length, 2);
  for (const u of uris)
    assert.match(u ?? '', /\?maximumConnections=50&amp;wireFormat\.maxFrameSize=1048576$/);
});

test('every user value is XML-escaped', () => {
  const evil = '1" foo="<&>\'';
  const x = xml(objects({ config: { memoryLimit: evil, schedulerSupport: evil, maxConnections: evil } }));
  assert.doesNotMatch(x, /foo="/);
  assert.match(x, /<memoryUsage limit="1&quot; foo=&quot;&lt;&amp;&gt;&apos;"\/>/);
  assert.match(x, /schedulerSupport="1&quot; foo=&quot;&lt;&amp;&gt;&apos;"/);
  // In a URI the value is percent-encoded first, then XML-escaped.
  assert.match(x, /maximumConnections=1%22%20foo%3D%22%3C%26%3E&apos;&amp;/);
  assert.equal(xmlAttr(`a&b<c>"d'`), 'a&amp;b&lt;c&gt;&quot;d&apos;');
});

test('credentials live only in Secrets: not in a ConfigMap, the pod spec or the config hash', () => {
  const objs = objects();
  for (const o of objs.filter((x) => x.kind === 'ConfigMap')) {
    const text = JSON.stringify(o);
    assert.ok(!text.includes(PASSWORD), `password in ${o.metadata.name}`);
    assert.ok(!text.includes('mqop='), `username in ${o.metadata.name}`);
  }
  assert.ok(!JSON.stringify(sts(objs)).includes(PASSWORD));
  const s = find(objs, 'Secret', 'orders-activemq-config-secret');
  assert.equal(secretText(s, 'users.properties'), 'mqop=p\\u00e4$$ w:rd=#1&<x>\n');
  assert.equal(secretText(s, 'groups.properties'), 'admins=mqop\n');
  // The pods mount the Secret next to the ConfigMap, where login.config looks for the files.
  const vol = sts(objs).spec.template.spec.volumes.find((v: Any) => v.name === 'config');
  assert.deepEqual(
    vol.projected.sources.map((src: Any) => src.configMap?.name ?? src.secret?.name),
    ['orders-activemq-config', 'orders-activemq-config-secret'],
  );
  const login = find(objs, 'ConfigMap', 'orders-activemq-config').data['login.config'];
  assert.match(login, /baseDir="\/etc\/activemq"/);
  assert.match(login, /reload="true"/);
});

test('the config hash rolls pods on config changes, not on password rotation (JAAS reloads it)', () => {
  const hash = (spec: Partial<MessageQueueSpec>, inp = inputs) =>
    sts(objects(spec, inp)).spec.template.metadata.annotations['mqop.dev/config-hash'];
  const base = hash({});
  assert.match(base, /^[0-9a-f]{16}$/);
  assert.notEqual(hash({ config: { maxConnections: '10' } }), base);
  assert.equal(hash({}, { credentials: { username: 'mqop', password: 'rotated' } }), base);
});

test('properties escaping survives separators, whitespace, backslashes and non-ASCII', () => {
  assert.equal(propertiesEscape('a b=c:d#e!f', true), 'a\\ b\\=c\\:d\\#e\\!f');
  assert.equal(propertiesEscape(' x=y \\z', false), '\\ x=y \\\\z');
  assert.equal(propertiesEscape('#x', false), '\\#x');
  assert.equal(propertiesEscape('ü😀\n', false), '\\u00fc\\ud83d\\ude00\\n');
});

test('size helpers: Kubernetes quantities become ActiveMQ sizes or byte counts', () => {
  assert.equal(activemqSize('512Mi'), '512 mb');
  assert.equal(activemqSize('2Gi'), '2 gb');
  assert.equal(activemqSize('1Ti'), '1024 gb');
  assert.equal(activemqSize('100 mb'), '100 mb');
  assert.equal(byteCount('100 mb'), String(100 * 2 ** 20));
  assert.equal(byteCount('64Ki'), '65536');
  assert.equal(byteCount('1048576'), '1048576');
  assert.equal(byteCount('lots'), 'lots');
});

test('endpoint and binding: AMQP on the client Service, OpenWire as an extra, credentials URL-encoded', () => {
  const objs = objects();
  const conn = find(objs, 'Secret', 'orders-connection');
  assert.equal(conn.type, 'servicebinding.io/activemq');
  const host = 'orders-activemq.shop.svc.cluster.local';
  assert.equal(secretText(conn, 'host'), host);
  assert.equal(secretText(conn, 'port'), '5672');
  assert.equal(secretText(conn, 'uri'), `amqp://mqop:${encodeURIComponent(PASSWORD)}@${host}:5672`);
  assert.equal(secretText(conn, 'openwire.url'), `tcp://${host}:61616`);
  const ctx = renderContext(cr(), inputs);
  assert.deepEqual(ctx.endpoint, { host, port: 5672, url: `amqp://${host}:5672` });
});

test('rendering is deterministic', () => {
  const spec: Partial<MessageQueueSpec> = { config: { memoryLimit: '1Gi', maxFrameSize: '1 mb' } };
  assert.equal(JSON.stringify(render(cr(spec), inputs)), JSON.stringify(render(cr(spec), inputs)));
  assert.equal(activemqXml(renderContext(cr(spec), inputs)), activemqXml(renderContext(cr(spec), inputs)));
});
