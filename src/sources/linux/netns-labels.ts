import type { ContainerRuntime, NetnsLabel } from '../../core/connection.js';
import type { Platform } from '../../platform/platform.js';
import type { NetnsHandle } from './netns.js';

// What a network namespace is for: its `ip netns` name, or the container or pod whose process
// holds it, told from that process's cgroup path (proc(5) /proc/[pid]/cgroup: `id:controllers:path`
// lines). Each runtime names its cgroups its own way, under two drivers: the cgroupfs driver makes
// plain directories, the systemd driver makes `.slice` / `.scope` units (where a `-` in a pod uid
// becomes `_`, since `-` separates systemd unit name parts).

type Container = NonNullable<NetnsLabel['container']>;

const ID = '([0-9a-f]{64})';
// Last path component, systemd driver: docker-ID.scope (Docker), cri-containerd-ID.scope (containerd
// under Kubernetes), nerdctl-ID.scope (containerd's nerdctl), crio-ID.scope (CRI-O), libpod-ID.scope (Podman).
const SCOPE = new RegExp(`^(docker|cri-containerd|nerdctl|crio|libpod)-${ID}\\.scope$`);
const SCOPE_RUNTIME: Record<string, ContainerRuntime> = { docker: 'docker', 'cri-containerd': 'containerd', nerdctl: 'containerd', crio: 'cri-o', libpod: 'podman' };
// Kubernetes pod cgroup: `pod<uid>` (cgroupfs) or `kubepods-<qos>-pod<uid_with_underscores>.slice` (systemd).
const POD = /(?:^|[-/])pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;

/**
 * The container (and Kubernetes pod) a cgroup path names, or undefined. Shapes (runtime docs and
 * what each writes on a node):
 * - Docker: `/docker/ID` (cgroupfs driver), `/system.slice/docker-ID.scope` (systemd driver);
 * - containerd: `/kubepods.slice/…/kubepods-…-podUID.slice/cri-containerd-ID.scope` (Kubernetes,
 *   systemd), `/system.slice/nerdctl-ID.scope` (nerdctl), `/kubepods/<qos>/podUID/ID` (Kubernetes,
 *   cgroupfs: the runtime is not in the path, so none is named);
 * - CRI-O: `…/kubepods-…-podUID.slice/crio-ID.scope` (systemd), `/kubepods/<qos>/podUID/crio-ID` (cgroupfs);
 * - Podman: `/machine.slice/libpod-ID.scope` (rootful), `…/user@UID.service/user.slice/libpod-ID.scope`
 *   (rootless), `/libpod_parent/libpod-ID` (cgroupfs).
 */
export function containerOfCgroupPath(path: string): Container | undefined {
  const parts = path.split('/').filter(Boolean);
  const last = parts[parts.length - 1] ?? '';
  const parent = parts[parts.length - 2] ?? '';
  const podMatch = POD.exec(parent);
  const pod = podMatch ? podMatch[1]!.replace(/_/g, '-') : undefined;
  const withPod = (c: Container): Container => (pod ? { ...c, pod } : c);
  const scope = SCOPE.exec(last);
  if (scope) return withPod({ runtime: SCOPE_RUNTIME[scope[1]!]!, id: scope[2]! });
  const plain = new RegExp(`^(?:(crio|libpod)-)?${ID}$`).exec(last);
  if (!plain) return undefined;
  const id = plain[2]!;
  if (plain[1] === 'crio') return withPod({ runtime: 'cri-o', id });
  if (plain[1] === 'libpod') return { runtime: 'podman', id };
  if (parent === 'docker') return { runtime: 'docker', id };
  // A bare id under a pod: a Kubernetes container whose runtime the path does not say.
  return pod ? { id, pod } : undefined;
}

/** The container named by any line of a /proc/<pid>/cgroup text (v1 lists one path per hierarchy, v2 one `0::` line). */
export function containerOfCgroupFile(text: string): Container | undefined {
  for (const line of text.split('\n')) {
    const path = line.split(':').slice(2).join(':');
    const found = path ? containerOfCgroupPath(path.trim()) : undefined;
    if (found) return found;
  }
  return undefined;
}

/**
 * The container holding a namespace: that of its first process whose cgroup names one (a pod's
 * processes share its namespace; the first is usually the pause container); none for the host's
 * own namespace. Reads at most a few cgroup files; unreadable ones are skipped.
 */
export async function containerOfNamespace(platform: Platform, procRoot: string, ns: Pick<NetnsHandle, 'pids' | 'host'>): Promise<Container | undefined> {
  if (ns.host) return undefined; // the host's own processes are not a container
  for (const pid of ns.pids.slice(0, 4)) {
    const container = containerOfCgroupFile(await platform.readText(`${procRoot}/${pid}/cgroup`).catch(() => ''));
    if (container) return container;
  }
  return undefined;
}
