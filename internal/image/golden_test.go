package image

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.json from the current code")

const goldenFile = "testdata/golden.json"

// goldenDigests is everything whose bytes the golden test pins.
type goldenDigests struct {
	GzipLevel   int    `json:"gzip_level"`
	LayerDigest string `json:"layer_digest"`
	LayerDiffID string `json:"layer_diff_id"`
	DataDigest  string `json:"data_layer_digest"`
	ImageAMD64  string `json:"image_linux_amd64"`
	ImageARM64  string `json:"image_linux_arm64"`
	Index       string `json:"index"`
}

// computeGolden builds the golden set, with entries shuffled by seed (which must not
// matter).
func computeGolden(t testing.TB, seed int64) goldenDigests {
	entries := sampleEntries()
	rand.New(rand.NewSource(seed)).Shuffle(len(entries), func(a, b int) { entries[a], entries[b] = entries[b], entries[a] })
	l, err := LayerFromEntries(entries, LayerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := DataLayer("data/amd64.txt", strings.NewReader("linux/amd64"), LayerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := testImage(t, amd64), testImage(t, arm64)
	idx, err := Index([]v1.Image{b, a})
	if err != nil {
		t.Fatal(err)
	}
	diffID, _ := l.DiffID()
	return goldenDigests{
		GzipLevel:   GzipLevel,
		LayerDigest: digestOf(t, l),
		LayerDiffID: diffID.String(),
		DataDigest:  digestOf(t, data),
		ImageAMD64:  digestOf(t, a),
		ImageARM64:  digestOf(t, b),
		Index:       digestOf(t, idx),
	}
}

// TestGoldenDigests pins the bytes: a change of compressor, tar writer or config encoding
// shows up here instead of silently changing every published digest. Run with -update
// only after deciding the change is intended.
func TestGoldenDigests(t *testing.T) {
	got := computeGolden(t, 1)
	if *update {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.MkdirAll(filepath.Dir(goldenFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatalf("%v (create it with go test -run TestGoldenDigests -update)", err)
	}
	var want goldenDigests
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatalf("%s: %v", goldenFile, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("digests changed (-golden +now); if intended, rerun with -update and say why in the commit:\n%s", diff)
	}
}

const childEnv = "REPROBUILD_IMAGE_DIGEST_CHILD"

// TestDigestChild is run by TestDigestsAcrossProcesses in a child process; on its own it
// does nothing.
func TestDigestChild(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("only runs as a child of TestDigestsAcrossProcesses")
	}
	if m, err := strconv.ParseInt(os.Getenv(childEnv+"_UMASK"), 8, 32); err == nil {
		syscall.Umask(int(m))
	}
	seed, _ := strconv.ParseInt(os.Getenv(childEnv+"_SEED"), 10, 64)
	b, _ := json.Marshal(computeGolden(t, seed))
	fmt.Printf("DIGESTS %s GOMAXPROCS=%d\n", b, runtime.GOMAXPROCS(0))
}

// TestDigestsAcrossProcesses builds the golden set in child processes with different
// TZ, GOMAXPROCS, umask and input order, and requires the same digests as this process.
func TestDigestsAcrossProcesses(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("child")
	}
	want, _ := json.Marshal(computeGolden(t, 1))
	settings := []struct{ tz, procs, umask, seed string }{
		{"UTC", "1", "022", "2"},
		{"Asia/Kolkata", "2", "077", "3"},
		{"America/St_Johns", "4", "000", "4"},
	}
	for _, s := range settings {
		t.Run(s.tz, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestDigestChild$", "-test.v")
			cmd.Env = append(os.Environ(), "TZ="+s.tz, "GOMAXPROCS="+s.procs,
				childEnv+"=1", childEnv+"_UMASK="+s.umask, childEnv+"_SEED="+s.seed)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			i := bytes.Index(out, []byte("DIGESTS "))
			if i < 0 {
				t.Fatalf("child printed no digests:\n%s", out)
			}
			line := strings.Fields(string(out[i:]))
			if line[1] != string(want) {
				t.Errorf("child (%+v) digests\n%s\nwant\n%s", s, line[1], want)
			}
			if line[2] != "GOMAXPROCS="+s.procs {
				t.Errorf("child ran with %s, want %s", line[2], s.procs)
			}
		})
	}
}
