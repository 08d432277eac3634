// What the manifests checks share: the schema models by apiVersion/kind, the hardening rules
// every pod keeps, and what a component's image and settings are.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PodMonitor, PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { DaemonSet, Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Pod, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { type K8sObject, repoRoot } from './render.ts';

/** A validator for each kind the manifests and examples use (kubernetes-models' JSON schemas). */
export const models: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Pod': Pod,
  'batch/v1/Job': Job,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'apps/v1/DaemonSet': DaemonSet,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

/**
 * The components under manifests/components/ that add a multipod container to a user's workload
 * (Deployment, StatefulSet, DaemonSet) chosen by the label multipod.io/<component>: "true".
 */
export const REUSE_COMPONENTS = [
  'ambassador-inbound',
  'ambassador-outbound',
  'content-sync',
  'content-sync-init',
  'log-adapter',
  'log-adapter-syslog',
  'pod-monitor',
] as const;
export type ReuseComponent = (typeof REUSE_COMPONENTS)[number];

/** Validates an object against its kind's schema; throws naming the object when there is none. */
export function validate(obj: K8sObject): void {
  const Model = models[`${obj.apiVersion}/${obj.kind}`];
  if (!Model) throw new Error(`no schema model for ${obj.apiVersion} ${obj.kind}`);
  new Model(obj as never).validate();
}

// biome-ignore lint/suspicious/noExplicitAny: container specs from rendered YAML
export type Container = any;

/** Every way a pod breaks the hardening rules, as readable lines (empty = hardened). */
export function hardeningProblems(pod: K8sObject): string[] {
  const problems: string[] = [];
  const spec = pod.spec;
  const podSc = spec.securityContext ?? {};
  const sidecarInit = (c: Container) => c.restartPolicy === 'Always';
  const containers: [Container, 'container' | 'init' | 'native-sidecar'][] = [
    ...(spec.initContainers ?? []).map(
      (c: Container) => [c, sidecarInit(c) ? 'native-sidecar' : 'init'] as const,
    ),
    ...spec.containers.map((c: Container) => [c, 'container'] as const),
  ];
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC) problems.push('uses a host namespace');
  for (const s of podSc.sysctls ?? []) {
    if (!['net.ipv4.ip_unprivileged_port_start', 'net.ipv4.ping_group_range'].includes(s.name)) {
      problems.push(`sysctl ${s.name} is not in Kubernetes' safe set`);
    }
  }
  for (const v of spec.volumes ?? []) {
    if (v.hostPath) problems.push(`volume ${v.name}: hostPath`);
    if (v.emptyDir && !v.emptyDir.sizeLimit) problems.push(`emptyDir ${v.name}: no sizeLimit`);
  }
  for (const [c, role] of containers) {
    const sc = c.securityContext ?? {};
    const at = `${role} ${c.name}`;
    if ((sc.runAsNonRoot ?? podSc.runAsNonRoot) !== true) problems.push(`${at}: runAsNonRoot is not true`);
    if ((sc.runAsUser ?? podSc.runAsUser) === 0) problems.push(`${at}: runAsUser 0`);
    if ((sc.seccompProfile ?? podSc.seccompProfile)?.type !== 'RuntimeDefault') {
      problems.push(`${at}: seccompProfile is not RuntimeDefault`);
    }
    if (sc.readOnlyRootFilesystem !== true) problems.push(`${at}: readOnlyRootFilesystem is not true`);
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${at}: allowPrivilegeEscalation is not false`);
    if (sc.privileged) problems.push(`${at}: privileged`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push(`${at}: capabilities.drop lacks ALL`);
    if ((sc.capabilities?.add ?? []).length > 0) problems.push(`${at}: adds capabilities`);
    for (const kind of ['requests', 'limits'] as const) {
      for (const res of ['cpu', 'memory']) {
        if (!c.resources?.[kind]?.[res]) problems.push(`${at}: no resources.${kind}.${res}`);
      }
    }
    // A container that runs to completion (init, or the app of a Job's pod) has nothing to probe.
    const runsToCompletion = role === 'init' || (role === 'container' && spec.restartPolicy === 'Never');
    if (!runsToCompletion) {
      if (!c.livenessProbe) problems.push(`${at}: no livenessProbe`);
      if (!c.readinessProbe) problems.push(`${at}: no readinessProbe`);
    }
    const image: string = c.image ?? '';
    const ref = image.split('@')[0] ?? '';
    const tag = ref.includes(':') && !ref.endsWith(']') ? ref.slice(ref.lastIndexOf(':') + 1) : '';
    if (!image.includes('@sha256:') && (tag === '' || tag.includes('/')))
      problems.push(`${at}: image ${image} has no tag`);
    if (tag === 'latest') problems.push(`${at}: image ${image} uses latest`);
  }
  return problems;
}

/**
 * The pods a set of objects runs: its Pods, and the pod template of each Job, Deployment,
 * StatefulSet and DaemonSet (named after its owner).
 */
export function podsOf(objects: K8sObject[]): K8sObject[] {
  return objects.flatMap((o) => {
    if (o.kind === 'Pod') return [o];
    if (['Job', 'Deployment', 'StatefulSet', 'DaemonSet'].includes(o.kind))
      return [
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {
            name: o.metadata.name,
            labels: o.spec.template.metadata?.labels,
            annotations: o.spec.template.metadata?.annotations,
          },
          spec: o.spec.template.spec,
        },
      ];
    return [];
  });
}

/** Setting names a component reads, from its src/config.ts (`env: 'WEB_ROOT'`) and the shared ones. */
export function settingsOf(component: string): Set<string> {
  const text = readFileSync(join(repoRoot, 'packages', component, 'src/config.ts'), 'utf8');
  const names = new Set([...text.matchAll(/env:\s*'([A-Z0-9_]+)'/g)].map((m) => m[1] ?? ''));
  const prefix = /commonSettings\('([A-Z]+)'\)/.exec(text)?.[1];
  if (prefix) for (const s of ['LOG_LEVEL', 'SHUTDOWN_TIMEOUT']) names.add(`${prefix}_${s}`);
  return names;
}

/** A component's version, as its package.json says: the tag its image is released under. */
export function version(component: string): string {
  return (
    JSON.parse(readFileSync(join(repoRoot, 'packages', component, 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
}
