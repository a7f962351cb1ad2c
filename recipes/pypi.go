package recipes

import (
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/reprobuild/reprobuild/internal/pypi/pep508"
)

// PyPIIndex is a Python package index (the simple repository API), declared like a
// channel: block order is priority, a name comes from the first index that has it, and
// a packages allow-list pins names to this index.
type PyPIIndex struct {
	Name     string
	URL      string
	Mirrors  []string
	Packages []string // normalised names
	Range    hcl.Range
}

func (d *decoder) decodePyPI(blocks hcl.Blocks) {
	schema := &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "url", Required: true}, {Name: "mirrors"}, {Name: "packages"},
	}}
	names := map[string]hcl.Range{}
	for _, b := range blocks {
		name := b.Labels[0]
		if first, dup := names[name]; dup {
			d.errorf(b.LabelRanges[0], "Duplicate package index", "Package index %q is already declared at %s. Give each pypi block a different name.", name, at(first))
			continue
		}
		names[name] = b.DefRange
		content, diags := b.Body.Content(schema)
		d.addAll(diags)
		ix := PyPIIndex{Name: name, Range: b.DefRange}
		if attr := content.Attributes["url"]; attr != nil {
			var u string
			if d.stringAttr(attr, &u) {
				// As for channels: a URL, or a path relative to the recipe (a static
				// index such as `reprobuild vendor` writes).
				if nu, msg := normalizeChannelURL(u); msg != "" {
					d.errorf(attr.Expr.Range(), "Invalid package index URL", "%s Write the simple API root, e.g. \"https://pypi.org/simple\".", strings.ReplaceAll(msg, "channel", "index"))
				} else {
					ix.URL = nu
				}
			}
		}
		mirrors, ranges := d.stringListAttr(content.Attributes["mirrors"])
		for i, m := range mirrors {
			nm, msg := normalizeChannelURL(m)
			if msg != "" {
				d.errorf(ranges[i], "Invalid mirror URL", "%s", msg)
				continue
			}
			ix.Mirrors = append(ix.Mirrors, nm)
		}
		pkgs, ranges := d.stringListAttr(content.Attributes["packages"])
		for i, p := range pkgs {
			if !pep508.ValidName(p) {
				d.errorf(ranges[i], "Invalid package name", "%q is not a Python distribution name.", p)
				continue
			}
			ix.Packages = append(ix.Packages, pep508.NormalizeName(p))
		}
		d.recipe.PyPI = append(d.recipe.PyPI, ix)
	}
}

// decodePip checks dependencies.pip: PEP 508 requirement strings naming a version range
// (direct URL requirements are not supported: they bypass the index and its hashes).
func (d *decoder) decodePip(attr *hcl.Attribute) {
	pips, ranges := d.stringListAttr(attr)
	for i, s := range pips {
		req, err := pep508.ParseRequirement(s)
		if err != nil {
			d.errorf(ranges[i], "Invalid pip requirement", "%q: %v. Write a PEP 508 requirement such as \"requests >=2.31\".", s, err)
			continue
		}
		if req.URL != "" {
			d.errorf(ranges[i], "Direct URL requirements are not supported", "%q names a URL; reprobuild locks PyPI packages from the recipe's pypi indexes only. Put the wheel on an index (a file:// index works) and require it by name.", s)
			continue
		}
		d.recipe.Dependencies.Pip = append(d.recipe.Dependencies.Pip, Spec{Text: strings.TrimSpace(s), Range: ranges[i]})
	}
	if len(d.recipe.Dependencies.Pip) > 0 && len(d.recipe.PyPI) == 0 {
		d.errorf(attr.Expr.Range(), "No package index for pip requirements",
			"dependencies.pip needs at least one package index to lock from. Add a block such as pypi \"pypi\" { url = \"https://pypi.org/simple\" } (block order is priority).")
	}
}

// hashPyPI is the solve-relevant content of the pypi blocks and pip requirements; nil
// when the recipe has none, so recipes without PyPI parts keep their hashes.
func (r *Recipe) hashPyPI() (indexes []hashChannel, pip []string) {
	for _, ix := range r.PyPI {
		pk := slices.Clone(ix.Packages)
		slices.Sort(pk)
		indexes = append(indexes, hashChannel{Name: ix.Name, URL: ix.URL, Packages: slices.Compact(pk)})
	}
	for _, s := range r.Dependencies.Pip {
		if req, err := pep508.ParseRequirement(s.Text); err == nil {
			pip = append(pip, req.String())
		} else {
			pip = append(pip, s.Text)
		}
	}
	slices.Sort(pip)
	return indexes, slices.Compact(pip)
}
