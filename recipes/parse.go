package recipes

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Defaults applied when a recipe leaves a setting out. They live here, in one place, and
// docs/recipe.md repeats them.
const (
	DefaultLevel           = "pinned"
	DefaultBase            = "scratch"
	DefaultChannelPriority = "strict"
	DefaultPythonSource    = "channel"
	DefaultDataMode        = "bake"
	DefaultTarget          = "linux-64"
)

// Option adjusts how a recipe is decoded.
type Option func(*options)

type options struct {
	vars map[string]string
}

// WithVariables sets recipe variables from outside the file (the CLI's --var name=value).
// They override the defaults of the matching variable blocks.
func WithVariables(vars map[string]string) Option {
	return func(o *options) {
		if o.vars == nil {
			o.vars = map[string]string{}
		}
		for k, v := range vars {
			o.vars[k] = v
		}
	}
}

// ParseFile reads and decodes the recipe at path. Recipe.Dir is made absolute so
// relative channel and data paths resolve from the recipe's own directory.
func ParseFile(path string, opts ...Option) (*Recipe, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read recipe",
			Detail:   fmt.Sprintf("Reading %s: %v. Check the path given with -f, or create %s.", path, err, DefaultFilename),
		}}
	}
	r, diags := Parse(path, src, opts...)
	if r != nil {
		if abs, err := filepath.Abs(r.Dir); err == nil {
			r.Dir = abs
		}
	}
	return r, diags
}

// Parse decodes and validates a recipe. It reports every problem it finds in one pass. The
// recipe is returned even with errors (as far as it could be decoded) so callers can
// inspect it, but it must not be used when diags.HasErrors().
func Parse(filename string, src []byte, opts ...Option) (*Recipe, hcl.Diagnostics) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	file, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	d := &decoder{
		recipe: &Recipe{Filename: filename, Dir: filepath.Dir(filename), Source: src},
	}
	d.diags = diags
	d.decode(file.Body, o)
	sortDiagnostics(d.diags)
	for _, diag := range d.diags {
		if diag.Severity == hcl.DiagWarning {
			d.recipe.Warnings = append(d.recipe.Warnings, diag)
		}
	}
	return d.recipe, d.diags
}

// sortDiagnostics orders diagnostics by position so they read top to bottom like the
// file; ones without a position (e.g. about --var flags) come first.
func sortDiagnostics(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		default:
			return a.Start.Byte < b.Start.Byte
		}
	})
}

// at names a source position for a message: "file:line".
func at(r hcl.Range) string { return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line) }

// decoder accumulates diagnostics while filling a Recipe.
type decoder struct {
	recipe *Recipe
	ctx    *hcl.EvalContext
	diags  hcl.Diagnostics
	// baseWritten and baseIsScratch tell a written base from the default.
	baseWritten, baseIsScratch bool
}

func (d *decoder) add(diags ...*hcl.Diagnostic) { d.diags = append(d.diags, diags...) }

func (d *decoder) addAll(diags hcl.Diagnostics) { d.diags = append(d.diags, diags...) }

func (d *decoder) errorf(rng hcl.Range, summary, format string, args ...any) {
	r := rng
	d.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: &r})
}

func (d *decoder) warnf(rng hcl.Range, summary, format string, args ...any) {
	r := rng
	d.add(&hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: &r})
}

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "reproducibility"},
		{Type: "image", LabelNames: []string{"name"}},
		{Type: "python"},
		{Type: "channel", LabelNames: []string{"name"}},
		{Type: "solver"},
		{Type: "dependencies"},
		{Type: "platform"},
		{Type: "hardware"},
		{Type: "data", LabelNames: []string{"name"}},
		{Type: "runtime"},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "licenses"},
		{Type: "vm"},
	},
}

// singletons are the blocks a recipe may have at most once.
var singletons = map[string]bool{
	"reproducibility": true, "image": true, "python": true, "solver": true,
	"dependencies": true, "platform": true, "hardware": true, "runtime": true, "licenses": true,
	"vm": true,
}

func (d *decoder) decode(body hcl.Body, o options) {
	content, diags := body.Content(rootSchema)
	hintMisplacedAttributes(body, diags)
	d.addAll(diags)

	// Phase 1: variables, so every other block can refer to var.NAME.
	d.decodeVariables(content.Blocks.OfType("variable"), o.vars)

	seen := map[string]*hcl.Block{}
	for _, b := range content.Blocks {
		if !singletons[b.Type] {
			continue
		}
		if first, dup := seen[b.Type]; dup {
			d.errorf(b.DefRange, "Duplicate "+b.Type+" block",
				"A recipe has at most one %s block; the first is at %s. Merge the two blocks into one.", b.Type, at(first.DefRange))
			continue
		}
		seen[b.Type] = b
	}

	r := d.recipe
	r.Reproducibility = Reproducibility{Level: DefaultLevel}
	r.Image = Image{Base: DefaultBase, Prefix: DefaultPrefix}
	r.Solver = Solver{ChannelPriority: DefaultChannelPriority}

	// The level shapes other checks (data without sha256, unpinned base), so it goes first.
	if b := seen["reproducibility"]; b != nil {
		d.decodeReproducibility(b)
	}
	if b := seen["image"]; b != nil {
		d.decodeImage(b)
	}
	if b := seen["python"]; b != nil {
		d.decodePython(b)
	}
	d.decodeChannels(content.Blocks.OfType("channel"))
	if b := seen["solver"]; b != nil {
		d.decodeSolver(b)
	}
	if b := seen["dependencies"]; b != nil {
		d.decodeDependencies(b)
	}
	if b := seen["platform"]; b != nil {
		d.decodePlatform(b)
	}
	if b := seen["hardware"]; b != nil {
		d.decodeHardware(b)
	}
	d.decodeData(content.Blocks.OfType("data"))
	if b := seen["runtime"]; b != nil {
		d.decodeRuntime(b)
	}
	if b := seen["licenses"]; b != nil {
		d.decodeLicenses(b)
	}
	if b := seen["vm"]; b != nil {
		d.decodeVM(b)
	}
	d.crossChecks(body)
}

var variableSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "default"}, {Name: "description"}}}

func (d *decoder) decodeVariables(blocks hcl.Blocks, overrides map[string]string) {
	vals := map[string]cty.Value{}
	defined := map[string]hcl.Range{}
	for _, b := range blocks {
		name := b.Labels[0]
		if !hclsyntax.ValidIdentifier(name) {
			d.errorf(b.LabelRanges[0], "Invalid variable name",
				"%q cannot be used as var.%s: a name starts with a letter and has only letters, digits, '_' and '-'.", name, name)
			continue
		}
		if first, dup := defined[name]; dup {
			d.errorf(b.DefRange, "Duplicate variable", "Variable %q is already defined at %s. Remove one of the two blocks.", name, at(first))
			continue
		}
		defined[name] = b.DefRange
		content, diags := b.Body.Content(variableSchema)
		d.addAll(diags)
		if attr := content.Attributes["description"]; attr != nil {
			d.stringAttr(attr, nil)
		}
		if v, ok := overrides[name]; ok {
			vals[name] = cty.StringVal(v)
			continue
		}
		attr := content.Attributes["default"]
		if attr == nil {
			d.errorf(b.DefRange, "Variable without a value",
				"Variable %q has no default. Add default = \"...\" to the block, or set it with --var %s=VALUE.", name, name)
			vals[name] = cty.DynamicVal
			continue
		}
		// Defaults are constants: they cannot refer to other variables.
		v, diags := attr.Expr.Value(nil)
		d.addAll(diags)
		vals[name] = v
	}
	names := make([]string, 0, len(overrides))
	for k := range overrides {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if _, ok := defined[k]; !ok {
			d.add(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Undeclared variable",
				Detail:   fmt.Sprintf("--var %s was given but the recipe has no variable %q block. Declare it with variable %q { default = \"...\" }, or drop the flag.", k, k, k),
			})
		}
	}
	d.ctx = &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(vals)}}
}

// attributeHome says which block an attribute belongs in, for a hint when one is
// written at the top level (as in older sketches of the format).
var attributeHome = map[string]string{
	"level": "reproducibility", "base": "image", "tags": "image", "labels": "image", "prefix": "image",
	"version": "python", "implementation": "python", "source": "python",
	"channel_priority": "solver", "exclude_newer": "solver", "conda": "dependencies", "pip": "dependencies",
	"targets": "platform", "glibc": "platform", "cuda": "hardware", "cpu": "hardware", "gpus": "hardware",
	"memory": "hardware", "entrypoint": "runtime", "cmd": "runtime", "env": "runtime", "workdir": "runtime",
	"user": "runtime", "allow": "licenses", "deny": "licenses",
}

func hintMisplacedAttributes(body hcl.Body, diags hcl.Diagnostics) {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return
	}
	for _, diag := range diags {
		if diag.Summary != "Unsupported argument" || diag.Subject == nil {
			continue
		}
		for name, attr := range sb.Attributes {
			if attr.NameRange == *diag.Subject {
				if home, ok := attributeHome[name]; ok {
					diag.Detail += fmt.Sprintf(" %s belongs inside the %s block: %s { %s = ... }.", name, home, home, name)
				} else if s := suggest(name, attributeNames()); s != "" {
					diag.Detail += fmt.Sprintf(" Did you mean %s, inside the %s block?", s, attributeHome[s])
				}
			}
		}
	}
}

func attributeNames() []string {
	names := make([]string, 0, len(attributeHome))
	for n := range attributeHome {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
