package recipes

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/reprobuild/reprobuild/internal/conda"
)

var (
	sha256Re  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	digestRe  = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)
	versionRe = regexp.MustCompile(`^[0-9]+(\.[0-9]+)*$`)
	memoryRe  = regexp.MustCompile(`^([0-9]+)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$`)
	cpuRe     = regexp.MustCompile(`^[a-z0-9_.]+$`)
)

func (d *decoder) decodeReproducibility(b *hcl.Block) {
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "level", Required: true}}})
	d.addAll(diags)
	r := &d.recipe.Reproducibility
	r.Range = b.DefRange
	if attr := content.Attributes["level"]; attr != nil {
		var lvl string
		if d.stringAttr(attr, &lvl) && d.oneOf(attr, lvl, "bitwise", "pinned", "best-effort") {
			r.Level = lvl
		}
	}
}

func (d *decoder) decodeImage(b *hcl.Block) {
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "base"}, {Name: "tags"}, {Name: "labels"}, {Name: "prefix"},
	}})
	d.addAll(diags)
	img := &d.recipe.Image
	img.Name = b.Labels[0]
	img.Range = b.DefRange
	if attr := content.Attributes["base"]; attr != nil {
		d.baseWritten = true
		var base string
		if d.stringAttr(attr, &base) {
			img.Base = base
			d.baseIsScratch = base == "scratch"
			d.checkBase(attr, base)
		}
	}
	tags, ranges := d.stringListAttr(content.Attributes["tags"])
	for i, t := range tags {
		if t == "" || strings.ContainsAny(t, " \t\n") {
			d.errorf(ranges[i], "Invalid image tag", "%q is not an image reference. Write it as REGISTRY/REPOSITORY:TAG, e.g. \"registry.example/lab/analysis:1.0\".", t)
		}
	}
	img.Tags = tags
	img.Labels = d.stringMapAttr(content.Attributes["labels"])
	if attr := content.Attributes["labels"]; attr != nil {
		d.checkLabels(attr, img.Labels)
	}
	if attr := content.Attributes["prefix"]; attr != nil {
		var p string
		if d.stringAttr(attr, &p) {
			if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
				d.errorf(attr.Expr.Range(), "Invalid prefix", "The prefix %q must be a clean absolute path other than \"/\", e.g. %q.", p, DefaultPrefix)
			} else if overlaps(p, RecordDir) {
				d.errorf(attr.Expr.Range(), "Invalid prefix", "The prefix %q overlaps %s, where reprobuild writes the runtime record. Choose another, e.g. %q.", p, RecordDir, DefaultPrefix)
			} else {
				img.Prefix = p
			}
		}
	}
}

func (d *decoder) checkBase(attr *hcl.Attribute, base string) {
	switch {
	case base == "scratch":
		return
	case base == "" || strings.ContainsAny(base, " \t\n"):
		d.errorf(attr.Expr.Range(), "Invalid base image", "%q is not an image reference. Use \"scratch\", \"REF@sha256:DIGEST\" or \"oci:PATH@sha256:DIGEST\".", base)
		return
	case base == "oci:" || strings.HasPrefix(base, "oci:@"):
		d.errorf(attr.Expr.Range(), "Invalid base image", "%q has no OCI layout path. Write \"oci:PATH@sha256:DIGEST\".", base)
		return
	}
	if strings.Contains(base, "@") && !digestRe.MatchString(base) {
		d.errorf(attr.Expr.Range(), "Invalid base image digest", "The digest in %q must be \"sha256:\" followed by 64 lowercase hex digits.", base)
		return
	}
	if !digestRe.MatchString(base) {
		// An unpinned base moves under the recipe: bitwise reproducibility cannot hold.
		if d.recipe.Reproducibility.Level == "bitwise" {
			d.errorf(attr.Expr.Range(), "Base image not pinned", "Level \"bitwise\" needs a base pinned by digest: write %q as \"%s@sha256:DIGEST\" (find the digest with `crane digest` or `skopeo inspect`).", base, base)
		} else {
			d.warnf(attr.Expr.Range(), "Base image not pinned", "%q has no digest, so rebuilds may use a different base. Pin it as \"%s@sha256:DIGEST\".", base, base)
		}
	}
}

func (d *decoder) decodePython(b *hcl.Block) {
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "version"}, {Name: "implementation"}, {Name: "source"},
	}})
	d.addAll(diags)
	p := &Python{Source: DefaultPythonSource, Range: b.DefRange, VersionRange: b.DefRange}
	if attr := content.Attributes["source"]; attr != nil {
		var s string
		if d.stringAttr(attr, &s) && d.oneOf(attr, s, "channel", "base") {
			p.Source = s
		}
	}
	if attr := content.Attributes["implementation"]; attr != nil {
		var s string
		if d.stringAttr(attr, &s) && d.oneOf(attr, s, "cpython", "pypy") {
			p.Implementation = s
		}
	}
	if attr := content.Attributes["version"]; attr != nil {
		p.VersionRange = attr.Expr.Range()
		var v string
		if d.stringAttr(attr, &v) {
			if !versionRe.MatchString(v) {
				d.errorf(attr.Expr.Range(), "Invalid python version", "%q is not a version. Write the release as digits and dots, e.g. \"3.11\" (it becomes the spec \"python 3.11.*\").", v)
			} else {
				p.Version = v
			}
		}
	} else if p.Source == "channel" {
		d.errorf(b.DefRange, "Missing python version", "A python block with source = \"channel\" needs version = \"3.X\" so the interpreter can be locked.")
	}
	d.recipe.Python = p
}

func (d *decoder) decodeChannels(blocks hcl.Blocks) {
	schema := &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "url", Required: true}, {Name: "mirrors"}, {Name: "packages"},
	}}
	names := map[string]hcl.Range{}
	urls := map[string]hcl.Range{}
	for _, b := range blocks {
		name := b.Labels[0]
		if first, dup := names[name]; dup {
			d.errorf(b.LabelRanges[0], "Duplicate channel", "Channel %q is already declared at %s. Give each channel block a different name, or merge them.", name, at(first))
			continue
		}
		names[name] = b.DefRange
		content, diags := b.Body.Content(schema)
		d.addAll(diags)
		ch := Channel{Name: name, Range: b.DefRange}
		if attr := content.Attributes["url"]; attr != nil {
			var u string
			if d.stringAttr(attr, &u) {
				if nu, msg := normalizeChannelURL(u); msg != "" {
					d.urlError(attr.Expr.Range(), "Invalid channel URL", msg, hasSecret(u))
				} else {
					ch.URL = nu
					if first, dup := urls[nu]; dup {
						d.errorf(attr.Expr.Range(), "Duplicate channel URL", "%q is also the URL of the channel at %s. Remove one of the two channel blocks.", nu, at(first))
					}
					urls[nu] = b.DefRange
				}
			}
		}
		mirrors, ranges := d.stringListAttr(content.Attributes["mirrors"])
		for i, m := range mirrors {
			nm, msg := normalizeChannelURL(m)
			if msg != "" {
				d.urlError(ranges[i], "Invalid mirror URL", msg, hasSecret(m))
				continue
			}
			ch.Mirrors = append(ch.Mirrors, nm)
		}
		pkgs, ranges := d.stringListAttr(content.Attributes["packages"])
		for i, p := range pkgs {
			if !validNamePattern(p) {
				d.errorf(ranges[i], "Invalid package pattern", "%q is not a package name or glob. Use lowercase names with an optional '*', e.g. \"numpy\" or \"scipy*\".", p)
				continue
			}
			ch.Packages = append(ch.Packages, p)
		}
		d.recipe.Channels = append(d.recipe.Channels, ch)
	}
}

// normalizeChannelURL keeps a channel location as written but canonical: URLs lose a
// trailing slash, relative paths are cleaned into slash form. It never makes a path
// absolute, so no host path reaches the lock.
func normalizeChannelURL(u string) (string, string) {
	if u == "" {
		return "", "The channel URL is empty. Write an https:// or file:// URL, or a path relative to the recipe."
	}
	if strings.Contains(u, "://") {
		pu, err := url.Parse(u)
		if err != nil {
			return "", fmt.Sprintf("%q is not a valid URL: %v.", u, err)
		}
		switch pu.Scheme {
		case "http", "https", "file":
		default:
			return "", fmt.Sprintf("%q uses the unsupported scheme %q. Use https://, http:// or file://.", u, pu.Scheme)
		}
		if pu.User != nil {
			pu.User = nil
			return "", fmt.Sprintf("%q carries credentials (user:password@). Remove them from the recipe and set REPROBUILD_AUTH_%s=\"basic USER:PASSWORD\" or use --auth-file: credentials are configured outside the recipe so they never reach the lock or the image.", pu.String(), authEnvKey(pu.Host))
		}
		if segs := strings.Split(pu.Path, "/"); len(segs) > 2 && segs[1] == "t" && segs[2] != "" {
			segs = append(segs[:1], segs[3:]...)
			pu.Path = strings.Join(segs, "/")
			pu.RawPath = ""
			return "", fmt.Sprintf("the channel URL carries an anaconda.org token (/t/<TOKEN>/). Write %q instead and set REPROBUILD_AUTH_%s=\"conda-token <TOKEN>\" (or \"conda_token\" in --auth-file): the token is then sent as /t/<TOKEN>/ but never reaches the lock or the image.", pu.String(), authEnvKey(pu.Host))
		}
		if pu.Scheme != "file" && pu.Host == "" {
			return "", fmt.Sprintf("%q has no host.", u)
		}
		return strings.TrimRight(u, "/"), ""
	}
	p := path.Clean(strings.ReplaceAll(u, "\\", "/"))
	return p, ""
}

// hasSecret reports a URL carrying credentials: userinfo or an anaconda.org /t/TOKEN/.
func hasSecret(u string) bool {
	pu, err := url.Parse(u)
	if err != nil {
		return strings.Contains(u, "@")
	}
	segs := strings.Split(pu.Path, "/")
	return pu.User != nil || len(segs) > 2 && segs[1] == "t" && segs[2] != ""
}

// urlError reports a bad channel or mirror URL. When the URL carries a secret, the
// diagnostic names the place (file:line:col) but has no source snippet, so the secret is
// not printed into a terminal or CI log.
func (d *decoder) urlError(rng hcl.Range, summary, msg string, secret bool) {
	if !secret {
		d.errorf(rng, summary, "%s", msg)
		return
	}
	d.add(&hcl.Diagnostic{Severity: hcl.DiagError,
		Summary: fmt.Sprintf("%s at %s:%d:%d", summary, rng.Filename, rng.Start.Line, rng.Start.Column),
		Detail:  msg})
}

// authEnvKey is the REPROBUILD_AUTH_ suffix of a host, as the channel package reads it.
func authEnvKey(host string) string {
	b := []byte(strings.ToUpper(host))
	for i, ch := range b {
		if !(ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

func validNamePattern(p string) bool {
	if p == "" {
		return false
	}
	for _, c := range p {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '*') {
			return false
		}
	}
	return true
}

func (d *decoder) decodeSolver(b *hcl.Block) {
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "channel_priority"}, {Name: "exclude_newer"},
	}})
	d.addAll(diags)
	s := &d.recipe.Solver
	s.Range = b.DefRange
	if attr := content.Attributes["channel_priority"]; attr != nil {
		var v string
		if d.stringAttr(attr, &v) && d.oneOf(attr, v, "strict", "flexible", "disabled") {
			s.ChannelPriority = v
		}
	}
	if attr := content.Attributes["exclude_newer"]; attr != nil {
		var v string
		if d.stringAttr(attr, &v) {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				d.errorf(attr.Expr.Range(), "Invalid exclude_newer time", "%q is not an RFC 3339 time. Write it like \"2026-11-01T00:00:00Z\".", v)
			} else {
				// Stored in UTC so the same instant always hashes and locks the same.
				s.ExcludeNewer = t.UTC().Format(time.RFC3339Nano)
			}
		}
	}
}

func (d *decoder) decodeDependencies(b *hcl.Block) {
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "conda"}, {Name: "pip"}}})
	d.addAll(diags)
	deps := &d.recipe.Dependencies
	specs, ranges := d.stringListAttr(content.Attributes["conda"])
	for i, s := range specs {
		if msg, off, ok := checkSpec(s); !ok {
			d.errorf(insideString(ranges[i], s, off), "Invalid match spec", "%q: %s", s, msg)
			continue
		}
		deps.Conda = append(deps.Conda, Spec{Text: normalizeSpace(s), Range: ranges[i]})
	}
	pips, ranges := d.stringListAttr(content.Attributes["pip"])
	for i, s := range pips {
		deps.Pip = append(deps.Pip, Spec{Text: s, Range: ranges[i]})
	}
	if len(pips) > 0 {
		attr := content.Attributes["pip"]
		d.errorf(attr.Expr.Range(), "pip dependencies are not supported yet",
			"reprobuild cannot lock or install PyPI packages yet. Use the conda-forge build of each package in dependencies.conda (most have one), or remove pip = [...].")
	}
}

// insideString narrows the range of a quoted string literal to the column of byte off
// within its value, so a bad match spec points at the bad part. It gives up (returning
// the whole range) for strings that span lines or hold escapes.
func insideString(rng hcl.Range, s string, off int) hcl.Range {
	if rng.Start.Line != rng.End.Line || rng.End.Byte-rng.Start.Byte != len(s)+2 || off < 0 || off > len(s) {
		return rng
	}
	start := rng.Start
	start.Byte += 1 + off
	start.Column += 1 + len([]rune(s[:off]))
	end := rng.End
	end.Byte--
	end.Column--
	if start.Byte >= end.Byte {
		return rng
	}
	return hcl.Range{Filename: rng.Filename, Start: start, End: end}
}

func normalizeSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

func (d *decoder) decodePlatform(b *hcl.Block) {
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "targets"}, {Name: "glibc"}}})
	d.addAll(diags)
	p := &d.recipe.Platform
	p.Range = b.DefRange
	targets, ranges := d.stringListAttr(content.Attributes["targets"])
	seen := map[string]bool{}
	for i, t := range targets {
		if msg, ok := checkPlatform(t); !ok {
			d.errorf(ranges[i], "Unknown platform", "%s", msg)
			continue
		}
		if seen[t] {
			d.errorf(ranges[i], "Duplicate platform", "%q is listed twice in targets; remove one.", t)
			continue
		}
		seen[t] = true
		p.Targets = append(p.Targets, t)
	}
	if attr := content.Attributes["targets"]; attr != nil && len(targets) == 0 && !d.diags.HasErrors() {
		d.errorf(attr.Expr.Range(), "No target platforms", "targets is empty. List at least one conda platform, e.g. [\"linux-64\"], or remove the attribute to use the default.")
	}
	if attr := content.Attributes["glibc"]; attr != nil {
		var v string
		if d.stringAttr(attr, &v) {
			if !versionRe.MatchString(v) {
				d.errorf(attr.Expr.Range(), "Invalid glibc version", "%q is not a version. Write the oldest glibc the image must run on, e.g. \"2.28\".", v)
			} else {
				p.Glibc = v
			}
		}
	}
}

func (d *decoder) decodeHardware(b *hcl.Block) {
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "cuda"}, {Name: "cpu"}, {Name: "gpus"}, {Name: "memory"},
		{Name: "cpus"},
	}})
	d.decodeCPUs(content.Attributes["cpus"])
	d.addAll(diags)
	h := &d.recipe.Hardware
	h.Range = b.DefRange
	if attr := content.Attributes["cuda"]; attr != nil {
		var v string
		if d.stringAttr(attr, &v) {
			if !versionRe.MatchString(v) {
				d.errorf(attr.Expr.Range(), "Invalid CUDA version", "%q is not a version. Write the CUDA driver version the image needs, e.g. \"12.4\".", v)
			} else {
				h.Cuda = v
			}
		}
	}
	if attr := content.Attributes["cpu"]; attr != nil {
		var v string
		if d.stringAttr(attr, &v) {
			switch {
			case !cpuRe.MatchString(v):
				d.errorf(attr.Expr.Range(), "Invalid CPU level", "%q is not a CPU microarchitecture name. Use an archspec name such as \"x86_64_v3\" or \"aarch64\".", v)
			case !conda.KnownArchspec(v):
				// A newer archspec name is not wrong, so this only warns; a name of no
				// family is an error in crossChecks.
				if fam, ok := conda.ArchspecFamily(v); ok {
					msg := fmt.Sprintf("%q is not in reprobuild's archspec table; it is taken as a %s CPU and passed to the solver as written.", v, fam)
					if s := suggest(v, conda.ArchspecNames()); s != "" {
						msg += fmt.Sprintf(" Did you mean %q?", s)
					}
					d.warnf(attr.Expr.Range(), "Unknown CPU microarchitecture", "%s", msg)
				}
				h.CPU, h.CPURange = v, attr.Expr.Range()
			default:
				h.CPU, h.CPURange = v, attr.Expr.Range()
			}
		}
	}
	if attr := content.Attributes["gpus"]; attr != nil {
		d.intAttr(attr, &h.GPUs)
		if h.GPUs < 0 {
			d.errorf(attr.Expr.Range(), "Invalid GPU count", "gpus must be 0 or more, got %d.", h.GPUs)
			h.GPUs = 0
		}
	}
	if attr := content.Attributes["memory"]; attr != nil {
		var v string
		if d.stringAttr(attr, &v) {
			if !memoryRe.MatchString(v) {
				d.errorf(attr.Expr.Range(), "Invalid memory size", "%q is not a size. Write a whole number with a unit, e.g. \"32GiB\" or \"512MiB\".", v)
			} else {
				h.Memory = v
			}
		}
	}
}

func (d *decoder) decodeData(blocks hcl.Blocks) {
	schema := &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "url", Required: true}, {Name: "sha256"}, {Name: "path", Required: true}, {Name: "mode"},
		{Name: "source"},
	}}
	names := map[string]hcl.Range{}
	paths := map[string]hcl.Range{}
	pathRanges := map[string]hcl.Range{} // data path -> its attribute's value
	for _, b := range blocks {
		name := b.Labels[0]
		if first, dup := names[name]; dup {
			d.errorf(b.LabelRanges[0], "Duplicate data source", "Data %q is already declared at %s. Give each data block a different name.", name, at(first))
			continue
		}
		names[name] = b.DefRange
		content, diags := b.Body.Content(schema)
		d.addAll(diags)
		ds := Data{Name: name, Mode: DefaultDataMode, Range: b.DefRange}
		if attr := content.Attributes["url"]; attr != nil {
			if d.stringAttr(attr, &ds.URL) {
				if pu, err := url.Parse(ds.URL); err != nil || pu.Scheme == "" {
					d.errorf(attr.Expr.Range(), "Invalid data URL", "%q is not a URL. Write an https:// or file:// URL.", ds.URL)
				}
			}
		}
		if attr := content.Attributes["mode"]; attr != nil {
			var m string
			if d.stringAttr(attr, &m) && d.oneOf(attr, m, "bake", "mount") {
				ds.Mode = m
			}
		}
		if attr := content.Attributes["path"]; attr != nil {
			if d.stringAttr(attr, &ds.Path) {
				if !path.IsAbs(ds.Path) || path.Clean(ds.Path) != ds.Path || ds.Path == "/" {
					d.errorf(attr.Expr.Range(), "Invalid data path", "%q must be a clean absolute path inside the image, e.g. \"/data/weights.bin\".", ds.Path)
				} else if first, dup := paths[ds.Path]; dup {
					d.errorf(attr.Expr.Range(), "Duplicate data path", "%q is also the path of the data block at %s.", ds.Path, at(first))
				} else {
					paths[ds.Path] = b.DefRange
					pathRanges[ds.Path] = attr.Expr.Range()
				}
			}
		}
		if attr := content.Attributes["sha256"]; attr != nil {
			if d.stringAttr(attr, &ds.SHA256) && !sha256Re.MatchString(ds.SHA256) {
				d.errorf(attr.Expr.Range(), "Invalid sha256", "%q is not a sha256 digest: write 64 lowercase hex digits (run `sha256sum FILE`).", ds.SHA256)
			}
		} else if d.recipe.Reproducibility.Level == "bitwise" {
			d.errorf(b.DefRange, "Data without sha256", "Level \"bitwise\" needs every data source pinned: add sha256 = \"...\" to data %q (run `sha256sum FILE`).", name)
		} else {
			d.warnf(b.DefRange, "Data without sha256", "Data %q is not pinned by a checksum, so its content can change between builds. Add sha256 = \"...\".", name)
		}
		d.decodeDataSource(content.Attributes["source"], &ds)
		d.recipe.Data = append(d.recipe.Data, ds)
	}
	d.checkDataPaths(pathRanges)
}

func (d *decoder) decodeRuntime(b *hcl.Block) {
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "entrypoint"}, {Name: "cmd"}, {Name: "env"}, {Name: "workdir"}, {Name: "user"},
	}})
	d.addAll(diags)
	rt := &d.recipe.Runtime
	rt.Range = b.DefRange
	rt.Entrypoint, _ = d.stringListAttr(content.Attributes["entrypoint"])
	rt.Cmd, _ = d.stringListAttr(content.Attributes["cmd"])
	rt.Env = d.stringMapAttr(content.Attributes["env"])
	if attr := content.Attributes["env"]; attr != nil {
		d.checkEnv(attr, rt.Env)
	}
	if attr := content.Attributes["workdir"]; attr != nil {
		if d.stringAttr(attr, &rt.Workdir) && !path.IsAbs(rt.Workdir) {
			d.errorf(attr.Expr.Range(), "Invalid workdir", "%q must be an absolute path, e.g. \"/work\".", rt.Workdir)
		}
	}
	if attr := content.Attributes["user"]; attr != nil {
		if d.stringAttr(attr, &rt.User) && !d.checkUser(attr, rt.User) {
			rt.User = ""
		}
	}
}

func (d *decoder) decodeLicenses(b *hcl.Block) {
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "allow"}, {Name: "deny"}}})
	d.addAll(diags)
	l := &d.recipe.Licenses
	l.Range = b.DefRange
	l.Allow, _ = d.stringListAttr(content.Attributes["allow"])
	l.Deny, _ = d.stringListAttr(content.Attributes["deny"])
	allowed := map[string]bool{}
	for _, a := range l.Allow {
		allowed[a] = true
	}
	for _, x := range l.Deny {
		if allowed[x] {
			d.errorf(content.Attributes["deny"].Expr.Range(), "Licence both allowed and denied", "%q is in both allow and deny; keep it in one list.", x)
		}
	}
}

// checkCPUTargets reports a hardware.cpu that no target can use: it only reaches the
// solver for targets of its own family, so on any other it would be silently ignored.
func (d *decoder) checkCPUTargets(cpu string, rng hcl.Range) {
	targets := d.recipe.Targets()
	fam, ok := conda.ArchspecFamily(cpu)
	if !ok {
		msg := fmt.Sprintf("hardware.cpu %q is no archspec microarchitecture reprobuild knows, so it would apply to none of the targets (%s).", cpu, strings.Join(targets, ", "))
		if s := suggest(cpu, conda.ArchspecNames()); s != "" {
			msg += fmt.Sprintf(" Did you mean %q?", s)
		} else {
			msg += " Use an archspec name such as \"x86_64_v3\", \"zen3\" or \"neoverse_v1\"."
		}
		d.errorf(rng, "Unknown CPU microarchitecture", "%s", msg)
		return
	}
	for _, t := range targets {
		if p, err := conda.ParsePlatform(t); err == nil && p.ArchFamily() == fam {
			return
		}
	}
	example := map[string]string{"x86_64": "linux-64", "aarch64": "linux-aarch64", "ppc64le": "linux-ppc64le", "s390x": "linux-s390x", "armv7l": "linux-armv7l"}[fam]
	fix := "name a CPU of the targets' family"
	if example != "" {
		fix = fmt.Sprintf("add a target of that family (such as %q) to platform.targets, or %s", example, fix)
	}
	d.errorf(rng, "CPU fits no target", "hardware.cpu %q belongs to the %s family, but none of the targets (%s) does, so it would be ignored. To use it, %s.", cpu, fam, strings.Join(targets, ", "), fix)
}

// crossChecks are the rules that involve more than one block.
func (d *decoder) crossChecks(body hcl.Body) {
	r := d.recipe
	where := hcl.Range{Filename: r.Filename, Start: hcl.InitialPos, End: hcl.InitialPos}
	if sb, ok := body.(interface{ MissingItemRange() hcl.Range }); ok {
		where = sb.MissingItemRange()
	}
	needsChannel := len(r.Dependencies.Conda) > 0 || (r.Python != nil && r.Python.Source == "channel")
	if needsChannel && len(r.Channels) == 0 {
		d.errorf(where, "No channel", "The recipe asks for conda packages but declares no channel. Add a block such as channel \"conda-forge\" { url = \"https://conda.anaconda.org/conda-forge\" }.")
	}
	// A base that was written but could not be decoded (e.g. an unset variable) has
	// already been reported; the default "scratch" must not raise a second error.
	if r.Python != nil && r.Python.Source == "base" && r.Image.Base == "scratch" && (!d.baseWritten || d.baseIsScratch) {
		d.errorf(r.Python.Range, "No interpreter in base", "python.source = \"base\" takes the interpreter from the base image, but the base is \"scratch\". Set image.base to an image with Python, or use source = \"channel\".")
	}
	if cpu := r.Hardware.CPU; cpu != "" {
		d.checkCPUTargets(cpu, r.Hardware.CPURange)
	}
	for _, s := range r.Dependencies.Conda {
		if r.Python != nil && specName(s.Text) == "python" {
			d.errorf(s.Range, "Python given twice", "python is set by the python block; remove %q from dependencies.conda (or drop the python block).", s.Text)
		}
	}
}
