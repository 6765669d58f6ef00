import { ArchiverError } from './archiver-error.js';

/** One problem in the config file, located by its path (`sources[2].params.runIds`). */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** The config file or command line is unusable; the process exits 2 before anything starts. */
export class ConfigError extends ArchiverError {
  readonly issues: readonly ConfigIssue[];

  constructor(message: string, issues: readonly ConfigIssue[] = [], cause?: unknown) {
    super(message, { code: 'ERR_CONFIG', hint: 'fix the config file and start again', cause });
    this.issues = issues;
  }
}
