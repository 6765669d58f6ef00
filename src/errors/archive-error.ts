import { ArchiverError } from './archiver-error.js';

/**
 * Storage lacks or contradicts what was committed (a manifest or object the checkpoint cache or a
 * digest names is gone or altered, or the chain has a hole): the source stops and archives nothing
 * over the damage until an operator acknowledges it.
 */
export class ArchiveTamperedError extends ArchiverError {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`source ${source}: archive damaged: ${problems.join('; ')}`, {
      code: 'ERR_ARCHIVE_TAMPERED',
      retryable: false,
      hint: `run \`log-archiver verify\` to see the damage; once investigated, \`log-archiver acknowledge -c <config> --source ${source} --reason "<why>"\` records the loss in the chain and lets the source continue`,
    });
  }
}

/** Another writer created the same chain entry first: this one's object is discarded and the drain re-reads the head. */
export class CommitConflictError extends ArchiverError {
  constructor(
    readonly source: string,
    readonly seq: number,
  ) {
    super(`source ${source}: entry #${seq} was committed by another writer first`, {
      code: 'ERR_COMMIT_CONFLICT',
      retryable: true,
      hint: 'another drain (or another deployment) archives this source too; the drain continues from its commit',
    });
  }
}

/** The archive prefix belongs to another deployment (another coordination state). */
export class ArchiveOwnedError extends ArchiverError {
  constructor(
    readonly owner: string,
    readonly deployment: string,
    location: string,
    since: string,
  ) {
    super(`${location} belongs to deployment "${owner}" (since ${since}); this one is "${deployment}"`, {
      code: 'ERR_ARCHIVE_OWNED',
      retryable: false,
      hint:
        'two deployments with separate leases on one prefix is usually a mistake (a cron copy beside the workers, a staging config). ' +
        'To move the archive to this deployment deliberately, stop the other one and run `log-archiver handover -c <config> --reason "<why>"`; ' +
        'to let both write (safe: storage arbitrates every commit), give both the same checkpoints.deployment',
    });
  }
}

/** Storage holds keys of a layout this version does not read (or cannot trust). */
export class ArchiveFormatError extends ArchiverError {
  constructor(message: string, hint: string) {
    super(message, { code: 'ERR_ARCHIVE_FORMAT', retryable: false, hint });
  }
}
