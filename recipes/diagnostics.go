package recipes

import (
	"bytes"
	"fmt"
	"io"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics prints diags the way HCL tools do: severity, summary, file:line:col,
// the source lines with the problem underlined, and the detail. width 0 means no
// wrapping. filename and src are the recipe the diagnostics were reported against.
func WriteDiagnostics(w io.Writer, filename string, src []byte, diags hcl.Diagnostics, width uint) error {
	files := map[string]*hcl.File{filename: {Bytes: src}}
	// HCL's writer says "on FILE line N"; docs/recipe.md promises file:line:col, so each
	// diagnostic's location line is rewritten to carry the column.
	for _, d := range diags {
		var b bytes.Buffer
		if err := hcl.NewDiagnosticTextWriter(&b, files, width, false).WriteDiagnostic(d); err != nil {
			return err
		}
		out := b.Bytes()
		if d.Subject != nil {
			r := d.Subject
			old := fmt.Sprintf("on %s line %d", r.Filename, r.Start.Line)
			out = bytes.Replace(out, []byte(old), []byte(fmt.Sprintf("on %s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)), 1)
		}
		if _, err := w.Write(out); err != nil {
			return err
		}
	}
	return nil
}

// FormatDiagnostics is WriteDiagnostics into a string.
func FormatDiagnostics(filename string, src []byte, diags hcl.Diagnostics) string {
	var b bytes.Buffer
	_ = WriteDiagnostics(&b, filename, src, diags, 0)
	return b.String()
}
