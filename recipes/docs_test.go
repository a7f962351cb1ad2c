package recipes

import (
	"os"
	"strings"
	"testing"
)

// TestDocsExample keeps the example of docs/recipe.md valid.
func TestDocsExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/recipe.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```hcl\n")
	if !ok {
		t.Fatal("docs/recipe.md has no hcl example")
	}
	src, _, _ := strings.Cut(rest, "```")
	r, diags := Parse("recipe.md", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("the documented example does not parse:\n%s", FormatDiagnostics("recipe.md", []byte(src), diags))
	}
	if len(r.RootSpecs()) != 3 || len(r.Targets()) != 2 {
		t.Errorf("example decoded to %d root specs and %d targets, want 3 and 2", len(r.RootSpecs()), len(r.Targets()))
	}
}
