package vmdisk

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ExtractTree unpacks a flattened image file system (a tar with whiteouts already
// applied, as from go-containerregistry's mutate.Extract) into the empty directory dir.
// Owners are not kept (the root file system is written all-root) and device nodes are
// skipped (the VM mounts devtmpfs on /dev); permissions, set-id bits, symlinks and hard
// links are. Every path stays inside dir, whatever the archive's symlinks say.
func ExtractTree(r io.Reader, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	listed := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			// Directories the archive implies but does not list get 0755, not the umask's.
			return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil || !d.IsDir() || p == dir {
					return err
				}
				rel, err := filepath.Rel(dir, p)
				if err != nil || listed[filepath.ToSlash(rel)] {
					return err
				}
				return os.Chmod(p, 0o755)
			})
		}
		if err != nil {
			return fmt.Errorf("reading the image file system: %w", err)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "/"))
		if name == "." {
			continue
		}
		if !filepath.IsLocal(name) {
			return fmt.Errorf("image file system: %q escapes the root", h.Name)
		}
		mode := fs.FileMode(h.Mode).Perm()
		if h.Mode&04000 != 0 {
			mode |= fs.ModeSetuid
		}
		if h.Mode&02000 != 0 {
			mode |= fs.ModeSetgid
		}
		if h.Mode&01000 != 0 {
			mode |= fs.ModeSticky
		}
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("image file system: %s: %w", name, err)
			}
		}
		switch h.Typeflag {
		case tar.TypeDir:
			listed[name] = true
			if err := root.Mkdir(name, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("image file system: %s: %w", name, err)
			}
		case tar.TypeReg:
			_ = root.Remove(name)
			f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("image file system: %s: %w", name, err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("image file system: %s: %w", name, err)
			}
		case tar.TypeSymlink:
			_ = root.Remove(name)
			if err := root.Symlink(h.Linkname, name); err != nil {
				return fmt.Errorf("image file system: %s: %w", name, err)
			}
			continue
		case tar.TypeLink:
			target := path.Clean(strings.TrimPrefix(h.Linkname, "/"))
			if !filepath.IsLocal(target) {
				return fmt.Errorf("image file system: hard link %s -> %q escapes the root", name, h.Linkname)
			}
			_ = root.Remove(name)
			if err := root.Link(target, name); err != nil {
				return fmt.Errorf("image file system: %s: %w", name, err)
			}
			continue
		default:
			continue // devices and FIFOs
		}
		if err := root.Chmod(name, mode); err != nil {
			return fmt.Errorf("image file system: %s: %w", name, err)
		}
	}
}

// treeFS reads files of an unpacked tree, resolving symlinks (absolute ones too) inside
// it, as the VM would see them.
type treeFS struct{ dir string }

// resolve returns the host path of p inside the tree, following symlinks in the tree.
func (t treeFS) resolve(p string) (string, error) {
	parts := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	cur := "/"
	for hops := 0; len(parts) > 0; {
		part := parts[0]
		parts = parts[1:]
		if part == "" || part == "." {
			continue
		}
		if part == ".." {
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, part)
		fi, err := os.Lstat(filepath.Join(t.dir, next))
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if hops++; hops > 40 {
				return "", fmt.Errorf("%s: too many symlinks", p)
			}
			target, err := os.Readlink(filepath.Join(t.dir, next))
			if err != nil {
				return "", err
			}
			if !path.IsAbs(target) {
				target = path.Join(cur, target)
			}
			parts = append(strings.Split(strings.Trim(path.Clean(target), "/"), "/"), parts...)
			cur = "/"
			continue
		}
		cur = next
	}
	return filepath.Join(t.dir, cur), nil
}

func (t treeFS) readFile(p string) ([]byte, error) {
	hp, err := t.resolve(p)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(hp)
}

func (t treeFS) readDir(p string) ([]fs.DirEntry, error) {
	hp, err := t.resolve(p)
	if err != nil {
		return nil, err
	}
	return os.ReadDir(hp)
}

// newestKernel returns the version of the newest /boot/vmlinuz-VERSION of the tree.
func (t treeFS) newestKernel() (string, error) {
	ents, err := t.readDir("/boot")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	var versions []string
	for _, e := range ents {
		if v, ok := strings.CutPrefix(e.Name(), "vmlinuz-"); ok {
			versions = append(versions, v)
		}
	}
	if len(versions) == 0 {
		return "", fmt.Errorf("the base has no kernel (/boot/vmlinuz-*): add linux-image-amd64 to the base, or set kernel_url and kernel_sha256 in the recipe's vm block")
	}
	slices.SortFunc(versions, compareVersions)
	return versions[len(versions)-1], nil
}

// compareVersions orders kernel versions by their numeric and text runs.
func compareVersions(a, b string) int {
	split := func(s string) []string {
		var out []string
		for len(s) > 0 {
			i := 1
			digit := s[0] >= '0' && s[0] <= '9'
			for i < len(s) && (s[i] >= '0' && s[i] <= '9') == digit {
				i++
			}
			out = append(out, s[:i])
			s = s[i:]
		}
		return out
	}
	as, bs := split(a), split(b)
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, ex := strconv.Atoi(as[i])
		y, ey := strconv.Atoi(bs[i])
		if ex == nil && ey == nil {
			if x != y {
				return x - y
			}
			continue
		}
		if c := strings.Compare(as[i], bs[i]); c != 0 {
			return c
		}
	}
	return len(as) - len(bs)
}

// moduleName is the module name of a modules.dep path: its base name without .ko and
// compression suffixes, dashes as underscores.
func moduleName(p string) string {
	b := path.Base(p)
	if i := strings.Index(b, ".ko"); i >= 0 {
		b = b[:i]
	}
	return strings.ReplaceAll(b, "-", "_")
}

// moduleLoadOrder returns the modules.dep paths to load, dependencies first, for the
// wanted module names; names built into the kernel (modules.builtin) are skipped.
func (t treeFS) moduleLoadOrder(kver string, wanted []string) ([]string, error) {
	base := "/lib/modules/" + kver
	dep, err := t.readFile(base + "/modules.dep")
	if err != nil {
		return nil, fmt.Errorf("the base has no %s/modules.dep for kernel %s: is the kernel's package (linux-image-*) complete?", base, kver)
	}
	builtin := map[string]bool{}
	if b, err := t.readFile(base + "/modules.builtin"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if l != "" {
				builtin[moduleName(l)] = true
			}
		}
	}
	deps := map[string][]string{}
	paths := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(dep))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n := moduleName(mod)
		paths[n] = mod
		deps[n] = strings.Fields(rest)
	}
	// Soft dependencies ("softdep libcrc32c pre: crc32c") name a module or an alias
	// (modules.alias); a generic implementation is preferred, so the disk boots on any
	// x86-64 CPU.
	soft := map[string][]string{}
	if b, err := t.readFile(base + "/modules.softdep"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) < 3 || f[0] != "softdep" {
				continue
			}
			pre := false
			for _, x := range f[2:] {
				switch x {
				case "pre:":
					pre = true
				case "post:":
					pre = false
				default:
					if pre {
						soft[moduleName(f[1])] = append(soft[moduleName(f[1])], x)
					}
				}
			}
		}
	}
	aliases := map[string][]string{}
	if b, err := t.readFile(base + "/modules.alias"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) == 3 && f[0] == "alias" && !strings.ContainsAny(f[1], "*?[") {
				aliases[f[1]] = append(aliases[f[1]], moduleName(f[2]))
			}
		}
	}
	resolveSoft := func(x string) string {
		if _, ok := paths[moduleName(x)]; ok {
			return moduleName(x)
		}
		cands := aliases[x]
		for _, c := range cands {
			if strings.Contains(c, "generic") {
				return c
			}
		}
		if len(cands) > 0 {
			return cands[0]
		}
		return ""
	}
	var order []string
	state := map[string]int{}
	var visit func(n string) error
	visit = func(n string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("modules.dep: dependency cycle at %s", n)
		case 2:
			return nil
		}
		state[n] = 1
		for _, x := range soft[n] {
			if m := resolveSoft(x); m != "" && !builtin[m] && paths[m] != "" {
				if err := visit(m); err != nil {
					return err
				}
			}
		}
		for _, d := range deps[n] {
			if err := visit(moduleName(d)); err != nil {
				return err
			}
		}
		state[n] = 2
		order = append(order, paths[n])
		return nil
	}
	for _, w := range wanted {
		if builtin[w] {
			continue
		}
		if _, ok := paths[w]; !ok {
			return nil, fmt.Errorf("kernel %s has no module %s (neither in modules.dep nor built in)", kver, w)
		}
		if err := visit(w); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// lookupUser resolves an OCI user ("name", "uid", "name:group", "uid:gid") to numeric
// ids with the tree's /etc/passwd and /etc/group.
func (t treeFS) lookupUser(user string) (uid, gid int, err error) {
	u, g, hasGroup := strings.Cut(user, ":")
	field := func(file, name string, col int) (int, bool) {
		b, err := t.readFile(file)
		if err != nil {
			return 0, false
		}
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Split(l, ":")
			if len(f) > col && f[0] == name {
				n, err := strconv.Atoi(f[col])
				return n, err == nil
			}
		}
		return 0, false
	}
	var ok bool
	if uid, err = strconv.Atoi(u); err != nil {
		if uid, ok = field("/etc/passwd", u, 2); !ok {
			return 0, 0, fmt.Errorf("runtime user %q is not in the image's /etc/passwd", u)
		}
		gid, _ = field("/etc/passwd", u, 3)
	} else {
		gid = uid
		b, _ := t.readFile("/etc/passwd")
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Split(l, ":")
			if len(f) > 3 && f[2] == u {
				gid, _ = strconv.Atoi(f[3])
			}
		}
	}
	if hasGroup {
		if gid, err = strconv.Atoi(g); err != nil {
			if gid, ok = field("/etc/group", g, 2); !ok {
				return 0, 0, fmt.Errorf("runtime group %q is not in the image's /etc/group", g)
			}
		}
	}
	return uid, gid, nil
}

// onlyModules is the version of the tree's only /lib/modules/VERSION directory.
func (t treeFS) onlyModules() (string, error) {
	ents, _ := t.readDir("/lib/modules")
	if len(ents) != 1 {
		return "", fmt.Errorf("a kernel not named vmlinuz-VERSION needs exactly one /lib/modules/VERSION in the image for its modules, found %d", len(ents))
	}
	return ents[0].Name(), nil
}
