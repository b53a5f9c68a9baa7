// Validates rendered Kubernetes objects against the API schemas that kubernetes-models ships
// (the Kubernetes OpenAPI definitions compiled with Ajv; types, required fields, formats and
// enums; like the API server's own schemas they do not refuse unknown fields) and the
// PrometheusRule CRD schema of prometheus-operator. Offline: the schemas are in node_modules.
import { ConfigMap, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';

interface Validating {
  validate(): void;
}
type ModelClass = new (data: never) => Validating;

const MODELS: Record<string, ModelClass> = {};
for (const model of [ConfigMap, PersistentVolumeClaim, Secret, Service, Deployment, StatefulSet, HorizontalPodAutoscaler, NetworkPolicy, PodDisruptionBudget, PrometheusRule]) {
  MODELS[`${model.apiVersion}/${model.kind}`] = model as unknown as ModelClass;
}

/** Throws naming the object and the schema error; an apiVersion/kind without a schema here is an error too. */
export function validateObject(obj: Record<string, unknown>): void {
  const id = `${String(obj.apiVersion)}/${String(obj.kind)}`;
  const name = (obj.metadata as { name?: string } | undefined)?.name ?? '?';
  const Model = MODELS[id];
  if (!Model) throw new Error(`${id} ${name}: no schema for this apiVersion/kind (add it to test/ops/k8s-schemas.ts)`);
  try {
    new Model(obj as never).validate();
  } catch (err) {
    throw new Error(`${id} ${name} does not validate: ${(err as Error).message}`, { cause: err });
  }
}
