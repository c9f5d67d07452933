import { buildPolicy } from '../config/build-policy.js';
import { ConfigError } from '../config/config-error.js';
import type { NotifierConfig } from '../config/parse-config.js';
import type { Policy } from '../core/policy.js';
import { readRegularFile } from '../platform/bounded-read.js';
import { CONFIG_LIMIT_BYTES } from '../platform/limits.js';
import { errnoWords } from '../platform/errors.js';
import type { CommonOptions } from './parse-command-line.js';

/** The policy in force for a command: its --config file (if any) and its threshold flags. */
export async function loadPolicy(options: CommonOptions): Promise<Policy> {
  return (await loadSettings(options)).policy;
}

/** The policy and the notifiers of the --config file. */
export async function loadSettings(options: CommonOptions): Promise<{ policy: Policy; notifiers: NotifierConfig[] }> {
  let config;
  if (options.configPath !== undefined) {
    let text: string;
    try {
      // A regular file of at most 1 MiB: a FIFO or /dev/zero as --config must not hang or fill memory.
      text = (await readRegularFile(options.configPath, CONFIG_LIMIT_BYTES)).toString('utf8');
    } catch (error) {
      throw new ConfigError(`cannot read config file ${options.configPath}: ${errnoWords(error)}`, { cause: error });
    }
    // Loaded only for a config file: the parser brings the YAML and zod libraries.
    const { parseConfig } = await import('../config/parse-config.js');
    config = parseConfig(text, options.configPath);
  }
  const overrides = { warning: options.warning, critical: options.critical, ...(options.preset ? { preset: options.preset } : {}) };
  return { policy: buildPolicy(config, overrides), notifiers: config?.notifiers ?? [] };
}
