# Sessions for test/e2e/tiers.test.ts (tiered polling on the real kernel), in a private namespace.
# At start: a listener whose accept queue is full (backlog 0, one connection not accepted), so a
# second client stays in SYN_SENT retransmitting its SYN; and an idle ESTABLISHED pair. Prints one
# JSON line with their ports. On "go": makes room in the queue (the SYN_SENT client's next SYN is
# answered: it becomes ESTABLISHED), shuts down the pair's client side (the server side enters
# CLOSE_WAIT), and opens a new ESTABLISHED pair; prints the times (ms) and ports, then, once the
# SYN_SENT client is connected, when it was. Holds everything until stdin closes.
import json, select, socket, sys, time

def now_ms():
    return int(time.time() * 1000)

full = socket.socket()
full.bind(('127.0.0.1', 0))
full.listen(0)
blocker = socket.create_connection(full.getsockname())
time.sleep(0.2)
waiting = socket.socket()
waiting.setblocking(False)
waiting.connect_ex(full.getsockname())

other = socket.socket()
other.bind(('127.0.0.1', 0))
other.listen(8)
client = socket.create_connection(other.getsockname())
server, _ = other.accept()
time.sleep(0.2)
print(json.dumps({'synSent': waiting.getsockname()[1], 'pairClient': client.getsockname()[1], 'pairServer': other.getsockname()[1]}), flush=True)

kept = []
for line in sys.stdin:
    if line.strip() != 'go':
        continue
    accepted, _ = full.accept()
    kept.append(accepted)
    room_ms = now_ms()
    client.shutdown(socket.SHUT_WR)
    shut_ms = now_ms()
    q_client = socket.create_connection(other.getsockname())
    q_server, _ = other.accept()
    kept.extend([q_client, q_server])
    print(json.dumps({'roomMs': room_ms, 'shutdownMs': shut_ms, 'newPairClient': q_client.getsockname()[1], 'openedMs': now_ms()}), flush=True)
    select.select([], [waiting], [], 10)
    print(json.dumps({'synSentConnectedMs': now_ms(), 'error': waiting.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)}), flush=True)
