{{/* Chart name. */}}
{{- define "mqop.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name, prefixed unless it already contains the chart name. */}}
{{- define "mqop.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "mqop.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "mqop.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mqop
{{- end }}

{{/* Labels that select the operator pods. */}}
{{- define "mqop.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mqop.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "mqop.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mqop.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The operator image; also passed as --operator-image for the ZeroMQ proxy and sidecars. */}}
{{- define "mqop.image" -}}
{{- $repo := .Values.image.repository }}
{{- if .Values.image.registry }}
{{- $repo = printf "%s/%s" (trimSuffix "/" .Values.image.registry) .Values.image.repository }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
RBAC rules the operator needs in every namespace it watches (a ClusterRole in cluster-wide mode, a
Role per namespace in namespaced mode). Derived from operator/src/controller/*.ts; the table with
the code path behind each rule is in charts/README.md. No wildcards.
*/}}
{{- define "mqop.watchRules" -}}
# MessageQueues: informers list+watch (informer.ts); the finalizer is added and removed with a JSON
# merge patch of metadata.finalizers (reconciler.ts sync/finalize); get only when a reconcile hits
# 404, to tell "the MessageQueue is gone" from other errors (reconciler.ts reconcile).
- apiGroups: [mqop.dev]
  resources: [messagequeues]
  verbs: [get, list, watch, patch]
# Status: merge patches of the status subresource (reconciler.ts writeStatus, smoke-scheduler.ts).
- apiGroups: [mqop.dev]
  resources: [messagequeues/status]
  verbs: [patch]
# Every owned object carries an ownerReference with blockOwnerDeletion: true (render.ts). Where
# the OwnerReferencesPermissionEnforcement admission plugin is on (OpenShift, hardened clusters)
# setting it requires update on the owner's finalizers subresource.
- apiGroups: [mqop.dev]
  resources: [messagequeues/finalizers]
  verbs: [update]
# Secrets: credentials and internal Secrets are created once (create; get when a create races
# another writer, credentials.ts); the internal Secret gains keys by merge patch; the connection
# Secret is server-side applied (patch); the smoke scheduler reads the connection Secret (get);
# informer (list, watch); prune (delete).
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch, create, patch, delete]
# The other owned kinds (resources.ts OWNED_TYPES): informer (list, watch), a read of a name the
# cache does not hold before applying to it, so that mqop never takes over someone else's object
# (get, steps/ownership.ts), server-side apply (patch; the API server also checks create when the
# applied object does not exist yet), prune (delete).
- apiGroups: [""]
  resources: [configmaps, services]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [apps]
  resources: [statefulsets]
  verbs: [get, list, watch, create, patch, delete]
# Deployments also: get the user's Deployment before patching in a ZeroMQ sidecar (get; the patch
# goes out only when the Deployment's mqop.dev/zeromq-sidecar annotation invites the
# MessageQueue), list Deployments to remove stale sidecars (list), apply the sidecar with its own
# field manager (patch; never create: the user's Deployment must exist).
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch, create, patch, delete]
{{- if .Values.rbac.rabbitmqLegacyDiscovery }}
# rbac.rabbitmqLegacyDiscovery: RabbitMQ < 4.1 gets a ServiceAccount, Role and RoleBinding for its
# peer discovery plugin (rabbitmq.ts legacyDiscoveryRbac); --manage-roles=true watches them.
- apiGroups: [""]
  resources: [serviceaccounts]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [get, list, watch, create, patch, delete]
# RBAC escalation prevention: the API server lets mqop write that Role (get one named Endpoints,
# create Events) and bind it only if mqop itself holds those permissions. So mqop holds
# `endpoints get` for that reason alone; it never reads Endpoints itself. (The alternative, the
# `escalate` and `bind` verbs, would let it grant anything.)
- apiGroups: [""]
  resources: [endpoints]
  verbs: [get]
{{- end }}
# Events about MessageQueues (steps/events.ts): create a new one, patch count and lastTimestamp
# of the same Event again (aggregation). Also needed for the RabbitMQ Role above.
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
# deleteClaim: list the MessageQueue's claims by label and delete them (reconciler.ts finalize);
# the claims and pods informers (list, watch, by the owner label) say why pods are not ready
# (status/pods.ts: Unschedulable, CrashLoopBackOff, ImagePullBackOff, ClaimPending).
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [list, watch, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch]
# finalize reads the MessageQueue's namespace to skip cleanup when it is terminating. In a Role
# this grants get on that one namespace (the API server treats a namespace as inside itself).
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get]
{{- end }}
