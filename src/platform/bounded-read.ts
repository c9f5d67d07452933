import { constants, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { codedError, interruptedError, readLimitError } from './limits.js';

// Reading a whole file, but only a regular one and only up to a limit. /dev/zero never ends and
// `--input /dev/zero` grew to 6 GB; opening a FIFO blocks until a writer comes, which may be never.
// O_NONBLOCK makes open() return at once for a FIFO (it changes nothing for a regular file), and
// fstat on the opened file — not stat on the name — decides, so the name cannot be swapped between.

/** O_NONBLOCK where it exists (not on Windows, which has no FIFOs to hang on); O_NOCTTY: a terminal given as a file never becomes ours. */
export const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0);
const CHUNK_BYTES = 1024 * 1024;

/** What a path that is not a regular file is, as fstat says (and the file reader's worker reports). */
export interface NotFileKind {
  directory: boolean;
  fifo: boolean;
  characterDevice: boolean;
  blockDevice: boolean;
  socket: boolean;
}

/** `a FIFO`, `a character device`…: what a path that is not a regular file is, for messages. */
export function kindName(kind: NotFileKind): string {
  return kind.directory ? 'a directory' : kind.fifo ? 'a FIFO' : kind.characterDevice ? 'a character device' : kind.blockDevice ? 'a block device' : kind.socket ? 'a socket' : 'not a regular file';
}

export function kindOfStats(info: Stats): NotFileKind {
  return { directory: info.isDirectory(), fifo: info.isFIFO(), characterDevice: info.isCharacterDevice(), blockDevice: info.isBlockDevice(), socket: info.isSocket() };
}

/** EISDIR for a directory, else ENOTFILE naming the kind (a FIFO, a character device…). */
export function notFileError(kind: NotFileKind): Error {
  if (kind.directory) return codedError('EISDIR', 'is a directory');
  return codedError('ENOTFILE', `is ${kindName(kind)}, not a regular file; tcpdwell reads regular files only`);
}

/** Throws notFileError unless `info` is a regular file. /proc tables are regular files (of size 0). */
export function assertRegularFile(info: Stats): void {
  if (info.isFile()) return;
  throw notFileError(kindOfStats(info));
}

/**
 * A regular file's bytes, at most `maxBytes` of them. Rejects with the open error (ENOENT,
 * EACCES…), EISDIR, ENOTFILE, EFBIG (larger than maxBytes, by its size or as read: /proc files
 * say size 0), or EINTERRUPTED when `signal` aborts between reads.
 */
export async function readRegularFile(path: string, maxBytes: number, signal?: AbortSignal): Promise<Buffer> {
  if (signal?.aborted) throw interruptedError();
  const handle = await open(path, OPEN_FLAGS);
  try {
    const info = await handle.stat();
    assertRegularFile(info);
    if (info.size > maxBytes) throw readLimitError('larger than', maxBytes);
    const chunks: Buffer[] = [];
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    let total = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw readLimitError('larger than', maxBytes);
      if (signal?.aborted) throw interruptedError();
      // A copy: procfs hands over a page per read, and a 1 MiB buffer kept per page would waste 256 times the text.
      chunks.push(Buffer.from(buffer.subarray(0, bytesRead)));
    }
    return Buffer.concat(chunks, total);
  } finally {
    await handle.close();
  }
}
