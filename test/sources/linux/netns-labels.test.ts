import { describe, expect, it } from 'vitest';
import { containerOfCgroupFile, containerOfCgroupPath } from '../../../src/sources/linux/netns-labels.js';

// Every path here is written for the test, in the shape each runtime writes on a node (named per
// case). No container runtime runs on the machines these tests were written on, so none is captured.
const ID = '3b9c0d1e2f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c';
const POD = '1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b';
const POD_ = POD.replace(/-/g, '_');

describe('containerOfCgroupPath: each runtime, each cgroup driver', () => {
  it.each([
    ['Docker, cgroupfs driver (cgroup v1 /docker/ID)', `/docker/${ID}`, { runtime: 'docker', id: ID }],
    ['Docker, systemd driver (docker-ID.scope)', `/system.slice/docker-${ID}.scope`, { runtime: 'docker', id: ID }],
    [
      'containerd under Kubernetes, systemd driver (cri-containerd-ID.scope in a pod slice, uid with _)',
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD_}.slice/cri-containerd-${ID}.scope`,
      { runtime: 'containerd', id: ID, pod: POD },
    ],
    ['containerd under Kubernetes, Guaranteed QoS (no QoS slice)', `/kubepods.slice/kubepods-pod${POD_}.slice/cri-containerd-${ID}.scope`, { runtime: 'containerd', id: ID, pod: POD }],
    ['containerd, nerdctl (nerdctl-ID.scope)', `/system.slice/nerdctl-${ID}.scope`, { runtime: 'containerd', id: ID }],
    ['Kubernetes, cgroupfs driver (/kubepods/QOS/podUID/ID: runtime not in the path)', `/kubepods/besteffort/pod${POD}/${ID}`, { id: ID, pod: POD }],
    ['CRI-O, systemd driver (crio-ID.scope)', `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD_}.slice/crio-${ID}.scope`, { runtime: 'cri-o', id: ID, pod: POD }],
    ['CRI-O, cgroupfs driver (crio-ID)', `/kubepods/burstable/pod${POD}/crio-${ID}`, { runtime: 'cri-o', id: ID, pod: POD }],
    ['Podman rootful (machine.slice/libpod-ID.scope)', `/machine.slice/libpod-${ID}.scope`, { runtime: 'podman', id: ID }],
    ['Podman rootless (user@UID.service/…/libpod-ID.scope)', `/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope`, { runtime: 'podman', id: ID }],
    ['Podman, cgroupfs driver (libpod_parent/libpod-ID)', `/libpod_parent/libpod-${ID}`, { runtime: 'podman', id: ID }],
  ])('%s', (_what, path, expected) => {
    expect(containerOfCgroupPath(path)).toEqual(expected);
  });

  it('names nothing for host services, conmon, sessions and short ids', () => {
    expect(containerOfCgroupPath('/system.slice/ssh.service')).toBeUndefined();
    expect(containerOfCgroupPath(`/machine.slice/libpod-conmon-${ID}.scope`)).toBeUndefined();
    expect(containerOfCgroupPath('/user.slice/user-1000.slice/session-3.scope')).toBeUndefined();
    expect(containerOfCgroupPath('/docker/3b9c0d1e2f4a')).toBeUndefined();
    expect(containerOfCgroupPath('/')).toBeUndefined();
    // A bare id not under a pod or /docker could be anything.
    expect(containerOfCgroupPath(`/other/${ID}`)).toBeUndefined();
  });
});

describe('containerOfCgroupFile', () => {
  it('reads any hierarchy line of a cgroup v1 file, and the 0:: line of v2', () => {
    // Written for the test: /proc/<pid>/cgroup of a Docker container under cgroup v1 (one line per
    // hierarchy, as captured on this machine for a host process: `9:name=systemd:/`), then v2.
    const v1 = `9:name=systemd:/docker/${ID}\n8:pids:/docker/${ID}\n4:memory:/docker/${ID}\n0::/\n`;
    expect(containerOfCgroupFile(v1)).toEqual({ runtime: 'docker', id: ID });
    expect(containerOfCgroupFile(`0::/system.slice/docker-${ID}.scope\n`)).toEqual({ runtime: 'docker', id: ID });
    expect(containerOfCgroupFile('9:name=systemd:/\n0::/\n')).toBeUndefined();
  });
});
