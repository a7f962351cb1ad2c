package builder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompareFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	big := strings.Repeat("a", 3<<20)
	a := write("a", big)
	b := write("b", big)
	c := write("c", big[:2<<20+5]+"b"+big[2<<20+6:])
	d := write("d", big+"tail")
	for _, tc := range []struct {
		x, y string
		off  int64
	}{{a, b, -1}, {a, c, 2<<20 + 5}, {a, d, 3 << 20}, {d, a, 3 << 20}} {
		hx, hy, off, err := compareFiles(tc.x, tc.y)
		if err != nil {
			t.Fatal(err)
		}
		if off != tc.off || (off < 0) != (hx == hy) {
			t.Errorf("compare %s %s: offset %d (want %d), digests %s %s", filepath.Base(tc.x), filepath.Base(tc.y), off, tc.off, hx, hy)
		}
	}
}

func TestVerifyVMMissingDisk(t *testing.T) {
	_, err := Verify(t.Context(), VerifyOptions{Recipe: "nope.hcl", Image: "vm:" + filepath.Join(t.TempDir(), "none.qcow2")})
	if err == nil || !strings.Contains(err.Error(), "none.qcow2") {
		t.Fatalf("error %v, want one naming the missing disk", err)
	}
}
