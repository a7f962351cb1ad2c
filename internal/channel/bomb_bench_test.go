package channel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// BenchmarkRepodataBomb measures what refusing a repodata.json.zst bomb costs: a small
// download that inflates to 256 MiB of whitespace, against limits of 16 and 64 MiB.
// B/op is the memory the refusal allocated (it should track the limit, not the bomb).
func BenchmarkRepodataBomb(b *testing.B) {
	bomb := append([]byte(`{"packages": {}`), bytes.Repeat([]byte(" "), 256<<20)...)
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithWindowSize(1<<20))
	z := enc.EncodeAll(bomb, nil)
	bomb = nil
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/c/linux-64/repodata.json.zst" {
			w.Write(z)
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	b.Logf("bomb: %d bytes compressed, 256 MiB inflated", len(z))
	for _, limit := range []int64{16 << 20, 64 << 20} {
		b.Run(fmt.Sprintf("limit=%dMiB", limit>>20), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c := testClient(b, b.TempDir(), WithMaxRepodataSize(limit), WithRetries(0, 0))
				_, err := c.RepodataRaw(context.Background(), Channel{Name: "c", URL: srv.URL + "/c"}, "linux-64")
				var re *RepodataSizeError
				if !errors.As(err, &re) {
					b.Fatalf("err = %v", err)
				}
			}
		})
	}
}
