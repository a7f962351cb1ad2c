package testutil

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Slurm is a one-node Slurm cluster (munged, slurmctld, slurmd on 127.0.0.1) started for
// a test, with Slurm's OCI container support configured to run bundles with runc.
type Slurm struct {
	conf string
	dir  string
}

// Env is what a Slurm client (sbatch, squeue, sacct) needs to reach this cluster.
func (s *Slurm) Env() []string { return []string{"SLURM_CONF=" + s.conf} }

// Dir is the cluster's directory (logs, spool, state).
func (s *Slurm) Dir() string { return s.dir }

// StartSlurm starts a one-node cluster as root in a temporary directory: its own munge
// key and socket, free ports on 127.0.0.1, oci.conf running `runc run` on the bundle
// srun --container names. It stops everything when the test ends.
func StartSlurm(t testing.TB) *Slurm {
	t.Helper()
	RequireRoot(t)
	munged := RequireBinary(t, "munged", "REPROBUILD_MUNGED")
	ctld := RequireBinary(t, "slurmctld", "REPROBUILD_SLURMCTLD")
	slurmd := RequireBinary(t, "slurmd", "REPROBUILD_SLURMD")
	runc := RequireBinary(t, "runc", "REPROBUILD_RUNC")
	sinfo := RequireBinary(t, "sinfo", "")
	dir, err := os.MkdirTemp("", "reprobuild-slurm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, d := range []string{"munge", "state", "spool", "runc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	key := make([]byte, 1024)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "munge", "munge.key")
	if err := os.WriteFile(keyPath, key, 0o400); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "munge", "munge.sock")
	msvc, err := startService("munged", exec.Command(munged, "--foreground", "--force",
		"--socket="+sock, "--key-file="+keyPath, "--log-file="+filepath.Join(dir, "munge", "munged.log"),
		"--pid-file="+filepath.Join(dir, "munge", "munged.pid"), "--seed-file="+filepath.Join(dir, "munge", "munged.seed")))
	if err != nil {
		Unavailable(t, "starting munged: %v", err)
	}
	t.Cleanup(func() { msvc.dumpOnFailure(t); msvc.stop() })
	if err := waitFile(msvc, sock, 30*time.Second); err != nil {
		Unavailable(t, "munged did not create its socket: %v\n%s", err, msvc.logs.String())
	}
	ctldPort, err1 := freePort()
	dPort, err2 := freePort()
	if err1 != nil || err2 != nil {
		Unavailable(t, "no free port on 127.0.0.1: %v %v", err1, err2)
	}
	conf := filepath.Join(dir, "slurm.conf")
	cfg := fmt.Sprintf(`ClusterName=reprobuild
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=%d
SlurmdPort=%d
AuthType=auth/munge
AuthInfo=socket=%[3]s
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=%[4]s/state
SlurmdSpoolDir=%[4]s/spool
SlurmctldPidFile=%[4]s/slurmctld.pid
SlurmdPidFile=%[4]s/slurmd.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=rbnode NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=1 RealMemory=512 State=UNKNOWN
PartitionName=debug Nodes=rbnode Default=YES MaxTime=INFINITE State=UP
`, ctldPort, dPort, sock, dir)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	// Slurm runs the container with `runc run` on the bundle it generates from the one
	// srun --container names (%b), under a unique id per step.
	id := "%n.%u.%j.%s.%t"
	rroot := filepath.Join(dir, "runc")
	oci := fmt.Sprintf(`RunTimeQuery="%[1]s --root=%[2]s state %[3]s"
RunTimeKill="%[1]s --root=%[2]s kill -a %[3]s"
RunTimeDelete="%[1]s --root=%[2]s delete --force %[3]s"
RunTimeRun="%[1]s --root=%[2]s run %[3]s -b %%b"
`, runc, rroot, id)
	if err := os.WriteFile(filepath.Join(dir, "oci.conf"), []byte(oci), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "SLURM_CONF="+conf)
	c := exec.Command(ctld, "-D", "-i", "-f", conf)
	c.Env = env
	csvc, err := startService("slurmctld", c)
	if err != nil {
		Unavailable(t, "starting slurmctld: %v", err)
	}
	t.Cleanup(func() { csvc.dumpOnFailure(t); csvc.stop() })
	d := exec.Command(slurmd, "-D", "-N", "rbnode", "-f", conf)
	d.Env = env
	dsvc, err := startService("slurmd", d)
	if err != nil {
		Unavailable(t, "starting slurmd: %v", err)
	}
	t.Cleanup(func() { dsvc.dumpOnFailure(t); dsvc.stop() })
	deadline := time.Now().Add(90 * time.Second)
	for {
		q := exec.Command(sinfo, "-h", "-o", "%T")
		q.Env = env
		out, _ := q.CombinedOutput()
		state := strings.TrimSpace(string(out))
		if state == "idle" {
			break
		}
		if csvc.exited() || dsvc.exited() || time.Now().After(deadline) {
			Unavailable(t, "the Slurm node did not become idle (sinfo: %q)\nslurmctld:\n%s\nslurmd:\n%s", state, csvc.logs.String(), dsvc.logs.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("slurm cluster ready in %s (slurmctld :%d, slurmd :%d)", dir, ctldPort, dPort)
	return &Slurm{conf: conf, dir: dir}
}

// waitFile waits until path exists, the service exits, or the limit passes.
func waitFile(svc *service, path string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if svc.exited() {
			return fmt.Errorf("process exited: %v", svc.err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not appear within %s", path, limit)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
