package activate

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEvaluate(t *testing.T) {
	known := map[string]string{"CONDA_PREFIX": "/opt/env", "LANG": "C.UTF-8"}
	for _, tc := range []struct {
		name    string
		scripts []Script
		want    map[string]string
		reason  string
	}{
		{"exports", []Script{
			{"opt/env/etc/conda/activate.d/b.sh", []byte("export PROJ_DATA=\"${CONDA_PREFIX}/share/proj\"\n")},
			{"opt/env/etc/conda/activate.d/a.sh", []byte("#!/bin/sh\n# gdal\nexport GDAL_DATA=$CONDA_PREFIX/share/gdal\nJAVA_HOME='$literal'; export JAVA_HOME\nX=1\n")},
		}, map[string]string{"GDAL_DATA": "/opt/env/share/gdal", "PROJ_DATA": "/opt/env/share/proj", "JAVA_HOME": "$literal"}, ""},
		{"order", []Script{
			{"opt/env/etc/conda/activate.d/z.sh", []byte("export V=z\n")},
			{"opt/env/etc/conda/activate.d/a.sh", []byte("export V=a\n")},
		}, map[string]string{"V": "z"}, ""},
		{"condition", []Script{{"p/a.sh", []byte("if [ -d $CONDA_PREFIX/x ]; then\n export A=1\nfi\n")}}, nil, "/p/a.sh:1:"},
		{"unknown variable", []Script{{"p/a.sh", []byte("export PATH=$CONDA_PREFIX/x:$PATH\n")}}, nil, "reads $PATH"},
		{"command", []Script{{"p/a.sh", []byte("export A=`uname`\n")}}, nil, "shell syntax (`)"},
		{"default expansion", []Script{{"p/a.sh", []byte("export A=${B:-x}\n")}}, nil, "parameter expansion"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Evaluate(tc.scripts, known)
			if tc.reason != "" {
				if got.Exact || !strings.Contains(got.Reason, tc.reason) {
					t.Fatalf("got %+v, want not exact with reason containing %q", got, tc.reason)
				}
				return
			}
			if !got.Exact {
				t.Fatalf("not exact: %s", got.Reason)
			}
			if d := cmp.Diff(tc.want, got.Env); d != "" {
				t.Errorf("env (-want +got):\n%s", d)
			}
		})
	}
}

func TestIsScript(t *testing.T) {
	for p, want := range map[string]bool{
		"opt/env/etc/conda/activate.d/gdal-activate.sh":   true,
		"opt/env/etc/conda/activate.d/gdal-activate.fish": false,
		"opt/env/etc/conda/deactivate.d/gdal.sh":          false,
		"opt/env/etc/conda/activate.d/sub/x.sh":           false,
	} {
		if IsScript(p, "/opt/env") != want {
			t.Errorf("IsScript(%s) != %v", p, want)
		}
	}
}
