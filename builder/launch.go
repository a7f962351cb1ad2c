package builder

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/reprobuild/reprobuild/internal/launch"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/record"
	"github.com/reprobuild/reprobuild/recipes"
)

// Launch targets.
const (
	LaunchKubernetes = "kubernetes"
	LaunchSlurm      = "slurm"
	LaunchApptainer  = "apptainer"
)

// LaunchOptions configure Launch.
type LaunchOptions struct {
	Recipe string
	Vars   map[string]string
	// To is LaunchKubernetes, LaunchSlurm or LaunchApptainer.
	To string
	// Image overrides the pushed image: REF@sha256:...
	Image string
	// CacheDir is where pushes are remembered (the channel cache directory).
	CacheDir string
	// SlurmRuntime is launch.SlurmOCI (default) or launch.SlurmApptainer.
	SlurmRuntime string
}

// LaunchResult is a launch spec: a file (Job manifest, sbatch script) or a command line.
type LaunchResult struct {
	To    string `json:"to"`
	Image string `json:"image"`
	// Filename is the conventional name of the spec file ("" for a command line).
	Filename string `json:"filename,omitempty"`
	Content  []byte `json:"-"`
}

var digestRefRe = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)

// Launch writes the launch spec of the recipe's built image for a cluster, pinned by
// digest: the image given, or the last push of the current lock from this machine. The
// lock must exist and be up to date (nothing is solved or built here).
func Launch(ctx context.Context, o LaunchOptions) (*LaunchResult, error) {
	r, err := LoadRecipe(o.Recipe, o.Vars)
	if err != nil {
		return nil, err
	}
	l, err := LoadLock(r)
	if err == nil {
		err = CheckLock(r, l)
	}
	if err != nil {
		var missing *MissingLockError
		if errors.As(err, &missing) {
			return nil, &NotLockedError{Recipe: r.Filename}
		}
		return nil, fmt.Errorf("%w; then build and push the image, and launch again", err)
	}
	lockBytes, err := lock.Marshal(l)
	if err != nil {
		return nil, err
	}
	lockHash := hexSHA256(lockBytes)
	ref := o.Image
	if ref != "" && !digestRefRe.MatchString(ref) {
		return nil, &UnpinnedImageError{Ref: ref}
	}
	// A VM recipe runs on Kubernetes as a KubeVirt VirtualMachineInstance booting its
	// containerDisk.
	kubevirt := o.To == LaunchKubernetes && r.VM != nil
	if ref == "" {
		last := LastPush
		if kubevirt {
			last = LastContainerDiskPush
		}
		if ref, err = last(o.CacheDir, lockHash); err != nil {
			return nil, err
		}
	}
	ref = launch.PinnedRef(ref)
	if len(l.Targets) == 0 {
		return nil, fmt.Errorf("%s has no targets", LockPath(r))
	}
	rr, err := record.Runtime(r, l, record.BuildInfo{ReprobuildVersion: Version().Version, Platform: l.Targets[0].Platform, LockHash: lockHash})
	if err != nil {
		return nil, err
	}
	spec := launchSpec(r, rr, ref)
	if len(l.Targets) > 1 {
		// An image index: the node's platform picks the image, so no arch selector.
		spec.Architecture = ""
	}
	res := &LaunchResult{To: o.To, Image: ref}
	switch o.To {
	case LaunchKubernetes:
		if kubevirt {
			res.Filename = spec.Name + "-vmi.yaml"
			res.Content, err = launch.KubeVirtYAML(spec)
			break
		}
		res.Filename = spec.Name + "-job.yaml"
		res.Content, err = launch.KubernetesYAML(spec)
	case LaunchSlurm:
		res.Filename = spec.Name + ".sbatch"
		res.Content, err = launch.SlurmScript(spec, launch.SlurmOptions{Runtime: o.SlurmRuntime})
	case LaunchApptainer:
		var line string
		line, err = launch.ApptainerLine(spec)
		res.Content = []byte(line + "\n")
	default:
		return nil, &UnknownTargetError{To: o.To}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Filename, err)
	}
	return res, nil
}

// launchSpec is what the launch targets are written from: the runtime record (what the
// image carries) plus the recipe's mount sources.
func launchSpec(r *recipes.Recipe, rr *record.RuntimeRecord, ref string) launch.Spec {
	name := r.Image.Name
	if name == "" {
		name = "reprobuild"
	}
	env := map[string]string{}
	for k, v := range rr.Hardware.GPUEnv {
		env[k] = v
	}
	for k, v := range rr.Runtime.Env {
		env[k] = v
	}
	s := launch.Spec{
		Name: name, Image: ref, RecipeHash: rr.RecipeHash, LockHash: rr.LockHash,
		Architecture: rr.Platform.Architecture, OS: rr.Platform.OS,
		Entrypoint: rr.Runtime.Entrypoint, Cmd: rr.Runtime.Cmd, Env: env,
		Workdir: rr.Runtime.Workdir, User: rr.Runtime.User,
		CPUs: rr.Hardware.CPUs, Memory: rr.Hardware.Memory, GPUs: rr.Hardware.GPUs, Cuda: rr.Hardware.Cuda,
	}
	for _, d := range r.Data {
		if d.Mode != "mount" {
			continue
		}
		m := launch.Mount{Name: d.Name, Path: d.Path}
		if d.Source != "" {
			if ds, why := recipes.ParseDataSource(d.Source); why == "" {
				m.Source, m.HasSource = ds, true
			}
		}
		s.Mounts = append(s.Mounts, m)
	}
	return s
}
