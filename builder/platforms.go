package builder

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/plan"
	"github.com/reprobuild/reprobuild/internal/record"
	"github.com/reprobuild/reprobuild/recipes"
)

// NonLinuxTargetError refuses to build an image for targets no OCI image can run: a
// lock may hold osx or win targets (for conda users on those machines), an image not.
type NonLinuxTargetError struct {
	Recipe  string
	Targets []string
}

func (e *NonLinuxTargetError) Error() string {
	return fmt.Sprintf("%s: platform.targets has %s, which no container image can run (images are linux only): "+
		"the lock keeps these targets for conda users, but build images with a recipe whose targets are linux-* only",
		e.Recipe, strings.Join(e.Targets, ", "))
}

// BasePlatformError says the base image has no image for a target's platform, which
// would otherwise put, say, amd64 binaries under an arm64 image.
type BasePlatformError struct {
	Base, Target, Want, Have string
}

func (e *BasePlatformError) Error() string {
	return fmt.Sprintf("base image %s is %s, but target %s needs %s: pin a multi-platform index (REF@sha256:<index digest>) "+
		"that has a %s image, or drop %s from platform.targets", e.Base, e.Have, e.Target, e.Want, e.Want, e.Target)
}

// checkImagePlatforms refuses, before anything is fetched or built, targets an image
// cannot hold: non-linux subdirs, and linux ones the base image has no image for. Only
// the targets in want count when it is set, and each of want must be a target.
func checkImagePlatforms(ctx context.Context, r *recipes.Recipe, l *lock.Lock, want []string, kc authn.Keychain) error {
	var have []string
	for _, t := range l.Targets {
		have = append(have, t.Platform)
	}
	for _, w := range want {
		found := false
		for _, t := range have {
			found = found || selected([]string{w}, t)
		}
		if !found {
			return fmt.Errorf("--platform %s: %s has no such target (it has %s)", w, LockPath(r), strings.Join(have, ", "))
		}
	}
	var bad []string
	for _, t := range l.Targets {
		if !selected(want, t.Platform) {
			continue
		}
		if os, _, _, ok := record.OCIPlatform(t.Platform); !ok || os != "linux" {
			bad = append(bad, t.Platform)
		}
	}
	if len(bad) > 0 {
		return &NonLinuxTargetError{Recipe: r.Filename, Targets: bad}
	}
	for _, t := range l.Targets {
		if !selected(want, t.Platform) {
			continue
		}
		p, err := plan.New(r, l, t.Platform, plan.Info{})
		if err != nil {
			return err
		}
		img, err := loadBase(ctx, p, kc)
		if err != nil {
			return fmt.Errorf("base image for %s: %w", t.Platform, err)
		}
		if img == nil {
			continue // scratch fits every platform
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return fmt.Errorf("base image %s: reading its config: %w", r.Image.Base, err)
		}
		have := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
		w := p.Platform
		if have.OS != w.OS || have.Architecture != w.Architecture ||
			(have.Variant != "" && w.Variant != "" && have.Variant != w.Variant) {
			return &BasePlatformError{Base: r.Image.Base, Target: t.Platform, Want: w.String(), Have: have.String()}
		}
	}
	return nil
}

// selectedSubdirs turns --platform values (subdirs or OCI platforms) into the lock's
// subdirs, in lock order; nil selects every target.
func selectedSubdirs(l *lock.Lock, want []string) []string {
	if len(want) == 0 {
		return nil
	}
	var out []string
	for _, t := range l.Targets {
		if selected(want, t.Platform) {
			out = append(out, t.Platform)
		}
	}
	return out
}

// selected reports whether target (a conda subdir) is one of want, given as subdirs or
// OCI platforms (linux/arm64); an empty want selects every target.
func selected(want []string, target string) bool {
	if len(want) == 0 {
		return true
	}
	os, arch, variant, _ := record.OCIPlatform(target)
	oci := v1.Platform{OS: os, Architecture: arch, Variant: variant}.String()
	for _, w := range want {
		if w == target || w == oci {
			return true
		}
	}
	return false
}
