/** Process exit codes, as DESIGN.md fixes them. */
export const EXIT_OK = 0;
/** A source failed (the others still ran), or verify found damage. */
export const EXIT_FAILED = 1;
/** Usage or config error: nothing was started. */
export const EXIT_USAGE = 2;
