package install_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/reprobuild/reprobuild/internal/install"
)

// oracleCase is one line of conda's own prefix replacement outputs.
type oracleCase struct {
	Description string `json:"description"`
	FileMode    string `json:"file_mode"`
	Subdir      string `json:"target_subdir"`
	Placeholder string `json:"placeholder"`
	NewPrefix   string `json:"new_prefix"`
	Input       string `json:"input_b64"`
	Output      string `json:"output_b64"`
	Error       string `json:"error"`
}

func TestReplacePrefixOracle(t *testing.T) {
	f, err := os.Open("../../testdata/conda/install-cases/prefix_replacement_oracle.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var c oracleCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		n++
		t.Run(c.Description, func(t *testing.T) {
			in, err := base64.StdEncoding.DecodeString(c.Input)
			if err != nil {
				t.Fatal(err)
			}
			got, err := install.ReplacePrefix(in, c.Placeholder, c.NewPrefix, c.FileMode, c.Subdir)
			if c.Error != "" {
				if !errors.Is(err, install.ErrPadding) {
					t.Fatalf("err = %v, want ErrPadding (conda: %s)", err, c.Error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want, err := base64.StdEncoding.DecodeString(c.Output)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("got  %q\nwant %q", got, want)
			}
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 13 {
		t.Errorf("read %d oracle cases, want 13", n)
	}
}

func TestReplacePrefixExtra(t *testing.T) {
	const ph = "/opt/anaconda1anaconda2anaconda3"
	tests := []struct {
		name, in, prefix, mode, want string
	}{
		{"binary: placeholder without NUL before newline is left alone", ph + "/lib\nrest\x00", "/o", "binary", ph + "/lib\nrest\x00"},
		{"binary: placeholder at end without NUL is left alone", "x" + ph, "/o", "binary", "x" + ph},
		{"text: shebang on a later line only gets escaping, not shortening", "x\n#!" + ph + "/bin/python\n", "/a b", "text", "x\n#!/a\\ b/bin/python\n"},
		{"text: CRLF shebang keeps its CR", "#!" + ph + "/bin/python\r\n", "/opt/my env", "text", "#!/usr/bin/env python\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := install.ReplacePrefix([]byte(tt.in), ph, tt.prefix, tt.mode, "linux-64")
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if len(tt.in) != len(got) && tt.mode == "binary" {
				t.Errorf("binary replacement changed the length")
			}
		})
	}
}

func FuzzReplacePrefix(f *testing.F) {
	f.Add([]byte("\x00/opt/anaconda1anaconda2anaconda3/lib\x00"), "/opt/env", true)
	f.Add([]byte("#!/opt/anaconda1anaconda2anaconda3/bin/python -E\nx"), "/o p", false)
	f.Fuzz(func(t *testing.T, data []byte, prefix string, binary bool) {
		mode := "text"
		if binary {
			mode = "binary"
		}
		out, err := install.ReplacePrefix(data, "/opt/anaconda1anaconda2anaconda3", prefix, mode, "linux-64")
		if binary && err == nil && len(out) != len(data) {
			t.Fatalf("binary replacement changed length %d -> %d", len(data), len(out))
		}
	})
}
