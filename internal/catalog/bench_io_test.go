package catalog

import (
	"io"
	"net/http"
	"syscall"
	"time"
)

func io_copy(resp *http.Response) (int64, error) {
	defer resp.Body.Close()
	return io.Copy(io.Discard, resp.Body)
}

// cpuTime is the CPU time (user + system) the test process has used so far: on a busy
// machine it measures the work a benchmark does, where wall time also counts waiting for
// a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
