package image

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// DefaultPath is the PATH an image gets when its base sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Config is what reprobuild sets in an image config and manifest on top of its base.
type Config struct {
	// Platform is the image's OS, architecture and variant. OS and Architecture are required.
	Platform v1.Platform
	// Prefix is the absolute environment prefix (e.g. "/opt/env"): PATH gets <Prefix>/bin
	// first and CONDA_PREFIX is set to it. Empty leaves both alone.
	Prefix string
	// Entrypoint and Cmd replace the base's when non-nil. Setting Entrypoint without Cmd
	// clears the base Cmd, as a Dockerfile ENTRYPOINT does.
	Entrypoint, Cmd []string
	// Env is merged over the base environment; its entries win, including PATH.
	Env map[string]string
	// Workdir and User replace the base's when non-empty.
	Workdir, User string
	// Labels are merged over the base's image config labels.
	Labels map[string]string
	// Annotations go on the image manifest.
	Annotations map[string]string
	// Volumes are absolute paths declared as volumes (data blocks with mode "mount").
	Volumes []string
	// Epoch is the created time of the image and of the history entries we add.
	Epoch time.Time
}

func (c Config) created() time.Time {
	if c.Epoch.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return c.Epoch.UTC().Truncate(time.Second)
}

// ConfigFile returns the image config for c on top of base (nil for scratch). It is pure
// and does not modify base. RootFS and History are copied from base (History padded to
// one entry per base layer): Assemble appends our layers to them, and BuildKit fills
// them in itself, so both engines share every other field.
func ConfigFile(base *v1.ConfigFile, c Config) (*v1.ConfigFile, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	var cf *v1.ConfigFile
	if base != nil {
		cf = base.DeepCopy()
	} else {
		cf = &v1.ConfigFile{RootFS: v1.RootFS{Type: "layers"}}
	}
	if cf.RootFS.Type == "" {
		cf.RootFS.Type = "layers"
	}
	// A base whose history describes fewer layers than it has (a busybox layout may
	// carry none) gets an entry for each undescribed layer, so history and layers
	// match: BuildKit would otherwise append entries of its own after ours, and the
	// engines' configs would differ.
	described := 0
	for _, h := range cf.History {
		if !h.EmptyLayer {
			described++
		}
	}
	for range len(cf.RootFS.DiffIDs) - described {
		cf.History = append(cf.History, v1.History{Created: v1.Time{Time: c.created()}, CreatedBy: "base image", Comment: "the base image has no history for this layer"})
	}
	// Fields a base may carry from its own build host are dropped: they are not ours.
	//lint:ignore SA1019 a base may still carry the deprecated field; it is cleared
	cf.Container, cf.DockerVersion, cf.Author = "", "", ""
	cf.Created = v1.Time{Time: c.created()}
	cf.OS, cf.Architecture, cf.Variant = c.Platform.OS, c.Platform.Architecture, c.Platform.Variant
	cf.OSVersion, cf.OSFeatures = c.Platform.OSVersion, append([]string(nil), c.Platform.OSFeatures...)
	if len(cf.OSFeatures) == 0 {
		cf.OSFeatures = nil
	}

	cfg := &cf.Config
	cfg.Env = mergeEnv(cfg.Env, c)
	if c.Entrypoint != nil {
		cfg.Entrypoint = append([]string{}, c.Entrypoint...)
		cfg.Cmd = nil
	}
	if c.Cmd != nil {
		cfg.Cmd = append([]string{}, c.Cmd...)
	}
	if c.Workdir != "" {
		cfg.WorkingDir = c.Workdir
	}
	if c.User != "" {
		cfg.User = c.User
	}
	if len(c.Labels) > 0 {
		labels := make(map[string]string, len(cfg.Labels)+len(c.Labels))
		for k, v := range cfg.Labels {
			labels[k] = v
		}
		for k, v := range c.Labels {
			labels[k] = v
		}
		cfg.Labels = labels
	}
	if len(c.Volumes) > 0 {
		vols := make(map[string]struct{}, len(cfg.Volumes)+len(c.Volumes))
		for k := range cfg.Volumes {
			vols[k] = struct{}{}
		}
		for _, v := range c.Volumes {
			vols[v] = struct{}{}
		}
		cfg.Volumes = vols
	}
	return cf, nil
}

func (c Config) validate() error {
	if c.Platform.OS == "" || c.Platform.Architecture == "" {
		return &ConfigError{Field: "platform", Reason: fmt.Sprintf("%q needs both an OS and an architecture (e.g. linux/amd64)", c.Platform.String())}
	}
	if c.Prefix != "" && (!path.IsAbs(c.Prefix) || path.Clean(c.Prefix) != c.Prefix || c.Prefix == "/") {
		return &ConfigError{Field: "prefix", Reason: fmt.Sprintf("%q must be a clean absolute path other than / (e.g. /opt/env)", c.Prefix)}
	}
	for k := range c.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return &ConfigError{Field: "env", Reason: fmt.Sprintf("variable name %q must be non-empty and contain no '=' or NUL", k)}
		}
	}
	for _, v := range c.Volumes {
		if !path.IsAbs(v) || path.Clean(v) != v {
			return &ConfigError{Field: "volumes", Reason: fmt.Sprintf("%q must be a clean absolute path", v)}
		}
	}
	return nil
}

// mergeEnv returns the base environment with reprobuild's variables over it, sorted by
// name so the config never depends on map order or on the base's ordering.
func mergeEnv(base []string, c Config) []string {
	env := make(map[string]string, len(base)+len(c.Env)+2)
	for _, kv := range base {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	if c.Prefix != "" {
		bin := c.Prefix + "/bin"
		p, ok := env["PATH"]
		if !ok || p == "" {
			p = DefaultPath
		}
		var rest []string
		for _, d := range strings.Split(p, ":") {
			if d != bin {
				rest = append(rest, d)
			}
		}
		env["PATH"] = strings.Join(append([]string{bin}, rest...), ":")
		env["CONDA_PREFIX"] = c.Prefix
	}
	for k, v := range c.Env {
		env[k] = v
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+env[k])
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
