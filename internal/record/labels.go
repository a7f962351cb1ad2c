package record

import (
	"strconv"
	"strings"

	"github.com/reprobuild/reprobuild/recipes"
)

// Label keys reprobuild sets on every image. The org.opencontainers.image.* keys follow
// the OCI image spec's annotation names; io.reprobuild.* summarise the runtime record so
// a registry UI or `docker inspect` shows them without reading the layers.
const (
	LabelRecord      = "io.reprobuild.record"
	LabelRecipeHash  = "io.reprobuild.recipe.sha256"
	LabelLockHash    = "io.reprobuild.lock.sha256"
	LabelPython      = "io.reprobuild.python"
	LabelPlatform    = "io.reprobuild.platform"
	LabelHardware    = "io.reprobuild.hardware"
	LabelChannels    = "io.reprobuild.channels"
	LabelLevel       = "io.reprobuild.reproducibility"
	LabelPackages    = "io.reprobuild.packages"
	LabelVersion     = "io.reprobuild.version"
	LabelBaseDigest  = "org.opencontainers.image.base.digest"
	LabelBaseName    = "org.opencontainers.image.base.name"
	LabelTitle       = "org.opencontainers.image.title"
	LabelDescription = "org.opencontainers.image.description"
)

// Labels summarises a runtime record as image labels. Values are short and carry no
// credentials (the record's URLs are already stripped).
func Labels(rr *RuntimeRecord) map[string]string {
	m := map[string]string{
		LabelRecord:     "/" + Path,
		LabelRecipeHash: rr.RecipeHash,
		LabelLockHash:   rr.LockHash,
		LabelPlatform:   rr.Platform.Subdir,
		LabelLevel:      rr.Level,
		LabelPackages:   strconv.Itoa(len(rr.Packages)),
		LabelVersion:    rr.ReprobuildVersion,
		LabelTitle:      rr.Image.Name,
		LabelBaseName:   rr.Image.BaseRef,
		LabelBaseDigest: rr.Image.BaseDigest,
	}
	if py := rr.Interpreter; py != nil {
		m[LabelPython] = strings.TrimSpace(py.Implementation + " " + py.Version + " " + py.Build)
		m[LabelDescription] = "Python runtime (" + py.Implementation + " " + py.Version + ") built by reprobuild"
	}
	if hw := hardwareSummary(rr.Hardware); hw != "" {
		m[LabelHardware] = hw
	}
	var chans []string
	for _, c := range rr.Channels {
		chans = append(chans, c.URL)
	}
	m[LabelChannels] = strings.Join(chans, " ")
	if rr.Image.BaseRef == "scratch" {
		delete(m, LabelBaseName)
	}
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

// FromLabels rebuilds what it can of a record from an image's labels, for images whose
// record file is missing. Only the summary fields are set.
func FromLabels(labels map[string]string) (*RuntimeRecord, bool) {
	if labels[LabelRecipeHash] == "" && labels[LabelLockHash] == "" {
		return nil, false
	}
	rr := &RuntimeRecord{
		Version:           FormatVersion,
		ReprobuildVersion: labels[LabelVersion],
		Level:             labels[LabelLevel],
		RecipeHash:        labels[LabelRecipeHash],
		LockHash:          labels[LabelLockHash],
		Image: ImageInfo{
			Name: labels[LabelTitle], BaseRef: labels[LabelBaseName], BaseDigest: labels[LabelBaseDigest],
		},
		Platform: platformInfo(labels[LabelPlatform], ""),
	}
	if py := strings.Fields(labels[LabelPython]); len(py) >= 2 {
		rr.Interpreter = &Interpreter{Implementation: py[0], Version: py[1], Source: "channel"}
		if len(py) > 2 {
			rr.Interpreter.Build = py[2]
		}
	}
	for _, c := range strings.Fields(labels[LabelChannels]) {
		rr.Channels = append(rr.Channels, ChannelInfo{URL: c})
	}
	for _, kv := range strings.Split(labels[LabelHardware], ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		switch k {
		case "cuda":
			rr.Hardware.Cuda = v
		case "cpu":
			rr.Hardware.CPU = v
		case "gpus":
			rr.Hardware.GPUs, _ = strconv.Atoi(v)
		case "memory":
			rr.Hardware.Memory = v
		case "cpus":
			rr.Hardware.CPUs, _ = strconv.Atoi(v)
		}
	}
	rr.Hardware.GPUEnv = GPUEnv(recipes.Hardware{Cuda: rr.Hardware.Cuda, GPUs: rr.Hardware.GPUs})
	return rr, true
}

func hardwareSummary(h HardwareInfo) string {
	var parts []string
	if h.CPU != "" {
		parts = append(parts, "cpu="+h.CPU)
	}
	if h.GPUs > 0 {
		parts = append(parts, "gpus="+strconv.Itoa(h.GPUs))
	}
	if h.Cuda != "" {
		parts = append(parts, "cuda="+h.Cuda)
	}
	if h.Memory != "" {
		parts = append(parts, "memory="+h.Memory)
	}
	if h.CPUs > 0 {
		parts = append(parts, "cpus="+strconv.Itoa(h.CPUs))
	}
	return strings.Join(parts, ",")
}
