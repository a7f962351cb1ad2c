package runc

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Mount is a host path bound into the container.
type Mount struct {
	Source      string // absolute host path
	Destination string // absolute container path
	ReadOnly    bool
}

// SpecOptions configure Spec.
type SpecOptions struct {
	// Args replace the image's Cmd (the entrypoint is kept), as `docker run IMAGE ARGS`.
	Args []string
	// Entrypoint, when set, replaces the image's entrypoint (and its cmd, unless Args
	// are given).
	Entrypoint []string
	Mounts     []Mount
	// Env is added to the image's environment (later wins).
	Env []string
	// Rootless writes a configuration for an unprivileged caller: a user namespace
	// mapping the container user to HostUID/HostGID, the host's network, no cgroup
	// settings.
	Rootless         bool
	HostUID, HostGID int
	// GPUHook is the path of nvidia-container-runtime-hook, run as a createRuntime hook so
	// the NVIDIA driver and devices are made visible; empty for no GPU.
	GPUHook string
}

// Spec is the runtime configuration running cfg from the root file system at rootfs
// (relative to the bundle, or absolute). hostRootfs is where the unpacked root is on
// this machine, read to resolve user names through its /etc/passwd and /etc/group.
func Spec(cfg v1.Config, rootfs, hostRootfs string, o SpecOptions) (*specs.Spec, error) {
	entry, cmd := cfg.Entrypoint, cfg.Cmd
	if len(o.Entrypoint) > 0 {
		entry, cmd = o.Entrypoint, nil
	}
	if len(o.Args) > 0 {
		cmd = o.Args
	}
	args := slices.Concat(entry, cmd)
	if len(args) == 0 {
		return nil, fmt.Errorf("the image has no entrypoint or cmd: give a command after --")
	}
	user, home, err := resolveUser(cfg.User, hostRootfs)
	if err != nil {
		return nil, err
	}
	env := mergeEnv(cfg.Env, o.Env)
	if !hasEnv(env, "PATH") {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	if !hasEnv(env, "HOME") {
		env = append(env, "HOME="+home)
	}
	cwd := cfg.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	s := &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Args: args, Env: env, Cwd: cwd, User: user,
			Capabilities: &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps},
			Rlimits:      []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			// The process never gains privileges through setuid binaries or file
			// capabilities.
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: rootfs},
		Hostname: "reprobuild",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace}, {Type: specs.CgroupNamespace},
			},
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
			},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
	for _, m := range o.Mounts {
		if !path.IsAbs(m.Source) || !path.IsAbs(m.Destination) {
			return nil, fmt.Errorf("mount %s -> %s: both paths must be absolute", m.Source, m.Destination)
		}
		opts := []string{"rbind", "rprivate"}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: m.Destination, Type: "bind", Source: m.Source, Options: opts})
	}
	if o.GPUHook != "" {
		// createRuntime runs where the deprecated prestart hooks ran (runtime namespace,
		// after create, before pivot_root); the hook's own mode is still "prestart".
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: o.GPUHook, Args: []string{o.GPUHook, "prestart"}}}}
	}
	if o.Rootless {
		rootless(s, o.HostUID, o.HostGID)
	}
	return s, nil
}

// rootless adapts s for an unprivileged caller: the container's user is the caller
// (mapped by a user namespace), the network is the host's (an unprivileged user cannot
// configure one), /sys is a read-only bind of the host's, mounts carry no uid/gid
// options, and cgroups are left alone.
func rootless(s *specs.Spec, hostUID, hostGID int) {
	var ns []specs.LinuxNamespace
	for _, n := range s.Linux.Namespaces {
		if n.Type != specs.NetworkNamespace && n.Type != specs.UserNamespace && n.Type != specs.CgroupNamespace {
			ns = append(ns, n)
		}
	}
	s.Linux.Namespaces = append(ns, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: s.Process.User.UID, HostID: uint32(hostUID), Size: 1}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: s.Process.User.GID, HostID: uint32(hostGID), Size: 1}}
	s.Process.User.AdditionalGids = nil
	var mounts []specs.Mount
	for _, m := range s.Mounts {
		switch m.Destination {
		case "/sys/fs/cgroup":
			continue
		case "/sys":
			mounts = append(mounts, specs.Mount{Destination: "/sys", Type: "none", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}})
			continue
		}
		m.Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool {
			return strings.HasPrefix(o, "gid=") || strings.HasPrefix(o, "uid=")
		})
		mounts = append(mounts, m)
	}
	s.Mounts = mounts
	s.Linux.Resources = nil
}

func mergeEnv(base, extra []string) []string {
	out := slices.Clone(base)
	for _, kv := range extra {
		k, _, _ := strings.Cut(kv, "=")
		out = slices.DeleteFunc(out, func(e string) bool { return strings.HasPrefix(e, k+"=") })
		out = append(out, kv)
	}
	return out
}

func hasEnv(env []string, k string) bool {
	return slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, k+"=") })
}

// resolveUser maps an image's user ("", "uid", "uid:gid", "name", "name:group") to ids
// through the root file system's /etc/passwd and /etc/group, as container engines do.
func resolveUser(u, rootfs string) (specs.User, string, error) {
	if u == "" {
		return specs.User{}, "/root", nil
	}
	name, group, hasGroup := strings.Cut(u, ":")
	passwd := readTable(rootfs, "etc/passwd")
	var out specs.User
	home := "/"
	if id, err := strconv.ParseUint(name, 10, 32); err == nil {
		out.UID = uint32(id)
		for _, row := range passwd {
			if len(row) > 5 && row[2] == name {
				home = row[5]
				if g, err := strconv.ParseUint(row[3], 10, 32); err == nil && !hasGroup {
					out.GID = uint32(g)
				}
				break
			}
		}
	} else {
		found := false
		for _, row := range passwd {
			if len(row) > 5 && row[0] == name {
				uid, err1 := strconv.ParseUint(row[2], 10, 32)
				gid, err2 := strconv.ParseUint(row[3], 10, 32)
				if err1 != nil || err2 != nil {
					break
				}
				out.UID, out.GID, home, found = uint32(uid), uint32(gid), row[5], true
				break
			}
		}
		if !found {
			return specs.User{}, "", fmt.Errorf("user %q of the image is not in its /etc/passwd: set runtime.user to a numeric uid[:gid]", u)
		}
	}
	if hasGroup {
		if id, err := strconv.ParseUint(group, 10, 32); err == nil {
			out.GID = uint32(id)
		} else {
			found := false
			for _, row := range readTable(rootfs, "etc/group") {
				if len(row) > 2 && row[0] == group {
					if g, err := strconv.ParseUint(row[2], 10, 32); err == nil {
						out.GID, found = uint32(g), true
					}
					break
				}
			}
			if !found {
				return specs.User{}, "", fmt.Errorf("group %q of the image's user is not in its /etc/group: use a numeric gid", group)
			}
		}
	}
	return out, home, nil
}

// readTable reads a colon-separated table (passwd, group) of the root file system,
// confined to it; a missing file is an empty table.
func readTable(rootfs, name string) [][]string {
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return nil
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		return nil
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rows = append(rows, strings.Split(line, ":"))
	}
	return rows
}
