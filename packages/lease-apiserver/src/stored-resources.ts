/**
 * The coordination.k8s.io resources the server keeps in testing-kit stores (Leases in the
 * LeaseStore, LeaseCandidates in the CandidateStore), seen through one interface, so that one
 * handler and one watch path serve both: the store decides, this only adapts names and shapes.
 */
import type { LeaseWatchEvent, ObjectMeta } from '@leasekit/k8s-leaderelection';
import {
  CANDIDATE_API_VERSION,
  candidateErrors,
  type CandidateStore,
  type DeleteOptions,
  type GetOptions,
  type LeaseCandidate,
  type LeaseStore,
  type ListOptions,
  type WatchFilter,
  type WatchHandle,
} from '@leasekit/k8s-leaderelection/testing';
import { CANDIDATE_SPEC, LEASE_SPEC } from './fields.js';
import type { PatchFormat } from './http.js';
import { patchLease, patchStored } from './patch.js';
import { candidateTable, leaseTable, type TableOptions } from './table.js';

/** A stored object, as far as the server looks into it. */
export interface StoredObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

/** A list as the stores answer it. */
export interface StoredList {
  apiVersion: string;
  kind: string;
  metadata: { resourceVersion: string };
  items: StoredObject[];
}

/** One write's result. */
export interface StoredWrite {
  object: StoredObject;
  created: boolean;
}

/** A resource kept in a testing-kit store. */
export interface StoredResource {
  /** The plural, as in URLs, RBAC and Status details. */
  readonly resource: 'leases' | 'leasecandidates';
  readonly apiVersion: string;
  readonly kind: string;
  /** Prefix of the strict-decoding errors of fieldValidation (`Lease in version "v1" ...: `). */
  readonly decodeContext: string;
  /** The fields of its spec (others are unknown fields, see `fields.ts`). */
  readonly specFields: ReadonlySet<string>;
  /** The store's current resourceVersion. */
  resourceVersion(): string;
  get(namespace: string, name: string, options: GetOptions): StoredObject;
  list(namespace: string | undefined, options: ListOptions): StoredList;
  create(namespace: string, body: unknown): StoredObject;
  update(namespace: string, name: string, body: unknown): StoredWrite;
  patch(namespace: string, name: string, patch: unknown, format: PatchFormat): StoredWrite;
  delete(namespace: string, name: string, options: DeleteOptions): StoredObject;
  watch(filter: WatchFilter, listener: (event: LeaseWatchEvent) => void, onClose: () => void): WatchHandle;
  table(items: readonly StoredObject[], options: TableOptions): object;
}

/** Leases (coordination.k8s.io/v1) in a LeaseStore. */
export function leaseResource(store: LeaseStore): StoredResource {
  return {
    resource: 'leases',
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    decodeContext: 'Lease in version "v1" cannot be handled as a Lease: ',
    specFields: LEASE_SPEC,
    resourceVersion: () => store.resourceVersion,
    get: (namespace, name, options) => store.get(namespace, name, options),
    list: (namespace, options) => store.list(namespace, options),
    create: (namespace, body) => store.create(namespace, body),
    update: (namespace, name, body) => {
      const { lease, created } = store.update(namespace, name, body);
      return { object: lease, created };
    },
    patch: (namespace, name, patch, format) => {
      const { lease, created } = patchLease(store, namespace, name, patch, format);
      return { object: lease, created };
    },
    delete: (namespace, name, options) => store.delete(namespace, name, options),
    watch: (filter, listener, onClose) => store.watch(filter, listener, onClose),
    table: (items, options) => leaseTable(items, options),
  };
}

/** LeaseCandidates (coordination.k8s.io/v1beta1) in a CandidateStore. */
export function candidateResource(store: CandidateStore): StoredResource {
  return {
    resource: 'leasecandidates',
    apiVersion: CANDIDATE_API_VERSION,
    kind: 'LeaseCandidate',
    decodeContext: 'LeaseCandidate in version "v1beta1" cannot be handled as a LeaseCandidate: ',
    specFields: CANDIDATE_SPEC,
    resourceVersion: () => store.resourceVersion,
    get: (namespace, name, options) => store.get(namespace, name, options),
    list: (namespace, options) => store.list(namespace, options),
    create: (namespace, body) => store.create(namespace, body),
    update: (namespace, name, body) => {
      const { candidate, created } = store.update(namespace, name, body);
      return { object: candidate, created };
    },
    patch: (namespace, name, patch, format) => {
      const empty: LeaseCandidate = { apiVersion: CANDIDATE_API_VERSION, kind: 'LeaseCandidate', metadata: { name, namespace } };
      const { candidate, created } = patchStored(
        { current: store.peek(namespace, name), empty, notFound: () => candidateErrors.notFound(name), write: (patched, via) => store.update(namespace, name, patched, { via }) },
        patch,
        format,
      );
      return { object: candidate, created };
    },
    delete: (namespace, name, options) => store.delete(namespace, name, options),
    watch: (filter, listener, onClose) => store.watch(filter, listener as (event: unknown) => void, onClose),
    table: (items, options) => candidateTable(items as LeaseCandidate[], options),
  };
}
