package solver

import (
	"context"
	"testing"
)

func benchSolve(b *testing.B, task Task) {
	b.Helper()
	if _, err := Solve(context.Background(), task); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Solve(context.Background(), task); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCondaForgePython39 is python=3.9 over the real conda-forge subset (peer:
// libsolv inside mamba, about 0.14 s).
func BenchmarkCondaForgePython39(b *testing.B) {
	benchSolve(b, subchannelTask(b, loadOracle(b), []string{"python=3.9"}))
}
