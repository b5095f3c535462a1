/**
 * Status errors exactly as the real API server words them for a coordination.k8s.io resource
 * (Leases, LeaseCandidates), and the field-error aggregate their messages print. Shared by the
 * stores and, through the testing entry, by the embedded API server (which answers with the same
 * wording for what it checks itself).
 */
import { ApiError, makeStatus, type KubeStatus } from '../errors.js';

const GROUP = 'coordination.k8s.io';

/** One field error of a 422 Invalid Status. */
export interface Cause {
  reason: string;
  message: string;
  field: string;
}


/**
 * Joins field errors the way the API server's error aggregate prints them: one error alone, several
 * in brackets (`[a: ..., b: ...]`).
 */
export function aggregate(causes: readonly { message: string; field: string }[]): string {
  const parts = causes.map((c) => `${c.field}: ${c.message}`);
  return parts.length === 1 ? parts[0]! : `[${parts.join(', ')}]`;
}

/**
 * Status errors exactly as the real API server words them, for one resource of
 * coordination.k8s.io: `resource` is the plural (`leases`), `kind` the kind (`Lease`).
 */
export function apiErrorsFor(resource: string, kind: string) {
  const QUALIFIED = `${resource}.${GROUP}`;
  const details = (name: string | undefined, extra?: KubeStatus['details']): KubeStatus['details'] => ({
    ...(name !== undefined ? { name } : {}),
    group: GROUP,
    kind: resource,
    ...extra,
  });
  return {
    notFound: (name: string) =>
      new ApiError(makeStatus(404, 'NotFound', `${QUALIFIED} "${name}" not found`, details(name))),
    alreadyExists: (name: string) =>
      new ApiError(makeStatus(409, 'AlreadyExists', `${QUALIFIED} "${name}" already exists`, details(name))),
    conflict: (name: string) =>
      new ApiError(
        makeStatus(
          409,
          'Conflict',
          `Operation cannot be fulfilled on ${QUALIFIED} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          details(name),
        ),
      ),
    preconditionFailed: (name: string, detail: string) =>
      new ApiError(
        makeStatus(409, 'Conflict', `Operation cannot be fulfilled on ${QUALIFIED} "${name}": ${detail}`, details(name)),
      ),
    invalid: (name: string, causes: Cause[]) =>
      new ApiError(
        makeStatus(422, 'Invalid', `${kind}.${GROUP} "${name}" is invalid: ${aggregate(causes)}`, {
          name,
          group: GROUP,
          kind,
          causes,
        }),
      ),
    /**
     * The update-without-resourceVersion error. The API server builds it from the resource, not the
     * kind (a known oddity of its generic registry), so it reads `leases.coordination.k8s.io`.
     */
    resourceVersionRequired: (name: string) => {
      const causes = [{ reason: 'FieldValueInvalid', field: 'metadata.resourceVersion', message: 'Invalid value: 0x0: must be specified for an update' }];
      return new ApiError(
        makeStatus(422, 'Invalid', `${QUALIFIED} "${name}" is invalid: ${aggregate(causes)}`, { name, group: GROUP, kind: resource, causes }),
      );
    },
    /**
     * A patch whose result does not decode as the object: the API server answers 422 with the
     * patched object as the invalid value of a field named `patch`, and no kind or name.
     */
    invalidPatch: (patched: string, reason: string) => {
      const causes = [{ reason: 'FieldValueInvalid', field: 'patch', message: `Invalid value: ${JSON.stringify(patched)}: ${reason}` }];
      return new ApiError(makeStatus(422, 'Invalid', ` "" is invalid: ${aggregate(causes)}`, { causes }));
    },
    /** A resourceVersion that is not an unsigned integer (the API server's ParseResourceVersion). */
    invalidResourceVersion: (rv: string, problem: 'invalid syntax' | 'value out of range') =>
      new ApiError(
        makeStatus(400, 'BadRequest', `invalid resource version: resourceVersion: Invalid value: ${JSON.stringify(rv)}: strconv.ParseUint: parsing ${JSON.stringify(rv)}: ${problem}`),
      ),
    badRequest: (message: string) => new ApiError(makeStatus(400, 'BadRequest', message)),
    gone: (message: string) => new ApiError(makeStatus(410, 'Expired', message)),
    internal: (message: string) => new ApiError(makeStatus(500, 'InternalError', message)),
  };
}

/** The Status errors of `leases.coordination.k8s.io`. */
export const leaseErrors = apiErrorsFor('leases', 'Lease');

/** The Status errors of `leasecandidates.coordination.k8s.io`. */
export const candidateErrors = apiErrorsFor('leasecandidates', 'LeaseCandidate');
