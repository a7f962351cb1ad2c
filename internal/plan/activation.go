package plan

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprobuild/reprobuild/internal/activate"
	"github.com/reprobuild/reprobuild/internal/image"
)

// ActivationBase is what the activation decision needs to know of the base image.
type ActivationBase struct {
	// Config is the base's config (nil for scratch): its environment is what the
	// scripts see, its entrypoint and command what the wrapper must keep running.
	Config *v1.ConfigFile
	// HasShell says whether the base has /bin/sh, which the wrapper entrypoint needs;
	// it is asked only when the scripts must be sourced (nil: no shell).
	HasShell func() (bool, error)
}

// ActivationError reports activation scripts that must be sourced when the container
// starts in an image that has no shell to source them.
type ActivationError struct {
	Script string // the first script not understood, as an image path
	Reason string // "PATH:LINE: what"
}

func (e *ActivationError) Error() string {
	return fmt.Sprintf("activation script %s: %s; the image must source it when it starts, "+
		"which needs /bin/sh, and the base image has none: use a base with a shell (e.g. busybox or debian)", e.Script, e.Reason)
}

// Activation is the plan's image config with the packages' activation scripts
// (PREFIX/etc/conda/activate.d/*.sh, as found in the linked environment) in effect. It
// is the one decision every engine executes, each passing the scripts of the tree it
// built: when the scripts only assign values computable now, their variables go into
// the environment (exactly what sourcing them would give); otherwise the entrypoint
// sources them at start, as micromamba's images do, which needs /bin/sh.
//
// Scripts with the same path are taken last one first (the later layer wins); the
// order of scripts does not matter otherwise. The plan is not changed.
func (p *Plan) Activation(scripts []activate.Script, base ActivationBase) (image.Config, error) {
	cfg := p.Config
	scripts = lastByPath(scripts)
	if len(scripts) == 0 {
		return cfg, nil
	}
	known := map[string]string{}
	if base.Config != nil {
		for _, kv := range base.Config.Config.Env {
			if k, v, ok := strings.Cut(kv, "="); ok {
				known[k] = v
			}
		}
	}
	maps.Copy(known, cfg.Env)
	delete(known, "PATH") // the image's PATH is assembled later (prefix/bin first)
	known["CONDA_PREFIX"] = cfg.Prefix
	res := activate.Evaluate(scripts, known)
	if res.Exact {
		env := maps.Clone(cfg.Env)
		if env == nil {
			env = map[string]string{}
		}
		maps.Copy(env, res.Env)
		cfg.Env = env
		return cfg, nil
	}
	shell := false
	if base.Config != nil && base.HasShell != nil {
		var err error
		if shell, err = base.HasShell(); err != nil {
			return cfg, fmt.Errorf("looking for /bin/sh in the base image: %w", err)
		}
	}
	if !shell {
		script, _, _ := strings.Cut(res.Reason, ":")
		return cfg, &ActivationError{Script: script, Reason: res.Reason}
	}
	// The wrapper replaces the entrypoint, so what would have run without it is kept
	// explicitly: the recipe's entrypoint and command, else the base's.
	ep := cfg.Entrypoint
	if ep == nil {
		ep = base.Config.Config.Entrypoint
	}
	if cfg.Cmd == nil && cfg.Entrypoint == nil {
		cfg.Cmd = base.Config.Config.Cmd
	}
	cfg.Entrypoint = activate.Entrypoint(cfg.Prefix, ep)
	return cfg, nil
}

// ActivationDir is where the plan's activation scripts are, as an image path without
// the leading slash.
func (p *Plan) ActivationDir() string {
	return strings.TrimPrefix(p.Prefix, "/") + "/" + activate.Dir
}

// lastByPath keeps the last script of each path, sorted by path.
func lastByPath(scripts []activate.Script) []activate.Script {
	byPath := map[string]activate.Script{}
	for _, s := range scripts {
		byPath[s.Path] = s
	}
	out := make([]activate.Script, 0, len(byPath))
	for _, k := range slices.Sorted(maps.Keys(byPath)) {
		out = append(out, byPath[k])
	}
	return out
}
