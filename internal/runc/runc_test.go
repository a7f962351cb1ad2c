package runc

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type entry struct {
	name, body, link string
	typ              byte
	mode             int64
}

func layer(t testing.TB, entries ...entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Size: int64(len(e.body))}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestUnpack(t *testing.T) {
	img, err := mutate.AppendLayers(empty.Image,
		layer(t,
			entry{name: "etc/", typ: tar.TypeDir, mode: 0o755},
			entry{name: "etc/passwd", typ: tar.TypeReg, mode: 0o644, body: "root:x:0:0:root:/root:/bin/sh\nlab:x:1000:100:Lab:/home/lab:/bin/sh\n"},
			entry{name: "bin/tool", typ: tar.TypeReg, mode: 0o4755, body: "#!/bin/sh\n"},
			entry{name: "bin/alias", typ: tar.TypeSymlink, link: "tool"},
			entry{name: "old.txt", typ: tar.TypeReg, mode: 0o644, body: "old"},
			entry{name: "ro/", typ: tar.TypeDir, mode: 0o555},
			entry{name: "ro/f", typ: tar.TypeReg, mode: 0o444, body: "f"},
		),
		layer(t,
			entry{name: ".wh.old.txt", typ: tar.TypeReg, mode: 0o644},
			entry{name: "bin/hard", typ: tar.TypeLink, link: "bin/tool"},
		))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "rootfs")
	if _, err := Unpack(img, dir, UnpackOptions{Owners: os.Geteuid() == 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "old.txt")); !os.IsNotExist(err) {
		t.Errorf("a whited-out file survived: %v", err)
	}
	fi, err := os.Stat(filepath.Join(dir, "bin/tool"))
	if err != nil || fi.Mode()&os.ModeSetuid == 0 || fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/tool mode %v (%v), want setuid 0755", fi.Mode(), err)
	}
	if l, _ := os.Readlink(filepath.Join(dir, "bin/alias")); l != "tool" {
		t.Errorf("symlink target %q", l)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "ro")); fi.Mode().Perm() != 0o555 {
		t.Errorf("ro mode %v, want 0555 (set after its children)", fi.Mode().Perm())
	}
	a, _ := os.Stat(filepath.Join(dir, "bin/hard"))
	b, _ := os.Stat(filepath.Join(dir, "bin/tool"))
	if !os.SameFile(a, b) {
		t.Error("bin/hard is not a hard link of bin/tool")
	}
	os.Chmod(filepath.Join(dir, "ro"), 0o755)

	s, err := Spec(v1.Config{Entrypoint: []string{"/bin/tool"}, Cmd: []string{"a"}, User: "lab", Env: []string{"A=1"}}, "rootfs", dir, SpecOptions{Args: []string{"b", "c"}, Env: []string{"A=2"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Process.Args; len(got) != 3 || got[0] != "/bin/tool" || got[1] != "b" {
		t.Errorf("args %v, want the entrypoint and the given args", got)
	}
	if s.Process.User.UID != 1000 || s.Process.User.GID != 100 {
		t.Errorf("user %+v, want lab's 1000:100 from the image's /etc/passwd", s.Process.User)
	}
	if !contains(s.Process.Env, "A=2") || contains(s.Process.Env, "A=1") || !contains(s.Process.Env, "HOME=/home/lab") {
		t.Errorf("env %v", s.Process.Env)
	}
	if _, err := Spec(v1.Config{Cmd: []string{"x"}, User: "nobody"}, "rootfs", dir, SpecOptions{}); err == nil {
		t.Error("a user missing from /etc/passwd was accepted")
	}
}

// TestUnpackStaysInside: nothing of a hostile layer is written outside the root.
func TestUnpackStaysInside(t *testing.T) {
	for name, l := range map[string]v1.Layer{
		"dotdot":            layer(t, entry{name: "../evil", typ: tar.TypeReg, mode: 0o644, body: "x"}),
		"through symlink":   layer(t, entry{name: "up", typ: tar.TypeSymlink, link: "../../.."}, entry{name: "up/evil", typ: tar.TypeReg, mode: 0o644, body: "x"}),
		"absolute symlink":  layer(t, entry{name: "etc", typ: tar.TypeSymlink, link: "/etc"}, entry{name: "etc/evil", typ: tar.TypeReg, mode: 0o644, body: "x"}),
		"hard link outside": layer(t, entry{name: "h", typ: tar.TypeLink, link: "../../etc/passwd"}),
	} {
		t.Run(name, func(t *testing.T) {
			img, err := mutate.AppendLayers(empty.Image, l)
			if err != nil {
				t.Fatal(err)
			}
			// Refused or dropped; either way nothing lands outside the root.
			base := t.TempDir()
			_, err = Unpack(img, filepath.Join(base, "rootfs"), UnpackOptions{})
			t.Logf("unpack: %v", err)
			for _, p := range []string{filepath.Join(base, "evil"), filepath.Join(filepath.Dir(base), "evil"), "/etc/evil"} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s was written outside the root", p)
				}
			}
		})
	}
}

func TestRootlessSpec(t *testing.T) {
	dir := t.TempDir()
	s, err := Spec(v1.Config{Cmd: []string{"/bin/sh"}, User: "1000:1000"}, "rootfs", dir, SpecOptions{
		Rootless: true, HostUID: 4242, HostGID: 4343,
		Mounts:  []Mount{{Source: "/srv/data", Destination: "/data", ReadOnly: true}},
		GPUHook: "/usr/bin/nvidia-container-runtime-hook",
	})
	if err != nil {
		t.Fatal(err)
	}
	var hasUser, hasNet bool
	for _, n := range s.Linux.Namespaces {
		hasUser = hasUser || n.Type == specs.UserNamespace
		hasNet = hasNet || n.Type == specs.NetworkNamespace
	}
	if !hasUser || hasNet {
		t.Errorf("namespaces %v: want a user namespace and the host network", s.Linux.Namespaces)
	}
	if m := s.Linux.UIDMappings; len(m) != 1 || m[0].ContainerID != 1000 || m[0].HostID != 4242 || m[0].Size != 1 {
		t.Errorf("uid mappings %+v", m)
	}
	for _, m := range s.Mounts {
		for _, o := range m.Options {
			if len(o) > 4 && (o[:4] == "gid=" || o[:4] == "uid=") {
				t.Errorf("mount %s keeps %s", m.Destination, o)
			}
		}
		if m.Destination == "/sys/fs/cgroup" {
			t.Error("rootless spec mounts cgroups")
		}
	}
	last := s.Mounts[len(s.Mounts)-1]
	if last.Destination != "/data" || last.Source != "/srv/data" || !contains(last.Options, "ro") {
		t.Errorf("data mount %+v", last)
	}
	if s.Hooks == nil || len(s.Hooks.CreateRuntime) != 1 || s.Hooks.CreateRuntime[0].Args[1] != "prestart" {
		t.Errorf("GPU hook %+v", s.Hooks)
	}
	if _, err := Spec(v1.Config{}, "rootfs", dir, SpecOptions{}); err == nil {
		t.Error("an image with nothing to run was accepted")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
