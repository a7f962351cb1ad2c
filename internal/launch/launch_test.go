package launch

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/reprobuild/reprobuild/internal/launch/kubecheck"
	"github.com/reprobuild/reprobuild/recipes"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func plainSpec() Spec {
	return Spec{
		Name: "quickstart", Image: "registry.example/lab/quickstart@" + digest,
		RecipeHash: strings.Repeat("1", 64), LockHash: strings.Repeat("2", 64),
		Architecture: "amd64", OS: "linux",
		Cmd: []string{"/opt/env/bin/hello-reprobuild"}, Env: map[string]string{"LANG": "C.UTF-8"}, Workdir: "/work",
	}
}

func gpuSpec() Spec {
	s := plainSpec()
	s.Name = "Train_Model"
	s.Entrypoint = []string{"python", "-m", "train"}
	s.Cmd = []string{"--epochs", "3"}
	s.Env = map[string]string{"OMP_NUM_THREADS": "4", "NVIDIA_VISIBLE_DEVICES": "all"}
	s.User = "1000:100"
	s.CPUs, s.Memory, s.GPUs, s.Cuda = 4, "16GiB", 2, "12.4"
	s.Mounts = []Mount{
		{Name: "weights", Path: "/data/weights", HasSource: true, Source: recipes.DataSource{Kind: "pvc", Claim: "weights-v3"}},
		{Name: "scratch", Path: "/scratch", HasSource: true, Source: recipes.DataSource{Kind: "host", Path: "/local/scratch"}},
		{Name: "shared", Path: "/shared", HasSource: true, Source: recipes.DataSource{Kind: "nfs", Server: "nfs.lab", Path: "/export/shared"}},
	}
	return s
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs from the golden file (-want +got):\n%s", name, d)
	}
}

// TestKubernetesJob writes Jobs, decodes them strictly with the Kubernetes scheme,
// validates them against the API schema, and compares them with golden files.
func TestKubernetesJob(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec Spec
	}{{"plain", plainSpec()}, {"gpu", gpuSpec()}} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := KubernetesYAML(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			job, err := kubecheck.Check(b)
			if err != nil {
				t.Fatalf("the manifest does not pass the API's checks: %v\n%s", err, b)
			}
			golden(t, tc.name+"-job.yaml", b)
			again, _ := KubernetesYAML(tc.spec)
			if string(again) != string(b) {
				t.Error("two writes of the same spec differ")
			}
			pod := job.Spec.Template.Spec
			if pod.RestartPolicy != corev1.RestartPolicyNever || *job.Spec.BackoffLimit != 0 {
				t.Errorf("restarts allowed: %v, backoffLimit %d", pod.RestartPolicy, *job.Spec.BackoffLimit)
			}
			c := pod.Containers[0]
			if c.Image != tc.spec.Image {
				t.Errorf("image %q, want the pinned %q", c.Image, tc.spec.Image)
			}
			if job.Annotations[AnnotationLock] != tc.spec.LockHash || job.Labels[LabelLock] != tc.spec.LockHash[:12] {
				t.Errorf("lock hash not in the annotations/labels: %v %v", job.Annotations, job.Labels)
			}
			if tc.name != "gpu" {
				return
			}
			if q := c.Resources.Limits[GPUResource]; q.Value() != 2 {
				t.Errorf("nvidia.com/gpu limit %v, want 2", q.String())
			}
			if q := c.Resources.Requests[corev1.ResourceMemory]; q.String() != "16Gi" {
				t.Errorf("memory request %v, want 16Gi", q.String())
			}
			if q := c.Resources.Requests[corev1.ResourceCPU]; q.Value() != 4 {
				t.Errorf("cpu request %v, want 4", q.String())
			}
			if *c.SecurityContext.RunAsUser != 1000 || *c.SecurityContext.RunAsGroup != 100 {
				t.Errorf("securityContext %+v, want uid 1000 gid 100", c.SecurityContext)
			}
			terms := pod.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
			if len(terms) != 2 || terms[0].MatchExpressions[0].Key != cudaMajorLabel || terms[1].MatchExpressions[1].Values[0] != "3" {
				t.Errorf("CUDA affinity %+v: want major > 12, or major 12 and minor > 3", terms)
			}
			if len(pod.Volumes) != 3 || pod.Volumes[0].PersistentVolumeClaim == nil || pod.Volumes[1].HostPath == nil || pod.Volumes[2].NFS == nil {
				t.Errorf("volumes %+v, want pvc, hostPath, nfs", pod.Volumes)
			}
		})
	}
}

// TestKubecheckRejects shows the checks can fail: an unknown field, a wrong type.
func TestKubecheckRejects(t *testing.T) {
	b, err := KubernetesYAML(plainSpec())
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"unknown field": strings.Replace(string(b), "  backoffLimit: 0\n", "  backoffLimit: 0\n  retries: 3\n", 1),
		"wrong type":    strings.Replace(string(b), "  backoffLimit: 0\n", "  backoffLimit: none\n", 1),
		"unknown kind":  strings.Replace(string(b), "kind: Job", "kind: Jobb", 1),
	} {
		if bad == string(b) {
			t.Fatalf("%s: the edit did not apply", name)
		}
		if _, err := kubecheck.Check([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSlurmScript(t *testing.T) {
	if _, err := SlurmScript(gpuSpec(), SlurmOptions{Runtime: SlurmApptainer}); err == nil {
		t.Fatal("a pvc mount was accepted for Slurm")
	}
	s := gpuSpec()
	s.Mounts = s.Mounts[1:2] // the host path
	b, err := SlurmScript(s, SlurmOptions{Runtime: SlurmApptainer})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "gpu-apptainer.sbatch", b)
	for _, want := range []string{"#SBATCH --gres=gpu:2\n", "#SBATCH --mem=16384M\n", "#SBATCH --cpus-per-task=4\n",
		"srun apptainer run --nv --bind /local/scratch:/scratch --pwd /work \"docker://${image}\"\n",
		"image=registry.example/lab/quickstart@" + digest + "\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the script lacks %q:\n%s", want, b)
		}
	}
	b, err = SlurmScript(plainSpec(), SlurmOptions{})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "plain-oci.sbatch", b)
	if strings.Contains(string(b), "--gres") || !strings.Contains(string(b), "srun --container=\"${work}/bundle\" /opt/env/bin/hello-reprobuild\n") {
		t.Errorf("plain OCI script:\n%s", b)
	}
}

// TestSlurmOCIMounts: the OCI script drops the image's volumes (umoci would cover them
// with tmpfs) and binds the host paths into the bundle; paths that would need quoting in
// sed or JSON are refused.
func TestSlurmOCIMounts(t *testing.T) {
	s := plainSpec()
	s.Mounts = []Mount{{Name: "in", Path: "/data/in", HasSource: true, Source: recipes.DataSource{Kind: "host", Path: "/srv/in"}}}
	b, err := SlurmScript(s, SlurmOptions{})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "mount-oci.sbatch", b)
	for _, want := range []string{"--clear=config.volume", `{"destination":"/data/in","type":"bind","source":"/srv/in","options":["rbind","rprivate"]}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the script lacks %q:\n%s", want, b)
		}
	}
	s.Mounts[0].Source.Path = "/srv/my data|x"
	if _, err := SlurmScript(s, SlurmOptions{}); err == nil {
		t.Error("a path needing quoting was accepted")
	}
}

func TestApptainerLine(t *testing.T) {
	s := gpuSpec()
	s.Mounts = s.Mounts[1:2]
	got, err := ApptainerLine(s)
	if err != nil {
		t.Fatal(err)
	}
	want := "apptainer run --nv --bind /local/scratch:/scratch --pwd /work docker://registry.example/lab/quickstart@" + digest
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestErrors: what cannot be launched is refused with one line that says what to do.
func TestErrors(t *testing.T) {
	noSource := plainSpec()
	noSource.Mounts = []Mount{{Name: "weights", Path: "/w"}}
	unpinned := plainSpec()
	unpinned.Image = "registry.example/lab/quickstart:1"
	gpu := plainSpec()
	gpu.GPUs = 1
	relHost := plainSpec()
	relHost.Mounts = []Mount{{Name: "in", Path: "/in", HasSource: true, Source: recipes.DataSource{Kind: "host", Path: "inputs"}}}
	for _, tc := range []struct {
		name string
		run  func() error
		want string
	}{
		{"mount without source/k8s", func() error { _, err := KubernetesYAML(noSource); return err }, `data "weights" is a mount without a source`},
		{"mount without source/slurm", func() error { _, err := SlurmScript(noSource, SlurmOptions{}); return err }, "add source ="},
		{"mount without source/apptainer", func() error { _, err := ApptainerLine(noSource); return err }, "add source ="},
		{"unpinned", func() error { _, err := KubernetesYAML(unpinned); return err }, "not pinned by digest"},
		{"gpu to slurm oci", func() error { _, err := SlurmScript(gpu, SlurmOptions{Runtime: SlurmOCI}); return err }, "use --runtime apptainer"},
		{"relative host path", func() error { _, err := KubernetesYAML(relHost); return err }, "must be absolute"},
		{"bad runtime", func() error { _, err := SlurmScript(plainSpec(), SlurmOptions{Runtime: "docker"}); return err }, "want oci or apptainer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			var le *Error
			if !errors.As(err, &le) {
				t.Fatalf("error %v, want a *launch.Error", err)
			}
			if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want one line containing %q", err, tc.want)
			}
		})
	}
}

func TestPinnedRef(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5000/lab/q:1@" + digest: "127.0.0.1:5000/lab/q@" + digest,
		"127.0.0.1:5000/lab/q@" + digest:   "127.0.0.1:5000/lab/q@" + digest,
		"ghcr.io/a/b:tag":                  "ghcr.io/a/b:tag",
	} {
		if got := PinnedRef(in); got != want {
			t.Errorf("PinnedRef(%q) = %q, want %q", in, got, want)
		}
	}
}
