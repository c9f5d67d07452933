import type { SocketRow } from '../../core/connection.js';
import type { HostFacts } from '../../core/diagnosis.js';
import { LeftOutTally, type FirstSightScreen } from '../../core/first-sight-screen.js';
import { TcpState } from '../../core/tcp-state.js';
import { firstSightAgeMs } from '../../core/tracker.js';
import type { LeftOutConnections } from '../source.js';
import { AF_INET, MESSAGE_HANDLE_SPAN, SockDiagParser, type MessageScreening, type SockDiagParseOptions } from './parse-sock-diag.js';

// The netlink source's screened reading (ReadRequest.screen, core/first-sight-screen.ts): the
// parser asks this object about each message before making a row. A message the screen passes is
// left out: counted per state (and by peer, for the group findings), its datagram kept (a copy:
// the receive buffers are reused). After the dumps, the kept bytes give the rows still needed —
// each state's possible first (StateFirsts), and, once the host facts are known, every left-out
// socket to a group finding's peer (rowsTo) — read by the same parser code the first pass would
// have used. A flow listed twice whose first listing was left out (a dump is not atomic), or too
// many candidates for a state's first, and every row is made from the kept bytes instead: the
// table the unscreened reading gives. A flow listed twice and kept the first time is a row both
// times, and the tracker keeps the first, as without the screen.

/** Options of the parser that makes rows from the kept bytes: the first pass's, without the screen. */
/** Bytes of each arena retain copies datagrams into (~30 datagrams of the kernel's 32 KiB). */
const ARENA_BYTES = 1 << 20;

export type RowParseOptions = Pick<SockDiagParseOptions, 'littleEndian' | 'uptimeMs' | 'names'>;

export class ScreenedDump implements MessageScreening {
  /** Every datagram read, copied, in order; `dumps` holds each dump's numbers. */
  private readonly datagrams: Uint8Array[] = [];
  private readonly dumps: number[][] = [];
  private readonly tally = new LeftOutTally<number>();
  /** Handles (MESSAGE_HANDLE_SPAN) of the left-out messages, in order. */
  private readonly leftOut: number[] = [];
  /** The flows read, per family (a tcp and a tcp6 row never share a key); made at the first message of each. */
  private readonly flows: (FlowSet | undefined)[] = [undefined, undefined];
  /** A flow listed twice whose first listing was left out: the tracker keeps the first row of a flow, so every row is made. */
  private repeated = false;
  /** A datagram longer than MESSAGE_HANDLE_SPAN was read: from it on, every message is a row. */
  private oversized = false;
  /** Where retain copies datagrams to: `arenaUsed` bytes of `arena` hold earlier ones. */
  private arena = new Uint8Array(0);
  private arenaUsed = 0;

  constructor(private readonly screen: FirstSightScreen) {}

  /** Sockets left out so far (before finish lists some after all). */
  get leftOutCount(): number {
    return this.leftOut.length;
  }

  /** Starts the next dump: one for both families (TCPDIAG_GETSOCK), or one per family where the kernel refused that (netlink.ts). */
  startDump(): void {
    this.dumps.push([]);
  }

  retain(bytes: Uint8Array): number {
    // A copy: Buffer's slice() is a view (the channel hands a Buffer over), and the buffer is reused.
    // Copied into a shared arena, not an array each: one allocation per ARENA_BYTES instead of one
    // zero-filled 32 KiB array per datagram (at 40,000 sockets ~500 of them, and the collections
    // their external memory set off: 45 ms of copying and most of the dump's 80 ms of GC, profiled).
    const length = bytes.byteLength;
    // Past the handle's span an offset would name another datagram's message: none is left out.
    if (length > MESSAGE_HANDLE_SPAN) this.oversized = true;
    if (this.arena.byteLength - this.arenaUsed < length) {
      this.arena = new Uint8Array(Math.max(ARENA_BYTES, length));
      this.arenaUsed = 0;
    }
    const copy = this.arena.subarray(this.arenaUsed, this.arenaUsed + length);
    copy.set(bytes);
    // 8-byte aligned, as a fresh array's bytes are (the parser's DataView reads any offset anyway).
    this.arenaUsed += (length + 7) & ~7;
    this.datagrams.push(copy);
    this.dumps[this.dumps.length - 1]!.push(this.datagrams.length - 1);
    return this.datagrams.length - 1;
  }

  leavesOut(scratch: SocketRow, view: DataView, id: number, family: number, handle: number): boolean {
    const which = family === AF_INET ? 0 : 1;
    const flows = (this.flows[which] ??= which === 0 ? new FlowSet(3, 65_536) : new FlowSet(9, 4_096));
    const earlier = flows.add(view, id, family);
    if (earlier >= 0) {
      // A flow listed twice: both are rows, and the tracker keeps the first, as without the screen
      // (listeners sharing a port with SO_REUSEPORT: never left out). Where the first was left out,
      // every row is made (see finish).
      if (flows.leftOut(earlier)) this.repeated = true;
      return false;
    }
    const state = scratch.state;
    // Every flow read counts towards the peers, listed or not.
    if (state === TcpState.SYN_SENT || state === TcpState.TIME_WAIT) this.tally.peers.add(state, scratch.remote.address, scratch.remote.port);
    if (this.repeated || this.oversized || !this.screen.leavesOut(scratch)) return false;
    flows.markLeftOut(flows.size - 1);
    this.tally.leaveOut(state);
    this.leftOut.push(handle);
    const ageMs = firstSightAgeMs(scratch);
    const firsts = this.tally.firsts;
    if (firsts.mayLead(state, ageMs)) {
      const flow = { protocol: scratch.protocol, local: { address: scratch.local.address, port: scratch.local.port }, remote: { address: scratch.remote.address, port: scratch.remote.port } };
      firsts.offer(state, ageMs, flow, handle);
    }
    return true;
  }

  /**
   * After every dump: the reading's rows (`kept`, the rows the parsers made, in dump order) with
   * the rows still needed added, and what was left out; or, after a repeated flow or too many
   * candidates, every row from the kept bytes and nothing left out.
   */
  finish(kept: SocketRow[], options: RowParseOptions): { rows: SocketRow[]; leftOut?: LeftOutConnections } {
    if (this.leftOut.length === 0) return { rows: kept };
    if (this.repeated || this.tally.firsts.overflowed) {
      const rows: SocketRow[] = [];
      for (const dump of this.dumps) {
        const parser = new SockDiagParser(options);
        for (const n of dump) parser.datagram(this.datagrams[n]!);
        for (const row of parser.finish().rows) rows.push(row);
      }
      return { rows };
    }
    const parser = new SockDiagParser(options);
    const listed = new Set<number>();
    const rows = kept;
    for (const handle of this.tally.firsts.handles()) {
      const row = this.rowAt(parser, handle);
      listed.add(handle);
      this.tally.listed(row.state);
      rows.push(row);
    }
    const tally = this.tally;
    const leftOut = this.leftOut;
    const datagrams = this.datagrams;
    let asked = false;
    const screened: LeftOutConnections = {
      get counts() {
        return tally.counts;
      },
      rowsTo: (facts: HostFacts) => {
        if (asked) return [];
        asked = true;
        const peers = tally.peers.peers(facts);
        const found: SocketRow[] = [];
        if (peers.size === 0) return found;
        // The peers' ports first: a number compared, where the address is a text made per message.
        const peerPorts = new Set<number>();
        for (const ports of peers.values()) for (const port of ports) peerPorts.add(port);
        for (const handle of leftOut) {
          if (listed.has(handle)) continue;
          const bytes = datagrams[Math.floor(handle / MESSAGE_HANDLE_SPAN)]!;
          const at = handle % MESSAGE_HANDLE_SPAN;
          const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
          // struct inet_diag_sockid after the netlink header and the message's 4 bytes: idiag_dport, then idiag_dst.
          const id = at + 16 + 4;
          const remotePort = view.getUint16(id + 2, false);
          if (!peerPorts.has(remotePort)) continue;
          const remote = parser.addressText(view, id + 20, view.getUint8(at + 16));
          if (!peers.get(remote)?.has(remotePort)) continue;
          const row = this.rowAt(parser, handle);
          tally.listed(row.state);
          found.push(row);
        }
        return found;
      },
    };
    return { rows, leftOut: screened };
  }

  private rowAt(parser: SockDiagParser, handle: number): SocketRow {
    const row = parser.rowAt(this.datagrams[Math.floor(handle / MESSAGE_HANDLE_SPAN)]!, handle % MESSAGE_HANDLE_SPAN);
    // The first pass read this message whole: it is a row.
    if (!row) throw new Error(`sock_diag message at ${handle} no longer reads as a socket`);
    return row;
  }
}

/**
 * The flows of one dump, by their bytes (ports, then the local and remote address: 3 words for
 * AF_INET, 9 for AF_INET6), to tell a flow listed twice. Its key's text is a function of these
 * bytes (formatAddressBytes gives one text per address), so the same bytes are the same key.
 * Open addressing over typed arrays: no object per flow.
 */
export class FlowSet {
  private words: Uint32Array;
  private slots: Int32Array;
  private count = 0;
  private readonly probe: Uint32Array;
  /** Per flow, 1 where its message was left out. */
  private leftOutFlags: Uint8Array;

  constructor(
    private readonly stride: number,
    flows: number,
  ) {
    // Room for `flows` at once (a busy host's IPv4 table without rehashing on the way).
    this.words = new Uint32Array(flows * stride);
    this.slots = new Int32Array(flows * 2).fill(-1);
    this.leftOutFlags = new Uint8Array(flows);
    this.probe = new Uint32Array(stride);
  }

  /** Flows held. */
  get size(): number {
    return this.count;
  }

  /** Whether flow `entry` (add's number) was left out. */
  leftOut(entry: number): boolean {
    return this.leftOutFlags[entry] === 1;
  }

  markLeftOut(entry: number): void {
    this.leftOutFlags[entry] = 1;
  }

  /** Adds the flow of the struct inet_diag_sockid at `id`: -1 when it is new (it is flow `size - 1` now), else the number of the same flow added before. */
  add(view: DataView, id: number, family: number): number {
    const probe = this.probe;
    probe[0] = view.getUint32(id, false); // sport, dport
    if (family === AF_INET) {
      probe[1] = view.getUint32(id + 4, false);
      probe[2] = view.getUint32(id + 20, false);
    } else {
      for (let i = 0; i < 4; i++) {
        probe[1 + i] = view.getUint32(id + 4 + 4 * i, false);
        probe[5 + i] = view.getUint32(id + 20 + 4 * i, false);
      }
    }
    if (this.count * 2 >= this.slots.length) this.grow();
    const stride = this.stride;
    const mask = this.slots.length - 1;
    for (let slot = hashWords(probe) & mask; ; slot = (slot + 1) & mask) {
      const entry = this.slots[slot]!;
      if (entry < 0) {
        if ((this.count + 1) * stride > this.words.length) {
          const words = new Uint32Array(this.words.length * 2);
          words.set(this.words);
          this.words = words;
          const flags = new Uint8Array(this.leftOutFlags.length * 2);
          flags.set(this.leftOutFlags);
          this.leftOutFlags = flags;
        }
        this.words.set(probe, this.count * stride);
        this.slots[slot] = this.count++;
        return -1;
      }
      let same = true;
      for (let i = 0; i < stride && same; i++) same = this.words[entry * stride + i] === probe[i];
      if (same) return entry;
    }
  }

  private grow(): void {
    const slots = new Int32Array(this.slots.length * 2).fill(-1);
    const mask = slots.length - 1;
    const stride = this.stride;
    for (let entry = 0; entry < this.count; entry++) {
      let slot = hashWords(this.words.subarray(entry * stride, entry * stride + stride)) & mask;
      while (slots[slot]! >= 0) slot = (slot + 1) & mask;
      slots[slot] = entry;
    }
    this.slots = slots;
  }
}

/** A 32-bit mix of the words (FNV-1a over words, then a final avalanche). */
function hashWords(words: Uint32Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i]!, 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}
