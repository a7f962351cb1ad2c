package recipes

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"
)

// value evaluates attr and converts it to ty. ok is false when the attribute is null or
// could not be converted (a diagnostic then says why).
func (d *decoder) value(attr *hcl.Attribute, ty cty.Type, what string) (cty.Value, bool) {
	if !d.checkVarRefs(attr.Expr) {
		return cty.NilVal, false
	}
	v, diags := attr.Expr.Value(d.ctx)
	d.addAll(diags)
	if diags.HasErrors() || v.IsNull() {
		return cty.NilVal, false
	}
	if !v.IsWhollyKnown() {
		return cty.NilVal, false
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		d.errorf(attr.Expr.Range(), "Incorrect attribute value type",
			"Inappropriate value for attribute %q: %s required, got %s.", attr.Name, what, v.Type().FriendlyName())
		return cty.NilVal, false
	}
	return cv, true
}

func (d *decoder) stringAttr(attr *hcl.Attribute, dst *string) bool {
	if attr == nil {
		return false
	}
	v, ok := d.value(attr, cty.String, "string")
	if !ok {
		return false
	}
	if dst != nil {
		*dst = v.AsString()
	}
	return true
}

// stringListAttr decodes a list of strings, keeping the range of every element so a bad
// element can be pointed at.
func (d *decoder) stringListAttr(attr *hcl.Attribute) ([]string, []hcl.Range) {
	if attr == nil {
		return nil, nil
	}
	v, ok := d.value(attr, cty.List(cty.String), "list of string")
	if !ok {
		return nil, nil
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, ev := it.Element()
		if ev.IsNull() {
			d.errorf(attr.Expr.Range(), "Null list element", "Attribute %q has a null element; remove it.", attr.Name)
			continue
		}
		out = append(out, ev.AsString())
	}
	ranges := elementRanges(attr.Expr, len(out))
	return out, ranges
}

// elementRanges returns the source range of each element of a list expression, or the
// whole expression's range when the list was computed (e.g. a variable).
func elementRanges(expr hcl.Expression, n int) []hcl.Range {
	ranges := make([]hcl.Range, n)
	exprs, diags := hcl.ExprList(expr)
	for i := range ranges {
		if !diags.HasErrors() && len(exprs) == n {
			ranges[i] = exprs[i].Range()
		} else {
			ranges[i] = expr.Range()
		}
	}
	return ranges
}

func (d *decoder) stringMapAttr(attr *hcl.Attribute) map[string]string {
	if attr == nil {
		return nil
	}
	v, ok := d.value(attr, cty.Map(cty.String), "map of string")
	if !ok {
		return nil
	}
	out := map[string]string{}
	for it := v.ElementIterator(); it.Next(); {
		k, ev := it.Element()
		if ev.IsNull() {
			d.errorf(attr.Expr.Range(), "Null map value", "Key %q of %q is null; give it a string value or remove it.", k.AsString(), attr.Name)
			continue
		}
		out[k.AsString()] = ev.AsString()
	}
	return out
}

func (d *decoder) intAttr(attr *hcl.Attribute, dst *int) {
	if attr == nil {
		return
	}
	v, ok := d.value(attr, cty.Number, "number")
	if !ok {
		return
	}
	var n int
	if err := gocty.FromCtyValue(v, &n); err != nil {
		d.errorf(attr.Expr.Range(), "Invalid number", "Attribute %q must be a whole number: %v.", attr.Name, err)
		return
	}
	*dst = n
}

// oneOf checks that a decoded string is one of allowed and reports the choices if not.
func (d *decoder) oneOf(attr *hcl.Attribute, val string, allowed ...string) bool {
	for _, a := range allowed {
		if val == a {
			return true
		}
	}
	detail := fmt.Sprintf("%q is not a valid %s. Use one of: %s.", val, attr.Name, quoteList(allowed))
	if s := suggest(val, allowed); s != "" {
		detail += fmt.Sprintf(" Did you mean %q?", s)
	}
	d.errorf(attr.Expr.Range(), "Invalid "+attr.Name, "%s", detail)
	return false
}

func quoteList(xs []string) string {
	s := ""
	for i, x := range xs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%q", x)
	}
	return s
}

// suggest returns the allowed value closest to val, if it is close enough to be a typo.
func suggest(val string, allowed []string) string {
	best, bestDist := "", 3
	cands := append([]string(nil), allowed...)
	sort.Strings(cands)
	for _, a := range cands {
		if dist := levenshtein(val, a); dist < bestDist {
			best, bestDist = a, dist
		}
	}
	return best
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// checkVarRefs reports references to undeclared variables with a fix, which HCL's own
// "Unsupported attribute" message does not give.
func (d *decoder) checkVarRefs(expr hcl.Expression) bool {
	ok := true
	for _, tr := range expr.Variables() {
		if tr.RootName() != "var" || len(tr) < 2 {
			continue
		}
		step, isAttr := tr[1].(hcl.TraverseAttr)
		if !isAttr {
			continue
		}
		if d.ctx != nil {
			if obj, has := d.ctx.Variables["var"]; has && obj.Type().IsObjectType() && obj.Type().HasAttribute(step.Name) {
				continue
			}
		}
		d.errorf(tr.SourceRange(), "Undeclared variable",
			"var.%s is used but the recipe has no variable %q block. Declare it with variable %q { default = \"...\" }.", step.Name, step.Name, step.Name)
		ok = false
	}
	return ok
}
