/**
 * The contract's rule for paths that reach main's file system (its absolutePath schema), checked in the
 * renderer first so a form can say what is wrong next to the field instead of after a round trip.
 */

/** The longest path the contract accepts. */
export const MAX_PATH_LENGTH = 4096

/** Absolute on POSIX, a drive letter or a UNC share on Windows; non-empty, bounded, without NUL bytes. */
export function isAbsolutePath(path: string): boolean {
  return (
    path.length > 0 &&
    path.length <= MAX_PATH_LENGTH &&
    !path.includes('\0') &&
    (path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(path) || path.startsWith('\\\\'))
  )
}
