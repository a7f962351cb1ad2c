package builder

import (
	"github.com/reprobuild/reprobuild/internal/channel"
	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/record"
)

// Names for the types of the builder's API that are defined in internal packages, so a
// program embedding the builder can name (declare, type-assert) what it receives.
type (
	// LockFile is a parsed reprobuild.lock.
	LockFile = lock.Lock
	// LockBase is the base image reference and digest a lock pins.
	LockBase = lock.Base
	// LockTarget is one platform of a lock.
	LockTarget = lock.Target
	// StaleLockError says why a lock no longer matches its recipe.
	StaleLockError = lock.StaleError
	// VirtualPackage is a virtual package recorded in a lock target.
	VirtualPackage = lock.VirtualPackage
	// PackageRecord is a conda package's metadata as a lock pins it.
	PackageRecord = conda.PackageRecord
	// RuntimeRecord is the runtime record written into every image.
	RuntimeRecord = record.RuntimeRecord
	// Artifact is a document (SBOM) written beside and attached to an image.
	Artifact = record.Artifact
	// AuditReport is the report of Audit.
	AuditReport = record.Report
	// ChannelClient fetches and verifies packages (NewChannelClient).
	ChannelClient = channel.Client
	// ChannelCredentials authenticate a private channel.
	ChannelCredentials = channel.Credentials
	// Download is one archive to fetch from a channel.
	Download = channel.Download
)
