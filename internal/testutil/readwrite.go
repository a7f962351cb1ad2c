package testutil

import (
	"encoding/json"
	"os"
	"testing"
)

// ReadFile is the content of the file at p; the test fails if it cannot be read.
func ReadFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// WriteFile writes content to the file at p (mode 0644); the test fails if it cannot.
func WriteFile(t testing.TB, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ReadJSON decodes the JSON file at p into v; the test fails, naming the file, if it
// cannot be read or decoded.
func ReadJSON(t testing.TB, p string, v any) {
	t.Helper()
	if err := json.Unmarshal(ReadFile(t, p), v); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
}
