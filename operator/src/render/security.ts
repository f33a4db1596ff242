/**
 * Security contexts that pass the Pod Security "restricted" profile: non-root, no privilege
 * escalation, all capabilities dropped, RuntimeDefault seccomp. Each engine passes the uid/gid its
 * image runs as, so volumes are writable through fsGroup.
 */
import type { k8s } from 'cdk8s-plus-34';

export function restrictedPodSecurityContext(uid: number, gid = uid): k8s.PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: gid,
    fsGroup: gid,
    fsGroupChangePolicy: 'OnRootMismatch',
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

export function restrictedContainerSecurityContext(readOnlyRootFilesystem = true): k8s.SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}
