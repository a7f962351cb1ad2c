package frontend

import ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

func ocispecsPlatform(arch string) ocispecs.Platform {
	return ocispecs.Platform{OS: "linux", Architecture: arch}
}
