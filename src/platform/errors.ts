// Words for the errno codes that reach the user (a file that cannot be read, an address that
// cannot be bound), written in one place. Node's own message repeats the code, the system call and
// the path ("ENOENT: no such file or directory, open '/etc/x'"); our messages name the path
// themselves, so they want only the words.

/** The `code` of a Node system error or of our coded errors (limits.ts codedError), if any. */
export function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

// strerror(3)'s words, shortened where the message around them says the rest (ENOENT: the message
// names the file).
const ERRNO_WORDS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  EEXIST: 'already exists',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in system',
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'no such local address',
};

/**
 * What went wrong, in words: "permission denied", "address already in use". `words` replaces the
 * words of a code where the context knows better (an event log's ENOENT is a missing directory).
 * An error without a known code gives its message, less the `CODE: ` prefix and `, syscall 'path'`
 * suffix Node adds to system errors; a non-Error gives its text.
 */
export function errnoWords(error: unknown, words: Readonly<Record<string, string>> = {}): string {
  const code = errorCode(error);
  if (code !== undefined) {
    const known = words[code] ?? ERRNO_WORDS[code];
    if (known !== undefined) return known;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (code === undefined || !isSystemError(error)) return message;
  return message.replace(new RegExp(`^${code}: `), '').replace(/, \w+( '.*')?( -> '.*')?$/, '');
}

/** `EROFS: read-only file system`: the words with the code first, for messages an operator may search for. */
export function errnoDetail(error: unknown): string {
  const code = errorCode(error);
  return code === undefined ? errnoWords(error) : `${code}: ${errnoWords(error)}`;
}

// Node's system errors carry the failed call (open, bind, spawn…); our coded errors do not, and
// their message is already ours.
function isSystemError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'syscall' in error && typeof error.syscall === 'string';
}

/**
 * The address a server must listen on cannot be had: in use, not an address of this host, or a
 * privileged port. A condition of the host at run time, not a mistake on the command line.
 */
export class ListenError extends Error {
  override name = 'ListenError';
}

/** A file the command must write (an event log) cannot be created or opened. */
export class OutputFileError extends Error {
  override name = 'OutputFileError';
}
