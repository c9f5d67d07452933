import type { Platform } from '../platform/platform.js';
import { conntrackRecord, linuxNetstatRecord, netlinkRecord, procfsRecord, ssRecord } from './linux/records.js';
import { macosNetstatRecord } from './macos/records.js';
import { systeminformationRecord } from './portable/records.js';
import type { AutoOptions, Availability, InputParser, LiveSource, SourceRecord } from './source-record.js';
import type { SocketSource, SourceOptions } from './source.js';
import { netstatRecord, powershellRecord } from './windows/records.js';

// The source registry: one record per source, kept beside the source's own files. Everything that
// lists sources is derived from here: `--source` and `--input-format` choices, `auto`'s order,
// `tcpdwell sources`, format detection of captures, and the README's sources table
// (scripts/sources-table.ts; a test fails when it drifts). To add a source, see README "Design".

/** Every source, in the order `tcpdwell sources` lists them (live sources), then capture-only formats. */
export const SOURCE_RECORDS = [ssRecord, procfsRecord, netstatRecord, powershellRecord, systeminformationRecord, conntrackRecord, netlinkRecord, linuxNetstatRecord, macosNetstatRecord] as const;

type AnyRecord = (typeof SOURCE_RECORDS)[number];
/** A source that reads this machine: a `--source` name other than auto. */
export type LiveSourceName = Extract<AnyRecord, { live: object }>['name'];
export type SourceChoice = 'auto' | LiveSourceName;
/** A captured table's format: an `--input-format` name. */
export type InputFormat = Extract<AnyRecord, { input: object }>['input']['format'];

export interface LiveRecord extends SourceRecord<LiveSourceName> {
  live: LiveSource;
}

/** Live sources, in registry order. */
export const LIVE_SOURCES: readonly LiveRecord[] = SOURCE_RECORDS.filter((r): r is Extract<AnyRecord, LiveRecord> => 'live' in r);

/** `--source` choices. */
export const SOURCE_NAMES: readonly SourceChoice[] = ['auto', ...LIVE_SOURCES.map((r) => r.name)];

const INPUT_PARSERS: readonly InputParser<InputFormat>[] = SOURCE_RECORDS.flatMap((r): InputParser<InputFormat>[] => ('input' in r ? [r.input] : []));

/** `--input-format` choices, in their documented order. */
export const INPUT_FORMATS: readonly InputFormat[] = [...INPUT_PARSERS].sort((a, b) => a.choiceRank - b.choiceRank).map((p) => p.format);

/** Input parsers in the order detection tries them. */
export const INPUT_DETECTION_ORDER: readonly InputParser<InputFormat>[] = [...INPUT_PARSERS].sort((a, b) => a.detectRank - b.detectRank);

export function liveRecord(name: LiveSourceName): LiveRecord {
  return LIVE_SOURCES.find((r) => r.name === name)!;
}

export function inputParser(format: InputFormat): InputParser<InputFormat> {
  return INPUT_PARSERS.find((p) => p.format === format)!;
}

const OS_NAMES: Record<string, string> = { linux: 'Linux', win32: 'Windows', darwin: 'macOS' };

/** The live sources `auto` tries on this OS, first choice first. */
export function autoRecords(os: string, procRoot: string, options: AutoOptions = {}): LiveRecord[] {
  return LIVE_SOURCES.filter((r) => r.live.auto && (r.live.os === undefined || r.live.os === os) && (r.live.auto.when?.(os, procRoot, options) ?? true)).sort(
    (a, b) => a.live.auto!.rank - b.live.auto!.rank,
  );
}

/** Why a source cannot be used on this OS, or undefined when it can. */
export function wrongOsReason(name: LiveSourceName, os: string): string | undefined {
  const madeFor = liveRecord(name).live.os;
  if (madeFor === undefined || madeFor === os) return undefined;
  const here = autoRecords(os, '/proc').map((r) => r.name);
  return `--source ${name} is made for ${OS_NAMES[madeFor] ?? madeFor}, not ${OS_NAMES[os] ?? os}; here use ${here.map((n) => `--source ${n}`).join(' or ')} (or --input with a capture)`;
}

/** Whether a source can be read here; a source made for another OS is refused, never probed (as `--source` does). */
export function probeSource(name: LiveSourceName, platform: Platform, options: SourceOptions): Promise<Availability> {
  const { live } = liveRecord(name);
  if (live.os !== undefined && live.os !== platform.os) return Promise.resolve({ available: false, reason: live.os === 'linux' ? 'Linux only' : `not on ${platform.os}` });
  return live.probe(platform, options);
}

/** The source `--source auto` settles on here: the first available of its order. */
export function autoChoice(os: string, procRoot: string, available: ReadonlyMap<LiveSourceName, Availability>, options: AutoOptions = {}): LiveSourceName | undefined {
  return autoRecords(os, procRoot, options)
    .map((r) => r.name)
    .find((name) => available.get(name)?.available);
}

/** A source to read through: its record, and the instance `auto` (its own `create`, when it has one) or `--source NAME` reads with. */
export interface LiveCandidate {
  record: LiveRecord;
  source: SocketSource;
}

/** What `auto` tries, richest first, each with a fresh instance. */
export function autoCandidates(os: string, procRoot: string, options: AutoOptions = {}): LiveCandidate[] {
  return autoRecords(os, procRoot, options).map((record) => ({ record, source: record.live.auto?.create?.(options) ?? record.live.create() }));
}
