package lock

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// Want is what the recipe expects of its lock.
type Want struct {
	// RecipeHash is recipes.Recipe.Hash() of the current recipe.
	RecipeHash string
	// Targets are the platforms the recipe builds for.
	Targets []string
	// Specs are the recipe's root match specs; every locked target must hold a package
	// (or virtual package) matching each.
	Specs []Spec
}

// Spec is one root match spec of a recipe and where it was written ("file:line:col").
type Spec struct {
	Text   string
	Origin string
}

// StaleError lists every reason a lock does not fit its recipe or is not usable as is.
type StaleError struct {
	Reasons []string
}

func (e *StaleError) Error() string {
	if len(e.Reasons) == 1 {
		return "lock is stale: " + e.Reasons[0] + "; run `reprobuild lock`"
	}
	// The message stays one readable line; Reasons keeps the full list.
	shown := e.Reasons
	more := ""
	if len(shown) > 5 {
		shown = shown[:5]
		more = fmt.Sprintf("; and %d more", len(e.Reasons)-5)
	}
	return fmt.Sprintf("lock is stale (%d problems: %s%s); run `reprobuild lock`", len(e.Reasons), strings.Join(shown, "; "), more)
}

// Check reports whether l still fits the recipe described by want and is internally
// consistent. It returns nil or a *StaleError with every reason found.
func Check(l *Lock, want Want) error {
	var reasons []string
	if l.RecipeHash != want.RecipeHash {
		reasons = append(reasons, fmt.Sprintf("the recipe changed since it was locked (lock has recipe-hash %s, recipe is %s)", short(l.RecipeHash), short(want.RecipeHash)))
	}
	have := map[string]bool{}
	for _, t := range l.Targets {
		have[t.Platform] = true
	}
	wanted := map[string]bool{}
	for _, p := range want.Targets {
		wanted[p] = true
		if !have[p] {
			reasons = append(reasons, fmt.Sprintf("target %s is not locked", p))
		}
	}
	for _, t := range l.Targets {
		if len(want.Targets) > 0 && !wanted[t.Platform] {
			reasons = append(reasons, fmt.Sprintf("target %s is locked but no longer in the recipe", t.Platform))
		}
	}
	reasons = append(reasons, unmetSpecs(l, want.Specs)...)
	reasons = append(reasons, Problems(l)...)
	if len(reasons) > 0 {
		return &StaleError{Reasons: reasons}
	}
	return nil
}

var (
	sha256Re = regexp.MustCompile(`^[0-9a-f]{64}$`)
	md5Re    = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// Problems lists what makes a lock unusable for a bitwise build on its own terms: packages
// without URL or sha256, malformed hashes, duplicate names, dependencies the locked set
// does not satisfy (checked with conda's match spec rules), pip packages (not
// installable yet).
func Problems(l *Lock) []string {
	var out []string
	for _, t := range l.Targets {
		names := map[string]bool{}
		for _, v := range t.Virtual {
			names[v.Name] = true
		}
		for _, p := range t.Packages {
			id := fmt.Sprintf("%s: %s-%s-%s", t.Platform, p.Name, p.Version, p.Build)
			if names[p.Name] {
				out = append(out, fmt.Sprintf("%s is locked twice", id))
			}
			names[p.Name] = true
			switch {
			case p.URL == "":
				out = append(out, id+" has no url")
			case p.SHA256 == "":
				out = append(out, id+" has no sha256")
			case !sha256Re.MatchString(p.SHA256):
				out = append(out, fmt.Sprintf("%s has a malformed sha256 %q", id, p.SHA256))
			}
			if p.MD5 != "" && !md5Re.MatchString(p.MD5) {
				out = append(out, fmt.Sprintf("%s has a malformed md5 %q", id, p.MD5))
			}
		}
		byName := map[string]*conda.PackageRecord{}
		for i := range t.Packages {
			byName[t.Packages[i].Name] = &t.Packages[i]
		}
		for _, v := range t.Virtual {
			byName[v.Name] = &conda.PackageRecord{Name: v.Name, Version: v.Version, Build: v.Build, Subdir: t.Platform}
		}
		for _, p := range t.Packages {
			id := fmt.Sprintf("%s: %s-%s-%s", t.Platform, p.Name, p.Version, p.Build)
			for _, d := range p.Depends {
				name := depName(d)
				// Virtual packages are only checked when the target records them.
				if name == "" || strings.HasPrefix(name, "__") && len(t.Virtual) == 0 {
					continue
				}
				dep, ok := byName[name]
				if !ok {
					out = append(out, fmt.Sprintf("%s depends on %q but no %s is locked", id, d, name))
					continue
				}
				m, err := conda.ParseMatchSpec(d)
				if err != nil {
					out = append(out, fmt.Sprintf("%s has a dependency conda cannot read: %v", id, err))
					continue
				}
				if !m.Match(dep) {
					out = append(out, fmt.Sprintf("%s depends on %q but the lock has %s-%s-%s", id, d, dep.Name, dep.Version, dep.Build))
				}
			}
		}
		for _, p := range t.Pip {
			out = append(out, fmt.Sprintf("%s: pip package %s %s is locked but reprobuild cannot install pip packages yet", t.Platform, p.Name, p.Version))
		}
	}
	return out
}

// unmetSpecs lists the recipe specs that the locked set of a target does not satisfy:
// a lock from which a root package was removed (or replaced by one the spec refuses)
// must not build.
func unmetSpecs(l *Lock, specs []Spec) []string {
	var out []string
	for _, t := range l.Targets {
		byName := map[string]*conda.PackageRecord{}
		for i := range t.Packages {
			byName[t.Packages[i].Name] = &t.Packages[i]
		}
		for _, v := range t.Virtual {
			byName[v.Name] = &conda.PackageRecord{Name: v.Name, Version: v.Version, Build: v.Build, Subdir: t.Platform}
		}
		for _, s := range specs {
			where := ""
			if s.Origin != "" {
				where = " (" + s.Origin + ")"
			}
			// The channel of a spec is the solver's business; the lock records where
			// each package came from in its url.
			text := s.Text
			if i := strings.LastIndex(text, "::"); i >= 0 {
				text = text[i+2:]
			}
			m, err := conda.ParseMatchSpec(text)
			if err != nil {
				out = append(out, fmt.Sprintf("%s: recipe spec %q%s cannot be read: %v", t.Platform, s.Text, where, err))
				continue
			}
			name := depName(text)
			if strings.HasPrefix(name, "__") && len(t.Virtual) == 0 {
				continue // virtual packages are only checked when the target records them
			}
			p, ok := byName[name]
			if !ok {
				out = append(out, fmt.Sprintf("%s: recipe spec %q%s is satisfied by no locked package", t.Platform, s.Text, where))
				continue
			}
			if !m.Match(p) {
				out = append(out, fmt.Sprintf("%s: recipe spec %q%s is not satisfied by the locked %s-%s-%s", t.Platform, s.Text, where, p.Name, p.Version, p.Build))
			}
		}
	}
	return out
}

// depName is the package name a dependency string names.
func depName(d string) string {
	d = strings.TrimSpace(d)
	if i := strings.LastIndex(d, "::"); i >= 0 {
		d = d[i+2:]
	}
	if i := strings.IndexAny(d, " <>=!~["); i >= 0 {
		d = d[:i]
	}
	return d
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	if h == "" {
		return "(none)"
	}
	return h
}
