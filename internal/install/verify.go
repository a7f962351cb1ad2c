package install

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// verifyInMemoryMax is the largest archive verified by reading it into memory; larger
// ones are hashed in the pass that parses them (readVerified).
var verifyInMemoryMax int64 = 64 << 20

// readVerified parses an archive in one sequential pass over f while hashing every byte
// it reads, then hashes the rest of the file, and refuses the archive (removing what
// it spooled) unless the whole file matches sha256Hex. done is false, with nothing
// read into r, when the archive's layout needs random access (a .conda whose zip
// entries have their sizes after the data): the caller verifies it another way.
func (r *reader) readVerified(f *os.File, file, sha256Hex string) (done bool, err error) {
	h := sha256.New()
	src := &hashingReader{r: bufio.NewReaderSize(f, 1<<20), h: h}
	var magic [4]byte
	if _, err := io.ReadFull(src, magic[:]); err != nil {
		return true, &MalformedPackageError{Package: r.pkg, Reason: "too short to be a package"}
	}
	var perr error
	switch {
	case bytes.Equal(magic[:], []byte("PK\x03\x04")):
		var ok bool
		if ok, perr = r.readCondaStream(src); perr == nil && !ok {
			return false, nil
		}
	case bytes.HasPrefix(magic[:], []byte("BZh")):
		in := io.MultiReader(bytes.NewReader(magic[:]), src)
		perr = r.readTar(bzip2.NewReader(in), false)
	default:
		perr = &MalformedPackageError{Package: r.pkg, Reason: "neither a .conda (zip) nor a .tar.bz2 archive"}
	}
	// The rest of the file is hashed even after a parse error: an archive that changed
	// since it was fetched is reported as that, not as malformed.
	if _, err := io.Copy(io.Discard, src); err != nil {
		return true, fmt.Errorf("package %s: %w", r.pkg, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, sha256Hex) {
		return true, &ArchiveChangedError{Package: r.pkg, File: file}
	}
	return true, perr
}

// hashingReader hashes what is read through it.
type hashingReader struct {
	r io.Reader
	h hash.Hash
}

func (hr *hashingReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	return n, err
}

// readCondaStream reads a .conda from its local file headers in order, the magic
// already consumed. It stops at the first record that is not a local file header (the
// central directory), which the caller hashes with the rest. ok is false when an entry
// stores its sizes after its data (a streamed zip), which this pass cannot read.
func (r *reader) readCondaStream(src io.Reader) (ok bool, err error) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(r.limit)+1<<20))
	if err != nil {
		return true, err
	}
	defer dec.Close()
	var haveInfo, havePkg bool
	first := true
	for {
		if !first {
			var sig [4]byte
			if _, err := io.ReadFull(src, sig[:]); err != nil {
				return true, &MalformedPackageError{Package: r.pkg, Reason: "reading zip: truncated"}
			}
			if string(sig[:]) != "PK\x03\x04" {
				break
			}
		}
		first = false
		var hdr [26]byte
		if _, err := io.ReadFull(src, hdr[:]); err != nil {
			return true, &MalformedPackageError{Package: r.pkg, Reason: "reading zip: truncated local header"}
		}
		le := binary.LittleEndian
		flags, method := le.Uint16(hdr[2:]), le.Uint16(hdr[4:])
		csize := uint64(le.Uint32(hdr[14:]))
		nameLen, extraLen := int(le.Uint16(hdr[22:])), int(le.Uint16(hdr[24:]))
		if flags&0x8 != 0 {
			return false, nil
		}
		nameExtra := make([]byte, nameLen+extraLen)
		if _, err := io.ReadFull(src, nameExtra); err != nil {
			return true, &MalformedPackageError{Package: r.pkg, Reason: "reading zip: truncated local header"}
		}
		name := string(nameExtra[:nameLen])
		if csize == 0xFFFFFFFF {
			// zip64: the sizes are in the extra field (uncompressed first, then compressed).
			found := false
			for ex := nameExtra[nameLen:]; len(ex) >= 4; {
				id, n := le.Uint16(ex), int(le.Uint16(ex[2:]))
				if 4+n > len(ex) {
					break
				}
				if id == 0x0001 && n >= 16 {
					csize, found = le.Uint64(ex[12:]), true
				}
				ex = ex[4+n:]
			}
			if !found {
				return true, &MalformedPackageError{Package: r.pkg, Reason: fmt.Sprintf("zip member %s: zip64 sizes missing", name)}
			}
		}
		if int64(csize) < 0 || int64(csize) > r.limit {
			return true, &SizeLimitError{Package: r.pkg, Limit: r.limit}
		}
		data := io.LimitReader(src, int64(csize))
		isInfo := strings.HasPrefix(name, "info-") && strings.HasSuffix(name, ".tar.zst")
		isPkg := strings.HasPrefix(name, "pkg-") && strings.HasSuffix(name, ".tar.zst")
		switch {
		case strings.Contains(name, "/"):
			return true, &MalformedPackageError{Package: r.pkg, Reason: fmt.Sprintf("zip member %q is not at the top level (zipped with a directory prefix)", name)}
		case isInfo && haveInfo:
			return true, &MalformedPackageError{Package: r.pkg, Reason: "two info-*.tar.zst members"}
		case isPkg && havePkg:
			return true, &MalformedPackageError{Package: r.pkg, Reason: "two pkg-*.tar.zst members"}
		}
		if isInfo || isPkg {
			haveInfo, havePkg = haveInfo || isInfo, havePkg || isPkg
			var body io.Reader
			switch method {
			case zip.Store:
				body = data
			case zip.Deflate:
				fr := flate.NewReader(data)
				defer fr.Close()
				body = fr
			default:
				return true, &MalformedPackageError{Package: r.pkg, Reason: fmt.Sprintf("zip member %s: unsupported compression method %d", name, method)}
			}
			if err := dec.Reset(bufio.NewReaderSize(body, 1<<16)); err != nil {
				return true, &MalformedPackageError{Package: r.pkg, Reason: fmt.Sprintf("zip member %s: %v", name, err)}
			}
			if err := r.readTar(dec, isInfo); err != nil {
				return true, err
			}
		}
		if _, err := io.Copy(io.Discard, data); err != nil {
			return true, fmt.Errorf("package %s: %w", r.pkg, err)
		}
	}
	if !haveInfo {
		return true, &MalformedPackageError{Package: r.pkg, Reason: "no info-*.tar.zst member"}
	}
	return true, nil
}
