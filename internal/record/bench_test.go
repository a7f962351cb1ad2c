package record

import (
	"testing"
)

// The full fixture is 26 real conda-forge packages; these measure the per-image cost of
// what the build adds on top of installing.
func BenchmarkRuntimeJSON(b *testing.B) {
	r, l := fullCase(b)
	b.ReportAllocs()
	for b.Loop() {
		rr, err := Runtime(r, l, buildInfo())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := rr.JSON(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSPDX(b *testing.B) {
	r, l := fullCase(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SPDX(r, l, "", sbomOpts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCycloneDX(b *testing.B) {
	r, l := fullCase(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CycloneDX(r, l, "", sbomOpts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAudit(b *testing.B) {
	r, l := fullCase(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = Audit(AuditInput{Recipe: r, Lock: l}).Text()
	}
}

func BenchmarkReproduce(b *testing.B) {
	r, l := fullCase(b)
	rr, err := Runtime(r, l, buildInfo())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = Reproduce([]*RuntimeRecord{rr}, ReproduceOptions{})
	}
}
