package recipes

import (
	"bytes"
	"io"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics prints diags the way HCL tools do: severity, summary, file:line:col,
// the source lines with the problem underlined, and the detail. width 0 means no
// wrapping. filename and src are the recipe the diagnostics were reported against.
func WriteDiagnostics(w io.Writer, filename string, src []byte, diags hcl.Diagnostics, width uint) error {
	files := map[string]*hcl.File{filename: {Bytes: src}}
	return hcl.NewDiagnosticTextWriter(w, files, width, false).WriteDiagnostics(diags)
}

// FormatDiagnostics is WriteDiagnostics into a string.
func FormatDiagnostics(filename string, src []byte, diags hcl.Diagnostics) string {
	var b bytes.Buffer
	_ = WriteDiagnostics(&b, filename, src, diags, 0)
	return b.String()
}
