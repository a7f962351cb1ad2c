package launch

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/reprobuild/reprobuild/recipes"
)

// Spec is what every launch target is written from.
type Spec struct {
	// Name names the job (the recipe's image name).
	Name string
	// Image is the image reference pinned by digest: REF@sha256:HEX.
	Image      string
	RecipeHash string
	LockHash   string
	// Architecture and OS are the image's platform (GOARCH/GOOS names).
	Architecture, OS string

	Entrypoint, Cmd []string
	Env             map[string]string
	Workdir, User   string

	CPUs   int
	Memory string // "32GiB", as the recipe writes it
	GPUs   int
	Cuda   string

	Mounts []Mount
}

// Mount is a data block of mode "mount".
type Mount struct {
	Name   string
	Path   string // in the container
	Source recipes.DataSource
	// HasSource is false when the recipe gives none (then every target refuses it).
	HasSource bool
}

// Error is a launch spec that cannot be written; its message is one line that says what
// to do.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func errorf(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }

var pinnedRe = regexp.MustCompile(`^[^@\s]+@sha256:[0-9a-f]{64}$`)

// check refuses what no target can write: an image not pinned by digest, a mount without
// a source.
func (s *Spec) check() error {
	if !pinnedRe.MatchString(s.Image) {
		return errorf("image %q is not pinned by digest: give REF@sha256:<64 hex digits>", s.Image)
	}
	for _, m := range s.Mounts {
		if !m.HasSource {
			return errorf("data %q is a mount without a source: add source = \"pvc:CLAIM\", \"host:PATH\" or \"nfs:SERVER:/EXPORT\" to it", m.Name)
		}
	}
	return nil
}

var memRe = regexp.MustCompile(`^([0-9]+)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$`)

// memoryBytes parses the recipe's memory size.
func memoryBytes(s string) (int64, string, error) {
	m := memRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, "", errorf("memory %q is not a size: write e.g. \"32GiB\"", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, "", errorf("memory %q is too large", s)
	}
	return n, m[2], nil
}

// dnsLabel makes s a Kubernetes object name (RFC 1123 label).
func dnsLabel(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > 63 {
		out = strings.TrimRight(out[:63], "-")
	}
	if out == "" {
		out = "reprobuild"
	}
	return out
}

// PinnedRef drops the tag of a REF:TAG@sha256:... reference: the digest decides, and
// several tools (skopeo, containerd) refuse a reference with both.
func PinnedRef(ref string) string {
	name, digest, ok := strings.Cut(ref, "@")
	if !ok {
		return ref
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	return name + "@" + digest
}
