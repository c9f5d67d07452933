// Its own module, so that the exit codes and a run without --config do not load the YAML and zod
// libraries of the config file's parser (a tenth of a second at each one-shot start).

export class ConfigError extends Error {
  override name = 'ConfigError';
}
