import { k8sValidator } from './support/k8s-openapi.ts';
import { render } from '../src/render/render.ts';
const v = k8sValidator();
console.log('kinds', v.kinds);
for (const replicas of [1, 3]) {
  const r = render({ apiVersion: 'mqop.dev/v1alpha1', kind: 'MessageQueue', metadata: { name: 'cache', namespace: 'shop', uid: 'u1' }, spec: { engine: 'redis', replicas, networkPolicy: {enabled: true} } }, { credentials: { username: 'default', password: 'p@ss' } });
  for (const o of r.objects) console.log(o.kind, o.metadata.name, v.validate(o));
}
console.log(v.validate({apiVersion:'apps/v1', kind:'StatefulSet', metadata:{name:'x'}, spec:{bogus:1}} as never));
