package record

import (
	"fmt"
	"strings"
	"text/tabwriter"
)

// Text renders the audit report for a terminal, in the four steps.
func (r *Report) Text() string {
	var b strings.Builder
	name := r.Recipe
	if name == "" {
		name = "(recipe)"
	}
	fmt.Fprintf(&b, "reprobuild audit of %s\n\n", name)

	b.WriteString("1. Objectives and scope\n")
	tw := table(&b)
	fmt.Fprintf(tw, "   level\t%s (declared)\n", r.Scope.Level)
	targets := strings.Join(r.Scope.Targets, ", ")
	if r.Scope.Glibc != "" {
		targets += " (glibc >= " + r.Scope.Glibc + ")"
	}
	fmt.Fprintf(tw, "   targets\t%s\n", targets)
	fmt.Fprintf(tw, "   hardware\t%s\n", hardwareText(r.Scope.Hardware))
	fmt.Fprintf(tw, "   base\t%s\n", r.Scope.Base)
	tw.Flush()

	b.WriteString("\n2. Components\n")
	c := r.Components
	tw = table(&b)
	fmt.Fprintf(tw, "   interpreter\t%s\n", c.Interpreter)
	if len(c.Targets) == 0 {
		fmt.Fprintf(tw, "   packages\tunknown (no lock)\n")
	}
	for _, t := range c.Targets {
		fmt.Fprintf(tw, "   packages\t%s: %d (%d noarch)\n", t.Platform, t.Packages, t.Noarch)
	}
	fmt.Fprintf(tw, "   channels\t%d (%d mirrors)\n", c.Channels, c.Mirrors)
	fmt.Fprintf(tw, "   specs\t%d conda, %d pip\n", c.CondaSpecs, c.PipSpecs)
	fmt.Fprintf(tw, "   data\t%d baked, %d mounted\n", c.DataBaked, c.DataMounted)
	if len(c.Licences) > 0 {
		var ls []string
		for _, l := range c.Licences {
			ls = append(ls, fmt.Sprintf("%s (%d)", l.Licence, l.Packages))
		}
		fmt.Fprintf(tw, "   licences\t%s\n", strings.Join(ls, ", "))
	}
	tw.Flush()

	fmt.Fprintf(&b, "\n3. Threats (%d)\n", len(r.Threats))
	if len(r.Threats) == 0 {
		b.WriteString("   none found\n")
	}
	for _, t := range r.Threats {
		subject := ""
		if t.Subject != "" {
			subject = " [" + t.Subject + "]"
		}
		fmt.Fprintf(&b, "   %-6s %s%s\n", strings.ToUpper(t.Severity), t.ID, subject)
		fmt.Fprintf(&b, "          %s\n", t.Message)
		var notes []string
		if t.Breaks != "" {
			notes = append(notes, "breaks "+t.Breaks)
		}
		if t.MitigatedBy != "" {
			notes = append(notes, "mitigated by "+t.MitigatedBy)
		}
		if t.Where != "" {
			notes = append(notes, "at "+t.Where)
		}
		if len(notes) > 0 {
			fmt.Fprintf(&b, "          (%s)\n", strings.Join(notes, "; "))
		}
		fmt.Fprintf(&b, "          fix: %s\n", t.Fix)
	}

	b.WriteString("\n4. Mitigations\n")
	for _, m := range r.Mitigations {
		mark := " "
		if m.InPlace {
			mark = "x"
		}
		fmt.Fprintf(&b, "   [%s] %-16s %s\n", mark, m.ID, m.Message)
	}

	if r.Met {
		fmt.Fprintf(&b, "\nResult: level %q is met (strongest level met: %s).\n", r.Scope.Level, r.Achieved)
	} else {
		fmt.Fprintf(&b, "\nResult: level %q is NOT met (strongest level met: %s). Fix the threats that break it.\n", r.Scope.Level, r.Achieved)
	}
	return b.String()
}

// Text renders a runtime record the way watermark prints a session: interpreter,
// platform, hardware, packages, data and hashes.
func (rr *RuntimeRecord) Text() string {
	var b strings.Builder
	tw := table(&b)
	if py := rr.Interpreter; py != nil {
		build := ""
		if py.Build != "" {
			build = " (" + py.Build + ")"
		}
		fmt.Fprintf(tw, "Python implementation\t%s\n", py.Implementation)
		fmt.Fprintf(tw, "Python version\t%s%s, from %s\n", py.Version, build, py.Source)
	} else {
		fmt.Fprintf(tw, "Python\tnot recorded\n")
	}
	plat := rr.Platform.OS + "/" + rr.Platform.Architecture
	if rr.Platform.Variant != "" {
		plat += "/" + rr.Platform.Variant
	}
	fmt.Fprintf(tw, "Platform\t%s (conda %s)\n", plat, rr.Platform.Subdir)
	if rr.Platform.Glibc != "" {
		fmt.Fprintf(tw, "glibc\t>= %s\n", rr.Platform.Glibc)
	}
	fmt.Fprintf(tw, "Hardware\t%s\n", hardwareText(rr.Hardware))
	if len(rr.Virtual) > 0 {
		var vs []string
		for _, v := range rr.Virtual {
			vs = append(vs, v.Name+"="+v.Version)
		}
		fmt.Fprintf(tw, "Virtual packages\t%s\n", strings.Join(vs, " "))
	}
	base := rr.Image.BaseRef
	if rr.Image.BaseDigest != "" {
		base += "@" + rr.Image.BaseDigest
	}
	fmt.Fprintf(tw, "Base image\t%s\n", base)
	fmt.Fprintf(tw, "Environment prefix\t%s\n", rr.Image.Prefix)
	for _, c := range rr.Channels {
		fmt.Fprintf(tw, "Channel\t%s %s\n", c.Name, c.URL)
	}
	fmt.Fprintf(tw, "Channel priority\t%s\n", rr.Solver.ChannelPriority)
	if rr.Solver.ExcludeNewer != "" {
		fmt.Fprintf(tw, "Exclude newer\t%s\n", rr.Solver.ExcludeNewer)
	}
	fmt.Fprintf(tw, "Reproducibility\t%s\n", rr.Level)
	fmt.Fprintf(tw, "Recipe sha256\t%s\n", rr.RecipeHash)
	fmt.Fprintf(tw, "Lock sha256\t%s\n", rr.LockHash)
	engine := ""
	if rr.Engine != "" {
		engine = " (" + rr.Engine + " engine)"
	}
	fmt.Fprintf(tw, "Built by\treprobuild %s%s\n", rr.ReprobuildVersion, engine)
	tw.Flush()

	if len(rr.Packages) > 0 {
		fmt.Fprintf(&b, "\nPackages (%d)\n", len(rr.Packages))
		tw = table(&b)
		fmt.Fprintf(tw, "  name\tversion\tbuild\tchannel\tlicence\tsha256\n")
		for _, p := range rr.Packages {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Version, p.Build, purlChannel(p.Channel), dash(p.License), short(p.SHA256))
		}
		tw.Flush()
	}
	if len(rr.PipPackages) > 0 {
		fmt.Fprintf(&b, "\nPyPI packages (%d)\n", len(rr.PipPackages))
		tw = table(&b)
		fmt.Fprintf(tw, "  name\tversion\tindex\tsha256\n")
		for _, p := range rr.PipPackages {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", p.Name, p.Version, dash(p.Index), short(p.SHA256))
		}
		tw.Flush()
	}
	if len(rr.Data) > 0 {
		fmt.Fprintf(&b, "\nData (%d)\n", len(rr.Data))
		tw = table(&b)
		fmt.Fprintf(tw, "  name\tpath\tmode\tsha256\turl\n")
		for _, d := range rr.Data {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", d.Name, d.Path, d.Mode, dash(short(d.SHA256)), d.URL)
		}
		tw.Flush()
	}
	return b.String()
}

func table(b *strings.Builder) *tabwriter.Writer {
	return tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
}

func hardwareText(h HardwareInfo) string {
	var parts []string
	if h.CPU != "" {
		parts = append(parts, "CPU "+h.CPU)
	}
	if h.GPUs > 0 {
		parts = append(parts, fmt.Sprintf("%d GPU(s)", h.GPUs))
	}
	if h.Cuda != "" {
		parts = append(parts, "CUDA "+h.Cuda)
	}
	if h.Memory != "" {
		parts = append(parts, h.Memory+" memory")
	}
	if len(parts) == 0 {
		return "no requirements declared"
	}
	return strings.Join(parts, ", ")
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
