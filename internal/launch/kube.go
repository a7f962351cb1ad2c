package launch

import (
	"slices"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// GPUResource is the extended resource NVIDIA's device plugin advertises.
const GPUResource corev1.ResourceName = "nvidia.com/gpu"

// Node labels of NVIDIA GPU feature discovery: the highest CUDA version the node's
// driver supports.
const (
	cudaMajorLabel = "nvidia.com/cuda.runtime-version.major"
	cudaMinorLabel = "nvidia.com/cuda.runtime-version.minor"
)

// Labels and annotations reprobuild puts on what it launches. Label values hold at most
// 63 characters, so labels carry 12-digit hash prefixes and annotations the whole hashes.
const (
	LabelRecipe      = "reprobuild.dev/recipe-hash"
	LabelLock        = "reprobuild.dev/lock-hash"
	AnnotationImage  = "reprobuild.dev/image"
	AnnotationRecipe = "reprobuild.dev/recipe-hash"
	AnnotationLock   = "reprobuild.dev/lock-hash"
)

// KubernetesJob is the batch/v1 Job running s once: no restarts, no retries, requests
// and limits from the hardware, GPU nodes whose driver supports hardware.cuda, mounts as
// volumes, the runtime's env, workdir and user.
func KubernetesJob(s Spec) (*batchv1.Job, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	name := dnsLabel(s.Name)
	labels := map[string]string{
		"app.kubernetes.io/name":       name,
		"app.kubernetes.io/managed-by": "reprobuild",
		LabelRecipe:                    short(s.RecipeHash),
		LabelLock:                      short(s.LockHash),
	}
	annotations := map[string]string{
		AnnotationImage: s.Image, AnnotationRecipe: s.RecipeHash, AnnotationLock: s.LockHash,
	}
	c := corev1.Container{
		Name:       "main",
		Image:      s.Image,
		Command:    slices.Clone(s.Entrypoint),
		Args:       slices.Clone(s.Cmd),
		WorkingDir: s.Workdir,
		// Pinned by digest: the kubelet never needs to pull it again.
		ImagePullPolicy: corev1.PullIfNotPresent,
	}
	keys := make([]string, 0, len(s.Env))
	for k := range s.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		c.Env = append(c.Env, corev1.EnvVar{Name: k, Value: s.Env[k]})
	}
	res, err := kubeResources(s)
	if err != nil {
		return nil, err
	}
	c.Resources = res
	sc, err := kubeSecurityContext(s.User)
	if err != nil {
		return nil, err
	}
	c.SecurityContext = sc
	pod := corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever,
		NodeSelector:  map[string]string{"kubernetes.io/os": orDefault(s.OS, "linux")},
	}
	if s.Architecture != "" {
		pod.NodeSelector["kubernetes.io/arch"] = s.Architecture
	}
	if s.GPUs > 0 {
		// GPU nodes are commonly tainted so only GPU work lands there.
		pod.Tolerations = []corev1.Toleration{{Key: string(GPUResource), Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
	}
	if s.Cuda != "" {
		aff, err := cudaAffinity(s.Cuda)
		if err != nil {
			return nil, err
		}
		pod.Affinity = aff
	}
	for _, m := range s.Mounts {
		vol := corev1.Volume{Name: dnsLabel("data-" + m.Name)}
		switch m.Source.Kind {
		case "pvc":
			vol.PersistentVolumeClaim = &corev1.PersistentVolumeClaimVolumeSource{ClaimName: m.Source.Claim}
		case "host":
			if !strings.HasPrefix(m.Source.Path, "/") {
				return nil, errorf("data %q: a Kubernetes hostPath must be absolute, not %q: write source = \"host:/ABSOLUTE/PATH\" or use pvc:CLAIM", m.Name, m.Source.Path)
			}
			vol.HostPath = &corev1.HostPathVolumeSource{Path: m.Source.Path}
		case "nfs":
			vol.NFS = &corev1.NFSVolumeSource{Server: m.Source.Server, Path: m.Source.Path}
		default:
			return nil, errorf("data %q: unknown source kind %q", m.Name, m.Source.Kind)
		}
		pod.Volumes = append(pod.Volumes, vol)
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: vol.Name, MountPath: m.Path})
	}
	pod.Containers = []corev1.Container{c}
	backoff := int32(0)
	job := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations},
		Spec: batchv1.JobSpec{
			BackoffLimit: &backoff,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations},
				Spec:       pod,
			},
		},
	}
	return job, nil
}

// KubernetesYAML is the Job as YAML, as kubectl apply takes it.
func KubernetesYAML(s Spec) ([]byte, error) {
	job, err := KubernetesJob(s)
	if err != nil {
		return nil, err
	}
	b, err := yaml.Marshal(job)
	if err != nil {
		return nil, err
	}
	return append([]byte("# Written by reprobuild launch --to kubernetes: kubectl apply -f THIS_FILE\n"), b...), nil
}

func kubeResources(s Spec) (corev1.ResourceRequirements, error) {
	req := corev1.ResourceList{}
	if s.CPUs > 0 {
		req[corev1.ResourceCPU] = *resource.NewQuantity(int64(s.CPUs), resource.DecimalSI)
	}
	if s.Memory != "" {
		q, err := memoryQuantity(s.Memory)
		if err != nil {
			return corev1.ResourceRequirements{}, err
		}
		req[corev1.ResourceMemory] = q
	}
	if len(req) == 0 && s.GPUs == 0 {
		return corev1.ResourceRequirements{}, nil
	}
	// Requests equal limits: the run gets what the recipe declares, no more, and a
	// Guaranteed QoS when both cpu and memory are set.
	lim := req.DeepCopy()
	if s.GPUs > 0 {
		lim[GPUResource] = *resource.NewQuantity(int64(s.GPUs), resource.DecimalSI)
		req[GPUResource] = *resource.NewQuantity(int64(s.GPUs), resource.DecimalSI)
	}
	return corev1.ResourceRequirements{Requests: req, Limits: lim}, nil
}

// memoryQuantity is the recipe's memory size as a Kubernetes quantity ("16GiB" is 16Gi).
func memoryQuantity(mem string) (resource.Quantity, error) {
	n, unit, err := memoryBytes(mem)
	if err != nil {
		return resource.Quantity{}, err
	}
	suffix := map[string]string{"": "", "B": "", "KB": "k", "MB": "M", "GB": "G", "TB": "T", "KiB": "Ki", "MiB": "Mi", "GiB": "Gi", "TiB": "Ti"}[unit]
	q, err := resource.ParseQuantity(strconv.FormatInt(n, 10) + suffix)
	if err != nil {
		return resource.Quantity{}, errorf("memory %q: %v", mem, err)
	}
	return q, nil
}

// kubeSecurityContext maps runtime.user: a numeric uid[:gid] becomes runAsUser and
// runAsGroup; a name stays the image's USER (Kubernetes cannot resolve names) and the pod
// only asks to run as non-root.
func kubeSecurityContext(user string) (*corev1.SecurityContext, error) {
	if user == "" {
		return nil, nil
	}
	no := false
	sc := &corev1.SecurityContext{AllowPrivilegeEscalation: &no}
	name, group, hasGroup := strings.Cut(user, ":")
	uid, err := strconv.ParseInt(name, 10, 64)
	if err != nil {
		if name != "root" {
			yes := true
			sc.RunAsNonRoot = &yes
		}
		return sc, nil
	}
	sc.RunAsUser = &uid
	if uid != 0 {
		yes := true
		sc.RunAsNonRoot = &yes
	}
	if hasGroup {
		gid, err := strconv.ParseInt(group, 10, 64)
		if err != nil {
			return nil, errorf("runtime.user %q: Kubernetes needs a numeric group (runAsGroup): write uid:gid with numbers", user)
		}
		sc.RunAsGroup = &gid
	}
	return sc, nil
}

// cudaAffinity requires a node whose driver supports at least CUDA want: a higher major
// version, or the same major and at least the minor.
func cudaAffinity(want string) (*corev1.Affinity, error) {
	parts := strings.SplitN(want, ".", 3)
	major, err := strconv.Atoi(parts[0])
	if err != nil {
		return nil, errorf("hardware.cuda %q is not MAJOR.MINOR", want)
	}
	minor := 0
	if len(parts) > 1 {
		if minor, err = strconv.Atoi(parts[1]); err != nil {
			return nil, errorf("hardware.cuda %q is not MAJOR.MINOR", want)
		}
	}
	terms := []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
		{Key: cudaMajorLabel, Operator: corev1.NodeSelectorOpGt, Values: []string{strconv.Itoa(major)}},
	}}}
	same := []corev1.NodeSelectorRequirement{{Key: cudaMajorLabel, Operator: corev1.NodeSelectorOpIn, Values: []string{strconv.Itoa(major)}}}
	if minor > 0 {
		same = append(same, corev1.NodeSelectorRequirement{Key: cudaMinorLabel, Operator: corev1.NodeSelectorOpGt, Values: []string{strconv.Itoa(minor - 1)}})
	}
	terms = append(terms, corev1.NodeSelectorTerm{MatchExpressions: same})
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms},
	}}, nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
