import { TcpState } from './tcp-state.js';

// What each state means, how a connection leaves it (RFC 793 §3.2, simplified),
// and what to look at when one is stuck there (docs/tcp-facts.md#states), on this host and on the peer.

export interface StateGuide {
  meaning: string;
  /** event → next state */
  exits: { on: string; to: TcpState }[];
  stuckMeans: string;
  checkHere: string;
  checkPeer: string;
}

const S = TcpState;

export const STATE_GUIDE: Readonly<Record<TcpState, StateGuide>> = {
  CLOSED: {
    meaning: 'no connection',
    exits: [
      { on: 'passive open (listen)', to: S.LISTEN },
      { on: 'active open: send SYN', to: S.SYN_SENT },
    ],
    stuckMeans: '-',
    checkHere: '-',
    checkPeer: '-',
  },
  LISTEN: {
    meaning: 'passive open: waiting for a SYN',
    exits: [
      { on: 'receive SYN: send SYN/ACK', to: S.SYN_RECEIVED },
      { on: 'close', to: S.CLOSED },
    ],
    stuckMeans: 'normal. A full accept queue (Recv-Q above Send-Q in ss) silently drops new SYNs',
    checkHere: 'accept queue: `ss -ltn` Recv-Q (queued) against Send-Q (backlog); is the application calling accept()?',
    checkPeer: 'clients of a full listener sit in SYN_SENT, retransmitting',
  },
  SYN_SENT: {
    meaning: 'active open: our SYN sent, waiting for the SYN/ACK',
    exits: [
      { on: 'receive SYN/ACK: send ACK', to: S.ESTABLISHED },
      { on: 'receive SYN (simultaneous open)', to: S.SYN_RECEIVED },
      { on: 'SYN retries exhausted, or close', to: S.CLOSED },
    ],
    stuckMeans: 'the SYN or the SYN/ACK is lost or filtered; the peer host is down or unreachable',
    checkHere: 'the route and the local firewall towards the peer; how many SYN retransmissions (timer column)',
    checkPeer: 'SYN_RECEIVED for this flow on the peer means the returning SYN/ACK is blocked; only LISTEN there means the SYN never arrived; no listener means it should have answered RST',
  },
  SYN_RECEIVED: {
    meaning: 'SYN received and SYN/ACK sent: waiting for the final ACK of the handshake',
    exits: [
      { on: 'receive ACK', to: S.ESTABLISHED },
      { on: 'close: send FIN', to: S.FIN_WAIT_1 },
      { on: 'receive RST, or SYN/ACK retries exhausted', to: S.LISTEN },
    ],
    stuckMeans: 'the final ACK is lost, or a SYN flood / spoofed sources; or the listener defers (TCP_DEFER_ACCEPT) until data arrives',
    checkHere: 'how many SYN_RECEIVED per listener and from how many sources; `nstat -az TcpExtListenOverflows TcpExtListenDrops`',
    checkPeer: 'does the client see ESTABLISHED (its ACK is lost on the way) or SYN_SENT (our SYN/ACK never reached it)?',
  },
  ESTABLISHED: {
    meaning: 'open: data may flow both ways',
    exits: [
      { on: 'close: send FIN', to: S.FIN_WAIT_1 },
      { on: 'receive FIN: send ACK', to: S.CLOSE_WAIT },
    ],
    stuckMeans: 'nothing flowing for long: a candidate for the idle class; firewalls and NAT devices drop idle sessions silently',
    checkHere: 'which side spoke last (lastsnd, lastrcv); is a keepalive timer set (timer column)?',
    checkPeer: 'whether the peer still has the connection; a middlebox on the path may have dropped it',
  },
  FIN_WAIT_1: {
    meaning: 'we closed: our FIN sent, waiting for its ACK',
    exits: [
      { on: 'receive ACK of our FIN', to: S.FIN_WAIT_2 },
      { on: 'receive FIN: send ACK', to: S.CLOSING },
      { on: 'receive FIN and ACK of our FIN', to: S.TIME_WAIT },
    ],
    stuckMeans: 'the peer became unreachable after our close (or its receive window is closed)',
    checkHere: 'retransmissions of the FIN (timer column), Send-Q still holding data',
    checkPeer: 'whether the peer is up and reachable',
  },
  FIN_WAIT_2: {
    meaning: 'our FIN acknowledged: waiting for the peer to close its side',
    exits: [{ on: 'receive FIN: send ACK', to: S.TIME_WAIT }],
    stuckMeans: 'the peer application has not closed its side (it sits in CLOSE_WAIT there)',
    checkHere: 'whether a process still holds the socket; an orphaned one is dropped after net.ipv4.tcp_fin_timeout',
    checkPeer: 'the process holding the matching CLOSE_WAIT socket: it has not called close()',
  },
  CLOSE_WAIT: {
    meaning: 'the peer closed: waiting for the local application to close',
    exits: [{ on: 'close: send FIN', to: S.LAST_ACK }],
    stuckMeans: 'the local application leaks sockets: it saw end-of-file and never called close()',
    checkHere: 'the owning process and how many CLOSE_WAIT it holds; whether that number grows',
    checkPeer: 'nothing to fix there: the peer is in FIN_WAIT_2, waiting for us',
  },
  CLOSING: {
    meaning: 'both sides closed at once: waiting for the ACK of our FIN',
    exits: [{ on: 'receive ACK of our FIN', to: S.TIME_WAIT }],
    stuckMeans: 'the ACK of our FIN is lost',
    checkHere: 'retransmissions of the FIN',
    checkPeer: 'whether the peer is still reachable',
  },
  LAST_ACK: {
    meaning: 'the peer closed, then we closed: our FIN sent, waiting for its ACK',
    exits: [{ on: 'receive ACK of our FIN', to: S.CLOSED }],
    stuckMeans: 'the peer is gone: it does not acknowledge our FIN',
    checkHere: 'retransmissions of the FIN',
    checkPeer: 'whether the peer host is up',
  },
  TIME_WAIT: {
    meaning: 'we closed first: waiting 2·MSL so late segments die before the 4-tuple is reused',
    exits: [{ on: '2·MSL timeout (60 s on Linux)', to: S.CLOSED }],
    stuckMeans: 'normal; very many towards one peer can exhaust the ephemeral ports',
    checkHere: 'TIME_WAIT count per destination against net.ipv4.ip_local_port_range',
    checkPeer: '-',
  },
  DELETE_TCB: {
    meaning: 'Windows: the connection control block is being deleted',
    exits: [{ on: 'deletion done', to: S.CLOSED }],
    stuckMeans: 'rare; a driver or filter holding the connection',
    checkHere: 'filter drivers and security software',
    checkPeer: '-',
  },
  BOUND: {
    meaning: 'bound to a local port, not listening or connected',
    exits: [{ on: 'connect or listen', to: S.SYN_SENT }],
    stuckMeans: 'a port reserved by bind() that is never used',
    checkHere: 'the owning process',
    checkPeer: '-',
  },
  UNKNOWN: {
    meaning: 'the source printed a state word tcpdwell does not know (see rawState)',
    exits: [],
    stuckMeans: '-',
    checkHere: 'the raw word; another source (--source) may spell it in a known way',
    checkPeer: '-',
  },
};
