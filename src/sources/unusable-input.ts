/** Thrown by a parser only when the whole input is unusable; single bad lines become problems. */
export class UnusableInputError extends Error {
  override name = 'UnusableInputError';
}
