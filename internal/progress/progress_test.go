package progress

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// clock advances by one second each time it is read.
func clock() func() time.Time {
	t := time.Unix(0, 0)
	return func() time.Time { t = t.Add(time.Second); return t }
}

func TestModes(t *testing.T) {
	run := func(mode Mode) string {
		var b bytes.Buffer
		r := New(&b, mode, clock())
		a := r.Start("solve linux-64")
		a.Done(nil)
		p := r.Start("push x:1")
		p.Total(3<<20, "bytes")
		p.Add(1<<20, "layer 1")
		p.Add(2<<20, "layer 2")
		p.Done(errors.New("denied"))
		return b.String()
	}
	if got := run(Quiet); got != "" {
		t.Errorf("quiet printed %q", got)
	}
	want := "solve linux-64 ...\nsolve linux-64: done in 1s\npush x:1 ...\npush x:1: failed, 3.0 MiB/3.0 MiB in 1s\n"
	if got := run(Plain); got != want {
		t.Errorf("plain:\n%s\nwant:\n%s", got, want)
	}
	if got := run(Verbose); !strings.Contains(got, "  push x:1: layer 2 (3.0 MiB/3.0 MiB)\n") {
		t.Errorf("verbose lacks the steps:\n%s", got)
	}
	tty := run(TTY)
	for _, w := range []string{"✔ solve linux-64: done in 1s\n", "\r\033[K", "… push x:1 1.0 MiB/3.0 MiB layer 1", "✘ push x:1: failed"} {
		if !strings.Contains(tty, w) {
			t.Errorf("tty output lacks %q:\n%q", w, tty)
		}
	}
	if strings.HasSuffix(tty, "\n") == false {
		t.Errorf("tty output does not end on a clean line: %q", tty)
	}
	var nilR *Reporter
	nilR.Start("x").Done(nil) // a nil reporter is quiet, not a panic
}
